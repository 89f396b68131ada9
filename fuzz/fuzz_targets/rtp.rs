//! Arbitrary datagrams through RTP decoding (RFC 3550), the receiver, RFC 4733 event
//! decoding and the playout buffer: nothing may panic, and a packet that decodes must
//! re-encode to exactly as many bytes.
//!
//! The input is also cut into a stream of datagrams (each prefixed by a length byte) so that
//! sequence extension, SSRC changes, duplicates and resyncs are reached, not only one packet.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use media::playout::{Frame, PlayoutBuffer, PlayoutConfig, FRAME_SAMPLES};
use media::rtp::{Payload, PayloadMap, Received, RtpPacket, RtpReceiver};
use media::rtp_event::{EventReceiver, TelephoneEvent};

fuzz_target!(|data: &[u8]| {
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
    let mut rest = data;
    let mut i = 0u32;
    while let Some((&len, tail)) = rest.split_first() {
        let (datagram, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        // Arrival times move on by 0–15 ms, so frames are due at varying points.
        let now = start + Duration::from_millis(u64::from(i) * 20 + u64::from(len % 16));
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
        i += 1;
    }
});
