//! Shared harness: a router over a temp-file SQLite store, and a request helper that checks
//! no response ever carries a password hash.

#![allow(dead_code)]

pub mod fax;

use std::sync::Arc;

use api::{router, AppState, FaxSettings, Guard};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::Value;
use store::{SqliteStore, Store};
use tower::ServiceExt;

/// The admin key the test router is configured with.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// A router, its store, and the directory keeping the database alive.
pub struct Harness {
    /// Keeps the SQLite file alive.
    _dir: tempfile::TempDir,
    /// The router under test.
    pub app: Router,
    /// Direct access for checks the API does not expose.
    pub store: Arc<dyn Store>,
}

/// A fresh harness with [`ADMIN_KEY`].
pub async fn harness() -> Harness {
    harness_with_key(ADMIN_KEY).await
}

/// A fresh harness with the given admin key.
pub async fn harness_with_key(key: &str) -> Harness {
    harness_with(key, FaxSettings::default()).await
}

/// A fresh harness with the given admin key and fax settings.
pub async fn harness_with(key: &str, fax: FaxSettings) -> Harness {
    harness_full(key, fax, Guard::default()).await
}

/// A fresh harness with the given admin key, fax settings and abuse guard.
pub async fn harness_full(key: &str, fax: FaxSettings, guard: Guard) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("api.db"))
            .await
            .expect("open sqlite"),
    );
    let app = router(AppState {
        store: store.clone(),
        admin_api_key: key.to_owned(),
        fax,
        guard,
    });
    Harness {
        _dir: dir,
        app,
        store,
    }
}

/// `Authorization` value for HTTP Basic.
pub fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// gofaxserver's admin scheme: Basic, any user name, the key as password.
pub fn admin() -> String {
    basic("admin", ADMIN_KEY)
}

/// A response as the tests look at it.
pub struct Resp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Raw body text.
    pub text: String,
    /// Body as JSON (`Null` if empty or not JSON).
    pub json: Value,
}

/// Sends one request through the router.
pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    send(app, req.body(body).expect("request")).await
}

/// Sends a prepared request and checks the universal invariants of every response.
pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(!text.contains("$argon2"), "password hash leaked: {text}");
    assert!(!text.contains(ADMIN_KEY), "admin key leaked: {text}");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() {
        assert_error_shape(&json);
    }
    Resp {
        status,
        headers,
        text,
        json,
    }
}

/// Sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// Every error is exactly `{"error":{"code","message"}}`.
pub fn assert_error_shape(v: &Value) {
    assert_eq!(keys(v), ["error"], "{v}");
    assert_eq!(keys(&v["error"]), ["code", "message"], "{v}");
    assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string());
}

/// The error code of an error response.
pub fn code(r: &Resp) -> &str {
    r.json["error"]["code"].as_str().unwrap_or("")
}

/// Creates a tenant through the API; returns its id.
pub async fn create_tenant(app: &Router, name: &str) -> i64 {
    let r = call(
        app,
        Method::POST,
        "/admin/tenant",
        Some(&admin()),
        Some(serde_json::json!({ "name": name })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["id"].as_i64().expect("id")
}

/// Creates a user through the API; returns its id.
pub async fn create_user(app: &Router, tenant: i64, username: &str, password: &str) -> i64 {
    let body =
        serde_json::json!({ "tenant_id": tenant, "username": username, "password": password });
    let r = call(app, Method::POST, "/admin/user", Some(&admin()), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["id"].as_i64().expect("id")
}
