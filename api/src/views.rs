//! JSON shapes of responses and request bodies, with gofaxserver's keys.
//!
//! Responses are built from explicit view structs rather than the store's records, so that a
//! field added to a record (a hash, a secret) cannot appear in the API by accident.

use serde::{Deserialize, Serialize};
use store::{Endpoint, EndpointKind, Scope, Tenant, TenantNumber, Transport, User};

/// A tenant with its numbers (`id`, `name`, `notify`, `numbers`) and whether its debug
/// bundles include a pcap (`debug_pcap`).
#[derive(Debug, Serialize)]
pub(crate) struct TenantView {
    pub id: i64,
    pub name: String,
    pub notify: String,
    pub numbers: Vec<NumberView>,
    pub debug_pcap: bool,
}

impl TenantView {
    /// Combines a tenant and its numbers.
    pub fn new(t: Tenant, numbers: Vec<TenantNumber>) -> Self {
        TenantView {
            id: t.id.0,
            name: t.name,
            notify: t.notify,
            numbers: numbers.into_iter().map(NumberView::from).collect(),
            debug_pcap: t.debug_pcap,
        }
    }
}

/// A tenant number (`id`, `tenant_id`, `number`, `name`, `header`, `notify`).
#[derive(Debug, Serialize)]
pub(crate) struct NumberView {
    pub id: i64,
    pub tenant_id: i64,
    pub number: String,
    pub name: String,
    pub header: String,
    pub notify: String,
}

impl From<TenantNumber> for NumberView {
    fn from(n: TenantNumber) -> Self {
        NumberView {
            id: n.id.0,
            tenant_id: n.tenant_id.0,
            number: n.number,
            name: n.name,
            header: n.header,
            notify: n.notify,
        }
    }
}

/// A user (`id`, `tenant_id`, `username`); gofaxserver's `password` is never returned.
#[derive(Debug, Serialize)]
pub(crate) struct UserView {
    pub id: i64,
    pub tenant_id: i64,
    pub username: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id.0,
            tenant_id: u.tenant_id.0,
            username: u.username,
        }
    }
}

/// An endpoint with gofaxserver's keys (§3.3).
#[derive(Debug, Serialize)]
pub(crate) struct EndpointView {
    pub id: i64,
    #[serde(rename = "type")]
    pub scope: Scope,
    pub type_id: i64,
    pub endpoint_type: EndpointKind,
    pub endpoint: String,
    pub priority: i64,
    pub bridge: bool,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        EndpointView {
            id: e.id.0,
            scope: e.scope,
            type_id: e.scope_id,
            endpoint_type: e.endpoint_type,
            endpoint: e.target,
            priority: e.priority,
            bridge: e.bridge,
        }
    }
}

/// A SIP gateway; the digest password is write-only.
#[derive(Debug, Serialize)]
pub(crate) struct GatewayView {
    pub id: i64,
    pub name: String,
    pub uri: String,
    pub transport: Transport,
    pub username: Option<String>,
    pub register: bool,
    pub allowed_sources: Vec<String>,
    pub tenant_id: Option<i64>,
    pub t38_allowed: bool,
    pub debug_pcap: bool,
}

impl From<store::Gateway> for GatewayView {
    fn from(g: store::Gateway) -> Self {
        GatewayView {
            id: g.id.0,
            name: g.name,
            uri: g.uri,
            transport: g.transport,
            username: g.username,
            register: g.register,
            allowed_sources: g.allowed_sources,
            tenant_id: g.tenant_id.map(|t| t.0),
            t38_allowed: g.t38_allowed,
            debug_pcap: g.debug_pcap,
        }
    }
}

/// `{"message": …}`, gofaxserver's answer to deletions.
#[derive(Debug, Serialize)]
pub(crate) struct Message {
    pub message: &'static str,
}

/// Body of `POST`/`PUT /admin/tenant`; nested `numbers` are accepted on create only.
#[derive(Debug, Deserialize)]
pub(crate) struct TenantIn {
    pub name: String,
    #[serde(default)]
    pub notify: String,
    #[serde(default)]
    pub numbers: Option<Vec<NumberFields>>,
    /// Absent leaves the flag as it is.
    #[serde(default)]
    pub debug_pcap: Option<bool>,
}

/// The number fields shared by nested and top-level number bodies.
#[derive(Debug, Deserialize)]
pub(crate) struct NumberFields {
    pub number: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub header: String,
    #[serde(default)]
    pub notify: String,
}

/// Body of `POST`/`PUT /admin/number`; `tenant_id` is optional on PUT (it cannot change).
#[derive(Debug, Deserialize)]
pub(crate) struct NumberIn {
    pub tenant_id: Option<i64>,
    #[serde(flatten)]
    pub fields: NumberFields,
}

/// Body of `POST /admin/user`; gofaxserver's `api_key` is accepted and ignored (tokens are
/// issued by `POST /admin/user/{id}/token` and stored hashed).
#[derive(Debug, Deserialize)]
pub(crate) struct UserIn {
    pub tenant_id: i64,
    pub username: String,
    pub password: String,
}

/// Body of `PUT /admin/user/{id}`: any of the fields; an absent or empty password is kept.
#[derive(Debug, Deserialize)]
pub(crate) struct UserUpdate {
    pub tenant_id: Option<i64>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Body of `POST /admin/user/{id}/token`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenIn {
    #[serde(default)]
    pub label: String,
}

/// Body of `POST`/`PUT /admin/endpoint` (§3.3 keys).
#[derive(Debug, Deserialize)]
pub(crate) struct EndpointIn {
    #[serde(rename = "type")]
    pub scope: Scope,
    #[serde(default)]
    pub type_id: i64,
    pub endpoint_type: EndpointKind,
    pub endpoint: String,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub bridge: bool,
}

/// Body of `POST`/`PUT /admin/gateway`; on PUT an absent password keeps the stored one.
#[derive(Debug, Deserialize)]
pub(crate) struct GatewayIn {
    pub name: String,
    pub uri: String,
    #[serde(default = "default_transport")]
    pub transport: Transport,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub register: bool,
    #[serde(default)]
    pub allowed_sources: Vec<String>,
    #[serde(default)]
    pub tenant_id: Option<i64>,
    #[serde(default = "default_true")]
    pub t38_allowed: bool,
    /// Absent leaves the flag as it is.
    #[serde(default)]
    pub debug_pcap: Option<bool>,
}

/// UDP, SIP's default transport.
fn default_transport() -> Transport {
    Transport::Udp
}

/// For fields that default to on.
fn default_true() -> bool {
    true
}
