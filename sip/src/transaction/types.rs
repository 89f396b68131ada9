//! Values shared by the transaction state machines and the layer: timer settings, peers,
//! transmits and events.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::msg::{Message, Request, Response};

/// RFC 3261 §17.1.1.1 timer bases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Cap on non-INVITE and response retransmission intervals, 4 s by default.
    pub t2: Duration,
    /// How long the network may hold a message, 5 s by default.
    pub t4: Duration,
    /// When an INVITE server transaction sends 100 Trying if the TU has not answered:
    /// `Some(200 ms)` by default (RFC 3261 §17.2.1), `None` sends it at once.
    pub trying_delay: Option<Duration>,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Some(Duration::from_millis(200)),
        }
    }
}

impl TimerConfig {
    /// 64·T1: timers B, F, H, J, L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: at least 32 s on unreliable transports (RFC 3261 §17.1.1.2).
    pub fn timer_d(&self) -> Duration {
        self.t1x64().max(Duration::from_secs(32))
    }
}

/// The transport a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, so requests and responses are retransmitted.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// True for TCP and TLS, where retransmission timers are not used.
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// The other end of a message: address and transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Socket address.
    pub addr: SocketAddr,
    /// Transport.
    pub transport: Transport,
}

/// A message the shell must send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Where to.
    pub peer: Peer,
    /// What.
    pub message: Message,
}

/// Identifies one transaction in a [`TransactionLayer`](super::TransactionLayer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub(crate) u64);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// What the transaction layer tells the transaction user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum TransactionEvent {
    /// A new request; answer it with [`send_response`](super::TransactionLayer::send_response).
    Request {
        /// The server transaction created for it.
        id: TransactionId,
        /// The request, its top Via stamped with `received`/`rport` (RFC 3261 §18.2.1).
        request: Request,
        /// Where it came from.
        peer: Peer,
        /// For a CANCEL: the INVITE server transaction it matches, if still alive (§9.2).
        cancels: Option<TransactionId>,
    },
    /// An ACK that is no part of a non-2xx INVITE transaction: the ACK for a 2xx (§13.3.1.4),
    /// for the dialog layer.
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        peer: Peer,
        /// The INVITE server transaction whose 2xx it acknowledges, if it matched one.
        accepted: Option<TransactionId>,
    },
    /// A response to a client transaction (provisional, or final; 2xx retransmissions too,
    /// so that the TU can repeat its ACK).
    Response {
        /// The client transaction.
        id: TransactionId,
        /// The response.
        response: Response,
    },
    /// A response that matches no transaction (a late 2xx retransmission, for the dialog).
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        peer: Peer,
    },
    /// Timer B or F expired (no final response), or Timer H (no ACK for a non-2xx final).
    Timeout {
        /// The transaction.
        id: TransactionId,
    },
    /// A 2xx to an INVITE was retransmitted for 64·T1 without an ACK (§13.3.1.4): the TU
    /// should end the session with BYE.
    AckTimeout {
        /// The INVITE server transaction.
        id: TransactionId,
    },
    /// The transport reported a failure sending for this transaction.
    TransportError {
        /// The transaction.
        id: TransactionId,
    },
    /// The transaction is gone; its id will not be used again.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

/// Where the state machines put their output.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<TransactionEvent>,
}

impl Outbox {
    pub(crate) fn send(&mut self, peer: Peer, message: impl Into<Message>) {
        self.transmits.push_back(Transmit {
            peer,
            message: message.into(),
        });
    }

    pub(crate) fn event(&mut self, e: TransactionEvent) {
        self.events.push_back(e);
    }
}

/// True when timer `t` is set and due.
pub(crate) fn due(t: Option<std::time::Instant>, now: std::time::Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

/// `now + d`, saturating far in the future instead of overflowing on absurd timer settings.
pub(crate) fn after(now: std::time::Instant, d: std::time::Duration) -> std::time::Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}
