//! The engine's event bus drives the notifications: lifecycle webhooks for subscribed
//! endpoints, the received fax to its delivery endpoint, and the notify strings at job end.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use engine::events::{EngineEvent, EventBus};
use notify::*;
use store::*;
use tokio::sync::{watch, Notify};

/// Waits (on the notifier's bell, not a timer) until the store holds `n` deliveries.
async fn wait_for(store: &dyn Store, bell: &Notify, n: usize) -> Vec<Delivery> {
    loop {
        let all = store
            .list_deliveries(&DeliveryFilter::default(), 100)
            .await
            .expect("list");
        if all.len() >= n {
            return all;
        }
        tokio::time::timeout(Duration::from_secs(20), bell.notified())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} deliveries", all.len()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_events_become_deliveries() {
    let e = env().await;
    e.set_tenant_notify("webhook->http://127.0.0.1:9/report")
        .await;
    let (clock, _hand) = Clock::manual(t0());
    let subscribed = endpoint(&e, EndpointKind::Webhook, "http://127.0.0.1:9/events", 1).await;
    e.store
        .set_webhook_secret(subscribed.id, &Secret::generate().expose(), &[], t0())
        .await
        .expect("secret");
    let bell = Arc::new(Notify::new());
    let notifier =
        Notifier::new(e.store.clone(), clock, NotifyConfig::default()).with_waker(bell.clone());
    let bus = EventBus::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = spawn_subscriber(&bus, notifier, SubscriberOptions::default(), stop_rx);

    let job = received_fax(&e, &fax_tiff()).await;
    let uuid = job.id.0.to_string();
    bus.publish(EngineEvent::FaxReceived {
        job_uuid: uuid.clone(),
        tenant_id: e.tenant.id.0,
        pages: 2,
    });
    // fax.received to the subscribed endpoint, and the fax itself to the (same, best)
    // webhook endpoint in gofaxserver's delivery shape.
    let all = wait_for(e.store.as_ref(), &bell, 2).await;
    let mut events: Vec<&str> = all.iter().map(|d| d.event.as_str()).collect();
    events.sort();
    assert_eq!(events, vec!["delivery", "fax.received"]);
    assert!(all
        .iter()
        .all(|d| d.job_id == Some(job.id) && d.endpoint_id == Some(subscribed.id)));

    bus.publish(EngineEvent::JobDelivered {
        job_uuid: uuid.clone(),
        tenant_id: e.tenant.id.0,
    });
    // fax.delivered, and the tenant's notify `webhook` (unsigned, no endpoint).
    let all = wait_for(e.store.as_ref(), &bell, 4).await;
    let report = all
        .iter()
        .find(|d| d.event == "webhook")
        .expect("notify webhook");
    assert_eq!(
        (report.target.as_str(), report.endpoint_id),
        ("http://127.0.0.1:9/report", None)
    );
    assert!(all.iter().any(|d| d.event == "fax.delivered"));

    // Events of a tenant without subscribers, or without a tenant, make nothing.
    bus.publish(EngineEvent::JobQueued {
        job_uuid: uuid::Uuid::new_v4().to_string(),
        tenant_id: 999,
    });
    bus.publish(EngineEvent::JobQueued {
        job_uuid: uuid.clone(),
        tenant_id: e.tenant.id.0,
    });
    let all = wait_for(e.store.as_ref(), &bell, 5).await;
    assert_eq!(all.len(), 5);
    assert_eq!(all.iter().filter(|d| d.event == "fax.queued").count(), 1);

    stop_tx.send(true).expect("stop");
    task.await.expect("subscriber ends");
}
