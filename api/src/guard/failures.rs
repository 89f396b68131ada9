//! Sans-IO table of authentication failures per source address.
//!
//! Time is passed in, so tests step through blocks without sleeping. The table is bounded:
//! when full, entries that have gone quiet are dropped first, then the least recently
//! failing one, so an attacker spraying addresses cannot grow memory without limit (at worst
//! they push out their own older entries).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// When failures lead to a block, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    /// Failures from one address before it is blocked.
    pub threshold: u32,
    /// An address without a failure for this long starts again from zero.
    pub quiet: Duration,
    /// The first block; each further failure after it doubles the next block.
    pub first_block: Duration,
    /// The longest block.
    pub max_block: Duration,
    /// Addresses remembered at most.
    pub max_tracked: usize,
}

impl Default for FailureLimits {
    fn default() -> Self {
        FailureLimits {
            threshold: 5,
            quiet: Duration::from_secs(15 * 60),
            first_block: Duration::from_secs(2),
            max_block: Duration::from_secs(15 * 60),
            max_tracked: 10_000,
        }
    }
}

/// What the table knows about one address.
#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// Blocks so far; the next one lasts `first_block * 2^blocks`.
    blocks: u32,
    last_failure: Instant,
    blocked_until: Option<Instant>,
}

impl Entry {
    /// Quiet (counted from the end of its last block) and unblocked: equivalent to no entry.
    fn expired(&self, limits: &FailureLimits, now: Instant) -> bool {
        let since = self
            .blocked_until
            .map_or(self.last_failure, |b| b.max(self.last_failure));
        since <= now && now.saturating_duration_since(since) >= limits.quiet
    }
}

/// Authentication failures by address.
#[derive(Debug)]
pub struct FailureTable {
    limits: FailureLimits,
    entries: HashMap<IpAddr, Entry>,
}

impl FailureTable {
    /// An empty table.
    pub fn new(limits: FailureLimits) -> Self {
        FailureTable {
            limits,
            entries: HashMap::new(),
        }
    }

    /// `Err(time left)` while `ip` is blocked; checked before any credential is looked at.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.entries.get(&ip).and_then(|e| e.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt; returns the block it starts, if any.
    pub fn failed(&mut self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let limits = self.limits;
        if !self.entries.contains_key(&ip) {
            self.make_room(now);
        }
        let e = self.entries.entry(ip).or_insert(Entry {
            failures: 0,
            blocks: 0,
            last_failure: now,
            blocked_until: None,
        });
        if e.expired(&limits, now) {
            (e.failures, e.blocks) = (0, 0);
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        if e.failures < limits.threshold {
            return None;
        }
        let factor = 1u32.checked_shl(e.blocks).unwrap_or(u32::MAX);
        let block = limits
            .first_block
            .saturating_mul(factor)
            .min(limits.max_block);
        e.blocks = e.blocks.saturating_add(1);
        e.blocked_until = Some(now + block);
        Some(block)
    }

    /// Records a success: the address's failure count starts again, but not its escalation,
    /// so interleaving a valid login does not buy an attacker fresh short blocks.
    pub fn succeeded(&mut self, ip: IpAddr) {
        if let Some(e) = self.entries.get_mut(&ip) {
            e.failures = 0;
        }
    }

    /// Addresses currently remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Frees a slot if the table is full.
    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < self.limits.max_tracked {
            return;
        }
        let limits = self.limits;
        self.entries.retain(|_, e| !e.expired(&limits, now));
        if self.entries.len() >= limits.max_tracked {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(ip, _)| *ip);
            if let Some(ip) = oldest {
                self.entries.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn table() -> FailureTable {
        FailureTable::new(FailureLimits {
            max_tracked: 3,
            ..FailureLimits::default()
        })
    }

    #[test]
    fn blocks_after_threshold_and_the_block_grows() {
        let mut t = table();
        let t0 = Instant::now();
        for _ in 0..4 {
            assert_eq!(t.failed(ip(1), t0), None);
            assert_eq!(t.check(ip(1), t0), Ok(()));
        }
        assert_eq!(t.failed(ip(1), t0), Some(Duration::from_secs(2)));
        assert_eq!(t.check(ip(1), t0), Err(Duration::from_secs(2)));
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(t.check(ip(1), t1), Ok(()));
        // Still within the window: one more failure is enough, and the block doubles.
        assert_eq!(t.failed(ip(1), t1), Some(Duration::from_secs(4)));
        let t2 = t1 + Duration::from_secs(4);
        assert_eq!(t.failed(ip(1), t2), Some(Duration::from_secs(8)));
        // Each failure right after a block ends doubles the next, up to the cap.
        let mut now = t2;
        let mut blocks = Vec::new();
        for _ in 0..12 {
            now += t.check(ip(1), now).err().unwrap_or_default();
            blocks.push(t.failed(ip(1), now).expect("blocked").as_secs());
        }
        assert_eq!(
            blocks,
            [16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900, 900]
        );
    }

    #[test]
    fn addresses_are_independent_and_success_resets_only_its_own() {
        let mut t = table();
        let t0 = Instant::now();
        for _ in 0..4 {
            t.failed(ip(1), t0);
            t.failed(ip(2), t0);
        }
        t.succeeded(ip(2));
        assert!(
            t.failed(ip(1), t0).is_some(),
            "ip 1 still counts its failures"
        );
        assert_eq!(t.failed(ip(2), t0), None, "ip 2 started again");
        assert_eq!(t.check(ip(2), t0), Ok(()));
        assert!(t.check(ip(1), t0).is_err());
    }

    #[test]
    fn quiet_addresses_start_again() {
        let mut t = table();
        let t0 = Instant::now();
        for _ in 0..4 {
            t.failed(ip(1), t0);
        }
        let later = t0 + Duration::from_secs(15 * 60);
        assert_eq!(t.failed(ip(1), later), None);
    }

    #[test]
    fn the_table_is_bounded_and_evicts_quiet_then_oldest() {
        let mut t = table();
        let t0 = Instant::now();
        for i in 0..3 {
            for _ in 0..5 {
                t.failed(ip(i), t0 + Duration::from_secs(u64::from(i)));
            }
        }
        assert_eq!(t.len(), 3);
        // Full and nothing quiet: the least recently failing (ip 0) makes room, so its next
        // failure counts from one again instead of escalating.
        t.failed(ip(9), t0 + Duration::from_secs(3));
        assert_eq!(t.len(), 3);
        assert_eq!(t.failed(ip(0), t0 + Duration::from_secs(4)), None);
        assert!(t.failed(ip(2), t0 + Duration::from_secs(4)).is_some());
        // Much later every entry is quiet: all make room at once.
        t.failed(ip(10), t0 + Duration::from_secs(3600));
        assert_eq!(t.len(), 1);
    }
}
