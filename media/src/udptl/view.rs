//! A received UDPTL datagram read in place: the same checks as [`UdptlPacket::decode`], but the
//! IFPs and FEC messages stay in the datagram, so the receive path allocates nothing.

use super::codec::{Recovery, UdptlPacket, CHOICE_FEC, MAX_RECOVERY_ENTRIES};
use super::per::{Octets, OctetsList, Reader};
use crate::Error;

/// Error-recovery data of a [`UdptlView`].
#[derive(Debug, Clone, Copy)]
pub enum RecoveryView<'a> {
    /// Copies of earlier IFPs, newest first: item `i` is the IFP numbered `seq - 1 - i`.
    Redundancy(OctetsList<'a>),
    /// Parity messages over earlier IFPs, as in [`Recovery::Fec`].
    Fec {
        /// fec-npackets: how many IFPs each message covers.
        span: u8,
        /// fec-data: one XOR message per interleaved group.
        entries: OctetsList<'a>,
    },
}

/// One UDPTL datagram, checked and borrowed from the bytes it was read from.
#[derive(Debug, Clone, Copy)]
pub struct UdptlView<'a> {
    /// seq-number of the primary IFP.
    pub seq: u16,
    /// The primary IFP.
    pub primary: Octets<'a>,
    /// Redundant copies or FEC data for earlier IFPs.
    pub recovery: RecoveryView<'a>,
}

impl<'a> UdptlView<'a> {
    /// Reads one datagram; any defect gives [`Error::MalformedUdptl`] (the rules of
    /// [`UdptlPacket::decode`]).
    pub fn parse(datagram: &'a [u8]) -> Result<UdptlView<'a>, Error> {
        let mut r = Reader::new(datagram);
        let seq = r.u16("shorter than a sequence number")?;
        let primary = r.octets()?;
        let choice = r.u8("missing error-recovery")?;
        let recovery = if choice & CHOICE_FEC == 0 {
            let n = r.count(MAX_RECOVERY_ENTRIES, "too many secondary IFPs")?;
            RecoveryView::Redundancy(r.octets_list(n)?)
        } else {
            let span = r.unsigned("bad fec-npackets")?;
            let span = u8::try_from(span).map_err(|_| Error::MalformedUdptl("FEC span > 255"))?;
            let n = r.count(MAX_RECOVERY_ENTRIES, "too many FEC messages")?;
            RecoveryView::Fec {
                span,
                entries: r.octets_list(n)?,
            }
        };
        if r.remaining() != 0 {
            return Err(Error::MalformedUdptl("trailing octets"));
        }
        Ok(UdptlView {
            seq,
            primary,
            recovery,
        })
    }

    /// The same packet with its own copies of everything.
    pub fn to_packet(&self) -> UdptlPacket {
        let owned = |list: OctetsList<'_>| list.iter().map(|o| o.to_vec()).collect();
        UdptlPacket {
            seq: self.seq,
            primary: self.primary.to_vec(),
            recovery: match self.recovery {
                RecoveryView::Redundancy(list) => Recovery::Redundancy(owned(list)),
                RecoveryView::Fec { span, entries } => Recovery::Fec {
                    span,
                    entries: owned(entries),
                },
            },
        }
    }
}
