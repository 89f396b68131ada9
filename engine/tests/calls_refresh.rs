//! RFC 4028 session refreshes in the middle of a fax: two engine user agents on loopback
//! with a 10 s session interval, a three-page fax over T.38 (refreshed by re-INVITE) and
//! over G.711 (refreshed by UPDATE). The refreshes must happen while pages are moving, be
//! seen by both ends, and leave the received pages pixel-identical to the sent ones.

mod common;

use std::net::SocketAddr;

use common::loopback::{receiving_agent, Loopback, LO};
use engine::call::{AgentConfig, CallReport, FaxOptions, Party, T38Mode};
use sip::dialog::{RefreshMethod, SessionTimerConfig};

/// Media runs twice as fast as the wall clock, session timers on the wall clock: a 10 s
/// interval refreshes every 5 s of wall time, i.e. every 10 s of media time, while a
/// three-page fax takes well over a minute of media time.
const SPEED: u32 = 2;

fn session_timer(refresh: RefreshMethod) -> SessionTimerConfig {
    SessionTimerConfig {
        session_expires: Some(10),
        min_se: 10,
        refresh,
    }
}

/// Sends three ITU charts from one agent to the other; returns (sender, receiver) reports
/// after checking the received pages against the sent ones pixel by pixel.
async fn fax_with_refreshes(
    refresh: RefreshMethod,
    sender: FaxOptions,
    receiver: FaxOptions,
) -> (CallReport, CallReport) {
    let dir = tempfile::tempdir().unwrap();
    let tiff = common::charts_tiff(&common::itu_charts(3));
    let mut fax = Loopback::new(sender, receiver, SPEED);
    fax.tx_agent = AgentConfig::new(SocketAddr::new(LO, 0));
    fax.tx_agent.session_timer = session_timer(refresh);
    fax.rx_agent = receiving_agent();
    fax.rx_agent.session_timer = session_timer(refresh);
    let ends = fax.run(dir.path(), &tiff).await;
    for (who, r) in [("sender", &ends.send), ("receiver", &ends.receive)] {
        assert!(r.is_success(), "{who}: {}\n{r:#?}", r.summary());
        assert_eq!(r.fax.as_ref().unwrap().pages, 3, "{who} pages");
        assert_eq!(r.pages.len(), 3, "{who} page events");
    }
    common::assert_same_pixels(&ends.send_path, &ends.rx_path);
    (ends.send, ends.receive)
}

/// The refreshes `by` one side, in media ms, after checking the count matches the list.
fn refreshes_by(r: &CallReport, by: Party) -> Vec<u64> {
    assert_eq!(r.session_refreshes as usize, r.refreshes.len());
    r.refreshes
        .iter()
        .filter(|e| e.by == by)
        .map(|e| e.at_ms)
        .collect()
}

/// The sender (the UAC, whose INVITE offered the timer) refreshes and the receiver answers;
/// at least one refresh falls strictly between the first and the last page on both ends.
fn assert_refreshed_mid_fax(send: &CallReport, receive: &CallReport) {
    let sent = refreshes_by(send, Party::Local);
    let received = refreshes_by(receive, Party::Remote);
    assert!(!sent.is_empty(), "the sender sent no refresh: {send:#?}");
    assert!(!received.is_empty(), "the receiver saw no refresh");
    assert!(
        refreshes_by(send, Party::Remote).is_empty(),
        "sender is the refresher"
    );
    assert!(
        refreshes_by(receive, Party::Local).is_empty(),
        "receiver only answers"
    );
    for (who, r, at) in [("sender", send, &sent), ("receiver", receive, &received)] {
        let first = r.pages[0].at_ms;
        let last = r.pages[2].at_ms;
        assert!(
            at.iter().any(|&t| first < t && t < last),
            "{who}: no refresh between page 1 ({first} ms) and page 3 ({last} ms): {at:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_fax_survives_reinvite_refreshes() {
    let mut sender = FaxOptions {
        ident: "SENDER".to_owned(),
        t38: T38Mode::Request,
        ..FaxOptions::default()
    };
    sender.t38_in_invite = true;
    let receiver = FaxOptions {
        ident: "RECEIVER".to_owned(),
        t38: T38Mode::Accept,
        ..FaxOptions::default()
    };
    let (send, receive) = fax_with_refreshes(RefreshMethod::Reinvite, sender, receiver).await;
    assert!(send.pages.iter().all(|p| p.media == "t38/v3"));
    // A refresh re-INVITE repeats the SDP: the media never changed.
    assert_eq!(send.media.len(), 1, "{:?}", send.media);
    assert_eq!(receive.media.len(), 1, "{:?}", receive.media);
    assert_refreshed_mid_fax(&send, &receive);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g711_fax_survives_update_refreshes() {
    let options = |ident: &str| FaxOptions {
        ident: ident.to_owned(),
        t38: T38Mode::Off,
        ..FaxOptions::default()
    };
    let (send, receive) = fax_with_refreshes(
        RefreshMethod::Update,
        options("SENDER"),
        options("RECEIVER"),
    )
    .await;
    assert!(send.pages.iter().all(|p| p.media == "audio/PCMU"));
    assert_eq!(send.media.len(), 1, "{:?}", send.media);
    assert_eq!(receive.media.len(), 1, "{:?}", receive.media);
    assert_refreshed_mid_fax(&send, &receive);
}
