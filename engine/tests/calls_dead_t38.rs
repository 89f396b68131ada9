//! A far end that says yes to T.38 and never sends it: an SBC that accepts the re-INVITE but
//! passes only audio. The sender must notice (no UDPTL for 5 s while RTP still arrives), go
//! back to G.711 by re-INVITE, and finish the fax there; with the fallback turned off it must
//! fail with the reason "no T.38 media".

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::call::{
    run_outgoing, AgentConfig, CallEvent, CallReport, DeadT38, FaxJob, FaxOptions, IncomingCall,
    MediaSettings, OutgoingCall, Party, PeerAcl, SipAgent, T38Mode, T38Step, T38Trigger,
};
use engine::outcome::OutcomeClass;
use media::g711::Law;
use media::playout::{Frame, PlayoutBuffer, PlayoutConfig, FRAME_SAMPLES};
use media::ports::PortPool;
use media::rtp::{PayloadMap, RtpReceiver, RtpSender, SenderConfig, StreamIds};
use media::socket::{MediaSocket, RtpStream, SocketConfig, StreamFilter};
use sip::dialog::{DialogEvent, MediaConfig};
use sip::sdp::{Agreed, Capabilities, OfferMedia, Policy};
use spandsp::{Direction, FaxEvent, FaxTerminal, Role, T30Config};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SPEED: u32 = 4;

/// The lying receiver: an audio fax machine whose SIP side accepts every offer.
async fn liar(call: IncomingCall, pool: Arc<PortPool>, rx: &Path) -> Option<u32> {
    let IncomingCall { mut handle, .. } = call;
    let config = SocketConfig {
        local_ip: LO,
        ..SocketConfig::default()
    };
    let socket = MediaSocket::bind(
        &pool,
        &config,
        StreamFilter::rtp_types(&[0]),
        SocketAddr::new(LO, 9),
    )
    .expect("bind");
    let port = socket.local_addr().port();
    handle.accept(MediaConfig {
        caps: Capabilities::new(LO, port, port),
        policy: Policy::default(),
        offer: OfferMedia::Audio,
    });
    let mut socket = Some(socket);
    let mut side: Option<(RtpStream, FaxTerminal)> = None;
    let mut pages = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(20) / SPEED);
    let start = Instant::now();
    let mut ticks = 0u32;
    let mut frame = [0i16; FRAME_SAMPLES];
    loop {
        tokio::select! {
            ev = handle.next() => match ev {
                Some(CallEvent::Dialog(ev)) => match *ev {
                    DialogEvent::Confirmed { agreed: Agreed::Audio(a), .. } => {
                        let mut s = socket.take().expect("socket");
                        s.relatch(a.remote.expect("remote audio"));
                        let mut map = PayloadMap::new();
                        map.insert_rtpmap(0, "PCMU", 8000).unwrap();
                        let sender =
                            RtpSender::new(SenderConfig::new(Law::Ulaw, StreamIds::from_seed(7)))
                                .unwrap();
                        let stream = RtpStream::new(
                            s,
                            sender,
                            RtpReceiver::new(map),
                            PlayoutBuffer::new(PlayoutConfig {
                            depth: std::time::Duration::from_millis(240),
                            ..PlayoutConfig::default()
                        }),
                        );
                        let t30 = T30Config {
                            local_ident: "LIAR".into(),
                            ..T30Config::default()
                        };
                        let dir = Direction::Receive { tiff: rx.into() };
                        let terminal = FaxTerminal::new(Role::Answering, dir, &t30).unwrap();
                        side = Some((stream, terminal));
                    }
                    // Yes to everything, and audio carries on regardless.
                    DialogEvent::ReinviteOffered { .. } => handle.accept_offer(None),
                    DialogEvent::Terminated { .. } => return pages,
                    _ => {}
                },
                Some(_) => {}
                None => return pages,
            },
            _ = ticker.tick() => {
                ticks += 1;
                let now = start + Duration::from_millis(20) * ticks;
                let Some((stream, terminal)) = &mut side else { continue };
                stream.drain(now).expect("drain");
                match stream.pop_frame(now) {
                    Frame::Audio(s) => terminal.rx(s),
                    Frame::Gap => terminal.rx_lost(FRAME_SAMPLES),
                }
                while let Some(ev) = terminal.poll_event() {
                    if let FaxEvent::Finished(r) = ev {
                        pages = Some(r.stats.pages_transferred);
                    }
                }
                frame.fill(0);
                terminal.tx(&mut frame);
                stream.send_audio(&frame).expect("send");
            }
        }
    }
}

async fn call_the_liar(
    dir: &Path,
    dead_t38: DeadT38,
    trigger: T38Trigger,
) -> (CallReport, Option<u32>) {
    let tiff = common::charts_tiff(&common::itu_charts(2));
    let send_path = common::write_send_document(dir, &tiff);
    let rx_path = dir.join("received.tif");
    let pool = Arc::new(PortPool::new(30000..=39999).unwrap());
    let mut rx_cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    rx_cfg.acl = PeerAcl::parse(["127.0.0.1"]).unwrap();
    let (rx_agent, mut incoming) = SipAgent::start(rx_cfg).await.unwrap();
    let (tx_agent, _none) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
        .await
        .unwrap();
    let liar_pool = pool.clone();
    let rx_for_liar = rx_path.clone();
    let receiving = tokio::spawn(async move {
        let call = incoming.recv().await.expect("an INVITE arrives");
        liar(call, liar_pool, &rx_for_liar).await
    });
    let mut media = MediaSettings::new(pool, LO);
    media.speed = SPEED;
    // Media time runs SPEED times faster than the wall clock, and so does the playout
    // buffer's depth: keep a real-time margin for a busy machine.
    media.playout.depth = std::time::Duration::from_millis(240);
    let target = format!("sip:5551234@{}", rx_agent.local_addr());
    let call = OutgoingCall::direct(&target, "5550001", tx_agent.local_addr()).unwrap();
    let job = FaxJob {
        direction: Direction::Send {
            tiff: send_path.clone(),
            first_page: 1,
        },
        options: FaxOptions {
            ident: "SENDER".into(),
            t38: T38Mode::Request,
            t38_trigger: trigger,
            dead_t38,
            ..FaxOptions::default()
        },
        cancel: None,
    };
    let report = run_outgoing(&tx_agent, call, job, &media, None).await;
    let liar_pages = receiving.await.unwrap();
    if report.is_success() {
        common::assert_same_pixels(&send_path, &rx_path);
    }
    (report, liar_pages)
}

fn steps(r: &CallReport) -> Vec<T38Step> {
    r.t38.iter().map(|e| e.step.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_t38_falls_back_to_g711_and_the_fax_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (report, liar_pages) =
        call_the_liar(dir.path(), DeadT38::FallBackToAudio, T38Trigger::Answer).await;
    assert!(report.is_success(), "{}\n{report:#?}", report.summary());
    assert_eq!(
        steps(&report),
        [
            T38Step::Offered { by: Party::Local },
            T38Step::Accepted { by: Party::Remote },
            T38Step::NoMedia,
            T38Step::BackToAudio,
        ]
    );
    let media: Vec<&str> = report.media.iter().map(|m| m.media.as_str()).collect();
    // The liar speaks T.38 version 0 (the default capabilities).
    assert_eq!(media, ["audio/PCMU", "t38/v0", "audio/PCMU"]);
    let no_media = &report.t38[2];
    let accepted = &report.t38[1];
    let waited = no_media.at_ms - accepted.at_ms;
    assert!(
        (5000..6000).contains(&waited),
        "dead T.38 noticed after {waited} ms of media time"
    );
    assert_eq!(report.fax.as_ref().unwrap().pages, 2);
    assert_eq!(liar_pages, Some(2));
    assert!(report.pages.iter().all(|p| p.media == "audio/PCMU"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_t38_without_fallback_fails_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (report, _) = call_the_liar(dir.path(), DeadT38::Fail, T38Trigger::Answer).await;
    assert!(!report.is_success());
    assert_eq!(report.failure.as_deref(), Some("no T.38 media"));
    assert_eq!(report.hangup_by, Some(Party::Local));
    assert_eq!(steps(&report).last(), Some(&T38Step::NoMedia));
    assert!(
        matches!(
            report.outcome().class,
            OutcomeClass::NotAFax | OutcomeClass::FaxFailed
        ),
        "{:?}",
        report.outcome()
    );
}

/// The usual case in the field: audio flows first (the far end's answer tone makes us ask for
/// T.38), so the media socket has already taken RTP when T.38 starts. That RTP must not count
/// as T.38 media arriving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_t38_is_noticed_after_audio_has_flowed() {
    let dir = tempfile::tempdir().unwrap();
    let (report, _) = call_the_liar(dir.path(), DeadT38::Fail, T38Trigger::Tone).await;
    assert_eq!(
        report.failure.as_deref(),
        Some("no T.38 media"),
        "{report:#?}"
    );
    let accepted = report
        .t38
        .iter()
        .find(|e| matches!(e.step, T38Step::Accepted { .. }))
        .expect("T.38 accepted");
    assert!(
        accepted.at_ms >= 1000,
        "T.38 started after {} ms: before any audio flowed",
        accepted.at_ms
    );
    assert_eq!(steps(&report).last(), Some(&T38Step::NoMedia));
}
