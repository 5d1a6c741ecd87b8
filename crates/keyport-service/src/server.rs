//! The socket server: accepts connections, checks who is on the other end, and runs each
//! connection as its own task, so a silent or slow client never delays another.
//!
//! Per connection: peer uid must be ours (SO_PEERCRED), else it is closed at once; lines are
//! read with a size limit and timeouts; every request is answered on its own task (answers
//! may come out of order; clients match ids); one writer task owns the socket's write half,
//! fed by a channel, so answers and event notifications never interleave mid-line.

use std::sync::Arc;
use std::time::Duration;

use keyport_wire::frame::tokio::MessageReader;
use keyport_wire::{ErrorCode, ErrorObject, Event, FrameError, Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

use crate::access::{self, Program};
use crate::instance::current_uid;
use crate::methods;
use crate::service::Service;

/// The write half of a connection, shared by the tasks that answer on it. Each line is written
/// whole under the lock, so answers and notifications never interleave. (Writing directly,
/// rather than handing lines to a writer task, saves a task wake-up per request: measured with
/// `cargo bench --bench socket`.)
#[derive(Debug, Clone)]
pub(crate) struct Outbox(Arc<tokio::sync::Mutex<Option<tokio::net::unix::OwnedWriteHalf>>>);

impl Outbox {
    /// Writes one line; an error means the peer is gone, and later sends are dropped.
    pub async fn send(&self, line: Vec<u8>) -> Result<(), ()> {
        let mut writer = self.0.lock().await;
        let Some(half) = writer.as_mut() else { return Err(()) };
        if half.write_all(&line).await.is_err() {
            *writer = None;
            return Err(());
        }
        Ok(())
    }

    async fn close(&self) {
        if let Some(mut half) = self.0.lock().await.take() {
            let _ = half.shutdown().await;
        }
    }
}

/// Per-connection state the methods may use.
#[derive(Debug)]
pub(crate) struct Peer {
    pub pid: Option<u32>,
    /// The program behind the peer, identified on first need.
    pub program: tokio::sync::OnceCell<Result<Program, String>>,
    pub outbox: Outbox,
    /// Whether this connection asked for every event (`events.subscribe`).
    pub subscribed: std::sync::atomic::AtomicBool,
    /// Sign-ins started on this connection: their outcome events reach it even unsubscribed.
    pub signins: std::sync::Mutex<Vec<String>>,
}

impl Peer {
    pub async fn program(&self, service: &Service) -> Result<Program, String> {
        self.program_now(service).clone()
    }

    /// [`Self::program`] without cloning it (identifying reads `/proc`, which does not block).
    pub fn program_now(&self, service: &Service) -> &Result<Program, String> {
        if let Some(program) = self.program.get() {
            return program;
        }
        let identified = self
            .pid
            .ok_or_else(|| "the peer's process id is unknown".to_owned())
            .and_then(|pid| access::identify(pid, &service.config.cli_paths).map_err(|err| err.to_string()));
        // Another request of this connection may have set it meanwhile: same answer.
        let _ = self.program.set(identified);
        self.program.get().expect("just set")
    }
}

/// Serves `listener` until `shutdown` completes.
pub async fn serve(service: Arc<Service>, listener: UnixListener, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(service.config.max_connections));
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(cred) = stream.peer_cred() else { continue };
        if cred.uid() != current_uid() {
            tracing::warn!(uid = cred.uid(), "refused a connection from another user");
            drop(stream);
            continue;
        }
        let pid = cred.pid().and_then(|pid| u32::try_from(pid).ok());
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let service = service.clone();
                tokio::spawn(async move {
                    connection(service, stream, pid).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tokio::spawn(async move {
                    let mut stream = stream;
                    let busy =
                        Response::error(None, ErrorObject::new(ErrorCode::Busy, "too many connections; try again"));
                    if let Ok(line) = keyport_wire::frame::encode_message(&busy) {
                        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&line)).await;
                    }
                });
            }
        }
    }
}

async fn connection(service: Arc<Service>, stream: UnixStream, pid: Option<u32>) {
    let (read, write) = stream.into_split();
    let outbox = Outbox(Arc::new(tokio::sync::Mutex::new(Some(write))));
    let peer = Arc::new(Peer {
        pid,
        program: tokio::sync::OnceCell::new(),
        outbox: outbox.clone(),
        subscribed: false.into(),
        signins: std::sync::Mutex::new(Vec::new()),
    });
    let events = tokio::spawn(forward_events(service.clone(), peer.clone()));
    let mut reader = MessageReader::new(tokio::io::BufReader::new(read));
    let mut requests = tokio::task::JoinSet::new();
    // One idle timer per connection, moved at most once a second (re-arming a timer for every
    // request was measurable), so a connection is closed after `idle_timeout` to
    // `idle_timeout + 1 s` of silence.
    let idle = service.config.idle_timeout;
    let idle_timer = tokio::time::sleep(idle);
    tokio::pin!(idle_timer);
    let mut armed_at = tokio::time::Instant::now();
    loop {
        let now = tokio::time::Instant::now();
        if now - armed_at > Duration::from_secs(1) {
            idle_timer.as_mut().reset(now + idle);
            armed_at = now;
        }
        let read = tokio::select! {
            read = reader.read_message() => read,
            _ = &mut idle_timer => {
                let waiting_for_events = peer.subscribed.load(std::sync::atomic::Ordering::Relaxed)
                    || !peer.signins.lock().expect("signins").is_empty();
                if waiting_for_events {
                    idle_timer.as_mut().reset(tokio::time::Instant::now() + idle);
                    continue;
                }
                break;
            }
        };
        let line = match read {
            Ok(Some(line)) => line,
            Ok(None) => break, // the client is done sending
            Err(FrameError::Oversize) => {
                let error = Response::error(None, ErrorObject::from(ErrorCode::MessageTooLarge));
                send(&outbox, &error).await;
                break;
            }
            Err(_) => break,
        };
        let request = match Request::parse(&line) {
            Ok(request) => request,
            Err(error_response) => {
                send(&outbox, &error_response).await;
                continue;
            }
        };
        // A cached token is answered here, without a task (see `methods::answer_now`).
        if let Some(line) = methods::answer_now(&service, &peer, &request) {
            let _ = outbox.send(line).await;
            continue;
        }
        let service = service.clone();
        let peer = peer.clone();
        requests.spawn(async move {
            let response = methods::answer(&service, &peer, request).await;
            send(&peer.outbox, &response).await;
        });
        // Reap finished requests so the set does not grow on a long connection.
        while requests.try_join_next().is_some() {}
    }
    // Answer everything read before the client stopped sending.
    while requests.join_next().await.is_some() {}
    let keep_for_signins = !peer.signins.lock().expect("signins").is_empty();
    if !keep_for_signins {
        events.abort();
    }
    drop(peer);
    let _ = events.await;
    outbox.close().await;
}

/// Sends the events this connection should see: all of them once subscribed, else only its
/// own sign-ins' outcomes. Ends when no more are expected.
async fn forward_events(service: Arc<Service>, peer: Arc<Peer>) {
    let mut bus = service.subscribe();
    loop {
        let event = match bus.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(count)) => Event::Missed { count },
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let all = peer.subscribed.load(std::sync::atomic::Ordering::Relaxed);
        let own_signin = match &event {
            Event::SigninFinished { signin_id, .. } | Event::SigninFailed { signin_id, .. } => {
                let mut mine = peer.signins.lock().expect("signins");
                let found = mine.iter().position(|id| id == signin_id);
                found.map(|at| mine.remove(at)).is_some()
            }
            _ => false,
        };
        if all || own_signin {
            let Ok(notification) = event.to_notification() else { continue };
            if peer.outbox.send(keyport_wire::frame::encode_message(&notification).unwrap_or_default()).await.is_err() {
                return;
            }
        }
    }
}

pub(crate) async fn send(outbox: &Outbox, message: &impl serde::Serialize) {
    let line = match keyport_wire::frame::encode_message(message) {
        Ok(line) => line,
        Err(err) => {
            tracing::error!(%err, "a response could not be encoded");
            let fallback =
                Response::error(None, ErrorObject::new(ErrorCode::InternalError, "the response was too large"));
            keyport_wire::frame::encode_message(&fallback).expect("a small error encodes")
        }
    };
    let _ = outbox.send(line).await;
}
