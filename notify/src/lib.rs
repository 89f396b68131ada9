//! Delivery and observability for faxserver (issue #8): fax-to-email, gofaxserver's webhooks
//! and notify strings, signed lifecycle webhooks with a durable retry log, and Loki shipping.
//!
//! Deliveries are rows in the store's delivery log: a [`Notifier`] enqueues them (the whole
//! request or message, built once), a [`DeliverySender`] claims the due ones, tries each once
//! and records the try and the next due time ([`RetrySchedule`]). Restarts lose nothing, the
//! API shows every try, and a replay repeats a delivery exactly. [`spawn_subscriber`] feeds
//! the notifier from the engine's event bus. Decisions are pure and take the time as an
//! argument ([`Clock`] is injected), so tests run a day of retries without waiting.
//!
//! | module | what |
//! |---|---|
//! | [`schedule`] | exponential back-off over at least 24 hours |
//! | [`signing`] | Standard Webhooks signatures and `whsec_` secrets |
//! | [`lifecycle`] | `fax.queued` … `fax.received` JSON bodies |
//! | [`gofax`] | gofaxserver's payloads (delivery endpoint, `webhook`, `webhook_form`) |
//! | [`spec`] | gofaxserver's notify strings |
//! | [`report`] | the attempts report PDF |
//! | [`email`] | SMTP settings (`none`, `starttls`, `tls`), messages, the async mailer |
//! | [`http`] | one webhook POST and its verdict |
//! | [`notifier`], [`sender`], [`subscriber`] | enqueue, send, listen |
//! | [`loki`] | non-blocking batched log shipping, also as a `tracing` layer |
//! | [`metrics`] | Prometheus `/metrics` and per-gateway figures |

pub mod clock;
pub mod documents;
pub mod email;
mod error;
pub mod gofax;
pub mod http;
pub mod lifecycle;
pub mod loki;
pub mod metrics;
pub mod notifier;
pub mod report;
pub mod schedule;
pub mod sender;
pub mod signing;
pub mod spec;
pub mod subscriber;

pub use clock::{Clock, ManualClock};
pub use email::{Encryption, Mailer, SmtpConfig};
pub use error::{Error, Result};
pub use lifecycle::{Lifecycle, LifecycleKind};
pub use loki::{Loki, LokiConfig, LokiLayer, LokiStats};
pub use metrics::{GatewayFigures, Metrics};
pub use notifier::{Notifier, NotifyConfig};
pub use schedule::RetrySchedule;
pub use sender::{DeliverySender, SenderConfig};
pub use signing::Secret;
pub use subscriber::{spawn_subscriber, SubscriberOptions};
