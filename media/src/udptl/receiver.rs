//! The receiving half of UDPTL (ITU-T T.38 §9.1): turns datagrams into IFPs in ascending
//! sequence order, each exactly once, rebuilding lost ones from redundancy (§9.1.4) or FEC
//! (§9.1.5).
//!
//! SpanDSP's T.38 core drops any IFP that is not newer than the last one it saw, so order is
//! everything: a repaired IFP is always delivered before the primary that carried its repair.
//! When an IFP is missing and cannot be repaired, later ones wait at most
//! [`ReceiverConfig::reorder_wait`] (or until [`ReceiverConfig::max_held`] are waiting) for it
//! to turn up late; then it is given up as lost and delivery moves on.
//!
//! Sans-IO: feed [`UdptlReceiver::handle_datagram`] and [`UdptlReceiver::handle_timeout`],
//! drain [`UdptlReceiver::poll_ifp`], and wake up at [`UdptlReceiver::poll_timeout`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::codec::{Recovery, UdptlPacket};
use super::fec;
use super::ifp::ifp_len;
use super::window::{Slot, Source, Window, HISTORY};
use crate::Error;

/// Where numbering starts internally, so positions never go negative after backward resyncs.
const ORIGIN: i64 = 1 << 40;

/// FEC-carrying packets remembered for later repairs.
const FEC_RECORDS: usize = 16;

/// How the receiver waits and when it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Longest an IFP waits for a missing one before it; then the missing one counts as lost.
    pub reorder_wait: Duration,
    /// Most IFPs held behind a gap; beyond this the gap is given up at once.
    pub max_held: usize,
    /// A jump forward by more than this many sequence numbers is a restart, not a loss.
    pub resync_gap: u16,
    /// This many consecutive, ascending packets from the past mean the peer restarted its
    /// numbering lower (single late packets and duplicates never do).
    pub restart_run: u8,
    /// The negotiated `T38FaxVersion`, needed to measure IFPs repaired by FEC.
    pub t38_version: u8,
}

impl Default for ReceiverConfig {
    /// 300 ms of waiting, 32 held, resync past 100, restart after 4 packets, version 0.
    ///
    /// The wait is long for reordering but sized for FEC: with span 3 and 3 entries a group
    /// can complete up to ten paced packets (about 300 ms) after a burst. In the 4-page tests
    /// at 5 % bursty loss, 100 ms left 40–50 % of losses unrepaired and 300 ms about 5 %;
    /// redundancy repairs from the next datagram and is unaffected.
    fn default() -> Self {
        ReceiverConfig {
            reorder_wait: Duration::from_millis(300),
            max_held: 32,
            resync_gap: 100,
            restart_run: 4,
            t38_version: 0,
        }
    }
}

/// What the receiver has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Well-formed datagrams.
    pub received: u64,
    /// Datagrams whose primary IFP had already been delivered or was already held.
    pub duplicates: u64,
    /// Datagrams whose primary came after its position had been given up.
    pub late: u64,
    /// IFPs delivered from a later datagram's redundant copy.
    pub recovered_redundancy: u64,
    /// IFPs delivered after an FEC repair.
    pub recovered_fec: u64,
    /// Positions given up: never received and not repairable in time.
    pub lost: u64,
    /// Datagrams that could not be decoded (dropped).
    pub malformed: u64,
    /// Times the numbering restarted or jumped and the receiver started afresh.
    pub resyncs: u64,
}

/// One received packet's FEC data, kept for repairs that become possible later.
#[derive(Debug)]
struct FecRecord {
    pos: i64,
    span: usize,
    entries: Vec<Vec<u8>>,
}

/// Turns UDPTL datagrams into ordered IFPs.
#[derive(Debug)]
pub struct UdptlReceiver {
    config: ReceiverConfig,
    window: Option<Window>,
    fec: VecDeque<FecRecord>,
    out: VecDeque<(u16, Vec<u8>)>,
    /// Consecutive ascending packets from the past, and the last of them.
    behind_run: u8,
    last_behind: Option<u16>,
    stats: ReceiverStats,
}

impl UdptlReceiver {
    /// A receiver with the given limits.
    pub fn new(config: ReceiverConfig) -> Self {
        UdptlReceiver {
            config,
            window: None,
            fec: VecDeque::new(),
            out: VecDeque::new(),
            behind_run: 0,
            last_behind: None,
            stats: ReceiverStats::default(),
        }
    }

    /// What the receiver has seen so far.
    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }

    /// Takes one datagram; a malformed one is counted, dropped and reported.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error> {
        let packet = match UdptlPacket::decode(datagram) {
            Ok(p) if p.primary.is_empty() => Err(Error::MalformedUdptl("empty primary IFP")),
            other => other,
        };
        let packet = match packet {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        self.stats.received += 1;
        self.accept(now, packet);
        self.handle_timeout(now);
        Ok(())
    }

    /// Gives up on gaps that have been waited for long enough.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.poll_timeout().is_some_and(|t| t <= now) {
            self.give_up_gap();
        }
    }

    /// When [`UdptlReceiver::handle_timeout`] next has work, if IFPs are waiting on a gap.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let oldest = self.window.as_ref()?.oldest_arrival()?;
        Some(oldest + self.config.reorder_wait)
    }

    /// The next IFP in sequence order, with its sequence number.
    pub fn poll_ifp(&mut self) -> Option<(u16, Vec<u8>)> {
        self.out.pop_front()
    }

    fn accept(&mut self, now: Instant, packet: UdptlPacket) {
        let (pos, ahead) = {
            let window = self
                .window
                .get_or_insert_with(|| Window::new(ORIGIN + i64::from(packet.seq) - lead(&packet)));
            let pos = window.extend(packet.seq);
            (pos, pos - window.next)
        };
        if ahead > i64::from(self.config.resync_gap.max(MIN_RESYNC_GAP)) {
            return self.resync(now, packet);
        }
        if ahead < 0 {
            return self.behind(now, pos, packet);
        }
        self.behind_run = 0;
        self.last_behind = None;
        let Some(window) = self.window.as_mut() else {
            return;
        };
        match window.held.get_mut(&pos) {
            Some(h) if h.source == Source::Primary => {
                self.stats.duplicates += 1;
                return;
            }
            // Held from a repair: the original arrived in the meantime, so nothing was lost.
            Some(h) => h.source = Source::Primary,
            None => window.hold(pos, packet.primary, Source::Primary, now),
        }
        match packet.recovery {
            Recovery::Redundancy(secondaries) => {
                for (i, ifp) in secondaries.into_iter().enumerate() {
                    let at = pos - 1 - i as i64;
                    if at < window.next {
                        break;
                    }
                    if !ifp.is_empty() {
                        window.hold(at, ifp, Source::Redundancy, now);
                    }
                }
            }
            Recovery::Fec { span, entries } => {
                let span = usize::from(span);
                if span > 0 && !entries.is_empty() && span * entries.len() <= HISTORY {
                    if self.fec.len() == FEC_RECORDS {
                        self.fec.pop_front();
                    }
                    self.fec.push_back(FecRecord { pos, span, entries });
                }
            }
        }
        self.repair(now);
        self.deliver();
        self.enforce_max_held();
    }

    /// A packet from before `next`: a duplicate, a late one, or the start of a restart.
    fn behind(&mut self, now: Instant, pos: i64, packet: UdptlPacket) {
        let Some(window) = &self.window else { return };
        match window.slot(pos) {
            Slot::Known(_) => self.stats.duplicates += 1,
            _ => self.stats.late += 1,
        }
        let ascending = self.last_behind == Some(packet.seq.wrapping_sub(1));
        self.behind_run = if ascending {
            self.behind_run.saturating_add(1)
        } else {
            1
        };
        self.last_behind = Some(packet.seq);
        if self.behind_run >= self.config.restart_run.max(2) {
            self.resync(now, packet);
        }
    }

    /// Delivers what is held, forgets the old numbering and starts again from `packet`.
    fn resync(&mut self, now: Instant, packet: UdptlPacket) {
        while self.window.as_ref().is_some_and(|w| !w.held.is_empty()) {
            self.give_up_gap();
        }
        self.stats.resyncs += 1;
        self.window = None;
        self.fec.clear();
        self.behind_run = 0;
        self.last_behind = None;
        // The stats already counted this datagram; a fresh window accepts it as the first.
        self.accept(now, packet);
    }

    fn give_up_gap(&mut self) {
        if let Some(window) = &mut self.window {
            self.stats.lost += window.skip_gap();
        }
        self.deliver();
    }

    fn enforce_max_held(&mut self) {
        let max = self.config.max_held.max(1);
        while self.window.as_ref().is_some_and(|w| w.held.len() > max) {
            self.give_up_gap();
        }
    }

    fn deliver(&mut self) {
        let Some(window) = &mut self.window else {
            return;
        };
        while let Some((pos, held)) = window.pop_ready() {
            match held.source {
                Source::Primary => {}
                Source::Redundancy => self.stats.recovered_redundancy += 1,
                Source::Fec => self.stats.recovered_fec += 1,
            }
            self.out.push_back((pos as u16, held.ifp));
        }
    }

    /// Rebuilds every awaited IFP that is the only one missing from some FEC group; repeats
    /// because each repair can complete another group.
    fn repair(&mut self, now: Instant) {
        let Some(window) = &mut self.window else {
            return;
        };
        loop {
            let mut repaired = Vec::new();
            for record in &self.fec {
                for (m, parity) in record.entries.iter().enumerate() {
                    if let Some(found) = repair_group(window, record, m, parity) {
                        repaired.push(found);
                    }
                }
            }
            let mut progress = false;
            for (pos, mut ifp) in repaired {
                // The XOR of a correct repair is zero past the IFP's own end; anything else
                // means the parity and what we hold do not belong together, so drop it.
                let Some(len) = ifp_len(&ifp, self.config.t38_version) else {
                    continue;
                };
                if ifp[len..].iter().any(|&b| b != 0) || window.held.contains_key(&pos) {
                    continue;
                }
                ifp.truncate(len);
                window.hold(pos, ifp, Source::Fec, now);
                progress = true;
            }
            if !progress {
                return;
            }
        }
    }
}

/// The smallest resync gap honoured: a redundancy or FEC window must never trigger one.
const MIN_RESYNC_GAP: u16 = 32;

/// How many IFPs before the first packet it carries copies of, so a stream whose first
/// datagrams were lost still starts at its beginning.
fn lead(packet: &UdptlPacket) -> i64 {
    match &packet.recovery {
        Recovery::Redundancy(s) => s.iter().take_while(|ifp| !ifp.is_empty()).count() as i64,
        Recovery::Fec { .. } => 0,
    }
}

/// The IFP FEC message `m` of `record` can rebuild: the group's only missing member, if it
/// can still be delivered and everything else in the group is at hand.
fn repair_group(
    window: &Window,
    record: &FecRecord,
    m: usize,
    parity: &[u8],
) -> Option<(i64, Vec<u8>)> {
    let mut missing = None;
    let mut acc = parity.to_vec();
    for offset in fec::covered_offsets(m, record.span, record.entries.len()) {
        let pos = record.pos + offset;
        match window.slot(pos) {
            // A member longer than the parity means the two do not belong together.
            Slot::Known(ifp) if ifp.len() > parity.len() => return None,
            Slot::Known(ifp) => fec::xor_into(&mut acc, ifp),
            Slot::Awaited if missing.is_none() => missing = Some(pos),
            _ => return None,
        }
    }
    missing.map(|pos| (pos, acc))
}
