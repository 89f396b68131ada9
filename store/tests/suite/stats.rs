//! Figures for `/metrics`: queue depth and the oldest queued job, delivery failures by channel.

use std::collections::BTreeMap;
use std::time::Duration;

use store::*;

use super::queue::{drain, new_job};
use super::{at, t0, tenant};

/// Runs the checks; the queue is drained first, so earlier parts of the suite do not count.
pub async fn run(s: &dyn Store) {
    queue(s).await;
    deliveries(s).await;
}

async fn queue(s: &dyn Store) {
    drain(s, at(1_000_000)).await;
    let empty = QueueStats {
        queued: 0,
        active: 0,
        oldest_queued_at: None,
    };
    assert_eq!(s.queue_stats().await.unwrap(), empty);

    let t = s.create_tenant(&tenant("Stats"), t0()).await.unwrap();
    let first = s.create_job(&new_job(t.id, None, 0), at(10)).await.unwrap();
    let mut later = new_job(t.id, None, 0);
    later.not_before = at(500);
    let second = s.create_job(&later, at(20)).await.unwrap();
    // A job not yet due still waits in the queue.
    assert_eq!(
        s.queue_stats().await.unwrap(),
        QueueStats {
            queued: 2,
            active: 0,
            oldest_queued_at: Some(at(10)),
        }
    );

    let claimed = s
        .claim_next_job("w", Duration::from_secs(30), at(30))
        .await
        .unwrap()
        .expect("the first job is due");
    assert_eq!(claimed.id, first.id);
    assert_eq!(
        s.queue_stats().await.unwrap(),
        QueueStats {
            queued: 1,
            active: 1,
            oldest_queued_at: Some(at(20)),
        }
    );
    assert!(s.complete_job(first.id, "w", at(31)).await.unwrap());
    drain(s, at(1_000_000)).await;
    assert!(s
        .get_job(t.id, second.id)
        .await
        .unwrap()
        .is_some_and(|j| j.status == JobStatus::Done));
    assert_eq!(s.queue_stats().await.unwrap(), empty);
}

fn delivery(tenant: TenantId, channel: Channel) -> NewDelivery {
    NewDelivery {
        tenant_id: Some(tenant),
        job_id: None,
        endpoint_id: None,
        channel,
        event: "fax.failed".into(),
        target: "ops@example.invalid".into(),
        content_type: "application/json".into(),
        headers: BTreeMap::new(),
        body: b"{}".to_vec(),
        not_before: t0(),
    }
}

fn attempt(status_code: Option<i64>, error: &str, next: DeliveryNext) -> NewDeliveryAttempt {
    NewDeliveryAttempt {
        started_at: at(1),
        duration_ms: 5,
        status_code,
        error: error.into(),
        next,
    }
}

async fn deliveries(s: &dyn Store) {
    let before = s.delivery_failures().await.unwrap();
    assert_eq!(
        before.iter().map(|f| f.channel).collect::<Vec<_>>(),
        vec![Channel::Webhook, Channel::Email]
    );
    let t = s.create_tenant(&tenant("Failures"), t0()).await.unwrap();

    // Webhook: a 500, then a 200 (delivered), and another given up after a 410.
    let ok = s
        .create_delivery(&delivery(t.id, Channel::Webhook), t0())
        .await
        .unwrap();
    let retry = attempt(Some(500), "HTTP 500", DeliveryNext::RetryAt(at(9)));
    assert!(s
        .record_delivery_attempt(ok.id, &retry, at(1))
        .await
        .unwrap());
    let done = attempt(Some(200), "", DeliveryNext::Delivered);
    assert!(s
        .record_delivery_attempt(ok.id, &done, at(9))
        .await
        .unwrap());
    let gone = s
        .create_delivery(&delivery(t.id, Channel::Webhook), t0())
        .await
        .unwrap();
    let refused = attempt(Some(410), "HTTP 410", DeliveryNext::GiveUp);
    assert!(s
        .record_delivery_attempt(gone.id, &refused, at(2))
        .await
        .unwrap());

    // E-mail: no answer from the relay, then 250.
    let mail = s
        .create_delivery(&delivery(t.id, Channel::Email), t0())
        .await
        .unwrap();
    let down = attempt(None, "connection refused", DeliveryNext::RetryAt(at(9)));
    assert!(s
        .record_delivery_attempt(mail.id, &down, at(1))
        .await
        .unwrap());
    let sent = attempt(Some(250), "", DeliveryNext::Delivered);
    assert!(s
        .record_delivery_attempt(mail.id, &sent, at(9))
        .await
        .unwrap());

    let after = s.delivery_failures().await.unwrap();
    let delta: Vec<_> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| {
            (
                a.channel,
                a.failed_attempts - b.failed_attempts,
                a.given_up - b.given_up,
            )
        })
        .collect();
    assert_eq!(
        delta,
        vec![(Channel::Webhook, 2, 1), (Channel::Email, 1, 0)]
    );
}
