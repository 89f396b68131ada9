//! Nothing lost, nothing sent twice: a worker that died mid-call (its lease lapses, or its
//! node restarts), a shutdown that cancels a call and hands its job back.

mod queue_harness;

use std::time::Duration;

use engine::queue::Shutdown;
use queue_harness::{Script, World, CALLEE};
use store::{AttemptId, JobId, JobStatus, NewAttempt, NewPageResult};

/// Leaves `job` as a worker `worker` that died during a call would: claimed, an attempt on
/// the first endpoint open, `confirmed` pages recorded.
async fn die_mid_call(w: &World, worker: &str, job: JobId, confirmed: i64) -> AttemptId {
    let claimed = w
        .store
        .claim_next_job(worker, Duration::from_secs(60), w.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, job);
    let endpoint = w.store.list_endpoints(None).await.unwrap()[0].clone();
    let gateway = w.store.list_gateways().await.unwrap()[0].clone();
    let attempt = w
        .store
        .start_attempt(&NewAttempt {
            job_id: job,
            endpoint_id: Some(endpoint.id),
            gateway_id: Some(gateway.id),
            started_at: w.clock.now(),
        })
        .await
        .unwrap();
    for page in 1..=confirmed {
        w.store
            .add_page_result(&NewPageResult {
                attempt_id: attempt.id,
                page,
                result_code: 0,
                bad_rows: 0,
                detail: String::new(),
            })
            .await
            .unwrap();
    }
    attempt.id
}

#[tokio::test]
async fn a_dead_workers_job_resumes_after_its_lease() {
    let w = World::new(&[("a", 1)]).await;
    let job = w.submit(CALLEE, 3).await;
    let attempt = die_mid_call(&w, "node-dead", job.id, 1).await;
    let q = w.default_queue();
    assert_eq!(
        q.run_until_idle().await.unwrap(),
        0,
        "the lease still holds"
    );
    w.clock.advance(Duration::from_secs(61));
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    let dialed = w.dialer.dialed.lock().unwrap().clone();
    assert_eq!(dialed.len(), 1);
    assert_eq!(dialed[0].pages, 2, "page 1 was confirmed before the crash");
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
    let kinds = w.events(job.id).await;
    assert!(
        kinds.contains(&"attempt.interrupted".to_owned()),
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| *k == "job.completed").count(), 1);
    let attempts = w.store.list_attempts(w.tenant, job.id).await.unwrap();
    let dead = attempts.iter().find(|a| a.id == attempt).unwrap();
    assert!(dead.ended_at.is_some(), "the cut-short attempt is closed");
    assert!(
        dead.result_text.contains("interrupted"),
        "{}",
        dead.result_text
    );
    assert_eq!(w.pages_per_attempt(job.id).await, vec![vec![1], vec![2, 3]]);
}

#[tokio::test]
async fn every_page_confirmed_before_the_crash_is_not_sent_again() {
    let w = World::new(&[("a", 1)]).await;
    let job = w.submit(CALLEE, 3).await;
    die_mid_call(&w, "node-dead", job.id, 3).await;
    w.clock.advance(Duration::from_secs(61));
    assert_eq!(w.default_queue().run_until_idle().await.unwrap(), 1);
    assert!(w.dialer.gateways_dialed().is_empty(), "nothing dialled");
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
}

#[tokio::test]
async fn a_restarted_node_takes_its_jobs_back_at_once() {
    let w = World::new(&[("a", 1)]).await;
    let job = w.submit(CALLEE, 2).await;
    let other = w.submit(CALLEE, 1).await;
    die_mid_call(&w, "node-a", job.id, 0).await;
    // Another node's job is not this node's to release.
    let foreign = w
        .store
        .claim_next_job("node-b", Duration::from_secs(60), w.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(foreign.id, other.id);
    let q = w.default_queue();
    assert_eq!(q.release_own_leases().await.unwrap(), 1);
    assert_eq!(q.run_until_idle().await.unwrap(), 1, "no lease to wait for");
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
    assert_eq!(w.job(other.id).await.status, JobStatus::Active);
    let dialed = w.dialer.dialed.lock().unwrap().clone();
    assert_eq!(dialed[0].pages, 2);
}

#[tokio::test]
async fn shutdown_cancels_the_call_and_hands_the_job_back() {
    let w = World::new(&[("a", 1)]).await;
    w.dialer
        .script("a", [Script::HangUntilCancelled { confirmed: 1 }]);
    let job = w.submit(CALLEE, 3).await;
    let q = w.default_queue();
    let started = w.dialer.started.notified();
    let runner = tokio::spawn(q.run(Duration::ZERO));
    started.await;
    w.shutdown.stop();
    tokio::time::timeout(Duration::from_secs(30), runner)
        .await
        .expect("the loop ends after the grace time")
        .unwrap();
    assert!(w.shutdown.is_cancelled());
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Queued, "handed back, not failed");
    assert_eq!(j.next_attempt_at, w.clock.now());
    assert!(j.lease_owner.is_none());
    let kinds = w.events(job.id).await;
    assert!(
        kinds.contains(&"attempt.interrupted".to_owned()),
        "{kinds:?}"
    );
    assert!(!kinds
        .iter()
        .any(|k| k == "job.failed" || k == "job.completed"));
    assert_eq!(w.tracker.view(w.clock.now()).active, 0);

    // After the restart the job resumes at page 2 and is delivered once.
    let w2_shutdown = Shutdown::new();
    let mut s = w.settings();
    s.retry_attempts = 3;
    let q2 = engine::queue::Queue::new(engine::queue::QueueParts {
        store: w.store.clone(),
        dialer: w.dialer.clone(),
        settings: s.clone(),
        limits: engine::queue::Limits::new(w.caps()),
        tracker: w.tracker.clone(),
        clock: w.clock.clock(),
        worker: "node-a".into(),
        shutdown: w2_shutdown,
        events: w.events.clone(),
    });
    assert_eq!(q2.run_until_idle().await.unwrap(), 1);
    let dialed = w.dialer.dialed.lock().unwrap().clone();
    assert_eq!(
        dialed.iter().map(|d| d.pages).collect::<Vec<_>>(),
        vec![3, 2]
    );
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
    assert_eq!(w.pages_per_attempt(job.id).await, vec![vec![1], vec![2, 3]]);
}

#[tokio::test]
async fn a_crash_loop_ends() {
    // Every claim dies mid-call: interrupted attempts count, so the job fails in the end
    // instead of being dialled forever.
    let w = World::new(&[("a", 1)]).await;
    let job = w.submit(CALLEE, 1).await;
    for _ in 0..2 {
        die_mid_call(&w, "node-dead", job.id, 0).await;
        w.clock.advance(Duration::from_secs(61));
    }
    let q = w.default_queue();
    q.run_until_idle().await.unwrap();
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Failed, "{j:?}");
    assert!(w.dialer.gateways_dialed().is_empty());
}
