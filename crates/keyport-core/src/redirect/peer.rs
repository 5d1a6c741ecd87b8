//! Who is at the other end of a loopback TCP connection: on Linux, the user owning the peer's
//! socket, as the kernel's socket diagnostics tell it (`NETLINK_SOCK_DIAG`, what `ss` uses,
//! open to every user). Elsewhere, and whenever the kernel does not say, nobody knows, and the
//! listener treats the connection as possibly the browser's.
//!
//! The listener uses the answer for one thing only: which connections to close first when it
//! is full (see the module above). It never refuses a connection for it, so a browser run as
//! another user still signs in.

use std::net::SocketAddr;

/// Asks the kernel who owns the peer socket of accepted loopback connections, through one
/// netlink socket opened with the wait.
pub(super) struct PeerOwners {
    #[cfg(target_os = "linux")]
    diag: Option<crate::sock_diag::SockDiag>,
}

impl PeerOwners {
    pub(super) fn new() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            diag: crate::sock_diag::SockDiag::open()
                .map_err(|err| tracing::debug!(%err, "no socket diagnostics: connections' owners are unknown"))
                .ok(),
        }
    }

    /// Whether the connection from `peer` to `local` (both loopback) was opened by another
    /// user than this process's: `Some(true)` or `Some(false)` when the kernel says, `None`
    /// when it cannot be known.
    pub(super) fn another_user(&mut self, local: SocketAddr, peer: SocketAddr) -> Option<bool> {
        #[cfg(target_os = "linux")]
        {
            let mut reply = [0_u8; 512];
            let message = self.diag.as_mut()?.ask(&linux::request(local, peer)?, &mut reply).ok()?;
            linux::uid(message).map(|uid| uid != rustix::process::getuid().as_raw())
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (local, peer);
            None
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::net::{IpAddr, SocketAddr};

    const IPPROTO_TCP: u8 = 6;
    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;
    /// `struct inet_diag_sockid`: ports, source and destination addresses, interface, cookie.
    const SOCKET_ID: usize = 4 + 16 + 16 + 4 + 8;
    /// `struct inet_diag_req_v2`: family, protocol, extensions, padding, states, socket id.
    const REQUEST: usize = 8 + SOCKET_ID;
    /// Where `idiag_uid` sits in `struct inet_diag_msg`: after family, state, timer and
    /// retransmits, the socket id, and expires, rqueue and wqueue.
    const UID_AT: usize = 4 + SOCKET_ID + 12;

    /// An `inet_diag_req_v2` for the one TCP socket whose own address is `peer` and whose
    /// remote address is `local`: the other end of an accepted connection.
    pub(super) fn request(local: SocketAddr, peer: SocketAddr) -> Option<[u8; REQUEST]> {
        let family = match (local.ip(), peer.ip()) {
            (IpAddr::V4(_), IpAddr::V4(_)) => AF_INET,
            (IpAddr::V6(_), IpAddr::V6(_)) => AF_INET6,
            _ => return None,
        };
        let mut body = [0_u8; REQUEST];
        body[0] = family;
        body[1] = IPPROTO_TCP;
        // body[2], body[3]: no extensions, padding.
        body[4..8].copy_from_slice(&u32::MAX.to_ne_bytes()); // any state
        let id = &mut body[8..];
        id[0..2].copy_from_slice(&peer.port().to_be_bytes());
        id[2..4].copy_from_slice(&local.port().to_be_bytes());
        address(&mut id[4..20], peer.ip());
        address(&mut id[20..36], local.ip());
        // id[36..40]: any interface.
        id[40..48].copy_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
        Some(body)
    }

    fn address(field: &mut [u8], ip: IpAddr) {
        match ip {
            IpAddr::V4(ip) => field[..4].copy_from_slice(&ip.octets()),
            IpAddr::V6(ip) => field.copy_from_slice(&ip.octets()),
        }
    }

    /// The owner in an `inet_diag_msg`.
    pub(super) fn uid(message: &[u8]) -> Option<u32> {
        message.get(UID_AT..UID_AT + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};

    use super::linux::{request, uid};
    use super::*;

    fn connected(ip: std::net::IpAddr) -> Option<(TcpListener, TcpStream, TcpStream)> {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).ok()?;
        let client = TcpStream::connect(listener.local_addr().ok()?).ok()?;
        let (server, _) = listener.accept().ok()?;
        Some((listener, client, server))
    }

    #[test]
    fn the_owner_of_a_connection_from_this_process_is_this_user() {
        let mut owners = PeerOwners::new();
        for ip in [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()] {
            let Some((_listener, _client, server)) = connected(ip) else {
                assert!(ip.is_ipv6(), "no IPv4 loopback");
                continue;
            };
            let (local, peer) = (server.local_addr().unwrap(), server.peer_addr().unwrap());
            assert_eq!(owners.another_user(local, peer), Some(false), "{local} <- {peer}");
            // Asked the wrong way round, it is the listener's own accepted socket: still ours.
            assert_eq!(owners.another_user(peer, local), Some(false));
            // A port nobody holds: no owner.
            let nobody = SocketAddr::new(ip, 1);
            assert_eq!(owners.another_user(local, nobody), None);
        }
    }

    #[test]
    fn the_request_is_laid_out_as_the_kernel_reads_it() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let peer: SocketAddr = "127.0.0.2:40000".parse().unwrap();
        let body = request(local, peer).unwrap();
        assert_eq!(body.len(), 56);
        assert_eq!((body[0], body[1]), (2, 6), "AF_INET, TCP");
        assert_eq!(&body[8..12], &[0x9c, 0x40, 0x1f, 0x90], "ports 40000 and 8080, big-endian");
        assert_eq!(&body[12..16], &[127, 0, 0, 2]);
        assert_eq!(&body[28..32], &[127, 0, 0, 1]);
        assert_eq!(&body[48..56], &[0xff; 8]);
        assert!(request(local, "[::1]:1".parse().unwrap()).is_none(), "mixed families");
    }

    #[test]
    fn the_owner_is_read_within_the_message() {
        let mut message = vec![0_u8; 72];
        message[64..68].copy_from_slice(&1000_u32.to_ne_bytes());
        assert_eq!(uid(&message), Some(1000));
        for cut in 0..68 {
            assert_eq!(uid(&message[..cut]), None, "cut at {cut}");
        }
    }
}
