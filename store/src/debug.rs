//! Per-call debug bundles (issue #8 item 6): the SIP ladder, the T.30 trace and, when the
//! tenant or gateway asks for it, a pcap of the media of every call leg, kept for a
//! configurable number of days.
//!
//! The ladder and trace are JSON texts the engine produces; the store keeps them opaque
//! (`TEXT` in both dialects, so that PostgreSQL keeps the order and spelling of keys as given)
//! and hands them back parsed. The pcap is read on its own, because it can be megabytes while
//! a listing needs only whether there is one.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{JobId, TenantId};

/// Which leg of a call a bundle belongs to.
pub mod leg {
    /// An outbound attempt of a job.
    pub const SEND: &str = "send";
    /// A received fax.
    pub const RECEIVE: &str = "receive";
    /// The inbound leg of a live bridge.
    pub const BRIDGE_IN: &str = "bridge-in";
    /// The outbound leg of a live bridge.
    pub const BRIDGE_OUT: &str = "bridge-out";
}

/// A bundle to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCallDebug {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The job (fax) the call belongs to.
    pub job_id: JobId,
    /// One of [`leg`].
    pub leg: String,
    /// The attempt (`attempts.id`) of a send; `None` for other legs.
    pub attempt_id: Option<i64>,
    /// SIP Call-ID of the leg.
    pub call_id: String,
    /// When the call ended.
    pub created_at: DateTime<Utc>,
    /// The SIP ladder, a JSON array.
    pub sip: serde_json::Value,
    /// The T.30 trace, a JSON array.
    pub t30: serde_json::Value,
    /// True when a size limit cut the material short.
    pub truncated: bool,
    /// A classic pcap of the leg's media.
    pub pcap: Option<Vec<u8>>,
}

/// A stored bundle without its pcap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallDebugRecord {
    /// Id.
    pub id: i64,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The job (fax).
    pub job_id: JobId,
    /// One of [`leg`].
    pub leg: String,
    /// The attempt (`attempts.id`) of a send; `None` for other legs.
    pub attempt_id: Option<i64>,
    /// SIP Call-ID of the leg.
    pub call_id: String,
    /// When the call ended.
    pub created_at: DateTime<Utc>,
    /// The SIP ladder.
    pub sip: serde_json::Value,
    /// The T.30 trace.
    pub t30: serde_json::Value,
    /// True when a size limit cut the material short.
    pub truncated: bool,
    /// Whether a pcap is stored.
    pub has_pcap: bool,
}

/// A `call_debug` row as selected by [`LIST_CALL_DEBUG`].
#[derive(sqlx::FromRow)]
pub(crate) struct CallDebugRow {
    id: i64,
    tenant_id: TenantId,
    job_id: JobId,
    leg: String,
    attempt_id: Option<i64>,
    call_id: String,
    created_at: DateTime<Utc>,
    sip: String,
    t30: String,
    truncated: bool,
    has_pcap: bool,
}

impl TryFrom<CallDebugRow> for CallDebugRecord {
    type Error = Error;

    fn try_from(r: CallDebugRow) -> Result<Self> {
        let parse = |field: &'static str, text: &str| {
            serde_json::from_str(text).map_err(|e| Error::Invalid {
                field,
                reason: format!("stored bundle {} is not JSON: {e}", r.id),
            })
        };
        Ok(CallDebugRecord {
            sip: parse("call_debug.sip", &r.sip)?,
            t30: parse("call_debug.t30", &r.t30)?,
            id: r.id,
            tenant_id: r.tenant_id,
            job_id: r.job_id,
            leg: r.leg,
            attempt_id: r.attempt_id,
            call_id: r.call_id,
            created_at: r.created_at,
            truncated: r.truncated,
            has_pcap: r.has_pcap,
        })
    }
}

/// Stores a bundle (binds: tenant, job, leg, attempt, call id, created_at, sip, t30,
/// truncated, pcap).
pub(crate) const INSERT_CALL_DEBUG: &str = "INSERT INTO call_debug (tenant_id, job_id, leg, attempt_id, call_id, created_at, sip, t30, truncated, pcap) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";

/// A job's bundles, oldest first (binds: job, tenant or NULL for the administrator).
pub(crate) const LIST_CALL_DEBUG: &str =
    "SELECT id, tenant_id, job_id, leg, attempt_id, call_id, created_at, sip, t30, truncated, \
     (pcap IS NOT NULL) AS has_pcap FROM call_debug \
     WHERE job_id = $1 AND ($2 IS NULL OR tenant_id = $2) ORDER BY created_at, id";

/// One bundle's pcap (binds: job, id, tenant or NULL).
pub(crate) const GET_CALL_DEBUG_PCAP: &str =
    "SELECT pcap FROM call_debug WHERE job_id = $1 AND id = $2 AND ($3 IS NULL OR tenant_id = $3)";

/// The JSON text of a ladder or trace.
pub(crate) fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

/// The bodies of this module's `Store` methods, as inherent methods of `$ty` that
/// `impl_store!` delegates to (both backends share them); it expands inside the backends'
/// modules and uses their imports.
macro_rules! debug_methods {
    ($ty:ty) => {
        impl $ty {
            /// Stores a bundle; returns its id.
            async fn debug_save(&self, d: &$crate::debug::NewCallDebug) -> Result<i64> {
                let row: (i64,) = sqlx::query_as($crate::debug::INSERT_CALL_DEBUG)
                    .bind(d.tenant_id)
                    .bind(d.job_id)
                    .bind(&d.leg)
                    .bind(d.attempt_id)
                    .bind(&d.call_id)
                    .bind(ts(d.created_at))
                    .bind($crate::debug::json_text(&d.sip))
                    .bind($crate::debug::json_text(&d.t30))
                    .bind(d.truncated)
                    .bind(d.pcap.as_deref())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(Error::from_write)?;
                Ok(row.0)
            }
            /// A job's bundles without pcaps, oldest first.
            async fn debug_list(
                &self,
                tenant: Option<TenantId>,
                job: JobId,
            ) -> Result<Vec<$crate::debug::CallDebugRecord>> {
                let rows: Vec<$crate::debug::CallDebugRow> =
                    sqlx::query_as($crate::debug::LIST_CALL_DEBUG)
                        .bind(job)
                        .bind(tenant)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(TryFrom::try_from).collect()
            }
            /// One bundle's pcap, if any.
            async fn debug_pcap(
                &self,
                tenant: Option<TenantId>,
                job: JobId,
                id: i64,
            ) -> Result<Option<Vec<u8>>> {
                let row: Option<(Option<Vec<u8>>,)> =
                    sqlx::query_as($crate::debug::GET_CALL_DEBUG_PCAP)
                        .bind(job)
                        .bind(id)
                        .bind(tenant)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.and_then(|r| r.0))
            }
            /// Deletes bundles created before `cutoff`.
            async fn debug_purge(&self, cutoff: DateTime<Utc>) -> Result<u64> {
                let r = sqlx::query("DELETE FROM call_debug WHERE created_at < $1")
                    .bind(ts(cutoff))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
            /// Sets a tenant's pcap flag.
            async fn debug_set_tenant(&self, id: TenantId, on: bool) -> Result<bool> {
                let r = sqlx::query("UPDATE tenants SET debug_pcap = $2 WHERE id = $1")
                    .bind(id)
                    .bind(on)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }
            /// Sets a gateway's pcap flag.
            async fn debug_set_gateway(&self, id: GatewayId, on: bool) -> Result<bool> {
                let r = sqlx::query("UPDATE gateways SET debug_pcap = $2 WHERE id = $1")
                    .bind(id)
                    .bind(on)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use debug_methods;
