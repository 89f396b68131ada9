//! `faxserver serve` as a whole, through its real binary, API and SIP on loopback.
//!
//! `nothing_lost_across_sigkill` (issue #7 item 7): server A sends four faxes to server B
//! (another `faxserver serve`, receiving). One job's first gateway answers 486, so it waits
//! out its back-off; one is mid-fax. A is killed with SIGKILL and started again. Every job
//! must end exactly once (one final event, status done), and B must hold every page of every
//! fax exactly once: one successful reception per fax, and the pages of the interrupted one
//! split between the cut-short call and the retry, none twice.
//!
//! The other tests cover the embedded defaults: the admin key printed once and kept 0600,
//! unknown config keys reported, `/admin/faxes` and `/admin/reload`, and SIGTERM exiting 0.
//!
//! Conditions are polled through the API or the store with a deadline, never waited for
//! with a fixed sleep.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use store::{Direction, SqliteStore, Store};

const A_KEY: &str = "admin-key-of-a";
const B_KEY: &str = "admin-key-of-b";
const SENDER: &str = "+15551230001";
/// Its first gateway answers 486: this job waits out a back-off when A is killed.
const BUSY_CALLEE: &str = "+15557770001";
const CALLEES: [&str; 3] = ["+15558880001", "+15558880002", "+15558880003"];
const PAGES: i64 = 3;

mod common;

use common::*;

// ---- a SIP peer that is always busy ----

/// Answers every INVITE with 486 Busy Here; stops when dropped.
struct BusyPeer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl BusyPeer {
    fn start() -> BusyPeer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while !flag.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                // OPTIONS probes get the same 486: any answer keeps the gateway up.
                if text.starts_with("INVITE ") || text.starts_with("OPTIONS ") {
                    let _ = sock.send_to(busy_here(&text).as_bytes(), from);
                }
            }
        });
        BusyPeer { addr, stop }
    }
}

impl Drop for BusyPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn busy_here(invite: &str) -> String {
    let mut out = String::from("SIP/2.0 486 Busy Here\r\n");
    for line in invite.split("\r\n").skip(1) {
        if line.is_empty() {
            break;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" => {
                out.push_str(line);
                out.push_str("\r\n");
            }
            "to" | "t" => {
                out.push_str(line);
                out.push_str(";tag=busy1\r\n");
            }
            _ => {}
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

// ---- the fax ----

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

/// B: one tenant owning every callee, and A's address allowed to call.
fn provision_receiver(b: &Server) {
    let t = post_json(b.api, "/admin/tenant", B_KEY, json!({"name": "receiver"}));
    let tid = t["id"].as_i64().unwrap();
    for n in std::iter::once(BUSY_CALLEE).chain(CALLEES) {
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
    let r = http(b.api, "GET", "/admin/reload", &bearer(B_KEY), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "Data reloaded successfully");
}

/// A: the sending tenant and its user; B as the upstream; the busy peer first for one
/// number (a number of another tenant of A, so that its own endpoints apply).
fn provision_sender(a: &Server, b_sip: SocketAddr, busy: SocketAddr) -> String {
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
    let far = post_json(a.api, "/admin/tenant", A_KEY, json!({"name": "far"}));
    let far_id = far["id"].as_i64().unwrap();
    let n = post_json(
        a.api,
        "/admin/number",
        A_KEY,
        json!({"tenant_id": far_id, "number": BUSY_CALLEE}),
    );
    let nid = n["id"].as_i64().unwrap();
    for (name, addr) in [("busy", busy), ("server-b", b_sip)] {
        post_json(
            a.api,
            "/admin/gateway",
            A_KEY,
            json!({"name": name, "uri": format!("sip:{addr}")}),
        );
    }
    post_json(
        a.api,
        "/admin/endpoint",
        A_KEY,
        json!({"type": "number", "type_id": nid, "endpoint_type": "gateway", "endpoint": "busy", "priority": 1}),
    );
    post_json(
        a.api,
        "/admin/endpoint",
        A_KEY,
        json!({"type": "number", "type_id": nid, "endpoint_type": "gateway", "endpoint": "server-b", "priority": 2}),
    );
    post_json(
        a.api,
        "/admin/endpoint",
        A_KEY,
        json!({"type": "global", "endpoint_type": "gateway", "endpoint": "server-b", "priority": 1}),
    );
    basic("alice", "correct horse")
}

fn faxes(a: &Server) -> Value {
    let r = http(a.api, "GET", "/admin/faxes", &bearer(A_KEY), None);
    assert_eq!(r.status, 200);
    r.json()
}

/// The receptions B stored, per callee: (pages, T.30 result code) of each.
async fn receptions(db: &Path) -> BTreeMap<String, Vec<(i64, Option<i64>)>> {
    let store = SqliteStore::open(db).await.expect("open B's store");
    let mut out: BTreeMap<String, Vec<(i64, Option<i64>)>> = BTreeMap::new();
    for t in store.list_tenants().await.unwrap() {
        for job in store.list_jobs(t.id, 1000).await.unwrap() {
            assert_eq!(job.direction, Direction::Inbound);
            let doc = store
                .get_document(t.id, job.document_id.unwrap())
                .await
                .unwrap()
                .unwrap();
            let code = store.list_attempts(t.id, job.id).await.unwrap()[0].result_code;
            out.entry(job.callee.clone())
                .or_default()
                .push((doc.pages, code));
        }
    }
    out
}

#[test]
fn nothing_lost_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let busy = BusyPeer::start();
    let b_dir = dir.path().join("b");
    let b = Server::start(&b_dir, "b", &config("42000-42999", B_KEY, json!({})), &[]);
    provision_receiver(&b);

    let a_dir = dir.path().join("a");
    let a_config = config(
        "41000-41999",
        A_KEY,
        json!({
            "faxing": {"retry_delay": "60s", "retry_attempts": "2"},
            "queue": {"max_channels": 1, "poll_interval": "1s", "lease": "60s"},
        }),
    );
    let a = Server::start(&a_dir, "a", &a_config, &[]);
    let alice = provision_sender(&a, b.sip, busy.addr);
    let tiff = document();
    let mut jobs = vec![send_fax(a.api, &alice, &tiff, SENDER, BUSY_CALLEE)];
    for c in CALLEES {
        jobs.push(send_fax(a.api, &alice, &tiff, SENDER, c));
    }

    // The moment to kill: the busy job waits for its retry, another is mid-fax with at
    // least one page confirmed (and stored: the tracker shows a page only after that).
    let sending = until(
        "one job waiting and one mid-fax",
        Duration::from_secs(120),
        || {
            let v = faxes(&a);
            let items = v["items"].as_array().cloned().unwrap_or_default();
            let waiting = items
                .iter()
                .any(|i| i["job_uuid"] == jobs[0].as_str() && i["phase"] == "WAITING");
            let mid = items.iter().find(|i| {
                i["phase"] == "SENDING"
                    && i["pages_sent"].as_i64().unwrap_or(0) >= 1
                    && i["pages_sent"].as_i64().unwrap_or(0) < PAGES
            });
            match (waiting, mid) {
                (true, Some(m)) => Some(m["job_uuid"].as_str().unwrap().to_owned()),
                _ => None,
            }
        },
    );
    a.kill();
    let callee_of = |id: &str| {
        let i = jobs.iter().position(|j| j == id).unwrap();
        if i == 0 {
            BUSY_CALLEE
        } else {
            CALLEES[i - 1]
        }
    };
    // Restart once B has given up on the call A dropped, so that its RTP no longer flows to
    // the port A's next call may get (a real far end may keep streaming for a while; the
    // server starts its port pool at a random pair for that, which a test cannot rely on).
    let b_db = b_dir.join("data/faxserver.db");
    let cut = callee_of(&sending);
    until(
        "B to store the cut-short call",
        Duration::from_secs(120),
        || {
            rt.block_on(receptions(&b_db))
                .get(cut)
                .is_some_and(|r| r.iter().any(|(_, code)| *code != Some(0)))
                .then_some(())
        },
    );

    let a = Server::start(&a_dir, "a", &a_config, &[]);
    // The back-off survived the crash: still waiting, its one busy attempt remembered.
    let x = http(a.api, "GET", &format!("/fax/{}", jobs[0]), &alice, None).json();
    assert_eq!(x["status"], "queued", "{x:#}");
    assert_eq!(x["attempts"].as_array().map(Vec::len), Some(1), "{x:#}");
    let finals = until("every job final", Duration::from_secs(300), || {
        let mut out = Vec::new();
        for id in &jobs {
            let r = http(a.api, "GET", &format!("/fax/{id}"), &alice, None);
            assert_eq!(r.status, 200);
            let v = r.json();
            match v["status"].as_str() {
                Some("done" | "failed") => out.push(v),
                _ => return None,
            }
        }
        Some(out)
    });
    for v in &finals {
        assert_eq!(v["status"], "done", "{v:#}\n{}", tail(&a.stderr));
    }
    // The interrupted job resumed after its confirmed pages: no page number twice.
    let resumed = finals
        .iter()
        .find(|v| v["job_uuid"] == sending.as_str())
        .unwrap();
    let mut pages: Vec<i64> = resumed["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| {
            a["page_results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["page"].as_i64().unwrap())
        })
        .collect();
    pages.sort_unstable();
    assert_eq!(
        pages,
        vec![1, 2, 3],
        "each page confirmed once: {resumed:#}"
    );
    assert!(
        resumed["attempts"].as_array().unwrap().len() >= 2,
        "cut short, then resumed: {resumed:#}"
    );
    let busy_job = &finals[0];
    let tried: Vec<i64> = busy_job["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["gateway_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        tried.len(),
        3,
        "two busy attempts, then the next gateway: {busy_job:#}"
    );
    assert_eq!(tried[0], tried[1]);
    assert_ne!(tried[1], tried[2]);
    let view = faxes(&a);
    assert_eq!(view["active"], 0);
    let status = a.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    // A's log: each job ended exactly once.
    let a_db = a_dir.join("data/faxserver.db");
    rt.block_on(async {
        let store = SqliteStore::open(&a_db).await.unwrap();
        for t in store.list_tenants().await.unwrap() {
            for job in store.list_jobs(t.id, 100).await.unwrap() {
                let kinds: Vec<String> = store
                    .list_events(Some(t.id), Some(job.id), 1000)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.kind)
                    .collect();
                let ends = kinds
                    .iter()
                    .filter(|k| *k == "job.completed" || *k == "job.failed")
                    .count();
                assert_eq!(ends, 1, "job {} ended {ends} times: {kinds:?}", job.id);
                if job.id.to_string() == sending {
                    assert!(
                        kinds.contains(&"attempt.interrupted".to_owned()),
                        "{kinds:?}"
                    );
                }
            }
        }
    });

    // B: every fax delivered exactly once; the cut-short call's pages plus the retry's are
    // the document, once.
    let got = until(
        "B to store every reception",
        Duration::from_secs(120),
        || {
            let got = rt.block_on(receptions(&b_db));
            let complete = std::iter::once(BUSY_CALLEE).chain(CALLEES).all(|c| {
                got.get(c)
                    .is_some_and(|r| r.iter().map(|(p, _)| p).sum::<i64>() >= PAGES)
            });
            complete.then_some(got)
        },
    );
    for callee in std::iter::once(BUSY_CALLEE).chain(CALLEES) {
        let r = &got[callee];
        let ok = r.iter().filter(|(_, code)| *code == Some(0)).count();
        assert_eq!(ok, 1, "{callee}: successful receptions {r:?}");
        let pages: i64 = r.iter().map(|(p, _)| p).sum();
        assert_eq!(pages, PAGES, "{callee}: pages received {r:?}");
    }
    assert!(!b.stderr().contains("panicked"), "{}", b.stderr());
    assert!(b.terminate().success());
}

#[test]
fn embedded_defaults_key_reload_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = json!({
        "web": {"listen": "127.0.0.1:0"},
        "sip": {"listen": "127.0.0.1:0", "media_ports": "43000-43099"},
        "colour": "blue",
        "freeswitch": {"event_client_socket": "127.0.0.1:8021"},
    });
    let s = Server::start(dir.path(), "s", &cfg, &[]);
    let lines = s.stdout.lock().unwrap().clone();
    let at = lines
        .iter()
        .position(|l| l.contains("generated an admin API key"))
        .unwrap_or_else(|| panic!("no key line: {lines:?}"));
    let key = lines[at + 1].trim().to_owned();
    assert_eq!(key.len(), 64);
    let file = dir.path().join("data/admin-api-key");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), key);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        dir.path().join("data/faxserver.db").exists(),
        "SQLite under the data directory"
    );

    assert_eq!(
        http(s.api, "GET", "/admin/faxes", &bearer("wrong"), None).status,
        401
    );
    let r = http(s.api, "GET", "/admin/faxes", &basic("admin", &key), None);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["active"], 0);
    assert!(v["items"].as_array().unwrap().is_empty());
    let r = http(s.api, "GET", "/admin/reload", &bearer(&key), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "Data reloaded successfully");
    assert_eq!(http(s.api, "GET", "/health", "", None).status, 200);

    let err = s.stderr();
    assert!(err.contains("unknown config key `colour`"), "{err}");
    assert!(err.contains("freeswitch.event_client_socket"), "{err}");
    assert!(!err.contains(&key), "the key is never logged");
    let status = s.terminate();
    assert!(status.success(), "{status:?}");

    // Second start: the same key, read back, not printed.
    let s = Server::start(dir.path(), "s", &cfg, &[]);
    let lines = s.stdout.lock().unwrap().clone();
    assert!(!lines.iter().any(|l| l.contains(&key)), "{lines:?}");
    assert_eq!(
        http(s.api, "GET", "/admin/faxes", &bearer(&key), None).status,
        200
    );
    assert!(s.terminate().success());
}
