//! `GET`/`PUT /admin/tenant/{id}/header` and `/admin/number/{id}/header`: the time zone of
//! the date in the header line of the faxes a tenant, or one of its numbers, sends. An IANA
//! name checked against the system zone database; `""` clears it (a number then uses its
//! tenant's zone, a tenant the server's local time). Also that date's strftime-style format
//! (`header_date_format`): when one applies, the server draws the header line itself.
//! A `PUT` changes the fields it names.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::{NumberId, TenantId};

use super::owner_of_number;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::{AdminAuth, AppState};

/// The `PUT` body; an absent field is left as it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderIn {
    #[serde(default)]
    header_tz: Option<String>,
    #[serde(default)]
    header_date_format: Option<String>,
}

/// The answer of every route; `header_tz` is `""` when unset.
#[derive(Debug, Serialize)]
pub(crate) struct HeaderView {
    tenant_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_id: Option<i64>,
    header_tz: String,
    header_date_format: String,
}

async fn view(st: &AppState, tenant: TenantId, number: Option<NumberId>) -> ApiResult<HeaderView> {
    let tz = st.store.get_header_tz(tenant, number).await?;
    let format = st.store.get_header_date_format(tenant, number).await?;
    Ok(HeaderView {
        tenant_id: tenant.0,
        number_id: number.map(|n| n.0),
        header_tz: tz.unwrap_or_default(),
        header_date_format: format.unwrap_or_default(),
    })
}

/// Refuses a zone the database does not know or a format chrono cannot read, with the
/// store's reason, before anything is stored; and a body that names neither.
fn check(body: &HeaderIn) -> ApiResult<()> {
    if body.header_tz.is_none() && body.header_date_format.is_none() {
        return Err(ApiError::Validation(
            "give header_tz and/or header_date_format".into(),
        ));
    }
    if let Some(tz) = body.header_tz.as_deref().filter(|tz| !tz.trim().is_empty()) {
        store::header_tz::validate(tz)
            .map_err(|e| ApiError::Validation(format!("invalid header_tz: {e}")))?;
    }
    if let Some(f) = &body.header_date_format {
        store::header_tz::validate_date_format(f)
            .map_err(|e| ApiError::Validation(format!("invalid header_date_format: {e}")))?;
    }
    Ok(())
}

/// Stores the fields `body` names; false if there is no such tenant or number.
async fn store_fields(
    st: &AppState,
    tenant: TenantId,
    number: Option<NumberId>,
    body: &HeaderIn,
) -> ApiResult<bool> {
    let mut found = true;
    if let Some(tz) = &body.header_tz {
        found &= st.store.set_header_tz(tenant, number, tz).await?;
    }
    if let Some(f) = &body.header_date_format {
        found &= st.store.set_header_date_format(tenant, number, f).await?;
    }
    Ok(found)
}

/// `GET /admin/tenant/{id}/header`.
pub(crate) async fn get_tenant(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<HeaderView>> {
    let id = TenantId(id);
    st.store
        .get_tenant(id)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    Ok(Json(view(&st, id, None).await?))
}

/// `PUT /admin/tenant/{id}/header`.
pub(crate) async fn put_tenant(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<HeaderIn>,
) -> ApiResult<Json<HeaderView>> {
    check(&body)?;
    let id = TenantId(id);
    if !store_fields(&st, id, None, &body).await? {
        return Err(ApiError::NotFound("tenant"));
    }
    Ok(Json(view(&st, id, None).await?))
}

/// `GET /admin/number/{id}/header`.
pub(crate) async fn get_number(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<HeaderView>> {
    let n = owner_of_number(&*st.store, NumberId(id)).await?;
    Ok(Json(view(&st, n.tenant_id, Some(n.id)).await?))
}

/// `PUT /admin/number/{id}/header`.
pub(crate) async fn put_number(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<HeaderIn>,
) -> ApiResult<Json<HeaderView>> {
    check(&body)?;
    let n = owner_of_number(&*st.store, NumberId(id)).await?;
    if !store_fields(&st, n.tenant_id, Some(n.id), &body).await? {
        return Err(ApiError::NotFound("number"));
    }
    Ok(Json(view(&st, n.tenant_id, Some(n.id)).await?))
}
