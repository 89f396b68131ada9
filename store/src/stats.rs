//! Figures read at scrape time for `/metrics`: the queue's depth and age, and delivery
//! failures by channel.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::deliveries::Channel;

/// The fax queue right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Jobs waiting to be claimed (`queued`, due or not).
    pub queued: u64,
    /// Jobs a worker holds (`active`).
    pub active: u64,
    /// When the oldest queued job was created; `None` when none waits.
    pub oldest_queued_at: Option<DateTime<Utc>>,
}

/// Failures of one delivery channel, from the delivery log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryFailures {
    /// Webhook or e-mail.
    pub channel: Channel,
    /// Tries that did not deliver (no answer, a non-2xx status, an SMTP error).
    pub failed_attempts: u64,
    /// Deliveries given up for good.
    pub given_up: u64,
}
