//! Lifecycle events (`fax.queued` … `fax.received`) as the JSON body of a signed webhook.
//!
//! The body follows the Standard Webhooks payload convention: `{"type", "timestamp",
//! "data"}`, where `data` always carries `job_uuid` and `tenant_id` and then what the event
//! adds (the page, the reason of a failure).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use store::TenantId;

/// What happened to a fax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleKind {
    /// A job was committed to the queue.
    Queued,
    /// A call carrying the job was answered and the fax is being sent.
    Sending,
    /// A page went through.
    Page,
    /// The job was delivered.
    Delivered,
    /// The job failed for good.
    Failed,
    /// A fax was received and stored.
    Received,
}

impl LifecycleKind {
    /// Every kind, in life-cycle order.
    pub const ALL: [LifecycleKind; 6] = [
        LifecycleKind::Queued,
        LifecycleKind::Sending,
        LifecycleKind::Page,
        LifecycleKind::Delivered,
        LifecycleKind::Failed,
        LifecycleKind::Received,
    ];

    /// The event type as sent (`fax.queued`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleKind::Queued => "fax.queued",
            LifecycleKind::Sending => "fax.sending",
            LifecycleKind::Page => "fax.page",
            LifecycleKind::Delivered => "fax.delivered",
            LifecycleKind::Failed => "fax.failed",
            LifecycleKind::Received => "fax.received",
        }
    }

    /// Reads an event type; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One lifecycle event of one tenant's fax.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    /// What happened.
    pub kind: LifecycleKind,
    /// When.
    pub at: DateTime<Utc>,
    /// Whose fax.
    pub tenant_id: TenantId,
    /// The job, when there is one (a page of a call without a job has none).
    pub job_uuid: Option<String>,
    /// Fields the event adds to `data` (an object; anything else is ignored).
    pub data: Value,
}

impl Lifecycle {
    /// The JSON body: `{"type","timestamp","data":{"job_uuid","tenant_id",…}}`.
    pub fn body(&self) -> Vec<u8> {
        let mut data = Map::new();
        data.insert("job_uuid".into(), json!(self.job_uuid));
        data.insert("tenant_id".into(), json!(self.tenant_id.0));
        if let Value::Object(extra) = &self.data {
            for (k, v) in extra {
                data.insert(k.clone(), v.clone());
            }
        }
        let body = json!({
            "type": self.kind.as_str(),
            "timestamp": self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
        });
        // Serialising a Value cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_type_timestamp_and_data() {
        let e = Lifecycle {
            kind: LifecycleKind::Failed,
            at: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            tenant_id: TenantId(3),
            job_uuid: Some("j-1".into()),
            data: json!({"reason": "busy"}),
        };
        let v: Value = serde_json::from_slice(&e.body()).expect("json");
        assert_eq!(
            v,
            json!({"type": "fax.failed", "timestamp": "2023-11-14T22:13:20.000Z",
                   "data": {"job_uuid": "j-1", "tenant_id": 3, "reason": "busy"}})
        );
        for k in LifecycleKind::ALL {
            assert_eq!(LifecycleKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(LifecycleKind::parse("fax.other"), None);
    }
}
