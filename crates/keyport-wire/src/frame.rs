//! Framing: one JSON message per line, `\n`-terminated, UTF-8. A client's message (a request)
//! is at most [`MAX_REQUEST_BYTES`] before the `\n`; the server's (an answer or an event) at
//! most [`MAX_ANSWER_BYTES`], so that a list of a thousand accounts fits in one answer while
//! what a client can make the server buffer stays small.
//!
//! A reader never holds more than its limit plus one byte of one line, so a peer cannot make
//! it buffer without bound; a longer line is [`FrameError::Oversize`], after which the rest of
//! that line is still unread and the connection should be closed (the server answers -32011
//! first). Blank lines are skipped. The writer emits compact JSON, which never
//! contains a raw newline, and refuses a message over the limit before writing anything.
//!
//! This module does not parse JSON-RPC (see [`crate::jsonrpc`]) and knows no sockets: it
//! works over any [`BufRead`] / [`Write`], and over tokio's async traits with the `tokio`
//! feature (the `frame::tokio` submodule).

use std::io::{BufRead, Read, Write};

use serde::Serialize;

#[cfg(feature = "tokio")]
pub mod tokio;

/// The largest request a client may send, in bytes, not counting its terminating `\n`: 64 KiB.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// [`MAX_REQUEST_BYTES`], under its first name.
pub const MAX_MESSAGE_BYTES: usize = MAX_REQUEST_BYTES;

/// The largest answer or event the server sends, in bytes, not counting its `\n`: 16 MiB
/// (an account is under 1 KiB in an `accounts.list`).
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Why a message could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The line is longer than the limit (a server answers -32011 and closes).
    #[error("message too large")]
    Oversize,
    /// The connection ended in the middle of a line; the partial line is dropped.
    #[error("the connection closed in the middle of a message")]
    Truncated,
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The message could not be serialized (a value that has no JSON form).
    #[error("could not encode the message: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Reads the next non-blank line of at most [`MAX_REQUEST_BYTES`], without its `\n`.
/// `Ok(None)` at the end of the stream. For servers reading requests.
///
/// Meant for blocking readers: a read timeout (`WouldBlock`, `TimedOut`) loses a partly read
/// line, so treat it as the end of the connection.
pub fn read_message<R: BufRead>(reader: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    read_line_within(reader, MAX_REQUEST_BYTES)
}

/// [`read_message`] for clients reading the server's answers and events, of at most
/// [`MAX_ANSWER_BYTES`].
pub fn read_answer<R: BufRead>(reader: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    read_line_within(reader, MAX_ANSWER_BYTES)
}

fn read_line_within<R: BufRead>(reader: &mut R, limit: usize) -> Result<Option<Vec<u8>>, FrameError> {
    loop {
        let mut line = Vec::new();
        (&mut *reader).take(limit as u64 + 1).read_until(b'\n', &mut line)?;
        match finish_line(line, limit)? {
            Line::End => return Ok(None),
            Line::Blank => continue,
            Line::Message(message) => return Ok(Some(message)),
        }
    }
}

/// `message` as one line: compact JSON and `\n`. Refuses (with [`FrameError::Oversize`]) a
/// message longer than [`MAX_REQUEST_BYTES`]: for requests, and small server messages.
pub fn encode_message(message: &impl Serialize) -> Result<Vec<u8>, FrameError> {
    encode_within(message, MAX_REQUEST_BYTES)
}

/// [`encode_message`] for the server's answers and events, of at most [`MAX_ANSWER_BYTES`].
pub fn encode_answer(message: &impl Serialize) -> Result<Vec<u8>, FrameError> {
    encode_within(message, MAX_ANSWER_BYTES)
}

fn encode_within(message: &impl Serialize, limit: usize) -> Result<Vec<u8>, FrameError> {
    let mut bytes = serde_json::to_vec(message).map_err(FrameError::Encode)?;
    if bytes.len() > limit {
        return Err(FrameError::Oversize);
    }
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `message` as one line and flushes. Nothing is written if it is too large.
pub fn write_message<W: Write>(writer: &mut W, message: &impl Serialize) -> Result<(), FrameError> {
    writer.write_all(&encode_message(message)?)?;
    writer.flush()?;
    Ok(())
}

/// What one bounded `read_until` produced.
enum Line {
    End,
    Blank,
    Message(Vec<u8>),
}

/// Judges the bytes one bounded `read_until` returned: they end at a `\n`, at the limit, or at
/// the end of the stream.
fn finish_line(mut line: Vec<u8>, limit: usize) -> Result<Line, FrameError> {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(Line::Blank);
        }
        return Ok(Line::Message(line));
    }
    if line.len() > limit {
        return Err(FrameError::Oversize);
    }
    // No newline and under the limit: the stream ended.
    if line.iter().all(u8::is_ascii_whitespace) { Ok(Line::End) } else { Err(FrameError::Truncated) }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Cursor};

    use super::*;

    fn line_of(len: usize) -> Vec<u8> {
        // A valid JSON string literal of exactly `len` bytes.
        let mut line = vec![b'"'];
        line.resize(len - 1, b'a');
        line.push(b'"');
        line
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() {
        let mut input = line_of(MAX_MESSAGE_BYTES);
        input.push(b'\n');
        input.extend_from_slice(b"{\"next\":1}\n");
        let mut reader = Cursor::new(input);
        assert_eq!(read_message(&mut reader).unwrap().unwrap().len(), MAX_MESSAGE_BYTES);
        assert_eq!(read_message(&mut reader).unwrap().unwrap(), b"{\"next\":1}");
        assert!(read_message(&mut reader).unwrap().is_none());

        let mut input = line_of(MAX_MESSAGE_BYTES + 1);
        input.push(b'\n');
        assert!(matches!(read_message(&mut Cursor::new(input)), Err(FrameError::Oversize)));
    }

    /// A reader that counts what it hands out, to show an endless line is not slurped.
    struct Endless {
        served: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            buf.fill(b'x');
            self.served += buf.len();
            Ok(buf.len())
        }
    }

    #[test]
    fn an_endless_line_is_refused_after_the_limit_plus_one_byte() {
        let mut reader = BufReader::with_capacity(1, Endless { served: 0 });
        assert!(matches!(read_message(&mut reader), Err(FrameError::Oversize)));
        assert_eq!(reader.get_ref().served, MAX_MESSAGE_BYTES + 1);
    }

    #[test]
    fn blank_lines_are_skipped_and_a_cut_line_is_truncated() {
        let mut reader = Cursor::new(b"\n\r\n  \n{}\n{\"cut".to_vec());
        assert_eq!(read_message(&mut reader).unwrap().unwrap(), b"{}");
        assert!(matches!(read_message(&mut reader), Err(FrameError::Truncated)));
        assert!(read_message(&mut Cursor::new(b"\n".to_vec())).unwrap().is_none());
    }

    #[test]
    fn the_writer_appends_a_newline_and_refuses_oversize_output() {
        let mut out = Vec::new();
        write_message(&mut out, &serde_json::json!({"a": "line\nbreak"})).unwrap();
        assert_eq!(out, b"{\"a\":\"line\\nbreak\"}\n");

        let fits = "a".repeat(MAX_MESSAGE_BYTES - 2);
        assert_eq!(encode_message(&fits).unwrap().len(), MAX_MESSAGE_BYTES + 1);
        let mut out = Vec::new();
        let too_big = "a".repeat(MAX_MESSAGE_BYTES - 1);
        assert!(matches!(write_message(&mut out, &too_big), Err(FrameError::Oversize)));
        assert!(out.is_empty());
    }

    #[test]
    fn answers_may_be_longer_than_requests() {
        let long = "a".repeat(MAX_REQUEST_BYTES * 4);
        let line = encode_answer(&long).unwrap();
        assert!(encode_message(&long).is_err());
        let mut reader = Cursor::new(line.clone());
        assert_eq!(read_answer(&mut reader).unwrap().unwrap().len(), line.len() - 1);
        assert!(matches!(read_message(&mut Cursor::new(line)), Err(FrameError::Oversize)));
    }

    #[test]
    fn the_too_large_message_states_the_limit() {
        let message = crate::ErrorCode::MessageTooLarge.default_message();
        assert!(message.contains(&MAX_MESSAGE_BYTES.to_string()), "{message}");
    }
}
