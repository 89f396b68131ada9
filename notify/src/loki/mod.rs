//! Log shipping to Grafana Loki: lines go into a bounded queue without ever waiting, and one
//! task pushes them in batches (`POST /loki/api/v1/push`, JSON `streams`).
//!
//! gofaxserver pushed every line synchronously, one request each, with no timeout, so a slow
//! Loki stalled the whole server (`gofaxserver-behaviour.md` §11). Here a full queue drops
//! the line and counts it, a push has a timeout, and a failed batch is dropped and counted
//! rather than retried (retrying would only grow the backlog while Loki is down). The labels
//! are gofaxserver's: `job` (configured, default `faxserver`) and `type` (`QUEUE`, `NOTIFY`,
//! …); each line is its JSON entry `{message, type, level, additional_data, timestamp}`.

mod layer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::clock::Clock;
use crate::error::{Error, Result};

pub use layer::LokiLayer;

/// Where and how to push.
#[derive(Clone)]
pub struct LokiConfig {
    /// Push URL, e.g. `http://loki:3100/loki/api/v1/push`.
    pub push_url: String,
    /// Basic-auth user; used only with a password, as gofaxserver does.
    pub username: String,
    /// Basic-auth password.
    pub password: String,
    /// Value of the `job` label.
    pub job: String,
    /// Lines waiting at most; more are dropped.
    pub queue_capacity: usize,
    /// Lines per push at most.
    pub batch_size: usize,
    /// How long a batch waits to fill once its first line is in.
    pub batch_wait: Duration,
    /// Limit on one push.
    pub timeout: Duration,
}

impl LokiConfig {
    /// Defaults for `push_url`: job `faxserver`, 10 000 queued lines, batches of 500 or 1 s.
    pub fn new(push_url: impl Into<String>) -> Self {
        LokiConfig {
            push_url: push_url.into(),
            username: String::new(),
            password: String::new(),
            job: "faxserver".into(),
            queue_capacity: 10_000,
            batch_size: 500,
            batch_wait: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for LokiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LokiConfig")
            .field("push_url", &self.push_url)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("job", &self.job)
            .field("queue_capacity", &self.queue_capacity)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LokiLine {
    /// Unix time in nanoseconds.
    pub ts_ns: i64,
    /// The `type` label, upper case (`QUEUE`, `NOTIFY`, …).
    pub kind: String,
    /// `debug`, `info`, `warn`, `error`.
    pub level: String,
    /// The message.
    pub message: String,
    /// Structured fields.
    pub additional_data: Value,
}

/// Counters of the shipper.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LokiStats {
    /// Lines taken into the queue.
    pub accepted: u64,
    /// Lines refused because the queue was full.
    pub dropped: u64,
    /// Lines Loki accepted.
    pub sent: u64,
    /// Lines lost in pushes that failed.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    dropped: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
}

/// The producer side; cheap to clone. The shipping task ends (after a last push) once every
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct Loki {
    tx: mpsc::Sender<LokiLine>,
    counters: Arc<Counters>,
    clock: Clock,
}

impl Loki {
    /// Starts the shipping task on the current runtime.
    pub fn start(cfg: LokiConfig, clock: Clock) -> Result<(Loki, tokio::task::JoinHandle<()>)> {
        if cfg.queue_capacity == 0 || cfg.batch_size == 0 {
            return Err(Error::config(
                "loki",
                "queue_capacity and batch_size must be positive",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| Error::Http(e.to_string()))?;
        let (tx, rx) = mpsc::channel(cfg.queue_capacity);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(ship(rx, client, cfg, counters.clone()));
        Ok((
            Loki {
                tx,
                counters,
                clock,
            },
            task,
        ))
    }

    /// Queues a line stamped now; never waits: when the queue is full the line is dropped
    /// and counted.
    pub fn push(&self, kind: &str, level: &str, message: &str, additional_data: Value) {
        let ts_ns = self.clock.now().timestamp_nanos_opt().unwrap_or(0);
        self.push_line(LokiLine {
            ts_ns,
            kind: kind.to_ascii_uppercase(),
            level: level.to_owned(),
            message: message.to_owned(),
            additional_data,
        });
    }

    /// Queues a prepared line (see [`Loki::push`]).
    pub fn push_line(&self, line: LokiLine) {
        match self.tx.try_send(line) {
            Ok(()) => self.counters.accepted.fetch_add(1, Ordering::Relaxed),
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// The counters so far.
    pub fn stats(&self) -> LokiStats {
        LokiStats {
            accepted: self.counters.accepted.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

/// The push body of a batch: one stream per `type`, lines in order.
pub fn push_body(job: &str, lines: &[LokiLine]) -> Vec<u8> {
    let mut streams: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for l in lines {
        let ts = chrono::DateTime::from_timestamp_nanos(l.ts_ns);
        let entry = json!({
            "message": l.message,
            "type": l.kind,
            "level": l.level,
            "additional_data": l.additional_data,
            "timestamp": ts.to_rfc3339_opts(SecondsFormat::Nanos, true),
        });
        streams
            .entry(l.kind.as_str())
            .or_default()
            .push(json!([l.ts_ns.to_string(), entry.to_string()]));
    }
    let streams: Vec<Value> = streams
        .into_iter()
        .map(|(kind, values)| json!({"stream": {"job": job, "type": kind}, "values": values}))
        .collect();
    serde_json::to_vec(&json!({ "streams": streams })).unwrap_or_default()
}

async fn ship(
    mut rx: mpsc::Receiver<LokiLine>,
    client: reqwest::Client,
    cfg: LokiConfig,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(cfg.batch_size);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + cfg.batch_wait;
        while batch.len() < cfg.batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(line)) => batch.push(line),
                Ok(None) | Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let mut req = client
            .post(&cfg.push_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(push_body(&cfg.job, &batch));
        if !cfg.username.is_empty() && !cfg.password.is_empty() {
            req = req.basic_auth(&cfg.username, Some(&cfg.password));
        }
        // Nothing here may log through tracing: with the layer installed, that would feed
        // the queue from its own consumer.
        let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
        let counter = if ok { &counters.sent } else { &counters.failed };
        counter.fetch_add(n, Ordering::Relaxed);
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_groups_lines_by_type() {
        let line = |kind: &str, ts, msg: &str| LokiLine {
            ts_ns: ts,
            kind: kind.into(),
            level: "info".into(),
            message: msg.into(),
            additional_data: json!({"job_id": "j"}),
        };
        let body = push_body(
            "faxserver",
            &[
                line("QUEUE", 1_000_000_001, "a"),
                line("NOTIFY", 2, "b"),
                line("QUEUE", 3, "c"),
            ],
        );
        let v: Value = serde_json::from_slice(&body).expect("json");
        let streams = v["streams"].as_array().expect("streams");
        assert_eq!(streams.len(), 2);
        let queue = streams
            .iter()
            .find(|s| s["stream"]["type"] == "QUEUE")
            .expect("QUEUE");
        assert_eq!(queue["stream"]["job"], "faxserver");
        assert_eq!(queue["values"][0][0], "1000000001");
        assert_eq!(queue["values"][1][0], "3");
        let entry: Value =
            serde_json::from_str(queue["values"][0][1].as_str().expect("line")).expect("entry");
        assert_eq!(entry["message"], "a");
        assert_eq!(entry["type"], "QUEUE");
        assert_eq!(entry["level"], "info");
        assert_eq!(entry["additional_data"]["job_id"], "j");
        assert_eq!(entry["timestamp"], "1970-01-01T00:00:01.000000001Z");
    }

    #[test]
    fn password_never_printed() {
        let mut c = LokiConfig::new("http://127.0.0.1:1/loki/api/v1/push");
        c.password = "s3cret-loki".into();
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
