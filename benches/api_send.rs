//! REST API benchmark (issue #7 item 8), against the real `faxserver serve` binary.
//!
//! 1. `/fax/send` with a one-page PDF: requests per second, and p50/p99 latency to the 202
//!    and to the first INVITE reaching the gateway (a loopback gateway that rings forever).
//! 2. `GET /admin/faxes` while 1,000 jobs are active (ringing): p50/p99 latency and size.
//!
//! `cargo bench --bench api_send [-- --requests N --concurrency C --active A --views V]`.
//! Results go to BENCHMARKS.md by hand, with the machine's load.

#[path = "api_send/http.rs"]
mod http;
#[path = "api_send/peer.rs"]
mod peer;
#[path = "api_send/server.rs"]
mod server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use http::{bearer, fax_form, post_json, request};
use peer::RingingPeer;
use server::Server;

const KEY: &str = "bench-admin-key";
const SENDER: &str = "+15551230001";

struct Args {
    requests: usize,
    concurrency: usize,
    active: usize,
    views: usize,
}

fn args() -> Args {
    let mut a = Args {
        requests: 200,
        concurrency: 4,
        active: 1000,
        views: 200,
    };
    let list: Vec<String> = std::env::args().collect();
    for pair in list.windows(2) {
        let n = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--requests" => a.requests = n(),
            "--concurrency" => a.concurrency = n(),
            "--active" => a.active = n(),
            "--views" => a.views = n(),
            _ => {}
        }
    }
    a
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("temporary directory");
    let pdf = one_page_pdf(dir.path());
    let tiff = one_page_tiff();
    println!(
        "api_send: {} × /fax/send (1-page PDF, {} bytes) at concurrency {}; /admin/faxes with {} active jobs",
        a.requests,
        pdf.len(),
        a.concurrency,
        a.active
    );

    {
        let peer = RingingPeer::start();
        let s = Server::start(&dir.path().join("send"), KEY, &config(a.requests + 64));
        let token = provision(s.api, peer.addr);
        send_phase(&s, &peer, &token, &pdf, &a);
    }
    {
        let peer = RingingPeer::start();
        let s = Server::start(&dir.path().join("view"), KEY, &config(a.active + 64));
        let token = provision(s.api, peer.addr);
        view_phase(&s, &token, &tiff, &a);
    }
}

fn config(channels: usize) -> Value {
    json!({
        "web": {"listen": "127.0.0.1:0", "api_key": KEY},
        "sip": {"listen": "127.0.0.1:0", "media_ports": "40000-47999"},
        "queue": {"max_channels": channels, "max_channels_per_tenant": channels,
                  "max_channels_per_gateway": channels, "gateway_calls_per_second": 5000},
    })
}

/// A tenant with the sending number, a user with an API token, the ringing gateway as the
/// global route. Returns the token's Authorization value.
fn provision(api: SocketAddr, gateway: SocketAddr) -> String {
    let t = post_json(api, "/admin/tenant", KEY, &json!({"name": "bench"}));
    let tid = t["id"].as_i64().expect("tenant id");
    post_json(
        api,
        "/admin/number",
        KEY,
        &json!({"tenant_id": tid, "number": SENDER}),
    );
    let u = post_json(
        api,
        "/admin/user",
        KEY,
        &json!({"tenant_id": tid, "username": "bench", "password": "bench password 1"}),
    );
    let uid = u["id"].as_i64().expect("user id");
    // The toll-fraud guard's daily caps would stop the bench; a bulk sender lifts them.
    let caps = serde_json::to_vec(&json!({"daily_jobs": null, "daily_pages": null})).expect("JSON");
    let r = request(
        api,
        "PUT",
        &format!("/admin/tenant/{tid}/dialing"),
        &bearer(KEY),
        Some(("application/json", &caps)),
    )
    .expect("dialing settings");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let tok = post_json(
        api,
        &format!("/admin/user/{uid}/token"),
        KEY,
        &json!({"label": "bench"}),
    );
    post_json(
        api,
        "/admin/gateway",
        KEY,
        &json!({"name": "ring", "uri": format!("sip:{gateway}")}),
    );
    post_json(
        api,
        "/admin/endpoint",
        KEY,
        &json!({"type": "global", "endpoint_type": "gateway", "endpoint": "ring", "priority": 1}),
    );
    let r = request(api, "GET", "/admin/reload", &bearer(KEY), None).expect("reload");
    assert_eq!(r.status, 200, "reload");
    bearer(tok["token"].as_str().expect("token"))
}

/// Submits `count` faxes from `workers` threads; returns (callee, sent at, 202 at) per fax.
fn submit(
    api: SocketAddr,
    auth: &str,
    file: &[u8],
    filename: &str,
    count: usize,
    workers: usize,
    first: usize,
) -> Vec<(String, Instant, Instant)> {
    let next = Arc::new(AtomicUsize::new(0));
    let throttled = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(Mutex::new(Vec::with_capacity(count)));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (next, out, throttled) = (next.clone(), out.clone(), throttled.clone());
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    break;
                }
                let callee = format!("+1555{:07}", first + i);
                let (ct, body) = fax_form(SENDER, &callee, file, filename);
                let (t0, r) = loop {
                    let t0 = Instant::now();
                    let r = request(api, "POST", "/fax/send", auth, Some((&ct, &body)))
                        .expect("/fax/send");
                    if r.status != 429 {
                        break (t0, r);
                    }
                    // The per-tenant rate limit: wait as told, like a well-behaved client.
                    throttled.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_secs(retry_after(&r)));
                };
                let t1 = Instant::now();
                assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
                out.lock().unwrap().push((callee, t0, t1));
            });
        }
    });
    let n = throttled.load(Ordering::SeqCst);
    if n > 0 {
        println!("({n} requests were answered 429 and retried after Retry-After)");
    }
    Arc::try_unwrap(out).ok().unwrap().into_inner().unwrap()
}

/// Seconds from a 429's `Retry-After` (1 when absent).
fn retry_after(r: &http::Reply) -> u64 {
    r.retry_after.unwrap_or(1).max(1)
}

fn send_phase(s: &Server, peer: &RingingPeer, auth: &str, pdf: &[u8], a: &Args) {
    // A few requests first so that the first measured ones do not pay for cold caches.
    submit(s.api, auth, pdf, "fax.pdf", 4, 1, 9_000_000);
    let start = Instant::now();
    let sent = submit(s.api, auth, pdf, "fax.pdf", a.requests, a.concurrency, 0);
    let wall = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    let invites = loop {
        let seen = peer.invites.lock().unwrap().clone();
        if sent.iter().all(|(c, _, _)| seen.contains_key(c)) || Instant::now() > deadline {
            break seen;
        }
        // Pacing while the queue dials (a bench, not a test).
        std::thread::sleep(Duration::from_millis(20));
    };
    let accepted: Vec<f64> = sent.iter().map(|(_, t0, t1)| ms(*t1 - *t0)).collect();
    let dialled: Vec<f64> = sent
        .iter()
        .filter_map(|(c, t0, _)| invites.get(c).map(|t| ms(t.saturating_duration_since(*t0))))
        .collect();
    println!(
        "/fax/send: {} requests in {:.2} s = {:.1} req/s; to 202 p50 {:.1} ms p99 {:.1} ms; \
         to first INVITE ({} of {}) p50 {:.1} ms p99 {:.1} ms",
        a.requests,
        wall.as_secs_f64(),
        a.requests as f64 / wall.as_secs_f64(),
        pct(&accepted, 50.0),
        pct(&accepted, 99.0),
        dialled.len(),
        a.requests,
        pct(&dialled, 50.0),
        pct(&dialled, 99.0),
    );
}

fn view_phase(s: &Server, auth: &str, tiff: &[u8], a: &Args) {
    submit(s.api, auth, tiff, "fax.tif", a.active, a.concurrency, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    let active = loop {
        let r = request(s.api, "GET", "/admin/faxes", &bearer(KEY), None).expect("faxes");
        let n = r.json()["active"].as_u64().unwrap_or(0) as usize;
        if n >= a.active || Instant::now() > deadline {
            break n;
        }
        // Pacing while the queue claims and dials.
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut times = Vec::with_capacity(a.views);
    let mut bytes = 0;
    for _ in 0..a.views {
        let t0 = Instant::now();
        let r = request(s.api, "GET", "/admin/faxes", &bearer(KEY), None).expect("faxes");
        times.push(ms(t0.elapsed()));
        assert_eq!(r.status, 200);
        bytes = r.body.len();
    }
    println!(
        "/admin/faxes with {active} active: p50 {:.2} ms p99 {:.2} ms, {bytes} bytes",
        pct(&times, 50.0),
        pct(&times, 99.0)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

/// A one-page text letter as PDF, made by Ghostscript as an office document would be.
fn one_page_pdf(dir: &Path) -> Vec<u8> {
    let ps = dir.join("letter.ps");
    let pdf = dir.join("letter.pdf");
    let mut text = String::from("%!PS\n/Helvetica findfont 11 scalefont setfont\n");
    for line in 0..48 {
        text.push_str(&format!(
            "72 {} moveto (Line {line}: faxserver benchmark letter, the quick brown fox jumps over the lazy dog.) show\n",
            740 - line * 14
        ));
    }
    text.push_str("showpage\n");
    std::fs::write(&ps, text).expect("write PostScript");
    let status = std::process::Command::new("gs")
        .args(["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite"])
        .arg(format!("-sOutputFile={}", pdf.display()))
        .arg(&ps)
        .status()
        .expect("Ghostscript (gs) is needed");
    assert!(status.success(), "gs failed");
    std::fs::read(pdf).expect("read PDF")
}

/// ITU chart 1 as a fax TIFF (cheap to accept: no rendering), for the tracker phase.
fn one_page_tiff() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/fax-images");
    let page = std::fs::read(root.join("spandsp_itu1.pbm")).expect("ITU chart");
    engine::documents::images_to_fax_tiff(&[&page], &engine::documents::ConvertOptions::default())
        .expect("chart to TIFF")
        .tiff
}
