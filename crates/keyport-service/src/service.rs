//! [`Service`]: what `keyport daemon` and the desktop app host. It owns a [`Keyport`], the
//! access rules, the in-memory token cache, the sign-ins under way and the event bus, and
//! answers the socket's methods (`methods.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use keyport_core::Keyport;
use keyport_core::account::{Account, Health};
use keyport_core::refresher::RefreshPolicy;
use keyport_core::secret::Secret;
use keyport_wire::{Event, Navigate};
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
    /// Executables of the desktop window (`keyport-desktop`): a connection from one of them
    /// acts for the person ([`crate::peer::Asker::Window`]).
    pub desktop_paths: Vec<PathBuf>,
    /// Connections served at once; more get a `busy` error.
    pub max_connections: usize,
    /// Connections one program may have open at once (`server::MAX_CONNECTIONS_PER_PROGRAM`).
    pub max_connections_per_program: usize,
    /// A connection that sends nothing for this long (and has no subscription) is closed.
    pub idle_timeout: Duration,
    /// The background refresher's policy.
    pub refresh: RefreshPolicy,
    /// The activity log (`$XDG_STATE_HOME/keyport/activity.jsonl`: [`ServiceConfig::with_activity_log`]);
    /// `None` (the default) writes none.
    pub activity_log: Option<PathBuf>,
    /// The XDG autostart entries `service.autostart` reads and `service.set_autostart` writes
    /// ([`ServiceConfig::with_autostart`]); `None`: neither is served.
    pub autostart: Option<crate::autostart::Autostart>,
}

impl ServiceConfig {
    /// Defaults for the given files.
    pub fn new(socket: PathBuf, access_rules: PathBuf, accounts_file: PathBuf) -> Self {
        let mut cli_paths = Vec::new();
        let mut desktop_paths = Vec::new();
        if let Ok(me) = std::env::current_exe().and_then(|me| crate::peer::canonical(&me)) {
            // The daemon is the full CLI itself; the window is installed beside it.
            cli_paths.extend(cli_executables_near(&me));
            desktop_paths.extend(desktop_executables_near(&me));
            cli_paths.push(me);
        }
        // The `keyport` that programs find in PATH (installed elsewhere than this binary, e.g.
        // by `cargo install`), and its full CLI, so that a program running it is judged, not
        // the CLI.
        if let Ok(crate::access::Program::Path(in_path)) = crate::access::Program::resolve("keyport") {
            cli_paths.extend(cli_executables_near(&in_path));
            desktop_paths.extend(desktop_executables_near(&in_path));
            cli_paths.push(in_path);
        }
        let mut seen = std::collections::HashSet::new();
        cli_paths.retain(|path| seen.insert(path.clone()));
        desktop_paths.retain(|path| seen.insert(path.clone()));
        Self {
            socket,
            access_rules,
            accounts_file,
            cli_paths,
            desktop_paths,
            max_connections: 512,
            max_connections_per_program: crate::server::MAX_CONNECTIONS_PER_PROGRAM,
            idle_timeout: Duration::from_secs(60),
            refresh: RefreshPolicy::default(),
            activity_log: None,
            autostart: None,
        }
    }

    /// This configuration with the activity log in its usual place,
    /// `$XDG_STATE_HOME/keyport/activity.jsonl` (none when no home directory is known).
    pub fn with_activity_log(mut self) -> Self {
        self.activity_log = keyport_core::paths::state_dir().ok().map(|dir| dir.join(crate::activity::FILE_NAME));
        self
    }

    /// This configuration with the user's autostart entries (`$XDG_CONFIG_HOME/autostart`).
    pub fn with_autostart(mut self) -> Self {
        self.autostart = crate::autostart::Autostart::from_env();
        self
    }
}

/// The `keyport` command is two executables: `keyport`, the thin client (answers `keyport
/// token` itself, `crates/keyport-thin`), and `keyport-full`, the full CLI it hands every other
/// command to (by `exec`, keeping its pid). Both speak for their parent. An installation keeps
/// them side by side (`cargo install`, a checkout's `target/`) or, for packages, the thin client
/// in `PREFIX/bin` and the full CLI in `PREFIX/lib/keyport` (`keyport_thin::full::candidates`
/// says the same; the full CLI's tests check that the two agree).
///
/// The CLI executables of the installation that `executable` (a CLI binary or the desktop app)
/// belongs to, as canonical paths of existing files.
pub fn cli_executables_near(executable: &std::path::Path) -> Vec<PathBuf> {
    let Some(dir) = executable.parent() else { return Vec::new() };
    let exe = |name: &str| format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let mut candidates = vec![
        dir.join(exe("keyport")),
        dir.join(exe("keyport-full")),
        dir.join("../lib/keyport").join(exe("keyport-full")),
    ];
    if dir.ends_with("lib/keyport") {
        candidates.push(dir.join("../../bin").join(exe("keyport")));
    }
    candidates.into_iter().filter_map(|path| crate::peer::canonical(&path).ok()).filter(|path| path.is_file()).collect()
}

/// The desktop window's executable of the installation that `executable` (a CLI binary)
/// belongs to: `keyport-desktop` beside it, or in `PREFIX/bin` for the full CLI in
/// `PREFIX/lib/keyport`; as a canonical path of an existing file.
pub fn desktop_executables_near(executable: &std::path::Path) -> Vec<PathBuf> {
    let Some(dir) = executable.parent() else { return Vec::new() };
    let desktop = format!("keyport-desktop{}", std::env::consts::EXE_SUFFIX);
    let mut candidates = vec![dir.join(&desktop)];
    if dir.ends_with("lib/keyport") {
        candidates.push(dir.join("../../bin").join(&desktop));
    }
    candidates.into_iter().filter_map(|path| crate::peer::canonical(&path).ok()).filter(|path| path.is_file()).collect()
}

/// How long the accounts snapshot is trusted without a `stat()` of `accounts.json`. The stats
/// were 16% of the daemon's CPU under load (three per cached `token.get`, two of them of
/// `accounts.json`: `perf` during `cargo bench --bench socket`). Changes made in this process
/// are seen at once ([`Service::invalidate`]); changes by other processes (`keyport add
/// --client-credentials`, `--device`) by the first request after this time (the comparison
/// runs on the blocking pool, so the request that starts it is answered from memory and never
/// waits on the disk); and anything not answered from memory (a missing account, an uncached
/// token) looks at the file again first.
pub(crate) const RECHECK: Duration = Duration::from_millis(50);

/// Keyring reads for uncached tokens under way at once. Each holds a thread of the blocking
/// pool for as long as the keyring takes, which on a desktop is as long as an unlock dialog
/// stays open: requests beyond this wait (as tasks, holding no thread) instead of filling
/// the pool that renewals and file writes need too.
const KEYRING_READS: usize = 8;

/// A cached access token, valid while the account's `token_issued_at` is unchanged.
#[derive(Debug)]
struct Cached {
    issued_at: time::OffsetDateTime,
    token: Arc<Secret>,
}

/// Accounts as last read, with the file's modification time and when it was last compared.
#[derive(Debug, Default)]
struct Snapshot {
    /// Whether the file was ever read (the first look reads it at once).
    loaded: bool,
    /// Accounts this process changed since the file was last read: they are left out of
    /// [`Service::accounts`] until it is read again, so that whoever needs them looks at the
    /// file (a removed account is not found, a renewed one is read anew).
    invalidated: std::collections::HashSet<String>,
    modified: Option<SystemTime>,
    checked: Option<Instant>,
    accounts: Arc<HashMap<String, Account>>,
}

/// Keyport's service.
#[derive(Debug)]
pub struct Service {
    pub(crate) keyport: Keyport,
    pub(crate) config: ServiceConfig,
    pub(crate) rules: AccessRules,
    pub(crate) prompter: Arc<dyn AccessPrompter>,
    /// Who is asking, for the socket (`peer/`).
    pub(crate) identifier: crate::peer::Identifier,
    pub(crate) bus: broadcast::Sender<Event>,
    pub(crate) signins: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Each account's last error not fixed since (in memory only; messages hold no secret).
    last_errors: Mutex<HashMap<String, crate::app::LastError>>,
    snapshot: Arc<Mutex<Snapshot>>,
    /// A comparison of `accounts.json` with the snapshot is under way on the blocking pool.
    rechecking: Arc<std::sync::atomic::AtomicBool>,
    tokens: Mutex<HashMap<String, Cached>>,
    keyring_reads: tokio::sync::Semaphore,
    /// The record of who read what.
    pub(crate) activity: crate::activity::Activity,
    /// Request lines read on the socket since the start (for `resident`: is the service idle?).
    pub(crate) requests_read: std::sync::atomic::AtomicU64,
    /// `keyport ssh`'s forwards that are open.
    pub(crate) forwards: crate::forward::Forwards,
    /// Set by `service.stop` (`keyport quit`, the tray's Quit): [`crate::run`] ends.
    stop_requested: tokio::sync::watch::Sender<bool>,
}

impl Service {
    /// A service over `keyport`. Call [`Service::run`] inside a tokio runtime.
    pub fn new(keyport: Keyport, config: ServiceConfig, prompter: Arc<dyn AccessPrompter>) -> Arc<Self> {
        let rules = AccessRules::new(config.access_rules.clone());
        let identifier = crate::peer::Identifier::new(config.cli_paths.clone(), config.desktop_paths.clone());
        let activity =
            crate::activity::Activity::new(config.activity_log.clone(), Arc::new(keyport_core::clock::SystemClock));
        Arc::new(Self {
            keyport,
            config,
            rules,
            prompter,
            identifier,
            bus: broadcast::channel(1024).0,
            signins: Mutex::new(HashMap::new()),
            last_errors: Mutex::new(HashMap::new()),
            snapshot: Arc::default(),
            rechecking: Arc::default(),
            tokens: Mutex::new(HashMap::new()),
            keyring_reads: tokio::sync::Semaphore::new(KEYRING_READS),
            activity,
            requests_read: std::sync::atomic::AtomicU64::new(0),
            forwards: crate::forward::Forwards::default(),
            stop_requested: tokio::sync::watch::channel(false).0,
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

    /// The activity log.
    pub fn activity(&self) -> &crate::activity::Activity {
        &self.activity
    }

    /// Subscribes to the service's events (the core's account events and sign-in outcomes).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.bus.subscribe()
    }

    /// Runs file work on the blocking pool; an I/O failure is an internal error, in words.
    pub(crate) async fn blocking_io<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, keyport_wire::ErrorObject> {
        let internal =
            |message: String| keyport_wire::ErrorObject::new(keyport_wire::ErrorCode::InternalError, message);
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|err| internal(err.to_string()))?
            .map_err(|err| internal(err.to_string()))
    }

    /// Asks the service to stop, a moment from now (so the answer that says so is sent first).
    pub fn request_stop(&self) {
        let stop = self.stop_requested.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = stop.send(true);
        });
    }

    /// Completes once [`Service::request_stop`] was called.
    pub(crate) fn stop_requested(&self) -> impl std::future::Future<Output = ()> + use<> {
        let mut stopped = self.stop_requested.subscribe();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    }

    /// Forwards the questions put to the window, and their closing, to the bus (where only
    /// the window's connections see them).
    pub(crate) async fn forward_prompt_events(self: Arc<Self>) {
        let Some(questions) = self.prompter.questions() else { return };
        let mut events = questions.subscribe();
        loop {
            let event = match events.recv().await {
                Ok(crate::prompts::PromptEvent::Asked(prompt)) => Event::PromptAsked { prompt },
                Ok(crate::prompts::PromptEvent::Closed { prompt_id }) => Event::PromptClosed { prompt_id },
                // The window reads `prompts.subscribe` again after a `missed` event.
                Err(broadcast::error::RecvError::Lagged(count)) => Event::Missed { count },
                Err(broadcast::error::RecvError::Closed) => return,
            };
            self.publish(event);
        }
    }

    /// Whether a window answers this service's questions now.
    pub fn window_answers(&self) -> bool {
        self.prompter.questions().is_some_and(crate::prompts::AccessPrompts::has_window)
    }

    /// Shows the window at `screen`: a window that answers questions is told (`show`
    /// event); else one is started. `false` when none can be shown.
    pub fn show_window(&self, screen: Navigate) -> bool {
        let Some(questions) = self.prompter.questions() else { return false };
        if questions.has_window() {
            self.publish(Event::Show { screen });
            return true;
        }
        questions.open_window(&screen)
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
                    self.invalidate(event.account());
                    let event = convert::event(event);
                    self.remember_error(&event);
                    self.publish(event);
                }
                Err(broadcast::error::RecvError::Lagged(count)) => {
                    // Which accounts changed is unknown: read the file at the next look.
                    self.snapshot.lock().expect("snapshot").loaded = false;
                    self.tokens.lock().expect("token cache").clear();
                    self.publish(Event::Missed { count });
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Keeps or clears the account's last error after an event.
    fn remember_error(&self, event: &Event) {
        let mut errors = self.last_errors.lock().expect("last errors");
        let at = convert::rfc3339(self.keyport.now());
        match event {
            Event::Error { account, message } => {
                errors.insert(account.clone(), crate::app::LastError { message: message.clone(), at });
            }
            Event::NeedsSignIn { account, reason } => {
                let message = format!("the provider no longer accepts this sign-in ({reason}); sign in again");
                errors.insert(account.clone(), crate::app::LastError { message, at });
            }
            Event::Added { account }
            | Event::Refreshed { account, .. }
            | Event::Revoked { account }
            | Event::Removed { account } => {
                errors.remove(account);
            }
            _ => {}
        }
    }

    /// Records `err` as the account's last error (when it is about the account, not the
    /// request) and returns it.
    pub(crate) fn note_error(&self, account: &str, err: keyport_core::Error) -> keyport_core::Error {
        if !matches!(err, keyport_core::Error::AccountNotFound { .. }) {
            let at = convert::rfc3339(self.keyport.now());
            let entry = crate::app::LastError { message: err.to_string(), at };
            self.last_errors.lock().expect("last errors").insert(account.to_owned(), entry);
        }
        err
    }

    /// The account's last error not fixed since.
    pub(crate) fn last_error(&self, account: &str) -> Option<crate::app::LastError> {
        self.last_errors.lock().expect("last errors").get(account).cloned()
    }

    /// Forgets what is cached about `account` (its token) and makes the next look at the
    /// accounts compare the file again. Called for every core event, and by methods that
    /// changed an account before they answer.
    pub(crate) fn invalidate(&self, account: &str) {
        {
            let mut snapshot = self.snapshot.lock().expect("snapshot");
            snapshot.checked = None;
            snapshot.invalidated.insert(account.to_owned());
        }
        self.tokens.lock().expect("token cache").remove(account);
    }

    /// The accounts as last read, from memory: once the file was read the first time, never
    /// waits on the disk. When the snapshot is older than [`RECHECK`], a comparison with
    /// `accounts.json` starts on the blocking pool (one at a time) and the next caller sees its
    /// outcome; callers that find no account look again with [`Self::accounts_now`].
    pub(crate) fn accounts(&self) -> Result<Arc<HashMap<String, Account>>, keyport_core::Error> {
        let (accounts, loaded, stale) = {
            let snapshot = self.snapshot.lock().expect("snapshot");
            let accounts = if snapshot.invalidated.is_empty() {
                snapshot.accounts.clone()
            } else {
                let mut kept = (*snapshot.accounts).clone();
                kept.retain(|name, _| !snapshot.invalidated.contains(name));
                Arc::new(kept)
            };
            (accounts, snapshot.loaded, snapshot.checked.is_none_or(|at| at.elapsed() >= RECHECK))
        };
        if !loaded {
            // The very first look (no token is cached before it), or after missed events: read
            // the file now.
            return self.accounts_now();
        }
        if stale {
            self.recheck_in_background();
        }
        Ok(accounts)
    }

    /// Compares the snapshot with `accounts.json` on the blocking pool, unless a comparison
    /// is under way already (or there is no runtime to run it: then the next caller that needs
    /// the file reads it).
    fn recheck_in_background(&self) {
        use std::sync::atomic::Ordering;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.rechecking.swap(true, Ordering::AcqRel) {
            return;
        }
        let (keyport, file, rechecking, snapshot) =
            (self.keyport.clone(), self.config.accounts_file.clone(), self.rechecking.clone(), self.snapshot.clone());
        runtime.spawn_blocking(move || {
            // What this read covers: changes this process made before it starts.
            let (known, covering) = {
                let snapshot = snapshot.lock().expect("snapshot");
                (snapshot.modified, snapshot.invalidated.clone())
            };
            let modified = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
            if known != modified || modified.is_none() || !covering.is_empty() {
                match keyport.accounts() {
                    Ok(accounts) => {
                        let mut snapshot = snapshot.lock().expect("snapshot");
                        snapshot.accounts = Arc::new(accounts.into_iter().map(|a| (a.name.clone(), a)).collect());
                        snapshot.modified = modified;
                        snapshot.checked = Some(Instant::now());
                        snapshot.invalidated.retain(|name| !covering.contains(name));
                    }
                    // Kept as it was; the next look tries again, and reports it if it must.
                    Err(err) => tracing::warn!(%err, "could not read the accounts"),
                }
            } else {
                snapshot.lock().expect("snapshot").checked = Some(Instant::now());
            }
            rechecking.store(false, Ordering::Release);
        });
    }

    /// [`Self::accounts`], comparing the file now. Reads the disk: async callers use
    /// [`Self::accounts_fresh`].
    pub(crate) fn accounts_now(&self) -> Result<Arc<HashMap<String, Account>>, keyport_core::Error> {
        let mut snapshot = self.snapshot.lock().expect("snapshot");
        let modified = std::fs::metadata(&self.config.accounts_file).and_then(|m| m.modified()).ok();
        if snapshot.modified != modified || modified.is_none() || !snapshot.loaded || !snapshot.invalidated.is_empty() {
            let accounts = self.keyport.accounts()?;
            snapshot.accounts = Arc::new(accounts.into_iter().map(|a| (a.name.clone(), a)).collect());
            snapshot.modified = modified;
            snapshot.loaded = true;
            snapshot.invalidated.clear();
        }
        snapshot.checked = Some(Instant::now());
        Ok(snapshot.accounts.clone())
    }

    /// The accounts read from `accounts.json` now, on the blocking pool (the snapshot is
    /// replaced with them).
    pub(crate) async fn accounts_fresh(&self) -> Result<Arc<HashMap<String, Account>>, keyport_core::Error> {
        let (keyport, file) = (self.keyport.clone(), self.config.accounts_file.clone());
        let covering = self.snapshot.lock().expect("snapshot").invalidated.clone();
        let (modified, accounts) = tokio::task::spawn_blocking(move || {
            let modified = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
            (modified, keyport.accounts())
        })
        .await
        .expect("reading the accounts does not panic");
        let accounts: Arc<HashMap<String, Account>> =
            Arc::new(accounts?.into_iter().map(|a| (a.name.clone(), a)).collect());
        let mut snapshot = self.snapshot.lock().expect("snapshot");
        snapshot.accounts = accounts.clone();
        snapshot.modified = modified;
        snapshot.checked = Some(Instant::now());
        snapshot.loaded = true;
        snapshot.invalidated.retain(|name| !covering.contains(name));
        Ok(accounts)
    }

    /// Whether the account's token stays valid for `min_valid` (capped at half its lifetime:
    /// [`Account::expires_within`]).
    fn fresh_enough(&self, account: &Account, min_valid: Duration) -> bool {
        !account.expires_within(self.keyport.now(), min_valid)
    }

    /// `answer(account, token)` when the cached token is current and valid for `min_valid`
    /// (capped at half its lifetime); `None` when the account, the keyring or the provider must
    /// be asked. Never blocks on anything but a short lock (no disk, no keyring), so the server
    /// answers with it without a task of its own.
    pub(crate) fn cached_token<T>(
        &self,
        name: &str,
        min_valid: Duration,
        answer: impl FnOnce(&Account, &Arc<Secret>) -> T,
    ) -> Option<T> {
        let accounts = self.accounts().ok()?;
        let account = accounts.get(name)?;
        if matches!(account.health, Health::NeedsSignIn { .. }) || !self.fresh_enough(account, min_valid) {
            return None;
        }
        let token = {
            let tokens = self.tokens.lock().expect("token cache");
            tokens.get(name).filter(|cached| cached.issued_at == account.token_issued_at)?.token.clone()
        };
        Some(answer(account, &token))
    }

    /// The account's access token, from memory when the cached one is current and valid for
    /// `min_valid`; otherwise from the keyring, or renewed first (one request however many
    /// callers ask).
    pub(crate) async fn token(
        &self,
        name: &str,
        min_valid: Duration,
    ) -> Result<(Account, Arc<Secret>), keyport_core::Error> {
        if let Some(hit) = self.cached_token(name, min_valid, |account, token| (account.clone(), token.clone())) {
            return Ok(hit);
        }
        // Not from memory: look at the file now, not at a snapshot up to RECHECK old.
        let account = self
            .accounts_fresh()
            .await?
            .get(name)
            .cloned()
            .ok_or_else(|| keyport_core::Error::AccountNotFound { name: name.to_owned() })?;
        if let Health::NeedsSignIn { reason, .. } = &account.health {
            return Err(keyport_core::Error::NeedsSignIn { name: name.to_owned(), reason: reason.clone() });
        }
        let fresh_enough = self.fresh_enough(&account, min_valid);
        let keyport = self.keyport.clone();
        let owned = name.to_owned();
        let (account, token) = if fresh_enough {
            // Keyring calls block (D-Bus, an unlock dialog): keep them off the async workers,
            // and only a few at once.
            let _slot = self.keyring_reads.acquire().await.expect("the semaphore is never closed");
            tokio::task::spawn_blocking(move || keyport.access_token(&owned))
                .await
                .expect("the keyring task does not panic")?
        } else {
            // The core runs its keyring calls, locks and writes on the blocking pool, one
            // renewal per account however many callers wait.
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

/// A service over `dir` (`config/`, `data/accounts.json`, `run/`), in-memory secrets, the real
/// HTTP client and clock, no browser and nobody to ask: for unit tests.
#[cfg(test)]
pub(crate) fn test_service(dir: &std::path::Path) -> Arc<Service> {
    let keyport = Keyport::new(
        &keyport_core::paths::Paths { config_dir: dir.join("config"), data_dir: dir.join("data"), runtime_dir: None },
        Arc::new(keyport_core::secrets::MemoryStore::new()),
        Arc::new(keyport_core::http::ReqwestClient::new().unwrap()),
        Arc::new(keyport_core::clock::SystemClock),
        Arc::new(keyport_core::browser::NoBrowser),
    );
    let config = ServiceConfig::new(
        dir.join("run/keyport.sock"),
        dir.join("config/access.toml"),
        dir.join("data/accounts.json"),
    );
    Service::new(keyport, config, Arc::new(crate::access::NoPrompter))
}
