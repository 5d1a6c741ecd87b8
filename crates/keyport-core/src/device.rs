//! Sign-in on another device: the Device Authorization Grant (RFC 8628), for machines without
//! a browser (servers over SSH, containers) or where the loopback redirect cannot work.
//!
//! Two steps, like the browser flow: [`Keyport::begin_device_sign_in`] asks the provider's
//! device authorization endpoint for a user code and shows nothing itself;
//! [`Keyport::finish_device_sign_in`] polls the token endpoint until the user approves, refuses,
//! or the code expires, then stores the account exactly as a browser sign-in does
//! ([`signin::signed_in`], [`Keyport::store_signed_in`]). Polling follows RFC 8628 §3.5:
//! `authorization_pending` waits `interval`, `slow_down` adds 5 seconds to it for good, and a
//! network failure backs off exponentially for a few tries before giving up. The provider's
//! numbers are clamped: the code lives at most [`MAX_LIFETIME`], the interval stays between
//! [`MIN_INTERVAL`] and [`MAX_INTERVAL`]. Waiting uses tokio
//! time, so tests run with a paused clock. Cancelling is dropping the future.
//!
//! Left out: nothing is shown to the user here (front ends print the code and a QR code), and
//! the code's lifetime is the only timeout.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oauth2::basic::BasicErrorResponse;
use oauth2::{AsyncHttpClient as _, RequestTokenError, Scope, StandardDeviceAuthorizationResponse};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::time::Instant;
use url::Url;

use crate::Keyport;
use crate::account::{Account, check_account_name};
use crate::endpoint;
use crate::error::Error;
use crate::http::{HttpClient, HttpError};
use crate::oauth::{self, Exchange, TokenResponse, Tokens};
use crate::provider::{ClientAuth, Provider};
use crate::seconds::{self, Reading};
use crate::secret::Secret;
use crate::secrets::SecretKey;
use crate::signin;

/// The `grant_type` of device code token requests (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the provider names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// What `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Network failures in a row tolerated while polling; each doubles the wait before the next try.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 4;

/// The longest wait between two polls after network failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Longest code lifetime believed; a larger `expires_in` (up to `u64::MAX` seconds) is cut to this.
pub const MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Shortest polling interval used, whatever the provider says: one poll a second at most.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Longest polling interval used, whatever the provider says (in `interval`, or in `slow_down`
/// steps and GitHub's `slow_down` interval): the user, who has approved on the other device,
/// waits at most this long for Keyport to notice.
pub const MAX_INTERVAL: Duration = Duration::from_secs(2 * 60);

/// Longest user code shown; providers use 8 or 9 characters.
const MAX_USER_CODE_CHARS: usize = 64;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct DeviceRequest {
    /// Scopes to request; empty means the provider's defaults.
    pub scopes: Vec<String>,
    /// The account name; derived from the identity when `None`.
    pub account_name: Option<String>,
}

/// A device sign-in waiting for the user to approve it on another device.
#[derive(Debug)]
pub struct PendingDeviceSignIn {
    pub(crate) provider: Provider,
    client_secret: Option<Secret>,
    device_code: Secret,
    user_code: String,
    verification_uri: Url,
    verification_uri_complete: Option<Url>,
    expires_in: Duration,
    expires_at: OffsetDateTime,
    deadline: Instant,
    interval: Duration,
    pub(crate) scopes: Vec<String>,
    pub(crate) account_name: Option<String>,
}

impl PendingDeviceSignIn {
    /// Where the user goes to enter the code.
    pub fn verification_uri(&self) -> &Url {
        &self.verification_uri
    }

    /// The code the user types in (it means nothing without the device code Keyport keeps).
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// A verification URI with the code in it, for links and QR codes, when the provider gives one.
    pub fn verification_uri_complete(&self) -> Option<&Url> {
        self.verification_uri_complete.as_ref()
    }

    /// The code's lifetime, as the provider said (at most an hour).
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// When the code expires, by Keyport's clock.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// The current polling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The scopes being requested.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        &self.provider.name
    }
}

impl Keyport {
    /// Starts a device sign-in: asks the provider's device authorization endpoint for a code.
    /// The caller shows [`PendingDeviceSignIn::user_code`] and the verification URI, then calls
    /// [`Keyport::finish_device_sign_in`].
    pub async fn begin_device_sign_in(
        &self,
        provider: &str,
        request: DeviceRequest,
    ) -> Result<PendingDeviceSignIn, Error> {
        if let Some(name) = &request.account_name {
            check_account_name(name)?;
        }
        let provider = self.providers.get(provider)?;
        if provider.endpoints.device_authorization.is_none() {
            return Err(Error::DeviceFlowUnsupported { provider: provider.name.clone() });
        }
        // Find out now, before the user signs in, whether the tokens can be kept at all.
        let namespace = self.accounts.namespace()?;
        self.secrets.get(&SecretKey::access_token(&namespace, "keyport-availability-probe"))?;
        let client_secret = self.client_secret(&provider)?;
        let scopes = if request.scopes.is_empty() { provider.default_scopes.clone() } else { request.scopes };

        let response = request_authorization(&provider, client_secret.as_ref(), &scopes, self.http.as_ref()).await?;
        pending_sign_in(provider, client_secret, response, scopes, request.account_name, self.clock.now())
    }

    /// Polls until the user approves on the other device, then learns the identity and stores
    /// the account as a browser sign-in does. Fails with [`Error::AuthorizationDenied`] when the
    /// user refuses and [`Error::DeviceCodeExpired`] when the code runs out.
    pub async fn finish_device_sign_in(&self, pending: PendingDeviceSignIn) -> Result<Account, Error> {
        let tokens = poll(&pending, self.http.as_ref()).await?;
        let PendingDeviceSignIn { provider, scopes, account_name, .. } = pending;
        let signed =
            signin::signed_in(provider, tokens, scopes, None, account_name, self.http.as_ref(), self.clock.now())
                .await?;
        self.store_signed_in(signed).await
    }
}

/// Checks the device authorization response and clamps its numbers: the code's lifetime to
/// [`MAX_LIFETIME`], the interval to [`MIN_INTERVAL`]..=[`MAX_INTERVAL`].
pub(crate) fn pending_sign_in(
    provider: Provider,
    client_secret: Option<Secret>,
    response: StandardDeviceAuthorizationResponse,
    scopes: Vec<String>,
    account_name: Option<String>,
    now: OffsetDateTime,
) -> Result<PendingDeviceSignIn, Error> {
    let user_code = response.user_code().secret().clone();
    if user_code.is_empty()
        || user_code.chars().count() > MAX_USER_CODE_CHARS
        || user_code.chars().any(char::is_control)
    {
        return Err(Error::BadDeviceResponse { reason: "the user code is empty, too long or unprintable".into() });
    }
    let verification_uri = response.verification_uri().url().clone();
    endpoint::check(&verification_uri)
        .map_err(|err| Error::BadDeviceResponse { reason: format!("verification_uri: {err}") })?;
    let verification_uri_complete = response.verification_uri_complete().and_then(|complete| {
        let url = Url::parse(complete.secret()).ok().filter(|url| endpoint::check(url).is_ok());
        if url.is_none() {
            tracing::warn!("ignoring a verification_uri_complete that is not a usable URL");
        }
        url
    });
    // oauth2 reads both as u64 seconds (negative, fractional or string values fail there).
    let expires_in = response.expires_in().min(MAX_LIFETIME);
    if expires_in.is_zero() {
        return Err(Error::BadDeviceResponse { reason: "expires_in is 0".into() });
    }
    // oauth2 fills in RFC 8628's 5 seconds when `interval` is absent.
    let interval = response.interval().clamp(MIN_INTERVAL, MAX_INTERVAL);
    tracing::debug!(?interval, ?expires_in, "device authorization started");
    Ok(PendingDeviceSignIn {
        client_secret,
        device_code: Secret::new(response.device_code().secret().clone()),
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        expires_at: seconds::after(now, expires_in),
        deadline: Instant::now() + expires_in,
        interval,
        scopes,
        account_name,
        provider,
    })
}

/// The device authorization request (RFC 8628 §3.1) for `scopes` at `http`.
pub(crate) async fn request_authorization(
    provider: &Provider,
    client_secret: Option<&Secret>,
    scopes: &[String],
    http: &dyn HttpClient,
) -> Result<StandardDeviceAuthorizationResponse, Error> {
    let exchange = Exchange::new(http);
    oauth::client(provider, client_secret)?
        .exchange_device_code()
        .map_err(|_| Error::DeviceFlowUnsupported { provider: provider.name.clone() })?
        .add_scopes(scopes.iter().cloned().map(Scope::new))
        .request_async(&exchange)
        .await
        .map_err(|err| device_authorization_error(err, exchange.last()))
}

/// Maps a failed device authorization request; like [`oauth::token_error`], never quotes a body.
fn device_authorization_error(
    err: RequestTokenError<HttpError, BasicErrorResponse>,
    last: oauth::LastResponse,
) -> Error {
    match oauth::token_error(err, last) {
        Error::TokenRefused { error, description } => Error::DeviceAuthorizationRefused { error, description },
        Error::BadTokenResponse { reason } => Error::BadDeviceResponse { reason },
        other => other,
    }
}

/// What one poll of the token endpoint said.
#[derive(Debug)]
enum Poll {
    /// Approved: the tokens.
    Tokens(Tokens),
    /// `authorization_pending`.
    Pending,
    /// `slow_down`, with the interval the server asked for when it named one (GitHub does).
    SlowDown(Option<Duration>),
    /// No answer, or a server error: worth trying again later.
    Transient(Error),
}

/// Polls the token endpoint until it answers with tokens or a final error, or the code expires.
pub(crate) async fn poll(pending: &PendingDeviceSignIn, http: &dyn HttpClient) -> Result<Tokens, Error> {
    let expired = || Error::DeviceCodeExpired { secs: pending.expires_in.as_secs() };
    let mut interval = pending.interval;
    let mut failures = 0u32;
    loop {
        let wait = if failures == 0 { interval } else { backoff(interval, failures) };
        let wake = Instant::now().checked_add(wait).map_or(pending.deadline, |at| at.min(pending.deadline));
        tokio::time::sleep_until(wake).await;
        if Instant::now() >= pending.deadline {
            return Err(expired());
        }
        match poll_once(pending, http).await? {
            Poll::Tokens(tokens) => {
                tracing::debug!(has_refresh_token = tokens.refresh_token.is_some(), "device sign-in approved");
                return Ok(tokens);
            }
            Poll::Pending => {
                tracing::trace!("authorization pending");
                failures = 0;
            }
            Poll::SlowDown(asked) => {
                interval = slowed_down(interval, asked);
                tracing::debug!(?interval, "the provider asked to slow down");
                failures = 0;
            }
            Poll::Transient(err) => {
                failures += 1;
                if failures >= MAX_CONSECUTIVE_FAILURES {
                    return Err(err);
                }
                tracing::warn!(%err, failures, "polling the token endpoint failed; trying again");
            }
        }
    }
}

/// The interval after a `slow_down`: 5 seconds more, or the interval the server `asked` for
/// when that is longer, and never more than [`MAX_INTERVAL`].
fn slowed_down(interval: Duration, asked: Option<Duration>) -> Duration {
    interval.saturating_add(SLOW_DOWN_STEP).max(asked.unwrap_or_default()).min(MAX_INTERVAL)
}

/// The wait after `failures` network failures in a row: the interval doubled each time, capped.
fn backoff(interval: Duration, failures: u32) -> Duration {
    interval.saturating_mul(1 << failures.min(8)).min(MAX_BACKOFF.max(interval))
}

/// An OAuth error body (RFC 6749 §5.2), with RFC 8628's `slow_down` extras.
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
    /// GitHub names the new interval with `slow_down`; an unreadable one is ignored.
    #[serde(default)]
    interval: Reading,
}

/// One device access token request (RFC 8628 §3.4) and what its answer means.
async fn poll_once(pending: &PendingDeviceSignIn, http: &dyn HttpClient) -> Result<Poll, Error> {
    let exchange = Exchange::new(http);
    let response = match exchange.call(token_request(pending)).await {
        Ok(response) => response,
        Err(err @ (HttpError::Timeout { .. } | HttpError::Unreachable { .. })) => {
            return Ok(Poll::Transient(Error::Http(err)));
        }
        Err(err) => return Err(Error::Http(err)),
    };
    let status = response.status();
    // Any status: Google answers pending with 428, GitHub answers every error with 200.
    if let Ok(OAuthError { error, error_description, interval }) = serde_json::from_slice(response.body()) {
        return match error.as_str() {
            "authorization_pending" => Ok(Poll::Pending),
            "slow_down" => Ok(Poll::SlowDown(interval.clamped(MAX_INTERVAL))),
            "access_denied" => Err(Error::AuthorizationDenied { error, description: error_description }),
            "expired_token" => Err(Error::DeviceCodeExpired { secs: pending.expires_in.as_secs() }),
            _ => Err(Error::TokenRefused { error, description: error_description }),
        };
    }
    if status.is_server_error() || status.as_u16() == 429 {
        return Ok(Poll::Transient(Error::BadTokenResponse { reason: format!("HTTP {status}") }));
    }
    if !status.is_success() {
        return Err(Error::BadTokenResponse { reason: format!("HTTP {status} without an OAuth error") });
    }
    let mut json = serde_json::Deserializer::from_slice(response.body());
    match serde_path_to_error::deserialize::<_, TokenResponse>(&mut json) {
        Ok(parsed) => Tokens::from_response(parsed, &pending.provider.quirks).map(Poll::Tokens),
        Err(parse) => Err(oauth::token_error(RequestTokenError::Parse(parse, response.into_body()), exchange.last())),
    }
}

/// The token request: grant type, device code, and the client's authentication as the
/// provider wants it (RFC 6749 §2.3.1: Basic with form-encoded id and secret, or form fields).
fn token_request(pending: &PendingDeviceSignIn) -> http::Request<Vec<u8>> {
    let provider = &pending.provider;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", DEVICE_CODE_GRANT);
    form.append_pair("device_code", pending.device_code.expose());
    let mut request = http::Request::post(provider.endpoints.token.as_str())
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    match (&pending.client_secret, provider.quirks.token_auth) {
        (Some(secret), ClientAuth::Basic) => {
            let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
            let credentials = format!("{}:{}", encode(&provider.client_id), encode(secret.expose()));
            request = request.header(http::header::AUTHORIZATION, format!("Basic {}", STANDARD.encode(credentials)));
        }
        (Some(secret), ClientAuth::Post) => {
            form.append_pair("client_id", &provider.client_id);
            form.append_pair("client_secret", secret.expose());
        }
        (None, _) => {
            form.append_pair("client_id", &provider.client_id);
        }
    }
    request.body(form.finish().into_bytes()).expect("a form POST is a valid request")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::browser::NoBrowser;
    use crate::clock::FixedClock;
    use crate::events::AccountEvent;
    use crate::http::{Request, ResponseFuture};
    use crate::paths::Paths;
    use crate::provider::Endpoints;
    use crate::secrets::MemoryStore;
    use crate::testing::ScriptedHttp;
    use crate::{NewProvider, ProviderSpec};

    /// [`ScriptedHttp`] that also notes when (in tokio's possibly paused time) each request came.
    #[derive(Debug, Default)]
    struct TimedHttp {
        script: ScriptedHttp,
        at: Mutex<Vec<Instant>>,
    }

    impl HttpClient for TimedHttp {
        fn send(&self, request: Request) -> ResponseFuture<'_> {
            self.at.lock().unwrap().push(Instant::now());
            self.script.send(request)
        }
    }

    impl TimedHttp {
        /// Seconds between consecutive requests, from the `from`th on.
        fn gaps(&self, from: usize) -> Vec<u64> {
            let at = self.at.lock().unwrap();
            at[from..].windows(2).map(|pair| (pair[1] - pair[0]).as_secs()).collect()
        }

        fn form(&self, index: usize) -> HashMap<String, String> {
            let body = &self.script.requests()[index].2;
            url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
        }
    }

    struct Fixture {
        keyport: Keyport,
        http: Arc<TimedHttp>,
        secrets: Arc<MemoryStore>,
        _dir: tempfile::TempDir,
    }

    const DEVICE: &str = "https://as.example/device";
    const TOKEN: &str = "https://as.example/token";

    async fn fixture(script: ScriptedHttp, device_endpoint: bool, secret: Option<&str>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let paths = Paths { config_dir: root.join("config"), data_dir: root.join("data"), runtime_dir: None };
        let http = Arc::new(TimedHttp { script, at: Mutex::default() });
        let secrets = Arc::new(MemoryStore::new());
        let clock = Arc::new(FixedClock::new(time::macros::datetime!(2030-01-01 12:00 UTC)));
        let keyport = Keyport::new(&paths, secrets.clone(), http.clone(), clock, Arc::new(NoBrowser));
        let endpoints = Endpoints {
            authorization: Url::parse("https://as.example/authorize").unwrap(),
            token: Url::parse(TOKEN).unwrap(),
            revocation: None,
            device_authorization: device_endpoint.then(|| Url::parse(DEVICE).unwrap()),
            userinfo: None,
            introspection: None,
        };
        let new = NewProvider {
            spec: ProviderSpec::Manual(Box::new(endpoints)),
            client_id: "cid".into(),
            client_secret: secret.map(Secret::new),
            scopes: vec!["read".into(), "write".into()],
            redirect_host: Default::default(),
            redirect_path: None,
            given_endpoints: Default::default(),
        };
        keyport.add_provider("p", new).await.unwrap();
        Fixture { keyport, http, secrets, _dir: dir }
    }

    fn device_response(interval: Option<u64>, expires_in: u64) -> String {
        let mut body = serde_json::json!({
            "device_code": "DEVICE-CODE", "user_code": "WDJB-MJHT",
            "verification_uri": "https://as.example/activate",
            "verification_uri_complete": "https://as.example/activate?user_code=WDJB-MJHT",
            "expires_in": expires_in,
        });
        if let Some(interval) = interval {
            body["interval"] = interval.into();
        }
        body.to_string()
    }

    const PENDING: &str = r#"{"error":"authorization_pending","error_description":"still waiting"}"#;
    const SLOW_DOWN: &str = r#"{"error":"slow_down"}"#;
    const TOKENS: &str =
        r#"{"access_token":"AT","token_type":"Bearer","expires_in":3600,"refresh_token":"RT","scope":"read"}"#;

    fn unreachable() -> HttpError {
        HttpError::Unreachable { host: "as.example".into(), detail: "connection refused".into() }
    }

    #[tokio::test(start_paused = true)]
    async fn device_request_carries_client_id_and_scope_and_the_pending_sign_in_its_fields() {
        let f = fixture(ScriptedHttp::new().reply(200, &device_response(Some(7), 900)), true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        let (method, url, _) = &f.http.script.requests()[0];
        assert_eq!((method.as_str(), url.as_str()), ("POST", DEVICE));
        let form = f.http.form(0);
        assert_eq!(form["client_id"], "cid");
        assert_eq!(form["scope"], "read write");
        assert_eq!(pending.user_code(), "WDJB-MJHT");
        assert_eq!(pending.verification_uri().as_str(), "https://as.example/activate");
        assert_eq!(
            pending.verification_uri_complete().unwrap().as_str(),
            "https://as.example/activate?user_code=WDJB-MJHT"
        );
        assert_eq!(pending.interval(), Duration::from_secs(7));
        assert_eq!(pending.expires_in(), Duration::from_secs(900));
        assert_eq!(pending.expires_at(), time::macros::datetime!(2030-01-01 12:15 UTC));
        assert!(!format!("{pending:?}").contains("DEVICE-CODE"), "the device code is a secret");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_secret_authenticates_both_requests_with_basic() {
        let script = ScriptedHttp::new().reply(200, &device_response(None, 600)).reply(200, TOKENS);
        let f = fixture(script, true, Some("s3cr:t")).await;
        let request = DeviceRequest { scopes: vec!["only".into()], account_name: Some("mine".into()) };
        let pending = f.keyport.begin_device_sign_in("p", request).await.unwrap();
        f.keyport.finish_device_sign_in(pending).await.unwrap();
        // base64("cid:s3cr%3At")
        let basic = format!("Basic {}", STANDARD.encode("cid:s3cr%3At"));
        for index in [0, 1] {
            assert_eq!(f.http.script.request_headers(index)[http::header::AUTHORIZATION], basic.as_str());
            assert!(!f.http.form(index).contains_key("client_secret"));
        }
        assert_eq!(f.http.form(0)["scope"], "only");
    }

    #[tokio::test(start_paused = true)]
    async fn interval_defaults_to_5_seconds_and_pending_then_success_stores_the_account() {
        let script = ScriptedHttp::new()
            .reply(200, &device_response(None, 600))
            .reply(400, PENDING)
            .reply(400, PENDING)
            .reply(200, TOKENS);
        let f = fixture(script, true, None).await;
        let mut events = f.keyport.subscribe();
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        assert_eq!(pending.interval(), DEFAULT_INTERVAL);
        let started = Instant::now();
        let account = f.keyport.finish_device_sign_in(pending).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(15), "three polls, 5 s apart");
        assert_eq!(f.http.gaps(1), [5, 5]);

        let poll = f.http.form(1);
        assert_eq!(poll["grant_type"], DEVICE_CODE_GRANT);
        assert_eq!(poll["device_code"], "DEVICE-CODE");
        assert_eq!(poll["client_id"], "cid");
        assert_eq!(f.http.script.request_headers(1)[http::header::ACCEPT], "application/json");

        assert_eq!(account.name, "p", "no identity: named after the provider, as a browser sign-in is");
        assert_eq!(account.scopes, ["read"]);
        assert!(account.has_refresh_token);
        assert_eq!(f.keyport.accounts().unwrap().len(), 1);
        let (_, token) = f.keyport.access_token("p").unwrap();
        assert_eq!(token.expose(), "AT");
        assert_eq!(f.secrets.keys().iter().filter(|key| key.ends_with("/account/p/refresh_token")).count(), 1);
        assert_eq!(events.recv().await.unwrap(), AccountEvent::Added { account: "p".into() });
    }

    #[tokio::test(start_paused = true)]
    async fn slow_down_adds_5_seconds_for_good_and_honours_a_named_interval() {
        let script = ScriptedHttp::new()
            .reply(200, &device_response(Some(2), 600))
            .reply(400, SLOW_DOWN)
            .reply(400, PENDING)
            .reply(200, r#"{"error":"slow_down","interval":20}"#)
            .reply(400, PENDING)
            .reply(200, TOKENS);
        let f = fixture(script, true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        f.keyport.finish_device_sign_in(pending).await.unwrap();
        // 2 s, then 2 + 5 = 7 s twice, then GitHub-style `interval: 20` (more than 7 + 5).
        assert_eq!(f.http.gaps(0)[1..], [7, 7, 20, 20]);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_is_a_refused_sign_in_and_stores_nothing() {
        let script = ScriptedHttp::new()
            .reply(200, &device_response(Some(1), 600))
            .reply(400, PENDING)
            .reply(400, r#"{"error":"access_denied","error_description":"The user denied the request"}"#);
        let f = fixture(script, true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        let err = f.keyport.finish_device_sign_in(pending).await.unwrap_err();
        assert!(matches!(&err, Error::AuthorizationDenied { error, .. } if error == "access_denied"), "{err}");
        assert!(err.to_string().contains("access_denied (The user denied the request)"), "{err}");
        assert!(f.keyport.accounts().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn expired_token_from_the_server_says_the_code_expired() {
        let script =
            ScriptedHttp::new().reply(200, &device_response(Some(1), 300)).reply(400, r#"{"error":"expired_token"}"#);
        let f = fixture(script, true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        let err = f.keyport.finish_device_sign_in(pending).await.unwrap_err();
        assert!(matches!(err, Error::DeviceCodeExpired { secs: 300 }), "{err}");
        assert!(err.to_string().contains("the device code expired"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn polling_stops_when_the_code_runs_out_locally() {
        let script =
            ScriptedHttp::new().reply(200, &device_response(Some(4), 10)).reply(400, PENDING).reply(400, PENDING);
        let f = fixture(script, true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        let started = Instant::now();
        let err = f.keyport.finish_device_sign_in(pending).await.unwrap_err();
        assert!(matches!(err, Error::DeviceCodeExpired { secs: 10 }), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(10), "gives up at the deadline, not after it");
        assert_eq!(f.http.script.requests().len(), 3, "polled at 4 s and 8 s, not at 12 s");
    }

    #[tokio::test(start_paused = true)]
    async fn network_failures_back_off_and_are_retried_a_few_times() {
        let script = ScriptedHttp::new()
            .reply(200, &device_response(Some(2), 600))
            .fail(unreachable())
            .reply(503, "<html>down</html>")
            .reply(400, PENDING)
            .reply(200, TOKENS);
        let f = fixture(script, true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        f.keyport.finish_device_sign_in(pending).await.unwrap();
        assert_eq!(f.http.gaps(1), [4, 8, 2], "doubling after each failure, back to the interval after");

        let mut script = ScriptedHttp::new().reply(200, &device_response(Some(1), 600));
        for _ in 0..MAX_CONSECUTIVE_FAILURES {
            script = script.fail(unreachable());
        }
        let f = fixture(script, true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        let err = f.keyport.finish_device_sign_in(pending).await.unwrap_err();
        assert!(matches!(err, Error::Http(HttpError::Unreachable { .. })), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn other_token_errors_end_the_flow_and_bodies_are_never_quoted() {
        let script = ScriptedHttp::new()
            .reply(200, &device_response(Some(1), 600))
            .reply(200, r#"{"access_token":"SECRET-TOKEN-TEXT","token_type":7}"#);
        let f = fixture(script, true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        let err = f.keyport.finish_device_sign_in(pending).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRET-TOKEN-TEXT") && text.contains("token_type"), "{text}");

        let script = ScriptedHttp::new()
            .reply(200, &device_response(Some(1), 600))
            .reply(400, r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#);
        let f = fixture(script, true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        let err = f.keyport.finish_device_sign_in(pending).await.unwrap_err();
        assert!(matches!(&err, Error::TokenRefused { error, .. } if error == "invalid_grant"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_intervals_and_lifetimes_are_clamped() {
        // u64::MAX seconds for both: before the clamps, the first sleep overflowed `Instant`.
        let body = device_response(Some(u64::MAX), u64::MAX);
        let f = fixture(ScriptedHttp::new().reply(200, &body).reply(400, PENDING).reply(200, TOKENS), true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        assert_eq!((pending.interval(), pending.expires_in()), (MAX_INTERVAL, MAX_LIFETIME));
        assert_eq!(pending.expires_at(), time::macros::datetime!(2030-01-01 13:00 UTC));
        f.keyport.finish_device_sign_in(pending).await.unwrap();
        assert_eq!(f.http.gaps(0), [120, 120], "polled every MAX_INTERVAL");

        let f = fixture(ScriptedHttp::new().reply(200, &device_response(Some(0), 1)), true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        assert_eq!((pending.interval(), pending.expires_in()), (MIN_INTERVAL, Duration::from_secs(1)));

        let f = fixture(ScriptedHttp::new().reply(200, &device_response(Some(5), 0)), true, None).await;
        let err = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap_err();
        assert!(matches!(err, Error::BadDeviceResponse { .. }), "{err}");
    }

    #[tokio::test]
    async fn numbers_oauth2_cannot_read_are_a_bad_device_response() {
        for (interval, expires_in) in [
            ("-1", "600"),
            ("5", "-1"),
            ("5.5", "600"),
            ("5", "600.5"),
            (r#""5""#, "600"),
            ("1e400", "600"),
            ("5", "1e400"),
        ] {
            let body = format!(
                r#"{{"device_code":"SECRET-DEVICE-CODE","user_code":"A","verification_uri":"https://as.example/a","interval":{interval},"expires_in":{expires_in}}}"#
            );
            let f = fixture(ScriptedHttp::new().reply(200, &body), true, None).await;
            let err = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(matches!(err, Error::BadDeviceResponse { .. }), "{interval} {expires_in}: {text}");
            assert!(!text.contains("SECRET"), "{text}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_down_never_overflows_and_stays_under_the_cap() {
        let mut script = ScriptedHttp::new().reply(200, &device_response(Some(100), 3600));
        // GitHub-style intervals: absurd, negative, unreadable (ignored: plus 5 s), then plain.
        for body in [
            r#"{"error":"slow_down","interval":18446744073709551615}"#,
            r#"{"error":"slow_down","interval":-9223372036854775808}"#,
            r#"{"error":"slow_down","interval":"soon"}"#,
            r#"{"error":"slow_down","interval":1e300}"#,
            SLOW_DOWN,
        ] {
            script = script.reply(400, body);
        }
        let f = fixture(script.reply(200, TOKENS), true, None).await;
        let pending = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap();
        f.keyport.finish_device_sign_in(pending).await.unwrap();
        assert_eq!(f.http.gaps(0), [100, 120, 120, 120, 120, 120]);

        assert_eq!(slowed_down(Duration::MAX, None), MAX_INTERVAL);
        assert_eq!(slowed_down(Duration::from_secs(2), Some(Duration::MAX)), MAX_INTERVAL);
        assert_eq!(slowed_down(Duration::from_secs(2), Some(Duration::ZERO)), Duration::from_secs(7));
        assert_eq!(backoff(Duration::MAX, u32::MAX), Duration::MAX);
    }

    #[tokio::test]
    async fn providers_without_a_device_endpoint_are_told_plainly() {
        let f = fixture(ScriptedHttp::new(), false, None).await;
        let err = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap_err();
        assert!(matches!(err, Error::DeviceFlowUnsupported { .. }), "{err}");
        assert!(err.to_string().contains("has no device authorization endpoint"), "{err}");
        assert!(f.http.script.requests().is_empty(), "nothing was sent");
    }

    #[tokio::test]
    async fn refusals_and_garbage_from_the_device_endpoint_are_explained() {
        let f = fixture(ScriptedHttp::new().reply(400, r#"{"error":"unauthorized_client"}"#), true, None).await;
        let err = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap_err();
        assert!(matches!(err, Error::DeviceAuthorizationRefused { .. }), "{err}");
        assert!(err.to_string().contains("device flow is enabled"), "{err}");

        let body = r#"{"device_code":"SECRET-DEVICE-CODE","user_code":"A","verification_uri":"https://x/","expires_in":"soon"}"#;
        let f = fixture(ScriptedHttp::new().reply(200, body), true, None).await;
        let err = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, Error::BadDeviceResponse { .. }) && !text.contains("SECRET"), "{text}");

        let body = r#"{"device_code":"d","user_code":"A\u001b[2J","verification_uri":"https://x/","expires_in":60}"#;
        let f = fixture(ScriptedHttp::new().reply(200, body), true, None).await;
        let err = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap_err();
        assert!(matches!(err, Error::BadDeviceResponse { .. }), "terminal escapes in the user code: {err}");

        let body = r#"{"device_code":"d","user_code":"A","verification_uri":"http://evil.example/","expires_in":60}"#;
        let f = fixture(ScriptedHttp::new().reply(200, body), true, None).await;
        let err = f.keyport.begin_device_sign_in("p", DeviceRequest::default()).await.unwrap_err();
        assert!(matches!(err, Error::BadDeviceResponse { .. }), "plain http verification URI: {err}");
    }
}
