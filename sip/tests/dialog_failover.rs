//! RFC 3263 §4.3 failover of a live INVITE in simulated time: a silent next hop (Timer B)
//! and a 503 each hand the INVITE to the next target (new branch and transport, next CSeq,
//! same Call-ID and tag), the call then runs with the hop that answered; a server that
//! rang before its 503 keeps the call (no second ringing elsewhere).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use sip::dialog::{
    CallParams, DialogConfig, DialogEvent, DialogLayer, EndReason, LocalAgent, MediaConfig,
};
use sip::msg::{Host, Message, Method, NameAddr, Request, Response, StatusCode, Uri};
use sip::sdp::{Capabilities, OfferMedia, Policy};
use sip::transaction::{Peer, TimerConfig, TransactionEvent, TransactionLayer, Transport};
use test_support::ManualClock;

const SILENT: &str = "203.0.113.1:5060";
const BUSY: &str = "203.0.113.2:5060";
const GOOD: &str = "203.0.113.3:5060";
const RINGS_THEN_BUSY: &str = "203.0.113.4:5060";
const A_ADDR: &str = "192.0.2.1:5060";

fn peer(addr: &str, transport: Transport) -> Peer {
    Peer {
        addr: addr.parse::<SocketAddr>().unwrap(),
        transport,
    }
}

fn agent(host: &str) -> LocalAgent {
    LocalAgent {
        host: Host::parse(host).unwrap(),
        port: Some(5060),
        contact: Uri::parse(&format!("sip:fax@{host}:5060")).unwrap(),
        user_agent: "faxserver-test".into(),
    }
}

fn media(ip: &str) -> MediaConfig {
    MediaConfig {
        caps: Capabilities::new(ip.parse().unwrap(), 40000, 40002),
        policy: Policy::default(),
        offer: OfferMedia::Audio,
    }
}

enum Kind {
    /// Never answers.
    Silent,
    /// Answers every INVITE with this code.
    Reply(u16),
    /// 180, then this code.
    RingThen(u16),
    /// Our own dialog layer, answering at once.
    Ua(Box<DialogLayer>),
}

struct Far {
    tl: TransactionLayer,
    kind: Kind,
    got: Vec<Request>,
}

struct Rig {
    clock: ManualClock,
    tl: TransactionLayer,
    dl: DialogLayer,
    fars: HashMap<SocketAddr, Far>,
    events: Vec<(u128, DialogEvent)>,
}

impl Rig {
    fn new(fars: Vec<(&str, Kind)>) -> Rig {
        Rig {
            clock: ManualClock::new(),
            tl: TransactionLayer::new(TimerConfig::default(), 1),
            dl: DialogLayer::new(DialogConfig::new(agent("192.0.2.1")), 2),
            fars: fars
                .into_iter()
                .enumerate()
                .map(|(i, (a, kind))| {
                    (
                        a.parse().unwrap(),
                        Far {
                            tl: TransactionLayer::new(TimerConfig::default(), 10 + i as u64),
                            kind,
                            got: Vec::new(),
                        },
                    )
                })
                .collect(),
            events: Vec::new(),
        }
    }

    fn pump(&mut self) {
        loop {
            let mut busy = false;
            let now = self.clock.now();
            while let Some(t) = self.tl.poll_transmit() {
                busy = true;
                let Some(far) = self.fars.get_mut(&t.peer.addr) else {
                    continue;
                };
                if let Message::Request(r) = &t.message {
                    far.got.push(r.clone());
                }
                if !matches!(far.kind, Kind::Silent) {
                    let from = Peer {
                        addr: A_ADDR.parse().unwrap(),
                        transport: t.peer.transport,
                    };
                    far.tl.handle_message(now, t.message, from);
                }
            }
            for (addr, far) in &mut self.fars {
                while let Some(t) = far.tl.poll_transmit() {
                    busy = true;
                    let from = Peer {
                        addr: *addr,
                        transport: t.peer.transport,
                    };
                    self.tl.handle_message(now, t.message, from);
                }
                while let Some(ev) = far.tl.poll_event() {
                    busy = true;
                    let ring = matches!(far.kind, Kind::RingThen(_));
                    match &mut far.kind {
                        Kind::Silent => {}
                        Kind::Reply(code) | Kind::RingThen(code) => {
                            let code = *code;
                            if let TransactionEvent::Request { id, request, .. } = ev {
                                if request.method == Method::Invite {
                                    if ring {
                                        let mut r =
                                            Response::for_request(&request, StatusCode::RINGING);
                                        r.set_to_tag("far");
                                        far.tl.send_response(now, id, r).unwrap();
                                    }
                                    let mut r = Response::for_request(
                                        &request,
                                        StatusCode::new(code).unwrap(),
                                    );
                                    r.set_to_tag("far");
                                    far.tl.send_response(now, id, r).unwrap();
                                }
                            }
                        }
                        Kind::Ua(dl) => {
                            let _ = dl.handle_transaction_event(now, &mut far.tl, ev);
                            while let Some(e) = dl.poll_event() {
                                if let DialogEvent::Incoming { id, .. } = e {
                                    dl.accept(now, &mut far.tl, id, media("203.0.113.3"))
                                        .unwrap();
                                }
                            }
                        }
                    }
                }
            }
            let ms = self.clock.elapsed().as_millis();
            while let Some(ev) = self.tl.poll_event() {
                busy = true;
                let _ = self.dl.handle_transaction_event(now, &mut self.tl, ev);
            }
            while let Some(ev) = self.dl.poll_event() {
                busy = true;
                self.events.push((ms, ev));
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
            let mut next: Vec<_> = vec![self.tl.poll_timeout(), self.dl.poll_timeout()];
            for far in self.fars.values() {
                next.push(far.tl.poll_timeout());
                if let Kind::Ua(dl) = &far.kind {
                    next.push(dl.poll_timeout());
                }
            }
            let at = next.into_iter().flatten().min().unwrap_or(limit).min(limit);
            if at > self.clock.now() {
                let step = at - self.clock.now();
                self.clock.advance(step);
            }
            let now = self.clock.now();
            self.tl.handle_timeout(now);
            self.dl.handle_timeout(now, &mut self.tl);
            for far in self.fars.values_mut() {
                far.tl.handle_timeout(now);
                if let Kind::Ua(dl) = &mut far.kind {
                    dl.handle_timeout(now, &mut far.tl);
                }
            }
            self.pump();
            if self.clock.now() >= limit {
                return;
            }
        }
    }

    fn got(&self, addr: &str, method: &str) -> Vec<Request> {
        self.fars[&addr.parse::<SocketAddr>().unwrap()]
            .got
            .iter()
            .filter(|r| r.method.as_str() == method)
            .cloned()
            .collect()
    }
}

fn params(first: Peer) -> CallParams {
    CallParams {
        target: Uri::parse("sip:+15550100@gw.example").unwrap(),
        from: NameAddr::parse("<sip:fax@fax.example>").unwrap(),
        to: NameAddr::parse("<sip:+15550100@gw.example>").unwrap(),
        peer: first,
        media: media("192.0.2.1"),
        delayed_offer: false,
        credentials: None,
        headers: Vec::new(),
    }
}

#[test]
fn timeout_then_503_then_the_next_target_answers() {
    let ua = DialogLayer::new(DialogConfig::new(agent("203.0.113.3")), 3);
    let mut rig = Rig::new(vec![
        (SILENT, Kind::Silent),
        (BUSY, Kind::Reply(503)),
        (GOOD, Kind::Ua(Box::new(ua))),
    ]);
    let now = rig.clock.now();
    let id = rig
        .dl
        .invite_with_failover(
            now,
            &mut rig.tl,
            params(peer(SILENT, Transport::Udp)),
            vec![peer(BUSY, Transport::Udp), peer(GOOD, Transport::Tcp)],
        )
        .unwrap();
    rig.run_for(Duration::from_secs(40));

    // The silent hop got the INVITE and its retransmissions until Timer B (64·T1 = 32 s).
    let silent = rig.got(SILENT, "INVITE");
    assert_eq!(silent.len(), 7, "0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s");
    let busy = rig.got(BUSY, "INVITE");
    assert_eq!(busy.len(), 1);
    assert_eq!(rig.got(BUSY, "ACK").len(), 1, "the 503 is ACKed");
    let good = rig.got(GOOD, "INVITE");
    assert_eq!(good.len(), 1);
    let (first, second, third) = (&silent[0], &busy[0], &good[0]);
    for r in [second, third] {
        assert_eq!(
            r.headers.call_id().unwrap(),
            first.headers.call_id().unwrap()
        );
        assert_eq!(
            r.headers.get(&sip::msg::HeaderName::From),
            first.headers.get(&sip::msg::HeaderName::From)
        );
        assert_eq!(r.uri, first.uri, "the Request-URI stays");
        assert_eq!(r.body, first.body, "the same offer");
    }
    let cseq = |r: &Request| r.headers.cseq().unwrap().seq;
    assert_eq!((cseq(first), cseq(second), cseq(third)), (1, 2, 3));
    let via = |r: &Request| r.headers.top_via().unwrap();
    assert_ne!(via(first).branch(), via(second).branch());
    assert_eq!(via(second).transport, "UDP");
    assert_eq!(
        via(third).transport,
        "TCP",
        "the Via follows the new target"
    );

    assert!(rig
        .events
        .iter()
        .any(|(t, e)| *t == 32_000 && matches!(e, DialogEvent::Confirmed { .. })));
    assert!(!rig
        .events
        .iter()
        .any(|(_, e)| matches!(e, DialogEvent::Terminated { .. })));
    assert_eq!(rig.dl.next_hop(id), Some(peer(GOOD, Transport::Tcp)));
    // The rest of the call goes to the hop that answered.
    let now = rig.clock.now();
    rig.dl.bye(now, &mut rig.tl, id).unwrap();
    rig.run_for(Duration::from_secs(1));
    assert_eq!(rig.got(GOOD, "BYE").len(), 1);
    assert_eq!(rig.got(GOOD, "ACK").len(), 1);
}

#[test]
fn no_failover_once_a_server_has_rung() {
    let ua = DialogLayer::new(DialogConfig::new(agent("203.0.113.3")), 3);
    let mut rig = Rig::new(vec![
        (RINGS_THEN_BUSY, Kind::RingThen(503)),
        (GOOD, Kind::Ua(Box::new(ua))),
    ]);
    let now = rig.clock.now();
    let id = rig
        .dl
        .invite_with_failover(
            now,
            &mut rig.tl,
            params(peer(RINGS_THEN_BUSY, Transport::Udp)),
            vec![peer(GOOD, Transport::Udp)],
        )
        .unwrap();
    rig.run_for(Duration::from_secs(5));
    assert!(rig.got(GOOD, "INVITE").is_empty());
    assert!(rig.events.iter().any(|(_, e)| *e
        == DialogEvent::Terminated {
            id,
            reason: EndReason::Rejected(StatusCode::new(503).unwrap())
        }));
}

#[test]
fn every_target_failing_ends_the_call_with_the_last_failure() {
    let mut rig = Rig::new(vec![(BUSY, Kind::Reply(503)), (SILENT, Kind::Silent)]);
    let now = rig.clock.now();
    let id = rig
        .dl
        .invite_with_failover(
            now,
            &mut rig.tl,
            params(peer(BUSY, Transport::Udp)),
            vec![peer(SILENT, Transport::Udp)],
        )
        .unwrap();
    rig.run_for(Duration::from_secs(40));
    assert_eq!(rig.got(SILENT, "INVITE").len(), 7);
    assert_eq!(
        rig.events.last().unwrap(),
        &(
            32_000,
            DialogEvent::Terminated {
                id,
                reason: EndReason::Timeout
            }
        )
    );
    // A final response other than 503 is the answer: no failover for a 486.
    let mut rig = Rig::new(vec![(BUSY, Kind::Reply(486)), (SILENT, Kind::Silent)]);
    let now = rig.clock.now();
    rig.dl
        .invite_with_failover(
            now,
            &mut rig.tl,
            params(peer(BUSY, Transport::Udp)),
            vec![peer(SILENT, Transport::Udp)],
        )
        .unwrap();
    rig.run_for(Duration::from_secs(1));
    assert!(rig.got(SILENT, "INVITE").is_empty());
}
