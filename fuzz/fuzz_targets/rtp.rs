//! Arbitrary datagrams through RTP decoding (RFC 3550), the receiver, RFC 4733 event
//! decoding and the playout buffer; the body is `rtp` in `fuzz/bodies/media.rs`, shared with
//! the stable smoke run in `media/tests/fuzz_smoke.rs`.
#![no_main]

#[path = "../bodies/media.rs"]
#[allow(dead_code)] // each target uses one body
mod bodies;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bodies::rtp(data);
});
