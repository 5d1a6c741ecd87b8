//! End to end: local programs that misbehave on the socket, or try to pass as another program,
//! against the real daemon and the real `oidc-provider`. Each test reproduces a failure found
//! in review of an earlier version (a client that pipelines without reading, half-closed
//! sign-ins, one program's subscribers taking every place, more accounts than one 64 KiB line
//! holds, a denied program removing accounts, borrowed identities) and shows it fixed.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::daemon::{Daemon, PY_CLIENT, python_client, system_python};
use crate::support::oidc::{self, OidcServer};
use crate::support::profile::{Profile, keyport_binary};

/// A daemon started by the test (1024 descriptors), a provider `local` and an account `a`.
fn setup(profile: Profile) -> (OidcServer, Profile, Daemon) {
    let server = OidcServer::start();
    let daemon = Daemon::start(&profile);
    profile.add_local_provider(&server);
    let output = profile.run(&["add", "local", "--name", "a"]);
    assert!(output.status.success(), "signing in `a`: {}", String::from_utf8_lossy(&output.stderr));
    (server, profile, daemon)
}

fn socket_of(profile: &Profile) -> PathBuf {
    profile.root().join("run/keyport/keyport.sock")
}

/// The system python, which the kernel names as itself (no shim): a program with no rule.
fn python() -> PathBuf {
    system_python().expect("python3 is installed (tests/setup)")
}

/// A raw request line.
fn request(id: i64, method: &str, params: Value) -> Value {
    let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
    if !params.is_null() {
        request["params"] = params;
    }
    request
}

/// One request on a new connection of this test binary; its answer.
fn ask(socket: &Path, method: &str, params: Value) -> Value {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(format!("{}\n", request(1, method, params)).as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).expect("an answer");
    serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line:?}"))
}

/// The canonical path of `/usr/bin/sleep`: the "allowed program" of the borrowing tests.
fn sleep_program() -> PathBuf {
    std::fs::canonicalize("/usr/bin/sleep").expect("coreutils sleep")
}

/// Allows `program` account `a`, as the user would.
fn allow(profile: &Profile, program: &Path, account: &str) {
    profile.edit_rules(|rules| {
        rules
            .set(
                keyport_service::access::Program::Path(program.to_owned()),
                account,
                keyport_service::access::Decision::Allow,
            )
            .unwrap()
    });
}

// ---- the socket cannot be starved --------------------------------------------------------------

/// Pipelines `providers.list` requests without ever reading, until 200,000 are sent or the
/// socket takes nothing for 3 s; prints how many it sent; then holds the connection until its
/// standard input closes.
const PY_FLOOD: &str = r#"
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.setblocking(False)
line = b'{"jsonrpc":"2.0","id":1,"method":"providers.list"}\n'
batch = line * 1000
sent, stalled_since = 0, None
pending = b""
while sent < 200000:
    if not pending:
        pending = batch
    try:
        n = s.send(pending)
        pending = pending[n:]
        if not pending:
            sent += 1000
        stalled_since = None
    except BlockingIOError:
        stalled_since = stalled_since or time.monotonic()
        if time.monotonic() - stalled_since > 3:
            break
        time.sleep(0.01)
    except OSError:
        break
print(json.dumps({"sent": sent}), flush=True)
sys.stdin.read()
"#;

#[test]
fn a_client_that_sends_without_reading_neither_grows_the_service_nor_delays_others_and_a_stop_is_prompt() {
    let (_server, profile, mut daemon) = setup(Profile::new());
    let socket = socket_of(&profile);
    assert_eq!(ask(&socket, "providers.list", Value::Null)["result"]["providers"][0]["name"], "local");
    let before = daemon.sample();

    let mut flood = Command::new(python())
        .args(["-c", PY_FLOOD])
        .arg(&socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    // While it floods, another program is answered at once, again and again.
    let mut slowest = Duration::ZERO;
    let flood_started = Instant::now();
    let mut answers = 0;
    while flood_started.elapsed() < Duration::from_secs(4) {
        let asked = Instant::now();
        let answer = ask(&socket, "accounts.status", json!({"account": "a"}));
        assert_eq!(answer["result"]["name"], "a", "{answer}");
        slowest = slowest.max(asked.elapsed());
        answers += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut report = String::new();
    BufReader::new(flood.stdout.as_mut().unwrap()).read_line(&mut report).unwrap();
    let during = daemon.sample();
    println!(
        "flood: {report:?}; {answers} answers to another program meanwhile, slowest {slowest:?}; VmRSS {} -> {} KiB",
        before.rss_kib, during.rss_kib
    );
    assert!(slowest < Duration::from_secs(2), "another program waited {slowest:?} for an answer");
    assert!(
        during.rss_kib < before.rss_kib + 30 * 1024,
        "the service grew from {} to {} KiB for one client that does not read",
        before.rss_kib,
        during.rss_kib
    );
    // A stop ends the process promptly, with the flooding client still connected.
    let stop = daemon.stop();
    println!("SIGTERM to exit: {stop:?}");
    assert!(stop < Duration::from_secs(5), "the daemon took {stop:?} to stop");
    assert!(!socket.exists(), "the socket is removed");
    drop(flood.stdin.take());
    let _ = flood.wait();
}

#[test]
fn a_half_closed_connection_is_closed_when_its_sign_in_ends() {
    const SIGNINS: usize = 8;
    let (_server, profile, daemon) = setup(Profile::new());
    let socket = socket_of(&profile);
    let before = daemon.sample();
    // `printf '{"method":"signin.start"...}' | socat`: the request, then the end of sending.
    let mut pending = Vec::new();
    for n in 0..SIGNINS {
        let mut stream = UnixStream::connect(&socket).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let start = request(1, "signin.start", json!({"provider": "local", "account": format!("h{n}")}));
        stream.write_all(format!("{start}\n").as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let started: Value = serde_json::from_str(&line).unwrap();
        let url = started["result"]["url"].as_str().unwrap_or_else(|| panic!("{started}")).to_owned();
        pending.push((reader, url));
    }
    // The user declines each in the browser; each connection gets the outcome, then its end.
    for (mut reader, url) in pending {
        let driver = Command::new(oidc::driver())
            .arg(&url)
            .env("KEYPORT_TEST_DRIVER", "deny")
            .output()
            .expect("the login driver");
        assert!(driver.status.success(), "{}", String::from_utf8_lossy(&driver.stderr));
        let mut line = String::new();
        reader.read_line(&mut line).expect("the outcome event");
        let event: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event["params"]["event"], "signin_failed", "{event}");
        let mut rest = Vec::new();
        let read = reader.read_to_end(&mut rest);
        assert!(read.is_ok() && rest.is_empty(), "the service closes the connection after the outcome: {read:?}");
    }
    let after = daemon.settle(&before, 8 * 1024);
    println!("descriptors: {} before, {} after {SIGNINS} half-closed sign-ins", before.fds, after.fds);
    assert!(after.fds <= before.fds, "descriptors left behind: {} before, {} after", before.fds, after.fds);
}

/// Opens `argv[2]` connections, subscribing on each; prints how many were answered and how
/// many refused busy; holds them until standard input closes.
const PY_SUBSCRIBERS: &str = r#"
import json, socket, sys
conns, subscribed, busy, closed = [], 0, 0, 0
for n in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(sys.argv[1])
    try:
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"events.subscribe"}\n')
        line = s.makefile("rb").readline(65537)
    except OSError:
        line = b""
    if not line:
        closed += 1
    elif b"-32012" in line:
        busy += 1
    else:
        subscribed += 1
    conns.append(s)
print(json.dumps({"subscribed": subscribed, "busy": busy, "closed": closed}), flush=True)
sys.stdin.read()
"#;

#[test]
fn one_program_cannot_take_every_place_with_subscriptions() {
    let (_server, profile, _daemon) = setup(Profile::new());
    let socket = socket_of(&profile);
    let mut subscribers = Command::new(python())
        .args(["-c", PY_SUBSCRIBERS])
        .arg(&socket)
        .arg("600")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut report = String::new();
    BufReader::new(subscribers.stdout.as_mut().unwrap()).read_line(&mut report).unwrap();
    let report: Value = serde_json::from_str(&report).unwrap();
    println!("600 subscriptions from one program: {report}");
    assert!(report["subscribed"].as_u64().unwrap() <= keyport_service::MAX_CONNECTIONS_PER_PROGRAM as u64, "{report}");
    // Refused: answered busy, or closed before the client's request went out (its write then fails).
    let refused = report["busy"].as_u64().unwrap() + report["closed"].as_u64().unwrap();
    assert!(refused >= 600 - keyport_service::MAX_CONNECTIONS_PER_PROGRAM as u64, "{report}");
    // Every other program is still served, the CLI too.
    for _ in 0..20 {
        let answer = ask(&socket, "accounts.list", Value::Null);
        assert_eq!(answer["result"]["accounts"][0]["name"], "a", "{answer}");
    }
    assert_eq!(profile.json(&["list", "--json"])[0]["name"], "a");
    drop(subscribers.stdin.take());
    let _ = subscribers.wait();
}

#[test]
fn a_thousand_accounts_are_listed_over_the_socket_and_by_the_cli() {
    const MORE: usize = 1000;
    let (_server, profile, _daemon) = setup(Profile::new());
    // A thousand more records, as a long-time user would have (metadata only: listing reads
    // no secret).
    let path = profile.accounts_file();
    let mut data: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let template = data["accounts"][0].clone();
    let accounts = data["accounts"].as_array_mut().unwrap();
    for n in 0..MORE {
        let mut account = template.clone();
        account["name"] = json!(format!("user{n:04}@example.test"));
        accounts.push(account);
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(&data).unwrap()).unwrap();
    std::fs::rename(&temporary, &path).unwrap();

    let mut stream = UnixStream::connect(socket_of(&profile)).unwrap();
    stream.write_all(format!("{}\n", request(1, "accounts.list", Value::Null)).as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    let listed = answer["result"]["accounts"].as_array().unwrap_or_else(|| panic!("{}", &line[..200.min(line.len())]));
    println!("accounts.list of {} accounts: one line of {} bytes", listed.len(), line.len());
    assert_eq!(listed.len(), MORE + 1);
    assert!(line.len() > keyport_wire::MAX_REQUEST_BYTES, "the answer is longer than a request may be");
    assert_eq!(profile.json(&["list", "--json"]).as_array().unwrap().len(), MORE + 1);
}

// ---- every action is behind the rules -----------------------------------------------------------

#[test]
fn a_denied_program_can_neither_use_nor_see_the_account() {
    let (server, profile, _daemon) = setup(Profile::new());
    let output = profile.run(&["add", "local", "--name", "b"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let python = python();
    let denied = profile.typed(&["deny", python.to_str().unwrap(), "a"]);
    assert!(denied.status.success(), "{}", String::from_utf8_lossy(&denied.stderr));
    let socket = socket_of(&profile);
    let token = profile.keyring_lookup("account/a/access_token").unwrap();

    let a = json!({"account": "a"});
    let calls = [
        request(1, "token.get", a.clone()),
        request(2, "token.refresh", a.clone()),
        request(3, "accounts.reauth", a.clone()),
        request(4, "accounts.revoke", a.clone()),
        request(5, "accounts.remove", a.clone()),
        request(6, "accounts.status", a.clone()),
        request(7, "accounts.list", Value::Null),
        request(8, "signin.start", json!({"provider": "local", "account": "a"})),
        request(9, "access.set", json!({"program": python.display().to_string(), "account": "a", "decision": "allow"})),
    ];
    let report = python_client(&[], &python, None, &socket, &calls);
    let responses = report["responses"].as_array().unwrap();
    for response in &responses[..6] {
        assert_eq!(response["error"]["code"], -32004, "{response}");
    }
    let listed: Vec<&str> =
        responses[6]["result"]["accounts"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(listed, ["b"], "a denied account is left out of the list");
    assert_eq!(responses[7]["error"]["code"], -32004, "{}", responses[7]);
    assert_eq!(responses[8]["error"]["code"], -32004, "a program cannot change the rules: {}", responses[8]);

    // The account is untouched: listed for the user, its token still the same and active.
    assert_eq!(profile.json(&["status", "a", "--json"])["name"], "a");
    assert_eq!(profile.keyring_lookup("account/a/access_token").as_deref(), Some(token.as_str()));
    assert_eq!(server.introspect(&token)["active"], true);
}

/// Subscribes, says so, then prints every event line it receives until standard input closes.
const PY_WATCH: &str = r#"
import socket, sys, threading
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"events.subscribe"}\n')
f = s.makefile("rb")
print(f.readline().decode().strip(), flush=True)
def pump():
    for line in f:
        print(line.decode().strip(), flush=True)
threading.Thread(target=pump, daemon=True).start()
sys.stdin.read()
"#;

#[test]
fn a_denied_program_hears_no_event_about_the_account() {
    let (_server, profile, _daemon) = setup(Profile::new());
    let python = python();
    profile.edit_rules(|rules| {
        rules
            .set(keyport_service::access::Program::Path(python.clone()), "a", keyport_service::access::Decision::Deny)
            .unwrap()
    });
    let socket = socket_of(&profile);
    let mut watcher = Command::new(&python)
        .args(["-c", PY_WATCH])
        .arg(&socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    let subscribed = lines.next().unwrap().unwrap();
    assert!(subscribed.contains("\"result\":{}"), "{subscribed}");
    // An allowed subscriber, for comparison.
    let mut allowed = UnixStream::connect(&socket).unwrap();
    allowed.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    allowed.write_all(format!("{}\n", request(1, "events.subscribe", Value::Null)).as_bytes()).unwrap();
    let mut allowed = BufReader::new(allowed);
    let mut line = String::new();
    allowed.read_line(&mut line).unwrap();

    profile.ok(&["refresh", "a"]);
    profile.ok(&["remove", "a"]);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        line.clear();
        allowed.read_line(&mut line).unwrap();
        let event: Value = serde_json::from_str(&line).unwrap();
        seen.push(event["params"]["event"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["refreshed", "removed"]);
    // Give the denied subscriber the same time, then look at what it got.
    std::thread::sleep(Duration::from_millis(500));
    drop(watcher.stdin.take());
    let _ = watcher.wait();
    let heard: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(heard.is_empty(), "the denied program heard: {heard:?}");
}

#[test]
fn without_a_rule_a_program_may_not_act_but_you_at_your_terminal_may() {
    let server = OidcServer::start();
    let profile = Profile::without_rules();
    let _daemon = Daemon::start(&profile);
    profile.add_local_provider(&server);
    // Typed at the terminal: the user signs in; a program (this test binary) may not.
    let refused = profile.run(&["add", "local", "--name", "a"]);
    assert_eq!(refused.status.code(), Some(4), "{}", String::from_utf8_lossy(&refused.stderr));
    profile.typed_ok(&["add", "local", "--name", "a"]);
    let token = profile.typed_ok(&["token", "a"]).trim().to_owned();
    assert_eq!(profile.keyring_lookup("account/a/access_token").as_deref(), Some(token.as_str()));
    // The README's quick start, as typed: the token in a command substitution for another
    // command's argument.
    let quick_start = profile.typed_shell(r#"printf 'Authorization: Bearer %s\n' "$(keyport token a)""#);
    assert_eq!(
        String::from_utf8_lossy(&quick_start.stdout),
        format!("Authorization: Bearer {token}\n"),
        "{}",
        String::from_utf8_lossy(&quick_start.stderr)
    );
    // The same line in a script (no person at a terminal) is the shell asking: refused.
    let scripted = Command::new("bash")
        .args(["-c", r#"printf 'Authorization: Bearer %s\n' "$("$0" token a)""#])
        .arg(keyport_binary())
        .env_clear()
        .envs(profile.env())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&scripted.stdout), "Authorization: Bearer \n");
    assert!(String::from_utf8_lossy(&scripted.stderr).contains("access denied"), "{scripted:?}");

    // Programs without a rule: refused every action, and told how to allow them.
    for args in [&["token", "a"][..], &["refresh", "a"], &["remove", "a"], &["revoke", "a"]] {
        let output = profile.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(4), "keyport {args:?}: {stderr}");
        assert!(stderr.contains("keyport allow"), "{stderr}");
    }
    // A shell running keyport is a program too, and keyport never advises allowing it.
    let through_sh = Command::new("sh")
        .args(["-c", "\"$0\" remove a"])
        .arg(keyport_binary())
        .env_clear()
        .envs(profile.env())
        .output()
        .unwrap();
    assert_eq!(through_sh.status.code(), Some(4), "{}", String::from_utf8_lossy(&through_sh.stderr));
    // Nor may it change the rules.
    let me = std::env::current_exe().unwrap();
    let allow = profile.run(&["allow", me.to_str().unwrap(), "a"]);
    assert_eq!(allow.status.code(), Some(4), "{}", String::from_utf8_lossy(&allow.stderr));
    assert!(profile.access_rules().list().unwrap().is_empty());

    // The user at the terminal renews, revokes, and the provider ends the tokens.
    profile.typed_ok(&["refresh", "a"]);
    let token = profile.keyring_lookup("account/a/access_token").unwrap();
    profile.typed_ok(&["revoke", "a"]);
    assert_eq!(server.introspect(&token)["active"], false);
    assert!(profile.json(&["list", "--json"]).as_array().unwrap().is_empty());
}

// ---- identities cannot be borrowed ----------------------------------------------------------------

/// Connects to `argv[1]`, then forks. The child waits a moment, sends `token.get a`, reads the
/// answer and prints it. The parent (the connecting process) runs `argv[2]` (an allowed
/// program), its connection kept across `exec` when `argv[3]` is `keep`.
const PY_CONNECT_THEN_EXEC: &str = r#"
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
if sys.argv[3] == "keep":
    s.set_inheritable(True)
if os.fork() == 0:
    time.sleep(0.5)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"token.get","params":{"account":"a"}}\n')
    s.settimeout(20)
    print(s.makefile("rb").readline().decode().strip(), flush=True)
    os._exit(0)
os.execv(sys.argv[2], [sys.argv[2], "3"])
"#;

#[test]
fn a_client_that_connects_and_then_runs_an_allowed_program_does_not_pass_as_it() {
    let (_server, profile, _daemon) = setup(Profile::new());
    allow(&profile, &sleep_program(), "a");
    let socket = socket_of(&profile);
    for keep in ["close-on-exec", "keep"] {
        let output = Command::new(python())
            .args(["-c", PY_CONNECT_THEN_EXEC])
            .arg(&socket)
            .arg(sleep_program())
            .arg(keep)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let answer: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&output.stdout)));
        assert_eq!(answer["error"]["code"], -32004, "{keep}: {answer}");
        assert!(answer.get("result").is_none(), "{keep}: no token: {answer}");
    }
}

#[test]
fn a_background_cli_whose_shell_becomes_an_allowed_program_gets_nothing() {
    let (_server, profile, _daemon) = setup(Profile::new());
    allow(&profile, &sleep_program(), "a");
    let file = profile.root().join("stolen");
    let status = Command::new("sh")
        .args(["-c", "\"$0\" token a > \"$1\" & exec /usr/bin/sleep 3"])
        .arg(keyport_binary())
        .arg(&file)
        .env_clear()
        .envs(profile.env())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // The background `keyport token` has finished by now, one way or the other.
    let stolen = std::fs::read_to_string(&file).unwrap_or_default();
    let token = profile.keyring_lookup("account/a/access_token").unwrap();
    assert!(!stolen.contains(&token), "the token was written to {}", file.display());
    assert!(stolen.trim().is_empty(), "{stolen:?}");
}

/// Why mount namespaces cannot be made here, if they cannot.
fn cannot_unshare() -> Option<String> {
    let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap_or(u32::MAX);
    if me != 0 {
        return Some(format!("mount namespaces need root and the tests run as uid {me}"));
    }
    let works = Command::new("unshare").args(["-m", "true"]).status().is_ok_and(|s| s.success());
    (!works).then(|| "`unshare -m` does not work here".into())
}

/// Runs the python client of `PY_CLIENT` in a new mount namespace, after `setup` (a shell
/// line run there first); the client is started as `program` (a path in that namespace).
fn client_in_namespace(setup: &str, program: &str, socket: &Path, lines: &[Value]) -> Value {
    let mut command = Command::new("unshare");
    command
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!("{setup} && exec \"$0\" \"$@\""))
        .arg(program)
        .args(["-c", PY_CLIENT])
        .arg(socket)
        .args(lines.iter().map(Value::to_string));
    let output = command.stdin(Stdio::null()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn a_program_in_another_mount_namespace_does_not_pass_as_a_host_program() {
    if let Some(why) = cannot_unshare() {
        eprintln!("skipped: {why}");
        return;
    }
    let (_server, profile, _daemon) = setup(Profile::new());
    let socket = socket_of(&profile);
    let python = python();
    let sleep = sleep_program();
    allow(&profile, &sleep, "a");
    allow(&profile, &python, "a");
    let get = [request(1, "token.get", json!({"account": "a"}))];

    // python bind-mounted over the allowed /usr/bin/sleep, in a namespace of its own.
    let bind = format!("mount --bind {} {}", python.display(), sleep.display());
    let disguised = client_in_namespace(&bind, &sleep.display().to_string(), &socket, &get);
    let error = &disguised["responses"][0]["error"];
    assert_eq!(error["code"], -32004, "{disguised}");
    assert!(error["message"].as_str().unwrap().contains("another mount namespace"), "{disguised}");

    // The same file in another namespace (a service with a private /tmp, say) is still itself.
    let itself = client_in_namespace("true", &python.display().to_string(), &socket, &get);
    assert!(itself["responses"][0]["result"]["access_token"].is_string(), "{itself}");

    // A container names itself; its paths are its own, and a rule names the container.
    let container = format!(
        "mount -t tmpfs none /run && printf 'engine=\"podman\"\\nname=\"toolbox-test\"\\n' > /run/.containerenv && {bind}"
    );
    let contained = client_in_namespace(&container, &sleep.display().to_string(), &socket, &get);
    let program = format!("container:toolbox-test:{}", sleep.display());
    let message = contained["responses"][0]["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains(&format!("keyport allow {program} a")), "{contained}");
    profile.edit_rules(|rules| {
        rules.set(program.parse().unwrap(), "a", keyport_service::access::Decision::Allow).unwrap()
    });
    let allowed = client_in_namespace(&container, &sleep.display().to_string(), &socket, &get);
    assert!(allowed["responses"][0]["result"]["access_token"].is_string(), "{allowed}");
}
