//! Prints an access token from Keyport's socket, with only the standard library and
//! `serde_json`: `token_get ACCOUNT`. For Unix sockets (Linux, macOS); on Windows the service
//! is a named pipe (see "Where the socket is").
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

/// Asks Keyport for `account`'s access token over the socket at `socket`.
pub fn token_get(socket: &Path, account: &str) -> io::Result<String> {
    let stream = UnixStream::connect(socket)?;
    // A renewal talks to the provider first.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "token.get", "params": {"account": account}});
    (&stream).write_all(format!("{request}\n").as_bytes())?;

    // One response line, at most 64 KiB (plus the newline).
    let mut line = String::new();
    BufReader::new(&stream).take(64 * 1024 + 1).read_line(&mut line)?;
    if !line.ends_with('\n') {
        return Err(io::Error::other("Keyport closed the connection without an answer"));
    }
    let response: Value = serde_json::from_str(&line)?;
    if let Some(error) = response.get("error") {
        return Err(io::Error::other(format!(
            "{} (error {})",
            error["message"].as_str().unwrap_or("?"),
            error["code"]
        )));
    }
    match response["result"]["access_token"].as_str() {
        Some(token) => Ok(token.to_owned()),
        None => Err(io::Error::other("the result has no access_token")),
    }
}

fn main() -> ExitCode {
    let (Some(account), Some(runtime_dir)) = (std::env::args().nth(1), std::env::var_os("XDG_RUNTIME_DIR")) else {
        eprintln!("usage: token_get ACCOUNT (with XDG_RUNTIME_DIR set)");
        return ExitCode::from(2);
    };
    let socket = PathBuf::from(runtime_dir).join("keyport").join("keyport.sock");
    match token_get(&socket, &account) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("keyport: {err}");
            ExitCode::FAILURE
        }
    }
}
