//! The thin client's reading of the service's answers (`keyport_thin::json`,
//! `keyport_thin::token::read_line`), against serde_json, the full CLI's reader.
//!
//! The input is one line as the service might send it. Promises: no panic; whenever both
//! readers accept the line, they read the same `id`, token, and error code and message; a token
//! the thin client prints is one serde_json reads there too; the thin client's string encoder
//! (the request it writes) gives back the input text through serde_json.

use keyport_thin::token::{Answer, Line, read_line};

/// Pieces of answers.
pub const DICTIONARY: &[&[u8]] = &[
    b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"access_token\":\"",
    b"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32004,\"message\":\"",
    b"{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{}}",
    b"\"id\":null",
    b"\"id\":\"1\"",
    b"\"id\":1.0",
    b"\"}}",
    b"\\u0000",
    b"\\ud83d\\ude00",
    b"\\ud800",
    b"1e400",
    b"-0",
    b"[[[[[[[[",
    b"\"access_token\":",
];

pub fn answer(data: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(data) else { return "not UTF-8".into() };
    // The request encoder: what it writes reads back as the text.
    let encoded = keyport_thin::json::string(text);
    assert_eq!(serde_json::from_str::<String>(&encoded).ok().as_deref(), Some(text), "{encoded}");

    let thin = read_line(text);
    let full = serde_json::from_str::<serde_json::Value>(text);
    let label = match &thin {
        Line::Answer(Answer::Token(_)) => "token",
        Line::Answer(Answer::Refused { .. }) => "refused",
        Line::Other => "other",
        Line::Unreadable => "unreadable",
    };
    let full = match full {
        Ok(full) => full,
        // serde_json refuses numbers past f64's range (`1e400`) and lone surrogates, which
        // RFC 8259 allows: the thin client may read such a line (its token is elsewhere).
        Err(err) if err.to_string().contains("number out of range") || err.to_string().contains("surrogate") => {
            return format!("{label}, serde_json refuses a number or a surrogate");
        }
        Err(err) => {
            if let Line::Answer(answer) = &thin {
                panic!("the thin client read {answer:?} from a line that is not JSON: {err}");
            }
            return format!("{label}, not JSON");
        }
    };
    match &thin {
        Line::Answer(Answer::Token(token)) => {
            assert_eq!(full["result"]["access_token"].as_str(), Some(token.as_str()), "{full}");
            assert!(full.get("method").is_none(), "{full}");
        }
        Line::Answer(Answer::Refused { code, message }) => {
            assert_eq!(full["error"]["code"].as_i64(), Some(*code), "{full}");
            assert_eq!(full["error"]["message"].as_str(), Some(message.as_str()), "{full}");
        }
        Line::Other => assert!(
            full.get("method").is_some() || full.get("id").is_some_and(|id| !id.is_null() && id.as_i64() != Some(1)),
            "{full}"
        ),
        Line::Unreadable => {}
    }
    label.into()
}
