//! `GET /openapi.json` (OpenAPI 3.1, hand-built from [`ops::OPS`]) and Swagger UI at `/docs`
//! from assets vendored in `api/assets/swagger-ui` (swagger-ui-dist, Apache-2.0; see the
//! LICENSE and NOTICE there), compiled in with `include_bytes!` so nothing is fetched at
//! build or run time.

mod ops;
mod schemas;

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::AppState;
use ops::{Answer, Auth, Body, Op, OPS};

/// The routes of this module (all public).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/docs", get(|| asset(INDEX, "text/html; charset=utf-8")))
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| asset(BUNDLE, "text/javascript; charset=utf-8")),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| asset(CSS, "text/css; charset=utf-8")),
        )
}

const INDEX: &[u8] = include_bytes!("../../assets/swagger-ui/index.html");
const BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");

async fn asset(bytes: &'static [u8], content_type: &'static str) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

/// `GET /openapi.json`.
async fn openapi() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let item = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        item[op.method] = operation(op);
    }
    let basic = json!({ "type": "http", "scheme": "basic" });
    let bearer = json!({ "type": "http", "scheme": "bearer" });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "faxserver REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Multi-tenant fax server. gofaxserver's routes keep their JSON keys and multipart fields. Every error is `{\"error\":{\"code\",\"message\"}}`. Repeated wrong credentials from one address answer 429 with Retry-After; so does a tenant over its request rate. Another tenant's resources answer 404.",
            "license": { "name": "LGPL-2.1-or-later" },
        },
        "tags": [
            { "name": "fax", "description": "A tenant's faxes" },
            { "name": "tenant", "description": "A tenant's own numbers, users and endpoints" },
            { "name": "admin", "description": "Administration (API key)" },
            { "name": "deliveries", "description": "Webhook and e-mail delivery log" },
            { "name": "health", "description": "Probes" },
            { "name": "docs", "description": "This document and Swagger UI" },
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminBasic": with_description(&basic, "any user name, the admin API key as password (gofaxserver)"),
                "adminBearer": with_description(&bearer, "the admin API key"),
                "tenantBasic": with_description(&basic, "a tenant user's username and password"),
                "tenantBearer": with_description(&bearer, "a tenant user's API token"),
            },
            "schemas": schemas::all(),
        },
    })
}

fn with_description(v: &Value, d: &str) -> Value {
    let mut v = v.clone();
    v["description"] = json!(d);
    v
}

/// A `$ref` to a schema; `[Name]` is an array of it.
fn schema_ref(name: &str) -> Value {
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(inner) => json!({ "type": "array", "items": schema_ref(inner) }),
        None => json!({ "$ref": format!("#/components/schemas/{name}") }),
    }
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema_ref("Error") } },
    })
}

/// One operation object.
fn operation(op: &Op) -> Value {
    let mut params = Vec::new();
    for seg in op.path.split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let schema = if name == "uuid" {
                json!({ "type": "string", "format": "uuid" })
            } else {
                json!({ "type": "integer", "format": "int64" })
            };
            params.push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
        }
    }
    for (name, d) in op.query {
        params.push(json!({ "name": name, "in": "query", "required": false, "description": d, "schema": { "type": "string" } }));
    }
    let mut responses = Map::new();
    let (code, ok) = match op.ok {
        Answer::Json(s) => (
            "200",
            json!({ "description": "OK", "content": { "application/json": { "schema": schema_ref(s) } } }),
        ),
        Answer::Accepted(s) => (
            "202",
            json!({
                "description": "Queued; Location names the job. A repeated Idempotency-Key answers the first job with Idempotent-Replayed: true.",
                "content": { "application/json": { "schema": schema_ref(s) } },
            }),
        ),
        Answer::Document => (
            "200",
            json!({ "description": "The document", "content": {
            "application/pdf": { "schema": { "type": "string", "format": "binary" } },
            "image/tiff": { "schema": { "type": "string", "format": "binary" } },
        } }),
        ),
        Answer::Html => (
            "200",
            json!({ "description": "Swagger UI", "content": { "text/html": {} } }),
        ),
        Answer::OpenApi => (
            "200",
            json!({ "description": "OpenAPI 3.1 document", "content": { "application/json": {} } }),
        ),
        Answer::Pcap => (
            "200",
            json!({ "description": "The capture, as an attachment", "content": {
            "application/vnd.tcpdump.pcap": { "schema": { "type": "string", "format": "binary" } },
        } }),
        ),
    };
    responses.insert(code.into(), ok);
    if op.auth != Auth::Public {
        responses.insert("401".into(), error("missing or wrong credentials"));
        responses.insert("429".into(), error("too many failed authentications from this address (too_many_auth_failures), the tenant's request rate (rate_limited) or, on /fax/send, its daily cap (daily_limit); see Retry-After"));
    }
    if op.path.contains('{') || !op.query.is_empty() {
        responses.insert("400".into(), error("malformed id or query"));
    }
    if op.path.contains('{') {
        responses.insert(
            "404".into(),
            error("no such resource (or another tenant's)"),
        );
    }
    let mut o = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}', '.', '-'], "_")),
        "parameters": params,
    });
    match op.body {
        Some(Body::Json(s)) => {
            o["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema_ref(s) } } });
            responses.insert(
                "422".into(),
                error("well-formed JSON that fails validation"),
            );
        }
        Some(Body::FaxUpload) => {
            o["requestBody"] = json!({ "required": true, "content": { "multipart/form-data": { "schema": schema_ref("FaxUpload") } } });
            if let Some(p) = o["parameters"].as_array_mut() {
                p.push(json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 255 } }));
            }
            responses.insert("403".into(), error("destination_blocked: international or premium-rate destination not allowed for the tenant"));
            responses.insert("404".into(), error("caller number is not the tenant's"));
            responses.insert("413".into(), error("file or page count over the limit"));
            responses.insert("415".into(), error("unsupported document format"));
            responses.insert(
                "422".into(),
                error("invalid number, damaged document or reused Idempotency-Key"),
            );
        }
        None => {}
    }
    o["security"] = match op.auth {
        Auth::Public => json!([]),
        Auth::Admin => json!([{ "adminBasic": [] }, { "adminBearer": [] }]),
        Auth::Tenant => json!([{ "tenantBasic": [] }, { "tenantBearer": [] }]),
    };
    o["responses"] = Value::Object(responses);
    o
}
