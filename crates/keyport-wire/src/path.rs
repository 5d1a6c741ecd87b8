//! Where the socket lives: `$XDG_RUNTIME_DIR/keyport/keyport.sock`.
//!
//! There is deliberately no fallback (no `/tmp`, no home directory): a predictable path in a
//! shared directory could be taken by another user first. Creating the directory (0700) and
//! the socket (0600) and checking the peer are the daemon's job, not this crate's.

use std::path::{Path, PathBuf};

/// The directory under `$XDG_RUNTIME_DIR` that holds the socket.
pub const SOCKET_DIR: &str = "keyport";

/// The socket's file name inside [`SOCKET_DIR`].
pub const SOCKET_FILE: &str = "keyport.sock";

/// The socket path inside a given runtime directory.
pub fn socket_path_in(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(SOCKET_DIR).join(SOCKET_FILE)
}

/// The socket path from `$XDG_RUNTIME_DIR`, or `None` when that variable is unset, empty or
/// not absolute (the XDG Base Directory specification says to ignore a relative one).
pub fn default_socket_path() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    dir.is_absolute().then(|| socket_path_in(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_is_in_a_keyport_directory_of_the_runtime_dir() {
        assert_eq!(socket_path_in(Path::new("/run/user/1000")), Path::new("/run/user/1000/keyport/keyport.sock"));
    }
}
