//! Fuzzes SpanDSP's IFP parser (T.38 §7) as our receiver feeds it: arbitrary bytes handed to a
//! receiving `T38Terminal` through `rx_ifp` must give an error, never a crash. Also checks our
//! own `ifp_len` (used to cut FEC repairs) against SpanDSP: an IFP SpanDSP accepts has exactly
//! the length `ifp_len` measures.
//!
//! The first octet picks the T.38 version (0–3); then each IFP is prefixed with a length octet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::udptl::ifp_len;
use spandsp::{Direction, Role, T30Config, T38Config, T38Terminal, TICK_SAMPLES};

fuzz_target!(|data: &[u8]| {
    let Some((&version, mut rest)) = data.split_first() else {
        return;
    };
    let version = version % 4;
    let dir = std::env::temp_dir().join(format!("fuzz-ifp-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let t38 = T38Config {
        version,
        ..T38Config::default()
    };
    let mut terminal = T38Terminal::new(
        Role::Answering,
        Direction::Receive {
            tiff: dir.join("rx.tif"),
        },
        &T30Config::default(),
        &t38,
    )
    .expect("terminal");
    let mut seq = 0u16;
    while let Some((&len, tail)) = rest.split_first() {
        let (ifp, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let accepted = terminal.rx_ifp(ifp, seq).is_ok();
        // SpanDSP reads the field count as one octet, not as a PER length: skip counts ≥ 128.
        let long_count = ifp.first().is_some_and(|b| b & 0xC0 == 0xC0)
            && ifp
                .get(1 + usize::from(ifp[0] & 0x20 != 0))
                .is_some_and(|c| *c >= 0x80);
        if accepted && !long_count {
            assert_eq!(ifp_len(ifp, version), Some(ifp.len()), "{ifp:02x?}");
        }
        seq = seq.wrapping_add(1);
        terminal.advance(TICK_SAMPLES);
    }
});
