//! The bodies of the media fuzz targets (RFC 3550 RTP, ITU-T T.38 §9.1 UDPTL, T.38 §7 IFPs),
//! in one place for both runners: the cargo-fuzz targets in `fuzz/fuzz_targets/` and the
//! stable smoke run in `media/tests/fuzz_smoke.rs` include this file by path.
//!
//! Each input is one datagram for the codec checks, and also a stream of datagrams, each
//! prefixed with a length octet, so that receivers reach sequence extension, resyncs,
//! duplicates and timeouts, not only one packet.

use std::path::Path;
use std::time::{Duration, Instant};

use media::playout::{Frame, PlayoutBuffer, PlayoutConfig, FRAME_SAMPLES};
use media::rtp::{Payload, PayloadMap, Received, RtpPacket, RtpReceiver};
use media::rtp_event::{EventReceiver, TelephoneEvent};
use media::udptl::{ifp_len, ReceiverConfig, UdptlPacket, UdptlReceiver, UdptlView};
use spandsp::{Direction, Role, T30Config, T38Config, T38Terminal, TICK_SAMPLES};

/// Splits a fuzz input into length-prefixed datagrams (the last may be cut short).
fn datagrams(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&len, tail) = rest.split_first()?;
        let (datagram, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        Some((len, datagram))
    })
}

/// RTP decoding, the receiver, RFC 4733 events and the playout buffer: nothing may panic,
/// and a packet that decodes re-encodes to exactly as many bytes.
pub fn rtp(data: &[u8]) {
    if let Ok(packet) = RtpPacket::decode(data) {
        let bytes = packet.encode().expect("a decoded packet re-encodes");
        assert_eq!(bytes.len(), data.len());
        assert_eq!(RtpPacket::decode(&bytes).as_ref(), Ok(&packet));
    }
    let _ = TelephoneEvent::decode_all(data);

    let mut map = PayloadMap::static_defaults();
    let _ = map.insert(101, Payload::Event);
    let mut receiver = RtpReceiver::new(map);
    let mut events = EventReceiver::new();
    let mut playout = PlayoutBuffer::new(PlayoutConfig::default());
    let start = Instant::now();
    for (i, (len, datagram)) in datagrams(data).enumerate() {
        // Arrival times move on by 0–15 ms, so frames are due at varying points.
        let now = start + Duration::from_millis(i as u64 * 20 + u64::from(len % 16));
        match receiver.receive(datagram) {
            Ok(Received::Audio(audio)) => {
                playout.push(now, &audio);
            }
            Ok(Received::Event(event)) => {
                let _ = events.handle_packet(&event);
            }
            _ => {}
        }
        while receiver.poll_event().is_some() {}
        while events.poll_event().is_some() {}
        if let Frame::Audio(samples) = playout.pop_frame(now) {
            assert_eq!(samples.len(), FRAME_SAMPLES);
        }
    }
}

/// UDPTL decoding and the receiver: nothing may panic, what decodes re-encodes to the same
/// packet, and the receiver accounts for every datagram and never delivers an empty IFP.
pub fn udptl(data: &[u8]) {
    if let Ok(view) = UdptlView::parse(data) {
        let packet = view.to_packet();
        // Read in place, a value is one run unless PER fragmented it (16K octets or more).
        assert_eq!(view.primary.len(), packet.primary.len());
        assert_eq!(
            view.primary.as_slice().is_some(),
            packet.primary.len() < 16384
        );
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
    let mut count = 0u64;
    let mut elapsed = 0u64;
    for (len, datagram) in datagrams(data) {
        count += 1;
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
    assert_eq!(stats.received + stats.malformed, count);
}

/// SpanDSP's IFP parser as our receiver feeds it: arbitrary IFPs handed to a receiving
/// `T38Terminal` must give an error, never a crash, and an IFP SpanDSP accepts has exactly
/// the length our `ifp_len` (used to cut FEC repairs) measures. The first octet picks the
/// T.38 version (0–3); the terminal writes its TIFF in `dir`.
pub fn ifp(data: &[u8], dir: &Path) {
    let Some((&version, rest)) = data.split_first() else {
        return;
    };
    let version = version % 4;
    let t38 = T38Config {
        version,
        ..T38Config::default()
    };
    let mut terminal = T38Terminal::new(
        Role::Answering,
        Direction::Receive {
            tiff: dir.join("rx.tif"),
        },
        &T30Config::default(),
        &t38,
    )
    .expect("terminal");
    let mut seq = 0u16;
    for (_, ifp) in datagrams(rest) {
        let accepted = terminal.rx_ifp(ifp, seq).is_ok();
        // SpanDSP reads the field count as one octet, not as a PER length: skip counts ≥ 128.
        let long_count = ifp.first().is_some_and(|b| b & 0xC0 == 0xC0)
            && ifp
                .get(1 + usize::from(ifp[0] & 0x20 != 0))
                .is_some_and(|c| *c >= 0x80);
        if accepted && !long_count {
            assert_eq!(ifp_len(ifp, version), Some(ifp.len()), "{ifp:02x?}");
        }
        seq = seq.wrapping_add(1);
        terminal.advance(TICK_SAMPLES);
    }
}
