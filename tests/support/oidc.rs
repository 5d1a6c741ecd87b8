//! The real authorization server (`oidc-provider` from npm, `tests/oidc/server.mjs`), started
//! per test on 127.0.0.1 with an ephemeral port, and the headless login driver used as
//! `$BROWSER`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// How long a starting server may take to say it listens.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The public native client registered in `server.mjs`.
pub const NATIVE_CLIENT: &str = "keyport-native";
/// The confidential client and its secret.
pub const CONFIDENTIAL_CLIENT: &str = "keyport-confidential";
pub const CONFIDENTIAL_SECRET: &str = "keyport-confidential-secret";
/// The client-credentials client and its secret.
pub const SERVICE_CLIENT: (&str, &str) = ("keyport-service", "keyport-service-secret");
/// The client allowed to introspect any token.
pub const INTROSPECTOR: (&str, &str) = ("keyport-introspector", "keyport-introspector-secret");

/// `tests/oidc` in the source tree.
pub fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// The login driver script.
pub fn driver() -> PathBuf {
    oidc_dir().join("driver.mjs")
}

/// A running `oidc-provider`. Stopped on drop (its stdin closes, and it exits on EOF).
pub struct OidcServer {
    child: Child,
    _stdin: ChildStdin,
    pub issuer: String,
}

impl OidcServer {
    /// Starts the server with default token lifetimes.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the server with extra flags (`--access-ttl 5`...).
    ///
    /// On a loaded machine Node has been seen, rarely, to hang before listening (its main
    /// thread parked while loading modules); a server that says nothing within
    /// [`READY_TIMEOUT`] is killed and started again, twice at most.
    pub fn start_with(args: &[&str]) -> Self {
        let dir = oidc_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "tests/oidc/node_modules is missing: run `tests/setup` (or the README's test command)"
        );
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start(&dir, args) {
                Ok(server) => return server,
                Err(why) => failures.push(why),
            }
        }
        panic!("oidc-provider did not start: {failures:#?}");
    }

    fn try_start(dir: &Path, args: &[&str]) -> Result<Self, String> {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .expect("starting node tests/oidc/server.mjs");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) if !line.is_empty() => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
                return Err(format!("no ready line ({other:?}); stderr: {stderr}"));
            }
        };
        let ready: serde_json::Value =
            serde_json::from_str(&line).map_err(|err| format!("server said {line:?}: {err}"))?;
        let issuer = ready["issuer"].as_str().ok_or("no issuer in the ready line")?.to_owned();
        Ok(Self { child, _stdin: stdin, issuer })
    }

    /// RFC 7662 introspection of `token`, as the introspector client.
    pub fn introspect(&self, token: &str) -> serde_json::Value {
        let output = Command::new("curl")
            .args(["-sS", "--fail-with-body", "-u", &format!("{}:{}", INTROSPECTOR.0, INTROSPECTOR.1)])
            .args(["--data-urlencode", &format!("token={token}")])
            .arg(format!("{}/token/introspection", self.issuer))
            .output()
            .expect("running curl");
        assert!(output.status.success(), "introspection failed: {}", String::from_utf8_lossy(&output.stdout));
        serde_json::from_slice(&output.stdout).expect("introspection JSON")
    }

    /// Queues faults for the next `POST /token` requests (tests/oidc/README.md, "Faults"):
    /// `[{"status": 429, "headers": {"Retry-After": "120"}}, {"hold": true}]`.
    pub fn faults(&self, faults: serde_json::Value) {
        self.test_call("POST", "/test/faults", Some(serde_json::json!({ "token": faults })));
    }

    /// Delivers the answers held by `hold` faults.
    pub fn release(&self) {
        self.test_call("POST", "/test/release", None);
    }

    /// `{"token_requests", "refresh_requests", "faults_served", "held", "queued"}`.
    pub fn stats(&self) -> serde_json::Value {
        self.test_call("GET", "/test/stats", None)
    }

    /// Refresh requests the server received so far (answered by it or by a canned fault).
    pub fn refresh_requests(&self) -> u64 {
        self.stats()["refresh_requests"].as_u64().expect("a count")
    }

    /// Waits until `count` answers are held back (at most 30 s).
    pub fn wait_until_held(&self, count: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.stats()["held"].as_u64() != Some(count) {
            assert!(std::time::Instant::now() < deadline, "no answer was held: {}", self.stats());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn test_call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        let mut command = Command::new("curl");
        command.args(["-sS", "--fail-with-body", "-X", method]);
        if let Some(body) = body {
            command.args(["-H", "Content-Type: application/json", "--data", &body.to_string()]);
        }
        let output = command.arg(format!("{}{path}", self.issuer)).output().expect("running curl");
        assert!(output.status.success(), "{path}: {}", String::from_utf8_lossy(&output.stdout));
        serde_json::from_slice(&output.stdout).expect("JSON from the test endpoint")
    }

    /// The discovery document.
    pub fn metadata(&self) -> serde_json::Value {
        let output = Command::new("curl")
            .args(["-sS", "--fail"])
            .arg(format!("{}/.well-known/openid-configuration", self.issuer))
            .output()
            .expect("running curl");
        serde_json::from_slice(&output.stdout).expect("discovery JSON")
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
