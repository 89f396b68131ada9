//! Retry delays: gofaxserver's `faxing.retry_delay` syntax and the back-off between attempts.
//!
//! gofaxserver only accepted `^\d+[smhd]$`, silently turned anything else (its own README's
//! `"300"`) into one minute, and capped every wait at 60 s (behaviour §1, §5.4, §14.4). Here a
//! plain number is seconds, a unit is optional, a bad value is an error the operator sees,
//! and the only cap is the configured [`Backoff::max`].

use std::time::Duration;

/// A retry delay that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a delay: use seconds (\"300\") or a number with a unit s, m, h or d (\"5m\")"
)]
pub struct BadDelay(pub String);

/// Parses `300`, `300s`, `5m`, `2h` or `1d` (whitespace around is ignored).
pub fn parse_delay(s: &str) -> Result<Duration, BadDelay> {
    let bad = || BadDelay(s.to_owned());
    let t = s.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    if digits.is_empty() {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let per = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(per).map(Duration::from_secs).ok_or_else(bad)
}

/// How the wait before the next attempt on the same target grows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The wait after the first failed attempt (`faxing.retry_delay`).
    pub base: Duration,
    /// Each further failed attempt multiplies the wait by this (gofaxserver doubled).
    pub factor: u32,
    /// No wait is longer, `Retry-After` included.
    pub max: Duration,
    /// Random spread as a fraction of the wait (0.1 = ±10 %), so that jobs that failed
    /// together do not all retry in the same second.
    pub jitter: f64,
}

impl Default for Backoff {
    /// One minute, doubling, at most one hour, ±10 %.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(60),
            factor: 2,
            max: Duration::from_secs(3600),
            jitter: 0.1,
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th failed attempt on a target (1 = the first), at least
    /// the far end's `Retry-After`; `spread` in \[-1, 1\] picks the point in the jitter band.
    pub fn wait(&self, failures: u32, retry_after: Option<u32>, spread: f64) -> Duration {
        let steps = failures.saturating_sub(1);
        let mut wait = self.base;
        for _ in 0..steps {
            wait = wait.saturating_mul(self.factor.max(1));
            if wait >= self.max {
                break;
            }
        }
        let wait = wait.min(self.max);
        let spread = if spread.is_finite() {
            spread.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let jittered = wait.as_secs_f64() * (1.0 + self.jitter.clamp(0.0, 1.0) * spread);
        let wait = Duration::from_secs_f64(jittered.max(0.0)).min(self.max);
        let asked = Duration::from_secs(u64::from(retry_after.unwrap_or(0))).min(self.max);
        wait.max(asked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_parse_with_and_without_units() {
        let table: &[(&str, Option<u64>)] = &[
            ("300", Some(300)),
            ("300s", Some(300)),
            ("5m", Some(300)),
            ("2h", Some(7200)),
            ("1d", Some(86_400)),
            (" 30s ", Some(30)),
            ("0", Some(0)),
            ("", None),
            ("s", None),
            ("5 m", None),
            ("5M", None),
            ("-5", None),
            ("1.5m", None),
            ("5ms", None),
            ("99999999999999999999", None),
            ("999999999999999999d", None),
        ];
        for (input, want) in table {
            let got = parse_delay(input).ok().map(|d| d.as_secs());
            assert_eq!(got, *want, "input {input:?}");
        }
        let e = parse_delay("soon").unwrap_err();
        assert!(e.to_string().contains("\"soon\""), "{e}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_retry_after() {
        let b = Backoff {
            base: Duration::from_secs(30),
            factor: 2,
            max: Duration::from_secs(200),
            jitter: 0.0,
        };
        let secs = |n, ra| b.wait(n, ra, 0.0).as_secs();
        assert_eq!(secs(1, None), 30);
        assert_eq!(secs(2, None), 60);
        assert_eq!(secs(3, None), 120);
        assert_eq!(secs(4, None), 200);
        assert_eq!(secs(60, None), 200, "no overflow on long runs");
        assert_eq!(
            secs(1, Some(90)),
            90,
            "Retry-After longer than the back-off wins"
        );
        assert_eq!(
            secs(3, Some(90)),
            120,
            "the back-off longer than Retry-After wins"
        );
        assert_eq!(secs(1, Some(100_000)), 200, "Retry-After is capped too");
        assert_eq!(secs(0, None), 30, "0 failures reads as the first");
    }

    #[test]
    fn jitter_stays_in_its_band() {
        let b = Backoff {
            jitter: 0.1,
            ..Backoff::default()
        };
        assert_eq!(b.wait(1, None, -1.0).as_secs(), 54);
        assert_eq!(b.wait(1, None, 1.0).as_secs(), 66);
        assert_eq!(b.wait(1, None, 0.0).as_secs(), 60);
        assert_eq!(b.wait(1, None, f64::NAN).as_secs(), 60);
        assert_eq!(b.wait(1, None, 7.0).as_secs(), 66, "spread is clamped");
    }
}
