//! Fuzzes UDPTL decoding and the receiver (T.38 §9.1); the body is `udptl` in
//! `fuzz/bodies/media.rs`, shared with the stable smoke run in `media/tests/fuzz_smoke.rs`.
//!
//! Seed it with real UDPTL, e.g. the payloads of `shared/testdata/pcap/*.pcap`.
#![no_main]

#[path = "../bodies/media.rs"]
#[allow(dead_code)] // each target uses one body
mod bodies;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bodies::udptl(data);
});
