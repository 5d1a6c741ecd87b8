//! The loopback listener's two parsers of what a browser (or any local program) sends: the
//! request head ([`keyport_core::redirect::parse_request_head`], target `redirect_head`) and
//! the request target judged against the expected path and state
//! ([`keyport_core::redirect::judge`], target `redirect_judge`).
//!
//! `judge` input: the request target on the first line, the expected state on the second
//! (default `s1`). Promises checked: a code is never empty, and a request judged genuine is a
//! stray for any other state or path, so only the one holder of the state can complete the
//! sign-in.

use keyport_core::redirect::{HeadError, Judgement, MAX_HEAD, judge as judge_target, parse_request_head};

use crate::input::Input;

/// The registered redirect path.
const PATH: &str = "/callback";

/// Query keys, separators and escapes of request targets.
pub const DICTIONARY: &[&[u8]] = &[
    b"/callback",
    b"/callback?",
    b"?",
    b"&",
    b"=",
    b"#",
    b"state=",
    b"state=s1",
    b"code=",
    b"error=",
    b"error_description=",
    b"iss=",
    b"%26",
    b"%3D",
    b"%2F",
    b"%00",
    b"%zz",
    b"+",
    b"//",
    b"/../",
    b"/./",
    b"http://127.0.0.1:1",
    b"\\",
    b";",
    b"%E2%80%8B",
];

/// Runs one input.
pub fn judge(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(2, '\n');
    let target = lines.next().unwrap_or_default();
    let state = lines.next().map(|s| s.trim_end_matches('\n')).filter(|s| !s.is_empty()).unwrap_or("s1");
    let judgement = judge_target(target, PATH, state);
    match &judgement {
        Judgement::Code { code, .. } => assert!(!code.is_empty(), "an empty code was accepted"),
        Judgement::Refused { .. } | Judgement::Stray(_) => {}
    }
    if !matches!(judgement, Judgement::Stray(_)) {
        let other_state = format!("{state}x");
        assert!(
            matches!(judge_target(target, PATH, &other_state), Judgement::Stray(_)),
            "a request judged genuine for state {state:?} is also genuine for {other_state:?}"
        );
        assert!(
            matches!(judge_target(target, "/other", state), Judgement::Stray(_)),
            "a request judged genuine on {PATH} is also genuine on /other"
        );
    }
    match judgement {
        Judgement::Code { iss, .. } => format!("code iss={}", iss.is_some()),
        Judgement::Refused { description, iss, .. } => {
            format!("refused description={} iss={}", description.is_some(), iss.is_some())
        }
        Judgement::Stray(reason) => format!("stray: {reason}"),
    }
}

/// Request heads: methods, versions, line ends and header fields.
pub const HEAD_DICTIONARY: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"GET /callback?code=abc&state=s1 HTTP/1.1\r\n",
    b" HTTP/1.1\r\n",
    b" HTTP/1.0\r\n",
    b" HTTP/2.0\r\n",
    b" HTTP/1.1",
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"\r",
    b"Host: 127.0.0.1:4321\r\n",
    b"Cookie: ",
    b"Content-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b": ",
    b"\t",
    b" ",
    b"#",
    b"*",
    b"http://127.0.0.1/callback",
    b"\x7f",
    b"\x80",
    b"@repeat 300\n",
];

/// Runs one request head through [`keyport_core::redirect::parse_request_head`].
///
/// Input: the bytes as received (`@repeat N` repeats them, at most 400 times, to reach the
/// size limits). Promises checked: a head lies within the bytes and within `MAX_HEAD`, its
/// target is an origin-form path of visible ASCII and its method a token; bytes after the head
/// change nothing; and reading a prefix agrees with reading the whole (a prefix is incomplete,
/// or gives the same head or the same error), which is what lets the listener answer as soon
/// as a line is complete.
pub fn head(data: &[u8]) -> String {
    let input = Input::parse(data);
    let body = input.sections.join(crate::input::SECTION);
    let times = input.option_str("repeat").and_then(|n| n.trim().parse::<usize>().ok()).unwrap_or(1).clamp(1, 400);
    let bytes = body.repeat(times);
    let whole = parse_request_head(&bytes);
    if let Ok(head) = &whole {
        assert!(head.len <= bytes.len() && head.len <= MAX_HEAD, "a head of {} bytes from {}", head.len, bytes.len());
        assert!(head.target.starts_with('/') && head.target.bytes().all(|b| b.is_ascii_graphic() && b != b'#'));
        assert!(!head.method.is_empty() && head.method.bytes().all(|b| b.is_ascii_graphic()));
        assert_eq!(parse_request_head(&bytes[..head.len]).as_ref(), Ok(head), "the head alone reads otherwise");
        let mut more = bytes.clone();
        more.extend_from_slice(b"\x00garbage after the head\r\n\r\n");
        assert_eq!(parse_request_head(&more).as_ref(), Ok(head), "bytes after the head changed it");
    }
    for split in [1, 3, 7].map(|n| bytes.len() * n / 8) {
        match parse_request_head(&bytes[..split]) {
            Err(HeadError::Incomplete) => {}
            prefix => assert_eq!(prefix, whole, "a prefix of {split} bytes reads otherwise than the whole"),
        }
    }
    match whole {
        Ok(head) => format!("head {:?} fields={}", head.version, head.fields.min(3)),
        Err(HeadError::Malformed(reason)) => format!("malformed: {reason}"),
        Err(other) => format!("{other:?}"),
    }
}
