//! The kernel's socket diagnostics (`NETLINK_SOCK_DIAG`, what `ss` uses, open to every user),
//! on Linux: one exact-lookup request, one reply, framed here. What is asked and what is read
//! from the answer are the callers' (the redirect listener: who opened a loopback TCP
//! connection; the service: the other end of a Unix socket).

use std::io;
use std::ops::Range;
use std::os::fd::OwnedFd;

use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h), the type of requests and of their answers.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLMSG_ERROR` (linux/netlink.h): the kernel's refusal, an errno after the header.
const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST` alone: one exact lookup, not a dump.
const NLM_F_REQUEST: u16 = 1;
/// `struct nlmsghdr`: length, type, flags, sequence, port id.
const HEADER: usize = 16;
/// The largest request body sent (`inet_diag_req_v2` is 56 bytes, `unix_diag_req` 24).
pub const MAX_REQUEST: usize = 64;
/// Replies to other requests read past before giving up (left over from an earlier failure).
const STALE_REPLIES: usize = 4;

/// A socket-diagnostics netlink socket (close-on-exec, non-blocking: the kernel answers while
/// the request is being sent, so a reply not there at once is not coming).
#[derive(Debug)]
pub struct SockDiag {
    socket: OwnedFd,
    sequence: u32,
}

impl SockDiag {
    /// Opens the netlink socket.
    pub fn open() -> io::Result<Self> {
        let socket = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(netlink::SOCK_DIAG),
        )?;
        Ok(Self { socket, sequence: 0 })
    }

    /// Sends a `SOCK_DIAG_BY_FAMILY` request whose body (after the netlink header) is `body`,
    /// at most [`MAX_REQUEST`] bytes, and returns the body of its answer, read into `reply`.
    /// The kernel's refusal (no such socket...) is its errno; anything else unexpected, an
    /// error.
    pub fn ask<'r>(&mut self, body: &[u8], reply: &'r mut [u8]) -> io::Result<&'r [u8]> {
        if body.len() > MAX_REQUEST {
            return Err(io::Error::other("socket diagnostics: request too long"));
        }
        self.sequence = self.sequence.wrapping_add(1);
        let length = HEADER + body.len();
        let mut request = [0_u8; HEADER + MAX_REQUEST];
        request[0..4].copy_from_slice(&(length as u32).to_ne_bytes());
        request[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        request[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        request[8..12].copy_from_slice(&self.sequence.to_ne_bytes());
        // request[12..16]: the sender's port id, 0 (the kernel fills it in).
        request[HEADER..length].copy_from_slice(body);
        rustix::net::sendto(&self.socket, &request[..length], SendFlags::empty(), &SocketAddrNetlink::new(0, 0))?;
        for _ in 0..STALE_REPLIES {
            let (read, _) = rustix::net::recv(&self.socket, &mut *reply, RecvFlags::empty())?;
            match answer(&reply[..read.min(reply.len())], self.sequence) {
                Answer::Body(range) => return Ok(&reply[range]),
                Answer::Refused(err) => return Err(err),
                Answer::Stale => {}
            }
        }
        Err(io::Error::other("socket diagnostics: no answer to this request"))
    }
}

#[derive(Debug)]
enum Answer {
    /// Where the answer's body is in the message.
    Body(Range<usize>),
    /// The kernel's error, or a message that is no answer.
    Refused(io::Error),
    /// An answer to an earlier request.
    Stale,
}

/// What `message` says in answer to request `sequence`.
fn answer(message: &[u8], sequence: u32) -> Answer {
    let bad = |what: &str| Answer::Refused(io::Error::other(format!("socket diagnostics: {what}")));
    let u16_at = |at: usize| message.get(at..at + 2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let u32_at = |at: usize| message.get(at..at + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    let (Some(length), Some(kind), Some(replied_to)) = (u32_at(0), u16_at(4), u32_at(8)) else {
        return bad("short reply");
    };
    if replied_to != sequence {
        return Answer::Stale;
    }
    let length = length as usize;
    if kind == NLMSG_ERROR {
        let errno = u32_at(HEADER).map_or(0, |errno| errno as i32);
        return Answer::Refused(io::Error::from_raw_os_error(errno.saturating_neg()));
    }
    if kind != SOCK_DIAG_BY_FAMILY || length > message.len() || length < HEADER {
        return bad("unexpected reply");
    }
    Answer::Body(HEADER..length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, sequence: u32, body: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((HEADER + body.len()) as u32).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&0_u16.to_ne_bytes());
        bytes.extend_from_slice(&sequence.to_ne_bytes());
        bytes.extend_from_slice(&0_u32.to_ne_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn an_answer_is_its_body_and_nothing_else_is() {
        let ok = message(SOCK_DIAG_BY_FAMILY, 9, &[1, 2, 3, 4]);
        assert!(matches!(answer(&ok, 9), Answer::Body(range) if range == (HEADER..HEADER + 4)));
        assert!(matches!(answer(&ok, 8), Answer::Stale));
        for cut in 0..ok.len() {
            assert!(!matches!(answer(&ok[..cut], 9), Answer::Body(_)), "cut at {cut}");
        }
        let refused = message(NLMSG_ERROR, 9, &(-2_i32).to_ne_bytes());
        match answer(&refused, 9) {
            Answer::Refused(err) => assert_eq!(err.raw_os_error(), Some(2), "{err}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(answer(&message(16, 9, &[]), 9), Answer::Refused(_)), "another type");
        assert!(matches!(answer(&[0xff; 64], 9), Answer::Stale | Answer::Refused(_)));
    }

    #[test]
    fn the_kernel_refuses_a_lookup_of_no_socket() {
        let mut diag = SockDiag::open().unwrap();
        // An inet_diag_req_v2 for TCP on 127.0.0.1 from port 1 to port 1: nobody's.
        let mut body = [0_u8; 56];
        body[0] = 2; // AF_INET
        body[1] = 6; // TCP
        body[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        body[8..10].copy_from_slice(&1_u16.to_be_bytes());
        body[10..12].copy_from_slice(&1_u16.to_be_bytes());
        body[12..16].copy_from_slice(&[127, 0, 0, 1]);
        body[28..32].copy_from_slice(&[127, 0, 0, 1]);
        body[48..56].copy_from_slice(&[0xff; 8]);
        let mut reply = [0_u8; 512];
        let err = diag.ask(&body, &mut reply).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(2), "ENOENT: {err}");
        // The socket still answers after a refusal.
        assert_eq!(diag.ask(&body, &mut reply).unwrap_err().raw_os_error(), Some(2));
        assert!(diag.ask(&[0; MAX_REQUEST + 1], &mut reply).is_err());
    }
}
