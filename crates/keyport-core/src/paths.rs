//! Where Keyport keeps its files, following the XDG base directory variables.
//!
//! `XDG_CONFIG_HOME` holds `providers.toml`, `XDG_DATA_HOME` holds `accounts.json` (metadata,
//! never a secret), `XDG_STATE_HOME` the activity log ([`state_dir`]), `XDG_RUNTIME_DIR` the
//! socket. Tests isolate everything by
//! setting these variables. Relative values are ignored, as the XDG spec requires.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Keyport's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `$XDG_CONFIG_HOME/keyport`.
    pub config_dir: PathBuf,
    /// `$XDG_DATA_HOME/keyport`.
    pub data_dir: PathBuf,
    /// `$XDG_RUNTIME_DIR/keyport`, when the variable is set.
    pub runtime_dir: Option<PathBuf>,
}

/// The variables needed to place Keyport's files are missing.
#[derive(Debug, thiserror::Error)]
#[error("cannot find a home directory: set HOME, or XDG_CONFIG_HOME and XDG_DATA_HOME")]
pub struct NoHomeError;

impl Paths {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, NoHomeError> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    /// Builds the paths from a variable lookup (the environment, or a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Self, NoHomeError> {
        Ok(Self {
            config_dir: base_dir(&var, "XDG_CONFIG_HOME", &[".config"])?.join("keyport"),
            data_dir: base_dir(&var, "XDG_DATA_HOME", &[".local", "share"])?.join("keyport"),
            runtime_dir: absolute(&var, "XDG_RUNTIME_DIR").map(|dir| dir.join("keyport")),
        })
    }

    /// The providers file.
    pub fn providers_file(&self) -> PathBuf {
        self.config_dir.join("providers.toml")
    }

    /// The account metadata file.
    pub fn accounts_file(&self) -> PathBuf {
        self.data_dir.join("accounts.json")
    }
}

/// `$XDG_STATE_HOME/keyport` (default `~/.local/state/keyport`), where the service keeps its
/// activity log: state worth keeping across restarts, but not configuration or data.
pub fn state_dir() -> Result<PathBuf, NoHomeError> {
    state_dir_from_vars(|name| std::env::var_os(name))
}

/// [`state_dir`] from a variable lookup.
pub fn state_dir_from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, NoHomeError> {
    Ok(base_dir(&var, "XDG_STATE_HOME", &[".local", "state"])?.join("keyport"))
}

/// The variable `name` when it is an absolute path (relative values are ignored).
fn absolute(var: &impl Fn(&str) -> Option<OsString>, name: &str) -> Option<PathBuf> {
    var(name).map(PathBuf::from).filter(|path| path.is_absolute())
}

/// The XDG base directory `xdg`, else `$HOME/fallback`.
fn base_dir(var: &impl Fn(&str) -> Option<OsString>, xdg: &str, fallback: &[&str]) -> Result<PathBuf, NoHomeError> {
    match absolute(var, xdg) {
        Some(dir) => Ok(dir),
        None => {
            let mut dir = absolute(var, "HOME").ok_or(NoHomeError)?;
            dir.extend(fallback);
            Ok(dir)
        }
    }
}

/// Creates `dir` (and parents) with mode 0700 for the last component, and returns it.
pub(crate) fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn paths(vars: &[(&str, &str)]) -> Result<Paths, NoHomeError> {
        let map: HashMap<String, OsString> = vars.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        Paths::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn xdg_variables_win() {
        let p = paths(&[
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", "/c"),
            ("XDG_DATA_HOME", "/d"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
        ])
        .unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/c/keyport"));
        assert_eq!(p.data_dir, PathBuf::from("/d/keyport"));
        assert_eq!(p.runtime_dir, Some(PathBuf::from("/run/user/1/keyport")));
        assert_eq!(p.providers_file(), PathBuf::from("/c/keyport/providers.toml"));
        assert_eq!(p.accounts_file(), PathBuf::from("/d/keyport/accounts.json"));
    }

    #[test]
    fn home_fallbacks_and_relative_values_ignored() {
        let p = paths(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "relative/dir"), ("XDG_RUNTIME_DIR", "")]).unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/home/u/.config/keyport"));
        assert_eq!(p.data_dir, PathBuf::from("/home/u/.local/share/keyport"));
        assert_eq!(p.runtime_dir, None);
    }

    #[test]
    fn the_state_dir_follows_xdg_state_home() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
        };
        assert_eq!(
            state_dir_from_vars(vars(&[("HOME", "/h"), ("XDG_STATE_HOME", "/s")])).unwrap(),
            PathBuf::from("/s/keyport")
        );
        assert_eq!(
            state_dir_from_vars(vars(&[("HOME", "/h"), ("XDG_STATE_HOME", "rel")])).unwrap(),
            PathBuf::from("/h/.local/state/keyport")
        );
        assert!(state_dir_from_vars(vars(&[])).is_err());
    }

    #[test]
    fn no_home_is_an_error() {
        assert!(paths(&[]).is_err());
        assert!(paths(&[("XDG_CONFIG_HOME", "/c"), ("XDG_DATA_HOME", "/d")]).is_ok());
    }
}
