//! A seeded, simulated lossy network link and a manual clock, for media tests in simulated time.
//!
//! Loss can be random (Bernoulli) or bursty (Gilbert–Elliott two-state model); packets can be
//! duplicated, reordered and delayed with jitter. The same seed always gives the same run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// A clock that moves only when told to, for sans-IO cores that take `now` as an input.
#[derive(Debug, Clone, Copy)]
pub struct ManualClock {
    start: Instant,
    elapsed: Duration,
}

impl ManualClock {
    /// A clock starting at the current instant.
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            elapsed: Duration::ZERO,
        }
    }

    /// The current simulated instant.
    pub fn now(&self) -> Instant {
        self.start + self.elapsed
    }

    /// Simulated time since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, by: Duration) {
        self.elapsed += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// SplitMix64: a tiny deterministic PRNG, so tests need no extra crates and stay reproducible.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

/// How packets are lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Nothing is lost.
    None,
    /// Each packet is lost independently with this probability.
    Random(f64),
    /// Gilbert–Elliott: a good and a bad state with their own loss rates.
    GilbertElliott {
        /// Chance per packet of moving from good to bad.
        good_to_bad: f64,
        /// Chance per packet of moving from bad to good (1 / mean burst length).
        bad_to_good: f64,
        /// Loss rate in the good state.
        loss_good: f64,
        /// Loss rate in the bad state.
        loss_bad: f64,
    },
}

impl Loss {
    /// Bursty loss averaging `mean_loss` with bursts of `mean_burst` packets (all lost in bad).
    pub fn bursty(mean_loss: f64, mean_burst: f64) -> Loss {
        let bad_to_good = 1.0 / mean_burst;
        // Stationary share of time in bad = g2b / (g2b + b2g) = mean_loss.
        let good_to_bad = mean_loss * bad_to_good / (1.0 - mean_loss);
        Loss::GilbertElliott {
            good_to_bad,
            bad_to_good,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }
}

/// The impairments of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkProfile {
    /// Loss model.
    pub loss: Loss,
    /// Chance a delivered packet is delivered twice.
    pub duplicate: f64,
    /// Chance a packet is held back behind later ones.
    pub reorder: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra random delay, uniform in [0, jitter].
    pub jitter: Duration,
}

impl Default for LinkProfile {
    fn default() -> Self {
        LinkProfile {
            loss: Loss::None,
            duplicate: 0.0,
            reorder: 0.0,
            delay: Duration::from_millis(20),
            jitter: Duration::ZERO,
        }
    }
}

/// What a link did to the packets sent over it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets offered.
    pub sent: u64,
    /// Packets dropped.
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Packets held back behind later ones.
    pub reordered: u64,
}

/// A one-way link carrying packets of type `T` in simulated time.
#[derive(Debug)]
pub struct LossyLink<T> {
    profile: LinkProfile,
    rng: SeededRng,
    in_bad_state: bool,
    queue: BinaryHeap<Reverse<(Instant, u64, Slot<T>)>>,
    counter: u64,
    last_delivery: Option<Instant>,
    stats: LinkStats,
}

/// Wraps a packet so the heap orders only by time and arrival counter.
#[derive(Debug)]
struct Slot<T>(T);

impl<T> PartialEq for Slot<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<T> Eq for Slot<T> {}
impl<T> PartialOrd for Slot<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Slot<T> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<T: Clone> LossyLink<T> {
    /// A link with the given impairments and seed.
    pub fn new(profile: LinkProfile, seed: u64) -> Self {
        LossyLink {
            profile,
            rng: SeededRng::new(seed),
            in_bad_state: false,
            queue: BinaryHeap::new(),
            counter: 0,
            last_delivery: None,
            stats: LinkStats::default(),
        }
    }

    /// Offers a packet to the link at `now`.
    pub fn send(&mut self, now: Instant, packet: T) {
        self.stats.sent += 1;
        if self.lose() {
            self.stats.lost += 1;
            return;
        }
        let jitter = self.profile.jitter.mul_f64(self.rng.next_f64());
        let mut at = now + self.profile.delay + jitter;
        if self.rng.chance(self.profile.reorder) {
            // Held back long enough for the next few packets to overtake it.
            self.stats.reordered += 1;
            at += Duration::from_millis(30) + self.profile.jitter;
        } else if let Some(last) = self.last_delivery {
            // Plain jitter does not reorder: a packet never overtakes the one before it.
            at = at.max(last);
            self.last_delivery = Some(at);
        } else {
            self.last_delivery = Some(at);
        }
        if self.rng.chance(self.profile.duplicate) {
            self.stats.duplicated += 1;
            self.push(at + Duration::from_millis(1), packet.clone());
        }
        self.push(at, packet);
    }

    /// The next packet due by `now`, in delivery order.
    pub fn poll_receive(&mut self, now: Instant) -> Option<T> {
        let due = matches!(self.queue.peek(), Some(Reverse((at, _, _))) if *at <= now);
        if !due {
            return None;
        }
        self.queue.pop().map(|Reverse((_, _, Slot(p)))| p)
    }

    /// What the link has done so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    fn push(&mut self, at: Instant, packet: T) {
        self.counter += 1;
        self.queue.push(Reverse((at, self.counter, Slot(packet))));
    }

    fn lose(&mut self) -> bool {
        match self.profile.loss {
            Loss::None => false,
            Loss::Random(p) => self.rng.chance(p),
            Loss::GilbertElliott {
                good_to_bad,
                bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let flip = if self.in_bad_state {
                    bad_to_good
                } else {
                    good_to_bad
                };
                if self.rng.chance(flip) {
                    self.in_bad_state = !self.in_bad_state;
                }
                self.rng.chance(if self.in_bad_state {
                    loss_bad
                } else {
                    loss_good
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(profile: LinkProfile, n: u64) -> (Vec<u64>, LinkStats) {
        let mut clock = ManualClock::new();
        let mut link = LossyLink::new(profile, 7);
        let mut got = Vec::new();
        for i in 0..n {
            link.send(clock.now(), i);
            clock.advance(Duration::from_millis(20));
            while let Some(p) = link.poll_receive(clock.now()) {
                got.push(p);
            }
        }
        clock.advance(Duration::from_secs(5));
        while let Some(p) = link.poll_receive(clock.now()) {
            got.push(p);
        }
        (got, link.stats())
    }

    #[test]
    fn random_loss_is_near_its_rate_and_reproducible() {
        let profile = LinkProfile {
            loss: Loss::Random(0.1),
            ..LinkProfile::default()
        };
        let (got, stats) = run(profile, 10_000);
        assert_eq!(got.len() as u64, stats.sent - stats.lost);
        assert!((900..1100).contains(&stats.lost), "{}", stats.lost);
        assert_eq!(run(profile, 10_000).0, got, "same seed, same run");
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "no reordering without asking"
        );
    }

    #[test]
    fn bursty_loss_comes_in_bursts() {
        let profile = LinkProfile {
            loss: Loss::bursty(0.05, 4.0),
            ..LinkProfile::default()
        };
        let (got, stats) = run(profile, 20_000);
        assert!((700..1300).contains(&stats.lost), "{}", stats.lost);
        let gaps: Vec<u64> = got
            .windows(2)
            .map(|w| w[1] - w[0] - 1)
            .filter(|&g| g > 0)
            .collect();
        let mean_gap = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64;
        assert!(mean_gap > 2.5, "mean burst {mean_gap}");
    }

    #[test]
    fn duplicates_and_reordering_happen_when_asked() {
        let profile = LinkProfile {
            duplicate: 0.05,
            reorder: 0.05,
            jitter: Duration::from_millis(40),
            ..LinkProfile::default()
        };
        let (got, stats) = run(profile, 2_000);
        assert_eq!(got.len() as u64, stats.sent + stats.duplicated);
        assert!(stats.duplicated > 50 && stats.reordered > 50);
        assert!(got.windows(2).any(|w| w[0] > w[1]));
    }
}
