//! The CLI's side of the socket: a small blocking JSON-RPC client (no async runtime, so
//! `keyport token` starts fast), and starting a headless service when none is running.

use std::collections::VecDeque;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keyport_wire::local::{Stream, nobody_listens};
use keyport_wire::{Call, ErrorCode, ErrorObject, Event, Id, Response, ServerMessage, frame};
use serde::de::DeserializeOwned;

/// How long to wait for a freshly started service to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to keep asking a service that answers `busy` (too many connections).
const BUSY_RETRY: Duration = Duration::from_secs(10);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with an error.
    #[error("{}", .0.message)]
    Rpc(ErrorObject),
    /// The socket failed.
    #[error("the Keyport service at {path}: {detail}")]
    Socket { path: String, detail: String },
    /// `XDG_RUNTIME_DIR` is not set (`USERNAME` on Windows).
    #[error("{}", keyport_wire::path::NO_ADDRESS)]
    NoRuntimeDir,
}

/// A connection to the service.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    writer: Stream,
    reader: BufReader<Stream>,
    next_id: i64,
    /// Notifications that arrived while waiting for a response.
    events: VecDeque<Event>,
    /// The program name `token.get` claims: on a socket not the service's own (forwarded by
    /// `keyport ssh`, or named by `KEYPORT_SOCKET`), where the service cannot see who asks.
    claim: Option<String>,
}

impl Client {
    /// Connects to the service, starting a headless one (`keyport daemon`) when none runs.
    pub fn connect_or_start() -> Result<Self, ClientError> {
        if let Some(client) = Self::connect_elsewhere()? {
            return Ok(client);
        }
        let path = keyport_wire::default_socket_path().ok_or(ClientError::NoRuntimeDir)?;
        match Self::connect(&path) {
            Ok(client) => return Ok(client),
            Err(err) if nobody_listens(&err) => {}
            Err(err) => return Err(socket_error(&path, &err)),
        }
        let log = start_service(&path)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match Self::connect(&path) {
                Ok(client) => return Ok(client),
                Err(err) if Instant::now() >= deadline => {
                    return Err(ClientError::Socket {
                        path: path.display().to_string(),
                        detail: format!("the service did not start ({err}); see {}", log.display()),
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Connects to the running service; `Ok(None)` when none runs (nothing is started).
    pub fn connect_running() -> Result<Option<Self>, ClientError> {
        if let Some(client) = Self::connect_elsewhere()? {
            return Ok(Some(client));
        }
        let path = keyport_wire::default_socket_path().ok_or(ClientError::NoRuntimeDir)?;
        match Self::connect(&path) {
            Ok(client) => Ok(Some(client)),
            Err(err) if nobody_listens(&err) => Ok(None),
            Err(err) => Err(socket_error(&path, &err)),
        }
    }

    /// A connection to the socket `KEYPORT_SOCKET` names (which must answer: no service is
    /// started for it), else, in an ssh session, to a socket forwarded by `keyport ssh`
    /// ([`connect_forwarded`]); `Ok(None)` when neither applies.
    fn connect_elsewhere() -> Result<Option<Self>, ClientError> {
        if let Some(path) = std::env::var_os(keyport_wire::SOCKET_ENV).filter(|path| !path.is_empty()) {
            let path = PathBuf::from(path);
            let client = Self::connect(&path).map_err(|err| socket_error(&path, &err))?;
            return Ok(Some(client.claiming()));
        }
        #[cfg(unix)]
        if std::env::var_os("SSH_CONNECTION").is_some()
            && let Some(client) = connect_forwarded()
        {
            return Ok(Some(client.claiming()));
        }
        Ok(None)
    }

    /// This client, claiming the name of the program that ran it in `token.get`.
    fn claiming(mut self) -> Self {
        self.claim = claimed_program();
        self
    }

    /// `token.get`'s params for `account`, with this client's claim.
    pub fn token_params(&self, account: String, min_valid_secs: Option<u64>) -> keyport_wire::TokenGetParams {
        keyport_wire::TokenGetParams { account, min_valid_secs, program: self.claim.clone() }
    }

    /// The socket this client is connected to.
    pub fn socket(&self) -> &Path {
        &self.path
    }

    fn connect(path: &Path) -> std::io::Result<Self> {
        let writer = keyport_wire::local::connect(path)?;
        let reader = BufReader::new(writer.try_clone()?);
        Ok(Self { path: path.to_owned(), writer, reader, next_id: 1, events: VecDeque::new(), claim: None })
    }

    /// Sends `call` and waits for its result. A service too busy to take this connection (it
    /// answers `busy` and closes it at once, before reading anything) is asked again on a new
    /// connection, for up to [`BUSY_RETRY`].
    pub fn call<T: DeserializeOwned>(&mut self, call: Call) -> Result<T, ClientError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            match self.call_once(call.clone()) {
                Err(ClientError::Rpc(error))
                    if error.known_code() == Some(ErrorCode::Busy)
                        && self.next_id == 2
                        && started.elapsed() < BUSY_RETRY =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(500));
                    *self = Self::connect(&self.path).map_err(|err| socket_error(&self.path, &err))?;
                }
                other => return other,
            }
        }
    }

    fn call_once<T: DeserializeOwned>(&mut self, call: Call) -> Result<T, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = call.into_request(Id::Number(id));
        frame::write_message(&mut self.writer, &request).map_err(|err| self.error(err))?;
        loop {
            match self.read()? {
                ServerMessage::Response(response) if response.id == Some(Id::Number(id)) || response.id.is_none() => {
                    return typed(response);
                }
                ServerMessage::Response(_) => {}
                ServerMessage::Notification(notification) => {
                    if let Some(Ok(event)) = Event::from_notification(&notification) {
                        self.events.push_back(event);
                    }
                }
            }
        }
    }

    /// The next event, waiting at most `timeout` (`Ok(None)` when none came).
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        self.writer.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(|err| self.error(err))?;
        let message = self.read();
        self.writer.set_read_timeout(None).map_err(|err| self.error(err))?;
        match message {
            Ok(ServerMessage::Notification(notification)) => {
                Ok(Event::from_notification(&notification).and_then(Result::ok))
            }
            Ok(ServerMessage::Response(_)) => Ok(None),
            Err(ClientError::Socket { detail, .. })
                if detail.contains("timed out") || detail.contains("temporarily") =>
            {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    fn read(&mut self) -> Result<ServerMessage, ClientError> {
        match frame::read_answer(&mut self.reader) {
            Ok(Some(line)) => ServerMessage::parse(&line).map_err(|err| self.error(err)),
            Ok(None) => Err(self.error("the service closed the connection")),
            Err(err) => Err(self.error(err)),
        }
    }

    fn error(&self, err: impl std::fmt::Display) -> ClientError {
        ClientError::Socket { path: self.path.display().to_string(), detail: err.to_string() }
    }
}

fn typed<T: DeserializeOwned>(response: Response) -> Result<T, ClientError> {
    match response.outcome {
        Ok(value) => serde_json::from_value(value)
            .map_err(|err| ClientError::Socket { path: String::new(), detail: format!("unexpected answer: {err}") }),
        Err(error) => Err(ClientError::Rpc(error)),
    }
}

fn socket_error(path: &Path, err: &std::io::Error) -> ClientError {
    ClientError::Socket { path: path.display().to_string(), detail: err.to_string() }
}

/// Starts `keyport daemon` in the background, detached from this terminal, so Ctrl-C here does
/// not stop it (`keyport_service::start::service`); returns its log file (`daemon.log` beside
/// the socket, rotated at 1 MiB by the service itself).
fn start_service(socket: &Path) -> Result<PathBuf, ClientError> {
    let exe = std::env::current_exe().map_err(|err| socket_error(socket, &err))?;
    tracing::debug!(exe = %exe.display(), "starting the Keyport service");
    let (_child, log) = keyport_service::start::service(&exe, socket)
        .map_err(|err| ClientError::Socket { path: socket.display().to_string(), detail: err.to_string() })?;
    Ok(log)
}

/// The newest socket forwarded into this ssh session by `keyport ssh` that answers
/// (`keyport_wire::path::FORWARD_DIR`): the user's own sockets only (owner and type checked
/// without following links; others cannot replace a file in the sticky `/tmp`). Those of the
/// user's that refuse connections were left by sessions that ended, and are removed.
#[cfg(unix)]
fn connect_forwarded() -> Option<Client> {
    use keyport_wire::path::{FORWARD_DIR, FORWARD_SCAN_LIMIT, is_forward_name};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let uid = keyport_service::transport::current_uid();
    let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(FORWARD_DIR)
        .ok()?
        .take(FORWARD_SCAN_LIMIT)
        .flatten()
        .filter(|entry| entry.file_name().to_str().is_some_and(is_forward_name))
        .filter_map(|entry| {
            let meta = std::fs::symlink_metadata(entry.path()).ok()?;
            (meta.file_type().is_socket() && meta.uid() == uid).then_some((meta.modified().ok()?, entry.path()))
        })
        .collect();
    candidates.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, path) in candidates.into_iter().take(MAX_FORWARD_TRIES) {
        match Client::connect(&path) {
            Ok(client) => return Some(client),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                tracing::debug!(socket = %path.display(), "removing a forwarded socket whose session ended");
                let _ = std::fs::remove_file(&path);
            }
            Err(err) => tracing::debug!(socket = %path.display(), %err, "forwarded socket not usable"),
        }
    }
    None
}

/// How many forwarded sockets a client tries, newest first.
#[cfg(unix)]
const MAX_FORWARD_TRIES: usize = 16;

/// The name of the program that ran this one, as a socket forwarded to another machine
/// claims it (`token.get`'s `program`): past `sh -c` wrappers (at most 4), its command name
/// (`/proc/PID/comm`: the executable's file name, or a script's, cut to 15 bytes by the
/// kernel), made a claimable name. The service shows it as a claim and never trusts it.
fn claimed_program() -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        use keyport_service::peer::interpreter::Family;
        let mut pid = std::os::unix::process::parent_id();
        for _ in 0..=keyport_service::peer::MAX_WRAPPERS {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            let name = exe.file_name()?.to_string_lossy().into_owned();
            let arguments = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let runs_command_string = arguments.split(|b| *b == 0).skip(1).any(|arg| arg == b"-c");
            if Family::of(&name) == Some(Family::Shell) && runs_command_string {
                pid = keyport_service::peer::process::Stat::read(pid).ok()?.parent;
                continue;
            }
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or(name);
            return claimable(command.trim_end_matches('\n'));
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// `name` as a claimable program name: other characters become `_`, cut to the limit.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn claimable(name: &str) -> Option<String> {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+') { c } else { '_' })
        .skip_while(|c| matches!(c, '.' | '-'))
        .take(keyport_wire::MAX_CLAIMED_PROGRAM)
        .collect();
    keyport_wire::is_claimable_program(&cleaned).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    #[test]
    fn claims_are_made_claimable() {
        assert_eq!(super::claimable("mbsync").as_deref(), Some("mbsync"));
        assert_eq!(super::claimable("my tool").as_deref(), Some("my_tool"));
        assert_eq!(super::claimable("-.x").as_deref(), Some("x"));
        assert_eq!(super::claimable("..").as_deref(), None);
        assert_eq!(super::claimable(&"y".repeat(100)).map(|c| c.len()), Some(64));
        assert!(keyport_wire::is_claimable_program(&super::claimable("gît/ß").unwrap()));
    }
}
