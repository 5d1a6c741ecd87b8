//! `providers.toml`: the user's providers, read and written whole.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Provider, ProviderConfig, check_provider_name};
use crate::error::Error;
use crate::store;

/// The file format this version writes and reads.
const FORMAT: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProvidersFile {
    format: u32,
    #[serde(default)]
    providers: BTreeMap<String, ProviderConfig>,
}

/// The providers file in the config directory.
#[derive(Debug, Clone)]
pub struct Providers {
    path: PathBuf,
}

impl Providers {
    /// The providers file at `path` (it need not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Every provider, by name.
    pub fn configs(&self) -> Result<BTreeMap<String, ProviderConfig>, Error> {
        Ok(self.read()?.providers)
    }

    /// One provider, resolved.
    pub fn get(&self, name: &str) -> Result<Provider, Error> {
        let file = self.read()?;
        let config = file.providers.get(name).ok_or_else(|| Error::ProviderNotFound { name: name.to_owned() })?;
        config.resolve(name)
    }

    /// Adds a provider; fails if the name is taken.
    pub fn insert(&self, name: &str, config: ProviderConfig) -> Result<Provider, Error> {
        check_provider_name(name)?;
        let provider = config.resolve(name)?;
        store::with_lock(&self.path, store::LOCK_WAIT, || {
            let mut file = self.read()?;
            if file.providers.contains_key(name) {
                return Err(Error::ProviderExists { name: name.to_owned() });
            }
            file.providers.insert(name.to_owned(), config);
            self.write(&file)
        })?;
        Ok(provider)
    }

    /// Changes a provider under the file's lock; nothing is written unless `change` succeeds
    /// and the result resolves.
    pub fn update(
        &self,
        name: &str,
        change: impl FnOnce(&mut ProviderConfig) -> Result<(), Error>,
    ) -> Result<Provider, Error> {
        store::with_lock(&self.path, store::LOCK_WAIT, || {
            let mut file = self.read()?;
            let config =
                file.providers.get_mut(name).ok_or_else(|| Error::ProviderNotFound { name: name.to_owned() })?;
            change(config)?;
            let provider = config.resolve(name)?;
            self.write(&file)?;
            Ok(provider)
        })
    }

    /// Removes a provider and returns its config.
    pub fn remove(&self, name: &str) -> Result<ProviderConfig, Error> {
        store::with_lock(&self.path, store::LOCK_WAIT, || {
            let mut file = self.read()?;
            let config =
                file.providers.remove(name).ok_or_else(|| Error::ProviderNotFound { name: name.to_owned() })?;
            self.write(&file)?;
            Ok(config)
        })
    }

    fn read(&self) -> Result<ProvidersFile, Error> {
        let Some(text) = store::read_optional(&self.path)? else {
            return Ok(ProvidersFile { format: FORMAT, providers: BTreeMap::new() });
        };
        let corrupt = |detail: String| Error::CorruptFile { path: self.path.clone(), detail };
        let text = String::from_utf8(text).map_err(|_| corrupt("not UTF-8".into()))?;
        // Read the format first so a newer file is reported as such, not as corrupt.
        #[derive(Deserialize)]
        struct Header {
            format: Option<u32>,
        }
        let header: Header = toml::from_str(&text).map_err(|err| corrupt(err.message().to_owned()))?;
        match header.format {
            Some(FORMAT) => {}
            Some(found) if found > FORMAT => {
                return Err(Error::NewerFile { path: self.path.clone(), found, supported: FORMAT });
            }
            other => return Err(corrupt(format!("unknown format {other:?}"))),
        }
        toml::from_str(&text).map_err(|err| corrupt(err.to_string()))
    }

    fn write(&self, file: &ProvidersFile) -> Result<(), Error> {
        let mut text = String::from(
            "# Keyport providers. Edited by `keyport provider add/remove`; safe to edit by hand.\n\
             # Client secrets are never stored here: they live in the OS keyring.\n",
        );
        text.push_str(&toml::to_string(file).expect("providers serialize to TOML"));
        store::write_atomic(&self.path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Preset, ProviderSource, RedirectHost};

    fn google() -> ProviderConfig {
        ProviderConfig {
            source: ProviderSource::Preset { preset: Preset::Google, tenant: None, base_url: None },
            client_id: "123.apps.googleusercontent.com".into(),
            client_secret_in_keyring: true,
            scopes: None,
            redirect_host: RedirectHost::Ipv4,
            redirect_path: "/callback".into(),
            given_endpoints: Default::default(),
        }
    }

    #[test]
    fn insert_get_remove() {
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers::new(dir.path().join("cfg/providers.toml"));
        assert!(providers.configs().unwrap().is_empty());
        providers.insert("google", google()).unwrap();
        assert!(matches!(providers.insert("google", google()), Err(Error::ProviderExists { .. })));
        let p = providers.get("google").unwrap();
        assert_eq!(p.client_id, "123.apps.googleusercontent.com");
        assert!(p.has_client_secret);
        let text = std::fs::read_to_string(dir.path().join("cfg/providers.toml")).unwrap();
        assert!(text.contains("preset = \"google\""), "{text}");
        providers.remove("google").unwrap();
        assert!(matches!(providers.get("google"), Err(Error::ProviderNotFound { .. })));
    }

    #[test]
    fn corrupt_and_newer_files_are_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("providers.toml");
        let providers = Providers::new(path.clone());
        std::fs::write(&path, "this is = = not toml").unwrap();
        assert!(matches!(providers.insert("google", google()), Err(Error::CorruptFile { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "this is = = not toml");
        std::fs::write(&path, "format = 7\n[providers.x]\nwhatever = 1\n").unwrap();
        let err = providers.configs().unwrap_err();
        assert!(matches!(err, Error::NewerFile { found: 7, .. }), "{err}");
    }
}
