//! gofaxserver's webhook payloads, kept so that its receivers work unchanged
//! (`gofaxserver-behaviour.md` §3.5, §5.3, §9.1):
//!
//! - the delivery endpoint: the FaxJob JSON plus `file_data` (base64 PDF of the whole fax),
//!   with headers `X-Fax-UUID`, `X-Call-UUID`, `X-Attempt`, `X-File-Bytes`, `X-File-SHA256`;
//! - the notify `webhook`: `{"fax_job_results": {"results", "fax_job", "all_attempts_failed"},
//!   "file_data": <base64 report PDF>}`;
//! - the notify `webhook_form`: multipart with the inner object as the text field
//!   `fax_job_results` and the first page as the file `firstpage_pdf`.
//!
//! The Go program's zero values are reproduced where it sends them (an unset time is
//! `0001-01-01T00:00:00Z`), so that strict receivers parse our payloads as they did its own.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use store::{Attempt, Direction, Endpoint, Job};
use uuid::Uuid;

/// Go's zero `time.Time`, as `encoding/json` writes it.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// What a FaxJob JSON is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFacts {
    /// The job.
    pub job: Job,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// Tenant of the sending number (0 when not ours).
    pub src_tenant_id: i64,
    /// Tenant of the receiving number (0 when not ours).
    pub dst_tenant_id: i64,
    /// Caller-ID name.
    pub caller_name: String,
    /// Fax header line of the sending number.
    pub header: String,
    /// Where the job is delivered.
    pub endpoints: Vec<Endpoint>,
}

impl JobFacts {
    /// Facts of a job with nothing known beyond its row and attempts.
    pub fn of(job: Job, attempts: Vec<Attempt>) -> Self {
        let (src, dst) = match job.direction {
            Direction::Outbound => (job.tenant_id.0, 0),
            Direction::Inbound => (0, job.tenant_id.0),
        };
        JobFacts {
            job,
            attempts,
            src_tenant_id: src,
            dst_tenant_id: dst,
            caller_name: String::new(),
            header: String::new(),
            endpoints: Vec::new(),
        }
    }

    /// True when no attempt succeeded (also when there was none), as gofaxserver computes
    /// `all_attempts_failed`.
    pub fn all_attempts_failed(&self) -> bool {
        !self.attempts.iter().any(attempt_succeeded)
    }
}

/// Whether an attempt succeeded: it ended with T.30 completion code 0 (`T30_ERR_OK`).
pub fn attempt_succeeded(a: &Attempt) -> bool {
    a.result_code == Some(0)
}

/// A stable UUID for an attempt (gofaxserver keyed results by a per-attempt UUID; ours are
/// integers, so the job's UUID is mixed with the attempt id to get one that never changes).
pub fn attempt_uuid(job: &Job, attempt: &Attempt) -> Uuid {
    Uuid::from_u128(job.id.0.as_u128() ^ u128::from(attempt.id.0 as u64))
}

/// gofaxserver's endpoint JSON (§3.3).
#[derive(Debug, Serialize)]
struct EndpointJson<'a> {
    id: i64,
    #[serde(rename = "type")]
    scope: &'a str,
    type_id: i64,
    endpoint_type: &'a str,
    endpoint: &'a str,
    priority: i64,
    bridge: bool,
}

/// gofaxserver's FaxJob JSON (§3.5), for the job as a whole (`attempt` = `None`: the last
/// attempt's result) or as one attempt saw it.
pub fn fax_job_json(f: &JobFacts, attempt: Option<&Attempt>) -> Value {
    let job = &f.job;
    let last = attempt.or(f.attempts.last());
    let endpoints: Vec<EndpointJson<'_>> = f
        .endpoints
        .iter()
        .map(|e| EndpointJson {
            id: e.id.0,
            scope: e.scope.as_str(),
            type_id: e.scope_id,
            endpoint_type: e.endpoint_type.as_str(),
            endpoint: &e.target,
            priority: e.priority,
            bridge: e.bridge,
        })
        .collect();
    let call_uuid = last.map_or(Uuid::nil(), |a| attempt_uuid(job, a));
    let npages = last.map_or(0, |a| a.pages);
    let status = match last {
        Some(a) if !a.result_text.is_empty() => a.result_text.clone(),
        _ => job.status.as_str().to_owned(),
    };
    let dials = i64::try_from(f.attempts.len()).unwrap_or(i64::MAX);
    let (source_type, source) = match job.direction {
        Direction::Inbound => ("gateway", "sip"),
        Direction::Outbound => ("webhook", "user"),
    };
    json!({
        "uuid": job.id.0,
        "call_uuid": call_uuid,
        "src_tenant_id": f.src_tenant_id,
        "dst_tenant_id": f.dst_tenant_id,
        "number": job.callee,
        "cidnum": job.caller,
        "cidname": f.caller_name,
        "filename": job.document_id.map(|d| format!("fax_{}.tiff", d.0)).unwrap_or_default(),
        "use_ecm": false,
        "disable_v_17": false,
        "ident": if f.src_tenant_id != 0 { job.caller.as_str() } else { "" },
        "header": f.header,
        "endpoints": endpoints,
        "result": last.map(|a| fax_result_json(job, a)),
        "fax_source_info": {
            "timestamp": job.created_at,
            "source_type": source_type,
            "source": source,
            "source_id": job.id.0,
        },
        "npages": npages,
        "dataformat": "",
        "signalrate": 0,
        "csi": "",
        "status": status,
        "returned": 0,
        "totdials": dials,
        "ndials": 0,
        "tottries": dials,
        "jobtime": last.map_or(0, attempt_ns),
        "conntime": 0,
        "ts": job.updated_at,
        "IsBridge": false,
        "BridgeDirection": "",
        "BridgeGateway": "",
        "BridgeStartTs": GO_ZERO_TIME,
        "BridgeEndTs": GO_ZERO_TIME,
        "BridgeT38": false,
        "SoftmodemSrc": false,
        "SoftmodemDst": false,
        "used_t38": false,
        "softmodem_fallback": false,
    })
}

/// An attempt's duration in nanoseconds (Go's `time.Duration`).
fn attempt_ns(a: &Attempt) -> i64 {
    a.ended_at
        .and_then(|end| (end - a.started_at).num_nanoseconds())
        .unwrap_or(0)
}

/// gofaxserver's FaxResult JSON (§3.4) of one attempt.
fn fax_result_json(job: &Job, a: &Attempt) -> Value {
    let mut r = json!({
        "uuid": attempt_uuid(job, a),
        "start_ts": a.started_at,
        "end_ts": a.ended_at.map_or_else(|| json!(GO_ZERO_TIME), |t| json!(t)),
        "success": attempt_succeeded(a),
    });
    // omitempty, as in Go: zero values are left out.
    let fields = [
        ("total_pages", json!(a.pages), a.pages != 0),
        ("transferred_pages", json!(a.pages), a.pages != 0),
        (
            "result_code",
            json!(a.result_code),
            a.result_code.unwrap_or(0) != 0,
        ),
        (
            "result_text",
            json!(a.result_text),
            !a.result_text.is_empty(),
        ),
    ];
    for (k, v, present) in fields {
        if present {
            r[k] = v;
        }
    }
    r
}

/// The delivery endpoint's request: FaxJob JSON with `file_data`, and its `X-*` headers.
pub fn delivery_request(
    f: &JobFacts,
    endpoint: &Endpoint,
    pdf: &[u8],
) -> (Vec<u8>, BTreeMap<String, String>) {
    let mut one = f.clone();
    one.endpoints = vec![endpoint.clone()];
    let mut body = fax_job_json(&one, None);
    body["file_data"] = json!(B64.encode(pdf));
    let call_uuid = Uuid::new_v4();
    let headers = BTreeMap::from([
        ("X-Fax-UUID".to_owned(), f.job.id.0.to_string()),
        ("X-Call-UUID".to_owned(), call_uuid.to_string()),
        // Replaced by the try's number when sent.
        ("X-Attempt".to_owned(), "1".to_owned()),
        ("X-File-Bytes".to_owned(), pdf.len().to_string()),
        ("X-File-SHA256".to_owned(), hex(&Sha256::digest(pdf))),
    ]);
    (serde_json::to_vec(&body).unwrap_or_default(), headers)
}

/// The inner object of the notify payloads: `{"results","fax_job","all_attempts_failed"}`
/// (the last key only when true, as Go's `omitempty` leaves it out otherwise).
pub fn fax_job_results(f: &JobFacts) -> Value {
    let results: serde_json::Map<String, Value> = f
        .attempts
        .iter()
        .map(|a| {
            (
                attempt_uuid(&f.job, a).to_string(),
                fax_job_json(f, Some(a)),
            )
        })
        .collect();
    let mut inner = json!({ "results": results, "fax_job": fax_job_json(f, None) });
    if f.all_attempts_failed() {
        inner["all_attempts_failed"] = json!(true);
    }
    inner
}

/// The notify `webhook` body: the results and the report PDF in `file_data`.
pub fn notify_webhook_body(f: &JobFacts, report_pdf: &[u8]) -> Vec<u8> {
    let body = json!({
        "fax_job_results": fax_job_results(f),
        "file_data": B64.encode(report_pdf),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The notify `webhook_form` body and its content type: the results as the text field
/// `fax_job_results` and the first page as the file `firstpage_pdf`.
pub fn notify_form(f: &JobFacts, first_page_pdf: &[u8]) -> (String, Vec<u8>) {
    let results = serde_json::to_string(&fax_job_results(f)).unwrap_or_default();
    let boundary = format!("faxserver-{}", Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(first_page_pdf.len() + results.len() + 512);
    let mut part = |headers: String, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"fax_job_results\"".to_owned(),
        results.as_bytes(),
    );
    part(
        format!(
            "Content-Disposition: form-data; name=\"firstpage_pdf\"; filename=\"first_{}.pdf\"\r\nContent-Type: application/pdf",
            f.job.id.0
        ),
        first_page_pdf,
    );
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The end time of an attempt for reports: its end, else its start.
pub fn attempt_end(a: &Attempt) -> DateTime<Utc> {
    a.ended_at.unwrap_or(a.started_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{
        AttemptId, DocumentId, EndpointId, EndpointKind, JobId, JobStatus, Scope, TenantId,
    };

    pub(crate) fn facts() -> JobFacts {
        let t = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let job = Job {
            id: JobId(Uuid::from_u128(0xabcdef)),
            tenant_id: TenantId(4),
            direction: Direction::Inbound,
            caller: "+12125550100".into(),
            callee: "+12125550199".into(),
            document_id: Some(DocumentId(Uuid::from_u128(7))),
            status: JobStatus::Done,
            priority: 0,
            attempts: 1,
            next_attempt_at: t,
            lease_owner: None,
            lease_expires_at: None,
            last_error: None,
            created_at: t,
            updated_at: t,
            cancelled_at: None,
        };
        let job_id = job.id;
        let attempt = |id, code, text: &str| Attempt {
            id: AttemptId(id),
            job_id,
            endpoint_id: Some(EndpointId(9)),
            gateway_id: None,
            started_at: t,
            ended_at: Some(t + chrono::TimeDelta::seconds(30)),
            result_code: Some(code),
            result_text: text.into(),
            pages: 2,
        };
        let mut f = JobFacts::of(job, vec![attempt(1, 48, "busy"), attempt(2, 0, "OK")]);
        f.endpoints = vec![Endpoint {
            id: EndpointId(9),
            tenant_id: Some(TenantId(4)),
            scope: Scope::Tenant,
            scope_id: 4,
            endpoint_type: EndpointKind::Webhook,
            target: "https://example.invalid/hook".into(),
            priority: 1,
            bridge: false,
        }];
        f
    }

    #[test]
    fn fax_job_has_gofaxserver_keys() {
        let f = facts();
        let v = fax_job_json(&f, None);
        for key in [
            "uuid",
            "call_uuid",
            "src_tenant_id",
            "dst_tenant_id",
            "number",
            "cidnum",
            "cidname",
            "filename",
            "use_ecm",
            "disable_v_17",
            "ident",
            "header",
            "endpoints",
            "result",
            "fax_source_info",
            "npages",
            "dataformat",
            "signalrate",
            "csi",
            "status",
            "returned",
            "totdials",
            "ndials",
            "tottries",
            "jobtime",
            "conntime",
            "ts",
            "IsBridge",
            "BridgeDirection",
            "BridgeGateway",
            "BridgeStartTs",
            "BridgeEndTs",
            "BridgeT38",
            "SoftmodemSrc",
            "SoftmodemDst",
            "used_t38",
            "softmodem_fallback",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["dst_tenant_id"], 4);
        assert_eq!(v["number"], "+12125550199");
        assert_eq!(v["endpoints"][0]["type"], "tenant");
        assert_eq!(
            v["endpoints"][0]["endpoint"],
            "https://example.invalid/hook"
        );
        assert_eq!(v["result"]["success"], true);
        assert_eq!(v["result"]["result_text"], "OK");
        assert!(v["result"].get("result_code").is_none(), "omitempty");
        assert_eq!(v["jobtime"], 30_000_000_000_i64);
    }

    #[test]
    fn notify_results_key_each_attempt_and_flag_only_failure() {
        let mut f = facts();
        let inner = fax_job_results(&f);
        assert_eq!(inner["results"].as_object().map(|m| m.len()), Some(2));
        assert!(inner.get("all_attempts_failed").is_none());
        f.attempts.pop();
        let inner = fax_job_results(&f);
        assert_eq!(inner["all_attempts_failed"], true);
        let body: Value = serde_json::from_slice(&notify_webhook_body(&f, b"%PDF")).expect("json");
        assert_eq!(body["file_data"], "JVBERg==");
        assert_eq!(
            body["fax_job_results"]["fax_job"]["uuid"],
            f.job.id.0.to_string()
        );
    }

    #[test]
    fn delivery_request_carries_the_fax_and_its_digest() {
        let f = facts();
        let (body, headers) = delivery_request(&f, &f.endpoints[0], b"%PDF-1.7");
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["file_data"], B64.encode(b"%PDF-1.7"));
        assert_eq!(headers["X-File-Bytes"], "8");
        assert_eq!(headers["X-File-SHA256"], hex(&Sha256::digest(b"%PDF-1.7")));
        assert_eq!(headers["X-Fax-UUID"], f.job.id.0.to_string());
    }

    #[test]
    fn form_has_both_parts() {
        let f = facts();
        let (ct, body) = notify_form(&f, b"%PDF-first");
        let boundary = ct.split("boundary=").nth(1).expect("boundary");
        let text = String::from_utf8_lossy(&body);
        assert_eq!(text.matches(&format!("--{boundary}")).count(), 3);
        assert!(text.contains("name=\"fax_job_results\"\r\n\r\n{"));
        assert!(text.contains(&format!("filename=\"first_{}.pdf\"", f.job.id.0)));
        assert!(text.contains("%PDF-first\r\n"));
    }
}
