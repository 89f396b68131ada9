//! Silence on the line is not demodulated: two audio terminals back to back, where each
//! hears the other's transmit audio, complete a 2-page fax while most of the silence the
//! sender hears goes to SpanDSP as fill-in, and a caller hearing only silence still gives up
//! when T.30's T0 says.

use spandsp::{Direction, FaxEvent, FaxTerminal, Role, T30Config, TICK_SAMPLES};
use test_support::{write_bilevel_tiff, TiffSpec};

#[test]
fn a_back_to_back_audio_fax_completes_with_the_senders_silence_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.tif");
    let spec = TiffSpec {
        width: 1728,
        height: 600,
        x_dpi: 204,
        y_dpi: 196,
        pages: 2,
    };
    std::fs::write(&doc, write_bilevel_tiff(&spec)).unwrap();
    let send = Direction::Send {
        tiff: doc,
        first_page: 1,
    };
    let receive = Direction::Receive {
        tiff: dir.path().join("rx.tif"),
    };
    let config = T30Config::default();
    let mut sender = FaxTerminal::new(Role::Calling, send, &config).unwrap();
    let mut receiver = FaxTerminal::new(Role::Answering, receive, &config).unwrap();
    let (mut a, mut b) = ([0i16; TICK_SAMPLES], [0i16; TICK_SAMPLES]);
    let mut ticks = 0u64;
    // 300 s of simulated audio at most; the fax takes well under half of that.
    while !(sender.is_finished() && receiver.is_finished()) && ticks < 15_000 {
        sender.tx(&mut a);
        receiver.tx(&mut b);
        receiver.rx(&a);
        sender.rx(&b);
        ticks += 1;
    }
    let pages = |t: &mut FaxTerminal| {
        let mut pages = 0;
        while let Some(ev) = t.poll_event() {
            pages += u32::from(matches!(ev, FaxEvent::Page(_)));
        }
        pages
    };
    assert_eq!(sender.result().map(|r| r.code.0), Some(0), "sender");
    assert_eq!(receiver.result().map(|r| r.code.0), Some(0), "receiver");
    assert_eq!(pages(&mut receiver), 2);
    // The sender hears silence while it sends its pages: most of its ticks.
    assert!(
        sender.silence_skipped() * 2 > ticks,
        "{} of {ticks} frames skipped",
        sender.silence_skipped()
    );
    assert_eq!(sender.elapsed_samples(), ticks * TICK_SAMPLES as u64);
}

#[test]
fn a_caller_hearing_only_silence_gives_up_when_t0_expires() {
    let dir = tempfile::tempdir().unwrap();
    let receive = Direction::Receive {
        tiff: dir.path().join("rx.tif"),
    };
    let mut terminal = FaxTerminal::new(Role::Calling, receive, &T30Config::default()).unwrap();
    let silence = [0i16; TICK_SAMPLES];
    let mut out = [0i16; TICK_SAMPLES];
    let mut ticks = 0u64;
    while !terminal.is_finished() && ticks < 50 * 120 {
        terminal.tx(&mut out);
        terminal.rx(&silence);
        ticks += 1;
    }
    // T0 (60 s) ends a call that never hears a fax machine answer: time runs on through the
    // fill-in as through demodulated silence.
    let code = terminal.result().map(|r| r.code.0);
    assert_eq!(code, Some(2), "T0 expired");
    let seconds = ticks / 50;
    assert!((59..=62).contains(&seconds), "ended after {seconds} s");
    assert!(terminal.silence_skipped() + 10 > ticks);
}
