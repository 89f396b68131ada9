//! Queue semantics: claim order, leases, renewal, completion, retry, and concurrent claimers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use store::*;

use super::{at, t0, tenant};

/// An outbound job due at `t0`.
pub fn new_job(tenant: TenantId, document_id: Option<DocumentId>, priority: i64) -> NewJob {
    NewJob {
        tenant_id: tenant,
        direction: Direction::Outbound,
        caller: "+12125551234".into(),
        callee: "+442071234567".into(),
        document_id,
        priority,
        not_before: t0(),
    }
}

const LEASE: Duration = Duration::from_secs(30);

/// Claims until the queue (at `now`) is empty, so a test starts from a known state.
pub async fn drain(s: &dyn Store, now: chrono::DateTime<chrono::Utc>) {
    while let Some(j) = s.claim_next_job("drain", LEASE, now).await.unwrap() {
        assert!(s.complete_job(j.id, "drain", now).await.unwrap());
    }
}

/// One job's life-cycle through claim, lease expiry, retry and completion.
pub async fn lifecycle(s: &dyn Store) {
    // Far enough ahead that every job earlier parts of the suite left queued is due.
    drain(s, at(1_000_000)).await;
    let t = s.create_tenant(&tenant("Queue"), t0()).await.unwrap();
    let low = s.create_job(&new_job(t.id, None, 5), t0()).await.unwrap();
    let mut later = new_job(t.id, None, 0);
    later.not_before = at(100);
    let later = s.create_job(&later, t0()).await.unwrap();
    let high = s.create_job(&new_job(t.id, None, 1), t0()).await.unwrap();
    assert_eq!(
        (high.status, high.attempts, high.lease_owner.as_deref()),
        (JobStatus::Queued, 0, None)
    );

    // Priority order among due jobs; a job not yet due is skipped.
    let c1 = s.claim_next_job("w1", LEASE, at(1)).await.unwrap().unwrap();
    assert_eq!(
        (c1.id, c1.status, c1.attempts),
        (high.id, JobStatus::Active, 1)
    );
    assert_eq!(
        (c1.lease_owner.as_deref(), c1.lease_expires_at),
        (Some("w1"), Some(at(31)))
    );
    let c2 = s.claim_next_job("w2", LEASE, at(1)).await.unwrap().unwrap();
    assert_eq!(c2.id, low.id);
    assert_eq!(s.claim_next_job("w3", LEASE, at(1)).await.unwrap(), None);

    // Renewal only by the holder, only before expiry.
    assert!(s.renew_lease(c1.id, "w1", LEASE, at(20)).await.unwrap());
    assert!(!s.renew_lease(c1.id, "w2", LEASE, at(20)).await.unwrap());
    assert_eq!(
        s.get_job(t.id, c1.id)
            .await
            .unwrap()
            .unwrap()
            .lease_expires_at,
        Some(at(50))
    );

    // w2's lease lapses: at 40 the job is reclaimable (by priority before `later`, due at 100).
    let re = s
        .claim_next_job("w3", LEASE, at(40))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (re.id, re.attempts, re.lease_owner.as_deref()),
        (low.id, 2, Some("w3"))
    );
    assert!(
        !s.complete_job(low.id, "w2", at(41)).await.unwrap(),
        "stale worker cannot complete"
    );
    assert!(!s.renew_lease(low.id, "w2", LEASE, at(41)).await.unwrap());
    assert!(s.complete_job(low.id, "w3", at(41)).await.unwrap());
    let done = s.get_job(t.id, low.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.lease_owner, done.updated_at),
        (JobStatus::Done, None, at(41))
    );
    assert!(
        !s.complete_job(low.id, "w3", at(42)).await.unwrap(),
        "done is final"
    );

    // Retry: back to queued, invisible until its time.
    let retry = JobFailure::Retry {
        at: at(200),
        error: "busy".into(),
    };
    assert!(s.fail_job(c1.id, "w1", &retry, at(45)).await.unwrap());
    let j = s.get_job(t.id, c1.id).await.unwrap().unwrap();
    assert_eq!(
        (j.status, j.next_attempt_at, j.last_error.as_deref()),
        (JobStatus::Queued, at(200), Some("busy"))
    );
    assert_eq!(
        s.claim_next_job("w1", LEASE, at(150))
            .await
            .unwrap()
            .map(|j| j.id),
        Some(later.id)
    );
    assert!(s.complete_job(later.id, "w1", at(151)).await.unwrap());
    assert_eq!(s.claim_next_job("w1", LEASE, at(150)).await.unwrap(), None);
    let again = s
        .claim_next_job("w1", LEASE, at(200))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (c1.id, 2));
    let fin = JobFailure::Final {
        error: "no answer".into(),
    };
    assert!(!s.fail_job(c1.id, "other", &fin, at(201)).await.unwrap());
    assert!(s.fail_job(c1.id, "w1", &fin, at(201)).await.unwrap());
    assert_eq!(
        s.get_job(t.id, c1.id).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
    assert_eq!(
        s.claim_next_job("w1", LEASE, at(10_000)).await.unwrap(),
        None
    );
    assert_eq!(s.list_jobs(t.id, 10).await.unwrap().len(), 3);

    // Leases that cannot be represented are refused, not wrapped.
    assert!(s.claim_next_job("w1", Duration::MAX, at(0)).await.is_err());
}

/// Many workers claim at once: every job is claimed exactly once, then an expired lease is
/// reclaimed exactly once.
pub async fn concurrent_claims(s: Arc<dyn Store>) {
    const JOBS: usize = 40;
    const WORKERS: usize = 8;
    let t = s.create_tenant(&tenant("Concurrent"), t0()).await.unwrap();
    let mut ids = HashSet::new();
    for i in 0..JOBS {
        let j = s
            .create_job(&new_job(t.id, None, (i % 3) as i64), t0())
            .await
            .unwrap();
        ids.insert(j.id);
    }
    let claim_all = |now| {
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                let worker = format!("w{w}");
                let mut got = Vec::new();
                while let Some(j) = s.claim_next_job(&worker, LEASE, now).await.unwrap() {
                    assert_eq!(j.lease_owner.as_deref(), Some(worker.as_str()));
                    got.push(j.id);
                }
                got
            }));
        }
        tasks
    };
    let mut claimed = Vec::new();
    let mut busy_workers = 0;
    for task in claim_all(at(1)) {
        let got = task.await.unwrap();
        busy_workers += usize::from(!got.is_empty());
        claimed.extend(got);
    }
    assert_eq!(claimed.len(), JOBS, "each job claimed exactly once");
    assert_eq!(claimed.iter().copied().collect::<HashSet<_>>(), ids);
    eprintln!("{busy_workers} of {WORKERS} workers got jobs");

    // Nobody completes: after the lease, all jobs are claimable again, once each.
    let mut reclaimed = Vec::new();
    for task in claim_all(at(1) + chrono::TimeDelta::seconds(31)) {
        reclaimed.extend(task.await.unwrap());
    }
    assert_eq!(reclaimed.len(), JOBS);
    assert_eq!(reclaimed.iter().copied().collect::<HashSet<_>>(), ids);
    for id in &ids {
        assert_eq!(s.get_job(t.id, *id).await.unwrap().unwrap().attempts, 2);
    }
}
