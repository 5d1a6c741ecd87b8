//! `keyport ssh`: the system `ssh`, with a socket of the service forwarded to the remote
//! machine for the length of the session (docs/clients.md, "On a machine you SSH into").
//!
//! The service opens a forward for the destination's host (`ssh.forward`, held open by this
//! process's connection) and `ssh -R` carries it to `/tmp/keyport-ssh-RANDOM.sock` there, where
//! the remote `keyport` finds it (`client::connect_forwarded`). Multiplexing is turned off for
//! the session (`ControlPath=none`): the forward belongs to this `ssh`, which the service checks,
//! and ends with it.

use anyhow::{Context, Result, bail};
use clap::Args;
use keyport_wire::{self as wire, Call};

use crate::client::Client;

/// `keyport ssh`'s arguments: everything is ssh's (see [`verbatim`]).
#[derive(Debug, Args)]
pub struct SshArgs {
    /// ssh's options, the destination, and a command, as for ssh(1).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "SSH OPTIONS... DESTINATION [COMMAND...]"
    )]
    pub(crate) args: Vec<String>,
}

/// The command line with everything after `ssh` (past Keyport's own `-v`) passed to ssh as it
/// is: `keyport ssh -v build-01` is ssh's `-v`, not Keyport's (clap would take a global flag
/// wherever it stands). `keyport ssh --help` (or `-h`) alone is still Keyport's help.
pub fn verbatim(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let is_global = |arg: &std::ffi::OsString| {
        arg.to_str().is_some_and(|a| {
            a == "--verbose" || (a.len() > 1 && a.starts_with('-') && a[1..].bytes().all(|b| b == b'v'))
        })
    };
    let Some(at) = args.iter().skip(1).position(|arg| !is_global(arg)).map(|at| at + 1) else { return args };
    let rest = &args[at + 1..];
    let help = rest.len() == 1 && (rest[0] == "--help" || rest[0] == "-h");
    if args[at] == "ssh" && !rest.is_empty() && !help {
        args.insert(at + 1, "--".into());
    }
    args
}

/// The ssh(1) options that take a value (OpenSSH 9).
const OPTIONS_WITH_VALUE: &str = "BbcDEeFIiJLlmOoPpQRSWw";

/// The destination among ssh's arguments: the first that is neither an option nor an
/// option's value.
pub fn destination(args: &[String]) -> Option<&str> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            return args.next().map(String::as_str);
        }
        let Some(flags) = arg.strip_prefix('-').filter(|flags| !flags.is_empty()) else {
            return Some(arg);
        };
        for (at, flag) in flags.char_indices() {
            if OPTIONS_WITH_VALUE.contains(flag) {
                if at + flag.len_utf8() == flags.len() {
                    args.next(); // the value is the next argument
                }
                break; // else the rest of this one is the value
            }
        }
    }
    None
}

/// The host a destination names (`user@host`, `ssh://user@host:port`), as the service and the
/// rules name it.
pub fn host_of(destination: &str) -> Option<String> {
    let rest = destination.strip_prefix("ssh://").unwrap_or(destination);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = if destination.starts_with("ssh://") { rest.split(':').next().unwrap_or(rest) } else { rest };
    let host = host.to_ascii_lowercase();
    wire::is_host_name(&host).then_some(host)
}

/// A name for the remote socket nobody can guess ahead of the session.
fn random_name() -> String {
    format!("{}/{}{}{}", wire::FORWARD_DIR, wire::FORWARD_PREFIX, keyport_service::random_id(), wire::FORWARD_SUFFIX)
}

/// Runs `ssh` with the forward; returns its exit code.
pub fn ssh(args: SshArgs) -> Result<i32> {
    let Some(destination) = destination(&args.args) else {
        bail!("no destination: keyport ssh [SSH OPTIONS...] DESTINATION")
    };
    let Some(host) = host_of(destination) else {
        bail!(
            "cannot name the host of `{destination}` for Keyport's rules: a host name or an IPv4 address (letters, \
             digits, `.`, `_`, `-`) is expected"
        )
    };
    let mut client = Client::connect_or_start()?;
    let forward: wire::SshForwardResult =
        client.call(Call::SshForward(wire::SshForwardParams { host: host.clone(), for_ssh_config: false }))?;
    let remote = random_name();
    tracing::debug!(%host, local = %forward.socket, %remote, "forwarding Keyport for this ssh session");
    let status = std::process::Command::new("ssh")
        .args(["-o", "ExitOnForwardFailure=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none"])
        .arg("-R")
        .arg(format!("{remote}:{}", forward.socket))
        .args(&args.args)
        .status()
        .context("cannot run ssh")?;
    // The forward ends with this connection.
    drop(client);
    Ok(status.code().unwrap_or(255))
}

/// `keyport forward HOST`'s arguments.
#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// The host, as the `Host` line of your ssh_config names it.
    host: String,
}

/// The `ssh_config` lines that use a held forward.
pub fn config_lines(host: &str, socket: &str) -> String {
    format!(
        "Host {host}\n    RemoteForward {dir}/{prefix}%C{suffix} {socket}\n",
        dir = wire::FORWARD_DIR,
        prefix = wire::FORWARD_PREFIX,
        suffix = wire::FORWARD_SUFFIX
    )
}

/// Holds a forward for `HOST` open for an `ssh_config` `RemoteForward`, until this process is
/// stopped or the service ends it.
pub fn forward(args: ForwardArgs) -> Result<()> {
    let host = args.host.to_ascii_lowercase();
    if !wire::is_host_name(&host) {
        bail!("`{}` is not a host name (letters, digits, `.`, `_`, `-`)", args.host);
    }
    let mut client = Client::connect_or_start()?;
    let forward: wire::SshForwardResult =
        client.call(Call::SshForward(wire::SshForwardParams { host: host.clone(), for_ssh_config: true }))?;
    eprintln!(
        "Lending this desktop's tokens to ssh sessions to {host} until you stop this (Ctrl-C).\n\
         In ~/.ssh/config:\n\n{}",
        config_lines(&host, &forward.socket)
    );
    loop {
        if let Err(err) = client.next_event(std::time::Duration::from_secs(3600)) {
            bail!("the forward for {host} ended: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_destination_is_the_first_argument_that_is_no_option_or_value() {
        assert_eq!(destination(&args("build-01")), Some("build-01"));
        assert_eq!(destination(&args("-p 2222 -i key me@build-01 uptime")), Some("me@build-01"));
        assert_eq!(destination(&args("-p2222 -At -o StrictHostKeyChecking=no build-01")), Some("build-01"));
        assert_eq!(destination(&args("-vAp 22 build-01")), Some("build-01"));
        assert_eq!(destination(&args("-F cfg -- build-01 ls")), Some("build-01"));
        assert_eq!(destination(&args("-p 22")), None);
    }

    #[test]
    fn everything_after_ssh_is_ssh_s() {
        let line = |text: &str| -> Vec<std::ffi::OsString> { text.split(' ').map(Into::into).collect() };
        let as_text = |args: Vec<std::ffi::OsString>| {
            args.iter().map(|a| a.to_str().unwrap().to_owned()).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(as_text(verbatim(line("keyport ssh -v -p 22 host"))), "keyport ssh -- -v -p 22 host");
        assert_eq!(as_text(verbatim(line("keyport -vv ssh -v host"))), "keyport -vv ssh -- -v host");
        assert_eq!(as_text(verbatim(line("keyport ssh --help"))), "keyport ssh --help");
        assert_eq!(as_text(verbatim(line("keyport token -v work"))), "keyport token -v work");
        assert_eq!(as_text(verbatim(line("keyport -v"))), "keyport -v");
    }

    #[test]
    fn hosts_are_named_without_user_scheme_or_port() {
        assert_eq!(host_of("build-01").as_deref(), Some("build-01"));
        assert_eq!(host_of("me@Build-01.example.org").as_deref(), Some("build-01.example.org"));
        assert_eq!(host_of("ssh://me@10.0.0.7:2222").as_deref(), Some("10.0.0.7"));
        assert_eq!(host_of("a@b@host").as_deref(), Some("host"));
        assert_eq!(host_of("[::1]"), None);
        assert_eq!(host_of("me@"), None);
    }

    #[test]
    fn the_config_lines_forward_a_remote_forward_name_to_the_socket() {
        let lines = config_lines("build-01", "/run/user/1000/keyport/ssh-host-build-01.sock");
        assert_eq!(
            lines,
            "Host build-01\n    RemoteForward /tmp/keyport-ssh-%C.sock /run/user/1000/keyport/ssh-host-build-01.sock\n"
        );
        assert!(keyport_wire::path::is_forward_name("keyport-ssh-%C.sock"), "what ssh makes of %C is one too");
    }

    #[test]
    fn remote_names_are_forward_names_and_differ() {
        let (a, b) = (random_name(), random_name());
        assert_ne!(a, b);
        let file = a.strip_prefix(&format!("{}/", wire::FORWARD_DIR)).unwrap();
        assert!(keyport_wire::path::is_forward_name(file), "{a}");
    }
}
