//! Who is asking: the program behind a request on the socket, pinned so that its identity
//! cannot be borrowed. One [`Identifier`] per platform, with the same calls: Linux's
//! (`linux.rs`, with `process.rs`, `socket.rs`, `terminal.rs`) reads `/proc` and judges every
//! writer, as below; macOS's and Windows' (`portable.rs`) judge the process that connected, by
//! its executable, as the system names it (README, "Platforms").
//!
//! On Linux:
//!
//! - **The writer is judged**, not the process that connected: each request line comes with
//!   the pid of the process that wrote it (`lines.rs`, `SO_PASSCRED`).
//! - **The writer must hold the connection.** Its inode (the client end, found through socket
//!   diagnostics, `socket.rs`) must be open in the writer, close-on-exec: a descriptor that
//!   closes on `exec` cannot have been carried into another program. A client whose descriptor
//!   survives `exec` is accepted only as the very process that connected, unchanged since the
//!   service first looked at it (docs/socket.md states the window that leaves).
//! - **Paths are this machine's paths.** A program in another mount namespace is matched to a
//!   path rule only if its executable is the very file at that path here (same device and
//!   inode); Snaps, Flatpak apps and containers are named as such ([`Program`]); anything else
//!   in another namespace is refused, never guessed.
//! - **A script is named by its path**, not its interpreter's: `interpreter.rs` reads an
//!   interpreter's command line as the interpreter does (`Script`), and the script must be a
//!   regular file, not a binary, that the process sees at that path.
//! - **The `keyport` CLI speaks for the program that ran it**, past `sh -c` wrappers (at most
//!   [`MAX_WRAPPERS`]), which is judged with the same care, and is handed a token only when the
//!   CLI's standard output goes to that program (a pipe or socket it holds): `keyport token A >
//!   file &` followed by `exec allowed-program` gets nothing. The person typing in an interactive shell at a terminal is the user
//!   ([`Asker::Person`], `terminal.rs`).
//!
//! What this cannot stop is written in docs/socket.md's threat model: code running as the same
//! user can read other processes' memory and descriptors, edit the rules file, or fake a
//! terminal session.

pub mod interpreter;
#[cfg(target_os = "linux")]
mod linux;
pub mod portable;
#[cfg(target_os = "linux")]
pub mod process;
#[cfg(target_os = "linux")]
pub mod socket;
#[cfg(target_os = "linux")]
pub mod terminal;

#[cfg(target_os = "linux")]
pub use self::linux::{Identifier, Link};
#[cfg(not(target_os = "linux"))]
pub use self::portable::{Identifier, Link};
use std::path::{Path, PathBuf};

use crate::access::Program;

/// Who sent a request, as judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asker {
    /// The user, typing a `keyport` command in an interactive shell at this terminal.
    Person { terminal: String },
    /// A program, judged by the access rules.
    Program { program: Program, delivery: Delivery },
    /// Keyport's own desktop window (the installed `keyport-desktop`, in this mount
    /// namespace), acting for the user who clicks in it: it may do what the user at a terminal
    /// may, and it alone answers programs' access questions.
    Window { pid: u32 },
}

impl Asker {
    /// The program judged by the rules (`None` for the person at the terminal).
    pub fn program(&self) -> Option<&Program> {
        match self {
            Self::Person { .. } | Self::Window { .. } => None,
            Self::Program { program, .. } => Some(program),
        }
    }

    /// Whether this is the user (at a terminal, or in the window), not a program.
    pub fn is_user(&self) -> bool {
        matches!(self, Self::Person { .. } | Self::Window { .. })
    }

    /// A key for per-program limits.
    pub fn key(&self) -> String {
        match self {
            Self::Person { terminal } => format!("person at {terminal}"),
            Self::Window { .. } => "the Keyport window".to_owned(),
            Self::Program { program, .. } => program.to_string(),
        }
    }
}

/// Where an access token handed to a [`Asker::Program`] goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Back over the connection, to the program that wrote the request.
    Connection,
    /// Through the `keyport` CLI's standard output, which the program reads.
    CliOutput,
    /// The CLI's standard output is `/dev/null`: nobody reads what it prints (`git credential
    /// reject` runs the helper so; the helper compares tokens without printing them).
    Discarded,
    /// The CLI's output goes somewhere else (a file, another program): no token is handed out.
    Elsewhere(String),
    /// Over a `keyport ssh` forward (its id), to the remote machine.
    Forwarded(String),
}

/// How a writer was found to hold the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Through a close-on-exec descriptor: it cannot have changed program since it got it.
    CloseOnExec,
    /// As the process that connected, unchanged since it was first read.
    Connector,
}

/// `path` with symlinks resolved, as the system names a running program's executable: so
/// that what the user types, and the CLI and window paths, compare equal to it. On Windows
/// without the `\\?\` prefix that `canonicalize` adds (process images carry none).
pub fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path).map(|real| without_verbatim_prefix(&real))
}

/// `\\?\C:\…` as `C:\…` (a drive path in Windows' verbatim form); any other path as it is.
pub fn without_verbatim_prefix(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    match text.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') && rest.as_bytes()[0].is_ascii_alphabetic() => {
            PathBuf::from(rest)
        }
        _ => path.to_owned(),
    }
}

/// How many `sh -c` wrappers are looked through between the CLI and the program that ran it.
pub const MAX_WRAPPERS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_drive_paths_lose_their_prefix_and_others_stay() {
        assert_eq!(without_verbatim_prefix(Path::new(r"\\?\C:\Tools\mbsync.exe")), Path::new(r"C:\Tools\mbsync.exe"));
        for kept in [r"\\?\UNC\server\share\x.exe", r"C:\x.exe", "/usr/bin/git", r"\\?\"] {
            assert_eq!(without_verbatim_prefix(Path::new(kept)), Path::new(kept));
        }
    }
}
