//! One job: `GET /fax/{uuid}` (status with attempts and page results), cancel (`POST
//! /fax/{uuid}/cancel` or `DELETE /fax/{uuid}`), and gofaxserver's `GET /fax/status?uuid=`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use store::{CancelOutcome, Direction, Job, JobId, JobStatus, NewEvent, Store, TenantId};
use uuid::Uuid;

use super::views::{AttemptView, GofaxResultRow, JobView, PageView, StatusView};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::{AppState, TenantAuth};

/// One of the tenant's jobs, or 404 (also for another tenant's).
pub(super) async fn job_of(store: &dyn Store, tenant: TenantId, id: Uuid) -> ApiResult<Job> {
    store
        .get_job(tenant, JobId(id))
        .await?
        .ok_or(ApiError::NotFound("job"))
}

/// `GET /fax/{uuid}`.
pub(crate) async fn get(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<StatusView>> {
    let job = job_of(st.store.as_ref(), me.tenant_id, id).await?;
    let document = match job.document_id {
        Some(d) => st.store.get_document_info(me.tenant_id, d).await?,
        None => None,
    };
    let mut attempts = Vec::new();
    for (i, a) in st
        .store
        .list_attempts(me.tenant_id, job.id)
        .await?
        .into_iter()
        .enumerate()
    {
        let pages = st.store.list_page_results(me.tenant_id, a.id).await?;
        attempts.push(AttemptView::new(i + 1, a, pages));
    }
    // Only an inbound job without a document can be a bridged call.
    let bridge = match (job.direction, job.document_id) {
        (Direction::Inbound, None) => st.store.get_bridge(me.tenant_id, job.id).await?,
        _ => None,
    };
    Ok(Json(StatusView {
        job: JobView::from(&job),
        document: document.map(Into::into),
        attempts,
        bridge,
    }))
}

/// `POST /fax/{uuid}/cancel` and `DELETE /fax/{uuid}`: only while the job waits (new or
/// between retries); cancelling twice answers the cancelled job again.
pub(crate) async fn cancel(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<JobView>> {
    let now = st.fax.clock.now();
    match st.store.cancel_job(me.tenant_id, JobId(id), now).await? {
        CancelOutcome::Cancelled(job) => {
            let event = NewEvent {
                at: now,
                tenant_id: Some(me.tenant_id),
                job_id: Some(job.id),
                kind: "job.cancelled".into(),
                detail: json!({ "source": "api", "user_id": me.user_id }),
            };
            // The cancellation is committed; the audit line is best effort.
            if let Err(e) = st.store.append_event(&event).await {
                tracing::warn!(job_id = %job.id, error = %e, "could not log job.cancelled");
            }
            tracing::info!(job_id = %job.id, tenant = %me.tenant_id, "fax cancelled");
            Ok(Json(JobView::from(&job)))
        }
        CancelOutcome::AlreadyCancelled(job) => Ok(Json(JobView::from(&job))),
        CancelOutcome::NotCancellable(job) => Err(match job.status {
            JobStatus::Active | JobStatus::Queued => ApiError::JobInProgress,
            JobStatus::Done | JobStatus::Failed => ApiError::JobFinished(job.status.as_str()),
        }),
        CancelOutcome::NotFound => Err(ApiError::NotFound("job")),
    }
}

/// Query of gofaxserver's `/fax/status`.
#[derive(Debug, Deserialize)]
pub(crate) struct StatusQuery {
    uuid: Option<String>,
}

/// `GET /fax/status?uuid=`: gofaxserver's array of result rows (§3.6), one per attempt,
/// `[]` when there are none. Scoped to the tenant (gofaxserver was not): another tenant's
/// job gives `[]`, exactly like an unknown one.
pub(crate) async fn gofax_status(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> ApiResult<Json<Vec<GofaxResultRow>>> {
    let raw = q
        .uuid
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::BadRequest("uuid query parameter is required".into()))?;
    let id = Uuid::parse_str(&raw)
        .map_err(|e| ApiError::BadRequest(format!("invalid uuid format: {e}")))?;
    let Some(job) = st.store.get_job(me.tenant_id, JobId(id)).await? else {
        return Ok(Json(Vec::new()));
    };
    let total_pages = match job.document_id {
        Some(d) => st
            .store
            .get_document_info(me.tenant_id, d)
            .await?
            .map_or(0, |i| i.pages),
        None => 0,
    };
    let attempts = st.store.list_attempts(me.tenant_id, job.id).await?;
    let last = attempts.len();
    let mut rows = Vec::with_capacity(last);
    for (i, a) in attempts.into_iter().enumerate() {
        let pages: Vec<PageView> = st
            .store
            .list_page_results(me.tenant_id, a.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        // Delivery stops at the first success, so only the last attempt of a done job
        // succeeded, whatever its result code means for its endpoint kind.
        let success = job.status == JobStatus::Done && i + 1 == last && a.ended_at.is_some();
        let (src, dst, result_type) = match job.direction {
            Direction::Outbound => (job.tenant_id.0, 0, "transmission"),
            Direction::Inbound => (0, job.tenant_id.0, "delivery"),
        };
        rows.push(GofaxResultRow {
            id: a.id.0,
            job_uuid: job.id.0,
            src_tenant_id: src,
            dst_tenant_id: dst,
            callee_number: job.callee.clone(),
            caller_id_number: job.caller.clone(),
            result_type,
            attempt_number: i + 1,
            endpoint_id: a.endpoint_id.map_or(0, |e| e.0),
            npages: a.pages,
            total_pages,
            transferred_pages: a.pages,
            status: a.result_text.clone(),
            result_code: a.result_code.unwrap_or(0),
            result_text: a.result_text,
            success,
            start_ts: a.started_at,
            end_ts: a.ended_at,
            page_results: serde_json::to_string(&pages).map_err(|_| ApiError::Internal)?,
            created_at: a.started_at,
        });
    }
    Ok(Json(rows))
}
