//! Arbitrary bytes as an Event Socket client's stream (FreeSWITCH `mod_event_socket`
//! inbound framing): the decoder split two ways, the per-connection session before and
//! after `auth`, the `originate`/`show` argument parsers, and event encodings. The body is
//! shared with the stable smoke test `fs-compat/tests/fuzz_smoke.rs`.

#![no_main]

#[path = "../../fs-compat/tests/fuzz_body/mod.rs"]
mod body;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| body::esl(data));
