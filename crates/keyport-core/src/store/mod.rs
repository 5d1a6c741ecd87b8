//! Files on disk: atomic whole-file writes, advisory locks, and the account metadata file.
//!
//! Nothing secret is ever written here; secrets go to [`crate::secrets`]. A file that cannot
//! be understood (corrupt, or written by a newer Keyport) is reported and never overwritten:
//! every write path reads the file first and stops on such an error. Every lock wait has a
//! deadline ([`LOCK_WAIT`]): a lock held by a stuck process becomes an error that names the
//! lock file, never a hang. Everything here blocks (fsync, lock waits): async callers run it on
//! the blocking pool.

mod accounts;

pub(crate) use self::accounts::AccountsFile;

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::paths::ensure_private_dir;

/// Reads a whole file, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path: path.to_owned(), source }),
    }
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new file, never
/// a mix: write a temporary file (mode 0600) beside it, fsync it, rename it over the target,
/// fsync the directory (on Unix).
///
/// File modes are set on Unix only. On Windows files get the ACL of the directory they are
/// created in, and Keyport's directories are under the user's profile, private to the user by
/// its default ACL (see [`ensure_private_dir`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().expect("store files have a parent directory");
    let io = |source| Error::Io { path: path.to_owned(), source };
    ensure_private_dir(dir).map_err(io)?;
    let file_name = path.file_name().expect("store files have a name").to_string_lossy();
    let temp = dir.join(format!(".{file_name}.{}.{}.tmp", std::process::id(), rand::random::<u32>()));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // The rename is durable only once the directory entry is. (Windows cannot open a
        // directory as a file, nor flush one: there NTFS's journal keeps the rename atomic,
        // and a crash right after it may leave the old file.)
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(io)
}

/// How long Keyport waits for a lock another process holds (`accounts.lock`, an account's
/// renewal lock) before it gives up with [`Error::LockTimeout`]. Keyport's own holders keep a
/// lock for a file write or one token request (whose HTTP timeout is 30 s, but which answer in
/// well under a second when the provider is healthy); a holder past this is stuck or
/// suspended, and waiting longer would only stall whoever asked.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Runs `action` while holding an exclusive advisory lock tied to `path` (a `.lock` file
/// beside it), so two Keyport processes never interleave a read-modify-write. Waits at most
/// `wait` for the lock.
pub(crate) fn with_lock<T>(path: &Path, wait: Duration, action: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let lock = FileLock::acquire_within(&path.with_extension("lock"), wait)?;
    let result = action();
    drop(lock);
    result
}

/// An exclusive advisory lock on a file, held until dropped. Another process (or another
/// `FileLock` in this one: `flock` locks belong to open files) holding it makes
/// [`FileLock::acquire_within`] wait, up to its deadline.
#[derive(Debug)]
pub(crate) struct FileLock {
    _held: File,
}

impl FileLock {
    /// Takes the lock, polling for at most `wait` (blocking the calling thread meanwhile).
    /// Polling instead of a blocking `flock` is what gives the wait its deadline: the first
    /// retries come after 2 ms, later ones every 50 ms.
    pub fn acquire_within(lock_path: &Path, wait: Duration) -> Result<Self, Error> {
        let io = |source| Error::Io { path: lock_path.to_owned(), source };
        ensure_private_dir(lock_path.parent().expect("lock files have a parent")).map_err(io)?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(lock_path).map_err(io)?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _held: file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
            let waited = started.elapsed();
            if waited >= wait {
                return Err(Error::LockTimeout { path: lock_path.to_owned(), waited });
            }
            std::thread::sleep(pause.min(wait - waited));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(read_optional(&path).unwrap().unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let leftovers: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("file.json")]);
    }

    #[test]
    fn a_lock_held_elsewhere_is_waited_for_until_the_deadline_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/a.lock");
        let held = FileLock::acquire_within(&path, Duration::ZERO).unwrap();
        let started = Instant::now();
        let err = FileLock::acquire_within(&path, Duration::from_millis(200)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(200), "waited up to the deadline");
        assert!(matches!(&err, Error::LockTimeout { path: named, .. } if *named == path), "{err}");
        assert!(err.to_string().contains("a.lock"), "{err}");
        // Released elsewhere while waiting: taken.
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || FileLock::acquire_within(&path, Duration::from_secs(10)).map(drop)
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        waiter.join().unwrap().unwrap();
    }

    #[test]
    fn missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_optional(&dir.path().join("nope")).unwrap().is_none());
    }
}
