//! Starting the desktop window, `keyport-desktop`, at a screen: no arguments for the accounts,
//! `--account NAME`, or `--prompt ID`.
//!
//! The window is a program of its own, started detached: its own session (so neither the
//! service's terminal nor its process group reaches it), standard streams on `/dev/null`, the
//! root directory as its working directory, and reaped by a task when it exits (never a
//! zombie). Anything on the session bus can click the tray or a notification, so starts are
//! rate limited: one a second per screen and [`MAX_STARTS_PER_SECOND`] in all.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::app::Navigate;
use crate::error::CannotShowWindow;

/// The window program's file name.
pub const WINDOW_PROGRAM: &str = "keyport-desktop";

/// A screen is not started again within this time of its last start (a double click, or a
/// flood of clicks, starts one window).
pub const SAME_SCREEN_INTERVAL: Duration = Duration::from_secs(1);

/// Windows started in any second, whatever their screens.
pub const MAX_STARTS_PER_SECOND: usize = 4;

/// The window program of the installation `executable` (the service's own program) belongs
/// to, as a canonical path of an existing executable file: beside it (`cargo install`, a
/// checkout's `target/`), or, for packages, `PREFIX/bin/keyport-desktop` when it is
/// `PREFIX/lib/keyport/keyport-full` (as [`crate::cli_executables_near`] finds the CLI).
pub fn window_program_near(executable: &Path) -> Option<PathBuf> {
    let dir = executable.parent()?;
    let mut candidates = vec![dir.join(WINDOW_PROGRAM)];
    if dir.ends_with("lib/keyport") {
        candidates.push(dir.join("../../bin").join(WINDOW_PROGRAM));
    }
    candidates
        .into_iter()
        .filter_map(|path| crate::peer::canonical(&path).ok())
        .find(|path| std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && executable_mode(&meta)))
}

/// Whether a file's mode lets someone run it (any file may be run on Windows).
fn executable_mode(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// Whether a window can be shown: a Wayland or X11 display is named in the environment
/// (`WAYLAND_DISPLAY` or `DISPLAY`, not empty), or the system is Windows or macOS. `var`
/// reads one variable.
pub fn display_available(var: impl Fn(&str) -> Option<OsString>) -> bool {
    // Windows and macOS sessions always have their one display.
    cfg!(any(windows, target_os = "macos"))
        || ["WAYLAND_DISPLAY", "DISPLAY"].iter().any(|name| var(name).is_some_and(|value| !value.is_empty()))
}

/// The window's arguments for `screen`.
pub fn window_arguments(screen: &Navigate) -> Vec<String> {
    match screen {
        Navigate::Accounts => Vec::new(),
        Navigate::Account { account } => vec!["--account".to_owned(), account.clone()],
        Navigate::Prompt { prompt_id } => vec!["--prompt".to_owned(), prompt_id.clone()],
    }
}

/// The recent starts, for the rate limits. Holds at most [`MAX_STARTS_PER_SECOND`] entries.
#[derive(Debug, Default)]
struct RecentStarts {
    starts: VecDeque<(Navigate, Instant)>,
}

impl RecentStarts {
    /// Whether `screen` may start at `now`; if so, counts the start.
    fn admit(&mut self, screen: &Navigate, now: Instant) -> Result<(), CannotShowWindow> {
        self.starts.retain(|(_, at)| now.saturating_duration_since(*at) < SAME_SCREEN_INTERVAL);
        if self.starts.iter().any(|(shown, _)| shown == screen) {
            return Err(CannotShowWindow::TooSoon);
        }
        if self.starts.len() >= MAX_STARTS_PER_SECOND {
            return Err(CannotShowWindow::TooMany);
        }
        self.starts.push_back((screen.clone(), now));
        Ok(())
    }
}

/// Starts `keyport-desktop` at a screen; see the module docs.
#[derive(Debug)]
pub struct WindowLauncher {
    program: PathBuf,
    display: bool,
    recent: Mutex<RecentStarts>,
}

impl WindowLauncher {
    /// The launcher of the window program beside this process's executable
    /// ([`window_program_near`]); `None` when there is none (a CLI installed without the
    /// desktop app).
    pub fn find() -> Option<Self> {
        let me = std::env::current_exe().and_then(|me| crate::peer::canonical(&me)).ok()?;
        window_program_near(&me).map(Self::new)
    }

    /// A launcher of `program`. Whether there is a display is read from this process's
    /// environment now ([`display_available`]).
    pub fn new(program: PathBuf) -> Self {
        Self { program, display: display_available(|name| std::env::var_os(name)), recent: Mutex::default() }
    }

    /// The window program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Whether windows can be shown at all (a display was named when the launcher was made).
    pub fn has_display(&self) -> bool {
        self.display
    }

    /// Starts the window at `screen` and returns its process id, or says why no window was
    /// started. Call inside a tokio runtime (a task reaps the window when it exits).
    pub fn show(&self, screen: &Navigate) -> Result<u32, CannotShowWindow> {
        if !self.display {
            return Err(CannotShowWindow::NoDisplay);
        }
        self.recent.lock().expect("recent starts").admit(screen, Instant::now())?;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(window_arguments(screen))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir("/")
            .kill_on_drop(false);
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed. It makes one system call (setsid(2), through
        // rustix's raw syscall, no libc state) and, on failure, builds an `io::Error` from the
        // error number, which does not allocate. It touches no lock and no memory of the parent.
        #[cfg(unix)]
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(|| rustix::process::setsid().map(drop).map_err(std::io::Error::from));
        }
        // Its own process group, detached from the service's console.
        #[cfg(windows)]
        command.creation_flags(crate::start::DETACHED);
        let mut child =
            command.spawn().map_err(|source| CannotShowWindow::Start { program: self.program.clone(), source })?;
        let pid = child.id().unwrap_or_default();
        tokio::spawn(async move {
            match child.wait().await {
                Ok(status) => tracing::debug!(pid, %status, "the window exited"),
                Err(err) => tracing::debug!(pid, %err, "waiting for the window"),
            }
        });
        tracing::debug!(pid, "window started");
        Ok(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_screen_has_its_arguments() {
        assert_eq!(window_arguments(&Navigate::Accounts), Vec::<String>::new());
        assert_eq!(window_arguments(&Navigate::Account { account: "work".into() }), ["--account", "work"]);
        assert_eq!(window_arguments(&Navigate::Prompt { prompt_id: "0123abcd".into() }), ["--prompt", "0123abcd"]);
    }

    #[test]
    fn a_display_is_a_non_empty_wayland_or_x11_display() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| OsString::from(*v))
        };
        assert!(display_available(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
        assert!(display_available(env(&[("DISPLAY", ":0")])));
        assert!(display_available(env(&[("DISPLAY", ""), ("WAYLAND_DISPLAY", "wayland-1")])));
        // Windows and macOS always have their display; elsewhere one must be named.
        let elsewhere = cfg!(any(windows, target_os = "macos"));
        assert_eq!(display_available(env(&[])), elsewhere);
        assert_eq!(display_available(env(&[("DISPLAY", ""), ("WAYLAND_DISPLAY", "")])), elsewhere);
        assert_eq!(display_available(env(&[("XDG_SESSION_TYPE", "x11")])), elsewhere);
    }

    #[test]
    fn a_screen_starts_at_most_once_a_second() {
        let mut recent = RecentStarts::default();
        let start = Instant::now();
        let work = Navigate::Account { account: "work".into() };
        assert!(recent.admit(&work, start).is_ok());
        assert!(matches!(recent.admit(&work, start), Err(CannotShowWindow::TooSoon)));
        assert!(matches!(recent.admit(&work, start + Duration::from_millis(999)), Err(CannotShowWindow::TooSoon)));
        // Another screen is not held back by it.
        assert!(recent.admit(&Navigate::Accounts, start + Duration::from_millis(10)).is_ok());
        assert!(recent.admit(&work, start + SAME_SCREEN_INTERVAL).is_ok());
    }

    #[test]
    fn a_flood_of_screens_starts_a_few_windows_a_second() {
        let mut recent = RecentStarts::default();
        let start = Instant::now();
        let prompt = |i: usize| Navigate::Prompt { prompt_id: format!("p{i}") };
        let admitted = (0..100).filter(|i| recent.admit(&prompt(*i), start).is_ok()).count();
        assert_eq!(admitted, MAX_STARTS_PER_SECOND);
        assert!(matches!(recent.admit(&prompt(1000), start), Err(CannotShowWindow::TooMany)));
        assert!(recent.starts.len() <= MAX_STARTS_PER_SECOND);
        assert!(recent.admit(&prompt(1000), start + SAME_SCREEN_INTERVAL).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn the_window_program_is_found_beside_the_service_or_in_the_package_layout() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let make = |path: &Path, mode: u32| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        let root = std::fs::canonicalize(dir.path()).unwrap();

        // cargo install / target/: side by side.
        make(&root.join("side/keyport-full"), 0o755);
        assert_eq!(window_program_near(&root.join("side/keyport-full")), None);
        make(&root.join("side/keyport-desktop"), 0o755);
        assert_eq!(window_program_near(&root.join("side/keyport-full")), Some(root.join("side/keyport-desktop")));

        // The .deb: /usr/lib/keyport/keyport-full and /usr/bin/keyport-desktop.
        make(&root.join("usr/lib/keyport/keyport-full"), 0o755);
        make(&root.join("usr/bin/keyport-desktop"), 0o755);
        assert_eq!(
            window_program_near(&root.join("usr/lib/keyport/keyport-full")),
            Some(root.join("usr/bin/keyport-desktop"))
        );
        // Only from lib/keyport: a program in some other lib/ is not of this installation.
        make(&root.join("opt/lib/other/keyport-full"), 0o755);
        make(&root.join("opt/bin/keyport-desktop"), 0o755);
        assert_eq!(window_program_near(&root.join("opt/lib/other/keyport-full")), None);

        // Not executable, or a directory: not a program.
        make(&root.join("plain/keyport-full"), 0o755);
        make(&root.join("plain/keyport-desktop"), 0o644);
        assert_eq!(window_program_near(&root.join("plain/keyport-full")), None);
        std::fs::create_dir_all(root.join("dir/keyport-desktop")).unwrap();
        assert_eq!(window_program_near(&root.join("dir/keyport-full")), None);
    }
}
