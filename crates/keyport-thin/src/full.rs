//! The full CLI, `keyport-full`: where an installation keeps it, and handing a command to it.
//!
//! Layouts: beside the thin client (`cargo install`'s `~/.cargo/bin`, a checkout's
//! `target/release`), or in `PREFIX/lib/keyport/` for a thin client in `PREFIX/bin/` (the
//! .deb: `/usr/bin/keyport` and `/usr/lib/keyport/keyport-full`, so that the user's `PATH`
//! holds one `keyport` command). The service knows the same layouts
//! (`keyport_service::ServiceConfig`'s `cli_paths`).

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The full CLI's file name.
pub const FULL_CLI: &str = "keyport-full";

/// Where the full CLI may be for a thin client at `thin`, in the order looked at.
pub fn candidates(thin: &Path) -> Vec<PathBuf> {
    let Some(dir) = thin.parent() else { return Vec::new() };
    let full = format!("{FULL_CLI}{}", std::env::consts::EXE_SUFFIX);
    vec![dir.join(&full), dir.join("../lib/keyport").join(&full)]
}

/// The full CLI of this installation.
pub fn locate() -> Result<PathBuf, String> {
    let thin = std::env::current_exe().map_err(|err| format!("cannot find this program's own path: {err}"))?;
    let candidates = candidates(&thin);
    candidates.iter().find(|path| path.is_file()).cloned().ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|path| path.display().to_string()).collect();
        format!("the full keyport CLI is missing (looked for {}); reinstall Keyport", looked.join(" and "))
    })
}

/// Replaces this process with the full CLI, given the same arguments (`args[0]` too, which
/// clap uses in its messages). Returns only when that fails. (Windows cannot replace a
/// process: there the full CLI runs as a child, and its exit code is this one's.)
pub fn exec(args: &[OsString]) -> ExitCode {
    let failure = match locate() {
        Ok(full) => {
            let mut command = Command::new(&full);
            command.args(args.get(1..).unwrap_or_default());
            #[cfg(unix)]
            let err = {
                use std::os::unix::process::CommandExt;
                if let Some(name) = args.first() {
                    command.arg0(name);
                }
                command.exec()
            };
            #[cfg(not(unix))]
            let err = match command.status() {
                Ok(status) => {
                    return status
                        .code()
                        .and_then(|code| u8::try_from(code).ok())
                        .map_or(ExitCode::FAILURE, ExitCode::from);
                }
                Err(err) => err,
            };
            format!("cannot run {}: {err}", full.display())
        }
        Err(message) => message,
    };
    let _ = writeln!(std::io::stderr(), "keyport: {failure}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_cli_is_beside_or_in_lib_keyport() {
        assert_eq!(
            candidates(Path::new("/usr/bin/keyport")),
            [PathBuf::from("/usr/bin/keyport-full"), PathBuf::from("/usr/bin/../lib/keyport/keyport-full")]
        );
    }
}
