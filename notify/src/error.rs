//! The crate's one error type.

/// Everything that can go wrong while preparing or sending a notification.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] store::Error),
    /// A configuration value is unusable (address, URL, certificate, secret).
    #[error("invalid {field}: {reason}")]
    Config {
        /// The offending setting.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// Building an e-mail failed (bad address, bad header).
    #[error("e-mail: {0}")]
    Email(String),
    /// Building the HTTP client failed.
    #[error("http client: {0}")]
    Http(String),
    /// Converting or drawing a document failed.
    #[error("document: {0}")]
    Document(String),
    /// A job or document a notification needs is gone.
    #[error("{0} not found")]
    NotFound(&'static str),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A configuration error.
    pub(crate) fn config(field: &'static str, reason: impl std::fmt::Display) -> Self {
        Error::Config {
            field,
            reason: reason.to_string(),
        }
    }
}
