//! Fax calls end to end over real SIP and real UDP sockets on loopback: two engine user
//! agents in one process, one sending a multi-page document, the other receiving it, with
//! the received pages compared to the sent ones pixel by pixel.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use engine::call::{
    run_incoming, run_outgoing, AgentConfig, CallReport, FaxJob, FaxOptions, MediaSettings,
    OutgoingCall, Party, PeerAcl, SipAgent, T38Mode, T38Step,
};
use media::ports::PortPool;
use spandsp::Direction;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Ends {
    send: CallReport,
    receive: CallReport,
}

fn media(pool: &Arc<PortPool>, speed: u32) -> MediaSettings {
    let mut m = MediaSettings::new(pool.clone(), LO);
    m.speed = speed;
    m
}

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
    let tiff = common::charts_tiff(&common::itu_charts(pages));
    let send_path = common::write_send_document(dir, &tiff);
    let rx_path = dir.join("received.tif");
    let pool = Arc::new(PortPool::new(20000..=29999).unwrap());

    let mut rx_cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    rx_cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
    let (rx_agent, mut incoming) = SipAgent::start(rx_cfg).await.unwrap();
    let (tx_agent, _none) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
        .await
        .unwrap();

    let rx_media = media(&pool, speed);
    let rx_job = FaxJob {
        direction: Direction::Receive {
            tiff: rx_path.clone(),
        },
        options: receiver,
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
        },
        options: sender,
    };
    let send = run_outgoing(&tx_agent, call, tx_job, &media(&pool, speed), None).await;
    let receive = receiving.await.unwrap();
    if send.is_success() {
        common::assert_same_pixels(&send_path, &rx_path);
    }
    Ends { send, receive }
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
