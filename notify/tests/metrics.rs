//! `/metrics` and the per-gateway figures, end to end: realistic engine events on a real bus,
//! a real SQLite store with queued jobs and failed deliveries, a real SIP transaction layer,
//! then a scrape over TCP whose text is parsed and checked value by value.

mod common;
mod metrics_data;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use engine::events::EventBus;
use notify::metrics::{figures_router, router, GatewayUp, Metrics};
use notify::Clock;
use serde_json::Value;
use tokio::sync::watch;

use common::t0;
use metrics_data::{calls, seed_store, sip_traffic};

const ADMIN_KEY: &str = "admin-secret";

/// The samples of a scrape, by series (`name{labels}`); checks each family is typed.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut typed = Vec::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let name = series.split('{').next().unwrap();
        assert!(typed.iter().any(|t| t == name), "untyped sample {line}");
        assert!(
            out.insert(series.to_owned(), value.parse::<f64>().expect("value"))
                .is_none(),
            "duplicate series {series}"
        );
    }
    out
}

struct Server {
    addr: SocketAddr,
    metrics: Metrics,
    bus: EventBus,
    _env: common::Env,
    _stop: watch::Sender<bool>,
}

async fn server() -> Server {
    let env = common::env().await;
    seed_store(&*env.store, env.tenant.id).await;
    let (clock, _manual) = Clock::manual(t0() + TimeDelta::seconds(90));
    let up: GatewayUp = Arc::new(|name: &str| match name {
        "carrier-a" => Some(true),
        "standby" => Some(false),
        _ => None,
    });
    let metrics = Metrics::new(env.store.clone(), clock, up);
    let bus = EventBus::new();
    let (stop, stopped) = watch::channel(false);
    metrics.spawn(&bus, stopped);
    let app = router(metrics.clone()).merge(figures_router(metrics.clone(), ADMIN_KEY.into()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        addr,
        metrics,
        bus,
        _env: env,
        _stop: stop,
    }
}

async fn publish_all(s: &Server) {
    let events = calls();
    let n = events.len() as u64;
    for e in events {
        s.bus.publish(e);
    }
    let mut seen = s.metrics.events_seen();
    tokio::time::timeout(Duration::from_secs(10), seen.wait_for(|c| *c >= n))
        .await
        .expect("metrics saw every event in time")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_shows_calls_faxes_gateways_queue_deliveries_and_sip() {
    let s = server().await;
    publish_all(&s).await;
    sip_traffic();

    let resp = reqwest::get(format!("http://{}/metrics", s.addr))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let m = parse(&resp.text().await.unwrap());
    let expect = [
        (r#"faxserver_active_calls{media="g711"}"#, 0.0),
        (r#"faxserver_active_calls{media="t38"}"#, 1.0),
        (r#"faxserver_active_calls{media="bridged"}"#, 1.0),
        (r#"faxserver_active_calls{media="unknown"}"#, 1.0),
        (r#"faxserver_tenant_active_calls{tenant="1"}"#, 2.0),
        (r#"faxserver_tenant_active_calls{tenant="7"}"#, 1.0),
        (r#"faxserver_tenant_calls_total{tenant="1"}"#, 7.0),
        (r#"faxserver_tenant_calls_total{tenant="7"}"#, 1.0),
        (
            r#"faxserver_faxes_total{direction="outbound",result="success"}"#,
            2.0,
        ),
        (
            r#"faxserver_faxes_total{direction="outbound",result="fax_failed"}"#,
            1.0,
        ),
        (
            r#"faxserver_faxes_total{direction="outbound",result="busy"}"#,
            1.0,
        ),
        (
            r#"faxserver_faxes_total{direction="inbound",result="success"}"#,
            1.0,
        ),
        (r#"faxserver_fax_pages_total{direction="outbound"}"#, 3.0),
        (r#"faxserver_fax_pages_total{direction="inbound"}"#, 1.0),
        ("faxserver_t38_fallbacks_total", 2.0),
        ("faxserver_t38_flip_flops_total", 1.0),
        (
            r#"faxserver_media_packets_total{stream="rtp",kind="late"}"#,
            4.0,
        ),
        (
            r#"faxserver_media_packets_total{stream="rtp",kind="lost"}"#,
            2.0,
        ),
        (
            r#"faxserver_media_packets_total{stream="udptl",kind="late"}"#,
            1.0,
        ),
        (
            r#"faxserver_media_packets_total{stream="udptl",kind="lost"}"#,
            4.0,
        ),
        (
            r#"faxserver_media_packets_total{stream="udptl",kind="recovered"}"#,
            5.0,
        ),
        ("faxserver_metrics_events_lost_total", 0.0),
        (r#"faxserver_gateway_up{gateway="carrier-a"}"#, 1.0),
        (r#"faxserver_gateway_calls_total{gateway="carrier-a"}"#, 4.0),
        (
            r#"faxserver_gateway_answered_calls_total{gateway="carrier-a"}"#,
            3.0,
        ),
        (
            r#"faxserver_gateway_faxes_succeeded_total{gateway="carrier-a"}"#,
            2.0,
        ),
        (
            r#"faxserver_gateway_t38_calls_total{gateway="carrier-a"}"#,
            2.0,
        ),
        (
            r#"faxserver_gateway_t38_fallbacks_total{gateway="carrier-a"}"#,
            2.0,
        ),
        (
            r#"faxserver_gateway_answer_seizure_ratio{gateway="carrier-a"}"#,
            0.75,
        ),
        (
            r#"faxserver_gateway_fax_success_ratio{gateway="carrier-a"}"#,
            2.0 / 3.0,
        ),
        (
            r#"faxserver_gateway_t38_fallback_ratio{gateway="carrier-a"}"#,
            1.0,
        ),
        (
            r#"faxserver_gateway_t30_completions_total{gateway="carrier-a",code="0"}"#,
            2.0,
        ),
        (
            r#"faxserver_gateway_t30_completions_total{gateway="carrier-a",code="49"}"#,
            1.0,
        ),
        (r#"faxserver_gateway_calls_total{gateway="carrier-b"}"#, 0.0),
        (r#"faxserver_queue_jobs{state="queued"}"#, 2.0),
        (r#"faxserver_queue_jobs{state="active"}"#, 0.0),
        ("faxserver_queue_oldest_job_age_seconds", 90.0),
        (
            r#"faxserver_delivery_failed_attempts_total{channel="webhook"}"#,
            1.0,
        ),
        (
            r#"faxserver_delivery_failed_attempts_total{channel="email"}"#,
            1.0,
        ),
        (r#"faxserver_deliveries_failed{channel="webhook"}"#, 0.0),
        (r#"faxserver_deliveries_failed{channel="email"}"#, 1.0),
        (
            r#"faxserver_sip_transactions_total{side="client",method="INVITE",class="4xx"}"#,
            1.0,
        ),
        (
            r#"faxserver_sip_transactions_total{side="server",method="OPTIONS",class="2xx"}"#,
            1.0,
        ),
        // No media scheduler runs in this process and no guard refused anything.
        ("faxserver_media_clock_lateness_seconds", 0.0),
        ("faxserver_overload_invites_refused_total", 0.0),
        ("faxserver_overload_claims_skipped_total", 0.0),
    ];
    let mut wrong = Vec::new();
    for (series, value) in expect {
        if m.get(series) != Some(&value) {
            wrong.push(format!("{series}: want {value}, got {:?}", m.get(series)));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Ratios are absent without a denominator; an unprobed gateway has no up/down line.
    for absent in [
        r#"faxserver_gateway_answer_seizure_ratio{gateway="carrier-b"}"#,
        r#"faxserver_gateway_t38_fallback_ratio{gateway="standby"}"#,
        r#"faxserver_gateway_up{gateway="carrier-b"}"#,
        // Measured only under sip.min_idle_cpu.
        "faxserver_host_cpu_idle_ratio",
    ] {
        assert!(!m.contains_key(absent), "{absent} should be absent");
    }
    // Only the transactions the test made: nothing else in this process speaks SIP.
    let sip: Vec<_> = m
        .keys()
        .filter(|k| k.starts_with("faxserver_sip_transactions_total"))
        .collect();
    assert_eq!(sip.len(), 2, "{sip:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_figures_as_json_behind_the_admin_key_and_a_down_gateway() {
    let s = server().await;
    publish_all(&s).await;
    let url = format!("http://{}/admin/gateways/figures", s.addr);
    let http = reqwest::Client::new();

    let denied = http.get(&url).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let wrong = http.get(&url).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), 401);

    let resp = http.get(&url).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let by_name: HashMap<&str, &Value> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["gateway"].as_str().unwrap(), g))
        .collect();
    let mut names: Vec<_> = by_name.keys().copied().collect();
    names.sort_unstable();
    assert_eq!(names, ["carrier-a", "carrier-b", "standby"]);
    let a = by_name["carrier-a"];
    assert_eq!(a["up"], true);
    assert_eq!(
        (&a["calls"], &a["answered"], &a["faxes_succeeded"]),
        (&Value::from(4), &Value::from(3), &Value::from(2))
    );
    assert_eq!(a["answer_seizure_ratio"], 0.75);
    assert_eq!(a["fax_success_ratio"], 2.0 / 3.0);
    assert_eq!(a["t38_fallback_ratio"], 1.0);
    assert_eq!(a["t30_codes"], serde_json::json!({"0": 2, "49": 1}));
    let standby = by_name["standby"];
    assert_eq!(standby["up"], false);
    assert_eq!(standby["calls"], 0);
    assert_eq!(standby["answer_seizure_ratio"], Value::Null);
    assert_eq!(by_name["carrier-b"]["up"], Value::Null);

    // The same down state in the text format.
    let text = reqwest::get(format!("http://{}/metrics", s.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l == r#"faxserver_gateway_up{gateway="standby"} 0"#),
        "{text}"
    );
}
