//! Fuzzes UDPTL decoding and the receiver (T.38 §9.1): `UdptlPacket::decode` and
//! `UdptlReceiver` must never panic, what decodes must re-encode to the same packet, and the
//! receiver must account for every datagram and never deliver an empty IFP.
//!
//! The input is one datagram for the codec check, and a stream of datagrams for the receiver,
//! each prefixed with a length octet. Seed it with real UDPTL, e.g. the payloads of
//! `shared/testdata/pcap/*.pcap`.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use media::udptl::{ReceiverConfig, UdptlPacket, UdptlReceiver};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = UdptlPacket::decode(data) {
        let bytes = packet.encode().expect("a decoded packet re-encodes");
        assert_eq!(bytes.len(), packet.encoded_len());
        // Not byte-equal: peers may use long length forms and non-zero padding bits.
        assert_eq!(
            UdptlPacket::decode(&bytes).expect("our encoding decodes"),
            packet
        );
    }

    let start = Instant::now();
    let mut receiver = UdptlReceiver::new(ReceiverConfig::default());
    let mut rest = data;
    let mut datagrams = 0u64;
    let mut elapsed = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let (datagram, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        datagrams += 1;
        // The length octet doubles as the gap in time, so timeouts fire too.
        elapsed += u64::from(len % 64);
        let now = start + Duration::from_millis(elapsed);
        let _ = receiver.handle_datagram(now, datagram);
        receiver.handle_timeout(now);
        while let Some((_, ifp)) = receiver.poll_ifp() {
            assert!(!ifp.is_empty());
        }
    }
    receiver.handle_timeout(start + Duration::from_millis(elapsed + 10_000));
    while let Some((_, ifp)) = receiver.poll_ifp() {
        assert!(!ifp.is_empty());
    }
    assert!(receiver.poll_timeout().is_none(), "nothing left waiting");
    let stats = receiver.stats();
    assert_eq!(stats.received + stats.malformed, datagrams);
});
