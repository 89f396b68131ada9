//! Probes, errors, admin authentication and the admin CRUD routes.

mod common;

use axum::http::{header, Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn probes_and_unknown_routes() {
    let h = harness().await;
    let r = call(&h.app, Method::GET, "/health", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(&h.app, Method::GET, "/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = call(&h.app, Method::GET, "/nope", None, None).await;
    assert_eq!((r.status, code(&r)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn admin_auth_schemes_and_failures() {
    let h = harness().await;
    let ok_basic = basic("whoever", ADMIN_KEY);
    let ok_bearer = format!("Bearer {ADMIN_KEY}");
    for good in [ok_basic.as_str(), ok_bearer.as_str()] {
        let r = call(&h.app, Method::GET, "/admin/tenant", Some(good), None).await;
        assert_eq!(r.status, StatusCode::OK, "{good}: {}", r.text);
    }
    let wrong_basic = basic("admin", "wrong");
    let wrong_bearer = "Bearer wrong".to_string();
    let bad_b64 = "Basic !!!".to_string();
    for bad in [
        None,
        Some(wrong_basic.as_str()),
        Some(wrong_bearer.as_str()),
        Some(bad_b64.as_str()),
        Some("Digest x"),
    ] {
        let r = call(&h.app, Method::GET, "/admin/tenant", bad, None).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{bad:?}"
        );
        let challenges: Vec<_> = r.headers.get_all(header::WWW_AUTHENTICATE).iter().collect();
        assert_eq!(challenges[0], "Basic realm=\"Restricted\"");
    }
}

#[tokio::test]
async fn empty_admin_key_disables_admin_routes() {
    let h = harness_with_key("").await;
    for auth in [basic("admin", ""), "Bearer ".to_string()] {
        let r = call(&h.app, Method::GET, "/admin/tenant", Some(&auth), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn tenant_crud_and_body_errors() {
    let h = harness().await;
    let a = admin();
    let body = json!({ "name": "Acme", "notify": "email_report->ops@acme.test",
                       "numbers": [{ "number": "(555) 123-4567", "name": "Acme", "header": "ACME" }] });
    let r = call(&h.app, Method::POST, "/admin/tenant", Some(&a), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        keys(&r.json),
        ["debug_pcap", "id", "name", "notify", "numbers"]
    );
    assert_eq!(
        keys(&r.json["numbers"][0]),
        ["header", "id", "name", "notify", "number", "tenant_id"]
    );
    assert_eq!(r.json["numbers"][0]["number"], "+15551234567");
    let id = r.json["id"].as_i64().unwrap();

    // A nested number that is already taken rolls the whole tenant back.
    let dup = json!({ "name": "Dup", "numbers": [{ "number": "15551234567" }] });
    let r = call(&h.app, Method::POST, "/admin/tenant", Some(&a), Some(dup)).await;
    assert_eq!((r.status, code(&r)), (StatusCode::CONFLICT, "conflict"));
    let r = call(&h.app, Method::GET, "/admin/tenant", Some(&a), None).await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);

    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/tenant/{id}"),
        Some(&a),
        Some(json!({ "name": "Acme 2" })),
    )
    .await;
    assert_eq!(
        (r.status, r.json["name"].as_str()),
        (StatusCode::OK, Some("Acme 2"))
    );
    assert_eq!(r.json["notify"], "");
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/tenant/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.json["name"], "Acme 2");

    let r = call(
        &h.app,
        Method::PUT,
        "/admin/tenant/999",
        Some(&a),
        Some(json!({ "name": "x" })),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(&h.app, Method::GET, "/admin/tenant/abc", Some(&a), None).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );

    let req = axum::http::Request::post("/admin/tenant")
        .header(header::AUTHORIZATION, &a)
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from("{not json"))
        .unwrap();
    let r = send(&h.app, req).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let r = call(
        &h.app,
        Method::POST,
        "/admin/tenant",
        Some(&a),
        Some(json!({ "notify": "" })),
    )
    .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    let r = call(
        &h.app,
        Method::POST,
        "/admin/tenant",
        Some(&a),
        Some(json!({ "name": " " })),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let huge = json!({ "name": "x".repeat(3 * 1024 * 1024) });
    let r = call(&h.app, Method::POST, "/admin/tenant", Some(&a), Some(huge)).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let r = call(
        &h.app,
        Method::DELETE,
        &format!("/admin/tenant/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(
        (r.status, &r.json),
        (
            StatusCode::OK,
            &json!({ "message": "tenant deleted successfully" })
        )
    );
    let r = call(
        &h.app,
        Method::DELETE,
        &format!("/admin/tenant/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn number_routes_normalise_and_reject() {
    let h = harness().await;
    let a = admin();
    let t = create_tenant(&h.app, "Acme").await;
    let body = json!({ "tenant_id": t, "number": "555-123-4567", "name": "Main", "header": "H", "notify": "" });
    let r = call(&h.app, Method::POST, "/admin/number", Some(&a), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        keys(&r.json),
        ["header", "id", "name", "notify", "number", "tenant_id"]
    );
    assert_eq!(r.json["number"], "+15551234567");
    let id = r.json["id"].as_i64().unwrap();

    let r = call(
        &h.app,
        Method::POST,
        "/admin/number",
        Some(&a),
        Some(json!({ "tenant_id": t, "number": "+1 555 123 4567" })),
    )
    .await;
    assert_eq!((r.status, code(&r)), (StatusCode::CONFLICT, "conflict"));
    let r = call(
        &h.app,
        Method::POST,
        "/admin/number",
        Some(&a),
        Some(json!({ "tenant_id": t, "number": "12" })),
    )
    .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_number")
    );
    let r = call(
        &h.app,
        Method::POST,
        "/admin/number",
        Some(&a),
        Some(json!({ "tenant_id": 999, "number": "5551230000" })),
    )
    .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );

    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/number/{id}"),
        Some(&a),
        Some(json!({ "number": "5551234567", "name": "Renamed" })),
    )
    .await;
    assert_eq!(
        (r.status, r.json["name"].as_str()),
        (StatusCode::OK, Some("Renamed"))
    );
    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/number/{id}"),
        Some(&a),
        Some(json!({ "tenant_id": 999, "number": "5551234567" })),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/number/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.json["name"], "Renamed");
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/number?tenant_id={t}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);

    let r = call(
        &h.app,
        Method::DELETE,
        "/admin/number?number=5551234567",
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(
        &h.app,
        Method::DELETE,
        "/admin/number?number=5551234567&tenant_id=999",
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(
        &h.app,
        Method::DELETE,
        &format!("/admin/number?number=5551234567&tenant_id={t}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(
        (r.status, &r.json),
        (
            StatusCode::OK,
            &json!({ "message": "tenant number deleted successfully" })
        )
    );
    let r = call(
        &h.app,
        Method::DELETE,
        &format!("/admin/number/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn user_routes_hide_passwords_and_put_updates() {
    let h = harness().await;
    let a = admin();
    let t = create_tenant(&h.app, "Acme").await;
    let body =
        json!({ "tenant_id": t, "username": "alice", "password": "pw-one", "api_key": "ignored" });
    let r = call(&h.app, Method::POST, "/admin/user", Some(&a), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(keys(&r.json), ["id", "tenant_id", "username"]);
    assert!(!r.text.contains("pw-one"));
    let id = r.json["id"].as_i64().unwrap();

    let dup = json!({ "tenant_id": t, "username": "alice", "password": "x" });
    let r = call(&h.app, Method::POST, "/admin/user", Some(&a), Some(dup)).await;
    assert_eq!((r.status, code(&r)), (StatusCode::CONFLICT, "conflict"));

    // gofaxserver's PUT created a second user; ours updates this one.
    let upd = json!({ "tenant_id": t, "username": "alice2", "password": "pw-two" });
    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/user/{id}"),
        Some(&a),
        Some(upd),
    )
    .await;
    assert_eq!(
        (r.status, r.json["id"].as_i64(), r.json["username"].as_str()),
        (StatusCode::OK, Some(id), Some("alice2"))
    );
    let r = call(&h.app, Method::GET, "/admin/user", Some(&a), None).await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = call(
        &h.app,
        Method::GET,
        "/tenant/user",
        Some(&basic("alice2", "pw-two")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &h.app,
        Method::GET,
        "/tenant/user",
        Some(&basic("alice2", "pw-one")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // An empty password keeps the current one.
    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/user/{id}"),
        Some(&a),
        Some(json!({ "password": "" })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &h.app,
        Method::GET,
        "/tenant/user",
        Some(&basic("alice2", "pw-two")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    let r = call(
        &h.app,
        Method::POST,
        &format!("/admin/user/{id}/token"),
        Some(&a),
        Some(json!({ "label": "ci" })),
    )
    .await;
    assert_eq!(keys(&r.json), ["id", "label", "token", "user_id"]);

    let r = call(
        &h.app,
        Method::DELETE,
        &format!("/admin/user/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(
        (r.status, &r.json),
        (
            StatusCode::OK,
            &json!({ "message": "tenant user deleted successfully" })
        )
    );
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/user/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn endpoint_and_gateway_routes() {
    let h = harness().await;
    let a = admin();
    let t = create_tenant(&h.app, "Acme").await;
    let ep = json!({ "type": "tenant", "type_id": t, "endpoint_type": "webhook", "endpoint": "https://acme.test/fax", "priority": 1, "bridge": false });
    let r = call(&h.app, Method::POST, "/admin/endpoint", Some(&a), Some(ep)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        keys(&r.json),
        [
            "bridge",
            "endpoint",
            "endpoint_type",
            "id",
            "priority",
            "type",
            "type_id"
        ]
    );
    let id = r.json["id"].as_i64().unwrap();
    let global = json!({ "type": "global", "type_id": 7, "endpoint_type": "gateway", "endpoint": "carrier:203.0.113.5", "priority": 666 });
    let r = call(
        &h.app,
        Method::POST,
        "/admin/endpoint",
        Some(&a),
        Some(global),
    )
    .await;
    assert_eq!(
        (r.status, r.json["type_id"].as_i64()),
        (StatusCode::OK, Some(0))
    );
    let bad =
        json!({ "type": "planet", "type_id": t, "endpoint_type": "webhook", "endpoint": "x" });
    let r = call(&h.app, Method::POST, "/admin/endpoint", Some(&a), Some(bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = call(&h.app, Method::GET, "/admin/endpoint", Some(&a), None).await;
    assert_eq!(r.json.as_array().unwrap().len(), 2);
    let upd = json!({ "type": "tenant", "type_id": t, "endpoint_type": "webhook", "endpoint": "https://acme.test/v2", "priority": 2 });
    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/endpoint/{id}"),
        Some(&a),
        Some(upd),
    )
    .await;
    assert_eq!(
        (r.status, r.json["endpoint"].as_str()),
        (StatusCode::OK, Some("https://acme.test/v2"))
    );
    let r = call(
        &h.app,
        Method::DELETE,
        &format!("/admin/endpoint/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/endpoint/{id}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let gw = json!({ "name": "carrier", "uri": "sip:carrier.test", "username": "u", "password": "sip-secret-pw", "allowed_sources": ["203.0.113.5"] });
    let r = call(&h.app, Method::POST, "/admin/gateway", Some(&a), Some(gw)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains("sip-secret-pw") && r.json.get("password").is_none());
    let gid = r.json["id"].as_i64().unwrap();
    let upd = json!({ "name": "carrier", "uri": "sip:carrier2.test" });
    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/gateway/{gid}"),
        Some(&a),
        Some(upd),
    )
    .await;
    assert_eq!(
        (r.status, r.json["uri"].as_str()),
        (StatusCode::OK, Some("sip:carrier2.test"))
    );
    let stored = h
        .store
        .get_gateway(store::GatewayId(gid))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.password.as_deref(),
        Some("sip-secret-pw"),
        "PUT without password keeps it"
    );
    let r = call(&h.app, Method::GET, "/admin/gateway", Some(&a), None).await;
    assert!(!r.text.contains("sip-secret-pw"));
    let r = call(
        &h.app,
        Method::DELETE,
        &format!("/admin/gateway/{gid}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}
