//! RFC 3261 §10.2 registration against a hand-driven registrar in simulated time: a 401
//! answered, success, the refresh before expiry with the nonce reused, 423 Interval Too
//! Brief, the failure back-off, Retry-After, a timeout, which failures stop retrying,
//! un-REGISTER, and the
//! `received`/`rport` the registrar reports behind NAT.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip::auth::{Authorization, Credentials, DigestServer, Verdict};
use sip::dialog::LocalAgent;
use sip::msg::{HeaderName, Host, Message, NameAddr, Request, Response, StatusCode, Uri};
use sip::registration::{Registration, RegistrationConfig, RegistrationEvent};
use sip::transaction::{Peer, TimerConfig, TransactionEvent, TransactionLayer, Transport};
use test_support::ManualClock;

const REGISTRAR: &str = "203.0.113.50:5060";
/// What the registrar sees: our NAT's public side.
const NAT_PUBLIC: &str = "198.51.100.7:40000";

type Policy = Box<dyn FnMut(&Request, &mut DigestServer, Instant) -> Option<Response>>;

struct Rig {
    clock: ManualClock,
    client: TransactionLayer,
    reg: Registration,
    server: TransactionLayer,
    digest: DigestServer,
    policy: Policy,
    sent: Vec<(u128, Request)>,
    events: Vec<(u128, RegistrationEvent)>,
}

fn udp(addr: &str) -> Peer {
    Peer {
        addr: addr.parse::<SocketAddr>().unwrap(),
        transport: Transport::Udp,
    }
}

fn config(expires: u32) -> RegistrationConfig {
    let agent = LocalAgent {
        host: Host::parse("10.0.0.5").unwrap(),
        port: Some(5060),
        contact: Uri::parse("sip:fax@10.0.0.5:5060").unwrap(),
        user_agent: "faxserver-test".into(),
    };
    let mut cfg = RegistrationConfig::new(
        Uri::parse("sip:carrier.example").unwrap(),
        NameAddr::parse("<sip:+15550100@carrier.example>").unwrap(),
        agent,
        udp(REGISTRAR),
    );
    cfg.expires = expires;
    cfg.credentials = Some(Credentials::new("alice", "wonderland"));
    cfg
}

/// 200 with our Contact and the expiry we asked for (capped at `max`).
fn ok(req: &Request, max: u32) -> Response {
    let asked = req.headers.expires().unwrap().unwrap_or(3600);
    let mut r = Response::for_request(req, StatusCode::OK);
    r.set_to_tag("reg");
    let contact = req.headers.get(&HeaderName::Contact).unwrap();
    r.headers.push(
        HeaderName::Contact,
        format!("{contact};expires={}", asked.min(max)),
    );
    r
}

fn authenticating(max: u32) -> Policy {
    Box::new(move |req, digest, now| {
        Some(
            match digest.verify(now, req, false, |u| {
                (u == "alice").then(|| "wonderland".into())
            }) {
                Verdict::Authenticated { .. } => ok(req, max),
                Verdict::Challenge { stale } => digest.challenge_response(now, req, stale, false),
                Verdict::Forbidden(_) => Response::for_request(req, StatusCode::new(403).unwrap()),
            },
        )
    })
}

impl Rig {
    fn new(cfg: RegistrationConfig, policy: Policy) -> Rig {
        let clock = ManualClock::new();
        Rig {
            digest: DigestServer::new("carrier.example", b"registrar", clock.now())
                .with_algorithms(vec![sip::auth::Algorithm::Md5]),
            clock,
            client: TransactionLayer::new(TimerConfig::default(), 11),
            reg: Registration::new(cfg, 5),
            server: TransactionLayer::new(TimerConfig::default(), 12),
            policy,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn pump(&mut self) {
        loop {
            let mut busy = false;
            let now = self.clock.now();
            let ms = self.clock.elapsed().as_millis();
            while let Some(t) = self.client.poll_transmit() {
                busy = true;
                if let Message::Request(r) = &t.message {
                    self.sent.push((ms, r.clone()));
                }
                self.server.handle_message(now, t.message, udp(NAT_PUBLIC));
            }
            while let Some(t) = self.server.poll_transmit() {
                busy = true;
                self.client.handle_message(now, t.message, udp(REGISTRAR));
            }
            while let Some(ev) = self.server.poll_event() {
                busy = true;
                if let TransactionEvent::Request { id, request, .. } = ev {
                    if let Some(resp) = (self.policy)(&request, &mut self.digest, now) {
                        self.server.send_response(now, id, resp).unwrap();
                    }
                }
            }
            while let Some(ev) = self.client.poll_event() {
                busy = true;
                let left = self.reg.handle_transaction_event(now, &mut self.client, ev);
                assert!(
                    !matches!(left, Some(TransactionEvent::Response { .. })),
                    "a response to our REGISTER was not taken"
                );
            }
            while let Some(ev) = self.reg.poll_event() {
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
            let next = [
                self.client.poll_timeout(),
                self.server.poll_timeout(),
                self.reg.poll_timeout(),
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
            self.reg.handle_timeout(now, &mut self.client);
            self.pump();
            if self.clock.now() >= limit {
                return;
            }
        }
    }

    fn start(&mut self) {
        let now = self.clock.now();
        self.reg.register(now, &mut self.client).unwrap();
        self.pump();
    }

    fn registers(&self) -> Vec<(u128, u32, Option<u32>, bool)> {
        self.sent
            .iter()
            .map(|(t, r)| {
                (
                    *t,
                    r.headers.cseq().unwrap().seq,
                    r.headers.expires().unwrap(),
                    r.headers.contains(&HeaderName::Authorization),
                )
            })
            .collect()
    }
}

#[test]
fn challenge_then_success_then_refresh_before_expiry() {
    let mut rig = Rig::new(config(120), authenticating(120));
    rig.start();
    rig.run_for(Duration::from_secs(100));
    // 401, then the same Call-ID with CSeq 2 and credentials; refresh at
    // max(120/2, 120 − 30) = 90 s with the cached nonce (no new challenge).
    assert_eq!(
        rig.registers(),
        [
            (0, 1, Some(120), false),
            (0, 2, Some(120), true),
            (90_000, 3, Some(120), true)
        ]
    );
    let call_ids: Vec<_> = rig
        .sent
        .iter()
        .map(|(_, r)| r.headers.call_id().unwrap().to_owned())
        .collect();
    assert!(call_ids.iter().all(|c| *c == call_ids[0]));
    let nc = |r: &Request| {
        Authorization::parse(r.headers.get(&HeaderName::Authorization).unwrap())
            .unwrap()
            .nc
    };
    assert_eq!(nc(&rig.sent[1].1), Some(1));
    assert_eq!(
        nc(&rig.sent[2].1),
        Some(2),
        "the nonce count goes up on reuse"
    );
    let first = &rig.sent[0].1;
    assert_eq!(first.headers.get(&HeaderName::MaxForwards), Some("70"));
    assert!(first.headers.contains(&HeaderName::UserAgent));
    assert!(first.headers.contains(&HeaderName::Allow));
    let registered: Vec<_> = rig
        .events
        .iter()
        .filter_map(|(t, e)| match e {
            RegistrationEvent::Registered(b) => Some((*t, b.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(registered.len(), 2);
    let b = &registered[0].1;
    assert_eq!(b.expires, 120);
    assert_eq!(b.contact.to_string(), "sip:fax@10.0.0.5:5060");
    assert_eq!(b.received.as_deref(), Some("198.51.100.7"));
    assert_eq!(b.rport, Some(40000));
    assert!(rig.reg.is_registered());
}

#[test]
fn registrar_grants_less_than_asked() {
    let mut rig = Rig::new(config(3600), authenticating(60));
    rig.start();
    rig.run_for(Duration::from_secs(70));
    let times: Vec<u128> = rig.registers().iter().map(|r| r.0).collect();
    assert_eq!(times, [0, 0, 30_000, 60_000]);
    assert_eq!(rig.reg.binding().unwrap().expires, 60);
}

#[test]
fn interval_too_brief_is_retried_with_min_expires() {
    let mut rig = Rig::new(
        config(60),
        Box::new(|req, _, _| {
            let asked = req.headers.expires().unwrap().unwrap();
            Some(if asked < 600 {
                let mut r = Response::for_request(req, StatusCode::new(423).unwrap());
                r.headers.push(HeaderName::MinExpires, "600");
                r
            } else {
                ok(req, 3600)
            })
        }),
    );
    rig.start();
    rig.run_for(Duration::from_secs(1));
    assert_eq!(
        rig.registers(),
        [(0, 1, Some(60), false), (0, 2, Some(600), false)]
    );
    assert_eq!(rig.reg.binding().unwrap().expires, 600);
}

#[test]
fn failures_back_off_exponentially_with_jitter_up_to_the_cap() {
    let mut cfg = config(3600);
    cfg.retry_base = Duration::from_secs(30);
    cfg.retry_max = Duration::from_secs(240);
    let mut rig = Rig::new(
        cfg,
        Box::new(|req, _, _| Some(Response::for_request(req, StatusCode::new(503).unwrap()))),
    );
    rig.start();
    rig.run_for(Duration::from_secs(1500));
    let retries: Vec<Duration> = rig
        .events
        .iter()
        .map(|(_, e)| match e {
            RegistrationEvent::Failed { code, retry_in } => {
                assert_eq!(code.map(|c| c.as_u16()), Some(503));
                *retry_in
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(retries.len() >= 7, "{retries:?}");
    let caps = [30u64, 60, 120, 240, 240, 240, 240];
    for (r, full) in retries.iter().zip(caps) {
        let full = Duration::from_secs(full);
        assert!(
            *r >= full / 2 && *r <= full,
            "{r:?} outside [{:?}, {full:?}]",
            full / 2
        );
    }
    // Jitter: the capped delays are not all equal.
    assert!(retries[3..7].windows(2).any(|w| w[0] != w[1]));
    // Each attempt went out exactly when its retry was due.
    let times: Vec<u128> = rig.registers().iter().map(|r| r.0).collect();
    for (i, r) in retries.iter().enumerate().take(times.len() - 1) {
        assert_eq!(times[i + 1] - times[i], r.as_millis());
    }
}

#[test]
fn retry_after_and_timeouts() {
    let mut first = true;
    let mut rig = Rig::new(
        config(3600),
        Box::new(move |req, _, _| {
            if first {
                first = false;
                let mut r = Response::for_request(req, StatusCode::new(503).unwrap());
                r.headers.push(HeaderName::RetryAfter, "17");
                Some(r)
            } else {
                None
            }
        }),
    );
    rig.start();
    rig.run_for(Duration::from_secs(60));
    assert_eq!(
        rig.events[0].1,
        RegistrationEvent::Failed {
            code: StatusCode::new(503),
            retry_in: Duration::from_secs(17)
        }
    );
    // The second attempt is never answered: Timer F (64·T1) ends it.
    assert_eq!(rig.events[1].0, 17_000 + 32_000);
    assert!(matches!(
        rig.events[1].1,
        RegistrationEvent::Failed { code: None, .. }
    ));
}

#[test]
fn wrong_password_fails_after_one_retry() {
    let mut cfg = config(3600);
    cfg.credentials = Some(Credentials::new("alice", "guess"));
    let mut rig = Rig::new(
        cfg,
        Box::new(|req, digest, now| Some(digest.challenge_response(now, req, false, false))),
    );
    rig.start();
    rig.run_for(Duration::from_secs(1));
    assert_eq!(rig.sent.len(), 2);
    assert_eq!(
        rig.events[0].1,
        RegistrationEvent::Rejected {
            code: StatusCode::new(401).unwrap()
        }
    );
    // A wrong password stays wrong: nothing more is sent, however long we wait.
    rig.run_for(Duration::from_secs(7200));
    assert_eq!(rig.sent.len(), 2);
    assert_eq!(rig.reg.poll_timeout(), None);
}

/// What the registration does after each final failure, with and without Retry-After:
/// transient ones back off and retry, the others stop until `register` is called again.
#[test]
fn which_failures_are_retried() {
    // (code, Retry-After, retried, first retry delay bounds in seconds)
    type Row = (u16, Option<u32>, bool, (u64, u64));
    let table: &[Row] = &[
        (400, None, false, (0, 0)),
        (403, None, false, (0, 0)),
        (404, None, false, (0, 0)),
        (405, None, false, (0, 0)),
        (410, None, false, (0, 0)),
        (420, None, false, (0, 0)),
        (423, None, false, (0, 0)), // no Min-Expires: asking again cannot help
        (484, None, false, (0, 0)),
        (488, None, false, (0, 0)),
        (603, None, false, (0, 0)),
        (604, None, false, (0, 0)),
        (606, None, false, (0, 0)),
        (408, None, true, (15, 30)),
        (480, None, true, (15, 30)),
        (486, None, true, (15, 30)),
        (491, None, true, (15, 30)),
        (500, None, true, (15, 30)),
        (502, None, true, (15, 30)),
        (503, None, true, (15, 30)),
        (504, None, true, (15, 30)),
        (600, None, true, (15, 30)),
        (503, Some(120), true, (120, 120)),
        (500, Some(7), true, (7, 7)),
        // The registrar says when to come back: a 404 or 603 with Retry-After is retried.
        (404, Some(300), true, (300, 300)),
        (603, Some(90), true, (90, 90)),
    ];
    for &(code, retry_after, retried, (lo, hi)) in table {
        let mut rig = Rig::new(
            config(3600),
            Box::new(move |req, _, _| {
                let mut r = Response::for_request(req, StatusCode::new(code).unwrap());
                if let Some(s) = retry_after {
                    r.headers.push(HeaderName::RetryAfter, s.to_string());
                }
                Some(r)
            }),
        );
        rig.start();
        rig.run_for(Duration::from_secs(1));
        let row = format!("{code} Retry-After {retry_after:?}");
        let status = StatusCode::new(code).unwrap();
        if retry_after.is_none() {
            assert_eq!(sip::registration::retryable(status), retried, "{row}");
        }
        if retried {
            let RegistrationEvent::Failed {
                code: Some(c),
                retry_in,
            } = rig.events[0].1
            else {
                panic!("{row}: {:?}", rig.events)
            };
            assert_eq!(c, status, "{row}");
            let (lo, hi) = (Duration::from_secs(lo), Duration::from_secs(hi));
            assert!(retry_in >= lo && retry_in <= hi, "{row}: {retry_in:?}");
            assert_eq!(
                rig.reg.poll_timeout(),
                Some(rig.clock.now() - Duration::from_secs(1) + retry_in),
                "{row}"
            );
            rig.run_for(retry_in);
            assert_eq!(rig.sent.len(), 2, "{row}: the retry went out when due");
        } else {
            assert_eq!(
                rig.events,
                [(0, RegistrationEvent::Rejected { code: status })],
                "{row}"
            );
            assert_eq!(rig.reg.poll_timeout(), None, "{row}");
            rig.run_for(Duration::from_secs(24 * 3600));
            assert_eq!(rig.sent.len(), 1, "{row}: nothing more is sent");
            assert!(!rig.reg.is_registered() && rig.reg.binding().is_none());
        }
    }
}

#[test]
fn a_refused_refresh_drops_the_binding_and_register_starts_over() {
    let mut refuse = false;
    let mut rig = Rig::new(
        config(120),
        Box::new(move |req, _, _| {
            let r = if refuse {
                Response::for_request(req, StatusCode::new(403).unwrap())
            } else {
                ok(req, 120)
            };
            refuse = !refuse;
            Some(r)
        }),
    );
    rig.start();
    rig.run_for(Duration::from_secs(100));
    // Registered at 0, refreshed at 90 s and refused: no binding, no more attempts.
    assert!(matches!(rig.events[0].1, RegistrationEvent::Registered(_)));
    assert_eq!(
        rig.events[1],
        (
            90_000,
            RegistrationEvent::Rejected {
                code: StatusCode::new(403).unwrap()
            }
        )
    );
    assert!(rig.reg.binding().is_none());
    assert_eq!(rig.reg.poll_timeout(), None);
    // The operator fixed the account: register() tries again, with a new CSeq.
    let now = rig.clock.now();
    rig.reg.register(now, &mut rig.client).unwrap();
    rig.pump();
    assert!(rig.reg.is_registered());
    assert_eq!(rig.registers().last().unwrap().1, 3);
}

#[test]
fn unregister_on_shutdown() {
    let mut rig = Rig::new(config(3600), authenticating(3600));
    rig.start();
    rig.run_for(Duration::from_secs(1));
    assert!(rig.reg.is_registered());
    let now = rig.clock.now();
    rig.reg.unregister(now, &mut rig.client).unwrap();
    rig.run_for(Duration::from_secs(1));
    let last = &rig.sent.last().unwrap().1;
    assert_eq!(last.headers.expires().unwrap(), Some(0));
    assert!(last.headers.contains(&HeaderName::Authorization));
    assert_eq!(
        rig.events.last().unwrap().1,
        RegistrationEvent::Unregistered
    );
    assert!(rig.reg.binding().is_none());
    assert_eq!(rig.reg.poll_timeout(), None, "no refresh after un-REGISTER");
}
