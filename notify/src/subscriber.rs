//! Listens to the engine's [`EventBus`] and turns its events into deliveries: lifecycle
//! webhooks always; the received fax to its `webhook`/`email` endpoints and gofaxserver's
//! notify strings when enabled.
//!
//! The mapping is a pure function ([`lifecycle_of`]); the task around it only awaits the bus
//! and the store. A subscriber that falls behind loses the oldest events (the bus never
//! blocks a call) and logs how many.

use serde_json::json;
use store::{JobId, TenantId};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use engine::call::FaxDirection;
use engine::events::{EngineEvent, EventBus, Stamped};

use crate::lifecycle::{Lifecycle, LifecycleKind};
use crate::notifier::Notifier;

/// The lifecycle event an engine event announces, if any.
pub fn lifecycle_of(s: &Stamped) -> Option<Lifecycle> {
    let ev = |kind, tenant: i64, job: Option<&str>, data| Lifecycle {
        kind,
        at: s.at,
        tenant_id: TenantId(tenant),
        job_uuid: job.map(str::to_owned),
        data,
    };
    match &s.event {
        EngineEvent::JobQueued {
            job_uuid,
            tenant_id,
        } => Some(ev(
            LifecycleKind::Queued,
            *tenant_id,
            Some(job_uuid),
            json!({}),
        )),
        EngineEvent::CallAnswered { call } if call.direction == FaxDirection::Send => {
            let tenant = call.tenant_id?;
            Some(ev(
                LifecycleKind::Sending,
                tenant,
                call.job_uuid.as_deref(),
                json!({"call_uuid": call.call_uuid, "gateway": call.gateway}),
            ))
        }
        EngineEvent::FaxPage { call, page } => {
            let tenant = call.tenant_id?;
            let direction = match call.direction {
                FaxDirection::Send => "outbound",
                FaxDirection::Receive => "inbound",
            };
            Some(ev(
                LifecycleKind::Page,
                tenant,
                call.job_uuid.as_deref(),
                json!({
                    "call_uuid": call.call_uuid,
                    "direction": direction,
                    "page": page.page,
                    "bit_rate": page.bit_rate,
                    "ecm": page.ecm,
                    "bad_rows": page.bad_rows,
                    "media": page.media,
                }),
            ))
        }
        EngineEvent::FaxReceived {
            job_uuid,
            tenant_id,
            pages,
        } => Some(ev(
            LifecycleKind::Received,
            *tenant_id,
            Some(job_uuid),
            json!({"pages": pages}),
        )),
        EngineEvent::JobDelivered {
            job_uuid,
            tenant_id,
        } => Some(ev(
            LifecycleKind::Delivered,
            *tenant_id,
            Some(job_uuid),
            json!({}),
        )),
        EngineEvent::JobFailed {
            job_uuid,
            tenant_id,
            reason,
        } => Some(ev(
            LifecycleKind::Failed,
            *tenant_id,
            Some(job_uuid),
            json!({"reason": reason}),
        )),
        _ => None,
    }
}

/// What the subscriber does beyond lifecycle webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberOptions {
    /// On `FaxReceived`, deliver the fax to the number's (else tenant's) `webhook` and
    /// `email` endpoints. Turn off where the queue delivers them itself.
    pub deliver_received: bool,
    /// On `JobDelivered`/`JobFailed`, send gofaxserver's notify strings.
    pub notify_on_job_end: bool,
}

impl Default for SubscriberOptions {
    fn default() -> Self {
        SubscriberOptions {
            deliver_received: true,
            notify_on_job_end: true,
        }
    }
}

/// Subscribes to `bus` now and spawns the subscriber task, which ends when `shutdown` turns
/// true or the bus is dropped.
pub fn spawn_subscriber(
    bus: &EventBus,
    notifier: Notifier,
    options: SubscriberOptions,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let rx = bus.subscribe();
    tokio::spawn(run_subscriber(rx, notifier, options, shutdown))
}

/// The subscriber loop (see [`spawn_subscriber`]).
pub async fn run_subscriber(
    mut rx: broadcast::Receiver<Stamped>,
    notifier: Notifier,
    options: SubscriberOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stamped = tokio::select! {
            r = rx.recv() => r,
            _ = shutdown.changed() => return,
        };
        match stamped {
            Ok(s) => handle(&notifier, options, &s).await,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "notification subscriber fell behind; events lost"
                )
            }
            Err(RecvError::Closed) => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Handles one event; failures are logged, never passed on (one bad job must not stop the
/// notifications of the others).
pub async fn handle(notifier: &Notifier, options: SubscriberOptions, s: &Stamped) {
    if let Some(l) = lifecycle_of(s) {
        if let Err(e) = notifier.lifecycle(&l).await {
            tracing::warn!(error = %e, event = l.kind.as_str(), "lifecycle webhook not enqueued");
        }
    }
    let job = |tenant: i64, uuid: &str| {
        uuid::Uuid::parse_str(uuid)
            .ok()
            .map(|u| (TenantId(tenant), JobId(u)))
    };
    match &s.event {
        EngineEvent::FaxReceived {
            job_uuid,
            tenant_id,
            ..
        } if options.deliver_received => {
            if let Some((t, j)) = job(*tenant_id, job_uuid) {
                if let Err(e) = notifier.deliver_received(t, j).await {
                    tracing::warn!(error = %e, job_id = %j, "received fax not enqueued for delivery");
                }
            }
        }
        EngineEvent::JobDelivered {
            job_uuid,
            tenant_id,
        }
        | EngineEvent::JobFailed {
            job_uuid,
            tenant_id,
            ..
        } if options.notify_on_job_end => {
            if let Some((t, j)) = job(*tenant_id, job_uuid) {
                if let Err(e) = notifier.job_finished(t, j).await {
                    tracing::warn!(error = %e, job_id = %j, "job notifications not enqueued");
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use engine::call::PageReport;
    use engine::events::CallInfo;

    fn stamped(event: EngineEvent) -> Stamped {
        Stamped {
            at: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            event,
        }
    }

    fn call(direction: FaxDirection, tenant: Option<i64>) -> CallInfo {
        CallInfo {
            call_uuid: "c-1".into(),
            job_uuid: Some("j-1".into()),
            tenant_id: tenant,
            sip_call_id: "sip".into(),
            direction,
            caller: "+1".into(),
            callee: "+2".into(),
            gateway: Some("carrier".into()),
        }
    }

    #[test]
    fn engine_events_map_to_lifecycle_kinds() {
        let kinds: Vec<Option<LifecycleKind>> = [
            EngineEvent::JobQueued {
                job_uuid: "j".into(),
                tenant_id: 1,
            },
            EngineEvent::CallAnswered {
                call: call(FaxDirection::Send, Some(1)),
            },
            EngineEvent::CallAnswered {
                call: call(FaxDirection::Receive, Some(1)),
            },
            EngineEvent::CallAnswered {
                call: call(FaxDirection::Send, None),
            },
            EngineEvent::FaxReceived {
                job_uuid: "j".into(),
                tenant_id: 1,
                pages: 2,
            },
            EngineEvent::JobDelivered {
                job_uuid: "j".into(),
                tenant_id: 1,
            },
            EngineEvent::JobFailed {
                job_uuid: "j".into(),
                tenant_id: 1,
                reason: "busy".into(),
            },
            EngineEvent::CallCreated {
                call: call(FaxDirection::Send, Some(1)),
            },
        ]
        .into_iter()
        .map(|e| lifecycle_of(&stamped(e)).map(|l| l.kind))
        .collect();
        use LifecycleKind::*;
        assert_eq!(
            kinds,
            vec![
                Some(Queued),
                Some(Sending),
                None,
                None,
                Some(Received),
                Some(Delivered),
                Some(Failed),
                None
            ]
        );
    }

    #[test]
    fn pages_carry_their_numbers() {
        let page = PageReport {
            page: 3,
            bit_rate: 14400,
            ecm: true,
            resolution: "fine".into(),
            width: 1728,
            rows: 2200,
            bad_rows: 0,
            media: "t38".into(),
            at_ms: 1000,
        };
        let l = lifecycle_of(&stamped(EngineEvent::FaxPage {
            call: call(FaxDirection::Receive, Some(7)),
            page,
        }))
        .expect("page event");
        assert_eq!(
            (l.kind, l.tenant_id, l.job_uuid.as_deref()),
            (LifecycleKind::Page, TenantId(7), Some("j-1"))
        );
        assert_eq!(l.data["page"], 3);
        assert_eq!(l.data["direction"], "inbound");
    }
}
