//! The agent's edges, over real sockets: a peer registered over TCP is forgotten when its
//! connection closes, requests from sources outside the ACL are rate-limited per source and
//! dropped silently beyond the limit, and INVITEs are refused with 503 while the media clock
//! runs late.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use engine::call::cpu_idle::report_host_cpu_idle;
use engine::call::{
    overload_counts, start_media_scheduler, AgentConfig, IncomingCall, OverloadGuard, PeerAcl,
    RateLimit, SipAgent,
};
use sip::msg::Uri;
use sip::registrar::RegistrarConfig;
use sip::transaction::Transport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Polls `agent` until `pred` holds for `aor`'s targets; a failure guard, not a delay.
async fn targets_until(
    agent: &SipAgent,
    aor: &Uri,
    pred: impl Fn(&[(Uri, sip::transaction::Peer)]) -> bool,
) -> Vec<(Uri, sip::transaction::Peer)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let t = agent.registered_targets(aor).await;
        if pred(&t) || tokio::time::Instant::now() > deadline {
            return t;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_registered_over_tcp_is_forgotten_when_its_connection_closes() {
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.acl = PeerAcl::parse(["127.0.0.1"]).unwrap();
    cfg.registrar = Some(RegistrarConfig::new("faxserver-test"));
    let (agent, _) = SipAgent::start(cfg).await.unwrap();
    let server = agent.local_addr();

    let mut tcp = TcpStream::connect(server).await.unwrap();
    let me = tcp.local_addr().unwrap();
    let register = format!(
        "REGISTER sip:{ip} SIP/2.0\r\n\
         Via: SIP/2.0/TCP {me};branch=z9hG4bKflow1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:pbx@{ip}>;tag=f1\r\n\
         To: <sip:pbx@{ip}>\r\n\
         Call-ID: flow-test-1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:pbx@{me};transport=tcp>\r\n\
         Expires: 600\r\n\
         Content-Length: 0\r\n\r\n",
        ip = server.ip(),
    );
    tcp.write_all(register.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");

    let aor = Uri::parse(&format!("sip:pbx@{}", server.ip())).unwrap();
    let bound = targets_until(&agent, &aor, |t| !t.is_empty()).await;
    assert_eq!(bound.len(), 1);
    assert_eq!(bound[0].1.transport, Transport::Tcp);
    assert_eq!(bound[0].1.addr, me);

    drop(tcp);
    let after = targets_until(&agent, &aor, <[_]>::is_empty).await;
    assert!(after.is_empty(), "still dialled at a dead flow: {after:?}");
}

fn options(n: usize, to: SocketAddr, me: SocketAddr) -> String {
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKscan{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:100@{me}>;tag=s{n}\r\n\
         To: <sip:100@{to}>\r\n\
         Call-ID: scan-{n}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_outside_the_acl_gets_its_burst_answered_and_the_rest_dropped() {
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.acl = PeerAcl::parse(["192.0.2.0/24"]).unwrap();
    // No refill during the test, so the count is exact whatever the machine's speed.
    cfg.unknown_source_limit = RateLimit {
        burst: 4,
        per_second: 0,
    };
    let (agent, _) = SipAgent::start(cfg).await.unwrap();
    let scanner = UdpSocket::bind(SocketAddr::new(LO, 0)).await.unwrap();
    let me = scanner.local_addr().unwrap();
    let total = 40;
    for n in 0..total {
        let req = options(n, agent.local_addr(), me);
        scanner
            .send_to(req.as_bytes(), agent.local_addr())
            .await
            .unwrap();
    }
    // The agent answers in order, so once it has dropped the rest, every answer it will
    // give has been sent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while agent.dropped_unknown() < (total - 4) as u64 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(agent.dropped_unknown(), (total - 4) as u64);
    let mut answered = 0;
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(300), scanner.recv_from(&mut buf)).await
    {
        assert!(buf[..n].starts_with(b"SIP/2.0 200"));
        answered += 1;
    }
    assert_eq!(answered, 4, "only the burst is answered");
}

fn invite(n: usize, to: SocketAddr, me: SocketAddr) -> String {
    let sdp = format!(
        "v=0\r\no=- {n} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        ip = me.ip(),
        port = 40000 + 2 * n
    );
    format!(
        "INVITE sip:5551234@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKload{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:100@{me}>;tag=l{n}\r\n\
         To: <sip:5551234@{to}>\r\n\
         Call-ID: load-{n}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:100@{me}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// The first final response (≥ 200) `socket` receives, as text.
async fn final_response(socket: &UdpSocket) -> String {
    let mut buf = vec![0u8; 8192];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
            .await
            .expect("a response within 10 s")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

// The idle reading is process-wide: no other test of this binary sets a CPU floor, so only
// this one looks at it.
#[tokio::test]
async fn an_invite_gets_503_while_the_host_cpu_is_too_busy_and_is_taken_once_it_is_not() {
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
    cfg.overload = Some(OverloadGuard {
        max_lateness: Duration::MAX,
        retry_after: 9,
        min_idle_percent: 10,
    });
    let (agent, mut incoming) = SipAgent::start(cfg).await.unwrap();
    let peer = UdpSocket::bind(SocketAddr::new(LO, 0)).await.unwrap();
    let me = peer.local_addr().unwrap();

    report_host_cpu_idle(0.04);
    let refused_before = overload_counts().invites_refused;
    peer.send_to(
        invite(1, agent.local_addr(), me).as_bytes(),
        agent.local_addr(),
    )
    .await
    .unwrap();
    let refused = final_response(&peer).await;
    assert!(refused.starts_with("SIP/2.0 503"), "{refused}");
    assert!(refused.contains("Retry-After: 9\r\n"), "{refused}");
    assert!(overload_counts().invites_refused > refused_before);

    report_host_cpu_idle(0.35);
    second_invite_is_taken(&peer, &agent, &mut incoming).await;
}

// One thread for everything, so that blocking it starves the media scheduler for sure.
#[tokio::test(flavor = "current_thread")]
async fn an_invite_gets_503_while_the_media_clock_is_late_and_is_taken_once_it_caught_up() {
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).unwrap();
    cfg.overload = Some(OverloadGuard {
        max_lateness: Duration::from_millis(100),
        retry_after: 7,
        ..OverloadGuard::default()
    });
    let (agent, mut incoming) = SipAgent::start(cfg).await.unwrap();
    start_media_scheduler(1);
    // Process-wide: other tests of this binary may add to it meanwhile, never take away.
    let refused_before = overload_counts().invites_refused;
    let peer = UdpSocket::bind(SocketAddr::new(LO, 0)).await.unwrap();
    let me = peer.local_addr().unwrap();

    peer.send_to(
        invite(1, agent.local_addr(), me).as_bytes(),
        agent.local_addr(),
    )
    .await
    .unwrap();
    // Stands for a process short of CPU: no shard ticks for 400 ms. The INVITE is waiting
    // in the socket meanwhile, and is the first thing the agent sees afterwards.
    std::thread::sleep(Duration::from_millis(400));
    let refused = final_response(&peer).await;
    assert!(refused.starts_with("SIP/2.0 503"), "{refused}");
    assert!(refused.contains("Retry-After: 7\r\n"), "{refused}");
    assert!(
        overload_counts().invites_refused > refused_before,
        "the refusal is counted for /metrics"
    );

    common::media_caught_up(Duration::from_millis(100)).await;
    second_invite_is_taken(&peer, &agent, &mut incoming).await;
}

/// Once the guard no longer refuses, the next INVITE from `peer` is offered as a call.
async fn second_invite_is_taken(
    peer: &UdpSocket,
    agent: &SipAgent,
    incoming: &mut tokio::sync::mpsc::Receiver<IncomingCall>,
) {
    let me = peer.local_addr().unwrap();
    peer.send_to(
        invite(2, agent.local_addr(), me).as_bytes(),
        agent.local_addr(),
    )
    .await
    .unwrap();
    let call = tokio::time::timeout(Duration::from_secs(10), incoming.recv())
        .await
        .expect("the second INVITE is offered as a call")
        .unwrap();
    assert_eq!(call.handle.call_id(), "load-2");
}
