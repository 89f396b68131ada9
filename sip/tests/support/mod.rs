//! Helpers shared by the transaction tests: requests, peers, and a driver that steps a
//! [`ManualClock`] from timeout to timeout.

#![allow(dead_code)]

use std::time::Duration;

use sip::msg::{parse_datagram, Message, Request, Response, StatusCode};
use sip::transaction::{
    Peer, TimerConfig, TransactionEvent, TransactionId, TransactionLayer, Transport,
};
pub use test_support::ManualClock;

pub const US: &str = "192.0.2.200:5060";
pub const THEM: &str = "203.0.113.5:5060";

pub fn peer(transport: Transport) -> Peer {
    Peer {
        addr: THEM.parse().unwrap(),
        transport,
    }
}

pub fn request(method: &str, branch: &str, transport: Transport) -> Request {
    let t = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
        Transport::Tls => "TLS",
    };
    let text = format!(
        "{method} sip:fax@{THEM} SIP/2.0\r\nVia: SIP/2.0/{t} {US};branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:gw@{US}>;tag=from1\r\nTo: <sip:fax@{THEM}>\r\nCall-ID: call-1@test\r\nCSeq: 1 {method}\r\n\
         Route: <sip:proxy.example;lr>\r\n\r\n"
    );
    match parse_datagram(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

pub fn response_to(req: &Request, code: u16, to_tag: Option<&str>) -> Response {
    let mut r = Response::for_request(req, StatusCode::new(code).unwrap());
    if let Some(t) = to_tag {
        r.set_to_tag(t);
    }
    r
}

/// Drains transmits; returns their start lines.
pub fn sent(layer: &mut TransactionLayer) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(t) = layer.poll_transmit() {
        let bytes = t.message.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        out.push(text.lines().next().unwrap_or("").to_owned());
    }
    out
}

pub fn events(layer: &mut TransactionLayer) -> Vec<TransactionEvent> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

/// Steps the clock from timeout to timeout until nothing is pending or `limit` has passed;
/// returns (elapsed ms, start lines sent, events) for each step that produced something.
pub fn run(
    clock: &mut ManualClock,
    layer: &mut TransactionLayer,
    limit: Duration,
) -> Vec<(u128, Vec<String>, Vec<TransactionEvent>)> {
    let mut log = Vec::new();
    while let Some(at) = layer.poll_timeout() {
        if at > clock.now() {
            clock.advance(at - clock.now());
        }
        if clock.elapsed() > limit {
            break;
        }
        layer.handle_timeout(clock.now());
        let (s, e) = (sent(layer), events(layer));
        if !s.is_empty() || !e.is_empty() {
            log.push((clock.elapsed().as_millis(), s, e));
        }
    }
    log
}

pub fn times_sent(log: &[(u128, Vec<String>, Vec<TransactionEvent>)]) -> Vec<u128> {
    log.iter()
        .filter(|(_, s, _)| !s.is_empty())
        .map(|(t, ..)| *t)
        .collect()
}

pub fn layer() -> TransactionLayer {
    TransactionLayer::new(TimerConfig::default(), 7)
}

pub fn receive(
    l: &mut TransactionLayer,
    clock: &ManualClock,
    req: &Request,
) -> Vec<TransactionEvent> {
    l.handle_message(clock.now(), req.clone().into(), peer(Transport::Udp));
    events(l)
}

pub fn new_request_id(ev: &[TransactionEvent]) -> TransactionId {
    match ev {
        [TransactionEvent::Request { id, .. }] => *id,
        other => panic!("expected one Request event, got {other:?}"),
    }
}
