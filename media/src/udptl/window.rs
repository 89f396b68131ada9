//! The receiver's memory of recent sequence positions: IFPs held behind a gap, and what became
//! of the positions already passed (delivered, or given up as lost).
//!
//! Positions are "extended" sequence numbers (`i64`) so that ordering survives the wrap of the
//! 16-bit UDPTL number; [`Window::extend`] maps a wire number onto the position nearest to the
//! next one expected.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

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
    pub(crate) held: BTreeMap<i64, Held>,
    /// Passed positions `next - past.len() .. next`, oldest first; `None` = lost.
    past: VecDeque<Option<Vec<u8>>>,
}

impl Window {
    pub(crate) fn new(next: i64) -> Self {
        Window {
            next,
            held: BTreeMap::new(),
            past: VecDeque::with_capacity(HISTORY),
        }
    }

    /// The position of wire number `seq` nearest to `next` (within ±32K).
    pub(crate) fn extend(&self, seq: u16) -> i64 {
        let delta = seq.wrapping_sub(self.next as u16) as i16;
        self.next + i64::from(delta)
    }

    pub(crate) fn slot(&self, pos: i64) -> Slot<'_> {
        if pos >= self.next {
            return match self.held.get(&pos) {
                Some(h) => Slot::Known(&h.ifp),
                None => Slot::Awaited,
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

    /// Holds an IFP for `pos` (≥ `next`) unless one is held already.
    pub(crate) fn hold(&mut self, pos: i64, ifp: Vec<u8>, source: Source, now: Instant) {
        debug_assert!(pos >= self.next);
        self.held.entry(pos).or_insert(Held {
            ifp,
            source,
            arrived: now,
        });
    }

    /// Takes the IFP at `next` if it is held, and moves past it.
    pub(crate) fn pop_ready(&mut self) -> Option<(i64, Held)> {
        let held = self.held.remove(&self.next)?;
        let pos = self.next;
        self.pass(Some(held.ifp.clone()));
        Some((pos, held))
    }

    /// Gives up on the missing positions before the first held IFP; returns how many.
    pub(crate) fn skip_gap(&mut self) -> u64 {
        let Some(&first) = self.held.keys().next() else {
            return 0;
        };
        let missing = (first - self.next).max(0) as u64;
        for _ in 0..missing {
            self.pass(None);
        }
        missing
    }

    /// When the oldest held IFP arrived (it has waited longest for the gap before it).
    pub(crate) fn oldest_arrival(&self) -> Option<Instant> {
        self.held.values().map(|h| h.arrived).min()
    }

    fn pass(&mut self, ifp: Option<Vec<u8>>) {
        if self.past.len() == HISTORY {
            self.past.pop_front();
        }
        self.past.push_back(ifp);
        self.next += 1;
    }
}
