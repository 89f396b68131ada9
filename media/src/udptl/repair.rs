//! FEC repair for the receiver (T.38 §9.1.5, layout in [`super::fec`]): the FEC messages of
//! recent packets are kept, and an IFP is rebuilt once it is the only member of a group that
//! is missing. The messages live in buffers that are reused record after record.

use std::collections::VecDeque;
use std::time::Instant;

use super::codec::MAX_RECOVERY_ENTRIES;
use super::fec;
use super::ifp::ifp_len;
use super::per::OctetsList;
use super::pool::Pool;
use super::window::{Slot, Source, Window, HISTORY};

/// FEC-carrying packets remembered for later repairs.
const FEC_RECORDS: usize = 16;

/// One received packet's FEC messages.
#[derive(Debug, Default)]
struct FecRecord {
    pos: i64,
    span: usize,
    /// The messages back to back; message `m` ends at `ends[m]`.
    data: Vec<u8>,
    ends: [usize; MAX_RECOVERY_ENTRIES],
    count: usize,
}

impl FecRecord {
    fn message(&self, m: usize) -> &[u8] {
        let start = if m == 0 { 0 } else { self.ends[m - 1] };
        self.data.get(start..self.ends[m]).unwrap_or_default()
    }
}

/// The FEC messages of the last [`FEC_RECORDS`] packets that carried any.
#[derive(Debug, Default)]
pub(crate) struct FecStore {
    records: VecDeque<FecRecord>,
    /// Records from before a resync, kept for their buffers.
    spare: Vec<FecRecord>,
}

impl FecStore {
    /// Keeps the messages of the packet at `pos`, unless they refer further back than the
    /// window remembers.
    pub(crate) fn push(&mut self, pos: i64, span: u8, entries: OctetsList<'_>) {
        let span = usize::from(span);
        if span == 0 || entries.is_empty() || span * entries.len() > HISTORY {
            return;
        }
        let mut record = if self.records.len() == FEC_RECORDS {
            self.records.pop_front()
        } else {
            self.spare.pop()
        }
        .unwrap_or_default();
        record.pos = pos;
        record.span = span;
        record.data.clear();
        record.count = 0;
        // A parsed list holds at most MAX_RECOVERY_ENTRIES items.
        for (end, message) in record.ends.iter_mut().zip(entries) {
            for chunk in message.chunks() {
                record.data.extend_from_slice(chunk);
            }
            *end = record.data.len();
            record.count += 1;
        }
        self.records.push_back(record);
    }

    /// Forgets every record (after a resync).
    pub(crate) fn clear(&mut self) {
        self.spare.extend(self.records.drain(..));
    }

    /// Rebuilds every awaited IFP that is the only one missing from some group, holding it in
    /// `window`; repeats because each repair can complete another group. Returns how many.
    pub(crate) fn repair(
        &self,
        window: &mut Window,
        pool: &mut Pool,
        t38_version: u8,
        now: Instant,
    ) -> u64 {
        let mut repaired = 0;
        loop {
            let before = repaired;
            for record in &self.records {
                for m in 0..record.count {
                    if repair_group(window, pool, record, m, t38_version, now) {
                        repaired += 1;
                    }
                }
            }
            if repaired == before {
                return repaired;
            }
        }
    }
}

/// Rebuilds the only missing member of FEC message `m` of `record`, if it can still be
/// delivered and everything else in the group is at hand; true if it is now held.
fn repair_group(
    window: &mut Window,
    pool: &mut Pool,
    record: &FecRecord,
    m: usize,
    t38_version: u8,
    now: Instant,
) -> bool {
    let parity = record.message(m);
    let offsets = || fec::covered_offsets(m, record.span, record.count);
    let mut missing = None;
    for offset in offsets() {
        let pos = record.pos + offset;
        match window.slot(pos) {
            // A member longer than the parity means the two do not belong together.
            Slot::Known(ifp) if ifp.len() > parity.len() => return false,
            Slot::Known(_) => {}
            Slot::Awaited if missing.is_none() => missing = Some(pos),
            _ => return false,
        }
    }
    let Some(missing) = missing else {
        return false;
    };
    let mut ifp = pool.copy_of(parity);
    for offset in offsets() {
        if let Slot::Known(member) = window.slot(record.pos + offset) {
            fec::xor_into(&mut ifp, member);
        }
    }
    // The XOR of a correct repair is zero past the IFP's own end; anything else means the
    // parity and what we hold do not belong together, so drop it.
    let fits = ifp_len(&ifp, t38_version).filter(|&len| ifp[len..].iter().all(|&b| b == 0));
    let Some(len) = fits else {
        pool.give(ifp);
        return false;
    };
    ifp.truncate(len);
    match window.hold(missing, ifp, Source::Fec, now) {
        Some(unused) => {
            pool.give(unused);
            false
        }
        None => true,
    }
}
