//! The window's connection to Keyport's service: one socket connection (`docs/socket.md`),
//! requests answered by id while events arrive in between, and starting the service when none
//! runs. Everything the window does is a call here; it holds no account, rule or token of its
//! own.
//!
//! What it leaves out: reconnecting. The service is the long-lived process; when it goes away
//! (`keyport quit`, the tray's Quit), the window goes too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyport_wire::frame::tokio::{MessageReader, write_message};
use keyport_wire::local::{AsyncStream, connect_async, nobody_listens};
use keyport_wire::{AppError, Call, Event, Id, Response, ServerMessage};
use serde::de::DeserializeOwned;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};

/// Events read and not yet handled by the window; past this the window is told it missed some.
const EVENT_QUEUE: usize = 256;

/// How long the service may take to start and serve its socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

type Waiting = Arc<Mutex<Option<HashMap<i64, oneshot::Sender<Response>>>>>;

/// A connection to the service.
#[derive(Debug)]
pub struct ServiceClient {
    socket: PathBuf,
    writer: tokio::sync::Mutex<WriteHalf<AsyncStream>>,
    /// Requests waiting for their answer; `None` once the connection is gone.
    waiting: Waiting,
    next_id: AtomicI64,
}

impl ServiceClient {
    /// Connects to the service at `socket`, starting it (`keyport-full daemon`, installed beside
    /// the window) when none runs. The receiver gets the connection's events, and closes when
    /// the service goes away.
    pub async fn connect_or_start(socket: &Path) -> Result<(Arc<Self>, mpsc::Receiver<Event>), AppError> {
        let stream = match connect_async(socket).await {
            Ok(stream) => stream,
            Err(err) if nobody_listens(&err) => {
                let log = start_service(socket)?;
                wait_for(socket, &log).await?
            }
            Err(err) => {
                return Err(AppError::internal(format!(
                    "cannot reach Keyport's service at {}: {err}",
                    socket.display()
                )));
            }
        };
        let (read, write) = tokio::io::split(stream);
        let waiting: Waiting = Arc::new(Mutex::new(Some(HashMap::new())));
        let (events, received) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(read_answers(
            MessageReader::for_answers(tokio::io::BufReader::new(read)),
            waiting.clone(),
            events,
        ));
        let client = Self {
            socket: socket.to_owned(),
            writer: tokio::sync::Mutex::new(write),
            waiting,
            next_id: AtomicI64::new(1),
        };
        Ok((Arc::new(client), received))
    }

    /// The socket this window talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// From now on this connection answers programs' questions (`prompts.subscribe`): the
    /// service asks here instead of starting a window. Refused to a window that is not the
    /// installed one; it then works without answering. Returns the questions waiting now
    /// (`None` when refused).
    pub async fn answer_questions(&self) -> Option<Vec<keyport_wire::AccessPrompt>> {
        match self.call::<keyport_wire::PromptsListResult>(Call::PromptsSubscribe).await {
            Ok(waiting) => Some(waiting.prompts),
            Err(err) => {
                tracing::warn!(%err, "this window cannot answer programs' questions");
                None
            }
        }
    }

    /// Sends `call` and waits for its result.
    pub async fn call<T: DeserializeOwned>(&self, call: Call) -> Result<T, AppError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        match self.waiting.lock().expect("waiting").as_mut() {
            Some(waiting) => waiting.insert(id, answer),
            None => return Err(gone()),
        };
        let request = call.into_request(Id::Number(id));
        let written = write_message(&mut *self.writer.lock().await, &request).await;
        if let Err(err) = written {
            if let Some(waiting) = self.waiting.lock().expect("waiting").as_mut() {
                waiting.remove(&id);
            }
            return Err(AppError::internal(format!("could not send to Keyport's service: {err}")));
        }
        let response = answered.await.map_err(|_| gone())?;
        response.into_typed().map_err(|err| match err {
            keyport_wire::CallError::Server(error) => error.into(),
            keyport_wire::CallError::Decode(err) => {
                AppError::internal(format!("the service's answer was not understood: {err}"))
            }
        })
    }
}

fn gone() -> AppError {
    AppError::internal("Keyport's service stopped")
}

/// Hands each answer to its request and each event to the window, until the connection ends;
/// then the waiting requests fail and the event channel closes.
async fn read_answers(
    mut reader: MessageReader<tokio::io::BufReader<ReadHalf<AsyncStream>>>,
    waiting: Waiting,
    events: mpsc::Sender<Event>,
) {
    let mut missed = 0u64;
    loop {
        let line = match reader.read_message().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(err) => {
                tracing::error!(%err, "the connection to Keyport's service broke");
                break;
            }
        };
        match ServerMessage::parse(&line) {
            Ok(ServerMessage::Response(response)) => {
                let Some(Id::Number(id)) = response.id else { continue };
                let answer = waiting.lock().expect("waiting").as_mut().and_then(|waiting| waiting.remove(&id));
                if let Some(answer) = answer {
                    let _ = answer.send(response);
                }
            }
            Ok(ServerMessage::Notification(notification)) => {
                let Some(Ok(event)) = Event::from_notification(&notification) else { continue };
                if missed > 0 && events.try_send(Event::Missed { count: missed }).is_ok() {
                    missed = 0;
                }
                if events.try_send(event).is_err() {
                    missed += 1;
                }
            }
            Err(err) => tracing::warn!(%err, "a message from the service was not understood"),
        }
    }
    waiting.lock().expect("waiting").take();
}

/// Starts the service installed beside the window, in the background
/// (`keyport_service::start::service`); returns its log file.
fn start_service(socket: &Path) -> Result<PathBuf, AppError> {
    let failed = |err: std::io::Error| AppError::internal(format!("could not start Keyport's service: {err}"));
    let me = std::env::current_exe().and_then(|me| keyport_service::peer::canonical(&me)).map_err(failed)?;
    let service = keyport_service::cli_executables_near(&me)
        .into_iter()
        .find(|path| path.file_stem().is_some_and(|name| name == "keyport-full"))
        .ok_or_else(|| {
            AppError::internal(format!("Keyport's service (keyport-full) is not installed beside {}", me.display()))
        })?;
    tracing::info!(service = %service.display(), "starting Keyport's service");
    let (mut child, log) =
        keyport_service::start::service(&service, socket).map_err(|err| AppError::internal(err.to_string()))?;
    // Reaped when it exits, so it never lingers as a zombie of the window.
    std::thread::spawn(move || child.wait());
    Ok(log)
}

async fn wait_for(socket: &Path, log: &Path) -> Result<AsyncStream, AppError> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        match connect_async(socket).await {
            Ok(stream) => return Ok(stream),
            Err(err) if tokio::time::Instant::now() >= deadline => {
                return Err(AppError::internal(format!(
                    "Keyport's service did not start ({err}); see {}",
                    log.display()
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
