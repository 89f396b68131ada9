//! The sender: claims due deliveries from the store, makes one try of each (a signed POST or
//! an SMTP conversation), and records the try and what follows it.
//!
//! [`DeliverySender::run_due`] is one pass and returns; tests call it after moving a manual
//! clock, so a day of retries takes no real time. [`DeliverySender::run`] repeats it until
//! shutdown, sleeping until the next delivery is due or a new one is enqueued.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use store::{Channel, DeliveryNext, DeliveryToSend, NewDeliveryAttempt, Store};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::email::Mailer;
use crate::error::Result;
use crate::http::{classify, Verdict, WebhookClient};
use crate::schedule::{jitter_seed, RetrySchedule};
use crate::signing::Secret;

/// How the sender paces itself.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Back-off of webhooks.
    pub webhook_schedule: RetrySchedule,
    /// Back-off of e-mails.
    pub email_schedule: RetrySchedule,
    /// How long a claimed delivery is hidden from other senders; a sender that dies
    /// mid-try leaves it to be tried again after this.
    pub lease: Duration,
    /// Deliveries tried at once.
    pub batch: u32,
    /// Longest sleep between passes when nothing is due (another node may enqueue).
    pub idle_poll: Duration,
    /// Limit on one webhook request.
    pub http_timeout: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            webhook_schedule: RetrySchedule::WEBHOOK,
            email_schedule: RetrySchedule::EMAIL,
            lease: Duration::from_secs(300),
            batch: 16,
            idle_poll: Duration::from_secs(30),
            http_timeout: Duration::from_secs(10),
        }
    }
}

/// What follows a try, from its verdict and the back-off (pure).
pub fn next_after(
    verdict: Verdict,
    schedule: &RetrySchedule,
    retry_from: DateTime<Utc>,
    now: DateTime<Utc>,
    seed: u64,
) -> DeliveryNext {
    match verdict {
        Verdict::Delivered => DeliveryNext::Delivered,
        Verdict::GiveUp => DeliveryNext::GiveUp,
        Verdict::Retry => schedule
            .next_try(retry_from, now, seed)
            .map_or(DeliveryNext::GiveUp, DeliveryNext::RetryAt),
    }
}

/// The Standard Webhooks message id of a delivery (`msg_` + its UUID).
pub fn message_id(d: &store::Delivery) -> String {
    format!("msg_{}", d.id.0.simple())
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Clock,
    http: WebhookClient,
    mailer: Option<Mailer>,
    cfg: SenderConfig,
}

/// Sends what the delivery log holds; cheap to clone.
#[derive(Clone)]
pub struct DeliverySender {
    inner: Arc<Inner>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for DeliverySender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliverySender")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl DeliverySender {
    /// A sender; without a mailer, e-mails wait (and are retried) until one is configured.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        mailer: Option<Mailer>,
        cfg: SenderConfig,
    ) -> Result<Self> {
        let http = WebhookClient::new(cfg.http_timeout)?;
        Ok(DeliverySender {
            inner: Arc::new(Inner {
                store,
                clock,
                http,
                mailer,
                cfg,
            }),
            wake: Arc::new(Notify::new()),
        })
    }

    /// The bell a [`crate::Notifier`] rings after enqueueing, so that new deliveries go at once.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// One pass: tries every delivery due now (a batch at a time, concurrently) and returns
    /// how many were tried.
    pub async fn run_due(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let now = self.inner.clock.now();
            let batch = self
                .inner
                .store
                .claim_due_deliveries(now, self.inner.cfg.lease, self.inner.cfg.batch)
                .await?;
            if batch.is_empty() {
                return Ok(total);
            }
            total += batch.len();
            let mut tasks = JoinSet::new();
            for d in batch {
                let inner = self.inner.clone();
                tasks.spawn(async move { inner.try_once(d).await });
            }
            while let Some(res) = tasks.join_next().await {
                match res {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "recording a delivery try failed"),
                    Err(e) => tracing::error!(error = %e, "delivery task panicked"),
                }
            }
        }
    }

    /// Runs passes until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            if let Err(e) = self.run_due().await {
                tracing::warn!(error = %e, "delivery pass failed");
            }
            let wait = match self.inner.store.next_delivery_due().await {
                Ok(Some(at)) => (at - self.inner.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(self.inner.cfg.idle_poll),
                _ => self.inner.cfg.idle_poll,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

impl Inner {
    async fn try_once(&self, d: DeliveryToSend) -> Result<()> {
        let started_at = self.clock.now();
        let t0 = Instant::now();
        let attempt = d.delivery.attempts + 1;
        let (status, error, verdict, schedule) = match d.delivery.channel {
            Channel::Webhook => {
                let (status, error) = self.post(&d, attempt).await?;
                (status, error, classify(status), &self.cfg.webhook_schedule)
            }
            Channel::Email => {
                let (status, error, verdict) = match &self.mailer {
                    Some(m) => {
                        let o = m.send(&d.delivery.target, &d.body).await;
                        let verdict = if o.delivered() {
                            Verdict::Delivered
                        } else if o.retryable {
                            Verdict::Retry
                        } else {
                            Verdict::GiveUp
                        };
                        (o.code, o.error, verdict)
                    }
                    None => (
                        None,
                        "no SMTP relay is configured".to_owned(),
                        Verdict::Retry,
                    ),
                };
                (status, error, verdict, &self.cfg.email_schedule)
            }
        };
        let now = self.clock.now();
        let seed = jitter_seed(&d.delivery.id.0, attempt);
        let next = next_after(verdict, schedule, d.delivery.retry_from, now, seed);
        let a = NewDeliveryAttempt {
            started_at,
            duration_ms: i64::try_from(t0.elapsed().as_millis()).unwrap_or(i64::MAX),
            status_code: status.map(i64::from),
            error,
            next,
        };
        match next {
            DeliveryNext::Delivered => {
                tracing::info!(delivery_id = %d.delivery.id, event = %d.delivery.event, attempt, "delivered")
            }
            DeliveryNext::RetryAt(at) => {
                tracing::info!(delivery_id = %d.delivery.id, event = %d.delivery.event, attempt, status = ?status, error = %a.error, next = %at, "delivery failed, will retry")
            }
            DeliveryNext::GiveUp => {
                tracing::warn!(delivery_id = %d.delivery.id, event = %d.delivery.event, attempt, status = ?status, error = %a.error, "delivery failed for good")
            }
        }
        self.store
            .record_delivery_attempt(d.delivery.id, &a, now)
            .await?;
        Ok(())
    }

    /// One signed POST; returns the status and error text.
    async fn post(&self, d: &DeliveryToSend, attempt: i64) -> Result<(Option<u16>, String)> {
        let mut headers = d.headers.clone();
        if let Some(v) = headers.get_mut("X-Attempt") {
            *v = attempt.to_string();
        }
        if let Some(ep) = d.delivery.endpoint_id {
            if let Some(s) = self.store.get_webhook_secret(ep).await? {
                match Secret::parse(&s.secret) {
                    Ok(secret) => {
                        let ts = self.clock.now().timestamp();
                        for (k, v) in secret.headers(&message_id(&d.delivery), ts, &d.body) {
                            headers.insert(k.to_owned(), v);
                        }
                    }
                    Err(_) => {
                        tracing::warn!(endpoint_id = %ep, "webhook secret unreadable: sending unsigned")
                    }
                }
            }
        }
        let o = self
            .http
            .post(
                &d.delivery.target,
                &d.delivery.content_type,
                &headers,
                d.body.clone(),
            )
            .await;
        Ok((o.status, o.error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_schedule() {
        let s = RetrySchedule {
            jitter: 0.0,
            ..RetrySchedule::WEBHOOK
        };
        let t0 = DateTime::from_timestamp(1_000_000, 0).expect("time");
        let t = |secs| t0 + chrono::TimeDelta::seconds(secs);
        assert_eq!(
            next_after(Verdict::Delivered, &s, t0, t(3), 0),
            DeliveryNext::Delivered
        );
        assert_eq!(
            next_after(Verdict::GiveUp, &s, t0, t(3), 0),
            DeliveryNext::GiveUp
        );
        assert_eq!(
            next_after(Verdict::Retry, &s, t0, t(0), 0),
            DeliveryNext::RetryAt(t(5))
        );
        assert_eq!(
            next_after(Verdict::Retry, &s, t0, t(40), 0),
            DeliveryNext::RetryAt(t(80))
        );
        assert_eq!(
            next_after(Verdict::Retry, &s, t0, t(86_400), 0),
            DeliveryNext::GiveUp
        );
    }
}
