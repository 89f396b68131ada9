//! The toll-fraud guard on `/fax/send` over the real router, a real SQLite store and real
//! conversion: blocked destinations (international, premium-rate) answer 403
//! `destination_blocked` until the administrator allows their prefix, daily caps on faxes and
//! pages answer 429 `daily_limit` with `Retry-After` until midnight UTC, and a refused fax
//! leaves no job and no document behind.

mod common;

use api::FaxSettings;
use axum::http::{header, Method, StatusCode};
use axum::Router;
use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::{json, Value};
use store::{DailyUsage, TenantId};

use common::fax::*;
use common::*;

async fn set_dialing(app: &Router, tenant: i64, body: Value) -> Resp {
    call(
        app,
        Method::PUT,
        &format!("/admin/tenant/{tenant}/dialing"),
        Some(&admin()),
        Some(body),
    )
    .await
}

async fn usage(h: &Harness, tenant: i64) -> DailyUsage {
    let since = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    h.store
        .outbound_usage_since(TenantId(tenant), since)
        .await
        .unwrap()
}

#[tokio::test]
async fn blocked_destinations_are_refused_before_anything_is_queued() {
    let h = harness().await;
    let acme = sender(&h.app, "acme", "5550001111").await;
    // Back to the defaults (the helper allowed international numbers).
    let r = set_dialing(&h.app, acme.tenant, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["allowed_prefixes"], json!([]));
    let png = chart_png("spandsp_itu1.pbm");

    for (callee, what) in [
        ("+44 20 7123 4567", "international"),
        ("1-900-555-0100", "premium-rate"),
        ("+1 976 555 0100", "premium-rate"),
        ("+881 6 5551 2345", "premium-rate"),
    ] {
        let r = send_fax(&h.app, &acme.auth, &png, &acme.number, callee, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{callee}: {}", r.text);
        assert_eq!(code(&r), "destination_blocked");
        let msg = r.json["error"]["message"].as_str().unwrap();
        assert!(msg.contains(what), "{msg}");
    }
    assert_eq!(usage(&h, acme.tenant).await, DailyUsage::default());
    assert_eq!(job_count(h.store.as_ref(), acme.tenant).await, 0);

    // Home-country numbers pass.
    let r = send_fax(&h.app, &acme.auth, &png, &acme.number, "2125550100", None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);

    // Allowing everything international does not open premium ranges; naming one does.
    let r = set_dialing(
        &h.app,
        acme.tenant,
        json!({ "allowed_prefixes": ["+", "+1900"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for (callee, status) in [
        ("+44 20 7123 4567", StatusCode::ACCEPTED),
        ("1-900-555-0100", StatusCode::ACCEPTED),
        ("+1 976 555 0100", StatusCode::FORBIDDEN),
        ("+882 3456 78901", StatusCode::FORBIDDEN),
    ] {
        let r = send_fax(&h.app, &acme.auth, &png, &acme.number, callee, None).await;
        assert_eq!(r.status, status, "{callee}: {}", r.text);
    }
    assert_eq!(
        usage(&h, acme.tenant).await,
        DailyUsage { jobs: 3, pages: 3 }
    );
}

#[tokio::test]
async fn daily_caps_on_faxes_and_pages_reset_at_midnight_utc() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 4, 22, 0, 0).unwrap());
    let h = harness_with(
        ADMIN_KEY,
        FaxSettings {
            clock: clock.clock(),
            ..FaxSettings::default()
        },
    )
    .await;
    let acme = sender(&h.app, "acme", "5550001111").await;
    let r = set_dialing(
        &h.app,
        acme.tenant,
        json!({ "daily_jobs": 3, "daily_pages": 4, "allowed_prefixes": ["+44"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let two_pages = pdf(&["one", "two"]);
    let one_page = chart_png("spandsp_itu1.pbm");
    let to = "+442071234567";

    let r = send_fax(&h.app, &acme.auth, &two_pages, &acme.number, to, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    // 2 + 2 > 4? No: exactly 4 fits.
    let r = send_fax(&h.app, &acme.auth, &two_pages, &acme.number, to, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    // The page cap is full: refused after conversion, with nothing stored.
    let r = send_fax(&h.app, &acme.auth, &one_page, &acme.number, to, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(code(&r), "daily_limit");
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("4 pages"));
    assert_eq!(r.headers[header::RETRY_AFTER], "7200");
    assert_eq!(
        usage(&h, acme.tenant).await,
        DailyUsage { jobs: 2, pages: 4 }
    );

    // The admin view shows today's usage.
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/tenant/{}/dialing", acme.tenant),
        Some(&admin()),
        None,
    )
    .await;
    assert_eq!(r.json["today"], json!({ "jobs": 2, "pages": 4 }));
    assert_eq!(
        (&r.json["daily_jobs"], &r.json["daily_pages"]),
        (&json!(3), &json!(4))
    );

    // Next UTC day: counts start again; the job cap (3) is what stops the 4th today.
    clock.advance(TimeDelta::hours(2));
    for _ in 0..3 {
        let r = send_fax(&h.app, &acme.auth, &one_page, &acme.number, to, None).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    }
    let r = send_fax(&h.app, &acme.auth, &one_page, &acme.number, to, None).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::TOO_MANY_REQUESTS, "daily_limit")
    );
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("3 faxes"));
    assert_eq!(r.headers[header::RETRY_AFTER], "86400");
    assert_eq!(
        usage(&h, acme.tenant).await,
        DailyUsage { jobs: 5, pages: 7 }
    );

    // null lifts a cap.
    let r = set_dialing(
        &h.app,
        acme.tenant,
        json!({ "daily_jobs": null, "daily_pages": null, "allowed_prefixes": ["+44"] }),
    )
    .await;
    assert_eq!(r.json["daily_jobs"], Value::Null);
    let r = send_fax(&h.app, &acme.auth, &one_page, &acme.number, to, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
}

#[tokio::test]
async fn dialing_settings_are_validated_and_scoped_to_existing_tenants() {
    let h = harness().await;
    let t = create_tenant(&h.app, "T").await;
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/tenant/{t}/dialing"),
        Some(&admin()),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        keys(&r.json),
        [
            "allowed_prefixes",
            "daily_jobs",
            "daily_pages",
            "home_country_code",
            "premium_prefixes",
            "tenant_id",
            "today"
        ]
    );
    assert_eq!(
        (
            &r.json["home_country_code"],
            &r.json["daily_jobs"],
            &r.json["daily_pages"]
        ),
        (&json!("1"), &json!(500), &json!(5000))
    );
    assert!(r.json["premium_prefixes"]
        .as_array()
        .unwrap()
        .contains(&json!("+1900")));
    for bad in [
        json!({ "allowed_prefixes": ["44"] }),
        json!({ "allowed_prefixes": ["+4x"] }),
        json!({ "home_country_code": "" }),
        json!({ "daily_jobs": -1 }),
        json!({ "surprise": true }),
    ] {
        let r = set_dialing(&h.app, t, bad.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text
        );
    }
    assert_eq!(
        set_dialing(&h.app, 999_999, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    let r = call(
        &h.app,
        Method::GET,
        "/admin/tenant/999999/dialing",
        Some(&admin()),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Tenants cannot reach it.
    create_user(&h.app, t, "u", "pw").await;
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/tenant/{t}/dialing"),
        Some(&basic("u", "pw")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
