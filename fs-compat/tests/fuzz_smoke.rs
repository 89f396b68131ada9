//! Fuzz smoke run on stable: the body of the `esl` cargo-fuzz target (`fuzz_body`) fed with
//! a few thousand deterministic inputs: seeded random bytes, and mutations of real client
//! streams (gofaxserver's originate, greenswitch's and eslrs's framing).

mod fuzz_body;

use test_support::SeededRng;

const SEEDS: &[&[u8]] = &[
    b"auth ClueCon\n\napi status\n\nbgapi version\nJob-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621\n\n",
    b"auth ClueCon\r\n\r\nevent plain CHANNEL_CALLSTATE CUSTOM spandsp::txfaxnegociateresult spandsp::txfaxpageresult spandsp::txfaxresult\r\n\r\n",
    b"filter Unique-ID 3f0c2b6e-1111-4c1e-9a57-000000000001\n\nfilter delete Unique-ID\n\nnixevent ALL\n\nnoevents\n\n",
    b"api originate {ignore_early_media='true',origination_uuid='3f0c',fax_ident='+1 555',fax_header='ACME'}sofia/gateway/up1/15551234,sofia/gateway/up2/1 &txfax(/tmp/f.tiff)\n\n",
    b"sendevent CUSTOM\nEvent-Subclass: x::y\nContent-Length: 5\n\nhelloapi db insert/fallback/1555/1700000000\n\n",
    b"api show channels as json\n\napi show calls count as xml\n\nlog debug\n\nfilter add Event-Name /^CHANNEL_.*$/i\n\nexit\n\n",
    b"myevents 3f0c json\n\nsendmsg abc\n\nuserauth a@b:c\n\n...\n\n",
];

fn random_bytes(rng: &mut SeededRng, max_len: u64) -> Vec<u8> {
    let n = rng.next_u64() % (max_len + 1);
    let alphabet = b"\r\n :/{}[],|'&()%+-abcdefzAPI";
    (0..n)
        .map(|_| {
            if rng.chance(0.5) {
                alphabet[(rng.next_u64() % alphabet.len() as u64) as usize]
            } else {
                rng.next_u64() as u8
            }
        })
        .collect()
}

fn mutate(rng: &mut SeededRng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.next_u64() % 4 {
        let len = out.len().max(1) as u64;
        let at = (rng.next_u64() % len) as usize;
        match rng.next_u64() % 5 {
            0 => {
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << (rng.next_u64() % 8);
                }
            }
            1 => out.truncate(at),
            2 => out.insert(
                at.min(out.len()),
                b"\n:{}'%/ "[(rng.next_u64() % 8) as usize],
            ),
            3 => {
                let end = (at + 1 + (rng.next_u64() % 24) as usize).min(out.len());
                let piece = out[at.min(end)..end].to_vec();
                out.splice(at.min(out.len())..at.min(out.len()), piece);
            }
            _ => {
                if at < out.len() {
                    out.remove(at);
                }
            }
        }
    }
    out
}

#[test]
fn esl_target_on_seeds_random_and_mutated_inputs() {
    let mut rng = SeededRng::new(0x0e51);
    for seed in SEEDS {
        fuzz_body::esl(seed);
    }
    for _ in 0..1500 {
        fuzz_body::esl(&random_bytes(&mut rng, 400));
    }
    for i in 0..3000 {
        let seed = SEEDS[i % SEEDS.len()];
        fuzz_body::esl(&mutate(&mut rng, seed));
    }
    // Oversized heads and bodies are refused, not buffered forever.
    fuzz_body::esl(&vec![b'a'; fs_compat::esl::codec::MAX_HEAD + 10]);
    fuzz_body::esl(format!("x\nContent-Length: {}\n\n", usize::MAX).as_bytes());
}
