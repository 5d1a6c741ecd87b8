//! Starting a service from one of its clients (the CLI, the window), when none runs: where
//! its log goes, and detaching it from the client that started it.

use std::path::{Path, PathBuf};

use crate::error::ServiceError;

/// The log file of a service that a client starts for the address `address`, its directory
/// made private: beside the socket, in the private runtime directory; on Windows (a pipe has
/// no directory) in Keyport's state directory, under the user's profile.
pub fn log_file(address: &Path) -> Result<PathBuf, ServiceError> {
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

/// Makes `command` start a process that outlives its starter's terminal or console: a process
/// group of its own on Unix (a Ctrl-C in the terminal does not reach it), a new process group
/// without a console on Windows.
pub fn detach(command: &mut std::process::Command) -> &mut std::process::Command {
    #[cfg(unix)]
    {
        std::os::unix::process::CommandExt::process_group(command, 0)
    }
    #[cfg(windows)]
    {
        /// `CREATE_NEW_PROCESS_GROUP | DETACHED_PROCESS`.
        const DETACHED: u32 = 0x0000_0200 | 0x0000_0008;
        std::os::windows::process::CommandExt::creation_flags(command, DETACHED)
    }
}
