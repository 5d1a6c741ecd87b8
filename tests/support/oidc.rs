//! The real authorization server (`oidc-provider` from npm, `tests/oidc/server.mjs`), started
//! per test on 127.0.0.1 with an ephemeral port, and the headless login driver used as
//! `$BROWSER`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The public native client registered in `server.mjs`.
pub const NATIVE_CLIENT: &str = "keyport-native";
/// The confidential client and its secret.
pub const CONFIDENTIAL_CLIENT: &str = "keyport-confidential";
pub const CONFIDENTIAL_SECRET: &str = "keyport-confidential-secret";
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
    pub fn start_with(args: &[&str]) -> Self {
        let dir = oidc_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "tests/oidc/node_modules is missing: run `tests/setup` (or the README's test command)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting node tests/oidc/server.mjs");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading the server's first line");
        let ready: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|err| panic!("server said {line:?}: {err}"));
        let issuer = ready["issuer"].as_str().expect("issuer in the ready line").to_owned();
        Self { child, _stdin: stdin, issuer }
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
