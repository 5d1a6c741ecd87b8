//! The redirect request's target (`/callback?code=...&state=...`) judged against the expected
//! path and state: [`keyport_core::redirect::judge`].
//!
//! Input: the request target on the first line, the expected state on the second (default
//! `s1`). Promises checked: a code is never empty, and a request judged genuine is a stray for
//! any other state or path, so only the one holder of the state can complete the sign-in.

use keyport_core::redirect::{Judgement, judge as judge_target};

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
