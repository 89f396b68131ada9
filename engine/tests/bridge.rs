//! Live bridging end to end on loopback: a sender, a bridging agent and a receiver, each a
//! real SIP user agent with real UDP media. The bridge joins G.711 to T.38 through SpanDSP's
//! gateway, and T.38 to T.38 by relaying IFPs re-framed for each leg (or through a gateway
//! pair when the legs' T.38 versions differ). Received pages are compared pixel by pixel.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use engine::call::bridge::{run_bridge, BridgeOptions, BridgeReport};
use engine::call::{
    run_incoming, run_outgoing, AgentConfig, CallReport, FaxJob, FaxOptions, MediaSettings,
    OutgoingCall, PeerAcl, SipAgent, T38Mode,
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
    let br_settings = settings(&pool, &Side::audio());
    let onward = format!("sip:5559999@{}", rx_agent.local_addr());
    let br_addr = br_agent.local_addr();
    let bridging = tokio::spawn(async move {
        let call = br_incoming.recv().await.expect("the sender calls");
        let out = OutgoingCall::direct(&onward, "5550001", br_agent.local_addr()).unwrap();
        run_bridge(&br_agent, call, out, &br_settings, bridge, None).await
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
        },
        options: fax_options("SENDER", &sender),
        cancel: None,
    };
    let send = run_outgoing(&tx_agent, call, tx_job, &settings(&pool, &sender), None).await;
    let receive = receiving.await.unwrap();
    let bridge = bridging.await.unwrap();
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
    assert_eq!(media(&o.receive), ["t38/v3"]);
    assert_eq!(joints(&o.bridge), ["T.38 gateway"]);
    assert_gateway_records(&o.bridge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t38_sender_through_the_gateway_to_a_g711_receiver() {
    let bridge = BridgeOptions {
        inbound_t38: T38Mode::Accept,
        outbound_t38: T38Mode::Off,
        ..BridgeOptions::default()
    };
    let o = bridged_call(Side::t38(UdpEc::Fec, 3), bridge, Side::audio()).await;
    assert_eq!(media(&o.send), ["t38/v3"]);
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
    assert_eq!(media(&o.send), ["t38/v3"]);
    assert_eq!(media(&o.receive), ["t38/v3"]);
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
    assert_eq!(media(&o.send), ["t38/v3"]);
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
    assert_eq!(media(&o.send), ["audio/PCMU", "t38/v3"]);
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
    assert_eq!(media(&o.receive), ["audio/PCMU", "t38/v3"]);
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
