//! How the targets read a fuzz input: a few option lines, then sections, each an HTTP response
//! or a document; plus the fake HTTP client that answers with those responses, and the tokio
//! runtime (paused clock) that drives the async flows.
//!
//! The format is text so that seeds can be written by hand:
//!
//! ```text
//! @provider github          <- options: lines `@NAME VALUE` at the very start
//! 200                       <- optional status line (three digits), then optional headers
//! Retry-After: 5
//! {"access_token":"..."}    <- the body: everything up to the next separator
//! --                        <- a line `--` separates sections (responses in order)
//! {"id":1,"login":"octo"}
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyport_core::http::{HttpClient, HttpError, Request, Response, ResponseFuture};

/// The separator between sections.
pub const SECTION: &[u8] = b"\n--\n";

/// An input split into its options and sections.
#[derive(Debug, Default)]
pub struct Input<'a> {
    options: Vec<(&'a [u8], &'a [u8])>,
    /// The sections, in order (at least one, maybe empty).
    pub sections: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    /// Reads `data`.
    pub fn parse(mut data: &'a [u8]) -> Self {
        let mut options = Vec::new();
        while let Some(rest) = data.strip_prefix(b"@") {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let line = &rest[..end];
            let (name, value) = match line.iter().position(|&b| b == b' ') {
                Some(space) => (&line[..space], &line[space + 1..]),
                None => (line, &b""[..]),
            };
            options.push((name, value));
            data = rest.get(end + 1..).unwrap_or_default();
        }
        let mut sections = Vec::new();
        let mut rest = data;
        while let Some(at) = rest.windows(SECTION.len()).position(|w| w == SECTION) {
            sections.push(&rest[..at]);
            rest = &rest[at + SECTION.len()..];
        }
        sections.push(rest);
        Self { options, sections }
    }

    /// The value of option `name`, when given.
    pub fn option(&self, name: &str) -> Option<&'a [u8]> {
        self.options.iter().find(|(n, _)| *n == name.as_bytes()).map(|(_, v)| *v)
    }

    /// The value of option `name` as text.
    pub fn option_str(&self, name: &str) -> Option<String> {
        self.option(name).map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// A section as an HTTP response: an optional status line (`NNN`, default 200), optional
/// `Name: value` header lines after it, then the body. Headers that `http` refuses are
/// dropped, as a real client would never see them.
pub fn response(section: &[u8]) -> Response {
    let mut builder = http::Response::builder().header(http::header::CONTENT_TYPE, "application/json");
    let mut body = section;
    let status_line = section.len() >= 4 && section[..3].iter().all(u8::is_ascii_digit) && section[3] == b'\n';
    if status_line {
        let status = std::str::from_utf8(&section[..3]).ok().and_then(|s| s.parse::<u16>().ok()).unwrap_or(200);
        builder = builder.status(http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK));
        body = &section[4..];
        while let Some(end) = body.iter().position(|&b| b == b'\n') {
            let line = &body[..end];
            let Some(colon) = line.iter().position(|&b| b == b':') else { break };
            let name = &line[..colon];
            if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
                break;
            }
            let value = line[colon + 1..].strip_prefix(b" ").unwrap_or(&line[colon + 1..]);
            if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(name), http::HeaderValue::from_bytes(value)) {
                builder = builder.header(name, value);
            }
            body = &body[end + 1..];
        }
    }
    builder.body(body.to_vec()).unwrap_or_else(|_| http::Response::new(body.to_vec()))
}

/// An [`HttpClient`] that answers each request with the next queued response, and with "could
/// not reach" once they run out (which ends every flow within a few tries).
#[derive(Debug, Default)]
pub struct Replies {
    queue: Mutex<VecDeque<Response>>,
    asked: Mutex<u32>,
}

impl Replies {
    /// Answers with `responses`, in order.
    pub fn new(responses: impl IntoIterator<Item = Response>) -> Self {
        Self { queue: Mutex::new(responses.into_iter().collect()), asked: Mutex::new(0) }
    }

    /// How many requests were sent.
    pub fn asked(&self) -> u32 {
        *self.asked.lock().expect("lock")
    }
}

impl HttpClient for Replies {
    fn send(&self, _request: Request) -> ResponseFuture<'_> {
        *self.asked.lock().expect("lock") += 1;
        let reply = self.queue.lock().expect("lock").pop_front().ok_or_else(|| HttpError::Unreachable {
            host: "as.example".into(),
            detail: "no more fuzzed responses".into(),
        });
        Box::pin(async move { reply })
    }
}

thread_local! {
    static RUNTIME: std::cell::RefCell<Option<tokio::runtime::Runtime>> = const { std::cell::RefCell::new(None) };
}

/// Runs `future` on this thread's runtime: current-thread, with tokio's clock paused, so timers
/// fire at once when nothing else can run. A panic drops the runtime; the next call builds a
/// new one.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = RUNTIME.with(|slot| slot.borrow_mut().take()).unwrap_or_else(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime")
    });
    let output = runtime.block_on(future);
    RUNTIME.with(|slot| *slot.borrow_mut() = Some(runtime));
    output
}

/// The fixed "now" of the targets' clock.
pub fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2030-01-01 12:00 UTC)
}

/// The strings under `keys` in the JSON bodies (anywhere in each document) that occur exactly
/// once in all of them and in the claims of their ID tokens, and look like tokens: the secrets
/// that must never appear in an error or a `Debug` output. A value repeated
/// elsewhere (in `error_description`, or inside an email claim) is left out: the provider
/// itself put it where Keyport may show it; so is one found in `known`, what Keyport knows
/// without the provider telling it (its configuration: the client id, the endpoints).
pub fn secrets_in(bodies: &[Vec<u8>], keys: &[&str], known: &str) -> Vec<String> {
    let mut found: Vec<String> = bodies.iter().flat_map(|body| strings_under(body, keys)).collect();
    // What Keyport may show: the bodies, and whatever is base64url inside them, such as the
    // claims of an ID token (an email there is shown as the identity, and may contain another
    // field's value). Found by scanning, as a body need not be JSON that `Value` can hold.
    let all = bodies.concat();
    let mut text = String::from_utf8_lossy(&all).into_owned();
    for run in all.split(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')) {
        if run.len() >= 8
            && let Ok(decoded) = URL_SAFE_NO_PAD.decode(run)
        {
            text.push_str(&String::from_utf8_lossy(&decoded));
        }
    }
    found.retain(|secret| {
        looks_like_a_token(secret) && text.matches(secret.as_str()).count() == 1 && !known.contains(secret.as_str())
    });
    found
}

/// At least 8 characters with both letters and digits, as every real token has: a word such as
/// `provider` or `token_type` may well appear in Keyport's own `Debug` output or messages.
fn looks_like_a_token(text: &str) -> bool {
    text.len() >= 8 && text.bytes().any(|b| b.is_ascii_digit()) && text.bytes().any(|b| b.is_ascii_alphabetic())
}

/// The strings under `keys` anywhere in a JSON document.
fn strings_under(body: &[u8], keys: &[&str]) -> Vec<String> {
    fn walk(value: &serde_json::Value, keys: &[&str], found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    if let serde_json::Value::String(text) = value
                        && keys.contains(&key.as_str())
                    {
                        found.push(text.clone());
                    }
                    walk(value, keys, found);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| walk(item, keys, found)),
            _ => {}
        }
    }
    // The first JSON value, as `oauth2` reads a token response: trailing bytes are ignored.
    let body = response(body).into_body();
    let Some(Ok(value)) = serde_json::Deserializer::from_slice(&body).into_iter::<serde_json::Value>().next() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    walk(&value, keys, &mut found);
    found
}

/// Panics when `text` contains one of `secrets`.
pub fn assert_no_secret(text: &str, secrets: &[String], what: &str) {
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "{what} quotes a secret from the response");
    }
}

/// A reason without what varies with the input: cut at the first quoted value (values may
/// hold quotes themselves), digits folded to `#`, at most 80 characters. A label that does
/// not grow with the inputs.
pub fn label(reason: &str) -> String {
    let mut out = String::new();
    for c in reason.chars().take_while(|c| !matches!(c, '`' | '"')).take(80) {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The name of an error's variant (`BadTokenResponse`), a label that does not grow with inputs.
pub fn variant(debug: &str) -> String {
    debug.split([' ', '(', '{']).next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_sections_and_responses_are_read_as_documented() {
        let input = Input::parse(b"@provider github\n@nonce\n429\nRetry-After: 5\n{\"a\":1}\n--\n{\"b\":2}");
        assert_eq!(input.option_str("provider").as_deref(), Some("github"));
        assert_eq!(input.option("nonce"), Some(&b""[..]));
        assert_eq!(input.sections.len(), 2);
        let first = response(input.sections[0]);
        assert_eq!(first.status(), 429);
        assert_eq!(first.headers()["retry-after"], "5");
        assert_eq!(first.body(), b"{\"a\":1}");
        let second = response(input.sections[1]);
        assert_eq!((second.status().as_u16(), second.body().as_slice()), (200, &b"{\"b\":2}"[..]));
    }

    #[test]
    fn secrets_are_values_found_once() {
        let body = br#"{"access_token":"abcdefgh1234","refresh_token":"short","error_description":"x","id_token":"zzzzzzzzz9","other":"zzzzzzzzz9","refresh_token":"provider","device_code":"DC-123456789"}"#;
        let later = br#"{"error":"DC-123456789"}"#;
        let keys = ["access_token", "refresh_token", "id_token", "device_code"];
        assert_eq!(secrets_in(&[body.to_vec(), later.to_vec()], &keys, ""), ["abcdefgh1234"]);
        assert_eq!(secrets_in(&[body.to_vec()], &keys, "client_id: abcdefgh1234"), ["DC-123456789"]);
    }
}
