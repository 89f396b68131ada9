//! The SQL both backends share, as one macro that implements [`crate::Store`] for a type with
//! a `pool` field and a `begin_write` method.
//!
//! A macro rather than `impl<DB: Database>`: the generic version needs higher-ranked bounds
//! for every bound type and compiles slowly, while PostgreSQL and SQLite (3.35+) accept the
//! same `$N` placeholders, `RETURNING` and `ON CONFLICT`. Only the queue claim differs, and the
//! caller passes it in.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, Result};
use crate::model::{NewEndpoint, Scope, TenantId};

/// Columns of `users` that may leave the store (never `password_hash`).
pub(crate) const USER_COLS: &str = "id, tenant_id, username, created_at";

/// Truncates to microseconds, the precision of PostgreSQL, so that values round-trip alike.
pub(crate) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// `now + lease`, refusing leases too long to represent.
pub(crate) fn lease_until(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>> {
    TimeDelta::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .map(ts)
        .ok_or_else(|| Error::Invalid {
            field: "lease",
            reason: format!("{lease:?} is out of range"),
        })
}

/// Checks that an endpoint's scope agrees with its owner (number ownership is checked by SQL).
pub(crate) fn check_endpoint_owner(owner: Option<TenantId>, e: &NewEndpoint) -> Result<()> {
    let ok = match (e.scope, owner) {
        (Scope::Global, None) => e.scope_id == 0,
        (Scope::Tenant, Some(t)) => e.scope_id == t.0,
        (Scope::Number, Some(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "endpoint scope",
            reason: format!(
                "{} scope id {} does not match owner {owner:?}",
                e.scope.as_str(),
                e.scope_id
            ),
        })
    }
}

/// Stores a document (binds: id, tenant, content type, pages, data, created_at, sha256).
pub(crate) const INSERT_DOCUMENT: &str = "INSERT INTO documents (id, tenant_id, content_type, pages, data, created_at, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Enqueues a job (binds: id, tenant, direction, caller, callee, document, priority,
/// not_before, now).
pub(crate) const INSERT_JOB: &str = "INSERT INTO jobs (id, tenant_id, direction, caller, callee, document_id, status, priority, attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, 0, $8, $9, $9) RETURNING *";

/// One page of a tenant's jobs, newest first (binds: tenant, direction, status, cancelled,
/// from, before, cursor time, cursor id, limit). The last clause is the keyset condition
/// `(created_at, id) < cursor`: it uses `jobs_tenant_created` and, unlike OFFSET, neither
/// skips nor repeats a job when new ones arrive between pages.
pub(crate) const LIST_JOBS: &str = "SELECT * FROM jobs WHERE tenant_id = $1 \
     AND ($2 IS NULL OR direction = $2) AND ($3 IS NULL OR status = $3) \
     AND ($4 IS NULL OR (cancelled_at IS NOT NULL) = $4) \
     AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6) \
     AND ($7 IS NULL OR created_at < $7 OR (created_at = $7 AND id < $8)) \
     ORDER BY created_at DESC, id DESC LIMIT $9";

/// Columns of `deliveries` that the log shows (not the headers and body, which may be large).
pub(crate) const DELIVERY_COLS: &str = "id, tenant_id, job_id, endpoint_id, channel, event, target, content_type, status, attempts, next_attempt_at, retry_from, last_status, last_error, created_at, updated_at, finished_at";

/// Claims due deliveries by moving their due time to the lease's end (binds: now, lease end,
/// limit). Portable without `SKIP LOCKED`: the outer condition is checked again on the row a
/// concurrent claimer has just updated (PostgreSQL re-reads it; SQLite holds the write lock),
/// so a delivery is never claimed twice.
pub(crate) const CLAIM_DELIVERIES: &str =
    "UPDATE deliveries SET next_attempt_at = $2, updated_at = $1 \
     WHERE status = 'pending' AND next_attempt_at <= $1 AND id IN (SELECT id FROM deliveries \
         WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3) \
     RETURNING *";

/// Hex SHA-256, as stored in `documents.sha256`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs CPU-heavy argon2 work off the async executor.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::PasswordHash(e.to_string()))
}

/// Implements [`crate::Store`] for `$ty` (fields: `pool`; method: `begin_write`), with
/// `$claim` as the queue-claim statement (binds: worker, lease expiry, now).
macro_rules! impl_store {
    ($ty:ty, $claim:expr) => {
        #[async_trait::async_trait]
        impl $crate::Store for $ty {
            async fn create_tenant(&self, t: &NewTenant, now: DateTime<Utc>) -> Result<Tenant> {
                sqlx::query_as("INSERT INTO tenants (name, notify, created_at) VALUES ($1, $2, $3) RETURNING *")
                    .bind(&t.name).bind(&t.notify).bind(ts(now))
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn get_tenant(&self, id: TenantId) -> Result<Option<Tenant>> {
                Ok(sqlx::query_as("SELECT * FROM tenants WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn list_tenants(&self) -> Result<Vec<Tenant>> {
                Ok(sqlx::query_as("SELECT * FROM tenants ORDER BY id").fetch_all(&self.pool).await?)
            }
            async fn update_tenant(&self, id: TenantId, t: &NewTenant) -> Result<bool> {
                let r = sqlx::query("UPDATE tenants SET name = $2, notify = $3 WHERE id = $1")
                    .bind(id).bind(&t.name).bind(&t.notify).execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(r.rows_affected() > 0)
            }
            async fn delete_tenant(&self, id: TenantId) -> Result<bool> {
                let r = sqlx::query("DELETE FROM tenants WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }

            async fn create_number(&self, tenant: TenantId, n: &NewNumber) -> Result<TenantNumber> {
                sqlx::query_as("INSERT INTO tenant_numbers (tenant_id, number, name, header, notify) VALUES ($1, $2, $3, $4, $5) RETURNING *")
                    .bind(tenant).bind(n.number.as_str()).bind(&n.name).bind(&n.header).bind(&n.notify)
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn get_number(&self, tenant: TenantId, id: NumberId) -> Result<Option<TenantNumber>> {
                Ok(sqlx::query_as("SELECT * FROM tenant_numbers WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).fetch_optional(&self.pool).await?)
            }
            async fn find_number(&self, number: &E164) -> Result<Option<TenantNumber>> {
                Ok(sqlx::query_as("SELECT * FROM tenant_numbers WHERE number = $1")
                    .bind(number.as_str()).fetch_optional(&self.pool).await?)
            }
            async fn list_numbers(&self, tenant: TenantId) -> Result<Vec<TenantNumber>> {
                Ok(sqlx::query_as("SELECT * FROM tenant_numbers WHERE tenant_id = $1 ORDER BY id")
                    .bind(tenant).fetch_all(&self.pool).await?)
            }
            async fn update_number(&self, tenant: TenantId, id: NumberId, n: &NewNumber) -> Result<bool> {
                let r = sqlx::query("UPDATE tenant_numbers SET number = $3, name = $4, header = $5, notify = $6 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).bind(n.number.as_str()).bind(&n.name).bind(&n.header).bind(&n.notify)
                    .execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(r.rows_affected() > 0)
            }
            async fn delete_number(&self, tenant: TenantId, id: NumberId) -> Result<bool> {
                let r = sqlx::query("DELETE FROM tenant_numbers WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }

            async fn create_user(&self, tenant: TenantId, username: &str, password: &str, now: DateTime<Utc>) -> Result<User> {
                let pw = password.to_owned();
                let hash = blocking(move || hash_password(&pw)).await??;
                let sql = format!("INSERT INTO users (tenant_id, username, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING {USER_COLS}");
                sqlx::query_as(&sql).bind(tenant).bind(username).bind(hash).bind(ts(now))
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<Option<User>> {
                let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND id = $2");
                Ok(sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(&self.pool).await?)
            }
            async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>> {
                let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1 ORDER BY id");
                Ok(sqlx::query_as(&sql).bind(tenant).fetch_all(&self.pool).await?)
            }
            async fn rename_user(&self, tenant: TenantId, id: UserId, username: &str) -> Result<bool> {
                let r = sqlx::query("UPDATE users SET username = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).bind(username).execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(r.rows_affected() > 0)
            }
            async fn set_password(&self, tenant: TenantId, id: UserId, password: &str) -> Result<bool> {
                let pw = password.to_owned();
                let hash = blocking(move || hash_password(&pw)).await??;
                let r = sqlx::query("UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).bind(hash).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }
            async fn delete_user(&self, tenant: TenantId, id: UserId) -> Result<bool> {
                let r = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }
            async fn verify_user_password(&self, username: &str, password: &str) -> Result<Option<User>> {
                let sql = format!("SELECT {USER_COLS}, password_hash FROM users WHERE username = $1");
                let row: Option<UserWithHash> = sqlx::query_as(&sql).bind(username).fetch_optional(&self.pool).await?;
                let pw = password.to_owned();
                match row {
                    Some(UserWithHash { user, password_hash }) => {
                        let ok = blocking(move || verify_password(&password_hash, &pw)).await?;
                        Ok(ok.then_some(user))
                    }
                    None => {
                        blocking(move || verify_dummy(&pw)).await?;
                        Ok(None)
                    }
                }
            }
            async fn create_token(&self, tenant: TenantId, user: UserId, label: &str, now: DateTime<Utc>) -> Result<Option<(ApiToken, String)>> {
                if self.get_user(tenant, user).await?.is_none() {
                    return Ok(None);
                }
                let token = generate_token();
                let row: ApiToken = sqlx::query_as("INSERT INTO api_tokens (user_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id, user_id, label, created_at")
                    .bind(user).bind(hash_token(&token)).bind(label).bind(ts(now))
                    .fetch_one(&self.pool).await.map_err(Error::from_write)?;
                Ok(Some((row, token)))
            }
            async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
                // Lookup by digest: timing reveals nothing usable about the plaintext.
                Ok(sqlx::query_as("SELECT u.id, u.tenant_id, u.username, u.created_at FROM users u JOIN api_tokens t ON t.user_id = u.id WHERE t.token_hash = $1")
                    .bind(hash_token(token)).fetch_optional(&self.pool).await?)
            }
            async fn list_tokens(&self, tenant: TenantId, user: UserId) -> Result<Vec<ApiToken>> {
                Ok(sqlx::query_as("SELECT t.id, t.user_id, t.label, t.created_at FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.tenant_id = $1 AND t.user_id = $2 ORDER BY t.id")
                    .bind(tenant).bind(user).fetch_all(&self.pool).await?)
            }
            async fn delete_token(&self, tenant: TenantId, id: TokenId) -> Result<bool> {
                let r = sqlx::query("DELETE FROM api_tokens WHERE id = $2 AND user_id IN (SELECT id FROM users WHERE tenant_id = $1)")
                    .bind(tenant).bind(id).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }

            async fn create_endpoint(&self, owner: Option<TenantId>, e: &NewEndpoint) -> Result<Endpoint> {
                self.check_endpoint(owner, e).await?;
                sqlx::query_as("INSERT INTO endpoints (tenant_id, scope, scope_id, endpoint_type, target, priority, bridge) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *")
                    .bind(owner).bind(e.scope.as_str()).bind(e.scope_id).bind(e.endpoint_type.as_str())
                    .bind(&e.target).bind(e.priority).bind(e.bridge)
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn get_endpoint(&self, owner: Option<TenantId>, id: EndpointId) -> Result<Option<Endpoint>> {
                Ok(sqlx::query_as("SELECT * FROM endpoints WHERE id = $2 AND tenant_id IS NOT DISTINCT FROM $1")
                    .bind(owner).bind(id).fetch_optional(&self.pool).await?)
            }
            async fn list_endpoints(&self, owner: Option<TenantId>) -> Result<Vec<Endpoint>> {
                Ok(sqlx::query_as("SELECT * FROM endpoints WHERE tenant_id IS NOT DISTINCT FROM $1 ORDER BY id")
                    .bind(owner).fetch_all(&self.pool).await?)
            }
            async fn update_endpoint(&self, owner: Option<TenantId>, id: EndpointId, e: &NewEndpoint) -> Result<bool> {
                self.check_endpoint(owner, e).await?;
                let r = sqlx::query("UPDATE endpoints SET scope = $3, scope_id = $4, endpoint_type = $5, target = $6, priority = $7, bridge = $8 WHERE id = $2 AND tenant_id IS NOT DISTINCT FROM $1")
                    .bind(owner).bind(id).bind(e.scope.as_str()).bind(e.scope_id).bind(e.endpoint_type.as_str())
                    .bind(&e.target).bind(e.priority).bind(e.bridge)
                    .execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(r.rows_affected() > 0)
            }
            async fn delete_endpoint(&self, owner: Option<TenantId>, id: EndpointId) -> Result<bool> {
                let r = sqlx::query("DELETE FROM endpoints WHERE id = $2 AND tenant_id IS NOT DISTINCT FROM $1")
                    .bind(owner).bind(id).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }

            async fn create_gateway(&self, g: &NewGateway) -> Result<Gateway> {
                sqlx::query_as("INSERT INTO gateways (name, uri, transport, username, password, register, allowed_sources, tenant_id, t38_allowed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *")
                    .bind(&g.name).bind(&g.uri).bind(g.transport.as_str()).bind(&g.username).bind(&g.password)
                    .bind(g.register).bind(Json(&g.allowed_sources)).bind(g.tenant_id).bind(g.t38_allowed)
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn get_gateway(&self, id: GatewayId) -> Result<Option<Gateway>> {
                Ok(sqlx::query_as("SELECT * FROM gateways WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn get_gateway_by_name(&self, name: &str) -> Result<Option<Gateway>> {
                Ok(sqlx::query_as("SELECT * FROM gateways WHERE name = $1").bind(name).fetch_optional(&self.pool).await?)
            }
            async fn list_gateways(&self) -> Result<Vec<Gateway>> {
                Ok(sqlx::query_as("SELECT * FROM gateways ORDER BY id").fetch_all(&self.pool).await?)
            }
            async fn update_gateway(&self, id: GatewayId, g: &NewGateway) -> Result<bool> {
                let r = sqlx::query("UPDATE gateways SET name = $2, uri = $3, transport = $4, username = $5, password = $6, register = $7, allowed_sources = $8, tenant_id = $9, t38_allowed = $10 WHERE id = $1")
                    .bind(id).bind(&g.name).bind(&g.uri).bind(g.transport.as_str()).bind(&g.username).bind(&g.password)
                    .bind(g.register).bind(Json(&g.allowed_sources)).bind(g.tenant_id).bind(g.t38_allowed)
                    .execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(r.rows_affected() > 0)
            }
            async fn delete_gateway(&self, id: GatewayId) -> Result<bool> {
                let r = sqlx::query("DELETE FROM gateways WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }

            async fn create_document(&self, d: &NewDocument, now: DateTime<Utc>) -> Result<DocumentId> {
                let id = DocumentId(Uuid::new_v4());
                sqlx::query(INSERT_DOCUMENT)
                    .bind(id).bind(d.tenant_id).bind(&d.content_type).bind(d.pages).bind(&d.data).bind(ts(now)).bind(sha256_hex(&d.data))
                    .execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(id)
            }
            async fn get_document(&self, tenant: TenantId, id: DocumentId) -> Result<Option<Document>> {
                Ok(sqlx::query_as("SELECT * FROM documents WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).fetch_optional(&self.pool).await?)
            }
            async fn delete_document(&self, tenant: TenantId, id: DocumentId) -> Result<bool> {
                let r = sqlx::query("DELETE FROM documents WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }
            async fn delete_documents_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
                let r = sqlx::query("DELETE FROM documents WHERE created_at < $1").bind(ts(cutoff)).execute(&self.pool).await?;
                Ok(r.rows_affected())
            }

            async fn create_job(&self, j: &NewJob, now: DateTime<Utc>) -> Result<Job> {
                if let Some(doc) = j.document_id {
                    // A job must not point at another tenant's document.
                    let found: Option<(DocumentId,)> = sqlx::query_as("SELECT id FROM documents WHERE tenant_id = $1 AND id = $2")
                        .bind(j.tenant_id).bind(doc).fetch_optional(&self.pool).await?;
                    if found.is_none() {
                        return Err(Error::Invalid { field: "document_id", reason: format!("no document {doc} for tenant {}", j.tenant_id) });
                    }
                }
                sqlx::query_as(INSERT_JOB)
                    .bind(JobId(Uuid::new_v4())).bind(j.tenant_id).bind(j.direction.as_str()).bind(&j.caller).bind(&j.callee)
                    .bind(j.document_id).bind(j.priority).bind(ts(j.not_before)).bind(ts(now))
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn get_job(&self, tenant: TenantId, id: JobId) -> Result<Option<Job>> {
                Ok(sqlx::query_as("SELECT * FROM jobs WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).fetch_optional(&self.pool).await?)
            }
            async fn job_tenant(&self, id: JobId) -> Result<Option<TenantId>> {
                Ok(sqlx::query_scalar("SELECT tenant_id FROM jobs WHERE id = $1")
                    .bind(id).fetch_optional(&self.pool).await?)
            }
            async fn list_jobs(&self, tenant: TenantId, limit: u32) -> Result<Vec<Job>> {
                Ok(sqlx::query_as("SELECT * FROM jobs WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2")
                    .bind(tenant).bind(i64::from(limit)).fetch_all(&self.pool).await?)
            }
            async fn claim_next_job(&self, worker: &str, lease: std::time::Duration, now: DateTime<Utc>) -> Result<Option<Job>> {
                let until = lease_until(now, lease)?;
                let mut tx = self.begin_write().await?;
                let job = sqlx::query_as($claim).bind(worker).bind(until).bind(ts(now))
                    .fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                Ok(job)
            }
            async fn renew_lease(&self, id: JobId, worker: &str, lease: std::time::Duration, now: DateTime<Utc>) -> Result<bool> {
                let until = lease_until(now, lease)?;
                let r = sqlx::query("UPDATE jobs SET lease_expires_at = $3, updated_at = $4 WHERE id = $1 AND status = 'active' AND lease_owner = $2 AND lease_expires_at > $4")
                    .bind(id).bind(worker).bind(until).bind(ts(now)).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }
            async fn complete_job(&self, id: JobId, worker: &str, now: DateTime<Utc>) -> Result<bool> {
                let r = sqlx::query("UPDATE jobs SET status = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = $3 WHERE id = $1 AND status = 'active' AND lease_owner = $2")
                    .bind(id).bind(worker).bind(ts(now)).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }
            async fn fail_job(&self, id: JobId, worker: &str, failure: &JobFailure, now: DateTime<Utc>) -> Result<bool> {
                let (status, at, error) = match failure {
                    JobFailure::Retry { at, error } => ("queued", Some(ts(*at)), error),
                    JobFailure::Final { error } => ("failed", None, error),
                };
                let r = sqlx::query("UPDATE jobs SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5, lease_owner = NULL, lease_expires_at = NULL, updated_at = $6 WHERE id = $1 AND status = 'active' AND lease_owner = $2")
                    .bind(id).bind(worker).bind(status).bind(at).bind(error).bind(ts(now)).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }

            async fn submit_job(&self, doc: &NewDocument, j: &NewJob, key: Option<&NewIdempotencyKey>, now: DateTime<Utc>) -> Result<Submission> {
                if doc.tenant_id != j.tenant_id {
                    return Err(Error::Invalid { field: "document tenant", reason: format!("document of tenant {} for a job of tenant {}", doc.tenant_id, j.tenant_id) });
                }
                let now = ts(now);
                let mut tx = self.begin_write().await?;
                if let Some(k) = key {
                    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at <= $3")
                        .bind(j.tenant_id).bind(&k.key).bind(ts(k.expired_before)).execute(&mut *tx).await?;
                }
                let doc_id = DocumentId(Uuid::new_v4());
                sqlx::query(INSERT_DOCUMENT)
                    .bind(doc_id).bind(doc.tenant_id).bind(&doc.content_type).bind(doc.pages).bind(&doc.data).bind(now).bind(sha256_hex(&doc.data))
                    .execute(&mut *tx).await.map_err(Error::from_write)?;
                let job: Job = sqlx::query_as(INSERT_JOB)
                    .bind(JobId(Uuid::new_v4())).bind(j.tenant_id).bind(j.direction.as_str()).bind(&j.caller).bind(&j.callee)
                    .bind(Some(doc_id)).bind(j.priority).bind(ts(j.not_before)).bind(now)
                    .fetch_one(&mut *tx).await.map_err(Error::from_write)?;
                if let Some(k) = key {
                    // DO NOTHING rather than an error: PostgreSQL waits for a concurrent
                    // insert of the same key to commit, then skips, and the transaction
                    // stays usable.
                    let stored = sqlx::query("INSERT INTO idempotency_keys (tenant_id, key, request_hash, job_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, key) DO NOTHING")
                        .bind(j.tenant_id).bind(&k.key).bind(&k.request_hash).bind(job.id).bind(now)
                        .execute(&mut *tx).await?;
                    if stored.rows_affected() == 0 {
                        tx.rollback().await?;
                        let first = self.get_idempotency_key(j.tenant_id, &k.key, k.expired_before).await?;
                        // Only a purge between the two statements can make it vanish.
                        return first.map(Submission::KeyInUse).ok_or_else(|| Error::Conflict(format!("idempotency key {:?} changed during the request", k.key)));
                    }
                }
                tx.commit().await?;
                Ok(Submission::Created(job))
            }
            async fn get_idempotency_key(&self, tenant: TenantId, key: &str, expired_before: DateTime<Utc>) -> Result<Option<IdempotencyKey>> {
                Ok(sqlx::query_as("SELECT * FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at > $3")
                    .bind(tenant).bind(key).bind(ts(expired_before)).fetch_optional(&self.pool).await?)
            }
            async fn purge_idempotency_keys(&self, cutoff: DateTime<Utc>) -> Result<u64> {
                let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(ts(cutoff)).execute(&self.pool).await?;
                Ok(r.rows_affected())
            }
            async fn cancel_job(&self, tenant: TenantId, id: JobId, now: DateTime<Utc>) -> Result<CancelOutcome> {
                // The state check and the change are one statement, so a worker's claim
                // either happens before (and the job is not cancellable) or never.
                let cancelled: Option<Job> = sqlx::query_as("UPDATE jobs SET status = 'failed', cancelled_at = $3, last_error = 'cancelled', updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'queued' RETURNING *")
                    .bind(tenant).bind(id).bind(ts(now)).fetch_optional(&self.pool).await?;
                if let Some(job) = cancelled {
                    return Ok(CancelOutcome::Cancelled(job));
                }
                Ok(match self.get_job(tenant, id).await? {
                    None => CancelOutcome::NotFound,
                    Some(job) if job.is_cancelled() => CancelOutcome::AlreadyCancelled(job),
                    Some(job) => CancelOutcome::NotCancellable(job),
                })
            }
            async fn list_jobs_filtered(&self, tenant: TenantId, f: &JobFilter, limit: u32) -> Result<Vec<Job>> {
                let (after_at, after_id) = match f.after {
                    Some(c) => (Some(ts(c.created_at)), Some(c.id)),
                    None => (None, None),
                };
                Ok(sqlx::query_as(LIST_JOBS)
                    .bind(tenant).bind(f.direction.map(|d| d.as_str())).bind(f.status.map(|s| s.as_str())).bind(f.cancelled)
                    .bind(f.created_from.map(ts)).bind(f.created_before.map(ts)).bind(after_at).bind(after_id).bind(i64::from(limit))
                    .fetch_all(&self.pool).await?)
            }
            async fn get_document_info(&self, tenant: TenantId, id: DocumentId) -> Result<Option<DocumentInfo>> {
                Ok(sqlx::query_as("SELECT id, tenant_id, content_type, pages, CAST(length(data) AS BIGINT) AS size, sha256, created_at FROM documents WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn start_attempt(&self, a: &NewAttempt) -> Result<Attempt> {
                sqlx::query_as("INSERT INTO attempts (job_id, endpoint_id, gateway_id, started_at) VALUES ($1, $2, $3, $4) RETURNING *")
                    .bind(a.job_id).bind(a.endpoint_id).bind(a.gateway_id).bind(ts(a.started_at))
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn finish_attempt(&self, id: AttemptId, o: &AttemptOutcome) -> Result<bool> {
                let r = sqlx::query("UPDATE attempts SET ended_at = $2, result_code = $3, result_text = $4, pages = $5 WHERE id = $1")
                    .bind(id).bind(ts(o.ended_at)).bind(o.result_code).bind(&o.result_text).bind(o.pages)
                    .execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }
            async fn list_attempts(&self, tenant: TenantId, job: JobId) -> Result<Vec<Attempt>> {
                Ok(sqlx::query_as("SELECT a.* FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE j.tenant_id = $1 AND a.job_id = $2 ORDER BY a.id")
                    .bind(tenant).bind(job).fetch_all(&self.pool).await?)
            }
            async fn add_page_result(&self, p: &NewPageResult) -> Result<PageResult> {
                sqlx::query_as("INSERT INTO page_results (attempt_id, page, result_code, bad_rows, detail) VALUES ($1, $2, $3, $4, $5) RETURNING *")
                    .bind(p.attempt_id).bind(p.page).bind(p.result_code).bind(p.bad_rows).bind(&p.detail)
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn list_page_results(&self, tenant: TenantId, attempt: AttemptId) -> Result<Vec<PageResult>> {
                Ok(sqlx::query_as("SELECT p.* FROM page_results p JOIN attempts a ON a.id = p.attempt_id JOIN jobs j ON j.id = a.job_id WHERE j.tenant_id = $1 AND p.attempt_id = $2 ORDER BY p.page, p.id")
                    .bind(tenant).bind(attempt).fetch_all(&self.pool).await?)
            }

            async fn append_event(&self, e: &NewEvent) -> Result<Event> {
                sqlx::query_as("INSERT INTO events (at, tenant_id, job_id, kind, detail) VALUES ($1, $2, $3, $4, $5) RETURNING *")
                    .bind(ts(e.at)).bind(e.tenant_id).bind(e.job_id).bind(&e.kind).bind(Json(&e.detail))
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn list_events(&self, tenant: Option<TenantId>, job: Option<JobId>, limit: u32) -> Result<Vec<Event>> {
                Ok(sqlx::query_as("SELECT * FROM events WHERE ($1 IS NULL OR tenant_id = $1) AND ($2 IS NULL OR job_id = $2) ORDER BY id LIMIT $3")
                    .bind(tenant).bind(job).bind(i64::from(limit)).fetch_all(&self.pool).await?)
            }

            async fn kv_get(&self, ns: &str, key: &str, now: DateTime<Utc>) -> Result<Option<KvEntry>> {
                Ok(sqlx::query_as("SELECT * FROM kv WHERE namespace = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)")
                    .bind(ns).bind(key).bind(ts(now)).fetch_optional(&self.pool).await?)
            }
            async fn kv_set(&self, ns: &str, key: &str, value: &str, expires_at: Option<DateTime<Utc>>) -> Result<()> {
                sqlx::query("INSERT INTO kv (namespace, key, value, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at")
                    .bind(ns).bind(key).bind(value).bind(expires_at.map(ts)).execute(&self.pool).await?;
                Ok(())
            }
            async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool> {
                let r = sqlx::query("DELETE FROM kv WHERE namespace = $1 AND key = $2").bind(ns).bind(key).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }
            async fn kv_list(&self, ns: &str, prefix: &str, now: DateTime<Utc>) -> Result<Vec<KvEntry>> {
                // substr rather than LIKE: keys may contain % and _.
                Ok(sqlx::query_as("SELECT * FROM kv WHERE namespace = $1 AND substr(key, 1, length($2)) = $2 AND (expires_at IS NULL OR expires_at > $3) ORDER BY key")
                    .bind(ns).bind(prefix).bind(ts(now)).fetch_all(&self.pool).await?)
            }
            async fn kv_purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
                let r = sqlx::query("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= $1").bind(ts(now)).execute(&self.pool).await?;
                Ok(r.rows_affected())
            }

            async fn create_delivery(&self, d: &NewDelivery, now: DateTime<Utc>) -> Result<Delivery> {
                let sql = format!("INSERT INTO deliveries (id, tenant_id, job_id, endpoint_id, channel, event, target, content_type, headers, body, status, attempts, next_attempt_at, retry_from, last_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, $12, '', $12, $12) RETURNING {DELIVERY_COLS}");
                sqlx::query_as(&sql)
                    .bind(DeliveryId(Uuid::new_v4())).bind(d.tenant_id).bind(d.job_id).bind(d.endpoint_id)
                    .bind(d.channel.as_str()).bind(&d.event).bind(&d.target).bind(&d.content_type)
                    .bind(Json(&d.headers)).bind(&d.body).bind(ts(d.not_before)).bind(ts(now))
                    .fetch_one(&self.pool).await.map_err(Error::from_write)
            }
            async fn get_delivery(&self, tenant: Option<TenantId>, id: DeliveryId) -> Result<Option<Delivery>> {
                let sql = format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE id = $1 AND ($2 IS NULL OR tenant_id = $2)");
                Ok(sqlx::query_as(&sql).bind(id).bind(tenant).fetch_optional(&self.pool).await?)
            }
            async fn list_deliveries(&self, f: &DeliveryFilter, limit: u32) -> Result<Vec<Delivery>> {
                let sql = format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE ($1 IS NULL OR tenant_id = $1) AND ($2 IS NULL OR job_id = $2) AND ($3 IS NULL OR status = $3) ORDER BY created_at DESC, id DESC LIMIT $4");
                Ok(sqlx::query_as(&sql).bind(f.tenant).bind(f.job).bind(f.status.map(DeliveryStatus::as_str)).bind(i64::from(limit))
                    .fetch_all(&self.pool).await?)
            }
            async fn claim_due_deliveries(&self, now: DateTime<Utc>, lease: std::time::Duration, limit: u32) -> Result<Vec<DeliveryToSend>> {
                let until = lease_until(now, lease)?;
                let mut tx = self.begin_write().await?;
                let mut rows: Vec<DeliveryToSend> = sqlx::query_as(CLAIM_DELIVERIES)
                    .bind(ts(now)).bind(until).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                // RETURNING keeps no order; send the longest-waiting first.
                rows.sort_by_key(|r| (r.delivery.created_at, r.delivery.id));
                Ok(rows)
            }
            async fn record_delivery_attempt(&self, id: DeliveryId, a: &NewDeliveryAttempt, now: DateTime<Utc>) -> Result<bool> {
                let now = ts(now);
                let (status, next, finished) = match a.next {
                    DeliveryNext::Delivered => ("delivered", None, Some(now)),
                    DeliveryNext::RetryAt(at) => ("pending", Some(ts(at)), None),
                    DeliveryNext::GiveUp => ("failed", None, Some(now)),
                };
                let mut tx = self.begin_write().await?;
                let attempts: Option<(i64,)> = sqlx::query_as("UPDATE deliveries SET attempts = attempts + 1, status = $2, next_attempt_at = COALESCE($3, next_attempt_at), last_status = $4, last_error = $5, updated_at = $6, finished_at = $7 WHERE id = $1 RETURNING attempts")
                    .bind(id).bind(status).bind(next).bind(a.status_code).bind(&a.error).bind(now).bind(finished)
                    .fetch_optional(&mut *tx).await?;
                let Some((attempt,)) = attempts else {
                    return Ok(false);
                };
                sqlx::query("INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(id).bind(attempt).bind(ts(a.started_at)).bind(a.duration_ms).bind(a.status_code).bind(&a.error).bind(next)
                    .execute(&mut *tx).await.map_err(Error::from_write)?;
                tx.commit().await?;
                Ok(true)
            }
            async fn list_delivery_attempts(&self, tenant: Option<TenantId>, id: DeliveryId) -> Result<Vec<DeliveryAttempt>> {
                Ok(sqlx::query_as("SELECT a.* FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.delivery_id = $1 AND ($2 IS NULL OR d.tenant_id = $2) ORDER BY a.id")
                    .bind(id).bind(tenant).fetch_all(&self.pool).await?)
            }
            async fn replay_delivery(&self, tenant: Option<TenantId>, id: DeliveryId, now: DateTime<Utc>) -> Result<Option<Delivery>> {
                let sql = format!("UPDATE deliveries SET status = 'pending', next_attempt_at = $3, retry_from = $3, finished_at = NULL, updated_at = $3 WHERE id = $1 AND ($2 IS NULL OR tenant_id = $2) RETURNING {DELIVERY_COLS}");
                Ok(sqlx::query_as(&sql).bind(id).bind(tenant).bind(ts(now)).fetch_optional(&self.pool).await?)
            }
            async fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>> {
                let row: (Option<DateTime<Utc>>,) = sqlx::query_as("SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'")
                    .fetch_one(&self.pool).await?;
                Ok(row.0)
            }
            async fn queue_stats(&self) -> Result<crate::stats::QueueStats> {
                let row: (i64, i64, Option<DateTime<Utc>>) = sqlx::query_as("SELECT \
                     COALESCE(SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0), \
                     MIN(CASE WHEN status = 'queued' THEN created_at END) \
                     FROM jobs WHERE status IN ('queued', 'active')")
                    .fetch_one(&self.pool).await?;
                Ok(crate::stats::QueueStats { queued: row.0.max(0) as u64, active: row.1.max(0) as u64, oldest_queued_at: row.2 })
            }
            async fn delivery_failures(&self) -> Result<Vec<crate::stats::DeliveryFailures>> {
                // Both channels deliver on a 2xx (SMTP 250) with no error; anything else failed.
                let attempts: Vec<(String, i64)> = sqlx::query_as("SELECT d.channel, COUNT(*) FROM delivery_attempts a \
                     JOIN deliveries d ON d.id = a.delivery_id \
                     WHERE a.error <> '' OR a.status_code IS NULL OR a.status_code < 200 OR a.status_code > 299 \
                     GROUP BY d.channel")
                    .fetch_all(&self.pool).await?;
                let given_up: Vec<(String, i64)> = sqlx::query_as("SELECT channel, COUNT(*) FROM deliveries WHERE status = 'failed' GROUP BY channel")
                    .fetch_all(&self.pool).await?;
                let count = |rows: &[(String, i64)], c: Channel| {
                    rows.iter().find(|r| r.0 == c.as_str()).map_or(0, |r| r.1.max(0) as u64)
                };
                Ok([Channel::Webhook, Channel::Email].into_iter().map(|channel| crate::stats::DeliveryFailures {
                    channel,
                    failed_attempts: count(&attempts, channel),
                    given_up: count(&given_up, channel),
                }).collect())
            }

            async fn set_webhook_secret(&self, endpoint: EndpointId, secret: &str, events: &[String], now: DateTime<Utc>) -> Result<()> {
                sqlx::query("INSERT INTO webhook_secrets (endpoint_id, secret, events, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (endpoint_id) DO UPDATE SET secret = excluded.secret, events = excluded.events, created_at = excluded.created_at")
                    .bind(endpoint).bind(secret).bind(Json(events)).bind(ts(now))
                    .execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(())
            }
            async fn get_webhook_secret(&self, endpoint: EndpointId) -> Result<Option<WebhookSecret>> {
                Ok(sqlx::query_as("SELECT * FROM webhook_secrets WHERE endpoint_id = $1").bind(endpoint).fetch_optional(&self.pool).await?)
            }
            async fn delete_webhook_secret(&self, endpoint: EndpointId) -> Result<bool> {
                let r = sqlx::query("DELETE FROM webhook_secrets WHERE endpoint_id = $1").bind(endpoint).execute(&self.pool).await?;
                Ok(r.rows_affected() > 0)
            }

            async fn get_dialing(&self, tenant: TenantId) -> Result<Option<$crate::dialing::DialingSettings>> {
                if self.get_tenant(tenant).await?.is_none() {
                    return Ok(None);
                }
                let row: Option<(String, String, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT home_country_code, allowed_prefixes, daily_jobs, daily_pages FROM tenant_dialing WHERE tenant_id = $1")
                    .bind(tenant).fetch_optional(&self.pool).await?;
                Ok(Some(match row {
                    Some((home_country_code, allowed, daily_jobs, daily_pages)) => $crate::dialing::DialingSettings {
                        home_country_code,
                        allowed_prefixes: allowed.split_whitespace().map(str::to_owned).collect(),
                        daily_jobs,
                        daily_pages,
                    },
                    None => $crate::dialing::DialingSettings::default(),
                }))
            }
            async fn set_dialing(&self, tenant: TenantId, d: &$crate::dialing::DialingSettings, now: DateTime<Utc>) -> Result<bool> {
                d.validate().map_err(|reason| Error::Invalid { field: "dialing settings", reason })?;
                // `WHERE EXISTS` turns a missing tenant into zero rows rather than an FK error.
                let r = sqlx::query("INSERT INTO tenant_dialing (tenant_id, home_country_code, allowed_prefixes, daily_jobs, daily_pages, updated_at) \
                     SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1) \
                     ON CONFLICT (tenant_id) DO UPDATE SET home_country_code = excluded.home_country_code, \
                     allowed_prefixes = excluded.allowed_prefixes, daily_jobs = excluded.daily_jobs, \
                     daily_pages = excluded.daily_pages, updated_at = excluded.updated_at")
                    .bind(tenant).bind(&d.home_country_code).bind(d.allowed_prefixes.join(" "))
                    .bind(d.daily_jobs).bind(d.daily_pages).bind(ts(now))
                    .execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(r.rows_affected() > 0)
            }
            async fn outbound_usage_since(&self, tenant: TenantId, since: DateTime<Utc>) -> Result<$crate::dialing::DailyUsage> {
                // SUM of BIGINT is NUMERIC on PostgreSQL: cast back so both decode as i64.
                Ok(sqlx::query_as("SELECT COUNT(*) AS jobs, CAST(COALESCE(SUM(d.pages), 0) AS BIGINT) AS pages \
                     FROM jobs j LEFT JOIN documents d ON d.id = j.document_id \
                     WHERE j.tenant_id = $1 AND j.direction = 'outbound' AND j.created_at >= $2")
                    .bind(tenant).bind(ts(since)).fetch_one(&self.pool).await?)
            }
            async fn get_header_tz(&self, tenant: TenantId, number: Option<NumberId>) -> Result<Option<String>> {
                let row: Option<(String,)> = match number {
                    None => sqlx::query_as("SELECT header_tz FROM tenants WHERE id = $1").bind(tenant),
                    Some(id) => sqlx::query_as("SELECT header_tz FROM tenant_numbers WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant).bind(id),
                }
                .fetch_optional(&self.pool).await?;
                Ok(row.map(|(tz,)| tz).filter(|tz| !tz.is_empty()))
            }
            async fn set_header_tz(&self, tenant: TenantId, number: Option<NumberId>, tz: &str) -> Result<bool> {
                let tz = if tz.trim().is_empty() {
                    String::new()
                } else {
                    $crate::header_tz::validate(tz)
                        .map_err(|e| Error::Invalid { field: "header_tz", reason: e.to_string() })?
                };
                let r = match number {
                    None => sqlx::query("UPDATE tenants SET header_tz = $2 WHERE id = $1").bind(tenant).bind(&tz),
                    Some(id) => sqlx::query("UPDATE tenant_numbers SET header_tz = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant).bind(id).bind(&tz),
                }
                .execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(r.rows_affected() > 0)
            }
            async fn get_header_date_format(&self, tenant: TenantId, number: Option<NumberId>) -> Result<Option<String>> {
                let row: Option<(String,)> = match number {
                    None => sqlx::query_as("SELECT header_date_format FROM tenants WHERE id = $1").bind(tenant),
                    Some(id) => sqlx::query_as("SELECT header_date_format FROM tenant_numbers WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant).bind(id),
                }
                .fetch_optional(&self.pool).await?;
                Ok(row.map(|(f,)| f).filter(|f| !f.is_empty()))
            }
            async fn set_header_date_format(&self, tenant: TenantId, number: Option<NumberId>, format: &str) -> Result<bool> {
                let format = $crate::header_tz::validate_date_format(format)
                    .map_err(|e| Error::Invalid { field: "header_date_format", reason: e.to_string() })?;
                let r = match number {
                    None => sqlx::query("UPDATE tenants SET header_date_format = $2 WHERE id = $1").bind(tenant).bind(&format),
                    Some(id) => sqlx::query("UPDATE tenant_numbers SET header_date_format = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant).bind(id).bind(&format),
                }
                .execute(&self.pool).await.map_err(Error::from_write)?;
                Ok(r.rows_affected() > 0)
            }
            async fn record_bridge(&self, b: &NewBridge) -> Result<Job> {
                let mut tx = self.begin_write().await?;
                let status = if b.success { "done" } else { "failed" };
                let error = (!b.success).then(|| b.result.clone());
                let job: Job = sqlx::query_as("INSERT INTO jobs (id, tenant_id, direction, caller, callee, document_id, status, priority, attempts, next_attempt_at, last_error, created_at, updated_at) \
                     VALUES ($1, $2, 'inbound', $3, $4, NULL, $5, 0, 1, $6, $7, $6, $8) RETURNING *")
                    .bind(JobId(Uuid::new_v4())).bind(b.tenant_id).bind(&b.caller).bind(&b.callee)
                    .bind(status).bind(ts(b.started_at)).bind(error).bind(ts(b.ended_at))
                    .fetch_one(&mut *tx).await.map_err(Error::from_write)?;
                sqlx::query("INSERT INTO bridges (job_id, direction, gateway, started_at, ended_at, duration_ms, pages, success, result, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(job.id).bind(&b.direction).bind(&b.gateway).bind(ts(b.started_at)).bind(ts(b.ended_at))
                    .bind(b.duration_ms).bind(b.pages).bind(b.success).bind(&b.result).bind(Json(&b.detail))
                    .execute(&mut *tx).await.map_err(Error::from_write)?;
                tx.commit().await?;
                Ok(job)
            }
            async fn get_bridge(&self, tenant: TenantId, job: JobId) -> Result<Option<BridgeRecord>> {
                Ok(sqlx::query_as("SELECT b.* FROM bridges b JOIN jobs j ON j.id = b.job_id WHERE j.tenant_id = $1 AND b.job_id = $2")
                    .bind(tenant).bind(job).fetch_optional(&self.pool).await?)
            }
            // The bodies are in crate::debug; async_trait cannot see into a macro call.
            async fn save_call_debug(&self, d: &$crate::NewCallDebug) -> Result<i64> { self.debug_save(d).await }
            async fn list_call_debug(&self, tenant: Option<TenantId>, job: JobId) -> Result<Vec<$crate::CallDebugRecord>> { self.debug_list(tenant, job).await }
            async fn get_call_debug_pcap(&self, tenant: Option<TenantId>, job: JobId, id: i64) -> Result<Option<Vec<u8>>> { self.debug_pcap(tenant, job, id).await }
            async fn purge_call_debug_before(&self, cutoff: DateTime<Utc>) -> Result<u64> { self.debug_purge(cutoff).await }
            async fn set_tenant_debug_pcap(&self, id: TenantId, on: bool) -> Result<bool> { self.debug_set_tenant(id, on).await }
            async fn set_gateway_debug_pcap(&self, id: GatewayId, on: bool) -> Result<bool> { self.debug_set_gateway(id, on).await }
        }

        $crate::debug::debug_methods!($ty);

        impl $ty {
            /// Rejects an endpoint whose scope does not belong to `owner`.
            async fn check_endpoint(&self, owner: Option<TenantId>, e: &NewEndpoint) -> Result<()> {
                check_endpoint_owner(owner, e)?;
                if let (Scope::Number, Some(t)) = (e.scope, owner) {
                    if self.get_number(t, NumberId(e.scope_id)).await?.is_none() {
                        return Err(Error::Invalid { field: "endpoint scope", reason: format!("number {} is not tenant {t}'s", e.scope_id) });
                    }
                }
                Ok(())
            }
        }
    };
}

pub(crate) use impl_store;

/// A user row with its hash, for password checks only.
#[derive(sqlx::FromRow)]
pub(crate) struct UserWithHash {
    /// The user.
    #[sqlx(flatten)]
    pub(crate) user: crate::model::User,
    /// argon2id PHC string.
    pub(crate) password_hash: String,
}
