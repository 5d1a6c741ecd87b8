//! The device flow's responses (RFC 8628): the device authorization response, then the token
//! endpoint's answers while polling (`authorization_pending`, `slow_down` with or without
//! GitHub's `interval`, refusals, tokens), up to the stored account record:
//! [`keyport_core::fuzzing::device_authorization`] and [`keyport_core::fuzzing::device_poll`],
//! with tokio's clock paused so the polling intervals pass at once.
//!
//! Input: sections answering the requests in order (device authorization first); once they run
//! out the provider is "unreachable", which ends the polling after a few tries. `@provider`
//! as for `token_response`. Promises checked: the interval within `MIN_INTERVAL ..=
//! MAX_INTERVAL`, the code's lifetime within `MAX_LIFETIME` and `expires_at` exactly that far
//! from now; no device code or token in an error; the polling ends (the run is bounded by the
//! code's lifetime and the per-input time limit); then everything `token_response` checks.

use keyport_core::device::{MAX_INTERVAL, MAX_LIFETIME, MIN_INTERVAL};
use keyport_core::fuzzing;

use crate::input::{Input, Replies, assert_no_secret, block_on, now, response, secrets_in, variant};
use crate::targets::token::{SECRET_KEYS, outcome, provider_kind, with_jwt};

/// Device flow members and values.
pub const DICTIONARY: &[&[u8]] = &[
    b"\"device_code\":\"DC-0123456789\"",
    b"\"user_code\":\"WDJB-MJHT\"",
    b"\"verification_uri\":\"https://as.example/activate\"",
    b"\"verification_url\":\"https://as.example/activate\"",
    b"\"verification_uri_complete\":\"https://as.example/activate?user_code=WDJB-MJHT\"",
    b"\"expires_in\":",
    b"\"expires_in\":900",
    b"\"interval\":",
    b"\"interval\":5",
    b"\"interval\":18446744073709551615",
    b"\"interval\":null",
    b"{\"error\":\"authorization_pending\"}",
    b"{\"error\":\"slow_down\"}",
    b"{\"error\":\"slow_down\",\"interval\":20}",
    b"{\"error\":\"access_denied\"}",
    b"{\"error\":\"expired_token\"}",
    b"\"access_token\":\"AT-0123456789\"",
    b"\"token_type\":\"Bearer\"",
    b"\"refresh_token\":\"RT-0123456789\"",
    b"\"error\":",
    b"\n--\n",
    b"400\n",
    b"428\n",
    b"429\n",
    b"503\n",
    b"http://evil.example/",
    b"\\u001b[2J",
    b"@provider github\n",
];

/// Runs one input.
pub fn flow(data: &[u8]) -> String {
    let input = Input::parse(data);
    let kind = provider_kind(input.option_str("provider").as_deref());
    let bodies: Vec<Vec<u8>> = input.sections.iter().map(|section| with_jwt(section)).collect();
    let replies = Replies::new(bodies.iter().map(|section| response(section)));
    let secrets = secrets_in(&bodies, SECRET_KEYS, &format!("{:?}", fuzzing::provider(kind)));

    let pending = match block_on(fuzzing::device_authorization(fuzzing::provider(kind), &replies, now())) {
        Ok(pending) => pending,
        Err(err) => {
            assert_no_secret(&format!("{err} {err:?}"), &secrets, "an error");
            return format!("authorization error {}", variant(&format!("{err:?}")));
        }
    };
    assert!((MIN_INTERVAL..=MAX_INTERVAL).contains(&pending.interval()), "interval {:?}", pending.interval());
    assert!(!pending.expires_in().is_zero() && pending.expires_in() <= MAX_LIFETIME, "{:?}", pending.expires_in());
    assert_eq!(pending.expires_at(), now() + pending.expires_in(), "the code's expiry is not now + expires_in");
    assert_no_secret(&format!("{pending:?}"), &secrets, "the pending sign-in's Debug output");

    let result = block_on(fuzzing::device_poll(pending, &replies, now()));
    assert!(replies.asked() as usize <= bodies.len() + 4, "the polling went on after the responses ran out");
    format!("polled: {}", outcome(result, &secrets))
}
