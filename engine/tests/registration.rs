//! Registrations through the engine's user agent, over real sockets: a PBX registers to us
//! (digest-authenticated) and our fax goes to where its REGISTER came from; we register to a
//! registrar and take the fax it sends us on that binding; a wrong password stops the
//! registration with the registrar's refusal; SIPp registers to us through a 401.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use engine::call::{
    run_incoming, run_outgoing, AgentConfig, FaxJob, FaxOptions, MediaSettings,
    OutboundRegistration, OutgoingCall, PeerAcl, SipAgent, T38Mode,
};
use media::ports::PortPool;
use sip::auth::{Algorithm, Credentials, DigestServer};
use sip::msg::{NameAddr, Uri};
use sip::registrar::RegistrarConfig;
use sip::transaction::{Peer, Transport};
use spandsp::Direction;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn registrar_config() -> RegistrarConfig {
    let mut cfg = RegistrarConfig::new("faxserver-test");
    // SIPp answers only MD5 challenges (and takes the first one offered).
    cfg.digest = Some(
        DigestServer::new("faxserver.test", b"test secret", std::time::Instant::now())
            .with_algorithms(vec![Algorithm::Md5]),
    );
    cfg.users = HashMap::from([("pbx".to_owned(), "secret".to_owned())]);
    cfg
}

fn acl_config() -> AgentConfig {
    let mut c = AgentConfig::new(SocketAddr::new(LO, 0));
    c.acl = PeerAcl::parse(["127.0.0.1"]).unwrap();
    c
}

fn registration(to: SocketAddr, password: &str) -> OutboundRegistration {
    OutboundRegistration {
        registrar: Uri::parse(&format!("sip:{to}")).unwrap(),
        aor: NameAddr::parse(&format!("<sip:pbx@{}>", to.ip())).unwrap(),
        peer: Peer {
            addr: to,
            transport: Transport::Udp,
        },
        expires: 300,
        credentials: Some(Credentials::new("pbx", password)),
    }
}

/// Asks `agent` until `aor` is bound or the deadline passes.
async fn wait_bound(agent: &SipAgent, aor: &Uri) -> Vec<(Uri, Peer)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let targets = agent.registered_targets(aor).await;
        if !targets.is_empty() || tokio::time::Instant::now() > deadline {
            return targets;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pbx_registers_to_us_and_our_fax_goes_where_it_registered_from() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(PortPool::new(53000..=53999).unwrap());
    let mut us_cfg = acl_config();
    us_cfg.registrar = Some(registrar_config());
    let (us, _) = SipAgent::start(us_cfg).await.unwrap();
    let mut pbx_cfg = acl_config();
    pbx_cfg.registrations = vec![registration(us.local_addr(), "secret")];
    let (pbx, mut pbx_incoming) = SipAgent::start(pbx_cfg).await.unwrap();

    let aor = Uri::parse(&format!("sip:pbx@{}", us.local_addr().ip())).unwrap();
    let targets = wait_bound(&us, &aor).await;
    assert_eq!(
        targets.len(),
        1,
        "the PBX is bound: {:?}",
        pbx.registrations().await
    );
    let (contact, next_hop) = targets[0].clone();
    assert_eq!(
        next_hop.addr,
        pbx.local_addr(),
        "calls go where the REGISTER came from"
    );
    // The registrar binds before its 200 reaches the PBX: wait for the PBX to have read it
    // (a failure guard, not a delay).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut states = pbx.registrations().await;
    while !states[0].registered && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        states = pbx.registrations().await;
    }
    assert!(states[0].registered, "{states:?}");

    let tiff = common::charts_tiff(&common::itu_charts(1));
    let send_path = common::write_send_document(dir.path(), &tiff);
    let rx_path = dir.path().join("rx.tif");
    let mut media = MediaSettings::new(pool.clone(), LO);
    media.speed = 4;
    media.playout.depth = Duration::from_millis(240);
    let rx_media = media.clone();
    let rx_job = FaxJob {
        direction: Direction::Receive {
            tiff: rx_path.clone(),
        },
        options: FaxOptions {
            ident: "PBX".into(),
            ..FaxOptions::default()
        },
        cancel: None,
    };
    let receiving = tokio::spawn(async move {
        let call = pbx_incoming.recv().await.unwrap();
        run_incoming(call, rx_job, &rx_media, None).await
    });
    let mut call = OutgoingCall::direct(
        &format!("sip:5551234@{}", pbx.local_addr()),
        "1",
        us.local_addr(),
    )
    .unwrap();
    call.target = contact;
    call.peer = next_hop;
    let job = FaxJob {
        direction: Direction::Send {
            tiff: send_path.clone(),
            first_page: 1,
        },
        options: FaxOptions {
            ident: "US".into(),
            t38: T38Mode::Request,
            ..FaxOptions::default()
        },
        cancel: None,
    };
    let sent = run_outgoing(&us, call, job, &media, None).await;
    let received = receiving.await.unwrap();
    assert!(sent.is_success(), "{}", sent.summary());
    assert!(received.is_success(), "{}", received.summary());
    common::assert_same_pixels(&send_path, &rx_path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stops_our_registration_with_the_refusal() {
    let mut us_cfg = acl_config();
    us_cfg.registrar = Some(registrar_config());
    let (us, _) = SipAgent::start(us_cfg).await.unwrap();
    let mut pbx_cfg = acl_config();
    pbx_cfg.registrations = vec![registration(us.local_addr(), "wrong")];
    let (pbx, _) = SipAgent::start(pbx_cfg).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let state = loop {
        let s = pbx.registrations().await.remove(0);
        if s.refused.is_some() || tokio::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!state.registered);
    assert!(matches!(state.refused, Some(401 | 403)), "{state:?}");
    let aor = Uri::parse(&format!("sip:pbx@{}", us.local_addr().ip())).unwrap();
    assert!(us.registered_targets(&aor).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_registers_to_us_through_a_401() {
    if std::process::Command::new("sipp")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: sipp (sip-tester) is not installed");
        return;
    }
    let mut us_cfg = acl_config();
    us_cfg.registrar = Some(registrar_config());
    let (us, _) = SipAgent::start(us_cfg).await.unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/register_401.xml");
    let port = {
        let s = std::net::UdpSocket::bind((LO, 0)).unwrap();
        s.local_addr().unwrap().port()
    };
    let target = us.local_addr().to_string();
    // sipp blocks until its scenario ends; the agent answers on the runtime meanwhile.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sipp")
            .args(["-sf", scenario, "-m", "1", "-i", "127.0.0.1"])
            .args([
                "-p",
                &port.to_string(),
                "-timeout",
                "15s",
                "-timeout_error",
                "-nostdin",
            ])
            .arg(target)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "sipp failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let aor = Uri::parse(&format!("sip:pbx@{}", us.local_addr().ip())).unwrap();
    let targets = us.registered_targets(&aor).await;
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].1.addr, SocketAddr::new(LO, port));
}
