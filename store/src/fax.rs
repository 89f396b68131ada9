//! Types of the tenant fax routes: submitting a document and its job in one transaction (with
//! an optional idempotency key), cancelling a queued job, and the filtered, keyset-paginated
//! job listing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Direction, DocumentId, JobId, JobStatus, TenantId};
use crate::records::Job;

/// A document's metadata without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DocumentInfo {
    /// Id.
    pub id: DocumentId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// MIME type.
    pub content_type: String,
    /// Page count.
    pub pages: i64,
    /// Size of the bytes.
    pub size: i64,
    /// Hex SHA-256 of the bytes; `None` for documents stored before schema v2.
    pub sha256: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An idempotency key as stored: which request first used it and which job it made.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdempotencyKey {
    /// The tenant that sent it (keys are per tenant).
    pub tenant_id: TenantId,
    /// The key as the client sent it.
    pub key: String,
    /// SHA-256 of the first request, to tell a retry from a reuse with another body.
    pub request_hash: Vec<u8>,
    /// The job the first request created.
    pub job_id: JobId,
    /// When it was first used.
    pub created_at: DateTime<Utc>,
}

/// An idempotency key to record with a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdempotencyKey {
    /// The key as the client sent it.
    pub key: String,
    /// SHA-256 of the request.
    pub request_hash: Vec<u8>,
    /// A stored key created at or before this time has expired and is replaced.
    pub expired_before: DateTime<Utc>,
}

/// What [`crate::Store::submit_job`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// The document and the job were stored (and the key, if any).
    Created(Job),
    /// The key was already in use: nothing was stored; this is the first use.
    KeyInUse(IdempotencyKey),
}

/// What [`crate::Store::cancel_job`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The job was queued (or waiting to retry) and is now cancelled.
    Cancelled(Job),
    /// The job had been cancelled before; nothing changed.
    AlreadyCancelled(Job),
    /// The job is being sent or has ended; nothing changed.
    NotCancellable(Job),
    /// The tenant has no such job.
    NotFound,
}

/// Where a listing page ends: the next page starts after this job in (created_at, id) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobCursor {
    /// Creation time of the last job of the page.
    pub created_at: DateTime<Utc>,
    /// Its id, which breaks ties between jobs created in the same microsecond.
    pub id: JobId,
}

impl JobCursor {
    /// The cursor just after `job`.
    pub fn after(job: &Job) -> Self {
        JobCursor {
            created_at: job.created_at,
            id: job.id,
        }
    }
}

/// Which of a tenant's jobs a listing returns, newest first; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only this state.
    pub status: Option<JobStatus>,
    /// `Some(true)`: only cancelled jobs; `Some(false)`: no cancelled ones.
    pub cancelled: Option<bool>,
    /// Created at or after this time.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Continue after this job (keyset pagination).
    pub after: Option<JobCursor>,
}
