//! The one error type of the `media` crate.

/// Why a media packet was refused or a media operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An RTP packet was malformed; the text says how.
    #[error("malformed RTP packet: {0}")]
    MalformedRtp(&'static str),
    /// A UDPTL packet was malformed; the text says how.
    #[error("malformed UDPTL packet: {0}")]
    MalformedUdptl(&'static str),
}
