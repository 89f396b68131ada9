//! Loki shipping against loopback receivers speaking the push API: batches with gofaxserver's
//! labels, the `tracing` layer, and a Loki that never answers (the caller is not slowed, the
//! queue overflows and drops are counted).

mod common;

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::t0;
use notify::*;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing_subscriber::layer::SubscriberExt;

/// A Loki stand-in: records every push body.
async fn loki_receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    async fn push(State(tx): State<mpsc::UnboundedSender<Value>>, body: Bytes) -> StatusCode {
        match serde_json::from_slice(&body) {
            Ok(v) => {
                let _ = tx.send(v);
                StatusCode::NO_CONTENT
            }
            Err(_) => StatusCode::BAD_REQUEST,
        }
    }
    let app = Router::new()
        .route("/loki/api/v1/push", post(push))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/loki/api/v1/push"), rx)
}

/// Every (labels, line) pushed, in order.
fn lines(pushes: &[Value]) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for p in pushes {
        for s in p["streams"].as_array().expect("streams") {
            let job = s["stream"]["job"].as_str().expect("job").to_owned();
            let kind = s["stream"]["type"].as_str().expect("type").to_owned();
            for v in s["values"].as_array().expect("values") {
                let entry: Value =
                    serde_json::from_str(v[1].as_str().expect("line")).expect("entry");
                assert!(v[0].as_str().expect("ts").parse::<i64>().is_ok());
                out.push((job.clone(), kind.clone(), entry));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_arrive_in_batches_with_gofaxserver_labels() {
    let (url, mut rx) = loki_receiver().await;
    let mut cfg = LokiConfig::new(url);
    cfg.job = "fax-test".into();
    cfg.batch_size = 10;
    let (clock, _hand) = Clock::manual(t0());
    let (loki, task) = Loki::start(cfg, clock).expect("start");
    for n in 0..25 {
        let kind = if n % 2 == 0 { "queue" } else { "NOTIFY" };
        loki.push(kind, "info", &format!("line {n}"), json!({"n": n}));
    }
    let stats = loki.stats();
    assert_eq!((stats.accepted, stats.dropped), (25, 0));
    // Dropping every handle flushes the rest and ends the task.
    drop(loki);
    task.await.expect("shipper ends");
    let mut pushes = Vec::new();
    while let Ok(p) = rx.try_recv() {
        pushes.push(p);
    }
    assert!(
        pushes.len() >= 3,
        "25 lines in batches of at most 10: {} pushes",
        pushes.len()
    );
    let got = lines(&pushes);
    assert_eq!(got.len(), 25);
    assert!(got.iter().all(|(job, _, _)| job == "fax-test"));
    for n in 0..25 {
        let (_, kind, entry) = got
            .iter()
            .find(|(_, _, e)| e["message"] == format!("line {n}"))
            .expect("every line");
        let want = if n % 2 == 0 { "QUEUE" } else { "NOTIFY" };
        assert_eq!(kind, want);
        assert_eq!(entry["type"], want);
        assert_eq!(entry["level"], "info");
        assert_eq!(entry["additional_data"]["n"], n);
        assert!(entry["timestamp"]
            .as_str()
            .expect("ts")
            .starts_with("2026-03-04T05:06:07"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_events_are_shipped_through_the_layer() {
    let (url, mut rx) = loki_receiver().await;
    let mut cfg = LokiConfig::new(url);
    cfg.batch_wait = Duration::from_millis(20);
    let (loki, task) = Loki::start(cfg, Clock::system()).expect("start");
    let subscriber =
        tracing_subscriber::registry().with(LokiLayer::new(loki.clone(), tracing::Level::INFO));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            log_type = "QUEUE",
            job_id = "j-1",
            attempt = 2_u64,
            "job claimed"
        );
        tracing::debug!(log_type = "QUEUE", "too verbose, not shipped");
        tracing::warn!(target: "engine::call", "far end hung up");
        tracing::info!(target: "hyper::client", "the shipper's own transport, not shipped");
    });
    drop(loki);
    task.await.expect("shipper ends");
    let mut pushes = Vec::new();
    while let Ok(p) = rx.try_recv() {
        pushes.push(p);
    }
    let got = lines(&pushes);
    // Streams are grouped by type, so order is only kept within one type.
    let mut summary: Vec<(String, String, String)> = got
        .iter()
        .map(|(_, k, e)| {
            (
                k.clone(),
                e["level"].as_str().unwrap_or("").to_owned(),
                e["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![
            (
                "ENGINE.CALL".into(),
                "warn".into(),
                "far end hung up".into()
            ),
            ("QUEUE".into(), "info".into(), "job claimed".into()),
        ]
    );
    let queue = got
        .iter()
        .find(|(_, k, _)| k == "QUEUE")
        .expect("QUEUE line");
    assert_eq!(
        queue.2["additional_data"],
        json!({"job_id": "j-1", "attempt": 2})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_loki_never_blocks_the_caller_and_drops_are_counted() {
    // Accepts connections and never answers: the shipper's first push hangs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            let _ = conn_tx.send(());
            held.push(sock);
        }
    });
    let mut cfg = LokiConfig::new(format!("http://{addr}/loki/api/v1/push"));
    cfg.queue_capacity = 100;
    cfg.batch_size = 10;
    cfg.batch_wait = Duration::from_millis(1);
    cfg.timeout = Duration::from_secs(60);
    let (loki, _task) = Loki::start(cfg, Clock::system()).expect("start");
    // Fill one batch and wait until its push is stuck on the dead receiver.
    for n in 0..10 {
        loki.push("QUEUE", "info", &format!("first {n}"), json!({}));
    }
    conn_rx.recv().await.expect("the shipper connected");

    const PUSHED: u64 = 100_000;
    let started = Instant::now();
    for n in 0..PUSHED {
        loki.push("QUEUE", "info", "while Loki is dead", json!({"n": n}));
    }
    let took = started.elapsed();
    let s = loki.stats();
    assert_eq!(s.accepted + s.dropped, PUSHED + 10);
    // At most the queue and one batch are taken; everything else is dropped and counted.
    assert!(s.accepted <= 100 + 10 + 10, "{s:?}");
    assert!(s.dropped >= PUSHED - 110, "{s:?}");
    assert_eq!(s.sent, 0);
    // 100 000 pushes against a dead Loki: a blocked caller would take the 60 s timeout.
    assert!(took < Duration::from_secs(5), "pushing took {took:?}");
}
