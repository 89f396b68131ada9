//! The HTTP side: `GET /metrics` (text format) and `GET /admin/gateways/figures` (JSON,
//! admin key as `Authorization: Bearer <key>` or the password of Basic auth, as the API
//! takes it).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::Metrics;

/// The content type of the text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics)
}

async fn scrape(State(m): State<Metrics>) -> Response {
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], m.render().await).into_response()
}

/// `GET /admin/gateways/figures`, answering 401 unless the request carries `admin_key`
/// (an empty key refuses everyone).
pub fn figures_router(metrics: Metrics, admin_key: String) -> Router {
    Router::new()
        .route("/admin/gateways/figures", get(figures))
        .with_state((metrics, std::sync::Arc::<str>::from(admin_key)))
}

async fn figures(
    State((m, key)): State<(Metrics, std::sync::Arc<str>)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers, &key) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({"error": "admin API key required"})),
        )
            .into_response();
    }
    Json(m.gateway_figures().await).into_response()
}

/// The presented key (Bearer token or Basic password), if any.
fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.to_owned())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        text.split_once(':').map(|(_, p)| p.to_owned())
    } else {
        None
    }
}

/// Compares digests so that neither the key nor its length leaks through timing.
fn authorized(headers: &HeaderMap, key: &str) -> bool {
    if key.is_empty() {
        return false;
    }
    let Some(p) = presented(headers) else {
        return false;
    };
    let (a, b) = (Sha256::digest(p.as_bytes()), Sha256::digest(key.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
