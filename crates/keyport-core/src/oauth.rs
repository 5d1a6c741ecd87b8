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
    AuthType, AuthUrl, ClientId, ClientSecret, DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    RequestTokenError, RevocationUrl, StandardRevocableToken, StandardTokenResponse, TokenResponse as _, TokenUrl,
};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::http::{HttpClient, HttpError, Response};
use crate::provider::{ClientAuth, Provider, ScopeSeparator};
use crate::secret::Secret;

/// Extra fields of a token response: the OpenID Connect ID token.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct IdTokenFields {
    /// The raw ID token (a JWT), when the provider sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for IdTokenFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenFields").field("id_token", &self.id_token.as_ref().map(|_| "[redacted]")).finish()
    }
}

impl oauth2::ExtraTokenFields for IdTokenFields {}

/// The token response type.
pub(crate) type TokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;

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

/// Reads `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date.
pub(crate) fn retry_after(response: &Response, now: time::OffsetDateTime) -> Option<std::time::Duration> {
    let value = response.headers().get(::http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    std::time::Duration::try_from(at - now).ok()
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
            retry_after: retry_after(&response, time::OffsetDateTime::now_utc()),
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
    /// Lifetime from now, when the provider said.
    pub expires_in: Option<std::time::Duration>,
    /// `Bearer`, usually.
    pub token_type: String,
    /// The `scope` field, split; `None` when absent.
    pub scope: Option<Vec<String>>,
    /// The raw ID token.
    pub id_token: Option<Secret>,
}

impl Tokens {
    pub(crate) fn from_response(response: TokenResponse, separator: ScopeSeparator) -> Result<Self, Error> {
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
            id_token: response.extra_fields().id_token.clone().map(Secret::new),
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
            },
            issuer: None,
            default_scopes: vec![],
            redirect_host: RedirectHost::Ipv4,
            redirect_path: "/callback".into(),
            quirks: Quirks { identity: IdentitySource::None, ..Quirks::default() },
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
        Tokens::from_response(response, ScopeSeparator::Comma)
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

    #[tokio::test]
    async fn comma_separated_scopes_are_split() {
        let http = ScriptedHttp::new().reply(200, r#"{"access_token":"t","token_type":"bearer","scope":"repo,gist"}"#);
        let tokens = exchange(&http).await.unwrap();
        assert_eq!(tokens.scope.unwrap(), ["repo", "gist"]);
        assert_eq!(tokens.token_type, "Bearer");
        assert!(tokens.refresh_token.is_none() && tokens.expires_in.is_none());
    }
}
