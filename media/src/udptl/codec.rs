//! The UDPTLPacket of ITU-T T.38 §9.1 (ASN.1 in T.38 Annex A), PER aligned:
//!
//! ```text
//! UDPTLPacket ::= SEQUENCE {
//!     seq-number          INTEGER (0..65535),              -- 2 octets, big-endian
//!     primary-ifp-packet  TYPE-IDENTIFIER.&Type(IFPPacket), -- open type
//!     error-recovery      CHOICE {                          -- 1 bit, padded to an octet
//!         secondary-ifp-packets SEQUENCE OF TYPE-IDENTIFIER.&Type(IFPPacket),
//!         fec-info SEQUENCE {
//!             fec-npackets INTEGER,                          -- unconstrained
//!             fec-data     SEQUENCE OF OCTET STRING } } }
//! ```
//!
//! Decoding is strict about bounds: every length is checked against what is left of the
//! datagram, counts are capped, trailing octets are refused, and nothing panics.

use super::per;
use super::view::UdptlView;
use crate::Error;

/// Most secondary IFPs or FEC messages accepted in one datagram.
///
/// T.38 sets no limit; senders use 1–5 in practice (Asterisk caps at 15, and the crafted
/// AST-2016-003 stream sends 15), so 16 leaves headroom while bounding work per datagram.
pub const MAX_RECOVERY_ENTRIES: usize = 16;

/// How a datagram helps the receiver rebuild packets that were lost (T.38 §9.1.4–9.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Copies of earlier IFPs, newest first: entry `i` is the IFP numbered `seq - 1 - i`.
    Redundancy(Vec<Vec<u8>>),
    /// Parity (XOR) messages over earlier IFPs; see [`super::fec`] for which IFPs each covers.
    Fec {
        /// fec-npackets: how many IFPs each message covers.
        span: u8,
        /// fec-data: one XOR message per interleaved group.
        entries: Vec<Vec<u8>>,
    },
}

/// One UDPTL datagram: a numbered primary IFP plus error-recovery data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdptlPacket {
    /// seq-number of the primary IFP (wraps from 65535 to 0).
    pub seq: u16,
    /// The primary IFP, as SpanDSP produced it.
    pub primary: Vec<u8>,
    /// Redundant copies or FEC data for earlier IFPs.
    pub recovery: Recovery,
}

/// The CHOICE octet: index in the top bit, padding below.
pub(crate) const CHOICE_FEC: u8 = 0x80;

impl UdptlPacket {
    /// Parses one datagram into owned parts; any defect gives [`Error::MalformedUdptl`].
    /// [`UdptlView::parse`] reads the same without copying.
    ///
    /// Zero-length secondaries are kept as empty entries: X.691 never produces them for an
    /// IFP, but some stacks send them and T.38 receivers (Asterisk since AST-2016-003) skip them.
    pub fn decode(datagram: &[u8]) -> Result<UdptlPacket, Error> {
        UdptlView::parse(datagram).map(|view| view.to_packet())
    }

    /// Serialises the packet; refuses more than [`MAX_RECOVERY_ENTRIES`] recovery entries,
    /// which our own decoder (and most peers) would reject.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.seq.to_be_bytes());
        per::write_open_type(&mut out, &self.primary);
        match &self.recovery {
            Recovery::Redundancy(secondaries) => {
                check_count(secondaries.len())?;
                out.push(0);
                per::write_count(&mut out, secondaries.len());
                for s in secondaries {
                    per::write_open_type(&mut out, s);
                }
            }
            Recovery::Fec { span, entries } => {
                check_count(entries.len())?;
                out.push(CHOICE_FEC);
                per::write_unsigned(&mut out, u32::from(*span));
                per::write_count(&mut out, entries.len());
                for e in entries {
                    per::write_open_type(&mut out, e);
                }
            }
        }
        Ok(out)
    }

    /// The size [`UdptlPacket::encode`] produces, without encoding.
    pub fn encoded_len(&self) -> usize {
        let body = match &self.recovery {
            Recovery::Redundancy(list) => list_len(list),
            Recovery::Fec { span, entries } => {
                per::unsigned_len(u32::from(*span)) + list_len(entries)
            }
        };
        2 + per::open_type_len(self.primary.len()) + 1 + body
    }
}

/// The size of a datagram carrying `primary` and the `secondaries` as redundancy, without
/// building it.
pub(crate) fn redundant_len<'a>(
    primary: &[u8],
    secondaries: impl ExactSizeIterator<Item = &'a [u8]>,
) -> usize {
    let count = per::count_len(secondaries.len());
    let body: usize = secondaries.map(|s| per::open_type_len(s.len())).sum();
    2 + per::open_type_len(primary.len()) + 1 + count + body
}

/// Encodes a redundancy datagram from borrowed IFPs (the sender's per-datagram path: no
/// owned packet to assemble); the same octets as [`UdptlPacket::encode`] for the same parts.
pub(crate) fn encode_redundant<'a>(
    seq: u16,
    primary: &[u8],
    secondaries: impl ExactSizeIterator<Item = &'a [u8]> + Clone,
) -> Result<Vec<u8>, Error> {
    check_count(secondaries.len())?;
    let mut out = Vec::with_capacity(redundant_len(primary, secondaries.clone()));
    out.extend_from_slice(&seq.to_be_bytes());
    per::write_open_type(&mut out, primary);
    out.push(0);
    per::write_count(&mut out, secondaries.len());
    for s in secondaries {
        per::write_open_type(&mut out, s);
    }
    Ok(out)
}

fn list_len(list: &[Vec<u8>]) -> usize {
    per::count_len(list.len())
        + list
            .iter()
            .map(|e| per::open_type_len(e.len()))
            .sum::<usize>()
}

fn check_count(n: usize) -> Result<(), Error> {
    if n > MAX_RECOVERY_ENTRIES {
        return Err(Error::MalformedUdptl("too many recovery entries"));
    }
    Ok(())
}
