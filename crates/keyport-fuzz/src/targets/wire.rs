//! The socket's bytes: line framing ([`keyport_wire::frame`], blocking and async) and JSON-RPC
//! decoding on both sides (`Request::parse` and `Call::from_request` in the daemon,
//! `ServerMessage::parse`, `Response::into_typed` and `Event::from_notification` in clients).
//!
//! `frames` reads a byte stream with both readers, through a buffer whose size follows the
//! input's length (so lines cross buffer boundaries everywhere), and checks that they agree,
//! that no message is blank, holds a newline or passes the limit; then decodes each message.
//! An input starting `@repeat N` is its remainder repeated N times (at most 2000), which
//! reaches the 64 KiB limit. `jsonrpc` decodes one line. Both check that whatever decodes
//! encodes back to the same thing.

use std::io::{BufReader, Cursor};

use keyport_wire::frame::{self, FrameError, MAX_MESSAGE_BYTES};
use keyport_wire::{
    AccountsListResult, Call, Event, ProvidersListResult, Request, RevokeResult, ServerMessage, SigninStartResult,
    TokenGetResult,
};
use serde_json::Value;

use crate::input::{Input, block_on};

/// JSON-RPC members, method names and params.
pub const DICTIONARY: &[&[u8]] = &[
    b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"token.get\",\"params\":{\"account\":\"a\"}}\n",
    b"\"jsonrpc\":\"2.0\"",
    b"\"jsonrpc\"",
    b"\"2.0\"",
    b"\"id\":",
    b"\"method\":",
    b"\"params\":",
    b"\"result\":",
    b"\"error\":",
    b"\"code\":",
    b"\"message\":",
    b"\"data\":",
    b"\"event\"",
    b"\"account\":",
    b"\"min_valid_secs\":",
    b"\"provider\":",
    b"\"scopes\":",
    b"\"access_token\":",
    b"\"expires_in_secs\":",
    b"\"token.get\"",
    b"\"token.refresh\"",
    b"\"accounts.list\"",
    b"\"accounts.status\"",
    b"\"signin.start\"",
    b"\"signin.cancel\"",
    b"\"accounts.reauth\"",
    b"\"accounts.revoke\"",
    b"\"accounts.remove\"",
    b"\"providers.list\"",
    b"\"events.subscribe\"",
    b"\"needs_sign_in\"",
    b"\"refreshed\"",
    b"@repeat 1100\n",
    b"\n\n",
    b" \r\n",
];

/// Runs one byte stream through both framers, then decodes each message.
pub fn frames(data: &[u8]) -> String {
    let input = Input::parse(data);
    let body = input.sections.join(crate::input::SECTION);
    let times = input.option_str("repeat").and_then(|n| n.trim().parse::<usize>().ok()).unwrap_or(1).clamp(1, 2000);
    // Enough to pass the limit twice; more would only slow the run down.
    let mut stream = body.repeat(times);
    stream.truncate(2 * MAX_MESSAGE_BYTES + 2);
    // Small buffers put line ends at every offset; long streams get larger ones, still of odd
    // sizes, so one input stays fast.
    let capacity = if stream.len() > 8192 { 509 + data.len() % 61 } else { 1 + data.len() % 61 };

    let mut blocking = Vec::new();
    let mut reader = BufReader::with_capacity(capacity, Cursor::new(&stream));
    loop {
        let read = frame::read_message(&mut reader);
        let end = !matches!(read, Ok(Some(_)));
        blocking.push(read.map_err(kind));
        if end {
            break;
        }
    }
    let asynchronous = block_on(async {
        let mut reader =
            frame::tokio::MessageReader::new(tokio::io::BufReader::with_capacity(capacity, stream.as_slice()));
        let mut all = Vec::new();
        loop {
            let read = reader.read_message().await;
            let end = !matches!(read, Ok(Some(_)));
            all.push(read.map_err(kind));
            if end {
                return all;
            }
        }
    });
    assert_eq!(blocking, asynchronous, "the blocking and async readers disagree");

    let mut messages = 0;
    for message in blocking.iter().filter_map(|read| read.as_ref().ok().and_then(Option::as_ref)) {
        assert!(message.len() <= MAX_MESSAGE_BYTES, "a message over the limit was read");
        assert!(!message.contains(&b'\n'), "a message holds a newline");
        assert!(!message.iter().all(u8::is_ascii_whitespace), "a blank line was read as a message");
        messages += 1;
        // The first few are decoded; a thousand copies of one line teach nothing more.
        if messages <= 8 {
            decode(message);
        }
    }
    let end = match blocking.last() {
        Some(Ok(None)) => "end",
        Some(Err(kind)) => kind,
        _ => "?",
    };
    format!("{} messages, {end}", messages.min(3))
}

/// Decodes one line as both sides would.
pub fn jsonrpc(data: &[u8]) -> String {
    decode(data)
}

fn kind(err: FrameError) -> &'static str {
    match err {
        FrameError::Oversize => "oversize",
        FrameError::Truncated => "truncated",
        FrameError::Io(_) => "io",
        FrameError::Encode(_) => "encode",
        _ => "other",
    }
}

fn decode(line: &[u8]) -> String {
    let request = match Request::parse(line) {
        Ok(request) => {
            let again = Request::parse(&serde_json::to_vec(&request).expect("a request encodes"))
                .unwrap_or_else(|_| panic!("an encoded request does not parse"));
            assert!(
                again.id == request.id
                    && again.method == request.method
                    && same_json(&Value::from(again.params.clone()), &Value::from(request.params.clone())),
                "a request changes through encoding"
            );
            match Call::from_request(&request) {
                Ok(call) => {
                    let back = Call::from_request(&call.clone().into_request(request.id.clone()))
                        .unwrap_or_else(|_| panic!("an encoded call does not decode"));
                    assert_eq!(back, call, "a call changes through encoding");
                    format!("call {}", call.method())
                }
                Err(error) => format!("call error {}", error.code),
            }
        }
        Err(response) => format!("request error {}", response.outcome.err().map_or(0, |e| e.code)),
    };
    let server = match ServerMessage::parse(line) {
        Ok(message) => {
            let again = ServerMessage::parse(&serde_json::to_vec(&message).expect("a server message encodes"))
                .unwrap_or_else(|_| panic!("an encoded server message does not parse"));
            assert!(same_message(&message, &again), "a server message changes through encoding");
            match message {
                ServerMessage::Response(response) => {
                    let typed = [
                        response.clone().into_typed::<AccountsListResult>().is_ok(),
                        response.clone().into_typed::<TokenGetResult>().is_ok(),
                        response.clone().into_typed::<SigninStartResult>().is_ok(),
                        response.clone().into_typed::<RevokeResult>().is_ok(),
                        response.clone().into_typed::<ProvidersListResult>().is_ok(),
                    ];
                    format!("response {:?} typed {typed:?}", response.outcome.as_ref().err().map(|e| e.known_code()))
                }
                ServerMessage::Notification(notification) => match Event::from_notification(&notification) {
                    Some(Ok(event)) => {
                        if event != Event::Unknown {
                            let encoded = event.to_notification().expect("an event encodes");
                            let back = Event::from_notification(&encoded).expect("an event notification");
                            assert_eq!(back.ok(), Some(event.clone()), "an event changes through encoding");
                        }
                        format!("event {}", crate::input::variant(&format!("{event:?}")))
                    }
                    Some(Err(_)) => "event unreadable".into(),
                    None => "notification".into(),
                },
            }
        }
        Err(_) => "server error".into(),
    };
    format!("{request} / {server}")
}

fn same_message(a: &ServerMessage, b: &ServerMessage) -> bool {
    match (a, b) {
        (ServerMessage::Response(a), ServerMessage::Response(b)) => {
            a.id == b.id
                && match (&a.outcome, &b.outcome) {
                    (Ok(x), Ok(y)) => same_json(x, y),
                    (Err(x), Err(y)) => {
                        x.code == y.code
                            && x.message == y.message
                            && same_json(&Value::from(x.data.clone()), &Value::from(y.data.clone()))
                    }
                    _ => false,
                }
        }
        (ServerMessage::Notification(a), ServerMessage::Notification(b)) => {
            a.method == b.method && same_json(&Value::from(a.params.clone()), &Value::from(b.params.clone()))
        }
        _ => false,
    }
}

/// JSON equality where floats may differ in their last bits: serde_json's default float
/// parser is not correctly rounded, so a float can move by an ulp through encode and parse.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                x == y || (x - y).abs() <= f64::EPSILON * 4.0 * x.abs().max(y.abs())
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, value)| y.get(key).is_some_and(|other| same_json(value, other)))
        }
        _ => a == b,
    }
}
