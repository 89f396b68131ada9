//! Fuzzes SpanDSP's IFP parser (T.38 §7) as our receiver feeds it, and checks our `ifp_len`
//! against it; the body is `ifp` in `fuzz/bodies/media.rs`, shared with the stable smoke run
//! in `media/tests/fuzz_smoke.rs`.
//!
//! The first octet picks the T.38 version (0–3); then each IFP is prefixed with a length octet.
#![no_main]

#[path = "../bodies/media.rs"]
#[allow(dead_code)] // each target uses one body
mod bodies;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("fuzz-ifp-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    bodies::ifp(data, &dir);
});
