//! A `keyport daemon` started by a test itself (with the usual soft limit of 1024 open files),
//! its threads, descriptors and memory, and the programs the hostile tests play other users
//! and programs with.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::profile::Profile;

/// The daemon's soft descriptor limit, the usual default: the old listener ran out of it.
pub const NOFILE: u64 = 1024;

/// A `keyport daemon` started by the test for `profile`, with [`NOFILE`] descriptors and its
/// standard error in a file. Stopped with the profile.
pub struct Daemon {
    child: Child,
    pub pid: u32,
    log: PathBuf,
    runtime_log: PathBuf,
}

impl Daemon {
    pub fn start(profile: &Profile) -> Self {
        // The service the profile's commands started (adding a provider does) gives way.
        profile.stop_daemon();
        let log = profile.root().join("daemon-stderr.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("sh")
            .args(["-c", &format!("ulimit -S -n {NOFILE} && exec \"$0\" daemon")])
            .arg(super::profile::keyport_binary())
            .env_clear()
            .envs(profile.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("starting keyport daemon");
        let deadline = Instant::now() + Duration::from_secs(20);
        while profile.daemon_pid() != Some(child.id()) {
            assert!(Instant::now() < deadline, "the daemon did not start: {}", std::fs::read_to_string(&log).unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = child.id();
        let daemon = Self { child, pid, log, runtime_log: profile.root().join("run/keyport/daemon.log") };
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.pid)).unwrap();
        let soft = limits
            .lines()
            .find(|line| line.starts_with("Max open files"))
            .and_then(|line| line.split_whitespace().nth(3))
            .expect("the open files limit");
        assert_eq!(soft, NOFILE.to_string(), "{limits}");
        daemon
    }

    /// Threads, descriptors and memory now.
    pub fn sample(&self) -> Sample {
        let count = |dir: &str| std::fs::read_dir(format!("/proc/{}/{dir}", self.pid)).unwrap().count();
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        let kib = |field: &str| -> u64 {
            let line = status.lines().find(|line| line.starts_with(field)).expect("a /proc status field");
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        Sample { threads: count("task"), fds: count("fd"), rss_kib: kib("VmRSS:"), hwm_kib: kib("VmHWM:") }
    }

    /// Waits (up to 30 s) until the daemon is back to `before`: no more threads and
    /// descriptors, and at most `rss_slack_kib` more memory. Idle threads of Tokio's blocking
    /// pool (keyring calls) end after 10 s, and the test server closes idle HTTP connections
    /// after 5 s, so what the sign-in itself used settles on its own; what the listener would
    /// have left behind does not.
    pub fn settle(&self, before: &Sample, rss_slack_kib: u64) -> Sample {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.sample();
            let settled =
                now.threads <= before.threads && now.fds <= before.fds && now.rss_kib <= before.rss_kib + rss_slack_kib;
            if settled || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops the daemon (SIGTERM) and returns how long it took to exit.
    pub fn stop(&mut self) -> Duration {
        let asked = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        while matches!(self.child.try_wait(), Ok(None)) {
            if asked.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        asked.elapsed()
    }

    /// Every line the daemon has logged (standard error, and `daemon.log` should it write one
    /// itself).
    pub fn log_lines(&self) -> Vec<String> {
        [&self.log, &self.runtime_log]
            .iter()
            .flat_map(|path| {
                std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub threads: usize,
    pub fds: usize,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Why another user cannot be used here, if it cannot.
pub fn cannot_switch_users() -> Option<String> {
    if Command::new("runuser").arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        return Some("`runuser` (util-linux) is not installed".into());
    }
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    if me != 0 {
        return Some(format!("`runuser` needs root and the tests run as uid {me}"));
    }
    None
}

/// A python3 that user `nobody` can run (not one under /root, as pyenv's are), and that is a
/// real executable, not a shim: the kernel names it as the client.
pub fn system_python() -> Option<PathBuf> {
    ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .and_then(|p| std::fs::canonicalize(p).ok())
}

/// A `python3` client: connects to `argv[1]`, sends each later argument as one line and reads
/// one line for it; prints JSON with what happened and `/proc/self/exe`, resolved.
pub const PY_CLIENT: &str = r#"
import json, os, socket, sys
out = {"exe": os.path.realpath("/proc/self/exe"), "uid": os.getuid(), "connected": False,
       "responses": [], "closed": False}
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(sys.argv[1])
    out["connected"] = True
    f = s.makefile("rb")
    for line in sys.argv[2:]:
        try:
            s.sendall(line.encode() + b"\n")
            got = f.readline(65537)
        except (BrokenPipeError, ConnectionResetError):
            got = b""
        if not got:
            out["closed"] = True
            break
        out["responses"].append(json.loads(got))
except OSError as err:
    out["error"] = "%s: %s" % (type(err).__name__, err)
print(json.dumps(out))
"#;

/// Runs [`PY_CLIENT`] with `prefix` before `python` (e.g. `runuser -u nobody --`).
pub fn python_client(prefix: &[&str], python: &Path, path_var: Option<&str>, socket: &Path, lines: &[Value]) -> Value {
    let (program, args) = match prefix.split_first() {
        Some((first, rest)) => {
            (PathBuf::from(first), rest.iter().map(PathBuf::from).chain([python.to_owned()]).collect())
        }
        None => (python.to_owned(), Vec::new()),
    };
    let mut command = Command::new(program);
    command.args(args).arg("-c").arg(PY_CLIENT).arg(socket).args(lines.iter().map(Value::to_string));
    if let Some(path) = path_var {
        command.env("PATH", path);
    }
    let output = command.stdin(Stdio::null()).output().expect("running python3");
    assert!(output.status.success(), "the python client failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("python printed {:?}: {err}", String::from_utf8_lossy(&output.stdout)))
}
