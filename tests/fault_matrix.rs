//! The renewal fault matrix (Keyport issue 10): every fault at every step of a renewal, against
//! the real `keyport daemon`, the real GNOME Keyring on a private bus and the real
//! `oidc-provider`, which rotates refresh tokens and, when a retired one comes back, revokes the
//! whole grant (reuse detection): a dropped refresh token shows at once.
//!
//! Each case signs in account `a`, starts a daemon that pauses at the case's step
//! (`KEYPORT_TEST_PAUSE_AT`, see `refresh.rs`), asks it for a renewal (`token.refresh`),
//! injects the fault while it is paused, lets it go on, records the answer and the account's
//! state, removes the fault, and measures how long until the account is healthy again: a
//! renewal succeeds and the keyring's refresh token is one the provider accepts. It prints one
//! row per case (also written to `$CARGO_TARGET_TMPDIR/fault-matrix.txt`):
//!
//! ```text
//! fault | step | answer | grant kept | state afterwards | renewals sent | time until healthy
//! ```
//!
//! "grant kept" must be "yes" in every row but the two that no client can survive without a
//! copy of the refresh token on disk, which Keyport will not write: the process killed between
//! the provider's answer and the keyring's acknowledgement, and the answer lost on its way
//! (ARCHITECTURE.md, "Refresh and rotation"). For those the test checks that the account says
//! it needs a new sign-in.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::oidc::OidcServer;
use crate::support::profile::Profile;
use crate::support::rpc::Rpc;

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    KeyringLocked,
    KeyringUnavailable,
    SecretServiceRestarted,
    Provider500,
    ProviderTimeout,
    Provider429,
    ProviderGarbage,
    /// A second renewal of the account arrives while the first holds the rotated token.
    RotationConcurrentRenewal,
    /// The provider rotated, and its answer never arrived.
    RotationAnswerLost,
    RenewalLockHeld,
    AccountsLockHeld,
    Killed,
    Suspended,
}

impl Fault {
    fn label(self) -> &'static str {
        match self {
            Self::KeyringLocked => "keyring locked",
            Self::KeyringUnavailable => "keyring unavailable (Secret Service gone)",
            Self::SecretServiceRestarted => "Secret Service restarted",
            Self::Provider500 => "provider 500",
            Self::ProviderTimeout => "provider timeout (no answer in 30 s)",
            Self::Provider429 => "provider 429, Retry-After: 5",
            Self::ProviderGarbage => "provider garbage (200, not JSON)",
            Self::RotationConcurrentRenewal => "rotation + reuse detection: 2nd renewal meanwhile",
            Self::RotationAnswerLost => "rotation + reuse detection: answer lost",
            Self::RenewalLockHeld => "renewal lock held by another process",
            Self::AccountsLockHeld => "accounts.lock held by another process",
            Self::Killed => "process killed (SIGKILL)",
            Self::Suspended => "suspended past expiry (SIGSTOP 7 s)",
        }
    }
}

/// Where in a renewal the fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    BeforeRequest,
    /// The provider's answer itself is the fault.
    Request,
    AfterResponse,
    BetweenTokens,
    AfterBoth,
}

impl Step {
    fn label(self) -> &'static str {
        match self {
            Self::BeforeRequest => "before the request",
            Self::Request => "the request",
            Self::AfterResponse => "after the response",
            Self::BetweenTokens => "between refresh and access token",
            Self::AfterBoth => "after both tokens",
        }
    }

    /// The daemon's pause point for this step (`KEYPORT_TEST_PAUSE_AT`).
    fn pause_point(self) -> Option<&'static str> {
        match self {
            Self::BeforeRequest => Some("before-request"),
            Self::Request => None,
            Self::AfterResponse => Some("after-response"),
            Self::BetweenTokens => Some("after-refresh-token-saved"),
            Self::AfterBoth => Some("after-access-token-saved"),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
struct Row {
    fault: Fault,
    step: Step,
    answer: String,
    grant_kept: bool,
    state: String,
    renewals: u64,
    healthy_after: Option<Duration>,
}

impl Row {
    fn line(&self) -> String {
        let healthy = match self.healthy_after {
            Some(after) => format!("{:.1} s", after.as_secs_f64()),
            None => "never (sign in again)".to_owned(),
        };
        format!(
            "| {:<50} | {:<32} | {:<27} | {:<10} | {:<41} | {:>13} | {:<21} |",
            self.fault.label(),
            self.step.label(),
            self.answer,
            if self.grant_kept { "yes" } else { "no" },
            self.state,
            self.renewals,
            healthy
        )
    }

    /// The rows where no client keeps the grant: the new refresh token existed only in the
    /// process (killed before the keyring took it) or only on the wire (lost).
    fn unavoidable_loss(&self) -> bool {
        matches!(
            (self.fault, self.step),
            (Fault::Killed, Step::AfterResponse) | (Fault::RotationAnswerLost, Step::Request)
        )
    }
}

/// Every case of the matrix.
fn cases() -> Vec<(Fault, Step)> {
    let steps = [Step::BeforeRequest, Step::AfterResponse, Step::BetweenTokens, Step::AfterBoth];
    let mut cases = Vec::new();
    for fault in [
        Fault::KeyringLocked,
        Fault::KeyringUnavailable,
        Fault::SecretServiceRestarted,
        Fault::Killed,
        Fault::Suspended,
    ] {
        cases.extend(steps.iter().map(|step| (fault, *step)));
    }
    for fault in [Fault::Provider500, Fault::ProviderTimeout, Fault::Provider429, Fault::ProviderGarbage] {
        cases.push((fault, Step::Request));
    }
    cases.push((Fault::RotationConcurrentRenewal, Step::AfterResponse));
    cases.push((Fault::RotationAnswerLost, Step::Request));
    cases.push((Fault::RenewalLockHeld, Step::BeforeRequest));
    cases.push((Fault::AccountsLockHeld, Step::AfterBoth));
    cases
}

#[test]
fn every_fault_at_every_step_of_a_renewal_keeps_the_grant() {
    let cases = cases();
    // A few cases at a time: most of a case is waiting (on a lock deadline, a timeout, a
    // suspended process), and each has its own server, keyring and daemon.
    let queue = std::sync::Arc::new(std::sync::Mutex::new(cases.clone()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut rows = Vec::new();
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((fault, step)) = next else { break };
                    // A case that cannot even run is a failed row, not a lost table.
                    let row = std::panic::catch_unwind(|| run_case(fault, step)).unwrap_or_else(|panic| {
                        let why = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        Row {
                            fault,
                            step,
                            answer: "(harness failed)".into(),
                            grant_kept: false,
                            state: why.chars().take(200).collect(),
                            renewals: 0,
                            healthy_after: None,
                        }
                    });
                    rows.push(row);
                }
                rows
            })
        })
        .collect();
    let mut rows: Vec<Row> = workers.into_iter().flat_map(|w| w.join().expect("a case panicked")).collect();
    rows.sort_by_key(|row| cases.iter().position(|case| *case == (row.fault, row.step)));

    let mut table = format!(
        "| {:<50} | {:<32} | {:<27} | {:<10} | {:<41} | {:>13} | {:<21} |\n",
        "fault", "step", "answer", "grant kept", "state afterwards", "renewals sent", "time until healthy"
    );
    table.push_str("|---|---|---|---|---|---|---|\n");
    for row in &rows {
        table.push_str(&row.line());
        table.push('\n');
    }
    table.push_str(
        "\nProvider: oidc-provider, rotating refresh tokens with reuse detection. \"answer\": what the \
         renewal under fault returned. \"state afterwards\": `keyport status` right after it (then, when \
         the grant was lost, after the next attempt). \"renewals sent\": refresh requests the provider \
         received, the health probe's included (a probe that only saved a held token sends none). \
         \"time until healthy\": from the fault's removal (unlock, restart, lock released, SIGCONT) until \
         `keyport refresh` succeeds and the keyring's refresh token is active at the provider.\n",
    );
    println!("\n{table}");
    let _ = std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-matrix.txt"), &table);

    for row in &rows {
        if row.unavoidable_loss() {
            assert!(!row.grant_kept && row.state.ends_with("needs_sign_in"), "{}", row.line());
        } else {
            assert!(row.grant_kept, "grant lost: {}", row.line());
        }
    }
}

/// Runs one case and measures it.
fn run_case(fault: Fault, step: Step) -> Row {
    let ttl = if fault == Fault::Suspended { "6" } else { "3600" };
    let server = OidcServer::start_with(&["--access-ttl", ttl]);
    let mut profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a"]);
    profile.allow_me("a");
    profile.stop_daemon();
    let pause = tempfile::tempdir().unwrap();
    let pause_point = step.pause_point().filter(|_| {
        // Keyring and lock faults "before the request" are in place before the renewal starts.
        !(step == Step::BeforeRequest
            && matches!(
                fault,
                Fault::KeyringLocked
                    | Fault::KeyringUnavailable
                    | Fault::SecretServiceRestarted
                    | Fault::RenewalLockHeld
            ))
    });
    let log = pause.path().join("daemon.log");
    let mut daemon = Daemon::start(&profile, &log, pause_point.map(|point| (point, pause.path())));
    let renewals_before = server.refresh_requests();

    // Faults that are in place before the renewal starts.
    let mut held_lock = None;
    match (fault, step) {
        (Fault::KeyringLocked, Step::BeforeRequest) => profile.keyring().lock(),
        (Fault::KeyringUnavailable, Step::BeforeRequest) => profile.keyring().stop_keyring(),
        (Fault::SecretServiceRestarted, Step::BeforeRequest) => {
            profile.keyring().stop_keyring();
            profile.keyring().start_keyring();
        }
        (Fault::Provider500, _) => server.faults(json!([{"status": 500, "body": "{\"error\":\"server_error\"}"}])),
        (Fault::ProviderTimeout, _) => server.faults(json!([{"status": 500, "delay_ms": 35_000}])),
        (Fault::Provider429, _) => server.faults(json!([
            {"status": 429, "headers": {"Retry-After": "5"}, "body": "{\"error\":\"slow_down\"}"}
        ])),
        (Fault::ProviderGarbage, _) => server.faults(json!([{"status": 200, "body": "<html>not json"}])),
        (Fault::RotationAnswerLost, _) => server.faults(json!([{"drop": true}])),
        (Fault::RenewalLockHeld, _) => held_lock = Some(hold_lock(&profile.root().join("data/keyport/locks/a.lock"))),
        _ => {}
    }

    let renewal = {
        let socket = daemon.socket.clone();
        std::thread::spawn(move || {
            Rpc::connect(&socket, Duration::from_secs(90)).try_call("token.refresh", json!({"account": "a"}))
        })
    };

    // Faults that strike while the renewal is paused at its step.
    let mut second_renewal = None;
    if let Some(point) = pause_point {
        wait_for_file(&pause.path().join(format!("{point}.reached")), Duration::from_secs(60));
        match fault {
            Fault::KeyringLocked => profile.keyring().lock(),
            Fault::KeyringUnavailable => profile.keyring().stop_keyring(),
            Fault::SecretServiceRestarted => {
                profile.keyring().stop_keyring();
                profile.keyring().start_keyring();
            }
            Fault::AccountsLockHeld => held_lock = Some(hold_lock(&profile.root().join("data/keyport/accounts.lock"))),
            Fault::Killed => daemon.kill(),
            Fault::Suspended => daemon.signal("-STOP"),
            Fault::RotationConcurrentRenewal => {
                let socket = daemon.socket.clone();
                second_renewal = Some(std::thread::spawn(move || {
                    Rpc::connect(&socket, Duration::from_secs(90)).try_call("token.refresh", json!({"account": "a"}))
                }));
                std::thread::sleep(Duration::from_millis(300));
            }
            _ => {}
        }
        std::fs::write(pause.path().join(format!("{point}.go")), b"").unwrap();
        if fault == Fault::Suspended {
            std::thread::sleep(Duration::from_secs(7));
            daemon.signal("-CONT");
        }
    }
    let answer = describe_answer(renewal.join().unwrap());
    if let Some(second) = second_renewal {
        let second = describe_answer(second.join().unwrap());
        assert_eq!(second, "ok", "the second renewal shares the first: {second}");
    }
    let mut state = status_of(&profile);
    if std::fs::read_to_string(&log).unwrap_or_default().contains("waiting in memory") {
        state.push_str("; new refresh token held in memory");
    }

    // Remove the fault.
    match fault {
        Fault::KeyringLocked => profile.keyring().unlock(),
        Fault::KeyringUnavailable => profile.keyring().start_keyring(),
        Fault::RenewalLockHeld | Fault::AccountsLockHeld => drop(held_lock.take()),
        _ => {}
    }
    let removed = Instant::now();
    let healthy_after = wait_until_healthy(&server, &profile, Duration::from_secs(60)).map(|()| removed.elapsed());
    let renewals = server.refresh_requests() - renewals_before;
    let grant_kept = healthy_after.is_some() && grant_alive(&server, &profile);
    if !grant_kept {
        state.push_str(&format!(", then {}", status_of(&profile)));
    }
    daemon.stop(&profile);
    Row { fault, step, answer, grant_kept, state, renewals, healthy_after }
}

/// The renewal's answer, short: `ok` or `CODE name`.
fn describe_answer(answer: Result<Value, String>) -> String {
    match answer {
        Ok(response) if response.get("result").is_some() => "ok".to_owned(),
        Ok(response) => {
            let code = response["error"]["code"].as_i64().unwrap_or_default();
            let name = match code {
                -32003 => "needs_sign_in",
                -32005 => "provider_unreachable",
                -32007 => "keyring_unavailable",
                -32013 => "lock_timeout",
                -32603 => "internal_error",
                _ => "?",
            };
            format!("{code} {name}")
        }
        Err(_) => "(connection lost)".to_owned(),
    }
}

/// The account's status (`valid`, `needs_sign_in`...), as `keyport status` reports it.
fn status_of(profile: &Profile) -> String {
    let output = profile.run(&["status", "a", "--json"]);
    serde_json::from_slice::<Value>(&output.stdout)
        .ok()
        .and_then(|account| account["status"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unreadable".to_owned())
}

/// Healthy: a renewal succeeds, its access token is active, and the keyring's refresh token
/// is one the provider accepts. `None` when that does not happen within `within` (or the
/// account needs a new sign-in).
fn wait_until_healthy(server: &OidcServer, profile: &Profile, within: Duration) -> Option<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let refresh = profile.run(&["refresh", "a", "--json"]);
        if refresh.status.success() {
            return grant_alive(server, profile).then_some(());
        }
        if String::from_utf8_lossy(&refresh.stderr).contains("needs a new sign-in") {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// The account's tokens work: `keyport token` gives an active access token and the keyring's
/// refresh token is active at the provider.
fn grant_alive(server: &OidcServer, profile: &Profile) -> bool {
    let token = profile.run(&["token", "a", "--min-valid", "0"]);
    let Some(refresh) = profile.keyring_lookup("account/a/refresh_token") else { return false };
    token.status.success()
        && server.introspect(String::from_utf8_lossy(&token.stdout).trim())["active"] == true
        && server.introspect(&refresh)["active"] == true
}

/// A `keyport daemon` of this test's own, optionally pausing at a renewal step.
struct Daemon {
    child: Child,
    socket: PathBuf,
    killed: bool,
}

impl Daemon {
    fn start(profile: &Profile, log: &Path, pause: Option<(&str, &Path)>) -> Self {
        let log = std::fs::File::create(log).unwrap();
        let mut command = profile.keyport();
        command.arg("daemon").env("RUST_LOG", "info").stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        if let Some((point, dir)) = pause {
            command.env("KEYPORT_TEST_PAUSE_AT", point).env("KEYPORT_TEST_PAUSE_DIR", dir);
        }
        let child = command.spawn().expect("start keyport daemon");
        let socket = profile.root().join("run/keyport/keyport.sock");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "the daemon did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, socket, killed: false }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill {signal}");
    }

    fn kill(&mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
        self.killed = true;
    }

    fn stop(mut self, profile: &Profile) {
        if !self.killed {
            self.signal("-TERM");
            let _ = self.child.wait();
        }
        // A daemon the CLI started after a kill.
        profile.stop_daemon();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Holds a lock file as another process would.
fn hold_lock(path: &Path) -> std::fs::File {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    file.lock().unwrap();
    file
}

fn wait_for_file(path: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} did not appear", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}
