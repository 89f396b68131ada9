//! A job's per-call debug bundles (issue #8 item 6): `GET /fax/{uuid}/debug` lists them (the
//! SIP ladder and T.30 trace of every leg), `GET /fax/{uuid}/debug/{id}/pcap` gives a
//! bundle's pcap. The administrator has the same two under `/admin`, for any tenant's job.
//!
//! A tenant asking about another tenant's job gets the 404 of a job that does not exist.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use store::{CallDebugRecord, JobId, Store, TenantId};
use uuid::Uuid;

use super::status::job_of;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::{AdminAuth, AppState, TenantAuth};

/// The pcap media type (IANA, RFC 8842 §5).
pub(crate) const PCAP_CONTENT_TYPE: &str = "application/vnd.tcpdump.pcap";

/// The tenant's routes, nested under `/fax`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/{uuid}/debug", get(tenant_list))
        .route("/{uuid}/debug/{id}/pcap", get(tenant_pcap))
}

/// One call leg's bundle as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct DebugView {
    id: i64,
    call_id: String,
    /// `send`, `receive`, `bridge-in` or `bridge-out`.
    leg: String,
    /// The attempt (`attempts.id`) of a send; `None` for other legs.
    attempt_id: Option<i64>,
    created_at: DateTime<Utc>,
    /// Every SIP message of the leg, in order.
    sip: serde_json::Value,
    /// SpanDSP's protocol-level log of the leg.
    t30: serde_json::Value,
    truncated: bool,
    has_pcap: bool,
}

impl From<CallDebugRecord> for DebugView {
    fn from(r: CallDebugRecord) -> Self {
        DebugView {
            id: r.id,
            call_id: r.call_id,
            leg: r.leg,
            attempt_id: r.attempt_id,
            created_at: r.created_at,
            sip: r.sip,
            t30: r.t30,
            truncated: r.truncated,
            has_pcap: r.has_pcap,
        }
    }
}

async fn list(
    store: &dyn Store,
    tenant: Option<TenantId>,
    job: Uuid,
) -> ApiResult<Json<Vec<DebugView>>> {
    let rows = store.list_call_debug(tenant, JobId(job)).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// The pcap as a download named after the job and bundle, or 404.
async fn pcap(
    store: &dyn Store,
    tenant: Option<TenantId>,
    job: Uuid,
    id: i64,
) -> ApiResult<Response> {
    let bytes = store
        .get_call_debug_pcap(tenant, JobId(job), id)
        .await?
        .ok_or(ApiError::NotFound("pcap"))?;
    let disposition = format!("attachment; filename=\"fax-{job}-{id}.pcap\"");
    Ok((
        [
            (header::CONTENT_TYPE, PCAP_CONTENT_TYPE.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /fax/{uuid}/debug`.
pub(crate) async fn tenant_list(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<DebugView>>> {
    job_of(st.store.as_ref(), me.tenant_id, id).await?;
    list(st.store.as_ref(), Some(me.tenant_id), id).await
}

/// `GET /fax/{uuid}/debug/{id}/pcap`.
pub(crate) async fn tenant_pcap(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath((job, id)): ApiPath<(Uuid, i64)>,
) -> ApiResult<Response> {
    job_of(st.store.as_ref(), me.tenant_id, job).await?;
    pcap(st.store.as_ref(), Some(me.tenant_id), job, id).await
}

/// Any tenant's job, for administrators; 404 when there is none.
async fn any_job(store: &dyn Store, id: Uuid) -> ApiResult<()> {
    store
        .job_tenant(JobId(id))
        .await?
        .map(|_| ())
        .ok_or(ApiError::NotFound("job"))
}

/// `GET /admin/fax/{uuid}/debug`: any tenant's job; `[]` when it has no bundles, 404 when
/// there is no such job.
pub(crate) async fn admin_list(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<DebugView>>> {
    any_job(st.store.as_ref(), id).await?;
    list(st.store.as_ref(), None, id).await
}

/// `GET /admin/fax/{uuid}/debug/{id}/pcap`.
pub(crate) async fn admin_pcap(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath((job, id)): ApiPath<(Uuid, i64)>,
) -> ApiResult<Response> {
    any_job(st.store.as_ref(), job).await?;
    pcap(st.store.as_ref(), None, job, id).await
}
