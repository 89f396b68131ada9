//! The delivery log (webhooks and e-mails) and the signing secrets of webhook endpoints.
//!
//! - `GET /admin/deliveries` (`?tenant_id=&job=&status=&limit=`), `GET /admin/deliveries/{id}`
//!   (with every try), `POST /admin/deliveries/{id}/replay`;
//! - `GET /fax/{uuid}/deliveries` (the tenant's job, each delivery with its tries) and
//!   `POST /fax/{uuid}/deliveries/{id}/replay`;
//! - `PUT /admin/endpoint/{id}/webhook-secret` (`{"secret":"whsec_…","events":[…]}`),
//!   `GET` (whether one is set, and the events) and `DELETE` on the same path.
//!
//! A secret is accepted, never returned: the operator generates it and configures it on both
//! sides, so that it appears in no response and no log. A replay makes a delivery pending
//! and due now; the sender picks it up on its next pass.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::{
    Delivery, DeliveryAttempt, DeliveryFilter, DeliveryId, DeliveryStatus, Endpoint, EndpointId,
    EndpointKind, JobId, Store, TenantId,
};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{AdminAuth, AppState, TenantAuth};

/// Lifecycle event types an endpoint may subscribe to.
const EVENTS: [&str; 6] = [
    "fax.queued",
    "fax.sending",
    "fax.page",
    "fax.delivered",
    "fax.failed",
    "fax.received",
];
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// The routes, with their full paths (merged beside `/admin` and `/fax`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/deliveries", get(admin_list))
        .route("/admin/deliveries/{id}", get(admin_get))
        .route("/admin/deliveries/{id}/replay", post(admin_replay))
        .route(
            "/admin/endpoint/{id}/webhook-secret",
            get(secret_get).put(secret_put).delete(secret_delete),
        )
        .route("/fax/{uuid}/deliveries", get(tenant_list))
        .route("/fax/{uuid}/deliveries/{id}/replay", post(tenant_replay))
}

/// A delivery with its tries.
#[derive(Debug, Serialize)]
pub(crate) struct DeliveryView {
    #[serde(flatten)]
    delivery: Delivery,
    tries: Vec<DeliveryAttempt>,
}

/// Query of the admin listing.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    tenant_id: Option<i64>,
    job: Option<Uuid>,
    status: Option<String>,
    limit: Option<u32>,
}

async fn with_tries(
    store: &dyn Store,
    tenant: Option<TenantId>,
    d: Delivery,
) -> ApiResult<DeliveryView> {
    let tries = store.list_delivery_attempts(tenant, d.id).await?;
    Ok(DeliveryView { delivery: d, tries })
}

/// `GET /admin/deliveries`: newest first, without their tries.
pub(crate) async fn admin_list(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Delivery>>> {
    let status = q
        .status
        .as_deref()
        .map(str::parse::<DeliveryStatus>)
        .transpose()
        .map_err(|_| ApiError::BadRequest("status must be pending, delivered or failed".into()))?;
    let filter = DeliveryFilter {
        tenant: q.tenant_id.map(TenantId),
        job: q.job.map(JobId),
        status,
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    Ok(Json(st.store.list_deliveries(&filter, limit).await?))
}

/// `GET /admin/deliveries/{id}`.
pub(crate) async fn admin_get(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<DeliveryView>> {
    let store = st.store.as_ref();
    let d = store
        .get_delivery(None, DeliveryId(id))
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok(Json(with_tries(store, None, d).await?))
}

/// `POST /admin/deliveries/{id}/replay`.
pub(crate) async fn admin_replay(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Delivery>> {
    replay(&st, None, DeliveryId(id)).await
}

async fn replay(
    st: &AppState,
    tenant: Option<TenantId>,
    id: DeliveryId,
) -> ApiResult<Json<Delivery>> {
    let d = st
        .store
        .replay_delivery(tenant, id, st.fax.clock.now())
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    tracing::info!(delivery_id = %d.id, tenant_id = ?tenant, "delivery replayed");
    Ok(Json(d))
}

/// `GET /fax/{uuid}/deliveries`: the deliveries of one of the tenant's jobs, with their
/// tries, newest first.
pub(crate) async fn tenant_list(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath(job): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let store = st.store.as_ref();
    // Another tenant's job answers exactly like one that does not exist.
    store
        .get_job(me.tenant_id, JobId(job))
        .await?
        .ok_or(ApiError::NotFound("job"))?;
    let filter = DeliveryFilter {
        tenant: Some(me.tenant_id),
        job: Some(JobId(job)),
        status: None,
    };
    let mut out = Vec::new();
    for d in store.list_deliveries(&filter, MAX_LIMIT).await? {
        out.push(with_tries(store, Some(me.tenant_id), d).await?);
    }
    Ok(Json(out))
}

/// `POST /fax/{uuid}/deliveries/{id}/replay`.
pub(crate) async fn tenant_replay(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath((job, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<Delivery>> {
    let d = st
        .store
        .get_delivery(Some(me.tenant_id), DeliveryId(id))
        .await?
        .filter(|d| d.job_id == Some(JobId(job)))
        .ok_or(ApiError::NotFound("delivery"))?;
    replay(&st, Some(me.tenant_id), d.id).await
}

/// Body of `PUT /admin/endpoint/{id}/webhook-secret`.
#[derive(Debug, Deserialize)]
pub(crate) struct SecretIn {
    secret: String,
    #[serde(default)]
    events: Vec<String>,
}

/// What the secret routes show: never the secret itself.
#[derive(Debug, Serialize)]
pub(crate) struct SecretView {
    endpoint_id: EndpointId,
    has_secret: bool,
    events: Vec<String>,
    created_at: Option<DateTime<Utc>>,
}

/// A webhook endpoint by id, whoever owns it.
async fn webhook_endpoint(store: &dyn Store, id: EndpointId) -> ApiResult<Endpoint> {
    let mut found = store.get_endpoint(None, id).await?;
    if found.is_none() {
        for t in store.list_tenants().await? {
            found = store.get_endpoint(Some(t.id), id).await?;
            if found.is_some() {
                break;
            }
        }
    }
    let e = found.ok_or(ApiError::NotFound("endpoint"))?;
    if e.endpoint_type != EndpointKind::Webhook {
        return Err(ApiError::Validation(
            "only webhook endpoints have a signing secret".into(),
        ));
    }
    Ok(e)
}

/// Checks `whsec_<base64>` of 24 to 64 bytes, as Standard Webhooks asks.
fn check_secret(s: &str) -> ApiResult<()> {
    let key = s
        .strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| ApiError::Validation("secret must be whsec_ followed by base64".into()))?;
    if !(24..=64).contains(&key.len()) {
        return Err(ApiError::Validation(
            "secret must hold 24 to 64 bytes (e.g. whsec_ + `openssl rand -base64 32`)".into(),
        ));
    }
    Ok(())
}

/// `GET /admin/endpoint/{id}/webhook-secret`.
pub(crate) async fn secret_get(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SecretView>> {
    let e = webhook_endpoint(st.store.as_ref(), EndpointId(id)).await?;
    let s = st.store.get_webhook_secret(e.id).await?;
    Ok(Json(SecretView {
        endpoint_id: e.id,
        has_secret: s.is_some(),
        events: s.as_ref().map(|s| s.events.clone()).unwrap_or_default(),
        created_at: s.map(|s| s.created_at),
    }))
}

/// `PUT /admin/endpoint/{id}/webhook-secret`: sets or rotates the secret.
pub(crate) async fn secret_put(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SecretIn>,
) -> ApiResult<Json<SecretView>> {
    let e = webhook_endpoint(st.store.as_ref(), EndpointId(id)).await?;
    check_secret(body.secret.trim())?;
    if let Some(bad) = body.events.iter().find(|ev| !EVENTS.contains(&ev.as_str())) {
        return Err(ApiError::Validation(format!(
            "unknown event {bad:?}: use {}",
            EVENTS.join(", ")
        )));
    }
    let now = st.fax.clock.now();
    st.store
        .set_webhook_secret(e.id, body.secret.trim(), &body.events, now)
        .await?;
    tracing::info!(endpoint_id = %e.id, "webhook secret set");
    Ok(Json(SecretView {
        endpoint_id: e.id,
        has_secret: true,
        events: body.events,
        created_at: Some(store_time(now)),
    }))
}

/// The store keeps microseconds; answer what a later GET will show.
fn store_time(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// `DELETE /admin/endpoint/{id}/webhook-secret`.
pub(crate) async fn secret_delete(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SecretView>> {
    let e = webhook_endpoint(st.store.as_ref(), EndpointId(id)).await?;
    if !st.store.delete_webhook_secret(e.id).await? {
        return Err(ApiError::NotFound("webhook secret"));
    }
    Ok(Json(SecretView {
        endpoint_id: e.id,
        has_secret: false,
        events: Vec::new(),
        created_at: None,
    }))
}
