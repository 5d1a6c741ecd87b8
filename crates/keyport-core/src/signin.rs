//! Interactive sign-in: Authorization Code with PKCE (S256) through the system browser and
//! a loopback redirect (RFC 6749 §4.1, RFC 7636, RFC 8252), with `state`, OpenID Connect
//! `nonce` and RFC 9207 `iss` checks.
//!
//! Two steps, so a caller can show the URL before waiting: [`crate::Keyport::begin_sign_in`]
//! binds the listener and builds the URL; [`PendingSignIn::finish`] waits for the redirect,
//! exchanges the code and stores the account. The implicit and password grants are refused
//! outright ([`refuse_grant`]).

use std::borrow::Cow;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope};
use serde::Deserialize;
use url::Url;

use crate::account::{Account, Identity};
use crate::browser::BrowserError;
use crate::error::Error;
use crate::http::{self, HttpClient};
use crate::id_token;
use crate::oauth::{self, Exchange, Tokens};
use crate::provider::{IdentitySource, IssuerRule, Provider};
use crate::redirect::RedirectListener;
use crate::secret::Secret;

/// How long `keyport add` waits for the browser by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Random bytes in `state` and `nonce`: 256 bits, twice the 128 that RFC 6749 §10.10 asks.
const RANDOM_BYTES: u32 = 32;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct SignInRequest {
    /// Scopes to request; empty means the provider's defaults.
    pub scopes: Vec<String>,
    /// The account name; derived from the identity when `None`.
    pub account_name: Option<String>,
    /// How long to wait for the redirect.
    pub timeout: Duration,
    /// Open the browser (false: only show the URL).
    pub open_browser: bool,
    /// Signing in again to the existing account `account_name` ([`crate::Keyport::begin_reauth`]):
    /// the account is replaced when the same identity signs in, or, for an account whose
    /// identity was never known (no subject), whoever signs in.
    pub reauth: bool,
}

impl Default for SignInRequest {
    fn default() -> Self {
        Self { scopes: Vec::new(), account_name: None, timeout: DEFAULT_TIMEOUT, open_browser: true, reauth: false }
    }
}

/// A sign-in waiting for the browser.
#[derive(Debug)]
pub struct PendingSignIn {
    pub(crate) provider: Provider,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) listener: RedirectListener,
    pub(crate) url: Url,
    pub(crate) state: Secret,
    pub(crate) verifier: PkceCodeVerifier,
    pub(crate) nonce: Option<Secret>,
    pub(crate) scopes: Vec<String>,
    pub(crate) request: SignInRequest,
    pub(crate) browser: Option<Result<(), BrowserError>>,
}

impl PendingSignIn {
    /// How long [`Keyport::finish_sign_in`](crate::Keyport::finish_sign_in) waits for the
    /// browser before giving up.
    pub fn timeout(&self) -> Duration {
        self.request.timeout
    }

    /// The authorization URL (for the user to open by hand if no browser started).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The redirect URI the listener serves.
    pub fn redirect_uri(&self) -> &Url {
        self.listener.redirect_uri()
    }

    /// Whether the browser was started: `None` when not asked to, else the outcome.
    pub fn browser_outcome(&self) -> Option<&Result<(), BrowserError>> {
        self.browser.as_ref()
    }

    /// The scopes being requested.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

/// Builds the authorization request for `provider` and binds the listener.
pub(crate) fn begin(
    provider: Provider,
    client_secret: Option<Secret>,
    request: SignInRequest,
) -> Result<PendingSignIn, Error> {
    let scopes = if request.scopes.is_empty() { provider.default_scopes.clone() } else { request.scopes.clone() };
    let listener = RedirectListener::bind(provider.redirect_host, &provider.redirect_path)?;
    let client = oauth::client(&provider, client_secret.as_ref())?
        .set_redirect_uri(RedirectUrl::from_url(listener.redirect_uri().clone()));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(RANDOM_BYTES);
    let openid = scopes.iter().any(|s| s == "openid");
    let nonce = openid.then(|| Secret::new(random_token()));
    let mut authorize = client
        .authorize_url(|| CsrfToken::new_random_len(RANDOM_BYTES))
        .add_scopes(scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    if let Some(nonce) = &nonce {
        authorize = authorize.add_extra_param("nonce", nonce.expose().to_owned());
    }
    let mut params = provider.quirks.authorize_params.clone();
    if provider.quirks.consent_for_offline
        && scopes.iter().any(|s| s == "offline_access")
        && !params.iter().any(|(name, _)| name == "prompt")
    {
        params.push(("prompt".into(), "consent".into()));
    }
    for (name, value) in params {
        authorize = authorize.add_extra_param(name, value);
    }
    let (url, state) = authorize.url();
    Ok(PendingSignIn {
        provider,
        client_secret,
        listener,
        url,
        state: Secret::new(state.secret().clone()),
        verifier,
        nonce,
        scopes,
        request,
        browser: None,
    })
}

/// The outcome of a sign-in before it is stored.
#[derive(Debug)]
pub(crate) struct SignedIn {
    pub provider: Provider,
    pub tokens: Tokens,
    pub identity: Identity,
    pub granted: Vec<String>,
    pub requested: Vec<String>,
    pub account_name: Option<String>,
    /// A sign-in again to the existing account `account_name` (see [`SignInRequest::reauth`]).
    pub reauth: bool,
}

/// Waits for the redirect, checks it, exchanges the code and learns the identity.
pub(crate) async fn complete(
    pending: PendingSignIn,
    http: &dyn HttpClient,
    now: time::OffsetDateTime,
) -> Result<SignedIn, Error> {
    let PendingSignIn { provider, client_secret, listener, state, verifier, nonce, scopes, request, .. } = pending;
    let redirect_uri = listener.redirect_uri().clone();
    let callback = listener.wait(state.expose(), request.timeout).await?;
    check_iss(&provider, callback.iss.as_deref())?;

    let client = oauth::client(&provider, client_secret.as_ref())?;
    let exchange = Exchange::new(http);
    let response = client
        .exchange_code(AuthorizationCode::new(callback.code.expose().to_owned()))
        .set_pkce_verifier(verifier)
        .set_redirect_uri(Cow::Owned(RedirectUrl::from_url(redirect_uri)))
        .request_async(&exchange)
        .await
        .map_err(|err| oauth::token_error(err, exchange.last()))?;
    let tokens = Tokens::from_response(response, &provider.quirks)?;
    tracing::debug!(has_refresh_token = tokens.refresh_token.is_some(), expires_in = ?tokens.expires_in, "code exchanged");

    let reauth = request.reauth;
    let signed = signed_in(provider, tokens, scopes, nonce.as_ref(), request.account_name, http, now).await?;
    Ok(SignedIn { reauth, ..signed })
}

/// Turns a token response from an interactive grant (code or device) into a [`SignedIn`]:
/// granted scopes, ID token checks (`nonce` when one was sent), identity from userinfo.
pub(crate) async fn signed_in(
    provider: Provider,
    tokens: Tokens,
    scopes: Vec<String>,
    nonce: Option<&Secret>,
    account_name: Option<String>,
    http: &dyn HttpClient,
    now: time::OffsetDateTime,
) -> Result<SignedIn, Error> {
    let granted = granted_scopes(&provider, &scopes, &tokens);
    let mut identity = match &tokens.id_token {
        Some(raw) => id_token::check(
            raw.expose(),
            &id_token::Expected {
                issuer: provider.issuer.as_ref(),
                client_id: &provider.client_id,
                nonce: nonce.map(Secret::expose),
            },
            now,
        )?,
        None if nonce.is_some()
            && granted.iter().any(|s| s == "openid")
            && provider.quirks.identity == IdentitySource::OpenId =>
        {
            return Err(Error::IdTokenInvalid {
                reason: "the openid scope was granted but no ID token came back".into(),
            });
        }
        None => Identity::default(),
    };
    if identity.email.is_none() || identity.name.is_none() || identity.sub.is_none() {
        match fetch_identity(&provider, http, &tokens.access_token, &granted).await {
            Ok(Some(found)) => merge_identity(&mut identity, found)?,
            Ok(None) => {}
            // Who the user is matters less than keeping the grant they just gave.
            Err(err) => tracing::warn!(%err, "could not read the account's identity from the userinfo endpoint"),
        }
    }
    Ok(SignedIn { provider, tokens, identity, granted, requested: scopes, account_name, reauth: false })
}

/// RFC 9207 and the mix-up defence of RFC 9700 §4.4: an `iss` in the authorization response
/// must belong to the provider this sign-in was started with, or the code (and the PKCE
/// verifier with it) would go to this provider's token endpoint although another server
/// issued it. "Belongs" is the exact issuer when it is known, Microsoft's per-tenant issuer
/// form for its multi-tenant endpoints, and otherwise (endpoints given by hand, GitHub) the
/// origin of the provider's authorization endpoint. An absent `iss` is an error only when the
/// server promised to send one.
fn check_iss(provider: &Provider, iss: Option<&str>) -> Result<(), Error> {
    let expected = match &provider.issuer {
        Some(IssuerRule::Exact(expected)) => format!("`{expected}`"),
        Some(IssuerRule::MicrosoftTenant) => "`https://login.microsoftonline.com/{tenant}/v2.0`".to_owned(),
        None => format!("an issuer at `{}`", provider.endpoints.authorization.origin().ascii_serialization()),
    };
    let Some(got) = iss else {
        return match provider.issuer {
            Some(IssuerRule::Exact(_)) if provider.quirks.iss_parameter_required => {
                Err(Error::IssuerMismatch { expected, got: None })
            }
            _ => Ok(()),
        };
    };
    let belongs = match &provider.issuer {
        Some(IssuerRule::Exact(issuer)) => id_token::same_issuer(got, issuer),
        Some(IssuerRule::MicrosoftTenant) => id_token::is_microsoft_tenant_issuer(got),
        None => Url::parse(got).is_ok_and(|url| url.origin() == provider.endpoints.authorization.origin()),
    };
    if belongs { Ok(()) } else { Err(Error::IssuerMismatch { expected, got: Some(got.to_owned()) }) }
}

/// RFC 6749 §5.1: the response's `scope` when present, else what was requested. Scopes a
/// provider grants without echoing (Microsoft's `offline_access`) count when requested and a
/// refresh token came back.
fn granted_scopes(provider: &Provider, requested: &[String], tokens: &Tokens) -> Vec<String> {
    let mut granted = tokens.scope.clone().unwrap_or_else(|| requested.to_vec());
    if tokens.refresh_token.is_some() {
        for scope in &provider.quirks.unechoed_refresh_scopes {
            if requested.contains(scope) && !granted.contains(scope) {
                granted.push(scope.clone());
            }
        }
    }
    granted
}

fn merge_identity(identity: &mut Identity, found: Identity) -> Result<(), Error> {
    if let (Some(known), Some(other)) = (&identity.sub, &found.sub)
        && known != other
    {
        return Err(Error::IdTokenInvalid { reason: "the userinfo endpoint describes another subject".into() });
    }
    identity.sub = identity.sub.take().or(found.sub);
    identity.email = identity.email.take().or(found.email);
    identity.name = identity.name.take().or(found.name);
    Ok(())
}

#[derive(Debug, Deserialize)]
struct UserInfo {
    #[serde(default, deserialize_with = "crate::id_token::optional_subject")]
    sub: Option<String>,
    email: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// Asks the provider who the token belongs to.
async fn fetch_identity(
    provider: &Provider,
    http: &dyn HttpClient,
    token: &Secret,
    granted: &[String],
) -> Result<Option<Identity>, Error> {
    let Some(url) = &provider.endpoints.userinfo else { return Ok(None) };
    let get = |url: String| async move {
        let request = ::http::Request::get(url)
            .header(::http::header::AUTHORIZATION, format!("Bearer {}", token.expose()))
            .header(::http::header::ACCEPT, "application/json")
            .body(Vec::new())
            // A token with bytes a header cannot carry (a control character, say): found by
            // the token_response fuzz target, where `expect` here panicked the sign-in.
            .map_err(|_| Error::BadTokenResponse {
                reason: "userinfo: the access token cannot be sent in an HTTP header".into(),
            })?;
        http.send(request).await.map_err(Error::from)
    };
    let unusable = |reason: String| Error::BadTokenResponse { reason: format!("userinfo: {reason}") };
    match provider.quirks.identity {
        IdentitySource::None => Ok(None),
        IdentitySource::OpenId => {
            let info: UserInfo = http::json_body(&get(url.to_string()).await?).map_err(unusable)?;
            Ok(Some(Identity { sub: info.sub, email: info.email, name: info.name.or(info.preferred_username) }))
        }
        IdentitySource::GitHubUser => {
            let user: GitHubUser = http::json_body(&get(url.to_string()).await?).map_err(unusable)?;
            let mut email = user.email;
            if email.is_none() && granted.iter().any(|s| s == "user:email" || s == "user") {
                let emails_url = url.join("/user/emails").map_err(|e| unusable(e.to_string()))?;
                let emails: Vec<GitHubEmail> =
                    http::json_body(&get(emails_url.to_string()).await?).map_err(unusable)?;
                email = emails.into_iter().find(|e| e.primary && e.verified).map(|e| e.email);
            }
            Ok(Some(Identity { sub: Some(user.id.to_string()), email, name: user.name.or(Some(user.login)) }))
        }
    }
}

/// A grant that Keyport will not run, and why.
pub fn refuse_grant(grant: &str) -> Option<Error> {
    match grant {
        "implicit" | "token" => Some(Error::GrantRefused {
            grant: "implicit",
            why: "it returns the access token in the browser's address bar, where history, referrers and \
                  other apps can read it, and it cannot be bound to the client. OAuth 2.1 drops it and \
                  RFC 9700 (OAuth 2.0 Security Best Current Practice) says not to use it. Keyport uses the \
                  authorization code grant with PKCE instead; just run `keyport add PROVIDER`",
        }),
        "password" | "ropc" => Some(Error::GrantRefused {
            grant: "resource owner password",
            why: "it hands your password to the client, defeats multi-factor sign-in and phishing \
                  protection, and teaches people to type passwords outside the provider's page. OAuth 2.1 \
                  drops it and RFC 9700 says it must not be used. Use `keyport add PROVIDER` (browser) or \
                  `--device` on machines without a browser",
        }),
        _ => None,
    }
}

fn random_token() -> String {
    let bytes: [u8; RANDOM_BYTES as usize] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A default account name from the identity: the email, else `provider-sub`, else the provider.
pub(crate) fn default_account_name(provider: &str, identity: &Identity) -> String {
    if let Some(email) = &identity.email
        && crate::account::check_account_name(email).is_ok()
    {
        return email.clone();
    }
    let raw = match &identity.sub {
        Some(sub) => format!("{provider}-{sub}"),
        None => provider.to_owned(),
    };
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+') { c } else { '-' })
        .take(128)
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'a');
        name.truncate(128);
    }
    name
}

/// Builds the stored record for a new sign-in, keeping `created_at` of an account it replaces.
pub(crate) fn account_record(
    signed: &SignedIn,
    name: String,
    now: time::OffsetDateTime,
    created_at: Option<time::OffsetDateTime>,
) -> Account {
    let expires_at = signed.tokens.expires_in.map(|lifetime| oauth::expires_at(now, lifetime));
    let mut record = Account {
        name,
        provider: signed.provider.name.clone(),
        kind: crate::account::AccountKind::User,
        identity: signed.identity.clone(),
        scopes: signed.granted.clone(),
        requested_scopes: signed.requested.clone(),
        expires_at,
        token_issued_at: now,
        token_type: signed.tokens.token_type.clone(),
        has_refresh_token: signed.tokens.refresh_token.is_some(),
        health: crate::account::Health::Ok,
        client_id: None,
        last_refreshed_at: None,
        created_at: created_at.unwrap_or(now),
        updated_at: now,
        refresh_expires_at: None,
        refresh_unused_expires_at: None,
    };
    oauth::note_refresh_expiry(&mut record, &signed.tokens, now);
    record
}

#[cfg(test)]
mod tests {
    /// Servers that number their users send `sub` as an integer; it reads as its text, and a
    /// string stays a string.
    #[test]
    fn a_numeric_subject_in_userinfo_is_read_as_text() {
        let numeric: UserInfo = serde_json::from_str(r#"{"sub": 1, "email": "e@example.test"}"#).unwrap();
        assert_eq!(numeric.sub.as_deref(), Some("1"));
        let text: UserInfo = serde_json::from_str(r#"{"sub": "1"}"#).unwrap();
        assert_eq!(text.sub.as_deref(), Some("1"));
        let none: UserInfo = serde_json::from_str(r#"{"email": "e@example.test"}"#).unwrap();
        assert_eq!(none.sub, None);
        assert!(serde_json::from_str::<UserInfo>(r#"{"sub": [1]}"#).is_err());
    }
    use super::*;
    use crate::provider::{Preset, ProviderConfig, ProviderSource, RedirectHost};
    use sha2::{Digest, Sha256};

    fn provider(preset: Preset) -> Provider {
        ProviderConfig {
            source: ProviderSource::Preset { preset, tenant: None, base_url: None },
            client_id: "cid".into(),
            client_secret_in_keyring: false,
            scopes: None,
            redirect_host: RedirectHost::Ipv4,
            redirect_path: "/callback".into(),
            given_endpoints: Default::default(),
        }
        .resolve("p")
        .unwrap()
    }

    fn query(url: &Url) -> std::collections::HashMap<String, String> {
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn authorization_url_carries_pkce_s256_state_nonce_and_quirks() {
        let pending = begin(provider(Preset::Google), None, SignInRequest::default()).unwrap();
        let q = query(pending.url());
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["code_challenge_method"], "S256");
        // The challenge is BASE64URL(SHA256(verifier)) of the verifier kept for the exchange.
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.secret().as_bytes()));
        assert_eq!(q["code_challenge"], expected);
        assert!(pending.verifier.secret().len() >= 43);
        assert_eq!(q["state"], pending.state.expose());
        assert!(URL_SAFE_NO_PAD.decode(&q["state"]).unwrap().len() >= 16, "state has at least 128 bits");
        assert_eq!(q["nonce"], pending.nonce.as_ref().unwrap().expose());
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["scope"], "openid email profile");
        let redirect = Url::parse(&q["redirect_uri"]).unwrap();
        assert_eq!(redirect.host_str(), Some("127.0.0.1"));
        assert_eq!(redirect.path(), "/callback");
        assert_eq!(&redirect, pending.redirect_uri());
    }

    #[test]
    fn each_sign_in_gets_fresh_randomness() {
        let a = begin(provider(Preset::Gitlab), None, SignInRequest::default()).unwrap();
        let b = begin(provider(Preset::Gitlab), None, SignInRequest::default()).unwrap();
        assert_ne!(a.state.expose(), b.state.expose());
        assert_ne!(a.verifier.secret(), b.verifier.secret());
        assert_ne!(a.nonce.as_ref().unwrap().expose(), b.nonce.as_ref().unwrap().expose());
    }

    #[test]
    fn no_nonce_without_openid_and_requested_scopes_win() {
        let request = SignInRequest { scopes: vec!["repo".into()], ..SignInRequest::default() };
        let pending = begin(provider(Preset::Github), None, request).unwrap();
        let q = query(pending.url());
        assert_eq!(q["scope"], "repo");
        assert!(!q.contains_key("nonce") && pending.nonce.is_none());
    }

    fn tokens(scope: Option<Vec<&str>>, refresh: bool) -> Tokens {
        Tokens {
            access_token: Secret::new("a"),
            refresh_token: refresh.then(|| Secret::new("r")),
            expires_in: None,
            token_type: "Bearer".into(),
            scope: scope.map(|s| s.into_iter().map(String::from).collect()),
            id_token: None,
            refresh_expires_in: None,
            refresh_unused_limit: None,
        }
    }

    #[test]
    fn granted_scopes_follow_rfc_6749_and_microsoft_quirk() {
        let requested: Vec<String> = ["openid", "email", "offline_access"].map(String::from).to_vec();
        let generic = provider(Preset::Gitlab);
        assert_eq!(granted_scopes(&generic, &requested, &tokens(None, false)), requested);
        assert_eq!(granted_scopes(&generic, &requested, &tokens(Some(vec!["openid"]), true)), vec!["openid"]);
        let microsoft = provider(Preset::Microsoft);
        assert_eq!(
            granted_scopes(&microsoft, &requested, &tokens(Some(vec!["openid", "email"]), true)),
            vec!["openid", "email", "offline_access"]
        );
        assert_eq!(
            granted_scopes(&microsoft, &requested, &tokens(Some(vec!["openid", "email"]), false)),
            vec!["openid", "email"]
        );
    }

    #[test]
    fn issuer_parameter_is_checked_when_present() {
        let p = provider(Preset::Gitlab);
        assert!(check_iss(&p, Some("https://gitlab.com")).is_ok());
        assert!(check_iss(&p, None).is_ok());
        assert!(matches!(check_iss(&p, Some("https://evil.example")), Err(Error::IssuerMismatch { .. })));
        let mut strict = p.clone();
        strict.quirks.iss_parameter_required = true;
        assert!(matches!(check_iss(&strict, None), Err(Error::IssuerMismatch { got: None, .. })));
    }

    /// The mix-up defence for providers without a known issuer: GitHub, endpoints by hand.
    /// An `iss` from another server is refused; one at the authorization endpoint's origin is
    /// not; none at all is allowed, as those servers do not promise one.
    #[test]
    fn an_issuer_foreign_to_a_provider_without_a_known_issuer_is_refused() {
        let github = provider(Preset::Github);
        assert_eq!(github.issuer, None);
        assert!(check_iss(&github, None).is_ok());
        assert!(check_iss(&github, Some("https://github.com")).is_ok());
        let err = check_iss(&github, Some("https://accounts.google.com")).unwrap_err();
        assert!(matches!(&err, Error::IssuerMismatch { got: Some(got), .. } if got == "https://accounts.google.com"));
        let text = err.to_string();
        assert!(text.contains("https://accounts.google.com") && text.contains("https://github.com"), "{text}");
        assert!(check_iss(&github, Some("not a url")).is_err());
        assert!(check_iss(&github, Some("https://github.com.evil.example")).is_err());
        assert!(check_iss(&github, Some("http://github.com")).is_err(), "another scheme is another origin");
    }

    #[test]
    fn microsoft_multi_tenant_accepts_only_its_issuer_form() {
        let microsoft = provider(Preset::Microsoft);
        assert_eq!(microsoft.issuer, Some(IssuerRule::MicrosoftTenant));
        assert!(check_iss(&microsoft, None).is_ok());
        assert!(
            check_iss(&microsoft, Some("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"))
                .is_ok()
        );
        for bad in [
            "https://login.microsoftonline.com//v2.0",
            "https://login.microsoftonline.com/a/b/v2.0",
            "https://login.microsoftonline.com.evil.example/t/v2.0",
            "https://accounts.google.com",
        ] {
            assert!(check_iss(&microsoft, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn implicit_and_password_grants_are_refused_with_reasons() {
        let implicit = refuse_grant("implicit").unwrap().to_string();
        assert!(implicit.contains("RFC 9700") && implicit.contains("OAuth 2.1"), "{implicit}");
        let password = refuse_grant("password").unwrap().to_string();
        assert!(password.contains("RFC 9700") && password.contains("password"), "{password}");
        assert!(refuse_grant("authorization_code").is_none());
    }

    #[test]
    fn default_names_come_from_the_identity() {
        let id = |sub: Option<&str>, email: Option<&str>| Identity {
            sub: sub.map(String::from),
            email: email.map(String::from),
            name: None,
        };
        assert_eq!(default_account_name("google", &id(Some("1"), Some("a@b.c"))), "a@b.c");
        assert_eq!(default_account_name("gh", &id(Some("12 34"), None)), "gh-12-34");
        assert_eq!(default_account_name("local", &id(None, None)), "local");
    }
}
