//! `faxserver serve` publishes what its calls do (issues #8 and #9), through the real binary:
//! server A sends a 2-page fax through `/fax/send` to server B (another `faxserver serve`).
//!
//! - A's tenant has a webhook endpoint with a signing secret pointing at a real HTTP receiver
//!   on loopback: it gets `fax.queued`, `fax.sending`, `fax.page` ×2 and `fax.delivered`,
//!   each with a valid Standard Webhooks signature (checked with the notify crate's
//!   verifier).
//! - An Event Socket client on A (raw TCP, FreeSWITCH's wire format) sees the call as
//!   CHANNEL_CREATE, CHANNEL_ANSWER, `spandsp::txfaxpageresult` ×2, `spandsp::txfaxresult`
//!   (success, 2 pages), CHANNEL_HANGUP_COMPLETE, in that order.
//! - `originate {fax_ident=…}sofia/gateway/server-b/<number> &txfax(<file>)` over A's Event
//!   Socket queues a job that B receives; B's own Event Socket shows the reception with A's
//!   station id as given in `fax_ident`.
//!
//! Every wait is on a socket or a channel, with a deadline only as a failure guard.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::esl::Esl;
use common::*;
use serde_json::{json, Value};

const A_KEY: &str = "admin-key-of-a";
const B_KEY: &str = "admin-key-of-b";
const SENDER: &str = "+15551230001";
const CALLEE_API: &str = "+15558880001";
const CALLEE_ESL: &str = "+15558880002";
const ESL_PASSWORD: &str = "esl-secret";
const STATION_ID: &str = "ESL TEST 42";
/// 32 bytes, base64: the endpoint's signing secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw2G0wKeDkALs=";
const LIMIT: Duration = Duration::from_secs(180);

// ---- a webhook receiver ----

/// One request the receiver got.
struct Hook {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Accepts every POST with 204 and hands it to the test.
fn webhook_receiver() -> (SocketAddr, mpsc::Receiver<Hook>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            if let Some(hook) = read_request(conn) {
                if tx.send(hook).is_err() {
                    return;
                }
            }
        }
    });
    (addr, rx)
}

fn read_request(mut conn: TcpStream) -> Option<Hook> {
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut headers = HashMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    conn.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    Some(Hook { headers, body })
}

// ---- the fax ----

fn two_pages(dir: &Path) -> (Vec<u8>, std::path::PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/fax-images");
    let pages: Vec<Vec<u8>> = (1..=2)
        .map(|i| std::fs::read(root.join(format!("spandsp_itu{i}.pbm"))).expect("ITU chart"))
        .collect();
    let inputs: Vec<&[u8]> = pages.iter().map(Vec::as_slice).collect();
    let tiff = engine::documents::images_to_fax_tiff(
        &inputs,
        &engine::documents::ConvertOptions::default(),
    )
    .expect("charts to TIFF")
    .tiff;
    let path = dir.join("two-pages.tif");
    std::fs::write(&path, &tiff).unwrap();
    (tiff, path)
}

/// B: one tenant owning both callees; A may call.
fn provision_receiver(b: &Server) {
    let t = post_json(b.api, "/admin/tenant", B_KEY, json!({"name": "receiver"}));
    let tid = t["id"].as_i64().unwrap();
    for n in [CALLEE_API, CALLEE_ESL] {
        post_json(
            b.api,
            "/admin/number",
            B_KEY,
            json!({"tenant_id": tid, "number": n}),
        );
    }
    post_json(
        b.api,
        "/admin/gateway",
        B_KEY,
        json!({"name": "server-a", "uri": "sip:127.0.0.1:5060", "allowed_sources": ["127.0.0.1"]}),
    );
    assert_eq!(
        http(b.api, "GET", "/admin/reload", &bearer(B_KEY), None).status,
        200
    );
}

/// A: the sending tenant with its user and a signed webhook endpoint; B upstream.
fn provision_sender(a: &Server, b_sip: SocketAddr, hook: SocketAddr) -> String {
    let t = post_json(a.api, "/admin/tenant", A_KEY, json!({"name": "sender"}));
    let tid = t["id"].as_i64().unwrap();
    post_json(
        a.api,
        "/admin/number",
        A_KEY,
        json!({"tenant_id": tid, "number": SENDER}),
    );
    post_json(
        a.api,
        "/admin/user",
        A_KEY,
        json!({"tenant_id": tid, "username": "alice", "password": "correct horse"}),
    );
    post_json(
        a.api,
        "/admin/gateway",
        A_KEY,
        json!({"name": "server-b", "uri": format!("sip:{b_sip}")}),
    );
    post_json(
        a.api,
        "/admin/endpoint",
        A_KEY,
        json!({"type": "global", "endpoint_type": "gateway", "endpoint": "server-b", "priority": 1}),
    );
    let ep = post_json(
        a.api,
        "/admin/endpoint",
        A_KEY,
        json!({"type": "tenant", "type_id": tid, "endpoint_type": "webhook",
               "endpoint": format!("http://{hook}/hooks"), "priority": 1}),
    );
    let id = ep["id"].as_i64().unwrap();
    let body = json!({"secret": SECRET, "events": []}).to_string();
    let r = http(
        a.api,
        "PUT",
        &format!("/admin/endpoint/{id}/webhook-secret"),
        &bearer(A_KEY),
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    basic("alice", "correct horse")
}

/// The lifecycle webhooks of `job`, each checked against the secret, until `done` says so.
fn webhooks_of(
    rx: &mpsc::Receiver<Hook>,
    job: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<(String, Value)> {
    let secret = notify::Secret::parse(SECRET).unwrap();
    let deadline = Instant::now() + LIMIT;
    let mut got = Vec::new();
    loop {
        let kinds: Vec<String> = got
            .iter()
            .map(|(k, _): &(String, Value)| k.clone())
            .collect();
        if done(&kinds) {
            return got;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let hook = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("webhooks so far: {kinds:?}"));
        let h = |k: &str| hook.headers.get(k).cloned().unwrap_or_default();
        let now = chrono::Utc::now().timestamp();
        secret
            .verify(
                &h("webhook-id"),
                &h("webhook-timestamp"),
                &h("webhook-signature"),
                &hook.body,
                now,
                300,
            )
            .unwrap_or_else(|e| {
                panic!(
                    "bad signature ({e}) on {}",
                    String::from_utf8_lossy(&hook.body)
                )
            });
        let v: Value = serde_json::from_slice(&hook.body).unwrap();
        if v["data"]["job_uuid"] == job {
            got.push((v["type"].as_str().unwrap_or_default().to_owned(), v));
        }
    }
}

#[test]
fn webhooks_and_event_socket_follow_a_real_fax() {
    let dir = tempfile::tempdir().unwrap();
    let (tiff, tiff_path) = two_pages(dir.path());
    let esl_env = [
        ("FAXSERVER_ESL_LISTEN", "127.0.0.1:0"),
        ("FAXSERVER_ESL_PASSWORD", ESL_PASSWORD),
    ];
    let b = Server::start(
        &dir.path().join("b"),
        "b",
        &config("44000-44999", B_KEY, json!({})),
        &esl_env,
    );
    provision_receiver(&b);
    let (hook_addr, hooks) = webhook_receiver();
    // A logs JSON, with the engine at debug so that lines inside the call are sure to exist.
    let a_env = [
        esl_env[0],
        esl_env[1],
        ("FAXSERVER_LOG_FORMAT", "json"),
        ("FAXSERVER_LOG", "info,engine=debug,spandsp=error"),
    ];
    let a = Server::start(
        &dir.path().join("a"),
        "a",
        &config(
            "45000-45999",
            A_KEY,
            json!({"queue": {"poll_interval": "1s"}}),
        ),
        &a_env,
    );
    let alice = provision_sender(&a, b.sip, hook_addr);
    let mut esl_a = Esl::connect(a.esl.expect("A's Event Socket"), ESL_PASSWORD);

    // 1. A fax through the API.
    let job = send_fax(a.api, &alice, &tiff, SENDER, CALLEE_API);
    let create = loop {
        let e = esl_a.event();
        if e.name() == "CHANNEL_CREATE" {
            break e;
        }
    };
    assert_eq!(
        create.get("variable_faxserver_job_uuid"),
        Some(job.as_str()),
        "{create:?}"
    );
    let uuid = create.get("Unique-ID").unwrap().to_owned();
    let mut seen = vec![create.name()];
    let mut result = None;
    while seen.last().map(String::as_str) != Some("CHANNEL_HANGUP_COMPLETE") {
        let e = esl_a.event();
        if e.get("Unique-ID") != Some(uuid.as_str()) {
            continue;
        }
        if e.name() == "spandsp::txfaxresult" {
            result = Some(e.clone());
        }
        seen.push(e.name());
    }
    let wanted = [
        "CHANNEL_CREATE",
        "CHANNEL_ANSWER",
        "spandsp::txfaxpageresult",
        "spandsp::txfaxresult",
        "CHANNEL_HANGUP_COMPLETE",
    ];
    let order: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|n| wanted.contains(n))
        .collect();
    assert_eq!(
        order,
        [
            "CHANNEL_CREATE",
            "CHANNEL_ANSWER",
            "spandsp::txfaxpageresult",
            "spandsp::txfaxpageresult",
            "spandsp::txfaxresult",
            "CHANNEL_HANGUP_COMPLETE",
        ],
        "all events: {seen:?}"
    );
    let result = result.unwrap();
    assert_eq!(result.get("fax-success"), Some("1"), "{result:?}");
    assert_eq!(
        result.get("fax-document-transferred-pages"),
        Some("2"),
        "{result:?}"
    );

    let got = webhooks_of(&hooks, &job, |k| k.iter().any(|k| k == "fax.delivered"));
    let kinds: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    let mut sorted = kinds.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "fax.delivered",
            "fax.page",
            "fax.page",
            "fax.queued",
            "fax.sending"
        ],
        "{kinds:?}"
    );
    let mut pages: Vec<i64> = got
        .iter()
        .filter(|(k, _)| k == "fax.page")
        .map(|(_, v)| v["data"]["page"].as_i64().unwrap())
        .collect();
    pages.sort_unstable();
    assert_eq!(pages, [1, 2]);

    // 2. A fax through the Event Socket, as gofaxserver placed them.
    let mut esl_b = Esl::connect(b.esl.expect("B's Event Socket"), ESL_PASSWORD);
    let cmd = format!(
        "bgapi originate {{fax_ident='{STATION_ID}',origination_caller_id_number={SENDER}}}sofia/gateway/server-b/{CALLEE_ESL} &txfax({})",
        tiff_path.display()
    );
    let r = esl_a.command(&cmd);
    assert!(
        r.get("Reply-Text")
            .unwrap_or("")
            .starts_with("+OK Job-UUID"),
        "{r:?}"
    );
    let received = loop {
        let e = esl_b.event();
        if e.name() == "spandsp::rxfaxresult" {
            break e;
        }
    };
    assert_eq!(received.get("fax-success"), Some("1"), "{received:?}");
    assert_eq!(
        received.get("fax-document-transferred-pages"),
        Some("2"),
        "{received:?}"
    );
    assert_eq!(
        received.get("fax-remote-station-id"),
        Some(STATION_ID),
        "fax_ident reached the far end: {received:?}"
    );
    let stored = until("B to list the fax", LIMIT, || {
        let r = http(b.api, "GET", "/admin/faxes", &bearer(B_KEY), None);
        let v = r.json();
        v["recent"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|i| i["callee"] == CALLEE_ESL && i["result_success"] == true)
            })
            .cloned()
    });
    assert_eq!(stored["direction"], "inbound", "{stored:#}");

    assert!(!a.stderr().contains("panicked"), "{}", a.stderr());
    json_logs_carry_the_call(&a.stderr(), &job);
    assert!(!b.stderr().contains("panicked"), "{}", b.stderr());
    assert!(a.terminate().success(), "A exits 0 on SIGTERM");
    assert!(b.terminate().success(), "B exits 0 on SIGTERM");
}

/// Issue #8 item 5: every line is a JSON object; the lines logged inside the job's call carry
/// its `job_id` and SIP `call_id`; phone numbers stay out of lines above debug level.
fn json_logs_carry_the_call(stderr: &str, job: &str) {
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let in_job: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["job_id"] == job)
        .collect();
    assert!(
        !in_job.is_empty(),
        "no line carries job_id {job}:\n{stderr}"
    );
    let with_call = in_job
        .iter()
        .filter(|l| l["span"]["call_id"].as_str().is_some_and(|c| !c.is_empty()))
        .count();
    assert!(
        with_call > 0,
        "no line of the job carries its call_id:\n{stderr}"
    );
    for l in &lines {
        let level = l["level"].as_str().unwrap_or_default();
        if matches!(level, "INFO" | "WARN" | "ERROR") {
            let text = l.to_string();
            assert!(
                !text.contains(CALLEE_API) && !text.contains(CALLEE_ESL),
                "a phone number at {level}: {text}"
            );
        }
    }
}
