//! OPTIONS keep-alive probing (sip::probe) against hand-driven peers in simulated time: the
//! exact probe on the wire, the interval, a silent peer marked down at the probe timeout and
//! back up on its next answer (late answers too), 503 with and without Retry-After, any
//! final response counting as alive, removal, and our own dialog layer answering probes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip::dialog::{DialogConfig, DialogLayer, LocalAgent};
use sip::msg::{HeaderName, Host, Message, Method, Request, Response, StatusCode, Uri};
use sip::probe::{PeerStatus, ProbeConfig, ProbeEvent, ProbeId, Prober};
use sip::transaction::{Peer, TimerConfig, TransactionEvent, TransactionLayer, Transport};
use test_support::ManualClock;

const GATEWAY: &str = "203.0.113.9:5060";
const US: &str = "192.0.2.1:5060";

/// What the peer does with a probe: answer now, answer after a delay, or stay silent.
enum Reply {
    Now(Response),
    After(Duration, Response),
    Silent,
}

type Policy = Box<dyn FnMut(&Request, Duration) -> Reply>;

enum Far {
    Scripted(Policy),
    Ours(Box<DialogLayer>),
}

struct Rig {
    clock: ManualClock,
    client: TransactionLayer,
    prober: Prober,
    server: TransactionLayer,
    far: Far,
    delayed: Vec<(Instant, sip::transaction::TransactionId, Response)>,
    sent: Vec<(u128, Request)>,
    answers: Vec<(u128, Response)>,
    events: Vec<(u128, ProbeEvent)>,
}

fn udp(addr: &str) -> Peer {
    Peer {
        addr: addr.parse::<SocketAddr>().unwrap(),
        transport: Transport::Udp,
    }
}

fn agent() -> LocalAgent {
    LocalAgent {
        host: Host::parse("192.0.2.1").unwrap(),
        port: Some(5060),
        contact: Uri::parse("sip:fax@192.0.2.1:5060").unwrap(),
        user_agent: "faxserver-test".into(),
    }
}

fn answer(req: &Request, code: u16) -> Response {
    let mut r = Response::for_request(req, StatusCode::new(code).unwrap());
    r.set_to_tag("gw");
    r
}

impl Rig {
    fn new(far: Far) -> Rig {
        let clock = ManualClock::new();
        let prober = Prober::new(ProbeConfig::new(agent()), 3);
        Rig {
            clock,
            client: TransactionLayer::new(TimerConfig::default(), 21),
            prober,
            server: TransactionLayer::new(TimerConfig::default(), 22),
            far,
            delayed: Vec::new(),
            sent: Vec::new(),
            answers: Vec::new(),
            events: Vec::new(),
        }
    }

    fn scripted(policy: impl FnMut(&Request, Duration) -> Reply + 'static) -> Rig {
        Rig::new(Far::Scripted(Box::new(policy)))
    }

    fn with_config(far: Far, cfg: ProbeConfig) -> Rig {
        let mut rig = Rig::new(far);
        rig.prober = Prober::new(cfg, 3);
        rig
    }

    fn add(&mut self) -> ProbeId {
        let now = self.clock.now();
        let id = self
            .prober
            .add(now, Uri::parse("sip:gw.example").unwrap(), udp(GATEWAY));
        self.prober.handle_timeout(now, &mut self.client);
        self.pump();
        id
    }

    fn pump(&mut self) {
        loop {
            let mut busy = false;
            let now = self.clock.now();
            let ms = self.clock.elapsed().as_millis();
            while let Some(t) = self.client.poll_transmit() {
                busy = true;
                let Message::Request(r) = &t.message else {
                    unreachable!()
                };
                // Retransmissions are absorbed by the far side; log the first copy only.
                if !self.sent.iter().any(|(_, s)| s == r) {
                    self.sent.push((ms, r.clone()));
                }
                let bytes = t.message.to_bytes();
                let m = sip::msg::parse_datagram(&bytes).unwrap();
                self.server.handle_message(now, m, udp(US));
            }
            while let Some(t) = self.server.poll_transmit() {
                busy = true;
                if let Message::Response(r) = &t.message {
                    self.answers.push((ms, r.clone()));
                }
                self.client.handle_message(now, t.message, udp(GATEWAY));
            }
            while let Some(ev) = self.server.poll_event() {
                busy = true;
                match &mut self.far {
                    Far::Scripted(policy) => {
                        if let TransactionEvent::Request { id, request, .. } = ev {
                            match policy(&request, self.clock.elapsed()) {
                                Reply::Now(r) => self.server.send_response(now, id, r).unwrap(),
                                Reply::After(d, r) => self.delayed.push((now + d, id, r)),
                                Reply::Silent => {}
                            }
                        }
                    }
                    Far::Ours(dl) => {
                        let _ = dl.handle_transaction_event(now, &mut self.server, ev);
                    }
                }
            }
            while let Some(ev) = self.client.poll_event() {
                busy = true;
                let left = self.prober.handle_transaction_event(now, ev);
                assert!(
                    !matches!(left, Some(TransactionEvent::Response { .. })),
                    "a probe's response was not taken: {left:?}"
                );
            }
            while let Some(ev) = self.prober.poll_event() {
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
        loop {
            let next = [
                self.client.poll_timeout(),
                self.server.poll_timeout(),
                self.prober.poll_timeout(),
                self.delayed.iter().map(|d| d.0).min(),
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
            self.prober.handle_timeout(now, &mut self.client);
            let (due, later): (Vec<_>, Vec<_>) = self.delayed.drain(..).partition(|d| d.0 <= now);
            self.delayed = later;
            for (_, id, r) in due {
                self.server.send_response(now, id, r).unwrap();
            }
            self.pump();
            if self.clock.now() >= limit {
                return;
            }
        }
    }

    fn probe_times(&self) -> Vec<u128> {
        self.sent.iter().map(|(t, _)| *t).collect()
    }

    fn changes(&self) -> Vec<(u128, PeerStatus, Option<u16>)> {
        self.events
            .iter()
            .map(|(t, ProbeEvent::Changed { status, code, .. })| {
                (*t, *status, code.map(|c| c.as_u16()))
            })
            .collect()
    }
}

#[test]
fn the_probe_on_the_wire_and_the_interval() {
    let mut rig = Rig::scripted(|req, _| Reply::Now(answer(req, 200)));
    let id = rig.add();
    assert_eq!(rig.prober.status(id), Some(PeerStatus::Up));
    let first = String::from_utf8(rig.sent[0].1.to_bytes()).unwrap();
    let branch = rig.sent[0].1.headers.top_via().unwrap();
    let branch = branch.branch().unwrap();
    let call_id = rig.sent[0].1.headers.call_id().unwrap().to_owned();
    let tag = rig.sent[0].1.headers.from().unwrap();
    let tag = tag.tag().unwrap();
    assert_eq!(
        first,
        format!(
            "OPTIONS sip:gw.example SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:fax@192.0.2.1:5060>;tag={tag}\r\n\
             To: <sip:gw.example>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Contact: <sip:fax@192.0.2.1:5060>\r\n\
             Accept: application/sdp\r\n\
             User-Agent: faxserver-test\r\n\
             Content-Length: 0\r\n\r\n"
        )
    );
    assert!(call_id.ends_with("@192.0.2.1"));
    rig.run_for(Duration::from_secs(95));
    assert_eq!(rig.probe_times(), [0, 30_000, 60_000, 90_000]);
    let cseqs: Vec<u32> = rig
        .sent
        .iter()
        .map(|(_, r)| r.headers.cseq().unwrap().seq)
        .collect();
    assert_eq!(cseqs, [1, 2, 3, 4]);
    assert!(rig
        .sent
        .iter()
        .all(|(_, r)| r.headers.call_id().unwrap() == call_id));
    // One change only: Unknown → Up.
    assert_eq!(rig.changes(), [(0, PeerStatus::Up, Some(200))]);
    assert!(rig.prober.is_available(id, rig.clock.now()));
}

#[test]
fn silence_marks_down_at_the_timeout_and_an_answer_brings_it_back() {
    // The gateway is silent from 20 s to 70 s.
    let mut rig = Rig::scripted(|req, t| {
        if t >= Duration::from_secs(20) && t < Duration::from_secs(70) {
            Reply::Silent
        } else {
            Reply::Now(answer(req, 200))
        }
    });
    let id = rig.add();
    rig.run_for(Duration::from_secs(100));
    assert_eq!(
        rig.changes(),
        [
            (0, PeerStatus::Up, Some(200)),
            // The probe at 30 s gets nothing: down 5 s later.
            (35_000, PeerStatus::Down, None),
            // The probe at 90 s is answered (the one at 60 s was not).
            (90_000, PeerStatus::Up, Some(200)),
        ]
    );
    assert_eq!(rig.probe_times(), [0, 30_000, 60_000, 90_000]);
    assert_eq!(rig.prober.status(id), Some(PeerStatus::Up));
    // The unanswered transactions ended with Timer F and were swallowed by the prober.
    rig.run_for(Duration::from_secs(60));
    assert_eq!(rig.client.len(), 0);
}

#[test]
fn down_only_after_n_probes_in_a_row_are_missed() {
    // Silent from 20 s to 130 s; down after three misses in a row.
    let far = Far::Scripted(Box::new(|req: &Request, t: Duration| {
        if t >= Duration::from_secs(20) && t < Duration::from_secs(130) {
            Reply::Silent
        } else {
            Reply::Now(answer(req, 200))
        }
    }));
    let mut cfg = ProbeConfig::new(agent());
    cfg.down_after = 3;
    let mut rig = Rig::with_config(far, cfg);
    let id = rig.add();
    rig.run_for(Duration::from_secs(160));
    assert_eq!(
        rig.changes(),
        [
            (0, PeerStatus::Up, Some(200)),
            // Probes at 30 s and 60 s missed: still up. The one at 90 s is the third.
            (95_000, PeerStatus::Down, None),
            (150_000, PeerStatus::Up, Some(200)),
        ]
    );
    assert_eq!(rig.prober.status(id), Some(PeerStatus::Up));
}

#[test]
fn a_late_answer_brings_the_peer_back_before_the_next_probe() {
    let mut rig = Rig::scripted(|req, _| Reply::After(Duration::from_secs(8), answer(req, 200)));
    let id = rig.add();
    assert!(
        rig.prober.is_available(id, rig.clock.now()),
        "not probed yet"
    );
    rig.run_for(Duration::from_secs(20));
    assert_eq!(
        rig.changes(),
        [
            (5_000, PeerStatus::Down, None),
            (8_000, PeerStatus::Up, Some(200)),
        ]
    );
    assert_eq!(rig.prober.status(id), Some(PeerStatus::Up));
}

#[test]
fn busy_with_retry_after_waits_before_probing_again() {
    let mut rig = Rig::scripted(|req, t| {
        if t < Duration::from_secs(1) {
            let mut r = answer(req, 503);
            r.headers.push(HeaderName::RetryAfter, "120 (maintenance)");
            Reply::Now(r)
        } else {
            Reply::Now(answer(req, 200))
        }
    });
    let id = rig.add();
    let t0 = rig.clock.now();
    let until = t0 + Duration::from_secs(120);
    assert_eq!(rig.prober.status(id), Some(PeerStatus::Busy { until }));
    assert!(!rig.prober.is_available(id, t0 + Duration::from_secs(119)));
    assert!(rig.prober.is_available(id, until));
    assert_eq!(rig.prober.poll_timeout(), Some(until));
    rig.run_for(Duration::from_secs(125));
    // No probe in between: the next one waits for Retry-After.
    assert_eq!(rig.probe_times(), [0, 120_000]);
    assert_eq!(
        rig.changes(),
        [
            (0, PeerStatus::Busy { until }, Some(503)),
            (120_000, PeerStatus::Up, Some(200)),
        ]
    );
}

#[test]
fn busy_without_retry_after_lasts_one_interval() {
    let mut rig = Rig::scripted(|req, _| Reply::Now(answer(req, 503)));
    let id = rig.add();
    let t0 = rig.clock.now();
    assert_eq!(
        rig.prober.status(id),
        Some(PeerStatus::Busy {
            until: t0 + Duration::from_secs(30)
        })
    );
    rig.run_for(Duration::from_secs(65));
    assert_eq!(rig.probe_times(), [0, 30_000, 60_000]);
    // Busy again each time, with a new end: each is a change.
    assert_eq!(rig.changes().len(), 3);
}

#[test]
fn any_final_response_means_alive() {
    for code in [200, 404, 405, 481, 483, 500, 603] {
        let mut rig = Rig::scripted(move |req, _| Reply::Now(answer(req, code)));
        let id = rig.add();
        assert_eq!(rig.prober.status(id), Some(PeerStatus::Up), "{code}");
    }
}

#[test]
fn removed_peers_are_not_probed() {
    let mut rig = Rig::scripted(|_, _| Reply::Silent);
    let a = rig.add();
    let now = rig.clock.now();
    let b = rig
        .prober
        .add(now, Uri::parse("sip:other.example").unwrap(), udp(GATEWAY));
    rig.run_for(Duration::from_secs(1));
    assert_eq!(rig.sent.len(), 2);
    assert!(rig.prober.remove(a));
    assert!(!rig.prober.remove(a));
    assert_eq!(rig.prober.status(a), None);
    rig.run_for(Duration::from_secs(100));
    // Only b goes on (every 30 s); a's outstanding transaction ended without leaking an
    // event (pump asserts every response is taken; timeouts are given back and dropped).
    let to_a = rig
        .sent
        .iter()
        .filter(|(_, r)| r.uri.to_string() == "sip:gw.example")
        .count();
    assert_eq!(to_a, 1);
    assert_eq!(rig.prober.status(b), Some(PeerStatus::Down));
}

#[test]
fn our_dialog_layer_answers_the_probe() {
    let dl = DialogLayer::new(DialogConfig::new(agent()), 9);
    let mut rig = Rig::new(Far::Ours(Box::new(dl)));
    let id = rig.add();
    assert_eq!(rig.prober.status(id), Some(PeerStatus::Up));
    let (_, resp) = &rig.answers[0];
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.headers.cseq().unwrap().method, Method::Options);
    assert!(resp.headers.allow().contains(&Method::Invite));
    assert_eq!(resp.headers.accept(), Some(vec!["application/sdp"]));
    assert!(resp.headers.supported().contains(&"timer"));
}
