//! The delivery log: enqueue, claim with a lease, tries recorded with what follows, tenant
//! scoping, replay, concurrent claimers, and webhook secrets.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use store::*;

use super::queue::new_job;
use super::{at, t0, tenant};

const LEASE: Duration = Duration::from_secs(60);

fn webhook(tenant: TenantId, job: Option<JobId>, event: &str, due: i64) -> NewDelivery {
    NewDelivery {
        tenant_id: Some(tenant),
        job_id: job,
        endpoint_id: None,
        channel: Channel::Webhook,
        event: event.into(),
        target: "https://hooks.example.invalid/fax".into(),
        content_type: "application/json".into(),
        headers: BTreeMap::from([("X-Fax-UUID".to_owned(), "abc".to_owned())]),
        body: br#"{"type":"fax.queued"}"#.to_vec(),
        not_before: at(due),
    }
}

/// Runs every delivery check on one store.
pub async fn run(s: &dyn Store) {
    lifecycle(s).await;
    scoping_and_replay(s).await;
    concurrent_claims(s).await;
    secrets(s).await;
}

async fn lifecycle(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Hooks"), t0()).await.unwrap();
    let job = s.create_job(&new_job(t.id, None, 0), t0()).await.unwrap();
    let d = s
        .create_delivery(&webhook(t.id, Some(job.id), "fax.queued", 0), t0())
        .await
        .unwrap();
    assert_eq!(
        (d.status, d.attempts, d.next_attempt_at, d.retry_from),
        (DeliveryStatus::Pending, 0, t0(), t0())
    );
    assert_eq!(s.get_delivery(None, d.id).await.unwrap(), Some(d.clone()));
    assert_eq!(s.next_delivery_due().await.unwrap(), Some(t0()));

    // Not due before its time; claimed once, with body and headers; the lease hides it.
    assert!(s
        .claim_due_deliveries(at(-1), LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = s.claim_due_deliveries(at(0), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].delivery.id, d.id);
    assert_eq!(claimed[0].body, br#"{"type":"fax.queued"}"#.to_vec());
    assert_eq!(
        claimed[0].headers.get("X-Fax-UUID").map(String::as_str),
        Some("abc")
    );
    assert_eq!(claimed[0].delivery.next_attempt_at, at(60));
    assert!(s
        .claim_due_deliveries(at(59), LEASE, 10)
        .await
        .unwrap()
        .is_empty());

    // A failed try schedules the next one; the log says when and why.
    let fail = NewDeliveryAttempt {
        started_at: at(1),
        duration_ms: 12,
        status_code: Some(500),
        error: "HTTP 500".into(),
        next: DeliveryNext::RetryAt(at(6)),
    };
    assert!(s.record_delivery_attempt(d.id, &fail, at(1)).await.unwrap());
    let d1 = s.get_delivery(None, d.id).await.unwrap().unwrap();
    assert_eq!(
        (d1.status, d1.attempts, d1.next_attempt_at, d1.last_status),
        (DeliveryStatus::Pending, 1, at(6), Some(500))
    );
    assert_eq!(d1.last_error, "HTTP 500");
    assert!(s
        .claim_due_deliveries(at(5), LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.claim_due_deliveries(at(6), LEASE, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let ok = NewDeliveryAttempt {
        started_at: at(7),
        duration_ms: 3,
        status_code: Some(204),
        error: String::new(),
        next: DeliveryNext::Delivered,
    };
    assert!(s.record_delivery_attempt(d.id, &ok, at(7)).await.unwrap());
    let d2 = s.get_delivery(None, d.id).await.unwrap().unwrap();
    assert_eq!(
        (d2.status, d2.attempts, d2.last_status, d2.finished_at),
        (DeliveryStatus::Delivered, 2, Some(204), Some(at(7)))
    );
    assert_eq!(d2.last_error, "");
    assert!(s
        .claim_due_deliveries(at(1_000), LEASE, 10)
        .await
        .unwrap()
        .is_empty());

    let log = s.list_delivery_attempts(None, d.id).await.unwrap();
    let summary: Vec<_> = log
        .iter()
        .map(|a| (a.attempt, a.status_code, a.next_attempt_at, a.duration_ms))
        .collect();
    assert_eq!(
        summary,
        vec![(1, Some(500), Some(at(6)), 12), (2, Some(204), None, 3)]
    );
    assert_eq!(log[0].started_at, at(1));

    // Giving up is final; an unknown delivery records nothing.
    let e = s
        .create_delivery(&webhook(t.id, None, "fax.failed", 0), t0())
        .await
        .unwrap();
    let give_up = NewDeliveryAttempt {
        next: DeliveryNext::GiveUp,
        status_code: Some(410),
        error: "HTTP 410".into(),
        ..fail.clone()
    };
    assert!(s
        .record_delivery_attempt(e.id, &give_up, at(2))
        .await
        .unwrap());
    let e = s.get_delivery(None, e.id).await.unwrap().unwrap();
    assert_eq!(
        (e.status, e.finished_at),
        (DeliveryStatus::Failed, Some(at(2)))
    );
    let ghost = DeliveryId(uuid::Uuid::new_v4());
    assert!(!s
        .record_delivery_attempt(ghost, &fail, at(2))
        .await
        .unwrap());
    assert!(s
        .list_delivery_attempts(None, ghost)
        .await
        .unwrap()
        .is_empty());

    // Listed by job.
    assert_eq!(
        s.list_deliveries(
            &DeliveryFilter {
                job: Some(job.id),
                ..Default::default()
            },
            10
        )
        .await
        .unwrap()
        .len(),
        1
    );
}

async fn scoping_and_replay(s: &dyn Store) {
    let a = s.create_tenant(&tenant("Deliv A"), t0()).await.unwrap();
    let b = s.create_tenant(&tenant("Deliv B"), t0()).await.unwrap();
    let ja = s.create_job(&new_job(a.id, None, 0), t0()).await.unwrap();
    let da1 = s
        .create_delivery(&webhook(a.id, Some(ja.id), "fax.queued", 10_000), at(1))
        .await
        .unwrap();
    let da2 = s
        .create_delivery(&webhook(a.id, Some(ja.id), "fax.delivered", 10_000), at(2))
        .await
        .unwrap();
    let db = s
        .create_delivery(&webhook(b.id, None, "fax.queued", 10_000), at(3))
        .await
        .unwrap();

    // Newest first, scoped by tenant, job and state.
    let of_a = s
        .list_deliveries(
            &DeliveryFilter {
                tenant: Some(a.id),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        of_a.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![da2.id, da1.id]
    );
    let limited = s
        .list_deliveries(
            &DeliveryFilter {
                tenant: Some(a.id),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
    let all = s
        .list_deliveries(&DeliveryFilter::default(), 1_000)
        .await
        .unwrap();
    assert!([da1.id, da2.id, db.id]
        .iter()
        .all(|id| all.iter().any(|d| d.id == *id)));
    let delivered = s
        .list_deliveries(
            &DeliveryFilter {
                tenant: Some(a.id),
                status: Some(DeliveryStatus::Delivered),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert!(delivered.is_empty());

    // Another tenant's delivery does not exist for this one.
    assert_eq!(s.get_delivery(Some(b.id), da1.id).await.unwrap(), None);
    assert_eq!(
        s.replay_delivery(Some(b.id), da1.id, at(50)).await.unwrap(),
        None
    );
    assert!(s
        .list_delivery_attempts(Some(b.id), da1.id)
        .await
        .unwrap()
        .is_empty());

    // A replay of a finished delivery makes it pending and due now, in a new series.
    let gave_up = NewDeliveryAttempt {
        started_at: at(20),
        duration_ms: 1,
        status_code: None,
        error: "connection refused".into(),
        next: DeliveryNext::GiveUp,
    };
    assert!(s
        .record_delivery_attempt(da1.id, &gave_up, at(20))
        .await
        .unwrap());
    let r = s
        .replay_delivery(Some(a.id), da1.id, at(50))
        .await
        .unwrap()
        .expect("replay of the tenant's own delivery");
    assert_eq!(
        (
            r.status,
            r.next_attempt_at,
            r.retry_from,
            r.finished_at,
            r.attempts
        ),
        (DeliveryStatus::Pending, at(50), at(50), None, 1)
    );
    let due = s.claim_due_deliveries(at(50), LEASE, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.delivery.id).collect::<Vec<_>>(),
        vec![da1.id]
    );
    // The administrator replays any tenant's.
    assert!(s
        .replay_delivery(None, db.id, at(60))
        .await
        .unwrap()
        .is_some());
    let due = s.claim_due_deliveries(at(60), LEASE, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.delivery.id).collect::<Vec<_>>(),
        vec![db.id]
    );
}

async fn concurrent_claims(s: &dyn Store) {
    let now = at(200_000);
    // Earlier checks left deliveries pending: take them out of the way first.
    s.claim_due_deliveries(now, LEASE, 1_000).await.unwrap();
    let t = s.create_tenant(&tenant("Deliv C"), t0()).await.unwrap();
    let mut ids = HashSet::new();
    for n in 0..10 {
        let d = s
            .create_delivery(&webhook(t.id, None, "fax.page", 100_000 + n), t0())
            .await
            .unwrap();
        ids.insert(d.id);
    }
    // Four claimers at once, three each: every delivery exactly once (a limit smaller than
    // the backlog makes them compete for the same rows).
    let (a, b, c, d) = tokio::join!(
        s.claim_due_deliveries(now, LEASE, 3),
        s.claim_due_deliveries(now, LEASE, 3),
        s.claim_due_deliveries(now, LEASE, 3),
        s.claim_due_deliveries(now, LEASE, 3),
    );
    let mut seen = Vec::new();
    for batch in [a, b, c, d] {
        seen.extend(batch.unwrap().into_iter().map(|d| d.delivery.id));
    }
    let unique: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a delivery was claimed twice");
    let mut rest = s.claim_due_deliveries(now, LEASE, 100).await.unwrap();
    seen.extend(rest.drain(..).map(|d| d.delivery.id));
    assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), ids);
    assert_eq!(seen.len(), 10);
}

async fn secrets(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Secrets"), t0()).await.unwrap();
    let e = s
        .create_endpoint(
            Some(t.id),
            &NewEndpoint {
                scope: Scope::Tenant,
                scope_id: t.id.0,
                endpoint_type: EndpointKind::Webhook,
                target: "https://hooks.example.invalid/".into(),
                priority: 1,
                bridge: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(s.get_webhook_secret(e.id).await.unwrap(), None);
    let events = vec!["fax.delivered".to_owned(), "fax.failed".to_owned()];
    s.set_webhook_secret(e.id, "whsec_AAAA", &events, t0())
        .await
        .unwrap();
    let got = s.get_webhook_secret(e.id).await.unwrap().unwrap();
    assert_eq!((got.secret.as_str(), &got.events), ("whsec_AAAA", &events));
    assert!(got.wants("fax.failed") && !got.wants("fax.page"));
    assert!(!format!("{got:?}").contains("whsec_AAAA"));

    // Rotation replaces; deleting the endpoint deletes its secret.
    s.set_webhook_secret(e.id, "whsec_BBBB", &[], at(1))
        .await
        .unwrap();
    let got = s.get_webhook_secret(e.id).await.unwrap().unwrap();
    assert_eq!((got.secret.as_str(), got.created_at), ("whsec_BBBB", at(1)));
    assert!(got.wants("fax.page"));
    assert!(s.delete_endpoint(Some(t.id), e.id).await.unwrap());
    assert_eq!(s.get_webhook_secret(e.id).await.unwrap(), None);
    assert!(!s.delete_webhook_secret(e.id).await.unwrap());
    // A secret for an endpoint that does not exist is refused (foreign key).
    assert!(s
        .set_webhook_secret(EndpointId(9_999_999), "whsec_x", &[], t0())
        .await
        .is_err());
}
