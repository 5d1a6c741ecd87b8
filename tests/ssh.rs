//! End to end: `keyport ssh` to a real `sshd` on 127.0.0.1 (support/sshd.rs). In the session,
//! the same `keyport` binary finds the forwarded socket by itself; its requests are judged as
//! the host plus the program name it claims: refused before a rule, handed the desktop's token
//! once `keyport allow --remote` says so, refused by a rule for its claim; nothing that changes
//! accounts crosses the forward; the forward is gone when the session ends, and a socket left
//! on the remote side by an ended session is cleared by the next client that meets it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

use crate::support::daemon::system_python;
use crate::support::oidc::{OidcServer, SERVICE_CLIENT};
use crate::support::profile::{Profile, keyport_binary};
use crate::support::sshd::{Sshd, forwarded_sockets};
use crate::window::{Hosted, Subscription, add_service_account};
use serde_json::{Value, json};

/// Remote clients take the newest forward in `/tmp` that answers: tests with sessions open run
/// one at a time, so that none finds another's.
pub static SESSIONS: Mutex<()> = Mutex::new(());

/// A local program that connects to the forward's socket on the desktop side itself, to be
/// judged as the remote host: turned away, its request unanswered.
const SIDESTEP: &str = r#"
import glob, json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(glob.glob(sys.argv[1] + "/ssh-*.sock")[0])
s.settimeout(10)
try:
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "token.get", "params": {"account": "robot"}}).encode() + b"\n")
    print("sidestep=%r" % s.recv(4096))
except OSError as err:
    print("sidestep=%r" % b"")
"#;

/// Connections a remote program opens at once through the forward ([`CROWD`]).
const CROWDED: usize = 40;

/// A remote program that opens [`CROWDED`] connections through the newest forward and counts
/// those the service turned away as `busy` (the rest it keeps, silent): the connections through
/// forwards to one host are bounded apart from the service socket's.
const CROWD: &str = r#"
import glob, os, socket, time
path = max(glob.glob("/tmp/keyport-ssh-*.sock"), key=os.path.getmtime)
held = []
for _ in range(40):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    held.append(s)
time.sleep(1)
busy = 0
for s in held:
    s.settimeout(0.2)
    try:
        busy += b"-32012" in s.recv(4096)
    except OSError:
        pass
print("busy=%d" % busy)
"#;

/// A shell word.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `keyport ssh OPTIONS DESTINATION COMMAND`, typed at a terminal by the profile's user.
pub(crate) fn keyport_ssh(profile: &Profile, sshd: &Sshd, command: &str) -> Output {
    let options: Vec<String> = sshd.options().iter().map(|o| quote(o)).collect();
    profile.typed_shell(&format!("keyport ssh {} {} {}", options.join(" "), sshd.destination(), quote(command)))
}

/// Plain `ssh`, no forward: a session without Keyport.
fn plain_ssh(sshd: &Sshd, command: &str) -> Output {
    Command::new("ssh").args(sshd.options()).arg(sshd.destination()).arg(command).output().expect("running ssh")
}

/// An executable script `name` in `dir` that runs `keyport token ACCOUNT`: a remote program
/// that claims `name` (the kernel names a script's process after its file).
pub(crate) fn remote_program(dir: &Path, name: &str, account: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let script = format!(
        "#!/bin/sh\nexec_status=0\n{} token {account} || exec_status=$?\nexit $exec_status\n",
        quote(&keyport_binary().display().to_string())
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The forwards the profile's service has open (its sockets beside the main one).
fn local_forwards(profile: &Profile) -> Vec<String> {
    std::fs::read_dir(profile.root().join("run/keyport"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("ssh-"))
        .collect()
}

#[test]
fn a_remote_session_borrows_tokens_only_as_the_rules_allow_and_loses_them_when_it_ends() {
    let _one_at_a_time = SESSIONS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_service_account(&server, "robot");
    // Another account, which the remote machine is never allowed.
    let other = profile.run_with_stdin(&["add", "svc", "--client-credentials", "--name", "other"], SERVICE_CLIENT.1);
    assert!(other.status.success(), "{}", text(&other.stderr));
    let token = profile.keyring_lookup("account/robot/access_token").expect("a token");
    let sshd = Sshd::start();
    let remote = tempfile::tempdir().unwrap();
    let mbsync = remote_program(remote.path(), "mbsync", "robot");
    let keyport = quote(&keyport_binary().display().to_string());

    // Only the user opens a forward: a program (this test binary, with every account
    // allowed) may not lend the desktop's tokens to another machine.
    let mut args: Vec<String> = vec!["ssh".into()];
    args.extend(sshd.options());
    args.extend([sshd.destination(), "true".into()]);
    let as_program = profile.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = text(&as_program.stderr);
    assert_eq!(as_program.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("only you, at a terminal or in the Keyport window, may open a `keyport ssh` forward"),
        "{stderr}"
    );

    // No rule: the headless service has nobody to ask, and refuses the remote program, named
    // as its host and its claim.
    let refused = keyport_ssh(&profile, &sshd, &mbsync.display().to_string());
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{stderr}\nsshd:\n{}", sshd.log());
    assert!(stderr.contains("access denied") && stderr.contains("remote:127.0.0.1:mbsync"), "{stderr}");
    assert!(refused.stdout.is_empty());

    // The user allows the host; in the session, the token; changing the account is refused
    // through the forward, whoever asks there; the forward is open on the desktop meanwhile.
    profile.typed_ok(&["allow", "--remote", "127.0.0.1", "robot"]);
    let session = format!(
        "echo token=$({mbsync}); \
         {keyport} refresh robot 2>&1; echo refresh=$?; \
         {keyport} remove robot 2>&1; echo remove=$?; \
         {keyport} token nosuch 2>&1; echo missing=$?; \
         echo list=$({keyport} list --json | tr -d '\\n'); \
         echo forwards=$(ls {run} | grep -c '^ssh-');          {python} -c {sidestep} {run}",
        mbsync = quote(&mbsync.display().to_string()),
        run = quote(&profile.root().join("run/keyport").display().to_string()),
        python = quote(&system_python().expect("python3").display().to_string()),
        sidestep = quote(SIDESTEP),
    );
    let allowed = keyport_ssh(&profile, &sshd, &session);
    let stdout = text(&allowed.stdout);
    assert!(allowed.status.success(), "{stdout}\n{}", text(&allowed.stderr));
    assert!(stdout.contains(&format!("token={token}\n")), "the desktop's token: {stdout}");
    for method in ["token.refresh", "accounts.remove"] {
        assert!(stdout.contains(&format!("`{method}` is not served through a `keyport ssh` forward")), "{stdout}");
    }
    assert!(stdout.contains("refresh=4\n") && stdout.contains("remove=4\n"), "{stdout}");
    // A missing account reads as one not allowed, and the list holds only what it may read:
    // the remote machine learns nothing of the others, not even their names.
    assert!(stdout.contains("may not use account `nosuch`") && stdout.contains("missing=4\n"), "{stdout}");
    let listed: serde_json::Value = stdout
        .lines()
        .find_map(|line| line.strip_prefix("list="))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .unwrap_or_else(|| panic!("the remote `keyport list --json`: {stdout}"));
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["robot"], "{stdout}");
    assert!(stdout.contains("forwards=1\n"), "{stdout}");
    assert!(stdout.contains("sidestep=b''\n"), "only the session's ssh may use the forward: {stdout}");
    assert!(profile.ok(&["list"]).contains("robot"), "still there");

    // The session ended: so did its forward.
    assert!(
        Sshd::wait_for(Duration::from_secs(5), || local_forwards(&profile).is_empty()),
        "{:?}",
        local_forwards(&profile)
    );

    // A rule for the claim goes before the host's: mbsync denied, another program allowed.
    profile.typed_ok(&["deny", "--remote", "127.0.0.1", "mbsync", "robot"]);
    let offlineimap = remote_program(remote.path(), "offlineimap", "robot");
    let session = format!(
        "{} 2>&1; echo mbsync=$?; echo offlineimap=$({})",
        quote(&mbsync.display().to_string()),
        quote(&offlineimap.display().to_string())
    );
    let judged = keyport_ssh(&profile, &sshd, &session);
    let stdout = text(&judged.stdout);
    assert!(stdout.contains("mbsync=4\n") && stdout.contains("remote:127.0.0.1:mbsync"), "{stdout}");
    assert!(stdout.contains(&format!("offlineimap={token}\n")), "{stdout}");
    let apps = profile.typed_ok(&["apps"]);
    assert!(apps.contains("mbsync on 127.0.0.1\n  remote:127.0.0.1:mbsync\n    deny   robot"), "{apps}");
    let host_rule =
        apps.split("every program on 127.0.0.1\n  remote:127.0.0.1\n").nth(1).unwrap_or_else(|| panic!("{apps}"));
    assert!(
        host_rule.starts_with("    allow  robot") && host_rule.lines().next().unwrap().contains("last read"),
        "read by offlineimap under the host's rule: {apps}"
    );

    // The activity log names the host.
    let log = profile.typed_ok(&["log", "--json"]);
    let records: serde_json::Value = serde_json::from_str(&log).unwrap();
    let handed = records.as_array().unwrap().iter().find(|r| {
        r["program"] == "remote:127.0.0.1:offlineimap" && r["outcome"] == "handed_out" && r["account"] == "robot"
    });
    assert!(handed.is_some(), "{records:#}");
    assert!(!log.contains(&token), "no token in the log");

    // After the sessions: plain ssh, no forward. Sockets the ended sessions left in /tmp refuse
    // connections; the remote client clears them and says that no service is to be found.
    let left: Vec<PathBuf> = forwarded_sockets();
    assert!(left.len() >= 3, "OpenSSH leaves each session's remote socket behind: {left:?}");
    let outside = plain_ssh(&sshd, &format!("{keyport} token robot"));
    assert!(!outside.status.success(), "no token outside a session: {}", text(&outside.stdout));
    assert!(outside.stdout.is_empty());
    assert!(text(&outside.stderr).contains("XDG_RUNTIME_DIR is not set"), "{}", text(&outside.stderr));
    let still: Vec<PathBuf> = forwarded_sockets().into_iter().filter(|path| left.contains(path)).collect();
    assert!(still.is_empty(), "stale forwards left: {still:?}");
}

/// A forward opened by this test binary, which plays the installed window (only the user may
/// open one), and the `ssh` it starts with it: as `keyport ssh` does, the holder's child.
struct Session {
    holder: Subscription,
    child: std::process::Child,
    local: PathBuf,
}

impl Session {
    fn start(hosted: &Hosted, sshd: &Sshd, host: &str, command: &str) -> Self {
        let mut holder = Subscription::open(&hosted.socket);
        holder.send(1, "ssh.forward", json!({"host": host}));
        let answer = holder.response(1);
        let local = PathBuf::from(answer["result"]["socket"].as_str().unwrap_or_else(|| panic!("{answer}")));
        let remote = format!(
            "{}/{}test-{}-{}{}",
            keyport_wire::FORWARD_DIR,
            keyport_wire::FORWARD_PREFIX,
            std::process::id(),
            local.file_stem().unwrap().to_string_lossy(),
            keyport_wire::FORWARD_SUFFIX
        );
        let child = Command::new("ssh")
            .args(sshd.options())
            .args(["-o", "ExitOnForwardFailure=yes", "-R"])
            .arg(format!("{remote}:{}", local.display()))
            .arg(sshd.destination())
            .arg(command)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running ssh");
        Self { holder, child, local }
    }

    /// What the session printed, once it ended.
    fn output(self) -> (String, Subscription) {
        let output = self.child.wait_with_output().unwrap();
        (format!("{}{}", text(&output.stdout), text(&output.stderr)), self.holder)
    }
}

/// A service in this process whose window is this test binary, with service account `ci`, and
/// its token as the window reads it.
fn hosted_with_account() -> (OidcServer, Hosted, crate::support::rpc::Rpc, String) {
    let server = OidcServer::start();
    let hosted = Hosted::start(true, true);
    let mut window = hosted.rpc();
    add_service_account(&mut window, &server);
    let token = window.ok("token.get", json!({"account": "ci"}))["access_token"].as_str().unwrap().to_owned();
    (server, hosted, window, token)
}

/// Answers the next question with `choice`, checking it is `program` on `host` for `account`.
fn answer(answering: &mut Subscription, id: i64, host: &str, program: &str, account: &str, choice: &str) {
    let asked = answering.event("prompt_asked");
    let prompt = &asked["prompt"];
    assert_eq!(
        (&prompt["program"], &prompt["program_name"], &prompt["host"], &prompt["account"]),
        (&json!(format!("remote:{host}:{program}")), &json!(program), &json!(host), &json!(account)),
        "{asked}"
    );
    answering.send(id, "prompts.answer", json!({"prompt_id": prompt["prompt_id"], "choice": choice}));
    assert_eq!(answering.response(id)["result"], json!({}), "{choice}");
}

#[test]
fn a_remote_programs_question_is_answered_in_the_window_for_the_session_or_for_the_host() {
    let _one_at_a_time = SESSIONS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (_server, hosted, mut window, token) = hosted_with_account();
    let mut answering = Subscription::open(&hosted.socket);
    answering.send(1, "prompts.subscribe", Value::Null);
    assert_eq!(answering.response(1)["result"], json!({"prompts": []}));
    let sshd = Sshd::start();
    let remote = tempfile::tempdir().unwrap();
    let program = |name: &str| quote(&remote_program(remote.path(), name, "ci").display().to_string());
    let (mbsync, offlineimap, git) = (program("mbsync"), program("offlineimap"), program("git-remote-x"));

    // "Allow for this session": asked once, then not again in that session.
    let session =
        Session::start(&hosted, &sshd, "build-01", &format!("echo first=$({mbsync}); echo again=$({mbsync})"));
    answer(&mut answering, 2, "build-01", "mbsync", "ci", "allow_session");
    let (printed, holder) = session.output();
    assert!(printed.contains(&format!("first={token}\nagain={token}\n")), "{printed}");
    drop(holder);
    let rules = window.ok("access.list", Value::Null);
    assert_eq!(rules["rules"], json!([]), "nothing remembered: {rules}");

    // A new session asks again. "Deny" is kept for the claim, "Always allow" for the host:
    // then the denied claim stays denied and another is allowed without a question.
    let session = Session::start(
        &hosted,
        &sshd,
        "build-01",
        &format!(
            "echo denied=$({offlineimap}); echo allowed=$({mbsync}); echo still=$({offlineimap}); echo other=$({git})"
        ),
    );
    answer(&mut answering, 3, "build-01", "offlineimap", "ci", "deny");
    answer(&mut answering, 4, "build-01", "mbsync", "ci", "allow_always");
    let (printed, _holder) = session.output();
    assert!(printed.contains("denied=\n") && printed.contains("still=\n"), "{printed}");
    assert!(
        printed.contains(&format!("allowed={token}\n")) && printed.contains(&format!("other={token}\n")),
        "{printed}"
    );
    assert!(printed.contains("offlineimap on build-01 (remote:build-01:offlineimap"), "{printed}");
    let rules = window.ok("access.list", Value::Null);
    let kept: Vec<(&str, &str)> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["program"].as_str().unwrap(), r["decision"].as_str().unwrap()))
        .collect();
    assert_eq!(kept, [("remote:build-01", "allow"), ("remote:build-01:offlineimap", "deny")], "{rules}");

    // The forward ends with the connection that holds it, in the middle of a session.
    let flag = remote.path().join("go-on");
    let done = remote.path().join("read-once");
    let session = Session::start(
        &hosted,
        &sshd,
        "build-01",
        &format!(
            "echo before=$({mbsync}); touch {done}; while [ ! -e {flag} ]; do sleep 0.05; done; {mbsync}; echo after=$?",
            done = quote(&done.display().to_string()),
            flag = quote(&flag.display().to_string()),
        ),
    );
    assert!(Sshd::wait_for(Duration::from_secs(20), || done.exists()), "the first read");
    let Session { holder, child, local } = session;
    assert!(local.exists());
    drop(holder);
    assert!(Sshd::wait_for(Duration::from_secs(5), || !local.exists()), "the forward's socket is removed");
    std::fs::write(&flag, "").unwrap();
    let output = child.wait_with_output().unwrap();
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(printed.contains(&format!("before={token}\n")), "{printed}");
    assert!(!printed.contains("after=0") && printed.contains("after="), "no token once the forward ended: {printed}");
}

#[test]
fn an_ssh_config_remote_forward_reaches_a_held_forward_and_only_ssh_may_use_it() {
    let _one_at_a_time = SESSIONS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (_server, hosted, mut window, token) = hosted_with_account();
    window.ok("access.set", json!({"program": "remote:127.0.0.1", "account": "ci", "decision": "allow"}));
    let sshd = Sshd::start();
    let remote = tempfile::tempdir().unwrap();
    let mbsync = quote(&remote_program(remote.path(), "mbsync", "ci").display().to_string());

    // `keyport forward 127.0.0.1` holds it (here the window, this test binary, asks).
    let mut holder = Subscription::open(&hosted.socket);
    holder.send(1, "ssh.forward", json!({"host": "127.0.0.1", "for_ssh_config": true}));
    let answer = holder.response(1);
    let socket = answer["result"]["socket"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned();
    assert!(socket.ends_with("/ssh-host-127.0.0.1.sock"), "a path known ahead: {socket}");
    let twice = window.err("ssh.forward", json!({"host": "127.0.0.1", "for_ssh_config": true}));
    assert!(twice["message"].as_str().unwrap().contains("open already"), "{twice}");

    // The user's ssh_config forwards to it, and their own `ssh` (not a child of the holder:
    // a shell's) reaches it; a program that is not ssh is turned away.
    let config = sshd.config(&format!("    RemoteForward /tmp/keyport-ssh-%C.sock {socket}\n"));
    let command = format!(
        "echo token=$({mbsync}); {python} -c {sidestep} {run}; {python} -c {crowd}",
        crowd = quote(CROWD),
        run = quote(&std::path::Path::new(&socket).parent().unwrap().display().to_string()),
        python = quote(&system_python().expect("python3").display().to_string()),
        sidestep = quote(&SIDESTEP.replace("/ssh-*.sock", "/ssh-host-*.sock")),
    );
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("ssh -F {} 127.0.0.1 {}", quote(&config.display().to_string()), quote(&command)))
        .output()
        .unwrap();
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(printed.contains(&format!("token={token}\n")), "{printed}\nsshd:\n{}", sshd.log());
    assert!(printed.contains("sidestep=b''\n"), "{printed}");
    let busy = printed.lines().find_map(|line| line.strip_prefix("busy=")).and_then(|n| n.parse::<usize>().ok());
    assert_eq!(busy, Some(CROWDED - keyport_service::forward::MAX_FORWARD_CONNECTIONS_PER_HOST), "{printed}");

    // Stopping `keyport forward` ends it.
    drop(holder);
    assert!(Sshd::wait_for(Duration::from_secs(5), || !std::path::Path::new(&socket).exists()), "{socket}");
}
