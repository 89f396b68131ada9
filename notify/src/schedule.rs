//! When to try a failed delivery again: exponential back-off as a pure function of the time
//! since the series of tries began, so that it needs no counter, survives restarts, and a
//! replay (which starts a new series) gets quick retries again.
//!
//! The wait after a failure is the time elapsed since the series began, kept between
//! `first_delay` and `max_delay`: tries at 0, 5, 10, 20, 40 s … double until the cap. A
//! failure once `give_up_after` has passed is the last, so tries span at least that long
//! (Standard Webhooks asks for retries over about a day). A small jitter, derived from the
//! delivery and the try rather than a random source, spreads the retries of many deliveries
//! that failed together (a receiver coming back up) without making the schedule untestable.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// A back-off policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySchedule {
    /// Wait after a failure right at the start of a series.
    pub first_delay: Duration,
    /// Longest wait between two tries.
    pub max_delay: Duration,
    /// A failure this long after the series began is final.
    pub give_up_after: Duration,
    /// Spread of the wait, as a fraction (0.1 = ±10 %).
    pub jitter: f64,
}

impl RetrySchedule {
    /// Webhooks: 5 s doubling to an hour, for 24 hours.
    pub const WEBHOOK: RetrySchedule = RetrySchedule {
        first_delay: Duration::from_secs(5),
        max_delay: Duration::from_secs(3600),
        give_up_after: Duration::from_secs(24 * 3600),
        jitter: 0.1,
    };

    /// E-mail: 30 s doubling to 15 minutes, for 24 hours (a relay down for maintenance).
    pub const EMAIL: RetrySchedule = RetrySchedule {
        first_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(900),
        give_up_after: Duration::from_secs(24 * 3600),
        jitter: 0.1,
    };

    /// The wait after a failure `elapsed` into a series, before jitter.
    pub fn base_delay(&self, elapsed: Duration) -> Duration {
        elapsed.clamp(self.first_delay, self.max_delay.max(self.first_delay))
    }

    /// When to try again after a failure at `now`, in a series that began at `from`; `None`
    /// means give up. `seed` picks the jitter (any value that differs between deliveries and
    /// tries, such as [`jitter_seed`]).
    pub fn next_try(
        &self,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
        seed: u64,
    ) -> Option<DateTime<Utc>> {
        let elapsed = (now - from).to_std().unwrap_or(Duration::ZERO);
        if elapsed >= self.give_up_after {
            return None;
        }
        let base = self.base_delay(elapsed).as_secs_f64();
        let spread = self.jitter.clamp(0.0, 1.0) * (2.0 * unit(seed) - 1.0);
        let wait = (base * (1.0 + spread)).max(0.0);
        let wait = TimeDelta::milliseconds((wait * 1000.0).round() as i64);
        now.checked_add_signed(wait)
    }
}

/// A seed for [`RetrySchedule::next_try`] from a delivery's id and its try number.
pub fn jitter_seed(id: &uuid::Uuid, attempt: i64) -> u64 {
    let (hi, lo) = id.as_u64_pair();
    hi ^ lo.rotate_left(17) ^ (attempt as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Maps a seed to [0, 1) with SplitMix64's finaliser (well spread for nearby seeds).
fn unit(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("time")
    }

    /// Every try of a series that always fails, with no jitter.
    fn tries(s: RetrySchedule) -> Vec<i64> {
        let mut at = vec![0];
        while let Some(next) = s.next_try(t(0), t(*at.last().expect("one")), 0) {
            at.push((next - t(0)).num_seconds());
        }
        at
    }

    #[test]
    fn webhook_waits_double_up_to_an_hour_and_last_a_day() {
        let s = RetrySchedule {
            jitter: 0.0,
            ..RetrySchedule::WEBHOOK
        };
        let at = tries(s);
        assert_eq!(&at[..8], &[0, 5, 10, 20, 40, 80, 160, 320]);
        let waits: Vec<i64> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert_eq!(waits.iter().max(), Some(&3600));
        let last = *at.last().expect("tries");
        assert!(last >= 24 * 3600, "last try at {last} s");
        assert!(last < 25 * 3600, "last try at {last} s");
        assert_eq!(at.len(), 35, "{at:?}");
    }

    #[test]
    fn a_failure_after_the_window_is_final() {
        let s = RetrySchedule::WEBHOOK;
        assert_eq!(s.next_try(t(0), t(24 * 3600), 7), None);
        assert!(s.next_try(t(0), t(24 * 3600 - 1), 7).is_some());
    }

    #[test]
    fn jitter_stays_within_its_spread_and_varies() {
        let s = RetrySchedule::WEBHOOK;
        let id = uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788);
        let waits: Vec<f64> = (0..200)
            .map(|n| {
                let next = s
                    .next_try(t(0), t(100), jitter_seed(&id, n))
                    .expect("retry");
                (next - t(100)).num_milliseconds() as f64 / 1000.0
            })
            .collect();
        assert!(
            waits.iter().all(|w| (90.0..=110.0).contains(w)),
            "{waits:?}"
        );
        let distinct: std::collections::BTreeSet<i64> =
            waits.iter().map(|w| (w * 1000.0) as i64).collect();
        assert!(distinct.len() > 150);
        let mean = waits.iter().sum::<f64>() / waits.len() as f64;
        assert!((mean - 100.0).abs() < 2.0, "mean {mean}");
    }

    #[test]
    fn a_clock_running_backwards_waits_the_first_delay() {
        let s = RetrySchedule {
            jitter: 0.0,
            ..RetrySchedule::EMAIL
        };
        assert_eq!(s.next_try(t(10), t(0), 0), Some(t(30)));
    }
}
