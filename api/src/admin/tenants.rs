//! `/admin/tenant` and `/admin/number`.
//!
//! Numbers are normalised to E.164 (NANP rules for now) before they reach the store, so that
//! `555-123-4567`, `15551234567` and `+15551234567` are one number and cannot be owned twice.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use store::{NewNumber, NewTenant, NumberId, NumberRules, Store, TenantId};

use super::{owner_of_number, require_tenant};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::views::{Message, NumberFields, NumberIn, NumberView, TenantIn, TenantView};
use crate::{AdminAuth, AppState};

/// Normalises a number body to what the store takes.
pub(crate) fn new_number(f: NumberFields) -> ApiResult<NewNumber> {
    let number = NumberRules::nanp().normalize(&f.number)?;
    // SpanDSP prints at most 50 characters of header, in a font of printable ASCII only.
    if f.header.chars().count() > 50 {
        return Err(ApiError::Validation(
            "header must be at most 50 characters".into(),
        ));
    }
    if !f.header.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(ApiError::Validation(
            "header must be printable ASCII".into(),
        ));
    }
    Ok(NewNumber {
        number,
        name: f.name,
        header: f.header,
        notify: f.notify,
    })
}

/// Rejects an empty tenant name.
fn new_tenant(t: &TenantIn) -> ApiResult<NewTenant> {
    if t.name.trim().is_empty() {
        return Err(ApiError::Validation("name must not be empty".into()));
    }
    Ok(NewTenant {
        name: t.name.clone(),
        notify: t.notify.clone(),
    })
}

/// A tenant with its numbers, or 404.
async fn view(store: &dyn Store, id: TenantId) -> ApiResult<TenantView> {
    let t = store
        .get_tenant(id)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let numbers = store.list_numbers(id).await?;
    Ok(TenantView::new(t, numbers))
}

/// `GET /admin/tenant`: all tenants with their numbers.
pub(crate) async fn list(
    _: AdminAuth,
    State(st): State<AppState>,
) -> ApiResult<Json<Vec<TenantView>>> {
    let mut out = Vec::new();
    for t in st.store.list_tenants().await? {
        let numbers = st.store.list_numbers(t.id).await?;
        out.push(TenantView::new(t, numbers));
    }
    Ok(Json(out))
}

/// `POST /admin/tenant`: creates a tenant and any nested numbers, all or nothing.
pub(crate) async fn create(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiJson(body): ApiJson<TenantIn>,
) -> ApiResult<Json<TenantView>> {
    let fields = new_tenant(&body)?;
    // Validate every nested number before writing anything.
    let numbers = body
        .numbers
        .unwrap_or_default()
        .into_iter()
        .map(new_number)
        .collect::<ApiResult<Vec<_>>>()?;
    let t = st.store.create_tenant(&fields, chrono::Utc::now()).await?;
    if let Some(on) = body.debug_pcap {
        st.store.set_tenant_debug_pcap(t.id, on).await?;
    }
    for n in &numbers {
        if let Err(e) = st.store.create_number(t.id, n).await {
            // Undo the half-made tenant; the original error is what the caller needs.
            if let Err(undo) = st.store.delete_tenant(t.id).await {
                tracing::error!(error = %undo, tenant = %t.id, "rollback of tenant failed");
            }
            return Err(match e {
                store::Error::Conflict(_) => {
                    ApiError::Conflict(format!("number {} already exists", n.number))
                }
                other => other.into(),
            });
        }
    }
    Ok(Json(view(&*st.store, t.id).await?))
}

/// `GET /admin/tenant/{id}`.
pub(crate) async fn get(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TenantView>> {
    Ok(Json(view(&*st.store, TenantId(id)).await?))
}

/// `PUT /admin/tenant/{id}`: replaces name and notify (and `debug_pcap` when given); numbers
/// are managed via `/admin/number`.
pub(crate) async fn update(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<TenantIn>,
) -> ApiResult<Json<TenantView>> {
    let fields = new_tenant(&body)?;
    if !st.store.update_tenant(TenantId(id), &fields).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    if let Some(on) = body.debug_pcap {
        st.store.set_tenant_debug_pcap(TenantId(id), on).await?;
    }
    Ok(Json(view(&*st.store, TenantId(id)).await?))
}

/// `DELETE /admin/tenant/{id}`: deletes the tenant and all it owns; 404 if absent.
pub(crate) async fn delete(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Message>> {
    if !st.store.delete_tenant(TenantId(id)).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    Ok(Json(Message {
        message: "tenant deleted successfully",
    }))
}

/// Optional `?tenant_id=` filter of number and user listings.
#[derive(Debug, Deserialize)]
pub(crate) struct TenantFilter {
    tenant_id: Option<i64>,
}

impl TenantFilter {
    /// The tenants a listing covers: the one asked for, or every tenant.
    pub(crate) async fn tenants(&self, st: &AppState) -> ApiResult<Vec<TenantId>> {
        Ok(match self.tenant_id {
            Some(id) => vec![TenantId(id)],
            None => st
                .store
                .list_tenants()
                .await?
                .into_iter()
                .map(|t| t.id)
                .collect(),
        })
    }
}

/// `GET /admin/number[?tenant_id=]`.
pub(crate) async fn list_numbers(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<TenantFilter>,
) -> ApiResult<Json<Vec<NumberView>>> {
    let tenants = q.tenants(&st).await?;
    let mut out = Vec::new();
    for t in tenants {
        out.extend(
            st.store
                .list_numbers(t)
                .await?
                .into_iter()
                .map(NumberView::from),
        );
    }
    Ok(Json(out))
}

/// `POST /admin/number`.
pub(crate) async fn create_number(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiJson(body): ApiJson<NumberIn>,
) -> ApiResult<Json<NumberView>> {
    let tenant_id = body
        .tenant_id
        .ok_or_else(|| ApiError::Validation("tenant_id is required".into()))?;
    let n = new_number(body.fields)?;
    let tenant = require_tenant(&*st.store, tenant_id).await?;
    match st.store.create_number(tenant, &n).await {
        Ok(row) => Ok(Json(row.into())),
        Err(store::Error::Conflict(_)) => Err(ApiError::Conflict(format!(
            "number {} already exists",
            n.number
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `GET /admin/number/{id}`.
pub(crate) async fn get_number(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<NumberView>> {
    Ok(Json(
        owner_of_number(&*st.store, NumberId(id)).await?.into(),
    ))
}

/// `PUT /admin/number/{id}`: replaces a number's fields; it cannot move to another tenant.
pub(crate) async fn update_number(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NumberIn>,
) -> ApiResult<Json<NumberView>> {
    let id = NumberId(id);
    let n = new_number(body.fields)?;
    let current = owner_of_number(&*st.store, id).await?;
    if body.tenant_id.is_some_and(|t| t != current.tenant_id.0) {
        return Err(ApiError::Validation(
            "tenant_id of a number cannot change".into(),
        ));
    }
    match st.store.update_number(current.tenant_id, id, &n).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::NotFound("number")),
        Err(store::Error::Conflict(_)) => {
            return Err(ApiError::Conflict(format!(
                "number {} already exists",
                n.number
            )))
        }
        Err(e) => return Err(e.into()),
    }
    let row = st
        .store
        .get_number(current.tenant_id, id)
        .await?
        .ok_or(ApiError::NotFound("number"))?;
    Ok(Json(row.into()))
}

/// `DELETE /admin/number/{id}`.
pub(crate) async fn delete_number(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Message>> {
    let current = owner_of_number(&*st.store, NumberId(id)).await?;
    if !st
        .store
        .delete_number(current.tenant_id, current.id)
        .await?
    {
        return Err(ApiError::NotFound("number"));
    }
    Ok(Json(Message {
        message: "tenant number deleted successfully",
    }))
}

/// gofaxserver's `?number=&tenant_id=` form of number deletion.
#[derive(Debug, Deserialize)]
pub(crate) struct NumberQuery {
    number: Option<String>,
    tenant_id: Option<String>,
}

/// `DELETE /admin/number?number=<n>&tenant_id=<id>`.
pub(crate) async fn delete_number_by_query(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<NumberQuery>,
) -> ApiResult<Json<Message>> {
    let (Some(number), Some(tenant)) = (q.number, q.tenant_id) else {
        return Err(ApiError::BadRequest(
            "both number and tenant_id are required".into(),
        ));
    };
    let tenant: i64 = tenant
        .parse()
        .map_err(|_| ApiError::BadRequest("invalid tenant_id".into()))?;
    let e164 = NumberRules::nanp().normalize(&number)?;
    let row = st
        .store
        .find_number(&e164)
        .await?
        .filter(|n| n.tenant_id.0 == tenant)
        .ok_or(ApiError::NotFound("number"))?;
    if !st.store.delete_number(row.tenant_id, row.id).await? {
        return Err(ApiError::NotFound("number"));
    }
    Ok(Json(Message {
        message: "tenant number deleted successfully",
    }))
}
