//! The header line's time zone per tenant and per number over the real router and a real
//! SQLite store: set, read back, cleared, and refused with a clear 422 when the zone is not
//! in the system database; a number's header text longer than SpanDSP's 50 characters is
//! refused the same way.

mod common;

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use common::*;

async fn put(app: &Router, uri: &str, body: Value) -> Resp {
    call(app, Method::PUT, uri, Some(&admin()), Some(body)).await
}

async fn get(app: &Router, uri: &str) -> Resp {
    call(app, Method::GET, uri, Some(&admin()), None).await
}

async fn create_number(app: &Router, tenant: i64, number: &str, header: &str) -> Resp {
    let body = json!({ "tenant_id": tenant, "number": number, "header": header });
    call(
        app,
        Method::POST,
        "/admin/number",
        Some(&admin()),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn tenant_and_number_zones_are_set_read_and_cleared() {
    let h = harness().await;
    let t = create_tenant(&h.app, "acme").await;
    let r = create_number(&h.app, t, "+1 555 123 0001", "ACME Corp").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let n = r.json["id"].as_i64().unwrap();

    let tenant_uri = format!("/admin/tenant/{t}/header");
    let number_uri = format!("/admin/number/{n}/header");
    let r = get(&h.app, &tenant_uri).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json,
        json!({ "tenant_id": t, "header_tz": "", "header_date_format": "" })
    );

    let r = put(&h.app, &tenant_uri, json!({ "header_tz": "Europe/Berlin" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json,
        json!({ "tenant_id": t, "header_tz": "Europe/Berlin", "header_date_format": "" })
    );
    let r = put(
        &h.app,
        &number_uri,
        json!({ "header_tz": "Pacific/Kiritimati" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json,
        json!({ "tenant_id": t, "number_id": n, "header_tz": "Pacific/Kiritimati", "header_date_format": "" })
    );
    assert_eq!(
        get(&h.app, &number_uri).await.json["header_tz"],
        "Pacific/Kiritimati"
    );
    assert_eq!(
        get(&h.app, &tenant_uri).await.json["header_tz"],
        "Europe/Berlin"
    );

    let r = put(&h.app, &number_uri, json!({ "header_tz": "" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(get(&h.app, &number_uri).await.json["header_tz"], "");

    let r = put(
        &h.app,
        "/admin/tenant/999999/header",
        json!({ "header_tz": "UTC" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = get(&h.app, "/admin/number/999999/header").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

#[tokio::test]
async fn unknown_zones_and_long_headers_are_refused_clearly() {
    let h = harness().await;
    let t = create_tenant(&h.app, "acme").await;
    let uri = format!("/admin/tenant/{t}/header");
    for (tz, says) in [
        ("Mars/Olympus", "unknown time zone \"Mars/Olympus\""),
        ("../../etc/passwd", "not an IANA zone name"),
        ("Europe", "unknown time zone \"Europe\""),
    ] {
        let r = put(&h.app, &uri, json!({ "header_tz": tz })).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{tz}: {}",
            r.text
        );
        assert_eq!(code(&r), "validation_failed");
        let msg = r.json["error"]["message"].as_str().unwrap();
        assert!(msg.contains("header_tz") && msg.contains(says), "{msg}");
    }
    // Nothing was stored by the refused requests.
    assert_eq!(get(&h.app, &uri).await.json["header_tz"], "");

    let r = create_number(&h.app, t, "+1 555 123 0002", &"H".repeat(51)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 50 characters"));
    let r = create_number(&h.app, t, "+1 555 123 0002", "Caf\u{e9}").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = create_number(&h.app, t, "+1 555 123 0002", &"H".repeat(50)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
