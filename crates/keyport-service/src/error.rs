//! The service's error type.

use std::path::PathBuf;

/// What can go wrong in the service (besides core errors, which it wraps).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A core operation failed.
    #[error(transparent)]
    Core(#[from] keyport_core::Error),
    /// Another Keyport already serves the socket.
    #[error("Keyport is already running (process {pid}) and serving {}", socket.display())]
    AlreadyRunning { pid: String, socket: PathBuf },
    /// The runtime directory is missing, owned by someone else, or too open.
    #[error("{}: {detail}", dir.display())]
    RuntimeDir { dir: PathBuf, detail: String },
    /// No address for the socket (no `XDG_RUNTIME_DIR` on Linux; see `keyport_wire::path`).
    #[error("{}", keyport_wire::path::NO_ADDRESS)]
    NoRuntimeDir,
    /// Binding or serving the socket failed.
    #[error("socket {}: {source}", path.display())]
    Socket { path: PathBuf, source: std::io::Error },
    /// A client could not start the service program.
    #[error("cannot start {}: {source}", program.display())]
    Start { program: PathBuf, source: std::io::Error },
    /// The access rules file is damaged.
    #[error("{}: {detail}", path.display())]
    Rules { path: PathBuf, detail: String },
    /// The peer process could not be identified.
    #[error("could not identify the program asking: {0}")]
    PeerUnknown(String),
    /// The request makes no sense.
    #[error("{0}")]
    BadRequest(String),
    /// The desktop has no tray for Keyport's icon.
    #[error(transparent)]
    NoTray(#[from] NoTray),
    /// No desktop window was started.
    #[error(transparent)]
    CannotShowWindow(#[from] CannotShowWindow),
}

/// Why there is no tray icon (`desktop::TrayIcon::spawn`). None of these is a failure of the
/// service, which runs on without one.
#[derive(Debug, thiserror::Error)]
pub enum NoTray {
    /// No session bus to reach (none running, or `DBUS_SESSION_BUS_ADDRESS` names none).
    #[error("no tray: no D-Bus session bus ({0})")]
    NoSessionBus(String),
    /// Nobody on the session bus keeps a tray (`org.kde.StatusNotifierWatcher`).
    #[error("no tray: nothing on the session bus shows tray icons ({0})")]
    NoWatcher(String),
    /// A watcher, but no host to show the icons it is told of.
    #[error("no tray: the tray (StatusNotifierWatcher) has no host to show icons")]
    NoHost,
    /// The session bus did not answer in time.
    #[error("no tray: the session bus did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// Keyport's own icon could not be read (a broken build).
    #[error("no tray: the tray icon cannot be read: {0}")]
    Icon(String),
}

/// Why no desktop window was started (`desktop::WindowLauncher::show`).
#[derive(Debug, thiserror::Error)]
pub enum CannotShowWindow {
    /// Neither `WAYLAND_DISPLAY` nor `DISPLAY` is set for the service.
    #[error("cannot show a window: no display (neither WAYLAND_DISPLAY nor DISPLAY is set for the Keyport service)")]
    NoDisplay,
    /// A window for this screen was started less than a second ago.
    #[error("a window for this screen was started less than a second ago")]
    TooSoon,
    /// Too many windows were started in the last second.
    #[error("too many windows were started in the last second")]
    TooMany,
    /// The window program could not be started.
    #[error("cannot start {}: {source}", program.display())]
    Start { program: PathBuf, source: std::io::Error },
}
