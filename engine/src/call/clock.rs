//! The media clock of a call: 20 ms ticks that may run faster than real time.

use std::time::{Duration, Instant};

use tokio::time::{Interval, MissedTickBehavior};

/// One media tick: 20 ms, 160 samples at 8 kHz.
pub const TICK: Duration = Duration::from_millis(20);

/// The most ticks a late task runs back to back to catch up (1 s of media, which the far
/// end's playout buffer and T.30's timers absorb); anything later is skipped, so a starved
/// call never asks SpanDSP to replay a long stall at once.
pub(crate) const MAX_BURST_TICKS: u64 = 50;

/// Media time skipped in one call beyond which it is hopeless: the far end has heard
/// nothing for that long and T.30 is as good as lost, so the call is failed to spare the
/// others the work.
pub(crate) const GIVE_UP_SKIPPED: Duration = Duration::from_secs(10);

/// What a late wake-up does: how many ticks are due and how many of them to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CatchUp {
    /// Ticks dropped (never fed to the media leg).
    pub(crate) skip: u64,
}

/// Decides how to catch up when `behind` ticks are overdue (0 when on time): run them in a
/// burst when there are few, else drop them all and go on from now (a burst of a burst's
/// worth would not bring the call back in step anyway).
pub(crate) fn catch_up(behind: u64) -> CatchUp {
    CatchUp {
        skip: if behind > MAX_BURST_TICKS { behind } else { 0 },
    }
}

/// Counts 20 ms ticks of media time, each `1/speed` of a real 20 ms apart: from its own
/// timer ([`MediaClock::new`], awaited with [`MediaClock::tick`]), or from a scheduler
/// that ticks many calls at once ([`MediaClock::driven`], stepped with
/// [`MediaClock::advance`]).
#[derive(Debug)]
pub(crate) struct MediaClock {
    origin: Instant,
    ticks: u64,
    skipped: u64,
    period: Duration,
    interval: Option<Interval>,
}

impl MediaClock {
    /// A clock starting now; `speed` 1 is real time (both ends of a call must agree on it).
    pub(crate) fn new(speed: u32) -> Self {
        let period = TICK / speed.max(1);
        let mut interval = tokio::time::interval(period);
        // A late wake-up sends the missed frames at once: the far end's playout buffer
        // absorbs a burst, but not a clock that silently falls behind. The burst is capped
        // in `tick`.
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        MediaClock {
            interval: Some(interval),
            ..Self::driven(speed)
        }
    }

    /// A clock starting now whose ticks come from [`MediaClock::advance`].
    pub(crate) fn driven(speed: u32) -> Self {
        MediaClock {
            origin: Instant::now(),
            ticks: 0,
            skipped: 0,
            period: TICK / speed.max(1),
            interval: None,
        }
    }

    /// Waits for the next tick of its own timer (never, for a driven clock); returns its
    /// media time.
    pub(crate) async fn tick(&mut self) -> Instant {
        let Some(interval) = &mut self.interval else {
            return std::future::pending().await;
        };
        let due = interval.tick().await;
        let late = tokio::time::Instant::now().saturating_duration_since(due);
        let behind = (late.as_nanos() / self.period.as_nanos().max(1)) as u64;
        let plan = catch_up(behind);
        if plan.skip > 0 {
            // Restart the schedule from now: the skipped ticks are gone for good.
            interval.reset();
        }
        self.advance(plan.skip)
    }

    /// One tick, after `skip` ticks that were dropped; returns its media time.
    pub(crate) fn advance(&mut self, skip: u64) -> Instant {
        self.skipped += skip;
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

    /// Media time skipped because the task woke too late to catch up.
    pub(crate) fn skipped(&self) -> Duration {
        TICK * u32::try_from(self.skipped).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_delay_is_caught_up_and_a_long_stall_is_skipped() {
        assert_eq!(catch_up(0).skip, 0);
        assert_eq!(catch_up(MAX_BURST_TICKS).skip, 0);
        // An hour late: nothing of it is replayed.
        let hour = 3600 * 50;
        assert_eq!(catch_up(hour).skip, hour);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_clock_that_wakes_late_counts_the_stall_as_skipped() {
        // 10× speed: a 2 ms period, so a 300 ms starvation is 150 ticks overdue.
        let mut clock = MediaClock::new(10);
        clock.tick().await;
        // The task is starved: the thread is busy and the runtime cannot wake it.
        std::thread::sleep(Duration::from_millis(300));
        clock.tick().await;
        assert!(
            clock.skipped() >= TICK * 140,
            "skipped {:?}",
            clock.skipped()
        );
        // The schedule restarted: the following ticks are not a burst of the stall.
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            clock.tick().await;
        }
        assert!(started.elapsed() >= Duration::from_millis(4));
    }
}
