//! Dialling a SIP URI by name (RFC 3263) with failover, over real sockets: the name
//! resolves (through a fixed resolver standing in for DNS) to two loopback targets, the
//! first answering 503 and the second a real receiving fax agent; the fax goes through the
//! second and the report names it.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use engine::call::{
    run_incoming, run_outgoing, AgentConfig, FaxJob, FaxOptions, MediaSettings, NameResolver,
    OutgoingCall, PeerAcl, SipAgent, T38Mode,
};
use media::ports::PortPool;
use sip::msg::{parse_datagram, Message, Method, Response, StatusCode};
use sip::transport::{Answer, Naptr, Resolver, Srv};
use spandsp::Direction;
use tokio::net::UdpSocket;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Fixed DNS: SRV records by name, addresses by host.
struct Fixed {
    srv: HashMap<String, Vec<Srv>>,
    hosts: HashMap<String, IpAddr>,
}

impl Resolver for Fixed {
    fn naptr(&mut self, _: &str) -> Answer<Naptr> {
        Answer::empty(Duration::from_secs(60))
    }
    fn srv(&mut self, name: &str) -> Answer<Srv> {
        Answer {
            records: self.srv.get(name).cloned().unwrap_or_default(),
            ttl: Duration::from_secs(60),
        }
    }
    fn addrs(&mut self, host: &str) -> Answer<IpAddr> {
        Answer {
            records: self.hosts.get(host).copied().into_iter().collect(),
            ttl: Duration::from_secs(60),
        }
    }
}

/// Answers every request but ACK with 503; returns its address and how many INVITEs came.
async fn overloaded_gateway() -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let sock = UdpSocket::bind(SocketAddr::new(LO, 0)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(Message::Request(req)) = parse_datagram(&buf[..n]) else {
                continue;
            };
            if req.method == Method::Ack {
                continue;
            }
            if req.method == Method::Invite {
                let _ = tx.send(());
            }
            let resp = Response::for_request(&req, StatusCode::new(503).unwrap());
            let _ = sock.send_to(&resp.to_bytes(), from).await;
        }
    });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_resolves_to_two_targets_and_the_fax_goes_through_the_second() {
    let dir = tempfile::tempdir().unwrap();
    let tiff = common::charts_tiff(&common::itu_charts(1));
    let send_path = common::write_send_document(dir.path(), &tiff);
    let rx_path = dir.path().join("received.tif");
    let pool = Arc::new(PortPool::new(40000..=40999).unwrap());
    let mut media = MediaSettings::new(pool, LO);
    media.speed = 4;
    media.playout.depth = Duration::from_millis(240);

    let mut rx_cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    rx_cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
    let (receiver, mut incoming) = SipAgent::start(rx_cfg).await.unwrap();
    let (busy, mut busy_invites) = overloaded_gateway().await;

    let srv = |priority, port| Srv {
        priority,
        weight: 0,
        port,
        target: if priority == 10 {
            "busy.fax.test".into()
        } else {
            "live.fax.test".into()
        },
    };
    let fixed = Fixed {
        srv: HashMap::from([(
            "_sip._udp.fax.test".to_owned(),
            vec![srv(20, receiver.local_addr().port()), srv(10, busy.port())],
        )]),
        hosts: HashMap::from([
            ("busy.fax.test".to_owned(), LO),
            ("live.fax.test".to_owned(), LO),
        ]),
    };
    let mut tx_cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    tx_cfg.resolver = NameResolver::fixed(fixed);
    let (sender, _) = SipAgent::start(tx_cfg).await.unwrap();

    let options = |ident: &str| FaxOptions {
        ident: ident.to_owned(),
        t38: T38Mode::Off,
        ..FaxOptions::default()
    };
    let rx_job = FaxJob {
        direction: Direction::Receive {
            tiff: rx_path.clone(),
        },
        options: options("RECEIVER"),
        cancel: None,
    };
    let rx_media = media.clone();
    let receiving = tokio::spawn(async move {
        let call = incoming.recv().await.expect("an INVITE arrives");
        run_incoming(call, rx_job, &rx_media, None).await
    });
    let call =
        OutgoingCall::resolving("sip:5551234@fax.test", "5550001", sender.local_addr()).unwrap();
    let tx_job = FaxJob {
        direction: Direction::Send {
            tiff: send_path.clone(),
            first_page: 1,
        },
        options: options("SENDER"),
        cancel: None,
    };
    let send = run_outgoing(&sender, call, tx_job, &media, None).await;
    let receive = receiving.await.unwrap();

    assert!(send.is_success(), "{}\n{send:#?}", send.summary());
    assert!(receive.is_success(), "{}", receive.summary());
    assert_eq!(send.fax.as_ref().unwrap().pages, 1);
    common::assert_same_pixels(&send_path, &rx_path);
    assert!(
        busy_invites.try_recv().is_ok(),
        "the first target (priority 10) was tried first"
    );
    assert_eq!(
        send.next_hop.as_deref(),
        Some(format!("udp:{}", receiver.local_addr()).as_str()),
        "the report names the target that took the call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_resolve_fails_the_call_clearly() {
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.resolver = NameResolver::fixed(Fixed {
        srv: HashMap::new(),
        hosts: HashMap::new(),
    });
    let (agent, _) = SipAgent::start(cfg).await.unwrap();
    let pool = Arc::new(PortPool::new(41000..=41099).unwrap());
    let call =
        OutgoingCall::resolving("sip:1@nowhere.test", "5550001", agent.local_addr()).unwrap();
    let job = FaxJob {
        direction: Direction::Receive {
            tiff: std::env::temp_dir().join("never.tif"),
        },
        options: FaxOptions::default(),
        cancel: None,
    };
    let report = run_outgoing(&agent, call, job, &MediaSettings::new(pool, LO), None).await;
    assert_eq!(
        report.failure.as_deref(),
        Some("cannot dial sip:1@nowhere.test: nowhere.test does not resolve")
    );
}
