//! The socket server: admits connections, reads their requests, answers them, and bounds
//! everything a client can make the service spend.
//!
//! Per connection: the peer's user must be ours (`transport.rs`), else it is closed at once. The
//! service reads who connected right away, and judges each request by the process that wrote it
//! (`peer/`, `lines.rs`). One task per connection reads lines and forwards events; each request
//! is answered on a task of its own (answers may come out of order; clients match ids), except a
//! cached `token.get`, answered in place.
//!
//! The bounds (docs/socket.md, "Limits"): connections in total ([`ServiceConfig::max_connections`])
//! and per program ([`MAX_CONNECTIONS_PER_PROGRAM`]); requests in progress per connection
//! ([`MAX_IN_FLIGHT_PER_CONNECTION`]: beyond it the service stops reading that connection, so a
//! client that sends without reading its answers only fills its own socket buffer) and per
//! program ([`MAX_IN_FLIGHT_PER_PROGRAM`]); a line's size and the time it may take to arrive
//! ([`LINE_DEADLINE`]); the time one answer or event may take to be written ([`WRITE_DEADLINE`]:
//! a client that stops reading is closed, and everything it had in progress is dropped); idle
//! connections ([`ServiceConfig::idle_timeout`]). Subscribers and connections waiting for a
//! sign-in's outcome are not idle, but count against their program's connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyport_wire::{ErrorCode, ErrorObject, Event, Request, Response};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};

use crate::forward::Origin;
use crate::lines::{Incoming, LineReader};
use crate::log_budget::LogBudget;
use crate::methods;
use crate::peer::{Asker, Hold, Link};
use crate::service::{Service, ServiceConfig};
use crate::transport::{Listener, Stream};

/// Connections one program (or the person at one terminal) may have open at once: a program
/// that opens more gets `busy`, and cannot take the slots of every other program.
pub const MAX_CONNECTIONS_PER_PROGRAM: usize = 64;

/// Requests one connection may have in progress; the service reads no more of it until one is
/// answered (the answer written).
pub const MAX_IN_FLIGHT_PER_CONNECTION: usize = 16;

/// Requests one program may have in progress over all its connections.
pub const MAX_IN_FLIGHT_PER_PROGRAM: usize = 32;

/// A request line must arrive whole within this time of its first byte: a client dripping a
/// line byte by byte cannot hold a connection for long.
pub const LINE_DEADLINE: Duration = Duration::from_secs(10);

/// Writing one line (an answer or an event) may take this long. A client that reads nothing for
/// longer, while the service has something to tell it, is closed.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// The writing side of a connection, shared by the tasks that answer on it. Each line is
/// written whole under the lock, within [`WRITE_DEADLINE`]; a failed or late write closes the
/// connection.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    stream: Arc<Stream>,
    lock: Arc<tokio::sync::Mutex<()>>,
    closed: watch::Sender<bool>,
}

impl Outbox {
    fn new(stream: Arc<Stream>) -> Self {
        Self { stream, lock: Arc::new(tokio::sync::Mutex::new(())), closed: watch::channel(false).0 }
    }

    /// Writes one line; `Err` when the connection is closed (now or before).
    pub async fn send(&self, line: &[u8]) -> Result<(), ()> {
        if *self.closed.borrow() {
            return Err(());
        }
        let _turn = self.lock.lock().await;
        if *self.closed.borrow() {
            return Err(());
        }
        match tokio::time::timeout(WRITE_DEADLINE, write_all(&self.stream, line)).await {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.close();
                Err(())
            }
        }
    }

    /// Closes the connection both ways; every later send fails at once.
    pub fn close(&self) {
        self.closed.send_replace(true);
        crate::transport::close(&self.stream);
    }

    async fn closed(&self) {
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(|closed| *closed).await;
    }
}

async fn write_all(stream: &Stream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(written) => bytes = &bytes[written..],
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// What a connection's loop is told by its requests.
#[derive(Debug)]
pub(crate) enum Control {
    /// Forward events from this receiver (made before a sign-in starts or a subscription
    /// answers, so that nothing published after is missed).
    Listen(broadcast::Receiver<Event>),
}

/// One connection, as its requests see it.
#[derive(Debug)]
pub(crate) struct Connection {
    pub link: Link,
    pub outbox: Outbox,
    /// The asker of `events.subscribe`, once subscribed: events are filtered by what it may see.
    pub subscriber: Mutex<Option<Asker>>,
    /// Sign-ins started on this connection: their outcome events reach it even unsubscribed.
    pub signins: Mutex<Vec<String>>,
    /// Set when the window answers questions on this connection (`prompts.subscribe`).
    pub answering: Mutex<Option<crate::prompts::Answering>>,
    control: mpsc::UnboundedSender<Control>,
    /// The last writer judged, with how it holds the connection.
    last_asker: Mutex<Option<(u32, Asker, Hold)>>,
    /// The requests of the program behind this connection in progress, over all its connections.
    pub program_in_flight: Arc<Semaphore>,
    /// Where its requests come from: this machine, or a `keyport ssh` forward.
    pub origin: Origin,
    /// The forwards this connection asked for (`ssh.forward`): open while it is.
    pub forwards: Mutex<Vec<crate::forward::ForwardGuard>>,
}

impl Connection {
    /// Who wrote a request: judged once per writer, then remembered for this connection (a
    /// writer that holds it close-on-exec cannot change program while it keeps writing; one
    /// that holds it otherwise is checked again each time).
    pub fn asker(&self, service: &Service, writers: &[u32]) -> Result<Asker, String> {
        let [pid] = writers else {
            return Err(match writers {
                [] => "the kernel did not say which process wrote the request".to_owned(),
                _ => "the request was written by more than one process".to_owned(),
            });
        };
        if let Some((known, asker, hold)) = &*self.last_asker.lock().expect("asker")
            && known == pid
            && (*hold == Hold::CloseOnExec || self.link.connector.as_ref().is_ok_and(|c| c.unchanged()))
        {
            return Ok(asker.clone());
        }
        let (asker, hold) = service.identifier.asker(&self.link, *pid)?;
        *self.last_asker.lock().expect("asker") = Some((*pid, asker.clone(), hold));
        Ok(asker)
    }

    /// `check(asker)` for the asker remembered for `pid`, if it holds the connection
    /// close-on-exec (no `/proc` reads, no copy: for the answers given in place).
    pub fn with_known_asker<T>(&self, writers: &[u32], check: impl FnOnce(&Asker) -> T) -> Option<T> {
        let [pid] = writers else { return None };
        match &*self.last_asker.lock().expect("asker") {
            Some((known, asker, Hold::CloseOnExec)) if known == pid => Some(check(asker)),
            _ => None,
        }
    }

    /// Routes events to this connection from now on (see [`Control::Listen`]).
    pub fn listen(&self, service: &Service) {
        let _ = self.control.send(Control::Listen(service.subscribe()));
    }
}

/// How many connections are admitted at once, in total and per program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub total: usize,
    pub per_program: usize,
}

impl Limits {
    /// The service socket's, from its configuration.
    fn of(config: &ServiceConfig) -> Self {
        Self { total: config.max_connections, per_program: config.max_connections_per_program }
    }
}

/// Connections open, in total and per program.
#[derive(Debug, Default)]
pub(crate) struct Admissions {
    total: usize,
    programs: HashMap<String, ProgramSlots>,
}

#[derive(Debug)]
struct ProgramSlots {
    connections: usize,
    in_flight: Arc<Semaphore>,
}

/// A connection's place among the admitted; given back when dropped.
#[derive(Debug)]
struct Ticket {
    admissions: Arc<Mutex<Admissions>>,
    key: String,
    in_flight: Arc<Semaphore>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut admissions = self.admissions.lock().expect("admissions");
        admissions.total -= 1;
        if let Some(slots) = admissions.programs.get_mut(&self.key) {
            slots.connections -= 1;
            if slots.connections == 0 {
                admissions.programs.remove(&self.key);
            }
        }
    }
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Total,
    Program,
}

impl Admissions {
    /// Why a connection of `key` would be turned away now, if it would.
    fn refusal(&self, limits: Limits, key: &str) -> Option<Refusal> {
        if self.total >= limits.total {
            Some(Refusal::Total)
        } else if self.programs.get(key).map_or(0, |slots| slots.connections) >= limits.per_program {
            Some(Refusal::Program)
        } else {
            None
        }
    }
}

fn admit(admissions: &Arc<Mutex<Admissions>>, limits: Limits, key: String) -> Result<Ticket, Refusal> {
    let mut guard = admissions.lock().expect("admissions");
    if let Some(refusal) = guard.refusal(limits, &key) {
        return Err(refusal);
    }
    let slots = guard.programs.entry(key.clone()).or_insert_with(|| ProgramSlots {
        connections: 0,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT_PER_PROGRAM)),
    });
    slots.connections += 1;
    let in_flight = slots.in_flight.clone();
    guard.total += 1;
    Ok(Ticket { admissions: admissions.clone(), key, in_flight })
}

/// Whether a connection of `key` would find a place, after letting closing connections give
/// theirs back (as `serve` does before refusing).
async fn place_for(admissions: &Mutex<Admissions>, limits: Limits, key: &str) -> Result<(), Refusal> {
    let mut refusal = Refusal::Total;
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::task::yield_now().await;
        }
        match admissions.lock().expect("admissions").refusal(limits, key) {
            Some(now) => refusal = now,
            None => return Ok(()),
        }
    }
    Err(refusal)
}

/// Answers a connection that found no place with `busy`, and closes it.
fn turn_away(stream: &Stream, refusal: Refusal, key: &str, log: &LogBudget) {
    let message = match refusal {
        Refusal::Total => "too many connections; try again",
        Refusal::Program => "this program has too many connections open; close some, or try again",
    };
    log.warn(format_args!("refused a connection: {message} ({key})"));
    let busy = Response::error(None, ErrorObject::new(ErrorCode::Busy, message));
    if let Ok(line) = keyport_wire::frame::encode_message(&busy) {
        // The socket's buffer is empty: a small line fits without waiting.
        let _ = stream.try_write(&line);
    }
}

/// The programs of the processes that connected lately, by pid: a few hundred entries, each
/// trusted for a second (a pid is not reused that fast).
#[derive(Debug, Default)]
struct RecentPrograms {
    keys: HashMap<u32, (String, std::time::Instant)>,
}

impl RecentPrograms {
    const FOR: Duration = Duration::from_secs(1);
    const MAX: usize = 1024;

    fn get(&self, pid: u32) -> Option<String> {
        self.keys.get(&pid).filter(|(_, at)| at.elapsed() < Self::FOR).map(|(key, _)| key.clone())
    }

    fn insert(&mut self, pid: u32, key: String) {
        if self.keys.len() >= Self::MAX {
            self.keys.retain(|_, (_, at)| at.elapsed() < Self::FOR);
            if self.keys.len() >= Self::MAX {
                self.keys.clear();
            }
        }
        self.keys.insert(pid, (key, std::time::Instant::now()));
    }
}

/// Serves `listener` until `shutdown` completes; then every connection is closed at once.
pub async fn serve(service: Arc<Service>, listener: Listener, shutdown: impl std::future::Future<Output = ()>) {
    serve_from(service, listener, Origin::Local, shutdown).await;
}

/// [`serve`], for requests from `origin`.
pub(crate) async fn serve_from(
    service: Arc<Service>,
    mut listener: Listener,
    origin: Origin,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    // Every forward's connections count together, apart from the service socket's.
    let (admissions, limits) = match &origin {
        Origin::Local => (Arc::new(Mutex::new(Admissions::default())), Limits::of(&service.config)),
        Origin::Forward(_) => (service.forwards.admissions.clone(), crate::forward::LIMITS),
    };
    let (stopping, stop) = watch::channel(false);
    let log = Arc::new(LogBudget::new("socket", 20, Duration::from_secs(60)));
    let mut recent = RecentPrograms::default();
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors (EMFILE) and the like: the limits keep us far from
                    // that, but a full table elsewhere must not end the service.
                    log.warn(format_args!("accept failed: {err}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if !peer.same_user {
            log.warn(format_args!("refused a connection from {}", peer.user));
            drop(stream);
            continue;
        }
        let pid = peer.pid;
        if let Origin::Forward(forward) = &origin
            && !forward.admits(pid)
        {
            log.warn(format_args!(
                "refused a connection to the ssh forward for {}: not the ssh that `keyport ssh` started",
                forward.host
            ));
            continue;
        }
        // A process turned away a moment ago is turned away again without reading `/proc`: a
        // program that reconnects in a loop costs an accept and a close, not an identification.
        // (Admission only counts connections; every request is still judged on its own.)
        if let Some(key) = pid.and_then(|pid| recent.get(pid))
            && let Err(refusal) = place_for(&admissions, limits, &key).await
        {
            turn_away(&stream, refusal, &key, &log);
            continue;
        }
        // Through a forward the process is the local `ssh`, never judged: the remote machine asks.
        let (link, key) = match &origin {
            Origin::Local => {
                let link = service.identifier.link(pid);
                let key = service.identifier.admission_key(&link);
                (link, key)
            }
            Origin::Forward(forward) => (Link::unjudged(), format!("remote:{}", forward.host)),
        };
        if let Some(pid) = pid {
            recent.insert(pid, key.clone());
        }
        let mut admitted = admit(&admissions, limits, key.clone());
        // Connections that are closing hold their place until their task has seen the end; let
        // them run before refusing (a client that closes and reconnects at once would otherwise
        // be refused for the places its own closed connections still hold).
        for _ in 0..4 {
            if admitted.is_ok() {
                break;
            }
            tokio::task::yield_now().await;
            admitted = admit(&admissions, limits, key.clone());
        }
        match admitted {
            Ok(ticket) => {
                #[cfg(target_os = "linux")]
                let link = {
                    let mut link = link;
                    if matches!(origin, Origin::Local) {
                        link.find_client_socket(&stream);
                    }
                    link
                };
                let origin = origin.clone();
                tokio::spawn(connection(service.clone(), stream, link, origin, pid, ticket, stop.clone()));
            }
            Err(refusal) => turn_away(&stream, refusal, &key, &log),
        }
    }
    stopping.send_replace(true);
}

async fn connection(
    service: Arc<Service>,
    stream: Stream,
    link: Link,
    origin: Origin,
    pid: Option<u32>,
    ticket: Ticket,
    mut stop: watch::Receiver<bool>,
) {
    let stream = Arc::new(stream);
    let outbox = Outbox::new(stream.clone());
    let (control, mut controls) = mpsc::unbounded_channel();
    tracing::debug!(program = %ticket.key, "connection opened");
    let conn = Arc::new(Connection {
        link,
        outbox: outbox.clone(),
        subscriber: Mutex::new(None),
        signins: Mutex::new(Vec::new()),
        answering: Mutex::new(None),
        control,
        last_asker: Mutex::new(None),
        program_in_flight: ticket.in_flight.clone(),
        origin,
        forwards: Mutex::new(Vec::new()),
    });
    // Where writes carry their writer's credentials (Linux), each line is judged by its writer;
    // elsewhere every line is the connector's.
    let mut reader = LineReader::new(keyport_wire::frame::MAX_REQUEST_BYTES, pid);
    let mut requests = tokio::task::JoinSet::new();
    let connection_in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT_PER_CONNECTION));
    let mut events: Option<broadcast::Receiver<Event>> = None;
    let mut reading = true;
    let idle = service.config.idle_timeout;
    let mut last_activity = tokio::time::Instant::now();
    // Moving a timer on every request costs a timer-wheel update each time: this one is only
    // brought forward, and moved on when it fires before the real deadline.
    let timer = tokio::time::sleep_until(last_activity + idle);
    tokio::pin!(timer);
    // Looks, while a client that closed its sending side still waits for events, whether it
    // closed its end entirely (see `peer_closed`); made when first needed.
    let mut hangup_check: Option<tokio::time::Interval> = None;
    loop {
        // Events to forward, or a forward to hold open: the connection stays while idle.
        let waiting_for_events = conn.subscriber.lock().expect("subscriber").is_some()
            || !conn.signins.lock().expect("signins").is_empty()
            || !conn.forwards.lock().expect("forwards").is_empty();
        if !reading && requests.is_empty() && !waiting_for_events {
            break; // the client is done sending, and everything it asked for is answered
        }
        let deadline = match reader.partial_since() {
            Some(since) => tokio::time::Instant::from_std(since) + LINE_DEADLINE,
            None => last_activity + idle,
        };
        if deadline < timer.deadline() {
            timer.as_mut().reset(deadline);
        }
        tokio::select! {
            _ = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
            _ = outbox.closed() => break,
            Some(control) = controls.recv() => match control {
                Control::Listen(receiver) => {
                    // An older receiver has seen everything the new one would.
                    events.get_or_insert(receiver);
                }
            },
            Some(_) = requests.join_next(), if !requests.is_empty() => last_activity = tokio::time::Instant::now(),
            () = tick(&mut hangup_check), if !reading && waiting_for_events => {
                if crate::transport::peer_closed(&stream) {
                    break; // nobody is there to read the events (a window that was closed)
                }
            }
            event = recv_event(&mut events), if waiting_for_events => {
                if let Some(event) = event
                    && !forward_event(&service, &conn, event).await
                {
                    break;
                }
            }
            _ = &mut timer, if reading => {
                let now = tokio::time::Instant::now();
                if now < deadline {
                    timer.as_mut().reset(deadline);
                    continue;
                }
                if reader.partial_since().is_some() {
                    break; // a line that does not finish
                }
                if requests.is_empty() && !waiting_for_events {
                    break; // idle
                }
                last_activity = now;
                timer.as_mut().reset(last_activity + idle);
            }
            read = read_with_permit(&mut reader, &stream, &connection_in_flight), if reading => {
                let (incoming, connection_permit) = read;
                let (line, writers) = match incoming {
                    Ok(Incoming::Line { bytes, writers }) => (bytes, writers),
                    Ok(Incoming::End) => {
                        reading = false;
                        hangup_check.get_or_insert_with(|| tokio::time::interval(HANGUP_CHECK));
                        continue;
                    }
                    Ok(Incoming::Oversize) => {
                        let error = Response::error(None, ErrorObject::from(ErrorCode::MessageTooLarge));
                        send(&outbox, &error).await;
                        break;
                    }
                    Err(_) => break,
                };
                // The program's share, taken once a request is here (a silent connection holds
                // none); while its other requests use it all, this connection is not read.
                let program_permit = tokio::select! {
                    permit = conn.program_in_flight.clone().acquire_owned() => permit.expect("never closed"),
                    _ = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
                    _ = outbox.closed() => break,
                };
                let permits = (connection_permit, program_permit);
                last_activity = tokio::time::Instant::now();
                service.requests_read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let request = match Request::parse(&line) {
                    Ok(request) => request,
                    Err(error_response) => {
                        send(&outbox, &error_response).await;
                        continue;
                    }
                };
                // A cached token is answered here, without a task (see `methods::answer_now`).
                if let Some(line) = methods::answer_now(&service, &conn, &request, &writers) {
                    if outbox.send(&line).await.is_err() {
                        break;
                    }
                    continue;
                }
                let service = service.clone();
                let conn = conn.clone();
                requests.spawn(async move {
                    let response = methods::answer(&service, &conn, request, &writers).await;
                    send(&conn.outbox, &response).await;
                    drop(permits);
                });
            }
        }
    }
    // Whatever is still in progress was for a client that is gone or too slow.
    requests.abort_all();
    outbox.close();
    // Its forwards end with it.
    conn.forwards.lock().expect("forwards").clear();
    tracing::debug!(program = %ticket.key, reading, "connection closed");
    drop(ticket);
}

/// Takes a permit of the connection (at most [`MAX_IN_FLIGHT_PER_CONNECTION`] requests in
/// progress), then reads the next line. Cancel safe.
async fn read_with_permit(
    reader: &mut LineReader,
    stream: &Stream,
    connection: &Arc<Semaphore>,
) -> (std::io::Result<Incoming>, tokio::sync::OwnedSemaphorePermit) {
    let permit = connection.clone().acquire_owned().await.expect("never closed");
    (reader.next(stream).await, permit)
}

/// How often a client that closed its sending side while subscribed is looked at to see whether
/// it closed its end entirely.
const HANGUP_CHECK: Duration = Duration::from_millis(200);

/// The next tick of `interval`, or never without one.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The next event; `None` when there is no receiver yet or the bus is gone.
async fn recv_event(events: &mut Option<broadcast::Receiver<Event>>) -> Option<Event> {
    let Some(receiver) = events else { return std::future::pending().await };
    match receiver.recv().await {
        Ok(event) => Some(event),
        Err(broadcast::error::RecvError::Lagged(count)) => Some(Event::Missed { count }),
        Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
    }
}

/// Sends `event` if this connection should see it: all events its subscriber may see, and
/// the outcomes of its own sign-ins. `false` when the connection is gone.
async fn forward_event(service: &Service, conn: &Connection, event: Event) -> bool {
    let own_signin = match &event {
        Event::SigninFinished { signin_id, .. } | Event::SigninFailed { signin_id, .. } => {
            let mut mine = conn.signins.lock().expect("signins");
            let found = mine.iter().position(|id| id == signin_id);
            found.map(|at| mine.remove(at)).is_some()
        }
        _ => false,
    };
    let subscriber = conn.subscriber.lock().expect("subscriber").clone();
    let visible = own_signin || subscriber.is_some_and(|asker| methods::may_see_event(service, &asker, &event));
    if !visible {
        return true;
    }
    let Ok(notification) = event.to_notification() else { return true };
    let Ok(line) = keyport_wire::frame::encode_answer(&notification) else { return true };
    conn.outbox.send(&line).await.is_ok()
}

pub(crate) async fn send(outbox: &Outbox, message: &impl serde::Serialize) {
    let line = match keyport_wire::frame::encode_answer(message) {
        Ok(line) => line,
        Err(err) => {
            tracing::error!(%err, "a response could not be encoded");
            let fallback =
                Response::error(None, ErrorObject::new(ErrorCode::InternalError, "the response was too large"));
            keyport_wire::frame::encode_message(&fallback).expect("a small error encodes")
        }
    };
    let _ = outbox.send(&line).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admissions_are_bounded_in_total_and_per_program() {
        let config = Limits { total: 5, per_program: 3 };
        let admissions = Arc::new(Mutex::new(Admissions::default()));
        let a: Vec<_> = (0..3).map(|_| admit(&admissions, config, "a".into()).unwrap()).collect();
        assert_eq!(admit(&admissions, config, "a".into()).unwrap_err(), Refusal::Program);
        let b: Vec<_> = (0..2).map(|_| admit(&admissions, config, "b".into()).unwrap()).collect();
        assert_eq!(admit(&admissions, config, "c".into()).unwrap_err(), Refusal::Total);
        drop(a);
        assert_eq!(admissions.lock().unwrap().total, 2);
        assert!(!admissions.lock().unwrap().programs.contains_key("a"), "a program with no connection is forgotten");
        let again = admit(&admissions, config, "a".into()).unwrap();
        assert!(Arc::ptr_eq(&again.in_flight, &admit(&admissions, config, "a".into()).unwrap().in_flight));
        drop(b);
    }
}
