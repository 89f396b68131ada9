//! FreeSWITCH compatibility for faxserver.
//!
//! Deployments built around FreeSWITCH and gofaxserver keep their tools: an Event Socket
//! (ESL, FreeSWITCH's `mod_event_socket` inbound mode) server that speaks FreeSWITCH's wire
//! format, runs the API commands those tools use (`status`, `db`, `show channels`,
//! `originate … &txfax(…)`, …) and renders the engine's events as FreeSWITCH events
//! (`CHANNEL_*`, `spandsp::*`); and `mod_db`'s key space on top of the store's key-value
//! namespaces, which the engine's T.38 policy reads (`fallback`, `override-<number>`).
//!
//! - [`esl`]: the sans-IO codec, the per-connection session, events, and the tokio server;
//! - [`moddb`]: `db insert/select/delete/exists/count/list` over [`store::Store`];
//! - [`api`]: the API commands and the [`EslBackend`] trait through which they reach the
//!   rest of the server;
//! - [`import`]: existing configurations (FreeSWITCH sofia gateway XML) as faxserver's.

pub mod api;
mod error;
pub mod esl;
pub mod import;
pub mod moddb;

pub use api::{EslBackend, FaxRequest, FaxTarget};
pub use error::{Error, Result};
pub use esl::server::{spawn, EslConfig, EslDeps, EslServer};
