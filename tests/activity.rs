//! End to end: the activity log (docs/activity.md). The real daemon records hand-outs and
//! refusals of real programs (this test binary through `keyport token`, `python3` on the socket,
//! you typing at a terminal); `keyport log` shows and filters them, only to you; "last read" is
//! on the access rules; no token reaches the log; a flood of refusals does not wipe it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::daemon::{python_client, system_python};
use crate::support::oidc::OidcServer;
use crate::support::profile::{Profile, me};
use crate::support::rpc::Rpc;

/// A provider `local` and one account `a`, signed in through the CLI (which starts the
/// daemon); this test binary may use every account.
fn signed_in() -> (OidcServer, Profile) {
    let server = OidcServer::start();
    let profile = Profile::new();
    profile.add_local_provider(&server);
    profile.ok(&["add", "local", "--name", "a"]);
    (server, profile)
}

/// `keyport log ARGS --json`, typed at a terminal.
fn log(profile: &Profile, args: &[&str]) -> Vec<Value> {
    let output = profile.typed_ok(&[&["log", "--json"], args].concat());
    let records: Value = serde_json::from_str(&output).unwrap_or_else(|err| panic!("{err}: {output}"));
    records.as_array().unwrap_or_else(|| panic!("an array: {records}")).clone()
}

fn python() -> std::path::PathBuf {
    system_python().expect("python3 is installed (tests/setup)")
}

#[test]
fn the_log_shows_who_read_what_and_who_was_refused_only_to_you() {
    let (_server, profile) = signed_in();
    let socket = profile.root().join("run/keyport/keyport.sock");
    let me = me().to_string();

    // An allowed program (this test binary, through `keyport token`).
    let token = profile.ok(&["token", "a"]).trim().to_owned();
    assert!(token.len() > 10);
    // A program without a rule, on the socket: the headless daemon has nobody to ask.
    let python = python();
    let get = json!({"jsonrpc": "2.0", "id": 1, "method": "token.get", "params": {"account": "a"}});
    let refused = python_client(&[], &python, None, &socket, std::slice::from_ref(&get));
    assert_eq!(refused["responses"][0]["error"]["code"], -32004, "{refused}");
    let python_program = refused["exe"].as_str().unwrap().to_owned();
    // You, at a terminal.
    let typed = profile.typed_ok(&["token", "a"]);
    assert_eq!(typed.trim(), token, "the same cached token");

    let records = log(&profile, &[]);
    let handed = records
        .iter()
        .find(|r| r["program"] == json!(me) && r["outcome"] == "handed_out")
        .unwrap_or_else(|| panic!("the hand-out to this test binary: {records:#?}"));
    assert_eq!(
        (&handed["asker"], &handed["account"], &handed["action"], &handed["why"], &handed["rule"]),
        (&json!("program"), &json!("a"), &json!("token.get"), &json!("rule"), &json!("*")),
        "{handed:#}"
    );
    assert!(handed["detail"].as_str().unwrap().contains("keyport token"), "{handed:#}");
    let refusal = records
        .iter()
        .find(|r| r["program"] == json!(python_program))
        .unwrap_or_else(|| panic!("python's refusal: {records:#?}"));
    assert_eq!(
        (&refusal["account"], &refusal["outcome"], &refusal["why"]),
        (&json!("a"), &json!("refused"), &json!("no_one_to_ask")),
        "{refusal:#}"
    );
    let person = records
        .iter()
        .find(|r| r["asker"] == "person" && r["outcome"] == "handed_out")
        .unwrap_or_else(|| panic!("your own read, at the terminal: {records:#?}"));
    assert_eq!((&person["why"], &person["account"]), (&json!("person"), &json!("a")), "{person:#}");
    assert!(person.get("program").is_none(), "you are not a program: {person:#}");
    assert!(person["terminal"].as_str().unwrap().starts_with("/dev/pts/"), "{person:#}");
    // Oldest first.
    let times: Vec<&str> = records.iter().map(|r| r["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // Filters.
    let of_python = log(&profile, &["--program", &python_program]);
    assert!(!of_python.is_empty() && of_python.iter().all(|r| r["program"] == json!(python_program)), "{of_python:#?}");
    assert!(log(&profile, &["--account", "a"]).iter().all(|r| r["account"] == "a"));
    assert!(log(&profile, &["--account", "a"]).len() >= 3);
    assert_eq!(log(&profile, &["--account", "nobody"]), Vec::<Value>::new());
    assert_eq!(log(&profile, &["--since", "2h"]).len(), records.len(), "everything happened within two hours");
    assert_eq!(log(&profile, &["--since", "2020-01-01"]).len(), records.len());
    assert_eq!(log(&profile, &["--since", "2999-01-01T00:00:00Z"]), Vec::<Value>::new());
    let last_two = log(&profile, &["--limit", "2"]);
    assert_eq!(last_two.as_slice(), &records[records.len() - 2..], "the newest, oldest first");
    let bad = profile.typed(&["log", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2), "a usage error");

    // The table, for people.
    let table = profile.typed_ok(&["log", "--account", "a"]);
    for expected in ["TIME", "PROGRAM", "OUTCOME", "WHY", "handed out", "refused token.get", "you at /dev/pts/"] {
        assert!(table.contains(expected), "{expected} in:\n{table}");
    }
    assert!(table.contains(&me) && table.contains(&python_program), "{table}");

    // A program may not read the log: it says which programs use which accounts.
    let stderr = profile.fails(&["log"]);
    assert!(stderr.contains("only you"), "{stderr}");
    assert_eq!(profile.run(&["log"]).status.code(), Some(4), "access denied");
    let by_python = python_client(
        &[],
        &python,
        None,
        &socket,
        &[json!({"jsonrpc": "2.0", "id": 2, "method": "activity.list", "params": {}})],
    );
    assert_eq!(by_python["responses"][0]["error"]["code"], -32004, "{by_python}");
    let refusals = log(&profile, &["--program", &me]);
    assert!(
        refusals.iter().any(|r| r["action"] == "activity.list" && r["why"] == "only_you"),
        "the refusal is recorded too: {refusals:#?}"
    );

    // "Last read" on the access rules: `keyport apps --json`, and `access.list` for the program.
    let rules: Value = serde_json::from_str(&profile.typed_ok(&["apps", "--json"])).unwrap();
    let mine = rules.as_array().unwrap().iter().find(|r| r["program"] == json!(me)).expect("this binary's rule");
    let last_read = mine["last_read"].as_str().unwrap_or_else(|| panic!("a last read: {rules:#}"));
    assert!(last_read >= handed["time"].as_str().unwrap(), "{last_read} {handed}");
    let own = Rpc::connect(&socket, Duration::from_secs(20)).ok("access.list", Value::Null);
    assert_eq!(own["rules"][0]["last_read"], json!(last_read), "{own}");
    let text = profile.typed_ok(&["apps"]);
    assert!(text.contains(&format!("last read {}", last_read.replacen('T', " ", 1))), "{text}");

    // "Last read" survives a restart: rebuilt from the log.
    profile.stop_daemon();
    let rules: Value = serde_json::from_str(&profile.typed_ok(&["apps", "--json"])).unwrap();
    let mine = rules.as_array().unwrap().iter().find(|r| r["program"] == json!(me)).expect("this binary's rule");
    assert_eq!(mine["last_read"], json!(last_read), "{rules:#}");

    // The token never reaches a file of Keyport's (the keyring's files are encrypted storage).
    let files = profile.all_files();
    assert!(files.iter().any(|(path, _)| *path == profile.activity_file()), "the log is among them");
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&token), "the token is in {}", path.display());
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(profile.activity_file()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_flood_of_refusals_is_counted_and_leaves_the_history_in_place() {
    let (_server, profile) = signed_in();
    let socket = profile.root().join("run/keyport/keyport.sock");
    profile.ok(&["token", "a"]);
    let python = python();
    let flood: Vec<Value> = (0..3000)
        .map(|id| {
            let method = if id % 3 == 0 { "token.refresh" } else { "token.get" };
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {"account": "a"}})
        })
        .collect();
    let report = python_client(&[], &python, None, &socket, &flood);
    let responses = report["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 3000, "every request was answered: {}", report["error"]);
    assert!(responses.iter().all(|r| r["error"]["code"] == -32004));
    let python_program = report["exe"].as_str().unwrap().to_owned();

    // Listed at once, as the counts they will be.
    let of_python = log(&profile, &["--program", &python_program]);
    let counted: u64 = of_python.iter().map(|r| r["count"].as_u64().unwrap_or(1)).sum();
    assert_eq!(counted, 3000, "{of_python:#?}");
    assert_eq!(of_python.len(), 4, "two kinds, each a first record and a count: {of_python:#?}");

    // Written at shutdown (or when the minute ends): a handful of lines, the hand-out kept.
    profile.stop_daemon();
    let text = std::fs::read_to_string(profile.activity_file()).unwrap();
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert!(lines.len() < 12, "{text}");
    assert!(
        lines.iter().any(|r| r["program"] == json!(me().to_string()) && r["outcome"] == "handed_out"),
        "the earlier hand-out is still there:\n{text}"
    );
    let gets = lines
        .iter()
        .find(|r| r["program"] == json!(python_program) && r["action"] == "token.get" && r["count"].is_u64())
        .unwrap_or_else(|| panic!("the counted record:\n{text}"));
    assert_eq!(gets["count"], 1999, "2000 requests: the first and 1999 repeats");
    assert!(gets["last"].as_str().unwrap() >= gets["time"].as_str().unwrap());
    assert!(!profile.root().join("state/keyport/activity.jsonl.1").exists(), "nothing was rotated away");
}
