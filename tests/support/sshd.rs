//! A private OpenSSH server for one test (Debian's `openssh-server`), on 127.0.0.1 and a free
//! port, with its own host key and one authorized client key; the "remote machine" of the
//! `keyport ssh` tests, which is this machine, logged into as the user running the tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// A running `sshd -D -e`.
pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    /// What it wrote on standard error (its log), read by a thread.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Sshd {
    /// Starts one, or panics saying why.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        for key in ["host_key", "client_key"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "keyport-test", "-f"])
                .arg(path(key))
                .status()
                .expect("running ssh-keygen (openssh-client, tests/setup)");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(path("client_key.pub"), path("authorized_keys")).unwrap();
        // Privilege separation needs its directory.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd (run the tests as root)");
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let config = format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {host_key}\nAuthorizedKeysFile {keys}\nPidFile none\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nAllowStreamLocalForwarding yes\nStreamLocalBindUnlink no\n\
                 X11Forwarding no\nPrintMotd no\nLogLevel VERBOSE\nAcceptEnv none\n",
                host_key = path("host_key").display(),
                keys = path("authorized_keys").display(),
            );
            std::fs::write(path("sshd_config"), config).unwrap();
            let mut child = Command::new(SSHD)
                .arg("-f")
                .arg(path("sshd_config"))
                .args(["-D", "-e"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("running /usr/sbin/sshd (openssh-server, tests/setup)");
            let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
            let mut seen = Vec::new();
            let listening = loop {
                match lines.next() {
                    Some(Ok(line)) => {
                        let ready = line.contains("Server listening on 127.0.0.1");
                        seen.push(line);
                        if ready {
                            break true;
                        }
                    }
                    _ => break false,
                }
            };
            if listening {
                let log = std::sync::Arc::new(std::sync::Mutex::new(seen));
                let sink = log.clone();
                std::thread::spawn(move || {
                    for line in lines.map_while(Result::ok) {
                        sink.lock().unwrap().push(line);
                    }
                });
                return Self { child, dir, port, log };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_error = seen.join("\n");
        }
        panic!("sshd did not start:\n{last_error}");
    }

    /// ssh's options to reach it as the user running the tests, with nothing of the user's own
    /// ssh configuration, and never asking anything.
    pub fn options(&self) -> Vec<String> {
        let mut options: Vec<String> = vec!["-F".into(), "/dev/null".into(), "-p".into(), self.port.to_string()];
        options.push("-i".into());
        options.push(self.dir.path().join("client_key").display().to_string());
        for option in [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "LogLevel=ERROR",
            "IdentitiesOnly=yes",
        ] {
            options.push("-o".into());
            options.push(option.into());
        }
        options
    }

    /// An `ssh_config` for it, as a user writes one: `Host 127.0.0.1` with the same settings
    /// as [`Sshd::options`], and `extra` lines.
    pub fn config(&self, extra: &str) -> PathBuf {
        let user = self.destination().split('@').next().unwrap().to_owned();
        let text = format!(
            "Host 127.0.0.1\n    Port {}\n    User {user}\n    IdentityFile {}\n    IdentitiesOnly yes\n    \
             StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n    BatchMode yes\n    LogLevel ERROR\n{extra}",
            self.port,
            self.dir.path().join("client_key").display()
        );
        let path = self.dir.path().join("ssh_config");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The destination: the user running the tests, at 127.0.0.1.
    pub fn destination(&self) -> String {
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "root".into());
        format!("{user}@127.0.0.1")
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Its directory (keys, config).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until `check` holds, up to `timeout`.
    pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        check()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The forwarded sockets in `/tmp` (`keyport_wire::path::FORWARD_DIR`).
pub fn forwarded_sockets() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(keyport_wire::FORWARD_DIR)
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_str().is_some_and(keyport_wire::path::is_forward_name))
        .map(|entry| entry.path())
        .collect();
    found.sort();
    found
}
