//! A fixed-depth playout buffer that turns G.711 RTP into the 20 ms frames a fax modem needs.
//!
//! Sans-IO: [`PlayoutBuffer::push`] takes each packet with its arrival time and
//! [`PlayoutBuffer::pop_frame`] is called every 20 ms by the media loop, whether or not
//! packets arrived (SpanDSP's T.30 timers only move when it is fed). Packets are placed by
//! RTP timestamp (RFC 3550 §5.1), so reordering is undone and packets of any length (10, 20,
//! 30, 40 ms, …) come out as 20 ms frames. Playout starts a fixed depth after the first
//! packet arrives; the depth never adapts, because a modem signal cannot survive the time
//! warps an adaptive jitter buffer makes.
//!
//! Missing audio is never concealed (concealment corrupts modem signals): a frame with no
//! audio at all is a [`Frame::Gap`], for `rx_fillin`, and missing samples inside a frame are
//! zeros. Sender clock skew (±100 ppm is common) is absorbed by slipping: when the buffer
//! level has drifted beyond a threshold from where it started, up to 20 ms of audio is
//! dropped or silence inserted, and only where the line is silent, so that no modem signal
//! is ever cut.

mod drift;
mod history;
mod presence;

use std::time::{Duration, Instant};

use crate::g711::{decode_frame, SAMPLE_RATE};
use crate::rtp::AudioPacket;
use drift::DriftTracker;
use history::{Arrival, SeqHistory};
use presence::Presence;

/// Samples in one 20 ms output frame.
pub const FRAME_SAMPLES: usize = 160;

/// Consecutive unplayable packets (all late, or far ahead) that mean the sender's timeline
/// jumped; one stray packet is only dropped.
const RESYNC_AFTER: u32 = 3;

/// Timestamps beyond this are refused, so that no position arithmetic can overflow; extended
/// RTP timestamps stay below 2^33 for centuries.
const MAX_TIMESTAMP: u64 = 1 << 62;

/// How the buffer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayoutConfig {
    /// Time from the first packet's arrival to the start of its playout.
    pub depth: Duration,
    /// Drift of the buffer level, either way, that triggers a slip. Keep it above one frame:
    /// a loop that sees arrivals only at its 20 ms ticks measures the level in frame steps.
    pub slip_threshold: Duration,
    /// RMS level (linear, 16-bit scale) below which audio counts as silence.
    pub silence_rms: u16,
    /// Packets further than this ahead of the play head are taken as a timeline jump.
    pub max_ahead: Duration,
    /// Frames over which the buffer level is measured (see the drift tracker).
    pub level_window: u32,
}

impl Default for PlayoutConfig {
    fn default() -> Self {
        PlayoutConfig {
            depth: Duration::from_millis(60),
            slip_threshold: Duration::from_millis(20),
            // About -50 dBm0: modem receivers drop carrier around -43 dBm0, so anything
            // quieter is not a signal, and G.711 idle codes decode to ±8 at most.
            silence_rms: 32,
            max_ahead: Duration::from_secs(1),
            level_window: 100,
        }
    }
}

/// One 20 ms output frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// [`FRAME_SAMPLES`] samples to feed to the modem (missing ones are zero).
    Audio(&'a [i16]),
    /// No audio arrived for this frame: feed `rx_fillin(FRAME_SAMPLES)`.
    Gap,
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored for playout (perhaps minus a part that was already due).
    Stored,
    /// Dropped: the same sequence number arrived before.
    Duplicate,
    /// Dropped: all of it was due before it arrived.
    Late,
    /// Dropped: too far ahead of the play head to fit.
    OutOfRange,
    /// The sender's timeline jumped; the buffer restarted from this packet.
    Resynced,
}

/// What the buffer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlayoutStats {
    /// Packets pushed.
    pub received: u64,
    /// Frames played with audio in them.
    pub played: u64,
    /// Frames played as gaps (before the first packet is due, and when nothing arrived).
    pub gaps: u64,
    /// Samples inside audio frames that never arrived in time (played as zeros).
    pub missing_samples: u64,
    /// Packets that arrived (wholly or partly) after they were due.
    pub late: u64,
    /// Packets that never arrived (expected minus received, by sequence number).
    pub lost: u64,
    /// Packets received more than once.
    pub duplicate: u64,
    /// Packets that arrived after a later one.
    pub reordered: u64,
    /// Slips that inserted silence (sender clock slow).
    pub slips_added: u64,
    /// Slips that dropped silent audio (sender clock fast).
    pub slips_removed: u64,
    /// Samples of silence inserted by slips.
    pub samples_added: u64,
    /// Samples of silent audio dropped by slips.
    pub samples_removed: u64,
    /// Packets dropped as too far ahead.
    pub out_of_range: u64,
    /// Restarts after the sender's timeline jumped.
    pub resyncs: u64,
    /// Restarts because the SSRC changed.
    pub stream_restarts: u64,
}

/// The playout buffer of one incoming audio stream.
#[derive(Debug, Clone)]
pub struct PlayoutBuffer {
    config: PlayoutConfig,
    ring: Vec<i16>,
    present: Presence,
    mask: u64,
    ssrc: Option<u32>,
    start_at: Option<Instant>,
    started: bool,
    head: u64,
    newest_end: u64,
    last_pop: Option<Instant>,
    unplayable_run: u32,
    pending_insert: usize,
    holdoff: u32,
    last_frame_silent: bool,
    history: SeqHistory,
    drift: DriftTracker,
    /// The frame [`PlayoutBuffer::pop_frame`] lends out.
    out: [i16; FRAME_SAMPLES],
    stats: PlayoutStats,
}

fn samples_in(d: Duration) -> u64 {
    (d.as_micros() * u128::from(SAMPLE_RATE) / 1_000_000)
        .try_into()
        .unwrap_or(u64::MAX)
}

fn is_silent(samples: &[i16], rms: u16) -> bool {
    // A square fits in u32 (at most 2^30), which lets the sum vectorise.
    let energy: u64 = samples
        .iter()
        .map(|&s| u64::from((i32::from(s) * i32::from(s)).unsigned_abs()))
        .sum();
    let limit = u64::from(rms) * u64::from(rms) * samples.len() as u64;
    energy <= limit
}

impl PlayoutBuffer {
    /// An empty buffer.
    pub fn new(config: PlayoutConfig) -> Self {
        let span = samples_in(config.max_ahead).saturating_add(samples_in(config.depth))
            + 4 * FRAME_SAMPLES as u64;
        let capacity = span.clamp(1024, 1 << 20).next_power_of_two() as usize;
        PlayoutBuffer {
            config,
            ring: vec![0; capacity],
            present: Presence::new(capacity),
            mask: capacity as u64 - 1,
            ssrc: None,
            start_at: None,
            started: false,
            head: 0,
            newest_end: 0,
            last_pop: None,
            unplayable_run: 0,
            pending_insert: 0,
            holdoff: 0,
            last_frame_silent: false,
            history: SeqHistory::default(),
            drift: DriftTracker::new(config.level_window),
            out: [0; FRAME_SAMPLES],
            stats: PlayoutStats::default(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &PlayoutConfig {
        &self.config
    }

    /// Stores a packet that arrived at `now`, decoding it with its own law.
    pub fn push(&mut self, now: Instant, packet: &AudioPacket<'_>) -> PushOutcome {
        let len = packet.payload.len() as u64;
        let (outcome, range) = self.admit(now, packet.ssrc, packet.seq, packet.timestamp, len);
        let law = packet.law;
        self.store_run(range, packet.payload, |slots, codes| {
            decode_frame(law, codes, slots);
        });
        outcome
    }

    /// Stores linear samples that arrived at `now` (for sources other than G.711 RTP).
    pub fn push_samples(
        &mut self,
        now: Instant,
        ssrc: u32,
        seq: u64,
        timestamp: u64,
        samples: &[i16],
    ) -> PushOutcome {
        let len = samples.len() as u64;
        let (outcome, range) = self.admit(now, ssrc, seq, timestamp, len);
        self.store_run(range, samples, |slots, from| {
            slots.copy_from_slice(from);
        });
        outcome
    }

    /// The next 20 ms frame; call every 20 ms whatever arrived.
    pub fn pop_frame(&mut self, now: Instant) -> Frame<'_> {
        let mut out = self.out;
        let real = self.pop_frame_into(now, &mut out);
        self.out = out;
        if real {
            Frame::Audio(&self.out)
        } else {
            Frame::Gap
        }
    }

    /// As [`PlayoutBuffer::pop_frame`], into the caller's `out`; returns whether it holds
    /// audio (false: a gap, `out` unspecified). A caller stepping hundreds of streams in turn
    /// passes one buffer of its own, which stays in cache where each stream's would not.
    pub fn pop_frame_into(&mut self, now: Instant, out: &mut [i16; FRAME_SAMPLES]) -> bool {
        let due = self.start_at.is_some_and(|at| now >= at);
        if !self.started && !due {
            self.stats.gaps += 1;
            return false;
        }
        self.started = true;
        self.last_pop = Some(now);
        self.drift.frame();
        self.maybe_slip();

        let (real, missing) = if self.take_whole_frame(out) {
            (true, 0)
        } else {
            self.take_sample_by_sample(out)
        };
        self.last_frame_silent = missing == 0 && is_silent(out, self.config.silence_rms);
        if real {
            self.stats.played += 1;
            self.stats.missing_samples += missing;
        } else {
            self.stats.gaps += 1;
        }
        real
    }

    /// The usual case in one copy: no silence to insert, every sample of the frame present
    /// and contiguous in the ring. Returns false, taking nothing, otherwise.
    fn take_whole_frame(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> bool {
        if self.pending_insert > 0 {
            return false;
        }
        let start = (self.head & self.mask) as usize;
        let Some(ring) = self.ring.get(start..start + FRAME_SAMPLES) else {
            return false;
        };
        if !self.present.all_set(start, FRAME_SAMPLES) {
            return false;
        }
        out.copy_from_slice(ring);
        self.present.set_range(start, FRAME_SAMPLES, false);
        self.head += FRAME_SAMPLES as u64;
        true
    }

    /// Fills the frame one sample at a time (silence insertion, holes, the ring's wrap);
    /// returns whether anything real was played and how many samples were missing.
    fn take_sample_by_sample(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> (bool, u64) {
        let mut real = false;
        let mut missing = 0u64;
        for sample in out.iter_mut() {
            if self.pending_insert > 0 {
                self.pending_insert -= 1;
                *sample = 0;
                real = true;
                continue;
            }
            let i = (self.head & self.mask) as usize;
            match self.ring.get(i) {
                Some(&value) if self.present.get(i) => {
                    self.present.set_range(i, 1, false);
                    *sample = value;
                    real = true;
                }
                _ => {
                    *sample = 0;
                    missing += 1;
                }
            }
            self.head += 1;
        }
        (real, missing)
    }

    /// Samples buffered beyond the play head, counting holes (negative when running dry).
    pub fn level(&self) -> i64 {
        self.newest_end as i64 - self.head as i64
    }

    /// How far the level has drifted from its start, once measured (samples).
    pub fn drift(&self) -> Option<i64> {
        self.drift.drift()
    }

    /// Counters so far.
    pub fn stats(&self) -> PlayoutStats {
        self.stats
    }

    /// Decides what to do with a packet of `len` samples from `timestamp`; returns the
    /// outcome and the timestamps to store (empty when the packet is dropped).
    fn admit(
        &mut self,
        now: Instant,
        ssrc: u32,
        seq: u64,
        timestamp: u64,
        len: u64,
    ) -> (PushOutcome, std::ops::Range<u64>) {
        let none = 0..0;
        self.stats.received += 1;
        if self.ssrc.is_some_and(|s| s != ssrc) {
            self.stats.stream_restarts += 1;
            self.restart();
            self.history = SeqHistory::default();
            self.drift = DriftTracker::new(self.config.level_window);
        }
        self.ssrc = Some(ssrc);
        match self.history.record(seq) {
            Arrival::Duplicate => {
                self.stats.duplicate += 1;
                return (PushOutcome::Duplicate, none);
            }
            Arrival::Reordered => self.stats.reordered += 1,
            Arrival::InOrder => {}
        }
        self.stats.lost = self.history.lost();

        if timestamp > MAX_TIMESTAMP {
            self.stats.out_of_range += 1;
            return (PushOutcome::OutOfRange, none);
        }
        let start = timestamp;
        let end = start.saturating_add(len);
        if self.start_at.is_none() {
            self.anchor(now, start);
        } else if !self.started && start < self.head && self.head - start <= self.depth_samples() {
            // Nothing has played yet, so an older packet overtaken by the first one can
            // still go out first: the head moves back instead of dropping it.
            self.head = start;
        }
        let ahead_limit = self.head.saturating_add(samples_in(self.config.max_ahead));
        let mut outcome = PushOutcome::Stored;
        if end <= self.head || start > ahead_limit {
            self.unplayable_run += 1;
            if self.unplayable_run < RESYNC_AFTER {
                return if end <= self.head {
                    self.stats.late += 1;
                    (PushOutcome::Late, none)
                } else {
                    self.stats.out_of_range += 1;
                    (PushOutcome::OutOfRange, none)
                };
            }
            self.stats.resyncs += 1;
            self.restart();
            self.drift = DriftTracker::new(self.config.level_window);
            self.anchor(now, start);
            outcome = PushOutcome::Resynced;
        }
        self.unplayable_run = 0;
        if start < self.head {
            self.stats.late += 1;
        }
        self.newest_end = self.newest_end.max(end);
        let lead = end as i64 - self.play_position(now);
        self.drift.observe(lead);
        (outcome, start..end)
    }

    /// Puts the samples of timestamps `range` (made from `data` by `fill`, a slice at a
    /// time) into the ring, leaving out those already played or beyond the ring.
    fn store_run<T>(
        &mut self,
        range: std::ops::Range<u64>,
        data: &[T],
        mut fill: impl FnMut(&mut [i16], &[T]),
    ) {
        let first = range.start.max(self.head);
        let end = range.end.min(self.head + self.mask + 1);
        let mut t = first;
        while t < end {
            let i = (t & self.mask) as usize;
            // Up to the ring's end: a run that wraps is stored in two pieces.
            let n = ((end - t) as usize).min(self.ring.len() - i);
            let offset = (t - range.start) as usize;
            let (Some(slots), Some(from)) =
                (self.ring.get_mut(i..i + n), data.get(offset..offset + n))
            else {
                return;
            };
            fill(slots, from);
            self.present.set_range(i, n, true);
            t += n as u64;
        }
    }

    /// The timestamp being played at `now`, between frames: a frame is "playing" for the
    /// 20 ms after it was popped. Arrivals seen between pops thus get a lead that is not
    /// rounded to whole frames.
    fn play_position(&self, now: Instant) -> i64 {
        let head = self.head as i64;
        match (self.started, self.last_pop, self.start_at) {
            (true, Some(popped), _) => {
                let since = samples_in(now.saturating_duration_since(popped)) as i64;
                head - FRAME_SAMPLES as i64 + since.min(FRAME_SAMPLES as i64)
            }
            (false, _, Some(at)) => head - samples_in(at.saturating_duration_since(now)) as i64,
            _ => head,
        }
    }

    fn depth_samples(&self) -> u64 {
        samples_in(self.config.depth)
    }

    fn anchor(&mut self, now: Instant, timestamp: u64) {
        self.start_at = Some(now + self.config.depth);
        self.started = false;
        self.head = timestamp;
        self.newest_end = timestamp;
    }

    /// Empties the buffer; the next packet anchors a new timeline.
    fn restart(&mut self) {
        self.present.clear_all();
        self.start_at = None;
        self.started = false;
        self.pending_insert = 0;
        self.holdoff = 0;
        self.unplayable_run = 0;
        self.last_pop = None;
    }

    /// Drops or inserts up to one frame of silence when the level has drifted too far.
    fn maybe_slip(&mut self) {
        if self.holdoff > 0 {
            self.holdoff -= 1;
            return;
        }
        let Some(drift) = self.drift.drift() else {
            return;
        };
        let threshold = samples_in(self.config.slip_threshold) as i64;
        if drift.abs() <= threshold || self.pending_insert > 0 {
            return;
        }
        // Both the frame just played and the one about to play must be silence, so the
        // slip falls in a pause between signals, never inside one.
        if !self.last_frame_silent || !self.next_frame_silent() {
            return;
        }
        let k = drift.unsigned_abs().min(FRAME_SAMPLES as u64);
        if drift > 0 {
            for t in self.head..self.head + k {
                self.present.set_range((t & self.mask) as usize, 1, false);
            }
            self.head += k;
            self.stats.slips_removed += 1;
            self.stats.samples_removed += k;
            self.drift.shift(-(k as i64));
        } else {
            self.pending_insert = k as usize;
            self.stats.slips_added += 1;
            self.stats.samples_added += k;
            self.drift.shift(k as i64);
        }
        self.holdoff = self.config.level_window;
    }

    fn next_frame_silent(&self) -> bool {
        let mut energy = 0u64;
        for t in self.head..self.head + FRAME_SAMPLES as u64 {
            let i = (t & self.mask) as usize;
            match self.ring.get(i) {
                Some(&s) if self.present.get(i) => energy += (i64::from(s) * i64::from(s)) as u64,
                _ => return false,
            }
        }
        let rms = u64::from(self.config.silence_rms);
        energy <= rms * rms * FRAME_SAMPLES as u64
    }
}
