//! Where secrets live: the [`SecretStore`] trait, the OS keyring behind it, an in-memory store
//! for unit tests, and [`ChunkedStore`] for keyrings that hold little per entry (Windows).
//!
//! Keys are plain strings chosen by the caller (see [`SecretKey`]); the store knows nothing of
//! accounts or providers. There is deliberately no file-backed store: when no keyring is
//! reachable, Keyport fails with a message instead of writing secrets to disk.

mod chunked;
mod keyring;
mod memory;

pub use self::chunked::{ChunkedStore, Measure, WINDOWS_CREDENTIAL_BLOB};
pub use self::keyring::KeyringStore;
pub use self::memory::MemoryStore;

use crate::secret::Secret;

/// Failures of a secret store. The messages name what the user can do about them.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    /// No keyring service could be reached at all (no D-Bus session, no Secret Service).
    #[error(
        "no keyring is available: {detail}. Keyport keeps tokens only in the OS keyring. \
         On Linux, install and start a Secret Service provider (for example \
         `apt install gnome-keyring` and log in to a desktop session, or run \
         `gnome-keyring-daemon --unlock --components=secrets` inside a D-Bus session)"
    )]
    Unavailable { detail: String },
    /// The keyring exists but is locked and could not be unlocked.
    #[error("the keyring is locked: unlock it (for example by logging in to your desktop session) and try again")]
    Locked,
    /// Anything else the platform store reported.
    #[error("keyring error: {detail}")]
    Platform { detail: String },
}

/// The name of one secret in a store. Built only by the constructors below, so the key
/// layout is defined in one place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretKey(String);

impl SecretKey {
    /// An account's access token.
    pub fn access_token(namespace: &str, account: &str) -> Self {
        Self(format!("{namespace}/account/{account}/access_token"))
    }

    /// An account's refresh token.
    pub fn refresh_token(namespace: &str, account: &str) -> Self {
        Self(format!("{namespace}/account/{account}/refresh_token"))
    }

    /// A service account's client secret.
    pub fn account_client_secret(namespace: &str, account: &str) -> Self {
        Self(format!("{namespace}/account/{account}/client_secret"))
    }

    /// A provider's client secret.
    pub fn client_secret(namespace: &str, provider: &str) -> Self {
        Self(format!("{namespace}/provider/{provider}/client_secret"))
    }

    /// Any key, as stored: for the fuzz targets, which write what another program could
    /// have written under Keyport's keys. Not for Keyport's own secrets.
    #[doc(hidden)]
    pub fn raw(key: &str) -> Self {
        Self(key.to_owned())
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A place that keeps secrets by key. Implementations must be safe to share between threads.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// Reads a secret; `Ok(None)` when there is none under that key.
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError>;
    /// Writes (creates or replaces) a secret. Returns only once the store has it.
    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError>;
    /// Deletes a secret; deleting a missing one is not an error.
    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError>;
}

/// A store opened on first use, so commands that never touch a secret (listing accounts,
/// say) work without a keyring. A failed open is reported and tried again on the next call.
pub struct OpenOnUse {
    open: Box<dyn Fn() -> Result<Box<dyn SecretStore>, SecretStoreError> + Send + Sync>,
    store: std::sync::OnceLock<Box<dyn SecretStore>>,
}

impl OpenOnUse {
    /// Wraps an opener, such as `|| KeyringStore::open().map(|s| Box::new(s) as _)`.
    pub fn new(open: impl Fn() -> Result<Box<dyn SecretStore>, SecretStoreError> + Send + Sync + 'static) -> Self {
        Self { open: Box::new(open), store: std::sync::OnceLock::new() }
    }

    fn store(&self) -> Result<&dyn SecretStore, SecretStoreError> {
        if let Some(store) = self.store.get() {
            return Ok(store.as_ref());
        }
        let opened = (self.open)()?;
        Ok(self.store.get_or_init(|| opened).as_ref())
    }
}

impl std::fmt::Debug for OpenOnUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOnUse").field("opened", &self.store.get().is_some()).finish()
    }
}

impl SecretStore for OpenOnUse {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        self.store()?.get(key)
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        self.store()?.set(key, value)
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.store()?.delete(key)
    }
}
