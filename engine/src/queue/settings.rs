//! What the queue is configured with.

use std::path::PathBuf;
use std::time::Duration;

use super::delay::Backoff;
use crate::call::{FaxOptions, OverloadGuard};
use crate::policy;

/// The queue's settings (gofaxserver's `faxing.*` keys where they exist).
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Attempts per endpoint before the next one is tried (`faxing.retry_attempts`, 3).
    pub retry_attempts: u32,
    /// The wait between attempts (`faxing.retry_delay` is its base).
    pub backoff: Backoff,
    /// Causes of unanswered calls that are never retried (`faxing.failed_response`).
    pub failed_response: Vec<String>,
    /// Resend only the pages the far end has not confirmed (on by default).
    pub resend_unconfirmed_pages: bool,
    /// How long a claim holds a job before another worker may take it.
    pub lease: Duration,
    /// How often a running job's lease is renewed (well inside `lease`).
    pub renew_every: Duration,
    /// How long an idle worker waits before asking the store again.
    pub poll_interval: Duration,
    /// A job that cannot get a channel or a call slot is handed back for this long.
    pub busy_wait: Duration,
    /// Where documents are written for the duration of a call.
    pub spool_dir: PathBuf,
    /// The T.38, ECM and V.17 policy's settings.
    pub policy: policy::Settings,
    /// Base fax options of every call (timers, log level); the policy sets the rest.
    pub fax: FaxOptions,
    /// No job is claimed while the media clock is this late (`None`: never held back); the
    /// job stays due, for later or for another node.
    pub overload: Option<OverloadGuard>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            retry_attempts: 3,
            backoff: Backoff::default(),
            failed_response: Vec::new(),
            resend_unconfirmed_pages: true,
            lease: Duration::from_secs(60),
            renew_every: Duration::from_secs(20),
            poll_interval: Duration::from_secs(1),
            busy_wait: Duration::from_secs(2),
            spool_dir: std::env::temp_dir(),
            policy: policy::Settings::default(),
            fax: FaxOptions::default(),
            overload: None,
        }
    }
}
