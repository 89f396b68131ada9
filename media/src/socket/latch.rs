//! Symmetric media ("latching", the comedia practice of RFC 4961 symmetric RTP applied to
//! peers behind NAT), as a sans-IO core.
//!
//! A peer behind NAT advertises in SDP an address it cannot be reached at. Until a packet
//! that belongs to the stream arrives, media goes to the SDP address; from the first one on,
//! it goes to where that packet really came from, and only packets from there are taken.
//! Every re-INVITE (new SDP) re-arms the latch with [`Latch::relatch`]. "Belongs to the
//! stream" is decided by a [`StreamFilter`]: RTP version 2 with a negotiated payload type
//! (RFC 3550 §5.1), or a UDPTL packet that decodes (ITU-T T.38 §9.1).

use std::net::SocketAddr;

use crate::rtp::{Payload, PayloadMap, FIXED_HEADER_LEN, VERSION};
use crate::udptl::UdptlPacket;

/// What packets may latch a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFilter {
    /// RTP version 2 with one of these payload types (bit `n` set: type `n` accepted).
    Rtp {
        /// The accepted payload types, one bit each.
        payload_types: u128,
    },
    /// A UDPTL packet that decodes, with a non-empty primary IFP.
    Udptl,
}

impl StreamFilter {
    /// RTP with every payload type the session's map knows.
    pub fn rtp(map: &PayloadMap) -> Self {
        let payload_types = (0u8..128)
            .filter(|&pt| map.get(pt) != Payload::Unknown)
            .fold(0u128, |bits, pt| bits | (1 << pt));
        StreamFilter::Rtp { payload_types }
    }

    /// RTP with exactly these payload types (values above 127 are ignored).
    pub fn rtp_types(types: &[u8]) -> Self {
        let payload_types = types
            .iter()
            .filter(|&&pt| pt < 128)
            .fold(0u128, |bits, &pt| bits | (1 << pt));
        StreamFilter::Rtp { payload_types }
    }

    /// UDPTL.
    pub fn udptl() -> Self {
        StreamFilter::Udptl
    }

    /// Whether `datagram` looks like a packet of this stream. RTP is checked without
    /// decoding (no allocation); UDPTL is decoded, which happens only until the latch holds.
    pub fn fits(&self, datagram: &[u8]) -> bool {
        match self {
            StreamFilter::Rtp { payload_types } => match datagram {
                [first, second, ..] if datagram.len() >= FIXED_HEADER_LEN => {
                    first >> 6 == VERSION && payload_types & (1 << (second & 0x7F)) != 0
                }
                _ => false,
            },
            StreamFilter::Udptl => {
                UdptlPacket::decode(datagram).is_ok_and(|packet| !packet.primary.is_empty())
            }
        }
    }
}

/// What to do with a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Take it: it comes from the latched address.
    Accept,
    /// Take it: it is the first packet of the stream, and media now goes to its source.
    Latched {
        /// Where media went until now.
        previous: SocketAddr,
    },
    /// Drop it: not latched yet and it does not fit the stream.
    Unfit,
    /// Drop it: latched, and it comes from somewhere else.
    Foreign,
}

/// Where to send, and which source to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latch {
    signalled: SocketAddr,
    latched: Option<SocketAddr>,
}

impl Latch {
    /// A latch that sends to the SDP address `signalled` until a fitting packet arrives.
    pub fn new(signalled: SocketAddr) -> Self {
        Latch {
            signalled,
            latched: None,
        }
    }

    /// Where media goes now.
    pub fn target(&self) -> SocketAddr {
        self.latched.unwrap_or(self.signalled)
    }

    /// The address from the latest SDP.
    pub fn signalled(&self) -> SocketAddr {
        self.signalled
    }

    /// The address latched on, once a fitting packet arrived.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Decides about a datagram from `from`; `fits` is asked only while not latched.
    pub fn check(&mut self, from: SocketAddr, fits: impl FnOnce() -> bool) -> Verdict {
        match self.latched {
            Some(latched) if latched == from => Verdict::Accept,
            Some(_) => Verdict::Foreign,
            None if fits() => {
                let previous = self.signalled;
                self.latched = Some(from);
                Verdict::Latched { previous }
            }
            None => Verdict::Unfit,
        }
    }

    /// Takes a new SDP address (after a re-INVITE) and re-arms the latch: media goes there
    /// until the next fitting packet shows where the peer really is.
    pub fn relatch(&mut self, signalled: SocketAddr) {
        self.signalled = signalled;
        self.latched = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn latches_on_the_first_fitting_packet_and_relatches_after_new_sdp() {
        let mut latch = Latch::new(addr("192.0.2.1:4000"));
        assert_eq!(latch.target(), addr("192.0.2.1:4000"));
        assert_eq!(
            latch.check(addr("198.51.100.7:9"), || false),
            Verdict::Unfit
        );
        assert_eq!(latch.latched(), None);
        assert_eq!(
            latch.check(addr("198.51.100.7:30000"), || true),
            Verdict::Latched {
                previous: addr("192.0.2.1:4000")
            }
        );
        assert_eq!(latch.target(), addr("198.51.100.7:30000"));
        assert_eq!(
            latch.check(addr("198.51.100.7:30000"), || false),
            Verdict::Accept
        );
        assert_eq!(
            latch.check(addr("203.0.113.5:1"), || true),
            Verdict::Foreign
        );
        latch.relatch(addr("192.0.2.1:5000"));
        assert_eq!(latch.target(), addr("192.0.2.1:5000"));
        assert!(matches!(
            latch.check(addr("198.51.100.7:30002"), || true),
            Verdict::Latched { .. }
        ));
        assert_eq!(latch.target(), addr("198.51.100.7:30002"));
    }

    #[test]
    fn rtp_filter_checks_version_and_payload_type() {
        let filter = StreamFilter::rtp(&PayloadMap::static_defaults());
        let mut packet = [0u8; 172];
        packet[0] = 0x80;
        assert!(filter.fits(&packet), "PCMU");
        packet[1] = 0x80 | 8;
        assert!(filter.fits(&packet), "PCMA with the marker bit");
        packet[1] = 96;
        assert!(!filter.fits(&packet), "type not negotiated");
        packet[1] = 0;
        packet[0] = 0x40;
        assert!(!filter.fits(&packet), "version 1");
        assert!(!filter.fits(&[0x80, 0]), "too short");
        assert!(StreamFilter::rtp_types(&[96, 200]).fits(&[0x80, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn udptl_filter_decodes() {
        let filter = StreamFilter::udptl();
        // seq 0, primary = no-signal indicator, empty redundancy.
        assert!(filter.fits(&[0, 0, 1, 0x00, 0, 0]));
        assert!(!filter.fits(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert!(!filter.fits(&[]));
    }
}
