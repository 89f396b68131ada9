//! `/admin/endpoint` (gofaxserver §3.3 keys) and `/admin/gateway` (faxserver's SIP peers).
//!
//! An endpoint's owner follows from its scope: the tenant itself, the tenant owning the
//! number, or nobody for `global`. gofaxserver inserted global endpoints and then answered
//! 500; here they are ordinary rows.

use axum::extract::State;
use axum::Json;
use store::{EndpointId, GatewayId, NewEndpoint, NewGateway, NumberId, Scope, Store, TenantId};

use super::{owner_of_endpoint, owner_of_number, require_tenant};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::views::{EndpointIn, EndpointView, GatewayIn, GatewayView, Message};
use crate::{AdminAuth, AppState};

/// Works out the owner of an endpoint body and converts it for the store.
async fn resolve(store: &dyn Store, e: EndpointIn) -> ApiResult<(Option<TenantId>, NewEndpoint)> {
    if e.endpoint.trim().is_empty() {
        return Err(ApiError::Validation("endpoint must not be empty".into()));
    }
    let owner = match e.scope {
        Scope::Tenant => Some(require_tenant(store, e.type_id).await?),
        Scope::Number => match owner_of_number(store, NumberId(e.type_id)).await {
            Ok(n) => Some(n.tenant_id),
            Err(ApiError::NotFound(_)) => {
                return Err(ApiError::Validation(format!(
                    "number {} does not exist",
                    e.type_id
                )))
            }
            Err(other) => return Err(other),
        },
        Scope::Global => None,
    };
    // gofaxserver stores 0 as the type_id of global endpoints.
    let scope_id = if e.scope == Scope::Global {
        0
    } else {
        e.type_id
    };
    Ok((
        owner,
        NewEndpoint {
            scope: e.scope,
            scope_id,
            endpoint_type: e.endpoint_type,
            target: e.endpoint,
            priority: e.priority,
            bridge: e.bridge,
        },
    ))
}

/// `GET /admin/endpoint`: global endpoints, then each tenant's.
pub(crate) async fn list(
    _: AdminAuth,
    State(st): State<AppState>,
) -> ApiResult<Json<Vec<EndpointView>>> {
    let mut out: Vec<EndpointView> = st
        .store
        .list_endpoints(None)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    for t in st.store.list_tenants().await? {
        out.extend(
            st.store
                .list_endpoints(Some(t.id))
                .await?
                .into_iter()
                .map(EndpointView::from),
        );
    }
    Ok(Json(out))
}

/// `POST /admin/endpoint`.
pub(crate) async fn create(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiJson(body): ApiJson<EndpointIn>,
) -> ApiResult<Json<EndpointView>> {
    let (owner, e) = resolve(&*st.store, body).await?;
    Ok(Json(st.store.create_endpoint(owner, &e).await?.into()))
}

/// `GET /admin/endpoint/{id}`.
pub(crate) async fn get(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(
        owner_of_endpoint(&*st.store, EndpointId(id)).await?.into(),
    ))
}

/// `PUT /admin/endpoint/{id}`: replaces an endpoint; it cannot move to another owner.
pub(crate) async fn update(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<EndpointIn>,
) -> ApiResult<Json<EndpointView>> {
    let id = EndpointId(id);
    let current = owner_of_endpoint(&*st.store, id).await?;
    let (owner, e) = resolve(&*st.store, body).await?;
    if owner != current.tenant_id {
        return Err(ApiError::Validation(
            "an endpoint cannot move to another tenant".into(),
        ));
    }
    if !st.store.update_endpoint(owner, id, &e).await? {
        return Err(ApiError::NotFound("endpoint"));
    }
    let row = st
        .store
        .get_endpoint(owner, id)
        .await?
        .ok_or(ApiError::NotFound("endpoint"))?;
    Ok(Json(row.into()))
}

/// `DELETE /admin/endpoint/{id}`.
pub(crate) async fn delete(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Message>> {
    let current = owner_of_endpoint(&*st.store, EndpointId(id)).await?;
    if !st
        .store
        .delete_endpoint(current.tenant_id, current.id)
        .await?
    {
        return Err(ApiError::NotFound("endpoint"));
    }
    Ok(Json(Message {
        message: "endpoint deleted successfully",
    }))
}

/// Validates a gateway body; `keep_password` fills an absent password on update.
async fn new_gateway(
    store: &dyn Store,
    g: GatewayIn,
    keep_password: Option<String>,
) -> ApiResult<NewGateway> {
    if g.name.trim().is_empty() || g.uri.trim().is_empty() {
        return Err(ApiError::Validation(
            "name and uri must not be empty".into(),
        ));
    }
    let tenant_id = match g.tenant_id {
        Some(t) => Some(require_tenant(store, t).await?),
        None => None,
    };
    Ok(NewGateway {
        name: g.name,
        uri: g.uri,
        transport: g.transport,
        username: g.username,
        password: g.password.or(keep_password),
        register: g.register,
        allowed_sources: g.allowed_sources,
        tenant_id,
        t38_allowed: g.t38_allowed,
    })
}

/// Maps a duplicate gateway name to a message that names it.
fn name_conflict(e: store::Error, name: &str) -> ApiError {
    match e {
        store::Error::Conflict(_) => ApiError::Conflict(format!("gateway {name:?} already exists")),
        other => other.into(),
    }
}

/// `GET /admin/gateway`.
pub(crate) async fn list_gateways(
    _: AdminAuth,
    State(st): State<AppState>,
) -> ApiResult<Json<Vec<GatewayView>>> {
    let rows = st.store.list_gateways().await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// `POST /admin/gateway`.
pub(crate) async fn create_gateway(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiJson(body): ApiJson<GatewayIn>,
) -> ApiResult<Json<GatewayView>> {
    let debug_pcap = body.debug_pcap;
    let g = new_gateway(&*st.store, body, None).await?;
    let mut row = st
        .store
        .create_gateway(&g)
        .await
        .map_err(|e| name_conflict(e, &g.name))?;
    if let Some(on) = debug_pcap {
        st.store.set_gateway_debug_pcap(row.id, on).await?;
        row.debug_pcap = on;
    }
    Ok(Json(row.into()))
}

/// `GET /admin/gateway/{id}`.
pub(crate) async fn get_gateway(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<GatewayView>> {
    let row = st
        .store
        .get_gateway(GatewayId(id))
        .await?
        .ok_or(ApiError::NotFound("gateway"))?;
    Ok(Json(row.into()))
}

/// `PUT /admin/gateway/{id}`: replaces a gateway; an absent password keeps the stored one,
/// since clients never see it and could not send it back.
pub(crate) async fn update_gateway(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<GatewayIn>,
) -> ApiResult<Json<GatewayView>> {
    let id = GatewayId(id);
    let current = st
        .store
        .get_gateway(id)
        .await?
        .ok_or(ApiError::NotFound("gateway"))?;
    let debug_pcap = body.debug_pcap;
    let g = new_gateway(&*st.store, body, current.password).await?;
    if !st
        .store
        .update_gateway(id, &g)
        .await
        .map_err(|e| name_conflict(e, &g.name))?
    {
        return Err(ApiError::NotFound("gateway"));
    }
    if let Some(on) = debug_pcap {
        st.store.set_gateway_debug_pcap(id, on).await?;
    }
    let row = st
        .store
        .get_gateway(id)
        .await?
        .ok_or(ApiError::NotFound("gateway"))?;
    Ok(Json(row.into()))
}

/// `DELETE /admin/gateway/{id}`.
pub(crate) async fn delete_gateway(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Message>> {
    if !st.store.delete_gateway(GatewayId(id)).await? {
        return Err(ApiError::NotFound("gateway"));
    }
    Ok(Json(Message {
        message: "gateway deleted successfully",
    }))
}
