//! Token endpoint responses, successful or not, and everything a sign-in does with them up to
//! the stored account record: [`keyport_core::fuzzing::code_exchange`] (the `oauth2` request,
//! Keyport's token response type, the error mapping, the ID token checks, the userinfo
//! requests, the account name and expiry), with a fixed clock.
//!
//! Input: sections answering the requests in order: the token response, then userinfo (and
//! GitHub's `/user/emails`). `@provider openid|github|plain` picks the provider (default
//! openid), `@nonce VALUE` the nonce the ID token must carry. An `id_token` that is a JSON
//! object is sent as an unsigned JWT with those claims, so the claims get fuzzed rather than
//! base64. Promises checked: no panic; no token from the response in an error or a `Debug`
//! output; the expiry within `now ..= now + MAX_TOKEN_LIFETIME`; at most one request more than
//! there were responses (the flow stops at the first failure); an account name that is valid.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyport_core::account::check_account_name;
use keyport_core::fuzzing::{self, ProviderKind};
use keyport_core::oauth::MAX_TOKEN_LIFETIME;

use crate::input::{Input, Replies, assert_no_secret, block_on, now, response, secrets_in, variant};

/// Token response members and values.
pub const DICTIONARY: &[&[u8]] = &[
    b"\"access_token\":\"AT-0123456789\"",
    b"\"refresh_token\":\"RT-0123456789\"",
    b"\"token_type\":\"Bearer\"",
    b"\"token_type\":\"bearer\"",
    b"\"token_type\":\"mac\"",
    b"\"expires_in\":",
    b"\"expires_in\":3600",
    b"\"expires_in\":\"3600\"",
    b"\"expires_in\":18446744073709551615",
    b"\"expires_in\":-9223372036854775808",
    b"\"expires_in\":1e400",
    b"\"refresh_expires_in\":",
    b"\"scope\":\"openid email\"",
    b"\"scope\":\"repo,gist\"",
    b"\"id_token\":",
    b"\"id_token\":{\"iss\":\"https://as.example\",\"sub\":\"s\",\"aud\":\"fuzz-client\",\"exp\":1893502800}",
    b"\"iss\":\"https://as.example\"",
    b"\"aud\":\"fuzz-client\"",
    b"\"aud\":[\"fuzz-client\",\"other\"]",
    b"\"azp\":\"fuzz-client\"",
    b"\"exp\":1893502800",
    b"\"nonce\":\"n-1\"",
    b"\"sub\":",
    b"\"email\":",
    b"\"name\":",
    b"\"preferred_username\":",
    b"\"error\":\"invalid_grant\"",
    b"\"error_description\":",
    b"\"error_uri\":",
    b"\"id\":",
    b"\"login\":",
    b"\"primary\":true",
    b"\"verified\":true",
    b"\n--\n",
    b"400\n",
    b"401\n",
    b"500\n",
    b"@provider github\n",
    b"@provider plain\n",
    b"@nonce n-1\n",
];

/// The keys whose values are secrets.
pub const SECRET_KEYS: &[&str] = &["access_token", "refresh_token", "id_token", "device_code"];

/// Runs one input.
pub fn exchange(data: &[u8]) -> String {
    let input = Input::parse(data);
    let kind = provider_kind(input.option_str("provider").as_deref());
    let nonce = input.option_str("nonce");
    let bodies: Vec<Vec<u8>> = input.sections.iter().map(|section| with_jwt(section)).collect();
    let replies = Replies::new(bodies.iter().map(|section| response(section)));
    let secrets = secrets_in(&bodies, SECRET_KEYS, &format!("{:?}", fuzzing::provider(kind)));

    let result = block_on(fuzzing::code_exchange(fuzzing::provider(kind), nonce.as_deref(), &replies, now()));
    assert!(replies.asked() as usize <= bodies.len() + 1, "the flow went on asking after a failure");
    outcome(result, &secrets)
}

/// Checks and labels the result of a flow that ends in an account.
pub fn outcome(
    result: Result<(keyport_core::account::Account, keyport_core::oauth::Tokens), keyport_core::Error>,
    secrets: &[String],
) -> String {
    match result {
        Ok((account, tokens)) => {
            assert_no_secret(&format!("{tokens:?} {account:?}"), secrets, "a Debug output");
            if let Some(at) = account.expires_at {
                assert!(at >= now() && at <= now() + MAX_TOKEN_LIFETIME, "expiry {at} is out of bounds");
            }
            assert!(tokens.expires_in.is_none_or(|lifetime| lifetime <= MAX_TOKEN_LIFETIME));
            assert!(check_account_name(&account.name).is_ok(), "an invalid account name was made");
            let _ = account.view(now());
            let expiry = match tokens.expires_in {
                None => "none",
                Some(lifetime) if lifetime.is_zero() => "zero",
                Some(lifetime) if lifetime == MAX_TOKEN_LIFETIME => "max",
                Some(_) => "some",
            };
            format!("ok refresh={} expiry={expiry}", tokens.refresh_token.is_some())
        }
        Err(err) => {
            let text = format!("{err} {err:?}");
            assert_no_secret(&text, secrets, "an error");
            format!("error {}", variant(&format!("{err:?}")))
        }
    }
}

/// The provider kind an option names.
pub fn provider_kind(name: Option<&str>) -> ProviderKind {
    match name.map(str::trim) {
        Some("github") => ProviderKind::GitHub,
        Some("plain") => ProviderKind::Plain,
        _ => ProviderKind::OpenId,
    }
}

/// The section, with an `id_token` given as a JSON object replaced by an unsigned JWT with
/// those claims. Other sections are left byte for byte as they are.
pub fn with_jwt(section: &[u8]) -> Vec<u8> {
    if !section.windows(12).any(|w| w == b"\"id_token\":{") {
        return section.to_vec();
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body_of(section)) else { return section.to_vec() };
    let Some(claims @ serde_json::Value::Object(_)) = value.get("id_token") else { return section.to_vec() };
    let jwt = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("JSON encodes"))
    );
    let mut value = value;
    value["id_token"] = serde_json::Value::String(jwt);
    let head = &section[..section.len() - body_of(section).len()];
    let mut out = head.to_vec();
    out.extend_from_slice(&serde_json::to_vec(&value).expect("JSON encodes"));
    out
}

/// The body of a section (after its status line and headers).
fn body_of(section: &[u8]) -> &[u8] {
    let parsed = response(section);
    let len = parsed.body().len();
    &section[section.len() - len..]
}
