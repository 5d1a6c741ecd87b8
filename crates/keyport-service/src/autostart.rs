//! Starting the service at login, each system's way ([`Autostart`]):
//!
//! - **Linux and other XDG desktops**: an autostart entry named [`FILE_NAME`] in
//!   `$XDG_CONFIG_HOME/autostart/` (the user's), over one of the same name in
//!   `$XDG_CONFIG_DIRS/autostart/` (the system's: the `.deb` installs one in
//!   `/etc/xdg/autostart/`). Per the Desktop Application Autostart Specification, the user's
//!   file wins, and an entry with `Hidden=true` is off. On: a user entry running this service's
//!   executable; off: a hidden user entry over the system's, or none.
//! - **macOS**: a LaunchAgent, `~/Library/LaunchAgents/`[`LAUNCH_AGENT`]`.plist`, run at load
//!   (login); off: no such file.
//! - **Windows**: the value [`RUN_VALUE`] of the user's `Run` key
//!   (`HKCU\Software\Microsoft\Windows\CurrentVersion\Run`); off: no such value.
//!
//! The window's "Start at login" switch and `service.set_autostart` turn it on or off. The
//! entries' texts are plain functions, tested on Linux; the macOS file is written as on Linux,
//! and the Windows registry calls are type-checked, not yet run (README, "Platforms").
//!
//! What it leaves out: systemd user units (README, "Run the service at login"), which are the
//! user's own files; and the desktops' other keys (`OnlyShowIn`, `TryExec`...), which the
//! entries written here do not use.

use std::path::{Path, PathBuf};

use keyport_wire::AutostartStatus;

/// The XDG entry's file name, the same in every directory.
pub const FILE_NAME: &str = "keyport.desktop";

/// The macOS LaunchAgent's label (and file name, with `.plist`).
pub const LAUNCH_AGENT: &str = "org.keyport.service";

/// The name of the Windows `Run` value.
pub const RUN_VALUE: &str = "Keyport";

/// Where the service's start at login is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Autostart {
    /// XDG autostart entries.
    Xdg {
        /// `$XDG_CONFIG_HOME/autostart`.
        user_dir: PathBuf,
        /// `$XDG_CONFIG_DIRS/autostart`, first first.
        system_dirs: Vec<PathBuf>,
    },
    /// A macOS LaunchAgent property list at `path`.
    LaunchAgent { path: PathBuf },
    /// The Windows `Run` key of the current user.
    RunKey,
}

impl Autostart {
    /// This system's place, from the environment: XDG's (`$XDG_CONFIG_HOME`, else
    /// `~/.config`; `$XDG_CONFIG_DIRS`, else `/etc/xdg`), `~/Library/LaunchAgents` on macOS, the
    /// `Run` key on Windows.
    pub fn from_env() -> Option<Self> {
        if cfg!(windows) {
            return Some(Self::RunKey);
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).filter(|home| home.is_absolute());
        if cfg!(target_os = "macos") {
            return Some(Self::LaunchAgent {
                path: home?.join("Library/LaunchAgents").join(format!("{LAUNCH_AGENT}.plist")),
            });
        }
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| home.map(|home| home.join(".config")))?;
        let dirs = std::env::var("XDG_CONFIG_DIRS").ok().filter(|dirs| !dirs.is_empty());
        let system_dirs = dirs
            .as_deref()
            .unwrap_or("/etc/xdg")
            .split(':')
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join("autostart"))
            .collect();
        Some(Self::Xdg { user_dir: config_home.join("autostart"), system_dirs })
    }

    /// Whether the service starts at login, and by which entry.
    pub fn status(&self) -> AutostartStatus {
        match self {
            Self::Xdg { user_dir, system_dirs } => {
                let user = user_dir.join(FILE_NAME);
                let entry =
                    std::iter::once(user).chain(system_dirs.iter().map(|dir| dir.join(FILE_NAME))).find_map(|path| {
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
            Self::LaunchAgent { path } => match read_bounded(path) {
                Some(_) => AutostartStatus { enabled: true, entry: Some(path.display().to_string()) },
                None => AutostartStatus { enabled: false, entry: None },
            },
            Self::RunKey => match run_key::read() {
                Some(_) => AutostartStatus { enabled: true, entry: Some(run_key::describe()) },
                None => AutostartStatus { enabled: false, entry: None },
            },
        }
    }

    /// Turns starting at login on (an entry that runs `service daemon`) or off.
    pub fn set(&self, enabled: bool, service: &Path) -> std::io::Result<AutostartStatus> {
        match self {
            Self::Xdg { user_dir, system_dirs } => {
                let user = user_dir.join(FILE_NAME);
                let system = system_dirs.iter().map(|dir| dir.join(FILE_NAME)).find(|path| path.is_file());
                if enabled {
                    write_entry(&user, &entry_text(service, false))?;
                } else if system.is_some() {
                    write_entry(&user, &entry_text(service, true))?;
                } else {
                    remove_if_there(&user)?;
                }
            }
            Self::LaunchAgent { path } if enabled => write_entry(path, &launch_agent_text(service))?,
            Self::LaunchAgent { path } => remove_if_there(path)?,
            Self::RunKey if enabled => run_key::write(&run_command(service))?,
            Self::RunKey => run_key::remove()?,
        }
        Ok(self.status())
    }
}

/// Removes `path`; already gone is fine.
fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// A LaunchAgent that runs `service daemon` at login, and again if it exits abnormally (not
/// after `keyport quit`).
pub fn launch_agent_text(service: &Path) -> String {
    let escaped: String = service
        .display()
        .to_string()
        .chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n\
         \t<key>Label</key>\n\t<string>{LAUNCH_AGENT}</string>\n\
         \t<key>ProgramArguments</key>\n\t<array>\n\t\t<string>{escaped}</string>\n\t\t<string>daemon</string>\n\t</array>\n\
         \t<key>RunAtLoad</key>\n\t<true/>\n\
         \t<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n\
         \t<key>ProcessType</key>\n\t<string>Background</string>\n\
         </dict>\n</plist>\n"
    )
}

/// The `Run` value's command line: `"SERVICE" daemon` (Windows' quoting: a path holds no `"`).
pub fn run_command(service: &Path) -> String {
    format!("\"{}\" daemon", service.display())
}

/// The `Run` key of the current user (Windows' registry, through `winreg`).
#[cfg(windows)]
mod run_key {
    use winreg::RegKey;
    use winreg::enums::{HKEY_CURRENT_USER, KEY_READ, KEY_SET_VALUE};

    const RUN: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";

    pub(super) fn describe() -> String {
        format!(r"HKEY_CURRENT_USER\{RUN}\{}", super::RUN_VALUE)
    }

    pub(super) fn read() -> Option<String> {
        let key = RegKey::predef(HKEY_CURRENT_USER).open_subkey_with_flags(RUN, KEY_READ).ok()?;
        key.get_value::<String, _>(super::RUN_VALUE).ok().filter(|value| value.len() <= 64 * 1024)
    }

    pub(super) fn write(command: &str) -> std::io::Result<()> {
        let (key, _) = RegKey::predef(HKEY_CURRENT_USER).create_subkey(RUN)?;
        key.set_value(super::RUN_VALUE, &command)
    }

    pub(super) fn remove() -> std::io::Result<()> {
        let key = RegKey::predef(HKEY_CURRENT_USER).open_subkey_with_flags(RUN, KEY_SET_VALUE)?;
        match key.delete_value(super::RUN_VALUE) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

/// No registry here: [`Autostart::RunKey`] is only made on Windows.
#[cfg(not(windows))]
mod run_key {
    fn unsupported() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::Unsupported, "the Run key is Windows'")
    }

    pub(super) fn describe() -> String {
        String::new()
    }

    pub(super) fn read() -> Option<String> {
        None
    }

    pub(super) fn write(_: &str) -> std::io::Result<()> {
        Err(unsupported())
    }

    pub(super) fn remove() -> std::io::Result<()> {
        Err(unsupported())
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
        let autostart = Autostart::Xdg {
            user_dir: root.path().join("home/.config/autostart"),
            system_dirs: vec![root.path().join("etc/xdg/autostart"), root.path().join("usr/etc/autostart")],
        };
        (root, autostart)
    }

    fn user_dir(autostart: &Autostart) -> PathBuf {
        let Autostart::Xdg { user_dir, .. } = autostart else { panic!("XDG") };
        user_dir.clone()
    }

    #[test]
    fn a_launch_agent_runs_the_service_at_login_and_is_removed_when_off() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("Library/LaunchAgents/org.keyport.service.plist");
        let autostart = Autostart::LaunchAgent { path: path.clone() };
        assert_eq!(autostart.status(), AutostartStatus { enabled: false, entry: None });
        let service = Path::new("/Applications/Keyport & Co.app/Contents/MacOS/keyport-full");
        let on = autostart.set(true, service).unwrap();
        assert_eq!(on, AutostartStatus { enabled: true, entry: Some(path.display().to_string()) });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("<string>/Applications/Keyport &amp; Co.app/Contents/MacOS/keyport-full</string>"),
            "{text}"
        );
        assert!(text.contains("<string>daemon</string>") && text.contains("<key>RunAtLoad</key>\n\t<true/>"), "{text}");
        assert!(text.contains(&format!("<string>{LAUNCH_AGENT}</string>")), "{text}");
        assert_eq!(autostart.set(false, service).unwrap(), AutostartStatus { enabled: false, entry: None });
        assert!(!path.exists());
        assert!(!autostart.set(false, service).unwrap().enabled, "off twice is fine");
    }

    #[test]
    fn the_windows_run_value_quotes_the_service() {
        assert_eq!(
            run_command(Path::new(r"C:\Program Files\Keyport\keyport-full.exe")),
            r#""C:\Program Files\Keyport\keyport-full.exe" daemon"#
        );
        if !cfg!(windows) {
            assert!(Autostart::RunKey.set(true, Path::new("x")).is_err(), "no registry here");
            assert!(!Autostart::RunKey.status().enabled);
        }
    }

    #[test]
    fn on_and_off_without_a_system_entry() {
        let (_root, autostart) = dirs();
        assert_eq!(autostart.status(), AutostartStatus { enabled: false, entry: None });
        let service = Path::new("/opt/key port/keyport-full");
        let on = autostart.set(true, service).unwrap();
        let user = user_dir(&autostart).join(FILE_NAME);
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
        let Autostart::Xdg { system_dirs, .. } = &autostart else { panic!("XDG") };
        let system = system_dirs[1].join(FILE_NAME);
        write_entry(&system, &entry_text(Path::new("/usr/lib/keyport/keyport-full"), false)).unwrap();
        assert_eq!(autostart.status(), AutostartStatus { enabled: true, entry: Some(system.display().to_string()) });
        let off = autostart.set(false, Path::new("/usr/lib/keyport/keyport-full")).unwrap();
        let user = user_dir(&autostart).join(FILE_NAME);
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
        std::fs::create_dir_all(user_dir(&autostart)).unwrap();
        std::fs::write(user_dir(&autostart).join(FILE_NAME), "x".repeat(100 * 1024)).unwrap();
        assert_eq!(autostart.status(), AutostartStatus { enabled: false, entry: None });
    }
}
