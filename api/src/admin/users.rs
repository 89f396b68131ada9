//! `/admin/user`: tenant users and their API tokens.
//!
//! Fixes against gofaxserver: passwords are argon2 hashes and never returned, and
//! `PUT /admin/user/{id}` updates the user instead of creating another one.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use store::UserId;

use super::tenants::TenantFilter;
use super::{owner_of_user, require_tenant};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::views::{Message, TokenIn, UserIn, UserUpdate, UserView};
use crate::{AdminAuth, AppState};

/// Maps a duplicate username to a message that names it.
fn username_conflict(e: store::Error, username: &str) -> ApiError {
    match e {
        store::Error::Conflict(_) => {
            ApiError::Conflict(format!("username {username:?} already exists"))
        }
        other => other.into(),
    }
}

/// Rejects empty usernames and passwords.
fn require_nonempty(field: &str, value: &str) -> ApiResult<()> {
    if value.is_empty() {
        return Err(ApiError::Validation(format!("{field} must not be empty")));
    }
    Ok(())
}

/// `GET /admin/user[?tenant_id=]`.
pub(crate) async fn list(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<TenantFilter>,
) -> ApiResult<Json<Vec<UserView>>> {
    let tenants = q.tenants(&st).await?;
    let mut out = Vec::new();
    for t in tenants {
        out.extend(
            st.store
                .list_users(t)
                .await?
                .into_iter()
                .map(UserView::from),
        );
    }
    Ok(Json(out))
}

/// `POST /admin/user`.
pub(crate) async fn create(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiJson(body): ApiJson<UserIn>,
) -> ApiResult<Json<UserView>> {
    require_nonempty("username", &body.username)?;
    require_nonempty("password", &body.password)?;
    let tenant = require_tenant(&*st.store, body.tenant_id).await?;
    let user = st
        .store
        .create_user(tenant, &body.username, &body.password, chrono::Utc::now())
        .await
        .map_err(|e| username_conflict(e, &body.username))?;
    Ok(Json(user.into()))
}

/// `GET /admin/user/{id}`.
pub(crate) async fn get(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(owner_of_user(&*st.store, UserId(id)).await?.into()))
}

/// `PUT /admin/user/{id}`: renames and/or sets the password of an existing user.
pub(crate) async fn update(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UserUpdate>,
) -> ApiResult<Json<UserView>> {
    let user = owner_of_user(&*st.store, UserId(id)).await?;
    if body.tenant_id.is_some_and(|t| t != user.tenant_id.0) {
        return Err(ApiError::Validation(
            "tenant_id of a user cannot change".into(),
        ));
    }
    if let Some(name) = body.username.filter(|n| *n != user.username) {
        require_nonempty("username", &name)?;
        if !st
            .store
            .rename_user(user.tenant_id, user.id, &name)
            .await
            .map_err(|e| username_conflict(e, &name))?
        {
            return Err(ApiError::NotFound("user"));
        }
    }
    // gofaxserver clients send the whole user back; an empty password means "unchanged".
    if let Some(pw) = body.password.filter(|p| !p.is_empty()) {
        if !st.store.set_password(user.tenant_id, user.id, &pw).await? {
            return Err(ApiError::NotFound("user"));
        }
    }
    let user = st
        .store
        .get_user(user.tenant_id, user.id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(user.into()))
}

/// `DELETE /admin/user/{id}`: deletes the user and their tokens.
pub(crate) async fn delete(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Message>> {
    let user = owner_of_user(&*st.store, UserId(id)).await?;
    if !st.store.delete_user(user.tenant_id, user.id).await? {
        return Err(ApiError::NotFound("user"));
    }
    Ok(Json(Message {
        message: "tenant user deleted successfully",
    }))
}

/// A new token: the plaintext appears in this response only.
#[derive(Debug, Serialize)]
pub(crate) struct TokenView {
    id: i64,
    user_id: i64,
    label: String,
    token: String,
}

/// `POST /admin/user/{id}/token`: issues an API token for Bearer authentication.
pub(crate) async fn create_token(
    _: AdminAuth,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<TokenIn>,
) -> ApiResult<Json<TokenView>> {
    let user = owner_of_user(&*st.store, UserId(id)).await?;
    let (tok, plain) = st
        .store
        .create_token(user.tenant_id, user.id, &body.label, chrono::Utc::now())
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(TokenView {
        id: tok.id.0,
        user_id: tok.user_id.0,
        label: tok.label,
        token: plain,
    }))
}
