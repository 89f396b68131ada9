//! Domain types of the fax life-cycle: jobs, attempts, pages, documents, events, key-values.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{
    AttemptId, Direction, DocumentId, EndpointId, EventId, GatewayId, JobId, JobStatus, TenantId,
};

/// A fax job; its row is also its queue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Inbound or outbound.
    #[sqlx(try_from = "String")]
    pub direction: Direction,
    /// Caller number.
    pub caller: String,
    /// Callee number.
    pub callee: String,
    /// The document to send or the one received.
    pub document_id: Option<DocumentId>,
    /// Life-cycle state.
    #[sqlx(try_from = "String")]
    pub status: JobStatus,
    /// Lower is claimed first.
    pub priority: i64,
    /// How many times the job was claimed.
    pub attempts: i64,
    /// Not claimed before this time.
    pub next_attempt_at: DateTime<Utc>,
    /// Worker holding the lease, while active.
    pub lease_owner: Option<String>,
    /// When the lease lapses and another worker may claim the job.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Last failure text.
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the tenant cancelled it; a cancelled job is [`JobStatus::Failed`].
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl Job {
    /// Whether the job ended by cancellation rather than by a failed delivery.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }
}

/// Fields of a job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Direction.
    pub direction: Direction,
    /// Caller number.
    pub caller: String,
    /// Callee number.
    pub callee: String,
    /// Attached document.
    pub document_id: Option<DocumentId>,
    /// Lower is claimed first.
    pub priority: i64,
    /// Earliest claim time.
    pub not_before: DateTime<Utc>,
}

/// How a worker gives a job back after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Retry at the given time.
    Retry {
        /// Earliest next claim.
        at: DateTime<Utc>,
        /// Why this attempt failed.
        error: String,
    },
    /// Give up for good.
    Final {
        /// Why the job failed.
        error: String,
    },
}

/// One try at delivering a job to an endpoint or gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Attempt {
    /// Id.
    pub id: AttemptId,
    /// The job.
    pub job_id: JobId,
    /// The endpoint tried, if any.
    pub endpoint_id: Option<EndpointId>,
    /// The gateway used, if any.
    pub gateway_id: Option<GatewayId>,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time, once finished.
    pub ended_at: Option<DateTime<Utc>>,
    /// T.30 or HTTP result code, once finished.
    pub result_code: Option<i64>,
    /// Result text.
    pub result_text: String,
    /// Pages transferred.
    pub pages: i64,
}

/// Fields of an attempt being started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt {
    /// The job.
    pub job_id: JobId,
    /// The endpoint tried.
    pub endpoint_id: Option<EndpointId>,
    /// The gateway used.
    pub gateway_id: Option<GatewayId>,
    /// Start time.
    pub started_at: DateTime<Utc>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// End time.
    pub ended_at: DateTime<Utc>,
    /// Result code.
    pub result_code: i64,
    /// Result text.
    pub result_text: String,
    /// Pages transferred.
    pub pages: i64,
}

/// The result of one page of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PageResult {
    /// Row id.
    pub id: i64,
    /// The attempt.
    pub attempt_id: AttemptId,
    /// Page number, from 1.
    pub page: i64,
    /// T.30 page result code.
    pub result_code: i64,
    /// Bad rows reported.
    pub bad_rows: i64,
    /// Free-form detail (encoding, resolution).
    pub detail: String,
}

/// Fields of a page result to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPageResult {
    /// The attempt.
    pub attempt_id: AttemptId,
    /// Page number.
    pub page: i64,
    /// Result code.
    pub result_code: i64,
    /// Bad rows.
    pub bad_rows: i64,
    /// Detail.
    pub detail: String,
}

/// A stored document (TIFF-F, PDF, image) with its bytes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Document {
    /// Id.
    pub id: DocumentId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// MIME type.
    pub content_type: String,
    /// Page count.
    pub pages: i64,
    /// The bytes.
    pub data: Vec<u8>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Hex SHA-256 of `data`; `None` for documents stored before schema v2.
    pub sha256: Option<String>,
}

/// Fields of a document to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// MIME type.
    pub content_type: String,
    /// Page count.
    pub pages: i64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// An entry of the event log (CDR and audit trail).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Event {
    /// Id, increasing.
    pub id: EventId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Tenant concerned, if any.
    pub tenant_id: Option<TenantId>,
    /// Job concerned, if any.
    pub job_id: Option<JobId>,
    /// Kind, e.g. `job.queued`, `attempt.ended`, `user.login`.
    pub kind: String,
    /// Structured detail.
    #[sqlx(json)]
    pub detail: serde_json::Value,
}

/// Fields of an event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Tenant concerned.
    pub tenant_id: Option<TenantId>,
    /// Job concerned.
    pub job_id: Option<JobId>,
    /// Kind.
    pub kind: String,
    /// Detail.
    pub detail: serde_json::Value,
}

/// A key-value entry (T.38 policy, mod_db emulation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct KvEntry {
    /// Namespace (`fallback`, `override-<number>`, ...).
    pub namespace: String,
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
    /// When it stops being visible, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}
