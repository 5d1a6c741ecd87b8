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
    /// No `XDG_RUNTIME_DIR`.
    #[error("XDG_RUNTIME_DIR is not set: Keyport needs a private per-user runtime directory for its socket")]
    NoRuntimeDir,
    /// Binding or serving the socket failed.
    #[error("socket {}: {source}", path.display())]
    Socket { path: PathBuf, source: std::io::Error },
    /// The access rules file is damaged.
    #[error("{}: {detail}", path.display())]
    Rules { path: PathBuf, detail: String },
    /// The peer process could not be identified.
    #[error("could not identify the program asking: {0}")]
    PeerUnknown(String),
    /// The request makes no sense.
    #[error("{0}")]
    BadRequest(String),
}
