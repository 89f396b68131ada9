//! A `tracing` layer that ships events to Loki through [`Loki::push`], so that every
//! `tracing::info!` of the server reaches Loki without blocking the code that logged it.
//!
//! The `type` label comes from a `log_type` field (`tracing::info!(log_type = "QUEUE", …)`),
//! else from the event's target (`engine::queue` → `ENGINE.QUEUE`); every other field goes to
//! `additional_data`. Events of the HTTP stack are skipped: the shipper's own requests would
//! otherwise log into the queue they drain.

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::Loki;

/// Targets never shipped (the shipper's own transport).
const SKIPPED_TARGETS: [&str; 6] = [
    "hyper",
    "reqwest",
    "h2",
    "rustls",
    "tokio_util",
    "notify::loki",
];

/// The layer; add it to the subscriber with [`tracing_subscriber::layer::SubscriberExt::with`].
#[derive(Debug, Clone)]
pub struct LokiLayer {
    loki: Loki,
    max_level: Level,
}

impl LokiLayer {
    /// Ships events at `max_level` and more severe (`Level::INFO` skips debug and trace).
    pub fn new(loki: Loki, max_level: Level) -> Self {
        LokiLayer { loki, max_level }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    log_type: Option<String>,
    other: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "log_type" => self.log_type = Some(value.to_owned()),
            name => {
                self.other.insert(name.to_owned(), Value::from(value));
            }
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.other
            .insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.other
            .insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.other
            .insert(field.name().to_owned(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for LokiLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // Level orders by verbosity: TRACE is the "largest".
        if *meta.level() > self.max_level {
            return;
        }
        let target = meta.target();
        if SKIPPED_TARGETS
            .iter()
            .any(|t| target == *t || target.starts_with(&format!("{t}::")))
        {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let kind = f
            .log_type
            .unwrap_or_else(|| target.replace("::", "."))
            .to_ascii_uppercase();
        let level = meta.level().as_str().to_ascii_lowercase();
        self.loki
            .push(&kind, &level, &f.message, Value::Object(f.other));
    }
}
