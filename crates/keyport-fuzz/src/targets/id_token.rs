//! ID token claims: [`keyport_core::fuzzing::id_token`], the checks of OpenID Connect Core
//! §3.1.3.7 (`iss`, `aud`, `azp`, `exp`, `nonce`, `sub`, no `alg: none`).
//!
//! Input: either a compact JWT as it is (when the first section does not start with `{`), or
//! JSON sections: the claims alone, or a header then the claims, which the target base64url
//! encodes byte for byte. `@issuer URL|microsoft|none` picks the issuer rule (default
//! `https://as.example`), `@nonce VALUE` the expected nonce. Promises checked: an accepted
//! token names this client in `aud`, is not expired by more than the leeway (compared on the
//! claims as written, so a wrapping comparison would show), and has a subject.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyport_core::fuzzing::{self, CLIENT_ID, ISSUER};
use keyport_core::provider::IssuerRule;
use serde_json::Value;

use crate::input::{Input, label, now, variant};

/// Claims and header members.
pub const DICTIONARY: &[&[u8]] = &[
    b"\"alg\":\"RS256\"",
    b"\"alg\":\"none\"",
    b"\"alg\":\"NONE\"",
    b"\"iss\":\"https://as.example\"",
    b"\"iss\":\"https://as.example/\"",
    b"\"iss\":\"https://login.microsoftonline.com/t1/v2.0\"",
    b"\"tid\":\"t1\"",
    b"\"sub\":\"alice\"",
    b"\"sub\":\"\"",
    b"\"aud\":\"fuzz-client\"",
    b"\"aud\":[\"fuzz-client\"]",
    b"\"aud\":[\"fuzz-client\",\"other\"]",
    b"\"azp\":\"fuzz-client\"",
    b"\"exp\":",
    b"\"exp\":1893502800",
    b"\"exp\":1893499080",
    b"\"exp\":1893499079",
    b"\"exp\":9223372036854775807",
    b"\"exp\":1893502800.5",
    b"\"iat\":",
    b"\"nbf\":",
    b"\"auth_time\":",
    b"\"nonce\":\"n-1\"",
    b"\"email\":\"a@b.example\"",
    b"\"name\":",
    b"\"preferred_username\":",
    b"\n--\n",
    b"@issuer microsoft\n",
    b"@issuer none\n",
    b"@nonce n-1\n",
    b".",
    b"=",
];

/// Runs one input.
pub fn claims(data: &[u8]) -> String {
    let input = Input::parse(data);
    let issuer = match input.option_str("issuer").as_deref().map(str::trim) {
        Some("microsoft") => Some(IssuerRule::MicrosoftTenant),
        Some("none") => None,
        Some(other) => Some(IssuerRule::Exact(other.to_owned())),
        None => Some(IssuerRule::Exact(ISSUER.to_owned())),
    };
    let nonce = input.option_str("nonce");
    let (raw, claims) = match input.sections.as_slice() {
        [only] if !only.starts_with(b"{") => (String::from_utf8_lossy(only).into_owned(), None),
        [claims] => (jwt(br#"{"alg":"RS256"}"#, claims), Some(*claims)),
        [header, claims, ..] => (jwt(header, claims), Some(*claims)),
        [] => (String::new(), None),
    };
    match fuzzing::id_token(&raw, issuer.as_ref(), nonce.as_deref(), now()) {
        Ok(identity) => {
            assert!(identity.sub.as_deref().is_some_and(|sub| !sub.is_empty()), "accepted without a subject");
            if let Some(claims) = claims.and_then(|c| serde_json::from_slice::<Value>(c).ok()) {
                let aud_ok = match &claims["aud"] {
                    Value::String(aud) => aud == CLIENT_ID,
                    Value::Array(auds) => auds.iter().any(|aud| aud == CLIENT_ID),
                    _ => false,
                };
                assert!(aud_ok, "accepted a token for another audience");
                if let Some(exp) = claims["exp"].as_i64() {
                    assert!(
                        i128::from(exp) + 120 >= i128::from(now().unix_timestamp()),
                        "accepted a token that expired at {exp}"
                    );
                }
            }
            "ok".into()
        }
        Err(err) => format!("{} {}", variant(&format!("{err:?}")), label(&err.to_string())),
    }
}

fn jwt(header: &[u8], claims: &[u8]) -> String {
    format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
}
