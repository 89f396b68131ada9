//! A small reader for classic pcap captures (not pcapng), enough to replay UDP payloads from
//! captures into sans-IO cores.
//!
//! Both byte orders and both timestamp resolutions (µs, ns) are read. Link types: Ethernet (1,
//! with 802.1Q tags), raw IP (101, 228) and Linux cooked capture (113, and SLL2 276). Only
//! IPv4/UDP is extracted; fragments and anything else are skipped. Every length is checked,
//! so a truncated or hostile file gives an error or a skipped packet, never a panic.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_RAW (IPv4 or IPv6 by the version nibble).
const LINKTYPE_RAW: u32 = 101;
/// LINKTYPE_LINUX_SLL (Linux cooked capture v1).
const LINKTYPE_LINUX_SLL: u32 = 113;
/// LINKTYPE_IPV4.
const LINKTYPE_IPV4: u32 = 228;
/// LINKTYPE_LINUX_SLL2 (Linux cooked capture v2).
const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Why a capture could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PcapError {
    /// The file could not be read.
    Io(String),
    /// Not a classic pcap file (pcapng is not supported).
    BadMagic(u32),
    /// The global header or a record header is cut short.
    Truncated {
        /// Byte offset where the cut was found.
        offset: usize,
    },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Io(e) => write!(f, "cannot read capture: {e}"),
            PcapError::BadMagic(m) => write!(f, "not a classic pcap file (magic {m:#010x})"),
            PcapError::Truncated { offset } => write!(f, "capture truncated at byte {offset}"),
        }
    }
}

impl std::error::Error for PcapError {}

/// One captured frame, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapRecord {
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// The captured bytes (possibly shorter than the frame on the wire).
    pub data: Vec<u8>,
}

/// A whole capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcap {
    /// The link type of every record.
    pub link_type: u32,
    /// The records in file order.
    pub records: Vec<PcapRecord>,
}

/// One UDP datagram found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram {
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// The UDP payload (as much of it as was captured).
    pub payload: Vec<u8>,
}

/// Reads a pcap file from disk.
pub fn read_pcap_file(path: &Path) -> Result<Pcap, PcapError> {
    let bytes =
        std::fs::read(path).map_err(|e| PcapError::Io(format!("{}: {e}", path.display())))?;
    parse_pcap(&bytes)
}

/// Parses a classic pcap capture held in memory.
pub fn parse_pcap(bytes: &[u8]) -> Result<Pcap, PcapError> {
    let magic_bytes: [u8; 4] = slice(bytes, 0, 4)?.try_into().unwrap_or_default();
    let (big_endian, nanos) = match u32::from_le_bytes(magic_bytes) {
        0xA1B2_C3D4 => (false, false),
        0xA1B2_3C4D => (false, true),
        0xD4C3_B2A1 => (true, false),
        0x4D3C_B2A1 => (true, true),
        other => return Err(PcapError::BadMagic(other)),
    };
    let u32_at = |offset: usize| -> Result<u32, PcapError> {
        let b: [u8; 4] = slice(bytes, offset, 4)?.try_into().unwrap_or_default();
        Ok(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    // The link type's low 16 bits; the upper bits carry FCS flags in newer files.
    let link_type = u32_at(20)? & 0xFFFF;
    let mut records = Vec::new();
    let mut offset = 24;
    while offset < bytes.len() {
        let secs = u32_at(offset)?;
        let frac = u32_at(offset + 4)?;
        let incl = u32_at(offset + 8)? as usize;
        let data = slice(bytes, offset + 16, incl)?.to_vec();
        let frac = if nanos {
            Duration::from_nanos(u64::from(frac))
        } else {
            Duration::from_micros(u64::from(frac))
        };
        records.push(PcapRecord {
            timestamp: Duration::from_secs(u64::from(secs)) + frac,
            data,
        });
        offset += 16 + incl;
    }
    Ok(Pcap { link_type, records })
}

impl Pcap {
    /// Every IPv4/UDP datagram in the capture, in file order; other packets are skipped.
    pub fn udp_datagrams(&self) -> Vec<UdpDatagram> {
        self.records
            .iter()
            .filter_map(|r| {
                let ip = ipv4_of(self.link_type, &r.data)?;
                udp_of(ip).map(|(src, dst, payload)| UdpDatagram {
                    timestamp: r.timestamp,
                    src,
                    dst,
                    payload: payload.to_vec(),
                })
            })
            .collect()
    }
}

fn slice(bytes: &[u8], offset: usize, len: usize) -> Result<&[u8], PcapError> {
    offset
        .checked_add(len)
        .and_then(|end| bytes.get(offset..end))
        .ok_or(PcapError::Truncated { offset })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: [u16; 2] = [0x8100, 0x88A8];

/// The IPv4 packet inside a link-layer frame, if it holds one.
fn ipv4_of(link_type: u32, frame: &[u8]) -> Option<&[u8]> {
    let (ethertype, start) = match link_type {
        LINKTYPE_ETHERNET => {
            let mut at = 12;
            let mut ethertype = be16(frame, at)?;
            while ETHERTYPE_VLAN.contains(&ethertype) {
                at += 4;
                ethertype = be16(frame, at)?;
            }
            (ethertype, at + 2)
        }
        LINKTYPE_RAW | LINKTYPE_IPV4 => (ETHERTYPE_IPV4, 0),
        LINKTYPE_LINUX_SLL => (be16(frame, 14)?, 16),
        LINKTYPE_LINUX_SLL2 => (be16(frame, 0)?, 20),
        _ => return None,
    };
    let ip = frame.get(start..)?;
    (ethertype == ETHERTYPE_IPV4 && ip.first()? >> 4 == 4).then_some(ip)
}

/// Source, destination and payload of an unfragmented IPv4/UDP packet.
fn udp_of(ip: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, &[u8])> {
    let header_len = usize::from(ip.first()? & 0x0F) * 4;
    let total_len = usize::from(be16(ip, 2)?);
    let flags_fragment = be16(ip, 6)?;
    let more_fragments = flags_fragment & 0x2000 != 0;
    if header_len < 20 || *ip.get(9)? != 17 || more_fragments || flags_fragment & 0x1FFF != 0 {
        return None;
    }
    // Trust the IP length over the capture length (Ethernet pads short frames), but never
    // read past what was captured.
    let ip = ip.get(..total_len.min(ip.len()))?;
    let addr = |at: usize| -> Option<Ipv4Addr> {
        let b = ip.get(at..at + 4)?;
        Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    };
    let (src_ip, dst_ip) = (addr(12)?, addr(16)?);
    let udp = ip.get(header_len..)?;
    let (src_port, dst_port) = (be16(udp, 0)?, be16(udp, 2)?);
    let udp_len = usize::from(be16(udp, 4)?);
    if udp_len < 8 {
        return None;
    }
    let payload = udp.get(8..udp_len.min(udp.len()))?;
    Some((
        SocketAddrV4::new(src_ip, src_port),
        SocketAddrV4::new(dst_ip, dst_port),
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let total = 28 + payload.len();
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ];
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        let udp_len = 8 + payload.len();
        p.extend_from_slice(&[
            0x13,
            0x88,
            0x13,
            0x8A,
            (udp_len >> 8) as u8,
            udp_len as u8,
            0,
            0,
        ]);
        p.extend_from_slice(payload);
        p
    }

    fn capture(big_endian: bool, link_type: u32, frames: &[Vec<u8>]) -> Vec<u8> {
        let w = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&w(0xA1B2_C3D4));
        out.extend_from_slice(if big_endian {
            &[0, 2, 0, 4]
        } else {
            &[2, 0, 4, 0]
        });
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&w(65535));
        out.extend_from_slice(&w(link_type));
        for (i, f) in frames.iter().enumerate() {
            out.extend_from_slice(&w(1_700_000_000 + i as u32));
            out.extend_from_slice(&w(500));
            out.extend_from_slice(&w(f.len() as u32));
            out.extend_from_slice(&w(f.len() as u32));
            out.extend_from_slice(f);
        }
        out
    }

    #[test]
    fn reads_raw_ipv4_and_ethernet_in_both_byte_orders() {
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        eth.extend_from_slice(&ipv4_udp(b"hello"));
        for big_endian in [false, true] {
            for (link, frame) in [
                (LINKTYPE_IPV4, ipv4_udp(b"hello")),
                (LINKTYPE_RAW, ipv4_udp(b"hello")),
                (LINKTYPE_ETHERNET, eth.clone()),
            ] {
                let pcap = parse_pcap(&capture(big_endian, link, &[frame])).unwrap();
                let d = pcap.udp_datagrams();
                assert_eq!(d.len(), 1, "link {link}");
                assert_eq!(d[0].payload, b"hello");
                assert_eq!(d[0].src.to_string(), "10.0.0.1:5000");
                assert_eq!(d[0].dst.port(), 5002);
                assert_eq!(d[0].timestamp, Duration::new(1_700_000_000, 500_000));
            }
        }
    }

    #[test]
    fn damaged_input_is_an_error_or_skipped_never_a_panic() {
        let good = capture(false, LINKTYPE_IPV4, &[ipv4_udp(b"abc")]);
        for cut in 0..good.len() {
            if let Ok(p) = parse_pcap(&good[..cut]) {
                assert!(p.udp_datagrams().len() <= 1);
            }
        }
        assert!(matches!(
            parse_pcap(b"\x0a\x0d\x0d\x0a...."),
            Err(PcapError::BadMagic(_))
        ));
        let mut frame = ipv4_udp(b"abc");
        frame[0] = 0x4F; // header longer than the packet
        let pcap = parse_pcap(&capture(false, LINKTYPE_IPV4, &[frame])).unwrap();
        assert!(pcap.udp_datagrams().is_empty());
    }
}
