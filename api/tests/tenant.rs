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

#[tokio::test]
async fn every_fax_route_hides_other_tenants_jobs() {
    use common::fax::{jpeg, queued, send_fax, sender};
    let h = harness().await;
    let a = sender(&h.app, "alpha", "5550001111").await;
    let b = sender(&h.app, "beta", "5550002222").await;
    let doc = jpeg();
    let a_job = queued(&h.app, &a, &doc).await;
    let b_job = queued(&h.app, &b, &doc).await;
    let nobody = "0b5c6e4e-3f5a-4d8e-9c1b-2a7d9e0f1a2b";

    for (me, mine, theirs) in [(&a, &a_job, &b_job), (&b, &b_job, &a_job)] {
        let mine_ok = call(
            &h.app,
            Method::GET,
            &format!("/fax/{mine}"),
            Some(&me.auth),
            None,
        )
        .await;
        assert_eq!(
            (mine_ok.status, mine_ok.json["job_uuid"].as_str()),
            (StatusCode::OK, Some(mine.as_str()))
        );
        let routes = [
            (Method::GET, "/fax/{}"),
            (Method::GET, "/fax/{}/document"),
            (Method::GET, "/fax/{}/document?format=tiff"),
            (Method::POST, "/fax/{}/cancel"),
            (Method::DELETE, "/fax/{}"),
        ];
        for (method, pattern) in routes {
            let foreign = call(
                &h.app,
                method.clone(),
                &pattern.replace("{}", theirs),
                Some(&me.auth),
                None,
            )
            .await;
            assert_eq!(
                (foreign.status, code(&foreign)),
                (StatusCode::NOT_FOUND, "not_found"),
                "{method} {pattern}"
            );
            let missing = call(
                &h.app,
                method.clone(),
                &pattern.replace("{}", nobody),
                Some(&me.auth),
                None,
            )
            .await;
            assert_eq!(
                (missing.status, &missing.json),
                (foreign.status, &foreign.json),
                "{method} {pattern}"
            );
        }
        // gofaxserver's status route answers an unknown job with `[]`; a foreign one too.
        let foreign = call(
            &h.app,
            Method::GET,
            &format!("/fax/status?uuid={theirs}"),
            Some(&me.auth),
            None,
        )
        .await;
        let missing = call(
            &h.app,
            Method::GET,
            &format!("/fax/status?uuid={nobody}"),
            Some(&me.auth),
            None,
        )
        .await;
        assert_eq!(
            (foreign.status, &foreign.json),
            (StatusCode::OK, &json!([]))
        );
        assert_eq!(
            (missing.status, &missing.json),
            (foreign.status, &foreign.json)
        );

        let list = call(&h.app, Method::GET, "/fax", Some(&me.auth), None).await;
        let ids: Vec<&str> = list.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["job_uuid"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [mine.as_str()], "listing");

        // Sending from the other tenant's number looks like sending from nobody's.
        let other_number = if me.tenant == a.tenant {
            &b.number
        } else {
            &a.number
        };
        let foreign = send_fax(&h.app, &me.auth, &doc, other_number, "2125550100", None).await;
        let unknown = send_fax(&h.app, &me.auth, &doc, "5559990000", "2125550100", None).await;
        assert_eq!(
            (foreign.status, code(&foreign)),
            (StatusCode::NOT_FOUND, "not_found")
        );
        assert_eq!(
            (unknown.status, &unknown.json),
            (foreign.status, &foreign.json)
        );
    }
    // The cancel attempts changed nothing.
    for (s, id) in [(&a, &a_job), (&b, &b_job)] {
        let r = call(
            &h.app,
            Method::GET,
            &format!("/fax/{id}"),
            Some(&s.auth),
            None,
        )
        .await;
        assert_eq!(r.json["status"], "queued");
    }

    // And none of it without credentials.
    let routes = [
        (Method::GET, "/fax".to_string()),
        (Method::POST, "/fax/send".to_string()),
        (Method::GET, format!("/fax/status?uuid={a_job}")),
        (Method::GET, format!("/fax/{a_job}")),
        (Method::GET, format!("/fax/{a_job}/document")),
        (Method::POST, format!("/fax/{a_job}/cancel")),
        (Method::DELETE, format!("/fax/{a_job}")),
    ];
    for (method, uri) in routes {
        let r = call(&h.app, method.clone(), &uri, None, None).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{method} {uri}"
        );
    }
}
