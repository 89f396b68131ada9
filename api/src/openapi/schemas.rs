//! Component schemas of the OpenAPI document: the JSON shapes of `crate::views` and the
//! route modules, written out by hand (the view structs are the source of truth; the
//! OpenAPI test checks a sample of answers against these).

use serde_json::{json, Map, Value};

fn s() -> Value {
    json!({ "type": "string" })
}
fn i() -> Value {
    json!({ "type": "integer", "format": "int64" })
}
fn b() -> Value {
    json!({ "type": "boolean" })
}
fn t() -> Value {
    json!({ "type": "string", "format": "date-time" })
}
fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
}
fn nullable(v: Value) -> Value {
    json!({ "oneOf": [v, { "type": "null" }] })
}
fn arr(v: Value) -> Value {
    json!({ "type": "array", "items": v })
}
fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// An object schema: `required` fields first, then optional ones.
fn obj(required: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let mut props = Map::new();
    for (k, v) in required.iter().chain(optional) {
        props.insert((*k).to_owned(), v.clone());
    }
    let req: Vec<&str> = required.iter().map(|(k, _)| *k).collect();
    json!({ "type": "object", "properties": props, "required": req })
}

/// All component schemas.
pub(super) fn all() -> Value {
    let number_fields = [("name", s()), ("header", s()), ("notify", s())];
    let scope = json!({ "type": "string", "enum": ["global", "tenant", "number"] });
    let kind = json!({ "type": "string", "enum": ["gateway", "webhook", "email"] });
    let transport = json!({ "type": "string", "enum": ["udp", "tcp", "tls"] });
    let number = obj(
        &[
            ("id", i()),
            ("tenant_id", i()),
            ("number", s()),
            ("name", s()),
            ("header", s()),
            ("notify", s()),
        ],
        &[],
    );
    let job = obj(
        &[
            ("job_uuid", uuid()),
            (
                "direction",
                json!({ "type": "string", "enum": ["inbound", "outbound"] }),
            ),
            ("status", s()),
            ("caller_number", s()),
            ("callee_number", s()),
            ("attempt_count", i()),
            ("created_at", t()),
            ("updated_at", t()),
        ],
        &[
            ("next_attempt_at", nullable(t())),
            ("last_error", nullable(s())),
            ("cancelled_at", nullable(t())),
        ],
    );
    json!({
        "Error": obj(&[("error", obj(&[
            ("code", json!({ "type": "string", "description": "stable machine-readable code, e.g. unauthorized, not_found, destination_blocked, daily_limit, rate_limited, too_many_auth_failures" })),
            ("message", s()),
        ], &[]))], &[]),
        "Message": obj(&[("message", s())], &[]),
        "Health": obj(&[("status", s())], &[]),
        "Tenant": obj(&[("id", i()), ("name", s()), ("notify", s()), ("numbers", arr(r("Number"))), ("debug_pcap", b())], &[]),
        "TenantIn": obj(&[("name", s())], &[("notify", s()), ("numbers", arr(r("NumberFields"))), ("debug_pcap", b())]),
        "Number": number,
        "NumberFields": obj(&[("number", s())], &number_fields),
        "NumberIn": obj(&[("number", s())], &[("tenant_id", i()), ("name", s()), ("header", s()), ("notify", s())]),
        "User": obj(&[("id", i()), ("tenant_id", i()), ("username", s())], &[]),
        "UserIn": obj(&[("tenant_id", i()), ("username", s()), ("password", s())], &[]),
        "UserUpdate": obj(&[], &[("tenant_id", i()), ("username", s()), ("password", s())]),
        "TokenIn": obj(&[], &[("label", s())]),
        "Token": obj(&[("id", i()), ("user_id", i()), ("label", s()), ("token", json!({ "type": "string", "description": "shown in this answer only" }))], &[]),
        "Endpoint": obj(&[("id", i()), ("type", scope.clone()), ("type_id", i()), ("endpoint_type", kind.clone()), ("endpoint", s()), ("priority", i()), ("bridge", b())], &[]),
        "EndpointIn": obj(&[("type", scope), ("type_id", i()), ("endpoint_type", kind), ("endpoint", s())], &[("priority", json!({ "type": "integer", "description": "lower first; 666 never delivers, 999 is last" })), ("bridge", b())]),
        "Gateway": obj(&[("id", i()), ("name", s()), ("uri", s()), ("transport", transport.clone()), ("username", nullable(s())), ("register", b()), ("allowed_sources", arr(s())), ("tenant_id", nullable(i())), ("t38_allowed", b()), ("debug_pcap", b())], &[]),
        "GatewayIn": obj(&[("name", s()), ("uri", s())], &[("transport", transport), ("username", nullable(s())), ("password", nullable(s())), ("register", b()), ("allowed_sources", arr(s())), ("tenant_id", nullable(i())), ("t38_allowed", b()), ("debug_pcap", b())]),
        "WebhookSecret": obj(&[("endpoint_id", i()), ("has_secret", b()), ("events", arr(s()))], &[("created_at", nullable(t()))]),
        "WebhookSecretIn": obj(&[("secret", s())], &[("events", arr(s()))]),
        "Dialing": obj(&[
            ("tenant_id", i()),
            ("home_country_code", json!({ "type": "string", "example": "1" })),
            ("allowed_prefixes", arr(json!({ "type": "string", "example": "+44" }))),
            ("daily_jobs", nullable(i())),
            ("daily_pages", nullable(i())),
            ("premium_prefixes", arr(s())),
            ("today", obj(&[("jobs", i()), ("pages", i())], &[])),
        ], &[]),
        "DialingIn": obj(&[], &[
            ("home_country_code", json!({ "type": "string", "default": "1" })),
            ("allowed_prefixes", json!({ "type": "array", "items": { "type": "string" }, "description": "`+` and digits; `+` allows all international numbers, a premium range must be named (e.g. +1900)" })),
            ("daily_jobs", json!({ "oneOf": [{ "type": "integer" }, { "type": "null" }], "description": "null: unlimited; absent: the default (500)" })),
            ("daily_pages", json!({ "oneOf": [{ "type": "integer" }, { "type": "null" }], "description": "null: unlimited; absent: the default (5000)" })),
        ]),
        "Header": obj(&[
            ("tenant_id", i()),
            ("header_tz", json!({ "type": "string", "example": "Europe/Berlin", "description": "IANA zone of the date in the header line; \"\" when unset" })),
            ("header_date_format", json!({ "type": "string", "example": "%Y-%m-%d %H:%M", "description": "strftime-style (chrono) format of that date; \"\" when unset (SpanDSP's own header line)" })),
        ], &[("number_id", i())]),
        "HeaderIn": obj(&[], &[
            ("header_tz", json!({ "type": "string", "example": "Pacific/Kiritimati", "description": "an IANA zone of the server's zone database, or \"\" to clear; absent: unchanged" })),
            ("header_date_format", json!({ "type": "string", "maxLength": 40, "example": "%d.%m.%Y %H:%M", "description": "strftime-style (chrono) format, printable ASCII; when set the server draws the header line itself; \"\" to clear; absent: unchanged" })),
        ]),
        "Faxes": obj(&[("active", i()), ("items", arr(json!({ "type": "object" })))], &[("recent", arr(json!({ "type": "object" })))]),
        "Delivery": obj(&[("id", uuid()), ("channel", s()), ("event", s()), ("target", s()), ("status", s()), ("attempts", i()), ("created_at", t())], &[("tenant_id", nullable(i())), ("job_id", nullable(uuid())), ("tries", arr(json!({ "type": "object" })))]),
        "CallDebug": obj(&[
            ("id", i()), ("call_id", s()),
            ("leg", json!({ "type": "string", "enum": ["send", "receive", "bridge-in", "bridge-out"] })),
            ("attempt_id", nullable(i())), ("created_at", t()),
            ("sip", arr(obj(&[("unix_ms", i()), ("sent", b()), ("peer", s()), ("transport", s()), ("text", s())], &[]))),
            ("t30", arr(obj(&[("at_ms", i()), ("level", s()), ("text", s())], &[]))),
            ("truncated", b()), ("has_pcap", b()),
        ], &[]),
        "Accepted": obj(&[("message", s()), ("job_uuid", uuid()), ("status", s())], &[("pages", nullable(i()))]),
        "FaxUpload": obj(&[
            ("file", json!({ "type": "string", "format": "binary", "description": "PDF, TIFF, PNG or JPEG" })),
            ("caller_number", json!({ "type": "string", "description": "one of the tenant's numbers" })),
            ("callee_number", s()),
        ], &[]),
        "Job": job,
        "FaxPage": obj(&[("items", arr(r("Job")))], &[("next_cursor", nullable(s()))]),
        "FaxStatus": obj(&[("job", r("Job")), ("attempts", arr(json!({ "type": "object" })))], &[("document", nullable(obj(&[("content_type", s()), ("pages", i()), ("size", i())], &[]))), ("bridge", json!({ "type": "object" }))]),
        "GofaxStatus": obj(&[("id", i()), ("job_uuid", uuid()), ("callee_number", s()), ("caller_id_number", s()), ("result_type", s()), ("status", s()), ("result_code", i()), ("result_text", s())], &[]),
    })
}
