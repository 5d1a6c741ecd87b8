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
use crate::support::oidc::OidcServer;
use crate::support::profile::{Profile, keyport_binary};
use crate::support::sshd::{Sshd, forwarded_sockets};

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

/// A shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `keyport ssh OPTIONS DESTINATION COMMAND`, typed at a terminal by the profile's user.
fn keyport_ssh(profile: &Profile, sshd: &Sshd, command: &str) -> Output {
    let options: Vec<String> = sshd.options().iter().map(|o| quote(o)).collect();
    profile.typed_shell(&format!("keyport ssh {} {} {}", options.join(" "), sshd.destination(), quote(command)))
}

/// Plain `ssh`, no forward: a session without Keyport.
fn plain_ssh(sshd: &Sshd, command: &str) -> Output {
    Command::new("ssh").args(sshd.options()).arg(sshd.destination()).arg(command).output().expect("running ssh")
}

/// An executable script `name` in `dir` that runs `keyport token ACCOUNT`: a remote program
/// that claims `name` (the kernel names a script's process after its file).
fn remote_program(dir: &Path, name: &str, account: &str) -> PathBuf {
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
    let token = profile.keyring_lookup("account/robot/access_token").expect("a token");
    let sshd = Sshd::start();
    let remote = tempfile::tempdir().unwrap();
    let mbsync = remote_program(remote.path(), "mbsync", "robot");
    let keyport = quote(&keyport_binary().display().to_string());

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
