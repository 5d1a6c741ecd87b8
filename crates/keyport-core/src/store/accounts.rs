//! `accounts.json`: account metadata, read and written whole, under a lock.
//!
//! Reading takes no lock (the file is replaced whole by a rename, so a reader sees the old or
//! the new file); every change is a read-modify-write under `accounts.lock`, waited for at most
//! the file's lock wait.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{LOCK_WAIT, read_optional, with_lock, write_atomic};
use crate::account::Account;
use crate::error::Error;

/// The file format this version writes and reads.
const FORMAT: u32 = 1;

/// The file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccountsData {
    pub format: u32,
    /// Prefix of this profile's keyring keys, so two Keyport profiles (two `XDG_DATA_HOME`s)
    /// sharing one keyring never see each other's secrets. Random, made on first write.
    pub keyring_namespace: String,
    #[serde(default)]
    pub accounts: Vec<Account>,
}

/// The account metadata file in the data directory.
#[derive(Debug, Clone)]
pub(crate) struct AccountsFile {
    path: PathBuf,
    /// How long a change waits for `accounts.lock` (and a renewal for its account's lock).
    pub lock_wait: Duration,
}

impl AccountsFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path, lock_wait: LOCK_WAIT }
    }

    /// Reads the file; a missing file is an empty profile with a fresh namespace (which is
    /// only real once [`Self::update`] writes it: see [`Self::namespace`]).
    pub fn read(&self) -> Result<AccountsData, Error> {
        Ok(self.read_existing()?.unwrap_or_else(|| AccountsData {
            format: FORMAT,
            keyring_namespace: new_namespace(),
            accounts: Vec::new(),
        }))
    }

    /// Reads the file, or `None` when there is none yet.
    fn read_existing(&self) -> Result<Option<AccountsData>, Error> {
        let Some(bytes) = read_optional(&self.path)? else { return Ok(None) };
        let corrupt = |detail: String| Error::CorruptFile { path: self.path.clone(), detail };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|err| corrupt(format!("not JSON ({err})")))?;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(format) if format == u64::from(FORMAT) => {}
            Some(found) if found > u64::from(FORMAT) => {
                return Err(Error::NewerFile {
                    path: self.path.clone(),
                    found: u32::try_from(found).unwrap_or(u32::MAX),
                    supported: FORMAT,
                });
            }
            other => return Err(corrupt(format!("unknown format {other:?}"))),
        }
        serde_json::from_value(value).map(Some).map_err(|err| corrupt(err.to_string()))
    }

    /// Read-modify-write under the lock. `change` sees the current data and may fail, in which
    /// case nothing is written.
    pub fn update<T>(&self, change: impl FnOnce(&mut AccountsData) -> Result<T, Error>) -> Result<T, Error> {
        with_lock(&self.path, self.lock_wait, || {
            let mut data = self.read()?;
            let result = change(&mut data)?;
            let mut bytes = serde_json::to_vec_pretty(&data).expect("accounts serialize to JSON");
            bytes.push(b'\n');
            write_atomic(&self.path, &bytes)?;
            Ok(result)
        })
    }

    /// The lock that serializes token renewals of one account across processes.
    pub fn renewal_lock_path(&self, account: &str) -> PathBuf {
        self.path.with_file_name("locks").join(format!("{account}.lock"))
    }

    /// The keyring namespace, creating the file if needed so the namespace is fixed before
    /// any secret is written under it.
    ///
    /// The file is read once: either it exists and names the namespace, or the namespace is
    /// made under the lock (by `update`, which reads again there, so of two first runs the
    /// second adopts the first's). Reading the file and then asking separately whether it
    /// exists, as this once did, let a first run that lost the race return the random
    /// namespace of its first read, never written anywhere: secrets stored under it were
    /// invisible to every later run (`first_runs_racing_agree_on_one_namespace`).
    pub fn namespace(&self) -> Result<String, Error> {
        if let Some(data) = self.read_existing()? {
            return Ok(data.keyring_namespace);
        }
        self.update(|data| Ok(data.keyring_namespace.clone()))
    }
}

fn new_namespace() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = AccountsFile::new(dir.path().join("accounts.json"));
        let first = file.namespace().unwrap();
        assert_eq!(first.len(), 16);
        assert_eq!(file.namespace().unwrap(), first);
    }

    #[test]
    fn a_first_run_racing_another_adopts_its_namespace() {
        // Another process's first run creates `accounts.json` (under the lock, whole, by a
        // rename, as `update` does) while this one asks for the namespace of a profile
        // without one. Whatever the timing, the answer must be the namespace the file ends up with;
        // before the fix, a rename landing between the two reads of `namespace()` made it
        // return a random namespace that was never written (11 and 15 rounds of 600 in two runs).
        let theirs = br#"{"format": 1, "keyring_namespace": "0123456789abcdef", "accounts": []}"#;
        let mut wrong = Vec::new();
        for round in 0..600 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("accounts.json");
            let prepared = dir.path().join("prepared.json");
            std::fs::write(&prepared, theirs).unwrap();
            let go = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            // As a Keyport process creates the file: under the lock, if still missing.
            let lock = super::super::FileLock::acquire_within(&path.with_extension("lock"), LOCK_WAIT).unwrap();
            let other = std::thread::spawn({
                let (go, path) = (go.clone(), path.clone());
                move || {
                    while !go.load(std::sync::atomic::Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    if !path.exists() {
                        std::fs::rename(prepared, &path).unwrap();
                    }
                    drop(lock);
                }
            });
            let file = AccountsFile::new(path.clone());
            go.store(true, std::sync::atomic::Ordering::Release);
            // A different head start each round, to sweep the timing.
            for _ in 0..(10 + round % 40) * 40 {
                std::hint::spin_loop();
            }
            let answer = file.namespace().unwrap();
            other.join().unwrap();
            let kept = AccountsFile::new(path).read().unwrap().keyring_namespace;
            if answer != kept {
                wrong.push(format!("round {round}: answered {answer}, the file has {kept}"));
            }
        }
        assert!(wrong.is_empty(), "{} rounds went wrong: {wrong:#?}", wrong.len());
    }

    #[test]
    fn corrupt_or_newer_files_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.json");
        let file = AccountsFile::new(path.clone());
        std::fs::write(&path, b"{ not json").unwrap();
        assert!(matches!(file.update(|_| Ok(())), Err(Error::CorruptFile { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
        std::fs::write(&path, br#"{"format": 2, "accounts": "something new"}"#).unwrap();
        let err = file.update(|_| Ok(())).unwrap_err();
        assert!(matches!(err, Error::NewerFile { found: 2, supported: 1, .. }), "{err}");
        assert!(err.to_string().contains("newer"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), br#"{"format": 2, "accounts": "something new"}"#);
    }

    #[test]
    fn failed_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = AccountsFile::new(dir.path().join("accounts.json"));
        let result: Result<(), Error> = file.update(|_| Err(Error::AccountNotFound { name: "x".into() }));
        assert!(result.is_err());
        assert!(!dir.path().join("accounts.json").exists());
    }
}
