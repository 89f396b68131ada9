//! Arbitrary bytes through the SDP parser (RFC 4566) and the fax offer/answer (RFC 3264,
//! T.38 Annex D): nothing may panic, a parsed description must be written back to text that
//! parses to the same value, and an answer always keeps every m-line and accepts one stream.
//!
//! Seed corpus: `sip/tests/fixtures/*.sdp`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::sdp::{
    accept_answer, Capabilities, LocalSdp, OfferMedia, Policy, Preference, SessionDescription,
};

fuzz_target!(|data: &[u8]| {
    let Ok(sd) = SessionDescription::parse(data) else {
        return;
    };
    let again = SessionDescription::parse(&sd.to_bytes()).expect("a written description parses");
    assert_eq!(again, sd);
    for m in &sd.media {
        let _ = (m.codecs(), m.t38(), m.ptime(), m.direction());
    }
    let caps = Capabilities::new("192.0.2.1".parse().unwrap(), 4000, 4002);
    for prefer in [Preference::Audio, Preference::Image] {
        let policy = Policy {
            prefer,
            ..Policy::default()
        };
        let mut local = LocalSdp::new(1, 1);
        if let Ok(answer) = local.answer(&sd, &caps, &policy) {
            assert_eq!(answer.sdp.media.len(), sd.media.len());
            assert!(answer.sdp.media.iter().any(|m| m.port != 0));
            let refresh = local
                .answer(&sd, &caps, &policy)
                .expect("the same offer is answered again");
            assert_eq!(refresh.sdp.to_bytes(), answer.sdp.to_bytes());
        }
    }
    let ours = LocalSdp::new(1, 1).offer(&caps, OfferMedia::AudioAndT38);
    let _ = accept_answer(&ours, &sd, &caps);
});
