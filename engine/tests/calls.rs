//! Fax calls end to end over real SIP and real UDP sockets on loopback: two engine user
//! agents in one process, one sending a multi-page document, the other receiving it, with
//! the received pages compared to the sent ones pixel by pixel.

mod common;

use std::path::Path;

use common::loopback::{Ends, Loopback};
use engine::call::{CallReport, FaxOptions, Party, Progress, T38Mode, T38Step, T38Trigger};
use engine::outcome::OutcomeClass;
use tokio::sync::{mpsc, watch};

fn options(ident: &str, t38: T38Mode, ecm: bool) -> FaxOptions {
    FaxOptions {
        ident: ident.to_owned(),
        t38,
        ecm,
        ..FaxOptions::default()
    }
}

/// Runs one call from a sending agent to a receiving agent; both run at `speed`.
async fn call(
    dir: &Path,
    pages: usize,
    sender: FaxOptions,
    receiver: FaxOptions,
    speed: u32,
) -> Ends {
    call_with(dir, pages, sender, receiver, speed, None).await
}

/// As [`call`]; with `hang_up_after`, the receiver hangs up once it has that many pages.
async fn call_with(
    dir: &Path,
    pages: usize,
    sender: FaxOptions,
    receiver: FaxOptions,
    speed: u32,
    hang_up_after: Option<u32>,
) -> Ends {
    let tiff = common::charts_tiff(&common::itu_charts(pages));
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(p) = progress_rx.recv().await {
            if let (Progress::Page(page), Some(n)) = (p, hang_up_after) {
                if page.page >= n {
                    let _ = cancel_tx.send(true);
                }
            }
        }
    });
    let mut fax = Loopback::new(sender, receiver, speed);
    fax.rx_cancel = Some(cancel_rx);
    fax.rx_progress = Some(progress_tx);
    let ends = fax.run(dir, &tiff).await;
    if ends.send.is_success() {
        common::assert_same_pixels(&ends.send_path, &ends.rx_path);
    } else if let Some(n) = hang_up_after {
        let sent = common::pages_of(&ends.send_path);
        let received = common::pages_of(&ends.rx_path);
        assert_eq!(received.len(), n as usize, "pages kept after the hang-up");
        for (s, r) in sent.iter().zip(&received) {
            assert_eq!(s.bitmap.data, r.bitmap.data, "page pixels");
        }
    }
    ends
}

fn assert_success(ends: &Ends, pages: u32) {
    for (who, r) in [("sender", &ends.send), ("receiver", &ends.receive)] {
        assert!(r.is_success(), "{who}: {}\n{r:#?}", r.summary());
        let fax = r.fax.as_ref().unwrap();
        assert_eq!(fax.pages, pages, "{who} pages");
        assert_eq!(r.pages.len(), pages as usize, "{who} page events");
        assert!(r.answered);
        assert_eq!(r.sip_status, Some(200));
    }
    assert_eq!(ends.send.outcome().class, OutcomeClass::Success);
    assert_eq!(ends.send.fax.as_ref().unwrap().remote_ident, "RECEIVER");
    assert_eq!(ends.receive.fax.as_ref().unwrap().remote_ident, "SENDER");
}

fn media_names(r: &CallReport) -> Vec<&str> {
    r.media.iter().map(|m| m.media.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g711_to_g711_two_pages() {
    let dir = tempfile::tempdir().unwrap();
    let ends = call(
        dir.path(),
        2,
        options("SENDER", T38Mode::Off, true),
        options("RECEIVER", T38Mode::Off, true),
        4,
    )
    .await;
    assert_success(&ends, 2);
    assert_eq!(media_names(&ends.send), ["audio/PCMU"]);
    assert_eq!(media_names(&ends.receive), ["audio/PCMU"]);
    assert!(ends.send.t38.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_then_t38_requested_by_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let ends = call(
        dir.path(),
        2,
        options("SENDER", T38Mode::Accept, true),
        options("RECEIVER", T38Mode::Request, true),
        4,
    )
    .await;
    assert_success(&ends, 2);
    assert_eq!(media_names(&ends.receive), ["audio/PCMU", "t38/v3"]);
    assert_eq!(media_names(&ends.send), ["audio/PCMU", "t38/v3"]);
    let steps: Vec<_> = ends.receive.t38.iter().map(|e| e.step.clone()).collect();
    assert_eq!(
        steps,
        [
            T38Step::Offered { by: Party::Local },
            T38Step::Accepted { by: Party::Remote }
        ]
    );
    assert!(ends.receive.pages.iter().all(|p| p.media == "t38/v3"));
}

fn steps(r: &CallReport) -> Vec<T38Step> {
    r.t38.iter().map(|e| e.step.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_from_the_first_invite() {
    let dir = tempfile::tempdir().unwrap();
    let mut sender = options("SENDER", T38Mode::Request, true);
    sender.t38_in_invite = true;
    let ends = call(
        dir.path(),
        3,
        sender,
        options("RECEIVER", T38Mode::Accept, true),
        4,
    )
    .await;
    assert_success(&ends, 3);
    assert_eq!(media_names(&ends.send), ["t38/v3"]);
    assert_eq!(media_names(&ends.receive), ["t38/v3"]);
    assert_eq!(
        steps(&ends.receive),
        [
            T38Step::Offered { by: Party::Remote },
            T38Step::Accepted { by: Party::Local }
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_then_t38_requested_by_sender() {
    let dir = tempfile::tempdir().unwrap();
    let ends = call(
        dir.path(),
        2,
        options("SENDER", T38Mode::Request, false),
        options("RECEIVER", T38Mode::Accept, false),
        4,
    )
    .await;
    assert_success(&ends, 2);
    assert_eq!(media_names(&ends.send), ["audio/PCMU", "t38/v3"]);
    assert_eq!(
        steps(&ends.send),
        [
            T38Step::Offered { by: Party::Local },
            T38Step::Accepted { by: Party::Remote }
        ]
    );
    assert!(!ends.send.fax.as_ref().unwrap().ecm, "ECM was off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_refused_with_488_continues_on_g711() {
    let dir = tempfile::tempdir().unwrap();
    let ends = call(
        dir.path(),
        2,
        options("SENDER", T38Mode::Request, true),
        options("RECEIVER", T38Mode::Off, true),
        4,
    )
    .await;
    assert_success(&ends, 2);
    assert_eq!(media_names(&ends.send), ["audio/PCMU"]);
    assert_eq!(
        steps(&ends.send),
        [
            T38Step::Offered { by: Party::Local },
            T38Step::Rejected {
                by: Party::Remote,
                status: 488
            }
        ]
    );
    assert_eq!(
        steps(&ends.receive),
        [
            T38Step::Offered { by: Party::Remote },
            T38Step::Rejected {
                by: Party::Local,
                status: 488
            }
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_hang_up_mid_fax_keeps_the_pages_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let ends = call_with(
        dir.path(),
        3,
        options("SENDER", T38Mode::Off, true),
        options("RECEIVER", T38Mode::Off, true),
        4,
        Some(2),
    )
    .await;
    let send = &ends.send;
    assert!(!send.is_success(), "{}", send.summary());
    assert_eq!(send.hangup_by, Some(Party::Remote));
    let fax = send.fax.as_ref().expect("T.30 ran");
    assert_ne!(fax.code, 0, "a call cut short is not a success");
    // Page 2 arrived, but the BYE overtook its confirmation (MCF takes a second of V.21).
    assert_eq!((fax.pages, fax.pages_total), (1, 3));
    assert_eq!(ends.receive.hangup_by, Some(Party::Local));
    assert_eq!(ends.receive.failure.as_deref(), Some("cancelled"));
    assert_eq!(ends.receive.fax.as_ref().unwrap().pages, 2);
    assert_eq!(
        send.outcome().class,
        OutcomeClass::Partial { sent: 1, total: 3 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_asks_for_t38_when_it_hears_cng() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = options("RECEIVER", T38Mode::Request, true);
    receiver.t38_trigger = T38Trigger::Tone;
    let ends = call(
        dir.path(),
        1,
        options("SENDER", T38Mode::Accept, true),
        receiver,
        4,
    )
    .await;
    assert_success(&ends, 1);
    assert!(ends.receive.fax_seen);
    assert_eq!(media_names(&ends.receive), ["audio/PCMU", "t38/v3"]);
    let offered = &ends.receive.t38[0];
    assert_eq!(offered.step, T38Step::Offered { by: Party::Local });
    // CNG starts at once and its first burst lasts 0.5 s: asked within the first second,
    // long before any T.30 frame could have been heard.
    assert!(
        (300..1500).contains(&offered.at_ms),
        "T.38 asked at {} ms",
        offered.at_ms
    );
}
