//! PostgreSQL implementation of [`Store`](crate::Store): the production backend, safe for
//! several nodes sharing one database (the queue claim uses `FOR UPDATE SKIP LOCKED`).

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
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

/// Skips rows other workers have locked, so concurrent claimers never block on or share a job.
const CLAIM_SQL: &str = "UPDATE jobs SET status = 'active', lease_owner = $1, lease_expires_at = $2, \
     attempts = attempts + 1, updated_at = $3 \
     WHERE id = (SELECT id FROM jobs \
         WHERE (status = 'queued' AND next_attempt_at <= $3) OR (status = 'active' AND lease_expires_at <= $3) \
         ORDER BY priority, next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING *";

/// A [`Store`](crate::Store) on a PostgreSQL connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host/db`) and applies pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses an existing pool, applying pending migrations.
    pub async fn from_pool(pool: PgPool) -> Result<Self> {
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// The underlying pool, for health checks and shutdown.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts a read-write transaction (READ COMMITTED; the claim relies on row locks).
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

impl_store!(PgStore, CLAIM_SQL);
