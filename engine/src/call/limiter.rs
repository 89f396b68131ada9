//! Rate limiting of SIP requests from sources outside the ACL, per source address, sans-IO
//! (the caller passes the time in).
//!
//! Scanners (friendly-scanner, sipvicious) send thousands of requests a second. Each source
//! gets a small token bucket; beyond it its requests are dropped without a response (an
//! answer would confirm a SIP server here and cost a transaction) and without a log line
//! each (a flood would flood the log): they are only counted. The 403 line logged for the
//! INVITEs that do get through is what fail2ban matches.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A token bucket's size and refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a quiet source may send at once.
    pub burst: u32,
    /// Requests per second after the burst.
    pub per_second: u32,
}

impl Default for RateLimit {
    /// A burst of 10, then 5 a second: enough for a misconfigured peer's INVITE, its ACK
    /// and a REGISTER with its challenge, far too little for a scanner.
    fn default() -> Self {
        RateLimit {
            burst: 10,
            per_second: 5,
        }
    }
}

/// Sources remembered at most; past this, quiet ones are forgotten and, in a spoofed
/// flood, new ones are refused until some are.
const MAX_SOURCES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-source token buckets for requests from unknown sources.
#[derive(Debug)]
pub struct SourceLimiter {
    limit: RateLimit,
    buckets: HashMap<IpAddr, Bucket>,
    dropped: u64,
}

impl SourceLimiter {
    /// A limiter with `limit` per source.
    pub fn new(limit: RateLimit) -> Self {
        SourceLimiter {
            limit,
            buckets: HashMap::new(),
            dropped: 0,
        }
    }

    /// True when a request from `source` at `now` may be handled; false (and counted) when
    /// it is to be dropped.
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        let burst = f64::from(self.limit.burst);
        if !self.buckets.contains_key(&source) && self.buckets.len() >= MAX_SOURCES {
            self.forget_quiet(now);
            if self.buckets.len() >= MAX_SOURCES {
                self.dropped += 1;
                return false;
            }
        }
        let rate = f64::from(self.limit.per_second);
        let b = self.buckets.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Requests dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sources currently remembered.
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }

    /// Forgets sources whose bucket has refilled: they are as good as new.
    fn forget_quiet(&mut self, now: Instant) {
        let full = Duration::from_secs_f64(
            f64::from(self.limit.burst) / f64::from(self.limit.per_second.max(1)),
        );
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.at) < full);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn a_burst_passes_then_the_rate_and_the_rest_is_counted() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(RateLimit::default());
        let passed = (0..100).filter(|_| l.allow(ip(1), t0)).count();
        assert_eq!(passed, 10);
        assert_eq!(l.dropped(), 90);
        // Another source has its own bucket.
        assert!(l.allow(ip(2), t0));
        // One second later, five more.
        let t1 = t0 + Duration::from_secs(1);
        let passed = (0..100).filter(|_| l.allow(ip(1), t1)).count();
        assert_eq!(passed, 5);
        // A long quiet spell refills only up to the burst.
        let t2 = t1 + Duration::from_secs(3600);
        let passed = (0..100).filter(|_| l.allow(ip(1), t2)).count();
        assert_eq!(passed, 10);
    }

    #[test]
    fn a_spoofed_flood_keeps_memory_bounded() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(RateLimit::default());
        for n in 0..20_000 {
            l.allow(ip(n), t0);
        }
        assert_eq!(l.sources(), MAX_SOURCES);
        assert_eq!(l.dropped(), 20_000 - MAX_SOURCES as u64);
        // Once the old ones have gone quiet, new sources are taken again.
        assert!(l.allow(ip(99_999), t0 + Duration::from_secs(3)));
    }
}
