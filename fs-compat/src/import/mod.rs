//! Importers of existing configurations (issue #9, item 5): FreeSWITCH sofia gateway XML
//! ([`freeswitch`]) and gofaxserver's `config.json` and PostgreSQL tables ([`gofaxserver`]).
//! Each reports what it could not carry over instead of dropping it silently, and running
//! one twice leaves the store as the first run did.

pub mod freeswitch;
pub mod gofaxserver;

/// Why an import could not run at all (per-row problems are reported, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(String),
    /// gofaxserver's `config.json` cannot be used.
    #[error("config: {0}")]
    Config(String),
    /// gofaxserver's database could not be read.
    #[error("reading gofaxserver's {table}: {source}")]
    Source {
        /// The table, or `database` when connecting failed.
        table: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// faxserver's store failed.
    #[error("store: {0}")]
    Store(#[from] store::Error),
}
