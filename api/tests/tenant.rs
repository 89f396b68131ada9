//! Tenant authentication and the cross-tenant 404 matrix.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

/// One tenant's ids and credentials.
struct Fixture {
    number: i64,
    user: i64,
    endpoint: i64,
    basic: String,
}

/// Creates a tenant with one number, one user and one endpoint.
async fn fixture(app: &axum::Router, name: &str, number: &str) -> Fixture {
    let a = admin();
    let t = create_tenant(app, name).await;
    let r = call(
        app,
        Method::POST,
        "/admin/number",
        Some(&a),
        Some(json!({ "tenant_id": t, "number": number })),
    )
    .await;
    let number = r.json["id"].as_i64().expect("number id");
    let user = create_user(app, t, &format!("{name}-user"), "pw").await;
    let ep = json!({ "type": "number", "type_id": number, "endpoint_type": "webhook", "endpoint": format!("https://{name}.test") });
    let r = call(app, Method::POST, "/admin/endpoint", Some(&a), Some(ep)).await;
    let endpoint = r.json["id"].as_i64().expect("endpoint id");
    Fixture {
        number,
        user,
        endpoint,
        basic: basic(&format!("{name}-user"), "pw"),
    }
}

#[tokio::test]
async fn tenant_auth_schemes() {
    let h = harness().await;
    let f = fixture(&h.app, "acme", "5550001111").await;
    let r = call(&h.app, Method::GET, "/tenant/number", Some(&f.basic), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json[0]["number"], "+15550001111");

    let r = call(
        &h.app,
        Method::POST,
        &format!("/admin/user/{}/token", f.user),
        Some(&admin()),
        Some(json!({})),
    )
    .await;
    let token = r.json["token"].as_str().expect("token").to_owned();
    let r = call(
        &h.app,
        Method::GET,
        "/tenant/user",
        Some(&format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json[0]["id"].as_i64()),
        (StatusCode::OK, Some(f.user))
    );

    let admin_bearer = format!("Bearer {ADMIN_KEY}");
    let wrong_pw = basic("acme-user", "nope");
    let unknown = basic("ghost", "pw");
    for bad in [
        None,
        Some(wrong_pw.as_str()),
        Some(unknown.as_str()),
        Some("Bearer fxs_bogus"),
        Some(admin_bearer.as_str()),
    ] {
        let r = call(&h.app, Method::GET, "/tenant/number", bad, None).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{bad:?}"
        );
    }
    // Tenant credentials are no admin key.
    let r = call(&h.app, Method::GET, "/admin/tenant", Some(&f.basic), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &h.app,
        Method::GET,
        "/admin/tenant",
        Some(&format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_tenant_route_hides_other_tenants_resources() {
    let h = harness().await;
    let a = fixture(&h.app, "alpha", "5550001111").await;
    let b = fixture(&h.app, "beta", "5550002222").await;

    for (me, other) in [(&a, &b), (&b, &a)] {
        let routes = [
            ("number", me.number, other.number),
            ("user", me.user, other.user),
            ("endpoint", me.endpoint, other.endpoint),
        ];
        for (kind, mine, theirs) in routes {
            let r = call(
                &h.app,
                Method::GET,
                &format!("/tenant/{kind}/{mine}"),
                Some(&me.basic),
                None,
            )
            .await;
            assert_eq!(
                (r.status, r.json["id"].as_i64()),
                (StatusCode::OK, Some(mine)),
                "{kind}"
            );

            let foreign = call(
                &h.app,
                Method::GET,
                &format!("/tenant/{kind}/{theirs}"),
                Some(&me.basic),
                None,
            )
            .await;
            assert_eq!(
                (foreign.status, code(&foreign)),
                (StatusCode::NOT_FOUND, "not_found"),
                "{kind} {theirs}"
            );
            // Indistinguishable from an id that does not exist at all.
            let missing = call(
                &h.app,
                Method::GET,
                &format!("/tenant/{kind}/99999"),
                Some(&me.basic),
                None,
            )
            .await;
            assert_eq!(
                (missing.status, &missing.json),
                (foreign.status, &foreign.json),
                "{kind}"
            );

            let list = call(
                &h.app,
                Method::GET,
                &format!("/tenant/{kind}"),
                Some(&me.basic),
                None,
            )
            .await;
            let ids: Vec<i64> = list
                .json
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_i64().unwrap())
                .collect();
            assert_eq!(ids, [mine], "{kind} listing");
        }
    }
}
