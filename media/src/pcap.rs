//! A classic pcap file (libpcap format 2.4) of one media socket's datagrams, for a call's
//! debug bundle: each datagram gets synthesised IPv4 or IPv6 and UDP headers carrying the
//! real local and remote addresses and ports, so that Wireshark and tshark decode it as
//! RTP or UDPTL when told the port.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

/// Link type of raw IP packets (IPv4 or IPv6 by the first nibble).
pub const LINKTYPE_RAW: u32 = 101;
/// Length of the pcap file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Length of each record's header.
pub const RECORD_HEADER_LEN: usize = 16;
const SNAPLEN: u32 = 65_535;
const UDP_HEADER_LEN: usize = 8;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;

/// Writes datagrams into an in-memory pcap file, up to a size limit.
#[derive(Debug, Clone)]
pub struct PcapRecorder {
    buf: Vec<u8>,
    limit: usize,
    packets: u64,
    truncated: bool,
}

impl PcapRecorder {
    /// An empty capture (just the file header) that stops growing at `limit` bytes.
    pub fn new(limit: usize) -> Self {
        let mut buf = Vec::with_capacity(limit.min(64 * 1024));
        buf.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
        buf.extend_from_slice(&2_u16.to_le_bytes());
        buf.extend_from_slice(&4_u16.to_le_bytes());
        buf.extend_from_slice(&0_i32.to_le_bytes()); // thiszone: timestamps are UTC
        buf.extend_from_slice(&0_u32.to_le_bytes()); // sigfigs
        buf.extend_from_slice(&SNAPLEN.to_le_bytes());
        buf.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        PcapRecorder {
            buf,
            limit,
            packets: 0,
            truncated: false,
        }
    }

    /// Records a datagram from `from` to `to` seen now.
    pub fn record(&mut self, from: SocketAddr, to: SocketAddr, payload: &[u8]) {
        self.record_at(SystemTime::now(), from, to, payload);
    }

    /// Records a datagram from `from` to `to` seen at `at`.
    pub fn record_at(&mut self, at: SystemTime, from: SocketAddr, to: SocketAddr, payload: &[u8]) {
        let v6 = from.is_ipv6() || to.is_ipv6();
        let ip_len = if v6 { IPV6_HEADER_LEN } else { IPV4_HEADER_LEN };
        let udp_len = UDP_HEADER_LEN + payload.len();
        let packet_len = ip_len + udp_len;
        if packet_len > usize::from(u16::MAX)
            || self.buf.len() + RECORD_HEADER_LEN + packet_len > self.limit
        {
            self.truncated = true;
            return;
        }
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.buf
            .extend_from_slice(&(since.as_secs() as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&since.subsec_micros().to_le_bytes());
        self.buf
            .extend_from_slice(&(packet_len as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(packet_len as u32).to_le_bytes());
        if v6 {
            self.ipv6_header(from.ip(), to.ip(), udp_len as u16);
        } else {
            self.ipv4_header(from.ip(), to.ip(), packet_len as u16);
        }
        self.buf.extend_from_slice(&from.port().to_be_bytes());
        self.buf.extend_from_slice(&to.port().to_be_bytes());
        self.buf.extend_from_slice(&(udp_len as u16).to_be_bytes());
        // A zero UDP checksum: "not computed" for IPv4; tshark does not check it for IPv6.
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(payload);
        self.packets += 1;
    }

    fn ipv4_header(&mut self, from: IpAddr, to: IpAddr, total_len: u16) {
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (from, to) else {
            return;
        };
        let mut h = [0_u8; IPV4_HEADER_LEN];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&total_len.to_be_bytes());
        h[6] = 0x40; // don't fragment
        h[8] = 64; // TTL
        h[9] = 17; // UDP
        h[12..16].copy_from_slice(&src.octets());
        h[16..20].copy_from_slice(&dst.octets());
        let checksum = ipv4_checksum(&h);
        h[10..12].copy_from_slice(&checksum.to_be_bytes());
        self.buf.extend_from_slice(&h);
    }

    fn ipv6_header(&mut self, from: IpAddr, to: IpAddr, payload_len: u16) {
        self.buf.extend_from_slice(&[0x60, 0, 0, 0]);
        self.buf.extend_from_slice(&payload_len.to_be_bytes());
        self.buf.extend_from_slice(&[17, 64]); // next header UDP, hop limit
        self.buf.extend_from_slice(&v6(from).octets());
        self.buf.extend_from_slice(&v6(to).octets());
    }

    /// Datagrams recorded.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// True when datagrams were left out because the size limit was reached.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The pcap file so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The pcap file.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The one's-complement header checksum of RFC 791.
fn ipv4_checksum(header: &[u8; IPV4_HEADER_LEN]) -> u16 {
    let mut sum: u32 = header
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, micros * 1000)
    }

    #[test]
    fn file_header_is_classic_pcap_of_raw_ip() {
        let p = PcapRecorder::new(1000);
        assert_eq!(
            p.bytes(),
            [
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101,
                0, 0, 0
            ]
        );
        assert_eq!(p.packets(), 0);
    }

    #[test]
    fn ipv4_record_carries_addresses_ports_and_a_valid_checksum() {
        let mut p = PcapRecorder::new(1000);
        let from: SocketAddr = "192.0.2.1:20000".parse().unwrap();
        let to: SocketAddr = "198.51.100.7:4000".parse().unwrap();
        p.record_at(at(0x0102_0304, 5), from, to, b"abc");
        let rec = &p.bytes()[FILE_HEADER_LEN..];
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            // record header: seconds, microseconds, captured and original length (31)
            0x04, 0x03, 0x02, 0x01, 5, 0, 0, 0, 31, 0, 0, 0, 31, 0, 0, 0,
            // IPv4: version/IHL, TOS, total length, id, DF, TTL, UDP, checksum
            0x45, 0, 0, 31, 0, 0, 0x40, 0, 64, 17, 0x4e, 0x92,
            192, 0, 2, 1, 198, 51, 100, 7,
            // UDP: ports, length, no checksum
            0x4e, 0x20, 0x0f, 0xa0, 0, 11, 0, 0,
            b'a', b'b', b'c',
        ];
        assert_eq!(rec, want.as_slice());
        let header: [u8; 20] = rec[16..36].try_into().unwrap();
        assert_eq!(
            ipv4_checksum(&header),
            0,
            "a header with its checksum sums to zero"
        );
        assert_eq!(p.packets(), 1);
    }

    #[test]
    fn ipv6_record_has_a_forty_byte_header() {
        let mut p = PcapRecorder::new(1000);
        let from: SocketAddr = "[2001:db8::1]:5004".parse().unwrap();
        let to: SocketAddr = "[2001:db8::2]:6000".parse().unwrap();
        p.record_at(at(1, 0), from, to, &[9]);
        let rec = &p.bytes()[FILE_HEADER_LEN + RECORD_HEADER_LEN..];
        assert_eq!(rec.len(), 40 + 8 + 1);
        assert_eq!(rec[..8], [0x60, 0, 0, 0, 0, 9, 17, 64]);
        assert_eq!(
            rec[8..24],
            "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(
            rec[24..40],
            "2001:db8::2".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(rec[40..], [0x13, 0x8c, 0x17, 0x70, 0, 9, 0, 0, 9]);
    }

    #[test]
    fn stops_at_the_limit_and_says_so() {
        let limit = FILE_HEADER_LEN + 2 * (RECORD_HEADER_LEN + 28 + 100);
        let mut p = PcapRecorder::new(limit);
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for _ in 0..3 {
            p.record(a, a, &[0; 100]);
        }
        assert_eq!(p.packets(), 2);
        assert!(p.truncated());
        assert_eq!(p.bytes().len(), limit);
    }
}
