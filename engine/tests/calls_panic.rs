//! Panic isolation: two fax calls at once on the same pair of agents; the receiving task of
//! one panics mid-call (a test hook). That call ends with a clear failure report and a BYE
//! to its sender, and the other call completes with every page intact.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use engine::call::{
    run_incoming, run_outgoing, AgentConfig, FaxJob, FaxOptions, MediaSettings, OutgoingCall,
    Party, PeerAcl, SipAgent, T38Mode,
};
use media::ports::PortPool;
use spandsp::Direction;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn options(ident: &str) -> FaxOptions {
    FaxOptions {
        ident: ident.to_owned(),
        t38: T38Mode::Off,
        ..FaxOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_call_fails_alone_and_the_other_call_completes() {
    let dir = tempfile::tempdir().unwrap();
    let tiff = common::charts_tiff(&common::itu_charts(1));
    let send_path = common::write_send_document(dir.path(), &tiff);
    let pool = Arc::new(PortPool::new(42000..=42999).unwrap());
    let mut media = MediaSettings::new(pool, LO);
    media.speed = 4;
    media.playout.depth = Duration::from_millis(240);

    let mut rx_cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    rx_cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
    let (receiver, mut incoming) = SipAgent::start(rx_cfg).await.unwrap();
    let (sender, _) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
        .await
        .unwrap();

    let rx_media = media.clone();
    let rx_dir = dir.path().to_owned();
    let receiving = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let call = incoming.recv().await.expect("an INVITE arrives");
            let user = call
                .request
                .uri
                .as_sip()
                .and_then(|u| u.user.clone())
                .unwrap_or_default();
            let mut opts = options("RECEIVER");
            if user == "1" {
                // Well into the call: T.30 has negotiated and the page is on its way.
                opts.test_panic_at_ms = Some(9_000);
            }
            let job = FaxJob {
                direction: Direction::Receive {
                    tiff: rx_dir.join(format!("received-{user}.tif")),
                },
                options: opts,
                cancel: None,
            };
            let m = rx_media.clone();
            tasks.push((
                user,
                tokio::spawn(async move { run_incoming(call, job, &m, None).await }),
            ));
        }
        let mut out = Vec::new();
        for (user, t) in tasks {
            out.push((user, t.await.expect("the report comes back, panic or not")));
        }
        out
    });

    let send = |user: &str| {
        let call = OutgoingCall::direct(
            &format!("sip:{user}@{}", receiver.local_addr()),
            "5550001",
            sender.local_addr(),
        )
        .unwrap();
        let job = FaxJob {
            direction: Direction::Send {
                tiff: send_path.clone(),
                first_page: 1,
            },
            options: options("SENDER"),
            cancel: None,
        };
        let (agent, media) = (sender.clone(), media.clone());
        async move { run_outgoing(&agent, call, job, &media, None).await }
    };
    let (sent_1, sent_2) = tokio::join!(send("1"), send("2"));
    let received = receiving.await.unwrap();
    let rx = |u: &str| &received.iter().find(|(user, _)| user == u).unwrap().1;

    let broken = rx("1");
    let failure = broken.failure.as_deref().unwrap_or_default();
    assert!(
        failure.starts_with("internal error: the call task panicked (test hook: panic at"),
        "{failure}"
    );
    assert!(!broken.is_success());
    assert!(!sent_1.is_success(), "{}", sent_1.summary());
    assert_eq!(
        sent_1.hangup_by,
        Some(Party::Remote),
        "the panicking side sent BYE"
    );

    assert!(
        sent_2.is_success(),
        "{}\nreceiver: {:?}",
        sent_2.summary(),
        rx("2").failure
    );
    assert!(rx("2").is_success(), "{}", rx("2").summary());
    common::assert_same_pixels(&send_path, &dir.path().join("received-2.tif"));
}
