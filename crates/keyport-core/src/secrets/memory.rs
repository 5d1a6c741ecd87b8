//! An in-memory [`SecretStore`] for unit tests, with fault injection.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{SecretKey, SecretStore, SecretStoreError};
use crate::secret::Secret;

/// Keeps secrets in a map. `fail_next_writes` makes the next writes fail, so tests can
/// check what happens when the keyring refuses.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, String>>,
    failing_writes: Mutex<usize>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next `count` calls to `set` fail with [`SecretStoreError::Locked`].
    pub fn fail_next_writes(&self, count: usize) {
        *self.failing_writes.lock().expect("lock") = count;
    }

    /// The value under a raw key (for assertions).
    pub fn get_raw(&self, key: &str) -> Option<String> {
        self.entries.lock().expect("lock").get(key).cloned()
    }

    /// The keys currently stored, sorted (for assertions).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<_> = self.entries.lock().expect("lock").keys().cloned().collect();
        keys.sort();
        keys
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretStoreError> {
        Ok(self.entries.lock().expect("lock").get(key.as_str()).cloned().map(Secret::new))
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretStoreError> {
        let mut failing = self.failing_writes.lock().expect("lock");
        if *failing > 0 {
            *failing -= 1;
            return Err(SecretStoreError::Locked);
        }
        self.entries.lock().expect("lock").insert(key.as_str().to_owned(), value.expose().to_owned());
        Ok(())
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.entries.lock().expect("lock").remove(key.as_str());
        Ok(())
    }
}
