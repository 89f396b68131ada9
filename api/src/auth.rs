//! Authentication extractors.
//!
//! Administrators present the API key as gofaxserver expects it — HTTP Basic with any user
//! name and the key as password — or as `Authorization: Bearer <key>`. Tenants present
//! `username:password` over Basic (argon2-verified by the store) or an API token as Bearer
//! (looked up by its SHA-256 hash). Every failure is the same 401, so that a caller cannot
//! tell a wrong user name from a wrong password.
//!
//! Wrong credentials count against the client's address ([`crate::guard`]): past a few, the
//! address gets 429 with `Retry-After` before its credentials are even checked, for a time
//! that doubles with each further failure. Absent credentials do not count (browsers and
//! gofaxserver clients often try without first). A tenant's requests also spend its rate
//! budget.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::guard::client_ip;
use crate::AppState;
use store::{TenantId, UserId};

/// Credentials as presented in the `Authorization` header.
enum Credentials {
    /// `Basic base64(user:password)`.
    Basic { user: String, password: String },
    /// `Bearer <token>`.
    Bearer(String),
}

/// Parses the `Authorization` header; `None` if absent or malformed.
fn credentials(parts: &Parts) -> Option<Credentials> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    // RFC 9110 makes the scheme case-insensitive; gofaxserver's exact `Basic ` still matches.
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, password) = text.split_once(':')?;
        Some(Credentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Some(Credentials::Bearer(rest.to_owned()))
    } else {
        None
    }
}

/// Compares a presented key with the configured one in constant time; hashing first makes
/// both sides 32 bytes, so not even the key's length leaks.
fn key_matches(presented: &str, configured: &str) -> bool {
    let a = store::auth::hash_token(presented);
    let b = store::auth::hash_token(configured);
    bool::from(a.ct_eq(&b))
}

/// Proof that the request carries the administrator's API key.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuth;

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // An unset key must not let an empty password in.
        if state.admin_api_key.is_empty() {
            return Err(ApiError::Unauthorized);
        }
        let ip = client_ip(parts);
        state.guard.before_auth(ip)?;
        let presented = match credentials(parts) {
            Some(Credentials::Basic { password, .. }) => password,
            Some(Credentials::Bearer(token)) => token,
            None => return Err(ApiError::Unauthorized),
        };
        if key_matches(&presented, &state.admin_api_key) {
            state.guard.auth_succeeded(ip);
            Ok(AdminAuth)
        } else {
            state.guard.auth_failed(ip);
            Err(ApiError::Unauthorized)
        }
    }
}

/// An authenticated tenant user; every tenant route scopes its reads by `tenant_id`.
#[derive(Debug, Clone, Copy)]
pub struct TenantAuth {
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// The user.
    pub user_id: UserId,
}

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = client_ip(parts);
        state.guard.before_auth(ip)?;
        let user = match credentials(parts) {
            Some(Credentials::Basic { user, password }) => {
                state.store.verify_user_password(&user, &password).await?
            }
            Some(Credentials::Bearer(token)) => state.store.user_by_token(&token).await?,
            None => return Err(ApiError::Unauthorized),
        };
        let Some(user) = user else {
            state.guard.auth_failed(ip);
            return Err(ApiError::Unauthorized);
        };
        state.guard.auth_succeeded(ip);
        state.guard.tenant_request(user.tenant_id)?;
        Ok(TenantAuth {
            tenant_id: user.tenant_id,
            user_id: user.id,
        })
    }
}
