//! What the queue publishes on the event bus while it works a job (real SQLite store,
//! scripted dialer): the call from created to ended with the job's facts, each page in the
//! document's numbering, the job's end; a hang-up through the live call list; and a job with
//! its own options (named gateway, one attempt) as the Event Socket's `originate` queues it.

mod queue_harness;

use engine::events::{EngineEvent, Stamped};
use engine::queue::{save_job_options, JobOptions};
use queue_harness::{Script, World, CALLEE, CALLER};
use store::JobStatus;
use tokio::sync::broadcast;

/// Everything published so far.
fn drain(rx: &mut broadcast::Receiver<Stamped>) -> Vec<EngineEvent> {
    let mut out = Vec::new();
    while let Ok(s) = rx.try_recv() {
        out.push(s.event);
    }
    out
}

fn name(e: &EngineEvent) -> &'static str {
    match e {
        EngineEvent::JobQueued { .. } => "queued",
        EngineEvent::CallCreated { .. } => "created",
        EngineEvent::CallAnswered { .. } => "answered",
        EngineEvent::CallMedia { .. } => "media",
        EngineEvent::FaxNegotiated { .. } => "negotiated",
        EngineEvent::FaxPage { .. } => "page",
        EngineEvent::CallEnded { .. } => "ended",
        EngineEvent::FaxReceived { .. } => "received",
        EngineEvent::JobDelivered { .. } => "delivered",
        EngineEvent::JobFailed { .. } => "failed",
    }
}

#[tokio::test]
async fn a_delivered_job_publishes_its_call_and_its_end() {
    let w = World::new(&[("first", 10)]).await;
    let mut rx = w.events.bus.as_ref().unwrap().subscribe();
    let job = w.submit(CALLEE, 2).await;
    assert_eq!(w.default_queue().run_until_idle().await.unwrap(), 1);
    let events = drain(&mut rx);
    let names: Vec<&str> = events.iter().map(name).collect();
    assert_eq!(names, ["created", "page", "page", "ended", "delivered"]);
    let EngineEvent::CallCreated { call } = &events[0] else {
        unreachable!()
    };
    let id = job.id.to_string();
    assert_eq!(call.job_uuid.as_deref(), Some(id.as_str()));
    assert_eq!(call.tenant_id, Some(w.tenant.0));
    assert_eq!(call.gateway.as_deref(), Some("first"));
    assert_eq!(
        (call.caller.as_str(), call.callee.as_str()),
        (CALLER, CALLEE)
    );
    let pages: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::FaxPage { page, call: c } => {
                assert_eq!(c.call_uuid, call.call_uuid);
                Some(page.page)
            }
            _ => None,
        })
        .collect();
    assert_eq!(pages, [1, 2]);
    let EngineEvent::CallEnded {
        call: ended,
        report,
    } = &events[3]
    else {
        unreachable!()
    };
    assert_eq!(ended.call_uuid, call.call_uuid);
    assert_eq!(ended.sip_call_id, "call@test", "taken from the report");
    assert!(report.is_success());
    assert_eq!(
        events[4],
        EngineEvent::JobDelivered {
            job_uuid: id,
            tenant_id: w.tenant.0
        }
    );
    assert!(w.events.calls.is_empty());
}

#[tokio::test]
async fn a_hang_up_ends_the_running_call() {
    let w = World::new(&[("first", 10)]).await;
    w.dialer
        .script("first", [Script::HangUntilCancelled { confirmed: 1 }]);
    let job = w.submit(CALLEE, 2).await;
    let q = w.default_queue();
    let running = tokio::spawn(async move { q.run_one().await });
    w.dialer.started.notified().await;
    assert_eq!(w.events.calls.len(), 1);
    assert!(!w.events.calls.hang_up("no-such-call"));
    assert!(w.events.calls.hang_up(&job.id.to_string()));
    running.await.unwrap().unwrap();
    assert!(w.events.calls.is_empty(), "the call left the list");
    let j = w.job(job.id).await;
    assert_ne!(j.status, JobStatus::Active, "the attempt ended: {j:?}");
}

#[tokio::test]
async fn job_options_name_the_gateway_and_the_attempts() {
    // "first" has the better priority; the job names "second" and allows one attempt.
    let w = World::new(&[("first", 10), ("second", 20)]).await;
    w.dialer.script("second", [Script::Sip(486, None)]);
    let mut rx = w.events.bus.as_ref().unwrap().subscribe();
    let job = w.submit(CALLEE, 1).await;
    let options = JobOptions {
        gateways: vec!["second".into()],
        attempts: Some(1),
        ring_timeout_secs: Some(20),
        variables: vec![("fax_ident".into(), "OWN IDENT".into())],
    };
    save_job_options(
        w.store.as_ref(),
        job.document_id.unwrap(),
        &options,
        w.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(w.default_queue().run_until_idle().await.unwrap(), 1);
    assert_eq!(w.dialer.gateways_dialed(), ["second"]);
    let j = w.job(job.id).await;
    assert_eq!(j.status, JobStatus::Failed, "{j:?}");
    let events = drain(&mut rx);
    let names: Vec<&str> = events.iter().map(name).collect();
    assert_eq!(names, ["created", "ended", "failed"]);
    let EngineEvent::CallCreated { call } = &events[0] else {
        unreachable!()
    };
    assert_eq!(call.gateway.as_deref(), Some("second"));
}
