//! OPTIONS probing of gateways over real UDP on loopback: a gateway that stops answering is
//! marked down after the configured misses in a row, and up again when it answers anything
//! (here a 404); the list can be replaced while the agent runs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use engine::call::{AgentConfig, GatewayProbing, ProbedGateway, SipAgent};
use sip::msg::{parse_datagram, Message, Method, Response, StatusCode, Uri};
use sip::transaction::{Peer, Transport};
use tokio::net::UdpSocket;
use tokio::sync::watch;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A gateway that answers OPTIONS with `code` while `answer` holds one; silent on `None`.
async fn gateway(answer: watch::Receiver<Option<u16>>) -> SocketAddr {
    let sock = UdpSocket::bind(SocketAddr::new(LO, 0)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(Message::Request(req)) = parse_datagram(&buf[..n]) else {
                continue;
            };
            let Some(code) = *answer.borrow() else {
                continue;
            };
            if req.method == Method::Options {
                let resp = Response::for_request(&req, StatusCode::new(code).unwrap());
                let _ = sock.send_to(&resp.to_bytes(), from).await;
            }
        }
    });
    addr
}

fn probed(name: &str, addr: SocketAddr) -> ProbedGateway {
    ProbedGateway {
        name: name.to_owned(),
        uri: Uri::parse(&format!("sip:{addr}")).unwrap(),
        peer: Peer {
            addr,
            transport: Transport::Udp,
        },
    }
}

/// Waits until `name` is `up` (a failure guard of 10 s, not a delay).
async fn until(states: &mut watch::Receiver<engine::call::GatewayStates>, name: &str, up: bool) {
    tokio::time::timeout(
        Duration::from_secs(10),
        states.wait_for(|s| s.get(name) == Some(&up)),
    )
    .await
    .unwrap_or_else(|_| panic!("{name} never became {}", if up { "up" } else { "down" }))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_stops_answering_goes_down_and_comes_back_on_any_answer() {
    let (answer, answer_rx) = watch::channel(Some(200));
    let gw = gateway(answer_rx).await;
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.gateways = vec![probed("alpha", gw)];
    cfg.gateway_probing = GatewayProbing {
        interval: Duration::from_millis(150),
        timeout: Duration::from_millis(100),
        down_after: 2,
    };
    let (agent, _) = SipAgent::start(cfg).await.unwrap();
    let mut states = agent.gateway_states();
    assert_eq!(
        agent.gateway_up("alpha"),
        Some(true),
        "up until proven down"
    );
    assert_eq!(agent.gateway_up("nobody"), None);

    answer.send_replace(None);
    until(&mut states, "alpha", false).await;
    assert_eq!(agent.gateway_up("alpha"), Some(false));

    // A 404 still proves the gateway is there.
    answer.send_replace(Some(404));
    until(&mut states, "alpha", true).await;

    // A reload adds a gateway nobody answers for and keeps alpha as it is.
    let (_silent, silent_rx) = watch::channel(None);
    let dead = gateway(silent_rx).await;
    agent.set_gateways(vec![probed("alpha", gw), probed("beta", dead)]);
    until(&mut states, "beta", false).await;
    assert_eq!(agent.gateway_up("alpha"), Some(true));

    // And a reload without beta stops probing it.
    agent.set_gateways(vec![probed("alpha", gw)]);
    tokio::time::timeout(
        Duration::from_secs(10),
        states.wait_for(|s| !s.contains_key("beta")),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(agent.gateway_up("beta"), None);
}
