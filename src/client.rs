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
        self.claim = keyport_service::forward::claimed_program();
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
/// (`keyport_service::forward::remote_sockets`). The user's own that refuse connections were
/// left by sessions that ended, and are removed.
#[cfg(unix)]
fn connect_forwarded() -> Option<Client> {
    for path in keyport_service::forward::remote_sockets().into_iter().take(MAX_FORWARD_TRIES) {
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
