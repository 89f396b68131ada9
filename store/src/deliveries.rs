//! Types of the delivery log: webhook POSTs and e-mails waiting to go out, every try of them,
//! and the signing secrets of webhook endpoints.
//!
//! A delivery holds the finished request (body and extra headers) rather than the data it
//! was made from, so that a retry a day later sends what the first try sent, and a replay
//! repeats it exactly. Signatures are not stored: they carry the time of each try.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::model::{EndpointId, JobId, TenantId};

macro_rules! delivery_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The spelling stored in the database and used in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(crate::Error::Invalid {
                        field: stringify!($name),
                        reason: format!("unknown value {s:?}"),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = crate::Error;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

/// A delivery's id; also its Standard Webhooks `webhook-id`, the same on every try.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct DeliveryId(pub Uuid);

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

delivery_enum!(/// How a delivery travels.
    Channel {
    /// An HTTP POST.
    Webhook = "webhook",
    /// An e-mail through the SMTP relay.
    Email = "email",
});

delivery_enum!(/// Where a delivery is in its life-cycle.
    DeliveryStatus {
    /// Waiting for `next_attempt_at` (or being tried).
    Pending = "pending",
    /// Accepted by the receiver.
    Delivered = "delivered",
    /// Given up: a permanent refusal, or retries ran out.
    Failed = "failed",
});

/// A delivery as the log shows it (without its body, which may be megabytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Delivery {
    /// Id.
    pub id: DeliveryId,
    /// Tenant concerned, if any.
    pub tenant_id: Option<TenantId>,
    /// Job concerned, if any.
    pub job_id: Option<JobId>,
    /// The endpoint it goes to, when it came from one (its secret signs the request).
    pub endpoint_id: Option<EndpointId>,
    /// Webhook or e-mail.
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    /// What it announces: `fax.delivered`, `delivery`, `email_report`, ...
    pub event: String,
    /// URL, or e-mail addresses separated by `;`.
    pub target: String,
    /// MIME type of the body.
    pub content_type: String,
    /// Life-cycle state.
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    /// Tries so far.
    pub attempts: i64,
    /// When the next try is due (for a finished delivery: when it would have been).
    pub next_attempt_at: DateTime<Utc>,
    /// Start of the current series of tries: creation, or the last replay; the back-off
    /// grows with the time since then.
    pub retry_from: DateTime<Utc>,
    /// HTTP status or SMTP reply code of the last try.
    pub last_status: Option<i64>,
    /// Error of the last try, empty when it succeeded.
    pub last_error: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A claimed delivery with what to send.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryToSend {
    /// The log entry.
    #[sqlx(flatten)]
    pub delivery: Delivery,
    /// Extra request headers (name → value).
    #[sqlx(json)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Request body, or the whole RFC 5322 message.
    pub body: Vec<u8>,
}

/// Fields of a delivery to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Tenant concerned.
    pub tenant_id: Option<TenantId>,
    /// Job concerned.
    pub job_id: Option<JobId>,
    /// Endpoint it goes to.
    pub endpoint_id: Option<EndpointId>,
    /// Webhook or e-mail.
    pub channel: Channel,
    /// What it announces.
    pub event: String,
    /// URL or addresses.
    pub target: String,
    /// MIME type of the body.
    pub content_type: String,
    /// Extra request headers.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
    /// Earliest first try.
    pub not_before: DateTime<Utc>,
}

/// What follows a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    /// The receiver accepted it.
    Delivered,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up.
    GiveUp,
}

/// One try of a delivery, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeliveryAttempt {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i64,
    /// HTTP status or SMTP reply code, when one came.
    pub status_code: Option<i64>,
    /// What went wrong, empty on success.
    pub error: String,
    /// What follows.
    pub next: DeliveryNext,
}

/// One try of a delivery, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeliveryAttempt {
    /// Row id.
    pub id: i64,
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// 1 for the first try.
    pub attempt: i64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: i64,
    /// HTTP status or SMTP reply code, when one came.
    pub status_code: Option<i64>,
    /// What went wrong, empty on success.
    pub error: String,
    /// When the next try is due; `None` after the last one.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Which deliveries a listing returns, newest first; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only this tenant's.
    pub tenant: Option<TenantId>,
    /// Only this job's.
    pub job: Option<JobId>,
    /// Only in this state.
    pub status: Option<DeliveryStatus>,
}

/// The signing secret of a webhook endpoint and the lifecycle events it subscribes to.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookSecret {
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// `whsec_<base64>`; never logged, never sent back after creation.
    pub secret: String,
    /// Lifecycle event types to send (`fax.queued`, ...); empty = all.
    #[sqlx(json)]
    pub events: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for WebhookSecret {
    // The secret signs requests: keep it out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecret")
            .field("endpoint_id", &self.endpoint_id)
            .field("secret", &"<redacted>")
            .field("events", &self.events)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl WebhookSecret {
    /// Whether this endpoint wants lifecycle event `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}
