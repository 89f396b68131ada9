//! REST API of faxserver.
//!
//! [`router`] builds the axum router: `/health` and `/ready`, the administrator routes under
//! `/admin` (gofaxserver's paths and JSON keys, `gofaxserver-behaviour.md` §3, with the fixes
//! of `design.md` §6) and the tenant routes under `/tenant`. Every error is JSON
//! (`{"error":{"code","message"}}`, see [`ApiError`]); every tenant read goes through the
//! store's tenant-scoped calls, so another tenant's rows answer 404, never 403.

mod admin;
mod auth;
mod error;
mod extract;
mod health;
mod tenant;
mod views;

use std::sync::Arc;

use axum::Router;
use store::Store;

pub use auth::{AdminAuth, TenantAuth};
pub use error::ApiError;

/// What every handler shares: the store and the administrator's API key.
#[derive(Clone)]
pub struct AppState {
    /// The data layer.
    pub store: Arc<dyn Store>,
    /// The administrator's API key; empty disables the admin routes (every request is 401).
    pub admin_api_key: String,
}

impl std::fmt::Debug for AppState {
    // The key is a secret: keep it out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("admin_api_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Builds the whole REST API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .nest("/admin", admin::routes())
        .nest("/tenant", tenant::routes())
        .fallback(|| async { ApiError::NotFound("route") })
        .with_state(state)
}
