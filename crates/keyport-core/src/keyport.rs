//! [`Keyport`]: the one entry point the CLI, the daemon and the desktop shell call.
//!
//! It ties the providers file, the account file and the secret store together and keeps
//! their invariants: secrets only in the [`SecretStore`], metadata written after the secrets
//! it describes, nothing half-written on failure.

use std::sync::Arc;

use time::OffsetDateTime;
use url::Url;

use crate::account::{Account, AccountView, check_account_name};
use crate::browser::BrowserOpener;
use crate::clock::Clock;
use crate::discovery;
use crate::error::Error;
use crate::events::{AccountEvent, Events};
use crate::http::HttpClient;
use crate::paths::Paths;
use crate::provider::{
    EndpointKind, Endpoints, GivenEndpoints, MicrosoftTenant, Preset, Provider, ProviderConfig, ProviderSource,
    Providers, RedirectHost, SecretPolicy,
};
use crate::refresher::RefreshPolicy;
use crate::secret::Secret;
use crate::secrets::{SecretKey, SecretStore};
use crate::signin::{self, PendingSignIn, SignInRequest};
use crate::store::{AccountsFile, FileLock};

/// Where a new provider's endpoints come from.
#[derive(Debug, Clone)]
pub enum ProviderSpec {
    /// A preset, with its options.
    Preset { preset: Preset, tenant: Option<MicrosoftTenant>, base_url: Option<Url> },
    /// An issuer to discover.
    Issuer(Url),
    /// Endpoints typed in.
    Manual(Box<Endpoints>),
}

/// A provider to add.
#[derive(Debug)]
pub struct NewProvider {
    /// Where the endpoints come from.
    pub spec: ProviderSpec,
    /// OAuth client id.
    pub client_id: String,
    /// Client secret, stored in the keyring.
    pub client_secret: Option<Secret>,
    /// Default scopes (the preset's or discovered ones when empty).
    pub scopes: Vec<String>,
    /// Redirect host.
    pub redirect_host: RedirectHost,
    /// Redirect path, as registered; `None` gives the provider its own,
    /// [`default_redirect_path`](crate::provider::default_redirect_path).
    pub redirect_path: Option<String>,
    /// Endpoints given by hand over the preset's or the discovered ones (with
    /// [`ProviderSpec::Manual`], they complete its endpoints).
    pub given_endpoints: GivenEndpoints,
}

/// Changes to a provider (`keyport provider edit`); what is `None` stays as it is. Its
/// accounts stay, since they name the provider.
#[derive(Debug, Default)]
pub struct ProviderEdit {
    /// Endpoints to give (`Some`) or to forget (`None`: back to the preset's or the
    /// discovered one; for a provider added by its endpoints, only the optional ones).
    pub endpoints: Vec<(EndpointKind, Option<Url>)>,
    /// New default scopes; an empty list goes back to the preset's or the discovered ones.
    pub scopes: Option<Vec<String>>,
    /// New redirect host.
    pub redirect_host: Option<RedirectHost>,
    /// New redirect path.
    pub redirect_path: Option<String>,
    /// A new client secret (`Some(Some)`), or none any more (`Some(None)`).
    pub client_secret: Option<Option<Secret>>,
}

/// What `provider refresh` found.
#[derive(Debug)]
pub struct ProviderRefresh {
    /// The provider as it is now.
    pub provider: Provider,
    /// What changed, one line for people each (`revocation: added https://...`); empty when
    /// the metadata said the same as before.
    pub changes: Vec<String>,
}

/// The JSON view of a provider (`keyport provider list --json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderView {
    /// Name.
    pub name: String,
    /// Where it comes from.
    pub kind: String,
    /// Client id.
    pub client_id: String,
    /// Whether the keyring holds a client secret.
    pub has_client_secret: bool,
    /// Endpoints.
    pub endpoints: Endpoints,
    /// Where each endpoint comes from: `preset`, `discovered` or `given`, by endpoint name.
    pub endpoint_sources: std::collections::BTreeMap<String, String>,
    /// Default scopes.
    pub scopes: Vec<String>,
    /// The redirect URI to register (any port is used at sign-in).
    pub redirect_uri: String,
    /// Whether the redirect URI is the one every provider shared before each got its own
    /// (see [`crate::provider::default_redirect_path`]).
    pub shared_redirect_uri: bool,
}

impl From<&Provider> for ProviderView {
    fn from(p: &Provider) -> Self {
        Self {
            name: p.name.clone(),
            kind: p.kind.clone(),
            client_id: p.client_id.clone(),
            has_client_secret: p.has_client_secret,
            endpoints: p.endpoints.clone(),
            endpoint_sources: p
                .endpoint_sources
                .iter()
                .map(|(kind, source)| (kind.name().to_owned(), source.as_str().to_owned()))
                .collect(),
            scopes: p.default_scopes.clone(),
            redirect_uri: format!("http://{}{}", p.redirect_host, p.redirect_path),
            shared_redirect_uri: p.redirect_path == crate::provider::SHARED_REDIRECT_PATH,
        }
    }
}

/// Applies `edit` to a stored provider.
fn apply_edit(config: &mut ProviderConfig, edit: &ProviderEdit) -> Result<(), Error> {
    for (kind, url) in &edit.endpoints {
        match &mut config.source {
            ProviderSource::Manual { endpoints } => match (kind, url) {
                (EndpointKind::Authorization, Some(url)) => endpoints.authorization = url.clone(),
                (EndpointKind::Token, Some(url)) => endpoints.token = url.clone(),
                (EndpointKind::Authorization | EndpointKind::Token, None) => {
                    return Err(Error::InvalidProvider {
                        reason: format!("the {} endpoint cannot be forgotten: a provider needs one", kind.name()),
                    });
                }
                (EndpointKind::Revocation, url) => endpoints.revocation.clone_from(url),
                (EndpointKind::DeviceAuthorization, url) => endpoints.device_authorization.clone_from(url),
                (EndpointKind::Userinfo, url) => endpoints.userinfo.clone_from(url),
                (EndpointKind::Introspection, url) => endpoints.introspection.clone_from(url),
            },
            _ => config.given_endpoints.set(*kind, url.clone()),
        }
    }
    if let Some(scopes) = &edit.scopes {
        config.scopes = (!scopes.is_empty()).then(|| scopes.clone());
    }
    if let Some(host) = edit.redirect_host {
        config.redirect_host = host;
    }
    if let Some(path) = &edit.redirect_path {
        config.redirect_path.clone_from(path);
    }
    if let Some(secret) = &edit.client_secret {
        config.client_secret_in_keyring = secret.is_some();
    }
    Ok(())
}

/// What differs between two sets of endpoints, one line each.
fn endpoint_changes(old: &Endpoints, new: &Endpoints) -> Vec<String> {
    EndpointKind::ALL
        .into_iter()
        .filter_map(|kind| match (kind.of(old), kind.of(new)) {
            (None, Some(url)) => Some(format!("{}: added {url}", kind.name())),
            (Some(url), None) => Some(format!("{}: gone (was {url})", kind.name())),
            (Some(before), Some(now)) if before != now => Some(format!("{}: {before} -> {now}", kind.name())),
            _ => None,
        })
        .collect()
}

/// Runs blocking work (keyring calls, file locks, fsync) on tokio's blocking pool, so that it
/// never stalls an async worker: the service answers its socket with one. A panic in `work`
/// is re-raised here.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        // Only a runtime shutting down cancels a blocking task, and then nobody awaits this.
        Err(err) => panic!("a blocking task was cancelled: {err}"),
    }
}

/// Keyport's core, with its outside world injected.
///
/// Cloning is cheap and clones share everything (files, keyring, events, in-flight refreshes).
/// Features live in their own modules as further `impl Keyport` blocks (`refresh.rs`,
/// `revoke.rs`, `device.rs`...); this file holds the shared plumbing, providers and accounts.
#[derive(Debug, Clone)]
pub struct Keyport {
    pub(crate) providers: Providers,
    pub(crate) accounts: AccountsFile,
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) browser: Arc<dyn BrowserOpener>,
    pub(crate) events: Events,
    pub(crate) renewals: Arc<crate::refresh::Renewals>,
}

impl Keyport {
    /// Keyport over the files in `paths` and the given outside world.
    pub fn new(
        paths: &Paths,
        secrets: Arc<dyn SecretStore>,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        browser: Arc<dyn BrowserOpener>,
    ) -> Self {
        Self {
            providers: Providers::new(paths.providers_file()),
            accounts: AccountsFile::new(paths.accounts_file()),
            secrets,
            http,
            clock,
            browser,
            events: Events::default(),
            renewals: Arc::default(),
        }
    }

    /// Sets the backoff after failed renewals (`backoff_base`, `backoff_cap`), which on-demand
    /// renewals share with the background refresher; [`Self::run_refresher`] sets its whole
    /// policy too. The default is [`RefreshPolicy::default`].
    pub fn with_refresh_policy(self, policy: RefreshPolicy) -> Self {
        *self.renewals.policy.lock().expect("policy lock") = policy;
        self
    }

    /// Sets how long a change waits for a lock another process holds (`accounts.lock`, an
    /// account's renewal lock) before failing with [`Error::LockTimeout`]; the default is
    /// [`crate::files::LOCK_WAIT`]. Call it before cloning.
    pub fn with_lock_wait(mut self, wait: std::time::Duration) -> Self {
        self.accounts.lock_wait = wait;
        self
    }

    /// Subscribes to account events (see [`AccountEvent`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<AccountEvent> {
        self.events.subscribe()
    }

    /// Opens `url` (a provider's page: https, or http to a loopback host) in the user's
    /// browser, as sign-in does.
    pub fn open_url(&self, url: &Url) -> Result<(), Error> {
        crate::endpoint::check(url)?;
        Ok(self.browser.open(url)?)
    }

    /// The current time by Keyport's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    // ---- providers -------------------------------------------------------------------

    /// Adds a provider (discovering an issuer's endpoints first). The client secret goes to
    /// the keyring before the provider is written, and is removed again if that fails.
    pub async fn add_provider(&self, name: &str, mut new: NewProvider) -> Result<Provider, Error> {
        crate::provider::check_provider_name(name)?;
        if self.providers.configs()?.contains_key(name) {
            return Err(Error::ProviderExists { name: name.to_owned() });
        }
        let source = match new.spec {
            ProviderSpec::Preset { preset, tenant, base_url } => ProviderSource::Preset { preset, tenant, base_url },
            ProviderSpec::Issuer(issuer) => discovery::discover(self.http.as_ref(), &issuer).await?,
            ProviderSpec::Manual(mut endpoints) => {
                new.given_endpoints.apply(&mut endpoints);
                new.given_endpoints = GivenEndpoints::default();
                ProviderSource::Manual { endpoints: *endpoints }
            }
        };
        let config = ProviderConfig {
            source,
            client_id: new.client_id.trim().to_owned(),
            client_secret_in_keyring: new.client_secret.is_some(),
            scopes: (!new.scopes.is_empty()).then_some(new.scopes),
            redirect_host: new.redirect_host,
            redirect_path: new.redirect_path.unwrap_or_else(|| crate::provider::default_redirect_path(name)),
            given_endpoints: new.given_endpoints,
        };
        let keyport = self.clone();
        let name = name.to_owned();
        blocking(move || keyport.store_provider(&name, config, new.client_secret)).await
    }

    /// Writes a provider found by [`Keyport::add_provider`], its secret first (keyring and
    /// file: blocking work).
    fn store_provider(
        &self,
        name: &str,
        config: ProviderConfig,
        client_secret: Option<Secret>,
    ) -> Result<Provider, Error> {
        let provider = config.resolve(name)?;
        if provider.quirks.secret == SecretPolicy::Required && client_secret.is_none() {
            return Err(Error::ClientSecretRequired { provider: name.to_owned() });
        }
        let secret_key = SecretKey::client_secret(&self.accounts.namespace()?, name);
        if let Some(secret) = &client_secret {
            self.secrets.set(&secret_key, secret)?;
        }
        match self.providers.insert(name, config) {
            Ok(provider) => Ok(provider),
            Err(err) => {
                if client_secret.is_some() {
                    let _ = self.secrets.delete(&secret_key);
                }
                Err(err)
            }
        }
    }

    /// Changes a provider's endpoints, scopes, redirect URI or client secret, keeping its
    /// accounts. A new secret goes to the keyring before the file changes; a secret no longer
    /// wanted leaves the keyring after. The changed provider must resolve (endpoint rule,
    /// a secret where the provider requires one) or nothing changes.
    pub async fn edit_provider(&self, name: &str, edit: ProviderEdit) -> Result<Provider, Error> {
        let keyport = self.clone();
        let name = name.to_owned();
        blocking(move || keyport.store_provider_edit(&name, edit)).await
    }

    fn store_provider_edit(&self, name: &str, edit: ProviderEdit) -> Result<Provider, Error> {
        let secret_key = SecretKey::client_secret(&self.accounts.namespace()?, name);
        let new_secret = edit.client_secret.as_ref().map(Option::is_some);
        // Check the edit on what is there now, before a secret reaches the keyring.
        let mut trial =
            self.providers.configs()?.remove(name).ok_or_else(|| Error::ProviderNotFound { name: name.to_owned() })?;
        apply_edit(&mut trial, &edit)?;
        let provider = trial.resolve(name)?;
        if provider.quirks.secret == SecretPolicy::Required && !trial.client_secret_in_keyring {
            return Err(Error::ClientSecretRequired { provider: name.to_owned() });
        }
        if let Some(Some(secret)) = &edit.client_secret {
            self.secrets.set(&secret_key, secret)?;
        }
        let provider = self.providers.update(name, |config| apply_edit(config, &edit))?;
        if new_secret == Some(false) {
            self.secrets.delete(&secret_key)?;
        }
        Ok(provider)
    }

    /// Reads a discovered provider's metadata again and stores what it says now (endpoints
    /// given by hand stay over it). Presets and providers added by their endpoints have no
    /// metadata to read.
    pub async fn refresh_provider(&self, name: &str) -> Result<ProviderRefresh, Error> {
        let keyport = self.clone();
        let owned = name.to_owned();
        let before = blocking(move || keyport.providers.configs())
            .await?
            .remove(name)
            .ok_or_else(|| Error::ProviderNotFound { name: name.to_owned() })?;
        let ProviderSource::Issuer { issuer, endpoints: old, .. } = &before.source else {
            return Err(Error::InvalidProvider {
                reason: format!(
                    "provider `{name}` has no metadata to read again: its endpoints are {}; change them with \
                     `keyport provider edit {name}`",
                    if matches!(before.source, ProviderSource::Preset { .. }) {
                        "built into its preset"
                    } else {
                        "given by hand"
                    }
                ),
            });
        };
        let issuer =
            Url::parse(issuer).map_err(|err| Error::InvalidProvider { reason: format!("issuer `{issuer}`: {err}") })?;
        let source = discovery::discover(self.http.as_ref(), &issuer).await?;
        let changes = match &source {
            ProviderSource::Issuer { endpoints: new, .. } => endpoint_changes(old, new),
            _ => Vec::new(),
        };
        let keyport = self.clone();
        let provider = blocking(move || {
            keyport.providers.update(&owned, |config| {
                config.source = source;
                Ok(())
            })
        })
        .await?;
        Ok(ProviderRefresh { provider, changes })
    }

    /// Every provider, resolved, sorted by name.
    pub fn providers(&self) -> Result<Vec<Provider>, Error> {
        self.providers.configs()?.iter().map(|(name, config)| config.resolve(name)).collect()
    }

    /// Removes a provider and its client secret. Refused while accounts use it.
    pub fn remove_provider(&self, name: &str) -> Result<(), Error> {
        let users: Vec<String> =
            self.accounts.read()?.accounts.into_iter().filter(|a| a.provider == name).map(|a| a.name).collect();
        if !users.is_empty() {
            return Err(Error::InvalidProvider {
                reason: format!("provider `{name}` is used by {}; remove those accounts first", users.join(", ")),
            });
        }
        let config = self.providers.remove(name)?;
        if config.client_secret_in_keyring {
            self.secrets.delete(&SecretKey::client_secret(&self.accounts.namespace()?, name))?;
        }
        Ok(())
    }

    pub(crate) fn client_secret(&self, provider: &Provider) -> Result<Option<Secret>, Error> {
        if !provider.has_client_secret {
            return Ok(None);
        }
        let secret = self.secrets.get(&SecretKey::client_secret(&self.accounts.namespace()?, &provider.name))?;
        if secret.is_none() && provider.quirks.secret == SecretPolicy::Required {
            return Err(Error::ClientSecretRequired { provider: provider.name.clone() });
        }
        Ok(secret)
    }

    // ---- sign-in ---------------------------------------------------------------------

    /// Starts a browser sign-in: binds the loopback listener, builds the authorization URL
    /// and (unless told not to) opens the browser.
    pub fn begin_sign_in(&self, provider: &str, request: SignInRequest) -> Result<PendingSignIn, Error> {
        if let Some(name) = &request.account_name {
            check_account_name(name)?;
        }
        let provider = self.providers.get(provider)?;
        // Find out now, before the user signs in, whether the tokens can be kept at all.
        let namespace = self.accounts.namespace()?;
        self.secrets.get(&SecretKey::access_token(&namespace, "keyport-availability-probe"))?;
        let secret = self.client_secret(&provider)?;
        let open = request.open_browser;
        let mut pending = signin::begin(provider, secret, request)?;
        if open {
            pending.browser = Some(self.browser.open(pending.url()));
        }
        Ok(pending)
    }

    /// Starts a new browser sign-in for an existing account: same provider and name, the
    /// scopes it asked for plus `extra_scopes`. Finishing it replaces the account's tokens
    /// only if the same identity signs in; an account whose provider never told who it is (no
    /// subject: a provider by endpoints, without userinfo) takes whoever signs in, since the
    /// person asking to sign it in again is its owner.
    pub fn begin_reauth(
        &self,
        name: &str,
        extra_scopes: &[String],
        timeout: std::time::Duration,
        open_browser: bool,
    ) -> Result<PendingSignIn, Error> {
        let account = self.account(name)?;
        if account.kind == crate::account::AccountKind::Service {
            return Err(Error::InvalidProvider {
                reason: format!(
                    "`{name}` is a service account: it has no sign-in; `keyport refresh {name}` mints a new token"
                ),
            });
        }
        let mut scopes = account.requested_scopes.clone();
        for scope in extra_scopes {
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        let request =
            SignInRequest { scopes, account_name: Some(account.name.clone()), timeout, open_browser, reauth: true };
        self.begin_sign_in(&account.provider, request)
    }

    /// Waits for the browser, exchanges the code and stores the account.
    pub async fn finish_sign_in(&self, pending: PendingSignIn) -> Result<Account, Error> {
        let signed = signin::complete(pending, self.http.as_ref(), self.clock.now()).await?;
        self.store_signed_in(signed).await
    }

    /// Stores the outcome of an interactive sign-in (browser or device): tokens to the
    /// keyring first, then the account record; publishes [`AccountEvent::Added`]. Runs on the
    /// blocking pool.
    pub(crate) async fn store_signed_in(&self, signed: signin::SignedIn) -> Result<Account, Error> {
        let keyport = self.clone();
        blocking(move || keyport.store_signed_in_now(signed)).await
    }

    /// [`Self::store_signed_in`], blocking. The name is checked, the secrets written and the
    /// record saved under the account's renewal lock, the lock every writer of an account's
    /// secrets takes (renewals, other sign-ins, service accounts, removal): checked before it,
    /// as this once was, two sign-ins for one name (or a sign-in and a service account) could
    /// both pass the check and leave one's record over the other's tokens.
    fn store_signed_in_now(&self, signed: signin::SignedIn) -> Result<Account, Error> {
        let namespace = self.accounts.namespace()?;
        let same_identity = |a: &Account| {
            a.provider == signed.provider.name && a.identity.sub.is_some() && a.identity.sub == signed.identity.sub
        };
        let name = match &signed.account_name {
            Some(name) => name.clone(),
            None => self
                .accounts
                .read()?
                .accounts
                .iter()
                .find(|a| same_identity(a))
                .map(|a| a.name.clone())
                .unwrap_or_else(|| signin::default_account_name(&signed.provider.name, &signed.identity)),
        };
        check_account_name(&name)?;
        let _lock = FileLock::acquire_within(&self.accounts.renewal_lock_path(&name), self.accounts.lock_wait)?;
        let existing = self.accounts.read()?.accounts;
        if let Some(taken) = existing.iter().find(|a| a.name == name) {
            // Signing in again to an account with no known subject: nothing to compare, and
            // the user asked for exactly this account.
            let unknown_owner = signed.reauth
                && taken.identity.sub.is_none()
                && taken.provider == signed.provider.name
                && taken.kind == crate::account::AccountKind::User;
            if !same_identity(taken) && !unknown_owner {
                let id = &signed.identity;
                let who = id.email.clone().or_else(|| id.sub.clone().map(|sub| format!("subject {sub}")));
                return Err(Error::AccountExists { name, signed_in_as: Some(who.unwrap_or_else(|| "unknown".into())) });
            }
        }
        // Secrets first: metadata never points at tokens that are not stored.
        self.secrets.set(&SecretKey::access_token(&namespace, &name), &signed.tokens.access_token)?;
        let refresh_key = SecretKey::refresh_token(&namespace, &name);
        match &signed.tokens.refresh_token {
            Some(token) => self.secrets.set(&refresh_key, token)?,
            None => self.secrets.delete(&refresh_key)?,
        }
        // A new grant: whatever the old one's renewals left unsaved is worthless now.
        self.renewals.forget(&name);
        let now = self.clock.now();
        self.accounts
            .update(|data| {
                let created = data.accounts.iter().find(|a| a.name == name).map(|a| a.created_at);
                let record = signin::account_record(&signed, name.clone(), now, created);
                data.accounts.retain(|a| a.name != name);
                data.accounts.push(record.clone());
                data.accounts.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(record)
            })
            .inspect(|account| self.events.publish(AccountEvent::Added { account: account.name.clone() }))
    }

    // ---- accounts --------------------------------------------------------------------

    /// Every account, sorted by name.
    pub fn accounts(&self) -> Result<Vec<Account>, Error> {
        self.accounts.read().map(|data| data.accounts)
    }

    /// One account.
    pub fn account(&self, name: &str) -> Result<Account, Error> {
        self.accounts()?
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::AccountNotFound { name: name.to_owned() })
    }

    /// The JSON views of every account at the current time.
    pub fn account_views(&self) -> Result<Vec<AccountView>, Error> {
        let now = self.clock.now();
        Ok(self.accounts()?.iter().map(|a| a.view(now)).collect())
    }

    /// The account's current access token, from the keyring.
    pub fn access_token(&self, name: &str) -> Result<(Account, Secret), Error> {
        let account = self.account(name)?;
        if let crate::account::Health::NeedsSignIn { reason, .. } = &account.health {
            return Err(Error::NeedsSignIn { name: name.to_owned(), reason: reason.clone() });
        }
        let namespace = self.accounts.namespace()?;
        let token = self
            .secrets
            .get(&SecretKey::access_token(&namespace, name))?
            .ok_or_else(|| Error::TokenMissing { name: name.to_owned() })?;
        Ok((account, token))
    }

    /// Deletes an account: its secrets first, then its metadata, so a crash in between
    /// leaves an account that asks for a sign-in rather than secrets nobody can see. Holds the
    /// account's renewal lock, so no renewal stores tokens for it meanwhile. Blocks (keyring,
    /// files): async callers use the blocking pool.
    pub fn remove_account(&self, name: &str) -> Result<Account, Error> {
        check_account_name(name).map_err(|_| Error::AccountNotFound { name: name.to_owned() })?;
        let lock = FileLock::acquire_within(&self.accounts.renewal_lock_path(name), self.accounts.lock_wait)?;
        let account = self.forget_account(name);
        drop(lock);
        let account = account?;
        self.events.publish(AccountEvent::Removed { account: name.to_owned() });
        Ok(account)
    }

    /// [`Self::remove_account`] without its lock and event, for callers that hold the lock
    /// and publish their own (`revoke.rs` publishes [`AccountEvent::Revoked`]).
    pub(crate) fn forget_account(&self, name: &str) -> Result<Account, Error> {
        let account = self.account(name)?;
        let namespace = self.accounts.namespace()?;
        self.secrets.delete(&SecretKey::access_token(&namespace, name))?;
        self.secrets.delete(&SecretKey::refresh_token(&namespace, name))?;
        self.secrets.delete(&SecretKey::account_client_secret(&namespace, name))?;
        // Only now: had a delete failed, a rotated refresh token waiting to be saved would
        // still be the account's only working one.
        self.renewals.forget(name);
        self.accounts.update(|data| {
            data.accounts.retain(|a| a.name != name);
            Ok(())
        })?;
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::browser::NoBrowser;
    use crate::clock::FixedClock;
    use crate::provider::{EndpointSource, RevocationMethod};
    use crate::secrets::MemoryStore;
    use crate::testing::ScriptedHttp;

    fn keyport(http: ScriptedHttp) -> (tempfile::TempDir, Keyport, Arc<MemoryStore>) {
        let dir = tempfile::tempdir().unwrap();
        let paths =
            Paths { config_dir: dir.path().join("config"), data_dir: dir.path().join("data"), runtime_dir: None };
        let secrets = Arc::new(MemoryStore::new());
        let keyport = Keyport::new(
            &paths,
            secrets.clone(),
            Arc::new(http),
            Arc::new(FixedClock::new(time::macros::datetime!(2026-01-01 12:00 UTC))),
            Arc::new(NoBrowser),
        );
        (dir, keyport, secrets)
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    /// The issuer's metadata, as the OpenID document (without revocation and device
    /// endpoints, like the server of issue 11) and the RFC 8414 one (with revocation).
    fn metadata(revocation: &str) -> (String, String) {
        let openid = serde_json::json!({
            "issuer": "https://id.example", "authorization_endpoint": "https://id.example/auth",
            "token_endpoint": "https://id.example/token", "code_challenge_methods_supported": ["S256"],
        });
        let mut rfc8414 = openid.clone();
        rfc8414["revocation_endpoint"] = revocation.into();
        (openid.to_string(), rfc8414.to_string())
    }

    fn new_provider(spec: ProviderSpec, given: GivenEndpoints) -> NewProvider {
        NewProvider {
            spec,
            client_id: "cid".into(),
            client_secret: None,
            scopes: Vec::new(),
            redirect_host: RedirectHost::Ipv4,
            redirect_path: None,
            given_endpoints: given,
        }
    }

    /// `provider add --issuer URL --device-url URL`: the device endpoint the metadata lacks is
    /// given by hand, the rest discovered; `provider refresh` re-reads the metadata, reports
    /// what changed and keeps what was given.
    #[tokio::test]
    async fn given_endpoints_complete_discovery_and_survive_a_refresh() {
        let (openid, rfc8414) = metadata("https://id.example/revoke");
        let (openid2, rfc8414_2) = metadata("https://id.example/revoke/v2");
        let http =
            ScriptedHttp::new().reply(200, &openid).reply(200, &rfc8414).reply(200, &openid2).reply(200, &rfc8414_2);
        let (_dir, keyport, _) = keyport(http);
        let given =
            GivenEndpoints { device_authorization: Some(url("https://id.example/device")), ..Default::default() };
        let provider = keyport
            .add_provider("id", new_provider(ProviderSpec::Issuer(url("https://id.example")), given))
            .await
            .unwrap();
        assert_eq!(provider.endpoints.device_authorization, Some(url("https://id.example/device")));
        assert_eq!(provider.endpoints.revocation, Some(url("https://id.example/revoke")));
        assert_eq!(provider.redirect_path, "/callback/id");
        let view = ProviderView::from(&provider);
        assert_eq!(view.endpoint_sources["device_authorization"], "given");
        assert_eq!(view.endpoint_sources["revocation"], "discovered");
        assert_eq!(view.endpoint_sources["token"], "discovered");
        assert!(!view.endpoint_sources.contains_key("userinfo"));
        assert!(!view.shared_redirect_uri);

        let refreshed = keyport.refresh_provider("id").await.unwrap();
        assert_eq!(refreshed.changes, ["revocation: https://id.example/revoke -> https://id.example/revoke/v2"]);
        assert_eq!(refreshed.provider.endpoints.revocation, Some(url("https://id.example/revoke/v2")));
        assert_eq!(refreshed.provider.endpoints.device_authorization, Some(url("https://id.example/device")));
        assert_eq!(keyport.providers().unwrap()[0], refreshed.provider);
    }

    #[tokio::test]
    async fn presets_and_providers_by_hand_have_nothing_to_refresh() {
        let (_dir, keyport, _) = keyport(ScriptedHttp::new());
        let spec = ProviderSpec::Preset { preset: Preset::Gitlab, tenant: None, base_url: None };
        keyport.add_provider("gl", new_provider(spec, GivenEndpoints::default())).await.unwrap();
        let err = keyport.refresh_provider("gl").await.unwrap_err();
        assert!(err.to_string().contains("built into its preset"), "{err}");
        assert!(matches!(keyport.refresh_provider("nope").await.unwrap_err(), Error::ProviderNotFound { .. }));
    }

    /// `provider edit`: endpoints given and forgotten, scopes, redirect URI and the client
    /// secret change in place; an edit that would not resolve changes nothing.
    #[tokio::test]
    async fn a_provider_is_edited_in_place() {
        let (_dir, keyport, secrets) = keyport(ScriptedHttp::new());
        let spec = ProviderSpec::Preset { preset: Preset::Microsoft, tenant: None, base_url: None };
        keyport.add_provider("ms", new_provider(spec, GivenEndpoints::default())).await.unwrap();
        assert!(matches!(keyport.providers().unwrap()[0].quirks.revocation, RevocationMethod::UserRevokes { .. }));

        let edit = ProviderEdit {
            endpoints: vec![(EndpointKind::Revocation, Some(url("https://login.example/revoke")))],
            scopes: Some(vec!["openid".into(), "offline_access".into()]),
            redirect_host: Some(RedirectHost::Ipv4),
            redirect_path: Some("/keyport".into()),
            client_secret: Some(Some(Secret::new("s3cret"))),
        };
        let edited = keyport.edit_provider("ms", edit).await.unwrap();
        assert_eq!(edited.quirks.revocation, RevocationMethod::Rfc7009, "a given revocation endpoint is RFC 7009's");
        assert!(edited.endpoint_sources.contains(&(EndpointKind::Revocation, EndpointSource::Given)));
        assert!(edited.endpoint_sources.contains(&(EndpointKind::Token, EndpointSource::Preset)));
        assert_eq!(edited.default_scopes, ["openid", "offline_access"]);
        assert_eq!((edited.redirect_host, edited.redirect_path.as_str()), (RedirectHost::Ipv4, "/keyport"));
        assert!(edited.has_client_secret);
        assert_eq!(
            secrets.keys().iter().filter(|k| k.ends_with("/provider/ms/client_secret")).count(),
            1,
            "{:?}",
            secrets.keys()
        );

        let back = ProviderEdit {
            endpoints: vec![(EndpointKind::Revocation, None)],
            scopes: Some(Vec::new()),
            client_secret: Some(None),
            ..ProviderEdit::default()
        };
        let edited = keyport.edit_provider("ms", back).await.unwrap();
        assert!(matches!(edited.quirks.revocation, RevocationMethod::UserRevokes { .. }));
        assert_eq!(edited.default_scopes, Preset::Microsoft.template().default_scopes);
        assert!(!edited.has_client_secret);
        assert!(secrets.keys().iter().all(|k| !k.contains("client_secret")), "{:?}", secrets.keys());

        let insecure = ProviderEdit {
            endpoints: vec![(EndpointKind::Token, Some(url("http://login.example/token")))],
            ..ProviderEdit::default()
        };
        assert!(keyport.edit_provider("ms", insecure).await.unwrap_err().to_string().contains("plain http"));
        let bad_path = ProviderEdit { redirect_path: Some("no-slash".into()), ..ProviderEdit::default() };
        assert!(keyport.edit_provider("ms", bad_path).await.is_err());
        assert_eq!(keyport.providers().unwrap()[0], edited, "a refused edit changes nothing");
    }

    #[tokio::test]
    async fn a_provider_by_hand_can_drop_optional_endpoints_only() {
        let (_dir, keyport, _) = keyport(ScriptedHttp::new());
        let endpoints = Endpoints {
            authorization: url("https://as.example/auth"),
            token: url("https://as.example/token"),
            revocation: Some(url("https://as.example/revoke")),
            device_authorization: None,
            userinfo: None,
            introspection: None,
        };
        keyport
            .add_provider("p", new_provider(ProviderSpec::Manual(Box::new(endpoints)), GivenEndpoints::default()))
            .await
            .unwrap();
        let drop = ProviderEdit { endpoints: vec![(EndpointKind::Revocation, None)], ..ProviderEdit::default() };
        assert_eq!(keyport.edit_provider("p", drop).await.unwrap().endpoints.revocation, None);
        let drop_token = ProviderEdit { endpoints: vec![(EndpointKind::Token, None)], ..ProviderEdit::default() };
        assert!(keyport.edit_provider("p", drop_token).await.unwrap_err().to_string().contains("cannot be forgotten"));
        let missing = ProviderEdit::default();
        assert!(matches!(keyport.edit_provider("q", missing).await.unwrap_err(), Error::ProviderNotFound { .. }));
    }
}
