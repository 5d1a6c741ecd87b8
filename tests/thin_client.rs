//! End to end: `keyport` is the thin client (crates/keyport-thin), which answers `keyport token`
//! itself and hands every other command to `keyport-full`. Here it runs with no full CLI to hand
//! anything to, so what it answers, it answered alone, judged by the real service as the CLI
//! speaking for its parent; its refusals must read exactly as the full CLI's.

use std::process::{Command, Output};

use crate::support::oidc::OidcServer;
use crate::support::profile::{Profile, keyport_binary};

/// The full CLI built beside the thin client.
fn full_cli() -> std::path::PathBuf {
    keyport_binary().with_file_name("keyport-full")
}

fn run(program: &std::path::Path, profile: &Profile, shell: bool, args: &[&str]) -> Output {
    let mut command = if shell {
        // A program's `sh -c` line: the service judges the shell, and the CLI says so.
        let mut command = Command::new("sh");
        command.arg("-c").arg("\"$0\" \"$@\"").arg(program);
        command
    } else {
        Command::new(program)
    };
    command.args(args).env_clear().envs(profile.env()).output().expect("running keyport")
}

#[test]
fn keyport_token_is_answered_by_the_thin_client_alone_with_the_full_clis_messages_and_exit_codes() {
    let server = OidcServer::start();
    // The thin client alone in a directory first on PATH: the service (started below by this
    // build's `keyport`) knows the `keyport` on PATH as the CLI, and this one finds no
    // `keyport-full` beside it or in ../lib/keyport.
    let alone = tempfile::tempdir().unwrap();
    let thin = alone.path().join("keyport");
    std::fs::copy(keyport_binary(), &thin).unwrap();
    let profile = Profile::new().with_first_on_path(alone.path().to_owned());
    profile.add_service_account(&server, "robot");
    profile.ok(&["list"]);
    let token = profile.keyring_lookup("account/robot/access_token").expect("a token");

    let answered = run(&thin, &profile, false, &["token", "robot"]);
    assert!(answered.status.success(), "{}", String::from_utf8_lossy(&answered.stderr));
    assert_eq!(String::from_utf8_lossy(&answered.stdout), format!("{token}\n"));
    let answered = run(&thin, &profile, false, &["token", "--min-valid=30", "robot"]);
    assert_eq!(String::from_utf8_lossy(&answered.stdout), format!("{token}\n"));
    let version = run(&thin, &profile, false, &["--version"]);
    assert_eq!(version.stdout, run(&full_cli(), &profile, false, &["--version"]).stdout);

    // What it does not answer needs the full CLI, and it says that it is missing.
    let list = run(&thin, &profile, false, &["list"]);
    assert_eq!(list.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&list.stderr).contains("the full keyport CLI is missing"), "{list:?}");

    // Refusals read the same from both, with the same exit codes: no such account (6), this
    // program denied (4), and a shell running keyport (looked through: this program, denied).
    let same = |args: &[&str], shell: bool, code: i32| {
        let from_thin = run(&thin, &profile, shell, args);
        let from_full = run(&full_cli(), &profile, shell, args);
        let stderr = String::from_utf8_lossy(&from_thin.stderr);
        assert_eq!(from_thin.status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(from_full.status.code(), Some(code), "{args:?}");
        assert_eq!(stderr, String::from_utf8_lossy(&from_full.stderr), "{args:?}");
        assert!(from_thin.stdout.is_empty() && from_full.stdout.is_empty());
        stderr.into_owned()
    };
    let missing = same(&["token", "nosuch"], false, 6);
    assert!(missing.starts_with("keyport: ") && missing.contains("nosuch"), "{missing}");
    profile.forbid_me("robot");
    let denied = same(&["token", "robot"], false, 4);
    assert!(denied.contains("access denied"), "{denied}");
    let through_shell = same(&["token", "robot"], true, 4);
    assert_eq!(through_shell, denied, "the shell is looked through to this program");
}
