//! The UDPTL receive path allocates nothing once warmed up: datagrams with redundancy and
//! with FEC, through loss, reordering, duplicates and malformed datagrams, are decoded,
//! repaired, put in order and lent out without a single call to the allocator.
//!
//! `stats_alloc` wraps the system allocator as this binary's global allocator and counts
//! every call (the workspace forbids `unsafe`, which writing one here would need). Its
//! counters are process-wide, so this file holds one test, which runs the cases in turn:
//! nothing else in the process allocates while it measures.

use std::alloc::System;
use std::time::{Duration, Instant};

use media::udptl::{ErrorCorrection, ReceiverConfig, SenderConfig, UdptlReceiver, UdptlSender};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use test_support::SeededRng;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Calls to the allocator (allocations and reallocations) made while `f` runs.
fn allocations_in(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    let change = region.change();
    change.allocations + change.reallocations
}

/// A T.4 data IFP of version 0 with `n` octets of data, as SpanDSP sends page data.
fn data_ifp(n: usize, fill: u8) -> Vec<u8> {
    let mut ifp = vec![0xD0, 0x01, 0xE0];
    ifp.extend_from_slice(&((n - 1) as u16).to_be_bytes());
    ifp.extend((0..n).map(|i| fill.wrapping_add(i as u8)));
    ifp
}

/// What arrives at the receiver, in arrival order: the sender's datagrams after 5 % loss,
/// 5 % reordering (held back behind the next one), 3 % duplicates and 1 % garbage.
fn arrivals(ec: ErrorCorrection, count: usize, seed: u64) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut sender = UdptlSender::new(SenderConfig {
        error_correction: ec,
        ..SenderConfig::default()
    });
    let mut rng = SeededRng::new(seed);
    let ifps: Vec<Vec<u8>> = (0..count)
        .map(|i| match i % 10 {
            // Indicators between runs of page data, as in a real call.
            0 => vec![0x02],
            _ => data_ifp(10 + (rng.next_u64() % 50) as usize, i as u8),
        })
        .collect();
    let mut arrivals = Vec::new();
    let mut held_back: Option<Vec<u8>> = None;
    for ifp in &ifps {
        sender.send_ifp(ifp, 1).expect("send");
        let datagram = sender.poll_transmit().expect("one datagram");
        if rng.chance(0.05) {
            continue;
        }
        if rng.chance(0.01) {
            arrivals.push(datagram[..datagram.len() / 2].to_vec());
        }
        if rng.chance(0.03) {
            arrivals.push(datagram.clone());
        }
        if held_back.is_none() && rng.chance(0.05) {
            held_back = Some(datagram);
            continue;
        }
        arrivals.push(datagram);
        arrivals.extend(held_back.take());
    }
    (arrivals, ifps)
}

/// Receives `count` IFPs' datagrams after a warm-up of `warm_up`; returns the allocations
/// after the warm-up, checking that what came out is in order and intact.
fn steady_state_allocations(ec: ErrorCorrection, count: usize, warm_up: usize) -> usize {
    let (arrivals, ifps) = arrivals(ec, count, 0xA110C);
    let mut receiver = UdptlReceiver::new(ReceiverConfig::default());
    let start = Instant::now();
    let mut delivered = 0usize;
    let mut last: Option<u16> = None;
    let mut intact = true;
    let mut receive = |receiver: &mut UdptlReceiver, i: usize, datagram: &[u8]| {
        let now = start + Duration::from_millis(30 * i as u64);
        let _ = receiver.handle_datagram(now, datagram);
        receiver.handle_timeout(now);
        while let Some((seq, ifp)) = receiver.poll_ifp() {
            intact &= ifp == ifps[usize::from(seq)].as_slice();
            intact &= last.is_none_or(|l| l < seq);
            last = Some(seq);
            delivered += 1;
        }
    };
    for (i, datagram) in arrivals.iter().enumerate().take(warm_up) {
        receive(&mut receiver, i, datagram);
    }
    let allocations = allocations_in(|| {
        for (i, datagram) in arrivals.iter().enumerate().skip(warm_up) {
            receive(&mut receiver, i, datagram);
        }
    });
    let stats = receiver.stats();
    assert!(intact, "IFPs delivered in order and unchanged");
    assert!(stats.malformed > 0 && stats.duplicates > 0, "{stats:?}");
    assert!(
        stats.recovered_redundancy + stats.recovered_fec > 50,
        "{stats:?}"
    );
    assert!(
        delivered as u64 + stats.lost >= count as u64 - 1,
        "{stats:?}"
    );
    allocations
}

#[test]
fn receiving_allocates_nothing_after_warm_up() {
    // The counter works: a receiver that has seen nothing yet must allocate.
    let mut fresh = UdptlReceiver::new(ReceiverConfig::default());
    let first = allocations_in(|| {
        let _ = fresh.handle_datagram(Instant::now(), &[0x00, 0x00, 0x01, 0x02, 0x00, 0x00]);
        let _ = fresh.poll_ifp();
    });
    assert!(first > 0, "the counting allocator is in place");

    let redundancy = ErrorCorrection::Redundancy { depth: 3 };
    assert_eq!(
        steady_state_allocations(redundancy, 4000, 500),
        0,
        "redundancy"
    );
    let fec = ErrorCorrection::Fec {
        span: 3,
        entries: 3,
    };
    assert_eq!(steady_state_allocations(fec, 4000, 500), 0, "FEC");
}
