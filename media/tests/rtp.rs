//! RTP packets, sequence and timestamp extension, payload mapping, the sender and the
//! receiver.

use media::g711::Law;
use media::rtp::{
    HeaderExtension, Payload, PayloadMap, Received, RtpHeader, RtpPacket, RtpReceiver, RtpSender,
    SenderConfig, SequenceUnwrapper, StreamEvent, StreamIds, TimestampUnwrapper,
};
use media::Error;
use test_support::SeededRng;

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

fn malformed(bytes: &[u8]) -> &'static str {
    match RtpPacket::decode(bytes) {
        Err(Error::MalformedRtp(why)) => why,
        other => panic!("expected MalformedRtp, got {other:?}"),
    }
}

// ---- packet format ----

#[test]
fn decodes_a_plain_packet_byte_by_byte() {
    let bytes = [
        0x80, 0x88, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0xD5, 0xD5,
    ];
    let p = RtpPacket::decode(&bytes).unwrap();
    assert!(p.header.marker);
    assert_eq!(p.header.payload_type, 8);
    assert_eq!(p.header.sequence, 0x1234);
    assert_eq!(p.header.timestamp, 0xDEAD_BEEF);
    assert_eq!(p.header.ssrc, 0x0102_0304);
    assert!(p.header.csrcs.is_empty() && p.extension.is_none());
    assert_eq!(p.payload, &[0xD5, 0xD5]);
    assert_eq!(p.encode().unwrap(), bytes);
}

#[test]
fn csrcs_extension_and_padding_round_trip() {
    let ext = [1, 2, 3, 4, 5, 6, 7, 8];
    let original = RtpPacket {
        header: RtpHeader {
            marker: true,
            payload_type: 0,
            sequence: 65535,
            timestamp: u32::MAX,
            ssrc: 42,
            csrcs: vec![7, 8, 9],
        },
        extension: Some(HeaderExtension {
            profile: 0xBEDE,
            data: &ext,
        }),
        payload: &[0xFF; 160],
        padding: 4,
    };
    let bytes = original.encode().unwrap();
    assert_eq!(bytes.len(), original.encoded_len());
    assert_eq!(bytes.len(), 12 + 12 + 4 + 8 + 160 + 4);
    assert_eq!(bytes[0], 0x80 | 0x20 | 0x10 | 3);
    assert_eq!(*bytes.last().unwrap(), 4);
    assert_eq!(RtpPacket::decode(&bytes).unwrap(), original);
}

#[test]
fn malformed_packets_are_refused_with_a_reason() {
    let good = packet(0, 1, 2, 3, &[0xFF; 4]);
    assert_eq!(malformed(&[]), "shorter than the 12-byte fixed header");
    assert_eq!(
        malformed(&good[..11]),
        "shorter than the 12-byte fixed header"
    );

    let mut v1 = good.clone();
    v1[0] = 0x40;
    assert_eq!(malformed(&v1), "version is not 2");

    let mut csrc = good.clone();
    csrc[0] |= 2; // two CSRCs need 8 bytes; only 4 follow
    assert_eq!(malformed(&csrc), "CSRC list runs past the end");

    let mut ext_header = packet(0, 1, 2, 3, &[0xBE, 0xDE]);
    ext_header[0] |= 0x10; // extension header needs 4 bytes; only 2 follow
    assert_eq!(malformed(&ext_header), "extension header runs past the end");

    let mut ext_len = packet(0, 1, 2, 3, &[0xBE, 0xDE, 0x00, 0x05, 0, 0, 0, 0]);
    ext_len[0] |= 0x10; // says 5 words, has 1
    assert_eq!(malformed(&ext_len), "extension length runs past the end");

    let mut pad_zero = good.clone();
    pad_zero[0] |= 0x20;
    *pad_zero.last_mut().unwrap() = 0;
    assert_eq!(malformed(&pad_zero), "padding length is zero");

    let mut pad_long = good.clone();
    pad_long[0] |= 0x20;
    *pad_long.last_mut().unwrap() = 5; // 4 payload bytes only
    assert_eq!(malformed(&pad_long), "padding longer than the payload");

    let mut pad_all = good;
    pad_all[0] |= 0x20;
    *pad_all.last_mut().unwrap() = 4; // padding may eat the whole payload
    assert_eq!(RtpPacket::decode(&pad_all).unwrap().payload, &[] as &[u8]);
}

#[test]
fn encoding_refuses_what_the_format_cannot_carry() {
    let bytes = packet(0, 1, 2, 3, &[1]);
    let mut p = RtpPacket::decode(&bytes).unwrap();
    p.header.csrcs = vec![0; 16];
    assert_eq!(p.encode(), Err(Error::MalformedRtp("more than 15 CSRCs")));
    p.header.csrcs.clear();
    p.header.payload_type = 128;
    assert!(p.encode().is_err());
    p.header.payload_type = 0;
    p.extension = Some(HeaderExtension {
        profile: 1,
        data: &[1, 2, 3],
    });
    assert!(p.encode().is_err());
}

#[test]
fn truncated_and_random_bytes_never_panic() {
    let ext = [9u8; 12];
    let full = RtpPacket {
        header: RtpHeader {
            marker: true,
            payload_type: 101,
            sequence: 7,
            timestamp: 8,
            ssrc: 9,
            csrcs: vec![1, 2],
        },
        extension: Some(HeaderExtension {
            profile: 1,
            data: &ext,
        }),
        payload: &[1, 2, 3, 4, 5],
        padding: 3,
    }
    .encode()
    .unwrap();
    for n in 0..=full.len() {
        let _ = RtpPacket::decode(&full[..n]);
    }
    let mut rng = SeededRng::new(4733);
    let mut receiver = RtpReceiver::new(PayloadMap::static_defaults());
    for _ in 0..20_000 {
        let len = (rng.next_u64() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if let Some(b) = bytes.first_mut() {
            *b = (*b & 0x3F) | 0x80; // mostly version 2, to get past the first check
        }
        if let Ok(p) = RtpPacket::decode(&bytes) {
            assert!(p.payload.len() <= bytes.len());
            assert_eq!(
                p.encode().unwrap().len(),
                bytes.len(),
                "re-encodes to the same size"
            );
        }
        let _ = receiver.receive(&bytes);
    }
}

// ---- sequence and timestamp extension ----

#[test]
fn sequence_numbers_extend_across_the_wrap_and_keep_reordered_ones_in_place() {
    let mut u = SequenceUnwrapper::new();
    let first = u.extend(65534);
    assert_eq!(u.extend(65535), first + 1);
    assert_eq!(u.extend(1), first + 3, "0 was skipped, 1 follows");
    assert_eq!(
        u.extend(0),
        first + 2,
        "late 0 lands between, after the wrap"
    );
    assert_eq!(
        u.extend(65533),
        first - 1,
        "older than the first, still placed"
    );
    assert_eq!(u.highest(), Some(first + 3));
    // A long run through several wraps.
    let mut seq = 1u16;
    let mut expected = first + 3;
    for _ in 0..200_000 {
        seq = seq.wrapping_add(1);
        expected += 1;
        assert_eq!(u.extend(u32::from(seq)), expected);
    }
}

#[test]
fn timestamps_extend_across_the_32_bit_wrap() {
    let mut u = TimestampUnwrapper::new();
    let a = u.extend(u32::MAX - 159);
    assert_eq!(u.extend(0), a + 160);
    assert_eq!(u.extend(160), a + 320);
    assert_eq!(u.extend(u32::MAX - 159), a, "a duplicate keeps its place");
    u.reset();
    assert_eq!(u.highest(), None);
}

// ---- payload map and receiver ----

#[test]
fn payload_types_come_from_the_sdp() {
    let mut map = PayloadMap::new();
    assert_eq!(map.get(0), Payload::Unknown, "nothing is assumed");
    assert_eq!(
        map.insert_rtpmap(8, "PCMA", 8000),
        Ok(Payload::G711(Law::Alaw))
    );
    assert_eq!(
        map.insert_rtpmap(0, "pcmu", 8000),
        Ok(Payload::G711(Law::Ulaw))
    );
    assert_eq!(
        map.insert_rtpmap(96, "telephone-event", 8000),
        Ok(Payload::Event)
    );
    assert_eq!(map.insert_rtpmap(13, "CN", 8000), Ok(Payload::ComfortNoise));
    assert_eq!(
        map.insert_rtpmap(97, "telephone-event", 16000),
        Ok(Payload::Unknown)
    );
    assert_eq!(map.insert_rtpmap(18, "G729", 8000), Ok(Payload::Unknown));
    assert_eq!(
        map.insert(128, Payload::Event),
        Err(Error::BadPayloadType(128))
    );
    assert_eq!(map.get(96), Payload::Event);
    assert_eq!(map.get(101), Payload::Unknown);
    assert_eq!(map.get(200), Payload::Unknown);
    assert_eq!(map.payload_type_of(Payload::Event), Some(96));
    assert_eq!(map.payload_type_of(Payload::G711(Law::Alaw)), Some(8));

    let mut other = PayloadMap::static_defaults();
    other.insert(101, Payload::Event).unwrap();
    assert_eq!(other.get(101), Payload::Event);
    assert_eq!(other.get(96), Payload::Unknown);
}

#[test]
fn receiver_sorts_payloads_and_counts_what_it_ignores() {
    let mut map = PayloadMap::static_defaults();
    map.insert(101, Payload::Event).unwrap();
    let mut rx = RtpReceiver::new(map);
    assert!(
        matches!(rx.receive(&packet(0, 1, 0, 5, &[0xFF; 160])), Ok(Received::Audio(a)) if a.law == Law::Ulaw)
    );
    assert!(matches!(
        rx.receive(&packet(101, 2, 160, 5, &[36, 10, 0, 160])),
        Ok(Received::Event(_))
    ));
    assert_eq!(
        rx.receive(&packet(13, 3, 320, 5, &[40])),
        Ok(Received::ComfortNoise)
    );
    assert_eq!(
        rx.receive(&packet(96, 4, 480, 5, &[1])),
        Ok(Received::Unknown { payload_type: 96 })
    );
    assert!(rx.receive(&[0x80, 0]).is_err());
    let s = rx.stats();
    assert_eq!(
        (
            s.datagrams,
            s.audio,
            s.events,
            s.comfort_noise,
            s.unknown_payload,
            s.malformed
        ),
        (5, 1, 1, 1, 1, 1)
    );
}

#[test]
fn a_law_switch_mid_stream_decodes_each_packet_with_its_own_law() {
    let mut rx = RtpReceiver::new(PayloadMap::static_defaults());
    let tone: Vec<i16> = (0..160)
        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
        .collect();
    let mut laws = Vec::new();
    for (i, law) in [Law::Ulaw, Law::Alaw, Law::Ulaw, Law::Alaw]
        .into_iter()
        .enumerate()
    {
        let payload = media::g711::encode_to_vec(law, &tone);
        let bytes = packet(
            law.static_payload_type(),
            i as u16,
            160 * i as u32,
            1,
            &payload,
        );
        let Ok(Received::Audio(audio)) = rx.receive(&bytes) else {
            panic!("audio expected")
        };
        let decoded: Vec<i16> = audio.payload.iter().map(|&c| audio.law.decode(c)).collect();
        let reference: Vec<i16> = tone.iter().map(|&s| law.decode(law.encode(s))).collect();
        assert_eq!(decoded, reference);
        laws.push(audio.law);
    }
    assert_eq!(laws, [Law::Ulaw, Law::Alaw, Law::Ulaw, Law::Alaw]);
}

#[test]
fn packets_of_10_to_40_ms_are_accepted() {
    let mut rx = RtpReceiver::new(PayloadMap::static_defaults());
    let mut ts = 0u32;
    for (seq, samples) in [80usize, 160, 240, 320].into_iter().enumerate() {
        let bytes = packet(8, seq as u16, ts, 1, &vec![0xD5; samples]);
        let Ok(Received::Audio(a)) = rx.receive(&bytes) else {
            panic!("audio expected")
        };
        assert_eq!(a.payload.len(), samples);
        assert_eq!(
            a.timestamp - u64::from(ts),
            1 << 32,
            "first timestamp lands in cycle 1"
        );
        ts += samples as u32;
    }
}

#[test]
fn an_ssrc_change_is_reported_and_restarts_the_tracking() {
    let mut rx = RtpReceiver::new(PayloadMap::static_defaults());
    let (p1, p2, p3) = (
        packet(8, 65535, 1000, 0xA, &[0xD5]),
        packet(8, 0, 1160, 0xA, &[0xD5]),
        packet(8, 30_000, 9, 0xB, &[0xD5]),
    );
    let Ok(Received::Audio(a)) = rx.receive(&p1) else {
        panic!()
    };
    assert_eq!(a.seq, 65536 + 65535);
    assert_eq!(rx.poll_event(), Some(StreamEvent::Started { ssrc: 0xA }));
    let Ok(Received::Audio(b)) = rx.receive(&p2) else {
        panic!()
    };
    assert_eq!(b.seq, a.seq + 1, "same stream: the wrap is followed");
    assert_eq!(rx.poll_event(), None);

    // New source: its numbers start over instead of being read as a huge jump.
    let Ok(Received::Audio(c)) = rx.receive(&p3) else {
        panic!()
    };
    assert_eq!(
        (c.seq, c.timestamp, c.ssrc),
        (65536 + 30_000, (1 << 32) + 9, 0xB)
    );
    assert_eq!(
        rx.poll_event(),
        Some(StreamEvent::SsrcChanged { old: 0xA, new: 0xB })
    );
    assert_eq!(rx.ssrc(), Some(0xB));
    assert_eq!(rx.stats().ssrc_changes, 1);
}

// ---- sender ----

fn sent(sender: &mut RtpSender) -> Vec<RtpPacket<'static>> {
    let mut out = Vec::new();
    while let Some(bytes) = sender.poll_transmit() {
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        out.push(RtpPacket::decode(bytes).unwrap());
    }
    out
}

#[test]
fn sender_packetises_at_ptime_with_consecutive_numbers_across_the_wrap() {
    let ids = StreamIds {
        ssrc: 0x1234_5678,
        sequence: 65534,
        timestamp: u32::MAX - 200,
    };
    let mut sender = RtpSender::new(SenderConfig::new(Law::Alaw, ids)).unwrap();
    assert_eq!((sender.ptime_ms(), sender.samples_per_packet()), (20, 160));
    let audio: Vec<i16> = (0..800).map(|i| (i * 37 % 2000) as i16 - 1000).collect();
    // Pushed in awkward pieces, as a caller with 10 ms or odd-sized buffers would.
    for chunk in audio.chunks(70) {
        sender.push_audio(chunk);
    }
    let packets = sent(&mut sender);
    assert_eq!(packets.len(), 5);
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.header.marker, i == 0, "marker on the first packet only");
        assert_eq!(p.header.payload_type, 8);
        assert_eq!(p.header.ssrc, 0x1234_5678);
        assert_eq!(p.header.sequence, 65534u16.wrapping_add(i as u16));
        assert_eq!(
            p.header.timestamp,
            (u32::MAX - 200).wrapping_add(160 * i as u32)
        );
        let expected: Vec<u8> = audio[160 * i..160 * (i + 1)]
            .iter()
            .map(|&s| Law::Alaw.encode(s))
            .collect();
        assert_eq!(p.payload, expected.as_slice());
    }
    assert_eq!(sender.stats().packets, 5);
    assert_eq!(sender.stats().samples, 800);
}

#[test]
fn ptime_is_capped_by_maxptime_and_checked() {
    let ids = StreamIds::from_seed(1);
    let mut config = SenderConfig::new(Law::Ulaw, ids);
    config.ptime_ms = 40;
    assert_eq!(RtpSender::new(config).unwrap().samples_per_packet(), 320);
    config.maxptime_ms = Some(30);
    let mut sender = RtpSender::new(config).unwrap();
    assert_eq!((sender.ptime_ms(), sender.samples_per_packet()), (30, 240));
    sender.push_audio(&[0; 480]);
    let packets = sent(&mut sender);
    assert_eq!(packets.len(), 2);
    assert_eq!(
        packets[1]
            .header
            .timestamp
            .wrapping_sub(packets[0].header.timestamp),
        240
    );
    config.ptime_ms = 10;
    assert_eq!(RtpSender::new(config).unwrap().samples_per_packet(), 80);
    config.ptime_ms = 0;
    assert_eq!(RtpSender::new(config).unwrap_err(), Error::BadPtime(0));
    config.ptime_ms = 300;
    config.maxptime_ms = None;
    assert_eq!(RtpSender::new(config).unwrap_err(), Error::BadPtime(300));
    config.ptime_ms = 20;
    config.payload_type = 200;
    assert_eq!(
        RtpSender::new(config).unwrap_err(),
        Error::BadPayloadType(200)
    );
}

#[test]
fn stream_ids_come_from_the_callers_seed() {
    assert_eq!(StreamIds::from_seed(7), StreamIds::from_seed(7));
    assert_ne!(StreamIds::from_seed(7), StreamIds::from_seed(8));
    let ids: Vec<u32> = (0..100).map(|s| StreamIds::from_seed(s).ssrc).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}
