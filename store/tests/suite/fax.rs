//! What the tenant fax routes need: submission with idempotency keys, cancellation with its
//! state check, and the filtered, keyset-paginated listing.

use std::collections::HashSet;
use std::time::Duration;

use chrono::TimeDelta;
use store::*;

use super::queue::{drain, new_job};
use super::{at, t0, tenant};

const LEASE: Duration = Duration::from_secs(30);
/// SHA-256 of `abc` (FIPS 180-2, appendix B.1).
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/// Runs the checks in order; the queue is drained first so that claims see only these jobs.
pub async fn run(s: &dyn Store) {
    drain(s, at(2_000_000)).await;
    submission(s).await;
    idempotency(s).await;
    concurrent_same_key(s).await;
    cancellation(s).await;
    listing(s).await;
}

fn doc(tenant: TenantId, data: &[u8]) -> NewDocument {
    NewDocument {
        tenant_id: tenant,
        content_type: "image/tiff".into(),
        pages: 3,
        data: data.to_vec(),
    }
}

fn key(k: &str, hash: u8, expired_before: chrono::DateTime<chrono::Utc>) -> NewIdempotencyKey {
    NewIdempotencyKey {
        key: k.into(),
        request_hash: vec![hash; 32],
        expired_before,
    }
}

fn created(s: Submission) -> Job {
    match s {
        Submission::Created(j) => j,
        other => panic!("expected a new job, got {other:?}"),
    }
}

fn key_in_use(s: Submission) -> IdempotencyKey {
    match s {
        Submission::KeyInUse(k) => k,
        other => panic!("expected the key in use, got {other:?}"),
    }
}

async fn count_jobs(s: &dyn Store, t: TenantId) -> usize {
    s.list_jobs_filtered(t, &JobFilter::default(), 1000)
        .await
        .unwrap()
        .len()
}

async fn submission(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Submit"), t0()).await.unwrap().id;
    let other = s.create_tenant(&tenant("Other"), t0()).await.unwrap().id;
    // The job's document id is the store's to set.
    let j = created(
        s.submit_job(&doc(t, b"abc"), &new_job(t, None, 0), None, at(1))
            .await
            .unwrap(),
    );
    assert_eq!(
        (j.status, j.created_at, j.cancelled_at),
        (JobStatus::Queued, at(1), None)
    );
    let d = j.document_id.expect("document attached");
    let stored = s.get_document(t, d).await.unwrap().unwrap();
    assert_eq!(
        (stored.data.as_slice(), stored.sha256.as_deref()),
        (&b"abc"[..], Some(ABC_SHA256))
    );
    let info = s.get_document_info(t, d).await.unwrap().unwrap();
    assert_eq!(
        (
            info.size,
            info.pages,
            info.sha256.as_deref(),
            info.created_at
        ),
        (3, 3, Some(ABC_SHA256), at(1))
    );
    assert_eq!(s.get_document_info(other, d).await.unwrap(), None);
    // Documents stored one by one get their hash too.
    let d2 = s.create_document(&doc(t, b"abc"), at(2)).await.unwrap();
    assert_eq!(
        s.get_document_info(t, d2).await.unwrap().unwrap().sha256,
        Some(ABC_SHA256.into())
    );

    // A document and a job of different tenants: nothing is stored.
    let mixed = s
        .submit_job(&doc(other, b"x"), &new_job(t, None, 0), None, at(3))
        .await;
    assert!(matches!(mixed, Err(Error::Invalid { .. })), "{mixed:?}");
    assert_eq!(count_jobs(s, t).await, 1);
    assert_eq!(count_jobs(s, other).await, 0);
}

async fn idempotency(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Idem"), t0()).await.unwrap().id;
    let u = s.create_tenant(&tenant("Idem2"), t0()).await.unwrap().id;
    let window_start = |now| now - TimeDelta::hours(24);

    let first = created(
        s.submit_job(
            &doc(t, b"one"),
            &new_job(t, None, 0),
            Some(&key("k1", 1, window_start(at(10)))),
            at(10),
        )
        .await
        .unwrap(),
    );
    // A repeat, with the same request or another: nothing new, the first use is reported.
    for hash in [1, 2] {
        let k = key_in_use(
            s.submit_job(
                &doc(t, b"two"),
                &new_job(t, None, 0),
                Some(&key("k1", hash, window_start(at(20)))),
                at(20),
            )
            .await
            .unwrap(),
        );
        assert_eq!(
            (k.tenant_id, k.key.as_str(), k.job_id, k.created_at),
            (t, "k1", first.id, at(10))
        );
        assert_eq!(k.request_hash, vec![1; 32]);
    }
    assert_eq!(count_jobs(s, t).await, 1, "no second job");
    let stored = s
        .get_idempotency_key(t, "k1", window_start(at(20)))
        .await
        .unwrap();
    assert_eq!(stored.map(|k| k.job_id), Some(first.id));

    // Keys are per tenant.
    let theirs = created(
        s.submit_job(
            &doc(u, b"one"),
            &new_job(u, None, 0),
            Some(&key("k1", 1, window_start(at(30)))),
            at(30),
        )
        .await
        .unwrap(),
    );
    assert_ne!(theirs.id, first.id);

    // 24 hours on, the key has expired: invisible, and a new use replaces it.
    let day = at(10) + TimeDelta::hours(24);
    assert_eq!(
        s.get_idempotency_key(t, "k1", window_start(day))
            .await
            .unwrap(),
        None
    );
    let again = created(
        s.submit_job(
            &doc(t, b"one"),
            &new_job(t, None, 0),
            Some(&key("k1", 1, window_start(day))),
            day,
        )
        .await
        .unwrap(),
    );
    let k = s
        .get_idempotency_key(t, "k1", window_start(day))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((k.job_id, k.created_at), (again.id, day));

    // Purge removes keys older than the cutoff only.
    assert_eq!(
        s.purge_idempotency_keys(at(31)).await.unwrap(),
        1,
        "u's key"
    );
    assert_eq!(s.get_idempotency_key(u, "k1", at(0)).await.unwrap(), None);
    assert!(s
        .get_idempotency_key(t, "k1", at(0))
        .await
        .unwrap()
        .is_some());
    // Deleting a tenant takes its keys (and jobs) with it.
    assert!(s.delete_tenant(t).await.unwrap());
    assert_eq!(
        s.purge_idempotency_keys(day + TimeDelta::days(9))
            .await
            .unwrap(),
        0
    );
}

/// Four submissions with one key at once: exactly one job, and every caller learns its id.
async fn concurrent_same_key(s: &dyn Store) {
    let t = s.create_tenant(&tenant("Race"), t0()).await.unwrap().id;
    let submit = |n: u8| async move {
        s.submit_job(
            &doc(t, &[n]),
            &new_job(t, None, 0),
            Some(&key("race", 7, at(0))),
            at(100),
        )
        .await
        .unwrap()
    };
    let (a, b, c, d) = tokio::join!(submit(1), submit(2), submit(3), submit(4));
    let mut made = Vec::new();
    let mut seen = HashSet::new();
    for r in [a, b, c, d] {
        match r {
            Submission::Created(j) => {
                seen.insert(j.id);
                made.push(j.id);
            }
            Submission::KeyInUse(k) => {
                seen.insert(k.job_id);
            }
        }
    }
    assert_eq!(made.len(), 1, "one submission wins");
    assert_eq!(seen.len(), 1, "the others are told its job");
    assert_eq!(count_jobs(s, t).await, 1);
}

async fn cancellation(s: &dyn Store) {
    drain(s, at(2_000_000)).await;
    let t = s.create_tenant(&tenant("Cancel"), t0()).await.unwrap().id;
    let other = s.create_tenant(&tenant("NotMine"), t0()).await.unwrap().id;
    let queued = s.create_job(&new_job(t, None, 0), t0()).await.unwrap();
    let backoff = s.create_job(&new_job(t, None, 1), t0()).await.unwrap();
    let active = s.create_job(&new_job(t, None, 2), t0()).await.unwrap();
    let done = s.create_job(&new_job(t, None, 3), t0()).await.unwrap();

    // Claims go by priority: `queued` first, given back to wait for a retry at 500.
    let c = s.claim_next_job("w", LEASE, at(1)).await.unwrap().unwrap();
    assert_eq!(c.id, queued.id);
    let retry = JobFailure::Retry {
        at: at(500),
        error: "busy".into(),
    };
    assert!(s.fail_job(c.id, "w", &retry, at(2)).await.unwrap());
    let c = s.claim_next_job("w", LEASE, at(3)).await.unwrap().unwrap();
    assert_eq!(c.id, backoff.id);
    assert!(s.fail_job(c.id, "w", &retry, at(4)).await.unwrap());
    let c = s.claim_next_job("w", LEASE, at(5)).await.unwrap().unwrap();
    assert_eq!(c.id, active.id);
    let c = s.claim_next_job("w", LEASE, at(5)).await.unwrap().unwrap();
    assert_eq!(c.id, done.id);
    assert!(s.complete_job(done.id, "w", at(6)).await.unwrap());

    // Waiting to retry is cancellable, and so is a job never tried.
    let fresh = s.create_job(&new_job(t, None, 0), at(7)).await.unwrap();
    for id in [backoff.id, fresh.id] {
        match s.cancel_job(t, id, at(10)).await.unwrap() {
            CancelOutcome::Cancelled(j) => {
                assert_eq!(
                    (j.id, j.status, j.cancelled_at, j.last_error.as_deref()),
                    (id, JobStatus::Failed, Some(at(10)), Some("cancelled"))
                );
                assert!(j.is_cancelled());
            }
            other => panic!("expected cancelled, got {other:?}"),
        }
    }
    // A second cancel changes nothing.
    match s.cancel_job(t, fresh.id, at(11)).await.unwrap() {
        CancelOutcome::AlreadyCancelled(j) => assert_eq!(j.cancelled_at, Some(at(10))),
        other => panic!("expected already cancelled, got {other:?}"),
    }
    // Held by a worker, or ended: left alone.
    for (id, status) in [(active.id, JobStatus::Active), (done.id, JobStatus::Done)] {
        match s.cancel_job(t, id, at(12)).await.unwrap() {
            CancelOutcome::NotCancellable(j) => {
                assert_eq!((j.status, j.cancelled_at), (status, None))
            }
            other => panic!("expected not cancellable, got {other:?}"),
        }
    }
    // Another tenant's job, or none at all.
    assert_eq!(
        s.cancel_job(other, queued.id, at(12)).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        s.cancel_job(t, JobId(uuid::Uuid::new_v4()), at(12))
            .await
            .unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(
        s.get_job(t, queued.id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    // The holder of the active job's lease finishes its work as usual.
    assert!(s.complete_job(active.id, "w", at(20)).await.unwrap());
    // Cancelled jobs are never claimed; the one left queued is, when due.
    let next = s.claim_next_job("w", LEASE, at(600)).await.unwrap();
    assert_eq!(next.map(|j| j.id), Some(queued.id));
    assert_eq!(s.claim_next_job("w", LEASE, at(600)).await.unwrap(), None);
    assert!(s.complete_job(queued.id, "w", at(601)).await.unwrap());
}

/// Newest first, then by id: the order pages are read in.
fn newest_first(jobs: &mut [Job]) {
    jobs.sort_by_key(|j| std::cmp::Reverse((j.created_at, j.id)));
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}

/// Every page of a listing with `limit`, following the cursor.
async fn all_pages(s: &dyn Store, t: TenantId, filter: &JobFilter, limit: u32) -> Vec<JobId> {
    let mut out = Vec::new();
    let mut f = filter.clone();
    loop {
        let page = s.list_jobs_filtered(t, &f, limit).await.unwrap();
        assert!(page.len() <= limit as usize);
        out.extend(ids(&page));
        match page.last() {
            Some(last) if page.len() == limit as usize => f.after = Some(JobCursor::after(last)),
            _ => return out,
        }
    }
}

async fn listing(s: &dyn Store) {
    drain(s, at(2_000_000)).await;
    let l = s.create_tenant(&tenant("List"), t0()).await.unwrap().id;
    let m = s.create_tenant(&tenant("Else"), t0()).await.unwrap().id;
    // Three jobs in one microsecond, so that pages split a tie on created_at.
    let times = [100, 101, 101, 101, 102, 103, 104];
    let mut jobs = Vec::new();
    for (i, secs) in times.into_iter().enumerate() {
        let mut j = new_job(l, None, 0);
        if i % 2 == 1 {
            j.direction = Direction::Inbound;
        }
        jobs.push(s.create_job(&j, at(secs)).await.unwrap());
    }
    let theirs = s.create_job(&new_job(m, None, 0), at(101)).await.unwrap();
    newest_first(&mut jobs);
    let all = JobFilter::default();

    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(
            all_pages(s, l, &all, limit).await,
            ids(&jobs),
            "limit {limit}"
        );
    }
    assert!(s.list_jobs_filtered(l, &all, 0).await.unwrap().is_empty());
    assert_eq!(all_pages(s, m, &all, 2).await, vec![theirs.id]);

    let inbound = JobFilter {
        direction: Some(Direction::Inbound),
        ..all.clone()
    };
    let want: Vec<JobId> = jobs
        .iter()
        .filter(|j| j.direction == Direction::Inbound)
        .map(|j| j.id)
        .collect();
    assert_eq!(want.len(), 3);
    assert_eq!(all_pages(s, l, &inbound, 2).await, want);

    // Created in [101, 103): the three ties and the one at 102, still newest first.
    let range = JobFilter {
        created_from: Some(at(101)),
        created_before: Some(at(103)),
        ..all.clone()
    };
    let want: Vec<JobId> = jobs
        .iter()
        .filter(|j| j.created_at >= at(101) && j.created_at < at(103))
        .map(|j| j.id)
        .collect();
    assert_eq!(want.len(), 4);
    assert_eq!(all_pages(s, l, &range, 2).await, want);

    // States: two cancelled (one each way), the oldest claimed, the rest queued.
    let (c1, c2) = (jobs[0].id, jobs[1].id);
    for id in [c1, c2] {
        assert!(matches!(
            s.cancel_job(l, id, at(150)).await.unwrap(),
            CancelOutcome::Cancelled(_)
        ));
    }
    let oldest = jobs.last().unwrap().id;
    let claimed = s.claim_next_job("w", LEASE, at(200)).await.unwrap();
    assert_eq!(claimed.map(|j| j.id), Some(oldest));
    let by = |status, cancelled| JobFilter {
        status,
        cancelled,
        ..all.clone()
    };
    assert_eq!(
        all_pages(s, l, &by(None, Some(true)), 1).await,
        vec![c1, c2]
    );
    assert_eq!(
        all_pages(s, l, &by(Some(JobStatus::Failed), Some(false)), 5).await,
        Vec::<JobId>::new()
    );
    assert_eq!(
        all_pages(s, l, &by(Some(JobStatus::Active), None), 5).await,
        vec![oldest]
    );
    let queued: Vec<JobId> = ids(&jobs[2..jobs.len() - 1]);
    assert_eq!(
        all_pages(s, l, &by(Some(JobStatus::Queued), None), 2).await,
        queued
    );
    // Filters combine: inbound, not cancelled, in the range.
    let combined = JobFilter {
        cancelled: Some(false),
        ..JobFilter {
            direction: Some(Direction::Inbound),
            ..range
        }
    };
    let want: Vec<JobId> = jobs
        .iter()
        .filter(|j| {
            j.direction == Direction::Inbound
                && j.created_at >= at(101)
                && j.created_at < at(103)
                && ![c1, c2].contains(&j.id)
        })
        .map(|j| j.id)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(all_pages(s, l, &combined, 1).await, want);
    assert!(s.complete_job(oldest, "w", at(201)).await.unwrap());
}
