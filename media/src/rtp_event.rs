//! Telephone events over RTP: the payload of RFC 4733 §2.3 and the fax tones of RFC 4734.
//!
//! Relay gateways may signal fax tones as events instead of in band. Of RFC 4734's codes we
//! report the ones that say "this is a fax call" (RFC 4734 §2, as registered with IANA):
//! ANS (32), /ANS (33), ANSam (34), /ANSam (35), CNG (36) and the T.30 V.21 preamble flag
//! (54). Each event is reported once, although senders repeat every packet of an
//! event and send its end packet three times (RFC 4733 §2.5.1.4): packets of one event share
//! its start timestamp, which is what duplicates are recognised by. DTMF and all other events
//! are counted and dropped; they never reach the fax engine.

use std::collections::VecDeque;

use crate::rtp::EventPacket;
use crate::Error;

/// Bytes in one event block.
pub const EVENT_BLOCK_LEN: usize = 4;

/// How many recent events are remembered to recognise their repeats.
const REMEMBERED_EVENTS: usize = 32;

/// One decoded event block (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code (RFC 4733 §7, RFC 4734 §2).
    pub event: u8,
    /// The E bit: this packet reports the end of the event.
    pub end: bool,
    /// Power level of a tone, in dB below 0 dBm0 (0–63).
    pub volume: u8,
    /// Duration so far, in timestamp units (8 kHz samples).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Decodes the first block of `payload`.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        match payload {
            [event, flags, d0, d1, ..] => Ok(TelephoneEvent {
                event: *event,
                end: flags & 0x80 != 0,
                // The R bit (0x40) is reserved and ignored by receivers (RFC 4733 §2.3).
                volume: flags & 0x3F,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => Err(Error::MalformedTelephoneEvent("shorter than 4 bytes")),
        }
    }

    /// Decodes every block of a payload (RFC 4733 §2.5.1.5 allows several per packet).
    pub fn decode_all(payload: &[u8]) -> Result<Vec<Self>, Error> {
        if payload.is_empty() {
            return Err(Error::MalformedTelephoneEvent("empty payload"));
        }
        if payload.len() % EVENT_BLOCK_LEN != 0 {
            return Err(Error::MalformedTelephoneEvent(
                "length is not a multiple of 4",
            ));
        }
        payload
            .chunks_exact(EVENT_BLOCK_LEN)
            .map(Self::decode)
            .collect()
    }

    /// The wire form of this block.
    pub fn encode(&self) -> [u8; EVENT_BLOCK_LEN] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d0,
            d1,
        ]
    }

    /// True for the DTMF digits 0–9, *, #, A–D (RFC 4733 §3.2).
    pub fn is_dtmf(&self) -> bool {
        self.event <= 15
    }
}

/// A fax tone signalled as an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneEvent {
    /// CNG, the calling tone (1100 Hz), event 36.
    Cng,
    /// ANS, the 2100 Hz answer tone (CED to a fax), event 32.
    Ans,
    /// /ANS, ANS with phase reversals, event 33.
    AnsPhaseReversed,
    /// ANSam, amplitude-modulated ANS (V.8), event 34.
    AnsAm,
    /// /ANSam, ANSam with phase reversals, event 35.
    AnsAmPhaseReversed,
    /// The V.21 preamble flags that start every T.30 control message, event 54.
    V21Preamble,
}

impl ToneEvent {
    /// The fax tone an event code stands for, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            32 => ToneEvent::Ans,
            33 => ToneEvent::AnsPhaseReversed,
            34 => ToneEvent::AnsAm,
            35 => ToneEvent::AnsAmPhaseReversed,
            36 => ToneEvent::Cng,
            54 => ToneEvent::V21Preamble,
            _ => return None,
        })
    }

    /// The RFC 4734 event code.
    pub fn code(self) -> u8 {
        match self {
            ToneEvent::Ans => 32,
            ToneEvent::AnsPhaseReversed => 33,
            ToneEvent::AnsAm => 34,
            ToneEvent::AnsAmPhaseReversed => 35,
            ToneEvent::Cng => 36,
            ToneEvent::V21Preamble => 54,
        }
    }

    /// True for the answer tones (ANS and its variants): the far end is a fax or modem.
    pub fn is_answer_tone(self) -> bool {
        !matches!(self, ToneEvent::Cng | ToneEvent::V21Preamble)
    }
}

/// What an event receiver has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Event packets handled.
    pub packets: u64,
    /// Packets refused as malformed.
    pub malformed: u64,
    /// Repeat packets of events already counted.
    pub repeats: u64,
    /// Fax tones reported.
    pub fax_tones: u64,
    /// DTMF digits dropped.
    pub dtmf: u64,
    /// Other events dropped.
    pub other: u64,
}

/// Turns telephone-event packets into fax tones, once per event.
#[derive(Debug, Clone, Default)]
pub struct EventReceiver {
    recent: VecDeque<(u64, u8)>,
    tones: VecDeque<ToneEvent>,
    stats: EventStats,
}

impl EventReceiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles a packet from [`crate::rtp::RtpReceiver`].
    pub fn handle_packet(&mut self, packet: &EventPacket<'_>) -> Result<(), Error> {
        self.handle(packet.timestamp, packet.payload)
    }

    /// Handles the payload of a packet with (extended) RTP timestamp `timestamp`.
    pub fn handle(&mut self, timestamp: u64, payload: &[u8]) -> Result<(), Error> {
        self.stats.packets += 1;
        let blocks = match TelephoneEvent::decode_all(payload) {
            Ok(b) => b,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        // Blocks packed together are consecutive and contiguous (RFC 4733 §2.5.1.5): each
        // starts where the previous one ended.
        let mut start = timestamp;
        for block in blocks {
            self.note(start, block);
            start = start.saturating_add(u64::from(block.duration));
        }
        Ok(())
    }

    /// The next fax tone, if any.
    pub fn poll_event(&mut self) -> Option<ToneEvent> {
        self.tones.pop_front()
    }

    /// Counters so far.
    pub fn stats(&self) -> EventStats {
        self.stats
    }

    fn note(&mut self, start: u64, block: TelephoneEvent) {
        let key = (start, block.event);
        if self.recent.contains(&key) {
            self.stats.repeats += 1;
            return;
        }
        if self.recent.len() == REMEMBERED_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back(key);
        match ToneEvent::from_code(block.event) {
            Some(tone) => {
                self.stats.fax_tones += 1;
                self.tones.push_back(tone);
            }
            None if block.is_dtmf() => self.stats.dtmf += 1,
            None => self.stats.other += 1,
        }
    }
}
