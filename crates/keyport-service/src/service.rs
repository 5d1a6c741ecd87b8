//! [`Service`]: what `keyport daemon` and the desktop app host. It owns a [`Keyport`], the
//! access rules, the in-memory token cache, the sign-ins under way and the event bus, and
//! answers the socket's methods (`methods.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use keyport_core::Keyport;
use keyport_core::account::{Account, Health};
use keyport_core::refresher::RefreshPolicy;
use keyport_core::secret::Secret;
use keyport_wire::Event;
use tokio::sync::broadcast;

use crate::access::{AccessPrompter, AccessRules};
use crate::convert;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The socket to serve (`$XDG_RUNTIME_DIR/keyport/keyport.sock`).
    pub socket: PathBuf,
    /// `$XDG_CONFIG_HOME/keyport/access.toml`.
    pub access_rules: PathBuf,
    /// `$XDG_DATA_HOME/keyport/accounts.json`, watched to keep caches fresh.
    pub accounts_file: PathBuf,
    /// Executables of the `keyport` CLI: a request from one of them is judged as its parent's.
    pub cli_paths: Vec<PathBuf>,
    /// Connections served at once; more get a `busy` error.
    pub max_connections: usize,
    /// A connection that sends nothing for this long (and has no subscription) is closed.
    pub idle_timeout: Duration,
    /// The background refresher's policy.
    pub refresh: RefreshPolicy,
}

impl ServiceConfig {
    /// Defaults for the given files.
    pub fn new(socket: PathBuf, access_rules: PathBuf, accounts_file: PathBuf) -> Self {
        let mut cli_paths = Vec::new();
        if let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) {
            // The daemon is usually the CLI binary itself; the desktop app ships one beside it.
            if let Some(sibling) = me.parent().map(|dir| dir.join("keyport")).filter(|p| p.exists()) {
                cli_paths.push(sibling);
            }
            cli_paths.push(me);
        }
        Self {
            socket,
            access_rules,
            accounts_file,
            cli_paths,
            max_connections: 512,
            idle_timeout: Duration::from_secs(60),
            refresh: RefreshPolicy::default(),
        }
    }
}

/// A cached access token, valid while the account's `token_issued_at` is unchanged.
#[derive(Debug)]
struct Cached {
    issued_at: time::OffsetDateTime,
    token: Arc<Secret>,
}

/// Accounts as last read, with the file's modification time.
#[derive(Debug, Default)]
struct Snapshot {
    modified: Option<SystemTime>,
    accounts: Arc<HashMap<String, Account>>,
}

/// Keyport's service.
#[derive(Debug)]
pub struct Service {
    pub(crate) keyport: Keyport,
    pub(crate) config: ServiceConfig,
    pub(crate) rules: AccessRules,
    pub(crate) prompter: Arc<dyn AccessPrompter>,
    pub(crate) bus: broadcast::Sender<Event>,
    pub(crate) signins: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    snapshot: Mutex<Snapshot>,
    tokens: Mutex<HashMap<String, Cached>>,
}

impl Service {
    /// A service over `keyport`. Call [`Service::run`] inside a tokio runtime.
    pub fn new(keyport: Keyport, config: ServiceConfig, prompter: Arc<dyn AccessPrompter>) -> Arc<Self> {
        let rules = AccessRules::new(config.access_rules.clone());
        Arc::new(Self {
            keyport,
            config,
            rules,
            prompter,
            bus: broadcast::channel(1024).0,
            signins: Mutex::new(HashMap::new()),
            snapshot: Mutex::new(Snapshot::default()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The core this service drives (the desktop shell calls it directly).
    pub fn keyport(&self) -> &Keyport {
        &self.keyport
    }

    /// The access rules.
    pub fn rules(&self) -> &AccessRules {
        &self.rules
    }

    /// Subscribes to the service's events (the core's account events and sign-in outcomes).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.bus.subscribe()
    }

    pub(crate) fn publish(&self, event: Event) {
        let _ = self.bus.send(event);
    }

    /// Forwards the core's account events to the bus; drops cached tokens of changed accounts.
    pub(crate) async fn forward_core_events(self: Arc<Self>) {
        let mut events = self.keyport.subscribe();
        loop {
            match events.recv().await {
                Ok(event) => {
                    self.tokens.lock().expect("token cache").remove(event.account());
                    self.publish(convert::event(event));
                }
                Err(broadcast::error::RecvError::Lagged(count)) => {
                    self.tokens.lock().expect("token cache").clear();
                    self.publish(Event::Missed { count });
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// The accounts, re-read only when `accounts.json` changed on disk.
    pub(crate) fn accounts(&self) -> Result<Arc<HashMap<String, Account>>, keyport_core::Error> {
        let modified = std::fs::metadata(&self.config.accounts_file).and_then(|m| m.modified()).ok();
        let mut snapshot = self.snapshot.lock().expect("snapshot");
        if snapshot.modified != modified || modified.is_none() {
            let accounts = self.keyport.accounts()?;
            snapshot.accounts = Arc::new(accounts.into_iter().map(|a| (a.name.clone(), a)).collect());
            snapshot.modified = modified;
        }
        Ok(snapshot.accounts.clone())
    }

    /// The account's access token, from memory when the cached one is current and valid for
    /// `min_valid`; otherwise from the keyring, or renewed first (one request however many
    /// callers ask).
    pub(crate) async fn token(
        &self,
        name: &str,
        min_valid: Duration,
    ) -> Result<(Account, Arc<Secret>), keyport_core::Error> {
        let account = self
            .accounts()?
            .get(name)
            .cloned()
            .ok_or_else(|| keyport_core::Error::AccountNotFound { name: name.to_owned() })?;
        if let Health::NeedsSignIn { reason, .. } = &account.health {
            return Err(keyport_core::Error::NeedsSignIn { name: name.to_owned(), reason: reason.clone() });
        }
        let fresh_enough = account.expires_at.is_none_or(|at| {
            at - self.keyport.now() >= time::Duration::try_from(min_valid).unwrap_or(time::Duration::MAX)
        });
        if fresh_enough
            && let Some(cached) = self.tokens.lock().expect("token cache").get(name)
            && cached.issued_at == account.token_issued_at
        {
            return Ok((account, cached.token.clone()));
        }
        let keyport = self.keyport.clone();
        let owned = name.to_owned();
        let (account, token) = if fresh_enough {
            // Keyring calls block (D-Bus): keep them off the async workers.
            tokio::task::spawn_blocking(move || keyport.access_token(&owned))
                .await
                .expect("the keyring task does not panic")?
        } else {
            keyport.fresh_access_token(&owned, min_valid).await?
        };
        let token = Arc::new(token);
        self.tokens
            .lock()
            .expect("token cache")
            .insert(name.to_owned(), Cached { issued_at: account.token_issued_at, token: token.clone() });
        Ok((account, token))
    }
}
