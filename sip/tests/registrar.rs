//! The registrar for peers that register to us (sip::registrar) in simulated time: our own
//! Registration against it through two transaction layers (digest, refresh, expiry,
//! un-REGISTER), the RFC 3261 §10.3 rules one REGISTER at a time (Expires, 423, `*`,
//! Call-ID/CSeq order, domains, Require, contact limits, 401/407, whose AOR), the NAT
//! binding table, and calls and keep-alives sent where the REGISTER came from.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip::auth::{Algorithm, Credentials, DigestServer};
use sip::dialog::{CallParams, DialogConfig, DialogLayer, LocalAgent, MediaConfig};
use sip::msg::{
    parse_datagram, HeaderName, Host, Message, NameAddr, Request, Response, StatusCode, Uri,
};
use sip::probe::{ProbeConfig, Prober};
use sip::registrar::{Registrar, RegistrarConfig, RegistrarEvent, UnbindReason};
use sip::registration::{Registration, RegistrationConfig, RegistrationEvent};
use sip::sdp::{Capabilities, OfferMedia, Policy};
use sip::transaction::{Peer, TimerConfig, TransactionLayer, Transport};
use test_support::ManualClock;

/// Our registrar's address.
const US: &str = "192.0.2.1:5060";
/// The public side of the peer's NAT: where its REGISTERs come from.
const NAT: &str = "198.51.100.7:40000";
/// The Contact the peer registers (its private address).
const PRIVATE_CONTACT: &str = "sip:alice@10.0.0.5:5060";

fn udp(addr: &str) -> Peer {
    Peer {
        addr: addr.parse::<SocketAddr>().unwrap(),
        transport: Transport::Udp,
    }
}

fn tcp(addr: &str) -> Peer {
    Peer {
        addr: addr.parse::<SocketAddr>().unwrap(),
        transport: Transport::Tcp,
    }
}

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

fn authenticated(epoch: Instant, proxy: bool) -> RegistrarConfig {
    let mut cfg = RegistrarConfig::new("faxserver-test");
    cfg.domains = vec!["fax.example".into()];
    cfg.digest = Some(
        DigestServer::new("fax.example", b"registrar secret", epoch)
            .with_algorithms(vec![Algorithm::Md5]),
    );
    cfg.users = HashMap::from([
        ("alice".to_owned(), "wonderland".to_owned()),
        ("bob".to_owned(), "builder".to_owned()),
    ]);
    cfg.proxy = proxy;
    cfg
}

fn open() -> RegistrarConfig {
    let mut cfg = RegistrarConfig::new("faxserver-test");
    cfg.domains = vec!["fax.example".into()];
    cfg
}

/// A REGISTER for alice with the given Call-ID, CSeq, Contact values and Expires.
fn register(call_id: &str, cseq: u32, contacts: &[&str], expires: Option<u32>) -> Request {
    let mut text = format!(
        "REGISTER sip:fax.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK{call_id}{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@fax.example>;tag=a1\r\n\
         To: <sip:alice@fax.example>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         User-Agent: phone/1.0\r\n"
    );
    for c in contacts {
        text.push_str(&format!("Contact: {c}\r\n"));
    }
    if let Some(e) = expires {
        text.push_str(&format!("Expires: {e}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn contacts(resp: &Response) -> Vec<String> {
    resp.headers
        .get_all(&HeaderName::Contact)
        .map(str::to_owned)
        .collect()
}

fn events(r: &mut Registrar) -> Vec<RegistrarEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

struct Rig {
    clock: ManualClock,
    client: TransactionLayer,
    reg: Option<Registration>,
    server: TransactionLayer,
    registrar: Registrar,
    wire: Vec<(u128, Message)>,
    client_events: Vec<(u128, RegistrationEvent)>,
    registrar_events: Vec<(u128, RegistrarEvent)>,
}

impl Rig {
    fn new(expires: u32) -> Rig {
        let clock = ManualClock::new();
        let agent = LocalAgent {
            host: Host::parse("10.0.0.5").unwrap(),
            port: Some(5060),
            contact: uri(PRIVATE_CONTACT),
            user_agent: "phone/1.0".into(),
        };
        let mut cfg = RegistrationConfig::new(
            uri("sip:fax.example"),
            NameAddr::parse("<sip:alice@fax.example>").unwrap(),
            agent,
            udp(US),
        );
        cfg.expires = expires;
        cfg.credentials = Some(Credentials::new("alice", "wonderland"));
        Rig {
            registrar: Registrar::new(authenticated(clock.now(), false), 7),
            clock,
            client: TransactionLayer::new(TimerConfig::default(), 31),
            reg: Some(Registration::new(cfg, 4)),
            server: TransactionLayer::new(TimerConfig::default(), 32),
            wire: Vec::new(),
            client_events: Vec::new(),
            registrar_events: Vec::new(),
        }
    }

    fn pump(&mut self) {
        loop {
            let mut busy = false;
            let now = self.clock.now();
            let ms = self.clock.elapsed().as_millis();
            while let Some(t) = self.client.poll_transmit() {
                busy = true;
                self.wire.push((ms, t.message.clone()));
                // The peer is behind NAT: we see its public address.
                self.server.handle_message(now, t.message, udp(NAT));
            }
            while let Some(t) = self.server.poll_transmit() {
                busy = true;
                assert_eq!(t.peer, udp(NAT), "responses go back through the NAT");
                self.wire.push((ms, t.message.clone()));
                self.client.handle_message(now, t.message, udp(US));
            }
            while let Some(ev) = self.server.poll_event() {
                busy = true;
                let left = self
                    .registrar
                    .handle_transaction_event(now, &mut self.server, ev);
                assert!(
                    left.is_none()
                        || matches!(
                            left,
                            Some(sip::transaction::TransactionEvent::Terminated { .. })
                        )
                );
            }
            while let Some(ev) = self.client.poll_event() {
                busy = true;
                if let Some(reg) = &mut self.reg {
                    let _ = reg.handle_transaction_event(now, &mut self.client, ev);
                }
            }
            if let Some(reg) = &mut self.reg {
                while let Some(ev) = reg.poll_event() {
                    busy = true;
                    self.client_events.push((ms, ev));
                }
            }
            while let Some(ev) = self.registrar.poll_event() {
                busy = true;
                self.registrar_events.push((ms, ev));
            }
            if !busy {
                return;
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let limit = self.clock.now() + d;
        self.pump();
        loop {
            let next = [
                self.client.poll_timeout(),
                self.server.poll_timeout(),
                self.reg.as_ref().and_then(Registration::poll_timeout),
                self.registrar.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let at = next.unwrap_or(limit).min(limit);
            if at > self.clock.now() {
                let step = at - self.clock.now();
                self.clock.advance(step);
            }
            let now = self.clock.now();
            self.client.handle_timeout(now);
            self.server.handle_timeout(now);
            if let Some(reg) = &mut self.reg {
                reg.handle_timeout(now, &mut self.client);
            }
            self.registrar.handle_timeout(now);
            self.pump();
            if self.clock.now() >= limit {
                return;
            }
        }
    }

    fn responses(&self) -> Vec<(u128, Response)> {
        self.wire
            .iter()
            .filter_map(|(t, m)| match m {
                Message::Response(r) => Some((*t, r.clone())),
                Message::Request(_) => None,
            })
            .collect()
    }
}

#[test]
fn our_registration_binds_through_the_nat_refreshes_and_unregisters() {
    let mut rig = Rig::new(120);
    let now = rig.clock.now();
    rig.reg
        .as_mut()
        .unwrap()
        .register(now, &mut rig.client)
        .unwrap();
    rig.run_for(Duration::from_secs(1));
    let resp = rig.responses();
    assert_eq!(resp[0].1.status.as_u16(), 401);
    assert!(resp[0].1.headers.contains(&HeaderName::WwwAuthenticate));
    assert_eq!(resp[1].1.status, StatusCode::OK);
    assert_eq!(
        contacts(&resp[1].1),
        [format!("<{PRIVATE_CONTACT}>;expires=120")]
    );
    assert_eq!(
        resp[1].1.headers.get(&HeaderName::Server),
        Some("faxserver-test")
    );
    assert!(resp[1].1.headers.to().unwrap().tag().is_some());
    let RegistrationEvent::Registered(b) = &rig.client_events[0].1 else {
        panic!("{:?}", rig.client_events)
    };
    assert_eq!(b.expires, 120);
    // The registrar told the peer what it saw (RFC 3581).
    assert_eq!(b.received.as_deref(), Some("198.51.100.7"));
    assert_eq!(b.rport, Some(40000));

    let RegistrarEvent::Bound(binding) = &rig.registrar_events[0].1 else {
        panic!("{:?}", rig.registrar_events)
    };
    assert_eq!(binding.aor, "sip:alice@fax.example");
    assert_eq!(binding.contact, uri(PRIVATE_CONTACT));
    assert_eq!(binding.source, udp(NAT));
    assert_eq!(binding.user_agent.as_deref(), Some("phone/1.0"));
    let now = rig.clock.now();
    let alice = uri("sip:alice@FAX.example");
    assert_eq!(
        rig.registrar.targets(now, &alice),
        [(uri(PRIVATE_CONTACT), udp(NAT))],
        "calls to alice go to her Contact, through her NAT"
    );

    // The refresh at 90 s keeps the binding without a new event (same source).
    rig.run_for(Duration::from_secs(100));
    assert_eq!(rig.registrar_events.len(), 1);
    let b = rig.registrar.lookup(rig.clock.now(), &alice)[0].clone();
    assert_eq!(
        b.expires_at,
        rig.clock.now() - Duration::from_secs(11) + Duration::from_secs(120)
    );

    let now = rig.clock.now();
    rig.reg
        .as_mut()
        .unwrap()
        .unregister(now, &mut rig.client)
        .unwrap();
    rig.run_for(Duration::from_secs(1));
    assert_eq!(
        rig.client_events.last().unwrap().1,
        RegistrationEvent::Unregistered
    );
    assert_eq!(
        rig.registrar_events.last().unwrap().1,
        RegistrarEvent::Unbound {
            aor: "sip:alice@fax.example".into(),
            contact: uri(PRIVATE_CONTACT),
            source: udp(NAT),
            reason: UnbindReason::Removed,
        }
    );
    assert!(rig.registrar.targets(rig.clock.now(), &alice).is_empty());
    assert_eq!(rig.registrar.poll_timeout(), None);
}

#[test]
fn a_binding_not_refreshed_expires_on_time() {
    let mut rig = Rig::new(120);
    let now = rig.clock.now();
    rig.reg
        .as_mut()
        .unwrap()
        .register(now, &mut rig.client)
        .unwrap();
    rig.pump();
    // The peer goes away without un-registering.
    rig.reg = None;
    let t0 = rig.clock.now();
    assert_eq!(
        rig.registrar.poll_timeout(),
        Some(t0 + Duration::from_secs(120))
    );
    rig.run_for(Duration::from_secs(200));
    let (at, ev) = rig.registrar_events.last().unwrap();
    assert_eq!(*at, 120_000);
    assert!(matches!(
        ev,
        RegistrarEvent::Unbound {
            reason: UnbindReason::Expired,
            ..
        }
    ));
    assert!(rig.registrar.bindings().next().is_none());
}

#[test]
fn expires_rules() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let mut r = Registrar::new(open(), 1);
    let nat = udp(NAT);
    // The header's Expires, a contact's own parameter, and the cap at max_expires.
    let resp = r.handle_register(
        t0,
        &register(
            "c1",
            1,
            &[
                "<sip:alice@10.0.0.5:5060>",
                "<sip:alice@10.0.0.6:5060>;expires=7200",
            ],
            Some(300),
        ),
        nat,
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        contacts(&resp),
        [
            "<sip:alice@10.0.0.5:5060>;expires=300",
            "<sip:alice@10.0.0.6:5060>;expires=3600"
        ]
    );
    // No Expires at all: the default.
    let resp = r.handle_register(t0, &register("c2", 1, &["<sip:alice@10.0.0.7>"], None), nat);
    assert!(contacts(&resp).contains(&"<sip:alice@10.0.0.7>;expires=3600".to_owned()));
    // Too brief: 423 with our minimum, and nothing changes.
    let resp = r.handle_register(
        t0,
        &register("c3", 1, &["<sip:alice@10.0.0.8>"], Some(30)),
        nat,
    );
    assert_eq!(resp.status.as_u16(), 423);
    assert_eq!(resp.headers.get(&HeaderName::MinExpires), Some("60"));
    assert_eq!(r.bindings().count(), 3);
    // A query (no Contact) lists what is bound, with the time left.
    let later = t0 + Duration::from_secs(100);
    let resp = r.handle_register(later, &register("c4", 1, &[], None), nat);
    assert_eq!(
        contacts(&resp),
        [
            "<sip:alice@10.0.0.5:5060>;expires=200",
            "<sip:alice@10.0.0.6:5060>;expires=3500",
            "<sip:alice@10.0.0.7>;expires=3500"
        ]
    );
    // Expires 0 on one contact removes that one only.
    let resp = r.handle_register(
        later,
        &register("c1", 2, &["<sip:alice@10.0.0.6:5060>;expires=0"], None),
        nat,
    );
    assert_eq!(contacts(&resp).len(), 2);
    let ev = events(&mut r);
    assert_eq!(ev.len(), 4, "three bound, one removed: {ev:?}");
    assert!(matches!(
        &ev[3],
        RegistrarEvent::Unbound { contact, reason: UnbindReason::Removed, .. }
            if contact.to_string() == "sip:alice@10.0.0.6:5060"
    ));
}

#[test]
fn wildcard_removes_everything_only_with_expires_zero() {
    let t0 = ManualClock::new().now();
    let mut r = Registrar::new(open(), 1);
    let nat = udp(NAT);
    let _ = r.handle_register(
        t0,
        &register(
            "c1",
            1,
            &["<sip:alice@10.0.0.5>", "<sip:alice@10.0.0.6>"],
            Some(600),
        ),
        nat,
    );
    for (contacts_, expires) in [
        (&["*"][..], None),
        (&["*"][..], Some(600)),
        (&["*", "<sip:alice@10.0.0.7>"][..], Some(0)),
    ] {
        let resp = r.handle_register(t0, &register("c9", 1, contacts_, expires), nat);
        assert_eq!(resp.status.as_u16(), 400, "{contacts_:?} {expires:?}");
    }
    assert_eq!(r.bindings().count(), 2);
    // Same Call-ID, CSeq not higher: out of order, refused.
    let resp = r.handle_register(t0, &register("c1", 1, &["*"], Some(0)), nat);
    assert_eq!(resp.status.as_u16(), 500);
    let resp = r.handle_register(t0, &register("c1", 2, &["*"], Some(0)), nat);
    assert_eq!(resp.status, StatusCode::OK);
    assert!(contacts(&resp).is_empty());
    assert_eq!(r.bindings().count(), 0);
    let removed = events(&mut r)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                RegistrarEvent::Unbound {
                    reason: UnbindReason::Removed,
                    ..
                }
            )
        })
        .count();
    assert_eq!(removed, 2);
}

#[test]
fn call_id_and_cseq_order() {
    let t0 = ManualClock::new().now();
    let mut r = Registrar::new(open(), 1);
    let nat = udp(NAT);
    let c = ["<sip:alice@10.0.0.5>"];
    assert_eq!(
        r.handle_register(t0, &register("c1", 5, &c, Some(600)), nat)
            .status
            .as_u16(),
        200
    );
    // A delayed copy of an older REGISTER of the same Call-ID cannot undo the newer one.
    let old = register("c1", 4, &["<sip:alice@10.0.0.5>"], Some(0));
    assert_eq!(r.handle_register(t0, &old, nat).status.as_u16(), 500);
    assert_eq!(r.bindings().count(), 1);
    // A new Call-ID (the phone rebooted) starts its own CSeq.
    assert_eq!(
        r.handle_register(t0, &register("c2", 1, &c, Some(600)), nat)
            .status
            .as_u16(),
        200
    );
    assert_eq!(r.bindings().next().unwrap().call_id, "c2");
}

#[test]
fn refusals() {
    let t0 = ManualClock::new().now();
    let mut cfg = open();
    cfg.max_contacts = 2;
    let mut r = Registrar::new(cfg, 1);
    let nat = udp(NAT);
    // A domain we do not serve, in the Request-URI or the AOR.
    let mut req = register("c1", 1, &["<sip:alice@10.0.0.5>"], Some(600));
    req.uri = uri("sip:elsewhere.example");
    assert_eq!(r.handle_register(t0, &req, nat).status.as_u16(), 404);
    let mut req = register("c1", 1, &["<sip:alice@10.0.0.5>"], Some(600));
    req.headers
        .set(HeaderName::To, "<sip:alice@elsewhere.example>");
    assert_eq!(r.handle_register(t0, &req, nat).status.as_u16(), 404);
    // An extension we do not support.
    let mut req = register("c1", 1, &["<sip:alice@10.0.0.5>"], Some(600));
    req.headers.push(HeaderName::Require, "gruu");
    let resp = r.handle_register(t0, &req, nat);
    assert_eq!(resp.status.as_u16(), 420);
    assert_eq!(resp.headers.get(&HeaderName::Unsupported), Some("gruu"));
    // Too many contacts: refused whole.
    let req = register(
        "c1",
        2,
        &[
            "<sip:alice@10.0.0.5>",
            "<sip:alice@10.0.0.6>",
            "<sip:alice@10.0.0.7>",
        ],
        Some(600),
    );
    assert_eq!(r.handle_register(t0, &req, nat).status.as_u16(), 403);
    assert_eq!(r.bindings().count(), 0);
    // Not a REGISTER: given back by handle_transaction_event, 405 here.
    let mut req = register("c1", 3, &[], None);
    req.method = sip::msg::Method::Options;
    assert_eq!(r.handle_register(t0, &req, nat).status.as_u16(), 405);
}

#[test]
fn digest_challenges_and_whose_aor() {
    for proxy in [false, true] {
        let clock = ManualClock::new();
        let t0 = clock.now();
        let mut r = Registrar::new(authenticated(t0, proxy), 1);
        let nat = udp(NAT);
        let req = register("c1", 1, &["<sip:alice@10.0.0.5>"], Some(600));
        let challenge = r.handle_register(t0, &req, nat);
        let (code, header) = if proxy {
            (407, HeaderName::ProxyAuthenticate)
        } else {
            (401, HeaderName::WwwAuthenticate)
        };
        assert_eq!(challenge.status.as_u16(), code);
        assert!(challenge.headers.contains(&header));
        assert_eq!(r.bindings().count(), 0);

        // Each attempt answers a fresh challenge: a nonce count is never accepted twice.
        let attempt = |r: &mut Registrar, user: &str, pw: &str, cseq: u32| {
            let at = t0 + Duration::from_secs(u64::from(cseq));
            let challenge = r.handle_register(
                at,
                &register("c1", cseq, &["<sip:alice@10.0.0.5>"], None),
                nat,
            );
            let mut c = sip::auth::DigestClient::new(Credentials::new(user, pw), 9);
            let mut tries = sip::auth::AuthAttempt::default();
            assert!(c.on_challenge(&challenge, &mut tries));
            let mut req = register("c1", cseq + 100, &["<sip:alice@10.0.0.5>"], Some(600));
            c.authorize(&mut req);
            r.handle_register(at, &req, nat)
        };
        // Bob's own password does not let him register alice's number.
        let resp = attempt(&mut r, "bob", "builder", 2);
        assert_eq!(resp.status.as_u16(), 403);
        assert_eq!(resp.reason, "Forbidden (not your address of record)");
        let resp = attempt(&mut r, "alice", "guess", 3);
        assert_eq!(resp.status.as_u16(), 403);
        let resp = attempt(&mut r, "alice", "wonderland", 4);
        assert_eq!(resp.status, StatusCode::OK, "proxy {proxy}");
        assert_eq!(r.bindings().count(), 1);
    }
}

#[test]
fn a_new_source_moves_the_binding_and_a_closed_flow_drops_it() {
    let t0 = ManualClock::new().now();
    let mut r = Registrar::new(open(), 1);
    let c = ["<sip:alice@10.0.0.5;transport=tcp>"];
    let first = tcp("198.51.100.7:50001");
    let _ = r.handle_register(t0, &register("c1", 1, &c, Some(600)), first);
    // The NAT gave the peer a new port: calls must follow it.
    let moved = tcp("198.51.100.7:50002");
    let _ = r.handle_register(t0, &register("c1", 2, &c, Some(600)), moved);
    let alice = uri("sip:alice@fax.example");
    assert_eq!(r.targets(t0, &alice)[0].1, moved);
    let ev = events(&mut r);
    assert_eq!(ev.len(), 2);
    assert!(matches!(&ev[1], RegistrarEvent::Bound(b) if b.source == moved));
    // The old flow closing does nothing; the current one closing drops the binding.
    r.flow_closed(first);
    assert_eq!(r.bindings().count(), 1);
    r.flow_closed(moved);
    assert_eq!(r.bindings().count(), 0);
    assert!(matches!(
        &events(&mut r)[..],
        [RegistrarEvent::Unbound {
            reason: UnbindReason::FlowClosed,
            ..
        }]
    ));
}

#[test]
fn calls_and_keepalives_go_where_the_register_came_from() {
    let clock = ManualClock::new();
    let now = clock.now();
    let mut r = Registrar::new(open(), 1);
    let _ = r.handle_register(
        now,
        &register("c1", 1, &[&format!("<{PRIVATE_CONTACT}>")], Some(600)),
        udp(NAT),
    );
    let RegistrarEvent::Bound(binding) = r.poll_event().unwrap() else {
        panic!()
    };
    let agent = LocalAgent {
        host: Host::parse("192.0.2.1").unwrap(),
        port: Some(5060),
        contact: uri("sip:fax@192.0.2.1:5060"),
        user_agent: "faxserver-test".into(),
    };

    // A call to alice: Request-URI her Contact, sent to her NAT's public address.
    let mut tl = TransactionLayer::new(TimerConfig::default(), 1);
    let mut dl = DialogLayer::new(DialogConfig::new(agent.clone()), 2);
    let (target, peer) = r.targets(now, &uri("sip:alice@fax.example"))[0].clone();
    let params = CallParams {
        target,
        from: NameAddr::parse("<sip:fax@fax.example>").unwrap(),
        to: NameAddr::parse("<sip:alice@fax.example>").unwrap(),
        peer,
        media: MediaConfig {
            caps: Capabilities::new("192.0.2.1".parse().unwrap(), 40000, 40002),
            policy: Policy::default(),
            offer: OfferMedia::Audio,
        },
        delayed_offer: false,
        credentials: None,
        headers: Vec::new(),
    };
    dl.invite(now, &mut tl, params).unwrap();
    let t = tl.poll_transmit().unwrap();
    assert_eq!(t.peer, udp(NAT));
    let Message::Request(invite) = &t.message else {
        panic!()
    };
    assert_eq!(invite.uri.to_string(), PRIVATE_CONTACT);

    // Keep-alives for the binding keep the pinhole open: OPTIONS to the same place.
    let mut prober = Prober::new(ProbeConfig::new(agent), 3);
    prober.add(now, binding.contact.clone(), binding.source);
    prober.handle_timeout(now, &mut tl);
    let t = tl.poll_transmit().unwrap();
    assert_eq!(t.peer, udp(NAT));
    let Message::Request(options) = &t.message else {
        panic!()
    };
    assert_eq!(options.method, sip::msg::Method::Options);
    assert_eq!(options.uri.to_string(), PRIVATE_CONTACT);
}
