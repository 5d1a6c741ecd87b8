//! Who is at the other end of a loopback TCP connection: on Linux, the user owning the peer's
//! socket, as the kernel's socket diagnostics tell it (`NETLINK_SOCK_DIAG`, what `ss` uses,
//! open to every user). Elsewhere, and whenever the kernel does not say, nobody knows, and the
//! listener treats the connection as possibly the browser's.
//!
//! The listener uses the answer for one thing only: which connections to close first when it
//! is full (see the module above). It never refuses a connection for it, so a browser run as
//! another user still signs in.

use std::net::SocketAddr;

/// Asks the kernel who owns the peer socket of accepted loopback connections; one netlink
/// socket per wait, opened when the listener first needs it.
pub(super) struct PeerOwners {
    #[cfg(target_os = "linux")]
    diag: Option<linux::SockDiag>,
}

impl PeerOwners {
    pub(super) fn new() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            diag: linux::SockDiag::open(),
        }
    }

    /// Whether the connection from `peer` to `local` (both loopback) was opened by another
    /// user than this process's: `Some(true)` or `Some(false)` when the kernel says, `None`
    /// when it cannot be known.
    pub(super) fn another_user(&mut self, local: SocketAddr, peer: SocketAddr) -> Option<bool> {
        #[cfg(target_os = "linux")]
        {
            let diag = self.diag.as_mut()?;
            diag.owner(local, peer).map(|uid| uid != diag.own_uid)
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
    use std::os::fd::OwnedFd;

    use rustix::net::netlink::{self, SocketAddrNetlink};
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

    /// `SOCK_DIAG_BY_FAMILY`, the request type (linux/sock_diag.h).
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    /// `NLMSG_ERROR` (linux/netlink.h).
    const NLMSG_ERROR: u16 = 2;
    /// `NLM_F_REQUEST`: one exact lookup, not a dump.
    const NLM_F_REQUEST: u16 = 1;
    const IPPROTO_TCP: u8 = 6;
    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;
    /// `struct nlmsghdr`.
    const HEADER: usize = 16;
    /// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, then the socket id.
    const REQUEST: usize = HEADER + 8 + SOCKET_ID;
    /// `struct inet_diag_sockid`: ports, source and destination addresses, interface, cookie.
    const SOCKET_ID: usize = 4 + 16 + 16 + 4 + 8;
    /// Where `idiag_uid` sits in a reply: after the header, `struct inet_diag_msg`'s family,
    /// state, timer and retransmits, the socket id, and expires, rqueue and wqueue.
    const UID_AT: usize = HEADER + 4 + SOCKET_ID + 12;

    pub(super) struct SockDiag {
        socket: OwnedFd,
        pub(super) own_uid: u32,
        sequence: u32,
    }

    impl SockDiag {
        pub(super) fn open() -> Option<Self> {
            let socket = rustix::net::socket_with(
                AddressFamily::NETLINK,
                SocketType::DGRAM,
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
                Some(netlink::SOCK_DIAG),
            )
            .map_err(|err| tracing::debug!(%err, "no socket diagnostics: connections' owners are unknown"))
            .ok()?;
            Some(Self { socket, own_uid: rustix::process::getuid().as_raw(), sequence: 0 })
        }

        /// The uid owning the socket at `peer` connected to `local`, if the kernel says.
        pub(super) fn owner(&mut self, local: SocketAddr, peer: SocketAddr) -> Option<u32> {
            self.sequence = self.sequence.wrapping_add(1);
            let request = request(self.sequence, local, peer)?;
            let kernel = SocketAddrNetlink::new(0, 0);
            rustix::net::sendto(&self.socket, &request, SendFlags::empty(), &kernel).ok()?;
            // The kernel answers while sending; a reply not there at once is not coming. A
            // stale one (from a lookup whose reply was never read) is read past.
            let mut reply = [0_u8; 512];
            for _ in 0..4 {
                let (read, _) = rustix::net::recv(&self.socket, &mut reply, RecvFlags::empty()).ok()?;
                match parse_reply(reply.get(..read)?, self.sequence) {
                    Reply::Owner(uid) => return Some(uid),
                    Reply::Unknown => return None,
                    Reply::Stale => {}
                }
            }
            None
        }
    }

    /// A `SOCK_DIAG_BY_FAMILY` request for the one TCP socket whose own address is `peer` and
    /// whose remote address is `local`: the other end of an accepted connection.
    pub(super) fn request(sequence: u32, local: SocketAddr, peer: SocketAddr) -> Option<[u8; REQUEST]> {
        let family = match (local.ip(), peer.ip()) {
            (IpAddr::V4(_), IpAddr::V4(_)) => AF_INET,
            (IpAddr::V6(_), IpAddr::V6(_)) => AF_INET6,
            _ => return None,
        };
        let mut bytes = [0_u8; REQUEST];
        bytes[0..4].copy_from_slice(&(REQUEST as u32).to_ne_bytes());
        bytes[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        bytes[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        bytes[8..12].copy_from_slice(&sequence.to_ne_bytes());
        // bytes[12..16]: the sender's port id, 0 (the kernel fills it in).
        let body = &mut bytes[HEADER..];
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
        Some(bytes)
    }

    fn address(field: &mut [u8], ip: IpAddr) {
        match ip {
            IpAddr::V4(ip) => field[..4].copy_from_slice(&ip.octets()),
            IpAddr::V6(ip) => field.copy_from_slice(&ip.octets()),
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    pub(super) enum Reply {
        /// The socket's owner.
        Owner(u32),
        /// An answer to this request that names no owner (no such socket, an error...).
        Unknown,
        /// An answer to another request.
        Stale,
    }

    /// Reads the kernel's answer to request `sequence`.
    pub(super) fn parse_reply(bytes: &[u8], sequence: u32) -> Reply {
        let u16_at = |at: usize| bytes.get(at..at + 2).map(|b| u16::from_ne_bytes([b[0], b[1]]));
        let u32_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        let (Some(length), Some(kind), Some(replied_to)) = (u32_at(0), u16_at(4), u32_at(8)) else {
            return Reply::Unknown;
        };
        if replied_to != sequence {
            return Reply::Stale;
        }
        if kind == NLMSG_ERROR || kind != SOCK_DIAG_BY_FAMILY || (length as usize) < UID_AT + 4 {
            return Reply::Unknown;
        }
        u32_at(UID_AT).map_or(Reply::Unknown, Reply::Owner)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};

    use super::linux::{Reply, parse_reply, request};
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
        let bytes = request(7, local, peer).unwrap();
        assert_eq!(bytes.len(), 72);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 72);
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 7);
        assert_eq!((bytes[16], bytes[17]), (2, 6), "AF_INET, TCP");
        assert_eq!(
            &bytes[24..28],
            &40000_u16.to_be_bytes().into_iter().chain(8080_u16.to_be_bytes()).collect::<Vec<_>>()[..]
        );
        assert_eq!(&bytes[28..32], &[127, 0, 0, 2]);
        assert_eq!(&bytes[44..48], &[127, 0, 0, 1]);
        assert_eq!(&bytes[64..72], &[0xff; 8]);
        assert!(request(1, local, "[::1]:1".parse().unwrap()).is_none(), "mixed families");
    }

    #[test]
    fn replies_are_read_within_their_bounds() {
        let mut reply = vec![0_u8; 88];
        reply[0..4].copy_from_slice(&88_u32.to_ne_bytes());
        reply[4..6].copy_from_slice(&20_u16.to_ne_bytes());
        reply[8..12].copy_from_slice(&5_u32.to_ne_bytes());
        reply[80..84].copy_from_slice(&1000_u32.to_ne_bytes());
        assert_eq!(parse_reply(&reply, 5), Reply::Owner(1000));
        assert_eq!(parse_reply(&reply, 4), Reply::Stale);
        for cut in 0..84 {
            assert_ne!(parse_reply(&reply[..cut], 5), Reply::Owner(1000), "cut at {cut}");
        }
        let mut error = reply.clone();
        error[4..6].copy_from_slice(&2_u16.to_ne_bytes());
        assert_eq!(parse_reply(&error, 5), Reply::Unknown);
    }
}
