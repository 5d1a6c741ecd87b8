//! The second test authorization server (Python Authlib on Flask, `tests/authlib/server.py`),
//! started per test on 127.0.0.1 with an ephemeral port, and its own headless login driver
//! (`tests/authlib/driver.py`, the same environment interface as `tests/oidc/driver.mjs`).
//! Written independently of `oidc-provider`, so Keyport's main flows meet two implementations.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python that has `python3-authlib` and `python3-flask` (Debian's, not whatever `python3`
/// comes first on `PATH`).
pub const PYTHON: &str = "/usr/bin/python3";

/// The public native client (`token_endpoint_auth_method: none`).
pub const NATIVE_CLIENT: &str = "keyport-native";
/// The confidential client (client_secret_basic, post also accepted) and its secret.
pub const CONFIDENTIAL_CLIENT: &str = "keyport-confidential";
pub const CONFIDENTIAL_SECRET: &str = "keyport-confidential-secret";
/// The client-credentials client and its secret.
pub const SERVICE_CLIENT: (&str, &str) = ("keyport-service", "keyport-service-secret");
/// The client allowed to introspect any token.
pub const INTROSPECTOR: (&str, &str) = ("keyport-introspector", "keyport-introspector-secret");
/// The redirect URIs every user-facing client registers (any port, RFC 8252 §7.3).
pub const REDIRECT_URIS: [&str; 2] = ["http://127.0.0.1/callback/second", "http://127.0.0.1/callback"];

/// `tests/authlib` in the source tree.
pub fn authlib_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/authlib")
}

/// The login driver script, to be used as `$BROWSER`.
pub fn driver() -> PathBuf {
    authlib_dir().join("driver.py")
}

/// A running Authlib server. Stopped on drop.
pub struct AuthlibServer {
    _process: super::server::ServerProcess,
    pub issuer: String,
}

impl AuthlibServer {
    /// Starts the server with default lifetimes (access 3600 s, refresh 86400 s).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the server with extra flags (`--access-ttl 5`, `--publish-device`...), started
    /// again if it does not say it listens in time (see `support::server`).
    pub fn start_with(args: &[&str]) -> Self {
        let dir = authlib_dir();
        let process = super::server::ServerProcess::start(
            "the Authlib server (is python3-authlib installed? run `tests/setup`)",
            || {
                let mut command = Command::new(PYTHON);
                command.arg(dir.join("server.py")).args(args);
                command
            },
        );
        let issuer = process.issuer.clone();
        Self { _process: process, issuer }
    }

    /// RFC 7662 introspection of `token`, as the introspector client.
    pub fn introspect(&self, token: &str) -> serde_json::Value {
        let output = Command::new("curl")
            .args(["-sS", "--fail-with-body", "-u", &format!("{}:{}", INTROSPECTOR.0, INTROSPECTOR.1)])
            .args(["--data-urlencode", &format!("token={token}")])
            .arg(format!("{}/introspect", self.issuer))
            .output()
            .expect("running curl");
        assert!(output.status.success(), "introspection failed: {}", String::from_utf8_lossy(&output.stdout));
        serde_json::from_slice(&output.stdout).expect("introspection JSON")
    }

    /// A token request sent straight to the server, bypassing Keyport: `form` fields, as the
    /// public native client. Returns the HTTP status and the JSON answer.
    pub fn token_request(&self, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "-w", "\n%{http_code}"]);
        for (name, value) in form {
            curl.args(["--data-urlencode", &format!("{name}={value}")]);
        }
        curl.args(["--data-urlencode", &format!("client_id={NATIVE_CLIENT}")]);
        let output = curl.arg(format!("{}/token", self.issuer)).output().expect("running curl");
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        let (body, status) = text.rsplit_once('\n').expect("a status line");
        (status.parse().expect("an HTTP status"), serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
    }

    /// `/.well-known/openid-configuration`.
    pub fn openid_metadata(&self) -> serde_json::Value {
        self.get_json("/.well-known/openid-configuration")
    }

    /// `/.well-known/oauth-authorization-server` (RFC 8414).
    pub fn rfc8414_metadata(&self) -> serde_json::Value {
        self.get_json("/.well-known/oauth-authorization-server")
    }

    fn get_json(&self, path: &str) -> serde_json::Value {
        let output = Command::new("curl")
            .args(["-sS", "--fail"])
            .arg(format!("{}{path}", self.issuer))
            .output()
            .expect("running curl");
        assert!(output.status.success(), "GET {path}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("JSON")
    }

    /// The HTTP status of `GET path` (a page, not JSON).
    pub fn status_of(&self, path_and_query: &str) -> u16 {
        let output = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{}{path_and_query}", self.issuer))
            .output()
            .expect("running curl");
        String::from_utf8_lossy(&output.stdout).trim().parse().expect("an HTTP status")
    }
}
