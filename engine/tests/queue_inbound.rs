//! Incoming faxes over real SIP on loopback: a fax to one of our numbers is stored as an
//! inbound job with its document, reception attempt, pages and event, and then kept by the
//! queue (no delivery endpoint); an unknown number gets 404, an unknown source 403.

mod queue_harness;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use engine::call::{
    run_outgoing, AgentConfig, CallReport, CalledFrom, FaxJob, FaxOptions, MediaSettings,
    OutgoingCall, PeerAcl, SipAgent, T38Mode,
};
use engine::documents::{read_tiff_pages, write_fax_tiff};
use engine::queue::{Inbound, InboundSettings, Limits, LivePeers, Peers};
use media::ports::PortPool;
use queue_harness::{page_image, World};
use store::{Direction, JobFilter, JobStatus, NumberRules};
use tokio::sync::watch;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const DID: &str = "+15551230001";

struct Run {
    send: CallReport,
    job: Option<store::JobId>,
}

/// Sends a 2-page fax to `number` at a server whose peers are `sources`.
async fn fax_to(w: &World, number: &str, sources: &[&str]) -> Run {
    let gateways = w.store.list_gateways().await.unwrap();
    let mut gateways = gateways;
    for g in &mut gateways {
        g.allowed_sources = sources.iter().map(|s| (*s).to_owned()).collect();
    }
    let (peers, _) = Peers::from_gateways(&gateways);
    let live = LivePeers::default();
    live.set(peers);
    let pool = Arc::new(PortPool::new(30000..=31999).unwrap());
    let mut media = MediaSettings::new(pool.clone(), LO);
    media.speed = 8;
    let inbound = Inbound {
        store: w.store.clone(),
        media: media.clone(),
        settings: InboundSettings {
            called_from: CalledFrom::RequestUri,
            rules: NumberRules::nanp(),
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
    // The agent admits everyone; the inbound side judges sources against the live peers.
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.acl = PeerAcl::any();
    let (server, mut incoming) = SipAgent::start(cfg).await.unwrap();
    let (_cancel_tx, cancel) = watch::channel(false);
    let handling = tokio::spawn(async move {
        let call = incoming.recv().await.expect("an INVITE arrives");
        inbound.handle(call, cancel).await
    });
    let (client, _none) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
        .await
        .unwrap();
    let tiff = w.spool.with_file_name("send.tif");
    std::fs::write(
        &tiff,
        write_fax_tiff(&[page_image(1), page_image(2)]).unwrap(),
    )
    .unwrap();
    let target = format!("sip:{number}@{}", server.local_addr());
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
    let send = run_outgoing(&client, call, job, &media, None).await;
    let job = handling.await.unwrap();
    Run { send, job }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fax_to_our_number_is_stored_and_listed() {
    let w = World::new(&[("carrier", 1)]).await;
    let r = fax_to(&w, DID, &["127.0.0.1"]).await;
    assert!(r.send.is_success(), "{}", r.send.summary());
    let id = r.job.expect("a job");
    let job = w.job(id).await;
    assert_eq!(job.direction, Direction::Inbound);
    assert_eq!(job.callee, DID);
    assert_eq!(job.caller, "+15550001111");
    let listing = w
        .store
        .list_jobs_filtered(
            w.tenant,
            &JobFilter {
                direction: Some(Direction::Inbound),
                ..JobFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(listing.len(), 1, "in the tenant's listing");
    let doc = w
        .store
        .get_document(w.tenant, job.document_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc.pages, 2);
    let pages = read_tiff_pages(&doc.data).unwrap();
    assert_eq!(pages.len(), 2, "the stored TIFF holds both pages");
    let attempts = w.store.list_attempts(w.tenant, id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].endpoint_id, None, "a reception, not a delivery");
    assert!(attempts[0].gateway_id.is_some(), "the gateway it came from");
    assert_eq!(attempts[0].result_code, Some(0));
    assert_eq!(w.pages_per_attempt(id).await, vec![vec![1, 2]]);
    assert!(w.events(id).await.contains(&"fax.received".to_owned()));
    let recent = w.tracker.view(w.clock.now()).recent;
    assert_eq!(recent[0].job_uuid, id.to_string());
    assert_eq!(recent[0].direction, "inbound");

    // The queue keeps it: the number has no delivery endpoint, and it is never sent back
    // upstream.
    w.default_queue().run_until_idle().await.unwrap();
    assert!(w.dialer.gateways_dialed().is_empty());
    let job = w.job(id).await;
    assert_eq!(job.status, JobStatus::Done);
    let left: Vec<String> = std::fs::read_dir(&w.spool)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "spool cleaned: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_numbers_get_404_and_unknown_sources_403() {
    let w = World::new(&[("carrier", 1)]).await;
    let r = fax_to(&w, "+15559999999", &["127.0.0.1"]).await;
    assert_eq!(r.send.sip_status, Some(404), "{}", r.send.summary());
    assert!(r.job.is_none());
    let r = fax_to(&w, DID, &["192.0.2.1"]).await;
    assert_eq!(r.send.sip_status, Some(403), "{}", r.send.summary());
    assert!(r.job.is_none());
    let jobs = w.store.list_jobs(w.tenant, 10).await.unwrap();
    assert!(jobs.is_empty(), "nothing stored: {jobs:?}");
}
