//! End to end: the redirect listener of the real `keyport daemon` (started with a soft limit
//! of 1024 descriptors, as on most desktops) under attack from another user, while the real
//! login driver signs in against the real `oidc-provider`: a thousand hostile connections, a
//! 300 MiB request line, thousands of stray requests, and another user's socket on `[::1]`.
//! Each test checks what the daemon spends (threads, descriptors, memory, log lines) through
//! `/proc/PID`, during the attack and after the sign-in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::daemon::{Daemon, Sample, cannot_switch_users, system_python};
use crate::support::oidc::{self, OidcServer};
use crate::support::profile::Profile;

/// Open connections the listener allows (`keyport_core::redirect::MAX_CONNECTIONS`).
const MAX_CONNECTIONS: usize = keyport_core::redirect::MAX_CONNECTIONS;

/// `keyport add PROVIDER --no-browser` waiting for its redirect: the URL it printed and the
/// listener's port.
struct PendingAdd {
    child: Child,
    stderr: Receiver<String>,
    url: String,
    redirect_uri: url::Url,
}

impl PendingAdd {
    fn start(profile: &Profile, provider: &str, name: &str) -> Self {
        let mut child = profile
            .keyport()
            .args(["add", provider, "--name", name, "--no-browser", "--timeout", "300"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running keyport add");
        let (lines, stderr) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        let url = loop {
            match stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if line.trim().starts_with("http://") => break line.trim().to_owned(),
                Ok(line) => seen.push(line),
                Err(err) => panic!("keyport add printed no URL ({err}): {seen:#?}"),
            }
        };
        let parsed = url::Url::parse(&url).unwrap();
        let redirect = parsed.query_pairs().find(|(k, _)| k == "redirect_uri").expect("a redirect_uri").1;
        let redirect_uri = url::Url::parse(&redirect).unwrap();
        Self { child, stderr, url, redirect_uri }
    }

    fn port(&self) -> u16 {
        self.redirect_uri.port().expect("a port in the redirect URI")
    }

    fn v4(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port()))
    }

    /// Waits for `keyport add` to end; its status, standard output and the rest of its
    /// standard error.
    fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let mut stdout = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        let status = self.child.wait().unwrap();
        let mut stderr = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            stderr.push(line);
        }
        (status, stdout, stderr.join("\n"))
    }
}

impl Drop for PendingAdd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The login driver (the test's browser) signing in at `url`, approving everything.
fn drive(profile: &Profile, url: &str) -> Output {
    Command::new("node")
        .arg(oidc::driver())
        .arg(url)
        .env_clear()
        .envs(profile.env())
        .env("KEYPORT_TEST_DRIVER", "approve")
        .output()
        .expect("running the login driver")
}

/// Drives the sign-in and checks that it went through: the driver's redirect was answered
/// 200, `keyport add` connected the account, and the daemon lists it.
fn sign_in_through(profile: &Profile, pending: PendingAdd, name: &str) {
    if let Err(why) = try_sign_in_through(profile, pending, name) {
        panic!("{why}");
    }
}

/// [`sign_in_through`], saying what went wrong instead of panicking.
fn try_sign_in_through(profile: &Profile, pending: PendingAdd, name: &str) -> Result<(), String> {
    let url = pending.url.clone();
    let driver = drive(profile, &url);
    let log = profile.driver_log();
    if !driver.status.success() {
        drop(pending); // stops `keyport add` rather than wait for its timeout
        return Err(format!(
            "the genuine redirect did not get through: {}\ndriver log: {:#?}",
            String::from_utf8_lossy(&driver.stderr),
            log.iter().rev().take(3).collect::<Vec<_>>()
        ));
    }
    let (status, stdout, stderr) = pending.finish();
    let redirect = log.iter().rev().find(|l| l["step"] == "redirect").ok_or("the driver delivered no redirect")?;
    if redirect["status"] != 200 {
        return Err(format!("the redirect was answered {redirect}"));
    }
    if !status.success() || !stdout.contains(&format!("Connected {name} (local)")) {
        return Err(format!("keyport add failed ({status}): {stdout}\n{stderr}"));
    }
    let account = profile.json(&["status", name, "--json"]);
    if account["identity"]["sub"] != "alice" {
        return Err(format!("the account is not alice's: {account}"));
    }
    Ok(())
}

/// A profile with provider `local`, its own daemon, and one account signed in already, so
/// that what the daemon keeps for good (its keyring connection, its HTTP client) is there
/// before the figures are taken.
fn warmed_up() -> (OidcServer, Profile, Daemon) {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    let daemon = Daemon::start(&profile);
    let output = profile.run(&["add", "local", "--name", "warm-up"]);
    assert!(output.status.success(), "the warm-up sign-in failed: {}", String::from_utf8_lossy(&output.stderr));
    (server, profile, daemon)
}

/// The hostile client, run as `nobody`: opens `argv[3]` connections to `argv[1]:argv[2]` at
/// once, in turn silent, slow-drip (a request line a byte per tick), oversize (64 KiB of
/// request line per tick) and garbage (random bytes, never an empty line); prints
/// `{"ready": ...}` once they are open (or could not be within 10 s), then keeps that many
/// open, five times a second, opening a new one for each the listener closed, until its
/// standard input closes; then prints its counts.
const PY_HOSTILE: &str = r#"
import errno, json, os, resource, select, socket, sys, time
host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
stats = {"uid": os.getuid(), "nofile": hard, "opened": 0, "connect_failed": 0,
         "closed_by_listener": 0, "held_max": 0, "bytes_sent": 0}
family = socket.AF_INET6 if ":" in host else socket.AF_INET
garbage = os.urandom(512).replace(b"\n", b"x")
FIRST = {"silent": b"", "drip": b"GET /callback?code=hostile&state=", "oversize": b"GET /" + b"a" * 65536,
         "garbage": garbage}
KINDS = list(FIRST)

def send(s, data):
    try:
        stats["bytes_sent"] += s.send(data)
    except OSError:
        pass

def open_many(slots, wait):
    """Connects the (slot, kind) pairs all at once; {slot: socket} for those connected in time."""
    waiting, opened = {}, {}
    poller = select.poll()
    for slot, kind in slots:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        if s.connect_ex((host, port)) in (0, errno.EINPROGRESS):
            waiting[s.fileno()] = (slot, kind, s)
            poller.register(s, select.POLLOUT)
        else:
            stats["connect_failed"] += 1
            s.close()
    deadline = time.monotonic() + wait
    while waiting and time.monotonic() < deadline:
        for fd, _ in poller.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            slot, kind, s = waiting.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                stats["opened"] += 1
                send(s, FIRST[kind])
                opened[slot] = s
            else:
                stats["connect_failed"] += 1
                s.close()
    for _, _, s in waiting.values():
        stats["connect_failed"] += 1
        s.close()
    return opened

def still_open(s):
    try:
        s.recv(65536)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False

kinds = [KINDS[n % len(KINDS)] for n in range(total)]
conns = open_many(list(enumerate(kinds)), 10)
stats["held_max"] = len(conns)
print(json.dumps(dict(stats, ready=True)), flush=True)
while True:
    readable, _, _ = select.select([0], [], [], 0.2)
    if readable and not os.read(0, 1):
        break
    closed = []
    for slot, s in list(conns.items()):
        if still_open(s):
            if kinds[slot] == "drip":
                send(s, b"a")
            elif kinds[slot] == "oversize":
                send(s, b"a" * 65536)
        else:
            s.close()
            del conns[slot]
            stats["closed_by_listener"] += 1
            closed.append((slot, kinds[slot]))
    stats["held_max"] = max(stats["held_max"], len(conns))
    conns.update(open_many(closed, 1))
for s in conns.values():
    s.close()
print(json.dumps(stats), flush=True)
"#;

/// [`PY_HOSTILE`] running as `nobody`.
struct Hostile {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Hostile {
    /// Starts the hostile client and waits until it has opened its `count` connections.
    fn start(python: &Path, target: SocketAddr, count: usize) -> (Self, Value) {
        let mut child = Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(python)
            .args(["-c", PY_HOSTILE, &target.ip().to_string(), &target.port().to_string(), &count.to_string()])
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("running python3 as nobody");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut hostile = Self { child, stdin, stdout };
        let ready = hostile.line().expect("the hostile client's ready line");
        assert_eq!(ready["ready"], true, "{ready}");
        (hostile, ready)
    }

    fn line(&mut self) -> Option<Value> {
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    }

    /// Closes its standard input, and returns its counts once it has closed its connections.
    fn stop(mut self) -> Value {
        drop(self.stdin.take());
        let stats = self.line().expect("the hostile client's counts");
        let _ = self.child.wait();
        stats
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

#[test]
fn a_thousand_hostile_connections_from_another_user_neither_stop_the_sign_in_nor_leave_anything_behind() {
    const HOSTILE: usize = 1000;
    if let Some(why) = cannot_switch_users() {
        println!("SKIPPED a_thousand_hostile_connections...: {why}");
        return;
    }
    let Some(python) = system_python() else {
        println!("SKIPPED a_thousand_hostile_connections...: no system python3 for `nobody`");
        return;
    };
    let (_server, profile, daemon) = warmed_up();
    let before = daemon.sample();

    let pending = PendingAdd::start(&profile, "local", "under-attack");
    let (hostile, ready) = Hostile::start(&python, pending.v4(), HOSTILE);
    let mut during = daemon.sample();
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(100));
        let now = daemon.sample();
        during = Sample { fds: during.fds.max(now.fds), threads: during.threads.max(now.threads), ..now };
    }
    // The browser signs in while the hostile client keeps its thousand connections going.
    let started = std::time::Instant::now();
    let signed_in = try_sign_in_through(&profile, pending, "under-attack");
    let sign_in_took = started.elapsed();
    // Then what is left, while the hostile client is still at it.
    let after = daemon.settle(&before, 4 * 1024);
    let stats = hostile.stop();
    let summary = daemon.log_lines().into_iter().find(|line| line.contains("the redirect listener turned away"));
    println!(
        "daemon before {before:?}\nunder attack {during:?}\nafter {after:?}\nhostile client: {ready}\n{stats}\n\
         the browser's part of the sign-in took {sign_in_took:?} under attack\nlistener: {summary:?}"
    );

    assert_eq!(ready["uid"], 65534, "the hostile client runs as nobody: {ready}");
    assert_eq!(ready["opened"], HOSTILE, "all {HOSTILE} hostile connections were established: {ready}");
    if let Err(why) = signed_in {
        panic!("{why}");
    }
    // The kernel told the listener whose connections they were: closed first, without grace.
    let summary = summary.expect("the listener's summary in the daemon's log");
    let from_another_user: u64 = summary
        .split_once("from_another_user=")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no from_another_user count in the summary: {summary}"));
    assert!(
        from_another_user >= HOSTILE as u64,
        "the listener saw {from_another_user} connections from another user: {summary}"
    );
    // Under attack, the listener held at most its cap of connections, and no thread for them.
    assert!(
        during.fds <= before.fds + MAX_CONNECTIONS + 8,
        "the daemon held {} descriptors under attack ({} before)",
        during.fds,
        before.fds
    );
    assert!(
        during.threads <= before.threads + 4,
        "{} threads under attack ({} before)",
        during.threads,
        before.threads
    );
    // Nothing is left behind.
    assert!(after.threads <= before.threads, "threads: {} before, {} after", before.threads, after.threads);
    assert!(after.fds <= before.fds, "descriptors: {} before, {} after", before.fds, after.fds);
    assert!(
        after.rss_kib <= before.rss_kib + 4 * 1024,
        "memory: VmRSS {} KiB before, {} KiB after",
        before.rss_kib,
        after.rss_kib
    );
    assert_eq!(stats["held_max"], HOSTILE, "the hostile client kept {HOSTILE} connections going: {stats}");
    assert!(
        stats["closed_by_listener"].as_u64().unwrap() >= (HOSTILE - MAX_CONNECTIONS) as u64,
        "the listener closed the connections beyond its cap: {stats}"
    );
}

#[test]
fn a_300_mib_request_line_does_not_grow_the_daemon() {
    const LINE: usize = 300 << 20;
    let (_server, profile, daemon) = warmed_up();
    let pending = PendingAdd::start(&profile, "local", "after-a-long-line");
    let before = daemon.sample();

    // Streamed a MiB at a time, never held in this process either.
    let mut stream = TcpStream::connect(pending.v4()).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = stream.write(b"GET /callback?code=").unwrap();
    let ended = loop {
        if sent >= LINE {
            break None;
        }
        match stream.write(&chunk[..chunk.len().min(LINE - sent)]) {
            Ok(written) => sent += written,
            Err(err) => break Some(err),
        }
    };
    let after = daemon.sample();
    println!("sent {sent} bytes of a {LINE}-byte request line; daemon before {before:?}, after {after:?}");
    let err = ended.unwrap_or_else(|| panic!("the listener read the whole {LINE}-byte line"));
    assert!(
        matches!(err.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset),
        "the listener closed the connection (rather than stop reading): {err}"
    );
    assert!(
        after.hwm_kib <= before.hwm_kib + 4 * 1024,
        "peak memory: VmHWM {} KiB before, {} KiB after",
        before.hwm_kib,
        after.hwm_kib
    );
    drop(stream);
    sign_in_through(&profile, pending, "after-a-long-line");
}

#[test]
fn strays_write_a_bounded_number_of_log_lines() {
    const STRAYS: usize = 1000;
    const GARBAGE: usize = 500;
    let (_server, profile, daemon) = warmed_up();
    let pending = PendingAdd::start(&profile, "local", "after-strays");
    let logged_before = daemon.log_lines().len();
    let address = pending.v4();
    let ask = |n: usize, request: &[u8]| {
        // The status line is enough; the connection is dropped after it.
        let answer = TcpStream::connect(address).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(20)))?;
            stream.write_all(request)?;
            let mut reply = Vec::new();
            let mut buffer = [0; 1024];
            while !reply.windows(2).any(|w| w == b"\r\n") {
                match stream.read(&mut buffer)? {
                    0 => break,
                    read => reply.extend_from_slice(&buffer[..read]),
                }
            }
            Ok(String::from_utf8_lossy(&reply).into_owned())
        });
        match answer {
            Ok(reply) => assert!(reply.starts_with("HTTP/1.1 400 "), "request {n}: {reply}"),
            Err(err) => {
                let logged = daemon.log_lines().len() - logged_before;
                panic!("request {n} of {}: {err}; the daemon had logged {logged} lines", STRAYS + GARBAGE)
            }
        }
    };
    for n in 0..STRAYS {
        ask(n, format!("GET /callback?code=c{n}&state=forged-{n} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    for n in STRAYS..STRAYS + GARBAGE {
        ask(n, b"\x16\x03\x01 not http\r\n\r\n");
    }
    sign_in_through(&profile, pending, "after-strays");

    let lines = daemon.log_lines().split_off(logged_before);
    println!(
        "{} requests turned away; the daemon logged {} lines:\n{}",
        STRAYS + GARBAGE,
        lines.len(),
        lines.join("\n")
    );
    assert!(lines.len() <= 10, "{} lines logged for {} strays:\n{}", lines.len(), STRAYS + GARBAGE, lines.join("\n"));
    let total = (STRAYS + GARBAGE).to_string();
    assert!(lines.iter().any(|line| line.contains(&total)), "a summary with the count:\n{}", lines.join("\n"));
    assert!(!lines.iter().any(|line| line.contains("forged-")), "no query in the log:\n{}", lines.join("\n"));
}

/// What happened when `nobody` tried to listen on each address (`argv[1..]`, `host:port`),
/// as plainly as it can and with address and port reuse.
const PY_SQUAT: &str = r#"
import json, socket, sys
out = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    host = host.strip("[]")
    for reuse in (False, True):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            s.bind((host, int(port)))
            s.listen(1)
            result = "listening"
        except OSError as err:
            result = "error %d" % err.errno
        s.close()
        out["%s reuse=%s" % (target, reuse)] = result
print(json.dumps(out))
"#;

#[test]
fn another_user_cannot_listen_where_a_localhost_redirect_may_go() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("SKIPPED another_user_cannot_listen...: no IPv6 loopback here (127.0.0.1 alone is then safe)");
        return;
    }
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.ok(&[
        "provider",
        "add",
        "local",
        "--issuer",
        &server.issuer,
        "--client-id",
        oidc::NATIVE_CLIENT,
        "--redirect-host",
        "localhost",
    ]);
    let _daemon = Daemon::start(&profile);
    let pending = PendingAdd::start(&profile, "local", "via-localhost");
    assert_eq!(pending.redirect_uri.host_str(), Some("localhost"), "{}", pending.redirect_uri);
    let port = pending.port();

    // Another user (or, when users cannot be switched here, this one) tries to listen where a
    // browser resolving `localhost` may connect.
    let python = system_python().unwrap_or_else(|| PathBuf::from("python3"));
    let mut command = match cannot_switch_users() {
        None => {
            let mut command = Command::new("runuser");
            command.args(["-u", "nobody", "--"]).arg(&python);
            command
        }
        Some(why) => {
            println!("as this user, not another: {why}");
            Command::new(&python)
        }
    };
    let targets =
        [format!("127.0.0.1:{port}"), format!("[::1]:{port}"), format!("0.0.0.0:{port}"), format!("[::]:{port}")];
    let output = command.arg("-c").arg(PY_SQUAT).args(&targets).current_dir("/").output().expect("running python3");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let results: Value = serde_json::from_slice(&output.stdout).unwrap();
    println!("binding the redirect port elsewhere: {results}");
    let in_use = "error 98"; // EADDRINUSE
    for (target, result) in results.as_object().unwrap() {
        assert_eq!(result, in_use, "{target}: the port must be held on both loopback addresses: {results}");
    }
    sign_in_through(&profile, pending, "via-localhost");
}
