//! The real authorization server (`oidc-provider` from npm, `tests/oidc/server.mjs`), started
//! per test on 127.0.0.1 with an ephemeral port, and the headless login driver used as
//! `$BROWSER`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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
    _process: super::server::ServerProcess,
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
    /// thread parked while loading modules): [`ServerProcess::start`](super::server::ServerProcess::start)
    /// starts it again then.
    pub fn start_with(args: &[&str]) -> Self {
        let dir = oidc_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "tests/oidc/node_modules is missing: run `tests/setup` (or the README's test command)"
        );
        let process = super::server::ServerProcess::start("oidc-provider", || {
            let mut command = Command::new("node");
            command.arg(dir.join("server.mjs")).args(args);
            command
        });
        let issuer = process.issuer.clone();
        Self { _process: process, issuer }
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
