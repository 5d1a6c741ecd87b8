//! Entry points for the fuzz targets (`crates/keyport-fuzz`): each runs one parser of outside
//! bytes the way the real flow does, so the targets reach `pub(crate)` code without making it
//! public.
//!
//! Not an API: hidden from the documentation, it may change with any commit. It does no I/O
//! of its own: HTTP goes through the [`HttpClient`] the caller passes (the targets answer with
//! fuzzed bytes), the clock is a parameter, and nothing touches files or the keyring.

use std::borrow::Cow;
use std::time::Duration;

use oauth2::{AuthorizationCode, PkceCodeVerifier, RedirectUrl};
use time::OffsetDateTime;
use url::Url;

use crate::account::{Account, Identity};
use crate::error::Error;
use crate::http::{HttpClient, Response};
use crate::oauth::{self, Exchange, Tokens};
use crate::provider::{Endpoints, IdentitySource, IssuerRule, Provider, ProviderSource, Quirks, ScopeSeparator};
use crate::secret::Secret;
use crate::{device, discovery, id_token, signin};

/// The client id of [`provider`]'s providers.
pub const CLIENT_ID: &str = "fuzz-client";

/// The issuer of [`provider`]'s OpenID provider.
pub const ISSUER: &str = "https://as.example";

/// Which kind of provider [`provider`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect: an issuer, ID tokens, a userinfo endpoint, space-separated scopes.
    OpenId,
    /// GitHub-like: no ID token, `/user` and `/user/emails`, comma-separated scopes.
    GitHub,
    /// Plain OAuth 2.0: no issuer and no identity.
    Plain,
}

/// A provider at `https://as.example` with every endpoint, and the quirks of `kind`.
pub fn provider(kind: ProviderKind) -> Provider {
    let url = |path: &str| Url::parse(&format!("{ISSUER}{path}")).expect("a valid URL");
    let (identity, scope_separator, issuer) = match kind {
        ProviderKind::OpenId => (IdentitySource::OpenId, ScopeSeparator::Space, Some(IssuerRule::Exact(ISSUER.into()))),
        ProviderKind::GitHub => (IdentitySource::GitHubUser, ScopeSeparator::Comma, None),
        ProviderKind::Plain => (IdentitySource::None, ScopeSeparator::Space, None),
    };
    Provider {
        endpoint_sources: Vec::new(),
        name: "fuzz".into(),
        kind: "manual".into(),
        client_id: CLIENT_ID.into(),
        has_client_secret: false,
        endpoints: Endpoints {
            authorization: url("/authorize"),
            token: url("/token"),
            revocation: Some(url("/revoke")),
            device_authorization: Some(url("/device")),
            userinfo: Some(url("/userinfo")),
            introspection: None,
        },
        issuer,
        default_scopes: vec!["openid".into(), "email".into(), "user:email".into()],
        redirect_host: Default::default(),
        redirect_path: "/callback".into(),
        quirks: Quirks { identity, scope_separator, ..Quirks::default() },
    }
}

/// One discovery response, read as `discover` reads each metadata document it fetches.
/// `Err` starts with `unreadable:` (discovery would try the next location) or `refused:`
/// (discovery would stop).
pub fn discovery_document(issuer: &Url, response: &Response, openid: bool) -> Result<ProviderSource, String> {
    discovery::read_document(issuer, response, openid).map_err(|unusable| match unusable {
        discovery::Unusable::Unreadable(reason) => format!("unreadable: {reason}"),
        discovery::Unusable::Refused(reason) => format!("refused: {reason}"),
    })
}

/// `Retry-After` in `headers`, as a delay from `now`, clamped.
pub fn retry_after(headers: &http::HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    crate::http::retry_after(headers, now)
}

/// The ID token checks, against `issuer`, [`CLIENT_ID`] and `nonce`.
pub fn id_token(
    raw: &str,
    issuer: Option<&IssuerRule>,
    nonce: Option<&str>,
    now: OffsetDateTime,
) -> Result<Identity, Error> {
    id_token::check(raw, &id_token::Expected { issuer, client_id: CLIENT_ID, nonce }, now)
}

/// When a token with `lifetime` left at `now` expires, as every flow computes it.
pub fn expires_at(now: OffsetDateTime, lifetime: Duration) -> OffsetDateTime {
    oauth::expires_at(now, lifetime)
}

/// A browser sign-in after the redirect: the code exchange at `http` (the token response, or
/// the error mapping), the ID token checks with `nonce`, the userinfo requests, and the
/// account record as it would be stored at `now`.
pub async fn code_exchange(
    provider: Provider,
    nonce: Option<&str>,
    http: &dyn HttpClient,
    now: OffsetDateTime,
) -> Result<(Account, Tokens), Error> {
    let client = oauth::client(&provider, None)?;
    let exchange = Exchange::new(http);
    let redirect_uri = Url::parse("http://127.0.0.1:1/callback").expect("a valid URL");
    let response = client
        .exchange_code(AuthorizationCode::new("code".into()))
        .set_pkce_verifier(PkceCodeVerifier::new("v".repeat(43)))
        .set_redirect_uri(Cow::Owned(RedirectUrl::from_url(redirect_uri)))
        .request_async(&exchange)
        .await
        .map_err(|err| oauth::token_error(err, exchange.last()))?;
    let tokens = Tokens::from_response(response, &provider.quirks)?;
    let nonce = nonce.map(|nonce| Secret::new(nonce.to_owned()));
    let scopes = provider.default_scopes.clone();
    let signed = signin::signed_in(provider, tokens, scopes, nonce.as_ref(), None, http, now).await?;
    Ok(record(signed, now))
}

/// The first step of a device sign-in: the device authorization response at `http`, checked
/// and clamped as `Keyport::begin_device_sign_in` does, with `now` as Keyport's clock.
pub async fn device_authorization(
    provider: Provider,
    http: &dyn HttpClient,
    now: OffsetDateTime,
) -> Result<device::PendingDeviceSignIn, Error> {
    let scopes = provider.default_scopes.clone();
    let response = device::request_authorization(&provider, None, &scopes, http).await?;
    device::pending_sign_in(provider, None, response, scopes, None, now)
}

/// The second step: polling the token endpoint at `http` (tokio time: run it with a paused
/// clock) until tokens, a refusal or the code's expiry, then the identity and the account
/// record as it would be stored at `now`.
pub async fn device_poll(
    pending: device::PendingDeviceSignIn,
    http: &dyn HttpClient,
    now: OffsetDateTime,
) -> Result<(Account, Tokens), Error> {
    let tokens = device::poll(&pending, http).await?;
    let device::PendingDeviceSignIn { provider, scopes, account_name, .. } = pending;
    let signed = signin::signed_in(provider, tokens, scopes, None, account_name, http, now).await?;
    Ok(record(signed, now))
}

/// The stored record of a sign-in, named as `Keyport::store_signed_in` names a new account.
fn record(signed: signin::SignedIn, now: OffsetDateTime) -> (Account, Tokens) {
    let name = signin::default_account_name(&signed.provider.name, &signed.identity);
    let account = signin::account_record(&signed, name, now, None);
    (account, signed.tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ScriptedHttp;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2030-01-01 12:00 UTC)
    }

    #[tokio::test]
    async fn the_issue_s_expires_in_gives_an_account_instead_of_a_panic() {
        // Issue 10, finding 6: this lifetime panicked the sign-in task in `account_record`.
        let http = ScriptedHttp::new()
            .reply(200, r#"{"access_token":"AT","token_type":"Bearer","expires_in":18446744073709551615}"#);
        let (account, tokens) = code_exchange(provider(ProviderKind::Plain), None, &http, now()).await.unwrap();
        assert_eq!(tokens.expires_in, Some(oauth::MAX_TOKEN_LIFETIME));
        assert_eq!(account.expires_at, Some(now() + time::Duration::days(3650)));
    }

    #[tokio::test]
    async fn every_kind_of_expires_in_gives_a_bounded_expiry() {
        let cases: &[(&str, Option<i64>)] = &[
            ("3600", Some(3600)),
            (r#""3599""#, Some(3599)),
            ("3600.75", Some(3600)),
            ("0", Some(0)),
            ("-1", Some(0)),
            ("-9223372036854775808", Some(0)),
            ("9223372036854775807", Some(3650 * 86_400)),
            ("1e300", Some(3650 * 86_400)),
            (r#""1e400""#, Some(3650 * 86_400)),
            (r#""soon""#, Some(0)),
            ("true", Some(0)),
            ("{}", Some(0)),
            ("null", None),
        ];
        for (json, secs) in cases {
            let body =
                format!(r#"{{"access_token":"AT","token_type":"Bearer","refresh_token":"RT","expires_in":{json}}}"#);
            let http = ScriptedHttp::new().reply(200, &body);
            let (account, tokens) = code_exchange(provider(ProviderKind::Plain), None, &http, now())
                .await
                .unwrap_or_else(|err| panic!("{json}: {err}"));
            let expected = secs.map(|secs| now() + time::Duration::seconds(secs));
            assert_eq!(account.expires_at, expected, "{json}");
            assert!(tokens.refresh_token.is_some(), "{json}: the refresh token is kept");
        }
        let http = ScriptedHttp::new().reply(200, r#"{"access_token":"AT","token_type":"Bearer"}"#);
        let (account, _) = code_exchange(provider(ProviderKind::Plain), None, &http, now()).await.unwrap();
        assert_eq!(account.expires_at, None, "no expires_in: no known expiry, as before");
    }

    #[tokio::test]
    async fn a_number_beyond_f64_refuses_the_response_without_quoting_it() {
        let http = ScriptedHttp::new()
            .reply(200, r#"{"access_token":"SECRET-TOKEN-TEXT","token_type":"Bearer","expires_in":1e400}"#);
        let err = code_exchange(provider(ProviderKind::Plain), None, &http, now()).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, Error::BadTokenResponse { .. }), "{text}");
        assert!(text.contains("expires_in") && !text.contains("SECRET-TOKEN-TEXT"), "{text}");
    }

    #[tokio::test]
    async fn an_access_token_no_header_can_carry_does_not_panic_the_sign_in() {
        // Found by the token_response fuzz target: building the userinfo request panicked.
        let http = ScriptedHttp::new()
            .reply(200, r#"{"access_token":"gho_0123\u000089","token_type":"bearer","scope":"repo"}"#);
        let (account, tokens) = code_exchange(provider(ProviderKind::GitHub), None, &http, now()).await.unwrap();
        assert_eq!(tokens.access_token.expose(), "gho_0123\u{0}89");
        assert_eq!(account.identity, Identity::default(), "no identity, as with any userinfo failure");
        assert!(http.requests().len() == 1, "no userinfo request was sent");
    }

    #[test]
    fn expiry_near_the_end_of_time_saturates() {
        let end = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT);
        assert_eq!(expires_at(end, Duration::from_secs(3600)), end + time::Duration::HOUR);
        assert!(expires_at(end, Duration::MAX) >= end);
        assert_eq!(expires_at(now(), Duration::MAX), now() + time::Duration::days(3650));
    }
}
