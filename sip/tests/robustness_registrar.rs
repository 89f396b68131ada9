//! Seeded mutations of REGISTER requests fed to the registrar (with and without digest), and
//! of OPTIONS answers fed to the prober and REGISTER answers to the registration: nothing
//! panics, and every REGISTER gets exactly one response with the request's Call-ID.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use sip::auth::DigestServer;
use sip::dialog::LocalAgent;
use sip::msg::{parse_datagram, Host, Message, NameAddr, Uri};
use sip::probe::{ProbeConfig, Prober};
use sip::registrar::{Registrar, RegistrarConfig};
use sip::registration::{Registration, RegistrationConfig};
use sip::transaction::{Peer, TimerConfig, TransactionLayer, Transport};
use test_support::{ManualClock, SeededRng};

const SEEDS: &[&str] = &[
    "REGISTER sip:fax.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport\r\n\
     Max-Forwards: 70\r\nFrom: <sip:alice@fax.example>;tag=a\r\nTo: <sip:alice@fax.example>\r\n\
     Call-ID: c1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@10.0.0.5>;expires=600;q=0.5, \
     <sip:alice@10.0.0.6;transport=tcp>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n",
    "REGISTER sip:fax.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK2\r\n\
     From: <sip:alice@fax.example>;tag=a\r\nTo: <sip:alice@fax.example>\r\nCall-ID: c1\r\n\
     CSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n",
    "REGISTER sip:fax.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK3\r\n\
     From: <sip:alice@fax.example>;tag=a\r\nTo: <sip:alice@fax.example>\r\nCall-ID: c2\r\n\
     CSeq: 3 REGISTER\r\nAuthorization: Digest username=\"alice\", realm=\"fax.example\", \
     nonce=\"0000000000000000abcdef\", uri=\"sip:fax.example\", response=\"00\", \
     algorithm=MD5, qop=auth, nc=00000001, cnonce=\"x\"\r\nContact: <sip:alice@10.0.0.7>\r\n\
     Content-Length: 0\r\n\r\n",
];

const ANSWERS: &[&str] = &[
    "SIP/2.0 503 Service Unavailable\r\nRetry-After: 120 (x);duration=5\r\n",
    "SIP/2.0 200 OK\r\nContact: <sip:fax@10.0.0.5:5060>;expires=60\r\nExpires: 99\r\n",
    "SIP/2.0 423 Interval Too Brief\r\nMin-Expires: 600\r\n",
    "SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth\"\r\n",
];

const INTERESTING: &[u8] = b":;,\"<>\r\n \t*=0123456789";

fn mutate(rng: &mut SeededRng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.next_u64() % 4 {
        let at = (rng.next_u64() as usize) % v.len().max(1);
        let byte = INTERESTING[(rng.next_u64() as usize) % INTERESTING.len()];
        match rng.next_u64() % 3 {
            0 if at < v.len() => v[at] = byte,
            1 => v.insert(at.min(v.len()), byte),
            _ => {
                let end = (at + 1 + (rng.next_u64() % 6) as usize).min(v.len());
                v.drain(at.min(end)..end);
            }
        }
    }
    v
}

fn udp(s: &str) -> Peer {
    Peer {
        addr: s.parse::<SocketAddr>().unwrap(),
        transport: Transport::Udp,
    }
}

#[test]
fn mutated_registers_never_panic_and_always_get_one_answer() {
    let clock = ManualClock::new();
    let mut open = RegistrarConfig::new("t");
    open.min_expires = 1;
    let mut authed = RegistrarConfig::new("t");
    authed.digest = Some(DigestServer::new("fax.example", b"k", clock.now()));
    authed.users = HashMap::from([("alice".to_owned(), "pw".to_owned())]);
    let mut registrars = [Registrar::new(open, 1), Registrar::new(authed, 2)];
    let mut rng = SeededRng::new(4475);
    let mut parsed = 0;
    for i in 0..8_000u64 {
        let seed = SEEDS[(i as usize) % SEEDS.len()].as_bytes();
        let bytes = mutate(&mut rng, seed);
        let Ok(Message::Request(req)) = parse_datagram(&bytes) else {
            continue;
        };
        parsed += 1;
        let now = clock.now() + Duration::from_millis(i * 37);
        for r in &mut registrars {
            let resp = r.handle_register(now, &req, udp("198.51.100.7:40000"));
            assert_eq!(
                resp.headers.call_id().ok(),
                req.headers.call_id().ok(),
                "{resp:?}"
            );
            r.handle_timeout(now);
            while r.poll_event().is_some() {}
        }
    }
    assert!(parsed > 2_000, "{parsed}");
}

#[test]
fn mutated_answers_to_probes_and_registrations_never_panic() {
    let clock = ManualClock::new();
    let agent = LocalAgent {
        host: Host::parse("10.0.0.5").unwrap(),
        port: Some(5060),
        contact: Uri::parse("sip:fax@10.0.0.5:5060").unwrap(),
        user_agent: "t".into(),
    };
    let mut tl = TransactionLayer::new(TimerConfig::default(), 1);
    let mut prober = Prober::new(ProbeConfig::new(agent.clone()), 2);
    let mut cfg = RegistrationConfig::new(
        Uri::parse("sip:r.example").unwrap(),
        NameAddr::parse("<sip:fax@r.example>").unwrap(),
        agent,
        udp("203.0.113.5:5060"),
    );
    cfg.credentials = Some(sip::auth::Credentials::new("fax", "pw"));
    let mut reg = Registration::new(cfg, 3);
    let mut rng = SeededRng::new(3263);
    let mut now = clock.now();
    prober.add(
        now,
        Uri::parse("sip:gw.example").unwrap(),
        udp("203.0.113.9:5060"),
    );
    reg.register(now, &mut tl).unwrap();
    for i in 0..2_000usize {
        now += Duration::from_millis(50);
        prober.handle_timeout(now, &mut tl);
        reg.handle_timeout(now, &mut tl);
        tl.handle_timeout(now);
        // Answer whatever went out last with a mutated response carrying its identifiers.
        let mut last = None;
        while let Some(t) = tl.poll_transmit() {
            last = Some(t);
        }
        if let Some(t) = last {
            let Message::Request(req) = t.message else {
                continue;
            };
            let mut text = ANSWERS[i % ANSWERS.len()].to_owned();
            for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
                if let Some(v) = req.headers.get(&sip::msg::HeaderName::parse(name)) {
                    text.push_str(&format!("{name}: {v}\r\n"));
                }
            }
            text.push_str("Content-Length: 0\r\n\r\n");
            let bytes = mutate(&mut rng, text.as_bytes());
            if let Ok(m) = parse_datagram(&bytes) {
                tl.handle_message(now, m, t.peer);
            }
        }
        while let Some(ev) = tl.poll_event() {
            if let Some(ev) = prober.handle_transaction_event(now, ev) {
                let _ = reg.handle_transaction_event(now, &mut tl, ev);
            }
        }
        while prober.poll_event().is_some() {}
        while reg.poll_event().is_some() {}
    }
}
