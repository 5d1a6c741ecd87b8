//! Reading request lines from a connection, with the process that wrote each one.
//!
//! On Linux the socket has `SO_PASSCRED` set, so the kernel attaches the writing process's credentials
//! to every write, and one `recvmsg` never returns bytes of two different writers. The reader
//! keeps, for each buffered byte run, the pid that wrote it; a complete line comes out with the
//! pids of every process that wrote part of it (normally one). That pid, not the one that
//! connected, is who asks: a process that connects and then hands the connection to another,
//! or runs another program, cannot borrow the first one's identity. Other systems attach no
//! credentials to writes: there every line is the connector's ([`LineReader::new`]),
//! and `peer/` judges only the connector.
//!
//! Framing is docs/socket.md's: one message per `\n`-terminated line, at most
//! [`keyport_wire::frame::MAX_REQUEST_BYTES`], blank lines skipped. This module does not parse
//! JSON and does not judge anyone.

use std::io;
use std::time::Instant;

use tokio::io::Interest;

use crate::transport::Stream;

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 8 * 1024;

/// What the next read produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A complete, non-blank line (without its `\n`), and the pids that wrote it.
    Line { bytes: Vec<u8>, writers: Vec<u32> },
    /// The peer stopped sending; a partial line, if any, is dropped.
    End,
    /// The line in progress is longer than the limit.
    Oversize,
}

/// A cancel-safe line reader over a Unix stream; see the module docs.
#[derive(Debug)]
pub(crate) struct LineReader {
    limit: usize,
    buffer: Vec<u8>,
    /// `(end, pid)`: bytes up to `end` (exclusive, from the previous run's end) were written
    /// by `pid`; `None` when the kernel attached no credentials.
    runs: Vec<(usize, Option<u32>)>,
    /// Where the search for `\n` goes on (everything before has none).
    scanned: usize,
    /// When the first byte of the line in progress arrived.
    partial_since: Option<Instant>,
    ended: bool,
    /// The process that connected: the writer of every line where writes carry no
    /// credentials. Unused on Linux, where a write without them is written by nobody known.
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    connector: Option<u32>,
}

impl LineReader {
    /// A reader of lines of at most `limit` bytes on a connection made by `connector`.
    pub fn new(limit: usize, connector: Option<u32>) -> Self {
        Self { limit, buffer: Vec::new(), runs: Vec::new(), scanned: 0, partial_since: None, ended: false, connector }
    }

    /// When the unfinished line in the buffer started arriving, if there is one.
    pub fn partial_since(&self) -> Option<Instant> {
        self.partial_since
    }

    /// The next line. Cancel safe: everything read is kept in the reader.
    pub async fn next(&mut self, stream: &Stream) -> io::Result<Incoming> {
        loop {
            if let Some(incoming) = self.take() {
                return Ok(incoming);
            }
            stream.readable().await?;
            match stream.try_io(Interest::READABLE, || self.receive(stream)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// A line, the end, or an oversize line, from what is buffered; `None` when more is needed.
    fn take(&mut self) -> Option<Incoming> {
        loop {
            let Some(newline) = self.buffer[self.scanned..].iter().position(|b| *b == b'\n') else {
                self.scanned = self.buffer.len();
                if self.buffer.len() > self.limit {
                    return Some(Incoming::Oversize);
                }
                if self.ended {
                    self.buffer.clear();
                    self.runs.clear();
                    return Some(Incoming::End);
                }
                return None;
            };
            let end = self.scanned + newline;
            if end > self.limit {
                return Some(Incoming::Oversize);
            }
            let writers = self.writers_of(end + 1);
            let mut bytes: Vec<u8> = self.buffer.drain(..=end).collect();
            bytes.pop();
            self.scanned = 0;
            self.partial_since = (!self.buffer.is_empty()).then(Instant::now);
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Incoming::Line { bytes, writers });
        }
    }

    /// The pids that wrote the first `length` bytes; drops those runs.
    fn writers_of(&mut self, length: usize) -> Vec<u32> {
        let mut writers = Vec::new();
        let mut start = 0;
        let mut consumed = 0;
        for (end, pid) in &self.runs {
            if start >= length {
                break;
            }
            if let Some(pid) = pid
                && !writers.contains(pid)
            {
                writers.push(*pid);
            }
            if *end <= length {
                consumed += 1;
            }
            start = *end;
        }
        self.runs.drain(..consumed);
        for (end, _) in &mut self.runs {
            *end -= length;
        }
        writers
    }

    /// One `recvmsg` into the buffer, recording who wrote it.
    #[cfg(target_os = "linux")]
    fn receive(&mut self, stream: &Stream) -> io::Result<()> {
        use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
        let mut chunk = [0u8; READ_CHUNK];
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut slices = [io::IoSliceMut::new(&mut chunk)];
        let received = rustix::net::recvmsg(stream, &mut slices, &mut control, RecvFlags::CMSG_CLOEXEC)?;
        let mut writer = None;
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmCredentials(credentials) = message {
                writer = u32::try_from(credentials.pid.as_raw_nonzero().get()).ok();
            }
        }
        self.keep(&chunk[..received.bytes], writer);
        Ok(())
    }

    /// One read into the buffer, written by the connector.
    #[cfg(not(target_os = "linux"))]
    fn receive(&mut self, stream: &Stream) -> io::Result<()> {
        let mut chunk = [0u8; READ_CHUNK];
        let read = stream.try_read(&mut chunk)?;
        self.keep(&chunk[..read], self.connector);
        Ok(())
    }

    /// Adds what one read returned (nothing: the end) to the buffer, written by `writer`.
    fn keep(&mut self, bytes: &[u8], writer: Option<u32>) {
        if bytes.is_empty() {
            self.ended = true;
            return;
        }
        if self.buffer.is_empty() {
            self.partial_since = Some(Instant::now());
        }
        self.buffer.extend_from_slice(bytes);
        let end = self.buffer.len();
        match self.runs.last_mut() {
            Some((last_end, last_writer)) if *last_writer == writer => *last_end = end,
            _ => self.runs.push((end, writer)),
        }
    }
}

// Linux's writer credentials; other systems' reads are the connector's.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;

    use tokio::net::UnixStream;

    use super::*;

    /// A server end with `SO_PASSCRED`, and the client end.
    fn pair() -> (UnixStream, std::os::unix::net::UnixStream) {
        let (server, client) = std::os::unix::net::UnixStream::pair().unwrap();
        rustix::net::sockopt::set_socket_passcred(&server, true).unwrap();
        server.set_nonblocking(true).unwrap();
        (UnixStream::from_std(server).unwrap(), client)
    }

    #[tokio::test]
    async fn lines_come_with_their_writer_and_blank_lines_are_skipped() {
        let (server, mut client) = pair();
        let mut reader = LineReader::new(64, None);
        client.write_all(b"\n  \n{\"a\":1}\n{\"b\"").unwrap();
        let me = std::process::id();
        assert_eq!(
            reader.next(&server).await.unwrap(),
            Incoming::Line { bytes: b"{\"a\":1}".to_vec(), writers: vec![me] }
        );
        assert!(reader.partial_since().is_some());
        client.write_all(b":2}\n").unwrap();
        assert_eq!(
            reader.next(&server).await.unwrap(),
            Incoming::Line { bytes: b"{\"b\":2}".to_vec(), writers: vec![me] }
        );
        assert!(reader.partial_since().is_none());
        client.write_all(b"{\"cut").unwrap();
        drop(client);
        assert_eq!(reader.next(&server).await.unwrap(), Incoming::End);
    }

    #[tokio::test]
    async fn a_line_written_by_another_process_names_that_process() {
        let (server, client) = pair();
        let mut reader = LineReader::new(64, None);
        // A child process writes on the connection (its standard output), with its own pid.
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("printf 'hello\\n'")
            .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(client)))
            .spawn()
            .unwrap();
        let child_pid = child.id();
        assert!(child.wait().unwrap().success());
        let Incoming::Line { bytes, writers } = reader.next(&server).await.unwrap() else { panic!("a line") };
        assert_eq!(bytes, b"hello");
        assert_eq!(writers, vec![child_pid]);
    }

    #[tokio::test]
    async fn an_oversize_line_is_refused_at_the_limit() {
        let (server, mut client) = pair();
        let mut reader = LineReader::new(16, None);
        client.write_all(&[b'x'; 17]).unwrap();
        assert_eq!(reader.next(&server).await.unwrap(), Incoming::Oversize);
        let (server, mut client) = pair();
        let mut reader = LineReader::new(16, None);
        client.write_all(b"0123456789abcdef\n").unwrap();
        assert!(matches!(reader.next(&server).await.unwrap(), Incoming::Line { .. }), "exactly the limit");
    }

    #[tokio::test]
    async fn a_cancelled_read_loses_nothing() {
        let (server, mut client) = pair();
        let mut reader = LineReader::new(64, None);
        client.write_all(b"{\"a\":").unwrap();
        let cancelled = tokio::time::timeout(std::time::Duration::from_millis(20), reader.next(&server)).await;
        assert!(cancelled.is_err());
        client.write_all(b"1}\n").unwrap();
        let Incoming::Line { bytes, .. } = reader.next(&server).await.unwrap() else { panic!("a line") };
        assert_eq!(bytes, b"{\"a\":1}");
    }
}
