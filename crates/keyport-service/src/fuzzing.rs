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

/// What a request through a `keyport ssh` forward to `host` that claims `claimed` is judged as
/// (a rule's program text), or the error code that refuses the claim; `None` when `host` is no
/// host name (`ssh.forward` refuses it first).
pub fn remote_program(host: &str, claimed: Option<&str>) -> Option<Result<String, i64>> {
    let host = host.to_ascii_lowercase();
    if !keyport_wire::is_host_name(&host) {
        return None;
    }
    let forward = crate::forward::Forward { id: String::new(), host, admits: crate::forward::Admission::ChildOf(None) };
    Some(forward.program(claimed).map(|program| program.to_string()).map_err(|error| error.code))
}

/// Reads a rule's program text back (`Program::from_str`), as its text.
pub fn program_text(text: &str) -> Option<String> {
    text.parse::<crate::access::Program>().ok().map(|program| program.to_string())
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
