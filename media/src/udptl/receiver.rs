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
//!
//! Datagrams are read in place ([`UdptlView`]) and IFPs live in buffers the receiver reuses,
//! so once its queues have grown to the traffic, receiving allocates nothing.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::codec::MAX_RECOVERY_ENTRIES;
use super::per::Octets;
use super::pool::Pool;
use super::repair::FecStore;
use super::view::{RecoveryView, UdptlView};
use super::window::{Slot, Source, Window, HISTORY};
use crate::Error;

/// Where numbering starts internally, so positions never go negative after backward resyncs.
const ORIGIN: i64 = 1 << 40;

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

/// Turns UDPTL datagrams into ordered IFPs.
#[derive(Debug)]
pub struct UdptlReceiver {
    config: ReceiverConfig,
    /// Whether the queues and the pool have been sized (at the first packet).
    prepared: bool,
    /// Whether a packet has set the numbering of `window`.
    started: bool,
    window: Window,
    fec: FecStore,
    pool: Pool,
    /// IFPs ready for [`UdptlReceiver::poll_ifp`], with their sequence numbers.
    out: VecDeque<(u16, Vec<u8>)>,
    /// The IFP the last `poll_ifp` lent out; its buffer goes back to the pool on the next.
    lent: Option<(u16, Vec<u8>)>,
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
            prepared: false,
            started: false,
            window: Window::new(),
            fec: FecStore::default(),
            pool: Pool::default(),
            out: VecDeque::new(),
            lent: None,
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
        let packet = match UdptlView::parse(datagram) {
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
        self.accept(now, &packet);
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
        let oldest = self.window.oldest_arrival()?;
        Some(oldest + self.config.reorder_wait)
    }

    /// The next IFP in sequence order, with its sequence number. The IFP is lent until the
    /// next call; its buffer is then reused.
    pub fn poll_ifp(&mut self) -> Option<(u16, &[u8])> {
        if let Some((_, ifp)) = self.lent.take() {
            self.pool.give(ifp);
        }
        self.lent = self.out.pop_front();
        self.lent.as_ref().map(|(seq, ifp)| (*seq, ifp.as_slice()))
    }

    fn accept(&mut self, now: Instant, packet: &UdptlView<'_>) {
        if !self.prepared {
            self.prepare();
        }
        if !self.started {
            let first = ORIGIN + i64::from(packet.seq) - lead(packet);
            self.window.reset(first, &mut self.pool);
            self.started = true;
        }
        let pos = self.window.extend(packet.seq);
        let ahead = pos - self.window.next;
        if ahead > i64::from(self.config.resync_gap.max(MIN_RESYNC_GAP)) {
            return self.resync(now, packet);
        }
        if ahead < 0 {
            return self.behind(now, pos, packet);
        }
        self.behind_run = 0;
        self.last_behind = None;
        match self.window.held_mut(pos) {
            Some(h) if h.source == Source::Primary => {
                self.stats.duplicates += 1;
                return;
            }
            // Held from a repair: the original arrived in the meantime, so nothing was lost.
            Some(h) => h.source = Source::Primary,
            None => self.hold(pos, packet.primary, Source::Primary, now),
        }
        match packet.recovery {
            RecoveryView::Redundancy(secondaries) => {
                for (i, ifp) in secondaries.iter().enumerate() {
                    let at = pos - 1 - i as i64;
                    if at < self.window.next {
                        break;
                    }
                    if !ifp.is_empty() && self.window.slot(at) == Slot::Awaited {
                        self.hold(at, ifp, Source::Redundancy, now);
                    }
                }
            }
            RecoveryView::Fec { span, entries } => self.fec.push(pos, span, entries),
        }
        self.fec.repair(
            &mut self.window,
            &mut self.pool,
            self.config.t38_version,
            now,
        );
        self.deliver();
        self.enforce_max_held();
    }

    /// Sizes the queues and fills the buffer pool for the most IFPs the limits let be in use at
    /// once while the caller takes each datagram's IFPs before the next: the history, the
    /// held ones with one datagram's redundancy and repairs on top (these become the
    /// deliveries), and a few in flight. Done when the first packet arrives, so a receiver that
    /// never gets one costs nothing.
    fn prepare(&mut self) {
        self.prepared = true;
        let max_held = self.config.max_held.clamp(1, MAX_PREPARED_HELD);
        let held = max_held + 2 * MAX_RECOVERY_ENTRIES + 1;
        self.window.reserve(held);
        self.out.reserve(held);
        self.pool.fill(HISTORY + held + MAX_RECOVERY_ENTRIES);
    }

    /// Copies `ifp` into a pooled buffer and holds it at `pos`.
    fn hold(&mut self, pos: i64, ifp: Octets<'_>, source: Source, now: Instant) {
        let mut buf = self.pool.take();
        ifp.copy_to(&mut buf);
        if let Some(unused) = self.window.hold(pos, buf, source, now) {
            self.pool.give(unused);
        }
    }

    /// A packet from before `next`: a duplicate, a late one, or the start of a restart.
    fn behind(&mut self, now: Instant, pos: i64, packet: &UdptlView<'_>) {
        match self.window.slot(pos) {
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
    fn resync(&mut self, now: Instant, packet: &UdptlView<'_>) {
        while self.window.held_len() > 0 {
            self.give_up_gap();
        }
        self.stats.resyncs += 1;
        self.started = false;
        self.fec.clear();
        self.behind_run = 0;
        self.last_behind = None;
        // The stats already counted this datagram; a fresh window accepts it as the first.
        self.accept(now, packet);
    }

    fn give_up_gap(&mut self) {
        self.stats.lost += self.window.skip_gap(&mut self.pool);
        self.deliver();
    }

    fn enforce_max_held(&mut self) {
        let max = self.config.max_held.max(1);
        while self.window.held_len() > max {
            self.give_up_gap();
        }
    }

    fn deliver(&mut self) {
        while let Some(held) = self.window.pop_ready(&mut self.pool) {
            match held.source {
                Source::Primary => {}
                Source::Redundancy => self.stats.recovered_redundancy += 1,
                Source::Fec => self.stats.recovered_fec += 1,
            }
            self.out.push_back((held.pos as u16, held.ifp));
        }
    }
}

/// Most held IFPs [`UdptlReceiver::prepare`] makes room for; a larger `max_held` works, with
/// allocations when the window is that full.
const MAX_PREPARED_HELD: usize = 256;

/// The smallest resync gap honoured: a redundancy or FEC window must never trigger one.
const MIN_RESYNC_GAP: u16 = 32;

/// How many IFPs before the first packet it carries copies of, so a stream whose first
/// datagrams were lost still starts at its beginning.
fn lead(packet: &UdptlView<'_>) -> i64 {
    match packet.recovery {
        RecoveryView::Redundancy(s) => s.iter().take_while(|ifp| !ifp.is_empty()).count() as i64,
        RecoveryView::Fec { .. } => 0,
    }
}
