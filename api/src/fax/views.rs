//! JSON shapes of the `/fax` routes.
//!
//! Numbers are `caller_number` / `callee_number` and the id is `job_uuid`, the names
//! gofaxserver's `/fax/send` uses, so one client speaks one vocabulary.

use chrono::{DateTime, Utc};
use serde::Serialize;
use store::{Attempt, Direction, DocumentInfo, Job, JobStatus, PageResult};
use uuid::Uuid;

/// The state a client sees: the store's, with cancelled jobs told apart from failed ones.
pub(crate) fn status_name(job: &Job) -> &'static str {
    if job.is_cancelled() {
        "cancelled"
    } else {
        job.status.as_str()
    }
}

/// Answer of `POST /fax/send` (gofaxserver's `message` and `job_uuid`, plus more).
#[derive(Debug, Serialize)]
pub(crate) struct Accepted {
    pub message: &'static str,
    pub job_uuid: Uuid,
    pub status: &'static str,
    pub pages: Option<i64>,
}

/// A job in a listing, and the head of its status.
#[derive(Debug, Serialize)]
pub(crate) struct JobView {
    pub job_uuid: Uuid,
    pub direction: Direction,
    /// `queued`, `active`, `done`, `failed` or `cancelled`.
    pub status: &'static str,
    pub caller_number: String,
    pub callee_number: String,
    /// How many times a worker took the job up.
    pub attempt_count: i64,
    /// When a queued job is next tried (later than now while it waits to retry).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        JobView {
            job_uuid: j.id.0,
            direction: j.direction,
            status: status_name(j),
            caller_number: j.caller.clone(),
            callee_number: j.callee.clone(),
            attempt_count: j.attempts,
            next_attempt_at: (j.status == JobStatus::Queued).then_some(j.next_attempt_at),
            last_error: j.last_error.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
            cancelled_at: j.cancelled_at,
        }
    }
}

/// The stored document of a job, without its bytes.
#[derive(Debug, Serialize)]
pub(crate) struct DocumentView {
    pub content_type: String,
    pub pages: i64,
    pub size: i64,
    pub sha256: Option<String>,
}

impl From<DocumentInfo> for DocumentView {
    fn from(d: DocumentInfo) -> Self {
        DocumentView {
            content_type: d.content_type,
            pages: d.pages,
            size: d.size,
            sha256: d.sha256,
        }
    }
}

/// One page's result within an attempt.
#[derive(Debug, Serialize)]
pub(crate) struct PageView {
    pub page: i64,
    pub result_code: i64,
    pub bad_rows: i64,
    pub detail: String,
}

impl From<PageResult> for PageView {
    fn from(p: PageResult) -> Self {
        PageView {
            page: p.page,
            result_code: p.result_code,
            bad_rows: p.bad_rows,
            detail: p.detail,
        }
    }
}

/// One delivery attempt with its pages.
#[derive(Debug, Serialize)]
pub(crate) struct AttemptView {
    pub id: i64,
    /// 1 for the first attempt.
    pub attempt_number: usize,
    pub endpoint_id: Option<i64>,
    pub gateway_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub result_code: Option<i64>,
    pub result_text: String,
    pub pages: i64,
    pub page_results: Vec<PageView>,
}

impl AttemptView {
    /// The `n`th attempt (from 1) and its pages.
    pub fn new(n: usize, a: Attempt, pages: Vec<PageResult>) -> Self {
        AttemptView {
            id: a.id.0,
            attempt_number: n,
            endpoint_id: a.endpoint_id.map(|e| e.0),
            gateway_id: a.gateway_id.map(|g| g.0),
            started_at: a.started_at,
            ended_at: a.ended_at,
            result_code: a.result_code,
            result_text: a.result_text,
            pages: a.pages,
            page_results: pages.into_iter().map(Into::into).collect(),
        }
    }
}

/// Answer of `GET /fax/{uuid}`.
#[derive(Debug, Serialize)]
pub(crate) struct StatusView {
    #[serde(flatten)]
    pub job: JobView,
    pub document: Option<DocumentView>,
    pub attempts: Vec<AttemptView>,
    /// The live bridge a bridged call went through (issue #6); absent for other jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<store::BridgeRecord>,
}

/// A page list for the listing.
#[derive(Debug, Serialize)]
pub(crate) struct Page {
    pub items: Vec<JobView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// A `fax_job_results` row as gofaxserver's `/fax/status` returns it (§3.6), one per
/// attempt, with the keys we have data for.
#[derive(Debug, Serialize)]
pub(crate) struct GofaxResultRow {
    pub id: i64,
    pub job_uuid: Uuid,
    pub src_tenant_id: i64,
    pub dst_tenant_id: i64,
    pub callee_number: String,
    pub caller_id_number: String,
    /// `transmission` (outbound) or `delivery` (inbound).
    pub result_type: &'static str,
    pub attempt_number: usize,
    pub endpoint_id: i64,
    pub npages: i64,
    pub total_pages: i64,
    pub transferred_pages: i64,
    pub status: String,
    pub result_code: i64,
    pub result_text: String,
    pub success: bool,
    pub start_ts: DateTime<Utc>,
    pub end_ts: Option<DateTime<Utc>>,
    /// JSON text of the page results, double-encoded as gofaxserver does.
    pub page_results: String,
    pub created_at: DateTime<Utc>,
}
