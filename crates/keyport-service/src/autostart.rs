//! Starting the service at login, the XDG way: an autostart entry named [`FILE_NAME`] in
//! `$XDG_CONFIG_HOME/autostart/` (the user's), over one of the same name in
//! `$XDG_CONFIG_DIRS/autostart/` (the system's: the `.deb` installs one in
//! `/etc/xdg/autostart/`). Per the Desktop Application Autostart Specification, the user's
//! file wins, and an entry with `Hidden=true` is off. The window's "Start at login" switch and
//! `service.set_autostart` turn it on (a user entry running this service's executable) or off
//! (a hidden user entry over the system's, or none).
//!
//! What it leaves out: systemd user units (README, "Run the service at login"), which are the
//! user's own files; and the desktops' other keys (`OnlyShowIn`, `TryExec`...), which the
//! entries written here do not use.

use std::path::{Path, PathBuf};

use keyport_wire::AutostartStatus;

/// The entry's file name, the same in every directory.
pub const FILE_NAME: &str = "keyport.desktop";

/// Where the autostart entries are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autostart {
    /// `$XDG_CONFIG_HOME/autostart`.
    pub user_dir: PathBuf,
    /// `$XDG_CONFIG_DIRS/autostart`, first first.
    pub system_dirs: Vec<PathBuf>,
}

impl Autostart {
    /// The user's directories, from the environment (`$XDG_CONFIG_HOME`, else `~/.config`;
    /// `$XDG_CONFIG_DIRS`, else `/etc/xdg`).
    pub fn from_env() -> Option<Self> {
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
        let dirs = std::env::var("XDG_CONFIG_DIRS").ok().filter(|dirs| !dirs.is_empty());
        let system_dirs = dirs
            .as_deref()
            .unwrap_or("/etc/xdg")
            .split(':')
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join("autostart"))
            .collect();
        Some(Self { user_dir: config_home.join("autostart"), system_dirs })
    }

    /// Whether the service starts at login, and by which entry.
    pub fn status(&self) -> AutostartStatus {
        let user = self.user_dir.join(FILE_NAME);
        let entry =
            std::iter::once(user).chain(self.system_dirs.iter().map(|dir| dir.join(FILE_NAME))).find_map(|path| {
                // Entries are a few hundred bytes; a larger file is not one of ours.
                let text = read_bounded(&path)?;
                Some((path, text))
            });
        match entry {
            Some((path, text)) => {
                AutostartStatus { enabled: !is_hidden(&text), entry: Some(path.display().to_string()) }
            }
            None => AutostartStatus { enabled: false, entry: None },
        }
    }

    /// Turns starting at login on (a user entry that runs `service daemon`) or off (a hidden
    /// user entry when a system one would start it, else no user entry).
    pub fn set(&self, enabled: bool, service: &Path) -> std::io::Result<AutostartStatus> {
        let user = self.user_dir.join(FILE_NAME);
        let system = self.system_dirs.iter().map(|dir| dir.join(FILE_NAME)).find(|path| path.is_file());
        if enabled {
            write_entry(&user, &entry_text(service, false))?;
        } else if system.is_some() {
            write_entry(&user, &entry_text(service, true))?;
        } else if let Err(err) = std::fs::remove_file(&user)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            return Err(err);
        }
        Ok(self.status())
    }
}

/// The file's text, when it is a file of at most 64 KiB.
fn read_bounded(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 64 * 1024 {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// Whether an entry is off: `Hidden=true` in its `[Desktop Entry]` group (GNOME's
/// `X-GNOME-Autostart-enabled=false` too).
pub fn is_hidden(text: &str) -> bool {
    let mut in_entry = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        match (in_entry, key.trim(), value.trim()) {
            (true, "Hidden", "true") | (true, "X-GNOME-Autostart-enabled", "false") => return true,
            _ => {}
        }
    }
    false
}

/// An autostart entry running `service daemon`, hidden (off) or not.
pub fn entry_text(service: &Path, hidden: bool) -> String {
    // The Exec key's quoting: a path in double quotes, with `"`, `` ` ``, `$` and `\` escaped.
    let mut quoted = String::from("\"");
    for c in service.display().to_string().chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    format!(
        "[Desktop Entry]\nType=Application\nName=Keyport\nComment=Keeps your OAuth accounts' tokens fresh for the \
         programs you allow\nExec={quoted} daemon\nIcon=keyport-desktop\nTerminal=false\nNoDisplay=true\n\
         X-GNOME-Autostart-enabled={}\nHidden={hidden}\n",
        !hidden
    )
}

/// Writes `text` to `path` whole (a temporary file renamed over it), creating the directory.
fn write_entry(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("an entry has a directory"))?;
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, Autostart) {
        let root = tempfile::tempdir().unwrap();
        let autostart = Autostart {
            user_dir: root.path().join("home/.config/autostart"),
            system_dirs: vec![root.path().join("etc/xdg/autostart"), root.path().join("usr/etc/autostart")],
        };
        (root, autostart)
    }

    #[test]
    fn on_and_off_without_a_system_entry() {
        let (_root, autostart) = dirs();
        assert_eq!(autostart.status(), AutostartStatus { enabled: false, entry: None });
        let service = Path::new("/opt/key port/keyport-full");
        let on = autostart.set(true, service).unwrap();
        let user = autostart.user_dir.join(FILE_NAME);
        assert_eq!(on, AutostartStatus { enabled: true, entry: Some(user.display().to_string()) });
        let text = std::fs::read_to_string(&user).unwrap();
        assert!(text.contains("Exec=\"/opt/key port/keyport-full\" daemon\n"), "{text}");
        assert!(text.contains("Hidden=false"), "{text}");
        let off = autostart.set(false, service).unwrap();
        assert_eq!(off, AutostartStatus { enabled: false, entry: None });
        assert!(!user.exists(), "no system entry: the user's is simply removed");
        // Off twice is fine.
        assert!(!autostart.set(false, service).unwrap().enabled);
    }

    #[test]
    fn the_users_entry_hides_the_systems_and_can_show_it_again() {
        let (_root, autostart) = dirs();
        let system = autostart.system_dirs[1].join(FILE_NAME);
        write_entry(&system, &entry_text(Path::new("/usr/lib/keyport/keyport-full"), false)).unwrap();
        assert_eq!(autostart.status(), AutostartStatus { enabled: true, entry: Some(system.display().to_string()) });
        let off = autostart.set(false, Path::new("/usr/lib/keyport/keyport-full")).unwrap();
        let user = autostart.user_dir.join(FILE_NAME);
        assert_eq!(off, AutostartStatus { enabled: false, entry: Some(user.display().to_string()) });
        assert!(is_hidden(&std::fs::read_to_string(&user).unwrap()));
        assert!(autostart.set(true, Path::new("/usr/lib/keyport/keyport-full")).unwrap().enabled);
    }

    #[test]
    fn hidden_is_read_from_the_desktop_entry_group_only() {
        assert!(is_hidden("[Desktop Entry]\nName=K\nHidden = true\n"));
        assert!(is_hidden("[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n"));
        assert!(!is_hidden("[Desktop Entry]\nHidden=false\n[Desktop Action x]\nHidden=true\n"));
        assert!(!is_hidden(""));
        assert!(entry_text(Path::new("/a\"b$c"), true).contains("Exec=\"/a\\\"b\\$c\" daemon"));
    }

    #[test]
    fn a_large_file_is_not_an_entry() {
        let (_root, autostart) = dirs();
        std::fs::create_dir_all(&autostart.user_dir).unwrap();
        std::fs::write(autostart.user_dir.join(FILE_NAME), "x".repeat(100 * 1024)).unwrap();
        assert_eq!(autostart.status(), AutostartStatus { enabled: false, entry: None });
    }
}
