//! An isolated Keyport user for one test: its own XDG directories, its own private keyring,
//! and the login driver as its browser. Runs the real `keyport` binary.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::keyring_session::KeyringSession;
use super::oidc;

/// One test user.
pub struct Profile {
    dir: tempfile::TempDir,
    keyring: KeyringSession,
    /// `$BROWSER`: the login driver of the server the test signs in with.
    browser: PathBuf,
    /// The `keyport` this profile runs ([`keyport_binary`] unless [`Profile::using`] says).
    binary: PathBuf,
    /// A directory put first on its programs' `PATH` ([`Profile::with_first_on_path`]).
    first_on_path: Option<PathBuf>,
}

impl Profile {
    /// A fresh profile with an empty, unlocked keyring, in which the user has allowed this
    /// test binary every account: the `keyport` commands a test runs are judged as the test
    /// binary (the CLI's parent), which plays the user's own trusted program. Tests of
    /// refusals use other programs, or [`Profile::forbid_me`].
    pub fn new() -> Self {
        let profile = Self::without_rules();
        profile.allow_me(keyport_service::access::EVERY_ACCOUNT);
        profile
    }

    /// [`Profile::new`] without any access rule.
    pub fn without_rules() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["home", "config", "data", "state", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("profile dirs");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path().join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        Self {
            dir,
            keyring: KeyringSession::start(),
            browser: oidc::driver(),
            binary: keyport_binary(),
            first_on_path: None,
        }
    }

    /// This profile running another `keyport` binary (the benchmark's packaged layout).
    pub fn using(mut self, binary: PathBuf) -> Self {
        self.binary = binary;
        self
    }

    /// This profile with `dir` first on its programs' `PATH`.
    pub fn with_first_on_path(mut self, dir: PathBuf) -> Self {
        self.first_on_path = Some(dir);
        self
    }

    /// The `keyport` binary this profile runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// This profile with another login driver as its browser (the Authlib server's, say).
    pub fn with_browser(mut self, driver: PathBuf) -> Self {
        self.browser = driver;
        self
    }

    /// The login driver this profile's programs run as `$BROWSER`.
    pub fn browser(&self) -> &Path {
        &self.browser
    }

    /// `$XDG_CONFIG_HOME/keyport/access.toml`, to read.
    pub fn access_rules(&self) -> keyport_service::access::AccessRules {
        keyport_service::access::AccessRules::new(self.dir.path().join("config/keyport/access.toml"))
    }

    /// Changes `access.toml` the way an edit by hand would, then waits until a running service
    /// has seen it (it looks at the file again after [`keyport_service::access::RULES_RECHECK`]).
    pub fn edit_rules<T>(&self, edit: impl FnOnce(&keyport_service::access::AccessRules) -> T) -> T {
        let done = edit(&self.access_rules());
        std::thread::sleep(keyport_service::access::RULES_RECHECK + std::time::Duration::from_millis(30));
        done
    }

    /// The profile's root directory (everything Keyport writes is below it).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `$XDG_DATA_HOME/keyport/accounts.json`.
    pub fn accounts_file(&self) -> PathBuf {
        self.dir.path().join("data/keyport/accounts.json")
    }

    /// `$XDG_STATE_HOME/keyport/activity.jsonl`, the activity log.
    pub fn activity_file(&self) -> PathBuf {
        self.dir.path().join("state/keyport/activity.jsonl")
    }

    /// `$XDG_CONFIG_HOME/keyport/providers.toml`.
    pub fn providers_file(&self) -> PathBuf {
        self.dir.path().join("config/keyport/providers.toml")
    }

    /// Where the driver logs its requests.
    pub fn driver_log_path(&self) -> PathBuf {
        self.dir.path().join("driver.log")
    }

    /// The profile's keyring session (to lock, unlock, stop or restart it).
    pub fn keyring(&mut self) -> &mut KeyringSession {
        &mut self.keyring
    }

    /// The keyring session's environment, for other tools (secret-tool).
    pub fn keyring_env(&self) -> Vec<(String, String)> {
        self.keyring.env()
    }

    fn path(&self) -> OsString {
        let caller = std::env::var_os("PATH").unwrap_or_default();
        let Some(first) = &self.first_on_path else { return caller };
        std::env::join_paths(std::iter::once(first.clone()).chain(std::env::split_paths(&caller))).expect("a PATH")
    }

    /// The whole environment of this profile's programs (`PATH` is the caller's; nothing else
    /// is): its home and XDG directories, its keyring's bus, its login driver as `$BROWSER`.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let root = self.dir.path();
        let mut env: Vec<(String, OsString)> = vec![
            ("PATH".into(), self.path()),
            ("HOME".into(), root.join("home").into()),
            ("XDG_CONFIG_HOME".into(), root.join("config").into()),
            ("XDG_DATA_HOME".into(), root.join("data").into()),
            ("XDG_STATE_HOME".into(), root.join("state").into()),
            ("XDG_RUNTIME_DIR".into(), root.join("run").into()),
            ("BROWSER".into(), self.browser.clone().into()),
            ("KEYPORT_TEST_DRIVER_LOG".into(), self.driver_log_path().into()),
        ];
        env.extend(self.keyring.env().into_iter().map(|(k, v)| (k, v.into())));
        // `KEYPORT_TEST_LOG=FILTER cargo test ...` turns on the programs' logs (RUST_LOG).
        if let Some(filter) = std::env::var_os("KEYPORT_TEST_LOG") {
            env.push(("RUST_LOG".into(), filter));
        }
        env
    }

    /// A `keyport` command with this profile's environment ([`Profile::env`]) and nothing of
    /// the caller's.
    pub fn keyport(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.env_clear().envs(self.env());
        command
    }

    /// Records that the user allows this test binary `account` (or every account, `*`), as
    /// the window does when the user answers "Always allow": `keyport token` run by a test is
    /// judged by the access rules as the test binary (the CLI's parent).
    pub fn allow_me(&self, account: &str) {
        self.decide_me(account, keyport_service::access::Decision::Allow);
    }

    /// Records that the user denies this test binary `account` (or every account, `*`).
    pub fn forbid_me(&self, account: &str) {
        self.decide_me(account, keyport_service::access::Decision::Deny);
    }

    /// Forgets every rule about this test binary.
    pub fn forget_me(&self) {
        let me = me();
        self.edit_rules(|rules| {
            for rule in rules.list().expect("access rules") {
                if rule.program == me {
                    rules.forget(&me, &rule.account).expect("forget");
                }
            }
        });
    }

    fn decide_me(&self, account: &str, decision: keyport_service::access::Decision) {
        self.edit_rules(|rules| rules.set(me(), account, decision).expect("writing access.toml"));
    }

    /// Allows this test binary each of `accounts`, in one edit.
    pub fn allow_me_each(&self, accounts: &[String]) {
        self.edit_rules(|rules| {
            for account in accounts {
                rules.set(me(), account, keyport_service::access::Decision::Allow).expect("writing access.toml");
            }
        });
    }

    /// Runs `keyport ARGS` as the user typing it at a terminal: in an interactive `bash` in a
    /// real pseudo-terminal (`script`), with this profile's environment. Its standard output
    /// and error are captured through files.
    pub fn typed(&self, args: &[&str]) -> Output {
        let mut line = quote(&self.binary.display().to_string());
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        self.typed_shell(&line)
    }

    /// Runs the shell `command` as typed at a terminal (see [`Profile::typed`]), with the
    /// `keyport` under test first on `PATH`. Its standard output and error are captured.
    pub fn typed_shell(&self, command: &str) -> Output {
        use std::io::Write;
        use std::os::unix::process::ExitStatusExt;
        let scratch = tempfile::tempdir_in(self.dir.path()).expect("scratch dir");
        let (out, err, status) =
            (scratch.path().join("out"), scratch.path().join("err"), scratch.path().join("status"));
        let bin = &self.binary;
        let line = format!(
            "export PATH={}:\"$PATH\"; {{ {command}\n}} > {} 2> {}; echo $? > {}; exit\n",
            quote(&bin.parent().expect("a directory").display().to_string()),
            quote(&out.display().to_string()),
            quote(&err.display().to_string()),
            quote(&status.display().to_string())
        );
        let mut script = Command::new("script")
            .args(["-qfec", "bash --norc --noprofile -i", "/dev/null"])
            .env_clear()
            .envs(self.env())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("running script (util-linux)");
        script.stdin.take().expect("piped").write_all(line.as_bytes()).expect("typing into the terminal");
        script.wait().expect("waiting for script");
        let code: i32 = std::fs::read_to_string(&status)
            .unwrap_or_else(|_| panic!("the typed command did not finish: {command}"))
            .trim()
            .parse()
            .expect("an exit status");
        Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: std::fs::read(&out).unwrap_or_default(),
            stderr: std::fs::read(&err).unwrap_or_default(),
        }
    }

    /// [`Profile::typed`], asserting success; returns stdout.
    pub fn typed_ok(&self, args: &[&str]) -> String {
        let output = self.typed(args);
        assert!(
            output.status.success(),
            "keyport {args:?} typed at a terminal failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// The pid of the service this profile's commands started, if one runs.
    pub fn daemon_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.path().join("run/keyport/keyport.lock")).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        alive(pid).then_some(pid)
    }

    /// Stops the profile's service, if one runs, and waits until it is gone.
    pub fn stop_daemon(&self) {
        let Some(pid) = self.daemon_pid() else { return };
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        for _ in 0..100 {
            if !alive(pid) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // A loaded machine may take longer than two seconds to stop it: kill it, and still wait,
        // so that the next command never meets a service on its way out.
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        while alive(pid) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs `keyport ARGS` and returns its output, whatever its status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.keyport().args(args).output().expect("running keyport")
    }

    /// Runs `keyport ARGS`, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "keyport {args:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// Runs `keyport ARGS`, asserts failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "keyport {args:?} should have failed; stdout:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stderr).expect("UTF-8 output")
    }

    /// Runs `keyport ARGS --json` style commands and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("JSON output")
    }

    /// The driver's log lines.
    pub fn driver_log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.driver_log_path())
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("driver log line is JSON"))
            .collect()
    }

    /// Runs `keyport ARGS` with `input` on its standard input (a client secret, say).
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .keyport()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running keyport");
        writeln!(child.stdin.take().expect("piped stdin"), "{input}").expect("writing to keyport");
        child.wait_with_output().expect("waiting for keyport")
    }

    /// Adds the test server as provider `conf` with the confidential client, its secret given
    /// on standard input.
    pub fn add_confidential_provider(&self, server: &oidc::OidcServer) {
        let args = ["provider", "add", "conf", "--issuer", &server.issuer, "--client-id", oidc::CONFIDENTIAL_CLIENT];
        let output = self.run_with_stdin(&[&args[..], &["--client-secret-stdin"]].concat(), oidc::CONFIDENTIAL_SECRET);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    /// Adds provider `svc` (the server's client-credentials client) and service account
    /// `name` with the right secret.
    pub fn add_service_account(&self, server: &oidc::OidcServer, name: &str) {
        self.ok(&["provider", "add", "svc", "--issuer", &server.issuer, "--client-id", oidc::SERVICE_CLIENT.0]);
        let output =
            self.run_with_stdin(&["add", "svc", "--client-credentials", "--name", name], oidc::SERVICE_CLIENT.1);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    /// Adds the test server as provider `local` with the public native client, typed at a
    /// terminal as the user does (so it works whatever the rules say about this test binary).
    pub fn add_local_provider(&self, server: &oidc::OidcServer) {
        self.typed_ok(&["provider", "add", "local", "--issuer", &server.issuer, "--client-id", oidc::NATIVE_CLIENT]);
    }

    /// Reads a secret straight from the keyring with `secret-tool`, bypassing Keyport.
    pub fn keyring_lookup(&self, key_suffix: &str) -> Option<String> {
        let namespace = self.namespace();
        let output = Command::new("secret-tool")
            .envs(self.keyring.env())
            .args(["lookup", "service", "keyport", "username", &format!("{namespace}/{key_suffix}")])
            .output()
            .expect("running secret-tool");
        let text = String::from_utf8(output.stdout).unwrap();
        (output.status.success() && !text.is_empty()).then_some(text)
    }

    /// The profile's keyring namespace, from `accounts.json`.
    pub fn namespace(&self) -> String {
        let data: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.accounts_file()).expect("accounts.json")).unwrap();
        data["keyring_namespace"].as_str().unwrap().to_owned()
    }

    /// Every file under the profile (for leak checks), as bytes.
    pub fn all_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let kind = entry.file_type().unwrap();
                if kind.is_dir() {
                    // The keyring's own files are encrypted storage, not Keyport's.
                    if !path.ends_with("home") {
                        stack.push(path);
                    }
                } else if kind.is_file() && path != self.driver_log_path() {
                    files.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
                }
            }
        }
        files
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        self.stop_daemon();
    }
}

/// `text` quoted for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The `keyport` binary under test: this build's (the thin client, which runs `keyport-full`
/// beside it for everything but `keyport token` and `--version`, as users' `keyport` does), or
/// the one `KEYPORT_TEST_BIN` names (to run the tests against another build, such as an older
/// version, and see which fail).
pub fn keyport_binary() -> PathBuf {
    std::env::var_os("KEYPORT_TEST_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_keyport")), PathBuf::from)
}

/// This test binary, as the access rules name it.
pub fn me() -> keyport_service::access::Program {
    keyport_service::access::Program::Path(
        std::fs::canonicalize(std::env::current_exe().expect("the test binary")).expect("canonical path"),
    )
}

/// Whether `pid` runs (a zombie, dead but not yet reaped by its new parent, does not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}
