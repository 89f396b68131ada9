//! The header line's date format per tenant and per number over the real router and a real
//! SQLite store: set beside the zone, read back, changed alone, cleared, and refused with a
//! 422 naming `header_date_format` when chrono cannot read it, it is too long or not
//! printable ASCII (nothing stored then).

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

#[tokio::test]
async fn formats_are_set_with_or_without_the_zone_and_cleared() {
    let h = harness().await;
    let t = create_tenant(&h.app, "acme").await;
    let body = json!({ "tenant_id": t, "number": "+1 555 123 0001", "header": "ACME" });
    let r = call(
        &h.app,
        Method::POST,
        "/admin/number",
        Some(&admin()),
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let n = r.json["id"].as_i64().unwrap();
    let tenant_uri = format!("/admin/tenant/{t}/header");
    let number_uri = format!("/admin/number/{n}/header");

    let r = put(
        &h.app,
        &tenant_uri,
        json!({ "header_tz": "Asia/Kolkata", "header_date_format": "%Y-%m-%d %H:%M" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json,
        json!({ "tenant_id": t, "header_tz": "Asia/Kolkata", "header_date_format": "%Y-%m-%d %H:%M" })
    );
    // The format alone: the zone stays.
    let r = put(
        &h.app,
        &tenant_uri,
        json!({ "header_date_format": " %d.%m.%Y " }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        get(&h.app, &tenant_uri).await.json,
        json!({ "tenant_id": t, "header_tz": "Asia/Kolkata", "header_date_format": "%d.%m.%Y" })
    );
    // The number's own, independent of the tenant's.
    let r = put(
        &h.app,
        &number_uri,
        json!({ "header_date_format": "%H:%M %d/%m/%y" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json,
        json!({ "tenant_id": t, "number_id": n, "header_tz": "", "header_date_format": "%H:%M %d/%m/%y" })
    );
    assert_eq!(
        get(&h.app, &tenant_uri).await.json["header_date_format"],
        "%d.%m.%Y"
    );
    let r = put(&h.app, &number_uri, json!({ "header_date_format": "" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        get(&h.app, &number_uri).await.json["header_date_format"],
        ""
    );

    let r = put(
        &h.app,
        "/admin/number/999999/header",
        json!({ "header_date_format": "%Y" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

#[tokio::test]
async fn bad_formats_are_refused_naming_the_field() {
    let h = harness().await;
    let t = create_tenant(&h.app, "acme").await;
    let uri = format!("/admin/tenant/{t}/header");
    let long = "%Y".repeat(21);
    for (format, says) in [
        ("%Y-%m-%d %Q", "not a valid strftime format"),
        ("%Y %", "not a valid strftime format"),
        (long.as_str(), "at most 40"),
        ("%Y\u{e9}", "printable ASCII"),
        ("%Y\t%m", "printable ASCII"),
    ] {
        // The zone in the same body is not stored either.
        let body = json!({ "header_tz": "UTC", "header_date_format": format });
        let r = put(&h.app, &uri, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{format}: {}",
            r.text
        );
        assert_eq!(code(&r), "validation_failed");
        let msg = r.json["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("header_date_format") && msg.contains(says),
            "{msg}"
        );
    }
    let r = put(&h.app, &uri, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        get(&h.app, &uri).await.json,
        json!({ "tenant_id": t, "header_tz": "", "header_date_format": "" })
    );
}
