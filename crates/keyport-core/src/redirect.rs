//! The loopback redirect listener (RFC 8252 §7.3): a small HTTP/1.x server that serves one
//! sign-in, and the request-head parser it uses. It leaves out everything else a web server
//! does: keep-alive, request bodies, chunked encoding, TLS, and any path but the redirect's.
//!
//! **What it accepts.** Binds an ephemeral port on 127.0.0.1 or ::1 only, never a wildcard;
//! for the `localhost` redirect host it holds the same port on both, so that no other program
//! (another user's included) can listen on the address a browser tries first (see
//! [`RedirectListener::bind`]). A request is genuine when it is a `GET` on the registered path
//! whose `state` matches; anything else (other paths, `/favicon.ico`, a missing or forged
//! `state`, a response without `code`) gets a 400 page and the listener keeps waiting, so a
//! stray or hostile request can neither complete nor abort the sign-in. An error response
//! (`error=`) with the right `state` ends the sign-in with the provider's reason.
//!
//! **What an outsider can make it spend** (any local user can connect to a loopback port):
//! - bytes: a request head (request line, header fields, empty line) of at most [`MAX_HEAD`]
//!   bytes, its request line at most [`MAX_REQUEST_LINE`]; a longer one is answered 414 or 431
//!   and closed, and a body is never read. One buffer per connection, allocated once.
//! - time: each connection has [`CONNECTION_DEADLINE`] from its acceptance to send its whole
//!   head and take the answer; bytes arriving do not extend it, so a slow drip cannot hold a
//!   connection. The wait as a whole ends at the sign-in's timeout.
//! - connections: at most [`MAX_CONNECTIONS`] open at once (both sockets of `localhost`
//!   together); beyond that one is closed to make room: another user's at once, or else the
//!   oldest once it has been open [`EVICTION_GRACE`] (see below).
//! - threads: none. Everything runs in the future [`RedirectListener::wait`] returns, on the
//!   caller's runtime; each connection is a sub-future of it, not a task.
//! - log lines: the first [`LOGGED_EVENTS`] turned-away requests are logged, then one summary
//!   with counts when the wait ends.
//! - after the sign-in: nothing. The listening sockets and every accepted connection belong to
//!   the wait's future, so they are closed the moment it returns or is dropped (cancelled).
//!
//! Running out of descriptors (EMFILE/ENFILE) or any other accept error does not end the wait:
//! the listener stops accepting for [`ACCEPT_BACKOFF`] and tries again, while it keeps serving
//! the connections it has.
//!
//! **Why the genuine redirect gets through while hostile connections hold the cap.** A browser
//! writes its request as soon as its connection is established, and the kernel establishes it
//! (and queues the request bytes) before the listener even accepts it. The listener reads every
//! newly accepted connection before it accepts the next one, and when the cap is reached it
//! closes the *oldest* connection, never a new one, and only once that one has been open for
//! [`EVICTION_GRACE`]: every connection, the browser's included, gets that long to show its
//! request, however fast others arrive. While all open connections are younger than that, the
//! listener accepts nothing; newcomers wait in the kernel's queue, where their request bytes
//! wait with them, so a browser's connection accepted from the queue is answered at once. So
//! connections that are merely held open (silent, dripping, oversize, garbage, however many)
//! are the ones closed, and the browser's connection is pushed out only if its request takes
//! longer than [`EVICTION_GRACE`] to arrive after the listener took the connection. The price
//! of the grace is that a flood is worked through at [`MAX_CONNECTIONS`] connections per
//! [`EVICTION_GRACE`] (320 a second): a browser queued behind a thousand held connections is
//! answered about three seconds later. (Without the grace, a burst of accepted connections
//! could close the browser's before the listener had even seen its request arrive: readiness
//! is only learnt when the listener's task yields, which a steady stream of accepts defers.)
//!
//! **Another user's connections** (on Linux, where the kernel's socket diagnostics say who
//! opened a loopback connection, see `peer.rs`) are served like any other, so a browser run as
//! another user still signs in, but they get no grace: when the listener is full, the oldest
//! of them is closed at once, before any of this user's. Another user's flood is then worked
//! through as fast as it comes, and cannot hold a place the browser needs, nor keep the
//! kernel's queue ([`BACKLOG`]) full. Where the owner cannot be known (macOS, Windows), an
//! outsider who keeps more connections waiting than the queue holds makes the kernel drop new
//! connection attempts; the browser's is then retried by its TCP stack (after 1, 3, 7...
//! seconds) and competes with the outsider's for each free place in the queue.

use std::future::{Future, poll_fn};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use url::Url;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::provider::RedirectHost;
use crate::secret::Secret;

mod peer;

/// The longest request line accepted, in bytes, without its CRLF. A browser's redirect is the
/// path with `code`, `state` and `iss`: a few hundred bytes, under 2 KiB with the longest
/// authorization codes (Microsoft's). 8 KiB is what nginx and Apache accept by default.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;

/// The largest request head accepted, in bytes: request line, header fields and the empty
/// line. Browsers send the cookies any local program set for `127.0.0.1` or `localhost` (on
/// any port) with the redirect, so header fields get room beyond the request line; 16 KiB is
/// Node's default limit.
pub const MAX_HEAD: usize = 16 * 1024;

/// How long a connection may take, from its acceptance, to send its whole request head and
/// take the answer. A browser needs milliseconds; the deadline is not extended by bytes
/// arriving, so a slow drip holds a connection no longer than a silent client.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);

/// Open connections per listener. A browser uses one or two; a new connection beyond this
/// closes another user's, or else the oldest once it has had [`EVICTION_GRACE`]. Each costs
/// one descriptor and at most [`MAX_HEAD`] bytes of buffer, so a sign-in costs at most 35
/// descriptors (with the two listening sockets and, on Linux, the socket diagnostics one) and
/// 512 KiB, and the service's 16 concurrent sign-ins stay well within the usual
/// 1024-descriptor limit.
pub const MAX_CONNECTIONS: usize = 32;

/// How long a connection is safe from being closed to make room for newer ones, from its
/// acceptance. A browser writes its request within milliseconds of connecting; 100 ms leaves
/// room for a loaded machine, and keeps the listener working through a flood at 320
/// connections a second.
pub const EVICTION_GRACE: Duration = Duration::from_millis(100);

/// How long accepting pauses after an accept error (EMFILE, ENFILE, ENOBUFS...), so that a
/// connection the kernel cannot hand over does not make the listener spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Turned-away requests logged one by one during a sign-in; the rest only count towards the
/// summary logged when the wait ends.
pub const LOGGED_EVENTS: u32 = 3;

/// Connections the kernel may queue for acceptance. Queued connections cost the listener no
/// descriptor; a long queue lets a browser's connection in while a flood is being accepted
/// (the kernel caps it at `net.core.somaxconn`).
pub const BACKLOG: i32 = 1024;

/// Ports tried for `localhost` before giving up when ::1 is taken on each.
const LOCALHOST_BIND_ATTEMPTS: usize = 8;

/// The longest request path written to the log (paths only, never queries).
const LOGGED_PATH: usize = 64;

// ---------------------------------------------------------------------------------------------
// The request head
// ---------------------------------------------------------------------------------------------

/// The HTTP version of a request (the listener answers both with HTTP/1.1 and `Connection:
/// close`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

/// A well-formed HTTP/1.x request head, borrowed from the bytes it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The method token (`GET`, `POST`...), as sent.
    pub method: &'a str,
    /// The request target in origin form: a path starting with `/`, with its query.
    pub target: &'a str,
    /// The protocol version.
    pub version: HttpVersion,
    /// How many header fields the head has. Their syntax is checked; the listener needs none
    /// of them.
    pub fields: usize,
    /// The head's length in bytes, through the empty line that ends it. Bytes after it (a
    /// body, a pipelined request) are not part of the head and are never looked at.
    pub len: usize,
}

/// Why bytes are not (yet) a request head the listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// No empty line yet and no limit reached: more bytes may complete the head.
    #[error("the request head is not complete")]
    Incomplete,
    /// The request line is longer than [`MAX_REQUEST_LINE`] (answered 414).
    #[error("the request line is too long")]
    RequestLineTooLong,
    /// The head is longer than [`MAX_HEAD`] (answered 431).
    #[error("the request head is too large")]
    HeadTooLarge,
    /// An HTTP version other than 1.0 and 1.1 (answered 505).
    #[error("not HTTP/1.0 or HTTP/1.1")]
    UnsupportedVersion,
    /// Not a well-formed HTTP/1.x request head; says what is wrong (answered 400).
    #[error("malformed request: {0}")]
    Malformed(&'static str),
}

/// Parses an HTTP/1.x request head (RFC 9112 §2-5) from the start of `bytes`, strictly: lines
/// end in CRLF (a bare LF or CR is refused), the request line is `METHOD SP TARGET SP VERSION`
/// with single spaces, the target is in origin form (`/path?query`, visible ASCII, no
/// fragment), the version is `HTTP/1.1` or `HTTP/1.0`, header fields are `name: value` with a
/// token name and no control characters, and obsolete line folding is refused.
///
/// `bytes` may stop anywhere: the first problem found reading from the start is reported as
/// soon as the line that has it is complete, a head that could still become valid is
/// [`HeadError::Incomplete`] until [`MAX_REQUEST_LINE`] or [`MAX_HEAD`] is exceeded, and bytes
/// after the head are ignored. Pure, linear in the bytes it looks at (at most [`MAX_HEAD`],
/// however many it is given), and never panics: fuzz it with any input. The listener runs the
/// same checks line by line as bytes arrive, so it stops reading exactly where this function
/// can answer.
pub fn parse_request_head(bytes: &[u8]) -> Result<RequestHead<'_>, HeadError> {
    let mut scan = HeadScan::default();
    match scan.advance(bytes)? {
        Some(len) => scan.head(bytes, len),
        None => Err(HeadError::Incomplete),
    }
}

/// Where checking a head has got to, so that bytes arriving a few at a time are each looked
/// at once (a head read a byte at a time costs no more than one read at once).
#[derive(Debug, Default)]
struct HeadScan {
    /// Bytes in complete lines already checked.
    checked: usize,
    /// Bytes already searched for the next line's end (at least `checked`).
    searched: usize,
    /// The request line, once complete and checked.
    request_line: Option<RequestLine>,
    /// Header fields checked.
    fields: usize,
}

/// Where a checked request line's parts are.
#[derive(Debug, Clone)]
struct RequestLine {
    method: std::ops::Range<usize>,
    target: std::ops::Range<usize>,
    version: HttpVersion,
}

impl HeadScan {
    /// Checks the lines `bytes` completes since the last call (`bytes` only ever grows).
    /// `Some(len)` at the empty line that ends the head, `None` when more bytes are needed.
    fn advance(&mut self, bytes: &[u8]) -> Result<Option<usize>, HeadError> {
        let bytes = &bytes[..bytes.len().min(MAX_HEAD)];
        loop {
            // The request line must end within MAX_REQUEST_LINE + CRLF bytes, the head (and so
            // every line) within MAX_HEAD.
            let limit = if self.request_line.is_none() { MAX_REQUEST_LINE + 2 } else { MAX_HEAD };
            let window = &bytes[..bytes.len().min(limit)];
            let from = self.searched.max(self.checked);
            let Some(offset) = window.get(from..).and_then(|rest| rest.iter().position(|&b| b == b'\n')) else {
                self.searched = window.len().max(self.checked);
                return if self.request_line.is_none() && window.len() == limit {
                    Err(HeadError::RequestLineTooLong)
                } else if bytes.len() == MAX_HEAD {
                    Err(HeadError::HeadTooLarge)
                } else {
                    Ok(None)
                };
            };
            let (start, end) = (self.checked, from + offset + 1);
            let line = without_cr(&bytes[start..end - 1])?;
            self.checked = end;
            self.searched = end;
            match self.request_line {
                None => self.request_line = Some(request_line(line, start)?),
                Some(_) if line.is_empty() => return Ok(Some(end)),
                Some(_) => {
                    field_line(line)?;
                    self.fields += 1;
                }
            }
        }
    }

    /// The head [`HeadScan::advance`] found complete at `len`.
    fn head<'a>(&self, bytes: &'a [u8], len: usize) -> Result<RequestHead<'a>, HeadError> {
        let line = self.request_line.clone().ok_or(HeadError::Incomplete)?;
        Ok(RequestHead {
            method: ascii(&bytes[line.method])?,
            target: ascii(&bytes[line.target])?,
            version: line.version,
            fields: self.fields,
            len,
        })
    }
}

/// A line's content without its CR (before the LF), refusing a line that ends in a bare LF.
fn without_cr(line: &[u8]) -> Result<&[u8], HeadError> {
    line.strip_suffix(b"\r").ok_or(HeadError::Malformed("a line does not end with CRLF"))
}

/// Checks a request line (without its CRLF) that starts at `offset` in the head.
fn request_line(line: &[u8], offset: usize) -> Result<RequestLine, HeadError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("the request line is not `METHOD TARGET VERSION`"));
    };
    if method.is_empty() || !method.iter().copied().all(is_tchar) {
        return Err(HeadError::Malformed("the method is not a token"));
    }
    if !target.starts_with(b"/") {
        // Absolute form (`http://host/path`), authority form and `*`: a browser sends none of
        // them to the server it is connected to.
        return Err(HeadError::Malformed("the target is not a path"));
    }
    if !target.iter().all(|&b| b.is_ascii_graphic() && b != b'#') {
        return Err(HeadError::Malformed("the target has a character a URL path cannot have"));
    }
    let version = match version {
        b"HTTP/1.1" => HttpVersion::Http11,
        b"HTTP/1.0" => HttpVersion::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            return Err(HeadError::UnsupportedVersion);
        }
        _ => return Err(HeadError::Malformed("no HTTP version")),
    };
    let method_start = offset;
    let target_start = method_start + method.len() + 1;
    Ok(RequestLine {
        method: method_start..method_start + method.len(),
        target: target_start..target_start + target.len(),
        version,
    })
}

/// Bytes checked to be ASCII as text.
fn ascii(bytes: &[u8]) -> Result<&str, HeadError> {
    std::str::from_utf8(bytes).map_err(|_| HeadError::Malformed("not ASCII"))
}

fn field_line(line: &[u8]) -> Result<(), HeadError> {
    if line.starts_with(b" ") || line.starts_with(b"\t") {
        return Err(HeadError::Malformed("obsolete line folding"));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(HeadError::Malformed("a header field without a colon"));
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().copied().all(is_tchar) {
        return Err(HeadError::Malformed("a header field name is not a token"));
    }
    // Field values: visible ASCII, space, tab, and (obsolete but harmless) bytes >= 0x80.
    if !value.iter().all(|&b| b == b' ' || b == b'\t' || b.is_ascii_graphic() || b >= 0x80) {
        return Err(HeadError::Malformed("a control character in a header field"));
    }
    Ok(())
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// ---------------------------------------------------------------------------------------------
// Judging a request
// ---------------------------------------------------------------------------------------------

/// The genuine redirect: an authorization code and, when sent, the RFC 9207 issuer.
#[derive(Debug)]
pub struct Callback {
    /// The authorization code.
    pub code: Secret,
    /// The `iss` parameter, when present.
    pub iss: Option<String>,
}

/// The stray reason of an error redirect without `state`.
const ERROR_WITHOUT_STATE: &str = "an error without this sign-in's state";

/// How a request to the listener was judged.
#[derive(Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The genuine redirect with a code.
    Code { code: String, iss: Option<String> },
    /// The genuine redirect with an error.
    Refused { error: String, description: Option<String>, iss: Option<String> },
    /// Not part of this sign-in; the reason is for logs and the 400 page.
    Stray(&'static str),
}

/// Judges one request target (`/path?query`) against the expected path and state.
pub fn judge(target: &str, path: &str, state: &str) -> Judgement {
    // The target is appended to a base, not joined to it: `//host/callback` is a path here,
    // not a URL of another host.
    if !target.starts_with('/') {
        return Judgement::Stray("unreadable request");
    }
    let Ok(url) = Url::parse(&format!("http://loopback.invalid{target}")) else {
        return Judgement::Stray("unreadable request");
    };
    if url.path() != path {
        return Judgement::Stray("not the redirect path");
    }
    let mut got_state = None;
    let mut code = None;
    let mut error = None;
    let mut description = None;
    let mut iss = None;
    for (key, value) in url.query_pairs() {
        let slot = match key.as_ref() {
            "state" => &mut got_state,
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut description,
            "iss" => &mut iss,
            _ => continue,
        };
        if slot.is_some() {
            return Judgement::Stray("a parameter appears twice");
        }
        *slot = Some(value.into_owned());
    }
    match got_state {
        // Some servers leave `state` out of error redirects (RFC 6749 §4.1.2.1 wants it).
        // Without it the error cannot be told from a forged one, so the sign-in goes on
        // waiting; the page says why, since the person in front of it is stuck otherwise.
        None if error.is_some() => return Judgement::Stray(ERROR_WITHOUT_STATE),
        None => return Judgement::Stray("no state"),
        Some(got) if !constant_time_eq(got.as_bytes(), state.as_bytes()) => return Judgement::Stray("wrong state"),
        Some(_) => {}
    }
    match (code, error) {
        (_, Some(error)) => Judgement::Refused { error, description, iss },
        (Some(code), None) if !code.is_empty() => Judgement::Code { code, iss },
        _ => Judgement::Stray("no code"),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---------------------------------------------------------------------------------------------
// The listener
// ---------------------------------------------------------------------------------------------

/// The limits one listener enforces (the constants above; tests shrink them).
#[derive(Debug, Clone, Copy)]
struct Limits {
    connection_deadline: Duration,
    max_connections: usize,
    eviction_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connection_deadline: CONNECTION_DEADLINE,
            max_connections: MAX_CONNECTIONS,
            eviction_grace: EVICTION_GRACE,
        }
    }
}

/// A one-shot HTTP listener for the authorization redirect: bound by [`RedirectListener::bind`],
/// served by [`RedirectListener::wait`]. Dropping it closes its sockets.
pub struct RedirectListener {
    /// One socket, or two for `localhost` (127.0.0.1 and ::1, same port).
    sockets: Vec<std::net::TcpListener>,
    redirect_uri: Url,
    path: String,
    limits: Limits,
}

impl std::fmt::Debug for RedirectListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedirectListener").field("redirect_uri", &self.redirect_uri.as_str()).finish()
    }
}

impl RedirectListener {
    /// Binds an ephemeral loopback port: 127.0.0.1 for `127.0.0.1`, ::1 for `[::1]`, and for
    /// `localhost` both, on the same port, because a browser may resolve `localhost` to
    /// either (and tries ::1 first on many systems): whoever held the other one would receive
    /// the code. If ::1 is taken on the port 127.0.0.1 got, another port is tried, a few times.
    /// A machine without an IPv6 loopback (no ::1, or no IPv6 at all) gets 127.0.0.1 alone,
    /// which is then safe: nobody can listen on ::1 there, and no browser can connect to it.
    /// Never a wildcard address; no `SO_REUSEADDR` or `SO_REUSEPORT`, so no other socket can
    /// share the port while the listener holds it.
    pub fn bind(host: RedirectHost, path: &str) -> Result<Self, Error> {
        let sockets = match host {
            RedirectHost::Ipv4 => vec![listen((Ipv4Addr::LOCALHOST, 0).into())?],
            RedirectHost::Ipv6 => vec![listen((Ipv6Addr::LOCALHOST, 0).into())?],
            RedirectHost::Localhost => bind_localhost()?,
        };
        let port = sockets[0].local_addr().map_err(|err| listener_error("loopback", &err))?.port();
        let redirect_uri = Url::parse(&format!("http://{}:{port}{path}", host.as_str()))
            .map_err(|err| Error::InvalidProvider { reason: format!("redirect URI: {err}") })?;
        tracing::debug!(redirect_uri = %redirect_uri, sockets = sockets.len(), "listening for the redirect");
        Ok(Self { sockets, redirect_uri, path: path.to_owned(), limits: Limits::default() })
    }

    /// The redirect URI to send in the authorization request.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The addresses the listener holds (one, or two for `localhost`).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().filter_map(|socket| socket.local_addr().ok()).collect()
    }

    /// Serves requests until the genuine redirect arrives (its code, or the provider's
    /// refusal), or `timeout` passes. Consumes the listener: it serves one sign-in only. Needs
    /// a Tokio runtime with I/O and time enabled. Dropping the future cancels the wait and
    /// closes every socket at once.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<Callback, Error> {
        let mut tally = Tally::default();
        self.serve(state, timeout, &mut tally).await
        // `tally` logs its summary when dropped: here, or when this future is dropped.
    }

    async fn serve(self, state: &str, timeout: Duration, tally: &mut Tally) -> Result<Callback, Error> {
        let RedirectListener { sockets, redirect_uri, path, limits } = self;
        let listeners = sockets
            .into_iter()
            .map(TcpListener::from_std)
            .collect::<io::Result<Vec<_>>>()
            .map_err(|err| listener_error(redirect_uri.as_str(), &err))?;
        // Declared after `path`, and so dropped before it: the connections borrow it.
        let mut connections = Connections::new(limits.max_connections, limits.eviction_grace);
        let mut owners = peer::PeerOwners::new();
        let mut next_listener = 0;
        let overall = tokio::time::sleep(timeout);
        let backoff = tokio::time::sleep(Duration::ZERO);
        let room = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(overall, backoff, room);
        let mut paused = false;
        loop {
            // At the cap with every connection still in its grace: accept nothing until the
            // oldest one's grace ends (or a connection finishes).
            let full_until = connections.full_until(Instant::now());
            if let Some(until) = full_until {
                tally.waited_for_room += 1;
                room.as_mut().reset(until);
            }
            tokio::select! {
                // Connections first, so that each new one is read before the next is accepted.
                biased;
                outcome = poll_fn(|cx| connections.poll_finished(cx)) => {
                    tally.record(&outcome);
                    match outcome {
                        Outcome::Code(callback) => return Ok(callback),
                        Outcome::Refused { error, description } => {
                            return Err(Error::AuthorizationDenied { error, description });
                        }
                        _ => {}
                    }
                }
                () = &mut overall => return Err(Error::SignInTimedOut { secs: timeout.as_secs() }),
                () = &mut backoff, if paused => paused = false,
                () = &mut room, if full_until.is_some() => {}
                accepted = poll_fn(|cx| poll_accept(&listeners, &mut next_listener, cx)), if !paused && full_until.is_none() => {
                    match accepted {
                        Ok((stream, peer)) => {
                            let now = Instant::now();
                            let deadline = now + limits.connection_deadline;
                            let another_user = stream
                                .local_addr()
                                .is_ok_and(|local| owners.another_user(local, peer) == Some(true));
                            let connection = serve_connection(stream, &path, state, deadline);
                            let evicted = connections.admit(now, another_user, connection);
                            tally.admitted(evicted, another_user, connections.len());
                        }
                        Err(err) => {
                            tally.accept_failed(&err);
                            backoff.as_mut().reset(Instant::now() + ACCEPT_BACKOFF);
                            paused = true;
                        }
                    }
                }
            }
        }
    }
}

/// A listening socket on `address`: close-on-exec, non-blocking, IPv6 only for ::1, and
/// without `SO_REUSEADDR` (std sets it; on Linux it would not let another socket in while we
/// listen, but nothing here needs it).
fn listen(address: SocketAddr) -> Result<std::net::TcpListener, Error> {
    listen_raw(address).map_err(|err| listener_error(&address.to_string(), &err))
}

fn listen_raw(address: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

fn listener_error(address: &str, err: &io::Error) -> Error {
    Error::RedirectListener { address: address.to_owned(), detail: err.to_string() }
}

/// How binding both loopback addresses on one port went.
#[derive(Debug)]
enum LocalhostBind {
    /// 127.0.0.1 and, when the machine has an IPv6 loopback, ::1.
    Bound(Vec<std::net::TcpListener>),
    /// ::1 was taken on this port by another socket; 127.0.0.1 was let go again.
    Ipv6Taken(u16),
}

/// 127.0.0.1 on an ephemeral port and ::1 on the same port, retrying with a new port when
/// another socket holds ::1 on it.
fn bind_localhost() -> Result<Vec<std::net::TcpListener>, Error> {
    let mut taken = Vec::new();
    for _ in 0..LOCALHOST_BIND_ATTEMPTS {
        match bind_localhost_on(0)? {
            LocalhostBind::Bound(sockets) => return Ok(sockets),
            LocalhostBind::Ipv6Taken(port) => {
                tracing::debug!(port, "another socket holds [::1] on this port; trying another");
                taken.push(port.to_string());
            }
        }
    }
    Err(Error::RedirectListener {
        address: "localhost".into(),
        detail: format!(
            "another program listens on [::1] on each port tried ({}), so a browser could reach it instead",
            taken.join(", ")
        ),
    })
}

/// 127.0.0.1 on `port` (0: any), then ::1 on the port that got.
fn bind_localhost_on(port: u16) -> Result<LocalhostBind, Error> {
    let v4 = listen((Ipv4Addr::LOCALHOST, port).into())?;
    let port = v4.local_addr().map_err(|err| listener_error("127.0.0.1", &err))?.port();
    let v6_address = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    match listen_raw(v6_address) {
        Ok(v6) => Ok(LocalhostBind::Bound(vec![v4, v6])),
        Err(err) if no_ipv6_loopback(&err) => {
            // Nobody can listen on ::1 here either, and browsers fall back to 127.0.0.1.
            tracing::debug!(%err, "no IPv6 loopback on this machine; listening on 127.0.0.1 only");
            Ok(LocalhostBind::Bound(vec![v4]))
        }
        Err(err) if err.kind() == io::ErrorKind::AddrInUse => Ok(LocalhostBind::Ipv6Taken(port)),
        Err(err) => Err(listener_error(&v6_address.to_string(), &err)),
    }
}

/// Whether binding ::1 failed because the machine has no IPv6 loopback: ::1 not configured
/// (IPv6 disabled on `lo`: EADDRNOTAVAIL) or no IPv6 at all (EAFNOSUPPORT).
fn no_ipv6_loopback(err: &io::Error) -> bool {
    #[cfg(unix)]
    let no_family = rustix::io::Errno::from_io_error(err) == Some(rustix::io::Errno::AFNOSUPPORT);
    #[cfg(not(unix))]
    let no_family = false;
    err.kind() == io::ErrorKind::AddrNotAvailable || no_family
}

/// Accepts from whichever listener has a connection, starting with a different one each time
/// so that a flood on one cannot starve the other.
fn poll_accept(
    listeners: &[TcpListener],
    next: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
    for offset in 0..listeners.len() {
        let index = (*next + offset) % listeners.len();
        if let Poll::Ready(result) = listeners[index].poll_accept(cx) {
            *next = (index + 1) % listeners.len();
            return Poll::Ready(result);
        }
    }
    Poll::Pending
}

/// The open connections of one wait, oldest first, each served by its own future (which owns
/// its socket: dropping the future closes the connection).
struct Connections<F> {
    open: std::collections::VecDeque<Open<F>>,
    cap: usize,
    grace: Duration,
}

/// One open connection.
struct Open<F> {
    accepted: Instant,
    /// Opened by another user (as far as the kernel says): never the browser of the person
    /// signing in, so first to be closed, with no grace.
    another_user: bool,
    serving: Pin<Box<F>>,
}

impl<F: Future<Output = Outcome>> Connections<F> {
    fn new(cap: usize, grace: Duration) -> Self {
        Self { open: std::collections::VecDeque::with_capacity(cap), cap, grace }
    }

    fn len(&self) -> usize {
        self.open.len()
    }

    /// When `cap` are open, none of them another user's, and the oldest is still within its
    /// grace at `now`: the instant its grace ends, before which no connection may be
    /// admitted. `None` when one may be now.
    fn full_until(&self, now: Instant) -> Option<Instant> {
        if self.open.len() < self.cap || self.open.iter().any(|open| open.another_user) {
            return None;
        }
        let until = self.open.front()?.accepted + self.grace;
        (until > now).then_some(until)
    }

    /// Adds a connection accepted at `now`. When `cap` are open, one is closed first: the
    /// oldest of another user's, or else the oldest (the caller has waited out its grace
    /// with [`Self::full_until`]). Returns whether one was.
    fn admit(&mut self, now: Instant, another_user: bool, connection: F) -> bool {
        let evicted = self.open.len() >= self.cap && {
            let oldest = self.open.iter().position(|open| open.another_user).unwrap_or(0);
            self.open.remove(oldest).is_some()
        };
        self.open.push_back(Open { accepted: now, another_user, serving: Box::pin(connection) });
        evicted
    }

    /// Polls every connection; the first to finish is removed (its socket closed by then) and
    /// its outcome returned. Pending when none has finished (or none is open).
    fn poll_finished(&mut self, cx: &mut Context<'_>) -> Poll<Outcome> {
        for index in 0..self.open.len() {
            if let Poll::Ready(outcome) = self.open[index].serving.as_mut().poll(cx) {
                self.open.remove(index);
                return Poll::Ready(outcome);
            }
        }
        Poll::Pending
    }
}

/// How one connection ended.
#[derive(Debug)]
enum Outcome {
    /// The genuine redirect; the success page was sent (or the browser left first).
    Code(Callback),
    /// The genuine redirect with the provider's refusal; the refused page was sent.
    Refused { error: String, description: Option<String> },
    /// A well-formed request that is not this sign-in's redirect; answered 400. `path` is the
    /// target without its query, shortened, for the log.
    Stray { reason: &'static str, path: String },
    /// Not a request head the listener serves (malformed, too long, another version);
    /// answered 400, 414, 431 or 505.
    Rejected(HeadError),
    /// No complete head before the connection's deadline; closed without an answer.
    TimedOut,
    /// The peer closed the connection before sending a whole head (a browser's spare
    /// connection does).
    Abandoned,
    /// Reading failed (reset by the peer...).
    Failed,
}

impl Outcome {
    /// The status and page to answer with, if any.
    fn reply(&self) -> Option<(Status, String)> {
        match self {
            Outcome::Code(_) => Some((Status::Ok, page::success())),
            Outcome::Refused { error, description } => Some((Status::Ok, page::refused(error, description.as_deref()))),
            Outcome::Stray { reason, .. } => Some((Status::BadRequest, page::stray(reason))),
            Outcome::Rejected(err) => {
                let status = match err {
                    HeadError::RequestLineTooLong => Status::UriTooLong,
                    HeadError::HeadTooLarge => Status::HeaderFieldsTooLarge,
                    HeadError::UnsupportedVersion => Status::VersionNotSupported,
                    HeadError::Malformed(_) | HeadError::Incomplete => Status::BadRequest,
                };
                Some((status, page::stray(&err.to_string())))
            }
            Outcome::TimedOut | Outcome::Abandoned | Outcome::Failed => None,
        }
    }
}

/// Reads one request head, judges it, answers it, and closes the connection (by returning:
/// the stream is dropped). Everything happens before `deadline`; the genuine redirect counts
/// even if its page cannot be sent in time.
async fn serve_connection(mut stream: TcpStream, path: &str, state: &str, deadline: Instant) -> Outcome {
    // One allocation, never grown (so never copied), wiped on drop: it may hold the code.
    let mut head = Zeroizing::new(Vec::with_capacity(MAX_HEAD));
    let outcome = match tokio::time::timeout_at(deadline, read_head(&mut stream, &mut head)).await {
        Err(_elapsed) => return Outcome::TimedOut,
        Ok(Err(outcome)) => return outcome,
        Ok(Ok(())) => decide(&head, path, state),
    };
    if let Some((status, page)) = outcome.reply()
        && let Err(err) = tokio::time::timeout_at(deadline, respond(&mut stream, status, &page))
            .await
            .unwrap_or_else(|_elapsed| Err(io::ErrorKind::TimedOut.into()))
    {
        tracing::debug!(%err, "the client went away before the page was sent");
    }
    outcome
}

/// Reads until [`parse_request_head`] can answer: the head is complete, or has a problem, or
/// is over a limit. Never reads beyond [`MAX_HEAD`] bytes.
async fn read_head(stream: &mut TcpStream, head: &mut Vec<u8>) -> Result<(), Outcome> {
    let mut scan = HeadScan::default();
    loop {
        let start = head.len();
        // The buffer's capacity is MAX_HEAD, so this never grows it.
        let mut room = (&mut *stream).take((MAX_HEAD - start) as u64);
        match room.read_buf(head).await {
            Ok(0) => return Err(Outcome::Abandoned),
            Ok(_) => {}
            Err(_) => return Err(Outcome::Failed),
        }
        if !matches!(scan.advance(head), Ok(None)) {
            return Ok(());
        }
    }
}

/// What to make of a complete (or over-long) head.
fn decide(head: &[u8], path: &str, state: &str) -> Outcome {
    let request = match parse_request_head(head) {
        Ok(request) => request,
        Err(err) => return Outcome::Rejected(err),
    };
    let stray = |reason| {
        let shown = request.target.split('?').next().unwrap_or_default();
        Outcome::Stray { reason, path: shown.chars().take(LOGGED_PATH).collect() }
    };
    if request.method != "GET" {
        return stray("not a GET");
    }
    match judge(request.target, path, state) {
        Judgement::Code { code, iss } => Outcome::Code(Callback { code: Secret::new(code), iss }),
        Judgement::Refused { error, description, iss: _ } => Outcome::Refused { error, description },
        Judgement::Stray(reason) => stray(reason),
    }
}

/// The statuses the listener answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    BadRequest,
    UriTooLong,
    HeaderFieldsTooLarge,
    VersionNotSupported,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::UriTooLong => "414 URI Too Long",
            Status::HeaderFieldsTooLarge => "431 Request Header Fields Too Large",
            Status::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }
}

/// Sends the whole response in one write, then ends our side of the connection.
async fn respond(stream: &mut TcpStream, status: Status, html: &str) -> io::Result<()> {
    const HEADERS: &str = "Content-Type: text/html; charset=utf-8\r\n\
                           Cache-Control: no-store\r\n\
                           Referrer-Policy: no-referrer\r\n\
                           X-Content-Type-Options: nosniff\r\n\
                           Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
                           Connection: close\r\n";
    let response = format!("HTTP/1.1 {}\r\n{HEADERS}Content-Length: {}\r\n\r\n{html}", status.line(), html.len());
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// What the listener saw during one wait, for a log that stays short whatever arrives: the
/// first [`LOGGED_EVENTS`] turned-away requests one by one, then a summary when dropped.
#[derive(Debug, Default)]
struct Tally {
    accepted: u64,
    peak_open: usize,
    evicted: u64,
    /// Times accepting waited for the oldest connection's grace to end.
    waited_for_room: u64,
    /// Connections another user opened.
    another_user: u64,
    strays: u64,
    rejected: u64,
    timed_out: u64,
    abandoned: u64,
    failed: u64,
    accept_errors: u64,
    logged: u32,
}

impl Tally {
    fn admitted(&mut self, evicted: bool, another_user: bool, open: usize) {
        self.accepted += 1;
        self.another_user += u64::from(another_user);
        self.evicted += u64::from(evicted);
        self.peak_open = self.peak_open.max(open);
    }

    fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Stray { reason, path } => {
                self.strays += 1;
                if self.may_log() {
                    tracing::warn!(
                        path = path.as_str(),
                        reason,
                        "ignored a request that is not this sign-in's redirect"
                    );
                }
            }
            Outcome::Rejected(err) => {
                self.rejected += 1;
                if self.may_log() {
                    tracing::warn!(%err, "refused a request to the redirect listener");
                }
            }
            Outcome::TimedOut => self.timed_out += 1,
            Outcome::Abandoned => self.abandoned += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Code(_) | Outcome::Refused { .. } => {}
        }
    }

    fn accept_failed(&mut self, err: &io::Error) {
        self.accept_errors += 1;
        if self.may_log() {
            tracing::warn!(%err, "the redirect listener could not accept a connection; trying again shortly");
        }
    }

    fn may_log(&mut self) -> bool {
        let may = self.logged < LOGGED_EVENTS;
        self.logged += u32::from(may);
        may
    }

    /// Connections turned away or cut short by the listener.
    fn turned_away(&self) -> u64 {
        self.strays + self.rejected + self.timed_out + self.evicted
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        let turned_away = self.turned_away();
        if turned_away > 0 || self.accept_errors > 0 {
            tracing::warn!(
                accepted = self.accepted,
                strays = self.strays,
                refused = self.rejected,
                timed_out = self.timed_out,
                evicted = self.evicted,
                waited_for_room = self.waited_for_room,
                from_another_user = self.another_user,
                abandoned = self.abandoned,
                failed = self.failed,
                accept_errors = self.accept_errors,
                peak_open = self.peak_open,
                "the redirect listener turned away {turned_away} connections during this sign-in"
            );
        } else {
            tracing::debug!(accepted = self.accepted, abandoned = self.abandoned, "the redirect listener is closed");
        }
    }
}

/// The small pages the browser shows.
mod page {
    fn layout(title: &str, body: &str) -> String {
        format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title} - Keyport</title>\
             <style>body{{font:16px system-ui,sans-serif;max-width:32em;margin:15vh auto;padding:0 1em;color:#1b1f24;background:#fff}}\
             @media(prefers-color-scheme:dark){{body{{color:#e6e6e6;background:#16181c}}}}h1{{font-size:1.4em}}</style>\
             <h1>{title}</h1>{body}</html>"
        )
    }

    pub fn success() -> String {
        layout("Signed in", "<p>Keyport has your sign-in. You can close this tab and go back to Keyport.</p>")
    }

    pub fn refused(error: &str, description: Option<&str>) -> String {
        let detail = description.map(|d| format!(" ({})", escape(d))).unwrap_or_default();
        layout(
            "Sign-in not completed",
            &format!(
                "<p>The provider answered <code>{}</code>{detail}. Nothing was saved. You can close this tab.</p>",
                escape(error)
            ),
        )
    }

    pub fn stray(reason: &str) -> String {
        let mut body =
            format!("<p>This request does not belong to the sign-in Keyport is waiting for ({}).</p>", escape(reason));
        if reason == super::ERROR_WITHOUT_STATE {
            body.push_str(
                "<p>The provider reported an error but left out the sign-in's <code>state</code>, so Keyport \
                 cannot tell it from a forged request and is still waiting. If the sign-in failed at the \
                 provider, cancel it in Keyport (Ctrl-C, or Cancel in the window) and try again.</p>",
            );
        }
        layout("Not a Keyport sign-in", &body)
    }

    pub fn escape(text: &str) -> String {
        text.chars()
            .map(|c| match c {
                '<' => "&lt;".to_owned(),
                '>' => "&gt;".to_owned(),
                '&' => "&amp;".to_owned(),
                '"' => "&quot;".to_owned(),
                '\'' => "&#39;".to_owned(),
                other => other.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream as StdStream;

    const GENUINE: &str = "/callback?code=good&state=s1";

    /// A head as Chrome sends it for the redirect (10 header fields).
    const CHROME: &[u8] = b"GET /callback?code=abc&state=s1&iss=http%3A%2F%2F127.0.0.1%3A3000 HTTP/1.1\r\n\
        Host: 127.0.0.1:43123\r\n\
        Connection: keep-alive\r\n\
        sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n\
        Upgrade-Insecure-Requests: 1\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
        Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
        Sec-Fetch-Site: cross-site\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\n\
        Accept-Language: en-GB,en;q=0.9\r\n\
        Cookie: session=abc; theme=dark\r\n\
        \r\n";

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    fn request(target: &str) -> Vec<u8> {
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes()
    }

    /// Sends `bytes` (as far as the server reads them), then reads the reply until the server
    /// closes the connection.
    fn exchange(address: SocketAddr, bytes: &[u8]) -> String {
        let mut stream = StdStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = stream.write_all(bytes);
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        String::from_utf8_lossy(&reply).into_owned()
    }

    fn get(address: SocketAddr, target: &str) -> String {
        exchange(address, &request(target))
    }

    /// The status code of a reply (`HTTP/1.1 200 OK...` gives `200`).
    fn status(reply: &str) -> &str {
        reply.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).unwrap_or(reply)
    }

    /// Whether the server has closed `stream` (end of stream or reset, after any answer),
    /// waiting up to 10 s.
    fn closed_by_server(stream: &StdStream) -> bool {
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buffer = [0; 4096];
        loop {
            match (&*stream).read(&mut buffer) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(err) => return err.kind() == io::ErrorKind::ConnectionReset,
            }
        }
    }

    /// Whether `stream` is still open from the server's side right now.
    fn open_now(stream: &StdStream) -> bool {
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0; 1];
        let open = matches!((&*stream).read(&mut byte), Err(err) if err.kind() == io::ErrorKind::WouldBlock);
        stream.set_nonblocking(false).unwrap();
        open
    }

    /// Runs the wait (state `s1`) on this thread while `client` runs on another; returns the
    /// wait's result, what the listener counted, and what the client returned.
    fn serve_with<T: Send + 'static>(
        listener: RedirectListener,
        timeout: Duration,
        client: impl FnOnce(SocketAddr) -> T + Send + 'static,
    ) -> (Result<Callback, Error>, Tally, T) {
        let address = listener.local_addrs()[0];
        let client = std::thread::spawn(move || client(address));
        let mut tally = Tally::default();
        let result = runtime().block_on(listener.serve("s1", timeout, &mut tally));
        (result, tally, client.join().expect("the client thread"))
    }

    fn ipv6_loopback_available() -> bool {
        std::net::TcpListener::bind("[::1]:0").is_ok()
    }

    /// Entries in a `/proc/self` directory (descriptors, threads).
    #[cfg(target_os = "linux")]
    fn count(dir: &str) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    /// Runs test `name` of this module again, alone, in a child process, and asserts that it
    /// passed there; true when called in that child. For tests that count this process's
    /// descriptors and threads, or run it out of descriptors: other tests running beside
    /// them would disturb both.
    #[cfg(target_os = "linux")]
    fn alone_in_a_child(name: &str) -> bool {
        const CHILD: &str = "KEYPORT_REDIRECT_TEST_ALONE";
        if std::env::var_os(CHILD).is_some() {
            return true;
        }
        let module = module_path!().split_once("::").map_or(module_path!(), |(_crate, path)| path);
        let test = format!("{module}::{name}");
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test.as_str(), "--exact", "--test-threads=1", "--nocapture"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{test} failed in its own process:\n{stdout}\n{stderr}");
        assert!(stdout.contains("1 passed"), "{test} did not run in its own process:\n{stdout}\n{stderr}");
        false
    }

    // --- request heads -------------------------------------------------------------------

    #[test]
    fn a_browser_request_head_is_parsed() {
        let head = parse_request_head(CHROME).unwrap();
        assert_eq!(
            head,
            RequestHead {
                method: "GET",
                target: "/callback?code=abc&state=s1&iss=http%3A%2F%2F127.0.0.1%3A3000",
                version: HttpVersion::Http11,
                fields: 10,
                len: CHROME.len(),
            }
        );
        let old = parse_request_head(b"GET /callback?code=a&state=s1 HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!((old.version, old.fields, old.target), (HttpVersion::Http10, 0, "/callback?code=a&state=s1"));
        // Bytes after the head (a body, a pipelined request) are not part of it.
        let mut more = CHROME.to_vec();
        more.extend_from_slice(b"a body\r\n\r\nGET / HTTP/1.1\r\n");
        assert_eq!(parse_request_head(&more).unwrap().len, CHROME.len());
        // Other methods are parsed; the listener turns them away.
        let post = parse_request_head(b"POST /callback HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").unwrap();
        assert_eq!((post.method, post.fields), ("POST", 1));
        // Field values may be empty, and hold tabs, spaces and bytes >= 0x80.
        let odd = parse_request_head(b"GET / HTTP/1.1\r\nX-Empty:\r\nX-Odd: \tcaf\xc3\xa9 \r\n\r\n").unwrap();
        assert_eq!(odd.fields, 2);
    }

    #[test]
    fn every_prefix_of_a_head_is_incomplete() {
        for end in 0..CHROME.len() {
            assert_eq!(parse_request_head(&CHROME[..end]), Err(HeadError::Incomplete), "first {end} bytes");
        }
    }

    #[test]
    fn request_lines_up_to_the_limit_are_accepted_and_longer_ones_refused() {
        // `GET /aaa... HTTP/1.1`, `len` bytes without its CRLF.
        let line = |len: usize| format!("GET /{} HTTP/1.1", "a".repeat(len - "GET / HTTP/1.1".len()));
        let at_limit = format!("{}\r\n\r\n", line(MAX_REQUEST_LINE));
        assert_eq!(parse_request_head(at_limit.as_bytes()).unwrap().len, MAX_REQUEST_LINE + 4);
        let over = format!("{}\r\n\r\n", line(MAX_REQUEST_LINE + 1));
        assert_eq!(parse_request_head(over.as_bytes()), Err(HeadError::RequestLineTooLong));
        // Refused without waiting for the line to end: a 300 MiB line costs MAX_REQUEST_LINE.
        let mut endless = b"GET /".to_vec();
        endless.resize(MAX_REQUEST_LINE + 2, b'a');
        assert_eq!(parse_request_head(&endless[..MAX_REQUEST_LINE + 1]), Err(HeadError::Incomplete));
        assert_eq!(parse_request_head(&endless), Err(HeadError::RequestLineTooLong));
        endless.resize(100 * MAX_HEAD, b'a');
        assert_eq!(parse_request_head(&endless), Err(HeadError::RequestLineTooLong));
    }

    /// A head of exactly `len` bytes: a request line, one long field, the empty line.
    fn head_of(len: usize) -> Vec<u8> {
        let mut head = b"GET /callback HTTP/1.1\r\nX-Pad: ".to_vec();
        head.resize(len - 4, b'p');
        head.extend_from_slice(b"\r\n\r\n");
        head
    }

    #[test]
    fn heads_up_to_the_limit_are_accepted_and_larger_ones_refused() {
        assert_eq!(parse_request_head(&head_of(MAX_HEAD)).unwrap().len, MAX_HEAD);
        assert_eq!(parse_request_head(&head_of(MAX_HEAD + 1)), Err(HeadError::HeadTooLarge));
        // Many small fields and no end: refused once MAX_HEAD bytes are there, not before.
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        while many.len() < 2 * MAX_HEAD {
            many.extend_from_slice(b"A: b\r\n");
        }
        assert_eq!(parse_request_head(&many[..MAX_HEAD - 1]), Err(HeadError::Incomplete));
        assert_eq!(parse_request_head(&many[..MAX_HEAD]), Err(HeadError::HeadTooLarge));
        assert_eq!(parse_request_head(&many), Err(HeadError::HeadTooLarge));
    }

    #[test]
    fn lines_must_end_in_crlf() {
        for bytes in [
            &b"GET / HTTP/1.1\n\n"[..],
            b"GET / HTTP/1.1\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\n",
            b"\n",
            b"\r\n",
            b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            b"GET /\r HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\r\n\r\n",
        ] {
            assert!(
                matches!(parse_request_head(bytes), Err(HeadError::Malformed(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(bytes),
                parse_request_head(bytes)
            );
        }
    }

    #[test]
    fn only_origin_form_targets_and_http_1_are_accepted() {
        let not_a_path = HeadError::Malformed("the target is not a path");
        let bad_char = HeadError::Malformed("the target has a character a URL path cannot have");
        let shape = HeadError::Malformed("the request line is not `METHOD TARGET VERSION`");
        for (line, expected) in [
            ("GET http://127.0.0.1:1234/callback?code=a&state=s1 HTTP/1.1", not_a_path),
            ("CONNECT 127.0.0.1:443 HTTP/1.1", not_a_path),
            ("OPTIONS * HTTP/1.1", not_a_path),
            ("PRI * HTTP/2.0", not_a_path),
            ("GET /callback#top HTTP/1.1", bad_char),
            ("GET /caf\u{e9} HTTP/1.1", bad_char),
            ("GET /a\u{7f} HTTP/1.1", bad_char),
            ("GET /a b HTTP/1.1", shape),
            ("GET  / HTTP/1.1", shape),
            ("GET / HTTP/1.1 ", shape),
            ("GET /", shape),
            ("GET\t/ HTTP/1.1", shape),
            ("", shape),
            ("G(T / HTTP/1.1", HeadError::Malformed("the method is not a token")),
            ("GET / HTTP/2.0", HeadError::UnsupportedVersion),
            ("GET / HTTP/0.9", HeadError::UnsupportedVersion),
            ("GET / HTTP/3.0", HeadError::UnsupportedVersion),
            ("GET / HTTP/1.10", HeadError::Malformed("no HTTP version")),
            ("GET / http/1.1", HeadError::Malformed("no HTTP version")),
            ("GET / FTP/1.1", HeadError::Malformed("no HTTP version")),
        ] {
            let head = format!("{line}\r\nHost: x\r\n\r\n");
            assert_eq!(parse_request_head(head.as_bytes()), Err(expected), "{line:?}");
        }
    }

    #[test]
    fn header_fields_are_checked() {
        for (field, reason) in [
            (&b" folded"[..], "obsolete line folding"),
            (b"\tfolded", "obsolete line folding"),
            (b"NoColon", "a header field without a colon"),
            (b"Host : x", "a header field name is not a token"),
            (b": x", "a header field name is not a token"),
            (b"B\xc3\xa4d: x", "a header field name is not a token"),
            (b"X: a\x00b", "a control character in a header field"),
            (b"X: a\x7fb", "a control character in a header field"),
            (b"X: a\x1bb", "a control character in a header field"),
        ] {
            let mut head = b"GET / HTTP/1.1\r\nHost: ok\r\n".to_vec();
            head.extend_from_slice(field);
            head.extend_from_slice(b"\r\n\r\n");
            assert_eq!(
                parse_request_head(&head),
                Err(HeadError::Malformed(reason)),
                "{:?}",
                String::from_utf8_lossy(field)
            );
        }
    }

    /// A small deterministic generator (xorshift64*), so a failure can be replayed.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    #[test]
    fn any_bytes_in_any_pieces_get_the_answer_the_whole_bytes_get() {
        const ALPHABET: &[u8] = b"\r\n\r\n  ::GET/ HTTP/1.1\r\nHost: a\r\n\t\x00\x7f\xff#?*";
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        for round in 0..3000 {
            // Mutated real heads, text made of HTTP's own characters, and a few long inputs.
            let mut bytes = match round % 3 {
                0 => CHROME.to_vec(),
                1 => (0..noise.below(200)).map(|_| ALPHABET[noise.below(ALPHABET.len())]).collect(),
                _ => {
                    let mut long = b"GET /".to_vec();
                    let len = noise.below(2 * MAX_HEAD);
                    long.extend((0..len).map(|_| if noise.below(500) == 0 { b'\n' } else { b'a' }));
                    long
                }
            };
            for _ in 0..noise.below(4) {
                if !bytes.is_empty() {
                    let at = noise.below(bytes.len());
                    bytes[at] = ALPHABET[noise.below(ALPHABET.len())];
                }
            }
            let whole = parse_request_head(&bytes);
            // Fed in random pieces to the line-by-line checks `read_head` runs, which stop where
            // the answer is known; each piece is looked at once.
            let (mut scan, mut fed, mut decided) = (HeadScan::default(), 0, None);
            while fed < bytes.len().min(MAX_HEAD) {
                fed = (fed + 1 + noise.below(3000)).min(bytes.len()).min(MAX_HEAD);
                match scan.advance(&bytes[..fed]) {
                    Ok(None) => {}
                    Ok(Some(len)) => {
                        decided = Some(scan.head(&bytes[..fed], len));
                        break;
                    }
                    Err(err) => {
                        decided = Some(Err(err));
                        break;
                    }
                }
            }
            match decided {
                Some(answer) => assert_eq!(answer, whole, "round {round}"),
                None => assert_eq!(whole, Err(HeadError::Incomplete), "round {round}: the reader would wait"),
            }
        }
    }

    // --- judging -------------------------------------------------------------------------

    #[test]
    fn genuine_redirect_is_recognised() {
        assert_eq!(
            judge("/callback?code=abc&state=s1&iss=https%3A%2F%2Fid.example", "/callback", "s1"),
            Judgement::Code { code: "abc".into(), iss: Some("https://id.example".into()) }
        );
    }

    #[test]
    fn stray_requests_are_recognised() {
        for (target, why) in [
            ("/favicon.ico", "not the redirect path"),
            ("/callback?code=abc", "no state"),
            ("/callback?code=abc&state=forged", "wrong state"),
            ("/callback?state=s1", "no code"),
            ("/callback?code=&state=s1", "no code"),
            ("/callback?code=a&code=b&state=s1", "a parameter appears twice"),
            ("/callbackx?code=a&state=s1", "not the redirect path"),
            ("/callback?error=access_denied", ERROR_WITHOUT_STATE),
            ("/callback?error=access_denied&state=forged", "wrong state"),
            // A path, not a URL of another host that happens to have the right path.
            ("//evil.example/callback?code=a&state=s1", "not the redirect path"),
            ("http://127.0.0.1/callback?code=a&state=s1", "unreadable request"),
        ] {
            assert_eq!(judge(target, "/callback", "s1"), Judgement::Stray(why), "{target}");
        }
    }

    /// An error redirect without `state` (Authlib 1.2 sends some) is ignored, but the page
    /// tells the person in front of it why Keyport still waits and what to do.
    #[test]
    fn the_page_for_an_error_without_state_says_what_to_do() {
        let page = page::stray(ERROR_WITHOUT_STATE);
        assert!(page.contains("left out the sign-in") && page.contains("cancel it in Keyport"), "{page}");
        assert!(!page::stray("no state").contains("cancel it"), "only for errors");
    }

    #[test]
    fn error_with_the_right_state_ends_the_sign_in() {
        assert_eq!(
            judge("/callback?error=access_denied&error_description=no+thanks&state=s1", "/callback", "s1"),
            Judgement::Refused { error: "access_denied".into(), description: Some("no thanks".into()), iss: None }
        );
    }

    #[test]
    fn pages_escape_provider_text() {
        let html = page::refused("<script>", Some("\"x\" & y"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;") && html.contains("&quot;x&quot; &amp; y"));
    }

    // --- the listener --------------------------------------------------------------------

    #[test]
    fn listener_ignores_strays_then_takes_the_genuine_redirect_and_closes() {
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let uri = listener.redirect_uri().clone();
        assert_eq!(uri.host_str(), Some("127.0.0.1"));
        assert_eq!(uri.path(), "/callback");
        let port = uri.port().unwrap();
        let mut no_end = head_of(MAX_HEAD + 100);
        no_end.truncate(MAX_HEAD);
        let (result, tally, replies) = serve_with(listener, Duration::from_secs(20), move |address| {
            [
                get(address, "/callback?code=evil&state=forged"),
                get(address, "/favicon.ico"),
                exchange(address, b"POST /callback?code=good&state=s1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
                exchange(address, b"GET /callback?code=good&state=s1 HTTP/2.0\r\n\r\n"),
                exchange(address, b"GET http://127.0.0.1/callback?code=good&state=s1 HTTP/1.1\r\n\r\n"),
                exchange(address, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n"),
                exchange(address, &[b'a'; MAX_REQUEST_LINE + 2]),
                exchange(address, &no_end),
                exchange(address, b"GET /callback?code=good&state=s1 HTTP/1.0\r\n\r\n"),
            ]
        });
        assert_eq!(result.unwrap().code.expose(), "good");
        let statuses: Vec<&str> = replies.iter().map(|reply| status(reply)).collect();
        assert_eq!(statuses, ["400", "400", "400", "505", "400", "400", "414", "431", "200"], "{replies:#?}");
        assert!(replies[0].contains("Not a Keyport sign-in") && replies[0].contains("(wrong state)"), "{}", replies[0]);
        let genuine = &replies[8];
        assert!(genuine.contains("Signed in") && genuine.contains("\r\nConnection: close\r\n"), "{genuine}");
        let (head, body) = genuine.split_once("\r\n\r\n").unwrap();
        let fields: Vec<&str> = head.lines().skip(1).collect();
        assert!(fields.contains(&format!("Content-Length: {}", body.len()).as_str()), "{head}");
        assert!(fields.contains(&"Cache-Control: no-store"), "{head}");
        assert_eq!((tally.strays, tally.rejected, tally.accepted), (3, 5, 9), "{tally:?}");
        // Single use: the port is closed as soon as the wait is over.
        assert!(StdStream::connect(("127.0.0.1", port)).is_err(), "the listener still accepts connections");
    }

    #[test]
    fn the_providers_refusal_ends_the_wait() {
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let (result, _, reply) = serve_with(listener, Duration::from_secs(20), |address| {
            get(address, "/callback?error=access_denied&error_description=no+%3Cthanks%3E&state=s1")
        });
        assert!(
            matches!(&result, Err(Error::AuthorizationDenied { error, description })
                if error == "access_denied" && description.as_deref() == Some("no <thanks>")),
            "{result:?}"
        );
        assert_eq!(status(&reply), "200");
        assert!(reply.contains("Sign-in not completed") && reply.contains("no &lt;thanks&gt;"), "{reply}");
    }

    #[test]
    fn the_wait_times_out_and_dropping_it_closes_everything() {
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let result = runtime().block_on(listener.wait("s1", Duration::from_millis(300)));
        assert!(matches!(result, Err(Error::SignInTimedOut { secs: 0 })), "{result:?}");

        // Cancelled (the future dropped) with connections open: they and the port close at once.
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let address = listener.local_addrs()[0];
        let held: Vec<StdStream> = (0..5).map(|_| StdStream::connect(address).unwrap()).collect();
        let waited = runtime().block_on(async {
            tokio::time::timeout(Duration::from_millis(500), listener.wait("s1", Duration::from_secs(60))).await
        });
        assert!(waited.is_err(), "the wait was still going when it was dropped");
        for stream in &held {
            assert!(closed_by_server(stream), "a connection outlived the cancelled wait");
        }
        assert!(StdStream::connect(address).is_err(), "the port outlived the cancelled wait");
    }

    #[test]
    fn a_connection_gets_its_deadline_however_slowly_it_sends() {
        const DEADLINE: Duration = Duration::from_millis(600);
        let mut listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        listener.limits.connection_deadline = DEADLINE;
        let (result, tally, (silent, drip)) = serve_with(listener, Duration::from_secs(30), |address| {
            let silent = std::thread::spawn(move || {
                let stream = StdStream::connect(address).unwrap();
                let connected = std::time::Instant::now();
                assert!(closed_by_server(&stream));
                connected.elapsed()
            });
            // A byte every 50 ms: the whole 100 bytes would take 5 s.
            let stream = StdStream::connect(address).unwrap();
            let connected = std::time::Instant::now();
            let mut writer = stream.try_clone().unwrap();
            let dripper = std::thread::spawn(move || {
                for byte in b"GET /callback?code=slow&state=".iter().chain(&[b'a'; 70]) {
                    if writer.write_all(&[*byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
            assert!(closed_by_server(&stream));
            let drip = connected.elapsed();
            dripper.join().unwrap();
            let silent = silent.join().unwrap();
            // Both are gone: now the browser.
            assert_eq!(status(&get(address, GENUINE)), "200");
            (silent, drip)
        });
        assert!(result.is_ok(), "{result:?}");
        for (what, took) in [("silent", silent), ("slow drip", drip)] {
            assert!(took >= DEADLINE && took < Duration::from_secs(4), "the {what} connection lasted {took:?}");
        }
        assert_eq!(tally.timed_out, 2, "{tally:?}");
    }

    #[test]
    fn at_the_cap_the_oldest_connection_makes_room_once_its_grace_ends_and_the_browser_gets_through() {
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let (result, tally, (oldest_lived, second_was_open, reply)) =
            serve_with(listener, Duration::from_secs(30), |address| {
                let connected = std::time::Instant::now();
                let held: Vec<StdStream> = (0..MAX_CONNECTIONS).map(|_| StdStream::connect(address).unwrap()).collect();
                // One more: connections are accepted in the order they came, so the oldest goes,
                // but not before it has had its grace.
                let _extra = StdStream::connect(address).unwrap();
                assert!(closed_by_server(&held[0]), "the oldest connection was not closed");
                let oldest_lived = connected.elapsed();
                let second_was_open = open_now(&held[1]);
                let reply = get(address, GENUINE);
                (oldest_lived, second_was_open, reply)
            });
        assert!(result.is_ok(), "{result:?}");
        assert!(oldest_lived >= EVICTION_GRACE, "the oldest connection was closed after {oldest_lived:?}");
        assert!(second_was_open, "only the oldest connection is closed to make room");
        assert_eq!(status(&reply), "200");
        assert_eq!((tally.evicted, tally.peak_open), (2, MAX_CONNECTIONS), "{tally:?}");
        assert!(tally.waited_for_room >= 1, "{tally:?}");
    }

    #[test]
    fn another_users_connections_make_room_first_and_without_grace() {
        let grace = Duration::from_millis(100);
        let mut open = Connections::new(3, grace);
        let start = Instant::now();
        let pending = || std::future::pending::<Outcome>();
        assert!(!open.admit(start, false, pending()));
        assert!(!open.admit(start, true, pending()));
        assert!(!open.admit(start, false, pending()));
        // Full, but one is another user's: room now, made by closing that one.
        assert_eq!(open.full_until(start), None);
        assert!(open.admit(start, false, pending()));
        assert!(open.open.iter().all(|open| !open.another_user), "another user's connection was kept");
        // Now all are within their grace: no room until the oldest's ends.
        assert_eq!(open.full_until(start), Some(start + grace));
        assert_eq!(open.full_until(start + grace), None);
        let oldest_after = open.open[1].accepted;
        assert!(open.admit(start + grace, false, pending()));
        assert_eq!(open.open[0].accepted, oldest_after, "the oldest was not the one closed");
        assert_eq!(open.len(), 3);
    }

    /// The race a flood used to win: the browser's connection is accepted before its request
    /// arrives, and a burst of newcomers follows it. Every connection keeps its grace, so the
    /// newcomers wait in the kernel's queue and the browser's request is read when it comes.
    #[test]
    fn a_browser_slow_to_send_its_request_keeps_its_connection_through_a_burst_of_newcomers() {
        const GRACE: Duration = Duration::from_secs(2);
        const BROWSER_DELAY: Duration = Duration::from_millis(300);
        let mut listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        listener.limits.eviction_grace = GRACE;
        let (result, tally, (reply, burst)) = serve_with(listener, Duration::from_secs(30), |address| {
            // The cap less one, then the browser's connection: all accepted at once, in order.
            let held: Vec<StdStream> = (0..MAX_CONNECTIONS - 1).map(|_| StdStream::connect(address).unwrap()).collect();
            let mut browser = StdStream::connect(address).unwrap();
            // A burst behind it, several times the cap.
            let burst: Vec<StdStream> =
                (0..4 * MAX_CONNECTIONS).map(|_| StdStream::connect(address).unwrap()).collect();
            std::thread::sleep(BROWSER_DELAY);
            browser.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut reply = Vec::new();
            let answered = browser.write_all(&request(GENUINE)).and_then(|()| browser.read_to_end(&mut reply));
            drop(held);
            (answered.map(|_| String::from_utf8_lossy(&reply).into_owned()), burst)
        });
        let reply = reply.expect("the browser's connection was closed before its request was read");
        assert_eq!(status(&reply), "200", "{reply}");
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(tally.evicted, 0, "a connection was closed within its grace: {tally:?}");
        assert!(tally.waited_for_room >= 1, "{tally:?}");
        drop(burst);
    }

    #[test]
    fn a_thousand_held_connections_do_not_keep_the_browser_out() {
        const HOSTILE: usize = 1000;
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let (result, tally, (held, reply)) = serve_with(listener, Duration::from_secs(60), |address| {
            let held: Vec<StdStream> = (0..HOSTILE)
                .map(|n| {
                    let mut stream = StdStream::connect(address).unwrap();
                    let start: &[u8] = match n % 4 {
                        0 => b"",
                        1 => b"GET /callback?code=x&state=",
                        2 => &[b'a'; 4096],
                        _ => b"\x00\xff garbage \x01",
                    };
                    stream.write_all(start).unwrap();
                    stream
                })
                .collect();
            let reply = get(address, GENUINE);
            (held, reply)
        });
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(status(&reply), "200");
        assert!(tally.peak_open <= MAX_CONNECTIONS, "{tally:?}");
        assert_eq!(tally.accepted, HOSTILE as u64 + 1, "{tally:?}");
        for stream in &held {
            assert!(closed_by_server(stream), "a hostile connection outlived the sign-in");
        }
    }

    #[test]
    fn each_host_binds_its_loopback_address_and_never_a_wildcard() {
        let v4 = RedirectListener::bind(RedirectHost::Ipv4, "/cb").unwrap();
        assert_eq!(v4.local_addrs(), [SocketAddr::from((Ipv4Addr::LOCALHOST, v4.redirect_uri().port().unwrap()))]);
        if !ipv6_loopback_available() {
            println!("SKIPPED the ::1 part: no IPv6 loopback here");
            return;
        }
        let v6 = RedirectListener::bind(RedirectHost::Ipv6, "/cb").unwrap();
        assert_eq!(v6.redirect_uri().host_str(), Some("[::1]"));
        assert_eq!(v6.local_addrs(), [SocketAddr::from((Ipv6Addr::LOCALHOST, v6.redirect_uri().port().unwrap()))]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn localhost_holds_the_same_port_on_both_loopback_addresses() {
        if !ipv6_loopback_available() {
            println!("SKIPPED: no IPv6 loopback here (then 127.0.0.1 alone is bound, and is safe)");
            return;
        }
        let listener = RedirectListener::bind(RedirectHost::Localhost, "/callback").unwrap();
        assert_eq!(listener.redirect_uri().host_str(), Some("localhost"));
        let port = listener.redirect_uri().port().unwrap();
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        assert_eq!(listener.local_addrs(), [v4, v6]);
        // Nobody else can listen there: not with address or port reuse, not on a wildcard.
        let wildcards =
            [SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))];
        for address in [v4, v6].into_iter().chain(wildcards) {
            let err = std::net::TcpListener::bind(address).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{address}: {err}");
            let socket =
                socket2::Socket::new(socket2::Domain::for_address(address), socket2::Type::STREAM, None).unwrap();
            socket.set_reuse_address(true).unwrap();
            socket.set_reuse_port(true).unwrap();
            let err = socket.bind(&address.into()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{address} with SO_REUSEPORT: {err}");
        }
        // A browser reaches it on either address.
        let (result, tally, replies) = serve_with(listener, Duration::from_secs(20), move |_| {
            (get(v6, "/callback?code=x&state=forged"), get(v4, "/favicon.ico"), get(v6, GENUINE))
        });
        assert!(result.is_ok(), "{result:?}");
        assert_eq!((status(&replies.0), status(&replies.1), status(&replies.2)), ("400", "400", "200"));
        assert_eq!(tally.strays, 2);
        assert!(StdStream::connect(v4).is_err() && StdStream::connect(v6).is_err(), "both sockets are closed");
    }

    // Unix sockets options, errno values and /proc: tests of this machine's (Linux's) kernel.
    #[cfg(target_os = "linux")]
    #[test]
    fn localhost_lets_go_of_a_port_whose_ipv6_loopback_is_taken() {
        if !ipv6_loopback_available() {
            println!("SKIPPED: no IPv6 loopback here");
            return;
        }
        // Another socket on ::1, on a port that is free on 127.0.0.1.
        let (other, port) = (0..20)
            .find_map(|_| {
                let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
                Some((std::net::TcpListener::bind(("::1", port)).ok()?, port))
            })
            .expect("a port free on both loopback addresses");
        match bind_localhost_on(port).unwrap() {
            LocalhostBind::Ipv6Taken(taken) => assert_eq!(taken, port),
            LocalhostBind::Bound(sockets) => panic!("bound {sockets:?} beside another socket on [::1]:{port}"),
        }
        // 127.0.0.1 was let go again.
        drop(std::net::TcpListener::bind(("127.0.0.1", port)).expect("127.0.0.1 is free again"));
        // A whole bind finds another port, free on both.
        let listener = RedirectListener::bind(RedirectHost::Localhost, "/callback").unwrap();
        assert_ne!(listener.redirect_uri().port(), Some(port));
        assert_eq!(listener.local_addrs().len(), 2);
        drop(other);
    }

    // Unix sockets options, errno values and /proc: tests of this machine's (Linux's) kernel.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_machine_without_an_ipv6_loopback_is_recognised() {
        assert!(no_ipv6_loopback(&io::ErrorKind::AddrNotAvailable.into()));
        assert!(no_ipv6_loopback(&rustix::io::Errno::AFNOSUPPORT.into()));
        assert!(!no_ipv6_loopback(&io::ErrorKind::AddrInUse.into()));
        assert!(!no_ipv6_loopback(&io::ErrorKind::PermissionDenied.into()));
    }

    /// A tracing writer that keeps what it is given.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn turned_away_requests_are_logged_a_few_times_then_summed_up() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let (result, tally, ()) = serve_with(listener, Duration::from_secs(60), |address| {
            for n in 0..50 {
                assert_eq!(status(&get(address, &format!("/callback?code=c{n}&state=forged-state-value"))), "400");
            }
            for _ in 0..20 {
                assert_eq!(status(&exchange(address, b"garbage\r\n\r\n")), "400");
            }
            assert_eq!(status(&get(address, GENUINE)), "200");
        });
        assert!(result.is_ok(), "{result:?}");
        drop(tally);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), LOGGED_EVENTS as usize + 1, "{text}");
        assert!(lines[0].contains("ignored a request") && lines[0].contains("path=\"/callback\""), "{text}");
        let summary = lines.last().unwrap();
        assert!(summary.contains("turned away 70 connections"), "{summary}");
        assert!(summary.contains("strays=50") && summary.contains("refused=20"), "{summary}");
        assert!(!text.contains("forged-state-value") && !text.contains("code="), "a query in the log: {text}");
    }

    // Unix sockets options, errno values and /proc: tests of this machine's (Linux's) kernel.
    #[cfg(target_os = "linux")]
    #[test]
    fn nothing_is_left_behind_after_the_wait() {
        if !alone_in_a_child("nothing_is_left_behind_after_the_wait") {
            return;
        }
        /// Hostile connections, held open by this process until dropped.
        fn hold(address: SocketAddr) -> Vec<StdStream> {
            (0..200)
                .map(|n| {
                    let mut stream = StdStream::connect(address).unwrap();
                    let start: &[u8] = match n % 4 {
                        0 => b"",
                        1 => b"GET /callback?state=",
                        2 => &[b'x'; 20_000],
                        _ => b"\x00\x01 garbage",
                    };
                    stream.write_all(start).unwrap();
                    stream
                })
                .collect()
        }
        let runtime = runtime();
        let (fds, threads) = (count("/proc/self/fd"), count("/proc/self/task"));

        // A wait that ends with the genuine redirect.
        let listener = RedirectListener::bind(RedirectHost::Localhost, "/callback").unwrap();
        let address = listener.local_addrs()[0];
        let held = hold(address);
        let browser = std::thread::spawn(move || get(address, GENUINE));
        let result = runtime.block_on(listener.wait("s1", Duration::from_secs(30)));
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(status(&browser.join().unwrap()), "200");
        // The listener's side of everything is closed: only the clients' own ends remain.
        assert_eq!(count("/proc/self/fd"), fds + held.len(), "descriptors after the redirect");
        assert_eq!(count("/proc/self/task"), threads, "threads after the redirect");
        for stream in &held {
            assert!(closed_by_server(stream));
        }
        drop(held);
        assert_eq!(count("/proc/self/fd"), fds, "descriptors");

        // A wait that is cancelled (its future dropped) with the connections still coming.
        let listener = RedirectListener::bind(RedirectHost::Localhost, "/callback").unwrap();
        let held = hold(listener.local_addrs()[0]);
        let waited = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(300), listener.wait("s1", Duration::from_secs(30))).await
        });
        assert!(waited.is_err(), "the wait was still going when it was dropped");
        assert_eq!(count("/proc/self/fd"), fds + held.len(), "descriptors after the cancelled wait");
        assert_eq!(count("/proc/self/task"), threads, "threads after the cancelled wait");
        drop(held);
        assert_eq!(count("/proc/self/fd"), fds, "descriptors");
    }

    #[cfg(target_os = "linux")]
    /// Opens /dev/null until the descriptor limit is reached.
    fn exhaust_descriptors() -> Vec<std::fs::File> {
        let mut files = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(file) => files.push(file),
                Err(err) => {
                    assert_eq!(rustix::io::Errno::from_io_error(&err), Some(rustix::io::Errno::MFILE), "{err}");
                    return files;
                }
            }
        }
    }

    // Unix sockets options, errno values and /proc: tests of this machine's (Linux's) kernel.
    #[cfg(target_os = "linux")]
    #[test]
    fn running_out_of_descriptors_does_not_stop_the_listener() {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        if !alone_in_a_child("running_out_of_descriptors_does_not_stop_the_listener") {
            return;
        }
        let runtime = runtime();
        let listener = RedirectListener::bind(RedirectHost::Ipv4, "/callback").unwrap();
        let address = listener.local_addrs()[0];
        let limit = getrlimit(Resource::Nofile);
        let low = u64::try_from(count("/proc/self/fd") + 16).unwrap();
        setrlimit(Resource::Nofile, Rlimit { current: Some(low), maximum: limit.maximum }).unwrap();
        let mut filler = exhaust_descriptors();
        // Room for the browser's socket, and then none for the listener to accept it with.
        drop(filler.pop());
        let mut browser = StdStream::connect(address).unwrap();
        browser.write_all(&request(GENUINE)).unwrap();
        filler.extend(exhaust_descriptors());
        // The descriptors come back after a while.
        let giver = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            drop(filler);
        });
        let mut tally = Tally::default();
        let result = runtime.block_on(listener.serve("s1", Duration::from_secs(30), &mut tally));
        giver.join().unwrap();
        setrlimit(Resource::Nofile, limit).unwrap();
        assert!(result.is_ok(), "{result:?}");
        assert!(tally.accept_errors >= 2, "accepting failed (EMFILE) and was tried again: {tally:?}");
        let mut reply = String::new();
        browser.read_to_string(&mut reply).unwrap();
        assert_eq!(status(&reply), "200");
    }
}
