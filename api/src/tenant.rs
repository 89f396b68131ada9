//! Tenant routes under `/tenant`: a user's view of their own tenant.
//!
//! Every read passes the authenticated tenant id to the store, which answers `None` for
//! another tenant's rows; that becomes 404, so ids of other tenants are not even confirmed
//! to exist.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use store::{EndpointId, NumberId, UserId};

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::views::{EndpointView, NumberView, UserView};
use crate::{AppState, TenantAuth};

/// The `/tenant` routes (every handler takes [`TenantAuth`]).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/number", get(list_numbers))
        .route("/number/{id}", get(get_number))
        .route("/user", get(list_users))
        .route("/user/{id}", get(get_user))
        .route("/endpoint", get(list_endpoints))
        .route("/endpoint/{id}", get(get_endpoint))
}

/// `GET /tenant/number`.
async fn list_numbers(
    me: TenantAuth,
    State(st): State<AppState>,
) -> ApiResult<Json<Vec<NumberView>>> {
    let rows = st.store.list_numbers(me.tenant_id).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// `GET /tenant/number/{id}`.
async fn get_number(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<NumberView>> {
    let row = st
        .store
        .get_number(me.tenant_id, NumberId(id))
        .await?
        .ok_or(ApiError::NotFound("number"))?;
    Ok(Json(row.into()))
}

/// `GET /tenant/user`.
async fn list_users(me: TenantAuth, State(st): State<AppState>) -> ApiResult<Json<Vec<UserView>>> {
    let rows = st.store.list_users(me.tenant_id).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// `GET /tenant/user/{id}`.
async fn get_user(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserView>> {
    let row = st
        .store
        .get_user(me.tenant_id, UserId(id))
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(row.into()))
}

/// `GET /tenant/endpoint`: the tenant's own endpoints (tenant- and number-scoped).
async fn list_endpoints(
    me: TenantAuth,
    State(st): State<AppState>,
) -> ApiResult<Json<Vec<EndpointView>>> {
    let rows = st.store.list_endpoints(Some(me.tenant_id)).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// `GET /tenant/endpoint/{id}`.
async fn get_endpoint(
    me: TenantAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<EndpointView>> {
    let row = st
        .store
        .get_endpoint(Some(me.tenant_id), EndpointId(id))
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(Json(row.into()))
}
