//! Entry points for `crates/keyport-fuzz`: the service's parsers of what other processes
//! write (`/proc` files, sandbox metadata, command lines, desktop entries), reached without
//! reading `/proc` (the `/proc` parsers on Linux only). Not part of the API.

pub use crate::names::{Entry, MAX_NAME_CHARS, parse_entry as desktop_entry};
pub use crate::peer::interpreter::{Family, Operand, interactive_shell, runs_command_string, script_operand};
#[cfg(target_os = "linux")]
pub use crate::peer::process::{FdFlags, Stat};

/// The snap name in an AppArmor label (`snap.NAME.APP`).
#[cfg(target_os = "linux")]
pub fn snap_name(label: &str) -> Option<&str> {
    crate::peer::process::snap_name(label)
}

/// The app id in a `/.flatpak-info` file.
#[cfg(target_os = "linux")]
pub fn flatpak_app(info: &str) -> Option<String> {
    crate::peer::process::flatpak_app(info)
}

/// The container name in podman's `/run/.containerenv`.
#[cfg(target_os = "linux")]
pub fn container_name(env: &str) -> Option<String> {
    crate::peer::process::container_name(env)
}

/// Every interpreter family, for targets that try each.
pub const FAMILIES: &[Family] = &[
    Family::Shell,
    Family::Python,
    Family::Perl,
    Family::Ruby,
    Family::Node,
    Family::Php,
    Family::Lua,
    Family::Tcl,
    Family::R,
];
