//! The headless service's log file, bounded: `daemon.log` is moved to `daemon.log.1` (replacing
//! an older one) when it reaches [`MAX_LOG_BYTES`], so the log takes at most twice that on disk
//! whatever happens. Only `keyport daemon --log-file` uses it (the CLI starts the service so);
//! a service started by systemd or by hand logs to standard error.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The size at which the log is rotated.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// A log file that rotates itself; cloneable, for `tracing_subscriber`'s `MakeWriter`.
#[derive(Debug, Clone)]
pub struct LogFile(Arc<Mutex<Open>>);

#[derive(Debug)]
struct Open {
    path: PathBuf,
    file: File,
    written: u64,
    limit: u64,
}

impl LogFile {
    /// Opens (appends to) the log at `path`, mode 0600.
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::with_limit(path, MAX_LOG_BYTES)
    }

    fn with_limit(path: &Path, limit: u64) -> io::Result<Self> {
        let file = open(path)?;
        let written = file.metadata()?.len();
        Ok(Self(Arc::new(Mutex::new(Open { path: path.to_owned(), file, written, limit }))))
    }
}

fn open(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    // Windows: files under the user's profile are private to the user by their inherited ACL.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

impl Write for LogFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut open = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.written + bytes.len() as u64 > open.limit && open.written > 0 {
            let old = open.path.with_extension("log.1");
            std::fs::rename(&open.path, old)?;
            open.file = self::open(&open.path)?;
            open.written = 0;
        }
        open.file.write_all(bytes)?;
        open.written += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFile {
    type Writer = LogFile;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        let mut log = LogFile::with_limit(&path, 1000).unwrap();
        for i in 0..500 {
            writeln!(log, "line {i:04} of a flood of warnings").unwrap();
        }
        let current = std::fs::metadata(&path).unwrap().len();
        let old = std::fs::metadata(dir.path().join("daemon.log.1")).unwrap().len();
        assert!(current <= 1000 && old <= 1000, "{current} {old}");
        assert!(std::fs::read_to_string(&path).unwrap().contains("line 0499"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "one old file is kept, no more");
    }
}
