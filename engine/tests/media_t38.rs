//! T.38 over a lossy network in simulated time: two SpanDSP T.38 terminals joined by our UDPTL
//! (`media::udptl`) through seeded lossy links, one per direction, ticked every 20 ms.
//!
//! Each case sends the 4-page ITU chart document with ECM and checks that both ends finish
//! with code 0, 4 pages arrive pixel for pixel, and the receivers really repaired losses.
//!
//! Schemes: redundancy depth 3 (each datagram repeats the previous three IFPs) and FEC with
//! span 3 and 3 entries (three interleaved XOR messages over the previous nine IFPs, which
//! repairs any burst of up to three losses from the next datagram alone). The datagram limit
//! is 400 octets, which fits either scheme around a paced 59-octet IFP.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{assert_same_pixels, charts_tiff, itu_charts, write_send_document};

use media::udptl::{
    ErrorCorrection, ReceiverConfig, ReceiverStats, SenderConfig, UdptlReceiver, UdptlSender,
};
use spandsp::{
    CompletionCode, Direction, FaxResult, Role, T30Config, T38Config, T38Terminal, TICK_SAMPLES,
};
use test_support::{LinkProfile, LinkStats, Loss, LossyLink, ManualClock};

const MAX_DATAGRAM: u32 = 400;
const TICK: Duration = Duration::from_millis(20);
/// How long one side lives on after the other has finished, like a BYE in flight.
const BYE_DELAY_TICKS: u32 = 50;

fn make_document(dir: &Path) -> PathBuf {
    write_send_document(dir, &charts_tiff(&itu_charts(4)))
}

/// One direction of the call: UDPTL sender → lossy link → UDPTL receiver.
struct Leg {
    sender: UdptlSender,
    link: LossyLink<Vec<u8>>,
    receiver: UdptlReceiver,
    /// IFPs SpanDSP refused (malformed to it); must stay 0.
    refused: u64,
}

impl Leg {
    fn new(ec: ErrorCorrection, profile: LinkProfile, seed: u64, t38: &T38Config) -> Self {
        Leg {
            sender: UdptlSender::new(SenderConfig {
                error_correction: ec,
                max_datagram: t38.max_datagram as usize,
                first_seq: 0,
            }),
            link: LossyLink::new(profile, seed),
            receiver: UdptlReceiver::new(ReceiverConfig {
                t38_version: t38.version,
                ..ReceiverConfig::default()
            }),
            refused: 0,
        }
    }

    /// Puts everything `from` wants to send on the link.
    fn send(&mut self, from: &mut T38Terminal, clock: &ManualClock) {
        while let Some(ifp) = from.poll_ifp() {
            self.sender
                .send_ifp(&ifp.data, ifp.repeats)
                .expect("SpanDSP never emits an empty IFP");
        }
        while let Some(datagram) = self.sender.poll_transmit() {
            self.link.send(clock.now(), datagram);
        }
    }

    /// Hands `to` every IFP that has arrived by now, in order.
    fn receive(&mut self, to: &mut T38Terminal, clock: &ManualClock) {
        let now = clock.now();
        while let Some(datagram) = self.link.poll_receive(now) {
            self.receiver
                .handle_datagram(now, &datagram)
                .expect("our own datagrams decode");
        }
        self.receiver.handle_timeout(now);
        while let Some((seq, ifp)) = self.receiver.poll_ifp() {
            if to.rx_ifp(&ifp, seq).is_err() {
                self.refused += 1;
            }
        }
    }
}

struct Outcome {
    sender: FaxResult,
    receiver: FaxResult,
    /// Sender → receiver (page data) and receiver → sender (responses).
    forward: (ReceiverStats, LinkStats),
    backward: (ReceiverStats, LinkStats),
    seconds: f64,
}

fn run(ec: ErrorCorrection, loss: Loss, seed: u64) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let send = make_document(dir.path());
    let receive = dir.path().join("received.tif");
    let t38 = T38Config {
        max_datagram: MAX_DATAGRAM,
        ..T38Config::default()
    };
    let t30 = |ident: &str| T30Config {
        local_ident: ident.into(),
        ecm: true,
        ..T30Config::default()
    };
    let mut caller = T38Terminal::new(
        Role::Calling,
        Direction::Send { tiff: send.clone() },
        &t30("+1 555 0100"),
        &t38,
    )
    .expect("sender");
    let mut answerer = T38Terminal::new(
        Role::Answering,
        Direction::Receive {
            tiff: receive.clone(),
        },
        &t30("+1 555 0199"),
        &t38,
    )
    .expect("receiver");
    // A little duplication, reordering and jitter on top of the loss, as on a real path.
    let profile = LinkProfile {
        loss,
        duplicate: 0.01,
        reorder: 0.01,
        delay: Duration::from_millis(30),
        jitter: Duration::from_millis(10),
    };
    let mut forward = Leg::new(ec, profile, seed, &t38);
    let mut backward = Leg::new(ec, profile, seed ^ 0x5EED, &t38);

    let mut clock = ManualClock::new();
    let max_ticks = 15 * 60 * 50;
    let mut ticks = 0;
    let mut hangup_in: Option<u32> = None;
    while !(caller.is_finished() && answerer.is_finished()) {
        assert!(ticks < max_ticks, "no result after 15 simulated minutes");
        // A side that has finished hangs up; the BYE ends the other side even if it missed
        // the last T.30 frame (SpanDSP can otherwise wait for ever).
        if caller.is_finished() || answerer.is_finished() {
            let left = hangup_in.get_or_insert(BYE_DELAY_TICKS);
            if *left == 0 {
                caller.terminate();
                answerer.terminate();
            }
            *left = left.saturating_sub(1);
        }
        caller.advance(TICK_SAMPLES);
        answerer.advance(TICK_SAMPLES);
        forward.send(&mut caller, &clock);
        backward.send(&mut answerer, &clock);
        clock.advance(TICK);
        forward.receive(&mut answerer, &clock);
        backward.receive(&mut caller, &clock);
        while caller.poll_event().is_some() {}
        while answerer.poll_event().is_some() {}
        ticks += 1;
    }
    assert_eq!(
        forward.refused + backward.refused,
        0,
        "SpanDSP refused an IFP"
    );
    let outcome = Outcome {
        sender: caller.result().cloned().expect("sender result"),
        receiver: answerer.result().cloned().expect("receiver result"),
        forward: (forward.receiver.stats(), forward.link.stats()),
        backward: (backward.receiver.stats(), backward.link.stats()),
        seconds: f64::from(ticks) / 50.0,
    };
    drop((caller, answerer));

    for (who, result) in [("sender", &outcome.sender), ("receiver", &outcome.receiver)] {
        assert_eq!(
            result.code,
            CompletionCode::OK,
            "{who}: {} ({:?})",
            result.code,
            outcome.forward
        );
        assert_eq!(result.stats.pages_transferred, 4, "{who} pages");
        assert!(result.stats.ecm, "{who} ECM");
    }
    assert_same_pixels(&send, &receive);
    let (rx, link) = outcome.forward;
    assert!(link.lost > 0, "the link lost packets: {link:?}");
    assert_eq!(rx.malformed, 0);
    outcome
}

fn recovered(stats: &ReceiverStats) -> u64 {
    stats.recovered_redundancy + stats.recovered_fec
}

const REDUNDANCY: ErrorCorrection = ErrorCorrection::Redundancy { depth: 3 };
const FEC: ErrorCorrection = ErrorCorrection::Fec {
    span: 3,
    entries: 3,
};

#[test]
fn redundancy_carries_a_fax_through_10_percent_random_loss() {
    let o = run(REDUNDANCY, Loss::Random(0.10), 11);
    let (rx, link) = o.forward;
    assert!(rx.recovered_redundancy > link.lost / 2, "{rx:?} {link:?}");
    assert!(recovered(&o.backward.0) > 0 || o.backward.1.lost == 0);
    assert!(o.seconds < 300.0, "{} s", o.seconds);
}

#[test]
fn redundancy_carries_a_fax_through_5_percent_bursty_loss() {
    let o = run(REDUNDANCY, Loss::bursty(0.05, 3.0), 12);
    let (rx, link) = o.forward;
    assert!(rx.recovered_redundancy > 0, "{rx:?} {link:?}");
}

#[test]
fn fec_carries_a_fax_through_10_percent_random_loss() {
    let o = run(FEC, Loss::Random(0.10), 13);
    let (rx, link) = o.forward;
    assert!(rx.recovered_fec > link.lost / 2, "{rx:?} {link:?}");
}

#[test]
fn fec_carries_a_fax_through_5_percent_bursty_loss() {
    let o = run(FEC, Loss::bursty(0.05, 3.0), 14);
    let (rx, link) = o.forward;
    assert!(rx.recovered_fec > 0, "{rx:?} {link:?}");
}
