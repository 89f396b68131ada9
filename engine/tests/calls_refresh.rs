//! RFC 4028 session refreshes in the middle of a fax: two engine user agents on loopback
//! with a 10 s session interval, a three-page fax over T.38 (refreshed by re-INVITE) and
//! over G.711 (refreshed by UPDATE). The refreshes must happen while pages are moving, be
//! seen by both ends, and leave the received pages pixel-identical to the sent ones.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use engine::call::{
    run_incoming, run_outgoing, AgentConfig, CallReport, FaxJob, FaxOptions, MediaSettings,
    OutgoingCall, Party, PeerAcl, SipAgent, T38Mode,
};
use media::ports::PortPool;
use sip::dialog::{RefreshMethod, SessionTimerConfig};
use spandsp::Direction;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Media runs twice as fast as the wall clock, session timers on the wall clock: a 10 s
/// interval refreshes every 5 s of wall time, i.e. every 10 s of media time, while a
/// three-page fax takes well over a minute of media time.
const SPEED: u32 = 2;

fn agent_config(refresh: RefreshMethod) -> AgentConfig {
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.session_timer = SessionTimerConfig {
        session_expires: Some(10),
        min_se: 10,
        refresh,
    };
    cfg
}

fn media(pool: &Arc<PortPool>) -> MediaSettings {
    let mut m = MediaSettings::new(pool.clone(), LO);
    m.speed = SPEED;
    m.playout.depth = Duration::from_millis(240);
    m
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
    let send_path = common::write_send_document(dir.path(), &tiff);
    let rx_path = dir.path().join("received.tif");
    let pool = Arc::new(PortPool::new(20000..=29999).unwrap());

    let mut rx_cfg = agent_config(refresh);
    rx_cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
    let (rx_agent, mut incoming) = SipAgent::start(rx_cfg).await.unwrap();
    let (tx_agent, _none) = SipAgent::start(agent_config(refresh)).await.unwrap();

    let rx_media = media(&pool);
    let rx_job = FaxJob {
        direction: Direction::Receive {
            tiff: rx_path.clone(),
        },
        options: receiver,
        cancel: None,
    };
    let receiving = tokio::spawn(async move {
        let call = incoming.recv().await.expect("an INVITE arrives");
        run_incoming(call, rx_job, &rx_media, None).await
    });
    let target = format!("sip:5551234@{}", rx_agent.local_addr());
    let call = OutgoingCall::direct(&target, "5550001", tx_agent.local_addr()).unwrap();
    let tx_job = FaxJob {
        direction: Direction::Send {
            tiff: send_path.clone(),
            first_page: 1,
        },
        options: sender,
        cancel: None,
    };
    let send = run_outgoing(&tx_agent, call, tx_job, &media(&pool), None).await;
    let receive = tokio::time::timeout(Duration::from_secs(120), receiving)
        .await
        .expect("the receiving call ends")
        .unwrap();
    for (who, r) in [("sender", &send), ("receiver", &receive)] {
        assert!(r.is_success(), "{who}: {}\n{r:#?}", r.summary());
        assert_eq!(r.fax.as_ref().unwrap().pages, 3, "{who} pages");
        assert_eq!(r.pages.len(), 3, "{who} page events");
    }
    common::assert_same_pixels(&send_path, &rx_path);
    (send, receive)
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
