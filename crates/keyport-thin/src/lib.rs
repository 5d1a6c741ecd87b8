//! The `keyport` command's thin client.
//!
//! `keyport token ACCOUNT` is run by mail clients, git and scripts, often once per use, so its
//! whole-process time matters more than anything else of the CLI's. This program answers the
//! two commands whose time is mostly the cost of starting a process, `keyport token ACCOUNT
//! [--min-valid SECS]` and `keyport --version`, with nothing but std (packages link it
//! statically: no dynamic loader, no relocations of the full CLI's 10 MB of code). Everything
//! else it hands, by `exec` (same process, same arguments, same `argv[0]`), to the full CLI,
//! `keyport-full`, found beside it or in `../lib/keyport/` ([`full::locate`]). So does `token`
//! whenever the fast path has nothing certain to say: no service running (the full CLI starts
//! one), a socket error, a `busy` answer, anything unexpected, `-v`, `RUST_LOG`, an option it
//! does not know. The user sees one command, with the full CLI's messages and exit codes.
//!
//! The service judges this program as it judges the full CLI: it is one of the CLI's
//! executables (`ServiceConfig::cli_paths`), so it speaks for its parent, and a token is handed
//! out only when its standard output goes to that parent.
//!
//! This crate has no dependencies (see its Cargo.toml). What it shares with the wire format
//! (the request it writes, the error numbers, the socket path) is checked against
//! `keyport-wire` by the full CLI's tests (`src/thin_client_tests.rs`).

pub mod args;
pub mod full;
pub mod json;
pub mod token;

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

use crate::args::Quick;

/// What `keyport --version` prints, as clap prints it for the full CLI.
pub const VERSION_LINE: &str = concat!("keyport ", env!("CARGO_PKG_VERSION"), "\n");

/// Runs `keyport` with this process's arguments.
pub fn run() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    match Quick::parse(args.get(1..).unwrap_or_default()) {
        Quick::Version => {
            // clap, too, exits 0 even when standard output is closed.
            let _ = std::io::stdout().lock().write_all(VERSION_LINE.as_bytes());
            ExitCode::SUCCESS
        }
        Quick::Token { account, min_valid } if std::env::var_os("RUST_LOG").is_none() => {
            match token::token(&account, min_valid) {
                token::Outcome::Done(code) => code,
                token::Outcome::AskTheFullCli => full::exec(&args),
            }
        }
        Quick::Token { .. } | Quick::Full => full::exec(&args),
    }
}

/// The exit code the CLI gives for an error answer of the service with the number `code`
/// (README, "Exit codes"): 3 needs sign-in, 4 access denied, 5 provider unreachable, 6 no such
/// account, 7 the provider cannot revoke, 130 cancelled, 1 anything else.
pub fn exit_code(code: i64) -> u8 {
    match code {
        codes::NEEDS_SIGN_IN => 3,
        codes::ACCESS_DENIED => 4,
        codes::PROVIDER_UNREACHABLE => 5,
        codes::NO_SUCH_ACCOUNT => 6,
        codes::CANNOT_REVOKE => 7,
        codes::SIGNIN_CANCELLED => 130,
        _ => 1,
    }
}

/// The error numbers of `keyport-wire`'s `ErrorCode` that the thin client acts on (the same
/// numbers: checked by the full CLI's tests).
pub mod codes {
    pub const NO_SUCH_ACCOUNT: i64 = -32000;
    pub const NEEDS_SIGN_IN: i64 = -32003;
    pub const ACCESS_DENIED: i64 = -32004;
    pub const PROVIDER_UNREACHABLE: i64 = -32005;
    pub const SIGNIN_CANCELLED: i64 = -32009;
    pub const BUSY: i64 = -32012;
    pub const CANNOT_REVOKE: i64 = -32014;
}
