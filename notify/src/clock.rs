//! Where "now" comes from: the system clock in production, a manual one in tests, so that a
//! day of retries runs in milliseconds.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time; cheap to clone.
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

    /// A clock that stands still until its [`ManualClock`] moves it.
    pub fn manual(start: DateTime<Utc>) -> (Self, ManualClock) {
        let at = Arc::new(Mutex::new(start));
        let read = at.clone();
        let clock = Clock::new(move || *read.lock().unwrap_or_else(|e| e.into_inner()));
        (clock, ManualClock(at))
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The hand that moves a manual [`Clock`].
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let mut at = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *at += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }

    /// The time the clock shows.
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
