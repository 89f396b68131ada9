//! RFC 4733 telephone-event payloads and the RFC 4734 fax tones, alone and through the RTP
//! receiver.

use media::rtp::{PayloadMap, Received, RtpHeader, RtpPacket, RtpReceiver};
use media::rtp_event::{EventReceiver, TelephoneEvent, ToneEvent};
use media::Error;

fn packet(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    RtpPacket {
        header: RtpHeader {
            marker: false,
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc,
            csrcs: Vec::new(),
        },
        extension: None,
        payload,
        padding: 0,
    }
    .encode()
    .unwrap()
}

fn event(code: u8, end: bool, duration: u16) -> [u8; 4] {
    TelephoneEvent {
        event: code,
        end,
        volume: 10,
        duration,
    }
    .encode()
}

#[test]
fn event_blocks_decode_and_encode() {
    let e = TelephoneEvent::decode(&[36, 0x8A, 0x03, 0x20]).unwrap();
    assert_eq!(
        e,
        TelephoneEvent {
            event: 36,
            end: true,
            volume: 10,
            duration: 800
        }
    );
    assert_eq!(e.encode(), [36, 0x8A, 0x03, 0x20]);
    let reserved_bit = TelephoneEvent::decode(&[5, 0x40 | 0x3F, 0, 1]).unwrap();
    assert_eq!((reserved_bit.end, reserved_bit.volume), (false, 63));
    assert!(reserved_bit.is_dtmf());
    assert_eq!(
        TelephoneEvent::decode(&[1, 2, 3]),
        Err(Error::MalformedTelephoneEvent("shorter than 4 bytes"))
    );
    assert!(TelephoneEvent::decode_all(&[]).is_err());
    assert!(TelephoneEvent::decode_all(&[1, 2, 3, 4, 5]).is_err());
    assert_eq!(
        TelephoneEvent::decode_all(&[32, 0, 0, 8, 33, 0, 0, 9])
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn fax_event_codes_follow_rfc_4734() {
    let expected = [
        (32, ToneEvent::Ans),
        (33, ToneEvent::AnsPhaseReversed),
        (34, ToneEvent::AnsAm),
        (35, ToneEvent::AnsAmPhaseReversed),
        (36, ToneEvent::Cng),
        (54, ToneEvent::V21Preamble),
    ];
    for (code, tone) in expected {
        assert_eq!(ToneEvent::from_code(code), Some(tone));
        assert_eq!(tone.code(), code);
    }
    let fax_codes: Vec<u8> = (0..=255)
        .filter(|&c| ToneEvent::from_code(c).is_some())
        .collect();
    assert_eq!(fax_codes, [32, 33, 34, 35, 36, 54]);
    assert!(ToneEvent::Ans.is_answer_tone() && !ToneEvent::Cng.is_answer_tone());
}

#[test]
fn a_cng_burst_is_reported_once_despite_repeats_and_three_end_packets() {
    let mut rx = EventReceiver::new();
    // A relay gateway's CNG: 0.5 s of tone reported every 50 ms, all with the start's
    // timestamp, then the end packet three times (RFC 4733 §2.5.1.4).
    let start = 80_000u64;
    for duration in (400..=4000).step_by(400) {
        rx.handle(start, &event(36, false, duration)).unwrap();
    }
    for _ in 0..3 {
        rx.handle(start, &event(36, true, 4000)).unwrap();
    }
    assert_eq!(rx.poll_event(), Some(ToneEvent::Cng));
    assert_eq!(rx.poll_event(), None);
    // The next burst, 3 s later, is a new event.
    rx.handle(start + 28_000, &event(36, false, 400)).unwrap();
    assert_eq!(rx.poll_event(), Some(ToneEvent::Cng));
    let s = rx.stats();
    assert_eq!((s.packets, s.fax_tones, s.repeats), (14, 2, 12));
}

#[test]
fn dtmf_and_other_events_are_counted_and_dropped() {
    let mut rx = EventReceiver::new();
    rx.handle(100, &event(5, false, 400)).unwrap();
    rx.handle(100, &event(5, true, 800)).unwrap();
    rx.handle(900, &event(11, true, 800)).unwrap();
    rx.handle(2000, &event(70, false, 400)).unwrap(); // ringing tone
    rx.handle(3000, &event(39, false, 400)).unwrap(); // V.21 channel 2 "0" bit
    assert_eq!(rx.poll_event(), None);
    let s = rx.stats();
    assert_eq!((s.dtmf, s.other, s.fax_tones, s.repeats), (2, 2, 0, 1));
    assert!(rx.handle(4000, &[1, 2]).is_err());
    assert_eq!(rx.stats().malformed, 1);
}

#[test]
fn answer_tones_and_the_v21_preamble_arrive_through_the_receiver() {
    let mut map = PayloadMap::new();
    map.insert_rtpmap(96, "telephone-event", 8000).unwrap();
    map.insert_rtpmap(8, "PCMA", 8000).unwrap();
    let mut rtp = RtpReceiver::new(map);
    let mut events = EventReceiver::new();
    let stream = [
        packet(96, 10, 8000, 1, &event(32, false, 400)),
        packet(96, 11, 8000, 1, &event(32, false, 800)),
        packet(96, 12, 8000, 1, &event(32, true, 1200)),
        packet(96, 13, 8000, 1, &event(32, true, 1200)),
        // Two events packed in one packet: ANSam then /ANSam, back to back.
        packet(
            96,
            14,
            20_000,
            1,
            &[event(34, true, 800), event(35, false, 400)].concat(),
        ),
        packet(96, 15, 40_000, 1, &event(54, false, 160)),
        packet(96, 16, 40_000, 1, &event(54, true, 320)),
    ];
    for bytes in &stream {
        if let Ok(Received::Event(e)) = rtp.receive(bytes) {
            events.handle_packet(&e).unwrap();
        }
    }
    let tones: Vec<ToneEvent> = std::iter::from_fn(|| events.poll_event()).collect();
    assert_eq!(
        tones,
        [
            ToneEvent::Ans,
            ToneEvent::AnsAm,
            ToneEvent::AnsAmPhaseReversed,
            ToneEvent::V21Preamble
        ]
    );
}
