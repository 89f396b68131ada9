//! Which sequence numbers have arrived: duplicates, reordering and loss (RFC 3550 §6.4.1's
//! "cumulative number of packets lost" is expected minus received).

/// Sequence numbers remembered behind the highest one.
const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// What arrival history says about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Not seen before, and newer than everything so far.
    InOrder,
    /// Not seen before, but older than a packet already seen.
    Reordered,
    /// Seen before.
    Duplicate,
}

/// A sliding bitmap of the last [`WINDOW`] extended sequence numbers.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqHistory {
    first: Option<u64>,
    highest: u64,
    bits: [u64; WORDS],
    unique: u64,
}

impl SeqHistory {
    /// Records `seq` and says how it arrived.
    pub(crate) fn record(&mut self, seq: u64) -> Arrival {
        let Some(first) = self.first else {
            self.first = Some(seq);
            self.highest = seq;
            self.set(seq);
            self.unique = 1;
            return Arrival::InOrder;
        };
        if seq > self.highest {
            // Forget the slots the window slides over, or they would look like repeats.
            let advance = (seq - self.highest).min(WINDOW);
            for s in seq - advance + 1..=seq {
                self.clear(s);
            }
            self.highest = seq;
            self.set(seq);
            self.unique += 1;
            return Arrival::InOrder;
        }
        if self.highest - seq < WINDOW && self.is_set(seq) {
            return Arrival::Duplicate;
        }
        if seq < first {
            self.first = Some(seq);
        }
        self.set(seq);
        self.unique += 1;
        Arrival::Reordered
    }

    /// Packets expected (first to highest) that never arrived.
    pub(crate) fn lost(&self) -> u64 {
        self.first.map_or(0, |first| {
            (self.highest - first + 1).saturating_sub(self.unique)
        })
    }

    fn slot(seq: u64) -> (usize, u64) {
        let bit = seq % WINDOW;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn set(&mut self, seq: u64) {
        let (word, mask) = Self::slot(seq);
        if let Some(w) = self.bits.get_mut(word) {
            *w |= mask;
        }
    }

    fn clear(&mut self, seq: u64) {
        let (word, mask) = Self::slot(seq);
        if let Some(w) = self.bits.get_mut(word) {
            *w &= !mask;
        }
    }

    fn is_set(&self, seq: u64) -> bool {
        let (word, mask) = Self::slot(seq);
        self.bits.get(word).is_some_and(|w| w & mask != 0)
    }
}
