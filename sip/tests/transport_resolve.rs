//! RFC 3263 §4 server location against a fake resolver.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sip::msg::{SipUri, Uri};
use sip::transaction::Transport;
use sip::transport::{resolve, Answer, Naptr, Resolver, Srv};

#[derive(Default)]
struct Fake {
    naptr: HashMap<String, Vec<Naptr>>,
    srv: HashMap<String, Vec<Srv>>,
    addrs: HashMap<String, Vec<IpAddr>>,
    ttl: Duration,
    queries: Vec<String>,
}

impl Resolver for Fake {
    fn naptr(&mut self, domain: &str) -> Answer<Naptr> {
        self.queries.push(format!("NAPTR {domain}"));
        Answer {
            records: self.naptr.get(domain).cloned().unwrap_or_default(),
            ttl: self.ttl,
        }
    }
    fn srv(&mut self, name: &str) -> Answer<Srv> {
        self.queries.push(format!("SRV {name}"));
        Answer {
            records: self.srv.get(name).cloned().unwrap_or_default(),
            ttl: self.ttl,
        }
    }
    fn addrs(&mut self, host: &str) -> Answer<IpAddr> {
        self.queries.push(format!("A {host}"));
        Answer {
            records: self.addrs.get(host).cloned().unwrap_or_default(),
            ttl: Duration::from_secs(3600),
        }
    }
}

fn uri(s: &str) -> SipUri {
    match Uri::parse(s).unwrap() {
        Uri::Sip(u) => u,
        other => panic!("{other:?}"),
    }
}

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> Srv {
    Srv {
        priority,
        weight,
        port,
        target: target.into(),
    }
}

fn fake() -> Fake {
    let mut f = Fake {
        ttl: Duration::from_secs(60),
        ..Fake::default()
    };
    for (h, ip) in [
        ("a.example.com", "192.0.2.1"),
        ("b.example.com", "192.0.2.2"),
        ("c.example.com", "2001:db8::3"),
        ("example.com", "192.0.2.9"),
    ] {
        f.addrs.insert(h.into(), vec![ip.parse().unwrap()]);
    }
    f
}

const BOTH: &[Transport] = &[Transport::Udp, Transport::Tcp];

fn addrs(l: &sip::transport::TargetList) -> Vec<String> {
    l.all()
        .iter()
        .map(|p| format!("{:?} {}", p.transport, p.addr))
        .collect()
}

#[test]
fn numeric_host_needs_no_dns() {
    let mut f = fake();
    let l = resolve(&mut f, &uri("sip:fax@192.0.2.7"), BOTH, Instant::now(), 1);
    assert_eq!(addrs(&l), ["Udp 192.0.2.7:5060"]);
    let l = resolve(
        &mut f,
        &uri("sip:fax@192.0.2.7:5070;transport=tcp"),
        BOTH,
        Instant::now(),
        1,
    );
    assert_eq!(addrs(&l), ["Tcp 192.0.2.7:5070"]);
    assert!(f.queries.is_empty());
}

#[test]
fn explicit_port_is_a_lookup_only() {
    let mut f = fake();
    let l = resolve(
        &mut f,
        &uri("sip:fax@example.com:5080"),
        BOTH,
        Instant::now(),
        1,
    );
    assert_eq!(addrs(&l), ["Udp 192.0.2.9:5080"]);
    assert_eq!(f.queries, ["A example.com"]);
}

#[test]
fn naptr_then_srv_by_priority_then_failover() {
    let mut f = fake();
    f.naptr.insert(
        "example.com".into(),
        vec![
            Naptr {
                order: 20,
                preference: 0,
                service: "SIP+D2U".into(),
                replacement: "_sip._udp.example.com".into(),
            },
            Naptr {
                order: 10,
                preference: 0,
                service: "SIP+D2T".into(),
                replacement: "_sip._tcp.example.com".into(),
            },
            Naptr {
                order: 5,
                preference: 0,
                service: "SIPS+D2T".into(),
                replacement: "_sips._tcp.example.com".into(),
            },
        ],
    );
    f.srv.insert(
        "_sip._tcp.example.com".into(),
        vec![
            srv(20, 0, 5062, "b.example.com"),
            srv(10, 0, 5061, "a.example.com"),
        ],
    );
    f.srv.insert(
        "_sip._udp.example.com".into(),
        vec![srv(10, 0, 5060, "c.example.com")],
    );
    let now = Instant::now();
    let mut l = resolve(&mut f, &uri("sip:fax@example.com"), BOTH, now, 1);
    // TLS is not ours, so its NAPTR is skipped; TCP (order 10) before UDP (order 20).
    assert_eq!(
        addrs(&l),
        [
            "Tcp 192.0.2.1:5061",
            "Tcp 192.0.2.2:5062",
            "Udp [2001:db8::3]:5060"
        ]
    );
    assert_eq!(l.current().unwrap().addr.port(), 5061);
    assert_eq!(l.failover().unwrap().addr.port(), 5062);
    assert_eq!(l.failover().unwrap().transport, Transport::Udp);
    assert_eq!(l.failover(), None);
    assert_eq!(l.failover(), None);
    // The shortest TTL (60 s for NAPTR/SRV) bounds the list's life.
    assert!(!l.is_stale(now + Duration::from_secs(59)));
    assert!(l.is_stale(now + Duration::from_secs(60)));
}

#[test]
fn srv_without_naptr_and_weights() {
    let mut f = fake();
    f.srv.insert(
        "_sip._udp.example.com".into(),
        vec![
            srv(10, 1, 5060, "a.example.com"),
            srv(10, 99, 5060, "b.example.com"),
        ],
    );
    let mut first_b = 0;
    for seed in 0..200 {
        let l = resolve(
            &mut f,
            &uri("sip:fax@example.com"),
            BOTH,
            Instant::now(),
            seed,
        );
        assert_eq!(l.all().len(), 2);
        if l.all()[0].addr.ip().to_string() == "192.0.2.2" {
            first_b += 1;
        }
    }
    // Weight 99 against 1: b comes first nearly always, but not always.
    assert!(first_b > 180, "{first_b}");
    assert!(f.queries.contains(&"SRV _sip._tcp.example.com".to_string()));
}

#[test]
fn no_srv_falls_back_to_a_records() {
    let mut f = fake();
    let l = resolve(&mut f, &uri("sip:fax@example.com"), BOTH, Instant::now(), 1);
    assert_eq!(addrs(&l), ["Udp 192.0.2.9:5060"]);
    let l = resolve(
        &mut f,
        &uri("sip:fax@nowhere.example"),
        BOTH,
        Instant::now(),
        1,
    );
    assert_eq!(l.current(), None);
}

#[test]
fn srv_dot_target_means_no_service() {
    let mut f = fake();
    f.srv
        .insert("_sip._udp.example.com".into(), vec![srv(0, 0, 0, ".")]);
    let l = resolve(
        &mut f,
        &uri("sip:fax@example.com;transport=udp"),
        BOTH,
        Instant::now(),
        1,
    );
    assert!(l.all().is_empty());
}
