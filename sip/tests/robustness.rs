//! Real captured SIP, and seeded mutations of the RFC 4475 and SDP corpora: nothing panics,
//! and whatever parses is written back to something that parses to the same value (the
//! properties the fuzz targets check, run here on every `cargo test`).

use sip::msg::{check_request, check_response, parse_datagram, parse_stream, Message, UasPolicy};
use sip::sdp::{Capabilities, LocalSdp, Policy, SessionDescription};
use test_support::{read_pcap_file, testdata_dir, SeededRng};

fn corpus(dir: &std::path::Path, ext: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Bytes that matter to the SIP and SDP grammars, plus UTF-8 fragments.
const INTERESTING: &[u8] = b":;,\"<>\r\n \t%[]=/@?\\\xff\xc3\xa9\x00*0123456789";

fn mutate(rng: &mut SeededRng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    let n = 1 + (rng.next_u64() % 4) as usize;
    for _ in 0..n {
        let len = v.len().max(1);
        let at = (rng.next_u64() as usize) % len;
        let byte = INTERESTING[(rng.next_u64() as usize) % INTERESTING.len()];
        match rng.next_u64() % 5 {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = byte;
            }
            1 => v.insert(at.min(v.len()), byte),
            2 if !v.is_empty() => {
                let end = (at + 1 + (rng.next_u64() % 8) as usize).min(v.len());
                v.drain(at.min(v.len())..end);
            }
            3 => v.truncate(at),
            _ => {
                let src = (rng.next_u64() as usize) % len;
                let chunk: Vec<u8> = input.iter().skip(src).take(16).copied().collect();
                let at = at.min(v.len());
                v.splice(at..at, chunk);
            }
        }
    }
    v
}

fn check_sip(data: &[u8]) {
    let _ = parse_stream(data);
    if let Ok(m) = parse_datagram(data) {
        match &m {
            Message::Request(r) => {
                let _ = check_request(r, &UasPolicy::default());
            }
            Message::Response(r) => {
                let _ = check_response(r);
            }
        }
        let wire = m.to_bytes();
        let again = parse_datagram(&wire).unwrap_or_else(|e| {
            panic!(
                "reparse failed ({e}) for {:?}\nwritten as {:?}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&wire)
            )
        });
        assert_eq!(
            again,
            m,
            "round trip changed {:?}",
            String::from_utf8_lossy(data)
        );
    }
}

fn check_sdp(data: &[u8]) {
    if let Ok(sd) = SessionDescription::parse(data) {
        let again = SessionDescription::parse(&sd.to_bytes()).expect("reparse");
        assert_eq!(
            again,
            sd,
            "SDP round trip changed {:?}",
            String::from_utf8_lossy(data)
        );
        let caps = Capabilities::new("192.0.2.1".parse().unwrap(), 4000, 4002);
        if let Ok(a) = LocalSdp::new(1, 1).answer(&sd, &caps, &Policy::default()) {
            assert!(
                a.sdp.media.iter().any(|m| m.port != 0),
                "an answer always accepts a stream"
            );
            assert_eq!(
                a.sdp.media.len(),
                sd.media.len(),
                "an answer keeps every m-line"
            );
        }
    }
}

#[test]
fn mutated_sip_messages_never_panic_and_round_trip() {
    let mut rng = SeededRng::new(4475);
    let seeds = corpus(&testdata_dir().join("sip").join("rfc4475"), "dat");
    assert_eq!(seeds.len(), 49);
    for seed in &seeds {
        check_sip(seed);
        for _ in 0..400 {
            check_sip(&mutate(&mut rng, seed));
        }
    }
}

#[test]
fn mutated_sdp_never_panics_and_round_trips() {
    let mut rng = SeededRng::new(3264);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let seeds = corpus(&dir, "sdp");
    for seed in &seeds {
        check_sdp(seed);
        for _ in 0..2000 {
            check_sdp(&mutate(&mut rng, seed));
        }
    }
}

#[test]
fn every_sip_message_in_the_fb1_capture_parses_validates_and_round_trips() {
    let pcap = read_pcap_file(
        &testdata_dir()
            .join("pcap")
            .join("FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"),
    )
    .unwrap();
    let mut seen = 0;
    for d in pcap.udp_datagrams() {
        if d.src.port() != 5060 && d.dst.port() != 5060 {
            continue;
        }
        let m = parse_datagram(&d.payload)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&d.payload)));
        match &m {
            Message::Request(r) => {
                let mut policy = UasPolicy::permissive();
                policy.accept = None;
                assert_eq!(
                    check_request(r, &policy),
                    Ok(()),
                    "{}",
                    String::from_utf8_lossy(&d.payload)
                );
            }
            Message::Response(r) => assert_eq!(check_response(r), Ok(())),
        }
        if !m.body().is_empty() {
            SessionDescription::parse(m.body()).unwrap();
        }
        assert_eq!(parse_datagram(&m.to_bytes()).unwrap(), m);
        seen += 1;
    }
    assert!(seen >= 60, "only {seen} SIP datagrams found");
}
