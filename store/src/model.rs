//! Domain types: ids, records as read back, and the `New*` values used to create them.
//!
//! JSON field names follow gofaxserver's tenants, numbers, endpoints and users where those
//! exist (`gofaxserver-behaviour.md` §2–§3), so that its API users can switch.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Priority that marks an endpoint as never delivered to (a source identity only).
pub const PRIORITY_NEVER: i64 = 666;
/// Priority that always sorts after every other one.
pub const PRIORITY_LAST: i64 = 999;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub $inner);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(/// A tenant's id.
    TenantId(i64));
id_type!(/// A tenant number's id.
    NumberId(i64));
id_type!(/// A user's id.
    UserId(i64));
id_type!(/// An API token's id.
    TokenId(i64));
id_type!(/// An endpoint's id.
    EndpointId(i64));
id_type!(/// A SIP gateway's id.
    GatewayId(i64));
id_type!(/// A fax job's id.
    JobId(Uuid));
id_type!(/// A delivery attempt's id.
    AttemptId(i64));
id_type!(/// A stored document's id.
    DocumentId(Uuid));
id_type!(/// An event-log entry's id.
    EventId(i64));

/// A string-valued enum stored as TEXT, with the spelling used in JSON and SQL.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

text_enum!(/// What an endpoint is attached to.
    Scope {
    /// All numbers of one tenant.
    Tenant = "tenant",
    /// One tenant number.
    Number = "number",
    /// The whole system (upstream carriers).
    Global = "global",
});

text_enum!(/// How an endpoint is delivered to.
    EndpointKind {
    /// A SIP gateway (fax call).
    Gateway = "gateway",
    /// An HTTP webhook.
    Webhook = "webhook",
    /// An e-mail address.
    Email = "email",
});

text_enum!(/// SIP transport of a gateway.
    Transport {
    /// UDP.
    Udp = "udp",
    /// TCP.
    Tcp = "tcp",
    /// TLS over TCP.
    Tls = "tls",
});

text_enum!(/// Which way a fax job goes.
    Direction {
    /// Received from the network.
    Inbound = "inbound",
    /// Sent to the network.
    Outbound = "outbound",
});

text_enum!(/// Where a job is in its life-cycle.
    JobStatus {
    /// Waiting for `next_attempt_at`.
    Queued = "queued",
    /// Claimed by a worker that holds a lease.
    Active = "active",
    /// Delivered.
    Done = "done",
    /// Given up.
    Failed = "failed",
});

/// A tenant (customer) owning numbers, users, endpoints and jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// Notify spec string (`email_report`, `webhook`, ...).
    pub notify: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Whether debug bundles of its calls include a pcap of the media.
    pub debug_pcap: bool,
}

/// Fields of a tenant to create or replace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NewTenant {
    /// Display name.
    pub name: String,
    /// Notify spec string.
    #[serde(default)]
    pub notify: String,
}

/// A phone number owned by a tenant, in E.164.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TenantNumber {
    /// Id.
    pub id: NumberId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The number, E.164.
    pub number: String,
    /// Caller-ID name used when this number sends.
    pub name: String,
    /// Fax header used when this number sends.
    pub header: String,
    /// Notify spec overriding the tenant's, empty for none.
    pub notify: String,
}

/// Fields of a tenant number to create or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNumber {
    /// The number, already normalised.
    pub number: crate::E164,
    /// Caller-ID name.
    pub name: String,
    /// Fax header.
    pub header: String,
    /// Notify spec override.
    pub notify: String,
}

/// A user of a tenant; the password hash never leaves the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Unique login name.
    pub username: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An API token's metadata; the plaintext is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    /// Id.
    pub id: TokenId,
    /// Owning user.
    pub user_id: UserId,
    /// Free-form label.
    pub label: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Where and how a tenant's faxes are delivered or accepted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Endpoint {
    /// Id.
    pub id: EndpointId,
    /// Owning tenant; `None` only for global endpoints.
    pub tenant_id: Option<TenantId>,
    /// What the endpoint is attached to (JSON `type`, as in gofaxserver).
    #[serde(rename = "type")]
    #[sqlx(try_from = "String")]
    pub scope: Scope,
    /// Tenant id, number id, or 0 for global (JSON `type_id`).
    #[serde(rename = "type_id")]
    pub scope_id: i64,
    /// Delivery kind.
    #[sqlx(try_from = "String")]
    pub endpoint_type: EndpointKind,
    /// Gateway name, URL or address (JSON `endpoint`).
    #[serde(rename = "endpoint")]
    pub target: String,
    /// Lower first; [`PRIORITY_NEVER`] never delivers, [`PRIORITY_LAST`] sorts last.
    pub priority: i64,
    /// Transcode live instead of store-and-forward.
    pub bridge: bool,
}

impl Endpoint {
    /// Whether faxes may be delivered here (priority is not 666).
    pub fn is_deliverable(&self) -> bool {
        self.priority != PRIORITY_NEVER
    }

    /// Sort key for delivery order: ascending priority, 999 after everything else.
    pub fn delivery_order(&self) -> (bool, i64) {
        (self.priority == PRIORITY_LAST, self.priority)
    }
}

/// Fields of an endpoint to create or replace; the owner comes from the scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    /// Attachment; for `Tenant` the scope id is the owner, for `Number` a number of the owner.
    pub scope: Scope,
    /// Tenant id, number id, or 0.
    pub scope_id: i64,
    /// Delivery kind.
    pub endpoint_type: EndpointKind,
    /// Gateway name, URL or address.
    pub target: String,
    /// Priority (666 never, 999 last).
    pub priority: i64,
    /// Bridge flag.
    pub bridge: bool,
}

/// A SIP peer: an upstream carrier, or a tenant's PBX.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Gateway {
    /// Id.
    pub id: GatewayId,
    /// Unique name.
    pub name: String,
    /// SIP URI to send to.
    pub uri: String,
    /// Transport.
    #[sqlx(try_from = "String")]
    pub transport: Transport,
    /// Digest user name.
    pub username: Option<String>,
    /// Digest password, stored in plaintext because answering a challenge needs it.
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// Whether we REGISTER with it.
    pub register: bool,
    /// Addresses or CIDRs calls from this peer may come from.
    #[sqlx(json)]
    pub allowed_sources: Vec<String>,
    /// Owning tenant, or `None` for an upstream carrier.
    pub tenant_id: Option<TenantId>,
    /// Whether T.38 may be offered to or accepted from it.
    pub t38_allowed: bool,
    /// Whether debug bundles of calls through it include a pcap of the media.
    pub debug_pcap: bool,
}

/// Fields of a gateway to create or replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGateway {
    /// Unique name.
    pub name: String,
    /// SIP URI.
    pub uri: String,
    /// Transport.
    pub transport: Transport,
    /// Digest user name.
    pub username: Option<String>,
    /// Digest password.
    pub password: Option<String>,
    /// REGISTER flag.
    pub register: bool,
    /// Allowed source addresses / CIDRs.
    pub allowed_sources: Vec<String>,
    /// Owning tenant, `None` = upstream.
    pub tenant_id: Option<TenantId>,
    /// T.38 allowed.
    pub t38_allowed: bool,
}

/// A finished live-bridged call to record (issue #6): it becomes an inbound job that was
/// never queued, with its bridge row.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBridge {
    /// The tenant it is listed under.
    pub tenant_id: TenantId,
    /// Caller number.
    pub caller: String,
    /// Callee number.
    pub callee: String,
    /// `upstream` or `downstream`.
    pub direction: String,
    /// The gateway the outbound leg went to.
    pub gateway: String,
    /// When the call came in.
    pub started_at: DateTime<Utc>,
    /// When both legs had ended.
    pub ended_at: DateTime<Utc>,
    /// Media time while both legs were up, in ms.
    pub duration_ms: i64,
    /// Pages confirmed in the T.30 frames; `None` when only relays ran.
    pub pages: Option<i64>,
    /// True when the fax ended normally as the gateway saw it (the job is then done).
    pub success: bool,
    /// What happened, in words.
    pub result: String,
    /// Both legs and the joints, as the bridge reported them.
    pub detail: serde_json::Value,
}

/// A recorded live-bridged call.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BridgeRecord {
    /// Its job.
    pub job_id: JobId,
    /// `upstream` or `downstream`.
    pub direction: String,
    /// The gateway the outbound leg went to.
    pub gateway: String,
    /// When the call came in.
    pub started_at: DateTime<Utc>,
    /// When both legs had ended.
    pub ended_at: DateTime<Utc>,
    /// Media time while both legs were up, in ms.
    pub duration_ms: i64,
    /// Pages confirmed in the T.30 frames.
    pub pages: Option<i64>,
    /// True when the fax ended normally.
    pub success: bool,
    /// What happened.
    pub result: String,
    /// Both legs and the joints.
    #[sqlx(json)]
    pub detail: serde_json::Value,
}
