//! `keyport token ACCOUNT` over the socket: one connection, one `token.get`, the token on
//! standard output. Only a clean answer of the service is acted on here (the token, or an
//! error with its message and exit code, as the full CLI gives them); everything else is
//! [`Outcome::AskTheFullCli`].

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::json::{self, Value};

/// The largest request the service reads (`keyport_wire::frame::MAX_REQUEST_BYTES`).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The largest answer line read (`keyport_wire::frame::MAX_ANSWER_BYTES`).
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// How `keyport token` ended here.
#[derive(Debug)]
pub enum Outcome {
    /// The token was printed, or the service's refusal reported: exit with this code.
    Done(ExitCode),
    /// Nothing certain happened (no service, a socket error, `busy`, an unexpected answer):
    /// the full CLI runs the command, with its own messages, retries and service start.
    AskTheFullCli,
}

/// `$XDG_RUNTIME_DIR/keyport/keyport.sock`, on macOS `$TMPDIR/keyport/keyport.sock` without
/// `XDG_RUNTIME_DIR` (`keyport_wire::default_socket_path`). `None` on Windows: a pipe must be
/// checked to be served by this user, which takes system calls this crate does not make; the
/// full CLI does it.
pub fn socket_path() -> Option<PathBuf> {
    if cfg!(windows) {
        return None;
    }
    let absolute = |name: &str| Some(PathBuf::from(std::env::var_os(name)?)).filter(|dir| dir.is_absolute());
    let dir =
        absolute("XDG_RUNTIME_DIR").or_else(|| if cfg!(target_os = "macos") { absolute("TMPDIR") } else { None })?;
    Some(dir.join("keyport").join("keyport.sock"))
}

/// `KEYPORT_SOCKET` (`keyport_wire::SOCKET_ENV`).
pub const SOCKET_ENV: &str = "KEYPORT_SOCKET";
/// Where `keyport ssh` forwards the socket to, and its file names
/// (`keyport_wire::path::FORWARD_DIR`, `FORWARD_PREFIX`, `FORWARD_SUFFIX`).
pub const FORWARD_DIR: &str = "/tmp";
pub const FORWARD_PREFIX: &str = "keyport-ssh-";
pub const FORWARD_SUFFIX: &str = ".sock";
/// `keyport_wire::path::FORWARD_SCAN_LIMIT`.
pub const FORWARD_SCAN_LIMIT: usize = 10_000;

/// Whether the socket may be another than [`socket_path`]: one `KEYPORT_SOCKET` names, or, in
/// an ssh session, one forwarded by `keyport ssh`. The full CLI then finds it, and names the
/// program that asks, which only it does.
pub fn elsewhere() -> bool {
    if std::env::var_os(SOCKET_ENV).is_some_and(|path| !path.is_empty()) {
        return true;
    }
    if std::env::var_os("SSH_CONNECTION").is_none() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(FORWARD_DIR) else { return false };
    entries.take(FORWARD_SCAN_LIMIT).flatten().any(|entry| {
        entry.file_name().to_str().is_some_and(|name| {
            name.len() > FORWARD_PREFIX.len() + FORWARD_SUFFIX.len()
                && name.starts_with(FORWARD_PREFIX)
                && name.ends_with(FORWARD_SUFFIX)
        })
    })
}

/// A connection to the socket at `path`.
#[cfg(unix)]
fn connect(path: &std::path::Path) -> Option<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(path).ok()
}

/// Never reached: [`socket_path`] is `None` where there is no Unix socket.
#[cfg(not(unix))]
fn connect(_: &std::path::Path) -> Option<std::fs::File> {
    None
}

/// The `token.get` request line, `\n` included.
pub fn request(account: &str, min_valid: u64) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"token.get\",\"params\":{{\"account\":{},\"min_valid_secs\":{min_valid}}}}}\n",
        json::string(account)
    )
}

/// What the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Token(String),
    Refused { code: i64, message: String },
}

/// A line from the service, as read by the thin client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The answer to request 1.
    Answer(Answer),
    /// A notification, or the answer to another request: skipped.
    Other,
    /// Not a well-formed answer.
    Unreadable,
}

/// Reads one line of the service.
pub fn read_line(line: &str) -> Line {
    let Some(message) = json::parse(line) else { return Line::Unreadable };
    if message.get("method").is_some() {
        return Line::Other; // an event
    }
    match message.get("id") {
        Some(Value::Null) | None => {}
        Some(id) if id.as_i64() == Some(1) => {}
        Some(_) => return Line::Other,
    }
    if let Some(error) = message.get("error") {
        let code = error.get("code").and_then(Value::as_i64);
        let text = error.get("message").and_then(Value::as_str);
        return match (code, text) {
            (Some(code), Some(text)) => Line::Answer(Answer::Refused { code, message: text.to_owned() }),
            _ => Line::Unreadable,
        };
    }
    match message.get("result").and_then(|result| result.get("access_token")).and_then(Value::as_str) {
        Some(token) => Line::Answer(Answer::Token(token.to_owned())),
        None => Line::Unreadable,
    }
}

/// Asks the service for `account`'s token and prints it, or reports its refusal.
pub fn token(account: &str, min_valid: u64) -> Outcome {
    let request = request(account, min_valid);
    if request.len() > MAX_REQUEST_BYTES + 1 || elsewhere() {
        return Outcome::AskTheFullCli;
    }
    let Some(path) = socket_path() else { return Outcome::AskTheFullCli };
    let Some(mut stream) = connect(&path) else { return Outcome::AskTheFullCli };
    if stream.write_all(request.as_bytes()).is_err() {
        return Outcome::AskTheFullCli;
    }
    let mut reader = BufReader::new(stream);
    let answer = loop {
        let mut line = Vec::new();
        match (&mut reader).take(MAX_ANSWER_BYTES as u64 + 1).read_until(b'\n', &mut line) {
            Ok(read) if read > 0 && line.last() == Some(&b'\n') => {}
            _ => return Outcome::AskTheFullCli, // closed, cut short or too long
        }
        let Ok(text) = std::str::from_utf8(&line) else { return Outcome::AskTheFullCli };
        if text.trim().is_empty() {
            continue;
        }
        match read_line(text) {
            Line::Answer(answer) => break answer,
            Line::Other => continue,
            Line::Unreadable => return Outcome::AskTheFullCli,
        }
    };
    match answer {
        Answer::Token(token) => {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{token}").and_then(|()| out.flush()) {
                Ok(()) => Outcome::Done(ExitCode::SUCCESS),
                Err(err) => fail(&err.to_string(), 1),
            }
        }
        Answer::Refused { code, .. } if code == crate::codes::BUSY => Outcome::AskTheFullCli,
        Answer::Refused { code, message } => fail(&message, crate::exit_code(code)),
    }
}

fn fail(message: &str, code: u8) -> Outcome {
    let _ = writeln!(std::io::stderr(), "keyport: {message}");
    Outcome::Done(ExitCode::from(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_to_request_one_are_told_from_the_rest() {
        let token = r#"{"jsonrpc":"2.0","id":1,"result":{"access_token":"abc","token_type":"Bearer"}}"#;
        assert_eq!(read_line(token), Line::Answer(Answer::Token("abc".into())));
        let busy = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32012,"message":"too many connections; try again"}}"#;
        assert_eq!(
            read_line(busy),
            Line::Answer(Answer::Refused { code: -32012, message: "too many connections; try again".into() })
        );
        assert_eq!(read_line(r#"{"jsonrpc":"2.0","method":"event","params":{}}"#), Line::Other);
        assert_eq!(read_line(r#"{"jsonrpc":"2.0","id":2,"result":{"access_token":"x"}}"#), Line::Other);
        assert_eq!(read_line(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#), Line::Unreadable);
        assert_eq!(read_line(r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#), Line::Unreadable);
        assert_eq!(read_line("not json"), Line::Unreadable);
    }
}
