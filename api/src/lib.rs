//! REST API of faxserver.
//!
//! [`router`] builds the axum router: `/health` and `/ready`, the administrator routes under
//! `/admin` (gofaxserver's paths and JSON keys, `gofaxserver-behaviour.md` §3, with the fixes
//! of `design.md` §6), the tenant routes under `/tenant`, and the tenant's faxes under `/fax`
//! (`/fax/send` and `/fax/status` as gofaxserver has them, plus status, document, cancel
//! and listing; see the `fax` module). Every error is JSON
//! (`{"error":{"code","message"}}`, see [`ApiError`]); every tenant read goes through the
//! store's tenant-scoped calls, so another tenant's rows answer 404, never 403.

mod admin;
mod auth;
mod deliveries;
mod error;
mod extract;
mod fax;
pub mod guard;
mod health;
pub mod openapi;
mod tenant;
mod views;

use std::sync::Arc;

use axum::Router;
use store::Store;

pub use auth::{AdminAuth, TenantAuth};
pub use error::ApiError;
pub use fax::{Clock, FaxSettings};
pub use guard::{Guard, GuardSettings};

/// What every handler shares: the store, the administrator's API key and the fax settings.
#[derive(Clone)]
pub struct AppState {
    /// The data layer.
    pub store: Arc<dyn Store>,
    /// The administrator's API key; empty disables the admin routes (every request is 401).
    pub admin_api_key: String,
    /// Limits, conversion and clock of the `/fax` routes.
    pub fax: FaxSettings,
    /// Auth-failure and request-rate limits, shared by every clone of the state.
    pub guard: Guard,
}

impl AppState {
    /// A state with the default fax settings.
    pub fn new(store: Arc<dyn Store>, admin_api_key: impl Into<String>) -> Self {
        AppState {
            store,
            admin_api_key: admin_api_key.into(),
            fax: FaxSettings::default(),
            guard: Guard::default(),
        }
    }
}

impl std::fmt::Debug for AppState {
    // The key is a secret: keep it out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("admin_api_key", &"<redacted>")
            .field("fax", &self.fax)
            .finish_non_exhaustive()
    }
}

/// Builds the whole REST API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(deliveries::routes())
        .merge(openapi::routes())
        .nest("/admin", admin::routes())
        .nest("/tenant", tenant::routes())
        .nest("/fax", fax::routes(&state.fax))
        .fallback(|| async { ApiError::NotFound("route") })
        .with_state(state)
}
