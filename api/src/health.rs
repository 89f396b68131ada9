//! Liveness (`/health`) and readiness (`/ready`) probes; both unauthenticated.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// How long the readiness query may take before the store counts as down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The probe routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// 200 whenever the process serves HTTP at all.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the store answers a cheap indexed read in time, else 503.
async fn ready(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let probe = st.store.kv_get("health", "ready", chrono::Utc::now());
    match tokio::time::timeout(READY_TIMEOUT, probe).await {
        Ok(Ok(_)) => Ok(Json(json!({ "status": "ready" }))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness probe failed");
            Err(ApiError::NotReady)
        }
        Err(_) => Err(ApiError::NotReady),
    }
}
