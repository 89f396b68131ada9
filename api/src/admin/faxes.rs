//! `GET /admin/faxes` (gofaxserver's tracker: `{"active","items"}`, plus `recent`) and
//! `GET /admin/reload` (re-read gateways and the SIP ACL without a restart).
//!
//! Both read the running server through an [`engine::queue::ServerControl`] that
//! `faxserver serve` adds to the router as an axum `Extension`; a router without it (the
//! API alone, as in its tests) has no calls to show and nothing cached to reload.

use axum::routing::get;
use axum::{Extension, Json, Router};
use engine::queue::ServerControl;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::{AdminAuth, AppState};

/// The two routes, under `/admin`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/faxes", get(faxes))
        .route("/reload", get(reload))
}

/// `GET /admin/faxes`: the faxes this node is working on, and the recently finished ones.
async fn faxes(_: AdminAuth, control: Option<Extension<ServerControl>>) -> Json<Value> {
    match control {
        Some(Extension(c)) => Json(serde_json::to_value(c.faxes()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "tracker view not serialisable");
            json!({ "active": 0, "items": [], "recent": [] })
        })),
        None => Json(json!({ "active": 0, "items": [], "recent": [] })),
    }
}

/// `GET /admin/reload`: gofaxserver's answer on success; 500 with the reason otherwise.
async fn reload(_: AdminAuth, control: Option<Extension<ServerControl>>) -> ApiResult<Json<Value>> {
    let Some(Extension(c)) = control else {
        return Ok(Json(json!({ "message": "Data reloaded successfully" })));
    };
    let Some(hook) = c.reload else {
        return Ok(Json(json!({ "message": "Data reloaded successfully" })));
    };
    match hook.run().await {
        Ok(detail) => Ok(Json(json!({
            "message": "Data reloaded successfully",
            "detail": detail,
        }))),
        Err(e) => {
            tracing::error!(error = %e, "reload failed");
            Err(ApiError::Internal)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use engine::queue::tracker::Begin;
    use engine::queue::{Clock, Phase, Reload, TrackerHandle};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    const KEY: &str = "faxes-test-key";

    /// A reload hook that counts its runs and succeeds or fails as told.
    fn hook(ok: bool) -> (Arc<AtomicU32>, Reload) {
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let reload = Reload::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if ok {
                    Ok("2 gateway(s)".to_owned())
                } else {
                    Err("database gone".to_owned())
                }
            }
        });
        (runs, reload)
    }

    async fn app(control: Option<ServerControl>) -> (tempfile::TempDir, Router) {
        let dir = tempfile::tempdir().unwrap();
        let store = store::SqliteStore::open(&dir.path().join("a.db"))
            .await
            .unwrap();
        let r = crate::router(AppState::new(Arc::new(store), KEY));
        (
            dir,
            match control {
                Some(c) => r.layer(Extension(c)),
                None => r,
            },
        )
    }

    async fn get(app: &Router, path: &str, key: &str) -> (StatusCode, Value) {
        let req = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn faxes_show_the_tracker_and_reload_calls_the_hook() {
        let tracker = TrackerHandle::default();
        let now = chrono::Utc::now();
        tracker.update(|t| {
            t.begin(
                "job-1",
                Begin {
                    direction: "outbound".into(),
                    caller: "+15551230001".into(),
                    callee: "+15551230002".into(),
                    ..Begin::default()
                },
                Phase::Waiting,
                now,
            )
        });
        let (runs, reload) = hook(true);
        let control = ServerControl {
            tracker,
            reload: Some(reload),
            clock: Clock::system(),
        };
        let (_dir, app) = app(Some(control)).await;
        let (status, v) = get(&app, "/admin/faxes", KEY).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["active"], 1);
        assert_eq!(v["items"][0]["job_uuid"], "job-1");
        assert_eq!(v["items"][0]["phase"], "WAITING");
        assert_eq!(v["items"][0]["caller"], "+15551230001");
        assert!(v["recent"].as_array().unwrap().is_empty());
        assert_eq!(
            get(&app, "/admin/faxes", "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );

        let (status, v) = get(&app, "/admin/reload", KEY).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["message"], "Data reloaded successfully");
        assert_eq!(v["detail"], "2 gateway(s)");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            get(&app, "/admin/reload", "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1, "no reload without the key");
    }

    #[tokio::test]
    async fn a_failed_reload_is_a_500_and_no_server_is_empty() {
        let (_, reload) = hook(false);
        let control = ServerControl {
            tracker: TrackerHandle::default(),
            reload: Some(reload),
            clock: Clock::system(),
        };
        let (_dir, app) = app(Some(control)).await;
        assert_eq!(
            get(&app, "/admin/reload", KEY).await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let (_dir2, bare) = app_without().await;
        let (status, v) = get(&bare, "/admin/faxes", KEY).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v, json!({ "active": 0, "items": [], "recent": [] }));
    }

    async fn app_without() -> (tempfile::TempDir, Router) {
        app(None).await
    }
}
