//! The OS keyring as a [`SecretStore`], through `keyring-core`.
//!
//! One code path over a `keyring_core::CredentialStore` on every platform (how items are
//! named, what is read, written and deleted, how errors are mapped), with a store per
//! platform:
//!
//! - **Linux**: the freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC, ...)
//!   reached over the D-Bus session bus with `zbus-secret-service-keyring-store`. Every secret
//!   is one keyring item with the attributes `service = keyport` and
//!   `username = <the SecretKey>`, labelled `Keyport: <the SecretKey>` so that someone browsing
//!   their keyring (Seahorse, `secret-tool search service keyport`) sees what it is. The
//!   connection is reopened when the Secret Service restarts (see [`KeyringStore`]).
//! - **Windows**: the Credential Manager, with `windows-native-keyring-store`: a generic
//!   credential whose target name is `<the SecretKey>.keyport` (that crate's default naming),
//!   kept on this computer only (`CRED_PERSIST_LOCAL_MACHINE`, not the roaming default; the
//!   account metadata naming these secrets is in `%LOCALAPPDATA%`, which does not roam
//!   either). A credential holds at most 2,560 bytes, and the store writes UTF-16: the store
//!   is wrapped in a [`ChunkedStore`] so that long refresh tokens take several credentials.
//! - **macOS**: the login keychain, with `apple-native-keyring-store` (its legacy-keychain
//!   store, which needs neither a signed app nor entitlements): a generic password with
//!   service `keyport` and account `<the SecretKey>`. Keychain Access shows these as
//!   `keyport`; the keychain API has no label to set through `keyring-core`.
//! - Elsewhere [`KeyringStore::open`] fails with [`SecretStoreError::Unavailable`].
//!
//! **Status:** the Windows and macOS stores type-check (they are built for those targets in
//! checks) but have not been run yet. The Linux store is tested against a real Secret Service;
//! the shared code path is unit-tested against `keyring-core`'s mock store, including under a
//! Windows-sized [`ChunkedStore`]. Things to watch when they first run: the Windows store's
//! own documentation warns that the same credential used from several threads at once is not
//! reliably sequenced; the macOS keychain asks the user to allow each new (or rebuilt,
//! differently signed) executable access to an item.
//!
//! The store is kept in the struct: this module never touches `keyring-core`'s process-wide
//! default store, so several stores (and tests) can coexist in one process.
//!
//! Secrets never reach an error or a log line: the error mapping below builds its own
//! messages for the `keyring-core` errors that carry secret bytes (`BadEncoding`,
//! `BadDataFormat`) and zeroes those bytes.

// Without a store for the platform (a Unix other than Linux and macOS) most of this is unused.
#![cfg_attr(not(any(target_os = "linux", windows, target_os = "macos")), allow(dead_code))]

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use zeroize::Zeroize;

#[cfg(windows)]
use super::ChunkedStore;
use super::{SecretKey, SecretStore, SecretStoreError};
use crate::secret::Secret;

/// The `service` attribute of every Keyport item.
const SERVICE: &str = "keyport";

/// The store behind `keyring-core` on each platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// The freedesktop Secret Service over D-Bus (Linux).
    SecretService,
    /// Windows' Credential Manager.
    WindowsCredentials,
    /// The macOS login keychain.
    MacKeychain,
    /// `keyring-core`'s in-memory mock store (unit tests), which takes no modifiers.
    #[cfg(test)]
    Mock,
}

impl Backend {
    /// This platform's store, if Keyport has one for it.
    const CURRENT: Option<Self> = if cfg!(target_os = "linux") {
        Some(Self::SecretService)
    } else if cfg!(windows) {
        Some(Self::WindowsCredentials)
    } else if cfg!(target_os = "macos") {
        Some(Self::MacKeychain)
    } else {
        None
    };

    fn name(self) -> &'static str {
        match self {
            Self::SecretService => "Secret Service (D-Bus)",
            Self::WindowsCredentials => "Windows Credential Manager",
            Self::MacKeychain => "macOS keychain",
            #[cfg(test)]
            Self::Mock => "mock",
        }
    }

    /// What the store is told about an item besides its service and user (each store accepts
    /// its own modifiers and refuses others); `label` is the item's label, `Keyport: <key>`.
    fn modifiers(self, label: &str) -> HashMap<&'static str, &str> {
        match self {
            Self::SecretService => HashMap::from([("label", label)]),
            // Not `Enterprise`, the store's default, which roams with a roaming profile.
            Self::WindowsCredentials => HashMap::from([("persistence", "Local")]),
            // The only modifier is `keychain`, and the default (the login keychain) is right.
            Self::MacKeychain => HashMap::new(),
            #[cfg(test)]
            Self::Mock => HashMap::new(),
        }
    }
}

/// The entry for `key` in `store`: service `keyport`, user the key, and the backend's
/// modifiers. Building an entry touches nothing in the store.
fn entry(store: &Arc<CredentialStore>, backend: Backend, key: &SecretKey) -> Result<Entry, SecretStoreError> {
    let label = format!("Keyport: {}", key.as_str());
    Entry::new_in_store_with_modifiers(store, SERVICE, key.as_str(), &backend.modifiers(&label))
        .map_err(|err| map_error(Op::Entry, err))
}

/// Reads an item; a missing one is `None`.
fn read(entry: &Entry) -> Result<Option<Secret>, keyring_core::Error> {
    match entry.get_password() {
        Ok(value) => Ok(Some(Secret::from(value))),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Creates or replaces an item.
fn write(entry: &Entry, value: &Secret) -> Result<(), keyring_core::Error> {
    entry.set_password(value.expose())
}

/// Deletes an item; a missing one is not an error.
fn remove(entry: &Entry) -> Result<(), keyring_core::Error> {
    match entry.delete_credential() {
        Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
        Err(err) => Err(err),
    }
}

/// Keyport's items in a store that needs no reconnecting: the Windows Credential Manager and
/// the macOS keychain are local API calls, not a connection to a service that may restart.
/// (And `keyring-core`'s mock store in tests.)
#[cfg(any(test, windows, target_os = "macos"))]
struct Items {
    store: Arc<CredentialStore>,
    backend: Backend,
}

#[cfg(any(test, windows, target_os = "macos"))]
impl Items {
    fn call<T>(
        &self,
        op: Op,
        key: &SecretKey,
        call: impl FnOnce(&Entry) -> Result<T, keyring_core::Error>,
    ) -> Result<T, SecretStoreError> {
        let entry = entry(&self.store, self.backend, key)?;
        call(&entry).map_err(|err| map_error(op, err))
    }
}

#[cfg(any(test, windows, target_os = "macos"))]
impl fmt::Debug for Items {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items").field("backend", &self.backend.name()).finish()
    }
}

#[cfg(any(test, windows, target_os = "macos"))]
impl SecretStore for Items {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        self.call(Op::Get, key, read)
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        self.call(Op::Set, key, |entry| write(entry, value))
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.call(Op::Delete, key, remove)
    }
}

/// Secrets kept in the operating system's keyring.
///
/// Cheap to share (`Arc` it); the methods block for one keyring call or a few (on Linux a
/// D-Bus round trip each; on a desktop, as long as an unlock dialog stays open). They may be
/// called from plain threads, from `spawn_blocking`, and even directly from async code (see
/// `off_runtime` below for why that does not panic on Linux), though async callers should
/// prefer `spawn_blocking` so they do not stall a runtime worker.
///
/// On Linux the connection survives the Secret Service going away and coming back (a keyring
/// daemon restarted, or started after Keyport): a call that finds its session gone drops the
/// connection and, once, opens a new one and tries again; while no Secret Service answers,
/// each call tries to reconnect and fails with [`SecretStoreError::Unavailable`].
pub struct KeyringStore {
    /// `None` after a failure that showed the connection unusable; reopened on the next call.
    #[cfg(target_os = "linux")]
    store: std::sync::Mutex<Option<Arc<CredentialStore>>>,
    /// The Credential Manager, chunked: a credential holds at most 2,560 bytes.
    #[cfg(windows)]
    items: ChunkedStore<Items>,
    /// The login keychain.
    #[cfg(target_os = "macos")]
    items: Items,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore").field("backend", &Backend::CURRENT.map_or("none", Backend::name)).finish()
    }
}

impl KeyringStore {
    /// Opens the platform keyring.
    ///
    /// On Linux this opens a connection to the D-Bus session bus named by
    /// `DBUS_SESSION_BUS_ADDRESS` (read now, once) and a session with the Secret Service on
    /// it, and fails with [`SecretStoreError::Unavailable`] when either is missing. On Windows
    /// and macOS it only sets the store up: a missing or locked keyring shows on first use.
    pub fn open() -> Result<Self, SecretStoreError> {
        #[cfg(target_os = "linux")]
        {
            Ok(Self { store: std::sync::Mutex::new(Some(connect()?)) })
        }
        #[cfg(windows)]
        {
            let store: Arc<CredentialStore> =
                windows_native_keyring_store::Store::new().map_err(|err| map_error(Op::Open, err))?;
            let items = Items { store, backend: Backend::WindowsCredentials };
            Ok(Self { items: ChunkedStore::windows_credentials(items) })
        }
        #[cfg(target_os = "macos")]
        {
            let store: Arc<CredentialStore> =
                apple_native_keyring_store::keychain::Store::new().map_err(|err| map_error(Op::Open, err))?;
            Ok(Self { items: Items { store, backend: Backend::MacKeychain } })
        }
        #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
        {
            Err(SecretStoreError::Unavailable {
                detail: format!("the {} keyring is not wired into Keyport yet", std::env::consts::OS),
            })
        }
    }

    /// Runs `call` on the entry for `key`, reconnecting once when the connection turns out
    /// to be stale.
    #[cfg(target_os = "linux")]
    fn with_entry<T: Send>(
        &self,
        op: Op,
        key: &SecretKey,
        call: impl Fn(&Entry) -> Result<T, keyring_core::Error> + Sync,
    ) -> Result<T, SecretStoreError> {
        let mut reconnected = false;
        loop {
            let store = self.connection()?;
            let entry = entry(&store, Backend::SecretService, key)?;
            match off_runtime(|| call(&entry)) {
                Err(err) if stale(&err) => {
                    self.forget_connection(&store);
                    if reconnected {
                        return Err(map_error(op, err));
                    }
                    reconnected = true;
                    tracing::info!("the Secret Service connection went stale; reconnecting");
                }
                result => return result.map_err(|err| map_error(op, err)),
            }
        }
    }

    /// The current connection, opening one when there is none.
    #[cfg(target_os = "linux")]
    fn connection(&self) -> Result<Arc<CredentialStore>, SecretStoreError> {
        let mut slot = self.store.lock().expect("keyring store lock");
        if let Some(store) = slot.as_ref() {
            return Ok(store.clone());
        }
        let store = connect()?;
        *slot = Some(store.clone());
        Ok(store)
    }

    /// Drops `stale` unless another call already replaced it.
    #[cfg(target_os = "linux")]
    fn forget_connection(&self, stale: &Arc<CredentialStore>) {
        let old = {
            let mut slot = self.store.lock().expect("keyring store lock");
            if slot.as_ref().is_some_and(|current| Arc::ptr_eq(current, stale)) { slot.take() } else { None }
        };
        if let Some(old) = old {
            off_runtime(move || drop(old));
        }
    }
}

/// A new Secret Service connection and session.
#[cfg(target_os = "linux")]
fn connect() -> Result<Arc<CredentialStore>, SecretStoreError> {
    let store: Arc<CredentialStore> =
        off_runtime(zbus_secret_service_keyring_store::Store::new).map_err(|err| map_error(Op::Open, err))?;
    Ok(store)
}

/// Errors after which the connection is not worth keeping: the service is gone, or it is
/// another one now (restarted), which knows nothing of our session.
#[cfg(target_os = "linux")]
fn stale(err: &keyring_core::Error) -> bool {
    let keyring_core::Error::PlatformFailure(source) = err else { return false };
    let message = source.to_string();
    UNAVAILABLE_MARKERS.iter().chain(STALE_MARKERS).any(|marker| message.contains(marker))
}

/// Dropping the zbus store closes its D-Bus proxies, and zbus's blocking `Proxy::drop` calls
/// `block_on` too: dropped on a runtime thread (say, the last `Arc<KeyringStore>` going away
/// at the end of an async function) it would panic like the calls do. So drop it off-runtime.
#[cfg(target_os = "linux")]
impl Drop for KeyringStore {
    fn drop(&mut self) {
        if let Some(store) = self.store.get_mut().ok().and_then(Option::take) {
            off_runtime(move || drop(store));
        }
    }
}

#[cfg(target_os = "linux")]
impl SecretStore for KeyringStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        self.with_entry(Op::Get, key, read)
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        self.with_entry(Op::Set, key, |entry| write(entry, value))
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.with_entry(Op::Delete, key, remove)
    }
}

#[cfg(any(windows, target_os = "macos"))]
impl SecretStore for KeyringStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        self.items.get(key)
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        self.items.set(key, value)
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.items.delete(key)
    }
}

#[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
impl SecretStore for KeyringStore {
    fn get(&self, _key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        Self::open().map(|_| None)
    }

    fn set(&self, _key: &SecretKey, _value: &Secret) -> Result<(), SecretStoreError> {
        Self::open().map(|_| ())
    }

    fn delete(&self, _key: &SecretKey) -> Result<(), SecretStoreError> {
        Self::open().map(|_| ())
    }
}

/// Runs a blocking keyring call where it cannot panic.
///
/// The Secret Service store uses zbus's *blocking* API, and zbus (with its `tokio` feature)
/// implements that with `Runtime::block_on` on a process-wide tokio runtime of its own. Tokio
/// refuses to block a thread that is already driving a runtime: called directly from an async
/// task, every keyring call would panic with "Cannot start a runtime from within a runtime".
/// So when the current thread is inside a tokio runtime context (an async task, or a
/// `spawn_blocking` thread, where it would be harmless but cannot be told apart cheaply) the
/// call runs on a short-lived scoped thread instead; a thread start costs microseconds, a
/// D-Bus round trip milliseconds. Plain threads call straight through. (The Windows and macOS
/// stores make plain system calls and need none of this.)
#[cfg(target_os = "linux")]
fn off_runtime<T: Send>(call: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return call();
    }
    std::thread::scope(|scope| scope.spawn(call).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
}

/// What was being done when a keyring error happened (for the error detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Open,
    Entry,
    Get,
    Set,
    Delete,
}

impl Op {
    fn doing(self) -> &'static str {
        match self {
            Op::Open => "connecting to the keyring",
            Op::Entry => "naming a keyring item",
            Op::Get => "reading from the keyring",
            Op::Set => "writing to the keyring",
            Op::Delete => "deleting from the keyring",
        }
    }
}

/// Platform messages that mean "there is no Secret Service to talk to" even after `open`
/// succeeded (the provider quit, the bus went away). (Only the Secret Service store's
/// messages contain these.)
const UNAVAILABLE_MARKERS: &[&str] = &[
    "no secret service provider or dbus session found",
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.Disconnected",
    "Broken pipe",
    "Connection reset",
    "Connection refused",
];

/// Platform messages of a Secret Service that answers but no longer knows our session: it
/// was restarted since we connected.
#[cfg(target_os = "linux")]
const STALE_MARKERS: &[&str] = &[
    "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.Secret.Error.NoSession",
    "org.freedesktop.Secret.Error.NoSuchObject",
];

/// Maps a `keyring-core` error to ours. `NoEntry` is handled by the callers (it is not an
/// error for `get` and `delete`). Never formats secret bytes.
fn map_error(op: Op, err: keyring_core::Error) -> SecretStoreError {
    use keyring_core::Error as K;
    match err {
        K::NoStorageAccess(_) => SecretStoreError::Locked,
        K::PlatformFailure(source) => {
            let message = source.to_string();
            if op == Op::Open || UNAVAILABLE_MARKERS.iter().any(|m| message.contains(m)) {
                SecretStoreError::Unavailable { detail: unavailable_detail(&message) }
            } else {
                SecretStoreError::Platform { detail: format!("{}: {message}", op.doing()) }
            }
        }
        K::BadEncoding(mut bytes) => {
            bytes.zeroize();
            SecretStoreError::Platform {
                detail: format!("{}: the stored value is not text (was it written by another program?)", op.doing()),
            }
        }
        K::BadDataFormat(mut bytes, _) => {
            bytes.zeroize();
            SecretStoreError::Platform { detail: format!("{}: the stored value is malformed", op.doing()) }
        }
        K::Ambiguous(items) => SecretStoreError::Platform {
            detail: format!(
                "{}: {} keyring items match this key (service `{SERVICE}`); delete the \
                 duplicates, for example with Seahorse or `secret-tool clear`",
                op.doing(),
                items.len()
            ),
        },
        K::NoEntry => SecretStoreError::Platform { detail: format!("{}: no such item", op.doing()) },
        // Invalid, TooLong, BadStoreFormat, NotSupportedByStore, NoDefaultStore and whatever
        // comes later: their messages name attributes and reasons, never secret values.
        other => SecretStoreError::Platform { detail: format!("{}: {other}", op.doing()) },
    }
}

/// The detail of an `Unavailable` error: the platform's reason, plus (on Linux) a hint when
/// the process has no session bus address at all.
fn unavailable_detail(message: &str) -> String {
    let mut detail = message.trim().to_owned();
    if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        detail.push_str(" (DBUS_SESSION_BUS_ADDRESS is not set)");
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(message: &str) -> Box<dyn std::error::Error + Send + Sync> {
        message.to_owned().into()
    }

    #[test]
    fn storage_access_is_locked() {
        let err = map_error(Op::Set, keyring_core::Error::NoStorageAccess(boxed("SS error: prompt dismissed")));
        assert!(matches!(err, SecretStoreError::Locked), "{err:?}");
    }

    #[test]
    fn any_failure_to_open_is_unavailable() {
        let err = map_error(
            Op::Open,
            keyring_core::Error::PlatformFailure(boxed("no secret service provider or dbus session found")),
        );
        let SecretStoreError::Unavailable { detail } = &err else {
            panic!("{err:?}");
        };
        assert!(detail.contains("no secret service provider"), "{detail}");
        let shown = err.to_string();
        assert!(shown.contains("gnome-keyring"), "{shown}");

        let err = map_error(Op::Open, keyring_core::Error::PlatformFailure(boxed("zbus error: something odd")));
        assert!(matches!(err, SecretStoreError::Unavailable { .. }), "{err:?}");
    }

    #[test]
    fn service_gone_later_is_unavailable() {
        let err = map_error(
            Op::Get,
            keyring_core::Error::PlatformFailure(boxed(
                "zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable",
            )),
        );
        assert!(matches!(err, SecretStoreError::Unavailable { .. }), "{err:?}");
    }

    #[test]
    fn other_platform_failures_keep_their_message() {
        let err = map_error(Op::Delete, keyring_core::Error::PlatformFailure(boxed("Crypto error: bad padding")));
        let SecretStoreError::Platform { detail } = err else {
            panic!("{err:?}");
        };
        assert_eq!(detail, "deleting from the keyring: Crypto error: bad padding");
    }

    #[test]
    fn secret_bytes_never_reach_the_message() {
        let secret = b"hunter2-refresh-token".to_vec();
        for err in [
            keyring_core::Error::BadEncoding(secret.clone()),
            keyring_core::Error::BadDataFormat(secret.clone(), boxed("bad")),
        ] {
            let mapped = map_error(Op::Get, err);
            let shown = format!("{mapped} {mapped:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(matches!(mapped, SecretStoreError::Platform { .. }), "{shown}");
        }
    }

    #[test]
    fn ambiguous_says_what_to_do() {
        let err = map_error(Op::Get, keyring_core::Error::Ambiguous(Vec::new()));
        let shown = err.to_string();
        assert!(shown.contains("duplicates"), "{shown}");
    }

    #[test]
    fn invalid_is_platform() {
        let err = map_error(Op::Entry, keyring_core::Error::Invalid("label".into(), "cannot be empty".into()));
        assert!(matches!(err, SecretStoreError::Platform { .. }), "{err:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn off_runtime_works_inside_and_outside_a_runtime() {
        assert_eq!(off_runtime(|| 1), 1);
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let inside = runtime.block_on(async {
            // Inside a runtime: blocking here directly on another runtime would panic.
            off_runtime(|| tokio::runtime::Handle::try_current().is_err())
        });
        assert!(inside, "the call should have run on a thread outside the runtime");
    }

    /// The shared code path over `keyring-core`'s mock store, and a way to reach its items
    /// directly (to inject errors, or read what a wrapper wrote).
    fn mock_items() -> (Items, Arc<CredentialStore>) {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().expect("mock store");
        (Items { store: store.clone(), backend: Backend::Mock }, store)
    }

    fn inject(store: &Arc<CredentialStore>, key: &SecretKey, err: keyring_core::Error) {
        let entry = Entry::new_in_store(store, SERVICE, key.as_str()).unwrap();
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().expect("a mock credential");
        mock.set_error(err);
    }

    #[test]
    fn items_are_read_written_and_deleted_through_keyring_core() {
        let (items, store) = mock_items();
        let key = SecretKey::refresh_token("ns", "work");
        assert_eq!(items.get(&key).unwrap(), None, "a missing item is None");
        items.delete(&key).unwrap();

        items.set(&key, &Secret::new("first".to_owned())).unwrap();
        items.set(&key, &Secret::new("second".to_owned())).unwrap();
        assert_eq!(items.get(&key).unwrap().map(|s| s.expose().to_owned()).as_deref(), Some("second"));
        // Under service `keyport`, user the key.
        let raw = Entry::new_in_store(&store, SERVICE, key.as_str()).unwrap();
        assert_eq!(raw.get_password().unwrap(), "second");

        items.delete(&key).unwrap();
        assert_eq!(items.get(&key).unwrap(), None);
        items.delete(&key).unwrap();
    }

    #[test]
    fn items_map_store_errors_without_their_secrets() {
        let (items, store) = mock_items();
        let key = SecretKey::access_token("ns", "work");
        items.set(&key, &Secret::new("hunter2-access-token".to_owned())).unwrap();

        inject(&store, &key, keyring_core::Error::BadEncoding(b"hunter2-access-token".to_vec()));
        let err = items.get(&key).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("reading from the keyring") && !shown.contains("hunter2"), "{shown}");

        inject(&store, &key, keyring_core::Error::NoStorageAccess(boxed("ERROR_NO_SUCH_LOGON_SESSION")));
        assert!(matches!(items.set(&key, &Secret::new("x".to_owned())), Err(SecretStoreError::Locked)));

        inject(&store, &key, keyring_core::Error::PlatformFailure(boxed("Access is denied. (os error 5)")));
        let err = items.delete(&key).unwrap_err();
        assert_eq!(err.to_string(), "keyring error: deleting from the keyring: Access is denied. (os error 5)");

        // The injected errors were one-offs: the item is still there.
        assert_eq!(items.get(&key).unwrap().map(|s| s.expose().to_owned()).as_deref(), Some("hunter2-access-token"));
    }

    #[test]
    fn the_windows_arrangement_chunks_long_secrets_into_items_that_fit() {
        use crate::secrets::{ChunkedStore, Measure, WINDOWS_CREDENTIAL_BLOB};
        let (items, store) = mock_items();
        let chunked = ChunkedStore::windows_credentials(items);
        let key = SecretKey::refresh_token("ns", "work");
        let raw = Items { store, backend: Backend::Mock };

        let long = "r€😀".repeat(1_000);
        chunked.set(&key, &Secret::new(long.clone())).unwrap();
        assert_eq!(chunked.get(&key).unwrap().map(|s| s.expose().to_owned()), Some(long.clone()));

        let head = raw.get(&key).unwrap().expect("a head").expose().to_owned();
        let mut fields = head.strip_prefix("v1#").expect("a chunk head").split(':');
        let (generation, chunks) = (fields.next().unwrap(), fields.next().unwrap().parse::<usize>().unwrap());
        assert!(chunks > 1, "{head}");
        let mut joined = String::new();
        for index in 0..chunks {
            let chunk_key = SecretKey::raw(&format!("{}/chunk/{generation}/{index}", key.as_str()));
            let chunk = raw.get(&chunk_key).unwrap().expect("a chunk").expose().to_owned();
            assert!(Measure::Utf16Bytes.size(&chunk) <= WINDOWS_CREDENTIAL_BLOB, "chunk {index}");
            joined.push_str(&chunk);
        }
        assert_eq!(joined, long);

        chunked.set(&key, &Secret::new("short".to_owned())).unwrap();
        assert_eq!(raw.get(&key).unwrap().map(|s| s.expose().to_owned()).as_deref(), Some("v1=short"));
        let gone = SecretKey::raw(&format!("{}/chunk/{generation}/0", key.as_str()));
        assert_eq!(raw.get(&gone).unwrap(), None, "the long secret's chunks were deleted");
    }

    #[test]
    fn each_backend_gets_the_modifiers_its_store_accepts() {
        let label = "Keyport: ns/account/work/refresh_token";
        assert_eq!(Backend::SecretService.modifiers(label), HashMap::from([("label", label)]));
        assert_eq!(Backend::WindowsCredentials.modifiers(label), HashMap::from([("persistence", "Local")]));
        assert!(Backend::MacKeychain.modifiers(label).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_uses_the_secret_service() {
        assert_eq!(Backend::CURRENT, Some(Backend::SecretService));
    }
}
