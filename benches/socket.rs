//! Keyport's socket benchmark: `cargo bench --bench socket`.
//!
//! Prints figures; it asserts nothing and is never run as a test. Everything is set up here,
//! isolated like the end-to-end tests: a temporary XDG profile, a private D-Bus with an
//! unlocked gnome-keyring (`tests/support/keyring_session.rs`), the real `oidc-provider`
//! (`tests/oidc/server.mjs`) and the real `keyport` binary, whose service (`keyport daemon`)
//! is started by the first command as it would be on a desktop. Then:
//!
//! 1. 100 service accounts (`robot1`..`robot100`, client credentials) and one user account
//!    (`a`, signed in through the headless login driver, with a refresh token); this bench
//!    binary is allowed to read all of them (access rules), as raw socket clients are judged
//!    by their executable and `keyport token` by its parent's.
//! 2. The daemon's memory once idle with those 101 accounts loaded (VmRSS, VmHWM).
//! 3. Cached `token.get` over the socket: 1 client, then 64 concurrent clients (connections driven by one client thread)
//!    with its own persistent connection sending one request at a time for [`MEASURE`] after
//!    [`WARM_UP`]: requests per second, latency p50 / p99 / max, daemon CPU per request.
//! 4. `keyport token robot1` as a whole process (spawn to exit), [`PROCESS_RUNS`] runs, and
//!    `keyport --version` the same way, the cost of starting the binary at all.
//! 5. 100 concurrent `token.get` for `a` whose 4-second token went stale while the service was
//!    suspended (SIGSTOP; the requests wait in the socket until SIGCONT): the wall time from
//!    SIGCONT, and how many renewals the daemon made (its `refreshed` events, and the distinct
//!    tokens returned): it must be one.
//! 6. The 64 clients of 3. again, while a hostile program ([`PY_HOSTILE`], python3) keeps
//!    [`HOSTILE`] connections open beside them (silent, sending without reading, oversize
//!    lines, subscribing without reading, dripping a line byte by byte), reopening each one the
//!    service closes ten times a second: the clients' throughput and latency, the service's
//!    memory (the highest VmRSS sampled every 100 ms), and what the hostile program saw.
//!
//! 7. `keyport token robot1` in a loop of [`SSH_RUNS`] run by a script, on this machine and in a
//!    `keyport ssh` session to a private `sshd` on 127.0.0.1 (`tests/support/sshd.rs`): the time
//!    per token through the forward (thin client, full CLI, the forward's discovery, `sshd`,
//!    `ssh`, the service) against the same script here, and a `/bin/true` loop in each.
//!
//! The whole run takes about a minute on 2 cores. The figures in the README come from here.
//!
//! It measures Linux processes (`/proc`, Xvfb): on other systems it is not built, only
//! type-checked as empty.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

#[path = "../tests/support/keyring_session.rs"]
mod keyring_session;
#[path = "common/machine.rs"]
mod machine;
#[path = "../tests/support/oidc.rs"]
mod oidc;
#[path = "../tests/support/profile.rs"]
mod profile;
#[path = "../tests/support/server.rs"]
mod server;
#[path = "../tests/support/sshd.rs"]
mod sshd;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::oidc::OidcServer;
use crate::profile::Profile;

/// Service accounts created.
const ACCOUNTS: usize = 100;
/// Per socket measurement: time before counting, then time counted.
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
/// Concurrent clients in the throughput measurement.
const CLIENTS: usize = 64;
/// `keyport token` runs measured (after [`PROCESS_WARM_UP`] unmeasured ones).
const PROCESS_RUNS: usize = 200;
const PROCESS_WARM_UP: usize = 20;
/// Concurrent requests for the expiring token.
const EXPIRING_REQUESTS: usize = 100;
/// The test server's access token lifetime (its default, given explicitly).
const ACCESS_TTL_SECS: u64 = 3600;
/// `keyport token` runs per loop of the `ssh` measurement.
const SSH_RUNS: usize = 100;
/// The lifetime of the token that goes stale in the expiring measurement.
const SHORT_TTL_SECS: u64 = 4;
/// Hostile connections held open beside the well-behaved clients.
const HOSTILE: usize = 1000;
/// A client that waits longer than this for an answer counts as stalled and stops.
const ANSWER_DEADLINE: Duration = Duration::from_secs(10);
/// The latency sample that marks a stalled client.
const STALLED: u32 = u32::MAX;
/// The service is killed (and the run reported as such) past this much memory under hostile
/// load: a service without bounds would otherwise take the machine's memory.
const HOSTILE_RSS_LIMIT_KIB: u64 = 4 * 1024 * 1024;

/// The hostile program: keeps `argv[2]` connections to the socket `argv[1]` open, in turn
/// silent, sending requests without reading (topped up every tick), an oversize line, a
/// subscription it never reads, and a line dripped a byte per tick; every 100 ms it reopens
/// those the service closed (poll: hang-up). On standard input closing, prints its counts.
const PY_HOSTILE: &str = r#"
import json, os, select, socket, sys, threading, time
path, total = sys.argv[1], int(sys.argv[2])
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, total * 2 + 64), hard))
KINDS = ["silent", "pipelining", "oversize", "subscribing", "dripping"]
REQUEST = b'{"jsonrpc":"2.0","id":1,"method":"providers.list"}\n'
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
slots = [None] * total
stats = {"opened": 0, "reopened": 0, "failed_to_open": 0}
poller = select.poll()
by_fd = {}
def open_slot(i):
    kind = KINDS[i % len(KINDS)]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except OSError:
        stats["failed_to_open"] += 1
        s.close()
        return
    try:
        if kind == "oversize":
            s.send(b"x" * 70000)
        elif kind == "subscribing":
            s.send(b'{"jsonrpc":"2.0","id":1,"method":"events.subscribe"}\n')
    except OSError:
        pass
    slots[i] = s
    by_fd[s.fileno()] = i
    poller.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    stats["opened"] += 1
drip = 0
for i in range(total):
    open_slot(i)
while not stop.is_set():
    tick = time.monotonic()
    closed = [by_fd.get(fd) for fd, _ in poller.poll(0)]
    for i in closed:
        if i is None or slots[i] is None:
            continue
        s = slots[i]
        poller.unregister(s)
        del by_fd[s.fileno()]
        s.close()
        slots[i] = None
    for i in range(total):
        s = slots[i]
        kind = KINDS[i % len(KINDS)]
        if s is None:
            stats["reopened"] += 1
            open_slot(i)
            continue
        try:
            if kind == "pipelining":
                s.send(REQUEST * 50)
            elif kind == "dripping":
                s.send(REQUEST[drip % len(REQUEST):drip % len(REQUEST) + 1])
        except OSError:
            pass
    drip += 1
    time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
stats["open_at_end"] = sum(1 for s in slots if s is not None)
print(json.dumps(stats), flush=True)
"#;

fn main() {
    let started = Instant::now();
    machine::print_machine("socket");

    // `cargo bench --bench socket -- NAME...` runs only the measurements named (memory,
    // throughput, processes, ssh, expiring, hostile); the setup and the idle memory always run.
    let only: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let runs = |name: &str| only.is_empty() || only.iter().any(|wanted| wanted == name);

    // The `keyport` users get from the .deb, laid out as the package does (unless
    // KEYPORT_TEST_BIN names another build to measure).
    let packaged = std::env::var_os("KEYPORT_TEST_BIN").is_none().then(Packaged::build);
    let server = OidcServer::start_with(&["--access-ttl", &ACCESS_TTL_SECS.to_string()]);
    let profile = match &packaged {
        Some(packaged) => Profile::new().using(packaged.keyport.clone()).with_first_on_path(packaged.cargo_bin.clone()),
        None => Profile::new(),
    };
    eprintln!("measuring {}", profile.binary().display());
    let setup = Setup::new(&server, &profile);
    eprintln!(
        "setup: {} accounts in {:.1} s; the service is process {}",
        ACCOUNTS + 1,
        started.elapsed().as_secs_f64(),
        setup.daemon
    );

    let mut table = Table::default();

    // Idle memory: every account loaded and its token cached, then quiet: a second (the code
    // that served the requests still mapped), then past the service's idle release
    // (`keyport_service::resident`: its executable's code pages given back after 10 s without
    // a request).
    for n in 1..=ACCOUNTS {
        setup.token_get(&format!("robot{n}"));
    }
    setup.token_get("a");
    std::thread::sleep(Duration::from_secs(1));
    let busy = memory(setup.daemon);
    table.row(
        &format!("daemon memory, 1 s after serving {} accounts", ACCOUNTS + 1),
        &format!("VmRSS {:.1} MiB, VmHWM {:.1} MiB", mib(busy.rss_kib), mib(busy.hwm_kib)),
        "",
        true,
    );
    std::thread::sleep(keyport_service::resident::IDLE_BEFORE_RELEASE + 2 * keyport_service::resident::IDLE_CHECK);
    let idle = memory(setup.daemon);
    table.row(
        &format!("daemon memory, idle, {} accounts", ACCOUNTS + 1),
        &format!("VmRSS {:.1} MiB, VmHWM {:.1} MiB", mib(idle.rss_kib), mib(idle.hwm_kib)),
        "VmRSS <= 10 MiB",
        mib(idle.rss_kib) <= 10.0,
    );
    // The first request after the release maps the code it needs again.
    let started = Instant::now();
    setup.token_get("robot1");
    table.notes.push(format!(
        "the first token.get after the idle release took {} (code pages mapped again)",
        micros(started.elapsed())
    ));

    for clients in [1, CLIENTS].into_iter().filter(|_| runs("throughput")) {
        eprintln!("measuring token.get with {clients} client(s)");
        let run = throughput(&setup, clients);
        table.row(
            &format!("token.get (cached), {clients} client{}", if clients == 1 { "" } else { "s" }),
            &format!(
                "{:>7.0} req/s  p50 {}  p99 {}  max {}  (CPU/req: daemon {:.1} µs, clients {:.1} µs){}",
                run.per_second,
                micros(run.p50),
                micros(run.p99),
                micros(run.max),
                run.daemon_cpu_per_request.as_secs_f64() * 1e6,
                run.client_cpu_per_request.as_secs_f64() * 1e6,
                stalls(run.stalled)
            ),
            if clients == 1 { "" } else { ">= 50000 req/s, p99 < 1 ms" },
            clients == 1 || (run.per_second >= 50_000.0 && run.p99 < Duration::from_millis(1) && run.stalled == 0),
        );
        if clients > 1 {
            // Little's law: each client has one request out at a time, so the mean time
            // from one send to the next is clients / rate, whatever the server does.
            table.notes.push(format!(
                "{clients} clients in a closed loop at {:.0} req/s: mean send-to-send time {} (Little's law); \
                 a p99 under 1 ms needs well over {} req/s",
                run.per_second,
                micros(Duration::from_secs_f64(clients as f64 / run.per_second.max(1.0))),
                clients * 1000
            ));
        }
    }

    if runs("processes") {
        processes(&setup, packaged.as_ref(), &mut table);
    }

    if runs("ssh") {
        ssh(&setup, &mut table);
    }

    if runs("expiring") {
        let expiring = expiring(&setup, &server);
        table.row(
            &format!("{EXPIRING_REQUESTS} concurrent token.get, expiring token"),
            &format!(
                "wall {}  renewals {} (refreshed events), distinct tokens {}",
                micros(expiring.wall),
                expiring.refreshed_events,
                expiring.distinct_tokens
            ),
            "exactly 1 renewal",
            expiring.refreshed_events == 1 && expiring.distinct_tokens == 1,
        );
    }

    if runs("hostile") {
        let hostile = hostile(&setup);
        table.row(
            &format!("token.get (cached), {CLIENTS} clients, {HOSTILE} hostile connections beside them"),
            &format!(
                "{:>7.0} req/s  p50 {}  p99 {}  max {}{}",
                hostile.clients.per_second,
                micros(hostile.clients.p50),
                micros(hostile.clients.p99),
                micros(hostile.clients.max),
                stalls(hostile.clients.stalled)
            ),
            "p99 < 5 ms",
            hostile.clients.p99 < Duration::from_millis(5) && hostile.clients.stalled == 0,
        );
        table.row(
            &format!("daemon memory under {HOSTILE} hostile connections"),
            &format!(
                "VmRSS at most {:.1} MiB (sampled every 100 ms){}",
                mib(hostile.max_rss_kib),
                if hostile.killed { "; past the bench's limit: the service was killed" } else { "" }
            ),
            "< 50 MiB",
            mib(hostile.max_rss_kib) < 50.0,
        );
        table.notes.push(format!(
            "the hostile program (python3, one program: {} connections per program are admitted) saw: {}; \
             it used {:.2} of the machine's cores meanwhile, and the well-behaved clients' service {:.1} µs of CPU per request",
            keyport_service::MAX_CONNECTIONS_PER_PROGRAM,
            hostile.report.trim(),
            hostile.hostile_cpu_share,
            hostile.clients.daemon_cpu_per_request.as_secs_f64() * 1e6
        ));
    }

    let after = memory(setup.daemon);
    table.row(
        "daemon memory, after the runs above",
        &format!("VmRSS {:.1} MiB, VmHWM {:.1} MiB", mib(after.rss_kib), mib(after.hwm_kib)),
        "",
        true,
    );

    table.print();
    println!("total bench time: {:.1} s", started.elapsed().as_secs_f64());
    drop(setup);
    drop(profile);
    drop(server);
}

/// What the measurements need from the setup.
struct Setup<'a> {
    profile: &'a Profile,
    socket: PathBuf,
    daemon: u32,
}

impl<'a> Setup<'a> {
    fn new(server: &OidcServer, profile: &'a Profile) -> Self {
        profile.ok(&["provider", "add", "svc", "--issuer", &server.issuer, "--client-id", "keyport-service"]);
        profile.add_local_provider(server);
        // A user account with a refresh token; this also starts the service.
        profile.ok(&["add", "local", "--name", "a"]);
        // Service accounts, a few at a time (each is a process, a token request and keyring
        // writes; they take the accounts file's lock in turn).
        let next = std::sync::atomic::AtomicUsize::new(1);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n > ACCOUNTS {
                            return;
                        }
                        add_robot(profile, n);
                    }
                });
            }
        });
        // One rule per account, as a user who allowed each would have (the profile also allows
        // this binary every account; a rule naming the account is the first one looked at).
        let mut accounts: Vec<String> = (1..=ACCOUNTS).map(|n| format!("robot{n}")).collect();
        accounts.push("a".to_owned());
        profile.allow_me_each(&accounts);
        let daemon = profile.daemon_pid().expect("the service runs");
        Self { profile, socket: profile.root().join("run/keyport/keyport.sock"), daemon }
    }

    fn connect(&self) -> UnixStream {
        let stream = UnixStream::connect(&self.socket).expect("connecting to the socket");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("a read timeout");
        stream
    }

    /// One `token.get` on a new connection; panics on an error answer.
    fn token_get(&self, account: &str) -> String {
        let mut stream = self.connect();
        let response = call(&mut stream, &token_request(account, None));
        response["result"]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("token.get {account}: {response}"))
            .to_owned()
    }
}

fn add_robot(profile: &Profile, n: usize) {
    let mut child = profile
        .keyport()
        .args(["add", "svc", "--client-credentials", "--name", &format!("robot{n}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running keyport add");
    child.stdin.take().expect("piped stdin").write_all(b"keyport-service-secret\n").expect("the client secret");
    let output = child.wait_with_output().expect("keyport add");
    assert!(output.status.success(), "keyport add robot{n}: {}", String::from_utf8_lossy(&output.stderr));
}

fn token_request(account: &str, min_valid_secs: Option<u64>) -> String {
    let mut params = serde_json::json!({ "account": account });
    if let Some(secs) = min_valid_secs {
        params["min_valid_secs"] = secs.into();
    }
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "token.get", "params": params}).to_string() + "\n"
}

/// Sends one line and reads one response line.
fn call(stream: &mut UnixStream, request: &str) -> serde_json::Value {
    stream.write_all(request.as_bytes()).expect("sending a request");
    let mut line = String::new();
    BufReader::new(&*stream).read_line(&mut line).expect("reading a response");
    serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line:?}"))
}

struct Throughput {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    daemon_cpu_per_request: Duration,
    client_cpu_per_request: Duration,
    /// Clients that got no answer within [`ANSWER_DEADLINE`] (and stopped).
    stalled: usize,
}

/// `clients` connections, each asking for a (cached) token in a loop, all driven by ONE client
/// thread (a tokio current-thread runtime, the way `wrk` drives many connections), so that on
/// this 2-core machine the load generator leaves the CPU to the service: 64 OS threads spent
/// as much CPU per request as the service itself.
fn throughput(setup: &Setup, clients: usize) -> Throughput {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let begin = Instant::now() + Duration::from_millis(100);
    let measure_from = begin + WARM_UP;
    let measure_until = measure_from + MEASURE;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let client_cpu_start = std::sync::Mutex::new(None);
    let mut cpu_at_start = Duration::ZERO;
    let latencies: Vec<Vec<u32>> = std::thread::scope(|scope| {
        let client = scope.spawn(|| {
            runtime.block_on(async {
                let mut tasks = Vec::new();
                for i in 0..clients {
                    let request = token_request(&format!("robot{}", i % ACCOUNTS + 1), None);
                    let expected = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"access_token\":";
                    // A first request, before the clock starts: a connection the service turned
                    // away (busy: this program's places still held by connections it has not
                    // yet seen closing) is opened again, as a client should; one that gets no
                    // answer at all within the deadline counts as stalled.
                    let first = tokio::time::timeout(ANSWER_DEADLINE, async {
                        loop {
                            if let Ok(stream) = tokio::net::UnixStream::connect(&setup.socket).await {
                                let (read, mut write) = stream.into_split();
                                let mut read = tokio::io::BufReader::new(read);
                                let mut buf = Vec::with_capacity(1024);
                                let sent = write.write_all(request.as_bytes()).await;
                                let answered = read.read_until(b'\n', &mut buf).await;
                                if sent.is_ok() && answered.is_ok() && buf.starts_with(expected) {
                                    break (read, write, buf);
                                }
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    })
                    .await;
                    let Ok((mut read, mut write, mut buf)) = first else {
                        tasks.push(tokio::spawn(async { vec![STALLED] }));
                        continue;
                    };
                    tasks.push(tokio::spawn(async move {
                        let mut samples = Vec::with_capacity(1 << 16);
                        tokio::time::sleep(begin.saturating_duration_since(Instant::now())).await;
                        loop {
                            let sent = Instant::now();
                            if sent >= measure_until {
                                return samples;
                            }
                            // A service that stops answering (or dies) ends this client's run
                            // with a stall, counted apart.
                            let answered = tokio::time::timeout(ANSWER_DEADLINE, async {
                                write.write_all(request.as_bytes()).await?;
                                buf.clear();
                                read.read_until(b'\n', &mut buf).await
                            })
                            .await;
                            if !matches!(answered, Ok(Ok(n)) if n > 0) {
                                samples.push(STALLED);
                                return samples;
                            }
                            let took = sent.elapsed();
                            assert!(buf.starts_with(expected), "unexpected answer: {}", String::from_utf8_lossy(&buf));
                            if sent >= measure_from {
                                samples.push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
                            }
                        }
                    }));
                }
                tokio::time::sleep(measure_from.saturating_duration_since(Instant::now())).await;
                *client_cpu_start.lock().unwrap() = Some(thread_cpu_time());
                let mut all = Vec::new();
                for task in tasks {
                    all.push(task.await.expect("a client task"));
                }
                let start = client_cpu_start.lock().unwrap().take().unwrap_or_default();
                *client_cpu_start.lock().unwrap() = Some(thread_cpu_time().saturating_sub(start));
                all
            })
        });
        std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
        cpu_at_start = cpu_time(setup.daemon);
        client.join().expect("the client thread")
    });
    let daemon_cpu = cpu_time(setup.daemon).saturating_sub(cpu_at_start);
    let client_cpu = client_cpu_start.lock().unwrap().unwrap_or_default();
    let mut all: Vec<u32> = latencies.into_iter().flatten().collect();
    let stalled = all.iter().filter(|&&sample| sample == STALLED).count();
    all.retain(|&sample| sample != STALLED);
    all.sort_unstable();
    let count = all.len().max(1);
    Throughput {
        per_second: all.len() as f64 / MEASURE.as_secs_f64(),
        p50: nanos(percentile(&all, 0.50)),
        p99: nanos(percentile(&all, 0.99)),
        max: nanos(all.last().copied().unwrap_or_default()),
        daemon_cpu_per_request: daemon_cpu / u32::try_from(count).unwrap_or(u32::MAX),
        client_cpu_per_request: client_cpu / u32::try_from(count).unwrap_or(u32::MAX),
        stalled,
    }
}

/// CPU time of the calling thread, from `/proc/thread-self/stat` (utime + stime, in ticks).
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// The .deb's layout in a temporary directory: `usr/bin/keyport`, the thin client built
/// statically as the package ships it (`contrib/build-thin-client`), and
/// `usr/lib/keyport/keyport-full`, this build's full CLI (copies: the thin client finds the full
/// CLI, and the service the thin client, by these paths). Beside it, `cargo/bin/` as `cargo
/// install` fills it (the thin client dynamically linked, and the full CLI), first on the
/// profile's `PATH`, so that the service knows those as the CLI too.
struct Packaged {
    _dir: tempfile::TempDir,
    keyport: PathBuf,
    cargo_bin: PathBuf,
}

impl Packaged {
    fn build() -> Self {
        let root = env!("CARGO_MANIFEST_DIR");
        eprintln!("building the static thin client (contrib/build-thin-client)");
        let built = std::process::Command::new(format!("{root}/contrib/build-thin-client"))
            .current_dir(root)
            .stderr(Stdio::inherit())
            .output()
            .expect("running contrib/build-thin-client");
        assert!(built.status.success(), "contrib/build-thin-client failed");
        let thin = PathBuf::from(String::from_utf8(built.stdout).expect("a path").trim());
        let dir = tempfile::tempdir().expect("a temporary directory");
        let keyport = dir.path().join("usr/bin/keyport");
        let cargo_bin = dir.path().join("cargo/bin");
        let full = std::path::Path::new(env!("CARGO_BIN_EXE_keyport-full"));
        for (from, to) in [
            (thin.as_path(), keyport.clone()),
            (full, dir.path().join("usr/lib/keyport/keyport-full")),
            (std::path::Path::new(env!("CARGO_BIN_EXE_keyport")), cargo_bin.join("keyport")),
            (full, cargo_bin.join("keyport-full")),
        ] {
            std::fs::create_dir_all(to.parent().expect("a directory")).expect("the layout's directories");
            std::fs::copy(from, &to).unwrap_or_else(|err| panic!("copying {}: {err}", from.display()));
        }
        Self { _dir: dir, keyport, cargo_bin }
    }
}

/// Whole `keyport` processes, spawn to exit, against `/bin/true` in the same run: each round
/// runs every command once (in an order that turns each round), [`PROCESS_RUNS`] rounds after
/// [`PROCESS_WARM_UP`]. `/bin/true` is what starting any process costs here; `keyport
/// --version` what starting `keyport` costs; `keyport token robot1` adds the socket round trip
/// and the service's judging of the CLI's parent. With the packaged layout, also the thin
/// client as `cargo install` builds it (dynamically linked) and the full CLI alone (what
/// `keyport` was before the thin client).
fn processes(setup: &Setup, packaged: Option<&Packaged>, table: &mut Table) {
    eprintln!("measuring keyport processes");
    let keyport = setup.profile.binary().to_owned();
    let mut commands: Vec<(String, PathBuf, Vec<&str>)> = vec![
        ("`/bin/true`".into(), PathBuf::from("/bin/true"), vec![]),
        ("`keyport --version`".into(), keyport.clone(), vec!["--version"]),
        ("`keyport token robot1`".into(), keyport.clone(), vec!["token", "robot1"]),
    ];
    if let Some(packaged) = packaged {
        commands.push((
            "`keyport token robot1`, dynamically linked (cargo install)".into(),
            packaged.cargo_bin.join("keyport"),
            vec!["token", "robot1"],
        ));
        commands.push((
            "`keyport-full token robot1`, the full CLI alone".into(),
            packaged.cargo_bin.join("keyport-full"),
            vec!["token", "robot1"],
        ));
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(PROCESS_RUNS); commands.len()];
    let daemon_cpu_before = cpu_time(setup.daemon);
    for round in 0..PROCESS_WARM_UP + PROCESS_RUNS {
        for turn in 0..commands.len() {
            let index = (round + turn) % commands.len();
            let (_, program, args) = &commands[index];
            let mut command = std::process::Command::new(program);
            command.env_clear().envs(setup.profile.env()).args(args).stdin(Stdio::null()).stderr(Stdio::piped());
            let started = Instant::now();
            let output = command.output().expect("running a process");
            let took = started.elapsed();
            assert!(
                output.status.success() && (args.is_empty() || output.stdout.len() > 10),
                "{} {args:?}: {}",
                program.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            if round >= PROCESS_WARM_UP {
                times[index].push(took);
            }
        }
    }
    let daemon_cpu = cpu_time(setup.daemon).saturating_sub(daemon_cpu_before);
    let token_runs = commands.iter().filter(|(_, _, args)| args.first() == Some(&"token")).count()
        * (PROCESS_WARM_UP + PROCESS_RUNS);
    table.notes.push(format!(
        "the service spent {:.0} µs of CPU per `keyport token` (accepting, judging the CLI and its parent, answering)",
        daemon_cpu.as_secs_f64() * 1e6 / token_runs as f64
    ));
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|times| {
            times.sort_unstable();
            times[times.len() / 2]
        })
        .collect();
    let baseline = medians[0].as_secs_f64();
    for (index, (name, _, args)) in commands.iter().enumerate() {
        let at = |share: f64| times[index][((times[index].len() - 1) as f64 * share).round() as usize];
        let ratio = medians[index].as_secs_f64() / baseline;
        let (target, met) = match (index, args.first()) {
            (2, _) => ("median <= 1.5x /bin/true", ratio <= 1.5),
            _ => ("", true),
        };
        table.row(
            &format!("{name}, whole process, {PROCESS_RUNS} runs"),
            &format!(
                "median {}  ({ratio:.2}x /bin/true)  p90 {}  p99 {}",
                micros(medians[index]),
                micros(at(0.90)),
                micros(at(0.99))
            ),
            target,
            met,
        );
    }
}

/// `keyport token robot1` in a script's loop, here and through a `keyport ssh` forward.
fn ssh(setup: &Setup, table: &mut Table) {
    use std::os::unix::fs::PermissionsExt;
    eprintln!("measuring keyport token through keyport ssh");
    let sshd = sshd::Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("token-loop");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn={SSH_RUNS}\nt0=$(date +%s%N); i=0; while [ $i -lt $n ]; do /bin/true; i=$((i+1)); done\n\
             t1=$(date +%s%N); i=0; while [ $i -lt $n ]; do '{}' token robot1 >/dev/null || exit 9; i=$((i+1)); done\n\
             t2=$(date +%s%N); echo \"times $t0 $t1 $t2\"\n",
            setup.profile.binary().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = std::fs::canonicalize(&script).unwrap();
    setup.profile.edit_rules(|rules| {
        let allow = keyport_service::access::Decision::Allow;
        rules.set(keyport_service::access::Program::Path(script.clone()), "robot1", allow).unwrap();
        rules.set("remote:127.0.0.1".parse().unwrap(), "robot1", allow).unwrap();
    });
    // (true loop, token loop) per call, from the script's own clock.
    let per_call = |printed: &str| -> (Duration, Duration) {
        let line = printed.lines().find_map(|l| l.strip_prefix("times ")).unwrap_or_else(|| panic!("{printed}"));
        let t: Vec<u64> = line.split(' ').map(|n| n.parse().unwrap()).collect();
        let per = |nanos: u64| Duration::from_nanos(nanos / SSH_RUNS as u64);
        (per(t[1] - t[0]), per(t[2] - t[1]))
    };
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for _ in 0..3 {
        let here = std::process::Command::new(&script).env_clear().envs(setup.profile.env()).output().unwrap();
        assert!(here.status.success(), "{}", String::from_utf8_lossy(&here.stderr));
        local.push(per_call(&String::from_utf8_lossy(&here.stdout)));
        let options: Vec<String> = sshd.options().iter().map(|o| format!("'{o}'")).collect();
        let there = setup.profile.typed_shell(&format!(
            "keyport ssh {} {} '{}'",
            options.join(" "),
            sshd.destination(),
            script.display()
        ));
        assert!(there.status.success(), "{}", String::from_utf8_lossy(&there.stderr));
        remote.push(per_call(&String::from_utf8_lossy(&there.stdout)));
    }
    let median = |runs: &mut Vec<(Duration, Duration)>| {
        runs.sort_by_key(|(_, token)| *token);
        runs[runs.len() / 2]
    };
    let ((true_here, token_here), (true_there, token_there)) = (median(&mut local), median(&mut remote));
    table.row(
        &format!("`keyport token robot1` in a script's loop, {SSH_RUNS} runs, median of 3 loops"),
        &format!(
            "here {} per token ({:.1}x /bin/true {}); through keyport ssh {} per token ({:.1}x /bin/true {}); \
             through the forward / here {:.2}x",
            micros(token_here),
            token_here.as_secs_f64() / true_here.as_secs_f64(),
            micros(true_here),
            micros(token_there),
            token_there.as_secs_f64() / true_there.as_secs_f64(),
            micros(true_there),
            token_there.as_secs_f64() / token_here.as_secs_f64()
        ),
        "",
        true,
    );
}

struct Expiring {
    wall: Duration,
    refreshed_events: usize,
    distinct_tokens: usize,
}

/// Many clients at once ask for account `a`'s token when it has gone stale while the service
/// was suspended (a laptop waking up): one renewal. The service renews a token itself once half
/// its lifetime is gone, and `min_valid_secs` is capped at half the lifetime, so a token only
/// needs renewing on demand when the service could not run: this is how it gets there.
fn expiring(setup: &Setup, server: &OidcServer) -> Expiring {
    // A short-lived token for `a`: one canned answer to a renewal, with no refresh token, so
    // the grant at the provider is untouched and the next renewal is a real one.
    server.faults(serde_json::json!([{
        "status": 200,
        "body": format!("{{\"access_token\":\"short-lived\",\"token_type\":\"Bearer\",\"expires_in\":{SHORT_TTL_SECS}}}"),
    }]));
    let mut control = setup.connect();
    let refreshed = call(
        &mut control,
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"token.refresh\",\"params\":{\"account\":\"a\"}}\n",
    );
    assert!(refreshed.get("result").is_some(), "token.refresh a: {refreshed}");
    let issued = Instant::now();
    // Asked for by every request: more than a renewed token has left now, less than its
    // lifetime (the cap, half of it, is what applies).
    let min_valid = SHORT_TTL_SECS - 1;
    let mut events = setup.connect();
    let subscribed = call(&mut events, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\"}\n");
    assert!(subscribed.get("result").is_some(), "events.subscribe: {subscribed}");

    // The service is suspended until the token has a second left, and the requests wait for
    // it in the socket (one program may hold 64 connections: two requests per connection).
    signal(setup.daemon, "-STOP");
    std::thread::sleep(Duration::from_secs(SHORT_TTL_SECS - 1).saturating_sub(issued.elapsed()));
    let request = token_request("a", Some(min_valid));
    let pipelined = format!("{request}{}", request.replace("\"id\":1", "\"id\":2"));
    let streams: Vec<UnixStream> = (0..EXPIRING_REQUESTS / 2).map(|_| setup.connect()).collect();
    let barrier = Arc::new(Barrier::new(streams.len() + 1));
    let threads: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let barrier = barrier.clone();
            let pipelined = pipelined.clone();
            std::thread::spawn(move || {
                barrier.wait();
                stream.write_all(pipelined.as_bytes()).expect("sending two requests");
                let mut reader = BufReader::new(stream);
                let mut answers = Vec::new();
                for _ in 0..2 {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("an answer");
                    answers.push(serde_json::from_str::<serde_json::Value>(&line).expect("JSON"));
                }
                (Instant::now(), answers)
            })
        })
        .collect();
    barrier.wait();
    std::thread::sleep(Duration::from_millis(200));
    signal(setup.daemon, "-CONT");
    let released = Instant::now();
    let mut tokens = std::collections::BTreeSet::new();
    let mut last = released;
    for thread in threads {
        let (done, answers) = thread.join().expect("a request thread");
        for response in answers {
            let token =
                response["result"]["access_token"].as_str().unwrap_or_else(|| panic!("token.get a: {response}"));
            tokens.insert(token.to_owned());
        }
        last = last.max(done);
    }

    // Renewal events come before the answers that wait on them; allow for stragglers anyway.
    events.set_read_timeout(Some(Duration::from_millis(500))).expect("a read timeout");
    let mut reader = BufReader::new(events);
    let mut refreshed = 0;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        let event: serde_json::Value = serde_json::from_str(&line).expect("an event");
        if event["params"]["event"] == "refreshed" && event["params"]["account"] == "a" {
            refreshed += 1;
        }
        line.clear();
    }
    Expiring { wall: last - released, refreshed_events: refreshed, distinct_tokens: tokens.len() }
}

/// `, N clients stalled` when any did.
fn stalls(stalled: usize) -> String {
    if stalled == 0 { String::new() } else { format!(", {stalled} clients stalled (no answer in {ANSWER_DEADLINE:?})") }
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

/// The well-behaved clients' figures under hostile load, and what the hostile program saw.
struct Hostile {
    clients: Throughput,
    max_rss_kib: u64,
    killed: bool,
    /// The hostile program's CPU time over the measurement, in cores (it shares the machine).
    hostile_cpu_share: f64,
    report: String,
}

fn hostile(setup: &Setup) -> Hostile {
    eprintln!("measuring token.get with {CLIENTS} clients beside {HOSTILE} hostile connections");
    let mut program = std::process::Command::new("python3")
        .args(["-c", PY_HOSTILE])
        .arg(&setup.socket)
        .arg(HOSTILE.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    // Let it open everything and the service refuse what it refuses.
    std::thread::sleep(Duration::from_secs(2));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        let pid = setup.daemon;
        std::thread::spawn(move || {
            let mut highest = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                highest = highest.max(memory(pid).rss_kib);
                if highest > HOSTILE_RSS_LIMIT_KIB {
                    signal(pid, "-KILL");
                    return (highest, true);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (highest, false)
        })
    };
    let (hostile_cpu_before, started) = (cpu_time(program.id()), Instant::now());
    let clients = throughput(setup, CLIENTS);
    let hostile_cpu_share =
        cpu_time(program.id()).saturating_sub(hostile_cpu_before).as_secs_f64() / started.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let (max_rss_kib, killed) = sampler.join().expect("the sampler");
    drop(program.stdin.take());
    let mut report = String::new();
    BufReader::new(program.stdout.take().expect("piped")).read_line(&mut report).expect("the hostile report");
    let _ = program.wait();
    Hostile { clients, max_rss_kib, killed, report, hostile_cpu_share }
}

struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
}

/// The process's memory; zeros once it is gone.
fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    Memory { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:") }
}

/// The CPU time the process's threads have used, to the nanosecond (`/proc/PID/task/*/schedstat`,
/// whose first field is the time on a CPU; clock ticks of `/proc/PID/stat` were too coarse for
/// a few hundred short requests). Threads that have ended are not counted.
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Duration::ZERO };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()))
        .sum();
    Duration::from_nanos(nanos)
}

#[derive(Default)]
struct Table {
    rows: Vec<[String; 4]>,
    notes: Vec<String>,
}

impl Table {
    fn row(&mut self, what: &str, figures: &str, target: &str, met: bool) {
        let verdict = match (target.is_empty(), met) {
            (true, _) => String::new(),
            (false, true) => "met".into(),
            (false, false) => "MISSED".into(),
        };
        self.rows.push([what.to_owned(), figures.to_owned(), target.to_owned(), verdict]);
    }

    fn print(&self) {
        let width = |i: usize| self.rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
        let (w0, w1) = (width(0), width(1));
        println!();
        for [what, figures, target, verdict] in &self.rows {
            let target = if target.is_empty() { String::new() } else { format!("  [target: {target}: {verdict}]") };
            println!("{what:<w0$}  {figures:<w1$}{target}");
        }
        println!();
        for note in &self.notes {
            println!("note: {note}");
        }
    }
}

fn percentile(sorted: &[u32], share: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * share).round() as usize]
}

fn nanos(n: u32) -> Duration {
    Duration::from_nanos(u64::from(n))
}

fn micros(d: Duration) -> String {
    if d >= Duration::from_millis(10) {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    } else if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.0} µs", d.as_secs_f64() * 1e6)
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
