//! Reaching the service on this machine: the transport under the wire format, one
//! implementation per platform behind the same two calls, [`connect`] (blocking) and
//! `connect_async` (feature `tokio`).
//!
//! - **Unix (Linux, macOS)**: a Unix stream socket at [`crate::default_socket_path`]. Who may
//!   connect is settled by the socket's private directory (0700) and by the service, which
//!   checks every peer's uid.
//! - **Windows**: a named pipe ([`crate::path::pipe_name`]), opened with the identification
//!   impersonation level only (the service may learn who the client is, never act as it).
//!   Since any user could create a pipe of that name first, the client checks that the process
//!   serving the pipe runs as the same user before it writes a byte, and refuses it otherwise
//!   (`windows::check_server`). A pipe whose instances are all busy is waited for, briefly.
//!
//! Linux and macOS share the Unix code, tested here on Linux; the Windows code is type-checked
//! (`contrib/cross-check`) and not yet run (README, "Platforms").

#[cfg(windows)]
pub mod windows;

use std::io;
use std::path::Path;
use std::time::Duration;

/// A blocking connection to the service: read answers from it, write requests to it.
#[derive(Debug)]
pub struct Stream {
    #[cfg(unix)]
    inner: std::os::unix::net::UnixStream,
    #[cfg(windows)]
    inner: std::fs::File,
    /// How long a read may wait, shared by the clones (a pipe read cannot time out by itself).
    #[cfg(windows)]
    read_timeout: std::sync::Arc<std::sync::Mutex<Option<Duration>>>,
}

impl Stream {
    /// Another handle on the same connection (to read through one and write through the other);
    /// a read timeout set on either applies to both.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            inner: self.inner.try_clone()?,
            #[cfg(windows)]
            read_timeout: self.read_timeout.clone(),
        })
    }

    /// How long a read may wait for data before it fails with `TimedOut` or `WouldBlock`
    /// (`None`: as long as it takes).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        #[cfg(unix)]
        {
            self.inner.set_read_timeout(timeout)
        }
        #[cfg(windows)]
        {
            *self.read_timeout.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = timeout;
            Ok(())
        }
    }
}

impl io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(windows)]
        {
            let timeout = *self.read_timeout.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(timeout) = timeout {
                windows::wait_readable(&self.inner, timeout)?;
            }
        }
        self.inner.read(buf)
    }
}

impl io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Connects to the service at `address` (a socket path, or a pipe name on Windows).
pub fn connect(address: &Path) -> io::Result<Stream> {
    #[cfg(unix)]
    {
        Ok(Stream { inner: std::os::unix::net::UnixStream::connect(address)? })
    }
    #[cfg(windows)]
    {
        Ok(Stream { inner: windows::connect(address)?, read_timeout: Default::default() })
    }
}

/// An asynchronous connection to the service (tokio).
#[cfg(all(feature = "tokio", unix))]
pub type AsyncStream = ::tokio::net::UnixStream;
/// An asynchronous connection to the service (tokio).
#[cfg(all(feature = "tokio", windows))]
pub type AsyncStream = ::tokio::net::windows::named_pipe::NamedPipeClient;

/// [`connect`], for tokio.
#[cfg(feature = "tokio")]
pub async fn connect_async(address: &Path) -> io::Result<AsyncStream> {
    #[cfg(unix)]
    {
        ::tokio::net::UnixStream::connect(address).await
    }
    #[cfg(windows)]
    {
        windows::connect_async(address).await
    }
}

/// Whether something serves `address` now (the socket file exists; the pipe exists), without
/// connecting to it.
pub fn served(address: &Path) -> bool {
    #[cfg(unix)]
    {
        address.exists()
    }
    #[cfg(windows)]
    {
        windows::exists(address)
    }
}

/// Whether `err` from [`connect`] means nothing serves the address (start the service, or say
/// that it is not running), rather than a fault.
pub fn nobody_listens(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused)
}
