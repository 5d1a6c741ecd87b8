//! The OS keyring as a [`SecretStore`], through `keyring-core`.
//!
//! On Linux this is the freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC, ...)
//! reached over the D-Bus session bus with `zbus-secret-service-keyring-store`. Other
//! platforms are not wired yet: [`KeyringStore::open`] fails with
//! [`SecretStoreError::Unavailable`] there.
//!
//! Every secret is one keyring item with the attributes `service = keyport` and
//! `username = <the SecretKey>`, labelled `Keyport: <the SecretKey>` so that someone browsing
//! their keyring (Seahorse, `secret-tool search service keyport`) sees what it is.
//!
//! The store is kept in the struct: this module never touches `keyring-core`'s process-wide
//! default store, so several stores (and tests) can coexist in one process.
//!
//! Secrets never reach an error or a log line: the error mapping below builds its own
//! messages for the `keyring-core` errors that carry secret bytes (`BadEncoding`,
//! `BadDataFormat`) and zeroes those bytes.

use std::fmt;

use zeroize::Zeroize;

use super::{SecretKey, SecretStore, SecretStoreError};
use crate::secret::Secret;

/// The `service` attribute of every Keyport item.
const SERVICE: &str = "keyport";

/// Secrets kept in the operating system's keyring.
///
/// Cheap to share (`Arc` it); the methods block for one D-Bus round trip or a few (or, on a
/// desktop, as long as an unlock dialog stays open). They may be called from plain threads,
/// from `spawn_blocking`, and even directly from async code (see `off_runtime` below for why
/// that does not panic), though async callers should prefer `spawn_blocking` so they do not
/// stall a runtime worker.
///
/// The connection survives the Secret Service going away and coming back (a keyring daemon
/// restarted, or started after Keyport): a call that finds its session gone drops the
/// connection and, once, opens a new one and tries again; while no Secret Service answers,
/// each call tries to reconnect and fails with [`SecretStoreError::Unavailable`].
pub struct KeyringStore {
    /// `None` after a failure that showed the connection unusable; reopened on the next call.
    #[cfg(target_os = "linux")]
    store: std::sync::Mutex<Option<std::sync::Arc<keyring_core::CredentialStore>>>,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore").field("backend", &BACKEND).finish()
    }
}

#[cfg(target_os = "linux")]
const BACKEND: &str = "Secret Service (D-Bus)";
#[cfg(not(target_os = "linux"))]
const BACKEND: &str = "none";

impl KeyringStore {
    /// Connects to the platform keyring.
    ///
    /// On Linux this opens a connection to the D-Bus session bus named by
    /// `DBUS_SESSION_BUS_ADDRESS` (read now, once) and a session with the Secret Service on
    /// it. Fails with [`SecretStoreError::Unavailable`] when either is missing.
    pub fn open() -> Result<Self, SecretStoreError> {
        #[cfg(target_os = "linux")]
        {
            Ok(Self { store: std::sync::Mutex::new(Some(connect()?)) })
        }
        #[cfg(not(target_os = "linux"))]
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
        call: impl Fn(&keyring_core::Entry) -> Result<T, keyring_core::Error> + Sync,
    ) -> Result<T, SecretStoreError> {
        let label = format!("Keyport: {}", key.as_str());
        let modifiers = std::collections::HashMap::from([("label", label.as_str())]);
        let mut reconnected = false;
        loop {
            let store = self.connection()?;
            let entry = keyring_core::Entry::new_in_store_with_modifiers(&store, SERVICE, key.as_str(), &modifiers)
                .map_err(|err| map_error(Op::Entry, err))?;
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
    fn connection(&self) -> Result<std::sync::Arc<keyring_core::CredentialStore>, SecretStoreError> {
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
    fn forget_connection(&self, stale: &std::sync::Arc<keyring_core::CredentialStore>) {
        let old = {
            let mut slot = self.store.lock().expect("keyring store lock");
            if slot.as_ref().is_some_and(|current| std::sync::Arc::ptr_eq(current, stale)) { slot.take() } else { None }
        };
        if let Some(old) = old {
            off_runtime(move || drop(old));
        }
    }
}

/// A new Secret Service connection and session.
#[cfg(target_os = "linux")]
fn connect() -> Result<std::sync::Arc<keyring_core::CredentialStore>, SecretStoreError> {
    let store: std::sync::Arc<keyring_core::CredentialStore> =
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
        self.with_entry(Op::Get, key, |entry| match entry.get_password() {
            Ok(value) => Ok(Some(Secret::from(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(err) => Err(err),
        })
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        self.with_entry(Op::Set, key, |entry| entry.set_password(value.expose()))
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.with_entry(Op::Delete, key, |entry| match entry.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(err) => Err(err),
        })
    }
}

#[cfg(not(target_os = "linux"))]
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
/// D-Bus round trip milliseconds. Plain threads call straight through.
#[cfg(target_os = "linux")]
fn off_runtime<T: Send>(call: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return call();
    }
    std::thread::scope(|scope| scope.spawn(call).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only the Linux store maps errors yet
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

#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only the Linux store maps errors yet
/// Platform messages that mean "there is no Secret Service to talk to" even after `open`
/// succeeded (the provider quit, the bus went away).
const UNAVAILABLE_MARKERS: &[&str] = &[
    "no secret service provider or dbus session found",
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.Disconnected",
    "Broken pipe",
    "Connection reset",
    "Connection refused",
];

#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only the Linux store maps errors yet
/// Platform messages of a Secret Service that answers but no longer knows our session: it
/// was restarted since we connected.
const STALE_MARKERS: &[&str] = &[
    "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.Secret.Error.NoSession",
    "org.freedesktop.Secret.Error.NoSuchObject",
];

#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only the Linux store maps errors yet
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
                detail: format!(
                    "{}: the stored value is not UTF-8 text (was it written by another program?)",
                    op.doing()
                ),
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

#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // only the Linux store maps errors yet
/// The detail of an `Unavailable` error: the platform's reason, plus a hint when the
/// process has no session bus address at all.
fn unavailable_detail(message: &str) -> String {
    let mut detail = message.trim().to_owned();
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
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
}
