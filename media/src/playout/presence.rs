//! Which ring slots hold a sample that has arrived and not yet played: one bit per slot.
//!
//! A byte per slot made every 20 ms packet write three more cache lines per call, and at
//! hundreds of calls those lines are never still cached a tick later; a packet's 160 bits
//! are three words of one line.

/// One bit per slot of a ring whose length is a multiple of 64.
#[derive(Debug, Clone)]
pub(super) struct Presence {
    words: Vec<u64>,
}

/// The bits of `start..start + len` within one word (`start % 64 + len <= 64`).
fn mask(start: usize, len: usize) -> u64 {
    let low = start % 64;
    let ones = if len >= 64 {
        u64::MAX
    } else {
        (1u64 << len) - 1
    };
    ones << low
}

impl Presence {
    /// `slots` clear bits, rounded up to whole words.
    pub(super) fn new(slots: usize) -> Self {
        Presence {
            words: vec![0; slots.div_ceil(64)],
        }
    }

    /// Whether slot `i` is set (false beyond the end).
    pub(super) fn get(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Sets or clears `start..start + len`; slots beyond the end are ignored.
    pub(super) fn set_range(&mut self, start: usize, len: usize, value: bool) {
        for (index, bits) in spans(start, len) {
            let Some(word) = self.words.get_mut(index) else {
                return;
            };
            if value {
                *word |= bits;
            } else {
                *word &= !bits;
            }
        }
    }

    /// Whether every slot of `start..start + len` is set; false if any lies beyond the end.
    pub(super) fn all_set(&self, start: usize, len: usize) -> bool {
        spans(start, len)
            .all(|(index, bits)| self.words.get(index).is_some_and(|w| w & bits == bits))
    }

    /// Clears every slot.
    pub(super) fn clear_all(&mut self) {
        self.words.fill(0);
    }
}

/// The words touching `start..start + len`, each with the bits of the range in it.
fn spans(start: usize, len: usize) -> impl Iterator<Item = (usize, u64)> {
    let end = start.saturating_add(len);
    let mut at = start;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let take = (64 - at % 64).min(end - at);
        let span = (at / 64, mask(at, take));
        at += take;
        Some(span)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_across_words_set_test_and_clear() {
        let mut p = Presence::new(256);
        p.set_range(60, 160, true);
        assert!(!p.get(59));
        assert!(p.get(60) && p.get(127) && p.get(219));
        assert!(!p.get(220));
        assert!(p.all_set(60, 160));
        assert!(!p.all_set(59, 160));
        assert!(!p.all_set(61, 160));
        p.set_range(100, 1, false);
        assert!(!p.all_set(60, 160));
        assert!(p.all_set(101, 119));
        p.clear_all();
        assert!(!p.get(150));
    }

    #[test]
    fn slots_beyond_the_end_are_ignored_and_never_set() {
        let mut p = Presence::new(128);
        p.set_range(120, 20, true);
        assert!(p.get(127));
        assert!(!p.get(128));
        assert!(!p.all_set(120, 20));
        assert!(p.all_set(120, 8));
        assert!(p.all_set(0, 0));
    }

    #[test]
    fn a_whole_word_is_one_mask() {
        let mut p = Presence::new(192);
        p.set_range(64, 64, true);
        assert!(p.all_set(64, 64));
        assert!(!p.get(63) && !p.get(128));
    }
}
