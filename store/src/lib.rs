//! faxserver's storage layer: the [`Store`] trait, the data model, and its PostgreSQL
//! ([`PgStore`]) and SQLite ([`SqliteStore`]) implementations, which pass one conformance
//! suite (`tests/conformance.rs`).
//!
//! The design (`design.md` §1) puts `Store` in `engine`; it lives here so that it builds and
//! tests on its own, and `engine` re-exports it later (`engine` → `store`, never the reverse).
//! SQL is written against sqlx's runtime API (`query_as` + `FromRow`) rather than the
//! compile-time macros, because no database is available at build time. Migrations live in
//! `migrations/postgres` and `migrations/sqlite` at the workspace root and run on connect.

pub mod auth;
pub mod debug;
pub mod deliveries;
pub mod dialing;
mod error;
pub mod fax;
pub mod header_tz;
pub mod model;
pub mod numbers;
mod pg;
pub mod records;
mod sql;
mod sqlite;
pub mod stats;
mod store;

pub use debug::{CallDebugRecord, NewCallDebug};
pub use deliveries::*;
pub use dialing::{DailyUsage, DialingSettings};
pub use error::{Error, Result};
pub use fax::*;
pub use model::*;
pub use numbers::{NumberRules, E164};
pub use pg::PgStore;
pub use records::*;
pub use sqlite::SqliteStore;
pub use stats::{DeliveryFailures, QueueStats};
pub use store::Store;
