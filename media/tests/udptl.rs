//! UDPTL (T.38 §9.1): codec round trips and hand-made bytes, sender limits, receiver ordering
//! and repair. Hostile input (the AST-2016-003 capture, garbage IFPs) is in `udptl_replay.rs`.

use std::time::{Duration, Instant};

use media::udptl::{
    fec, ErrorCorrection, ReceiverConfig, Recovery, SenderConfig, UdptlPacket, UdptlReceiver,
    UdptlSender,
};
use media::Error;
use test_support::SeededRng;

/// A version-0 T.4 data IFP with `n` octets of data, as SpanDSP sends page data.
fn data_ifp(n: usize, fill: u8) -> Vec<u8> {
    let mut ifp = vec![0xD0, 0x01, 0xE0];
    ifp.extend_from_slice(&((n - 1) as u16).to_be_bytes());
    ifp.extend((0..n).map(|i| fill.wrapping_add(i as u8)));
    ifp
}

fn redundancy(seq: u16, primary: Vec<u8>, secondaries: Vec<Vec<u8>>) -> UdptlPacket {
    UdptlPacket {
        seq,
        primary,
        recovery: Recovery::Redundancy(secondaries),
    }
}

// ---------------------------------------------------------------- codec

#[test]
fn packets_round_trip_through_encode_and_decode() {
    let packets = [
        redundancy(0, vec![0x02], vec![]),
        redundancy(
            65535,
            data_ifp(54, 1),
            vec![data_ifp(54, 2), vec![0x06], vec![0x00]],
        ),
        // 2-octet lengths: a 300-octet primary and a 200-octet secondary.
        redundancy(7, data_ifp(295, 3), vec![data_ifp(195, 4)]),
        // A fragmented open type (more than 16K octets).
        redundancy(8, vec![0x5A; 40_000], vec![]),
        UdptlPacket {
            seq: 1234,
            primary: data_ifp(20, 5),
            recovery: Recovery::Fec {
                span: 3,
                entries: vec![vec![1, 2, 3], vec![4], vec![5; 130]],
            },
        },
        UdptlPacket {
            seq: 9,
            primary: vec![0x04],
            recovery: Recovery::Fec {
                span: 200, // needs two octets as a non-negative INTEGER
                entries: vec![],
            },
        },
    ];
    for p in packets {
        let bytes = p.encode().unwrap();
        assert_eq!(bytes.len(), p.encoded_len());
        assert_eq!(UdptlPacket::decode(&bytes).unwrap(), p);
    }
}

#[test]
fn hand_made_bytes_decode_as_the_layout_in_spandsp_md() {
    // seq 0x0102 | primary: length 3 + 3 octets | 0x00 = secondary-ifp-packets | count 2 |
    // newest first: length 1 + 0x06 (CED), length 2 + two octets.
    let bytes = [
        0x01, 0x02, 0x03, 0xC0, 0x01, 0x80, 0x00, 0x02, 0x01, 0x06, 0x02, 0xAA, 0xBB,
    ];
    let p = UdptlPacket::decode(&bytes).unwrap();
    assert_eq!(p.seq, 0x0102);
    assert_eq!(p.primary, vec![0xC0, 0x01, 0x80]);
    assert_eq!(
        p.recovery,
        Recovery::Redundancy(vec![vec![0x06], vec![0xAA, 0xBB]])
    );
    assert_eq!(p.encode().unwrap(), bytes, "we write the same bytes");

    // FEC: 0x80 = fec-info | fec-npackets: length 1, value 3 | 1 entry: length 2 + 2 octets.
    let fec_bytes = [
        0x00, 0x09, 0x01, 0x02, 0x80, 0x01, 0x03, 0x01, 0x02, 0x11, 0x22,
    ];
    let p = UdptlPacket::decode(&fec_bytes).unwrap();
    assert_eq!(
        p.recovery,
        Recovery::Fec {
            span: 3,
            entries: vec![vec![0x11, 0x22]]
        }
    );
    assert_eq!(p.encode().unwrap(), fec_bytes);

    // A 2-octet length with the top bits 10: 0x80 0x81 = 129 octets.
    let mut long = vec![0x00, 0x01, 0x80, 0x81];
    long.extend(std::iter::repeat_n(0x33, 129));
    long.extend_from_slice(&[0x00, 0x00]);
    assert_eq!(UdptlPacket::decode(&long).unwrap().primary.len(), 129);
}

#[test]
fn malformed_datagrams_are_errors_with_a_reason() {
    let good = redundancy(3, data_ifp(10, 0), vec![data_ifp(10, 1)])
        .encode()
        .unwrap();
    for cut in 0..good.len() {
        assert!(
            matches!(
                UdptlPacket::decode(&good[..cut]),
                Err(Error::MalformedUdptl(_))
            ),
            "cut at {cut}"
        );
    }
    let cases: [(&[u8], &str); 7] = [
        (
            &[0x00, 0x01, 0x05, 0x01],
            "open type longer than the datagram",
        ),
        (
            &[0x00, 0x01, 0xC1, 0x00],
            "fragment longer than the datagram",
        ),
        (&[0x00, 0x01, 0xC7, 0x00], "fragment multiplier above 4"),
        (&[0x00, 0x01, 0x01, 0x02, 0x00, 0x11], "17 secondaries"),
        (&[0x00, 0x01, 0x01, 0x02, 0x00, 0xC1], "fragmented count"),
        (
            &[0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0xFF],
            "trailing octet",
        ),
        (
            &[0x00, 0x01, 0x01, 0x02, 0x80, 0x01, 0x80, 0x00],
            "negative FEC span",
        ),
    ];
    for (bytes, what) in cases {
        let err = UdptlPacket::decode(bytes).expect_err(what);
        assert!(matches!(err, Error::MalformedUdptl(_)), "{what}: {err}");
        assert!(!err.to_string().is_empty());
    }
    let too_many = redundancy(1, vec![1], vec![vec![2]; 17]);
    assert!(
        too_many.encode().is_err(),
        "we refuse to send what we would refuse"
    );
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = SeededRng::new(42);
    let good = UdptlPacket {
        seq: 77,
        primary: data_ifp(30, 9),
        recovery: Recovery::Fec {
            span: 3,
            entries: vec![data_ifp(30, 1), data_ifp(12, 2)],
        },
    }
    .encode()
    .unwrap();
    let mut receiver = UdptlReceiver::new(ReceiverConfig::default());
    let now = Instant::now();
    for i in 0..20_000 {
        let mut bytes = if i % 2 == 0 {
            good.clone()
        } else {
            (0..rng.next_u64() % 64)
                .map(|_| rng.next_u64() as u8)
                .collect()
        };
        if !bytes.is_empty() {
            for _ in 0..1 + rng.next_u64() % 3 {
                let at = (rng.next_u64() as usize) % bytes.len();
                bytes[at] = rng.next_u64() as u8;
            }
        }
        let _ = UdptlPacket::decode(&bytes);
        let _ = receiver.handle_datagram(now + Duration::from_millis(i), &bytes);
        while receiver.poll_ifp().is_some() {}
    }
    assert!(receiver.stats().malformed > 0);
}

// ---------------------------------------------------------------- sender

fn sent(sender: &mut UdptlSender) -> Vec<UdptlPacket> {
    std::iter::from_fn(|| sender.poll_transmit())
        .map(|d| UdptlPacket::decode(&d).unwrap())
        .collect()
}

#[test]
fn the_sender_numbers_ifps_and_attaches_the_last_ones_newest_first() {
    let mut s = UdptlSender::new(SenderConfig::default());
    for i in 0..5u8 {
        assert_eq!(s.send_ifp(&[i * 2], 1).unwrap(), u16::from(i));
    }
    let p = sent(&mut s);
    assert_eq!(p.len(), 5);
    assert_eq!(p[0].recovery, Recovery::Redundancy(vec![]));
    assert_eq!(p[2].recovery, Recovery::Redundancy(vec![vec![2], vec![0]]));
    assert_eq!(
        p[4].recovery,
        Recovery::Redundancy(vec![vec![6], vec![4], vec![2]])
    );
    assert_eq!(s.send_ifp(&[], 1), Err(Error::InvalidIfp("empty IFP")));
}

/// The T.38 `no-signal` indicator, and an HDLC end-of-data IFP (version 0: V.21 data,
/// `hdlc-fcs-OK-sig-end` with no data), the two kinds SpanDSP asks to send three times.
const NO_SIGNAL: [u8; 1] = [0x00];
const FCS_OK_SIG_END: [u8; 3] = [0xC0, 0x01, 0x40];

fn all_schemes() -> [ErrorCorrection; 3] {
    [
        ErrorCorrection::None,
        ErrorCorrection::Redundancy { depth: 3 },
        ErrorCorrection::Fec {
            span: 3,
            entries: 3,
        },
    ]
}

#[test]
fn repeated_indicators_go_out_under_new_sequence_numbers() {
    for ec in all_schemes() {
        let mut s = UdptlSender::new(SenderConfig {
            error_correction: ec,
            ..SenderConfig::default()
        });
        assert_eq!(
            s.send_ifp(&[0x02], 3).unwrap(),
            0,
            "the first copy's number"
        );
        assert_eq!(s.send_ifp(&[0x04], 1).unwrap(), 3);
        let p = sent(&mut s);
        let seqs: Vec<u16> = p.iter().map(|p| p.seq).collect();
        assert_eq!(seqs, [0, 1, 2, 3], "{ec:?}");
        assert!(p[..3].iter().all(|p| p.primary == [0x02]));
        assert_eq!((s.stats().repeats, s.stats().datagrams), (2, 4));
        if ec == (ErrorCorrection::Redundancy { depth: 3 }) {
            assert_eq!(p[2].recovery, Recovery::Redundancy(vec![vec![0x02]; 2]));
        }
    }
}

#[test]
fn an_end_of_data_ifp_goes_out_once_and_its_repeats_ride_on_the_next_indicator() {
    for ec in all_schemes() {
        let mut s = UdptlSender::new(SenderConfig {
            error_correction: ec,
            ..SenderConfig::default()
        });
        for i in 0..4 {
            s.send_ifp(&data_ifp(20, i), 1).unwrap();
        }
        assert_eq!(s.send_ifp(&FCS_OK_SIG_END, 3).unwrap(), 4);
        let p = sent(&mut s);
        if ec == ErrorCorrection::None {
            // Nothing else could carry it: identical copies, as other stacks send them.
            assert_eq!(p.len(), 7, "{ec:?}");
            assert!(p[4..]
                .iter()
                .all(|q| q.seq == 4 && q.primary == FCS_OK_SIG_END));
            continue;
        }
        assert_eq!(p.len(), 5, "{ec:?}: sent once");
        assert_eq!(s.send_ifp(&NO_SIGNAL, 3).unwrap(), 5);
        let q = sent(&mut s);
        // 3 copies of the indicator, and 2 more in place of the end-of-data repeats.
        let seqs: Vec<u16> = q.iter().map(|q| q.seq).collect();
        assert_eq!(seqs, [5, 6, 7, 8, 9], "{ec:?}");
        assert!(q.iter().all(|q| q.primary == NO_SIGNAL));
        assert_eq!(s.stats().repeats, 4);
        if let ErrorCorrection::Redundancy { .. } = ec {
            // Each copy carries the end-of-data IFP, reaching past the depth of 3 to do so.
            for (i, copy) in q.iter().enumerate() {
                let Recovery::Redundancy(secondaries) = &copy.recovery else {
                    panic!("redundancy");
                };
                assert_eq!(secondaries.len(), 3.max(i + 1), "copy {i}");
                assert_eq!(secondaries[i], FCS_OK_SIG_END, "copy {i}");
            }
        }
        // A receiver gets every datagram once, in order, and the end of data exactly once.
        let mut rx = Rx::new(ReceiverConfig::default());
        for d in p.iter().chain(&q) {
            rx.feed(&d.encode().unwrap());
        }
        assert_eq!(rx.seqs(), (0..10).collect::<Vec<u16>>());
        let ends = rx
            .got
            .iter()
            .filter(|(_, ifp)| ifp == &FCS_OK_SIG_END)
            .count();
        assert_eq!(ends, 1);
    }
}

#[test]
fn a_lost_end_of_data_ifp_comes_back_from_the_indicator_copies() {
    let mut s = UdptlSender::new(SenderConfig::default());
    s.send_ifp(&data_ifp(20, 1), 1).unwrap();
    s.send_ifp(&FCS_OK_SIG_END, 3).unwrap();
    s.send_ifp(&NO_SIGNAL, 3).unwrap();
    let datagrams: Vec<Vec<u8>> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(datagrams.len(), 7);
    // The end of data and the first four indicator copies are lost: the last copy has it.
    let mut rx = Rx::new(ReceiverConfig::default());
    rx.feed(&datagrams[0]);
    rx.feed(&datagrams[6]);
    assert_eq!(rx.seqs(), (0..7).collect::<Vec<u16>>());
    assert_eq!(rx.got[1].1, FCS_OK_SIG_END);
}

// The end-of-data case where a data IFP follows instead of an indicator: the owed repeats
// are dropped, since the data stream's own datagrams carry it.
#[test]
fn owed_repeats_lapse_when_data_follows() {
    let mut s = UdptlSender::new(SenderConfig::default());
    s.send_ifp(&FCS_OK_SIG_END, 3).unwrap();
    s.send_ifp(&data_ifp(10, 0), 1).unwrap();
    s.send_ifp(&NO_SIGNAL, 1).unwrap();
    let seqs: Vec<u16> = sent(&mut s).iter().map(|p| p.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(s.stats().repeats, 0);
}

#[test]
fn recovery_is_trimmed_oldest_first_to_fit_the_max_datagram() {
    let max = 150;
    let mut s = UdptlSender::new(SenderConfig {
        error_correction: ErrorCorrection::Redundancy { depth: 3 },
        max_datagram: max,
        first_seq: 0,
    });
    for i in 0..10 {
        s.send_ifp(&data_ifp(54, i), 1).unwrap();
    }
    let datagrams: Vec<Vec<u8>> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert!(datagrams.iter().all(|d| d.len() <= max));
    let last = UdptlPacket::decode(datagrams.last().unwrap()).unwrap();
    // 59-octet IFPs: the primary and one copy fit in 150, two copies do not.
    assert_eq!(last.recovery, Recovery::Redundancy(vec![data_ifp(54, 8)]));
    assert!(s.stats().trimmed >= 8);
    assert_eq!(s.stats().oversized, 0);

    // FEC is rebuilt with fewer messages, and what is sent still decodes consistently.
    let mut f = UdptlSender::new(SenderConfig {
        error_correction: ErrorCorrection::Fec {
            span: 3,
            entries: 3,
        },
        max_datagram: max,
        first_seq: 0,
    });
    for i in 0..12 {
        f.send_ifp(&data_ifp(54, i), 1).unwrap();
    }
    let p = sent(&mut f);
    let Recovery::Fec { span, entries } = &p[11].recovery else {
        panic!("FEC expected");
    };
    assert_eq!((*span, entries.len()), (3, 1));
    let group = fec::covered_seqs(11, 0, 3, 1);
    assert_eq!(group, [8, 9, 10]);
    let xor = fec::xor_all(group.iter().map(|&q| p[usize::from(q)].primary.as_slice()));
    assert_eq!(entries[0], xor);

    // A primary that alone is too big is sent bare and counted.
    s.send_ifp(&data_ifp(200, 0), 1).unwrap();
    let big = sent(&mut s).pop().unwrap();
    assert_eq!(big.recovery, Recovery::Redundancy(vec![]));
    assert_eq!(s.stats().oversized, 1);
}

// ---------------------------------------------------------------- receiver

struct Rx {
    receiver: UdptlReceiver,
    now: Instant,
    got: Vec<(u16, Vec<u8>)>,
}

impl Rx {
    fn new(config: ReceiverConfig) -> Self {
        Rx {
            receiver: UdptlReceiver::new(config),
            now: Instant::now(),
            got: Vec::new(),
        }
    }

    fn feed(&mut self, datagram: &[u8]) {
        self.now += Duration::from_millis(30);
        self.receiver.handle_datagram(self.now, datagram).unwrap();
        self.drain();
    }

    fn wait(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.receiver.handle_timeout(self.now);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some((seq, ifp)) = self.receiver.poll_ifp() {
            self.got.push((seq, ifp.to_vec()));
        }
    }

    fn seqs(&self) -> Vec<u16> {
        self.got.iter().map(|(s, _)| *s).collect()
    }
}

/// Datagrams for IFPs `data_ifp(10 + i, i)` numbered from `first`.
fn stream(config: SenderConfig, n: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut s = UdptlSender::new(config);
    let ifps: Vec<Vec<u8>> = (0..n).map(|i| data_ifp(10 + i % 7, i as u8)).collect();
    for ifp in &ifps {
        s.send_ifp(ifp, 1).unwrap();
    }
    (std::iter::from_fn(|| s.poll_transmit()).collect(), ifps)
}

fn redundancy_config(depth: u8, first_seq: u16) -> SenderConfig {
    SenderConfig {
        error_correction: ErrorCorrection::Redundancy { depth },
        first_seq,
        ..SenderConfig::default()
    }
}

fn fec_config(span: u8, entries: u8) -> SenderConfig {
    SenderConfig {
        error_correction: ErrorCorrection::Fec { span, entries },
        ..SenderConfig::default()
    }
}

#[test]
fn lost_packets_come_back_from_redundancy_in_order_before_the_primary() {
    let (datagrams, ifps) = stream(redundancy_config(3, 0), 12);
    let mut rx = Rx::new(ReceiverConfig::default());
    for (i, d) in datagrams.iter().enumerate() {
        if ![3, 6, 7, 8].contains(&i) {
            rx.feed(d);
        }
    }
    assert_eq!(rx.seqs(), (0..12).collect::<Vec<u16>>());
    assert!(rx.got.iter().all(|(s, ifp)| *ifp == ifps[usize::from(*s)]));
    let st = rx.receiver.stats();
    assert_eq!((st.recovered_redundancy, st.lost), (4, 0));
    assert_eq!(rx.receiver.poll_timeout(), None, "nothing waits");
}

#[test]
fn fec_repairs_a_single_loss_and_a_burst_up_to_the_interleave() {
    let (datagrams, ifps) = stream(fec_config(3, 3), 40);
    let mut rx = Rx::new(ReceiverConfig::default());
    let lost = [12, 20, 21, 22];
    for (i, d) in datagrams.iter().enumerate() {
        if !lost.contains(&i) {
            rx.feed(d);
        }
    }
    assert_eq!(rx.seqs(), (0..40).collect::<Vec<u16>>());
    assert!(
        rx.got.iter().all(|(s, ifp)| *ifp == ifps[usize::from(*s)]),
        "repairs are cut to the IFP's own length"
    );
    assert_eq!(rx.receiver.stats().recovered_fec, 4);
}

#[test]
fn an_unrepairable_gap_waits_for_the_reorder_window_then_counts_as_lost() {
    let (datagrams, _) = stream(redundancy_config(1, 0), 8);
    let mut rx = Rx::new(ReceiverConfig {
        reorder_wait: Duration::from_millis(250),
        ..ReceiverConfig::default()
    });
    for (i, d) in datagrams.iter().enumerate() {
        if i != 2 && i != 3 {
            rx.feed(d); // 30 ms apart
        }
    }
    // 2 and 3 are gone; 3 comes back from 4's copy, but 2 is nowhere.
    assert_eq!(rx.seqs(), [0, 1]);
    let deadline = rx.receiver.poll_timeout().expect("waiting on the gap");
    assert_eq!(
        deadline,
        rx.now - Duration::from_millis(90) + Duration::from_millis(250)
    );
    rx.wait(159);
    assert_eq!(rx.seqs(), [0, 1], "not before the deadline");
    rx.wait(1);
    assert_eq!(rx.seqs(), [0, 1, 3, 4, 5, 6, 7]);
    assert_eq!(rx.receiver.stats().lost, 1);
    // The missing one turning up now is late, not delivered out of order.
    rx.feed(&datagrams[2]);
    assert_eq!(rx.seqs().len(), 7);
    assert_eq!(rx.receiver.stats().late, 1);
}

#[test]
fn reordered_and_duplicated_datagrams_are_delivered_once_in_order() {
    let (datagrams, _) = stream(redundancy_config(0, 0), 10);
    let mut rx = Rx::new(ReceiverConfig::default());
    for i in [0, 2, 1, 1, 3, 5, 4, 4, 6, 7, 9, 8, 0, 9] {
        rx.feed(&datagrams[i]);
    }
    assert_eq!(rx.seqs(), (0..10).collect::<Vec<u16>>());
    let st = rx.receiver.stats();
    assert_eq!((st.duplicates, st.lost, st.late), (4, 0, 0));
}

#[test]
fn sequence_numbers_wrap_from_65535_to_0() {
    let (datagrams, _) = stream(redundancy_config(2, 65530), 12);
    let mut rx = Rx::new(ReceiverConfig::default());
    for (i, d) in datagrams.iter().enumerate() {
        if i != 6 {
            rx.feed(d);
        }
    }
    let want: Vec<u16> = (0..12u16).map(|i| 65530u16.wrapping_add(i)).collect();
    assert_eq!(rx.seqs(), want);
    assert_eq!(rx.receiver.stats().recovered_redundancy, 1);
}

#[test]
fn a_long_gap_or_a_restart_resyncs_instead_of_stalling() {
    let (datagrams, _) = stream(redundancy_config(0, 0), 400);
    let mut rx = Rx::new(ReceiverConfig::default());
    for d in &datagrams[..10] {
        rx.feed(d);
    }
    // 290 packets vanish: far beyond the resync gap.
    for d in &datagrams[300..305] {
        rx.feed(d);
    }
    assert_eq!(rx.seqs()[10..], [300, 301, 302, 303, 304]);
    assert_eq!(rx.receiver.stats().resyncs, 1);

    // The peer restarts its numbering at 0.
    for d in &datagrams[..6] {
        rx.feed(d);
    }
    let tail: Vec<u16> = rx.seqs()[15..].to_vec();
    assert!(
        tail.ends_with(&[4, 5]),
        "delivery resumes on the new numbering: {tail:?}"
    );
    assert_eq!(rx.receiver.stats().resyncs, 2);
    assert!(rx.receiver.poll_timeout().is_none());
}

#[test]
fn random_loss_reordering_and_duplication_never_break_the_order() {
    for (config, seed) in [
        (redundancy_config(3, 65000), 1),
        (fec_config(3, 3), 2),
        (redundancy_config(0, 0), 3),
    ] {
        let (datagrams, ifps) = stream(config, 3000);
        let first = config.first_seq;
        let mut rng = SeededRng::new(seed);
        let mut rx = Rx::new(ReceiverConfig::default());
        let mut late: Vec<&Vec<u8>> = Vec::new();
        for d in &datagrams {
            if rng.chance(0.05) {
                late.push(d); // overtaken by the next one
                continue;
            }
            if !rng.chance(0.1) {
                rx.feed(d);
            }
            if rng.chance(0.05) {
                rx.feed(d);
            }
            for l in late.drain(..) {
                rx.feed(l);
            }
        }
        rx.wait(1000);
        let positions: Vec<u16> = rx.seqs().iter().map(|s| s.wrapping_sub(first)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "ascending, once");
        for (s, ifp) in &rx.got {
            assert_eq!(*ifp, ifps[usize::from(s.wrapping_sub(first))], "seq {s}");
        }
        let st = rx.receiver.stats();
        assert_eq!(st.lost + rx.got.len() as u64, 3000, "{st:?}");
        if config.error_correction != (ErrorCorrection::Redundancy { depth: 0 }) {
            assert!(st.lost < 30, "{:?}: {st:?}", config.error_correction);
        }
    }
}
