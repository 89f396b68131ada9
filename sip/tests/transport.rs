//! The UDP/TCP transports on loopback, IPv4 and IPv6 (RFC 3261 §18, RFC 3581, RFC 5626
//! keep-alive).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sip::msg::{parse_datagram, HeaderName, Message, Request, Response, StatusCode};
use sip::transaction::{Peer, Transmit, Transport};
use sip::transport::{Incoming, KeepAliveConfig, SipTransport, TransportConfig, PING, PONG};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

const WAIT: Duration = Duration::from_secs(5);

fn v4() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn v6() -> IpAddr {
    "::1".parse().unwrap()
}

fn has_v6() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

async fn bind(ip: IpAddr) -> SipTransport {
    SipTransport::bind(TransportConfig::udp_and_tcp(SocketAddr::new(ip, 0)))
        .await
        .unwrap()
}

/// An OPTIONS whose Via sent-by is a documentation address, so `received` must be added.
fn options(transport: &str, pad: usize) -> Request {
    let body = "x".repeat(pad);
    let text = format!(
        "OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/{transport} 192.0.2.1:5060;rport;branch=z9hG4bK{pad}\r\n\
         From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c{pad}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    match parse_datagram(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn ok_for(req: &Request) -> Response {
    let mut r = Response::new(StatusCode::new(200).unwrap());
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        for v in req.headers.get_all(&name) {
            r.headers.push(name.clone(), v.to_owned());
        }
    }
    r
}

async fn recv(t: &mut SipTransport) -> Incoming {
    tokio::time::timeout(WAIT, t.recv())
        .await
        .expect("nothing received in time")
        .expect("transport closed")
}

async fn round_trip(ip: IpAddr, transport: Transport) {
    let a = bind(ip).await;
    let mut b = bind(ip).await;
    let mut a = a;
    let to = b.local_addr(transport, ip.is_ipv6()).unwrap();
    let token = if transport == Transport::Tcp {
        "TCP"
    } else {
        "UDP"
    };
    let sent = a
        .send(Transmit {
            peer: Peer {
                addr: to,
                transport,
            },
            message: options(token, 0).into(),
        })
        .await
        .unwrap();
    assert_eq!(sent.transport, transport);
    let inc = recv(&mut b).await;
    assert_eq!(inc.peer.transport, transport);
    assert_eq!(inc.peer.addr.ip(), ip);
    let Message::Request(req) = inc.message else {
        panic!("expected a request")
    };
    let via = req.headers.top_via().unwrap();
    assert_eq!(via.received(), Some(ip.to_string().as_str()));
    assert_eq!(via.rport(), Some(Some(inc.peer.addr.port())));
    b.send(Transmit {
        peer: inc.peer,
        message: ok_for(&req).into(),
    })
    .await
    .unwrap();
    let back = recv(&mut a).await;
    assert!(matches!(back.message, Message::Response(ref r) if r.status.as_u16() == 200));
    if transport == Transport::Tcp {
        // The response came back on the connection A opened: nothing else was opened.
        assert_eq!(a.stats().connections_opened, 1);
        assert_eq!(b.stats().connections_opened, 0);
        assert_eq!(b.stats().connections_accepted, 1);
    }
}

#[tokio::test]
async fn udp_and_tcp_round_trips_ipv4() {
    round_trip(v4(), Transport::Udp).await;
    round_trip(v4(), Transport::Tcp).await;
}

#[tokio::test]
async fn udp_and_tcp_round_trips_ipv6() {
    if !has_v6() {
        eprintln!("SKIPPED: no IPv6 loopback");
        return;
    }
    round_trip(v6(), Transport::Udp).await;
    round_trip(v6(), Transport::Tcp).await;
}

#[tokio::test]
async fn tcp_connection_is_reused() {
    let a = bind(v4()).await;
    let mut b = bind(v4()).await;
    let to = b.local_addr(Transport::Tcp, false).unwrap();
    for pad in [1, 2, 3] {
        a.send(Transmit {
            peer: Peer {
                addr: to,
                transport: Transport::Tcp,
            },
            message: options("TCP", pad).into(),
        })
        .await
        .unwrap();
        recv(&mut b).await;
    }
    assert_eq!(a.stats().connections_opened, 1);
    assert_eq!(b.stats().connections_accepted, 1);
    assert_eq!(a.connection_count(), 1);
}

#[tokio::test]
async fn large_request_goes_over_tcp() {
    let a = bind(v4()).await;
    let mut b = bind(v4()).await;
    let to = b.local_addr(Transport::Udp, false).unwrap();
    let big = options("UDP", 1500);
    assert!(big.to_bytes().len() > 1300);
    let sent = a
        .send(Transmit {
            peer: Peer {
                addr: to,
                transport: Transport::Udp,
            },
            message: big.into(),
        })
        .await
        .unwrap();
    assert_eq!(sent.transport, Transport::Tcp);
    let inc = recv(&mut b).await;
    assert_eq!(inc.peer.transport, Transport::Tcp);
    let Message::Request(req) = inc.message else {
        panic!("expected a request")
    };
    assert_eq!(req.headers.top_via().unwrap().transport, "TCP");
    assert_eq!(req.body.len(), 1500);
    // A small one still goes over UDP.
    let sent = a
        .send(Transmit {
            peer: Peer {
                addr: to,
                transport: Transport::Udp,
            },
            message: options("UDP", 10).into(),
        })
        .await
        .unwrap();
    assert_eq!(sent.transport, Transport::Udp);
    assert_eq!(recv(&mut b).await.peer.transport, Transport::Udp);
}

#[tokio::test]
async fn pings_are_answered() {
    let b = bind(v4()).await;
    let mut s = TcpStream::connect(b.local_addr(Transport::Tcp, false).unwrap())
        .await
        .unwrap();
    s.write_all(PING).await.unwrap();
    let mut buf = [0u8; 2];
    tokio::time::timeout(WAIT, s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, PONG);
    assert_eq!(b.stats().pings_answered, 1);
}

#[tokio::test]
async fn idle_connections_are_pinged() {
    let mut cfg = TransportConfig::udp_and_tcp(SocketAddr::new(v4(), 0));
    cfg.keepalive = KeepAliveConfig {
        idle: Some(Duration::from_millis(100)),
        pong_timeout: Duration::from_secs(10),
    };
    let a = SipTransport::bind(cfg).await.unwrap();
    let far = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let to = far.local_addr().unwrap();
    a.send(Transmit {
        peer: Peer {
            addr: to,
            transport: Transport::Tcp,
        },
        message: options("TCP", 0).into(),
    })
    .await
    .unwrap();
    let (mut s, _) = far.accept().await.unwrap();
    let len = options("TCP", 0).to_bytes().len();
    let mut buf = vec![0u8; len + PING.len()];
    tokio::time::timeout(WAIT, s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf.ends_with(PING));
    s.write_all(PONG).await.unwrap();
    // The pong is counted once the connection task has read it; the next ping proves it
    // (a missed pong would close the connection instead of pinging again).
    let mut again = [0u8; 4];
    tokio::time::timeout(WAIT, s.read_exact(&mut again))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&again, PING);
    assert!(a.stats().pongs_received >= 1);
}

#[tokio::test]
async fn malformed_datagram_is_dropped_and_counted() {
    let mut b = bind(v4()).await;
    let to = b.local_addr(Transport::Udp, false).unwrap();
    let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    raw.send_to(b"this is not SIP\r\n\r\n", to).await.unwrap();
    raw.send_to(&options("UDP", 0).to_bytes(), to)
        .await
        .unwrap();
    let inc = recv(&mut b).await;
    assert!(matches!(inc.message, Message::Request(_)));
    assert_eq!(b.stats().malformed_datagrams, 1);
}

#[tokio::test]
async fn malformed_stream_closes_only_its_connection() {
    let mut b = bind(v4()).await;
    let to = b.local_addr(Transport::Tcp, false).unwrap();
    let mut good = TcpStream::connect(to).await.unwrap();
    let mut bad = TcpStream::connect(to).await.unwrap();
    bad.write_all(b"GARBAGE GARBAGE\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, bad.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the bad connection is closed");
    good.write_all(&options("TCP", 0).to_bytes()).await.unwrap();
    let inc = recv(&mut b).await;
    assert!(matches!(inc.message, Message::Request(_)));
    assert_eq!(b.stats().malformed_streams, 1);
}

#[tokio::test]
async fn advertised_address_is_used_in_via_and_contact() {
    let mut cfg = TransportConfig::udp_and_tcp(SocketAddr::new(v4(), 0));
    cfg.advertised = Some("203.0.113.7".parse().unwrap());
    let t = SipTransport::bind(cfg).await.unwrap();
    let bound = t.local_addr(Transport::Udp, false).unwrap();
    let agent = t
        .local_agent("fax", Transport::Udp, false, "faxserver")
        .unwrap();
    assert_eq!(agent.host.to_string(), "203.0.113.7");
    assert_eq!(agent.port, Some(bound.port()));
    assert_eq!(
        agent.contact.to_string(),
        format!("sip:fax@203.0.113.7:{}", bound.port())
    );
    let tcp = t
        .local_agent("fax", Transport::Tcp, false, "faxserver")
        .unwrap();
    assert!(tcp.contact.to_string().ends_with(";transport=tcp"));
}
