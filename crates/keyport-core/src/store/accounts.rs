//! `accounts.json`: account metadata, read and written whole, under a lock.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{read_optional, with_lock, write_atomic};
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
}

impl AccountsFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Reads the file; a missing file is an empty profile with a fresh namespace.
    pub fn read(&self) -> Result<AccountsData, Error> {
        let Some(bytes) = read_optional(&self.path)? else {
            return Ok(AccountsData { format: FORMAT, keyring_namespace: new_namespace(), accounts: Vec::new() });
        };
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
        serde_json::from_value(value).map_err(|err| corrupt(err.to_string()))
    }

    /// Read-modify-write under the lock. `change` sees the current data and may fail, in which
    /// case nothing is written.
    pub fn update<T>(&self, change: impl FnOnce(&mut AccountsData) -> Result<T, Error>) -> Result<T, Error> {
        with_lock(&self.path, || {
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
    pub fn namespace(&self) -> Result<String, Error> {
        let data = self.read()?;
        if read_optional(&self.path)?.is_some() {
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
