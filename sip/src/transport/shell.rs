//! The tokio shell: UDP sockets, TCP listeners and connections. It only moves bytes; the
//! rules it applies come from the sans-IO functions of this module.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

use super::keepalive::KeepAliveConfig;
use super::{choose_transport, conn, response_target, set_via_transport, via_fixup};
use crate::dialog::LocalAgent;
use crate::error::{Error, Result};
use crate::msg::{is_keepalive, parse_datagram, Host, Message, SipUri, Uri};
use crate::transaction::{Peer, Transmit, Transport};

/// Where to listen and how to present ourselves.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// UDP sockets to bind (port 0 picks one).
    pub udp: Vec<SocketAddr>,
    /// TCP listeners to bind (port 0 picks one).
    pub tcp: Vec<SocketAddr>,
    /// The address others reach us at when it is not the bind address (1:1 NAT): used in
    /// Via, Contact and SDP instead of the bound one.
    pub advertised: Option<IpAddr>,
    /// Keep-alive of stream connections.
    pub keepalive: KeepAliveConfig,
    /// Requests over UDP larger than this go over TCP (RFC 3261 §18.1.1); `None` never
    /// switches (for peers known not to take TCP).
    pub udp_size_limit: Option<usize>,
    /// How long a TCP connect may take.
    pub connect_timeout: Duration,
}

impl TransportConfig {
    /// UDP and TCP on `addr`, with default keep-alive and the 1300-byte switch to TCP.
    pub fn udp_and_tcp(addr: SocketAddr) -> Self {
        TransportConfig {
            udp: vec![addr],
            tcp: vec![addr],
            advertised: None,
            keepalive: KeepAliveConfig::default(),
            udp_size_limit: Some(super::UDP_SIZE_LIMIT),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A message that arrived, its top Via already stamped with `received`/`rport`.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The message.
    pub message: Message,
    /// Where it came from, on which transport.
    pub peer: Peer,
    /// The message's bytes as they arrived (before the Via stamp), for debug ladders: a
    /// re-serialised message would hide what a peer got wrong.
    pub raw: Vec<u8>,
}

/// What [`SipTransport::next_event`] yields.
// Moved once per message, straight to the transaction layer: boxing would only add an
// allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TransportEvent {
    /// A message arrived.
    Message(Incoming),
    /// A TCP connection closed (either side, or a missed keep-alive pong).
    FlowClosed(Peer),
}

/// Counters of what the transport did with bytes it could not use, and keep-alives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Datagrams that did not parse and were dropped.
    pub malformed_datagrams: u64,
    /// Connections closed because their bytes could not be framed.
    pub malformed_streams: u64,
    /// CRLFCRLF pings answered.
    pub pings_answered: u64,
    /// Pings we sent on idle connections.
    pub pings_sent: u64,
    /// Pongs received.
    pub pongs_received: u64,
    /// TCP connections we opened.
    pub connections_opened: u64,
    /// TCP connections we accepted.
    pub connections_accepted: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) malformed_datagrams: AtomicU64,
    pub(crate) malformed_streams: AtomicU64,
    pub(crate) pings_answered: AtomicU64,
    pub(crate) pings_sent: AtomicU64,
    pub(crate) pongs_received: AtomicU64,
    pub(crate) connections_opened: AtomicU64,
    pub(crate) connections_accepted: AtomicU64,
}

type ConnTable = HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>;

/// What the socket tasks share: the connection table (transport state, not protocol
/// state), the incoming queue and the counters.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) conns: Mutex<ConnTable>,
    pub(crate) incoming: mpsc::UnboundedSender<Incoming>,
    pub(crate) closed: mpsc::UnboundedSender<Peer>,
    pub(crate) stats: Counters,
    pub(crate) keepalive: KeepAliveConfig,
}

impl Shared {
    fn table(&self) -> std::sync::MutexGuard<'_, ConnTable> {
        // A panic elsewhere cannot leave the map half-updated, so poisoning is ignored.
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Removes `remote` from the table if it is still this connection.
    pub(crate) fn forget(&self, remote: SocketAddr, me: &mpsc::UnboundedSender<Vec<u8>>) {
        let mut t = self.table();
        if t.get(&remote).is_some_and(|s| s.same_channel(me)) {
            t.remove(&remote);
        }
    }

    fn spawn_conn(
        self: &Arc<Self>,
        stream: TcpStream,
        remote: SocketAddr,
        shutdown: watch::Receiver<()>,
    ) -> mpsc::UnboundedSender<Vec<u8>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.table().insert(remote, tx.clone());
        tokio::spawn(conn::run(
            stream,
            remote,
            rx,
            tx.clone(),
            Arc::clone(self),
            shutdown,
        ));
        tx
    }
}

/// UDP and TCP transports of one user agent (RFC 3261 §18). Dropping it stops every task.
#[derive(Debug)]
pub struct SipTransport {
    cfg: TransportConfig,
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    tcp: Vec<SocketAddr>,
    shared: Arc<Shared>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    closed: mpsc::UnboundedReceiver<Peer>,
    shutdown_rx: watch::Receiver<()>,
    // Held only so that dropping the transport signals every task to stop.
    _shutdown: watch::Sender<()>,
}

fn io(op: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Io { op, kind: e.kind() }
}

impl SipTransport {
    /// Binds every socket of `cfg` and starts receiving.
    pub async fn bind(cfg: TransportConfig) -> Result<SipTransport> {
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (closed_tx, closed_rx) = mpsc::unbounded_channel();
        let (sd_tx, sd_rx) = watch::channel(());
        let shared = Arc::new(Shared {
            conns: Mutex::new(HashMap::new()),
            incoming: in_tx,
            closed: closed_tx,
            stats: Counters::default(),
            keepalive: cfg.keepalive,
        });
        let mut udp = Vec::new();
        for addr in &cfg.udp {
            let sock = Arc::new(UdpSocket::bind(addr).await.map_err(io("udp bind"))?);
            let local = sock.local_addr().map_err(io("udp local_addr"))?;
            tokio::spawn(udp_loop(
                Arc::clone(&sock),
                Arc::clone(&shared),
                sd_rx.clone(),
            ));
            udp.push((local, sock));
        }
        let mut tcp = Vec::new();
        for addr in &cfg.tcp {
            // With port 0, take the UDP socket's port when free: peers assume one port
            // for both (§18.1.1 sends large requests to the same port over TCP).
            let same = udp
                .iter()
                .find(|(u, _): &&(SocketAddr, _)| addr.port() == 0 && u.ip() == addr.ip())
                .map(|(u, _)| *u);
            let l = match same {
                Some(u) => match TcpListener::bind(u).await {
                    Ok(l) => l,
                    Err(_) => TcpListener::bind(addr).await.map_err(io("tcp bind"))?,
                },
                None => TcpListener::bind(addr).await.map_err(io("tcp bind"))?,
            };
            tcp.push(l.local_addr().map_err(io("tcp local_addr"))?);
            tokio::spawn(accept_loop(l, Arc::clone(&shared), sd_rx.clone()));
        }
        Ok(SipTransport {
            cfg,
            udp,
            tcp,
            shared,
            incoming: in_rx,
            closed: closed_rx,
            shutdown_rx: sd_rx,
            _shutdown: sd_tx,
        })
    }

    /// The bound address of the first socket of `transport` in the family of `ip_v6`.
    pub fn local_addr(&self, transport: Transport, ip_v6: bool) -> Option<SocketAddr> {
        let list: Vec<SocketAddr> = match transport {
            Transport::Udp => self.udp.iter().map(|(a, _)| *a).collect(),
            Transport::Tcp => self.tcp.clone(),
            Transport::Tls => Vec::new(),
        };
        list.into_iter().find(|a| a.is_ipv6() == ip_v6)
    }

    /// The address we put in Via, Contact and SDP: the advertised one, else the bound one.
    pub fn public_addr(&self, transport: Transport, ip_v6: bool) -> Option<SocketAddr> {
        let bound = self.local_addr(transport, ip_v6)?;
        Some(match self.cfg.advertised {
            Some(ip) => SocketAddr::new(ip, bound.port()),
            None => bound,
        })
    }

    /// Our identity for the dialog layer: Via sent-by and Contact on `transport`, with the
    /// advertised address when one is configured.
    pub fn local_agent(
        &self,
        user: &str,
        transport: Transport,
        ip_v6: bool,
        user_agent: &str,
    ) -> Option<LocalAgent> {
        let a = self.public_addr(transport, ip_v6)?;
        let host = match a.ip() {
            IpAddr::V4(v4) => Host::Ipv4(v4),
            IpAddr::V6(v6) => Host::Ipv6(v6),
        };
        let mut contact = SipUri::new(Some(user), host.clone());
        contact.port = Some(a.port());
        if transport != Transport::Udp {
            contact.params.set(
                "transport",
                Some(&super::via_token(transport).to_lowercase()),
            );
        }
        Some(LocalAgent {
            host,
            port: Some(a.port()),
            contact: Uri::Sip(contact),
            user_agent: user_agent.to_owned(),
        })
    }

    /// The next message received on any socket; `None` once the transport is shutting down.
    pub async fn recv(&mut self) -> Option<Incoming> {
        self.incoming.recv().await
    }

    /// The next message received, or a TCP connection that closed (so that registrations
    /// made over it can be dropped); `None` once the transport is shutting down.
    pub async fn next_event(&mut self) -> Option<TransportEvent> {
        tokio::select! {
            biased;
            m = self.incoming.recv() => m.map(TransportEvent::Message),
            Some(p) = self.closed.recv() => Some(TransportEvent::FlowClosed(p)),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TransportStats {
        let c = &self.shared.stats;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TransportStats {
            malformed_datagrams: l(&c.malformed_datagrams),
            malformed_streams: l(&c.malformed_streams),
            pings_answered: l(&c.pings_answered),
            pings_sent: l(&c.pings_sent),
            pongs_received: l(&c.pongs_received),
            connections_opened: l(&c.connections_opened),
            connections_accepted: l(&c.connections_accepted),
        }
    }

    /// Open TCP connections.
    pub fn connection_count(&self) -> usize {
        self.shared.table().len()
    }

    /// Sends what the transaction layer asked for; returns the peer it actually went to
    /// (a large UDP request goes over TCP, §18.1.1; a response whose connection is gone
    /// goes where its Via says, §18.2.2).
    pub async fn send(&self, t: Transmit) -> Result<Peer> {
        let Transmit { mut peer, message } = t;
        let bytes = message.to_bytes();
        if let Message::Request(req) = &message {
            let tcp_allowed = !self.tcp.is_empty();
            let chosen = choose_transport(
                peer.transport,
                bytes.len(),
                self.cfg.udp_size_limit,
                tcp_allowed,
            );
            if chosen != peer.transport {
                let mut switched = req.clone();
                set_via_transport(&mut switched, chosen);
                let tcp_peer = Peer {
                    addr: peer.addr,
                    transport: chosen,
                };
                // §18.1.1: if the TCP attempt fails, the request goes over UDP as it was.
                if self
                    .send_stream(tcp_peer, switched.to_bytes())
                    .await
                    .is_ok()
                {
                    return Ok(tcp_peer);
                }
            }
        }
        if let (Message::Response(resp), true) = (&message, peer.transport.is_reliable()) {
            let open = self.shared.table().contains_key(&peer.addr);
            if !open {
                if let Some(p) = response_target(resp) {
                    peer = p;
                }
            }
        }
        match peer.transport {
            Transport::Udp => self.send_udp(peer.addr, &bytes).await.map(|()| peer),
            Transport::Tcp => self.send_stream(peer, bytes).await.map(|()| peer),
            Transport::Tls => Err(Error::Transport("TLS is not supported")),
        }
    }

    async fn send_udp(&self, to: SocketAddr, bytes: &[u8]) -> Result<()> {
        let sock = self
            .udp
            .iter()
            .find(|(a, _)| a.is_ipv6() == to.is_ipv6())
            .map(|(_, s)| s)
            .ok_or(Error::Transport("no UDP socket in the address family"))?;
        sock.send_to(bytes, to).await.map_err(io("udp send"))?;
        Ok(())
    }

    async fn send_stream(&self, peer: Peer, bytes: Vec<u8>) -> Result<()> {
        let existing = self.shared.table().get(&peer.addr).cloned();
        let bytes = match existing {
            Some(tx) => match tx.send(bytes) {
                Ok(()) => return Ok(()),
                // The connection died since the lookup: open a new one.
                Err(e) => e.0,
            },
            None => bytes,
        };
        if self.tcp.is_empty() {
            return Err(Error::Transport("TCP is not enabled"));
        }
        let stream = tokio::time::timeout(self.cfg.connect_timeout, TcpStream::connect(peer.addr))
            .await
            .map_err(|_| Error::Io {
                op: "tcp connect",
                kind: std::io::ErrorKind::TimedOut,
            })?
            .map_err(io("tcp connect"))?;
        let _ = stream.set_nodelay(true);
        self.shared
            .stats
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        let tx = self
            .shared
            .spawn_conn(stream, peer.addr, self.shutdown_rx.clone());
        tx.send(bytes)
            .map_err(|_| Error::Transport("connection closed"))
    }
}

async fn udp_loop(sock: Arc<UdpSocket>, shared: Arc<Shared>, mut shutdown: watch::Receiver<()>) {
    // 65535 bytes: the largest UDP payload, so that nothing is truncated silently.
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                // ICMP errors from earlier sends surface here on some systems; keep going.
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let data = buf.get(..n).unwrap_or_default();
        if is_keepalive(data) {
            continue;
        }
        let mut message = match parse_datagram(data) {
            Ok(m) => m,
            Err(_) => {
                shared
                    .stats
                    .malformed_datagrams
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        if let Message::Request(r) = &mut message {
            via_fixup(r, from);
        }
        let peer = Peer {
            addr: from,
            transport: Transport::Udp,
        };
        let raw = data.to_vec();
        if shared
            .incoming
            .send(Incoming { message, peer, raw })
            .is_err()
        {
            return;
        }
    }
}

async fn accept_loop(l: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<()>) {
    loop {
        let (stream, remote) = tokio::select! {
            r = l.accept() => match r {
                Ok(x) => x,
                // Out of descriptors and the like: back off rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        shared
            .stats
            .connections_accepted
            .fetch_add(1, Ordering::Relaxed);
        shared.spawn_conn(stream, remote, shutdown.clone());
    }
}
