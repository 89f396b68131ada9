//! The engine's event bus: what happens to calls and jobs, published once and read by every
//! interested party (webhooks, e-mail, the Event Socket server, metrics, the tracker).
//!
//! Publishing never blocks and never fails: a subscriber that falls behind loses the oldest
//! events and learns how many (`broadcast` lag), so a slow consumer cannot slow a call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::call::{CallReport, FaxDirection, PageReport};

/// Events kept for a subscriber that has not read them yet.
const CAPACITY: usize = 4096;

/// Who and what a call is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInfo {
    /// The engine's id of the call leg (a UUID, as FreeSWITCH's channel UUID).
    pub call_uuid: String,
    /// The job it belongs to, when it belongs to one.
    pub job_uuid: Option<String>,
    /// The tenant, when known.
    pub tenant_id: Option<i64>,
    /// SIP Call-ID.
    pub sip_call_id: String,
    /// Send or receive.
    pub direction: FaxDirection,
    /// Calling number.
    pub caller: String,
    /// Called number.
    pub callee: String,
    /// Gateway or peer name, when known.
    pub gateway: Option<String>,
}

/// Something that happened in the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A job was committed to the queue.
    JobQueued {
        /// The job.
        job_uuid: String,
        /// Its tenant.
        tenant_id: i64,
    },
    /// A call leg was created (INVITE sent or received).
    CallCreated {
        /// The call.
        call: CallInfo,
    },
    /// The call was answered.
    CallAnswered {
        /// The call.
        call: CallInfo,
    },
    /// The call's media started or changed, before any page says so.
    CallMedia {
        /// The call.
        call: CallInfo,
        /// As in the report's media phases: `audio/PCMU`, `audio/PCMA`, `t38/v0`, ….
        media: String,
    },
    /// T.30 settled on a rate.
    FaxNegotiated {
        /// The call.
        call: CallInfo,
        /// Line bit rate.
        bit_rate: u32,
        /// Error correction.
        ecm: bool,
        /// The far end's identifier.
        remote_ident: String,
    },
    /// A page went through.
    FaxPage {
        /// The call.
        call: CallInfo,
        /// The page.
        page: PageReport,
    },
    /// The call ended; the report says how.
    CallEnded {
        /// The call.
        call: CallInfo,
        /// Everything the call reports.
        report: Box<CallReport>,
    },
    /// A received fax was stored.
    FaxReceived {
        /// The job holding it.
        job_uuid: String,
        /// Its tenant.
        tenant_id: i64,
        /// Pages.
        pages: u32,
    },
    /// A job ended well.
    JobDelivered {
        /// The job.
        job_uuid: String,
        /// Its tenant.
        tenant_id: i64,
    },
    /// A job ended in failure.
    JobFailed {
        /// The job.
        job_uuid: String,
        /// Its tenant.
        tenant_id: i64,
        /// Why, for a person.
        reason: String,
    },
}

/// An event with the time it was published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    #[serde(flatten)]
    pub event: EngineEvent,
}

/// The bus; cheap to clone, every clone publishes to the same subscribers.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Stamped>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus with no subscribers yet.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        EventBus { tx }
    }

    /// Publishes `event` now (dropped when nobody listens).
    pub fn publish(&self, event: EngineEvent) {
        let _ = self.tx.send(Stamped {
            at: Utc::now(),
            event,
        });
    }

    /// A new subscription, seeing events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Stamped> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_sees_every_event_in_order() {
        let bus = EventBus::new();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        for n in 0..3 {
            bus.publish(EngineEvent::JobQueued {
                job_uuid: format!("job-{n}"),
                tenant_id: 1,
            });
        }
        for rx in [&mut a, &mut b] {
            for n in 0..3 {
                let e = rx.recv().await.unwrap();
                assert_eq!(
                    e.event,
                    EngineEvent::JobQueued {
                        job_uuid: format!("job-{n}"),
                        tenant_id: 1
                    }
                );
            }
        }
    }

    #[test]
    fn publishing_without_subscribers_is_fine_and_json_is_tagged() {
        let bus = EventBus::new();
        bus.publish(EngineEvent::JobDelivered {
            job_uuid: "j".into(),
            tenant_id: 2,
        });
        let s = Stamped {
            at: DateTime::from_timestamp(0, 0).unwrap(),
            event: EngineEvent::JobFailed {
                job_uuid: "j".into(),
                tenant_id: 2,
                reason: "busy".into(),
            },
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["event"], "job_failed");
        assert_eq!(json["reason"], "busy");
    }
}
