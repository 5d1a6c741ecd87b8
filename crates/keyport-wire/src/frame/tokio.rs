//! The same framing over tokio's `AsyncBufRead` / `AsyncWrite` (feature `tokio`).
//!
//! Reading is a struct, [`MessageReader`], rather than a function, so that it is cancel safe:
//! a partly read line stays in the reader when a `select!` drops the read, and the next call
//! continues it. The limit applies to the whole line across calls.

use ::tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use serde::Serialize;

use super::{FrameError, Line, MAX_ANSWER_BYTES, MAX_MESSAGE_BYTES, encode_message, finish_line};

/// Reads messages from an async byte stream, one line each.
#[derive(Debug)]
pub struct MessageReader<R> {
    reader: R,
    partial: Vec<u8>,
    limit: usize,
}

impl<R: AsyncBufRead + Unpin> MessageReader<R> {
    /// Wraps a buffered reader (for a socket: `tokio::io::BufReader::new(read_half)`).
    /// Requests are at most [`MAX_MESSAGE_BYTES`]: this is the server's reader.
    pub fn new(reader: R) -> Self {
        Self { reader, partial: Vec::new(), limit: MAX_MESSAGE_BYTES }
    }

    /// A client's reader: answers and events are at most [`MAX_ANSWER_BYTES`].
    pub fn for_answers(reader: R) -> Self {
        Self { reader, partial: Vec::new(), limit: MAX_ANSWER_BYTES }
    }

    /// The next non-blank line, without its `\n`; `Ok(None)` at the end of the stream.
    /// Cancel safe.
    pub async fn read_message(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        loop {
            let room = (self.limit + 1).saturating_sub(self.partial.len()) as u64;
            (&mut self.reader).take(room).read_until(b'\n', &mut self.partial).await?;
            match finish_line(std::mem::take(&mut self.partial), self.limit)? {
                Line::End => return Ok(None),
                Line::Blank => continue,
                Line::Message(message) => return Ok(Some(message)),
            }
        }
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// Writes `message` as one line and flushes. Nothing is written if it is too large.
/// Not cancel safe: a dropped write may leave half a line, so close the connection then.
pub async fn write_message<W: AsyncWrite + Unpin>(writer: &mut W, message: &impl Serialize) -> Result<(), FrameError> {
    writer.write_all(&encode_message(message)?).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ::tokio::io::{AsyncWriteExt, BufReader, duplex};

    use super::*;

    #[::tokio::test]
    async fn a_cancelled_read_keeps_its_partial_line_and_the_limit_holds() {
        let (mut client, server) = duplex(256 * 1024);
        let mut reader = MessageReader::new(BufReader::new(server));
        client.write_all(b"{\"a\":").await.unwrap();
        let cancelled = ::tokio::time::timeout(Duration::from_millis(20), reader.read_message()).await;
        assert!(cancelled.is_err(), "the read should still wait for the rest of the line");
        client.write_all(b"1}\n\n").await.unwrap();
        assert_eq!(reader.read_message().await.unwrap().unwrap(), b"{\"a\":1}");

        let mut exact = vec![b'"'];
        exact.resize(MAX_MESSAGE_BYTES - 1, b'a');
        exact.extend_from_slice(b"\"\n");
        client.write_all(&exact).await.unwrap();
        assert_eq!(reader.read_message().await.unwrap().unwrap().len(), MAX_MESSAGE_BYTES);

        let mut over = vec![b'"'];
        over.resize(MAX_MESSAGE_BYTES, b'a');
        over.extend_from_slice(b"\"\n");
        client.write_all(&over).await.unwrap();
        assert!(matches!(reader.read_message().await, Err(FrameError::Oversize)));
    }

    #[::tokio::test]
    async fn a_clients_reader_takes_answers_up_to_the_answer_limit() {
        // A list of a thousand accounts is about 700 KiB: past the request limit.
        let mut answer = vec![b'"'];
        answer.resize(700 * 1024, b'a');
        answer.extend_from_slice(b"\"\n");
        let (mut server, client) = duplex(1024 * 1024);
        let mut reader = MessageReader::for_answers(BufReader::new(client));
        let writing = ::tokio::spawn(async move {
            server.write_all(&answer).await.unwrap();
            let mut over = vec![b'"'];
            over.resize(MAX_ANSWER_BYTES, b'a');
            over.extend_from_slice(b"\"\n");
            server.write_all(&over).await.unwrap();
        });
        assert_eq!(reader.read_message().await.unwrap().unwrap().len(), 700 * 1024 + 1);
        assert!(matches!(reader.read_message().await, Err(FrameError::Oversize)));
        writing.abort();
    }

    #[::tokio::test]
    async fn the_writer_appends_a_newline_and_refuses_oversize_output() {
        let mut out = Vec::new();
        write_message(&mut out, &serde_json::json!({"ok": true})).await.unwrap();
        assert_eq!(out, b"{\"ok\":true}\n");
        let too_big = "a".repeat(MAX_MESSAGE_BYTES - 1);
        assert!(matches!(write_message(&mut out, &too_big).await, Err(FrameError::Oversize)));
        assert_eq!(out.len(), 12);
    }
}
