//! Real DNS for RFC 3263: the answer cache and its rounds in simulated time, then the
//! hickory-backed `DnsResolver` against a DNS server on loopback (NAPTR → SRV → A/AAAA,
//! TTL re-resolution, NXDOMAIN), and a live INVITE failing over between the targets it
//! found: a 503 and a silent server, over real sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use sip::dialog::DialogEvent;
use sip::msg::{parse_datagram, Message, Method, Response, StatusCode, Uri};
use sip::transaction::{TimerConfig, Transport};
use sip::transport::{Answer, DnsCache, DnsResolver, Naptr, Query, Reply, Srv, TargetList};
use test_support::ManualClock;
use tokio::net::UdpSocket;

mod support_dns;
mod support_net;
use support_dns::{DnsServer, Zone};
use support_net::{NetUa, UaOptions};

const BOTH: &[Transport] = &[Transport::Udp, Transport::Tcp];
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn sip_uri(s: &str) -> sip::msg::SipUri {
    match Uri::parse(s).unwrap() {
        Uri::Sip(u) => u,
        other => panic!("{other:?}"),
    }
}

fn targets(l: &TargetList) -> Vec<String> {
    l.all()
        .iter()
        .map(|p| format!("{:?} {}", p.transport, p.addr))
        .collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn the_cache_asks_in_rounds_and_expires_by_ttl() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let uri = sip_uri("sip:fax@Example.test");
    let mut c = DnsCache::new();
    // Round 1: NAPTR, and (since it is not known yet) the SRV and A fallbacks.
    let q = c.plan(&uri, BOTH, t0, 1).unwrap_err();
    assert_eq!(
        q,
        [
            Query::Naptr("example.test".into()),
            Query::Srv("_sip._udp.example.test".into()),
            Query::Srv("_sip._tcp.example.test".into()),
            Query::Addrs("example.test".into()),
        ]
    );
    c.insert(
        t0,
        &q[0],
        Reply::Naptr(Answer {
            records: vec![Naptr {
                order: 10,
                preference: 0,
                service: "SIP+D2U".into(),
                replacement: "_sip._udp.example.test".into(),
            }],
            ttl: secs(300),
        }),
    );
    c.insert(
        t0,
        &q[1],
        Reply::Srv(Answer {
            records: vec![Srv {
                priority: 10,
                weight: 0,
                port: 5070,
                target: "one.example.test".into(),
            }],
            ttl: secs(60),
        }),
    );
    c.insert(t0, &q[2], Reply::Srv(Answer::empty(secs(60))));
    c.insert(t0, &q[3], Reply::Addrs(Answer::empty(secs(60))));
    // Round 2: the SRV target's address.
    let q = c.plan(&uri, BOTH, t0, 1).unwrap_err();
    assert_eq!(q, [Query::Addrs("one.example.test".into())]);
    // Names match without case or the trailing dot.
    c.insert(
        t0,
        &Query::Addrs("ONE.example.test.".into()),
        Reply::Addrs(Answer {
            records: vec![LOCAL],
            ttl: secs(30),
        }),
    );
    let l = c.plan(&uri, BOTH, t0, 1).unwrap();
    assert_eq!(targets(&l), ["Udp 127.0.0.1:5070"]);
    // The list lives as long as its shortest TTL.
    assert!(!l.is_stale(t0 + secs(29)));
    assert!(l.is_stale(t0 + secs(30)));
    // Later, only what has expired is asked again.
    let t1 = t0 + secs(31);
    c.purge(t1);
    assert_eq!(
        c.plan(&uri, BOTH, t1, 1).unwrap_err(),
        [Query::Addrs("one.example.test".into())]
    );
    let t2 = t0 + secs(61);
    c.purge(t2);
    assert_eq!(c.len(), 1, "only the NAPTR (300 s) is left");
    // A reply of the wrong kind answers nothing.
    c.insert(
        t2,
        &Query::Srv("x".into()),
        Reply::Addrs(Answer::empty(secs(9))),
    );
    assert_eq!(c.len(), 1);
}

fn gateway_zone(one: u16, two: u16) -> Zone {
    let mut z = Zone::default();
    z.naptr("gw.test", 300, 10, "SIP+D2U", "_sip._udp.gw.test");
    z.srv("_sip._udp.gw.test", 60, 10, one, "one.gw.test");
    z.srv("_sip._udp.gw.test", 60, 20, two, "two.gw.test");
    z.ip("one.gw.test", 30, LOCAL);
    z.ip("two.gw.test", 30, LOCAL);
    z
}

#[tokio::test]
async fn real_dns_naptr_srv_and_ttl() {
    let mut z = gateway_zone(5070, 5080);
    z.ip("two.gw.test", 30, "::1".parse().unwrap());
    let server = DnsServer::start(z).await;
    let mut r = DnsResolver::with_servers(&[server.addr], secs(2));
    let uri = sip_uri("sip:fax@gw.test");
    let now = Instant::now();
    let l = r.resolve_at(&uri, BOTH, now, 1).await;
    assert_eq!(
        targets(&l),
        ["Udp 127.0.0.1:5070", "Udp 127.0.0.1:5080", "Udp [::1]:5080"]
    );
    assert_eq!(l.remaining().len(), 2);
    let asked = server.asked();
    for q in [
        "NAPTR gw.test",
        "SRV _sip._udp.gw.test",
        "A one.gw.test",
        "AAAA one.gw.test",
        "A two.gw.test",
        "AAAA two.gw.test",
    ] {
        assert!(asked.contains(&q.to_owned()), "{q} in {asked:?}");
    }
    // Within the TTLs nothing is asked again.
    let before = server.asked().len();
    let again = r.resolve_at(&uri, BOTH, now + secs(10), 1).await;
    assert_eq!(targets(&again), targets(&l));
    assert_eq!(server.asked().len(), before);
    assert!(l.is_stale(now + secs(30)));
    // After 61 s the SRV (60 s) and the addresses (30 s) are asked again; NAPTR (300 s) not.
    r.resolve_at(&uri, BOTH, now + secs(61), 1).await;
    let fresh: Vec<String> = server.asked()[before..].to_vec();
    assert!(
        fresh.contains(&"SRV _sip._udp.gw.test".to_owned()),
        "{fresh:?}"
    );
    assert!(fresh.contains(&"A one.gw.test".to_owned()));
    assert!(!fresh.iter().any(|q| q.starts_with("NAPTR")), "{fresh:?}");
}

#[tokio::test]
async fn real_dns_unknown_name_is_an_empty_list_remembered() {
    let server = DnsServer::start(Zone::default()).await;
    let mut r = DnsResolver::with_servers(&[server.addr], secs(2));
    let uri = sip_uri("sip:fax@nowhere.test");
    let now = Instant::now();
    let l = r.resolve_at(&uri, BOTH, now, 1).await;
    assert!(l.all().is_empty());
    let n = server.asked().len();
    assert!(n > 0);
    r.resolve_at(&uri, BOTH, now + secs(5), 1).await;
    assert_eq!(server.asked().len(), n, "NXDOMAIN is cached");
}

/// A UDP "server" that answers every INVITE with `code` (or nothing), and counts what came.
async fn scripted_server(
    code: Option<u16>,
) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<Method>) {
    let sock = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(Message::Request(req)) = parse_datagram(&buf[..n]) else {
                continue;
            };
            let _ = tx.send(req.method.clone());
            if let (Some(code), Method::Invite) = (code, &req.method) {
                let mut r = Response::for_request(&req, StatusCode::new(code).unwrap());
                r.set_to_tag("busy");
                let _ = sock.send_to(&r.to_bytes(), from).await;
            }
        }
    });
    (addr, rx)
}

async fn failover_case(first: Option<u16>) {
    let (bad, mut bad_rx) = scripted_server(first).await;
    let mut good = NetUa::start(LOCAL, UaOptions::default()).await;
    let server = DnsServer::start(gateway_zone(bad.port(), good.udp.port())).await;
    let mut dns = DnsResolver::with_servers(&[server.addr], secs(2));
    let list = dns
        .resolve(&sip_uri("sip:fax@gw.test"), &[Transport::Udp], 1)
        .await;
    assert_eq!(list.current().unwrap().addr, bad);
    let opts = UaOptions {
        // T1 = 10 ms: Timer B (64·T1) fires after 640 ms.
        timers: TimerConfig {
            t1: Duration::from_millis(10),
            ..TimerConfig::default()
        },
        ..UaOptions::default()
    };
    let mut caller = NetUa::start(LOCAL, opts).await;
    let params = caller.call_params("sip:fax@gw.test", list.current().unwrap());
    caller
        .invite_with_failover(params, list.remaining().to_vec())
        .await;
    let confirmed = caller
        .wait_for(secs(10), |e| matches!(e, DialogEvent::Confirmed { .. }))
        .await;
    assert!(confirmed.is_some(), "{:?}", caller.seen);
    let incoming = good
        .wait_for(secs(5), |e| matches!(e, DialogEvent::Incoming { .. }))
        .await;
    let Some(DialogEvent::Incoming { request, .. }) = incoming else {
        panic!("no call at the second target")
    };
    assert_eq!(request.headers.cseq().unwrap().seq, 2);
    assert_eq!(request.uri.to_string(), "sip:fax@gw.test");
    let first_got = bad_rx.recv().await;
    assert_eq!(first_got, Some(Method::Invite));
    if first.is_some() {
        assert_eq!(bad_rx.recv().await, Some(Method::Ack), "the 503 was ACKed");
    }
}

#[tokio::test]
async fn a_503_fails_over_to_the_next_srv_target() {
    failover_case(Some(503)).await;
}

#[tokio::test]
async fn a_silent_target_fails_over_after_timer_b() {
    failover_case(None).await;
}
