//! `GET /fax/{uuid}`, `GET /fax/status`, cancel and `GET /fax`.

use std::time::Duration;

use api::FaxSettings;
use axum::http::{Method, StatusCode};
use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::Value;
use store::{
    AttemptOutcome, Direction, JobFailure, JobStatus, NewAttempt, NewJob, NewPageResult, TenantId,
};

use crate::common::fax::*;
use crate::common::*;

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn status_shows_attempts_and_pages_in_both_shapes() {
    let h = harness().await;
    let s = sender(&h.app, "status", "5550009999").await;
    let id = queued(&h.app, &s, &pdf(&["one", "two"])).await;

    let r = call(
        &h.app,
        Method::GET,
        &format!("/fax/{id}"),
        Some(&s.auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        keys(&r.json),
        [
            "attempt_count",
            "attempts",
            "callee_number",
            "caller_number",
            "cancelled_at",
            "created_at",
            "direction",
            "document",
            "job_uuid",
            "last_error",
            "next_attempt_at",
            "status",
            "updated_at"
        ]
    );
    let doc = document_of(h.store.as_ref(), s.tenant, &id).await;
    let sha = sha256_hex(&doc.data);
    assert_eq!(
        r.json["document"],
        serde_json::json!({ "content_type": "image/tiff", "pages": 2, "size": doc.data.len(), "sha256": sha })
    );
    assert_eq!(
        (&r.json["status"], &r.json["attempts"]),
        (&Value::from("queued"), &serde_json::json!([]))
    );
    let rows = call(
        &h.app,
        Method::GET,
        &format!("/fax/status?uuid={id}"),
        Some(&s.auth),
        None,
    )
    .await;
    assert_eq!(
        (rows.status, &rows.json),
        (StatusCode::OK, &serde_json::json!([]))
    );

    // A worker's two attempts: the first gets one page through and backs off, the second
    // sends both.
    let st = h.store.as_ref();
    let job = job_row(st, s.tenant, &id).await;
    let t = Utc::now() + TimeDelta::seconds(5);
    for (n, pages, code, text) in [(1, 1, 48, "Far end disconnected"), (2, 2, 0, "OK")] {
        let at = t + TimeDelta::minutes(n * 10);
        let claimed = st
            .claim_next_job("worker-1", LEASE, at)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, job.id);
        let a = st
            .start_attempt(&NewAttempt {
                job_id: job.id,
                endpoint_id: None,
                gateway_id: None,
                started_at: at,
            })
            .await
            .unwrap();
        for page in 1..=pages {
            st.add_page_result(&NewPageResult {
                attempt_id: a.id,
                page,
                result_code: 0,
                bad_rows: page - 1,
                detail: "T.6".into(),
            })
            .await
            .unwrap();
        }
        let end = at + TimeDelta::seconds(40);
        let outcome = AttemptOutcome {
            ended_at: end,
            result_code: code,
            result_text: text.into(),
            pages,
        };
        assert!(st.finish_attempt(a.id, &outcome).await.unwrap());
        if n == 1 {
            let retry = JobFailure::Retry {
                at: end + TimeDelta::minutes(1),
                error: text.into(),
            };
            assert!(st.fail_job(job.id, "worker-1", &retry, end).await.unwrap());
        } else {
            assert!(st.complete_job(job.id, "worker-1", end).await.unwrap());
        }
    }

    let r = call(
        &h.app,
        Method::GET,
        &format!("/fax/{id}"),
        Some(&s.auth),
        None,
    )
    .await;
    assert_eq!(
        (&r.json["status"], &r.json["attempt_count"]),
        (&Value::from("done"), &Value::from(2))
    );
    assert_eq!(r.json["next_attempt_at"], Value::Null);
    let attempts = r.json["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        keys(&attempts[0]),
        [
            "attempt_number",
            "ended_at",
            "endpoint_id",
            "gateway_id",
            "id",
            "page_results",
            "pages",
            "result_code",
            "result_text",
            "started_at"
        ]
    );
    assert_eq!(
        (
            &attempts[0]["attempt_number"],
            &attempts[0]["result_text"],
            &attempts[0]["result_code"]
        ),
        (
            &Value::from(1),
            &Value::from("Far end disconnected"),
            &Value::from(48)
        )
    );
    assert_eq!(
        attempts[1]["page_results"],
        serde_json::json!([
            { "page": 1, "result_code": 0, "bad_rows": 0, "detail": "T.6" },
            { "page": 2, "result_code": 0, "bad_rows": 1, "detail": "T.6" }
        ])
    );

    // gofaxserver's shape: one row per attempt, page results as a JSON string.
    let rows = call(
        &h.app,
        Method::GET,
        &format!("/fax/status?uuid={id}"),
        Some(&s.auth),
        None,
    )
    .await;
    assert_eq!(rows.status, StatusCode::OK);
    let rows = rows.json.as_array().unwrap().clone();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        keys(&rows[0]),
        [
            "attempt_number",
            "callee_number",
            "caller_id_number",
            "created_at",
            "dst_tenant_id",
            "end_ts",
            "endpoint_id",
            "id",
            "job_uuid",
            "npages",
            "page_results",
            "result_code",
            "result_text",
            "result_type",
            "src_tenant_id",
            "start_ts",
            "status",
            "success",
            "total_pages",
            "transferred_pages"
        ]
    );
    assert_eq!(
        rows.iter()
            .map(|r| (r["success"].as_bool(), r["npages"].as_i64()))
            .collect::<Vec<_>>(),
        [(Some(false), Some(1)), (Some(true), Some(2))]
    );
    assert_eq!(
        (
            &rows[1]["result_type"],
            &rows[1]["src_tenant_id"],
            &rows[1]["total_pages"],
            &rows[1]["job_uuid"]
        ),
        (
            &Value::from("transmission"),
            &Value::from(s.tenant),
            &Value::from(2),
            &Value::from(id.as_str())
        )
    );
    let inner: Value = serde_json::from_str(rows[1]["page_results"].as_str().unwrap()).unwrap();
    assert_eq!(inner.as_array().map(Vec::len), Some(2));

    for (uri, message) in [
        ("/fax/status", "uuid query parameter is required"),
        ("/fax/status?uuid=", "uuid query parameter is required"),
        ("/fax/status?uuid=nope", "invalid uuid format"),
    ] {
        let r = call(&h.app, Method::GET, uri, Some(&s.auth), None).await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{uri}"
        );
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(message),
            "{}",
            r.text
        );
    }
    let r = call(&h.app, Method::GET, "/fax/not-a-uuid", Some(&s.auth), None).await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
}

#[tokio::test]
async fn cancel_works_only_while_the_job_waits() {
    let h = harness().await;
    let s = sender(&h.app, "cancel", "5550001212").await;
    let st = h.store.as_ref();
    let doc = jpeg();
    let later = || Utc::now() + TimeDelta::seconds(5);

    // Being sent: a worker holds it.
    let sending = queued(&h.app, &s, &doc).await;
    let claimed = st
        .claim_next_job("w", LEASE, later())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id.0.to_string(), sending);
    // Waiting to retry.
    let backoff = queued(&h.app, &s, &doc).await;
    let c = st
        .claim_next_job("w", LEASE, later())
        .await
        .unwrap()
        .unwrap();
    let retry = JobFailure::Retry {
        at: later() + TimeDelta::hours(1),
        error: "busy".into(),
    };
    assert!(st.fail_job(c.id, "w", &retry, later()).await.unwrap());
    assert_eq!(c.id.0.to_string(), backoff);
    // Delivered.
    let done = queued(&h.app, &s, &doc).await;
    let c = st
        .claim_next_job("w", LEASE, later())
        .await
        .unwrap()
        .unwrap();
    assert!(st.complete_job(c.id, "w", later()).await.unwrap());
    assert_eq!(c.id.0.to_string(), done);
    // Never tried.
    let fresh = queued(&h.app, &s, &doc).await;

    for (id, method, uri) in [
        (&fresh, Method::POST, format!("/fax/{fresh}/cancel")),
        (&backoff, Method::DELETE, format!("/fax/{backoff}")),
    ] {
        let r = call(&h.app, method.clone(), &uri, Some(&s.auth), None).await;
        assert_eq!(
            (r.status, &r.json["status"]),
            (StatusCode::OK, &Value::from("cancelled")),
            "{}",
            r.text
        );
        assert!(r.json["cancelled_at"].is_string());
        let row = job_row(st, s.tenant, id).await;
        assert_eq!((row.status, row.is_cancelled()), (JobStatus::Failed, true));
        // Again: the same answer, nothing changes.
        let again = call(&h.app, method, &uri, Some(&s.auth), None).await;
        assert_eq!((again.status, &again.json), (StatusCode::OK, &r.json));
        let events = st
            .list_events(Some(TenantId(s.tenant)), Some(row.id), 10)
            .await
            .unwrap();
        assert_eq!(
            events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["job.queued", "job.cancelled"]
        );
    }
    let r = call(
        &h.app,
        Method::POST,
        &format!("/fax/{sending}/cancel"),
        Some(&s.auth),
        None,
    )
    .await;
    assert_eq!(
        (r.status, code(&r)),
        (StatusCode::CONFLICT, "job_in_progress")
    );
    let r = call(
        &h.app,
        Method::DELETE,
        &format!("/fax/{done}"),
        Some(&s.auth),
        None,
    )
    .await;
    assert_eq!((r.status, code(&r)), (StatusCode::CONFLICT, "job_finished"));
    assert_eq!(
        job_row(st, s.tenant, &sending).await.status,
        JobStatus::Active
    );
    assert_eq!(job_row(st, s.tenant, &done).await.status, JobStatus::Done);
    // No worker ever sees the cancelled jobs again.
    assert_eq!(
        st.claim_next_job("w", LEASE, later() + TimeDelta::days(1))
            .await
            .unwrap()
            .map(|j| j.id.0.to_string()),
        Some(sending)
    );
    assert_eq!(
        st.claim_next_job("w", LEASE, later() + TimeDelta::days(1))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn listing_filters_and_pages_with_an_opaque_cursor() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap());
    let settings = FaxSettings {
        clock: clock.clock(),
        ..FaxSettings::default()
    };
    let h = harness_with(ADMIN_KEY, settings).await;
    let s = sender(&h.app, "lister", "5550003434").await;
    let other = sender(&h.app, "other", "5550005656").await;
    let start = clock.now();
    let doc = jpeg();
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.push(queued(&h.app, &s, &doc).await);
        clock.advance(TimeDelta::minutes(1));
    }
    queued(&h.app, &other, &doc).await;
    // One inbound job, received by the tenant's number, created after all of them.
    let inbound = h
        .store
        .create_job(
            &NewJob {
                tenant_id: TenantId(s.tenant),
                direction: Direction::Inbound,
                caller: "+12125550100".into(),
                callee: s.number.clone(),
                document_id: None,
                priority: 0,
                not_before: clock.now(),
            },
            clock.now(),
        )
        .await
        .unwrap();
    let r = call(
        &h.app,
        Method::POST,
        &format!("/fax/{}/cancel", sent[1]),
        Some(&s.auth),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    let mut newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    newest_first.insert(0, inbound.id.0.to_string());
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["job_uuid"].as_str().unwrap().to_owned())
            .collect()
    };
    let walk = |query: String| {
        let app = h.app.clone();
        let auth = s.auth.clone();
        async move {
            let mut all = Vec::new();
            let mut uri = format!("/fax?{query}");
            loop {
                let r = call(&app, Method::GET, &uri, Some(&auth), None).await;
                assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
                all.extend(ids(&r.json));
                match r.json["next_cursor"].as_str() {
                    Some(c) => uri = format!("/fax?{query}&cursor={c}"),
                    None => return all,
                }
            }
        }
    };

    let first = call(&h.app, Method::GET, "/fax?limit=2", Some(&s.auth), None).await;
    assert_eq!(keys(&first.json), ["items", "next_cursor"]);
    assert_eq!(
        keys(&first.json["items"][0]),
        [
            "attempt_count",
            "callee_number",
            "caller_number",
            "cancelled_at",
            "created_at",
            "direction",
            "job_uuid",
            "last_error",
            "next_attempt_at",
            "status",
            "updated_at"
        ]
    );
    assert_eq!(walk("limit=2".into()).await, newest_first);
    assert_eq!(walk("limit=4".into()).await, newest_first);
    assert_eq!(walk(String::new()).await, newest_first);
    let last = call(&h.app, Method::GET, "/fax?limit=6", Some(&s.auth), None).await;
    assert_eq!(last.json["next_cursor"], Value::Null, "exactly one page");

    assert_eq!(
        walk("direction=inbound".into()).await,
        [inbound.id.0.to_string()]
    );
    assert_eq!(
        walk("direction=outbound&limit=1".into()).await,
        newest_first[1..]
    );
    assert_eq!(walk("status=cancelled".into()).await, [sent[1].clone()]);
    assert_eq!(walk("status=failed".into()).await, Vec::<String>::new());
    let queued_ids: Vec<String> = newest_first
        .iter()
        .filter(|i| **i != sent[1])
        .cloned()
        .collect();
    assert_eq!(walk("status=queued&limit=2".into()).await, queued_ids);
    // Created in [start + 1 min, start + 3 min): the second and third.
    let from = (start + TimeDelta::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (start + TimeDelta::minutes(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        walk(format!("from={from}&to={to}&limit=1")).await,
        [sent[2].clone(), sent[1].clone()]
    );
    assert_eq!(
        walk(format!("from={from}&to={to}&status=queued")).await,
        [sent[2].clone()]
    );

    for (query, want) in [
        ("limit=0", "bad_request"),
        ("limit=many", "bad_request"),
        ("status=lost", "bad_request"),
        ("direction=sideways", "bad_request"),
        ("from=yesterday", "bad_request"),
        ("cursor=bm90LWEtY3Vyc29y", "invalid_cursor"),
        ("cursor=%21%21", "invalid_cursor"),
    ] {
        let r = call(
            &h.app,
            Method::GET,
            &format!("/fax?{query}"),
            Some(&s.auth),
            None,
        )
        .await;
        assert_eq!(
            (r.status, code(&r)),
            (StatusCode::BAD_REQUEST, want),
            "{query}: {}",
            r.text
        );
    }

    // The page size is capped at 200 whatever the client asks.
    for i in 0..200 {
        h.store
            .create_job(
                &NewJob {
                    tenant_id: TenantId(other.tenant),
                    direction: Direction::Inbound,
                    caller: format!("+1212555{:04}", i),
                    callee: other.number.clone(),
                    document_id: None,
                    priority: 0,
                    not_before: start,
                },
                start,
            )
            .await
            .unwrap();
    }
    let r = call(
        &h.app,
        Method::GET,
        "/fax?limit=1000",
        Some(&other.auth),
        None,
    )
    .await;
    assert_eq!(r.json["items"].as_array().unwrap().len(), 200);
    let rest = call(
        &h.app,
        Method::GET,
        &format!(
            "/fax?limit=1000&cursor={}",
            r.json["next_cursor"].as_str().expect("more")
        ),
        Some(&other.auth),
        None,
    )
    .await;
    assert_eq!(
        (
            rest.json["items"].as_array().unwrap().len(),
            &rest.json["next_cursor"]
        ),
        (1, &Value::Null)
    );
}
