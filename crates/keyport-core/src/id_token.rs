//! ID token checks (OpenID Connect Core §3.1.3.7).
//!
//! Keyport receives the ID token straight from the token endpoint over TLS (or loopback),
//! which §3.1.3.7 item 6 allows in place of a signature check, so the signature is not
//! verified. Everything else that matters is: `iss`, `aud`/`azp`, `exp`, `nonce`, `sub`, and
//! the `none` algorithm is refused. The token is used only to learn who signed in; it is never
//! stored or presented to anyone.
//!
//! `exp` is read leniently ([`Reading`]: an integer or fractional NumericDate of any size, or a
//! string holding one) and compared with saturating arithmetic. `iat`, `nbf` and `auth_time`
//! are not read: §3.1.3.7 leaves `iat` to the client, `auth_time` matters only with
//! `max_age`, which Keyport never sends, and OpenID Connect does not define `nbf`; so whatever
//! a provider writes there can neither fail a sign-in nor overflow anything.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::account::Identity;
use crate::error::Error;
use crate::provider::IssuerRule;
use crate::seconds::Reading;

/// Clock skew tolerated when checking `exp`: a token that expired less than this long ago
/// still counts as valid.
const LEEWAY_SECS: i64 = 120;

/// What the ID token must match.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    pub issuer: Option<&'a IssuerRule>,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// A subject identifier as a server sends it: a string, as OpenID Connect says, or an integer,
/// as some servers send (`"sub": 1`), read as its decimal text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Subject {
    Text(String),
    Unsigned(u64),
    Signed(i64),
}

impl From<Subject> for String {
    fn from(subject: Subject) -> Self {
        match subject {
            Subject::Text(text) => text,
            Subject::Unsigned(n) => n.to_string(),
            Subject::Signed(n) => n.to_string(),
        }
    }
}

/// Reads a required `sub` ([`Subject`]).
pub(crate) fn subject<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Subject::deserialize(deserializer).map(String::from)
}

/// Reads an optional `sub` ([`Subject`]).
pub(crate) fn optional_subject<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<Subject>::deserialize(deserializer).map(|subject| subject.map(String::from))
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    #[serde(deserialize_with = "subject")]
    sub: String,
    aud: Audience,
    #[serde(default)]
    exp: Reading,
    azp: Option<String>,
    nonce: Option<String>,
    tid: Option<String>,
    email: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
}

/// Checks `raw` and returns the identity it carries.
pub(crate) fn check(raw: &str, expected: &Expected<'_>, now: OffsetDateTime) -> Result<Identity, Error> {
    let invalid = |reason: &str| Error::IdTokenInvalid { reason: reason.to_owned() };
    let mut parts = raw.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("it is not a JWS compact token"));
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| invalid("bad base64url"));
    let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| invalid("unreadable header"))?;
    if header.alg.eq_ignore_ascii_case("none") {
        return Err(invalid("unsigned (alg none)"));
    }
    let claims: Claims =
        serde_json::from_slice(&decode(payload)?).map_err(|_| invalid("missing or malformed iss, sub, aud or exp"))?;

    match expected.issuer {
        Some(IssuerRule::Exact(issuer)) if !same_issuer(&claims.iss, issuer) => {
            return Err(Error::IdTokenInvalid { reason: format!("issuer `{}` is not `{issuer}`", claims.iss) });
        }
        Some(IssuerRule::MicrosoftTenant) => {
            let tid = claims.tid.as_deref().ok_or_else(|| invalid("no tenant (tid) claim"))?;
            let want = format!("https://login.microsoftonline.com/{tid}/v2.0");
            if claims.iss != want {
                return Err(Error::IdTokenInvalid { reason: format!("issuer `{}` is not `{want}`", claims.iss) });
            }
        }
        _ => {}
    }
    let audiences = match &claims.aud {
        Audience::One(aud) => vec![aud.as_str()],
        Audience::Many(auds) => auds.iter().map(String::as_str).collect(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(invalid("it was issued to another client (aud)"));
    }
    if let Some(azp) = &claims.azp {
        if azp != expected.client_id {
            return Err(invalid("its authorized party (azp) is another client"));
        }
    } else if audiences.len() > 1 {
        return Err(invalid("several audiences and no authorized party (azp)"));
    }
    let Reading::Number(exp) = claims.exp else {
        return Err(invalid("missing or malformed exp"));
    };
    if exp.saturating_add(LEEWAY_SECS) < now.unix_timestamp() {
        return Err(invalid("it has expired"));
    }
    if let Some(nonce) = expected.nonce
        && claims.nonce.as_deref() != Some(nonce)
    {
        return Err(invalid("its nonce does not match this sign-in (a replayed token?)"));
    }
    if claims.sub.is_empty() {
        return Err(invalid("empty subject"));
    }
    Ok(Identity { sub: Some(claims.sub), email: claims.email, name: claims.name.or(claims.preferred_username) })
}

/// Issuer identifiers compare exactly, except that one trailing slash is not significant.
pub(crate) fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Microsoft's per-tenant issuer, `https://login.microsoftonline.com/{tenant}/v2.0`, which its
/// multi-tenant endpoints (common, organizations, consumers) answer with.
pub(crate) fn is_microsoft_tenant_issuer(iss: &str) -> bool {
    iss.strip_prefix("https://login.microsoftonline.com/")
        .and_then(|rest| rest.strip_suffix("/v2.0"))
        .is_some_and(|tenant| !tenant.is_empty() && tenant.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(alg: &str, claims: serde_json::Value) -> String {
        let enc = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!("{}.{}.sig", enc(&json!({"alg": alg})), enc(&claims))
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn good() -> serde_json::Value {
        json!({"iss": "https://id.example", "sub": "alice", "aud": "cid", "exp": 1_800_000_600,
               "nonce": "n-1", "email": "alice@example.test", "name": "Alice"})
    }

    fn check_with(claims: serde_json::Value, alg: &str) -> Result<Identity, Error> {
        let issuer = IssuerRule::Exact("https://id.example/".into());
        check(&jwt(alg, claims), &Expected { issuer: Some(&issuer), client_id: "cid", nonce: Some("n-1") }, now())
    }

    #[test]
    fn a_good_token_gives_the_identity() {
        let id = check_with(good(), "RS256").unwrap();
        assert_eq!(id.sub.as_deref(), Some("alice"));
        assert_eq!(id.email.as_deref(), Some("alice@example.test"));
        assert_eq!(id.name.as_deref(), Some("Alice"));
    }

    #[test]
    fn a_numeric_subject_is_read_as_text() {
        let mut claims = good();
        claims["sub"] = json!(1);
        assert_eq!(check_with(claims, "RS256").unwrap().sub.as_deref(), Some("1"));
        let mut claims = good();
        claims["sub"] = json!({"id": 1});
        assert!(matches!(check_with(claims, "RS256"), Err(Error::IdTokenInvalid { .. })));
    }

    #[test]
    fn each_check_can_fail() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("iss", json!({"iss": "https://evil.example"}), "RS256"),
            ("aud", json!({"aud": "other"}), "RS256"),
            ("azp", json!({"aud": ["cid", "other"]}), "RS256"),
            ("azp mismatch", json!({"aud": ["cid", "other"], "azp": "other"}), "RS256"),
            ("exp", json!({"exp": 1_799_990_000}), "RS256"),
            ("nonce", json!({"nonce": "replayed"}), "RS256"),
            ("nonce missing", json!({"nonce": null}), "RS256"),
            ("alg none", json!({}), "none"),
        ];
        for (what, change, alg) in cases {
            let mut claims = good();
            for (key, value) in change.as_object().unwrap() {
                claims[key] = value.clone();
            }
            assert!(matches!(check_with(claims, alg), Err(Error::IdTokenInvalid { .. })), "{what} should fail");
        }
        assert!(check("abc", &Expected { issuer: None, client_id: "cid", nonce: None }, now()).is_err());
    }

    #[test]
    fn absurd_exp_values_are_compared_without_overflow() {
        let valid = |exp: serde_json::Value| {
            let mut claims = good();
            claims["exp"] = exp;
            check_with(claims, "RS256")
        };
        // Far future, however written: valid. Before the fix, i64::MAX + leeway overflowed.
        for far in [json!(i64::MAX), json!(u64::MAX), json!(1e300), json!("9223372036854775807"), json!(1.8e9 + 0.5)] {
            assert!(valid(far.clone()).is_ok(), "{far}");
        }
        // Past, however written: expired.
        for past in [json!(i64::MIN), json!(-1), json!(0), json!(-1e300), json!("1799990000"), json!(1_799_999_879)] {
            let err = valid(past.clone()).unwrap_err();
            assert!(err.to_string().contains("expired"), "{past}: {err}");
        }
        // Within the leeway.
        assert!(valid(json!(1_799_999_881)).is_ok());
        // Not a date at all.
        for bad in [json!("soon"), json!(null), json!({}), json!([1]), json!(true)] {
            let err = valid(bad.clone()).unwrap_err();
            assert!(err.to_string().contains("malformed exp"), "{bad}: {err}");
        }
        let mut claims = good();
        claims.as_object_mut().unwrap().remove("exp");
        assert!(check_with(claims, "RS256").unwrap_err().to_string().contains("malformed exp"));
        // Beyond f64: serde_json refuses the payload.
        let payload = r#"{"iss":"https://id.example","sub":"alice","aud":"cid","exp":1e400,"nonce":"n-1"}"#;
        let raw = format!("{}.{}.sig", URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#), URL_SAFE_NO_PAD.encode(payload));
        let issuer = IssuerRule::Exact("https://id.example".into());
        let expected = Expected { issuer: Some(&issuer), client_id: "cid", nonce: Some("n-1") };
        assert!(matches!(check(&raw, &expected, now()), Err(Error::IdTokenInvalid { .. })));
    }

    #[test]
    fn iat_nbf_and_auth_time_are_not_read_so_absurd_values_do_no_harm() {
        for value in [json!(u64::MAX), json!(i64::MIN), json!(-1), json!(1e300), json!("soon"), json!({})] {
            let mut claims = good();
            for claim in ["iat", "nbf", "auth_time"] {
                claims[claim] = value.clone();
            }
            assert!(check_with(claims, "RS256").is_ok(), "{value}");
        }
    }

    #[test]
    fn microsoft_issuer_follows_the_tenant_claim() {
        let rule = IssuerRule::MicrosoftTenant;
        let expected = Expected { issuer: Some(&rule), client_id: "cid", nonce: None };
        let mut claims = good();
        claims["iss"] = json!("https://login.microsoftonline.com/tid-1/v2.0");
        claims["tid"] = json!("tid-1");
        assert!(check(&jwt("RS256", claims.clone()), &expected, now()).is_ok());
        claims["tid"] = json!("tid-2");
        assert!(check(&jwt("RS256", claims), &expected, now()).is_err());
    }
}
