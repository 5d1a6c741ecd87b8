//! Starting a service from one of its clients (the CLI, the window), when none runs: where
//! its log goes, and detaching it from the client that started it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::error::ServiceError;

/// The log file of a service that a client starts for the address `address`, its directory
/// made private: beside the socket, in the private runtime directory; on Windows (a pipe has
/// no directory) in Keyport's state directory, under the user's profile.
fn log_file(address: &Path) -> Result<PathBuf, ServiceError> {
    #[cfg(unix)]
    let dir = {
        let dir = address.parent().ok_or(ServiceError::NoRuntimeDir)?.to_owned();
        crate::instance::private_dir(&dir)?;
        dir
    };
    #[cfg(not(unix))]
    let dir = {
        let _ = address;
        let dir = keyport_core::paths::state_dir().map_err(|err| ServiceError::RuntimeDir {
            dir: PathBuf::from("Keyport's state directory"),
            detail: err.to_string(),
        })?;
        std::fs::create_dir_all(&dir)
            .map_err(|err| ServiceError::RuntimeDir { dir: dir.clone(), detail: err.to_string() })?;
        dir
    };
    Ok(dir.join("daemon.log"))
}

/// Windows' `CREATE_NEW_PROCESS_GROUP | DETACHED_PROCESS`: a process group of its own, no
/// console (the service here, the window in `desktop/window.rs`).
#[cfg(windows)]
pub(crate) const DETACHED: u32 = 0x0000_0200 | 0x0000_0008;

/// Starts `program daemon` for `address` in the background, detached from the client's
/// terminal or console (a process group of its own on Unix, so a Ctrl-C there does not reach
/// it; a new process group without a console on Windows). It logs to `log_file` (returned
/// with the child), rotated by the service itself; its standard error, which only a crash
/// writes to, goes to the same file.
pub fn service(program: &Path, address: &Path) -> Result<(Child, PathBuf), ServiceError> {
    let log_file = log_file(address)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_file)
        .map_err(|err| ServiceError::RuntimeDir { dir: log_file.clone(), detail: err.to_string() })?;
    let mut command = Command::new(program);
    command.arg("daemon").arg("--log-file").arg(&log_file).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    #[cfg(windows)]
    std::os::windows::process::CommandExt::creation_flags(&mut command, DETACHED);
    let child = command.spawn().map_err(|source| ServiceError::Start { program: program.to_owned(), source })?;
    Ok((child, log_file))
}
