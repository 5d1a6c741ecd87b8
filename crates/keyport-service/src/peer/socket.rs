//! The other end of a Unix-socket connection, through the kernel's socket diagnostics
//! (`NETLINK_SOCK_DIAG`, as `ss -x` uses): the inode of the peer's socket, so the service can
//! check which process actually holds it.
//!
//! A connected Unix socket pair has two inodes, one per end; `/proc/PID/fd/N` of the holder of
//! the client end reads `socket:[INODE]`. Leaves out everything but the peer inode.

use std::os::fd::AsFd;

use keyport_core::sock_diag::SockDiag;

/// `UDIAG_SHOW_PEER`.
const UDIAG_SHOW_PEER: u32 = 0x4;
/// `UNIX_DIAG_PEER`.
const UNIX_DIAG_PEER: u16 = 2;
/// `struct unix_diag_req`.
const REQUEST: usize = 24;
/// `struct unix_diag_msg`, before its attributes.
const MESSAGE: usize = 16;

/// The inode of `socket`'s own end.
pub fn own_inode(socket: impl AsFd) -> std::io::Result<u64> {
    Ok(rustix::fs::fstat(socket.as_fd())?.st_ino)
}

thread_local! {
    /// This thread's diagnostics socket: kept after a clean exchange, so that identifying a
    /// connection does not create and close a netlink socket each time; dropped after any
    /// failure.
    static DIAG: std::cell::RefCell<Option<SockDiag>> = const { std::cell::RefCell::new(None) };
}

/// The inode of the other end of the connected Unix socket whose own end has inode `inode`.
pub fn peer_inode(inode: u64) -> std::io::Result<u64> {
    let inode = u32::try_from(inode).map_err(|_| std::io::Error::other("socket inode out of range"))?;
    let mut diag = match DIAG.with(|kept| kept.borrow_mut().take()) {
        Some(kept) => kept,
        None => SockDiag::open()?,
    };
    let mut reply = [0u8; 1024];
    let peer = parse_reply(diag.ask(&request(inode), &mut reply)?, inode)?;
    DIAG.with(|kept| *kept.borrow_mut() = Some(diag));
    Ok(u64::from(peer))
}

/// A `unix_diag_req` for one Unix socket, asking for its peer.
fn request(inode: u32) -> [u8; REQUEST] {
    let mut body = [0u8; REQUEST];
    // family, protocol, pad, states, inode, show, cookie (none).
    body[0] = u8::try_from(rustix::net::AddressFamily::UNIX.as_raw()).expect("AF_UNIX fits a byte");
    body[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
    body[8..12].copy_from_slice(&inode.to_ne_bytes());
    body[12..16].copy_from_slice(&UDIAG_SHOW_PEER.to_ne_bytes());
    body[16..24].copy_from_slice(&[0xff; 8]);
    body
}

/// The peer inode in the kernel's `unix_diag_msg` about socket `inode`.
fn parse_reply(message: &[u8], inode: u32) -> std::io::Result<u32> {
    let bad = |what: &str| std::io::Error::other(format!("socket diagnostics: {what}"));
    let u16_at = |at: usize| message.get(at..at + 2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let u32_at = |at: usize| message.get(at..at + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    if message.len() < MESSAGE {
        return Err(bad("short reply"));
    }
    if u32_at(4) != Some(inode) {
        return Err(bad("reply about another socket"));
    }
    let mut at = MESSAGE;
    while at + 4 <= message.len() {
        let attribute_length = usize::from(u16_at(at).ok_or_else(|| bad("short attribute"))?);
        let attribute = u16_at(at + 2).ok_or_else(|| bad("short attribute"))?;
        if attribute_length < 4 || at + attribute_length > message.len() {
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
        assert!(parse_reply(&[], 1).is_err());
        assert!(parse_reply(&[0xff; 64], 1).is_err());
        let mut message = [0u8; MESSAGE + 8];
        message[4..8].copy_from_slice(&7u32.to_ne_bytes());
        assert!(parse_reply(&message[..MESSAGE], 7).is_err(), "no attributes, no peer");
        message[MESSAGE..MESSAGE + 2].copy_from_slice(&8u16.to_ne_bytes());
        message[MESSAGE + 2..MESSAGE + 4].copy_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
        message[MESSAGE + 4..].copy_from_slice(&9u32.to_ne_bytes());
        assert_eq!(parse_reply(&message, 7).unwrap(), 9);
        assert!(parse_reply(&message, 8).is_err(), "about another socket");
        message[MESSAGE..MESSAGE + 2].copy_from_slice(&64u16.to_ne_bytes());
        assert!(parse_reply(&message, 7).is_err(), "an attribute longer than the message");
    }
}
