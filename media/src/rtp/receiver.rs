//! Receiving RTP: validation, SSRC tracking, sequence and timestamp extension (RFC 3550
//! §8.2 and Appendix A.1) and sorting payloads by the negotiated payload types.

use std::collections::VecDeque;

use super::{Payload, PayloadMap, RtpPacket, SequenceUnwrapper, TimestampUnwrapper};
use crate::g711::Law;
use crate::Error;

/// A G.711 audio packet, with its sequence number and timestamp extended to 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioPacket<'a> {
    /// The stream it belongs to.
    pub ssrc: u32,
    /// Extended sequence number (grows across 16-bit wraps).
    pub seq: u64,
    /// Extended timestamp of the first sample, in 8 kHz samples.
    pub timestamp: u64,
    /// The marker bit.
    pub marker: bool,
    /// The law of this packet's payload type (it may change from one packet to the next).
    pub law: Law,
    /// One G.711 byte per sample.
    pub payload: &'a [u8],
}

/// A telephone-event packet (RFC 4733), for [`crate::rtp_event::EventReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket<'a> {
    /// The stream it belongs to.
    pub ssrc: u32,
    /// Extended sequence number.
    pub seq: u64,
    /// Extended timestamp: the start of the event.
    pub timestamp: u64,
    /// The marker bit (set on an event's first packet).
    pub marker: bool,
    /// The event payload, one or more 4-byte blocks.
    pub payload: &'a [u8],
}

/// What a valid datagram carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<'a> {
    /// Audio for the playout buffer.
    Audio(AudioPacket<'a>),
    /// A telephone event.
    Event(EventPacket<'a>),
    /// Comfort noise: ignored, because a fax line must never hear synthesised noise.
    ComfortNoise,
    /// A payload type the session did not negotiate.
    Unknown {
        /// Its payload type.
        payload_type: u8,
    },
}

/// A change in the stream being received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent {
    /// The first packet arrived, from this SSRC.
    Started {
        /// The new stream's SSRC.
        ssrc: u32,
    },
    /// Packets now come from another SSRC; sequence and timestamp tracking restarted.
    SsrcChanged {
        /// The previous SSRC.
        old: u32,
        /// The new SSRC.
        new: u32,
    },
}

/// What a receiver has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Datagrams offered.
    pub datagrams: u64,
    /// Datagrams refused as malformed.
    pub malformed: u64,
    /// Audio packets.
    pub audio: u64,
    /// Telephone-event packets.
    pub events: u64,
    /// Comfort-noise packets (ignored).
    pub comfort_noise: u64,
    /// Packets with a payload type not in the map (ignored).
    pub unknown_payload: u64,
    /// Times the SSRC changed mid-call.
    pub ssrc_changes: u64,
}

/// Validates incoming RTP and sorts it by payload, following one SSRC at a time.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    map: PayloadMap,
    ssrc: Option<u32>,
    seq: SequenceUnwrapper,
    timestamp: TimestampUnwrapper,
    events: VecDeque<StreamEvent>,
    stats: ReceiverStats,
}

impl RtpReceiver {
    /// A receiver using the session's payload types.
    pub fn new(map: PayloadMap) -> Self {
        RtpReceiver {
            map,
            ssrc: None,
            seq: SequenceUnwrapper::new(),
            timestamp: TimestampUnwrapper::new(),
            events: VecDeque::new(),
            stats: ReceiverStats::default(),
        }
    }

    /// Replaces the payload types, as after a re-INVITE.
    pub fn set_payload_map(&mut self, map: PayloadMap) {
        self.map = map;
    }

    /// The payload types in use.
    pub fn payload_map(&self) -> &PayloadMap {
        &self.map
    }

    /// Handles one datagram; malformed ones are counted and refused.
    pub fn receive<'a>(&mut self, datagram: &'a [u8]) -> Result<Received<'a>, Error> {
        self.stats.datagrams += 1;
        let packet = match RtpPacket::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        let h = &packet.header;
        match self.ssrc {
            None => self.events.push_back(StreamEvent::Started { ssrc: h.ssrc }),
            Some(old) if old != h.ssrc => {
                // A new source has its own random sequence and timestamp origin (RFC 3550
                // §8.2), so nothing carries over.
                self.seq.reset();
                self.timestamp.reset();
                self.stats.ssrc_changes += 1;
                self.events
                    .push_back(StreamEvent::SsrcChanged { old, new: h.ssrc });
            }
            Some(_) => {}
        }
        self.ssrc = Some(h.ssrc);
        let seq = self.seq.extend(u32::from(h.sequence));
        let timestamp = self.timestamp.extend(h.timestamp);
        Ok(match self.map.get(h.payload_type) {
            Payload::G711(law) => {
                self.stats.audio += 1;
                Received::Audio(AudioPacket {
                    ssrc: h.ssrc,
                    seq,
                    timestamp,
                    marker: h.marker,
                    law,
                    payload: packet.payload,
                })
            }
            Payload::Event => {
                self.stats.events += 1;
                Received::Event(EventPacket {
                    ssrc: h.ssrc,
                    seq,
                    timestamp,
                    marker: h.marker,
                    payload: packet.payload,
                })
            }
            Payload::ComfortNoise => {
                self.stats.comfort_noise += 1;
                Received::ComfortNoise
            }
            Payload::Unknown => {
                self.stats.unknown_payload += 1;
                Received::Unknown {
                    payload_type: h.payload_type,
                }
            }
        })
    }

    /// The next stream change, if any.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.events.pop_front()
    }

    /// The SSRC currently followed.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Counters so far.
    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }
}
