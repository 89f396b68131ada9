//! `GET`/`PUT /admin/tenant/{id}/dialing`: a tenant's toll-fraud settings (home country,
//! allowed prefixes, daily caps), with the premium prefixes that stay blocked unless allowed
//! and what the tenant has used today.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::dialing::{
    day_start, DEFAULT_DAILY_JOBS, DEFAULT_DAILY_PAGES, DEFAULT_PREMIUM_PREFIXES,
};
use store::{DailyUsage, DialingSettings, TenantId};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::{AdminAuth, AppState};

/// The `PUT` body. A missing cap keeps the default; `null` means unlimited.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DialingIn {
    #[serde(default = "home")]
    home_country_code: String,
    #[serde(default)]
    allowed_prefixes: Vec<String>,
    #[serde(default = "jobs")]
    daily_jobs: Option<i64>,
    #[serde(default = "pages")]
    daily_pages: Option<i64>,
}

fn home() -> String {
    "1".into()
}
fn jobs() -> Option<i64> {
    Some(DEFAULT_DAILY_JOBS)
}
fn pages() -> Option<i64> {
    Some(DEFAULT_DAILY_PAGES)
}

/// The answer of both routes.
#[derive(Debug, Serialize)]
pub(crate) struct DialingView {
    tenant_id: i64,
    home_country_code: String,
    allowed_prefixes: Vec<String>,
    daily_jobs: Option<i64>,
    daily_pages: Option<i64>,
    /// Blocked unless an allowed prefix names them (or a longer prefix inside them).
    premium_prefixes: Vec<&'static str>,
    /// Outbound faxes and pages since midnight UTC.
    today: Usage,
}

#[derive(Debug, Serialize)]
struct Usage {
    jobs: i64,
    pages: i64,
}

/// Builds the view of a tenant's settings.
async fn view(st: &AppState, id: TenantId) -> ApiResult<DialingView> {
    let d = st
        .store
        .get_dialing(id)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let DailyUsage { jobs, pages } = st
        .store
        .outbound_usage_since(id, day_start(st.fax.clock.now()))
        .await?;
    Ok(DialingView {
        tenant_id: id.0,
        home_country_code: d.home_country_code,
        allowed_prefixes: d.allowed_prefixes,
        daily_jobs: d.daily_jobs,
        daily_pages: d.daily_pages,
        premium_prefixes: DEFAULT_PREMIUM_PREFIXES.to_vec(),
        today: Usage { jobs, pages },
    })
}

/// `GET /admin/tenant/{id}/dialing`.
pub(crate) async fn get(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DialingView>> {
    Ok(Json(view(&st, TenantId(id)).await?))
}

/// `PUT /admin/tenant/{id}/dialing`: replaces the settings.
pub(crate) async fn put(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DialingIn>,
) -> ApiResult<Json<DialingView>> {
    let id = TenantId(id);
    let d = DialingSettings {
        home_country_code: body.home_country_code,
        allowed_prefixes: body.allowed_prefixes,
        daily_jobs: body.daily_jobs,
        daily_pages: body.daily_pages,
    };
    d.validate().map_err(ApiError::Validation)?;
    if !st.store.set_dialing(id, &d, st.fax.clock.now()).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    Ok(Json(view(&st, id).await?))
}
