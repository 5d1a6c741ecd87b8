//! One service per user: the private runtime directory, the instance lock and the socket file.
//!
//! `$XDG_RUNTIME_DIR/keyport/` is created with mode 0700, or refused when it exists with
//! another owner or looser permissions. `keyport.lock` in it is held (flock) for the service's
//! whole life and holds its pid, so a second start can say which process already serves the
//! socket. A socket file left by a crashed service is removed once the lock is ours.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::ServiceError;
use crate::transport::current_uid;

/// The held instance lock. Dropping it lets another service start.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    /// The socket path this instance serves.
    pub socket: PathBuf,
}

/// Makes sure `dir` exists, belongs to this user and is 0700.
pub fn private_dir(dir: &Path) -> Result<(), ServiceError> {
    let fail = |detail: String| ServiceError::RuntimeDir { dir: dir.to_owned(), detail };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(fail(err.to_string())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|err| fail(err.to_string()))?;
    if !meta.is_dir() {
        return Err(fail("is not a directory".into()));
    }
    if meta.uid() != current_uid() {
        return Err(fail(format!("belongs to uid {}, not to you (uid {})", meta.uid(), current_uid())));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(fail(format!(
            "has mode {:o}; other users could reach the socket. Keyport needs 0700 (chmod 700 it)",
            meta.permissions().mode() & 0o777
        )));
    }
    Ok(())
}

/// Takes the instance lock for the socket at `socket` (whose directory must be private).
pub fn acquire(socket: &Path) -> Result<InstanceLock, ServiceError> {
    let dir = socket.parent().expect("the socket has a directory");
    private_dir(dir)?;
    let lock_path = dir.join("keyport.lock");
    let io = |source| ServiceError::Socket { path: lock_path.clone(), source };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim().to_owned();
            return Err(ServiceError::AlreadyRunning {
                pid: if pid.is_empty() { "unknown".into() } else { pid },
                socket: socket.to_owned(),
            });
        }
        Err(std::fs::TryLockError::Error(err)) => return Err(io(err)),
    }
    file.set_len(0).map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    match std::fs::remove_file(socket) {
        Ok(()) => tracing::info!(socket = %socket.display(), "removed a socket left by an earlier run"),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(ServiceError::Socket { path: socket.to_owned(), source }),
    }
    Ok(InstanceLock { _file: file, socket: socket.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_instance_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("keyport");
        let socket = run.join("keyport.sock");
        let first = acquire(&socket).unwrap();
        assert_eq!(std::fs::metadata(&run).unwrap().permissions().mode() & 0o777, 0o700);
        let err = acquire(&socket).unwrap_err();
        assert!(err.to_string().contains(&format!("process {}", std::process::id())), "{err}");
        drop(first);
        acquire(&socket).unwrap();
    }

    #[test]
    fn open_runtime_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("keyport");
        std::fs::create_dir(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = acquire(&run.join("keyport.sock")).unwrap_err();
        assert!(err.to_string().contains("0700"), "{err}");
    }

    #[test]
    fn a_stale_socket_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("keyport");
        private_dir(&run).unwrap();
        std::fs::write(run.join("keyport.sock"), b"").unwrap();
        acquire(&run.join("keyport.sock")).unwrap();
        assert!(!run.join("keyport.sock").exists());
    }
}
