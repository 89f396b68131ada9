//! Every operation of the router, as data: method, path, who may call it, body and answer.
//! `api/tests/openapi.rs` checks this list against the routes the router really has.

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Auth {
    /// Anyone.
    Public,
    /// The administrator's API key (Basic password or Bearer).
    Admin,
    /// A tenant user (Basic `user:password` or Bearer API token).
    Tenant,
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub(super) enum Body {
    /// JSON of this component schema.
    Json(&'static str),
    /// `/fax/send`'s multipart form.
    FaxUpload,
}

/// A success answer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Answer {
    /// 200 JSON of this schema (a component name, or `[Name]` for an array of it).
    Json(&'static str),
    /// 202 JSON of this schema.
    Accepted(&'static str),
    /// A fax document (PDF, or TIFF on request).
    Document,
    /// The Swagger UI page or one of its assets.
    Html,
    /// The OpenAPI document itself.
    OpenApi,
    /// A pcap capture (`application/vnd.tcpdump.pcap`).
    Pcap,
}

/// One operation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub body: Option<Body>,
    /// Query parameters (`name`, description); all optional strings.
    pub query: &'static [(&'static str, &'static str)],
    pub ok: Answer,
}

use Auth::{Admin, Public, Tenant};

const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    auth: Auth,
    body: Option<Body>,
    ok: Answer,
) -> Op {
    Op {
        method,
        path,
        tag,
        summary,
        auth,
        body,
        query: &[],
        ok,
    }
}

const fn j(schema: &'static str) -> Option<Body> {
    Some(Body::Json(schema))
}

const LIST_QUERY: &[(&str, &str)] = &[
    ("direction", "inbound or outbound"),
    ("status", "queued, sending, done, failed or cancelled"),
    ("from", "created at or after (RFC 3339)"),
    ("to", "created before (RFC 3339)"),
    ("limit", "page size (default 50, at most 200)"),
    ("cursor", "next_cursor of the previous page"),
];
const DELIVERY_QUERY: &[(&str, &str)] = &[
    ("tenant_id", "only this tenant's deliveries"),
    ("job", "only this job's deliveries (uuid)"),
    ("status", "pending, delivered or failed"),
    ("limit", "at most this many (default 100)"),
];

/// The operations, in the order the document lists them.
#[rustfmt::skip]
pub(super) const OPS: &[Op] = &[
    op("get", "/health", "health", "Liveness: the process answers", Public, None, Answer::Json("Health")),
    op("get", "/ready", "health", "Readiness: the store answers", Public, None, Answer::Json("Health")),
    op("get", "/openapi.json", "docs", "This document", Public, None, Answer::OpenApi),
    op("get", "/docs", "docs", "Swagger UI", Public, None, Answer::Html),
    // ---- admin ----
    op("get", "/admin/tenant", "admin", "List tenants with their numbers", Admin, None, Answer::Json("[Tenant]")),
    op("post", "/admin/tenant", "admin", "Create a tenant (optionally with numbers)", Admin, j("TenantIn"), Answer::Json("Tenant")),
    op("get", "/admin/tenant/{id}", "admin", "Get a tenant", Admin, None, Answer::Json("Tenant")),
    op("put", "/admin/tenant/{id}", "admin", "Update a tenant", Admin, j("TenantIn"), Answer::Json("Tenant")),
    op("delete", "/admin/tenant/{id}", "admin", "Delete a tenant and everything it owns", Admin, None, Answer::Json("Message")),
    op("get", "/admin/tenant/{id}/dialing", "admin", "A tenant's toll-fraud settings and today's usage", Admin, None, Answer::Json("Dialing")),
    op("put", "/admin/tenant/{id}/dialing", "admin", "Replace a tenant's toll-fraud settings", Admin, j("DialingIn"), Answer::Json("Dialing")),
    op("get", "/admin/tenant/{id}/header", "admin", "A tenant's header-line time zone and date format", Admin, None, Answer::Json("Header")),
    op("put", "/admin/tenant/{id}/header", "admin", "Set a tenant's header-line time zone (IANA name) and/or date format (\"\" clears)", Admin, j("HeaderIn"), Answer::Json("Header")),
    op("get", "/admin/number/{id}/header", "admin", "A number's header-line time zone and date format", Admin, None, Answer::Json("Header")),
    op("put", "/admin/number/{id}/header", "admin", "Set a number's header-line time zone (IANA name) and/or date format (\"\" clears)", Admin, j("HeaderIn"), Answer::Json("Header")),
    Op { query: &[("tenant_id", "only this tenant's numbers")], ..op("get", "/admin/number", "admin", "List numbers", Admin, None, Answer::Json("[Number]")) },
    op("post", "/admin/number", "admin", "Add a number to a tenant", Admin, j("NumberIn"), Answer::Json("Number")),
    Op { query: &[("number", "the number to delete (any NANP form)"), ("tenant_id", "its tenant (optional)")], ..op("delete", "/admin/number", "admin", "Delete a number given by value (gofaxserver)", Admin, None, Answer::Json("Message")) },
    op("get", "/admin/number/{id}", "admin", "Get a number", Admin, None, Answer::Json("Number")),
    op("put", "/admin/number/{id}", "admin", "Update a number", Admin, j("NumberIn"), Answer::Json("Number")),
    op("delete", "/admin/number/{id}", "admin", "Delete a number", Admin, None, Answer::Json("Message")),
    Op { query: &[("tenant_id", "only this tenant's users")], ..op("get", "/admin/user", "admin", "List users", Admin, None, Answer::Json("[User]")) },
    op("post", "/admin/user", "admin", "Create a user", Admin, j("UserIn"), Answer::Json("User")),
    op("get", "/admin/user/{id}", "admin", "Get a user", Admin, None, Answer::Json("User")),
    op("put", "/admin/user/{id}", "admin", "Rename, move or set the password of a user", Admin, j("UserUpdate"), Answer::Json("User")),
    op("delete", "/admin/user/{id}", "admin", "Delete a user and their tokens", Admin, None, Answer::Json("Message")),
    op("post", "/admin/user/{id}/token", "admin", "Create an API token (shown once)", Admin, j("TokenIn"), Answer::Json("Token")),
    op("get", "/admin/endpoint", "admin", "List endpoints", Admin, None, Answer::Json("[Endpoint]")),
    op("post", "/admin/endpoint", "admin", "Create an endpoint", Admin, j("EndpointIn"), Answer::Json("Endpoint")),
    op("get", "/admin/endpoint/{id}", "admin", "Get an endpoint", Admin, None, Answer::Json("Endpoint")),
    op("put", "/admin/endpoint/{id}", "admin", "Update an endpoint", Admin, j("EndpointIn"), Answer::Json("Endpoint")),
    op("delete", "/admin/endpoint/{id}", "admin", "Delete an endpoint", Admin, None, Answer::Json("Message")),
    op("get", "/admin/endpoint/{id}/webhook-secret", "admin", "Whether a webhook endpoint signs, and its events", Admin, None, Answer::Json("WebhookSecret")),
    op("put", "/admin/endpoint/{id}/webhook-secret", "admin", "Set a webhook endpoint's signing secret", Admin, j("WebhookSecretIn"), Answer::Json("WebhookSecret")),
    op("delete", "/admin/endpoint/{id}/webhook-secret", "admin", "Remove a webhook endpoint's secret", Admin, None, Answer::Json("WebhookSecret")),
    op("get", "/admin/gateway", "admin", "List SIP gateways", Admin, None, Answer::Json("[Gateway]")),
    op("post", "/admin/gateway", "admin", "Create a SIP gateway", Admin, j("GatewayIn"), Answer::Json("Gateway")),
    op("get", "/admin/gateway/{id}", "admin", "Get a SIP gateway", Admin, None, Answer::Json("Gateway")),
    op("put", "/admin/gateway/{id}", "admin", "Update a SIP gateway", Admin, j("GatewayIn"), Answer::Json("Gateway")),
    op("delete", "/admin/gateway/{id}", "admin", "Delete a SIP gateway", Admin, None, Answer::Json("Message")),
    op("get", "/admin/faxes", "admin", "Active and recently finished faxes (gofaxserver's tracker)", Admin, None, Answer::Json("Faxes")),
    op("get", "/admin/reload", "admin", "Apply database changes without a restart", Admin, None, Answer::Json("Message")),
    Op { query: DELIVERY_QUERY, ..op("get", "/admin/deliveries", "deliveries", "List webhook and e-mail deliveries", Admin, None, Answer::Json("[Delivery]")) },
    op("get", "/admin/deliveries/{id}", "deliveries", "A delivery with its tries", Admin, None, Answer::Json("Delivery")),
    op("post", "/admin/deliveries/{id}/replay", "deliveries", "Send a delivery again", Admin, None, Answer::Json("Delivery")),
    op("get", "/admin/fax/{uuid}/debug", "admin", "Any job's per-call debug bundles (SIP ladder, T.30 trace)", Admin, None, Answer::Json("[CallDebug]")),
    op("get", "/admin/fax/{uuid}/debug/{id}/pcap", "admin", "A debug bundle's pcap of the call's media", Admin, None, Answer::Pcap),
    // ---- tenant ----
    op("get", "/tenant/number", "tenant", "The tenant's numbers", Tenant, None, Answer::Json("[Number]")),
    op("get", "/tenant/number/{id}", "tenant", "One of the tenant's numbers", Tenant, None, Answer::Json("Number")),
    op("get", "/tenant/user", "tenant", "The tenant's users", Tenant, None, Answer::Json("[User]")),
    op("get", "/tenant/user/{id}", "tenant", "One of the tenant's users", Tenant, None, Answer::Json("User")),
    op("get", "/tenant/endpoint", "tenant", "The tenant's endpoints", Tenant, None, Answer::Json("[Endpoint]")),
    op("get", "/tenant/endpoint/{id}", "tenant", "One of the tenant's endpoints", Tenant, None, Answer::Json("Endpoint")),
    // ---- faxes ----
    Op { query: LIST_QUERY, ..op("get", "/fax", "fax", "List the tenant's faxes, newest first", Tenant, None, Answer::Json("FaxPage")) },
    op("post", "/fax/send", "fax", "Send a fax (PDF, TIFF, PNG or JPEG); 202 once queued", Tenant, Some(Body::FaxUpload), Answer::Accepted("Accepted")),
    Op { query: &[("uuid", "the job (gofaxserver)")], ..op("get", "/fax/status", "fax", "gofaxserver's status rows of a job", Tenant, None, Answer::Json("[GofaxStatus]")) },
    op("get", "/fax/{uuid}", "fax", "A job with its attempts and page results", Tenant, None, Answer::Json("FaxStatus")),
    op("delete", "/fax/{uuid}", "fax", "Cancel a queued job", Tenant, None, Answer::Json("Job")),
    op("post", "/fax/{uuid}/cancel", "fax", "Cancel a queued job", Tenant, None, Answer::Json("Job")),
    Op { query: &[("format", "pdf (default) or tiff")], ..op("get", "/fax/{uuid}/document", "fax", "The job's document", Tenant, None, Answer::Document) },
    op("get", "/fax/{uuid}/deliveries", "deliveries", "The job's webhook and e-mail deliveries", Tenant, None, Answer::Json("[Delivery]")),
    op("post", "/fax/{uuid}/deliveries/{id}/replay", "deliveries", "Send one of the job's deliveries again", Tenant, None, Answer::Json("Delivery")),
    op("get", "/fax/{uuid}/debug", "fax", "The job's per-call debug bundles: SIP ladder and T.30 trace of every leg", Tenant, None, Answer::Json("[CallDebug]")),
    op("get", "/fax/{uuid}/debug/{id}/pcap", "fax", "A debug bundle's pcap of the call's media (when the tenant or gateway enables capture)", Tenant, None, Answer::Pcap),
];
