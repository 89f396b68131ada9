//! Live bridging in `faxserver serve` (issue #6 items 4 and 5), through three real servers
//! on loopback:
//!
//! - C, the carrier side: sends a three-page fax with `/fax/send`, T.38 off (G.711 only);
//! - B, the bridging server: C is its upstream carrier; the called number's gateway endpoint
//!   to the tenant's "PBX" has `bridge` set, so B joins C's call live to R instead of
//!   receiving it;
//! - R, the PBX side: receives with T.38 requested.
//!
//! R must hold every page pixel-identical to what C sent, and B the bridge record: an
//! inbound job with no document, its bridge row with the pages the gateway saw in the T.30
//! frames, audio on the carrier leg, T.38 on the PBX leg, and a duration.
//!
//! The reverse runs the same servers the other way: a bridge-flagged PBX (G.711, calling
//! from 127.0.0.2 so that B tells it from the carrier) sends to a number that is not B's,
//! and B bridges it upstream to the first carrier by priority, which takes T.38.
//!
//! Conditions are polled through the API or the store with a deadline, never waited for
//! with a fixed sleep.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use store::{BridgeRecord, Direction, Job, JobStatus, SqliteStore, Store, TenantId};

mod common;

use common::*;

const C_KEY: &str = "admin-key-of-c";
const B_KEY: &str = "admin-key-of-b";
const R_KEY: &str = "admin-key-of-r";
const SENDER: &str = "+15551230001";
const PBX_NUMBER: &str = "+15554440001";
const PAGES: usize = 3;
/// The tests run one after the other: each keeps three servers' real-time media busy.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn document() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/fax-images");
    let pages: Vec<Vec<u8>> = (1..=PAGES)
        .map(|i| std::fs::read(root.join(format!("spandsp_itu{i}.pbm"))).expect("ITU chart"))
        .collect();
    let inputs: Vec<&[u8]> = pages.iter().map(Vec::as_slice).collect();
    engine::documents::images_to_fax_tiff(&inputs, &engine::documents::ConvertOptions::default())
        .expect("charts to TIFF")
        .tiff
}

fn reload(s: &Server, key: &str) {
    let r = http(s.api, "GET", "/admin/reload", &bearer(key), None);
    assert_eq!(r.status, 200);
}

/// The media names a leg of the bridge record carried.
fn media(detail: &Value, leg: &str) -> Vec<String> {
    detail[leg]["media"]
        .as_array()
        .unwrap_or_else(|| panic!("no {leg} media: {detail:#}"))
        .iter()
        .map(|m| m["media"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Runs `faxserver serve` with T.38 settings; `listen` is its SIP address.
fn start(root: &Path, name: &str, ports: &str, key: &str, faxing: Value, listen: &str) -> Server {
    let mut cfg = config(ports, key, json!({"faxing": faxing}));
    cfg["sip"]["listen"] = json!(listen);
    // Half the other serve tests' speed: three servers carry each call in real time, and
    // the bridge runs SpanDSP's gateway on every 20 ms frame of both legs.
    cfg["sip"]["media_speed"] = json!(4);
    Server::start(&root.join(name), name, &cfg, &[])
}

/// A tenant with one number: (tenant id, number id).
fn tenant(s: &Server, key: &str, name: &str, number: &str) -> (i64, i64) {
    let t = post_json(s.api, "/admin/tenant", key, json!({"name": name}));
    let tid = t["id"].as_i64().unwrap();
    let n = post_json(
        s.api,
        "/admin/number",
        key,
        json!({"tenant_id": tid, "number": number}),
    );
    (tid, n["id"].as_i64().unwrap())
}

fn add(s: &Server, key: &str, what: &str, body: Value) {
    post_json(s.api, &format!("/admin/{what}"), key, body);
}

/// The sender: `number` of a tenant with a user, sending everything through `via`.
fn sender(s: &Server, key: &str, number: &str, via: std::net::SocketAddr) -> String {
    let (tid, _) = tenant(s, key, "sender", number);
    add(
        s,
        key,
        "user",
        json!({"tenant_id": tid, "username": "alice", "password": "correct horse"}),
    );
    add(
        s,
        key,
        "gateway",
        json!({"name": "bridge", "uri": format!("sip:{via}")}),
    );
    add(
        s,
        key,
        "endpoint",
        json!({"type": "global", "endpoint_type": "gateway", "endpoint": "bridge", "priority": 1}),
    );
    basic("alice", "correct horse")
}

/// Sends the test document and waits for the job to end successfully, watching the
/// bridging server's live view: its call must show phase BRIDGING while it is carried.
fn send_and_wait(
    s: &Server,
    auth: &str,
    tiff: &[u8],
    from_to: (&str, &str),
    b: &Server,
    r: &Server,
) {
    let job = send_fax(s.api, auth, tiff, from_to.0, from_to.1);
    let mut phases = Vec::new();
    let sent = until("the sent fax to end", Duration::from_secs(300), || {
        let view = http(b.api, "GET", "/admin/faxes", &bearer(B_KEY), None).json();
        for i in view["items"].as_array().into_iter().flatten() {
            let p = i["phase"].as_str().unwrap_or_default().to_owned();
            if phases.last() != Some(&p) {
                phases.push(p);
            }
        }
        let v = http(s.api, "GET", &format!("/fax/{job}"), auth, None).json();
        matches!(v["status"].as_str(), Some("done" | "failed")).then_some(v)
    });
    assert_eq!(
        sent["status"],
        "done",
        "{sent:#}\nB:\n{}\nR:\n{}",
        tail(&b.stderr),
        tail(&r.stderr)
    );
    assert!(
        phases.iter().any(|p| p == "BRIDGING"),
        "B's phases: {phases:?}"
    );
}

/// The receiver stored one fax for its tenant, pixel-identical to `tiff`.
fn assert_received(rt: &tokio::runtime::Runtime, db: &Path, tenant: i64, tiff: &[u8]) {
    let received = rt.block_on(async {
        let store = SqliteStore::open(db).await.expect("the receiver's store");
        let jobs = store.list_jobs(TenantId(tenant), 10).await.unwrap();
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let doc = store
            .get_document(TenantId(tenant), jobs[0].document_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        doc.data
    });
    let want = engine::documents::read_tiff_pages(tiff).unwrap();
    let got = engine::documents::read_tiff_pages(&received).unwrap();
    assert_eq!(got.len(), PAGES);
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(
            (g.bitmap.width, g.bitmap.height),
            (w.bitmap.width, w.bitmap.height),
            "page {}",
            i + 1
        );
        assert!(g.bitmap == w.bitmap, "page {} differs", i + 1);
    }
}

/// B's one job for the tenant, and its bridge row; checks what every bridge record holds:
/// never queued, no document, the gateway's page count, success, a duration, audio on
/// `audio_leg` and T.38 on the other.
fn assert_bridged(
    rt: &tokio::runtime::Runtime,
    db: &Path,
    tenant: i64,
    audio_leg: &str,
) -> (Job, BridgeRecord) {
    let (job, bridge) = until("B's bridge record", Duration::from_secs(60), || {
        rt.block_on(async {
            let store = SqliteStore::open(db).await.expect("B's store");
            let jobs = store.list_jobs(TenantId(tenant), 10).await.unwrap();
            assert!(jobs.len() <= 1, "one job, no retry, no reception: {jobs:?}");
            let j = jobs.into_iter().next()?;
            let b = store.get_bridge(TenantId(tenant), j.id).await.unwrap()?;
            Some((j, b))
        })
    });
    assert_eq!(job.direction, Direction::Inbound);
    assert_eq!(job.status, JobStatus::Done, "{bridge:#?}");
    assert_eq!(job.document_id, None, "the fax went through live");
    assert_eq!(bridge.pages, Some(PAGES as i64), "{bridge:#?}");
    assert!(bridge.success, "{bridge:#?}");
    assert!(bridge.duration_ms > 0);
    assert!(bridge.ended_at >= bridge.started_at);
    let t38_leg = if audio_leg == "inbound" {
        "outbound"
    } else {
        "inbound"
    };
    let audio = media(&bridge.detail, audio_leg);
    let t38 = media(&bridge.detail, t38_leg);
    assert!(
        !audio.is_empty() && audio.iter().all(|m| m.starts_with("audio/")),
        "{audio_leg} leg: {audio:?}"
    );
    assert!(
        t38.iter().any(|m| m.starts_with("t38/")),
        "{t38_leg} leg: {t38:?}"
    );
    (job, bridge)
}

/// The receiving end of a bridge: a server asking for T.38, with a tenant owning `number`,
/// that accepts calls from B at 127.0.0.1.
fn far_end(dir: &Path, ports: &str, tenant_name: &str, number: &str) -> (Server, i64) {
    let t38_request = json!({"enable_t38": true, "request_t38": true});
    let r = start(dir, "r", ports, R_KEY, t38_request, "127.0.0.1:0");
    let (r_tenant, _) = tenant(&r, R_KEY, tenant_name, number);
    add(
        &r,
        R_KEY,
        "gateway",
        json!({"name": "bridge", "uri": "sip:127.0.0.1:5060", "allowed_sources": ["127.0.0.1"]}),
    );
    reload(&r, R_KEY);
    (r, r_tenant)
}

/// A G.711-only fax machine sending from `bind`, with one attempt per job.
fn fax_machine(dir: &Path, name: &str, ports: &str, bind: &str) -> Server {
    let g711 = json!({"enable_t38": false, "retry_attempts": "1"});
    start(dir, name, ports, C_KEY, g711, bind)
}

fn stop(servers: [Server; 3]) {
    for s in servers {
        assert!(!s.stderr().contains("panicked"), "{}", s.stderr());
        assert!(s.terminate().success());
    }
}

#[test]
fn carrier_g711_to_pbx_t38_is_bridged_live() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // R: the PBX, asking for T.38; B may call it.
    let (r, r_tenant) = far_end(dir.path(), "44000-44499", "pbx site", PBX_NUMBER);

    // B: the carrier (no tenant: upstream) may call; the number bridges to the PBX.
    let b = start(
        dir.path(),
        "b",
        "44500-44999",
        B_KEY,
        json!({"enable_t38": true}),
        "127.0.0.1:0",
    );
    let (b_tenant, nid) = tenant(&b, B_KEY, "bridged", PBX_NUMBER);
    add(
        &b,
        B_KEY,
        "gateway",
        json!({"name": "carrier", "uri": "sip:127.0.0.1:5060", "allowed_sources": ["127.0.0.1"]}),
    );
    add(
        &b,
        B_KEY,
        "gateway",
        json!({"name": "pbx", "uri": format!("sip:{}", r.sip), "tenant_id": b_tenant}),
    );
    add(
        &b,
        B_KEY,
        "endpoint",
        json!({"type": "number", "type_id": nid, "endpoint_type": "gateway", "endpoint": "pbx", "priority": 1, "bridge": true}),
    );
    reload(&b, B_KEY);

    // C: the carrier's fax machine, G.711 only, sending through B.
    let c = fax_machine(dir.path(), "c", "45000-45499", "127.0.0.1:0");
    let alice = sender(&c, C_KEY, SENDER, b.sip);
    let tiff = document();
    send_and_wait(&c, &alice, &tiff, (SENDER, PBX_NUMBER), &b, &r);

    assert_received(&rt, &r.dir_db(), r_tenant, &tiff);
    let (job, bridge) = assert_bridged(&rt, &b.dir_db(), b_tenant, "inbound");
    assert_eq!(job.callee, PBX_NUMBER);
    assert_eq!(bridge.direction, "downstream");
    assert_eq!(bridge.gateway, "pbx");
    assert_eq!(bridge.detail["source_gateway"], "carrier");
    // The tenant sees the bridge in the job's status.
    add(
        &b,
        B_KEY,
        "user",
        json!({"tenant_id": b_tenant, "username": "bob", "password": "correct horse"}),
    );
    let bob = basic("bob", "correct horse");
    let v = http(b.api, "GET", &format!("/fax/{}", job.id), &bob, None).json();
    assert_eq!(v["status"], "done", "{v:#}");
    assert_eq!(v["bridge"]["direction"], "downstream", "{v:#}");
    assert_eq!(v["bridge"]["pages"], PAGES as i64, "{v:#}");
    assert_eq!(v["bridge"]["gateway"], "pbx", "{v:#}");
    // Each leg's debug bundle (issue #8 item 6), and the ladders only there.
    let d = http(b.api, "GET", &format!("/fax/{}/debug", job.id), &bob, None).json();
    let legs: Vec<(&str, bool)> = d
        .as_array()
        .unwrap_or_else(|| panic!("{d:#}"))
        .iter()
        .map(|b| (b["leg"].as_str().unwrap(), b["sip"][0]["sent"] == true))
        .collect();
    assert_eq!(legs, [("bridge-in", false), ("bridge-out", true)], "{d:#}");
    for b in d.as_array().unwrap() {
        let invite = b["sip"][0]["text"].as_str().unwrap_or_default();
        assert!(invite.starts_with("INVITE sip:"), "{b:#}");
        let call_id = b["call_id"].as_str().unwrap_or_default();
        assert!(
            !call_id.is_empty() && invite.contains(call_id),
            "the bundle names its leg's Call-ID: {b:#}"
        );
    }
    let detail = &v["bridge"]["detail"];
    assert!(
        detail["inbound"]["debug"]["sip"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{detail:#}"
    );
    stop([b, r, c]);
}

#[test]
fn bridge_pbx_g711_to_upstream_t38_in_priority_order() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    const EXTERNAL: &str = "+15556660001";

    // R: the carrier's far end, asking for T.38; B may call it.
    let (r, r_tenant) = far_end(dir.path(), "46000-46499", "far end", EXTERNAL);

    // B: the PBX calls from 127.0.0.2 and its endpoint (666: a source identity only) has
    // `bridge`; two upstreams, the carrier first by priority.
    let b = start(
        dir.path(),
        "b",
        "46500-46999",
        B_KEY,
        json!({"enable_t38": true}),
        "127.0.0.1:0",
    );
    let (b_tenant, _) = tenant(&b, B_KEY, "bridged", PBX_NUMBER);
    add(
        &b,
        B_KEY,
        "gateway",
        json!({"name": "pbx", "uri": "sip:127.0.0.2:5060", "allowed_sources": ["127.0.0.2"], "tenant_id": b_tenant}),
    );
    add(
        &b,
        B_KEY,
        "endpoint",
        json!({"type": "tenant", "type_id": b_tenant, "endpoint_type": "gateway", "endpoint": "pbx", "priority": 666, "bridge": true}),
    );
    for (name, uri, priority) in [
        ("spare", "sip:127.0.0.1:9".to_owned(), 999),
        ("carrier", format!("sip:{}", r.sip), 5),
    ] {
        add(&b, B_KEY, "gateway", json!({"name": name, "uri": uri}));
        add(
            &b,
            B_KEY,
            "endpoint",
            json!({"type": "global", "endpoint_type": "gateway", "endpoint": name, "priority": priority}),
        );
    }
    reload(&b, B_KEY);

    // P: the PBX's fax machine, G.711 only.
    let p = fax_machine(dir.path(), "p", "47000-47499", "127.0.0.2:0");
    let alice = sender(&p, C_KEY, PBX_NUMBER, b.sip);
    let tiff = document();
    send_and_wait(&p, &alice, &tiff, (PBX_NUMBER, EXTERNAL), &b, &r);

    assert_received(&rt, &r.dir_db(), r_tenant, &tiff);
    let (job, bridge) = assert_bridged(&rt, &b.dir_db(), b_tenant, "inbound");
    assert_eq!(job.callee, EXTERNAL);
    assert_eq!(bridge.direction, "upstream");
    assert_eq!(bridge.gateway, "carrier");
    assert_eq!(bridge.detail["source_gateway"], "pbx");
    stop([b, r, p]);
}

/// Where a test server keeps its SQLite database.
trait DbPath {
    fn dir_db(&self) -> std::path::PathBuf;
}

impl DbPath for Server {
    fn dir_db(&self) -> std::path::PathBuf {
        self.stderr
            .parent()
            .expect("the server's directory")
            .join("data/faxserver.db")
    }
}
