//! The one error type of the `spandsp` crate.

use std::path::PathBuf;

/// Why a SpanDSP object could not be created or configured.
///
/// Fax protocol outcomes (a failed call, a T.30 error) are not errors: they are
/// [`crate::CompletionCode`] values in a [`crate::FaxResult`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SpanDSP returned NULL from an `*_init` call.
    #[error("SpanDSP could not create the {0} (out of memory?)")]
    InitFailed(&'static str),
    /// A T.30 identifier (TSI/CSI) was longer than 20 characters or not printable ASCII.
    #[error("station identifier {0:?} is invalid: at most 20 printable ASCII characters")]
    BadIdent(String),
    /// The page header text was longer than 50 characters or contained a NUL.
    #[error("page header {0:?} is invalid: at most 50 characters, no NUL")]
    BadHeader(String),
    /// A file path SpanDSP would silently truncate (it keeps 255 bytes) or that holds a NUL.
    #[error("path {0} is unusable by SpanDSP: at most 255 bytes, no NUL")]
    BadPath(PathBuf),
    /// The TIFF to send cannot be sent; the message says what is wrong with it.
    #[error("cannot send {path}: {reason}")]
    BadTiff {
        /// The file that was checked.
        path: PathBuf,
        /// What is wrong with it, for a person to act on.
        reason: String,
    },
    /// The directory a received TIFF would be written into does not exist.
    #[error("cannot receive into {0}: its directory does not exist")]
    BadReceivePath(PathBuf),
    /// A configuration value SpanDSP cannot honour.
    #[error("invalid fax configuration: {0}")]
    BadConfig(String),
    /// A received IFP packet SpanDSP could not decode.
    #[error("malformed T.38 IFP packet ({0} bytes)")]
    MalformedIfp(usize),
}
