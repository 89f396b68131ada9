//! G.711 against SpanDSP, the reference: every 16-bit input and every code byte.

use media::g711::{self, decode_frame, encode_frame, Law};

#[test]
fn ulaw_encode_matches_spandsp_for_every_sample() {
    for s in i16::MIN..=i16::MAX {
        assert_eq!(
            g711::linear_to_ulaw(s),
            spandsp::g711::linear_to_ulaw(s),
            "µ-law encode of {s}"
        );
    }
}

#[test]
fn alaw_encode_matches_spandsp_for_every_sample() {
    for s in i16::MIN..=i16::MAX {
        assert_eq!(
            g711::linear_to_alaw(s),
            spandsp::g711::linear_to_alaw(s),
            "A-law encode of {s}"
        );
    }
}

#[test]
fn decode_matches_spandsp_for_every_code() {
    for c in 0..=u8::MAX {
        assert_eq!(
            g711::ulaw_to_linear(c),
            spandsp::g711::ulaw_to_linear(c),
            "µ-law {c:#04x}"
        );
        assert_eq!(
            g711::alaw_to_linear(c),
            spandsp::g711::alaw_to_linear(c),
            "A-law {c:#04x}"
        );
    }
}

#[test]
fn frame_functions_agree_with_the_sample_functions() {
    let samples: Vec<i16> = (0..1000)
        .map(|i| ((i * 7919) % 65536 - 32768) as i16)
        .collect();
    for law in [Law::Ulaw, Law::Alaw] {
        let mut codes = vec![0u8; samples.len()];
        assert_eq!(encode_frame(law, &samples, &mut codes), samples.len());
        assert!(codes
            .iter()
            .zip(&samples)
            .all(|(&c, &s)| c == law.encode(s)));
        assert_eq!(g711::encode_to_vec(law, &samples), codes);
        let mut back = vec![0i16; codes.len()];
        assert_eq!(decode_frame(law, &codes, &mut back), codes.len());
        assert!(back.iter().zip(&codes).all(|(&s, &c)| s == law.decode(c)));
    }
}

#[test]
fn frame_functions_stop_at_the_shorter_slice() {
    let mut out = [0u8; 3];
    assert_eq!(encode_frame(Law::Alaw, &[1, 2, 3, 4, 5], &mut out), 3);
    let mut pcm = [0i16; 8];
    assert_eq!(decode_frame(Law::Ulaw, &[0xFF, 0x7F], &mut pcm), 2);
    assert_eq!(&pcm[2..], &[0; 6]);
}

#[test]
fn decoding_then_encoding_is_the_identity_on_codes() {
    // Every code is a reconstruction level, so it must survive a round trip; A-law has no
    // second zero, µ-law's negative zero (0x7F) comes back as positive zero (0xFF).
    for c in 0..=u8::MAX {
        assert_eq!(Law::Alaw.encode(Law::Alaw.decode(c)), c);
        let expected = if c == 0x7F { 0xFF } else { c };
        assert_eq!(Law::Ulaw.encode(Law::Ulaw.decode(c)), expected);
    }
}

#[test]
fn static_payload_types_and_names() {
    assert_eq!(Law::Ulaw.static_payload_type(), 0);
    assert_eq!(Law::Alaw.static_payload_type(), 8);
    assert_eq!(Law::Ulaw.encoding_name(), "PCMU");
    assert_eq!(Law::Alaw.encoding_name(), "PCMA");
}
