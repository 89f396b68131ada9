//! RTP for G.711 fax audio: the packet format of RFC 3550 §5.1 (with the §5.3.1 header
//! extension and padding), wrap-around extension of sequence numbers and timestamps
//! (RFC 3550 Appendix A.1), and payload types mapped from negotiated SDP (RFC 3551 §6).
//!
//! [`RtpSender`] packetises 8 kHz audio at the negotiated `ptime`; [`RtpReceiver`] validates
//! datagrams, follows the SSRC and sorts payloads into audio, telephone events (RFC 4733),
//! comfort noise (RFC 3389, counted and ignored) and unknown types. Both are sans-IO: bytes
//! in, bytes or values out.

mod receiver;
mod sender;

pub use receiver::{AudioPacket, EventPacket, Received, ReceiverStats, RtpReceiver, StreamEvent};
pub use sender::{RtpSender, SenderConfig, SenderStats, StreamIds};

use crate::g711::Law;
use crate::Error;

/// The only RTP version there is (RFC 3550 §5.1).
pub const VERSION: u8 = 2;

/// Length of the fixed RTP header, before CSRCs and extension.
pub const FIXED_HEADER_LEN: usize = 12;

/// Most CSRC identifiers a header can carry (the CC field has 4 bits).
pub const MAX_CSRCS: usize = 15;

/// The RTP header fields (RFC 3550 §5.1) other than version, padding and extension flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// The M bit; for audio, the first packet of a talkspurt (RFC 3551 §4.1).
    pub marker: bool,
    /// The 7-bit payload type, to be looked up in a [`PayloadMap`].
    pub payload_type: u8,
    /// The 16-bit sequence number, which wraps.
    pub sequence: u16,
    /// The 32-bit sampling-instant timestamp, which wraps.
    pub timestamp: u32,
    /// The synchronisation source.
    pub ssrc: u32,
    /// Contributing sources, at most [`MAX_CSRCS`].
    pub csrcs: Vec<u32>,
}

/// A header extension (RFC 3550 §5.3.1): a profile-defined 16-bit id and 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The profile-defined identifier.
    pub profile: u16,
    /// The extension body; its length is a multiple of 4.
    pub data: &'a [u8],
}

/// One RTP packet, borrowing its payload from the datagram it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The header fields.
    pub header: RtpHeader,
    /// The header extension, when the X bit was set.
    pub extension: Option<HeaderExtension<'a>>,
    /// The payload, padding removed.
    pub payload: &'a [u8],
    /// Padding bytes after the payload, counting the length byte itself (0: no padding).
    pub padding: u8,
}

/// Reads a big-endian u16 at `at`, or `None` past the end.
fn be16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

/// Reads a big-endian u32 at `at`, or `None` past the end.
fn be32(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

impl<'a> RtpPacket<'a> {
    /// Decodes and validates one datagram; never panics, whatever the bytes.
    pub fn decode(data: &'a [u8]) -> Result<Self, Error> {
        if data.len() < FIXED_HEADER_LEN {
            return Err(Error::MalformedRtp("shorter than the 12-byte fixed header"));
        }
        let (first, second) = match data {
            [a, b, ..] => (*a, *b),
            _ => return Err(Error::MalformedRtp("shorter than the 12-byte fixed header")),
        };
        if first >> 6 != VERSION {
            return Err(Error::MalformedRtp("version is not 2"));
        }
        let has_padding = first & 0x20 != 0;
        let has_extension = first & 0x10 != 0;
        let csrc_count = usize::from(first & 0x0F);
        let short = Error::MalformedRtp("shorter than the 12-byte fixed header");
        let sequence = be16(data, 2).ok_or(short.clone())?;
        let timestamp = be32(data, 4).ok_or(short.clone())?;
        let ssrc = be32(data, 8).ok_or(short)?;

        let mut at = FIXED_HEADER_LEN;
        let csrc_end = at + 4 * csrc_count;
        if csrc_end > data.len() {
            return Err(Error::MalformedRtp("CSRC list runs past the end"));
        }
        let mut csrcs = Vec::with_capacity(csrc_count);
        while at < csrc_end {
            csrcs.push(be32(data, at).ok_or(Error::MalformedRtp("CSRC list runs past the end"))?);
            at += 4;
        }

        let extension = if has_extension {
            let past = Error::MalformedRtp("extension header runs past the end");
            let profile = be16(data, at).ok_or(past.clone())?;
            let words = be16(data, at + 2).ok_or(past)?;
            let start = at + 4;
            let end = start + 4 * usize::from(words);
            let body = data
                .get(start..end)
                .ok_or(Error::MalformedRtp("extension length runs past the end"))?;
            at = end;
            Some(HeaderExtension {
                profile,
                data: body,
            })
        } else {
            None
        };

        let mut end = data.len();
        let mut padding = 0;
        if has_padding {
            padding = *data.last().ok_or(Error::MalformedRtp("empty"))?;
            if padding == 0 {
                return Err(Error::MalformedRtp("padding length is zero"));
            }
            if usize::from(padding) > end - at {
                return Err(Error::MalformedRtp("padding longer than the payload"));
            }
            end -= usize::from(padding);
        }
        let payload = data
            .get(at..end)
            .ok_or(Error::MalformedRtp("payload out of bounds"))?;
        Ok(RtpPacket {
            header: RtpHeader {
                marker: second & 0x80 != 0,
                payload_type: second & 0x7F,
                sequence,
                timestamp,
                ssrc,
                csrcs,
            },
            extension,
            payload,
            padding,
        })
    }

    /// Bytes [`RtpPacket::encode`] will produce.
    pub fn encoded_len(&self) -> usize {
        FIXED_HEADER_LEN
            + 4 * self.header.csrcs.len()
            + self.extension.map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Appends the wire form to `out`; refuses fields the format cannot carry.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let h = &self.header;
        if h.csrcs.len() > MAX_CSRCS {
            return Err(Error::MalformedRtp("more than 15 CSRCs"));
        }
        if h.payload_type > 0x7F {
            return Err(Error::MalformedRtp("payload type above 127"));
        }
        let ext_words = match self.extension {
            Some(e) if e.data.len() % 4 != 0 => {
                return Err(Error::MalformedRtp("extension length not a multiple of 4"))
            }
            Some(e) => Some(
                u16::try_from(e.data.len() / 4)
                    .map_err(|_| Error::MalformedRtp("extension longer than 65535 words"))?,
            ),
            None => None,
        };
        out.reserve(self.encoded_len());
        let mut first = (VERSION << 6) | h.csrcs.len() as u8;
        if self.padding > 0 {
            first |= 0x20;
        }
        if self.extension.is_some() {
            first |= 0x10;
        }
        out.push(first);
        out.push((u8::from(h.marker) << 7) | h.payload_type);
        out.extend_from_slice(&h.sequence.to_be_bytes());
        out.extend_from_slice(&h.timestamp.to_be_bytes());
        out.extend_from_slice(&h.ssrc.to_be_bytes());
        for csrc in &h.csrcs {
            out.extend_from_slice(&csrc.to_be_bytes());
        }
        if let (Some(e), Some(words)) = (self.extension, ext_words) {
            out.extend_from_slice(&e.profile.to_be_bytes());
            out.extend_from_slice(&words.to_be_bytes());
            out.extend_from_slice(e.data);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.extend(std::iter::repeat_n(0, usize::from(self.padding) - 1));
            out.push(self.padding);
        }
        Ok(())
    }

    /// The wire form as a new vector.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

/// Extends a wrapping `BITS`-bit counter to 64 bits (RFC 3550 Appendix A.1).
///
/// Each value is placed in the cycle that brings it nearest to the highest value seen, so
/// reordered and duplicated packets keep their place across a wrap. The first value lands in
/// cycle 1, not 0, so that a packet a little older than the first still has a place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unwrapper<const BITS: u32> {
    highest: Option<u64>,
}

/// Extends 16-bit RTP sequence numbers.
pub type SequenceUnwrapper = Unwrapper<16>;

/// Extends 32-bit RTP timestamps.
pub type TimestampUnwrapper = Unwrapper<32>;

impl<const BITS: u32> Unwrapper<BITS> {
    const MODULUS: u64 = 1 << BITS;

    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Unwrapper { highest: None }
    }

    /// The extended form of `value` (only its low `BITS` bits are used).
    pub fn extend(&mut self, value: u32) -> u64 {
        let m = Self::MODULUS;
        let value = u64::from(value) & (m - 1);
        let Some(highest) = self.highest else {
            let extended = m + value;
            self.highest = Some(extended);
            return extended;
        };
        let candidate = (highest & !(m - 1)) + value;
        let extended = if candidate > highest && candidate - highest > m / 2 {
            candidate.saturating_sub(m)
        } else if highest > candidate && highest - candidate > m / 2 {
            candidate + m
        } else {
            candidate
        };
        if extended > highest {
            self.highest = Some(extended);
        }
        extended
    }

    /// The highest extended value seen, if any.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Forgets everything, as for a new SSRC.
    pub fn reset(&mut self) {
        self.highest = None;
    }
}

/// What an RTP payload type carries, as negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Payload {
    /// G.711 audio with this law.
    G711(Law),
    /// RFC 4733 telephone events (`telephone-event/8000`).
    Event,
    /// RFC 3389 comfort noise (`CN/8000`).
    ComfortNoise,
    /// Anything else, including types never negotiated.
    Unknown,
}

/// Payload type → payload, from the SDP of the session; nothing is hard-coded beyond what
/// [`PayloadMap::static_defaults`] offers for peers that omit `a=rtpmap` for static types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadMap {
    table: [Payload; 128],
}

impl Default for PayloadMap {
    fn default() -> Self {
        Self::new()
    }
}

impl PayloadMap {
    /// A map where every payload type is unknown.
    pub fn new() -> Self {
        PayloadMap {
            table: [Payload::Unknown; 128],
        }
    }

    /// The RFC 3551 static assignments we use: 0 PCMU, 8 PCMA, 13 CN.
    pub fn static_defaults() -> Self {
        let mut map = Self::new();
        map.table[0] = Payload::G711(Law::Ulaw);
        map.table[8] = Payload::G711(Law::Alaw);
        map.table[13] = Payload::ComfortNoise;
        map
    }

    /// Maps `payload_type` to `payload`.
    pub fn insert(&mut self, payload_type: u8, payload: Payload) -> Result<(), Error> {
        let slot = self
            .table
            .get_mut(usize::from(payload_type))
            .ok_or(Error::BadPayloadType(payload_type))?;
        *slot = payload;
        Ok(())
    }

    /// Maps an `a=rtpmap:<pt> <encoding>/<clock_rate>` line; returns what it was understood as.
    pub fn insert_rtpmap(
        &mut self,
        payload_type: u8,
        encoding: &str,
        clock_rate: u32,
    ) -> Result<Payload, Error> {
        let payload = match (encoding.to_ascii_lowercase().as_str(), clock_rate) {
            ("pcmu", 8000) => Payload::G711(Law::Ulaw),
            ("pcma", 8000) => Payload::G711(Law::Alaw),
            ("telephone-event", 8000) => Payload::Event,
            ("cn", 8000) => Payload::ComfortNoise,
            _ => Payload::Unknown,
        };
        self.insert(payload_type, payload)?;
        Ok(payload)
    }

    /// What `payload_type` carries.
    pub fn get(&self, payload_type: u8) -> Payload {
        self.table
            .get(usize::from(payload_type))
            .copied()
            .unwrap_or(Payload::Unknown)
    }

    /// The lowest payload type mapped to `payload`, for choosing what to send.
    pub fn payload_type_of(&self, payload: Payload) -> Option<u8> {
        self.table
            .iter()
            .position(|&p| p == payload)
            .and_then(|pt| u8::try_from(pt).ok())
    }
}
