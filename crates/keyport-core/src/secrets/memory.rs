//! An in-memory [`SecretStore`] for unit tests, with fault injection.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Measure, SecretKey, SecretStore, SecretStoreError};
use crate::secret::Secret;

/// Keeps secrets in a map. `fail_next_writes` makes the next writes fail, so tests can
/// check what happens when the keyring refuses.
/// `with_entry_limit` makes it hold at most so much per entry, as Windows' Credential Manager
/// does.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, String>>,
    failing_writes: Mutex<usize>,
    /// Writes that succeed before every write fails (`None`: no such failure).
    writes_before_failure: Mutex<Option<usize>>,
    entry_limit: Option<(usize, Measure)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose entries hold at most `limit` as `measure` counts; a longer write
    /// fails as the platform's store does.
    pub fn with_entry_limit(limit: usize, measure: Measure) -> Self {
        Self { entry_limit: Some((limit, measure)), ..Self::default() }
    }

    /// Lets `count` more calls to `set` succeed, then makes every one fail with
    /// [`SecretStoreError::Locked`] (as a keyring locked, or a process killed, half way);
    /// `usize::MAX` ends that.
    pub fn fail_writes_after(&self, count: usize) {
        *self.writes_before_failure.lock().expect("lock") = (count != usize::MAX).then_some(count);
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
        if let Some(left) = self.writes_before_failure.lock().expect("lock").as_mut() {
            if *left == 0 {
                return Err(SecretStoreError::Locked);
            }
            *left -= 1;
        }
        if let Some((limit, measure)) = self.entry_limit
            && measure.size(value.expose()) > limit
        {
            return Err(SecretStoreError::Platform {
                detail: format!("the secret `{}` is longer than the store's limit of {limit}", key.as_str()),
            });
        }
        self.entries.lock().expect("lock").insert(key.as_str().to_owned(), value.expose().to_owned());
        Ok(())
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretStoreError> {
        self.entries.lock().expect("lock").remove(key.as_str());
        Ok(())
    }
}
