//! One UDP socket per media stream: bound to a pool port on a configured local address,
//! DSCP-marked, latching on the peer's real address, and receiving into one reused buffer.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::OnceLock;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::Interest;

use super::latch::{Latch, StreamFilter, Verdict};
use crate::pcap::PcapRecorder;
use crate::ports::{PortLease, PortPool};
use crate::Error;

/// DSCP Expedited Forwarding (RFC 3246), the usual marking for voice and fax media.
pub const DSCP_EF: u8 = 46;

/// Largest datagram taken by default; larger ones are dropped, not cut. G.711 RTP at 20 ms is
/// 172 octets, and no `T38FaxMaxDatagram` seen in practice exceeds 1,500.
pub const DEFAULT_MAX_DATAGRAM: usize = 2048;

/// How media sockets are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketConfig {
    /// The local address to bind (IPv4 or IPv6); the port comes from the pool.
    pub local_ip: IpAddr,
    /// DSCP code point for outgoing packets (0–63), written into IPv4 TOS or IPv6 TCLASS.
    pub dscp: u8,
    /// Largest datagram accepted; the receive buffer is one octet longer to detect larger.
    pub max_datagram: usize,
}

impl Default for SocketConfig {
    /// All IPv4 addresses, DSCP EF, 2,048-octet datagrams.
    fn default() -> Self {
        SocketConfig {
            local_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dscp: DSCP_EF,
            max_datagram: DEFAULT_MAX_DATAGRAM,
        }
    }
}

/// A datagram taken for the stream, borrowed from the socket's buffer until the next receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Where it came from.
    pub from: SocketAddr,
    /// Its bytes.
    pub data: &'a [u8],
    /// Whether it latched the stream (media now goes to `from`).
    pub latched: bool,
}

/// What a media socket has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Datagrams handed on.
    pub received: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams dropped before latching because they did not fit the stream.
    pub unfit: u64,
    /// Datagrams dropped after latching because they came from another address. A socket
    /// bound to a fixed address is connected once latched, and then the kernel drops these
    /// before they are counted.
    pub foreign: u64,
    /// Datagrams dropped as longer than `max_datagram`.
    pub oversize: u64,
    /// Outgoing datagrams dropped because the socket's send buffer was full.
    pub send_dropped: u64,
    /// Times the stream latched.
    pub latches: u64,
}

/// A bound, DSCP-marked UDP media socket with latching.
///
/// The socket is not registered with the tokio reactor until something awaits
/// [`MediaSocket::readable`]. Calls drain their sockets on their own 20 ms tick and never
/// wait for readiness, so their sockets stay out of epoll: a datagram arriving costs no
/// readiness event, and the sender's `sendto` does not have to wake this process.
#[derive(Debug)]
pub struct MediaSocket {
    // A duplicate descriptor of `socket`, registered for readiness only.
    reactor: OnceLock<io::Result<tokio::net::UdpSocket>>,
    socket: UdpSocket,
    local: SocketAddr,
    latch: Latch,
    filter: StreamFilter,
    buf: Box<[u8]>,
    max_datagram: usize,
    stats: SocketStats,
    readiness: Readiness,
    // Connected to the latched address (see `MediaSocket::connect_latched`).
    connected: bool,
    // Every datagram sent or read, when a call's debug bundle asks for it.
    pcap: Option<Box<PcapRecorder>>,
    // Dropped last: the port goes back to the pool only after the socket is closed.
    lease: PortLease,
}

/// What a [`ReadinessSet`](super::ReadinessSet) that watches the socket knows about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Readiness {
    /// Not watched: every receive asks the kernel.
    Untracked,
    /// Watched, and something may be queued: receives ask the kernel until it says empty.
    Ready,
    /// Watched, drained, and nothing has arrived since: receives return at once.
    Idle,
}

/// Makes a UDP socket for `local`, marked with `dscp`, non-blocking.
fn new_socket(local: SocketAddr, dscp: u8) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
    if local.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    set_dscp(&SockRef::from(&socket), local.ip(), dscp)?;
    socket.set_nonblocking(true)?;
    socket.bind(&local.into())?;
    Ok(socket.into())
}

fn set_dscp(socket: &SockRef<'_>, ip: IpAddr, dscp: u8) -> io::Result<()> {
    if dscp > 63 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("DSCP {dscp} is above 63"),
        ));
    }
    let tos = u32::from(dscp) << 2;
    match ip {
        IpAddr::V4(_) => socket.set_tos_v4(tos),
        IpAddr::V6(_) => socket.set_tclass_v6(tos),
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for MediaSocket {
    /// The socket's descriptor number, for a readiness poll.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.socket)
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for MediaSocket {
    /// The socket's descriptor, for reading socket options (e.g. with `socket2::SockRef`).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.socket)
    }
}

/// ICMP errors reported on a later receive (port unreachable); they say nothing about the
/// datagram being waited for.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

impl MediaSocket {
    /// Binds a socket on a free pool port (ports other processes hold are skipped) that sends
    /// to `remote` until it latches; must run inside a tokio runtime (for
    /// [`MediaSocket::readable`]).
    pub fn bind(
        pool: &PortPool,
        config: &SocketConfig,
        filter: StreamFilter,
        remote: SocketAddr,
    ) -> Result<Self, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Socket {
                op: "bind",
                kind: io::ErrorKind::Other,
                message: "no tokio runtime".into(),
            });
        }
        let (lease, socket) =
            pool.bind_with(|port| new_socket(SocketAddr::new(config.local_ip, port), config.dscp))?;
        let local = socket
            .local_addr()
            .map_err(|e| Error::socket("local_addr", &e))?;
        Ok(MediaSocket {
            reactor: OnceLock::new(),
            socket,
            local,
            latch: Latch::new(remote),
            filter,
            buf: vec![0; config.max_datagram.saturating_add(1)].into_boxed_slice(),
            max_datagram: config.max_datagram,
            stats: SocketStats::default(),
            readiness: Readiness::Untracked,
            connected: false,
            pcap: None,
            lease,
        })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The port lease (the RTCP port is `port + 1`).
    pub fn lease(&self) -> &PortLease {
        &self.lease
    }

    /// Where media goes now: the SDP address, or the latched one.
    pub fn target(&self) -> SocketAddr {
        self.latch.target()
    }

    /// The latch state.
    pub fn latch(&self) -> &Latch {
        &self.latch
    }

    /// Takes the address of a new SDP (re-INVITE) and re-arms latching.
    pub fn relatch(&mut self, remote: SocketAddr) {
        self.latch.relatch(remote);
        if self.connected {
            self.connected = false;
            // Until the new far end is heard, anyone may latch again.
            if let Err(e) = rustix::net::connect_unspec(&self.socket) {
                tracing::warn!(local = %self.local, "media socket not disconnected: {e}");
            }
        }
    }

    /// Once latched, a socket bound to a fixed address is connected to the far end: `send(2)`
    /// on a connected socket reuses the route the kernel cached, where each `sendto(2)` looks
    /// it up again (a fifth of a loopback send's cost, measured), and the kernel drops what
    /// other sources send, as the latch would. A socket on the wildcard address stays
    /// unconnected: connecting would pin its local address to the route's, and a multi-homed
    /// host could then stop hearing packets sent to another of its addresses.
    fn connect_latched(&mut self, peer: SocketAddr) {
        if self.local.ip().is_unspecified() {
            return;
        }
        match self.socket.connect(peer) {
            Ok(()) => self.connected = true,
            Err(e) => {
                tracing::debug!(local = %self.local, %peer, "media socket not connected: {e}")
            }
        }
    }

    /// Changes what may latch (after a re-INVITE to or from T.38).
    pub fn set_filter(&mut self, filter: StreamFilter) {
        self.filter = filter;
    }

    /// Sets the DSCP of outgoing packets.
    pub fn set_dscp(&self, dscp: u8) -> io::Result<()> {
        set_dscp(&SockRef::from(&self.socket), self.local.ip(), dscp)
    }

    /// The DSCP in force, read back from the socket (`IP_TOS` or `IPV6_TCLASS`).
    pub fn dscp(&self) -> io::Result<u8> {
        let sock = SockRef::from(&self.socket);
        let tos = match self.local {
            SocketAddr::V4(_) => sock.tos_v4()?,
            SocketAddr::V6(_) => sock.tclass_v6()?,
        };
        Ok((tos >> 2) as u8)
    }

    /// What the socket has done so far.
    pub fn stats(&self) -> SocketStats {
        self.stats
    }

    /// Tells the socket that its [`ReadinessSet`](super::ReadinessSet) reported it readable:
    /// the next receive asks the kernel.
    pub fn mark_ready(&mut self) {
        if self.readiness == Readiness::Idle {
            self.readiness = Readiness::Ready;
        }
    }

    pub(super) fn set_readiness(&mut self, readiness: Readiness) {
        self.readiness = readiness;
    }

    /// Records every datagram sent or read from now on into `recorder` (`None` stops).
    pub fn set_pcap(&mut self, recorder: Option<Box<PcapRecorder>>) {
        self.pcap = recorder;
    }

    /// The recording so far, which stops.
    pub fn take_pcap(&mut self) -> Option<Box<PcapRecorder>> {
        self.pcap.take()
    }

    /// Sends one datagram to the current target without waiting; a full send buffer drops it
    /// (counted) and gives `Ok(false)`, as late media is useless anyway.
    pub fn send(&mut self, data: &[u8]) -> io::Result<bool> {
        // Straight to sendto(2) on the non-blocking socket: tokio's `try_send_to` refuses
        // until its reactor has seen the socket writable, which would drop the priming packet
        // sent right after binding. Writability is never awaited, so nothing waits on the
        // readiness this bypasses.
        let sent = if self.connected {
            self.socket.send(data)
        } else {
            SockRef::from(&self.socket).send_to(data, &socket2::SockAddr::from(self.latch.target()))
        };
        match sent {
            Ok(_) => {
                self.stats.sent += 1;
                if let Some(p) = &mut self.pcap {
                    p.record(self.local, self.latch.target(), data);
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stats.send_dropped += 1;
                Ok(false)
            }
            Err(e) if transient(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The reactor registration, made on first use.
    fn reactor(&self) -> io::Result<&tokio::net::UdpSocket> {
        self.reactor
            .get_or_init(|| {
                self.socket
                    .try_clone()
                    .and_then(tokio::net::UdpSocket::from_std)
            })
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), e.to_string()))
    }

    /// Waits until a datagram (or a socket error) is queued for [`MediaSocket::try_recv`].
    pub async fn readable(&self) -> io::Result<()> {
        let reactor = self.reactor()?;
        let mut probe = [0u8; 1];
        loop {
            reactor.readable().await?;
            // Readiness may be stale: a tick may have drained the socket since. Looking
            // without taking tells; an empty socket clears the readiness and waits again.
            match reactor.try_io(Interest::READABLE, || self.socket.peek_from(&mut probe)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                // A datagram, or an error for `try_recv` to deal with.
                _ => return Ok(()),
            }
        }
    }

    /// The next datagram for the stream if one is queued, without waiting; datagrams that do
    /// not belong (see [`Latch`]) are dropped and counted.
    pub fn try_recv(&mut self) -> io::Result<Option<Datagram<'_>>> {
        Ok(self.take_admitted()?.map(|(len, from, latched)| Datagram {
            from,
            data: self.buf.get(..len).unwrap_or_default(),
            latched,
        }))
    }

    /// Waits for the next datagram for the stream.
    pub async fn recv(&mut self) -> io::Result<Datagram<'_>> {
        let (len, from, latched) = loop {
            self.readable().await?;
            if let Some(got) = self.take_admitted()? {
                break got;
            }
        };
        Ok(Datagram {
            from,
            data: self.buf.get(..len).unwrap_or_default(),
            latched,
        })
    }

    /// Reads queued datagrams until one is admitted (its length, source and whether it
    /// latched) or none is left.
    fn take_admitted(&mut self) -> io::Result<Option<(usize, SocketAddr, bool)>> {
        if self.readiness == Readiness::Idle {
            return Ok(None);
        }
        loop {
            let (len, from) = match self.socket.recv_from(&mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.readiness == Readiness::Ready {
                        self.readiness = Readiness::Idle;
                    }
                    return Ok(None);
                }
                Err(e) if transient(&e) => continue,
                Err(e) => return Err(e),
            };
            if let Some(p) = &mut self.pcap {
                p.record(from, self.local, self.buf.get(..len).unwrap_or_default());
            }
            if let Some(latched) = self.admit(len, from) {
                return Ok(Some((len, from, latched)));
            }
        }
    }

    /// Whether to hand on the `len` octets in the buffer from `from`, and if so whether they
    /// latched the stream.
    fn admit(&mut self, len: usize, from: SocketAddr) -> Option<bool> {
        if len > self.max_datagram {
            self.stats.oversize += 1;
            return None;
        }
        let data = self.buf.get(..len).unwrap_or_default();
        let filter = self.filter;
        match self.latch.check(from, || filter.fits(data)) {
            Verdict::Accept => {
                self.stats.received += 1;
                Some(false)
            }
            Verdict::Latched { previous } => {
                self.stats.received += 1;
                self.stats.latches += 1;
                if previous != from {
                    tracing::debug!(%previous, %from, local = %self.local, "media latched");
                }
                self.connect_latched(from);
                Some(true)
            }
            Verdict::Unfit => {
                self.stats.unfit += 1;
                None
            }
            Verdict::Foreign => {
                self.stats.foreign += 1;
                None
            }
        }
    }
}
