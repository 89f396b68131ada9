//! Abuse protection over the real router and a real SQLite store: repeated wrong credentials
//! from one address are refused with 429 and a growing `Retry-After` for every auth scheme
//! (admin Basic and Bearer, tenant Basic and Bearer), other addresses are unaffected, and a
//! tenant over its request rate gets 429. The guard's clock is stepped by hand: no sleeps.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::guard::buckets::RateLimit;
use api::{FaxSettings, Guard, GuardSettings};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use common::{
    admin, basic, call, code, create_tenant, create_user, send, Harness, Resp, ADMIN_KEY,
};
use serde_json::json;

/// A clock the test moves.
#[derive(Clone)]
struct Hand(Arc<Mutex<Instant>>);

impl Hand {
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

async fn harness(settings: GuardSettings) -> (Harness, Hand) {
    let hand = Hand(Arc::new(Mutex::new(Instant::now())));
    let h = hand.clone();
    let guard = Guard::new(settings).with_clock(move || *h.0.lock().unwrap());
    (
        common::harness_full(ADMIN_KEY, FaxSettings::default(), guard).await,
        hand,
    )
}

/// A request as the server sees it when served with `into_make_service_with_connect_info`.
async fn from(app: &Router, peer: &str, uri: &str, auth: &str) -> Resp {
    let peer: SocketAddr = peer.parse().unwrap();
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::AUTHORIZATION, auth)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    send(app, req).await
}

fn retry_after(r: &Resp) -> u64 {
    r.headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", r.headers))
}

/// Tenant `t` with user `alice`/`pw` and an API token; returns (Basic, Bearer).
async fn tenant_credentials(app: &Router) -> (String, String) {
    let t = create_tenant(app, "T").await;
    let user = create_user(app, t, "alice", "pw").await;
    let r = call(
        app,
        Method::POST,
        &format!("/admin/user/{user}/token"),
        Some(&admin()),
        Some(json!({ "label": "ci" })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.json["token"].as_str().unwrap().to_owned();
    (basic("alice", "pw"), format!("Bearer {token}"))
}

#[tokio::test]
async fn every_auth_scheme_is_slowed_per_address_with_growing_blocks() {
    let (h, hand) = harness(GuardSettings::default()).await;
    let (tenant_basic, tenant_bearer) = tenant_credentials(&h.app).await;
    // (route, wrong credentials, right credentials) for each scheme, each from its own address.
    let cases = [
        (
            "/admin/tenant",
            basic("admin", "wrong"),
            admin(),
            "192.0.2.1:4000",
        ),
        (
            "/admin/tenant",
            "Bearer wrong".to_owned(),
            format!("Bearer {ADMIN_KEY}"),
            "192.0.2.2:4000",
        ),
        (
            "/tenant/user",
            basic("alice", "wrong"),
            tenant_basic.clone(),
            "192.0.2.3:4000",
        ),
        (
            "/tenant/user",
            "Bearer not-a-token".to_owned(),
            tenant_bearer.clone(),
            "[2001:db8:1:2::7]:4000",
        ),
    ];
    for (uri, wrong, right, peer) in &cases {
        for i in 0..4 {
            let r = from(&h.app, peer, uri, wrong).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{peer} try {i}");
        }
        let r = from(&h.app, peer, uri, wrong).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "the 5th failure is still answered"
        );
        // Blocked now: even the right credentials are refused, before they are checked.
        let r = from(&h.app, peer, uri, right).await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{peer}: {}",
            r.text
        );
        assert_eq!(code(&r), "too_many_auth_failures");
        assert_eq!(retry_after(&r), 2);
    }
    // Another host of the same IPv6 /64 shares the block; another address does not.
    let r = from(
        &h.app,
        "[2001:db8:1:2::8]:1",
        "/tenant/user",
        &tenant_bearer,
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = from(&h.app, "198.51.100.9:1", "/tenant/user", &tenant_basic).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = from(&h.app, "198.51.100.9:1", "/admin/tenant", &admin()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The block ends, and the next failure blocks for twice as long.
    hand.advance(Duration::from_secs(2));
    let (uri, wrong, right, peer) = &cases[0];
    assert_eq!(from(&h.app, peer, uri, right).await.status, StatusCode::OK);
    // A success reset only this address's count, not its escalation: 5 more failures.
    for _ in 0..5 {
        assert_eq!(
            from(&h.app, peer, uri, wrong).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = from(&h.app, peer, uri, right).await;
    assert_eq!(
        (r.status, retry_after(&r)),
        (StatusCode::TOO_MANY_REQUESTS, 4)
    );
    hand.advance(Duration::from_secs(4));
    assert_eq!(
        from(&h.app, peer, uri, wrong).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = from(&h.app, peer, uri, right).await;
    assert_eq!(
        (r.status, retry_after(&r)),
        (StatusCode::TOO_MANY_REQUESTS, 8)
    );

    // Meanwhile the other blocked addresses were not reset by anyone's success.
    let (uri, _, right, peer) = &cases[2];
    let r = from(&h.app, peer, uri, right).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "its 2 s block ended long ago: {}",
        r.text
    );
}

#[tokio::test]
async fn a_success_does_not_reset_another_address() {
    let (h, _hand) = harness(GuardSettings::default()).await;
    let (tenant_basic, _) = tenant_credentials(&h.app).await;
    let wrong = basic("alice", "nope");
    for _ in 0..4 {
        from(&h.app, "192.0.2.10:1", "/tenant/user", &wrong).await;
    }
    // A good login from elsewhere...
    let r = from(&h.app, "192.0.2.11:1", "/tenant/user", &tenant_basic).await;
    assert_eq!(r.status, StatusCode::OK);
    // ...leaves the first address one failure from its block.
    from(&h.app, "192.0.2.10:1", "/tenant/user", &wrong).await;
    let r = from(&h.app, "192.0.2.10:1", "/tenant/user", &tenant_basic).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
}

#[tokio::test]
async fn missing_credentials_and_unknown_peers_do_not_count() {
    let (h, _hand) = harness(GuardSettings::default()).await;
    for _ in 0..10 {
        let mut req = Request::builder()
            .uri("/admin/tenant")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo("192.0.2.20:1".parse::<SocketAddr>().unwrap()));
        assert_eq!(send(&h.app, req).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        from(&h.app, "192.0.2.20:1", "/admin/tenant", &admin())
            .await
            .status,
        StatusCode::OK
    );
    // Without ConnectInfo (a router not served with it) nothing is tracked.
    for _ in 0..10 {
        let r = call(
            &h.app,
            Method::GET,
            "/admin/tenant",
            Some(&basic("a", "bad")),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = call(&h.app, Method::GET, "/admin/tenant", Some(&admin()), None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_tenant_over_its_request_rate_gets_429_with_retry_after() {
    let settings = GuardSettings {
        tenant_rate: RateLimit {
            per_second: 1.0,
            burst: 3.0,
            max_tracked: 100,
        },
        ..GuardSettings::default()
    };
    let (h, hand) = harness(settings).await;
    let (alice, _) = tenant_credentials(&h.app).await;
    let other = create_tenant(&h.app, "Other").await;
    create_user(&h.app, other, "bob", "pw").await;
    let bob = basic("bob", "pw");
    for _ in 0..3 {
        assert_eq!(
            from(&h.app, "192.0.2.30:1", "/tenant/user", &alice)
                .await
                .status,
            StatusCode::OK
        );
    }
    let r = from(&h.app, "192.0.2.30:1", "/tenant/number", &alice).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!((code(&r), retry_after(&r)), ("rate_limited", 1));
    // Per tenant, not per address: bob from the same address is fine.
    assert_eq!(
        from(&h.app, "192.0.2.30:1", "/tenant/user", &bob)
            .await
            .status,
        StatusCode::OK
    );
    // Admin routes are not rate-limited by a tenant's budget.
    assert_eq!(
        from(&h.app, "192.0.2.30:1", "/admin/tenant", &admin())
            .await
            .status,
        StatusCode::OK
    );
    hand.advance(Duration::from_secs(1));
    assert_eq!(
        from(&h.app, "192.0.2.30:1", "/tenant/user", &alice)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        from(&h.app, "192.0.2.30:1", "/tenant/user", &alice)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[test]
fn admin_key_is_compared_in_constant_time() {
    // auth.rs compares SHA-256 digests with subtle's ConstantTimeEq; keep it that way.
    let src = include_str!("../src/auth.rs");
    assert!(
        src.contains("a.ct_eq(&b)"),
        "admin key comparison must use ct_eq"
    );
    assert!(!src.contains("presented == "), "no plain == on secrets");
}
