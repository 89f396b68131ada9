//! Webhooks against a real HTTP receiver on loopback: Standard Webhooks signatures checked
//! by the receiver, retries on the back-off schedule (a manual clock stands in for a day),
//! gofaxserver's delivery payload, permanent refusals, and the delivery log in the store.

mod common;

use base64::Engine as _;
use chrono::TimeDelta;
use common::*;
use engine::documents::fax_tiff_to_pdf;
use notify::signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use notify::*;
use serde_json::{json, Value};
use store::*;

fn sender(e: &Env, clock: &Clock) -> DeliverySender {
    DeliverySender::new(
        e.store.clone(),
        clock.clone(),
        None,
        SenderConfig::default(),
    )
    .expect("sender")
}

fn delivered_event(e: &Env, job: &Job, clock: &Clock) -> Lifecycle {
    Lifecycle {
        kind: LifecycleKind::Delivered,
        at: clock.now(),
        tenant_id: e.tenant.id,
        job_uuid: Some(job.id.0.to_string()),
        data: json!({}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_is_retried_until_the_receiver_accepts() {
    let e = env().await;
    let (clock, hand) = Clock::manual(t0());
    let (url, mut got, _) = receiver(vec![500, 503, 204]).await;
    let ep = endpoint(&e, EndpointKind::Webhook, &format!("{url}/hooks"), 1).await;
    let secret = Secret::generate();
    e.store
        .set_webhook_secret(ep.id, &secret.expose(), &[], t0())
        .await
        .expect("secret");
    let job = received_fax(&e, &fax_tiff()).await;
    let notifier = Notifier::new(e.store.clone(), clock.clone(), NotifyConfig::default());
    let ids = notifier
        .lifecycle(&delivered_event(&e, &job, &clock))
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 1);
    let sender = sender(&e, &clock);

    let mut seen = Vec::new();
    for expected in [500u16, 503, 204] {
        assert_eq!(sender.run_due().await.expect("pass"), 1);
        let r = got.recv().await.expect("request");
        assert_eq!(r.status, expected);
        // The receiver's check, as a Standard Webhooks library does it.
        secret
            .verify(
                header(&r, HEADER_ID),
                header(&r, HEADER_TIMESTAMP),
                header(&r, HEADER_SIGNATURE),
                &r.body,
                hand.now().timestamp(),
                300,
            )
            .expect("signature verifies");
        assert!(Secret::generate()
            .verify(
                header(&r, HEADER_ID),
                header(&r, HEADER_TIMESTAMP),
                header(&r, HEADER_SIGNATURE),
                &r.body,
                hand.now().timestamp(),
                300,
            )
            .is_err());
        assert_eq!(header(&r, "content-type"), "application/json");
        seen.push(r.clone());
        // Not due again before its time.
        assert_eq!(sender.run_due().await.expect("pass"), 0);
        let d = e.delivery(ids[0]).await;
        if d.status == DeliveryStatus::Pending {
            hand.set(d.next_attempt_at);
        }
    }

    // One message id, one body, three timestamps.
    let ids_sent: Vec<&str> = seen.iter().map(|r| header(r, HEADER_ID)).collect();
    assert!(ids_sent
        .iter()
        .all(|id| *id == format!("msg_{}", ids[0].0.simple())));
    assert!(seen.iter().all(|r| r.body == seen[0].body));
    let stamps: Vec<i64> = seen
        .iter()
        .map(|r| header(r, HEADER_TIMESTAMP).parse().expect("ts"))
        .collect();
    assert!(stamps[0] < stamps[1] && stamps[1] < stamps[2], "{stamps:?}");
    let body: Value = serde_json::from_slice(&seen[0].body).expect("json");
    assert_eq!(body["type"], "fax.delivered");
    assert_eq!(body["data"]["job_uuid"], job.id.0.to_string());
    assert_eq!(body["data"]["tenant_id"], e.tenant.id.0);

    // The log: two failures with their next try, then success. The wait after a failure is
    // the time since the first try (at least 5 s), ±10 %: about 5 s, then about 5 s again.
    let d = e
        .store
        .get_delivery(Some(e.tenant.id), ids[0])
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (d.status, d.attempts, d.last_status),
        (DeliveryStatus::Delivered, 3, Some(204))
    );
    let tries = e
        .store
        .list_delivery_attempts(Some(e.tenant.id), ids[0])
        .await
        .expect("tries");
    let codes: Vec<Option<i64>> = tries.iter().map(|t| t.status_code).collect();
    assert_eq!(codes, vec![Some(500), Some(503), Some(204)]);
    assert_eq!(tries[2].next_attempt_at, None);
    let wait1 = (tries[0].next_attempt_at.expect("next") - tries[0].started_at).num_milliseconds();
    let wait2 = (tries[1].next_attempt_at.expect("next") - tries[1].started_at).num_milliseconds();
    assert!((4_500..=5_500).contains(&wait1), "{wait1}");
    let elapsed2 = (tries[1].started_at - tries[0].started_at).num_milliseconds();
    let base = elapsed2.max(5_000) as f64;
    let lo = (base * 0.9) as i64 - 1;
    let hi = (base * 1.1) as i64 + 1;
    assert!((lo..=hi).contains(&wait2), "{wait2} after {elapsed2}");
    assert!(tries[0].error.contains("500"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_for_a_day_then_given_up() {
    let e = env().await;
    let (clock, hand) = Clock::manual(t0());
    let (url, mut got, _) = receiver(vec![503]).await;
    let ep = endpoint(&e, EndpointKind::Webhook, &url, 1).await;
    e.store
        .set_webhook_secret(
            ep.id,
            &Secret::generate().expose(),
            &["fax.failed".into()],
            t0(),
        )
        .await
        .expect("secret");
    let job = received_fax(&e, &fax_tiff()).await;
    let notifier = Notifier::new(e.store.clone(), clock.clone(), NotifyConfig::default());
    // Not subscribed to fax.delivered: nothing; fax.failed: one delivery.
    assert!(notifier
        .lifecycle(&delivered_event(&e, &job, &clock))
        .await
        .expect("enqueue")
        .is_empty());
    let mut failed = delivered_event(&e, &job, &clock);
    failed.kind = LifecycleKind::Failed;
    let id = notifier.lifecycle(&failed).await.expect("enqueue")[0];
    let sender = sender(&e, &clock);
    let mut tries = 0;
    loop {
        assert_eq!(sender.run_due().await.expect("pass"), 1);
        got.recv().await.expect("request");
        tries += 1;
        let d = e.delivery(id).await;
        if d.status != DeliveryStatus::Pending {
            assert_eq!(d.status, DeliveryStatus::Failed);
            break;
        }
        assert!(tries < 100, "never gave up");
        hand.set(d.next_attempt_at);
    }
    let span = hand.now() - t0();
    assert!(span >= TimeDelta::hours(24), "gave up after {span}");
    assert!(span < TimeDelta::hours(26), "gave up after {span}");
    assert!((30..=40).contains(&tries), "{tries} tries");
    let log = e.store.list_delivery_attempts(None, id).await.expect("log");
    assert_eq!(log.len(), tries);
    let max_wait = log
        .iter()
        .filter_map(|t| t.next_attempt_at.map(|n| n - t.started_at))
        .max()
        .expect("waits");
    assert!(max_wait <= TimeDelta::minutes(66), "{max_wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_fax_goes_to_the_delivery_endpoint_in_gofaxserver_shape() {
    let e = env().await;
    let (clock, _hand) = Clock::manual(t0());
    let (url, mut got, _) = receiver(vec![200]).await;
    // An endpoint without a secret: gofaxserver's unsigned delivery, no lifecycle events.
    let ep = endpoint(&e, EndpointKind::Webhook, &url, 5).await;
    endpoint(&e, EndpointKind::Webhook, "http://127.0.0.1:9/never", 9).await;
    let tiff = fax_tiff();
    let job = received_fax(&e, &tiff).await;
    let notifier = Notifier::new(e.store.clone(), clock.clone(), NotifyConfig::default());
    assert!(notifier
        .lifecycle(&delivered_event(&e, &job, &clock))
        .await
        .expect("lifecycle")
        .is_empty());
    let ids = notifier
        .deliver_received(e.tenant.id, job.id)
        .await
        .expect("deliver");
    assert_eq!(ids.len(), 1, "only the best priority");
    let sender = sender(&e, &clock);
    assert_eq!(sender.run_due().await.expect("pass"), 1);
    let r = got.recv().await.expect("request");
    assert_eq!(header(&r, HEADER_SIGNATURE), "");

    let pdf = fax_tiff_to_pdf(&tiff).expect("pdf");
    let body: Value = serde_json::from_slice(&r.body).expect("json");
    let file = base64::engine::general_purpose::STANDARD
        .decode(body["file_data"].as_str().expect("file_data"))
        .expect("base64");
    assert_eq!(file, pdf, "file_data is the fax as PDF");
    assert_eq!(body["uuid"], job.id.0.to_string());
    assert_eq!(body["number"], "+12125550199");
    assert_eq!(body["cidnum"], "+442071234567");
    assert_eq!(body["dst_tenant_id"], e.tenant.id.0);
    assert_eq!(body["endpoints"][0]["id"], ep.id.0);
    assert_eq!(body["endpoints"][0]["endpoint_type"], "webhook");
    assert_eq!(header(&r, "x-fax-uuid"), job.id.0.to_string());
    assert_eq!(header(&r, "x-attempt"), "1");
    assert_eq!(header(&r, "x-file-bytes"), pdf.len().to_string());
    let digest: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&pdf)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(header(&r, "x-file-sha256"), digest);
    let d = e.delivery(ids[0]).await;
    assert_eq!(
        (d.status, d.event.as_str()),
        (DeliveryStatus::Delivered, "delivery")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_final_and_a_replay_sends_it_again() {
    let e = env().await;
    let (clock, hand) = Clock::manual(t0());
    let (url, mut got, script) = receiver(vec![410]).await;
    endpoint(&e, EndpointKind::Webhook, &url, 1).await;
    let job = received_fax(&e, &fax_tiff()).await;
    let notifier = Notifier::new(e.store.clone(), clock.clone(), NotifyConfig::default());
    let id = notifier
        .deliver_received(e.tenant.id, job.id)
        .await
        .expect("deliver")[0];
    let sender = sender(&e, &clock);
    assert_eq!(sender.run_due().await.expect("pass"), 1);
    assert_eq!(got.recv().await.expect("request").status, 410);
    let d = e.delivery(id).await;
    assert_eq!(
        (d.status, d.last_status),
        (DeliveryStatus::Failed, Some(410))
    );
    hand.advance(TimeDelta::days(3));
    assert_eq!(sender.run_due().await.expect("pass"), 0);

    *script.lock().expect("script") = vec![200];
    e.store
        .replay_delivery(Some(e.tenant.id), id, hand.now())
        .await
        .expect("replay")
        .expect("the delivery exists");
    assert_eq!(sender.run_due().await.expect("pass"), 1);
    let r = got.recv().await.expect("request");
    assert_eq!((r.status, header(&r, "x-attempt")), (200, "2"));
    let d = e.delivery(id).await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Delivered, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_listening_is_retried_with_the_error_logged() {
    let e = env().await;
    let (clock, _hand) = Clock::manual(t0());
    // A port nothing listens on: bind, note, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    endpoint(
        &e,
        EndpointKind::Webhook,
        &format!("http://127.0.0.1:{port}/x?token=abc"),
        1,
    )
    .await;
    let job = received_fax(&e, &fax_tiff()).await;
    let notifier = Notifier::new(e.store.clone(), clock.clone(), NotifyConfig::default());
    let id = notifier
        .deliver_received(e.tenant.id, job.id)
        .await
        .expect("deliver")[0];
    let sender = sender(&e, &clock);
    assert_eq!(sender.run_due().await.expect("pass"), 1);
    let d = e.delivery(id).await;
    assert_eq!((d.status, d.last_status), (DeliveryStatus::Pending, None));
    assert!(d.last_error.contains("connect"), "{}", d.last_error);
    assert!(!d.last_error.contains("token=abc"), "{}", d.last_error);
    assert!(d.next_attempt_at > t0());
}
