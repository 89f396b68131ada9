//! Administrator routes under `/admin`, with gofaxserver's paths and JSON keys.
//!
//! gofaxserver addresses numbers, users and endpoints by id alone, while the store scopes them
//! by tenant; the `owner_of_*` helpers find the owning tenant by asking each one. That is
//! linear in the number of tenants, which is fine for an admin call and keeps the store's
//! tenant-scoped interface the only way in.

mod dialing;
mod endpoints;
mod faxes;
mod header;
mod tenants;
mod users;

use axum::routing::{get, post};
use axum::Router;
use store::{Endpoint, EndpointId, NumberId, Store, TenantId, TenantNumber, User, UserId};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The `/admin` routes (every handler takes [`crate::AdminAuth`]).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(faxes::routes())
        .route("/tenant", get(tenants::list).post(tenants::create))
        .route(
            "/tenant/{id}",
            get(tenants::get)
                .put(tenants::update)
                .delete(tenants::delete),
        )
        .route("/tenant/{id}/dialing", get(dialing::get).put(dialing::put))
        .route(
            "/tenant/{id}/header",
            get(header::get_tenant).put(header::put_tenant),
        )
        .route(
            "/number/{id}/header",
            get(header::get_number).put(header::put_number),
        )
        .route(
            "/number",
            get(tenants::list_numbers)
                .post(tenants::create_number)
                .delete(tenants::delete_number_by_query),
        )
        .route(
            "/number/{id}",
            get(tenants::get_number)
                .put(tenants::update_number)
                .delete(tenants::delete_number),
        )
        .route("/user", get(users::list).post(users::create))
        .route(
            "/user/{id}",
            get(users::get).put(users::update).delete(users::delete),
        )
        .route("/user/{id}/token", post(users::create_token))
        .route("/endpoint", get(endpoints::list).post(endpoints::create))
        .route(
            "/endpoint/{id}",
            get(endpoints::get)
                .put(endpoints::update)
                .delete(endpoints::delete),
        )
        .route(
            "/gateway",
            get(endpoints::list_gateways).post(endpoints::create_gateway),
        )
        .route(
            "/gateway/{id}",
            get(endpoints::get_gateway)
                .put(endpoints::update_gateway)
                .delete(endpoints::delete_gateway),
        )
        .route("/fax/{uuid}/debug", get(crate::fax::debug::admin_list))
        .route(
            "/fax/{uuid}/debug/{id}/pcap",
            get(crate::fax::debug::admin_pcap),
        )
}

/// Checks that a tenant referenced by a request body exists (422 otherwise: the URL is fine,
/// the body is not).
async fn require_tenant(store: &dyn Store, id: i64) -> ApiResult<TenantId> {
    let id = TenantId(id);
    match store.get_tenant(id).await? {
        Some(_) => Ok(id),
        None => Err(ApiError::Validation(format!("tenant {id} does not exist"))),
    }
}

/// Finds a number by id, whoever owns it.
async fn owner_of_number(store: &dyn Store, id: NumberId) -> ApiResult<TenantNumber> {
    for t in store.list_tenants().await? {
        if let Some(n) = store.get_number(t.id, id).await? {
            return Ok(n);
        }
    }
    Err(ApiError::NotFound("number"))
}

/// Finds a user by id, whoever owns them.
async fn owner_of_user(store: &dyn Store, id: UserId) -> ApiResult<User> {
    for t in store.list_tenants().await? {
        if let Some(u) = store.get_user(t.id, id).await? {
            return Ok(u);
        }
    }
    Err(ApiError::NotFound("user"))
}

/// Finds an endpoint by id among the global ones and every tenant's.
async fn owner_of_endpoint(store: &dyn Store, id: EndpointId) -> ApiResult<Endpoint> {
    if let Some(e) = store.get_endpoint(None, id).await? {
        return Ok(e);
    }
    for t in store.list_tenants().await? {
        if let Some(e) = store.get_endpoint(Some(t.id), id).await? {
            return Ok(e);
        }
    }
    Err(ApiError::NotFound("endpoint"))
}
