//! Hostile input: the crafted AST-2016-003 UDPTL capture replayed into our receiver, and
//! garbage IFPs fed to SpanDSP the way the receiver feeds it.

use std::time::{Duration, Instant};

use media::udptl::{ReceiverConfig, UdptlReceiver};
use test_support::{read_pcap_file, testdata_dir, SeededRng};

#[test]
fn the_crafted_ast_2016_003_stream_is_survived() {
    let path = testdata_dir().join("pcap/asterisk-testsuite_ast-2016-003_crash.pcap");
    let pcap = read_pcap_file(&path).expect("read capture");
    assert_eq!(pcap.link_type, 113, "Linux cooked capture");
    let datagrams = pcap.udp_datagrams();
    assert_eq!(datagrams.len(), 128);
    assert!(datagrams
        .iter()
        .all(|d| d.src.to_string() == "1.1.1.1:1" && d.dst.to_string() == "2.2.2.2:2"));

    let mut receiver = UdptlReceiver::new(ReceiverConfig::default());
    let mut now = Instant::now();
    let mut got: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut errors = 0;
    for d in &datagrams {
        now += Duration::from_millis(20);
        if receiver.handle_datagram(now, &d.payload).is_err() {
            errors += 1;
        }
        while let Some((seq, ifp)) = receiver.poll_ifp() {
            got.push((seq, ifp.to_vec()));
        }
    }
    receiver.handle_timeout(now + Duration::from_secs(1));
    while let Some((seq, ifp)) = receiver.poll_ifp() {
        got.push((seq, ifp.to_vec()));
    }
    let st = receiver.stats();
    // The first two are cut short (a 71-octet primary in 9 octets; no error-recovery).
    // The rest are well-formed UDPTL carrying 14 empty secondaries each (the crash trigger),
    // which are skipped. tshark flags 74 as malformed because it also decodes the IFPs.
    assert_eq!((st.malformed, errors), (2, 2), "{st:?}");
    assert_eq!(st.received, 126);
    assert_eq!(got.len(), 126, "every valid primary delivered");
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "ascending");
    assert!(got.iter().all(|(_, ifp)| !ifp.is_empty()));
    assert_eq!(st.lost, 63, "the odd gaps in the numbering: {st:?}");

    // SpanDSP takes whatever we deliver without crashing, refusing what it cannot parse.
    let dir = std::env::temp_dir().join(format!("udptl-ast-2016-003-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut terminal = spandsp::T38Terminal::new(
        spandsp::Role::Answering,
        spandsp::Direction::Receive {
            tiff: dir.join("rx.tif"),
        },
        &spandsp::T30Config::default(),
        &spandsp::T38Config::default(),
    )
    .unwrap();
    let mut accepted = 0;
    for (seq, ifp) in &got {
        accepted += usize::from(terminal.rx_ifp(ifp, *seq).is_ok());
        terminal.advance(160);
    }
    assert!(accepted > 0, "the indicators in the stream are valid IFPs");
    drop(terminal);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn spandsp_refuses_garbage_ifps_without_crashing() {
    let dir = std::env::temp_dir().join(format!("udptl-garbage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut terminal = spandsp::T38Terminal::new(
        spandsp::Role::Answering,
        spandsp::Direction::Receive {
            tiff: dir.join("rx.tif"),
        },
        &spandsp::T30Config::default(),
        &spandsp::T38Config::default(),
    )
    .unwrap();
    let mut seq = 0u16;
    let mut feed = |t: &mut spandsp::T38Terminal, ifp: &[u8]| {
        seq = seq.wrapping_add(1);
        t.rx_ifp(ifp, seq)
    };
    assert!(feed(&mut terminal, &[]).is_err(), "empty");
    assert!(
        feed(&mut terminal, &[0x82]).is_err(),
        "indicator with a data field"
    );
    assert!(
        feed(&mut terminal, &[0xC0, 0x05, 0x80]).is_err(),
        "fields cut short"
    );
    assert!(
        feed(&mut terminal, &[0x02, 0x00]).is_err(),
        "trailing octet"
    );
    let mut rng = SeededRng::new(7);
    for _ in 0..5000 {
        let n = 1 + rng.next_u64() % 80;
        let ifp: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
        let _ = feed(&mut terminal, &ifp);
        terminal.advance(160);
    }
    drop(terminal);
    let _ = std::fs::remove_dir_all(&dir);
}
