//! The other end of a Unix-socket connection, through the kernel's socket diagnostics
//! (`NETLINK_SOCK_DIAG`, as `ss -x` uses): the inode of the peer's socket, so the service can
//! check which process actually holds it.
//!
//! A connected Unix socket pair has two inodes, one per end; `/proc/PID/fd/N` of the holder of
//! the client end reads `socket:[INODE]`. Leaves out everything but the peer inode.

use std::os::fd::{AsFd, OwnedFd};

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, netlink};

/// `SOCK_DIAG_BY_FAMILY`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST`.
const NLM_F_REQUEST: u16 = 1;
/// `UDIAG_SHOW_PEER`.
const UDIAG_SHOW_PEER: u32 = 0x4;
/// `UNIX_DIAG_PEER`.
const UNIX_DIAG_PEER: u16 = 2;
/// Header lengths: `nlmsghdr`, `unix_diag_req`, `unix_diag_msg`.
const NLMSG_HEADER: usize = 16;
const REQUEST_BODY: usize = 24;
const MESSAGE_BODY: usize = 16;

/// The inode of `socket`'s own end.
pub fn own_inode(socket: impl AsFd) -> std::io::Result<u64> {
    Ok(rustix::fs::fstat(socket.as_fd())?.st_ino)
}

thread_local! {
    /// This thread's diagnostics socket and the sequence number of its last request: kept
    /// after a clean exchange (one request, its one reply), so that identifying a connection
    /// does not create and close a netlink socket each time; dropped after any failure.
    static DIAG: std::cell::RefCell<Option<(OwnedFd, u32)>> = const { std::cell::RefCell::new(None) };
}

/// The inode of the other end of the connected Unix socket whose own end has inode `inode`.
pub fn peer_inode(inode: u64) -> std::io::Result<u64> {
    let inode = u32::try_from(inode).map_err(|_| std::io::Error::other("socket inode out of range"))?;
    let (diag, last) = match DIAG.with(|kept| kept.borrow_mut().take()) {
        Some(kept) => kept,
        None => (rustix::net::socket(AddressFamily::NETLINK, SocketType::DGRAM, Some(netlink::SOCK_DIAG))?, 0),
    };
    let sequence = last.wrapping_add(1);
    rustix::net::sendto(&diag, &request(inode, sequence), SendFlags::empty(), &SocketAddrNetlink::new(0, 0))?;
    let mut reply = [0u8; 1024];
    let (read, _) = rustix::net::recv(&diag, &mut reply[..], RecvFlags::empty())?;
    let peer = parse_reply(&reply[..read.min(reply.len())], inode, sequence)?;
    DIAG.with(|kept| *kept.borrow_mut() = Some((diag, sequence)));
    Ok(u64::from(peer))
}

/// A `SOCK_DIAG_BY_FAMILY` request for one Unix socket, asking for its peer.
fn request(inode: u32, sequence: u32) -> Vec<u8> {
    let mut message = Vec::with_capacity(NLMSG_HEADER + REQUEST_BODY);
    let length = u32::try_from(NLMSG_HEADER + REQUEST_BODY).expect("small");
    message.extend_from_slice(&length.to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    message.extend_from_slice(&sequence.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
    // unix_diag_req: family, protocol, pad, states, inode, show, cookie (none).
    message.push(u8::try_from(rustix::net::AddressFamily::UNIX.as_raw()).expect("AF_UNIX fits a byte"));
    message.push(0);
    message.extend_from_slice(&0u16.to_ne_bytes());
    message.extend_from_slice(&u32::MAX.to_ne_bytes());
    message.extend_from_slice(&inode.to_ne_bytes());
    message.extend_from_slice(&UDIAG_SHOW_PEER.to_ne_bytes());
    message.extend_from_slice(&u32::MAX.to_ne_bytes());
    message.extend_from_slice(&u32::MAX.to_ne_bytes());
    message
}

/// The peer inode in the kernel's reply to request `sequence` about socket `inode`.
fn parse_reply(reply: &[u8], inode: u32, sequence: u32) -> std::io::Result<u32> {
    let bad = |what: &str| std::io::Error::other(format!("socket diagnostics: {what}"));
    let u16_at = |at: usize| reply.get(at..at + 2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let u32_at = |at: usize| reply.get(at..at + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    let length = u32_at(0).ok_or_else(|| bad("short reply"))? as usize;
    let kind = u16_at(4).ok_or_else(|| bad("short reply"))?;
    if u32_at(8) != Some(sequence) {
        return Err(bad("reply to another request"));
    }
    if kind == NLMSG_ERROR {
        let errno = u32_at(NLMSG_HEADER).map_or(0, |e| e as i32);
        return Err(std::io::Error::from_raw_os_error(errno.saturating_neg()));
    }
    if kind != SOCK_DIAG_BY_FAMILY || length > reply.len() || length < NLMSG_HEADER + MESSAGE_BODY {
        return Err(bad("unexpected reply"));
    }
    if u32_at(NLMSG_HEADER + 4) != Some(inode) {
        return Err(bad("reply about another socket"));
    }
    let mut at = NLMSG_HEADER + MESSAGE_BODY;
    while at + 4 <= length {
        let attribute_length = usize::from(u16_at(at).ok_or_else(|| bad("short attribute"))?);
        let attribute = u16_at(at + 2).ok_or_else(|| bad("short attribute"))?;
        if attribute_length < 4 || at + attribute_length > length {
            return Err(bad("malformed attribute"));
        }
        if attribute == UNIX_DIAG_PEER && attribute_length >= 8 {
            return u32_at(at + 4).ok_or_else(|| bad("short peer"));
        }
        at += attribute_length.div_ceil(4) * 4;
    }
    Err(bad("no peer: the socket is not connected"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_of_one_end_is_the_other_end() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (a_inode, b_inode) = (own_inode(&a).unwrap(), own_inode(&b).unwrap());
        assert_ne!(a_inode, b_inode);
        assert_eq!(peer_inode(a_inode).unwrap(), b_inode);
        assert_eq!(peer_inode(b_inode).unwrap(), a_inode);
        // After a failure (no socket has that inode), the next question still gets its answer.
        assert!(peer_inode(u64::from(u32::MAX)).is_err());
        assert_eq!(peer_inode(a_inode).unwrap(), b_inode);
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        assert!(parse_reply(&[], 1, 1).is_err());
        assert!(parse_reply(&[0xff; 64], 1, 1).is_err());
        let mut reply = request(7, 3);
        reply[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        assert!(parse_reply(&reply, 7, 3).is_err(), "a request is not a reply with a peer");
    }
}
