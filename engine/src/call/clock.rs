//! The media clock of a call: 20 ms ticks that may run faster than real time.

use std::time::{Duration, Instant};

use tokio::time::{Interval, MissedTickBehavior};

/// One media tick: 20 ms, 160 samples at 8 kHz.
pub const TICK: Duration = Duration::from_millis(20);

/// Counts 20 ms ticks of media time, each `1/speed` of a real 20 ms apart.
#[derive(Debug)]
pub(crate) struct MediaClock {
    origin: Instant,
    ticks: u64,
    interval: Interval,
}

impl MediaClock {
    /// A clock starting now; `speed` 1 is real time (both ends of a call must agree on it).
    pub(crate) fn new(speed: u32) -> Self {
        let mut interval = tokio::time::interval(TICK / speed.max(1));
        // A late wake-up sends the missed frames at once: the far end's playout buffer
        // absorbs a burst, but not a clock that silently falls behind.
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        MediaClock {
            origin: Instant::now(),
            ticks: 0,
            interval,
        }
    }

    /// Waits for the next tick; returns its media time.
    pub(crate) async fn tick(&mut self) -> Instant {
        self.interval.tick().await;
        self.ticks += 1;
        self.now()
    }

    /// Media time of the last tick.
    pub(crate) fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }

    /// Media time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        TICK * u32::try_from(self.ticks).unwrap_or(u32::MAX)
    }

    /// Milliseconds of media time since the start, for reports.
    pub(crate) fn ms(&self) -> u64 {
        self.ticks * 20
    }
}
