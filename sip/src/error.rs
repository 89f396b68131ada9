//! The one error type of the `sip` crate.
//!
//! Protocol outcomes (a 488 to an offer, a 4xx the validator wants sent) are values, not
//! errors: see [`crate::msg::Rejection`] and [`crate::sdp::NotAcceptable`]. `Error` is for
//! bytes that cannot be understood and for calls the state machines refuse.

use crate::msg::HeaderName;

/// Shorthand for results whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a SIP message or SDP body could not be parsed, or a SIP operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input held nothing but line breaks.
    #[error("empty message")]
    Empty,
    /// The request line or status line is malformed; the text says how.
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// A header line is malformed (1-based line number in the head); the text says how.
    #[error("malformed header line {line}: {reason}")]
    HeaderLine {
        /// Line number within the message head, counting the start line as 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The head has no empty line that ends it.
    #[error("message head is not terminated by an empty line")]
    UnterminatedHead,
    /// Content-Length is missing where it is required, repeated or not a number.
    #[error("bad Content-Length: {0}")]
    ContentLength(&'static str),
    /// The datagram ends before the body that Content-Length announces.
    #[error("body truncated: Content-Length is {expected} but only {available} bytes follow")]
    Truncated {
        /// The announced body length.
        expected: usize,
        /// The bytes actually present after the head.
        available: usize,
    },
    /// A message head or body is larger than this crate accepts.
    #[error("message too large: more than {max} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        max: usize,
    },
    /// A URI is malformed; the text says how.
    #[error("malformed URI: {0}")]
    Uri(&'static str),
    /// A header value is malformed; the text says how.
    #[error("malformed {name} header: {reason}")]
    Header {
        /// The header whose value is bad.
        name: HeaderName,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header the operation needs is absent.
    #[error("missing {0} header")]
    MissingHeader(HeaderName),
    /// A header that may appear once appears more than once.
    #[error("more than one {0} header")]
    DuplicateHeader(HeaderName),
    /// The SIP version is not 2.0.
    #[error("unsupported SIP version {major}.{minor}")]
    Version {
        /// Major version number.
        major: u16,
        /// Minor version number.
        minor: u16,
    },
    /// An SDP line is malformed (1-based line number in the body); the text says how.
    #[error("malformed SDP line {line}: {reason}")]
    Sdp {
        /// Line number within the SDP body.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A transaction id does not name a live transaction.
    #[error("unknown transaction")]
    UnknownTransaction,
    /// The transaction cannot do what was asked in its current state; the text says what.
    #[error("transaction refused: {0}")]
    TransactionState(&'static str),
    /// A digest challenge or credentials value is malformed; the text says how.
    #[error("bad digest authentication header: {0}")]
    Auth(&'static str),
    /// A dialog id does not name a live call.
    #[error("unknown dialog")]
    UnknownDialog,
    /// The dialog cannot do what was asked in its current state; the text says what.
    #[error("dialog refused: {0}")]
    DialogState(&'static str),
    /// The registration cannot do what was asked in its current state; the text says what.
    #[error("registration refused: {0}")]
    RegistrationState(&'static str),
    /// A socket operation failed.
    #[error("{op} failed: {kind}")]
    Io {
        /// The operation (`udp bind`, `tcp connect`, …).
        op: &'static str,
        /// The OS error kind.
        kind: std::io::ErrorKind,
    },
    /// The transport cannot send where asked; the text says why.
    #[error("transport: {0}")]
    Transport(&'static str),
}
