//! Per-call debug bundles through the API, on a real SQLite store: a tenant reads its own
//! job's bundles (exact JSON) and pcap (exact bytes, content type, file name); another tenant
//! gets the 404 of a job that does not exist; the administrator reads any tenant's; and the
//! admin tenant and gateway routes take and show `debug_pcap`.

mod common;

use axum::http::{header, Method, StatusCode};
use chrono::{TimeZone, Utc};
use common::fax::{sender, Sender};
use common::*;
use serde_json::{json, Value};
use store::*;

/// A classic pcap global header plus a few octets, including non-UTF-8 ones.
const PCAP: &[u8] = &[
    0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
    0, 0, 0x80, 0xfe,
];

fn ladder() -> Value {
    json!([
        {"unix_ms": 1_767_323_045_000_i64, "sent": true, "peer": "192.0.2.7:5060", "transport": "udp",
         "text": "INVITE sip:+15550002222@192.0.2.7 SIP/2.0\r\nCall-ID: abc@faxserver\r\n\r\n"},
        {"unix_ms": 1_767_323_045_080_i64, "sent": false, "peer": "192.0.2.7:5060", "transport": "udp",
         "text": "SIP/2.0 200 OK\r\nCall-ID: abc@faxserver\r\n\r\n"},
    ])
}

fn trace() -> Value {
    json!([
        {"at_ms": 2100, "level": "flow", "text": "Rx DIS"},
        {"at_ms": 2400, "level": "flow", "text": "Tx DCS"},
    ])
}

/// A job of `s` with two send bundles, the second with a pcap; returns (job, ids).
async fn job_with_bundles(h: &Harness, s: &Sender) -> (JobId, i64, i64) {
    let now = Utc::now();
    let job = h
        .store
        .create_job(
            &NewJob {
                tenant_id: TenantId(s.tenant),
                direction: Direction::Outbound,
                caller: s.number.clone(),
                callee: "+15550009999".into(),
                document_id: None,
                priority: 0,
                not_before: now,
            },
            now,
        )
        .await
        .unwrap()
        .id;
    let mut ids = Vec::new();
    for (attempt, pcap) in [(1, None), (2, Some(PCAP.to_vec()))] {
        let b = NewCallDebug {
            tenant_id: TenantId(s.tenant),
            job_id: job,
            leg: "send".into(),
            attempt_id: Some(attempt),
            call_id: format!("call-{attempt}@faxserver"),
            created_at: Utc
                .with_ymd_and_hms(2026, 1, 2, 3, 4, 5 + attempt as u32)
                .unwrap(),
            sip: ladder(),
            t30: trace(),
            truncated: attempt == 2,
            pcap,
        };
        ids.push(h.store.save_call_debug(&b).await.unwrap());
    }
    (job, ids[0], ids[1])
}

fn expected(first: i64, second: i64) -> Value {
    json!([
        {"id": first, "call_id": "call-1@faxserver", "leg": "send", "attempt_id": 1,
         "created_at": "2026-01-02T03:04:06Z", "sip": ladder(), "t30": trace(),
         "truncated": false, "has_pcap": false},
        {"id": second, "call_id": "call-2@faxserver", "leg": "send", "attempt_id": 2,
         "created_at": "2026-01-02T03:04:07Z", "sip": ladder(), "t30": trace(),
         "truncated": true, "has_pcap": true},
    ])
}

#[tokio::test]
async fn a_tenant_reads_its_bundles_and_pcap() {
    let h = harness().await;
    let a = sender(&h.app, "alpha", "5550001111").await;
    let (job, first, second) = job_with_bundles(&h, &a).await;

    let r = call(
        &h.app,
        Method::GET,
        &format!("/fax/{job}/debug"),
        Some(&a.auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, expected(first, second));

    let r = call(
        &h.app,
        Method::GET,
        &format!("/fax/{job}/debug/{second}/pcap"),
        Some(&a.auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "application/vnd.tcpdump.pcap"
    );
    assert_eq!(
        r.headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"fax-{job}-{second}.pcap\"").as_str()
    );
    assert_eq!(
        raw(&h, &format!("/fax/{job}/debug/{second}/pcap"), &a.auth).await,
        PCAP
    );

    // The bundle without a capture has no pcap to give.
    let r = call(
        &h.app,
        Method::GET,
        &format!("/fax/{job}/debug/{first}/pcap"),
        Some(&a.auth),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (StatusCode::NOT_FOUND, "not_found"));
}

/// The body bytes of a GET, as sent (the shared helper keeps text only).
async fn raw(h: &Harness, uri: &str, auth: &str) -> Vec<u8> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(uri)
        .header(header::AUTHORIZATION, auth)
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = h.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[tokio::test]
async fn another_tenant_gets_404_and_the_administrator_sees_all() {
    let h = harness().await;
    let a = sender(&h.app, "alpha", "5550001111").await;
    let b = sender(&h.app, "beta", "5550002222").await;
    let (job, first, second) = job_with_bundles(&h, &a).await;
    let (b_job, _, b_second) = job_with_bundles(&h, &b).await;
    let nowhere = uuid::Uuid::new_v4();

    let missing = call(
        &h.app,
        Method::GET,
        &format!("/fax/{nowhere}/debug"),
        Some(&b.auth),
        None,
    )
    .await;
    assert_eq!(
        (missing.status, code(&missing)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    for uri in [
        format!("/fax/{job}/debug"),
        format!("/fax/{job}/debug/{second}/pcap"),
    ] {
        let r = call(&h.app, Method::GET, &uri, Some(&b.auth), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(
            r.text, missing.text,
            "{uri}: identical to a job that does not exist"
        );
    }
    // B's own job with A's bundle id: still nothing.
    let r = call(
        &h.app,
        Method::GET,
        &format!("/fax/{b_job}/debug/{second}/pcap"),
        Some(&b.auth),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (StatusCode::NOT_FOUND, "not_found"));
    let r = call(
        &h.app,
        Method::GET,
        &format!("/fax/{b_job}/debug/{b_second}/pcap"),
        Some(&b.auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    // The administrator reads any tenant's bundles, and not with a tenant's credentials.
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/fax/{job}/debug"),
        Some(&admin()),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, expected(first, second));
    assert_eq!(
        raw(
            &h,
            &format!("/admin/fax/{job}/debug/{second}/pcap"),
            &admin()
        )
        .await,
        PCAP
    );
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/fax/{job}/debug"),
        Some(&a.auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/fax/{job}/debug/{first}/pcap"),
        Some(&admin()),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (StatusCode::NOT_FOUND, "not_found"));
    // A job that does not exist is a 404 for the administrator too, not an empty list.
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/admin/fax/{unknown}/debug"),
        format!("/admin/fax/{unknown}/debug/{first}/pcap"),
    ] {
        let r = call(&h.app, Method::GET, &path, Some(&admin()), None).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn tenant_and_gateway_routes_take_debug_pcap() {
    let h = harness().await;
    let a = admin();
    let t = create_tenant(&h.app, "Acme").await;
    let r = call(
        &h.app,
        Method::GET,
        &format!("/admin/tenant/{t}"),
        Some(&a),
        None,
    )
    .await;
    assert_eq!(r.json["debug_pcap"], false);

    let put = |body: Value| {
        let app = h.app.clone();
        let a = a.clone();
        async move {
            call(
                &app,
                Method::PUT,
                &format!("/admin/tenant/{t}"),
                Some(&a),
                Some(body),
            )
            .await
        }
    };
    let r = put(json!({ "name": "Acme", "debug_pcap": true })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["debug_pcap"], true);
    assert!(
        h.store
            .get_tenant(TenantId(t))
            .await
            .unwrap()
            .unwrap()
            .debug_pcap
    );
    // Absent leaves it as it is.
    let r = put(json!({ "name": "Acme Inc" })).await;
    assert_eq!(
        (r.json["name"].as_str(), r.json["debug_pcap"].as_bool()),
        (Some("Acme Inc"), Some(true))
    );
    let r = put(json!({ "name": "Acme Inc", "debug_pcap": false })).await;
    assert_eq!(r.json["debug_pcap"], false);
    let r = put(json!({ "name": "Acme Inc", "debug_pcap": "yes" })).await;
    assert!(r.status.is_client_error(), "{}", r.text);

    let gw = json!({ "name": "carrier", "uri": "sip:carrier.test", "debug_pcap": true });
    let r = call(&h.app, Method::POST, "/admin/gateway", Some(&a), Some(gw)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["debug_pcap"], true);
    let id = r.json["id"].as_i64().unwrap();
    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/gateway/{id}"),
        Some(&a),
        Some(json!({ "name": "carrier", "uri": "sip:carrier.test" })),
    )
    .await;
    assert_eq!(r.json["debug_pcap"], true, "absent keeps the flag");
    let r = call(
        &h.app,
        Method::PUT,
        &format!("/admin/gateway/{id}"),
        Some(&a),
        Some(json!({ "name": "carrier", "uri": "sip:carrier.test", "debug_pcap": false })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["debug_pcap"], false);
    assert!(
        !h.store
            .get_gateway(GatewayId(id))
            .await
            .unwrap()
            .unwrap()
            .debug_pcap
    );
}
