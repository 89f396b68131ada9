//! Packetising outgoing 8 kHz audio into G.711 RTP (RFC 3550 §5.1, RFC 3551 §4.5).

use std::collections::VecDeque;

use super::{RtpHeader, RtpPacket};
use crate::g711::{encode_frame, Law, SAMPLE_RATE};
use crate::Error;

/// Shortest packetisation we send, in ms.
const MIN_PTIME_MS: u32 = 5;
/// Longest packetisation we send, in ms: beyond this a single loss wipes out a V.21 frame.
const MAX_PTIME_MS: u32 = 200;

/// The random-looking starting values of an outgoing stream (RFC 3550 §5.1 asks for random
/// initial sequence number and timestamp, and a random SSRC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamIds {
    /// The synchronisation source.
    pub ssrc: u32,
    /// Sequence number of the first packet.
    pub sequence: u16,
    /// Timestamp of the first packet.
    pub timestamp: u32,
}

impl StreamIds {
    /// Values derived from `seed` (SplitMix64), so the caller owns the randomness.
    pub fn from_seed(seed: u64) -> Self {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let a = next();
        let b = next();
        StreamIds {
            ssrc: a as u32,
            sequence: (a >> 32) as u16,
            timestamp: b as u32,
        }
    }
}

/// How to send: the negotiated law, payload type and packetisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderConfig {
    /// The G.711 law to encode with.
    pub law: Law,
    /// The payload type the peer's SDP gave this law.
    pub payload_type: u8,
    /// The SDP `a=ptime`, in ms.
    pub ptime_ms: u32,
    /// The SDP `a=maxptime`, in ms, when the peer gave one.
    pub maxptime_ms: Option<u32>,
    /// Starting SSRC, sequence number and timestamp.
    pub ids: StreamIds,
}

impl SenderConfig {
    /// 20 ms packets of `law` with its static payload type.
    pub fn new(law: Law, ids: StreamIds) -> Self {
        SenderConfig {
            law,
            payload_type: law.static_payload_type(),
            ptime_ms: 20,
            maxptime_ms: None,
            ids,
        }
    }

    /// The packetisation actually used: `ptime` capped by `maxptime`.
    pub fn effective_ptime_ms(&self) -> u32 {
        self.maxptime_ms
            .map_or(self.ptime_ms, |max| self.ptime_ms.min(max))
    }
}

/// What a sender has sent so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Packets produced.
    pub packets: u64,
    /// Audio samples carried.
    pub samples: u64,
}

/// Turns a stream of 8 kHz samples into RTP packets of `ptime` each.
#[derive(Debug, Clone)]
pub struct RtpSender {
    config: SenderConfig,
    samples_per_packet: usize,
    pending: Vec<i16>,
    sequence: u16,
    timestamp: u32,
    first: bool,
    ready: VecDeque<Vec<u8>>,
    stats: SenderStats,
}

impl RtpSender {
    /// A sender; refuses a packetisation outside 5–200 ms.
    pub fn new(config: SenderConfig) -> Result<Self, Error> {
        let ptime = config.effective_ptime_ms();
        if !(MIN_PTIME_MS..=MAX_PTIME_MS).contains(&ptime) {
            return Err(Error::BadPtime(ptime));
        }
        if config.payload_type > 0x7F {
            return Err(Error::BadPayloadType(config.payload_type));
        }
        let samples_per_packet = (SAMPLE_RATE * ptime / 1000) as usize;
        Ok(RtpSender {
            config,
            samples_per_packet,
            pending: Vec::with_capacity(samples_per_packet),
            sequence: config.ids.sequence,
            timestamp: config.ids.timestamp,
            first: true,
            ready: VecDeque::new(),
            stats: SenderStats::default(),
        })
    }

    /// The packetisation in use, in ms.
    pub fn ptime_ms(&self) -> u32 {
        self.config.effective_ptime_ms()
    }

    /// Samples in each packet (8 per ms).
    pub fn samples_per_packet(&self) -> usize {
        self.samples_per_packet
    }

    /// The SSRC this sender uses.
    pub fn ssrc(&self) -> u32 {
        self.config.ids.ssrc
    }

    /// Queues audio; every full packet's worth becomes a datagram for [`Self::poll_transmit`].
    pub fn push_audio(&mut self, samples: &[i16]) {
        let mut ready = std::mem::take(&mut self.ready);
        self.push_audio_with(samples, |datagram| ready.push_back(datagram));
        self.ready = ready;
    }

    /// As [`Self::push_audio`], but hands each datagram to `emit` as it is made instead of
    /// queueing it.
    pub fn push_audio_with(&mut self, mut samples: &[i16], mut emit: impl FnMut(Vec<u8>)) {
        // Whole packets go straight from the caller's audio, the usual case (20 ms in, 20 ms
        // out), and straight out: at hundreds of calls every per-stream buffer a packet
        // passes through (a pending copy, a queue) is a few more cache misses.
        while self.pending.is_empty() && samples.len() >= self.samples_per_packet {
            let (packet, rest) = samples.split_at(self.samples_per_packet);
            self.packetise(packet, &mut emit);
            samples = rest;
        }
        while !samples.is_empty() {
            let room = self.samples_per_packet - self.pending.len();
            let (now, later) = samples.split_at(room.min(samples.len()));
            self.pending.extend_from_slice(now);
            samples = later;
            if self.pending.len() == self.samples_per_packet {
                let pending = std::mem::take(&mut self.pending);
                self.packetise(&pending, &mut emit);
                self.pending = pending;
                self.pending.clear();
            }
        }
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }

    /// Counters so far.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    fn packetise(&mut self, samples: &[i16], emit: &mut impl FnMut(Vec<u8>)) {
        let n = samples.len();
        let header = RtpPacket {
            header: RtpHeader {
                // RFC 3551 §4.1: the marker flags the start of a talkspurt; we send
                // continuously, so only the first packet starts one.
                marker: self.first,
                payload_type: self.config.payload_type,
                sequence: self.sequence,
                timestamp: self.timestamp,
                ssrc: self.config.ids.ssrc,
                csrcs: Vec::new(),
            },
            extension: None,
            payload: &[],
            padding: 0,
        };
        // The header is built from checked values, so encoding cannot fail; skip if it did.
        let mut bytes = Vec::with_capacity(header.encoded_len() + n);
        if header.encode_into(&mut bytes).is_ok() {
            let start = bytes.len();
            bytes.resize(start + n, 0);
            encode_frame(
                self.config.law,
                samples,
                bytes.get_mut(start..).unwrap_or_default(),
            );
            emit(bytes);
            self.stats.packets += 1;
            self.stats.samples += n as u64;
        }
        self.first = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(n as u32);
    }
}
