//! Arbitrary bytes through the SIP message layer (RFC 3261 §7, §18.3): datagram and stream
//! framing, the RFC 4475 validator, the salvaged 400, and every typed accessor. Nothing may
//! panic, and a message that parses must be written back to bytes that parse to the same
//! message, and again to the same bytes.
//!
//! Seed corpus: `shared/testdata/sip/rfc4475/*.dat`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::msg::{
    bad_request_for, check_request, check_response, parse_datagram, parse_stream, Framed, Message,
    UasPolicy,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(Framed::Complete { consumed, .. }) = parse_stream(data) {
        assert!(consumed <= data.len());
    }
    let message = match parse_datagram(data) {
        Ok(m) => m,
        Err(_) => {
            let _ = bad_request_for(data, "Bad Request", Some("tag"));
            return;
        }
    };
    let h = message.headers();
    let _ = (
        h.call_id(),
        h.cseq(),
        h.vias(),
        h.from(),
        h.to(),
        h.contacts(),
    );
    let _ = (
        h.routes(),
        h.record_routes(),
        h.max_forwards(),
        h.content_type(),
        h.expires(),
    );
    let _ = (
        h.session_expires(),
        h.min_se(),
        h.allow(),
        h.accept(),
        h.require(),
    );
    match &message {
        Message::Request(r) => {
            if let Err(rejection) = check_request(r, &UasPolicy::default()) {
                let _ = rejection.response(r, Some("tag")).to_bytes();
            }
            let _ = check_request(r, &UasPolicy::permissive());
        }
        Message::Response(r) => {
            let _ = check_response(r);
        }
    }
    let wire = message.to_bytes();
    let again = parse_datagram(&wire).expect("a written message parses");
    assert_eq!(again, message);
    assert_eq!(again.to_bytes(), wire);
});
