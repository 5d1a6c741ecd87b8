//! `docs/socket.md` is the protocol's contract: these tests parse every example line in it
//! (`-->` sent, `<--` received) and check it against the crate's types, check that every
//! method, event and error code is documented, and run the document's client examples against
//! a stand-in server speaking this crate's framing (a Unix socket: Linux and macOS).
#![cfg(unix)]

use std::collections::{BTreeSet, HashMap};
use std::io::BufReader;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;
use std::thread;

use keyport_wire::frame::{read_message, write_message};
use keyport_wire::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

// The Rust example of the document, compiled here so its `token_get` can be called.
#[allow(dead_code)] // its `main` is the example binary's entry point, unused here
#[path = "../examples/token_get.rs"]
mod rust_example;

const DOC: &str = include_str!("../../../docs/socket.md");
const PYTHON_EXAMPLE: &str = include_str!("../examples/keyport_token.py");
const RUST_EXAMPLE: &str = include_str!("../examples/token_get.rs");

/// Every example line, in order: `(true, line)` sent by the client, `(false, line)` received.
fn example_lines() -> Vec<(bool, &'static str)> {
    DOC.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            line.strip_prefix("--> ").map(|l| (true, l)).or_else(|| line.strip_prefix("<-- ").map(|l| (false, l)))
        })
        .collect()
}

/// Reads `value` as `T` and writes it back: the two JSON values must be equal, so no member is
/// misnamed, missing from the type, or shaped differently.
fn round_trip<T: DeserializeOwned + Serialize>(value: &Value, line: &str) {
    let typed: T = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(&serde_json::to_value(&typed).unwrap(), value, "does not round-trip: {line}");
}

fn check_result(method: Method, result: &Value, line: &str) {
    match method {
        Method::AccountsList => round_trip::<AccountsListResult>(result, line),
        Method::AccountsStatus | Method::TokenRefresh => round_trip::<AccountSummary>(result, line),
        Method::TokenGet => round_trip::<TokenGetResult>(result, line),
        Method::SigninStart | Method::AccountsReauth => round_trip::<SigninStartResult>(result, line),
        Method::SigninCancel | Method::EventsSubscribe => round_trip::<Empty>(result, line),
        Method::AccountsRevoke => round_trip::<RevokeResult>(result, line),
        Method::AccountsRemove => round_trip::<RemoveResult>(result, line),
        Method::ProvidersList => round_trip::<ProvidersListResult>(result, line),
        Method::AccessList => round_trip::<AccessListResult>(result, line),
        Method::AccessSet => round_trip::<AccessRule>(result, line),
        Method::AccessForget => round_trip::<AccessForgetResult>(result, line),
        Method::ActivityList => round_trip::<ActivityListResult>(result, line),
        Method::AccountsDetails => round_trip::<AccountDetails>(result, line),
        Method::AccountsAddService => round_trip::<AccountSummary>(result, line),
        Method::SigninDevice => round_trip::<DeviceStart>(result, line),
        Method::ProvidersPresets => round_trip::<PresetsListResult>(result, line),
        Method::ProvidersAdd | Method::ProvidersEdit => round_trip::<ProviderSummary>(result, line),
        Method::ProvidersRefresh => round_trip::<ProviderRefreshed>(result, line),
        Method::ProvidersRemove | Method::PromptsAnswer | Method::ServiceStop => round_trip::<Empty>(result, line),
        Method::PromptsSubscribe => round_trip::<PromptsListResult>(result, line),
        Method::ServiceStatus => round_trip::<AppStatus>(result, line),
        Method::ServiceAutostart | Method::ServiceSetAutostart => round_trip::<AutostartStatus>(result, line),
        Method::SshForward => round_trip::<SshForwardResult>(result, line),
        other => panic!("no result type known for {other}"),
    }
}

#[test]
fn every_example_line_matches_the_types() {
    // What each request id last asked: the method, or the error code it must be answered with.
    let mut asked: HashMap<Option<Id>, Result<Method, i64>> = HashMap::new();
    let mut requested = BTreeSet::new();
    let mut events = BTreeSet::new();
    let lines = example_lines();
    assert!(lines.len() > 30, "the examples were not found");

    for (sent, line) in lines {
        if sent {
            let expected = match Request::parse(line.as_bytes()) {
                Err(response) => (None, Err(response.outcome.unwrap_err().code)),
                Ok(request) => match Call::from_request(&request) {
                    Err(error) => (Some(request.id), Err(error.code)),
                    Ok(call) => {
                        // The typed call writes the very same request back.
                        let again = call.clone().into_request(request.id.clone());
                        let original: Value = serde_json::from_str(line).unwrap();
                        assert_eq!(serde_json::to_value(&again).unwrap(), original, "{line}");
                        requested.insert(call.method().name());
                        (Some(request.id), Ok(call.method()))
                    }
                },
            };
            asked.insert(expected.0, expected.1);
            continue;
        }
        match ServerMessage::parse(line.as_bytes()).unwrap_or_else(|e| panic!("{e}: {line}")) {
            ServerMessage::Notification(notification) => {
                let event = Event::from_notification(&notification).expect("only `event` notifications").unwrap();
                assert_ne!(event, Event::Unknown, "{line}");
                round_trip::<Event>(notification.params.as_ref().unwrap(), line);
                events.insert(notification.params.unwrap()["event"].as_str().unwrap().to_owned());
            }
            ServerMessage::Response(response) => match (response.outcome, asked.get(&response.id)) {
                (Ok(result), Some(Ok(method))) => check_result(*method, &result, line),
                (Ok(_), _) => panic!("a result for a request that has none: {line}"),
                (Err(error), expected) => {
                    assert!(error.known_code().is_some(), "unknown code: {line}");
                    if let Some(Err(code)) = expected {
                        assert_eq!(error.code, *code, "{line}");
                    }
                }
            },
        }
    }

    let methods: BTreeSet<&str> = Method::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(requested, methods, "every method has an example");
    let expected_events = [
        "added",
        "refreshed",
        "needs_sign_in",
        "revoked",
        "removed",
        "error",
        "signin_finished",
        "signin_failed",
        "missed",
        "prompt_asked",
        "prompt_closed",
        "show",
    ];
    assert_eq!(events, expected_events.iter().map(|e| e.to_string()).collect(), "every event has an example");
}

#[test]
fn every_error_code_and_method_is_in_the_tables() {
    for code in ErrorCode::ALL {
        let row = format!("| {} | `{}` |", code.code(), code.name());
        assert!(DOC.contains(&row), "docs/socket.md lacks the row {row}");
    }
    for method in Method::ALL {
        let row = format!("| `{}` |", method.name());
        assert!(DOC.contains(&row), "docs/socket.md lacks the method {method}");
        assert!(DOC.contains(&format!("### `{}`", method.name())), "no section for {method}");
    }
    assert!(DOC.contains(&format!("{MAX_REQUEST_BYTES} bytes")));
    assert!(DOC.contains(&format!("{MAX_ANSWER_BYTES} bytes")));
}

#[test]
fn the_client_examples_in_the_document_are_the_tested_files() {
    assert!(DOC.contains(&format!("```python\n{PYTHON_EXAMPLE}```")), "the Python example differs from examples/");
    assert!(DOC.contains(&format!("```rust\n{RUST_EXAMPLE}```")), "the Rust example differs from examples/");
}

/// A stand-in for the daemon: answers one `token.get` per connection, using this crate.
fn serve_token_get(listener: UnixListener, connections: usize) -> thread::JoinHandle<Vec<Call>> {
    thread::spawn(move || {
        let mut calls = Vec::new();
        for _ in 0..connections {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(&stream);
            let line = read_message(&mut reader).unwrap().unwrap();
            let request = Request::parse(&line).unwrap();
            let call = Call::from_request(&request).unwrap();
            let result = TokenGetResult {
                access_token: AccessToken::new("token-for-the-example"),
                token_type: "Bearer".into(),
                expires_at: Some("2026-11-25T11:02:03Z".into()),
                expires_in_secs: Some(3599),
                scopes: vec!["openid".into()],
            };
            write_message(&mut &stream, &Response::result(request.id, &result).unwrap()).unwrap();
            calls.push(call);
        }
        calls
    })
}

/// A fresh `$XDG_RUNTIME_DIR` with the socket directory in it.
fn runtime_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("keyport-wire-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(SOCKET_DIR)).unwrap();
    dir
}

#[test]
fn the_rust_example_gets_a_token_from_a_server_speaking_this_crate() {
    let dir = runtime_dir("rust");
    let socket = socket_path_in(&dir);
    let server = serve_token_get(UnixListener::bind(&socket).unwrap(), 1);
    assert_eq!(rust_example::token_get(&socket, "alice@example.com").unwrap(), "token-for-the-example");
    let calls = server.join().unwrap();
    assert_eq!(
        calls,
        [Call::TokenGet(TokenGetParams { account: "alice@example.com".into(), min_valid_secs: None, program: None })]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_python_example_gets_a_token_from_a_server_speaking_this_crate() {
    let dir = runtime_dir("python");
    let server = serve_token_get(UnixListener::bind(socket_path_in(&dir)).unwrap(), 1);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/keyport_token.py");
    let output =
        match Command::new("python3").arg(script).arg("alice@example.com").env("XDG_RUNTIME_DIR", &dir).output() {
            Ok(output) => output,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("python3 is not installed: the Python example was not run");
                return;
            }
            Err(err) => panic!("{err}"),
        };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "token-for-the-example\n");
    let calls = server.join().unwrap();
    assert_eq!(
        calls,
        [Call::TokenGet(TokenGetParams {
            account: "alice@example.com".into(),
            min_valid_secs: Some(60),
            program: None
        })]
    );
    std::fs::remove_dir_all(dir).unwrap();
}
