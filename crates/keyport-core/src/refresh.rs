//! Renewing access tokens: refresh-token grants for user accounts, new client-credentials
//! tokens for service accounts.
//!
//! - **Single flight.** Concurrent renewals of one account in this process share one request
//!   ([`Flights`]); across processes a per-account lock file serializes them, and a process that
//!   waited on the lock uses the token the other one just got instead of asking again.
//! - **Rotation.** A new refresh token is written to the keyring before anything else; see
//!   ARCHITECTURE.md ("Refresh and rotation") for the crash window that remains.
//! - **Outcomes.** Permanent refusals (`invalid_grant`, `invalid_client`,
//!   `unauthorized_client`) mark the account `needs_sign_in`; everything else (network, 408,
//!   429, 5xx, garbage) is transient and keeps the current tokens.
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
use crate::oauth::{self, Exchange, Tokens};
use crate::secret::Secret;
use crate::secrets::SecretKey;
use crate::store::FileLock;

/// OAuth errors after which only a new sign-in helps (RFC 6749 §5.2).
const PERMANENT_ERRORS: [&str; 3] = ["invalid_grant", "invalid_client", "unauthorized_client"];

/// Why a renewal failed. Cloneable, because every caller waiting on one request gets it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenewError {
    /// The provider refused the grant; the account is now `needs_sign_in`.
    #[error("account `{account}` needs a new sign-in: the provider answered {reason}. Run `keyport reauth {account}`")]
    NeedsSignIn { account: String, reason: String },
    /// It may work later; the current tokens were kept.
    #[error("could not renew the token of `{account}` ({reason}); the current tokens are kept")]
    Transient { account: String, reason: String, retry_after: Option<Duration> },
    /// A user account without a refresh token cannot be renewed.
    #[error("account `{account}` has no refresh token; run `keyport reauth {account}` when its token expires")]
    NoRefreshToken { account: String },
    /// A local failure (keyring, files).
    #[error("could not renew the token of `{account}`: {reason}")]
    Local { account: String, reason: String },
}

impl RenewError {
    /// The delay the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

type Flight = Arc<tokio::sync::OnceCell<Result<Account, RenewError>>>;

/// Renewals under way in this process, by account.
#[derive(Debug, Default)]
pub(crate) struct Flights(Mutex<HashMap<String, Flight>>);

/// Where a crash test may stop a renewal, in order (see `crash_point`).
pub const CRASH_POINTS: [&str; 4] =
    ["before-request", "after-response", "after-refresh-token-saved", "after-access-token-saved"];

/// Aborts the process when `KEYPORT_TEST_CRASH_AT` names this step. The end-to-end tests use
/// it to check that a process killed at any step of a renewal leaves a usable account; unset
/// (always, outside those tests) it does nothing.
fn crash_point(step: &'static str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if AT.get_or_init(|| std::env::var("KEYPORT_TEST_CRASH_AT").ok()).as_deref() == Some(step) {
        eprintln!("keyport: KEYPORT_TEST_CRASH_AT={step}: aborting");
        std::process::abort();
    }
}

impl Keyport {
    /// Renews the account's access token now: one request however many callers ask at once.
    pub async fn refresh(&self, account: &str) -> Result<Account, Error> {
        Ok(self.renew(account).await?)
    }

    /// The access token, renewed first when it expires within `min_valid` (or is missing, for
    /// a service account).
    pub async fn fresh_access_token(&self, name: &str, min_valid: Duration) -> Result<(Account, Secret), Error> {
        let account = self.account(name)?;
        if let Health::NeedsSignIn { reason, .. } = &account.health {
            return Err(Error::NeedsSignIn { name: name.to_owned(), reason: reason.clone() });
        }
        let namespace = self.accounts.namespace()?;
        let stored = self.secrets.get(&SecretKey::access_token(&namespace, name))?;
        let expiring = account.expires_at.is_some_and(|at| {
            at - self.clock.now() < time::Duration::try_from(min_valid).unwrap_or(time::Duration::MAX)
        });
        if let (Some(token), false) = (stored, expiring) {
            return Ok((account, token));
        }
        // Pass what this caller saw: a renewal that finished since (another caller's flight,
        // already gone from `flights`) is used instead of a second request. Without it, 100
        // concurrent `token.get`s with a long `min_valid` made 2 renewals in one bench run of
        // two (benches/socket.rs).
        let account = self.renew_since(name, Some(account.token_issued_at)).await?;
        let token = self
            .secrets
            .get(&SecretKey::access_token(&namespace, name))?
            .ok_or_else(|| Error::TokenMissing { name: name.to_owned() })?;
        Ok((account, token))
    }

    /// The single-flight wrapper around [`Self::renew_locked`].
    pub(crate) async fn renew(&self, name: &str) -> Result<Account, RenewError> {
        self.renew_since(name, None).await
    }

    /// [`Self::renew`], for a caller that decided to renew after seeing a token issued at
    /// `seen`: if a newer one exists by the time the renewal starts, that one is the result.
    async fn renew_since(&self, name: &str, seen: Option<OffsetDateTime>) -> Result<Account, RenewError> {
        let flight = {
            let mut flights = self.flights.0.lock().expect("flights lock");
            flights.entry(name.to_owned()).or_default().clone()
        };
        let result = flight.get_or_init(|| self.renew_locked(name, seen)).await.clone();
        let mut flights = self.flights.0.lock().expect("flights lock");
        if flights.get(name).is_some_and(|current| Arc::ptr_eq(current, &flight)) {
            flights.remove(name);
        }
        result
    }

    /// Takes the account's renewal lock (other processes), then renews unless another process
    /// already did while this one waited.
    async fn renew_locked(&self, name: &str, seen: Option<OffsetDateTime>) -> Result<Account, RenewError> {
        let local = |reason: String| RenewError::Local { account: name.to_owned(), reason };
        let read = self.account(name).map_err(|err| local(err.to_string()))?;
        if seen.is_some_and(|seen| read.token_issued_at > seen) && read.health == Health::Ok {
            // Renewed since the caller looked (by a flight that just ended, or another
            // process): nothing to ask, and nothing new to announce.
            return Ok(read);
        }
        let seen = read.token_issued_at;
        let lock_path = self.accounts.renewal_lock_path(name);
        let lock = tokio::task::spawn_blocking(move || FileLock::acquire(&lock_path))
            .await
            .map_err(|err| local(err.to_string()))?
            .map_err(|err| local(err.to_string()))?;
        let current = self.account(name).map_err(|err| local(err.to_string()))?;
        let result = if current.token_issued_at > seen && current.health == Health::Ok {
            tracing::debug!(account = name, "the token was renewed meanwhile (another process, or an earlier flight)");
            Ok(current)
        } else {
            self.renew_now(current).await
        };
        drop(lock);
        match &result {
            Ok(account) => self
                .events
                .publish(AccountEvent::Refreshed { account: account.name.clone(), expires_at: account.expires_at }),
            Err(RenewError::NeedsSignIn { reason, .. }) => {
                self.events.publish(AccountEvent::NeedsSignIn { account: name.to_owned(), reason: reason.clone() })
            }
            Err(err) => self.events.publish(AccountEvent::Error { account: name.to_owned(), message: err.to_string() }),
        }
        result
    }

    /// One request to the token endpoint, and storing what it gives.
    async fn renew_now(&self, account: Account) -> Result<Account, RenewError> {
        let name = account.name.clone();
        let local = |reason: String| RenewError::Local { account: name.clone(), reason };
        if let Health::NeedsSignIn { reason, .. } = &account.health {
            return Err(RenewError::NeedsSignIn { account: name, reason: reason.clone() });
        }
        let provider = self.providers.get(&account.provider).map_err(|err| local(err.to_string()))?;
        let namespace = self.accounts.namespace().map_err(|err| local(err.to_string()))?;
        let exchange = Exchange::new(self.http.as_ref());
        let response = match account.kind {
            AccountKind::User => {
                let refresh_token = self
                    .secrets
                    .get(&SecretKey::refresh_token(&namespace, &name))
                    .map_err(|err| local(err.to_string()))?
                    .ok_or_else(|| RenewError::NoRefreshToken { account: name.clone() })?;
                let secret = self.client_secret(&provider).map_err(|err| local(err.to_string()))?;
                let client = oauth::client(&provider, secret.as_ref()).map_err(|err| local(err.to_string()))?;
                let refresh_token = RefreshToken::new(refresh_token.expose().to_owned());
                crash_point("before-request");
                client.exchange_refresh_token(&refresh_token).request_async(&exchange).await
            }
            AccountKind::Service => {
                let secret = self
                    .secrets
                    .get(&SecretKey::account_client_secret(&namespace, &name))
                    .map_err(|err| local(err.to_string()))?
                    .ok_or_else(|| local("its client secret is missing from the keyring".into()))?;
                let mut provider = provider.clone();
                if let Some(client_id) = &account.client_id {
                    provider.client_id = client_id.clone();
                }
                let client = oauth::client(&provider, Some(&secret)).map_err(|err| local(err.to_string()))?;
                crash_point("before-request");
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
                return Err(self.classify_failure(&account, oauth::token_error(err, exchange.last()), exchange.last()));
            }
        };
        crash_point("after-response");
        let tokens = Tokens::from_response(response, provider.quirks.scope_separator).map_err(|err| {
            RenewError::Transient { account: name.clone(), reason: err.to_string(), retry_after: None }
        })?;
        self.store_renewed(account, tokens, &namespace).map_err(|err| local(err.to_string()))
    }

    /// Rotation order: refresh token, then access token, then metadata.
    fn store_renewed(&self, account: Account, tokens: Tokens, namespace: &str) -> Result<Account, Error> {
        let name = account.name.clone();
        if let Some(refresh_token) = &tokens.refresh_token {
            self.secrets.set(&SecretKey::refresh_token(namespace, &name), refresh_token)?;
            crash_point("after-refresh-token-saved");
        }
        self.secrets.set(&SecretKey::access_token(namespace, &name), &tokens.access_token)?;
        crash_point("after-access-token-saved");
        let now = self.clock.now();
        self.accounts.update(|data| {
            let record = data
                .accounts
                .iter_mut()
                .find(|a| a.name == name)
                .ok_or_else(|| Error::AccountNotFound { name: name.clone() })?;
            record.expires_at = tokens.expires_in.map(|lifetime| expires_at(now, lifetime));
            record.token_issued_at = now;
            record.last_refreshed_at = Some(now);
            record.updated_at = now;
            record.token_type = tokens.token_type.clone();
            record.has_refresh_token = record.has_refresh_token || tokens.refresh_token.is_some();
            if let Some(scope) = &tokens.scope {
                record.scopes = scope.clone();
            }
            record.health = Health::Ok;
            Ok(record.clone())
        })
    }

    /// Decides between "needs sign-in" (and records it) and "try again later".
    fn classify_failure(&self, account: &Account, err: Error, last: oauth::LastResponse) -> RenewError {
        let name = account.name.clone();
        match err {
            Error::TokenRefused { error, description } if PERMANENT_ERRORS.contains(&error.as_str()) => {
                let reason = match description {
                    Some(text) if !text.is_empty() => format!("{error} ({text})"),
                    _ => error,
                };
                let since = self.clock.now();
                let marked = self.accounts.update(|data| {
                    if let Some(record) = data.accounts.iter_mut().find(|a| a.name == name) {
                        record.health = Health::NeedsSignIn { reason: reason.clone(), since };
                        record.updated_at = since;
                    }
                    Ok(())
                });
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
}

/// `now + lifetime`, clamped and saturating ([`oauth::expires_at`]).
pub(crate) fn expires_at(now: OffsetDateTime, lifetime: Duration) -> OffsetDateTime {
    oauth::expires_at(now, lifetime)
}
