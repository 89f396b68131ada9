//! The connect tone detector against the tones SpanDSP's own fax terminals send: CNG from a
//! caller, CED then the V.21 preamble of DIS from an answerer, nothing from silence or a
//! 1 kHz test tone.

use spandsp::{ConnectTone, Direction, FaxTerminal, Role, T30Config, ToneDetector};

/// What the detector hears in `seconds` of a lone terminal's transmit audio.
fn heard_from(role: Role, seconds: usize) -> Vec<ConnectTone> {
    let dir = tempfile::tempdir().unwrap();
    let direction = Direction::Receive {
        tiff: dir.path().join("rx.tif"),
    };
    let mut terminal = FaxTerminal::new(role, direction, &T30Config::default()).unwrap();
    let mut detector = ToneDetector::new().unwrap();
    let mut frame = [0i16; 160];
    let mut heard = Vec::new();
    for _ in 0..seconds * 50 {
        frame.fill(0);
        terminal.tx(&mut frame);
        detector.rx(&frame);
        while let Some(t) = detector.poll() {
            heard.push(t);
        }
    }
    heard
}

#[test]
fn a_caller_sends_cng() {
    let heard = heard_from(Role::Calling, 5);
    assert!(!heard.is_empty(), "no tone heard");
    assert!(heard.iter().all(|t| *t == ConnectTone::Cng), "{heard:?}");
}

#[test]
fn an_answerer_sends_ced_then_the_v21_preamble() {
    let heard = heard_from(Role::Answering, 6);
    assert_eq!(heard.first(), Some(&ConnectTone::Ced), "{heard:?}");
    assert!(heard.contains(&ConnectTone::V21Preamble), "{heard:?}");
    assert!(!heard.contains(&ConnectTone::Cng), "{heard:?}");
}

#[test]
fn silence_and_a_test_tone_are_not_fax() {
    let mut detector = ToneDetector::new().unwrap();
    let silence = [0i16; 160];
    let mut tone = [0i16; 160];
    for n in 0..500 {
        detector.rx(&silence);
        for (i, s) in tone.iter_mut().enumerate() {
            let t = (n * 160 + i) as f64 / 8000.0;
            *s = (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16;
        }
        detector.rx(&tone);
    }
    assert_eq!(detector.poll(), None);
}

#[test]
fn generated_tones_are_recognised() {
    use spandsp::{GeneratedTone, ToneGenerator};
    for (tone, expected) in [
        (GeneratedTone::Cng, ConnectTone::Cng),
        (GeneratedTone::Ced, ConnectTone::Ced),
        (GeneratedTone::AnsAmPhaseReversed, ConnectTone::Ced),
    ] {
        let mut generator = ToneGenerator::new(tone).unwrap();
        let mut detector = ToneDetector::new().unwrap();
        let mut frame = [0i16; 160];
        let mut heard = None;
        for _ in 0..200 {
            frame.fill(0);
            assert!(generator.tx(&mut frame) > 0 || heard.is_some());
            detector.rx(&frame);
            if let Some(t) = detector.poll() {
                heard.get_or_insert(t);
            }
        }
        assert_eq!(heard, Some(expected), "{tone:?}");
    }
}
