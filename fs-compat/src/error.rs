//! The crate's error type.

/// What can go wrong in the FreeSWITCH compatibility layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A frame from an Event Socket client exceeded its size limit.
    #[error("ESL frame too large: {what} over {limit} bytes")]
    FrameTooLarge {
        /// Which part (headers or body).
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// A configuration value could not be used.
    #[error("invalid ESL configuration: {0}")]
    Config(String),
    /// Socket I/O failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] store::Error),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
