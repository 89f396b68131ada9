//! SQLite implementation of [`Store`](crate::Store): the embedded default, one process only.
//!
//! WAL mode lets readers run beside the single writer; `busy_timeout` makes writers wait for
//! each other instead of failing; the queue claim runs in `BEGIN IMMEDIATE`, which takes the
//! write lock up front, so two claimers are serialised and never pick the same job.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use crate::auth::{generate_token, hash_password, hash_token, verify_dummy, verify_password};
use crate::deliveries::*;
use crate::error::{Error, Result};
use crate::fax::*;
use crate::model::*;
use crate::numbers::E164;
use crate::records::*;
use crate::sql::{
    blocking, check_endpoint_owner, impl_store, lease_until, sha256_hex, ts, UserWithHash,
    CLAIM_DELIVERIES, DELIVERY_COLS, INSERT_DOCUMENT, INSERT_JOB, LIST_JOBS, USER_COLS,
};
use crate::store::Store;

/// How long a writer waits for the lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The same claim as PostgreSQL's without `SKIP LOCKED`, which the write lock makes moot.
const CLAIM_SQL: &str = "UPDATE jobs SET status = 'active', lease_owner = $1, lease_expires_at = $2, \
     attempts = attempts + 1, updated_at = $3 \
     WHERE id = (SELECT id FROM jobs \
         WHERE (status = 'queued' AND next_attempt_at <= $3) OR (status = 'active' AND lease_expires_at <= $3) \
         ORDER BY priority, next_attempt_at, created_at LIMIT 1) \
     RETURNING *";

/// A [`Store`](crate::Store) on an SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        Self::with_options(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens a database given as an `sqlite:` URL and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::with_options(SqliteConnectOptions::from_str(url)?).await
    }

    /// Opens with the given options plus the settings the store relies on.
    async fn with_options(opts: SqliteConnectOptions) -> Result<Self> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The underlying pool, for health checks and shutdown.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Starts a transaction that holds the write lock from its first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl_store!(SqliteStore, CLAIM_SQL);
