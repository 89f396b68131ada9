//! What the rest of the server holds on to: the clock, the shutdown switches, and the
//! handle the API uses for `/admin/faxes` and `/admin/reload`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::tracker::{TrackerHandle, TrackerView};

/// Where "now" comes from (a manual clock in tests).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// A clock that asks `now`.
    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The two steps of a graceful stop: `stop` (take no new work) and, once the grace time is
/// over, `cancel` (hang up what still runs; its jobs are handed back).
#[derive(Debug, Clone)]
pub struct Shutdown {
    stop: Arc<watch::Sender<bool>>,
    cancel: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// Neither step taken.
    pub fn new() -> Self {
        Shutdown {
            stop: Arc::new(watch::channel(false).0),
            cancel: Arc::new(watch::channel(false).0),
        }
    }

    /// Take no new work.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Hang up running calls (implies stop).
    pub fn cancel(&self) {
        self.stop();
        self.cancel.send_replace(true);
    }

    /// Becomes `true` on stop.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Becomes `true` on cancel.
    pub fn cancelled(&self) -> watch::Receiver<bool> {
        self.cancel.subscribe()
    }

    /// Whether stop was asked.
    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Whether cancel was asked.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }
}

/// What a reload runs.
type ReloadFn =
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync;

/// Re-reads what the server caches from the database (gateways and the SIP ACL).
#[derive(Clone)]
pub struct Reload(Arc<ReloadFn>);

impl Reload {
    /// A reload that runs `f`; it answers a line saying what was loaded, or why it failed.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        Reload(Arc::new(move || Box::pin(f())))
    }

    /// Reloads.
    pub async fn run(&self) -> Result<String, String> {
        (self.0)().await
    }
}

/// The API's handle on the running server.
#[derive(Clone)]
pub struct ServerControl {
    /// The live tracker.
    pub tracker: TrackerHandle,
    /// The reload hook.
    pub reload: Option<Reload>,
    /// The clock.
    pub clock: Clock,
}

impl ServerControl {
    /// The tracker's view now.
    pub fn faxes(&self) -> TrackerView {
        self.tracker.view(self.clock.now())
    }
}

impl std::fmt::Debug for ServerControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerControl")
            .field("reload", &self.reload.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_implies_stop() {
        let s = Shutdown::new();
        let (stop, cancel) = (s.stopping(), s.cancelled());
        assert!(!s.is_stopping() && !s.is_cancelled());
        s.stop();
        assert!(*stop.borrow() && !*cancel.borrow());
        s.cancel();
        assert!(s.is_stopping() && s.is_cancelled() && *cancel.borrow());
    }
}
