//! What a call leaves for its debug bundle: the SIP ladder of the leg, SpanDSP's T.30
//! trace and, when asked for, a pcap of its media. A carrier's support desk asks for
//! exactly these when a fax fails.

use serde::{Deserialize, Serialize};

/// Most SIP messages kept per leg; a call that loops on re-INVITEs keeps its start.
pub const MAX_SIP_MESSAGES: usize = 500;
/// Most T.30 trace lines kept per leg.
pub const MAX_T30_LINES: usize = 5_000;
/// Most pcap octets kept per leg (about 20 minutes of G.711 both ways).
pub const MAX_PCAP_BYTES: usize = 32 * 1024 * 1024;

/// The debug material of one call leg.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDebug {
    /// Every SIP message of the leg, sent or received, in order.
    pub sip: Vec<SipTrace>,
    /// SpanDSP's protocol-level log of the leg, in order.
    pub t30: Vec<T30Trace>,
    /// A classic pcap of the leg's RTP/UDPTL, when capture was enabled.
    #[serde(skip)]
    pub pcap: Option<Vec<u8>>,
    /// True when a limit above cut something off.
    pub truncated: bool,
}

/// One SIP message on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipTrace {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub unix_ms: i64,
    /// True for a message we sent, false for one we received.
    pub sent: bool,
    /// The far address (`ip:port`).
    pub peer: String,
    /// `udp` or `tcp`.
    pub transport: String,
    /// The whole message as on the wire (lossy UTF-8).
    pub text: String,
}

/// One line of SpanDSP's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct T30Trace {
    /// Media time since the call started, in ms.
    pub at_ms: u64,
    /// SpanDSP's severity (`error`, `protocol-error`, `protocol-warning`, `flow`, …).
    pub level: String,
    /// The message.
    pub text: String,
}
