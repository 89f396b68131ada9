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
}
