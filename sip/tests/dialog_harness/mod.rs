//! Two user agents, A and B, each a `TransactionLayer` plus a `DialogLayer`, wired in
//! memory and driven by a `ManualClock`. Every message crosses the "wire" as bytes and is
//! parsed again, and is logged so tests can assert what was sent.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sip::dialog::{CallParams, DialogConfig, DialogEvent, DialogId, LocalAgent, MediaConfig};
use sip::msg::{
    parse_datagram, HeaderName, Host, Message, NameAddr, Request, Response, StatusCode, Uri,
};
use sip::sdp::{Capabilities, OfferMedia, Policy};
use sip::transaction::{Peer, TimerConfig, TransactionLayer, Transport};
pub use test_support::ManualClock;

pub const A_ADDR: &str = "192.0.2.10:5060";
pub const B_ADDR: &str = "198.51.100.20:5060";

/// What a UA's "application" does by itself when events arrive.
#[derive(Debug, Clone)]
pub struct App {
    /// Send 180 on an incoming call.
    pub ring: bool,
    /// Answer incoming calls with this media after ringing.
    pub answer: Option<MediaConfig>,
    /// Answer re-INVITE offers.
    pub offers: OfferReply,
}

/// How the application answers a `ReinviteOffered`.
#[derive(Debug, Clone)]
pub enum OfferReply {
    /// Leave it to the test.
    Manual,
    /// `accept_offer` with this policy override.
    Accept(Option<Policy>),
    /// `reject_offer` with this code.
    Reject(StatusCode),
}

pub struct Ua {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub tl: TransactionLayer,
    pub dl: DialogLayer,
    pub events: Vec<(u128, DialogEvent)>,
    pub app: App,
}

pub use sip::dialog::DialogLayer;

/// One message on the wire.
#[derive(Debug, Clone)]
pub struct Wire {
    pub at_ms: u128,
    pub from: &'static str,
    pub msg: Message,
}

impl Wire {
    pub fn start_line(&self) -> String {
        let bytes = self.msg.to_bytes();
        String::from_utf8_lossy(&bytes)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    }
    pub fn request(&self) -> Option<&Request> {
        match &self.msg {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }
    pub fn response(&self) -> Option<&Response> {
        match &self.msg {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }
    /// "METHOD" for requests, "CODE METHOD" for responses (method from CSeq).
    pub fn label(&self) -> String {
        match &self.msg {
            Message::Request(r) => r.method.to_string(),
            Message::Response(r) => format!(
                "{} {}",
                r.status,
                r.headers
                    .cseq()
                    .map(|c| c.method.to_string())
                    .unwrap_or_default()
            ),
        }
    }
}

pub fn ip(addr: &str) -> IpAddr {
    addr.parse::<SocketAddr>().unwrap().ip()
}

pub fn agent(name: &str, addr: &str) -> LocalAgent {
    let sa: SocketAddr = addr.parse().unwrap();
    LocalAgent {
        host: Host::parse(&sa.ip().to_string()).unwrap(),
        port: Some(sa.port()),
        contact: Uri::parse(&format!("sip:{name}@{addr}")).unwrap(),
        user_agent: format!("faxserver-test-{name}"),
    }
}

pub fn media(addr: &str, audio_port: u16, image_port: u16) -> MediaConfig {
    MediaConfig {
        caps: Capabilities::new(ip(addr), audio_port, image_port),
        policy: Policy::default(),
        offer: OfferMedia::Audio,
    }
}

pub fn media_a() -> MediaConfig {
    media(A_ADDR, 40000, 40002)
}

pub fn media_b() -> MediaConfig {
    media(B_ADDR, 50000, 50002)
}

pub fn peer(addr: &str) -> Peer {
    Peer {
        addr: addr.parse().unwrap(),
        transport: Transport::Udp,
    }
}

pub fn call_to_b(delayed_offer: bool) -> CallParams {
    CallParams {
        target: Uri::parse(&format!("sip:fax@{B_ADDR}")).unwrap(),
        from: NameAddr::parse(&format!("<sip:sender@{A_ADDR}>")).unwrap(),
        to: NameAddr::parse(&format!("<sip:fax@{B_ADDR}>")).unwrap(),
        peer: peer(B_ADDR),
        media: media_a(),
        delayed_offer,
        credentials: None,
        headers: Vec::new(),
    }
}

pub struct World {
    pub clock: ManualClock,
    pub a: Ua,
    pub b: Ua,
    /// One-way delay of the wire.
    pub latency: Duration,
    queue: Vec<(Instant, u64, bool, Message)>,
    seq: u64,
    pub wire: Vec<Wire>,
    /// Returns true for messages to lose.
    pub drop: Box<dyn FnMut(&Wire) -> bool>,
    pub dropped: Vec<Wire>,
    /// When set, B's transaction events go to `raw_events` for the test to act on, not to
    /// B's dialog layer: B is then a hand-driven far end (proxy, redirect server, fork).
    pub raw_b: bool,
    pub raw_events: Vec<sip::transaction::TransactionEvent>,
}

impl World {
    pub fn new() -> World {
        World::with(|_| {}, |_| {})
    }

    pub fn with(fa: impl FnOnce(&mut DialogConfig), fb: impl FnOnce(&mut DialogConfig)) -> World {
        let mut ca = DialogConfig::new(agent("a", A_ADDR));
        let mut cb = DialogConfig::new(agent("b", B_ADDR));
        fa(&mut ca);
        fb(&mut cb);
        let ua = |name, addr: &str, cfg, seed| Ua {
            name,
            addr: addr.parse().unwrap(),
            tl: TransactionLayer::new(TimerConfig::default(), seed),
            dl: DialogLayer::new(cfg, seed + 100),
            events: Vec::new(),
            app: App {
                ring: true,
                answer: None,
                offers: OfferReply::Accept(None),
            },
        };
        let mut b = ua("B", B_ADDR, cb, 2);
        b.app.answer = Some(media_b());
        World {
            clock: ManualClock::new(),
            a: ua("A", A_ADDR, ca, 1),
            b,
            latency: Duration::from_millis(10),
            queue: Vec::new(),
            seq: 0,
            wire: Vec::new(),
            drop: Box::new(|_| false),
            dropped: Vec::new(),
            raw_b: false,
            raw_events: Vec::new(),
        }
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    pub fn ms(&self) -> u128 {
        self.clock.elapsed().as_millis()
    }

    /// Moves transmits to the wire, events to the dialog layers and the apps, until quiet.
    pub fn settle(&mut self) {
        loop {
            let mut busy = false;
            for to_b in [false, true] {
                let now = self.clock.now();
                let at_ms = self.ms();
                let (ua, name) = if to_b {
                    (&mut self.a, "A")
                } else {
                    (&mut self.b, "B")
                };
                while let Some(t) = ua.tl.poll_transmit() {
                    busy = true;
                    let bytes = t.message.to_bytes();
                    let msg = parse_datagram(&bytes).expect("we send what we parse");
                    let w = Wire {
                        at_ms,
                        from: name,
                        msg: msg.clone(),
                    };
                    if (self.drop)(&w) {
                        self.dropped.push(w);
                        continue;
                    }
                    self.wire.push(w);
                    self.seq += 1;
                    self.queue.push((now + self.latency, self.seq, to_b, msg));
                }
            }
            for (is_b, ua) in [(false, &mut self.a), (true, &mut self.b)] {
                let now = self.clock.now();
                while let Some(ev) = ua.tl.poll_event() {
                    busy = true;
                    if is_b && self.raw_b {
                        self.raw_events.push(ev);
                        continue;
                    }
                    let _ = ua.dl.handle_transaction_event(now, &mut ua.tl, ev);
                }
                while let Some(ev) = ua.dl.poll_event() {
                    busy = true;
                    app_react(ua, now, &ev);
                    ua.events.push((self.clock.elapsed().as_millis(), ev));
                }
            }
            let now = self.clock.now();
            self.queue.sort_by_key(|(at, seq, ..)| (*at, *seq));
            while self.queue.first().is_some_and(|(at, ..)| *at <= now) {
                let (_, _, to_b, msg) = self.queue.remove(0);
                busy = true;
                let (to, from) = if to_b {
                    (&mut self.b, self.a.addr)
                } else {
                    (&mut self.a, self.b.addr)
                };
                to.tl.handle_message(
                    now,
                    msg,
                    Peer {
                        addr: from,
                        transport: Transport::Udp,
                    },
                );
            }
            if !busy {
                return;
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.queue.iter().map(|q| q.0).min(),
            self.a.tl.poll_timeout(),
            self.b.tl.poll_timeout(),
            self.a.dl.poll_timeout(),
            self.b.dl.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Advances to the next deadline (but not past `limit`); false when nothing is pending.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.settle();
        let Some(at) = self.next_deadline() else {
            return false;
        };
        let at = at.min(limit);
        if at > self.clock.now() {
            let d = at - self.clock.now();
            self.clock.advance(d);
        }
        let now = self.clock.now();
        for ua in [&mut self.a, &mut self.b] {
            ua.tl.handle_timeout(now);
            ua.dl.handle_timeout(now, &mut ua.tl);
        }
        self.settle();
        at < limit
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.clock.now() + d;
        while self.clock.now() < limit {
            if !self.step(limit) {
                let rest = limit - self.clock.now();
                self.clock.advance(rest);
                self.settle();
                break;
            }
        }
    }

    /// Runs until `pred` holds (checked after each step), at most `max`.
    pub fn run_until(&mut self, max: Duration, mut pred: impl FnMut(&World) -> bool) -> bool {
        let limit = self.clock.now() + max;
        self.settle();
        while !pred(self) {
            if self.clock.now() >= limit || !self.step(limit) {
                return pred(self);
            }
        }
        true
    }

    /// Places a call from A to B.
    pub fn call(&mut self, params: CallParams) -> DialogId {
        let now = self.clock.now();
        let id = self.a.dl.invite(now, &mut self.a.tl, params).unwrap();
        self.settle();
        id
    }

    /// Places a call from A to B and runs until both sides report Confirmed.
    pub fn established(&mut self) -> (DialogId, DialogId) {
        let ida = self.call(call_to_b(false));
        assert!(
            self.run_until(Duration::from_secs(5), |w| confirmed(&w.a).is_some()
                && confirmed(&w.b).is_some())
        );
        (ida, confirmed(&self.b).unwrap())
    }

    /// Labels ("INVITE", "200 INVITE", …) of the messages `from` sent, in order.
    pub fn labels(&self, from: &str) -> Vec<String> {
        self.wire
            .iter()
            .filter(|w| w.from == from)
            .map(Wire::label)
            .collect()
    }

    /// Every request `from` sent with `method`.
    pub fn requests(&self, from: &str, method: &str) -> Vec<Request> {
        self.wire
            .iter()
            .filter(|w| w.from == from)
            .filter_map(Wire::request)
            .filter(|r| r.method.as_str() == method)
            .cloned()
            .collect()
    }

    /// Every response `from` sent to `method`.
    pub fn responses(&self, from: &str, method: &str) -> Vec<Response> {
        self.wire
            .iter()
            .filter(|w| w.from == from)
            .filter_map(Wire::response)
            .filter(|r| r.headers.cseq().is_ok_and(|c| c.method.as_str() == method))
            .cloned()
            .collect()
    }

    /// Lets a test call a DialogLayer command on A at the current time.
    pub fn on_a<T>(
        &mut self,
        f: impl FnOnce(&mut DialogLayer, &mut TransactionLayer, Instant) -> T,
    ) -> T {
        let now = self.clock.now();
        let r = f(&mut self.a.dl, &mut self.a.tl, now);
        self.settle();
        r
    }

    /// Same on B.
    pub fn on_b<T>(
        &mut self,
        f: impl FnOnce(&mut DialogLayer, &mut TransactionLayer, Instant) -> T,
    ) -> T {
        let now = self.clock.now();
        let r = f(&mut self.b.dl, &mut self.b.tl, now);
        self.settle();
        r
    }
}

fn app_react(ua: &mut Ua, now: Instant, ev: &DialogEvent) {
    match ev {
        DialogEvent::Incoming { id, .. } => {
            if ua.app.ring {
                let _ = ua.dl.ring(now, &mut ua.tl, *id);
            }
            if let Some(m) = ua.app.answer.clone() {
                ua.dl.accept(now, &mut ua.tl, *id, m).unwrap();
            }
        }
        DialogEvent::ReinviteOffered { id, .. } => match ua.app.offers.clone() {
            OfferReply::Manual => {}
            OfferReply::Accept(p) => ua.dl.accept_offer(now, &mut ua.tl, *id, p).unwrap(),
            OfferReply::Reject(c) => ua.dl.reject_offer(now, &mut ua.tl, *id, c).unwrap(),
        },
        _ => {}
    }
}

/// The id of the first Confirmed event of `ua`.
pub fn confirmed(ua: &Ua) -> Option<DialogId> {
    ua.events.iter().find_map(|(_, e)| match e {
        DialogEvent::Confirmed { id, .. } => Some(*id),
        _ => None,
    })
}

/// The reason of the Terminated event of `ua`, if any.
pub fn ended(ua: &Ua) -> Option<sip::dialog::EndReason> {
    ua.events.iter().find_map(|(_, e)| match e {
        DialogEvent::Terminated { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

/// Events of `ua` matching `f`.
pub fn count(ua: &Ua, f: impl Fn(&DialogEvent) -> bool) -> usize {
    ua.events.iter().filter(|(_, e)| f(e)).count()
}

/// Asserts that a header is present in a request.
pub fn has(h: &sip::msg::Headers, name: HeaderName) -> bool {
    h.contains(&name)
}

/// The requests B received while raw, with their server transaction ids.
pub fn raw_requests(w: &mut World) -> Vec<(sip::transaction::TransactionId, Request)> {
    let mut out = Vec::new();
    w.raw_events.retain(|e| match e {
        sip::transaction::TransactionEvent::Request { id, request, .. } => {
            out.push((*id, request.clone()));
            false
        }
        _ => true,
    });
    out
}
