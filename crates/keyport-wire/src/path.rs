//! Where the service listens, per platform (docs/socket.md, "Connecting"):
//!
//! - **Linux and other Unix systems**: the Unix socket `$XDG_RUNTIME_DIR/keyport/keyport.sock`.
//!   There is deliberately no fallback (no `/tmp`, no home directory): a predictable path in a
//!   shared directory could be taken by another user first. (The one socket a client takes in
//!   `/tmp` is one `keyport ssh` forwarded into an ssh session, [`FORWARD_DIR`], and only one
//!   the user owns.)
//! - **macOS**: the same under `$XDG_RUNTIME_DIR` when it is set, else under `$TMPDIR`, the
//!   per-user private directory (`/var/folders/…/T/`, mode 0700) that launchd gives every
//!   session.
//! - **Windows**: the named pipe `\\.\pipe\keyport-USER`. Pipe names are one namespace for the
//!   whole machine, so a name proves nothing: the service creates the pipe as its first instance
//!   with a DACL for the user alone, and clients check that the process serving it runs as
//!   themselves ([`crate::local`]).
//!
//! Creating the directory (0700) and the socket (0600), or the pipe, and checking the peer are
//! the service's job, not this crate's. The rules for every platform are plain functions of
//! the environment ([`socket_path_for`]), tested on any.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The directory under `$XDG_RUNTIME_DIR` that holds the socket.
pub const SOCKET_DIR: &str = "keyport";

/// The socket's file name inside [`SOCKET_DIR`].
pub const SOCKET_FILE: &str = "keyport.sock";

/// The environment variable that names the socket to use, over every other rule (a client's
/// choice only: the service always binds its own address).
pub const SOCKET_ENV: &str = "KEYPORT_SOCKET";

/// Where `keyport ssh` puts the forwarded socket on the remote machine:
/// `/tmp/keyport-ssh-RANDOM.sock` (a socket `sshd` creates as the user, mode 0600). A client
/// in an ssh session (`SSH_CONNECTION` set) without [`SOCKET_ENV`] takes the newest such socket
/// that the user owns and that answers, and removes those of the user's that refuse connections
/// (left behind by sessions that ended). docs/socket.md, "Forwarding to a remote machine".
pub const FORWARD_DIR: &str = "/tmp";

/// The file name prefix of a forwarded socket in [`FORWARD_DIR`].
pub const FORWARD_PREFIX: &str = "keyport-ssh-";

/// The file name suffix of a forwarded socket in [`FORWARD_DIR`].
pub const FORWARD_SUFFIX: &str = ".sock";

/// How many entries of [`FORWARD_DIR`] a client looks at, at most, for forwarded sockets.
pub const FORWARD_SCAN_LIMIT: usize = 10_000;

/// Whether `name` is a forwarded socket's file name ([`FORWARD_DIR`]).
pub fn is_forward_name(name: &str) -> bool {
    name.len() > FORWARD_PREFIX.len() + FORWARD_SUFFIX.len()
        && name.starts_with(FORWARD_PREFIX)
        && name.ends_with(FORWARD_SUFFIX)
}

/// The prefix of the Windows pipe name; the user's name follows.
pub const PIPE_PREFIX: &str = r"\\.\pipe\keyport-";

/// The platform families whose addresses differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and the other Unix systems: `$XDG_RUNTIME_DIR`.
    Unix,
    /// macOS: `$XDG_RUNTIME_DIR`, else `$TMPDIR`.
    MacOs,
    /// Windows: a named pipe.
    Windows,
}

impl Platform {
    /// The platform this was built for.
    pub const CURRENT: Self = if cfg!(windows) {
        Self::Windows
    } else if cfg!(target_os = "macos") {
        Self::MacOs
    } else {
        Self::Unix
    };
}

/// The socket path inside a given runtime directory.
pub fn socket_path_in(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(SOCKET_DIR).join(SOCKET_FILE)
}

/// The pipe name for the Windows user `user`. Characters other than ASCII letters, digits,
/// `-`, `_` and `.` are written `%XX` (each UTF-8 byte), so two users never share a name and
/// the name never holds a backslash.
pub fn pipe_name(user: &str) -> PathBuf {
    let mut name = String::from(PIPE_PREFIX);
    for byte in user.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    PathBuf::from(name)
}

/// The service's address on `platform`, from a variable lookup (the environment, or a map in
/// tests); `None` when the variables it needs are unset, empty or (for directories) not
/// absolute: the XDG Base Directory specification says to ignore a relative one.
pub fn socket_path_for(platform: Platform, var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    // A Unix path is absolute when it starts with `/`, whatever system judges it (the rules are
    // tested on every system, and Windows would call `/run/user/1000` relative).
    let absolute = |name: &str| var(name).filter(|dir| dir.as_encoded_bytes().starts_with(b"/")).map(PathBuf::from);
    match platform {
        Platform::Unix => absolute("XDG_RUNTIME_DIR").map(|dir| socket_path_in(&dir)),
        Platform::MacOs => absolute("XDG_RUNTIME_DIR").or_else(|| absolute("TMPDIR")).map(|dir| socket_path_in(&dir)),
        Platform::Windows => {
            let user = var("USERNAME")?.into_string().ok().filter(|user| !user.is_empty())?;
            let domain = var("USERDOMAIN").and_then(|domain| domain.into_string().ok()).unwrap_or_default();
            Some(pipe_name(&if domain.is_empty() { user } else { format!("{domain}\\{user}") }))
        }
    }
}

/// Why [`default_socket_path`] found no address on this system: what to set.
pub const NO_ADDRESS: &str = if cfg!(windows) {
    "USERNAME is not set: Keyport's pipe is named after the user"
} else if cfg!(target_os = "macos") {
    "neither XDG_RUNTIME_DIR nor TMPDIR is set: Keyport's socket lives in the per-user runtime directory"
} else {
    "XDG_RUNTIME_DIR is not set: Keyport's socket lives in the per-user runtime directory"
};

/// The service's address on this machine, from the process environment (see the module
/// documentation); `None` when the variables it needs are missing.
pub fn default_socket_path() -> Option<PathBuf> {
    socket_path_for(Platform::CURRENT, |name| std::env::var_os(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| OsString::from(value))
    }

    #[test]
    fn the_socket_is_in_a_keyport_directory_of_the_runtime_dir() {
        assert_eq!(socket_path_in(Path::new("/run/user/1000")), Path::new("/run/user/1000/keyport/keyport.sock"));
        let vars = [("XDG_RUNTIME_DIR", "/run/user/1000"), ("TMPDIR", "/tmp")];
        assert_eq!(
            socket_path_for(Platform::Unix, lookup(&vars)).unwrap(),
            Path::new("/run/user/1000/keyport/keyport.sock")
        );
    }

    #[test]
    fn unix_has_no_fallback_and_ignores_relative_directories() {
        assert_eq!(socket_path_for(Platform::Unix, lookup(&[("TMPDIR", "/tmp"), ("HOME", "/home/a")])), None);
        assert_eq!(socket_path_for(Platform::Unix, lookup(&[("XDG_RUNTIME_DIR", "run")])), None);
        assert_eq!(socket_path_for(Platform::Unix, lookup(&[("XDG_RUNTIME_DIR", "")])), None);
    }

    #[test]
    fn macos_falls_back_to_the_per_user_temporary_directory() {
        let tmp = [("TMPDIR", "/var/folders/xy/abc/T/")];
        assert_eq!(
            socket_path_for(Platform::MacOs, lookup(&tmp)).unwrap(),
            Path::new("/var/folders/xy/abc/T/keyport/keyport.sock")
        );
        let both = [("TMPDIR", "/var/folders/xy/abc/T/"), ("XDG_RUNTIME_DIR", "/run/me")];
        assert_eq!(socket_path_for(Platform::MacOs, lookup(&both)).unwrap(), Path::new("/run/me/keyport/keyport.sock"));
        assert_eq!(socket_path_for(Platform::MacOs, lookup(&[("TMPDIR", "tmp")])), None);
    }

    #[test]
    fn windows_pipes_are_named_after_the_user_and_domain() {
        let vars = [("USERNAME", "alice"), ("USERDOMAIN", "CORP")];
        assert_eq!(
            socket_path_for(Platform::Windows, lookup(&vars)).unwrap(),
            Path::new(r"\\.\pipe\keyport-CORP%5Calice")
        );
        assert_eq!(
            socket_path_for(Platform::Windows, lookup(&[("USERNAME", "bob")])).unwrap(),
            Path::new(r"\\.\pipe\keyport-bob")
        );
        assert_eq!(socket_path_for(Platform::Windows, lookup(&[("USERNAME", "")])), None);
        assert_eq!(socket_path_for(Platform::Windows, lookup(&[("USERDOMAIN", "CORP")])), None);
    }

    #[test]
    fn pipe_names_escape_everything_but_plain_characters() {
        assert_eq!(pipe_name("a.b_c-1"), Path::new(r"\\.\pipe\keyport-a.b_c-1"));
        assert_eq!(pipe_name(r"x\..\y z"), Path::new(r"\\.\pipe\keyport-x%5C..%5Cy%20z"));
        assert_eq!(pipe_name("é"), Path::new(r"\\.\pipe\keyport-%C3%A9"));
        // Escaping is injective: a name that looks escaped is escaped again.
        assert_ne!(pipe_name("%41"), pipe_name("A"));
        assert!(!pipe_name("a/b\\c").to_string_lossy()[PIPE_PREFIX.len()..].contains(['/', '\\']));
    }
}
