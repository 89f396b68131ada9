//! The queue's workers against a real SQLite store and a scripted dialer: priorities and
//! failover, retries with back-off and Retry-After, final causes, resending only the pages
//! the far end has not confirmed, and the tracker. Time is a manual clock: back-offs are
//! stepped over, never waited for.

mod common;
mod queue_harness;

use std::time::Duration;

use chrono::TimeDelta;
use engine::call::{overload_counts, start_media_scheduler, OverloadGuard};
use engine::queue::{Caps, Limits, Phase, Queue};
use queue_harness::{t0, Script, World, CALLEE};
use store::{Job, JobStatus, Scope};

const MIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn first_success_ends_delivery() {
    let w = World::new(&[("second", 20), ("first", 10)]).await;
    let job = w.submit(CALLEE, 3).await;
    let q = w.default_queue();
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    assert_eq!(
        w.dialer.gateways_dialed(),
        vec!["first"],
        "priority 20 never dialled"
    );
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Done);
    assert_eq!(w.pages_per_attempt(job.id).await, vec![vec![1, 2, 3]]);
    let kinds = w.events(job.id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "job.completed").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"attempt.ended".to_owned()));
    let attempts = w.store.list_attempts(w.tenant, job.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].result_code, Some(0));
    assert_eq!(attempts[0].pages, 3);
    assert!(attempts[0].ended_at.is_some());
    let d = &w.dialer.dialed.lock().unwrap()[0];
    assert_eq!(
        (d.caller.as_str(), d.callee.as_str(), d.pages),
        (queue_harness::CALLER, CALLEE, 3)
    );
    let view = w.tracker.view(w.clock.now());
    assert_eq!(view.active, 0);
    assert_eq!(view.recent[0].phase, Phase::Done);
    assert!(view.recent[0].result_success);
    assert_eq!(view.recent[0].pages_sent, 3);
}

#[tokio::test]
async fn gateways_marked_down_are_skipped_until_they_answer_again() {
    let w = World::new(&[("a", 1), ("b", 2)]).await;
    w.dialer.down.lock().unwrap().push("a".into());
    let first = w.submit(CALLEE, 1).await;
    let q = w.default_queue();
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    assert_eq!(
        w.dialer.gateways_dialed(),
        vec!["b"],
        "the down gateway is skipped"
    );
    assert_eq!(w.job(first.id).await.status, JobStatus::Done);

    // Every gateway down: the job waits without spending an attempt, then goes to the first
    // gateway once it answers again.
    w.dialer.down.lock().unwrap().push("b".into());
    let second = w.submit(CALLEE, 1).await;
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    let j = w.job(second.id).await;
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(j.next_attempt_at, t0() + TimeDelta::seconds(30));
    assert_eq!(w.dialer.gateways_dialed(), vec!["b"], "nothing dialled");
    assert!(
        w.store
            .list_attempts(w.tenant, second.id)
            .await
            .unwrap()
            .is_empty(),
        "no attempt counted"
    );
    w.dialer.down.lock().unwrap().clear();
    w.clock.advance(Duration::from_secs(30));
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    assert_eq!(w.dialer.gateways_dialed(), vec!["b", "a"]);
    assert_eq!(w.job(second.id).await.status, JobStatus::Done);
}

#[tokio::test]
async fn busy_backs_off_then_fails_over() {
    let w = World::new(&[("a", 1), ("b", 2)]).await;
    w.dialer
        .script("a", [Script::Sip(486, None), Script::Sip(486, None)]);
    let job = w.submit(CALLEE, 1).await;
    let q = w.default_queue();
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(j.next_attempt_at, t0() + TimeDelta::minutes(1));
    assert!(
        j.last_error.as_deref().unwrap_or_default().contains("486"),
        "{j:?}"
    );
    let view = w.tracker.view(w.clock.now());
    assert_eq!(view.items[0].phase, Phase::Waiting);
    assert_eq!(view.items[0].endpoint_value, "a");

    // Not due yet: nothing runs.
    w.clock.advance(Duration::from_secs(59));
    assert_eq!(q.run_until_idle().await.unwrap(), 0);
    w.clock.advance(Duration::from_secs(1));
    // Busy again: attempts on `a` are used up, so `b` at once, in the same pass.
    assert_eq!(q.run_until_idle().await.unwrap(), 2);
    assert_eq!(w.dialer.gateways_dialed(), vec!["a", "a", "b"]);
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
}

#[tokio::test]
async fn equal_priorities_in_order_666_never_999_last() {
    let w = World::new(&[("last", 999), ("x", 5), ("never", 666), ("y", 5)]).await;
    for g in ["last", "x", "y", "never"] {
        w.dialer.script(g, [Script::Sip(503, None)]);
    }
    let job = w.submit(CALLEE, 1).await;
    let mut s = w.settings();
    s.retry_attempts = 1;
    let q = w.queue(s.clone(), Limits::new(w.caps()));
    q.run_until_idle().await.unwrap();
    assert_eq!(w.dialer.gateways_dialed(), vec!["x", "y", "last"]);
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Failed);
    let err = j.last_error.unwrap_or_default();
    assert!(
        err.contains("503") && err.contains("after 3 attempt"),
        "{err}"
    );
    let kinds = w.events(job.id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "job.failed").count(), 1);
}

#[tokio::test]
async fn a_number_that_does_not_exist_is_not_redialled() {
    let w = World::new(&[("a", 1), ("b", 2)]).await;
    w.dialer.script("a", [Script::Sip(404, None)]);
    let job = w.submit(CALLEE, 1).await;
    w.default_queue().run_until_idle().await.unwrap();
    assert_eq!(w.dialer.gateways_dialed(), vec!["a"]);
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Failed);
    assert!(j.last_error.unwrap_or_default().contains("404"));
    let view = w.tracker.view(w.clock.now());
    assert!(!view.recent[0].result_success);
}

#[tokio::test]
async fn failed_response_makes_busy_final() {
    let w = World::new(&[("a", 1)]).await;
    w.dialer.script("a", [Script::Sip(486, None)]);
    let job = w.submit(CALLEE, 1).await;
    let mut s = w.settings();
    s.failed_response = vec!["USER_BUSY".into()];
    w.queue(s.clone(), Limits::new(w.caps()))
        .run_until_idle()
        .await
        .unwrap();
    assert_eq!(w.job(job.id).await.status, JobStatus::Failed);
    assert_eq!(w.dialer.gateways_dialed().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let w = World::new(&[("only", 1)]).await;
    w.dialer.script("only", [Script::Sip(503, Some(600))]);
    let job = w.submit(CALLEE, 1).await;
    let q = w.default_queue();
    q.run_until_idle().await.unwrap();
    assert_eq!(
        w.job(job.id).await.next_attempt_at,
        t0() + TimeDelta::minutes(10)
    );
    w.clock.advance(9 * MIN);
    assert_eq!(
        q.run_until_idle().await.unwrap(),
        0,
        "not before Retry-After"
    );
    w.clock.advance(MIN);
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
}

#[tokio::test]
async fn a_retry_sends_only_the_unconfirmed_pages() {
    let w = World::new(&[("a", 1)]).await;
    w.dialer.script(
        "a",
        [
            Script::Fax {
                confirmed: 2,
                code: 49,
            },
            Script::Fax {
                confirmed: 1,
                code: 0,
            },
        ],
    );
    let job = w.submit(CALLEE, 3).await;
    let q = w.default_queue();
    q.run_until_idle().await.unwrap();
    assert_eq!(w.job(job.id).await.status, JobStatus::Queued);
    assert_eq!(w.tracker.view(w.clock.now()).items[0].pages_sent, 2);
    w.clock.advance(MIN);
    q.run_until_idle().await.unwrap();
    let dialed = w.dialer.dialed.lock().unwrap().clone();
    assert_eq!(
        dialed.iter().map(|d| d.pages).collect::<Vec<_>>(),
        vec![3, 1],
        "the retry carries page 3 alone"
    );
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
    assert_eq!(
        w.pages_per_attempt(job.id).await,
        vec![vec![1, 2], vec![3]],
        "page results keep the document's numbering"
    );
}

#[tokio::test]
async fn the_whole_document_when_configured() {
    let w = World::new(&[("a", 1)]).await;
    w.dialer.script(
        "a",
        [Script::Fax {
            confirmed: 2,
            code: 49,
        }],
    );
    let job = w.submit(CALLEE, 3).await;
    let mut s = w.settings();
    s.resend_unconfirmed_pages = false;
    let q = w.queue(s.clone(), Limits::new(w.caps()));
    q.run_until_idle().await.unwrap();
    w.clock.advance(MIN);
    q.run_until_idle().await.unwrap();
    let pages: Vec<usize> = w
        .dialer
        .dialed
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.pages)
        .collect();
    assert_eq!(pages, vec![3, 3]);
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
}

#[tokio::test]
async fn tenant_endpoints_for_our_own_numbers() {
    // A fax to a number of ours goes to that number's endpoint, not upstream.
    let w = World::new(&[("upstream", 1)]).await;
    let n = w
        .store
        .create_number(
            w.tenant,
            &store::NewNumber {
                number: store::NumberRules::nanp()
                    .normalize("+15551230002")
                    .unwrap(),
                name: String::new(),
                header: String::new(),
                notify: String::new(),
            },
        )
        .await
        .unwrap();
    w.gateway("pbx", Some((Scope::Number, n.id.0)), 1).await;
    let job = w.submit("+15551230002", 1).await;
    w.default_queue().run_until_idle().await.unwrap();
    assert_eq!(w.dialer.gateways_dialed(), vec!["pbx"]);
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
}

#[tokio::test]
async fn no_gateway_fails_with_a_reason() {
    let w = World::new(&[]).await;
    let job = w.submit(CALLEE, 1).await;
    w.default_queue().run_until_idle().await.unwrap();
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Failed);
    assert!(j.last_error.unwrap_or_default().contains("no gateway"));
}

#[tokio::test]
async fn caps_hand_jobs_back_without_counting_an_attempt() {
    let w = World::new(&[("a", 1)]).await;
    let job = w.submit(CALLEE, 1).await;
    let s = w.settings();
    let caps = Caps {
        per_tenant: Some(1),
        gateway_cps: None,
        ..Caps::default()
    };
    let limits = Limits::new(caps);
    let q = w.queue(s.clone(), limits.clone());
    // Another call of the same tenant holds its only channel.
    let held = limits
        .channel(limits.try_global_slot().unwrap(), w.tenant, None)
        .unwrap();
    assert_eq!(q.run_until_idle().await.unwrap(), 1);
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(j.next_attempt_at, t0() + TimeDelta::seconds(2));
    assert!(w.dialer.gateways_dialed().is_empty());
    assert!(w
        .store
        .list_attempts(w.tenant, job.id)
        .await
        .unwrap()
        .is_empty());
    drop(held);
    w.clock.advance(Duration::from_secs(2));
    q.run_until_idle().await.unwrap();
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
    assert_eq!(
        w.store.list_attempts(w.tenant, job.id).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_gateway_answering_503_is_paused_for_every_job() {
    let w = World::new(&[("a", 1)]).await;
    w.dialer.script("a", [Script::Sip(503, Some(30))]);
    let first = w.submit(CALLEE, 1).await;
    let q = w.default_queue();
    assert_eq!(q.run_one().await.unwrap(), Some(first.id));
    // A second job for the same gateway waits out the gateway's pause without dialling.
    let second = w.submit(CALLEE, 1).await;
    assert_eq!(q.run_one().await.unwrap(), Some(second.id));
    assert_eq!(w.dialer.gateways_dialed().len(), 1);
    let j = w.job(second.id).await;
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(j.next_attempt_at, t0() + TimeDelta::seconds(30));
}

/// Two nodes' workers drain one queue at once: every job is dialled exactly once.
async fn two_nodes_share_the_queue(w: World) {
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(w.submit(CALLEE, 1).await.id);
    }
    let (a, b) = (w.default_queue(), {
        let s = w.settings();
        w.queue_as("node-b", s.clone(), Limits::new(w.caps()))
    });
    let (na, nb) = tokio::join!(async { a.run_until_idle().await.unwrap() }, async {
        b.run_until_idle().await.unwrap()
    });
    assert_eq!(na + nb, ids.len(), "each job ran once");
    assert_eq!(
        w.dialer.gateways_dialed().len(),
        ids.len(),
        "each job dialled once"
    );
    for id in ids {
        assert_eq!(w.job(id).await.status, JobStatus::Done);
        assert_eq!(w.store.list_attempts(w.tenant, id).await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_sqlite() {
    two_nodes_share_the_queue(World::new(&[("a", 1)]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres() {
    if let Some(w) = World::new_pg("two_nodes_on_postgres", &[("a", 1)]).await {
        two_nodes_share_the_queue(w).await;
    }
}

#[tokio::test]
async fn backoff_and_failover_on_postgres() {
    let Some(w) = World::new_pg("backoff_and_failover_on_postgres", &[("a", 1), ("b", 2)]).await
    else {
        return;
    };
    w.dialer
        .script("a", [Script::Sip(486, None), Script::Sip(486, None)]);
    let job = w.submit(CALLEE, 2).await;
    let q = w.default_queue();
    q.run_until_idle().await.unwrap();
    assert_eq!(
        w.job(job.id).await.next_attempt_at,
        t0() + TimeDelta::minutes(1)
    );
    w.clock.advance(MIN);
    q.run_until_idle().await.unwrap();
    assert_eq!(w.dialer.gateways_dialed(), vec!["a", "a", "b"]);
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
}

/// A world with one 1-page job that succeeds, and a queue whose overload guard holds jobs
/// back while the media clock is more than 100 ms late.
async fn guarded_queue() -> (World, Job, Queue) {
    let w = World::new(&[("a", 1)]).await;
    w.dialer.script(
        "a",
        [Script::Fax {
            confirmed: 1,
            code: 0,
        }],
    );
    let job = w.submit(CALLEE, 1).await;
    let mut settings = w.settings();
    settings.overload = Some(OverloadGuard {
        max_lateness: Duration::from_millis(100),
        ..OverloadGuard::default()
    });
    let q = w.queue(settings, Limits::new(w.caps()));
    (w, job, q)
}

// One thread, so that blocking it starves the media scheduler for sure.
#[tokio::test(flavor = "current_thread")]
async fn no_job_is_claimed_while_the_media_clock_is_late() {
    let (w, job, q) = guarded_queue().await;
    start_media_scheduler(1);
    // Stands for a process short of CPU: no shard ticks for 400 ms.
    std::thread::sleep(Duration::from_millis(400));
    let skipped_before = overload_counts().claims_skipped;
    assert_eq!(q.run_one().await.unwrap(), None);
    assert_eq!(q.held_back(), 1);
    assert!(
        overload_counts().claims_skipped > skipped_before,
        "the skipped claim is counted for /metrics"
    );
    assert!(w.dialer.gateways_dialed().is_empty());
    assert_eq!(w.job(job.id).await.status, JobStatus::Queued);

    common::media_caught_up(Duration::from_millis(100)).await;
    assert_eq!(q.run_one().await.unwrap(), Some(job.id));
    assert_eq!(w.job(job.id).await.status, JobStatus::Done);
}

// One thread, so that blocking it starves the media scheduler for sure.
#[tokio::test(flavor = "current_thread")]
async fn the_worker_loop_claims_nothing_while_the_media_clock_is_late() {
    let (w, job, q) = guarded_queue().await;
    let runner = tokio::spawn(q.clone().run(Duration::ZERO));
    start_media_scheduler(1);
    std::thread::sleep(Duration::from_millis(400));
    // A failure guard, not a delay: the loop looks at once and finds the clock late.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while q.held_back() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the loop never held back"
        );
        tokio::task::yield_now().await;
    }
    assert!(w.dialer.gateways_dialed().is_empty());
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Queued);
    assert!(j.lease_owner.is_none(), "not even claimed");

    // Once the shards have caught up, the loop's next look takes the job.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.job(job.id).await.status != JobStatus::Done {
        assert!(tokio::time::Instant::now() < deadline, "the job never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.shutdown.stop();
    runner.await.unwrap();
}
