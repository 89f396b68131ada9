//! The one error type of the `media` crate.

/// Why a media packet was refused or a media operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An RTP packet was malformed; the text says how.
    #[error("malformed RTP packet: {0}")]
    MalformedRtp(&'static str),
    /// An RFC 4733 telephone-event payload was malformed; the text says how.
    #[error("malformed telephone-event payload: {0}")]
    MalformedTelephoneEvent(&'static str),
    /// A packetisation time (ms) that G.711 RTP cannot use.
    #[error("unusable ptime {0} ms")]
    BadPtime(u32),
    /// An RTP payload type outside 0–127.
    #[error("RTP payload type {0} is out of range")]
    BadPayloadType(u8),
    /// A UDPTL packet was malformed; the text says how.
    #[error("malformed UDPTL packet: {0}")]
    MalformedUdptl(&'static str),
    /// An IFP handed to the UDPTL sender cannot be sent; the text says why.
    #[error("invalid IFP for UDPTL: {0}")]
    InvalidIfp(&'static str),
    /// A media port range that holds no even/odd port pair.
    #[error("media port range {first}-{last} holds no RTP/RTCP port pair")]
    BadPortRange {
        /// First port of the configured range.
        first: u16,
        /// Last port of the configured range.
        last: u16,
    },
    /// Every port pair of the media range is in use.
    #[error("no free media port pair: all {capacity} pairs of {first}-{last} are in use")]
    PortsExhausted {
        /// First port of the configured range.
        first: u16,
        /// Last port of the configured range.
        last: u16,
        /// Port pairs the range holds.
        capacity: usize,
    },
    /// Every free port of the media range failed to bind (other processes hold them).
    #[error("none of the {tried} free media ports could be bound; last error: {last_error}")]
    NoBindablePort {
        /// Ports tried.
        tried: usize,
        /// The last bind error.
        last_error: String,
    },
    /// A socket operation failed while setting up a media socket.
    #[error("media socket {op} failed: {message}")]
    Socket {
        /// What was being done.
        op: &'static str,
        /// The operating system's error kind.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
}

impl Error {
    /// A [`Error::Socket`] for `op` from an I/O error.
    pub(crate) fn socket(op: &'static str, e: &std::io::Error) -> Self {
        Error::Socket {
            op,
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}
