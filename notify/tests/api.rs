//! The delivery log through the REST API: the administrator's listing, detail and replay, the
//! tenant's view of one job's deliveries, and webhook secrets that go in but never come out.

mod common;

use api::{router, AppState, Clock as ApiClock, FaxSettings};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use common::*;
use http_body_util::BodyExt;
use notify::*;
use serde_json::{json, Value};
use store::*;
use tower::ServiceExt;

const ADMIN_KEY: &str = "admin-key-for-notify-tests";

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    auth: &str,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, auth);
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let resp = app
        .clone()
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_listed_replayed_and_secrets_never_returned() {
    let e = env().await;
    let (clock, hand) = notify::Clock::manual(t0());
    let api_clock = {
        let hand = hand.clone();
        ApiClock::new(move || hand.now())
    };
    let app = router(AppState {
        store: e.store.clone(),
        admin_api_key: ADMIN_KEY.into(),
        fax: FaxSettings {
            clock: api_clock,
            ..FaxSettings::default()
        },
        guard: api::Guard::default(),
    });
    let admin = basic("admin", ADMIN_KEY);
    e.store
        .create_user(e.tenant.id, "alice", "alice-password", t0())
        .await
        .expect("user");
    let alice = basic("alice", "alice-password");
    let other = e
        .store
        .create_tenant(
            &NewTenant {
                name: "Other".into(),
                notify: String::new(),
            },
            t0(),
        )
        .await
        .expect("tenant");
    e.store
        .create_user(other.id, "bob", "bob-password", t0())
        .await
        .expect("user");
    let bob = basic("bob", "bob-password");

    let (url, mut got, script) = receiver(vec![500]).await;
    let ep = endpoint(&e, EndpointKind::Webhook, &url, 1).await;

    // The secret: validated, stored, shown only as "set".
    let secret = Secret::generate().expose();
    let (st, _, _) = call(
        &app,
        Method::PUT,
        &format!("/admin/endpoint/{}/webhook-secret", ep.id),
        &admin,
        Some(json!({"secret": "nope"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _, _) = call(
        &app,
        Method::PUT,
        &format!("/admin/endpoint/{}/webhook-secret", ep.id),
        &admin,
        Some(json!({"secret": secret, "events": ["fax.bogus"]})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, v, text) = call(
        &app,
        Method::PUT,
        &format!("/admin/endpoint/{}/webhook-secret", ep.id),
        &admin,
        Some(json!({"secret": secret, "events": ["fax.received"]})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert_eq!(v["has_secret"], true);
    assert!(!text.contains(&secret[6..]), "secret echoed: {text}");
    let (st, v, text) = call(
        &app,
        Method::GET,
        &format!("/admin/endpoint/{}/webhook-secret", ep.id),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (st, v["events"].clone()),
        (StatusCode::OK, json!(["fax.received"]))
    );
    assert!(!text.contains(&secret[6..]));
    let (st, _, _) = call(
        &app,
        Method::GET,
        &format!("/admin/endpoint/{}/webhook-secret", ep.id),
        &alice,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // A received fax: its lifecycle event goes out signed and fails once.
    let job = received_fax(&e, &fax_tiff()).await;
    let notifier = Notifier::new(e.store.clone(), clock.clone(), NotifyConfig::default());
    let ids = notifier
        .lifecycle(&Lifecycle {
            kind: LifecycleKind::Received,
            at: t0(),
            tenant_id: e.tenant.id,
            job_uuid: Some(job.id.0.to_string()),
            data: json!({"pages": 2}),
        })
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 1);
    let sender = DeliverySender::new(
        e.store.clone(),
        clock.clone(),
        None,
        SenderConfig::default(),
    )
    .expect("sender");
    assert_eq!(sender.run_due().await.expect("pass"), 1);
    assert_eq!(got.recv().await.expect("request").status, 500);

    // The administrator's listing and detail.
    let (st, v, text) = call(
        &app,
        Method::GET,
        "/admin/deliveries?status=pending",
        &admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["id"], ids[0].0.to_string());
    assert_eq!(v[0]["event"], "fax.received");
    assert_eq!(v[0]["attempts"], 1);
    assert_eq!(v[0]["last_status"], 500);
    assert!(v[0].get("body").is_none() && v[0].get("headers").is_none());
    assert!(!text.contains(&secret[6..]));
    let (st, v, _) = call(
        &app,
        Method::GET,
        "/admin/deliveries?status=delivered",
        &admin,
        None,
    )
    .await;
    assert_eq!((st, v.as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    let (st, _, _) = call(
        &app,
        Method::GET,
        "/admin/deliveries?status=lost",
        &admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, v, _) = call(
        &app,
        Method::GET,
        &format!("/admin/deliveries/{}", ids[0].0),
        &admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["tries"][0]["status_code"], 500);
    assert!(v["tries"][0]["next_attempt_at"].is_string());

    // The tenant sees its job's deliveries; another tenant sees nothing.
    let (st, v, _) = call(
        &app,
        Method::GET,
        &format!("/fax/{}/deliveries", job.id.0),
        &alice,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v[0]["tries"].as_array().map(Vec::len), Some(1));
    let (st, _, _) = call(
        &app,
        Method::GET,
        &format!("/fax/{}/deliveries", job.id.0),
        &bob,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = call(
        &app,
        Method::POST,
        &format!("/fax/{}/deliveries/{}/replay", job.id.0, ids[0].0),
        &bob,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A replay by the tenant makes it due now; the sender delivers it at once.
    *script.lock().expect("script") = vec![200];
    hand.advance(chrono::TimeDelta::seconds(1));
    assert_eq!(
        sender.run_due().await.expect("pass"),
        0,
        "retry not due yet"
    );
    let (st, v, _) = call(
        &app,
        Method::POST,
        &format!("/fax/{}/deliveries/{}/replay", job.id.0, ids[0].0),
        &alice,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["status"], "pending");
    assert_eq!(sender.run_due().await.expect("pass"), 1);
    assert_eq!(got.recv().await.expect("request").status, 200);
    let (st, v, _) = call(
        &app,
        Method::GET,
        &format!("/admin/deliveries?tenant_id={}", e.tenant.id.0),
        &admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v[0]["status"], "delivered");
    let (st, _, _) = call(
        &app,
        Method::POST,
        &format!("/admin/deliveries/{}/replay", uuid::Uuid::new_v4()),
        &admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Removing the secret stops lifecycle events.
    let (st, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/endpoint/{}/webhook-secret", ep.id),
        &admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let none = notifier
        .lifecycle(&Lifecycle {
            kind: LifecycleKind::Received,
            at: t0(),
            tenant_id: e.tenant.id,
            job_uuid: Some(job.id.0.to_string()),
            data: json!({}),
        })
        .await
        .expect("enqueue");
    assert!(none.is_empty());
}
