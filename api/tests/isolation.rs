//! The cross-tenant matrix, driven by `/openapi.json`: every tenant operation whose path
//! names a resource is called by tenant A with tenant B's ids (and with ids that exist
//! nowhere). Each answers 404 `not_found`, byte-identical to the nonexistent id, so B's ids
//! are not even confirmed; afterwards B's rows (job, document, delivery, number, user,
//! endpoint, events) are exactly as before. A new tenant route with an id fails this test
//! until it is added to `ids`. `tenant.rs` checks the same for listings and auth.

mod common;

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use common::fax::{jpeg, queued, sender, Sender};
use common::*;
use serde_json::json;
use store::*;
use uuid::Uuid;

/// Ids of one tenant's resources, as strings for paths.
struct Ids {
    tenant: TenantId,
    job: String,
    delivery: String,
    number: String,
    user: String,
    endpoint: String,
    debug: String,
}

async fn resources(h: &Harness, s: &Sender, name: &str) -> Ids {
    let tenant = TenantId(s.tenant);
    let job = queued(&h.app, s, &jpeg()).await;
    let number = h.store.list_numbers(tenant).await.unwrap()[0].id;
    let user = h.store.list_users(tenant).await.unwrap()[0].id;
    let ep = json!({ "type": "number", "type_id": number.0, "endpoint_type": "webhook", "endpoint": format!("https://{name}.test/hook") });
    let r = call(
        &h.app,
        Method::POST,
        "/admin/endpoint",
        Some(&admin()),
        Some(ep),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let endpoint = r.json["id"].as_i64().unwrap();
    let delivery = h
        .store
        .create_delivery(
            &NewDelivery {
                tenant_id: Some(tenant),
                job_id: Some(JobId(job.parse().unwrap())),
                endpoint_id: Some(EndpointId(endpoint)),
                channel: Channel::Webhook,
                event: "fax.queued".into(),
                target: format!("https://{name}.test/hook"),
                content_type: "application/json".into(),
                headers: BTreeMap::new(),
                body: b"{}".to_vec(),
                not_before: Utc::now(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let debug = h
        .store
        .save_call_debug(&NewCallDebug {
            tenant_id: tenant,
            job_id: JobId(job.parse().unwrap()),
            leg: "send".into(),
            attempt_id: Some(1),
            call_id: format!("{name}@faxserver"),
            created_at: Utc::now(),
            sip: json!([]),
            t30: json!([]),
            truncated: false,
            pcap: Some(vec![0xd4, 0xc3, 0xb2, 0xa1]),
        })
        .await
        .unwrap();
    Ids {
        tenant,
        job,
        delivery: delivery.id.0.to_string(),
        number: number.0.to_string(),
        user: user.0.to_string(),
        endpoint: endpoint.to_string(),
        debug: debug.to_string(),
    }
}

/// The path with `ids` filled in; panics for a path the matrix does not know yet.
fn fill(path: &str, ids: &Ids) -> String {
    let id = match path {
        "/tenant/number/{id}" => &ids.number,
        "/tenant/user/{id}" => &ids.user,
        "/tenant/endpoint/{id}" => &ids.endpoint,
        "/fax/{uuid}/deliveries/{id}/replay" => &ids.delivery,
        "/fax/{uuid}/debug/{id}/pcap" => &ids.debug,
        p if !p.contains("{id}") => "",
        p => panic!("tenant route {p} is not in the isolation matrix: add its resource"),
    };
    path.replace("{uuid}", &ids.job).replace("{id}", id)
}

/// Everything of B's that a mutation could touch, as text.
async fn snapshot(h: &Harness, b: &Ids) -> String {
    let s = h.store.as_ref();
    let t = b.tenant;
    let job = JobId(b.job.parse().unwrap());
    let j = s.get_job(t, job).await.unwrap().expect("B's job");
    let doc = s
        .get_document_info(t, j.document_id.unwrap())
        .await
        .unwrap();
    let d = s
        .get_delivery(None, DeliveryId(b.delivery.parse().unwrap()))
        .await
        .unwrap();
    let number = s
        .get_number(t, NumberId(b.number.parse().unwrap()))
        .await
        .unwrap();
    let user = s
        .get_user(t, UserId(b.user.parse().unwrap()))
        .await
        .unwrap();
    let ep = s
        .get_endpoint(Some(t), EndpointId(b.endpoint.parse().unwrap()))
        .await
        .unwrap();
    let events = s.list_events(Some(t), None, 1000).await.unwrap();
    let jobs = s.list_jobs(t, 1000).await.unwrap();
    format!("{j:?}\n{doc:?}\n{d:?}\n{number:?}\n{user:?}\n{ep:?}\n{events:?}\n{jobs:?}")
}

#[tokio::test]
async fn every_tenant_route_with_an_id_answers_404_for_another_tenants_resource() {
    let h = harness().await;
    let a = sender(&h.app, "alpha", "5550001111").await;
    let b = sender(&h.app, "beta", "5550002222").await;
    let a_ids = resources(&h, &a, "alpha").await;
    let b_ids = resources(&h, &b, "beta").await;
    let nobody = Ids {
        tenant: TenantId(0),
        job: Uuid::new_v4().to_string(),
        delivery: Uuid::new_v4().to_string(),
        number: "987654".into(),
        user: "987654".into(),
        endpoint: "987654".into(),
        debug: "987654".into(),
    };
    let before = snapshot(&h, &b_ids).await;

    let doc = api::openapi::document();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let tenant_op = op["security"].to_string().contains("tenantBasic");
            if !tenant_op || !path.contains('{') {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // A's own resource works (or at least is found), so a 404 below means "not yours".
            let own = call(&h.app, m.clone(), &fill(path, &a_ids), Some(&a.auth), None).await;
            assert_ne!(
                own.status,
                StatusCode::NOT_FOUND,
                "{method} {path} own: {}",
                own.text
            );

            let foreign = call(&h.app, m.clone(), &fill(path, &b_ids), Some(&a.auth), None).await;
            let missing = call(&h.app, m.clone(), &fill(path, &nobody), Some(&a.auth), None).await;
            let what = format!("{method} {path}: {}", foreign.text);
            assert_eq!(
                (foreign.status, code(&foreign)),
                (StatusCode::NOT_FOUND, "not_found"),
                "{what}"
            );
            assert_eq!(foreign.text, missing.text, "{what}");
            if path.contains("/deliveries/{id}") {
                // A's job with B's delivery: still nothing.
                let mixed = fill(path, &a_ids).replace(&a_ids.delivery, &b_ids.delivery);
                let r = call(&h.app, m.clone(), &mixed, Some(&a.auth), None).await;
                assert_eq!(r.text, missing.text, "{what}");
            }
            checked += 1;
        }
    }
    // number, user, endpoint, job get/cancel x2/document, deliveries list and replay.
    assert!(checked >= 9, "{checked}");
    assert_eq!(
        snapshot(&h, &b_ids).await,
        before,
        "A's requests changed B's rows"
    );
}
