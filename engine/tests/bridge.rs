//! Live bridging end to end on loopback: a sender, a bridging agent and a receiver, each a
//! real SIP user agent with real UDP media. The bridge joins G.711 to T.38 through SpanDSP's
//! gateway, and T.38 to T.38 by relaying IFPs re-framed for each leg (or through a gateway
//! pair when the legs' T.38 versions differ). Received pages are compared pixel by pixel.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use engine::call::bridge::{run_bridge, run_bridge_failover, BridgeOptions, BridgeReport};
use engine::call::{
    run_incoming, run_outgoing, AgentConfig, CallEvent, CallReport, FaxJob, FaxOptions,
    IncomingCall, MediaSettings, OutgoingCall, PeerAcl, SipAgent, T38Mode,
};
use media::ports::PortPool;
use sip::sdp::UdpEc;
use spandsp::Direction;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SPEED: u32 = 4;

struct Side {
    t38: T38Mode,
    t38_in_invite: bool,
    max_version: u8,
    ec: Vec<UdpEc>,
}

impl Side {
    fn audio() -> Side {
        Side {
            t38: T38Mode::Off,
            t38_in_invite: false,
            max_version: 3,
            ec: vec![UdpEc::Redundancy, UdpEc::Fec],
        }
    }

    /// Audio first, then a re-INVITE to T.38 at answer.
    fn reinvite() -> Side {
        Side {
            t38: T38Mode::Request,
            ..Side::audio()
        }
    }

    fn t38(ec: UdpEc, max_version: u8) -> Side {
        Side {
            t38: T38Mode::Accept,
            t38_in_invite: true,
            max_version,
            ec: vec![ec],
        }
    }
}

struct Outcome {
    send: CallReport,
    receive: CallReport,
    bridge: BridgeReport,
}

fn settings(pool: &Arc<PortPool>, side: &Side) -> MediaSettings {
    let mut m = MediaSettings::new(pool.clone(), LO);
    m.speed = SPEED;
    // Media time runs SPEED times faster than the wall clock, and so does the playout
    // buffer's depth: keep a real-time margin for a busy machine.
    m.playout.depth = std::time::Duration::from_millis(240);
    m.udptl.max_version = side.max_version;
    m.udptl.error_correction = side.ec.clone();
    m
}

fn fax_options(ident: &str, side: &Side) -> FaxOptions {
    FaxOptions {
        ident: ident.to_owned(),
        t38: side.t38,
        t38_in_invite: side.t38_in_invite,
        ..FaxOptions::default()
    }
}

async fn bridged_call(sender: Side, bridge: BridgeOptions, receiver: Side) -> Outcome {
    bridged_call_after(sender, bridge, receiver, None).await
}

/// A bridged call; with `refusal`, the bridge first tries a callee that refuses with it.
async fn bridged_call_after(
    sender: Side,
    bridge: BridgeOptions,
    receiver: Side,
    refusal: Option<u16>,
) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let tiff = common::charts_tiff(&common::itu_charts(2));
    let send_path = common::write_send_document(dir.path(), &tiff);
    let rx_path = dir.path().join("received.tif");
    let pool = Arc::new(PortPool::new(46000..=49999).unwrap());
    let acl = || {
        let mut c = AgentConfig::new(SocketAddr::new(LO, 0));
        c.acl = PeerAcl::parse(["127.0.0.1"]).unwrap();
        c
    };
    let (rx_agent, mut rx_incoming) = SipAgent::start(acl()).await.unwrap();
    let (br_agent, mut br_incoming) = SipAgent::start(acl()).await.unwrap();
    let (tx_agent, _) = SipAgent::start(acl()).await.unwrap();

    let rx_settings = settings(&pool, &receiver);
    let rx_job = FaxJob {
        direction: Direction::Receive {
            tiff: rx_path.clone(),
        },
        options: fax_options("RECEIVER", &receiver),
        cancel: None,
    };
    let receiving = tokio::spawn(async move {
        let call = rx_incoming.recv().await.expect("the bridge calls");
        run_incoming(call, rx_job, &rx_settings, None).await
    });
    let mut targets = Vec::new();
    let mut refusing = None;
    if let Some(status) = refusal {
        let (agent, mut incoming) = SipAgent::start(acl()).await.unwrap();
        targets.push(format!("sip:5559999@{}", agent.local_addr()));
        refusing = Some(tokio::spawn(async move {
            let call = incoming
                .recv()
                .await
                .expect("the bridge tries the first callee");
            call.handle.reject(status);
            // Kept until the test ends, so the refusal is not cut short.
            (agent, call)
        }));
    }
    targets.push(format!("sip:5559999@{}", rx_agent.local_addr()));
    let br_settings = settings(&pool, &Side::audio());
    let br_addr = br_agent.local_addr();
    let bridging = tokio::spawn(async move {
        let call = br_incoming.recv().await.expect("the sender calls");
        let local = br_agent.local_addr();
        let mut outs: Vec<_> = targets
            .iter()
            .map(|t| OutgoingCall::direct(t, "5550001", local).unwrap())
            .collect();
        if outs.len() == 1 {
            let out = outs.pop().unwrap();
            run_bridge(&br_agent, call, out, &br_settings, bridge, None).await
        } else {
            let outs = outs.into_iter().map(Into::into).collect();
            run_bridge_failover(&br_agent, call, outs, &br_settings, bridge, None).await
        }
    });
    let call = OutgoingCall::direct(
        &format!("sip:5551234@{br_addr}"),
        "5550001",
        tx_agent.local_addr(),
    )
    .unwrap();
    let tx_job = FaxJob {
        direction: Direction::Send {
            tiff: send_path.clone(),
            first_page: 1,
        },
        options: fax_options("SENDER", &sender),
        cancel: None,
    };
    let send = run_outgoing(&tx_agent, call, tx_job, &settings(&pool, &sender), None).await;
    let receive = receiving.await.unwrap();
    let bridge = bridging.await.unwrap();
    if let Some(refusing) = refusing {
        refusing.await.unwrap();
    }
    assert!(send.is_success(), "sender: {}\n{bridge:#?}", send.summary());
    assert!(receive.is_success(), "receiver: {}", receive.summary());
    common::assert_same_pixels(&send_path, &rx_path);
    Outcome {
        send,
        receive,
        bridge,
    }
}

fn media(r: &CallReport) -> Vec<&str> {
    r.media.iter().map(|m| m.media.as_str()).collect()
}

fn joints(b: &BridgeReport) -> Vec<&str> {
    b.joints.iter().map(|j| j.joint.as_str()).collect()
}

fn assert_gateway_records(b: &BridgeReport) {
    assert_eq!(b.pages, Some(2), "pages seen in the T.30 frames");
    assert!(b.fax_completed, "the gateway saw the DCN");
    assert_eq!(b.bit_rate, Some(14400));
    assert!(b.inbound.answered && b.outbound.answered);
    assert!(b.duration_ms > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g711_sender_through_the_gateway_to_a_t38_receiver() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Accept,
        outbound_t38: T38Mode::Request,
        ..BridgeOptions::default()
    };
    let o = bridged_call(Side::audio(), bridge, Side::t38(UdpEc::Redundancy, 3)).await;
    assert_eq!(media(&o.send), ["audio/PCMU"]);
    assert_eq!(media(&o.receive), ["t38/v2"]);
    assert_eq!(joints(&o.bridge), ["T.38 gateway"]);
    assert_gateway_records(&o.bridge);
}

/// The debug bundle of a bridge: each leg's SIP ladder and pcap, and the gateway's T.30
/// trace on the inbound leg.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_bridge_keeps_ladders_pcaps_and_the_t30_trace() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Accept,
        outbound_t38: T38Mode::Request,
        debug_pcap: true,
        ..BridgeOptions::default()
    };
    let o = bridged_call(Side::audio(), bridge, Side::t38(UdpEc::Redundancy, 3)).await;
    assert_gateway_records(&o.bridge);
    for (name, leg) in [
        ("inbound", &o.bridge.inbound),
        ("outbound", &o.bridge.outbound),
    ] {
        let first = leg.debug.sip.first().expect("a SIP ladder");
        assert!(first.text.starts_with("INVITE "), "{name}: {}", first.text);
        assert!(
            first.sent == (name == "outbound"),
            "{name}: who sent the INVITE"
        );
        let pcap = leg.debug.pcap.as_deref().expect("a pcap");
        // The classic pcap magic, then at least one packet record beyond the header.
        assert_eq!(pcap[..4], [0xd4, 0xc3, 0xb2, 0xa1], "{name}");
        assert!(pcap.len() > 24 + 16 + 28, "{name}: no packet");
    }
    let t30 = &o.bridge.inbound.debug.t30;
    assert!(
        t30.iter().any(|l| l.text.contains("DCS")),
        "the gateway's trace shows the DCS: {t30:#?}"
    );
    assert!(o.bridge.outbound.debug.t30.is_empty());
    // The last attempt is listed in `tried` without a second copy of its bundle.
    assert!(o.bridge.tried.last().is_some_and(|t| t.debug.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_from_the_first_callee_fails_over_to_the_next() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Accept,
        outbound_t38: T38Mode::Request,
        ..BridgeOptions::default()
    };
    let receiver = Side::t38(UdpEc::Redundancy, 3);
    let o = bridged_call_after(Side::audio(), bridge, receiver, Some(503)).await;
    assert_eq!(joints(&o.bridge), ["T.38 gateway"]);
    assert_gateway_records(&o.bridge);
    let tried: Vec<_> = o
        .bridge
        .tried
        .iter()
        .map(|l| (l.sip_status, l.answered))
        .collect();
    assert_eq!(tried, [(Some(503), false), (Some(200), true)]);
    assert_ne!(o.bridge.tried[0].target, o.bridge.tried[1].target);
    // The same leg, but only `outbound` carries its debug bundle.
    let mut outbound = o.bridge.outbound.clone();
    outbound.debug = Default::default();
    assert_eq!(o.bridge.tried[1], outbound);
    assert!(
        o.bridge.tried[0].media.is_empty(),
        "the refused leg carried no media"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_sender_through_the_gateway_to_a_g711_receiver() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Accept,
        outbound_t38: T38Mode::Off,
        ..BridgeOptions::default()
    };
    let o = bridged_call(Side::t38(UdpEc::Fec, 3), bridge, Side::audio()).await;
    assert_eq!(media(&o.send), ["t38/v2"]);
    assert_eq!(media(&o.receive), ["audio/PCMU"]);
    assert_eq!(joints(&o.bridge), ["T.38 gateway"]);
    assert_gateway_records(&o.bridge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_relay_reframes_fec_into_redundancy() {
    let o = bridged_call(
        Side::t38(UdpEc::Fec, 3),
        BridgeOptions::default(),
        Side::t38(UdpEc::Redundancy, 3),
    )
    .await;
    assert_eq!(media(&o.send), ["t38/v2"]);
    assert_eq!(media(&o.receive), ["t38/v2"]);
    assert_eq!(joints(&o.bridge), ["T.38 relay"]);
    assert_eq!(o.bridge.pages, None, "a relay does not look into the fax");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_versions_that_differ_go_through_a_gateway_pair() {
    let o = bridged_call(
        Side::t38(UdpEc::Redundancy, 3),
        BridgeOptions::default(),
        Side::t38(UdpEc::Redundancy, 0),
    )
    .await;
    assert_eq!(media(&o.send), ["t38/v2"]);
    assert_eq!(media(&o.receive), ["t38/v0"]);
    assert_eq!(joints(&o.bridge), ["T.38 gateway pair"]);
    assert_gateway_records(&o.bridge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g711_relay_between_two_audio_legs() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Off,
        outbound_t38: T38Mode::Off,
        ..BridgeOptions::default()
    };
    let o = bridged_call(Side::audio(), bridge, Side::audio()).await;
    assert_eq!(media(&o.send), ["audio/PCMU"]);
    assert_eq!(media(&o.receive), ["audio/PCMU"]);
    assert_eq!(joints(&o.bridge), ["audio relay"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_switches_to_t38_mid_call_and_the_relay_becomes_a_gateway() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Accept,
        outbound_t38: T38Mode::Off,
        ..BridgeOptions::default()
    };
    let o = bridged_call(Side::reinvite(), bridge, Side::audio()).await;
    assert_eq!(media(&o.send), ["audio/PCMU", "t38/v2"]);
    assert_eq!(media(&o.receive), ["audio/PCMU"]);
    assert_eq!(joints(&o.bridge), ["audio relay", "T.38 gateway"]);
    assert_eq!(
        o.bridge.outbound.media.len(),
        1,
        "the other leg stays on audio"
    );
    assert_gateway_records(&o.bridge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callee_switches_to_t38_mid_call() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Off,
        outbound_t38: T38Mode::Accept,
        ..BridgeOptions::default()
    };
    let o = bridged_call(Side::audio(), bridge, Side::reinvite()).await;
    assert_eq!(media(&o.send), ["audio/PCMU"]);
    assert_eq!(media(&o.receive), ["audio/PCMU", "t38/v2"]);
    // The callee asks at once, often before the caller's leg is up: the audio relay may
    // never have run.
    assert_eq!(joints(&o.bridge).last(), Some(&"T.38 gateway"));
    assert_eq!(
        o.bridge.inbound.media.len(),
        1,
        "the other leg stays on audio"
    );
    assert_gateway_records(&o.bridge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_488_on_one_leg_keeps_the_bridge_on_audio() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Off,
        outbound_t38: T38Mode::Off,
        ..BridgeOptions::default()
    };
    let o = bridged_call(Side::reinvite(), bridge, Side::audio()).await;
    assert_eq!(media(&o.send), ["audio/PCMU"]);
    assert!(o
        .send
        .t38
        .iter()
        .any(|e| matches!(e.step, engine::call::T38Step::Rejected { status: 488, .. })));
    assert_eq!(joints(&o.bridge), ["audio relay"]);
}

/// A Super G3 machine on audio: answers with 3.3 s of ANSam (V.8's invitation to V.34), then
/// carries on as an ordinary Group 3 fax answering terminal.
async fn super_g3_receiver(call: IncomingCall, pool: Arc<PortPool>, rx: &std::path::Path) -> u32 {
    use media::g711::Law;
    use media::playout::{Frame, PlayoutBuffer, PlayoutConfig, FRAME_SAMPLES};
    use media::rtp::{PayloadMap, RtpReceiver, RtpSender, SenderConfig, StreamIds};
    use media::socket::{MediaSocket, RtpStream, SocketConfig, StreamFilter};
    use sip::dialog::{DialogEvent, MediaConfig};
    use sip::sdp::{Agreed, Capabilities, OfferMedia, Policy};
    use spandsp::{FaxEvent, FaxTerminal, GeneratedTone, Role, T30Config, ToneGenerator};

    let IncomingCall { mut handle, .. } = call;
    let config = SocketConfig {
        local_ip: LO,
        ..SocketConfig::default()
    };
    let filter = StreamFilter::rtp_types(&[0]);
    let socket = MediaSocket::bind(&pool, &config, filter, SocketAddr::new(LO, 9)).unwrap();
    let port = socket.local_addr().port();
    handle.accept(MediaConfig {
        caps: Capabilities::new(LO, port, port),
        policy: Policy {
            accept_t38: false,
            ..Policy::default()
        },
        offer: OfferMedia::Audio,
    });
    let mut socket = Some(socket);
    let mut side = None;
    let mut ansam = Some(ToneGenerator::new(GeneratedTone::AnsAmPhaseReversed).unwrap());
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(20) / SPEED);
    let start = std::time::Instant::now();
    let (mut ticks, mut pages) = (0u32, 0);
    let mut frame = [0i16; FRAME_SAMPLES];
    loop {
        tokio::select! {
            ev = handle.next() => match ev {
                Some(CallEvent::Dialog(ev)) => match *ev {
                    DialogEvent::Confirmed { agreed: Agreed::Audio(a), .. } => {
                        let mut s = socket.take().unwrap();
                        s.relatch(a.remote.unwrap());
                        let mut map = PayloadMap::new();
                        map.insert_rtpmap(0, "PCMU", 8000).unwrap();
                        let sender = RtpSender::new(SenderConfig::new(
                            Law::Ulaw,
                            StreamIds::from_seed(3),
                        ))
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
                            local_ident: "SUPERG3".into(),
                            ..T30Config::default()
                        };
                        let dir = Direction::Receive { tiff: rx.into() };
                        let terminal = FaxTerminal::new(Role::Answering, dir, &t30).unwrap();
                        side = Some((stream, terminal));
                    }
                    DialogEvent::ReinviteOffered { .. } => handle.reject_offer(488),
                    DialogEvent::Terminated { .. } => return pages,
                    _ => {}
                },
                Some(_) => {}
                None => return pages,
            },
            _ = ticker.tick() => {
                ticks += 1;
                let now = start + std::time::Duration::from_millis(20) * ticks;
                let Some((stream, terminal)) = &mut side else { continue };
                stream.drain(now).unwrap();
                match stream.pop_frame(now) {
                    Frame::Audio(s) => terminal.rx(s),
                    Frame::Gap => terminal.rx_lost(FRAME_SAMPLES),
                }
                while let Some(ev) = terminal.poll_event() {
                    if let FaxEvent::Finished(r) = ev {
                        pages = r.stats.pages_transferred;
                        handle.bye();
                    }
                }
                frame.fill(0);
                let still_ansam = ansam.as_mut().is_some_and(|g| g.tx(&mut frame) > 0);
                if !still_ansam {
                    ansam = None;
                    terminal.tx(&mut frame);
                }
                stream.send_audio(&frame).unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_super_g3_answerer_with_ansam_settles_on_v17_through_the_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let tiff = common::charts_tiff(&common::itu_charts(1));
    let send_path = common::write_send_document(dir.path(), &tiff);
    let rx_path = dir.path().join("received.tif");
    let pool = Arc::new(PortPool::new(50000..=52999).unwrap());
    let agent = || {
        let mut c = AgentConfig::new(SocketAddr::new(LO, 0));
        c.acl = PeerAcl::parse(["127.0.0.1"]).unwrap();
        SipAgent::start(c)
    };
    let (rx_agent, mut rx_incoming) = agent().await.unwrap();
    let (br_agent, mut br_incoming) = agent().await.unwrap();
    let (tx_agent, _) = agent().await.unwrap();
    let rx_pool = pool.clone();
    let rx_for_task = rx_path.clone();
    let receiving = tokio::spawn(async move {
        let call = rx_incoming.recv().await.unwrap();
        super_g3_receiver(call, rx_pool, &rx_for_task).await
    });
    let br_settings = settings(&pool, &Side::audio());
    let onward = format!("sip:5559999@{}", rx_agent.local_addr());
    let br_addr = br_agent.local_addr();
    let bridging = tokio::spawn(async move {
        let call = br_incoming.recv().await.unwrap();
        let out = OutgoingCall::direct(&onward, "5550001", br_agent.local_addr()).unwrap();
        let opts = BridgeOptions {
            outbound_t38: T38Mode::Off,
            ..BridgeOptions::default()
        };
        run_bridge(&br_agent, call, out, &br_settings, opts, None).await
    });
    let sender = Side::t38(UdpEc::Redundancy, 3);
    let call = OutgoingCall::direct(
        &format!("sip:5551234@{br_addr}"),
        "5550001",
        tx_agent.local_addr(),
    )
    .unwrap();
    let job = FaxJob {
        direction: Direction::Send {
            tiff: send_path.clone(),
            first_page: 1,
        },
        options: fax_options("SENDER", &sender),
        cancel: None,
    };
    let send = run_outgoing(&tx_agent, call, job, &settings(&pool, &sender), None).await;
    let received_pages = receiving.await.unwrap();
    let bridge = bridging.await.unwrap();
    assert!(send.is_success(), "{}\n{bridge:#?}", send.summary());
    assert_eq!(received_pages, 1);
    common::assert_same_pixels(&send_path, &rx_path);
    // The T.38 leg was held below version 3, and the fax ran at V.17's top rate.
    assert_eq!(media(&send), ["t38/v2"]);
    assert_eq!(send.fax.as_ref().unwrap().bit_rate, 14400);
    assert_eq!(bridge.bit_rate, Some(14400));
    assert_eq!(joints(&bridge), ["T.38 gateway"]);
}
