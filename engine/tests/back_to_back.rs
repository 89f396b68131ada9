//! Real pages through every fax mode, in process: SpanDSP at both ends, no sockets.
//!
//! Each test sends a 4-page document made from the ITU test charts and checks the completion
//! code, the page count, the reported rate and ECM, and that every received page decodes (with
//! the `fax` crate's CCITT decoder, independent of SpanDSP) to exactly the pixels sent.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_same_pixels, charts_tiff, itu_charts, pages_of, write_send_document};
use engine::loopback::{run, LoopbackOutcome, LoopbackSpec, Media};
use spandsp::g711::Law;
use spandsp::{CompletionCode, Modems, T38Config};

/// Which charts a document is made of.
#[derive(Clone, Copy)]
enum Charts {
    /// ITU charts 1–4: 1728 px wide already, sent pixel for pixel.
    Itu,
    /// Extra test pages 1–4: 1240 px A4, scaled to fax width by `documents`.
    Test,
}

fn make_document(dir: &Path, charts: Charts) -> PathBuf {
    let names = match charts {
        Charts::Itu => itu_charts(4),
        Charts::Test => (1..=4).map(|i| format!("spandsp_test{i}.pbm")).collect(),
    };
    write_send_document(dir, &charts_tiff(&names))
}

struct Case {
    sender: Media,
    receiver: Media,
    ecm: bool,
    max_rate: u32,
    t38_version: u8,
    charts: Charts,
}

fn run_case(case: Case) -> LoopbackOutcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let send = make_document(dir.path(), case.charts);
    let receive = dir.path().join("received.tif");
    let mut spec = LoopbackSpec::new(case.sender, case.receiver, send.clone(), receive.clone());
    spec.sender_t30.ecm = case.ecm;
    spec.receiver_t30.ecm = case.ecm;
    spec.sender_t30.modems = Modems::up_to(case.max_rate);
    spec.t38 = T38Config {
        version: case.t38_version,
        ..T38Config::default()
    };
    let outcome = run(&spec).expect("loopback runs");

    for (who, result) in [("sender", &outcome.sender), ("receiver", &outcome.receiver)] {
        assert_eq!(result.code, CompletionCode::OK, "{who}: {}", result.code);
        assert_eq!(result.stats.pages_transferred, 4, "{who} pages");
        assert_eq!(result.stats.bit_rate, case.max_rate, "{who} rate");
        assert_eq!(result.stats.ecm, case.ecm, "{who} ECM");
    }
    assert_eq!(outcome.sender.stats.pages_total, 4);
    assert_eq!(outcome.sender.remote_ident, "+1 555 0199");
    assert_eq!(outcome.receiver.remote_ident, "+1 555 0100");
    assert!(outcome.sender.negotiations >= 1 && outcome.receiver.negotiations >= 1);
    assert_eq!(
        outcome.receiver_pages.len(),
        4,
        "one phase-D report per page"
    );
    assert!(outcome
        .receiver_pages
        .iter()
        .all(|p| p.resolution.name() == "fine"));
    assert!(outcome.receiver_pages.iter().all(|p| p.bad_rows == 0));
    if let Some(gateway) = &outcome.gateway {
        assert_eq!(
            gateway.pages, 4,
            "gateway counted the pages from T.30 frames"
        );
        assert!(gateway.disconnected, "gateway saw DCN");
    }
    assert_same_pixels(&send, &receive);
    outcome
}

macro_rules! case {
    ($name:ident, $sender:expr, $receiver:expr, ecm: $ecm:expr, rate: $rate:expr, version: $v:expr, $charts:expr) => {
        #[test]
        fn $name() {
            run_case(Case {
                sender: $sender,
                receiver: $receiver,
                ecm: $ecm,
                max_rate: $rate,
                t38_version: $v,
                charts: $charts,
            });
        }
    };
}

const ALAW: Media = Media::Audio(Law::Alaw);
const ULAW: Media = Media::Audio(Law::Ulaw);
const T38: Media = Media::T38;

case!(audio_alaw_v17_ecm, ALAW, ALAW, ecm: true, rate: 14400, version: 0, Charts::Itu);
case!(audio_alaw_v17_no_ecm, ALAW, ALAW, ecm: false, rate: 14400, version: 0, Charts::Test);
case!(audio_alaw_v29_ecm, ALAW, ALAW, ecm: true, rate: 9600, version: 0, Charts::Test);
case!(audio_alaw_v29_no_ecm, ALAW, ALAW, ecm: false, rate: 9600, version: 0, Charts::Itu);
case!(audio_alaw_v27ter_ecm, ALAW, ALAW, ecm: true, rate: 4800, version: 0, Charts::Itu);
case!(audio_alaw_v27ter_no_ecm, ALAW, ALAW, ecm: false, rate: 4800, version: 0, Charts::Test);
case!(audio_ulaw_v17_ecm, ULAW, ULAW, ecm: true, rate: 14400, version: 0, Charts::Test);
case!(audio_ulaw_v17_no_ecm, ULAW, ULAW, ecm: false, rate: 14400, version: 0, Charts::Itu);
case!(audio_ulaw_v29_ecm, ULAW, ULAW, ecm: true, rate: 9600, version: 0, Charts::Itu);
case!(audio_ulaw_v29_no_ecm, ULAW, ULAW, ecm: false, rate: 9600, version: 0, Charts::Test);
case!(audio_ulaw_v27ter_ecm, ULAW, ULAW, ecm: true, rate: 4800, version: 0, Charts::Test);
case!(audio_ulaw_v27ter_no_ecm, ULAW, ULAW, ecm: false, rate: 4800, version: 0, Charts::Itu);

case!(t38_v0_ecm, T38, T38, ecm: true, rate: 14400, version: 0, Charts::Itu);
case!(t38_v0_no_ecm, T38, T38, ecm: false, rate: 14400, version: 0, Charts::Test);
case!(t38_v3_ecm, T38, T38, ecm: true, rate: 14400, version: 3, Charts::Test);
case!(t38_v3_no_ecm, T38, T38, ecm: false, rate: 14400, version: 3, Charts::Itu);

case!(audio_to_gateway_to_t38_ecm, ALAW, T38, ecm: true, rate: 14400, version: 0, Charts::Itu);
case!(audio_to_gateway_to_t38_no_ecm, ULAW, T38, ecm: false, rate: 9600, version: 3, Charts::Test);
case!(t38_to_gateway_to_audio_ecm, T38, ULAW, ecm: true, rate: 14400, version: 3, Charts::Test);
case!(t38_to_gateway_to_audio_no_ecm, T38, ALAW, ecm: false, rate: 14400, version: 0, Charts::Itu);

#[test]
fn a_receiver_that_hangs_up_mid_page_gives_partial_counts_and_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let send = make_document(dir.path(), Charts::Itu);
    let receive = dir.path().join("received.tif");
    let mut spec = LoopbackSpec::new(ALAW, ALAW, send, receive.clone());
    spec.sender_t30.ecm = false;
    spec.receiver_t30.ecm = false;
    // Hang up part-way into the third page: the time comes from a complete run's page reports,
    // so the test does not depend on how long each chart takes to send.
    let reference = {
        let mut full = spec.clone();
        full.receive_tiff = dir.path().join("reference.tif");
        run(&full).unwrap()
    };
    assert!(reference.receiver.is_ok());
    let page_seconds = reference.simulated_seconds / 4.0;
    spec.receiver_hangup_after = Some(page_seconds * 2.6);
    let outcome = run(&spec).unwrap();

    assert_eq!(outcome.receiver.code, CompletionCode::CALL_DROPPED);
    assert_eq!(outcome.receiver.code.text(), "The call dropped prematurely");
    let received = outcome.receiver.stats.pages_transferred;
    assert!(
        (1..4).contains(&received),
        "partial page count, got {received}"
    );
    assert_eq!(
        pages_of(&receive).len() as u32,
        received,
        "complete pages kept in the file"
    );

    assert!(
        !outcome.sender.code.is_ok(),
        "sender fails: {}",
        outcome.sender.code
    );
    assert_ne!(outcome.sender.code.text(), "???");
    assert!(outcome.sender.stats.pages_transferred <= received);
    assert_eq!(outcome.sender.stats.pages_total, 4);
}

#[test]
fn the_header_line_is_added_above_each_page() {
    let dir = tempfile::tempdir().unwrap();
    let send = make_document(dir.path(), Charts::Itu);
    let receive = dir.path().join("received.tif");
    let mut spec = LoopbackSpec::new(T38, T38, send.clone(), receive.clone());
    spec.sender_t30.header_info = Some("ACME Clinic +1 555 0100".into());
    let outcome = run(&spec).unwrap();
    assert!(outcome.sender.is_ok() && outcome.receiver.is_ok());

    let sent = pages_of(&send);
    let received = pages_of(&receive);
    assert_eq!(received.len(), 4);
    for (s, r) in sent.iter().zip(&received) {
        let extra = r.bitmap.height - s.bitmap.height;
        assert!(extra > 0 && extra <= 64, "a header band of {extra} rows");
        let stride = s.bitmap.data.len() / s.bitmap.height as usize;
        let header_band = &r.bitmap.data[..extra as usize * stride];
        assert!(
            header_band.iter().any(|&b| b != 0),
            "the header band has text"
        );
        assert_eq!(
            &r.bitmap.data[extra as usize * stride..],
            &s.bitmap.data[..],
            "page body intact"
        );
    }
}
