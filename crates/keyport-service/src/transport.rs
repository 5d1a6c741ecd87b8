//! The service's end of the local transport (`keyport_wire::local` is the clients'): binding
//! the address, accepting connections with who made them, closing them. One implementation
//! per platform behind [`Listener`] and [`Stream`]; everything above this module (server,
//! lines, peers) reads and writes a [`Stream`] the same way everywhere.
//!
//! - **Linux**: a Unix socket with `SO_PASSCRED` set before `listen`, so that every write
//!   carries its writer's credentials (`lines.rs`); the peer's uid and pid from `SO_PEERCRED`.
//! - **macOS**: a Unix socket; the peer's uid and pid (`LOCAL_PEERCRED`, `LOCAL_PEERPID`) at
//!   connect time. No per-write credentials exist there: each request is the connector's.
//! - **Windows**: a named pipe (`keyport_wire::local::windows::PipeServers`): a DACL for the
//!   user alone, remote clients rejected, first instance or nothing; the peer's pid from
//!   `GetNamedPipeClientProcessId`, its user from its process token.
//!
//! Linux is tested here; macOS and Windows are type-checked (README, "Platforms").

use std::io;
use std::path::Path;

/// The service's end of one connection.
#[cfg(unix)]
pub type Stream = tokio::net::UnixStream;
/// The service's end of one connection.
#[cfg(windows)]
pub type Stream = tokio::net::windows::named_pipe::NamedPipeServer;

/// Who connected, as the system says at accept time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Whether the peer runs as the user the service runs as; other users are refused.
    pub same_user: bool,
    /// The peer's user, for the log line that refuses it.
    pub user: String,
    /// The process that connected, when the system says.
    pub pid: Option<u32>,
}

/// Where the service accepts connections.
#[derive(Debug)]
pub struct Listener {
    #[cfg(unix)]
    inner: tokio::net::UnixListener,
    #[cfg(windows)]
    inner: keyport_wire::local::windows::PipeServers,
}

#[cfg(unix)]
impl From<tokio::net::UnixListener> for Listener {
    /// A listener bound by someone else. On Linux, connections made before it reaches
    /// [`crate::serve`] carry no writer credentials, and their requests are refused: bind with
    /// [`Listener::bind`].
    fn from(inner: tokio::net::UnixListener) -> Self {
        #[cfg(target_os = "linux")]
        if let Err(err) = rustix::net::sockopt::set_socket_passcred(&inner, true) {
            tracing::error!(%err, "cannot ask for writers' credentials; requests will be refused");
        }
        Self { inner }
    }
}

impl Listener {
    /// Binds `address` (a socket path whose directory is private, or a pipe name). Call inside
    /// a tokio runtime.
    pub fn bind(address: &Path) -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
            let fd = rustix::net::socket_with(
                AddressFamily::UNIX,
                SocketType::STREAM,
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
                None,
            )?;
            // Before `listen`: a connection made before it was set would carry no credentials.
            rustix::net::sockopt::set_socket_passcred(&fd, true)?;
            rustix::net::bind(&fd, &SocketAddrUnix::new(address)?)?;
            rustix::net::listen(&fd, 1024)?;
            let inner = tokio::net::UnixListener::from_std(std::os::unix::net::UnixListener::from(fd))?;
            Ok(Self { inner })
        }
        #[cfg(all(unix, not(target_os = "linux")))]
        {
            Ok(Self { inner: tokio::net::UnixListener::bind(address)? })
        }
        #[cfg(windows)]
        {
            Ok(Self { inner: keyport_wire::local::windows::PipeServers::create(address)? })
        }
    }

    /// The next connection and who made it.
    pub async fn accept(&mut self) -> io::Result<(Stream, Peer)> {
        #[cfg(unix)]
        {
            let (stream, _) = self.inner.accept().await?;
            let peer = match stream.peer_cred() {
                Ok(cred) => Peer {
                    same_user: cred.uid() == current_uid(),
                    user: format!("uid {}", cred.uid()),
                    pid: cred.pid().and_then(|pid| u32::try_from(pid).ok()),
                },
                Err(err) => Peer { same_user: false, user: format!("unknown ({err})"), pid: None },
            };
            Ok((stream, peer))
        }
        #[cfg(windows)]
        {
            let stream = self.inner.accept().await?;
            let pid = keyport_wire::local::windows::client_pid(&stream).ok();
            let same_user =
                pid.is_some_and(|pid| keyport_wire::local::windows::runs_as_current_user(pid).unwrap_or(false));
            let user = if same_user { "you".to_owned() } else { "another user".to_owned() };
            Ok((stream, Peer { same_user, user, pid }))
        }
    }
}

/// The uid this service runs as.
#[cfg(unix)]
pub fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// Closes `stream` both ways; the peer sees the end at once.
pub fn close(stream: &Stream) {
    #[cfg(unix)]
    let _ = rustix::net::shutdown(stream, rustix::net::Shutdown::Both);
    #[cfg(windows)]
    let _ = stream.disconnect();
}

/// Whether the client closed its end of the connection entirely (its process exited, or it
/// closed the socket): the kernel then reports `POLLHUP`. A client that only shut down its
/// sending side (`printf ... | socat`, which goes on reading) does not, and keeps getting its
/// events. Without this, a subscriber that went away would hold its connection (and, for the
/// window, the questions put to it) until the next event failed to reach it. On Windows a
/// pipe has no half-close and no such question: there the next write finds it.
pub fn peer_closed(stream: &Stream) -> bool {
    #[cfg(unix)]
    {
        let mut fds = [rustix::event::PollFd::new(stream, rustix::event::PollFlags::empty())];
        let now = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        rustix::event::poll(&mut fds, Some(&now)).is_ok() && fds[0].revents().contains(rustix::event::PollFlags::HUP)
    }
    #[cfg(windows)]
    {
        let _ = stream;
        false
    }
}

// Run on Windows, or under Wine on Linux (`contrib/cross-check`); Linux's socket is tested
// through the server everywhere else.
#[cfg(all(test, windows))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pipe_client_is_accepted_as_this_user_with_its_pid() {
        let name = std::path::PathBuf::from(format!(r"\\.\pipe\keyport-transport-test-{}", std::process::id()));
        let mut listener = Listener::bind(&name).unwrap();
        let address = name.clone();
        let client = tokio::spawn(async move { keyport_wire::local::connect_async(&address).await.map(drop) });
        let (stream, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, Peer { same_user: true, user: "you".into(), pid: Some(std::process::id()) });
        client.await.unwrap().unwrap();
        assert!(!peer_closed(&stream), "a pipe reports no hang-up; the next write finds it");
        close(&stream);
    }
}
