//! The receiver's memory of recent sequence positions: IFPs held behind a gap, and what became
//! of the positions already passed (delivered, or given up as lost).
//!
//! Positions are "extended" sequence numbers (`i64`) so that ordering survives the wrap of the
//! 16-bit UDPTL number; [`Window::extend`] maps a wire number onto the position nearest to the
//! next one expected. Every IFP buffer comes from, and goes back to, the receiver's [`Pool`];
//! the two queues keep their capacity, so a window in use allocates nothing.

use std::collections::VecDeque;
use std::time::Instant;

use super::pool::Pool;

/// How many passed positions are remembered, for FEC groups and for telling duplicates from
/// late packets. FEC groups reaching further back than this are not used.
pub(crate) const HISTORY: usize = 128;

/// Where an IFP held for delivery came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Primary,
    Redundancy,
    Fec,
}

/// An IFP waiting for the positions before it.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) pos: i64,
    pub(crate) ifp: Vec<u8>,
    pub(crate) source: Source,
    pub(crate) arrived: Instant,
}

/// What is known about one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot<'a> {
    /// Delivered or held: its IFP is known.
    Known(&'a [u8]),
    /// Not yet passed and not held: it can still be delivered if it turns up or is repaired.
    Awaited,
    /// Passed without its IFP (given up as lost).
    Passed,
    /// Older than the history kept.
    Forgotten,
}

#[derive(Debug)]
pub(crate) struct Window {
    /// Position of the next IFP to deliver.
    pub(crate) next: i64,
    /// Held IFPs in ascending position order, all at `next` or later.
    held: VecDeque<Held>,
    /// Passed positions `next - past.len() .. next`, oldest first; `None` = lost.
    past: VecDeque<Option<Vec<u8>>>,
}

impl Window {
    /// An empty window; [`Window::reserve`] sizes it once a stream starts.
    pub(crate) fn new() -> Self {
        Window {
            next: 0,
            held: VecDeque::new(),
            past: VecDeque::new(),
        }
    }

    /// Makes room for the whole history and for `held` IFPs waiting at once.
    pub(crate) fn reserve(&mut self, held: usize) {
        self.held.reserve(held.saturating_sub(self.held.len()));
        self.past.reserve(HISTORY.saturating_sub(self.past.len()));
    }

    /// Forgets everything and expects `next` first; the buffers go back to `pool`.
    pub(crate) fn reset(&mut self, next: i64, pool: &mut Pool) {
        for held in self.held.drain(..) {
            pool.give(held.ifp);
        }
        for ifp in self.past.drain(..).flatten() {
            pool.give(ifp);
        }
        self.next = next;
    }

    /// The position of wire number `seq` nearest to `next` (within ±32K).
    pub(crate) fn extend(&self, seq: u16) -> i64 {
        let delta = seq.wrapping_sub(self.next as u16) as i16;
        self.next + i64::from(delta)
    }

    /// Where `pos` is, or would go, in `held`.
    fn find(&self, pos: i64) -> Result<usize, usize> {
        self.held.binary_search_by_key(&pos, |h| h.pos)
    }

    pub(crate) fn slot(&self, pos: i64) -> Slot<'_> {
        if pos >= self.next {
            return match self.find(pos) {
                Ok(i) => Slot::Known(&self.held[i].ifp),
                Err(_) => Slot::Awaited,
            };
        }
        let back = (self.next - pos) as usize;
        if back > self.past.len() {
            return Slot::Forgotten;
        }
        match &self.past[self.past.len() - back] {
            Some(ifp) => Slot::Known(ifp),
            None => Slot::Passed,
        }
    }

    /// The held IFP at `pos`, if any.
    pub(crate) fn held_mut(&mut self, pos: i64) -> Option<&mut Held> {
        let i = self.find(pos).ok()?;
        self.held.get_mut(i)
    }

    /// How many IFPs are held.
    pub(crate) fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Holds an IFP for `pos` (≥ `next`); if one is held there already, `ifp` is handed back.
    pub(crate) fn hold(
        &mut self,
        pos: i64,
        ifp: Vec<u8>,
        source: Source,
        now: Instant,
    ) -> Option<Vec<u8>> {
        match self.find(pos) {
            Ok(_) => Some(ifp),
            Err(i) => {
                self.held.insert(
                    i,
                    Held {
                        pos,
                        ifp,
                        source,
                        arrived: now,
                    },
                );
                None
            }
        }
    }

    /// Takes the IFP at `next` if it is held, and moves past it (keeping a copy in the
    /// history, for FEC and for spotting duplicates).
    pub(crate) fn pop_ready(&mut self, pool: &mut Pool) -> Option<Held> {
        if self.held.front()?.pos != self.next {
            return None;
        }
        let held = self.held.pop_front()?;
        let copy = pool.copy_of(&held.ifp);
        self.pass(Some(copy), pool);
        Some(held)
    }

    /// Gives up on the missing positions before the first held IFP; returns how many.
    pub(crate) fn skip_gap(&mut self, pool: &mut Pool) -> u64 {
        let Some(first) = self.held.front().map(|h| h.pos) else {
            return 0;
        };
        let missing = (first - self.next).max(0) as u64;
        for _ in 0..missing {
            self.pass(None, pool);
        }
        missing
    }

    /// When the oldest held IFP arrived (it has waited longest for the gap before it).
    pub(crate) fn oldest_arrival(&self) -> Option<Instant> {
        self.held.iter().map(|h| h.arrived).min()
    }

    fn pass(&mut self, ifp: Option<Vec<u8>>, pool: &mut Pool) {
        if self.past.len() == HISTORY {
            if let Some(Some(old)) = self.past.pop_front() {
                pool.give(old);
            }
        }
        self.past.push_back(ifp);
        self.next += 1;
    }
}
