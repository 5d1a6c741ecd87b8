//! Renewing access tokens: refresh-token grants for user accounts, new client-credentials
//! tokens for service accounts.
//!
//! - **Single flight.** Concurrent renewals of one account in this process share one request
//!   (`Renewals::flights`); across processes a per-account lock file serializes them, and a
//!   process that waited on the lock uses the token the other one just got instead of asking
//!   again. The lock is waited for at most [`crate::files::LOCK_WAIT`]
//!   ([`RenewError::LockTimeout`]).
//! - **Rotation.** A provider's answer carrying a new refresh token is kept in memory
//!   (`Renewals::unsaved`) before anything is written, then written to the keyring, refresh
//!   token first. When the keyring cannot take it (locked, gone, restarted), the answer stays
//!   in memory: it is saved again on a schedule (`refresher.rs`) and before any other renewal
//!   of the account, and no request is sent meanwhile, so the provider never sees an old refresh
//!   token again. See ARCHITECTURE.md ("Refresh and rotation") for the windows that remain.
//! - **Backoff.** One backoff state per account, shared by on-demand and background renewals:
//!   after a transient provider failure no request is sent before its time (and never before
//!   the provider's `Retry-After`); callers get [`RenewError::BackingOff`] at once.
//! - **Outcomes.** Permanent refusals (`invalid_grant`, `invalid_client`,
//!   `unauthorized_client`) mark the account `needs_sign_in`; everything else (network, 408,
//!   429, 5xx, garbage) is transient and keeps the current tokens.
//! - **No blocking on async workers.** Keyring calls, file locks and file writes run on the
//!   blocking pool ([`crate::keyport::blocking`]).
//!
//! The background schedule lives in `refresher.rs`; this module renews one account on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{RefreshToken, Scope};
use time::OffsetDateTime;

use crate::Keyport;
use crate::account::{Account, AccountKind, Health};
use crate::error::Error;
use crate::events::AccountEvent;
use crate::keyport::blocking;
use crate::oauth::{self, Exchange, Tokens};
use crate::refresher::RefreshPolicy;
use crate::secret::Secret;
use crate::secrets::SecretKey;
use crate::store::FileLock;

/// OAuth errors after which only a new sign-in helps (RFC 6749 §5.2).
const PERMANENT_ERRORS: [&str; 3] = ["invalid_grant", "invalid_client", "unauthorized_client"];

/// The longest `Retry-After` honoured. A provider asking for more (a day, or a bogus year)
/// would stop renewals for that long; after an hour Keyport asks again, and a provider still
/// unwilling says so again.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The first retry of saving tokens the keyring refused comes after this; each failure doubles
/// it, up to [`UNSAVED_RETRY_CAP`]. A retry is one keyring call, so even the cap is cheap, and
/// it bounds how long a just-unlocked keyring waits for its tokens when nobody asks.
const UNSAVED_RETRY_FIRST: Duration = Duration::from_secs(1);
/// See [`UNSAVED_RETRY_FIRST`].
const UNSAVED_RETRY_CAP: Duration = Duration::from_secs(30);

/// Why a renewal failed. Cloneable, because every caller waiting on one request gets it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenewError {
    /// The provider refused the grant; the account is now `needs_sign_in`.
    #[error("account `{account}` needs a new sign-in: the provider answered {reason}. Run `keyport reauth {account}`")]
    NeedsSignIn { account: String, reason: String },
    /// It may work later; the current tokens were kept.
    #[error("could not renew the token of `{account}` ({reason}); the current tokens are kept")]
    Transient { account: String, reason: String, retry_after: Option<Duration> },
    /// An earlier transient failure set a time before which no request is sent.
    #[error(
        "not renewing the token of `{account}` for another {} s: the last attempt failed ({reason}); \
         the current tokens are kept", retry_in.as_secs().max(1)
    )]
    BackingOff { account: String, reason: String, retry_in: Duration },
    /// A user account without a refresh token cannot be renewed.
    #[error("account `{account}` has no refresh token; run `keyport reauth {account}` when its token expires")]
    NoRefreshToken { account: String },
    /// The keyring could not be read or written. With `unsaved`, the provider's new tokens
    /// (a rotated refresh token among them) are held in memory and saved as soon as it can be.
    #[error(
        "could not renew the token of `{account}`: {reason}{}",
        if *unsaved { "; the new refresh token is kept in memory and saved as soon as the keyring accepts it" } else { "" }
    )]
    KeyringUnavailable { account: String, reason: String, unsaved: bool },
    /// Another process held a lock (the account's renewal lock, `accounts.json`'s) too long.
    #[error("could not renew the token of `{account}`: {reason}")]
    LockTimeout { account: String, reason: String },
    /// A local failure (files).
    #[error("could not renew the token of `{account}`: {reason}")]
    Local { account: String, reason: String },
}

impl RenewError {
    /// The delay the provider asked for (or the time left of the backoff), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            Self::BackingOff { retry_in, .. } => Some(*retry_in),
            _ => None,
        }
    }

    /// A local failure as a renewal error, keeping its kind (keyring, lock, other).
    fn local(account: &str, err: Error, unsaved: bool) -> Self {
        let account = account.to_owned();
        match err {
            Error::Renew(renew) => renew,
            Error::Secrets(err) => Self::KeyringUnavailable { account, reason: err.to_string(), unsaved },
            err @ Error::LockTimeout { .. } => Self::LockTimeout { account, reason: err.to_string() },
            err => Self::Local { account, reason: err.to_string() },
        }
    }
}

type Flight = Arc<tokio::sync::OnceCell<Result<Account, RenewError>>>;

/// Why no request may be sent for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BackoffCause {
    /// The provider failed (or asked to wait): every renewal waits.
    Provider { reason: String },
    /// Something local failed (keyring, lock): only the background refresher waits; a person
    /// asking may just have unlocked the keyring.
    Local,
}

/// One account's backoff: how many failures in a row, and no request before `not_before`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    pub failures: u32,
    pub not_before: OffsetDateTime,
    pub cause: BackoffCause,
}

/// A provider's answer not (completely) written yet: the keyring or `accounts.json` refused.
#[derive(Debug)]
struct Unsaved {
    tokens: Arc<Tokens>,
    /// When the answer arrived: the tokens' issue time, whenever they are saved.
    received_at: OffsetDateTime,
    /// Tells this answer from a later one for the same account.
    generation: u64,
    /// Failed attempts to save it so far.
    attempts: u32,
    /// When the background refresher tries again.
    next_attempt: OffsetDateTime,
}

impl Unsaved {
    /// Counts a failed attempt to save and sets the next one; returns the delay.
    fn reschedule(&mut self, now: OffsetDateTime) -> Duration {
        self.attempts = self.attempts.saturating_add(1);
        let delay = UNSAVED_RETRY_FIRST
            .saturating_mul(2u32.saturating_pow(self.attempts.saturating_sub(1)))
            .min(UNSAVED_RETRY_CAP);
        self.next_attempt = now + time::Duration::try_from(delay).unwrap_or(time::Duration::MINUTE);
        delay
    }
}

/// Renewal state shared by every clone of [`Keyport`]: flights, backoff, unsaved answers.
#[derive(Debug)]
pub(crate) struct Renewals {
    flights: Mutex<HashMap<String, Flight>>,
    pub(crate) backoff: Mutex<HashMap<String, Backoff>>,
    unsaved: Mutex<HashMap<String, Unsaved>>,
    generations: std::sync::atomic::AtomicU64,
    /// The backoff parameters (the background refresher's policy, once it runs).
    pub(crate) policy: Mutex<RefreshPolicy>,
}

impl Default for Renewals {
    fn default() -> Self {
        Self {
            flights: Mutex::default(),
            backoff: Mutex::default(),
            unsaved: Mutex::default(),
            generations: std::sync::atomic::AtomicU64::new(0),
            policy: Mutex::new(RefreshPolicy::default()),
        }
    }
}

impl Renewals {
    /// Forgets an account's unsaved answer: the account was removed, or signed in again
    /// (whose tokens replace the old grant's). Callers hold the account's renewal lock.
    pub(crate) fn forget(&self, name: &str) {
        self.unsaved.lock().expect("unsaved lock").remove(name);
        self.backoff.lock().expect("backoff lock").remove(name);
    }

    /// When the refresher should next try to save `name`'s unsaved answer, if there is one.
    pub(crate) fn unsaved_due(&self, name: &str) -> Option<OffsetDateTime> {
        self.unsaved.lock().expect("unsaved lock").get(name).map(|u| u.next_attempt)
    }

    /// Counts a failed attempt to save `name`'s unsaved answer that never reached the keyring
    /// (its lock could not be taken).
    fn reschedule_unsaved(&self, name: &str, now: OffsetDateTime) {
        if let Some(entry) = self.unsaved.lock().expect("unsaved lock").get_mut(name) {
            entry.reschedule(now);
        }
    }

    /// The names of accounts with an unsaved answer.
    pub(crate) fn unsaved_names(&self) -> Vec<String> {
        self.unsaved.lock().expect("unsaved lock").keys().cloned().collect()
    }

    /// The refresh token of `name`'s unsaved answer, if it has one.
    pub(crate) fn unsaved_refresh_token(&self, name: &str) -> Option<Secret> {
        self.unsaved.lock().expect("unsaved lock").get(name).and_then(|u| u.tokens.refresh_token.clone())
    }

    /// Drops the backoff of accounts that no longer exist.
    pub(crate) fn retain_backoff(&self, keep: impl Fn(&str) -> bool) {
        self.backoff.lock().expect("backoff lock").retain(|name, _| keep(name));
    }

    /// The provider backoff in force for `name` at `now`: (time left, last reason).
    fn provider_backoff(&self, name: &str, now: OffsetDateTime) -> Option<(Duration, String)> {
        let backoff = self.backoff.lock().expect("backoff lock");
        let entry = backoff.get(name)?;
        let BackoffCause::Provider { reason } = &entry.cause else { return None };
        let left = Duration::try_from(entry.not_before - now).ok().filter(|left| !left.is_zero())?;
        Some((left, reason.clone()))
    }

    /// Records the outcome of a renewal attempt in the account's backoff.
    fn record(&self, name: &str, result: &Result<Account, RenewError>, now: OffsetDateTime) {
        let mut backoff = self.backoff.lock().expect("backoff lock");
        let (cause, retry_after) = match result {
            Ok(_) | Err(RenewError::NeedsSignIn { .. }) => {
                backoff.remove(name);
                return;
            }
            // No attempt was made: nothing new to learn.
            Err(RenewError::BackingOff { .. }) => return,
            Err(RenewError::Transient { reason, retry_after, .. }) => {
                (BackoffCause::Provider { reason: reason.clone() }, *retry_after)
            }
            Err(_) => (BackoffCause::Local, None),
        };
        let failures = backoff.get(name).map_or(0, |b| b.failures).saturating_add(1);
        let policy = self.policy.lock().expect("policy lock").clone();
        let delay = policy.backoff(failures, retry_after.map(|after| after.min(MAX_RETRY_AFTER)));
        let not_before = time::Duration::try_from(delay)
            .ok()
            .and_then(|delay| now.checked_add(delay))
            .unwrap_or(now + time::Duration::hours(1));
        backoff.insert(name.to_owned(), Backoff { failures, not_before, cause });
    }
}

/// Where a crash test may stop a renewal, in order (see `test_step`).
pub const CRASH_POINTS: [&str; 4] =
    ["before-request", "after-response", "after-refresh-token-saved", "after-access-token-saved"];

/// Test hooks at the named steps of a renewal; unset (always, outside tests) they do nothing.
///
/// - `KEYPORT_TEST_CRASH_AT=STEP` aborts the process there: a process killed at any step must
///   leave a usable account.
/// - `KEYPORT_TEST_PAUSE_AT=STEP` with `KEYPORT_TEST_PAUSE_DIR=DIR` stops the first renewal
///   that reaches STEP: it creates `DIR/STEP.reached`, then waits (at most two minutes) for
///   `DIR/STEP.go`. The fault-matrix test injects a fault meanwhile (locks the keyring, kills
///   the process...). This runs on a blocking thread, never on an async worker.
fn test_step(step: &'static str) {
    static CRASH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if CRASH.get_or_init(|| std::env::var("KEYPORT_TEST_CRASH_AT").ok()).as_deref() == Some(step) {
        eprintln!("keyport: KEYPORT_TEST_CRASH_AT={step}: aborting");
        std::process::abort();
    }
    if let Some(dir) = pause_dir(step) {
        static PAUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if PAUSED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        eprintln!("keyport: KEYPORT_TEST_PAUSE_AT={step}: paused");
        let _ = std::fs::write(dir.join(format!("{step}.reached")), b"");
        let go = dir.join(format!("{step}.go"));
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while !go.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("keyport: KEYPORT_TEST_PAUSE_AT={step}: going on");
    }
}

/// The pause directory when `KEYPORT_TEST_PAUSE_AT` names `step`.
fn pause_dir(step: &str) -> Option<std::path::PathBuf> {
    static PAUSE: std::sync::OnceLock<Option<(String, std::path::PathBuf)>> = std::sync::OnceLock::new();
    let (at, dir) = PAUSE
        .get_or_init(|| {
            Some((std::env::var("KEYPORT_TEST_PAUSE_AT").ok()?, std::env::var_os("KEYPORT_TEST_PAUSE_DIR")?.into()))
        })
        .as_ref()?;
    (at == step).then(|| dir.clone())
}

/// [`test_step`] from async code: a pause runs on the blocking pool.
async fn test_step_async(step: &'static str) {
    if pause_dir(step).is_some() {
        blocking(move || test_step(step)).await;
    } else {
        test_step(step);
    }
}

impl Keyport {
    /// Renews the account's access token now: one request however many callers ask at once.
    pub async fn refresh(&self, account: &str) -> Result<Account, Error> {
        Ok(self.renew(account).await?)
    }

    /// The access token, renewed first when it expires within `min_valid` (capped at half
    /// the token's lifetime, see [`Account::expires_within`]) or is missing, for a service
    /// account.
    pub async fn fresh_access_token(&self, name: &str, min_valid: Duration) -> Result<(Account, Secret), Error> {
        let keyport = self.clone();
        let owned = name.to_owned();
        let (account, stored) = blocking(move || {
            let account = keyport.account(&owned)?;
            if let Health::NeedsSignIn { reason, .. } = &account.health {
                return Err(Error::NeedsSignIn { name: owned, reason: reason.clone() });
            }
            let namespace = keyport.accounts.namespace()?;
            let stored = keyport.secrets.get(&SecretKey::access_token(&namespace, &owned))?;
            Ok((account, stored))
        })
        .await?;
        if let (Some(token), false) = (stored, account.expires_within(self.clock.now(), min_valid)) {
            return Ok((account, token));
        }
        // Pass what this caller saw: a renewal that finished since (another caller's flight,
        // already gone from `flights`) is used instead of a second request. Without it, 100
        // concurrent `token.get`s with a long `min_valid` made 2 renewals in one bench run of
        // two (benches/socket.rs).
        let account = self.renew_since(name, Some(account.token_issued_at)).await?;
        let keyport = self.clone();
        let owned = name.to_owned();
        let token = blocking(move || {
            let namespace = keyport.accounts.namespace()?;
            keyport
                .secrets
                .get(&SecretKey::access_token(&namespace, &owned))?
                .ok_or(Error::TokenMissing { name: owned })
        })
        .await?;
        Ok((account, token))
    }

    /// Whether a new refresh token for `name` waits in memory because the keyring refused it.
    pub fn has_unsaved_tokens(&self, name: &str) -> bool {
        self.renewals.unsaved_due(name).is_some()
    }

    /// The single-flight wrapper around [`Self::renew_locked`].
    pub(crate) async fn renew(&self, name: &str) -> Result<Account, RenewError> {
        self.renew_since(name, None).await
    }

    /// [`Self::renew`], for a caller that decided to renew after seeing a token issued at
    /// `seen`: if a newer one exists by the time the renewal starts, that one is the result.
    async fn renew_since(&self, name: &str, seen: Option<OffsetDateTime>) -> Result<Account, RenewError> {
        let flight = {
            let mut flights = self.renewals.flights.lock().expect("flights lock");
            flights.entry(name.to_owned()).or_default().clone()
        };
        let result = flight.get_or_init(|| self.renew_locked(name, seen)).await.clone();
        let mut flights = self.renewals.flights.lock().expect("flights lock");
        if flights.get(name).is_some_and(|current| Arc::ptr_eq(current, &flight)) {
            flights.remove(name);
        }
        result
    }

    /// Reads one account on the blocking pool.
    async fn read_account(&self, name: &str) -> Result<Account, RenewError> {
        let keyport = self.clone();
        let owned = name.to_owned();
        blocking(move || keyport.account(&owned)).await.map_err(|err| RenewError::local(name, err, false))
    }

    /// Takes the account's renewal lock (other processes), waiting at most the lock wait.
    pub(crate) async fn renewal_lock(&self, name: &str) -> Result<FileLock, Error> {
        let path = self.accounts.renewal_lock_path(name);
        let wait = self.accounts.lock_wait;
        blocking(move || FileLock::acquire_within(&path, wait)).await
    }

    /// Saves the account's unsaved answer, if any, under its renewal lock: what the
    /// background refresher calls on its retry schedule. `Ok(None)`: nothing was waiting.
    pub(crate) async fn save_unsaved(&self, name: &str) -> Result<Option<Account>, RenewError> {
        let lock = match self.renewal_lock(name).await {
            Ok(lock) => lock,
            Err(err) => {
                self.renewals.reschedule_unsaved(name, self.clock.now());
                return Err(RenewError::local(name, err, true));
            }
        };
        let saved = self.flush_unsaved(name).await;
        drop(lock);
        if let Ok(Some(account)) = &saved {
            self.renewals.record(name, &Ok(account.clone()), self.clock.now());
            self.events
                .publish(AccountEvent::Refreshed { account: account.name.clone(), expires_at: account.expires_at });
        }
        saved
    }

    /// Takes the account's renewal lock, saves an unsaved answer first, then renews unless
    /// another process already did while this one waited, or the account is backing off.
    async fn renew_locked(&self, name: &str, seen: Option<OffsetDateTime>) -> Result<Account, RenewError> {
        let read = self.read_account(name).await?;
        let unsaved = self.has_unsaved_tokens(name);
        let result = if !unsaved && seen.is_some_and(|seen| read.token_issued_at > seen) && read.health == Health::Ok {
            // Renewed since the caller looked (by a flight that just ended, or another
            // process): nothing to ask, and nothing new to announce.
            return Ok(read);
        } else if let Some((retry_in, reason)) =
            self.renewals.provider_backoff(name, self.clock.now()).filter(|_| !unsaved)
        {
            Err(RenewError::BackingOff { account: name.to_owned(), reason, retry_in })
        } else {
            match self.renewal_lock(name).await {
                Ok(lock) => {
                    let result = self.renew_under_lock(name, read.token_issued_at).await;
                    drop(lock);
                    result
                }
                Err(err) => Err(RenewError::local(name, err, unsaved)),
            }
        };
        self.renewals.record(name, &result, self.clock.now());
        match &result {
            Ok(account) => self
                .events
                .publish(AccountEvent::Refreshed { account: account.name.clone(), expires_at: account.expires_at }),
            Err(RenewError::NeedsSignIn { reason, .. }) => {
                self.events.publish(AccountEvent::NeedsSignIn { account: name.to_owned(), reason: reason.clone() })
            }
            // Nothing was attempted: the failure behind it was announced when it happened.
            Err(RenewError::BackingOff { .. }) => {}
            Err(err) => self.events.publish(AccountEvent::Error { account: name.to_owned(), message: err.to_string() }),
        }
        result
    }

    /// [`Self::renew_locked`]'s part under the renewal lock.
    async fn renew_under_lock(&self, name: &str, mut seen: OffsetDateTime) -> Result<Account, RenewError> {
        if let Some(saved) = self.flush_unsaved(name).await? {
            if saved.expires_at.is_none_or(|at| at > self.clock.now()) {
                // The tokens of an earlier renewal, saved at last: they are the renewal.
                return Ok(saved);
            }
            // Saved, but expired while they waited: renew with the refresh token just saved.
            seen = saved.token_issued_at;
        }
        let current = self.read_account(name).await?;
        if current.token_issued_at > seen && current.health == Health::Ok {
            tracing::debug!(account = name, "the token was renewed meanwhile (another process, or an earlier flight)");
            return Ok(current);
        }
        if let Some((retry_in, reason)) = self.renewals.provider_backoff(name, self.clock.now()) {
            return Err(RenewError::BackingOff { account: name.to_owned(), reason, retry_in });
        }
        self.renew_now(current).await
    }

    /// One request to the token endpoint, and storing what it gives.
    async fn renew_now(&self, account: Account) -> Result<Account, RenewError> {
        let name = account.name.clone();
        if let Health::NeedsSignIn { reason, .. } = &account.health {
            return Err(RenewError::NeedsSignIn { account: name, reason: reason.clone() });
        }
        let keyport = self.clone();
        let record = account.clone();
        // Everything the request needs, read on the blocking pool: the provider, and the
        // refresh token (an unsaved one first: the provider may already have retired the one
        // in the keyring) or a service account's client secret.
        let (provider, credential, client_secret) = blocking(move || {
            let mut provider = keyport.providers.get(&record.provider)?;
            let namespace = keyport.accounts.namespace()?;
            match record.kind {
                AccountKind::User => {
                    let refresh_token = match keyport.renewals.unsaved_refresh_token(&record.name) {
                        Some(token) => token,
                        None => keyport
                            .secrets
                            .get(&SecretKey::refresh_token(&namespace, &record.name))?
                            .ok_or_else(|| RenewError::NoRefreshToken { account: record.name.clone() })?,
                    };
                    let secret = keyport.client_secret(&provider)?;
                    Ok((provider, refresh_token, secret))
                }
                AccountKind::Service => {
                    let secret = keyport
                        .secrets
                        .get(&SecretKey::account_client_secret(&namespace, &record.name))?
                        .ok_or_else(|| RenewError::Local {
                            account: record.name.clone(),
                            reason: "its client secret is missing from the keyring".into(),
                        })?;
                    if let Some(client_id) = &record.client_id {
                        provider.client_id = client_id.clone();
                    }
                    Ok((provider, secret.clone(), Some(secret)))
                }
            }
        })
        .await
        .map_err(|err| RenewError::local(&name, err, false))?;
        let client =
            oauth::client(&provider, client_secret.as_ref()).map_err(|err| RenewError::local(&name, err, false))?;
        let exchange = Exchange::new(self.http.as_ref());
        test_step_async("before-request").await;
        let response = match account.kind {
            AccountKind::User => {
                let refresh_token = RefreshToken::new(credential.expose().to_owned());
                client.exchange_refresh_token(&refresh_token).request_async(&exchange).await
            }
            AccountKind::Service => {
                client
                    .exchange_client_credentials()
                    .add_scopes(account.requested_scopes.iter().cloned().map(Scope::new))
                    .request_async(&exchange)
                    .await
            }
        };
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                let err = oauth::token_error(err, exchange.last());
                return Err(self.classify_failure(&account, err, exchange.last()).await);
            }
        };
        let received_at = self.clock.now();
        let tokens = Tokens::from_response(response, &provider.quirks).map_err(|err| RenewError::Transient {
            account: name.clone(),
            reason: err.to_string(),
            retry_after: None,
        })?;
        if tokens.refresh_token.is_none() {
            // No rotation: the refresh token in the keyring stays good, so a failure to store
            // the new access token loses nothing but that token.
            test_step_async("after-response").await;
            let keyport = self.clone();
            let owned = name.clone();
            return blocking(move || keyport.store_renewed(&owned, &tokens, received_at))
                .await
                .map_err(|err| RenewError::local(&name, err, false));
        }
        // From here the provider may have retired the refresh token the keyring holds: the
        // answer lives in memory before anything else happens, until it is saved.
        self.keep_unsaved(&name, tokens, received_at);
        test_step_async("after-response").await;
        match self.flush_unsaved(&name).await? {
            Some(account) => Ok(account),
            // Forgotten meanwhile (the account was removed or signed in again).
            None => Err(RenewError::local(&name, Error::AccountNotFound { name: name.clone() }, false)),
        }
    }

    /// Keeps a provider's answer for `name` in memory (no I/O), replacing an older one.
    fn keep_unsaved(&self, name: &str, tokens: Tokens, received_at: OffsetDateTime) {
        let generation = self.renewals.generations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unsaved =
            Unsaved { tokens: Arc::new(tokens), received_at, generation, attempts: 0, next_attempt: received_at };
        self.renewals.unsaved.lock().expect("unsaved lock").insert(name.to_owned(), unsaved);
    }

    /// Writes the account's unsaved answer (refresh token, access token, metadata). Callers
    /// hold the account's renewal lock. `Ok(None)`: nothing was waiting. On failure the answer
    /// stays in memory, with its next attempt scheduled.
    async fn flush_unsaved(&self, name: &str) -> Result<Option<Account>, RenewError> {
        let Some((tokens, received_at, generation)) = self
            .renewals
            .unsaved
            .lock()
            .expect("unsaved lock")
            .get(name)
            .map(|u| (u.tokens.clone(), u.received_at, u.generation))
        else {
            return Ok(None);
        };
        let keyport = self.clone();
        let owned = name.to_owned();
        let stored = blocking(move || keyport.store_renewed(&owned, &tokens, received_at)).await;
        let mut unsaved = self.renewals.unsaved.lock().expect("unsaved lock");
        let current = unsaved.get_mut(name).filter(|u| u.generation == generation);
        match stored {
            Ok(account) => {
                if current.is_some() {
                    unsaved.remove(name);
                }
                drop(unsaved);
                tracing::info!(account = name, "the new tokens are saved");
                Ok(Some(account))
            }
            Err(Error::AccountNotFound { .. }) => {
                // Removed meanwhile: nobody can use these tokens any more.
                if current.is_some() {
                    unsaved.remove(name);
                }
                Err(RenewError::local(name, Error::AccountNotFound { name: name.to_owned() }, false))
            }
            Err(err) => {
                if let Some(entry) = current {
                    let delay = entry.reschedule(self.clock.now());
                    tracing::warn!(account = name, %err, attempts = entry.attempts, retry_in = ?delay,
                        "a new refresh token is waiting in memory to be saved");
                }
                drop(unsaved);
                Err(RenewError::local(name, err, true))
            }
        }
    }

    /// Rotation order: refresh token, then access token, then metadata (issued at
    /// `received_at`, when the provider's answer arrived).
    pub(crate) fn store_renewed(
        &self,
        name: &str,
        tokens: &Tokens,
        received_at: OffsetDateTime,
    ) -> Result<Account, Error> {
        let namespace = self.accounts.namespace()?;
        if let Some(refresh_token) = &tokens.refresh_token {
            self.secrets.set(&SecretKey::refresh_token(&namespace, name), refresh_token)?;
            test_step("after-refresh-token-saved");
        }
        self.secrets.set(&SecretKey::access_token(&namespace, name), &tokens.access_token)?;
        test_step("after-access-token-saved");
        self.accounts.update(|data| {
            let record = data
                .accounts
                .iter_mut()
                .find(|a| a.name == name)
                .ok_or_else(|| Error::AccountNotFound { name: name.to_owned() })?;
            record.expires_at = tokens.expires_in.map(|lifetime| oauth::expires_at(received_at, lifetime));
            record.token_issued_at = received_at;
            record.last_refreshed_at = Some(received_at);
            record.updated_at = received_at;
            record.token_type = tokens.token_type.clone();
            record.has_refresh_token = record.has_refresh_token || tokens.refresh_token.is_some();
            if record.kind == AccountKind::User {
                oauth::note_refresh_expiry(record, tokens, received_at);
            }
            if let Some(scope) = &tokens.scope {
                record.scopes = scope.clone();
            }
            record.health = Health::Ok;
            Ok(record.clone())
        })
    }

    /// Decides between "needs sign-in" (and records it) and "try again later".
    async fn classify_failure(&self, account: &Account, err: Error, last: oauth::LastResponse) -> RenewError {
        let name = account.name.clone();
        match err {
            Error::TokenRefused { error, description } if PERMANENT_ERRORS.contains(&error.as_str()) => {
                let reason = match description {
                    Some(text) if !text.is_empty() => format!("{error} ({text})"),
                    _ => error,
                };
                let since = self.clock.now();
                let keyport = self.clone();
                let (owned, why) = (name.clone(), reason.clone());
                let marked = blocking(move || {
                    keyport.accounts.update(|data| {
                        if let Some(record) = data.accounts.iter_mut().find(|a| a.name == owned) {
                            record.health = Health::NeedsSignIn { reason: why, since };
                            record.updated_at = since;
                        }
                        Ok(())
                    })
                })
                .await;
                if let Err(err) = marked {
                    tracing::error!(account = %name, %err, "could not record that the account needs a new sign-in");
                }
                RenewError::NeedsSignIn { account: name, reason }
            }
            other => {
                let status = last.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
                let reason = match &other {
                    Error::Http(_) | Error::BadTokenResponse { .. } => other.to_string(),
                    _ => format!("{other}{status}"),
                };
                RenewError::Transient { account: name, reason, retry_after: last.retry_after }
            }
        }
    }

    /// On shutdown: one last attempt to save every unsaved answer, so that a process stopped
    /// on purpose loses none; what still cannot be saved is logged, since that account will
    /// need a new sign-in once the process is gone.
    pub(crate) async fn save_all_unsaved(&self) {
        for name in self.renewals.unsaved_names() {
            if let Err(err) = self.save_unsaved(&name).await {
                tracing::error!(account = %name, %err,
                    "stopping with a new refresh token that the keyring did not take: this account will need `keyport reauth`");
            }
        }
    }
}
