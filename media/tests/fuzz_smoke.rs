//! Fuzz smoke run on stable: the bodies of the `rtp`, `udptl` and `ifp` cargo-fuzz targets
//! (RFC 3550 RTP, ITU-T T.38 §9.1 UDPTL and T.38 §7 IFPs), shared with them through
//! `fuzz/bodies/media.rs`, fed with a few thousand deterministic inputs each: seeded random
//! bytes, mutations of valid streams our own senders produce, the real captures in
//! `shared/testdata/pcap`, and the crafted AST-2016-003 UDPTL payloads. Nothing may panic,
//! and each target's own assertions must hold.
//!
//! cargo-fuzz needs nightly, which CI does not have; this keeps the entry points exercised on
//! every `cargo test`.

#[path = "../../fuzz/bodies/media.rs"]
mod bodies;

use bodies::{ifp as ifp_target, rtp as rtp_target, udptl as udptl_target};
use media::g711::Law;
use media::rtp::{RtpSender, SenderConfig, StreamIds};
use media::udptl::{ErrorCorrection, SenderConfig as UdptlConfig, UdptlPacket, UdptlSender};
use test_support::{read_pcap_file, testdata_dir, SeededRng};

// ---------------------------------------------------------------------------------------
// Inputs

/// Joins datagrams into the targets' stream format: each prefixed by its length octet.
fn framed<'a>(datagrams: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for d in datagrams {
        let d = &d[..d.len().min(255)];
        out.push(d.len() as u8);
        out.extend_from_slice(d);
    }
    out
}

fn random_bytes(rng: &mut SeededRng, max_len: u64) -> Vec<u8> {
    let n = rng.next_u64() % (max_len + 1);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// One of a fuzzer's usual mutations: flip bits, overwrite, cut, insert, repeat a slice.
fn mutate(rng: &mut SeededRng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    let rounds = 1 + rng.next_u64() % 4;
    for _ in 0..rounds {
        let len = out.len().max(1) as u64;
        let at = (rng.next_u64() % len) as usize;
        match rng.next_u64() % 6 {
            0 => {
                if let Some(b) = out.get_mut(at) {
                    *b ^= 1 << (rng.next_u64() % 8);
                }
            }
            1 => {
                if let Some(b) = out.get_mut(at) {
                    *b = [0x00, 0xFF, 0x7F, 0x80, 0x01][(rng.next_u64() % 5) as usize];
                }
            }
            2 => out.truncate(at),
            3 => out.insert(at.min(out.len()), rng.next_u64() as u8),
            4 => {
                let end = (at + 1 + (rng.next_u64() % 16) as usize).min(out.len());
                let chunk = out.get(at..end).unwrap_or_default().to_vec();
                out.splice(at..at, chunk);
            }
            _ => {
                if let Some(b) = out.get_mut(at) {
                    *b = b.wrapping_add(1);
                }
            }
        }
    }
    out
}

fn pcap_payloads(name: &str) -> Vec<Vec<u8>> {
    let path = testdata_dir().join("pcap").join(name);
    let pcap = read_pcap_file(&path).expect("read capture");
    pcap.udp_datagrams()
        .into_iter()
        .map(|d| d.payload)
        .collect()
}

/// A valid G.711 RTP stream from our sender, with events mixed in.
fn rtp_seed_stream() -> Vec<Vec<u8>> {
    let mut sender = RtpSender::new(SenderConfig::new(Law::Ulaw, StreamIds::from_seed(3))).unwrap();
    let tone: Vec<i16> = (0..1600)
        .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
        .collect();
    sender.push_audio(&tone);
    let mut stream: Vec<Vec<u8>> = std::iter::from_fn(|| sender.poll_transmit()).collect();
    let mut event = stream[0].clone();
    event[1] = 101;
    event.truncate(12);
    event.extend_from_slice(&[0x20, 0x0A, 0x01, 0x40]); // CED, volume 10, 320 samples
    stream.insert(3, event);
    stream
}

/// A valid UDPTL stream from our sender, with redundancy or FEC.
fn udptl_seed_stream(ec: ErrorCorrection) -> Vec<Vec<u8>> {
    let mut sender = UdptlSender::new(UdptlConfig {
        error_correction: ec,
        ..UdptlConfig::default()
    });
    let ifps: [&[u8]; 5] = [
        &[0x02],
        &[0x06],
        &[0xC0, 0x01, 0x80, 0x00, 0x03, 0xFF, 0x13, 0xC8],
        &[0xC0, 0x01, 0x20, 0x00],
        &[0x00],
    ];
    for (i, ifp) in ifps.iter().cycle().take(20).enumerate() {
        sender.send_ifp(ifp, 1 + (i % 3 == 0) as u8).unwrap();
    }
    std::iter::from_fn(|| sender.poll_transmit()).collect()
}

// ---------------------------------------------------------------------------------------
// Runs

#[test]
fn rtp_target_survives_random_mutated_and_captured_input() {
    let mut rng = SeededRng::new(0xF022_0001);
    let captured = pcap_payloads("asterisk-testsuite_CARRIER_G711U_fax.pcap");
    assert!(captured.len() > 100, "the G.711 capture has RTP");
    let ours = rtp_seed_stream();
    let mut seeds: Vec<Vec<u8>> = ours.clone();
    seeds.extend(captured.iter().step_by(97).cloned());
    seeds.push(framed(ours.iter().map(Vec::as_slice)));
    seeds.push(framed(captured.iter().take(60).map(Vec::as_slice)));

    for seed in &seeds {
        rtp_target(seed);
    }
    for _ in 0..5000 {
        rtp_target(&random_bytes(&mut rng, 400));
    }
    for i in 0..10_000 {
        let seed = &seeds[i % seeds.len()];
        rtp_target(&mutate(&mut rng, seed));
    }
    // Every captured packet whole, as one input each.
    for payload in &captured {
        rtp_target(payload);
    }
}

#[test]
fn udptl_target_survives_random_mutated_and_captured_input() {
    let mut rng = SeededRng::new(0xF022_0002);
    let crash = pcap_payloads("asterisk-testsuite_ast-2016-003_crash.pcap");
    assert_eq!(crash.len(), 128, "the AST-2016-003 capture");
    let real = pcap_payloads("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap");
    let redundancy = udptl_seed_stream(ErrorCorrection::Redundancy { depth: 3 });
    let fec = udptl_seed_stream(ErrorCorrection::Fec {
        span: 3,
        entries: 3,
    });
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    seeds.extend(crash.iter().cloned());
    seeds.extend(redundancy.iter().cloned());
    seeds.extend(fec.iter().cloned());
    seeds.extend(real.iter().step_by(7).cloned());
    seeds.push(framed(crash.iter().map(Vec::as_slice)));
    seeds.push(framed(redundancy.iter().map(Vec::as_slice)));
    seeds.push(framed(fec.iter().map(Vec::as_slice)));

    for seed in &seeds {
        udptl_target(seed);
    }
    for _ in 0..5000 {
        udptl_target(&random_bytes(&mut rng, 400));
    }
    for i in 0..10_000 {
        let seed = &seeds[i % seeds.len()];
        udptl_target(&mutate(&mut rng, seed));
    }
}

#[test]
fn ifp_target_survives_random_mutated_and_captured_input() {
    let dir = tempfile_dir("fuzz-smoke-ifp");
    let mut rng = SeededRng::new(0xF022_0003);
    // The primaries of the crafted stream and of our own, as IFP streams for each version.
    let primaries = |datagrams: &[Vec<u8>]| -> Vec<Vec<u8>> {
        datagrams
            .iter()
            .filter_map(|d| UdptlPacket::decode(d).ok())
            .map(|p| p.primary)
            .collect()
    };
    let crash = primaries(&pcap_payloads("asterisk-testsuite_ast-2016-003_crash.pcap"));
    let ours = primaries(&udptl_seed_stream(ErrorCorrection::None));
    let mut seeds = Vec::new();
    for version in 0..4u8 {
        for set in [&crash, &ours] {
            let mut seed = vec![version];
            seed.extend(framed(set.iter().map(Vec::as_slice)));
            seeds.push(seed);
        }
    }
    for seed in &seeds {
        ifp_target(seed, &dir);
    }
    // Each input makes a SpanDSP terminal, so fewer inputs here than for the pure parsers.
    for _ in 0..400 {
        let mut input = vec![rng.next_u64() as u8];
        for _ in 0..20 {
            let ifp = random_bytes(&mut rng, 40);
            input.extend(framed([ifp.as_slice()]));
        }
        ifp_target(&input, &dir);
    }
    for i in 0..600 {
        ifp_target(&mutate(&mut rng, &seeds[i % seeds.len()]), &dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
