//! Tenant isolation: tenant B cannot see tenant A's rows by id, even knowing the ids.

use serde_json::json;
use store::*;

use super::{number, t0, tenant};

/// Creates one of everything for A, then reads each by id as B.
pub async fn run(s: &dyn Store) {
    let a = s.create_tenant(&tenant("A"), t0()).await.unwrap().id;
    let b = s.create_tenant(&tenant("B"), t0()).await.unwrap().id;

    let num = s.create_number(a, &number("6465550100")).await.unwrap();
    let user = s.create_user(a, "a-admin", "pw-a", t0()).await.unwrap();
    let ep = NewEndpoint {
        scope: Scope::Tenant,
        scope_id: a.0,
        endpoint_type: EndpointKind::Webhook,
        target: "https://a.example/hook".into(),
        priority: 1,
        bridge: false,
    };
    let endpoint = s.create_endpoint(Some(a), &ep).await.unwrap();
    let doc = NewDocument {
        tenant_id: a,
        content_type: "image/tiff".into(),
        pages: 1,
        data: vec![1, 2, 3],
    };
    let doc = s.create_document(&doc, t0()).await.unwrap();
    let job = s
        .create_job(&super::queue::new_job(a, Some(doc), 0), t0())
        .await
        .unwrap();
    let attempt = s
        .start_attempt(&NewAttempt {
            job_id: job.id,
            endpoint_id: Some(endpoint.id),
            gateway_id: None,
            started_at: t0(),
        })
        .await
        .unwrap();
    s.add_page_result(&NewPageResult {
        attempt_id: attempt.id,
        page: 1,
        result_code: 0,
        bad_rows: 0,
        detail: String::new(),
    })
    .await
    .unwrap();
    s.append_event(&NewEvent {
        at: t0(),
        tenant_id: Some(a),
        job_id: Some(job.id),
        kind: "job.queued".into(),
        detail: json!({}),
    })
    .await
    .unwrap();
    let (tok, _) = s
        .create_token(a, user.id, "a", t0())
        .await
        .unwrap()
        .unwrap();

    // A sees its own rows...
    assert!(s.get_number(a, num.id).await.unwrap().is_some());
    assert!(s.get_user(a, user.id).await.unwrap().is_some());
    assert!(s
        .get_endpoint(Some(a), endpoint.id)
        .await
        .unwrap()
        .is_some());
    assert!(s.get_job(a, job.id).await.unwrap().is_some());
    assert!(s.get_document(a, doc).await.unwrap().is_some());

    // ...B sees none of them.
    assert_eq!(s.get_number(b, num.id).await.unwrap(), None);
    assert_eq!(s.get_user(b, user.id).await.unwrap(), None);
    assert_eq!(s.get_endpoint(Some(b), endpoint.id).await.unwrap(), None);
    assert_eq!(s.get_job(b, job.id).await.unwrap(), None);
    assert_eq!(s.get_document(b, doc).await.unwrap(), None);
    assert!(s.list_numbers(b).await.unwrap().is_empty());
    assert!(s.list_users(b).await.unwrap().is_empty());
    assert!(s.list_endpoints(Some(b)).await.unwrap().is_empty());
    assert!(s.list_jobs(b, 100).await.unwrap().is_empty());
    assert!(s
        .list_jobs_filtered(b, &JobFilter::default(), 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.get_document_info(b, doc).await.unwrap(), None);
    assert!(s.list_attempts(b, job.id).await.unwrap().is_empty());
    assert!(s.list_page_results(b, attempt.id).await.unwrap().is_empty());
    assert!(s.list_events(Some(b), None, 100).await.unwrap().is_empty());
    assert!(s.list_tokens(b, user.id).await.unwrap().is_empty());
    assert!(s
        .create_token(b, user.id, "steal", t0())
        .await
        .unwrap()
        .is_none());

    // B cannot change or delete A's rows either.
    assert!(!s
        .update_number(b, num.id, &number("6465550199"))
        .await
        .unwrap());
    assert!(!s.rename_user(b, user.id, "mallory").await.unwrap());
    assert!(!s.set_password(b, user.id, "owned").await.unwrap());
    assert!(!s
        .update_endpoint(
            Some(b),
            endpoint.id,
            &NewEndpoint {
                scope_id: b.0,
                ..ep.clone()
            }
        )
        .await
        .unwrap());
    assert!(!s.delete_token(b, tok.id).await.unwrap());
    assert_eq!(
        s.cancel_job(b, job.id, t0()).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert!(!s.delete_document(b, doc).await.unwrap());
    assert!(!s.delete_endpoint(Some(b), endpoint.id).await.unwrap());
    assert!(!s.delete_user(b, user.id).await.unwrap());
    assert!(!s.delete_number(b, num.id).await.unwrap());
    // Nor attach A's number or document to its own endpoints and jobs.
    let steal = NewEndpoint {
        scope: Scope::Number,
        scope_id: num.id.0,
        ..ep
    };
    assert!(s.create_endpoint(Some(b), &steal).await.is_err());
    assert!(s
        .create_job(&super::queue::new_job(b, Some(doc), 0), t0())
        .await
        .is_err());

    assert!(
        s.verify_user_password("a-admin", "pw-a")
            .await
            .unwrap()
            .is_some(),
        "A's password unchanged"
    );
    assert_eq!(s.get_number(a, num.id).await.unwrap(), Some(num));
    assert_eq!(
        s.get_job(a, job.id).await.unwrap().map(|j| j.status),
        Some(JobStatus::Queued),
        "A's job not cancelled"
    );
}
