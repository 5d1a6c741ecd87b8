//! Glue to the `oauth2` crate: the client type Keyport uses, the HTTP adapter, the token
//! response with its ID token, and error mapping that never copies a response body (which
//! may hold a token) into an error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, ClientId, ClientSecret, DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken, TokenResponse as _,
    TokenUrl,
};
use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::error::Error;
use crate::http::{HttpClient, HttpError, Response};
use crate::provider::{ClientAuth, Provider, Quirks, ScopeSeparator};
use crate::seconds::{self, Reading};
use crate::secret::Secret;

/// The longest access-token lifetime believed: ten years. A provider that says more (up to
/// `u64::MAX` seconds) means "does not expire soon"; ten years keeps every date computed from
/// it far inside what `time` and `accounts.json` can hold, and a token that really lives
/// longer is merely renewed early.
pub const MAX_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// When a token with `lifetime` left at `now` expires: `now + lifetime`, with the lifetime
/// clamped to [`MAX_TOKEN_LIFETIME`] and the sum saturating, so no lifetime can panic.
pub(crate) fn expires_at(now: time::OffsetDateTime, lifetime: std::time::Duration) -> time::OffsetDateTime {
    seconds::after(now, lifetime.min(MAX_TOKEN_LIFETIME))
}

/// A token response (RFC 6749 §5.1) with the OpenID Connect ID token. Like `oauth2`'s
/// `StandardTokenResponse`, except that `expires_in` is read leniently ([`Reading`]): a lifetime
/// written as a string, a float, a negative or an absurd number is clamped (see
/// [`Tokens::expires_in`]) rather than failing the response, which may carry a rotated refresh
/// token that must not be lost.
#[derive(Serialize, Deserialize)]
pub(crate) struct TokenResponse {
    access_token: AccessToken,
    #[serde(deserialize_with = "oauth2::helpers::deserialize_untagged_enum_case_insensitive")]
    token_type: BasicTokenType,
    #[serde(default, skip_serializing)]
    expires_in: Reading,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(rename = "scope", default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "oauth2::helpers::deserialize_space_delimited_vec")]
    #[serde(serialize_with = "oauth2::helpers::serialize_space_delimited_vec")]
    scopes: Option<Vec<Scope>>,
    /// The raw ID token (a JWT), when the provider sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    /// The refresh token's lifetime, as Keycloak and others name it.
    #[serde(default, skip_serializing)]
    refresh_expires_in: Reading,
    /// The same, as GitHub Apps and others name it.
    #[serde(default, skip_serializing)]
    refresh_token_expires_in: Reading,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `AccessToken` and `RefreshToken` print redacted; the ID token is a plain string.
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token)
            .field("scopes", &self.scopes)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("refresh_token_expires_in", &self.refresh_token_expires_in)
            .finish()
    }
}

impl oauth2::TokenResponse for TokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    /// The clamped lifetime (see [`Tokens::expires_in`]).
    fn expires_in(&self) -> Option<std::time::Duration> {
        match self.expires_in {
            Reading::Absent => None,
            // Zero: the token is used now and renewed at its next use.
            Reading::Unreadable => Some(std::time::Duration::ZERO),
            number => number.clamped(MAX_TOKEN_LIFETIME),
        }
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// The `oauth2` client with every optional endpoint "maybe set".
pub(crate) type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

/// Builds the `oauth2` client for `provider`, with its client secret when it has one.
pub(crate) fn client(provider: &Provider, secret: Option<&Secret>) -> Result<OAuthClient, Error> {
    let endpoints = &provider.endpoints;
    let mut client = oauth2::Client::new(ClientId::new(provider.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(endpoints.authorization.clone()))
        .set_token_uri(TokenUrl::from_url(endpoints.token.clone()))
        .set_device_authorization_url_option(
            endpoints.device_authorization.clone().map(DeviceAuthorizationUrl::from_url),
        )
        .set_revocation_url_option(endpoints.revocation.clone().map(RevocationUrl::from_url))
        .set_auth_type(match provider.quirks.token_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
        });
    if let Some(secret) = secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    Ok(client)
}

/// The last HTTP response seen by an [`Exchange`], for classifying failures.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LastResponse {
    pub status: Option<u16>,
    /// `Retry-After`, as a delay from when the response arrived.
    pub retry_after: Option<std::time::Duration>,
}

/// One conversation with a token endpoint through an [`HttpClient`]. Pass it to `oauth2`'s
/// `request_async(&exchange)`: it is a named type rather than a closure so the compiler can see
/// that the request futures are `Send`.
#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    http: &'a dyn HttpClient,
    last: Mutex<LastResponse>,
}

type AdapterFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, HttpError>> + Send + 'a>>;

impl<'a> Exchange<'a> {
    pub fn new(http: &'a dyn HttpClient) -> Self {
        Self { http, last: Mutex::new(LastResponse::default()) }
    }

    async fn send(&self, request: oauth2::HttpRequest) -> Result<Response, HttpError> {
        let response = self.http.send(request).await?;
        *self.last.lock().expect("lock") = LastResponse {
            status: Some(response.status().as_u16()),
            retry_after: crate::http::retry_after(response.headers(), time::OffsetDateTime::now_utc()),
        };
        Ok(response)
    }

    /// What the last response was.
    pub fn last(&self) -> LastResponse {
        *self.last.lock().expect("lock")
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Exchange<'_> {
    type Error = HttpError;
    type Future = AdapterFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// A successful token response, with secrets wrapped.
#[derive(Debug)]
pub struct Tokens {
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, when one was issued.
    pub refresh_token: Option<Secret>,
    /// Lifetime from now, when the provider said: at most [`MAX_TOKEN_LIFETIME`]; zero (expired
    /// now, renewed at the next use) when the provider said zero, a negative number, or
    /// something that is not a number at all.
    pub expires_in: Option<std::time::Duration>,
    /// `Bearer`, usually.
    pub token_type: String,
    /// The `scope` field, split; `None` when absent.
    pub scope: Option<Vec<String>>,
    /// The raw ID token.
    pub id_token: Option<Secret>,
    /// The refresh token's lifetime from now, when the provider said (`refresh_expires_in`
    /// or `refresh_token_expires_in`; at most [`MAX_TOKEN_LIFETIME`]; a value that is not a
    /// number counts as unsaid).
    pub refresh_expires_in: Option<std::time::Duration>,
    /// How long the provider keeps an unused refresh token ([`Quirks::refresh_unused_limit`]).
    pub refresh_unused_limit: Option<std::time::Duration>,
}

/// Records what is known of the account's refresh token after `tokens` arrived at
/// `received_at` (a sign-in, or a renewal, which used the refresh token):
/// - what the provider said: a new refresh token takes the lifetime said with it (or none);
///   the same one keeps its old expiry unless the provider says a new one;
/// - the inactivity limit: it starts again now.
pub(crate) fn note_refresh_expiry(record: &mut Account, tokens: &Tokens, received_at: time::OffsetDateTime) {
    let said = tokens.refresh_expires_in.map(|lifetime| expires_at(received_at, lifetime));
    if tokens.refresh_token.is_some() || said.is_some() {
        record.refresh_expires_at = said;
    }
    record.refresh_unused_expires_at = match record.has_refresh_token {
        true => tokens.refresh_unused_limit.map(|limit| expires_at(received_at, limit)),
        false => None,
    };
    if !record.has_refresh_token {
        record.refresh_expires_at = None;
    }
}

impl Tokens {
    pub(crate) fn from_response(response: TokenResponse, quirks: &Quirks) -> Result<Self, Error> {
        let separator = quirks.scope_separator;
        if response.expires_in == Reading::Unreadable {
            tracing::warn!("the token response's expires_in is not a number; the token counts as expired now");
        }
        let access_token = response.access_token().secret();
        if access_token.is_empty() {
            return Err(Error::BadTokenResponse { reason: "the access token is empty".into() });
        }
        let scope = response.scopes().map(|scopes| {
            let mut split: Vec<String> = Vec::new();
            for scope in scopes {
                let parts: Vec<&str> = match separator {
                    ScopeSeparator::Space => vec![scope.as_str()],
                    ScopeSeparator::Comma => scope.split(',').collect(),
                };
                for part in parts.into_iter().map(str::trim).filter(|part| !part.is_empty()) {
                    if !split.iter().any(|known| known == part) {
                        split.push(part.to_owned());
                    }
                }
            }
            split
        });
        Ok(Self {
            access_token: Secret::new(access_token.clone()),
            refresh_token: response.refresh_token().map(|token| Secret::new(token.secret().clone())),
            expires_in: response.expires_in(),
            token_type: match response.token_type() {
                BasicTokenType::Bearer => "Bearer".to_owned(),
                BasicTokenType::Mac => "mac".to_owned(),
                BasicTokenType::Extension(other) => other.clone(),
            },
            scope,
            id_token: response.id_token.clone().map(Secret::new),
            refresh_expires_in: match (response.refresh_expires_in, response.refresh_token_expires_in) {
                (Reading::Number(_), _) => response.refresh_expires_in.clamped(MAX_TOKEN_LIFETIME),
                (_, other) => other.clamped(MAX_TOKEN_LIFETIME),
            },
            refresh_unused_limit: quirks.refresh_unused_limit,
        })
    }
}

/// Maps an `oauth2` request error to [`Error`] without copying any response body.
pub(crate) fn token_error(err: RequestTokenError<HttpError, BasicErrorResponse>, last: LastResponse) -> Error {
    match err {
        RequestTokenError::ServerResponse(response) => Error::TokenRefused {
            error: response.error().as_ref().to_owned(),
            description: response.error_description().cloned(),
        },
        RequestTokenError::Request(http) => Error::Http(http),
        RequestTokenError::Parse(parse, body) => {
            // GitHub answers errors with status 200 and an OAuth error body.
            #[derive(Deserialize)]
            struct OAuthError {
                error: String,
                error_description: Option<String>,
            }
            if let Ok(error) = serde_json::from_slice::<OAuthError>(&body) {
                return Error::TokenRefused { error: error.error, description: error.error_description };
            }
            // Only the path of the bad field is reported: serde's own message can quote values.
            let status = last.status.map(|s| format!("HTTP {s}, ")).unwrap_or_default();
            Error::BadTokenResponse { reason: format!("{status}unexpected content at `{}`", parse.path()) }
        }
        RequestTokenError::Other(reason) => {
            let status = last.status.map(|s| format!("HTTP {s}: ")).unwrap_or_default();
            Error::BadTokenResponse { reason: format!("{status}{reason}") }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Endpoints, IdentitySource, Quirks, RedirectHost};
    use crate::testing::ScriptedHttp;
    use oauth2::AuthorizationCode;
    use url::Url;

    fn provider() -> Provider {
        Provider {
            name: "p".into(),
            kind: "manual".into(),
            client_id: "cid".into(),
            has_client_secret: false,
            endpoints: Endpoints {
                authorization: Url::parse("https://as.example/a").unwrap(),
                token: Url::parse("https://as.example/t").unwrap(),
                revocation: None,
                device_authorization: None,
                userinfo: None,
                introspection: None,
            },
            issuer: None,
            default_scopes: vec![],
            redirect_host: RedirectHost::Ipv4,
            redirect_path: "/callback".into(),
            quirks: Quirks { identity: IdentitySource::None, ..Quirks::default() },
            endpoint_sources: Vec::new(),
        }
    }

    async fn exchange(http: &ScriptedHttp) -> Result<Tokens, Error> {
        let exchange = Exchange::new(http);
        let response = client(&provider(), None)
            .unwrap()
            .exchange_code(AuthorizationCode::new("code".into()))
            .request_async(&exchange)
            .await
            .map_err(|err| token_error(err, exchange.last()))?;
        Tokens::from_response(response, &Quirks { scope_separator: ScopeSeparator::Comma, ..Quirks::default() })
    }

    #[tokio::test]
    async fn github_style_error_with_status_200_is_an_oauth_error() {
        let http = ScriptedHttp::new().reply(
            200,
            r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
        );
        let err = exchange(&http).await.unwrap_err();
        assert!(matches!(&err, Error::TokenRefused { error, .. } if error == "bad_verification_code"), "{err}");
    }

    #[tokio::test]
    async fn unusable_responses_never_quote_the_body() {
        let http = ScriptedHttp::new().reply(200, r#"{"access_token":"SECRET-TOKEN-TEXT","token_type":7}"#);
        let err = exchange(&http).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRET-TOKEN-TEXT"), "{text}");
        assert!(text.contains("token_type"), "{text}");
    }

    /// What real servers send: `token_type` in any case, no `scope` (the requested ones were
    /// granted), an error without a description.
    #[tokio::test]
    async fn what_real_servers_send_is_accepted() {
        for token_type in ["bearer", "BEARER", "Bearer"] {
            let body = format!(r#"{{"access_token":"t","token_type":"{token_type}","refresh_token":"r"}}"#);
            let http = ScriptedHttp::new().reply(200, &body);
            let tokens = exchange(&http).await.unwrap();
            assert_eq!(tokens.token_type, "Bearer");
            assert!(tokens.scope.is_none() && tokens.refresh_token.is_some());
        }
        let http = ScriptedHttp::new().reply(400, r#"{"error":"invalid_grant"}"#);
        let err = exchange(&http).await.unwrap_err();
        assert!(matches!(&err, Error::TokenRefused { error, .. } if error == "invalid_grant"), "{err}");
    }

    #[tokio::test]
    async fn comma_separated_scopes_are_split() {
        let http = ScriptedHttp::new().reply(200, r#"{"access_token":"t","token_type":"bearer","scope":"repo,gist"}"#);
        let tokens = exchange(&http).await.unwrap();
        assert_eq!(tokens.scope.unwrap(), ["repo", "gist"]);
        assert_eq!(tokens.token_type, "Bearer");
        assert!(tokens.refresh_token.is_none() && tokens.expires_in.is_none());
    }
}
