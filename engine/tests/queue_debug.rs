//! Debug bundles through the queue (issue #8 item 6): a job sent by the real SIP dialer to a
//! real receiving agent on loopback leaves, per attempt, a `call_debug` row with the SIP
//! ladder (starting with our INVITE) and SpanDSP's T.30 trace; with the tenant's
//! `debug_pcap` on, a pcap of the media too; and the call's media is published as soon as it
//! starts, before the first page. SQLite store, real SpanDSP both ends.

mod queue_harness;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use engine::call::{
    run_incoming, run_outgoing, AgentConfig, CallReport, CalledFrom, FaxJob, FaxOptions,
    MediaSettings, OutgoingCall, PeerAcl, SipAgent, T38Mode,
};
use engine::documents::write_fax_tiff;
use engine::events::{EngineEvent, Stamped};
use engine::queue::{Inbound, InboundSettings, Limits, LivePeers, Peers, SipDialer};
use media::ports::PortPool;
use queue_harness::{page_image, World, CALLER};
use serde_json::Value;
use store::{
    CallDebugRecord, EndpointKind, JobId, JobStatus, NewEndpoint, NewGateway, Scope, Transport,
};
use tokio::sync::broadcast;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn media(pool: &Arc<PortPool>) -> MediaSettings {
    let mut m = MediaSettings::new(pool.clone(), LO);
    m.speed = 8;
    m
}

/// Sends one 1-page job through a queue whose only gateway is a receiving agent on
/// loopback; returns the job, the receiver's report and the job's bundles.
async fn send_one(w: &World, pool: &Arc<PortPool>) -> (JobId, CallReport, Vec<CallDebugRecord>) {
    let mut rx_cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    rx_cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
    let (rx_agent, mut incoming) = SipAgent::start(rx_cfg).await.unwrap();
    let rx_media = media(pool);
    let rx_path = w.spool.with_file_name("received.tif");
    let receiving = tokio::spawn(async move {
        let call = incoming.recv().await.expect("an INVITE arrives");
        let job = FaxJob {
            direction: spandsp::Direction::Receive { tiff: rx_path },
            options: FaxOptions {
                ident: "RECEIVER".into(),
                t38: T38Mode::Off,
                ..FaxOptions::default()
            },
            cancel: None,
        };
        run_incoming(call, job, &rx_media, None).await
    });
    let gateway = format!("loop-{}", rx_agent.local_addr().port());
    w.store
        .create_gateway(&NewGateway {
            name: gateway.clone(),
            uri: format!("sip:{}", rx_agent.local_addr()),
            transport: Transport::Udp,
            username: None,
            password: None,
            register: false,
            allowed_sources: vec!["127.0.0.1".into()],
            tenant_id: None,
            // G.711 keeps the pcap to RTP, which is what the assertion below reads.
            t38_allowed: false,
        })
        .await
        .unwrap();
    let endpoint = w
        .store
        .create_endpoint(
            None,
            &NewEndpoint {
                scope: Scope::Global,
                scope_id: 0,
                endpoint_type: EndpointKind::Gateway,
                target: gateway,
                priority: 1,
                bridge: false,
            },
        )
        .await
        .unwrap();

    let (tx_agent, _none) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
        .await
        .unwrap();
    let queue = w.queue_dialing(
        "node-debug",
        Arc::new(SipDialer::new(tx_agent, media(pool), Some(LO))),
    );
    let job = w.submit("+15557654321", 1).await;
    let ran = tokio::time::timeout(Duration::from_secs(120), queue.run_until_idle())
        .await
        .expect("the job ends")
        .unwrap();
    assert_eq!(ran, 1);
    let received = tokio::time::timeout(Duration::from_secs(30), receiving)
        .await
        .expect("the receiver ends")
        .unwrap();
    // The next send must not find this gateway again.
    w.store.delete_endpoint(None, endpoint.id).await.unwrap();
    let bundles = w
        .store
        .list_call_debug(Some(w.tenant), job.id)
        .await
        .unwrap();
    (job.id, received, bundles)
}

/// The queue publishes the call's media as soon as it starts (issue #8: live views showed
/// `unknown` until the first page): `audio/…` here, after the call's creation and before
/// its first page.
fn live_media_comes_before_the_first_page(rx: &mut broadcast::Receiver<Stamped>, job: JobId) {
    let mut order = Vec::new();
    while let Ok(s) = rx.try_recv() {
        match s.event {
            EngineEvent::CallCreated { call } => {
                assert_eq!(call.job_uuid, Some(job.to_string()));
                order.push("created".to_owned());
            }
            EngineEvent::CallMedia { call, media } => {
                assert_eq!(call.job_uuid, Some(job.to_string()));
                order.push(media);
            }
            EngineEvent::FaxPage { .. } => order.push("page".into()),
            _ => {}
        }
    }
    assert_eq!(order, ["created", "audio/PCMU", "page"], "{order:?}");
}

/// Checks one send bundle's ladder and trace; returns its SIP messages.
fn check_send_bundle(w_attempt: i64, b: &CallDebugRecord) -> Vec<Value> {
    assert_eq!(b.leg, "send");
    assert_eq!(
        b.attempt_id,
        Some(w_attempt),
        "the attempt row it belongs to"
    );
    assert!(!b.call_id.is_empty());
    let sip = b.sip.as_array().expect("a ladder").clone();
    let first = sip.first().expect("SIP messages");
    assert_eq!(first["sent"], true);
    let text = first["text"].as_str().unwrap();
    assert!(text.starts_with("INVITE sip:"), "{text}");
    assert!(text.contains(&b.call_id), "the ladder is the bundle's call");
    assert!(
        sip.iter()
            .any(|m| m["sent"] == false && m["text"].as_str().unwrap().starts_with("SIP/2.0 200")),
        "the far end's 200 OK is in the ladder"
    );
    assert!(
        sip.iter()
            .any(|m| m["text"].as_str().unwrap().starts_with("BYE ")),
        "the call's end is in the ladder"
    );
    let t30 = b.t30.as_array().expect("a trace");
    assert!(!t30.is_empty(), "SpanDSP's T.30 trace");
    assert!(t30
        .iter()
        .all(|l| l["text"].is_string() && l["level"].is_string()));
    sip
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_fax_leaves_its_ladder_and_trace() {
    let w = World::new(&[]).await;
    let pool = Arc::new(PortPool::new(32000..=32499).unwrap());
    let mut rx = w.events.bus.as_ref().unwrap().subscribe();
    let (job, received, bundles) = send_one(&w, &pool).await;
    live_media_comes_before_the_first_page(&mut rx, job);
    assert!(received.is_success(), "{}", received.summary());
    assert_eq!(w.job(job).await.status, JobStatus::Done);
    assert_eq!(w.job(job).await.caller, CALLER);
    let attempts = w.store.list_attempts(w.tenant, job).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(bundles.len(), 1, "{bundles:?}");
    check_send_bundle(attempts[0].id.0, &bundles[0]);
    assert_eq!(
        bundles[0].call_id, received.call_id,
        "the call both ends saw"
    );
    // The tenant did not ask for captures.
    assert!(!bundles[0].has_pcap);
    assert_eq!(
        w.store
            .get_call_debug_pcap(Some(w.tenant), job, bundles[0].id)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenants_debug_pcap_adds_a_capture_of_the_media() {
    let w = World::new(&[]).await;
    let pool = Arc::new(PortPool::new(32500..=32999).unwrap());
    assert!(w.store.set_tenant_debug_pcap(w.tenant, true).await.unwrap());
    let (job, received, bundles) = send_one(&w, &pool).await;
    assert!(received.is_success(), "{}", received.summary());
    let attempts = w.store.list_attempts(w.tenant, job).await.unwrap();
    assert_eq!(bundles.len(), 1, "{bundles:?}");
    check_send_bundle(attempts[0].id.0, &bundles[0]);
    assert!(
        bundles[0].has_pcap,
        "a pcap with the tenant's debug_pcap on"
    );
    let pcap = w
        .store
        .get_call_debug_pcap(Some(w.tenant), job, bundles[0].id)
        .await
        .unwrap()
        .expect("a pcap");
    // A classic pcap file: its magic in either byte order, then at least one packet.
    let magic = u32::from_le_bytes(pcap[..4].try_into().unwrap());
    assert!(
        [0xa1b2_c3d4, 0xa1b2_3c4d, 0xd4c3_b2a1, 0x4d3c_b2a1].contains(&magic),
        "{magic:#x}"
    );
    assert!(pcap.len() > 24 + 16 + 12, "{} octets", pcap.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_received_fax_leaves_its_bundle_with_the_gateways_pcap() {
    let w = World::new(&[("carrier", 1)]).await;
    let pool = Arc::new(PortPool::new(31000..=31499).unwrap());
    let mut gateways = w.store.list_gateways().await.unwrap();
    assert!(w
        .store
        .set_gateway_debug_pcap(gateways[0].id, true)
        .await
        .unwrap());
    gateways[0].allowed_sources = vec!["127.0.0.1".into()];
    let (peers, _) = Peers::from_gateways(&gateways);
    let live = LivePeers::default();
    live.set(peers);
    let inbound = Inbound {
        store: w.store.clone(),
        media: media(&pool),
        settings: InboundSettings {
            called_from: CalledFrom::RequestUri,
            rules: store::NumberRules::nanp(),
            fax: FaxOptions {
                ident: "RECEIVER".into(),
                ..FaxOptions::default()
            },
            policy: engine::policy::Settings::default(),
            spool_dir: w.spool.clone(),
        },
        limits: Limits::new(engine::queue::Caps::default()),
        tracker: w.tracker.clone(),
        peers: live,
        clock: w.clock.clock(),
        events: w.events.clone(),
        bridging: None,
    };
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.acl = PeerAcl::any();
    let (server, mut incoming) = SipAgent::start(cfg).await.unwrap();
    let (_cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let handling = tokio::spawn(async move {
        let call = incoming.recv().await.expect("an INVITE arrives");
        inbound.handle(call, cancel).await
    });
    let (client, _none) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
        .await
        .unwrap();
    let tiff = w.spool.with_file_name("send.tif");
    std::fs::write(&tiff, write_fax_tiff(&[page_image(1)]).unwrap()).unwrap();
    let target = format!("sip:{CALLER}@{}", server.local_addr());
    let call = OutgoingCall::direct(&target, "+15550001111", client.local_addr()).unwrap();
    let job = FaxJob {
        direction: spandsp::Direction::Send {
            tiff,
            first_page: 1,
        },
        options: FaxOptions {
            ident: "SENDER".into(),
            t38: T38Mode::Off,
            ..FaxOptions::default()
        },
        cancel: None,
    };
    let sent = run_outgoing(&client, call, job, &media(&pool), None).await;
    assert!(sent.is_success(), "{}", sent.summary());
    let job = tokio::time::timeout(Duration::from_secs(30), handling)
        .await
        .expect("the reception ends")
        .unwrap()
        .expect("a job");

    let bundles = w.store.list_call_debug(Some(w.tenant), job).await.unwrap();
    assert_eq!(bundles.len(), 1, "{bundles:?}");
    let b = &bundles[0];
    assert_eq!((b.leg.as_str(), b.attempt_id), ("receive", None));
    assert_eq!(b.call_id, sent.call_id);
    let sip = b.sip.as_array().unwrap();
    let first = &sip[0];
    assert_eq!(
        first["sent"], false,
        "a reception's ladder starts with the far INVITE"
    );
    assert!(first["text"].as_str().unwrap().starts_with("INVITE sip:"));
    assert!(!b.t30.as_array().unwrap().is_empty());
    assert!(b.has_pcap, "the gateway's debug_pcap is on");
    let pcap = w
        .store
        .get_call_debug_pcap(None, job, b.id)
        .await
        .unwrap()
        .expect("a pcap");
    assert!(pcap.len() > 24, "{} octets", pcap.len());
}
