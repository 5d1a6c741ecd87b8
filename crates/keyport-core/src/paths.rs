//! Where Keyport keeps its files, by each platform's convention.
//!
//! | Directory | Linux and other Unix (XDG) | macOS | Windows |
//! |---|---|---|---|
//! | config: `providers.toml`, access rules | `$XDG_CONFIG_HOME/keyport`, else `~/.config/keyport` | `$XDG_CONFIG_HOME/keyport`, else `~/Library/Application Support/Keyport` | `%APPDATA%\Keyport` |
//! | data: `accounts.json` (metadata, never a secret), locks | `$XDG_DATA_HOME/keyport`, else `~/.local/share/keyport` | `$XDG_DATA_HOME/keyport`, else `~/Library/Application Support/Keyport` | `%LOCALAPPDATA%\Keyport` |
//! | state: the activity log ([`state_dir`]) | `$XDG_STATE_HOME/keyport`, else `~/.local/state/keyport` | `$XDG_STATE_HOME/keyport`, else `~/Library/Logs/Keyport` | `%LOCALAPPDATA%\Keyport\state` |
//! | runtime: the socket | `$XDG_RUNTIME_DIR/keyport`, else none | `$XDG_RUNTIME_DIR/keyport`, else `$TMPDIR/keyport` | none: the service listens on a named pipe |
//!
//! - **Linux and other Unix systems** follow the XDG Base Directory specification. There is
//!   no runtime fallback: a predictable path in a shared directory (`/tmp`) could be taken by
//!   another user first.
//! - **macOS**: configuration and data share `~/Library/Application Support/Keyport` (their
//!   file names differ); the activity log, a rotated log file, goes to `~/Library/Logs/Keyport`,
//!   where Console.app shows it and which, unlike `~/Library/Caches`, the system does not purge.
//!   Each XDG variable that is set to an absolute path still wins for its own directory, as on
//!   Linux: whoever sets `XDG_CONFIG_HOME` on a Mac (tests do, to isolate themselves; so do
//!   people who keep their dotfiles there) has said where they want it. The runtime directory
//!   falls back to `$TMPDIR`, the per-user private (0700) directory launchd gives every
//!   session (`/var/folders/…/T/`), as the socket path does in `keyport-wire`.
//! - **Windows**: configuration roams with the profile (`%APPDATA%`, "Roaming"); account
//!   metadata and the activity log stay on this computer (`%LOCALAPPDATA%`, "Local"), like the
//!   secrets that metadata names (the Credential Manager items are written with local-machine
//!   persistence). Without `APPDATA` or `LOCALAPPDATA`, `%USERPROFILE%\AppData\Roaming` and
//!   `%USERPROFILE%\AppData\Local`. XDG variables are ignored: no Windows program reads them,
//!   and one left over from a Unix-tool environment (MSYS2, Git Bash) would otherwise split
//!   Keyport's files between two conventions. Tests isolate themselves with `APPDATA` and
//!   `LOCALAPPDATA` there.
//!
//! Relative values are ignored everywhere, as the XDG specification requires (a relative
//! `%APPDATA%` is no more usable). The rules of every platform are plain functions of a
//! [`Platform`] and a variable lookup ([`Paths::for_platform`], [`state_dir_for`]), so they are
//! tested on any platform; the Windows rules build `\`-separated paths and judge
//! absoluteness (`C:\…`, `\\server\…`) themselves, for that reason.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The directory name under XDG base directories.
const XDG_NAME: &str = "keyport";

/// The directory name under macOS's and Windows's application folders.
const APP_NAME: &str = "Keyport";

/// The platform conventions Keyport's directories follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and the other Unix systems: the XDG base directories.
    Xdg,
    /// macOS: `~/Library`, unless XDG variables are set.
    MacOs,
    /// Windows: `%APPDATA%` and `%LOCALAPPDATA%`.
    Windows,
}

impl Platform {
    /// The platform this was built for.
    pub const CURRENT: Self = if cfg!(windows) {
        Self::Windows
    } else if cfg!(target_os = "macos") {
        Self::MacOs
    } else {
        Self::Xdg
    };
}

/// Keyport's directories (see the module documentation for each platform's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Configuration: `$XDG_CONFIG_HOME/keyport` on Linux.
    pub config_dir: PathBuf,
    /// Account metadata: `$XDG_DATA_HOME/keyport` on Linux.
    pub data_dir: PathBuf,
    /// The socket's directory, `$XDG_RUNTIME_DIR/keyport` on Linux, when there is one.
    pub runtime_dir: Option<PathBuf>,
}

/// The variables needed to place Keyport's files are missing.
#[derive(Debug, thiserror::Error)]
#[error("cannot find a home directory: {}", .platform.what_to_set())]
pub struct NoHomeError {
    platform: Platform,
}

impl Platform {
    fn what_to_set(self) -> &'static str {
        match self {
            Self::Xdg => "set HOME, or XDG_CONFIG_HOME and XDG_DATA_HOME",
            Self::MacOs => "set HOME",
            Self::Windows => "set APPDATA and LOCALAPPDATA, or USERPROFILE",
        }
    }
}

impl Paths {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, NoHomeError> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    /// Builds this platform's paths from a variable lookup (the environment, or a map in
    /// tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Self, NoHomeError> {
        Self::for_platform(Platform::CURRENT, var)
    }

    /// Builds `platform`'s paths from a variable lookup.
    pub fn for_platform(platform: Platform, var: impl Fn(&str) -> Option<OsString>) -> Result<Self, NoHomeError> {
        let vars = Vars { platform, var };
        Ok(Self { config_dir: vars.config_dir()?, data_dir: vars.data_dir()?, runtime_dir: vars.runtime_dir() })
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

/// Where the service keeps its activity log: state worth keeping across restarts, but not
/// configuration or data. `$XDG_STATE_HOME/keyport` (default `~/.local/state/keyport`) on
/// Linux; see the module documentation for the other platforms.
pub fn state_dir() -> Result<PathBuf, NoHomeError> {
    state_dir_from_vars(|name| std::env::var_os(name))
}

/// [`state_dir`] from a variable lookup.
pub fn state_dir_from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, NoHomeError> {
    state_dir_for(Platform::CURRENT, var)
}

/// `platform`'s [`state_dir`] from a variable lookup.
pub fn state_dir_for(platform: Platform, var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, NoHomeError> {
    Vars { platform, var }.state_dir()
}

/// A platform's rules over a variable lookup.
struct Vars<F> {
    platform: Platform,
    var: F,
}

impl<F: Fn(&str) -> Option<OsString>> Vars<F> {
    fn config_dir(&self) -> Result<PathBuf, NoHomeError> {
        match self.platform {
            Platform::Xdg => self.xdg_or_home("XDG_CONFIG_HOME", &[".config", XDG_NAME]),
            Platform::MacOs => self.xdg_or_home("XDG_CONFIG_HOME", &["Library", "Application Support", APP_NAME]),
            Platform::Windows => self.windows_folder("APPDATA", "Roaming", &[APP_NAME]),
        }
    }

    fn data_dir(&self) -> Result<PathBuf, NoHomeError> {
        match self.platform {
            Platform::Xdg => self.xdg_or_home("XDG_DATA_HOME", &[".local", "share", XDG_NAME]),
            Platform::MacOs => self.xdg_or_home("XDG_DATA_HOME", &["Library", "Application Support", APP_NAME]),
            Platform::Windows => self.windows_folder("LOCALAPPDATA", "Local", &[APP_NAME]),
        }
    }

    fn state_dir(&self) -> Result<PathBuf, NoHomeError> {
        match self.platform {
            Platform::Xdg => self.xdg_or_home("XDG_STATE_HOME", &[".local", "state", XDG_NAME]),
            Platform::MacOs => self.xdg_or_home("XDG_STATE_HOME", &["Library", "Logs", APP_NAME]),
            Platform::Windows => self.windows_folder("LOCALAPPDATA", "Local", &[APP_NAME, "state"]),
        }
    }

    fn runtime_dir(&self) -> Option<PathBuf> {
        let base = match self.platform {
            Platform::Xdg => self.absolute("XDG_RUNTIME_DIR"),
            Platform::MacOs => self.absolute("XDG_RUNTIME_DIR").or_else(|| self.absolute("TMPDIR")),
            Platform::Windows => None,
        };
        base.map(|dir| dir.join(XDG_NAME))
    }

    /// The variable `name` when it is an absolute path on the platform (relative values are
    /// ignored).
    fn absolute(&self, name: &str) -> Option<PathBuf> {
        let value = (self.var)(name)?;
        let absolute = match self.platform {
            Platform::Windows => windows_absolute(&value),
            // `/…`, whatever system judges it (the rules are tested on every system).
            Platform::Xdg | Platform::MacOs => value.as_encoded_bytes().starts_with(b"/"),
        };
        absolute.then(|| PathBuf::from(value))
    }

    /// `$xdg/keyport` when `xdg` is set, else `$HOME/under_home`.
    fn xdg_or_home(&self, xdg: &str, under_home: &[&str]) -> Result<PathBuf, NoHomeError> {
        if let Some(dir) = self.absolute(xdg) {
            return Ok(dir.join(XDG_NAME));
        }
        let mut dir = self.absolute("HOME").ok_or(NoHomeError { platform: self.platform })?;
        dir.extend(under_home);
        Ok(dir)
    }

    /// `%folder%\under`, else `%USERPROFILE%\AppData\<profile_folder>\under` (Windows).
    fn windows_folder(&self, folder: &str, profile_folder: &str, under: &[&str]) -> Result<PathBuf, NoHomeError> {
        let base = match self.absolute(folder) {
            Some(dir) => dir,
            None => {
                let profile = self.absolute("USERPROFILE").ok_or(NoHomeError { platform: self.platform })?;
                windows_join(profile, &["AppData", profile_folder])
            }
        };
        Ok(windows_join(base, under))
    }
}

/// Whether `path` is absolute by Windows' rules: a drive and a root (`C:\`, `C:/`) or a UNC or
/// device path (`\\server\share`, `\\?\C:\`). (A rooted path without a drive, `\Users`, is
/// relative to the current drive.)
fn windows_absolute(path: &OsStr) -> bool {
    match path.as_encoded_bytes() {
        [b'\\' | b'/', b'\\' | b'/', ..] => true,
        [drive, b':', b'\\' | b'/', ..] => drive.is_ascii_alphabetic(),
        _ => false,
    }
}

/// `base` joined with `parts`, separated by `\` (what `PathBuf::join` does on Windows, done by
/// hand so the Windows rules give the same paths on any platform).
fn windows_join(base: PathBuf, parts: &[&str]) -> PathBuf {
    let mut path = base.into_os_string();
    for part in parts {
        if !matches!(path.as_encoded_bytes().last(), Some(b'\\' | b'/')) {
            path.push("\\");
        }
        path.push(part);
    }
    PathBuf::from(path)
}

/// Creates `dir` (and parents), the last component with mode 0700 on Unix.
///
/// Windows has no modes: there the directories Keyport uses are under the user's profile
/// (`%APPDATA%`, `%LOCALAPPDATA%`), whose inherited ACL grants access to the user, SYSTEM and
/// Administrators only, so what Keyport creates there is private without setting anything
/// (as long as `APPDATA` and `LOCALAPPDATA` are not pointed somewhere shared).
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

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let map: HashMap<String, OsString> = vars.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        move |name| map.get(name).cloned()
    }

    fn paths(platform: Platform, vars: &[(&str, &str)]) -> Result<Paths, NoHomeError> {
        Paths::for_platform(platform, lookup(vars))
    }

    fn state(platform: Platform, vars: &[(&str, &str)]) -> Result<PathBuf, NoHomeError> {
        state_dir_for(platform, lookup(vars))
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn this_build_follows_xdg() {
        assert_eq!(Platform::CURRENT, Platform::Xdg);
        let vars = [("HOME", "/home/u"), ("XDG_RUNTIME_DIR", "/run/user/1")];
        assert_eq!(Paths::from_vars(lookup(&vars)).unwrap(), paths(Platform::Xdg, &vars).unwrap());
        assert_eq!(state_dir_from_vars(lookup(&vars)).unwrap(), state(Platform::Xdg, &vars).unwrap());
    }

    #[test]
    fn xdg_variables_win() {
        let p = paths(
            Platform::Xdg,
            &[
                ("HOME", "/home/u"),
                ("XDG_CONFIG_HOME", "/c"),
                ("XDG_DATA_HOME", "/d"),
                ("XDG_RUNTIME_DIR", "/run/user/1"),
            ],
        )
        .unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/c/keyport"));
        assert_eq!(p.data_dir, PathBuf::from("/d/keyport"));
        assert_eq!(p.runtime_dir, Some(PathBuf::from("/run/user/1/keyport")));
        assert_eq!(p.providers_file(), PathBuf::from("/c/keyport/providers.toml"));
        assert_eq!(p.accounts_file(), PathBuf::from("/d/keyport/accounts.json"));
    }

    #[test]
    fn home_fallbacks_and_relative_values_ignored() {
        let p = paths(
            Platform::Xdg,
            &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "relative/dir"), ("XDG_RUNTIME_DIR", ""), ("TMPDIR", "/tmp")],
        )
        .unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/home/u/.config/keyport"));
        assert_eq!(p.data_dir, PathBuf::from("/home/u/.local/share/keyport"));
        assert_eq!(p.runtime_dir, None, "no fallback to TMPDIR outside macOS");
    }

    #[test]
    fn the_state_dir_follows_xdg_state_home() {
        assert_eq!(
            state(Platform::Xdg, &[("HOME", "/h"), ("XDG_STATE_HOME", "/s")]).unwrap(),
            PathBuf::from("/s/keyport")
        );
        assert_eq!(
            state(Platform::Xdg, &[("HOME", "/h"), ("XDG_STATE_HOME", "rel")]).unwrap(),
            PathBuf::from("/h/.local/state/keyport")
        );
        assert!(state(Platform::Xdg, &[]).is_err());
    }

    #[test]
    fn no_home_is_an_error() {
        let err = paths(Platform::Xdg, &[]).unwrap_err();
        assert_eq!(err.to_string(), "cannot find a home directory: set HOME, or XDG_CONFIG_HOME and XDG_DATA_HOME");
        assert!(paths(Platform::Xdg, &[("XDG_CONFIG_HOME", "/c"), ("XDG_DATA_HOME", "/d")]).is_ok());
    }

    #[test]
    fn macos_uses_the_library_folders_and_tmpdir() {
        let vars = [("HOME", "/Users/u"), ("TMPDIR", "/var/folders/ab/cd/T/")];
        let p = paths(Platform::MacOs, &vars).unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/Users/u/Library/Application Support/Keyport"));
        assert_eq!(p.data_dir, PathBuf::from("/Users/u/Library/Application Support/Keyport"));
        assert_eq!(p.providers_file(), PathBuf::from("/Users/u/Library/Application Support/Keyport/providers.toml"));
        assert_eq!(p.accounts_file(), PathBuf::from("/Users/u/Library/Application Support/Keyport/accounts.json"));
        assert_eq!(p.runtime_dir, Some(PathBuf::from("/var/folders/ab/cd/T/keyport")));
        assert_eq!(state(Platform::MacOs, &vars).unwrap(), PathBuf::from("/Users/u/Library/Logs/Keyport"));
    }

    #[test]
    fn macos_xdg_variables_win_each_for_its_own_directory() {
        let vars = [
            ("HOME", "/Users/u"),
            ("TMPDIR", "/var/folders/ab/cd/T/"),
            ("XDG_CONFIG_HOME", "/Users/u/.config"),
            ("XDG_DATA_HOME", "relative"),
            ("XDG_STATE_HOME", "/s"),
            ("XDG_RUNTIME_DIR", "/r"),
        ];
        let p = paths(Platform::MacOs, &vars).unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/Users/u/.config/keyport"));
        assert_eq!(p.data_dir, PathBuf::from("/Users/u/Library/Application Support/Keyport"), "relative: ignored");
        assert_eq!(p.runtime_dir, Some(PathBuf::from("/r/keyport")));
        assert_eq!(state(Platform::MacOs, &vars).unwrap(), PathBuf::from("/s/keyport"));

        let p = paths(Platform::MacOs, &[("HOME", "/Users/u"), ("TMPDIR", "tmp")]).unwrap();
        assert_eq!(p.runtime_dir, None, "a relative TMPDIR is ignored");
    }

    #[test]
    fn macos_without_home_is_an_error_unless_xdg_says_where() {
        let err = paths(Platform::MacOs, &[("TMPDIR", "/var/folders/T")]).unwrap_err();
        assert_eq!(err.to_string(), "cannot find a home directory: set HOME");
        assert!(paths(Platform::MacOs, &[("XDG_CONFIG_HOME", "/c"), ("XDG_DATA_HOME", "/d")]).is_ok());
        assert!(state(Platform::MacOs, &[]).is_err());
    }

    #[test]
    fn windows_uses_appdata_and_localappdata() {
        let vars = [
            ("APPDATA", r"C:\Users\u\AppData\Roaming"),
            ("LOCALAPPDATA", r"C:\Users\u\AppData\Local\"),
            ("USERPROFILE", r"C:\Users\elsewhere"),
        ];
        let p = paths(Platform::Windows, &vars).unwrap();
        assert_eq!(p.config_dir, PathBuf::from(r"C:\Users\u\AppData\Roaming\Keyport"));
        assert_eq!(p.data_dir, PathBuf::from(r"C:\Users\u\AppData\Local\Keyport"));
        assert_eq!(p.runtime_dir, None, "the service listens on a named pipe");
        assert_eq!(state(Platform::Windows, &vars).unwrap(), PathBuf::from(r"C:\Users\u\AppData\Local\Keyport\state"));
    }

    #[test]
    fn windows_ignores_xdg_and_falls_back_to_the_profile() {
        let vars = [
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", "/c"),
            ("XDG_DATA_HOME", "/d"),
            ("XDG_STATE_HOME", "/s"),
            ("XDG_RUNTIME_DIR", "/r"),
            ("TMPDIR", "/tmp"),
            ("APPDATA", r"AppData\Roaming"),
            ("USERPROFILE", r"D:/Users/u"),
        ];
        let p = paths(Platform::Windows, &vars).unwrap();
        assert_eq!(p.config_dir, PathBuf::from(r"D:/Users/u\AppData\Roaming\Keyport"), "a relative APPDATA is ignored");
        assert_eq!(p.data_dir, PathBuf::from(r"D:/Users/u\AppData\Local\Keyport"));
        assert_eq!(p.runtime_dir, None);
        assert_eq!(state(Platform::Windows, &vars).unwrap(), PathBuf::from(r"D:/Users/u\AppData\Local\Keyport\state"));

        // A roaming profile on a server.
        let p = paths(Platform::Windows, &[("USERPROFILE", r"\\server\profiles\u")]).unwrap();
        assert_eq!(p.config_dir, PathBuf::from(r"\\server\profiles\u\AppData\Roaming\Keyport"));
    }

    #[test]
    fn windows_without_a_profile_is_an_error() {
        for vars in [
            &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/c"), ("XDG_DATA_HOME", "/d")][..],
            &[("USERPROFILE", r"\Users\u")],
        ] {
            let err = paths(Platform::Windows, vars).unwrap_err();
            assert_eq!(err.to_string(), "cannot find a home directory: set APPDATA and LOCALAPPDATA, or USERPROFILE");
        }
        // Config without data is not enough.
        assert!(paths(Platform::Windows, &[("APPDATA", r"C:\Roaming")]).is_err());
        assert!(state(Platform::Windows, &[("APPDATA", r"C:\Roaming")]).is_err());
    }

    #[test]
    fn windows_absoluteness() {
        for absolute in [r"C:\", r"c:/x", r"\\server\share", r"\\?\C:\x", "//server/share"] {
            assert!(windows_absolute(OsStr::new(absolute)), "{absolute}");
        }
        for relative in ["", "C:", r"C:x", r"\Users", "/home/u", "AppData", r"1:\x"] {
            assert!(!windows_absolute(OsStr::new(relative)), "{relative}");
        }
    }
}
