//! A T.38 terminal whose caller was starved and woke late stays bounded: SpanDSP is fed at
//! most a second of the stall, its IFP backlog is capped, and the call still ends.

use spandsp::{
    Direction, FaxEvent, Role, T30Config, T38Config, T38Terminal, MAX_CATCH_UP_SAMPLES,
    MAX_QUEUED_IFPS, TICK_SAMPLES,
};
use test_support::{write_bilevel_tiff, TiffSpec};

struct Pair {
    a: T38Terminal,
    b: T38Terminal,
    seq_ab: u16,
    seq_ba: u16,
}

impl Pair {
    /// Moves every queued IFP across.
    fn exchange(&mut self) {
        while let Some(ifp) = self.a.poll_ifp() {
            let _ = self.b.rx_ifp(&ifp.data, self.seq_ab);
            self.seq_ab = self.seq_ab.wrapping_add(1);
        }
        while let Some(ifp) = self.b.poll_ifp() {
            let _ = self.a.rx_ifp(&ifp.data, self.seq_ba);
            self.seq_ba = self.seq_ba.wrapping_add(1);
        }
    }

    fn tick(&mut self) -> bool {
        let a = self.a.advance(TICK_SAMPLES);
        let b = self.b.advance(TICK_SAMPLES);
        self.exchange();
        a && b
    }
}

fn pair(dir: &std::path::Path) -> Pair {
    let tiff = dir.join("send.tif");
    std::fs::write(
        &tiff,
        write_bilevel_tiff(&TiffSpec {
            width: 1728,
            height: 1100,
            x_dpi: 204,
            y_dpi: 196,
            pages: 2,
        }),
    )
    .unwrap();
    let t38 = T38Config::default();
    let a = T38Terminal::new(
        Role::Calling,
        Direction::Send {
            tiff,
            first_page: 1,
        },
        &T30Config::default(),
        &t38,
    )
    .unwrap();
    let b = T38Terminal::new(
        Role::Answering,
        Direction::Receive {
            tiff: dir.join("recv.tif"),
        },
        &T30Config::default(),
        &t38,
    )
    .unwrap();
    Pair {
        a,
        b,
        seq_ab: 0,
        seq_ba: 0,
    }
}

/// Runs until the sender's first page starts (phase B done), at most 60 s of media.
fn until_negotiated(p: &mut Pair) {
    for _ in 0..3000 {
        p.tick();
        if p.a.stats().bit_rate > 0 && p.a.elapsed_samples() > 8000 * 12 {
            return;
        }
    }
    panic!("the pair never negotiated");
}

/// Ticks on until both ends are done; true when they finished within `limit_s` of media.
fn run_out(p: &mut Pair, limit_s: usize) -> bool {
    (0..limit_s * 50).any(|_| p.tick())
}

#[test]
fn an_hour_long_stall_feeds_at_most_a_second_and_the_call_still_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pair(dir.path());
    until_negotiated(&mut p);
    let before = p.a.elapsed_samples();
    let hour = 3600 * 8000;
    p.a.advance(hour);
    assert_eq!(p.a.elapsed_samples() - before, MAX_CATCH_UP_SAMPLES as u64);
    assert_eq!(p.a.skipped_samples(), (hour - MAX_CATCH_UP_SAMPLES) as u64);
    assert!(p.a.queued_ifps() <= MAX_QUEUED_IFPS);
    assert!(run_out(&mut p, 600), "both ends reach phase E");
    let a = p.a.result().expect("the sender has a result");
    let b = p.b.result().expect("the receiver has a result");
    // A second's stall mid-page is something T.30 may survive or not; either way each end
    // knows how the call ended.
    assert!(a.code.0 >= 0 && b.code.0 >= 0);
}

#[test]
fn a_caller_that_never_polls_holds_a_bounded_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pair(dir.path());
    until_negotiated(&mut p);
    // Starved of the socket side: time runs on, IFPs are never taken. Two simulated minutes
    // of paced image data is far more than the cap.
    let mut produced_at_least = 0;
    for _ in 0..6000 {
        p.a.advance(TICK_SAMPLES);
        produced_at_least = produced_at_least.max(p.a.queued_ifps());
        assert!(p.a.queued_ifps() <= MAX_QUEUED_IFPS);
    }
    assert_eq!(produced_at_least, MAX_QUEUED_IFPS, "the backlog filled");
    assert!(p.a.dropped_ifps() > 0, "what did not fit was counted");
    // Back to normal: the far end lost part of the page; the starved end still reaches
    // phase E rather than hanging, and the far end ends when the call is hung up.
    assert!(
        (0..600 * 50).any(|_| {
            p.tick();
            p.a.result().is_some()
        }),
        "the starved end reaches phase E"
    );
    p.b.terminate();
    assert!(p.b.result().is_some());
    let mut events = Vec::new();
    while let Some(ev) = p.a.poll_event() {
        events.push(ev);
    }
    assert!(events.iter().any(|e| matches!(e, FaxEvent::Finished(_))));
}
