//! Sans-IO token buckets, one per tenant, for the API request rate.
//!
//! A bucket holds up to `burst` tokens and refills at `per_second`; each request takes one.
//! A full bucket behaves exactly like a missing one, so when the table is full the full
//! buckets are dropped first, which bounds memory without forgiving anybody.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A request rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may arrive at once after a quiet spell.
    pub burst: f64,
    /// Buckets remembered at most.
    pub max_tracked: usize,
}

impl Default for RateLimit {
    /// Generous: far above what a fax client needs, low enough to stop a runaway script.
    fn default() -> Self {
        RateLimit {
            per_second: 20.0,
            burst: 200.0,
            max_tracked: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
pub struct Buckets<K> {
    limit: RateLimit,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Copy> Buckets<K> {
    /// No buckets yet (every key starts full).
    pub fn new(limit: RateLimit) -> Self {
        Buckets {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `key`; `Err(wait)` if there is none, with the time until there is.
    pub fn take(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        let limit = self.limit;
        if !self.buckets.contains_key(&key) {
            self.make_room(now);
        }
        let b = self.buckets.entry(key).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        b.tokens = refilled(&limit, b, now);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        if limit.per_second <= 0.0 {
            return Err(Duration::from_secs(3600));
        }
        Err(Duration::from_secs_f64((1.0 - b.tokens) / limit.per_second))
    }

    /// Buckets currently remembered.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when no bucket is remembered.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    fn make_room(&mut self, now: Instant) {
        let limit = self.limit;
        if self.buckets.len() < limit.max_tracked {
            return;
        }
        self.buckets
            .retain(|_, b| refilled(&limit, b, now) < limit.burst);
        if self.buckets.len() >= limit.max_tracked {
            // Everyone is busy: forget the fullest, which loses the least.
            let fullest = self
                .buckets
                .iter()
                .max_by(|a, b| refilled(&limit, a.1, now).total_cmp(&refilled(&limit, b.1, now)))
                .map(|(k, _)| *k);
            if let Some(k) = fullest {
                self.buckets.remove(&k);
            }
        }
    }
}

/// The bucket's tokens at `now`.
fn refilled(limit: &RateLimit, b: &Bucket, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    (b.tokens + elapsed * limit.per_second).min(limit.burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max_tracked: usize) -> RateLimit {
        RateLimit {
            per_second: 2.0,
            burst: 3.0,
            max_tracked,
        }
    }

    #[test]
    fn burst_then_refill_at_the_rate() {
        let mut b = Buckets::new(limit(10));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.take(1, t0), Ok(()));
        }
        assert_eq!(b.take(1, t0), Err(Duration::from_millis(500)));
        assert_eq!(b.take(2, t0), Ok(()), "another key has its own bucket");
        let later = t0 + Duration::from_millis(500);
        assert_eq!(b.take(1, later), Ok(()));
        assert!(b.take(1, later).is_err());
    }

    #[test]
    fn full_buckets_are_dropped_first_when_the_table_is_full() {
        let mut b = Buckets::new(limit(2));
        let t0 = Instant::now();
        for _ in 0..3 {
            b.take(1, t0).unwrap();
        }
        b.take(2, t0).unwrap();
        // Key 2 refills long before key 1 and is forgotten; key 1 stays empty.
        let later = t0 + Duration::from_millis(600);
        b.take(3, later).unwrap();
        assert_eq!(b.len(), 2);
        b.take(1, later).unwrap();
        assert!(b.take(1, later).is_err());
    }
}
