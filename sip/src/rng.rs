//! A seeded SplitMix64 generator for the random parts of the protocol: tags, Call-IDs,
//! cnonces, RSeq starts, the RFC 3261 §14.1 glare back-off and registration jitter.
//!
//! The cores take a seed instead of reading a random source, so that a test run is
//! reproducible; the shell seeds them from the operating system.

/// SplitMix64: small, fast and good enough for identifiers that must not collide.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `lo..=hi` (`lo` when the range is empty).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.next_u64() % span,
            None => self.next_u64(),
        }
    }

    /// `n` random bytes as lower-case hex (2·n characters).
    pub(crate) fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n * 2);
        while s.len() < n * 2 {
            let v = self.next_u64();
            s.push_str(&format!("{v:016x}"));
        }
        s.truncate(n * 2);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_inclusive_and_deterministic() {
        let mut a = Rng::new(5);
        let mut b = Rng::new(5);
        for _ in 0..1000 {
            let v = a.range(210, 400);
            assert!((210..=400).contains(&v));
            assert_eq!(v, b.range(210, 400));
        }
        assert_eq!(a.range(3, 3), 3);
        assert_eq!(a.hex(5).len(), 10);
    }
}
