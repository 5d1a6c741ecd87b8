//! `keyport revoke`: the provider revokes the account's tokens, then Keyport forgets the
//! account (tokens out of the keyring first, then the record).
//!
//! How a provider revokes is data, [`RevocationMethod`] in its quirks: RFC 7009, GitHub's grant
//! API, or no API at all (the user revokes on the provider's web page). This module never tests
//! a provider's name. It leaves out revoking other apps' tokens and the client secret itself.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use url::Url;

use crate::Keyport;
use crate::account::{Account, AccountKind};
use crate::error::Error;
use crate::events::AccountEvent;
use crate::http::{Request, Response};
use crate::keyport::blocking;
use crate::provider::{ClientAuth, Provider, RevocationMethod};
use crate::secret::Secret;
use crate::secrets::SecretKey;

/// What to do when the provider cannot revoke (network down, provider outage...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RevokeMode {
    /// Keep the account and its tokens and fail, so the revocation can be tried again.
    #[default]
    AtProvider,
    /// Try the provider first, then remove the account from Keyport whatever the provider
    /// answered (`keyport revoke --local`); the failure is reported in the outcome.
    RemoveLocallyAnyway,
}

/// What `revoke` did. In every case the account is gone from Keyport and the keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// The provider revoked the tokens (or told that they were already gone).
    Revoked {
        /// The account as it was.
        account: Account,
        /// Whether the provider's introspection endpoint confirmed it.
        verification: Verification,
    },
    /// The provider has no revocation API and [`RevokeMode::RemoveLocallyAnyway`] was given:
    /// Keyport only forgot the tokens, and the user should revoke Keyport's access at `page`
    /// (when known) to end the grant. Without that mode, such a revocation fails with
    /// [`Error::CannotRevoke`] and removes nothing.
    RevokeAtPage {
        /// The account as it was.
        account: Account,
        /// Where the user revokes access.
        page: Option<Url>,
    },
    /// The provider could not revoke ([`RevokeMode::RemoveLocallyAnyway`]): the account was
    /// removed from Keyport only, and its tokens may stay valid until they expire.
    RemovedLocally {
        /// The account as it was.
        account: Account,
        /// Why the provider did not revoke (no secret in it).
        reason: String,
    },
}

impl RevokeOutcome {
    /// The account, as it was before it was removed.
    pub fn account(&self) -> &Account {
        match self {
            Self::Revoked { account, .. }
            | Self::RevokeAtPage { account, .. }
            | Self::RemovedLocally { account, .. } => account,
        }
    }
}

/// Whether a revocation was checked with the provider's token introspection endpoint
/// (RFC 7662) afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The introspection endpoint said that every revoked token is inactive.
    Inactive,
    /// Not checked, and why in words (no introspection endpoint is known, or it would not
    /// answer Keyport's client). A token it said was still active fails the revocation
    /// instead.
    Unchecked(String),
}

/// What the provider said, before the account is forgotten.
enum AtProvider {
    Revoked(Verification),
    UserRevokes { page: Option<Url> },
}

/// Why the provider did not revoke. `Local` failures (the keyring) stop everything, since the
/// account could not be removed either; `Provider` ones may be overridden by `--local`.
enum Failure {
    Local(Error),
    Provider(String),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        match err {
            Error::Secrets(_)
            | Error::Io { .. }
            | Error::LockTimeout { .. }
            | Error::CorruptFile { .. }
            | Error::NewerFile { .. } => Self::Local(err),
            other => Self::Provider(other.to_string()),
        }
    }
}

impl Keyport {
    /// Revokes the account's tokens at its provider, then removes the account from Keyport
    /// and publishes [`AccountEvent::Revoked`]. When the provider fails, the account is kept
    /// and [`Error::RevokeFailed`] returned, unless `mode` says to remove it anyway.
    pub async fn revoke(&self, name: &str, mode: RevokeMode) -> Result<RevokeOutcome, Error> {
        let (keyport, owned) = (self.clone(), name.to_owned());
        blocking(move || keyport.account(&owned)).await?;
        // A refresh running meanwhile (the daemon, another `keyport`) must not store new tokens
        // after these are revoked: hold the account's renewal lock throughout.
        let _lock = self.renewal_lock(name).await?;
        let (keyport, owned) = (self.clone(), name.to_owned());
        let account = blocking(move || keyport.account(&owned)).await?;

        let attempt = match self.providers.get(&account.provider) {
            Ok(provider) => self.revoke_at_provider(&account, provider).await,
            Err(err) => Err(Failure::from(err)),
        };
        let outcome = match attempt {
            Ok(AtProvider::Revoked(verification)) => RevokeOutcome::Revoked { account, verification },
            Ok(AtProvider::UserRevokes { page }) => match mode {
                // Nothing can be revoked: say so before anything is removed.
                RevokeMode::AtProvider => {
                    return Err(Error::CannotRevoke {
                        account: name.to_owned(),
                        provider: account.provider,
                        page: page.map(String::from),
                    });
                }
                RevokeMode::RemoveLocallyAnyway => RevokeOutcome::RevokeAtPage { account, page },
            },
            Err(Failure::Local(err)) => return Err(err),
            Err(Failure::Provider(reason)) => match mode {
                RevokeMode::AtProvider => {
                    self.events.publish(AccountEvent::Error { account: name.to_owned(), message: reason.clone() });
                    return Err(Error::RevokeFailed { account: name.to_owned(), provider: account.provider, reason });
                }
                RevokeMode::RemoveLocallyAnyway => RevokeOutcome::RemovedLocally { account, reason },
            },
        };
        let (keyport, owned) = (self.clone(), name.to_owned());
        blocking(move || keyport.forget_account(&owned)).await?;
        self.events.publish(match outcome {
            RevokeOutcome::RemovedLocally { .. } => AccountEvent::Removed { account: name.to_owned() },
            _ => AccountEvent::Revoked { account: name.to_owned() },
        });
        Ok(outcome)
    }

    async fn revoke_at_provider(&self, account: &Account, mut provider: Provider) -> Result<AtProvider, Failure> {
        if let RevocationMethod::UserRevokes { page } = &provider.quirks.revocation {
            return Ok(AtProvider::UserRevokes { page: page.clone() });
        }
        // A service account authenticates as its own client, with its own secret.
        if let (AccountKind::Service, Some(client_id)) = (account.kind, &account.client_id) {
            provider.client_id = client_id.clone();
        }
        let (keyport, record, for_secret) = (self.clone(), account.clone(), provider.clone());
        let (access, refresh, secret) = blocking(move || -> Result<_, Failure> {
            let namespace = keyport.accounts.namespace()?;
            let access =
                keyport.secrets.get(&SecretKey::access_token(&namespace, &record.name)).map_err(Error::from)?;
            // A rotated refresh token the keyring has not taken yet is the live one.
            let refresh = match keyport.renewals.unsaved_refresh_token(&record.name) {
                Some(token) => Some(token),
                None => {
                    keyport.secrets.get(&SecretKey::refresh_token(&namespace, &record.name)).map_err(Error::from)?
                }
            };
            let secret = match record.kind {
                AccountKind::Service => {
                    match keyport.secrets.get(&SecretKey::account_client_secret(&namespace, &record.name)) {
                        Ok(Some(secret)) => Some(secret),
                        Ok(None) => keyport.client_secret(&for_secret)?,
                        Err(err) => return Err(Failure::Local(err.into())),
                    }
                }
                AccountKind::User => keyport.client_secret(&for_secret)?,
            };
            Ok((access, refresh, secret))
        })
        .await?;
        match provider.quirks.revocation.clone() {
            RevocationMethod::UserRevokes { page } => Ok(AtProvider::UserRevokes { page }),
            RevocationMethod::Rfc7009 => self.revoke_rfc7009(&provider, secret.as_ref(), refresh, access).await,
            RevocationMethod::GithubGrant { api } => {
                let Some(secret) = secret else {
                    return Err(Failure::Provider(Error::ClientSecretRequired { provider: provider.name }.to_string()));
                };
                let Some(access) = access else {
                    return Err(Failure::Provider(
                        "the keyring holds no access token, which the provider needs to find the grant".into(),
                    ));
                };
                self.delete_github_grant(&api, &provider.client_id, &secret, &access).await
            }
        }
    }

    /// RFC 7009: the refresh token first (on most servers that ends the whole grant), then the
    /// access token. `unsupported_token_type` for one of them is not fatal. Built here rather
    /// than with `oauth2`'s `revoke_token`, which refuses the plain-http loopback URLs that the
    /// endpoint rule allows. Then, when the provider has an introspection endpoint, each
    /// revoked token is looked up there ([`Self::introspect_revoked`]).
    async fn revoke_rfc7009(
        &self,
        provider: &Provider,
        secret: Option<&Secret>,
        refresh: Option<Secret>,
        access: Option<Secret>,
    ) -> Result<AtProvider, Failure> {
        let Some(url) = &provider.endpoints.revocation else {
            return Ok(AtProvider::UserRevokes { page: None });
        };
        let tokens: Vec<(&str, Secret)> = [refresh.map(|t| ("refresh_token", t)), access.map(|t| ("access_token", t))]
            .into_iter()
            .flatten()
            .collect();
        if tokens.is_empty() {
            return Err(Failure::Provider("the keyring holds none of its tokens to revoke".into()));
        }
        let mut revoked = Vec::new();
        for (hint, token) in tokens {
            let what = hint.replace('_', " ");
            let request = token_form_request(provider, url, secret, &token, hint)
                .map_err(|err| Failure::Provider(format!("could not build the request: {err}")))?;
            let response = self.http.send(request).await.map_err(|err| Failure::Provider(format!("{what}: {err}")))?;
            match judge_rfc7009(&response) {
                Judgement::Revoked => revoked.push((hint, token)),
                Judgement::Unsupported => {
                    tracing::warn!(provider = %provider.name, "the provider cannot revoke a {what} (unsupported_token_type)");
                }
                Judgement::Failed(reason) => return Err(Failure::Provider(format!("{what}: {reason}"))),
            }
        }
        if revoked.is_empty() {
            return Err(Failure::Provider(
                "the provider revokes none of its token types (unsupported_token_type)".into(),
            ));
        }
        Ok(AtProvider::Revoked(self.introspect_revoked(provider, secret, &revoked).await?))
    }

    /// RFC 7662: asks the provider's introspection endpoint about each token it just revoked,
    /// with the same client authentication. `active: false` for all is [`Verification::Inactive`];
    /// a token still active fails the revocation (the provider said it revoked what it did not,
    /// so the account is kept for another try); an endpoint that does not answer Keyport's
    /// client (most want a confidential client) leaves it [`Verification::Unchecked`].
    async fn introspect_revoked(
        &self,
        provider: &Provider,
        secret: Option<&Secret>,
        revoked: &[(&str, Secret)],
    ) -> Result<Verification, Failure> {
        let Some(url) = &provider.endpoints.introspection else {
            return Ok(Verification::Unchecked("the provider has no introspection endpoint Keyport knows".into()));
        };
        for (hint, token) in revoked {
            let what = hint.replace('_', " ");
            let request = token_form_request(provider, url, secret, token, hint)
                .map_err(|err| Failure::Provider(format!("could not build the request: {err}")))?;
            let response = match self.http.send(request).await {
                Ok(response) => response,
                Err(err) => return Ok(Verification::Unchecked(format!("the introspection endpoint failed: {err}"))),
            };
            match judge_introspection(&response) {
                Ok(false) => {}
                Ok(true) => {
                    return Err(Failure::Provider(format!(
                        "the provider said it revoked the {what}, but its introspection endpoint says the {what} \
                         is still active"
                    )));
                }
                Err(reason) => return Ok(Verification::Unchecked(format!("the introspection endpoint {reason}"))),
            }
        }
        Ok(Verification::Inactive)
    }

    /// GitHub: `DELETE /applications/{client_id}/grant` ends the grant and all its tokens.
    async fn delete_github_grant(
        &self,
        api: &Url,
        client_id: &str,
        secret: &Secret,
        access: &Secret,
    ) -> Result<AtProvider, Failure> {
        let mut url = api.clone();
        url.path_segments_mut()
            .map_err(|()| Failure::Provider(format!("{api} cannot be a base URL")))?
            .pop_if_empty()
            .extend(["applications", client_id, "grant"]);
        let credentials = BASE64.encode(format!("{client_id}:{}", secret.expose()));
        let body = serde_json::to_vec(&serde_json::json!({ "access_token": access.expose() }))
            .expect("a JSON object serializes");
        let request = http::Request::builder()
            .method(http::Method::DELETE)
            .uri(url.as_str())
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::AUTHORIZATION, format!("Basic {credentials}"))
            .body(body)
            .map_err(|err| Failure::Provider(format!("could not build the request: {err}")))?;
        let response = self.http.send(request).await.map_err(|err| Failure::Provider(err.to_string()))?;
        match response.status().as_u16() {
            200..=299 | 404 | 422 => {
                Ok(AtProvider::Revoked(Verification::Unchecked("GitHub has no introspection endpoint".into())))
            }
            status => Err(Failure::Provider(format!("the provider answered HTTP {status}"))),
        }
    }
}

/// One RFC 7009 revocation or RFC 7662 introspection request (the two have the same form):
/// `token` and `token_type_hint`, with client authentication as the token endpoint wants it
/// (RFC 6749 §2.3.1) for a confidential client, or `client_id` alone for a public one.
fn token_form_request(
    provider: &Provider,
    url: &Url,
    secret: Option<&Secret>,
    token: &Secret,
    hint: &str,
) -> Result<Request, http::Error> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token.expose()).append_pair("token_type_hint", hint);
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(url.as_str())
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    match (secret, provider.quirks.token_auth) {
        (Some(secret), ClientAuth::Basic) => {
            let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
            let credentials = BASE64.encode(format!("{}:{}", encode(&provider.client_id), encode(secret.expose())));
            request = request.header(http::header::AUTHORIZATION, format!("Basic {credentials}"));
        }
        (Some(secret), ClientAuth::Post) => {
            form.append_pair("client_id", &provider.client_id).append_pair("client_secret", secret.expose());
        }
        (None, _) => {
            form.append_pair("client_id", &provider.client_id);
        }
    }
    request.body(form.finish().into_bytes())
}

enum Judgement {
    Revoked,
    Unsupported,
    Failed(String),
}

/// Reads one RFC 7009 answer. Only the status and a well-formed OAuth error code are reported,
/// never the body itself.
fn judge_rfc7009(response: &Response) -> Judgement {
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Judgement::Revoked;
    }
    #[derive(serde::Deserialize)]
    struct OAuthError {
        error: String,
    }
    let code = serde_json::from_slice::<OAuthError>(response.body()).ok().map(|e| e.error).filter(|code| {
        code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    });
    match code.as_deref() {
        Some("unsupported_token_type") => Judgement::Unsupported,
        Some(code) => Judgement::Failed(format!("the provider answered HTTP {status} with error `{code}`")),
        None => Judgement::Failed(format!("the provider answered HTTP {status}")),
    }
}

/// Reads an RFC 7662 answer: `Ok(active)`, or why it says nothing (its status, or not the
/// JSON expected). Never copies the body.
fn judge_introspection(response: &Response) -> Result<bool, String> {
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return Err(format!("answered HTTP {status}"));
    }
    #[derive(serde::Deserialize)]
    struct Introspection {
        active: bool,
    }
    serde_json::from_slice::<Introspection>(response.body())
        .map(|answer| answer.active)
        .map_err(|_| "answered without a boolean `active`".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::browser::NoBrowser;
    use crate::clock::FixedClock;
    use crate::http::HttpError;
    use crate::paths::Paths;
    use crate::provider::{Endpoints, MicrosoftTenant, Preset, RedirectHost};
    use crate::secrets::MemoryStore;
    use crate::testing::ScriptedHttp;
    use crate::{NewProvider, ProviderSpec};

    const REVOKE_URL: &str = "https://as.example/revoke";

    struct Fixture {
        _dir: tempfile::TempDir,
        keyport: Keyport,
        http: Arc<ScriptedHttp>,
        secrets: Arc<MemoryStore>,
    }

    impl Fixture {
        fn new(http: ScriptedHttp) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let paths =
                Paths { config_dir: dir.path().join("config"), data_dir: dir.path().join("data"), runtime_dir: None };
            let http = Arc::new(http);
            let secrets = Arc::new(MemoryStore::new());
            let keyport = Keyport::new(
                &paths,
                secrets.clone(),
                http.clone(),
                Arc::new(FixedClock::new(time::macros::datetime!(2026-01-01 12:00 UTC))),
                Arc::new(NoBrowser),
            );
            Self { _dir: dir, keyport, http, secrets }
        }

        async fn provider(&self, name: &str, spec: ProviderSpec, secret: Option<&str>) {
            let new = NewProvider {
                spec,
                client_id: "cid".into(),
                client_secret: secret.map(Secret::new),
                scopes: vec![],
                redirect_host: RedirectHost::Ipv4,
                redirect_path: None,
                given_endpoints: Default::default(),
            };
            self.keyport.add_provider(name, new).await.unwrap();
        }

        /// Stores an account as a sign-in would: tokens first, then the record.
        fn account(&self, name: &str, provider: &str, refresh: bool) {
            let namespace = self.keyport.accounts.namespace().unwrap();
            let secrets = &self.keyport.secrets;
            secrets.set(&SecretKey::access_token(&namespace, name), &Secret::new("AT-1")).unwrap();
            if refresh {
                secrets.set(&SecretKey::refresh_token(&namespace, name), &Secret::new("RT-1")).unwrap();
            }
            // From JSON, so fields added later with defaults need no change here.
            let record: Account = serde_json::from_value(serde_json::json!({
                "name": name, "provider": provider, "kind": "user",
                "identity": {"sub": "alice", "email": null, "name": null},
                "scopes": [], "requested_scopes": [], "expires_at": null,
                "token_issued_at": "2026-01-01T12:00:00Z", "token_type": "Bearer",
                "has_refresh_token": refresh, "health": {"state": "ok"},
                "created_at": "2026-01-01T12:00:00Z", "updated_at": "2026-01-01T12:00:00Z",
            }))
            .unwrap();
            self.keyport
                .accounts
                .update(|data| {
                    data.accounts.push(record);
                    Ok(())
                })
                .unwrap();
        }

        fn token_keys(&self) -> Vec<String> {
            self.secrets.keys().into_iter().filter(|k| k.contains("/account/")).collect()
        }
    }

    fn manual(revocation: Option<&str>) -> ProviderSpec {
        ProviderSpec::Manual(Box::new(Endpoints {
            authorization: Url::parse("https://as.example/auth").unwrap(),
            token: Url::parse("https://as.example/token").unwrap(),
            revocation: revocation.map(|u| Url::parse(u).unwrap()),
            device_authorization: None,
            userinfo: None,
            introspection: None,
        }))
    }

    fn form(body: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
    }

    fn basic_auth(headers: &http::HeaderMap) -> Option<String> {
        let value = headers.get(http::header::AUTHORIZATION)?.to_str().unwrap();
        let encoded = value.strip_prefix("Basic ").expect("Basic authentication");
        Some(String::from_utf8(BASE64.decode(encoded).unwrap()).unwrap())
    }

    #[tokio::test]
    async fn rfc7009_revokes_the_refresh_token_then_the_access_token_as_a_public_client() {
        let f = Fixture::new(ScriptedHttp::new().reply(200, "").reply(200, ""));
        f.provider("p", manual(Some(REVOKE_URL)), None).await;
        f.account("a", "p", true);
        let mut events = f.keyport.subscribe();

        let outcome = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
        assert!(
            matches!(&outcome, RevokeOutcome::Revoked { account, verification: Verification::Unchecked(_) } if account.name == "a"),
            "{outcome:?}"
        );

        let requests = f.http.requests();
        assert_eq!(requests.len(), 2);
        for (method, url, _) in &requests {
            assert_eq!((method.as_str(), url.as_str()), ("POST", REVOKE_URL));
        }
        let first = form(&requests[0].2);
        assert!(first.contains(&("token".into(), "RT-1".into())), "{first:?}");
        assert!(first.contains(&("token_type_hint".into(), "refresh_token".into())), "{first:?}");
        assert!(first.contains(&("client_id".into(), "cid".into())), "{first:?}");
        let second = form(&requests[1].2);
        assert!(second.contains(&("token".into(), "AT-1".into())), "{second:?}");
        assert!(second.contains(&("token_type_hint".into(), "access_token".into())), "{second:?}");
        assert!(second.contains(&("client_id".into(), "cid".into())), "{second:?}");
        assert!(basic_auth(&f.http.request_headers(0)).is_none());

        assert!(f.keyport.accounts().unwrap().is_empty());
        assert!(f.token_keys().is_empty(), "{:?}", f.token_keys());
        assert_eq!(events.recv().await.unwrap(), AccountEvent::Revoked { account: "a".into() });
    }

    #[tokio::test]
    async fn rfc7009_authenticates_a_confidential_client() {
        let f = Fixture::new(ScriptedHttp::new().reply(200, "").reply(200, ""));
        f.provider("p", manual(Some(REVOKE_URL)), Some("s3cret")).await;
        f.account("a", "p", true);
        f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
        for (index, (_, _, body)) in f.http.requests().iter().enumerate() {
            assert_eq!(basic_auth(&f.http.request_headers(index)).as_deref(), Some("cid:s3cret"));
            assert!(!body.contains("s3cret"), "the secret goes in the header only: {body}");
        }
        // The provider's client secret stays: only the account is gone.
        assert_eq!(f.secrets.keys().len(), 1);
    }

    #[tokio::test]
    async fn rfc7009_sends_the_secret_in_the_form_when_the_provider_wants_client_secret_post() {
        let f = Fixture::new(ScriptedHttp::new().reply(200, "").reply(200, ""));
        let spec = ProviderSpec::Preset { preset: Preset::Google, tenant: None, base_url: None };
        f.provider("g", spec, Some("g-secret")).await;
        f.account("a", "g", true);
        f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
        for (index, (_, url, body)) in f.http.requests().iter().enumerate() {
            assert_eq!(url, "https://oauth2.googleapis.com/revoke");
            let form = form(body);
            assert!(form.contains(&("client_id".into(), "cid".into())), "{form:?}");
            assert!(form.contains(&("client_secret".into(), "g-secret".into())), "{form:?}");
            assert!(basic_auth(&f.http.request_headers(index)).is_none());
        }
    }

    #[tokio::test]
    async fn unsupported_token_type_for_one_token_is_not_fatal() {
        let http = ScriptedHttp::new().reply(400, r#"{"error":"unsupported_token_type"}"#).reply(200, "");
        let f = Fixture::new(http);
        f.provider("p", manual(Some(REVOKE_URL)), None).await;
        f.account("a", "p", true);
        let outcome = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
        assert!(matches!(outcome, RevokeOutcome::Revoked { .. }));
        assert!(f.keyport.accounts().unwrap().is_empty());
    }

    #[tokio::test]
    async fn without_a_refresh_token_only_the_access_token_is_revoked() {
        let f = Fixture::new(ScriptedHttp::new().reply(200, ""));
        f.provider("p", manual(Some(REVOKE_URL)), None).await;
        f.account("a", "p", false);
        f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
        let requests = f.http.requests();
        assert_eq!(requests.len(), 1);
        assert!(form(&requests[0].2).contains(&("token_type_hint".into(), "access_token".into())));
    }

    #[tokio::test]
    async fn a_service_account_revokes_its_access_token_as_its_own_client() {
        let f = Fixture::new(ScriptedHttp::new().reply(200, ""));
        f.provider("p", manual(Some(REVOKE_URL)), None).await;
        f.account("svc", "p", false);
        let namespace = f.keyport.accounts.namespace().unwrap();
        f.keyport
            .secrets
            .set(&SecretKey::account_client_secret(&namespace, "svc"), &Secret::new("svc-secret"))
            .unwrap();
        f.keyport
            .accounts
            .update(|data| {
                data.accounts[0].kind = AccountKind::Service;
                data.accounts[0].client_id = Some("svc-client".into());
                Ok(())
            })
            .unwrap();
        f.keyport.revoke("svc", RevokeMode::AtProvider).await.unwrap();
        let requests = f.http.requests();
        assert_eq!(requests.len(), 1);
        assert!(form(&requests[0].2).contains(&("token_type_hint".into(), "access_token".into())));
        assert_eq!(basic_auth(&f.http.request_headers(0)).as_deref(), Some("svc-client:svc-secret"));
        assert!(f.secrets.keys().is_empty(), "the account's client secret goes too: {:?}", f.secrets.keys());
    }

    #[tokio::test]
    async fn a_provider_outage_keeps_the_account_and_its_tokens() {
        let http = ScriptedHttp::new().reply_typed(503, "text/html", "<h1>down</h1> SECRET-BODY-TEXT");
        let f = Fixture::new(http);
        f.provider("p", manual(Some(REVOKE_URL)), None).await;
        f.account("a", "p", true);
        let mut events = f.keyport.subscribe();

        let err = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::RevokeFailed { .. }), "{text}");
        assert!(text.contains("HTTP 503") && text.contains("--local") && text.contains("kept"), "{text}");
        assert!(!text.contains("SECRET-BODY-TEXT") && !text.contains("down"), "{text}");
        assert_eq!(f.http.requests().len(), 1, "the access token is not tried after a failure");
        assert_eq!(f.keyport.accounts().unwrap().len(), 1);
        assert_eq!(f.token_keys().len(), 2);
        assert!(matches!(events.recv().await.unwrap(), AccountEvent::Error { .. }));
    }

    #[tokio::test]
    async fn an_unreachable_provider_keeps_the_account() {
        let http = ScriptedHttp::new()
            .fail(HttpError::Unreachable { host: "as.example".into(), detail: "connection refused".into() });
        let f = Fixture::new(http);
        f.provider("p", manual(Some(REVOKE_URL)), None).await;
        f.account("a", "p", true);
        let err = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap_err();
        assert!(err.to_string().contains("could not reach as.example"), "{err}");
        assert_eq!(f.keyport.accounts().unwrap().len(), 1);
        assert_eq!(f.token_keys().len(), 2);
    }

    #[tokio::test]
    async fn oauth_errors_other_than_unsupported_token_type_fail() {
        let f = Fixture::new(ScriptedHttp::new().reply(401, r#"{"error":"invalid_client"}"#));
        f.provider("p", manual(Some(REVOKE_URL)), None).await;
        f.account("a", "p", true);
        let err = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap_err();
        assert!(err.to_string().contains("HTTP 401 with error `invalid_client`"), "{err}");
        assert_eq!(f.keyport.accounts().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn local_mode_removes_the_account_when_the_provider_fails() {
        let f = Fixture::new(ScriptedHttp::new().reply(503, r#"{"error":"temporarily_unavailable"}"#));
        f.provider("p", manual(Some(REVOKE_URL)), None).await;
        f.account("a", "p", true);
        let mut events = f.keyport.subscribe();
        let outcome = f.keyport.revoke("a", RevokeMode::RemoveLocallyAnyway).await.unwrap();
        let RevokeOutcome::RemovedLocally { reason, .. } = outcome else { panic!("{outcome:?}") };
        assert!(reason.contains("503"), "{reason}");
        assert!(f.keyport.accounts().unwrap().is_empty());
        assert!(f.token_keys().is_empty());
        assert_eq!(events.recv().await.unwrap(), AccountEvent::Removed { account: "a".into() });
    }

    #[tokio::test]
    async fn github_deletes_the_grant_with_basic_client_auth() {
        let f = Fixture::new(ScriptedHttp::new().reply(204, ""));
        let spec = ProviderSpec::Preset { preset: Preset::Github, tenant: None, base_url: None };
        f.provider("gh", spec, Some("gh-secret")).await;
        f.account("a", "gh", false);
        let outcome = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
        assert!(matches!(outcome, RevokeOutcome::Revoked { .. }));

        let requests = f.http.requests();
        assert_eq!(requests.len(), 1);
        let (method, url, body) = &requests[0];
        assert_eq!(method, "DELETE");
        assert_eq!(url, "https://api.github.com/applications/cid/grant");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
            serde_json::json!({"access_token": "AT-1"})
        );
        let headers = f.http.request_headers(0);
        assert_eq!(basic_auth(&headers).as_deref(), Some("cid:gh-secret"));
        assert_eq!(headers["accept"], "application/vnd.github+json");
        assert_eq!(headers["x-github-api-version"], "2022-11-28");
        assert_eq!(headers["content-type"], "application/json");
        assert!(f.keyport.accounts().unwrap().is_empty());
        assert!(f.token_keys().is_empty());
    }

    #[tokio::test]
    async fn github_grant_already_gone_counts_as_revoked_and_errors_keep_the_account() {
        for status in [404, 422] {
            let f = Fixture::new(ScriptedHttp::new().reply(status, r#"{"message":"Not Found"}"#));
            let spec = ProviderSpec::Preset { preset: Preset::Github, tenant: None, base_url: None };
            f.provider("gh", spec, Some("gh-secret")).await;
            f.account("a", "gh", false);
            let outcome = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
            assert!(matches!(outcome, RevokeOutcome::Revoked { .. }), "{status}");
        }
        let f = Fixture::new(ScriptedHttp::new().reply(500, "{}"));
        let spec = ProviderSpec::Preset { preset: Preset::Github, tenant: None, base_url: None };
        f.provider("gh", spec, Some("gh-secret")).await;
        f.account("a", "gh", false);
        let err = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap_err();
        assert!(err.to_string().contains("HTTP 500"), "{err}");
        assert_eq!(f.keyport.accounts().unwrap().len(), 1);
    }

    /// Microsoft has no revocation API. `revoke` says so, names the page where the user
    /// revokes, and removes nothing; with `--local` the account is removed and the page given.
    #[tokio::test]
    async fn microsoft_has_no_api_so_revoke_removes_nothing_unless_told_to_remove_locally() {
        for (tenant, page) in [
            (MicrosoftTenant::Organizations, "https://myaccount.microsoft.com/"),
            (MicrosoftTenant::Common, "https://myaccount.microsoft.com/"),
            (MicrosoftTenant::Consumers, "https://account.live.com/consent/Manage"),
        ] {
            let f = Fixture::new(ScriptedHttp::new());
            let spec = ProviderSpec::Preset { preset: Preset::Microsoft, tenant: Some(tenant), base_url: None };
            f.provider("ms", spec, None).await;
            f.account("a", "ms", true);
            let err = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap_err();
            let Error::CannotRevoke { page: Some(got), .. } = &err else { panic!("{err:?}") };
            assert_eq!(got, page);
            let text = err.to_string();
            assert!(text.contains("nothing was revoked") && text.contains(page), "{text}");
            assert_eq!(f.keyport.accounts().unwrap().len(), 1, "the account is kept");
            assert_eq!(f.token_keys().len(), 2, "its tokens are kept");

            let mut events = f.keyport.subscribe();
            let outcome = f.keyport.revoke("a", RevokeMode::RemoveLocallyAnyway).await.unwrap();
            let RevokeOutcome::RevokeAtPage { page: Some(got), .. } = &outcome else { panic!("{outcome:?}") };
            assert_eq!(got.as_str(), page);
            assert!(f.http.requests().is_empty(), "no request to a provider without an API");
            assert!(f.keyport.accounts().unwrap().is_empty());
            assert!(f.token_keys().is_empty());
            assert_eq!(events.recv().await.unwrap(), AccountEvent::Revoked { account: "a".into() });
        }
    }

    #[tokio::test]
    async fn a_provider_without_a_revocation_url_cannot_revoke_and_keeps_the_account() {
        let f = Fixture::new(ScriptedHttp::new());
        f.provider("p", manual(None), None).await;
        f.account("a", "p", true);
        let err = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap_err();
        assert!(matches!(&err, Error::CannotRevoke { page: None, provider, .. } if provider == "p"), "{err:?}");
        assert!(err.to_string().contains("keyport provider edit p --revoke-url URL"), "{err}");
        assert_eq!(f.keyport.accounts().unwrap().len(), 1);
        let outcome = f.keyport.revoke("a", RevokeMode::RemoveLocallyAnyway).await.unwrap();
        assert!(matches!(outcome, RevokeOutcome::RevokeAtPage { page: None, .. }), "{outcome:?}");
        assert!(f.keyport.accounts().unwrap().is_empty());
    }

    fn with_introspection(spec: ProviderSpec) -> ProviderSpec {
        let ProviderSpec::Manual(mut endpoints) = spec else { unreachable!() };
        endpoints.introspection = Some(Url::parse(INTROSPECT_URL).unwrap());
        ProviderSpec::Manual(endpoints)
    }

    const INTROSPECT_URL: &str = "https://as.example/introspect";

    /// After revoking, each revoked token is looked up at the introspection endpoint with the
    /// same client authentication; all inactive is a verified revocation.
    #[tokio::test]
    async fn revoked_tokens_are_checked_inactive_at_the_introspection_endpoint() {
        let inactive = r#"{"active": false}"#;
        let f =
            Fixture::new(ScriptedHttp::new().reply(200, "").reply(200, "").reply(200, inactive).reply(200, inactive));
        f.provider("p", with_introspection(manual(Some(REVOKE_URL))), Some("s3cret")).await;
        f.account("a", "p", true);
        let outcome = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
        assert!(matches!(outcome, RevokeOutcome::Revoked { verification: Verification::Inactive, .. }), "{outcome:?}");
        let requests = f.http.requests();
        assert_eq!(requests.len(), 4);
        for (n, (hint, token)) in [(2, ("refresh_token", "RT-1")), (3, ("access_token", "AT-1"))] {
            assert_eq!(requests[n].1.as_str(), INTROSPECT_URL);
            let body = form(&requests[n].2);
            assert!(body.contains(&("token".into(), token.into())), "{body:?}");
            assert!(body.contains(&("token_type_hint".into(), hint.into())), "{body:?}");
            assert_eq!(basic_auth(&f.http.request_headers(n)).as_deref(), Some("cid:s3cret"));
        }
    }

    /// A provider that says it revoked a token its introspection endpoint still calls active
    /// did not revoke it: the account is kept, so the user can try again (or remove it).
    #[tokio::test]
    async fn a_token_still_active_after_revocation_fails_it_and_keeps_the_account() {
        let f = Fixture::new(
            ScriptedHttp::new().reply(200, "").reply(200, "").reply(200, r#"{"active": true, "sub": "alice"}"#),
        );
        f.provider("p", with_introspection(manual(Some(REVOKE_URL))), None).await;
        f.account("a", "p", true);
        let err = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap_err();
        assert!(matches!(&err, Error::RevokeFailed { .. }), "{err:?}");
        assert!(err.to_string().contains("refresh token is still active"), "{err}");
        assert_eq!(f.keyport.accounts().unwrap().len(), 1);
        assert_eq!(f.token_keys().len(), 2);
    }

    /// An introspection endpoint that will not answer Keyport's client (401, not JSON) or
    /// cannot be reached leaves the revocation done but unverified, and says why.
    #[tokio::test]
    async fn an_introspection_endpoint_that_will_not_answer_leaves_the_revocation_unverified() {
        for (status, body, why) in
            [(401, r#"{"error":"invalid_client"}"#, "HTTP 401"), (200, "<html>", "without a boolean `active`")]
        {
            let f = Fixture::new(ScriptedHttp::new().reply(200, "").reply(200, "").reply(status, body));
            f.provider("p", with_introspection(manual(Some(REVOKE_URL))), None).await;
            f.account("a", "p", true);
            let outcome = f.keyport.revoke("a", RevokeMode::AtProvider).await.unwrap();
            let RevokeOutcome::Revoked { verification: Verification::Unchecked(reason), .. } = &outcome else {
                panic!("{outcome:?}")
            };
            assert!(reason.contains(why), "{reason}");
            assert!(f.keyport.accounts().unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn revocation_methods_are_provider_data() {
        let f = Fixture::new(ScriptedHttp::new());
        f.provider("google", ProviderSpec::Preset { preset: Preset::Google, tenant: None, base_url: None }, Some("s"))
            .await;
        f.provider("gitlab", ProviderSpec::Preset { preset: Preset::Gitlab, tenant: None, base_url: None }, None).await;
        f.provider("manual", manual(Some(REVOKE_URL)), None).await;
        for provider in f.keyport.providers().unwrap() {
            assert_eq!(provider.quirks.revocation, RevocationMethod::Rfc7009, "{}", provider.name);
        }
    }

    #[test]
    fn the_revoke_future_is_send_for_the_daemon() {
        fn send<T: Send>(_: T) {}
        let f = Fixture::new(ScriptedHttp::new());
        send(f.keyport.revoke("a", RevokeMode::AtProvider));
    }

    #[tokio::test]
    async fn unknown_accounts_are_reported() {
        let f = Fixture::new(ScriptedHttp::new());
        let err = f.keyport.revoke("nobody", RevokeMode::RemoveLocallyAnyway).await.unwrap_err();
        assert!(matches!(err, Error::AccountNotFound { .. }), "{err}");
    }
}
