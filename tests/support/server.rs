//! Starting a test authorization server (`tests/oidc/server.mjs`, `tests/authlib/server.py`):
//! both print one JSON line `{"issuer": ..., "port": ...}` once they listen, exit when their
//! standard input closes, and log to standard error.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

/// How long a starting server may take to say it listens.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// A running server: killed on drop (and its stdin closes, which ends it too).
pub struct ServerProcess {
    child: Child,
    _stdin: ChildStdin,
    /// What it said its issuer is.
    pub issuer: String,
}

impl ServerProcess {
    /// Starts `command` and waits for its ready line. On a loaded machine a server has been
    /// seen, rarely, to hang before listening; one that says nothing within [`READY_TIMEOUT`]
    /// is killed and started again, twice at most. `what` names it in the panic.
    pub fn start(what: &str, command: impl Fn() -> Command) -> Self {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start(command()) {
                Ok(server) => return server,
                Err(why) => failures.push(why),
            }
        }
        panic!("{what} did not start: {failures:#?}");
    }

    fn try_start(mut command: Command) -> Result<Self, String> {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .map_err(|err| format!("starting {command:?}: {err}"))?;
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
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
