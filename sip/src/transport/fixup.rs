//! Per-message transport rules, sans-IO: `received`/`rport` on incoming requests
//! (RFC 3261 §18.2.1, RFC 3581 §4), where responses go (RFC 3261 §18.2.2, RFC 3581 §4) and
//! the switch to TCP for large requests (RFC 3261 §18.1.1).

use std::net::{IpAddr, SocketAddr};

use crate::msg::{HeaderName, Host, Request, Response, Via};
use crate::transaction::{Peer, Transport};

/// Requests larger than this (bytes) go over a congestion-controlled transport when the
/// path allows it (RFC 3261 §18.1.1: 200 bytes below a 1500-byte MTU).
pub const UDP_SIZE_LIMIT: usize = 1300;

/// The default SIP port for a transport (RFC 3261 §19.1.2).
pub fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Tls => 5061,
        Transport::Udp | Transport::Tcp => 5060,
    }
}

/// The Via token of a transport.
pub fn via_token(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
        Transport::Tls => "TLS",
    }
}

/// The transport a Via token names, if we speak it.
pub fn parse_via_token(token: &str) -> Option<Transport> {
    match token.to_ascii_uppercase().as_str() {
        "UDP" => Some(Transport::Udp),
        "TCP" => Some(Transport::Tcp),
        "TLS" => Some(Transport::Tls),
        _ => None,
    }
}

fn host_ip(host: &Host) -> Option<IpAddr> {
    match host {
        Host::Ipv4(a) => Some(IpAddr::V4(*a)),
        Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        Host::Domain(_) => None,
    }
}

/// Stamps the top Via of a request that arrived from `source`: `received` when sent-by is
/// not the source address, and the source port in `rport` when the client asked for it.
/// Returns whether the Via changed; a request without a parsable Via is left alone (the
/// validator answers it).
pub fn via_fixup(req: &mut Request, source: SocketAddr) -> bool {
    let Ok(mut via) = req.headers.top_via() else {
        return false;
    };
    let mut changed = false;
    if host_ip(&via.host) != Some(source.ip()) {
        via.params.set("received", Some(&source.ip().to_string()));
        changed = true;
    }
    if via.rport().is_some() {
        via.params.set("rport", Some(&source.port().to_string()));
        changed = true;
    }
    if changed {
        req.headers.replace_first(&HeaderName::Via, via.to_string());
    }
    changed
}

/// Where a response goes when the connection it belongs to is gone, or over UDP: the top
/// Via's `received` (else sent-by) address, at `rport` when filled, else the sent-by port.
/// `None` when the Via is missing, names a host we would have to resolve, or a transport
/// we do not speak. (`maddr` multicast responses are not supported.)
pub fn response_target(resp: &Response) -> Option<Peer> {
    let via = resp.headers.top_via().ok()?;
    via_target(&via)
}

/// [`response_target`] for a Via value.
pub fn via_target(via: &Via) -> Option<Peer> {
    let transport = parse_via_token(&via.transport)?;
    let ip = match via.received() {
        Some(r) => r.trim_matches(|c| c == '[' || c == ']').parse().ok()?,
        None => host_ip(&via.host)?,
    };
    let port = match via.rport() {
        Some(Some(p)) => p,
        _ => via.port.unwrap_or_else(|| default_port(transport)),
    };
    Some(Peer {
        addr: SocketAddr::new(ip, port),
        transport,
    })
}

/// The transport to send a request of `len` bytes on: TCP instead of UDP when it is larger
/// than `limit` and `tcp_allowed` (the target did not pin `transport=udp` and we have TCP).
pub fn choose_transport(
    requested: Transport,
    len: usize,
    limit: Option<usize>,
    tcp_allowed: bool,
) -> Transport {
    match (requested, limit) {
        (Transport::Udp, Some(limit)) if len > limit && tcp_allowed => Transport::Tcp,
        (t, _) => t,
    }
}

/// Rewrites the top Via's transport token, as the switch to TCP requires (§18.1.1).
pub fn set_via_transport(req: &mut Request, transport: Transport) -> bool {
    let Ok(mut via) = req.headers.top_via() else {
        return false;
    };
    via.transport = via_token(transport).to_owned();
    req.headers.replace_first(&HeaderName::Via, via.to_string());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{parse_datagram, Message};

    fn req(via: &str) -> Request {
        let text = format!(
            "OPTIONS sip:a@example.com SIP/2.0\r\nVia: {via}\r\nFrom: <sip:b@example.com>;tag=1\r\n\
             To: <sip:a@example.com>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        match parse_datagram(text.as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    fn top(r: &Request) -> Via {
        r.headers.top_via().unwrap()
    }

    #[test]
    fn received_added_when_source_differs() {
        let mut r = req("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1");
        assert!(via_fixup(&mut r, "203.0.113.9:40000".parse().unwrap()));
        let v = top(&r);
        assert_eq!(v.received(), Some("203.0.113.9"));
        assert_eq!(v.rport(), None);
    }

    #[test]
    fn rport_filled_and_no_received_when_same_address() {
        let mut r = req("SIP/2.0/UDP 203.0.113.9:5060;rport;branch=z9hG4bK1");
        assert!(via_fixup(&mut r, "203.0.113.9:40000".parse().unwrap()));
        let v = top(&r);
        assert_eq!(v.received(), None);
        assert_eq!(v.rport(), Some(Some(40000)));
    }

    #[test]
    fn nothing_to_do() {
        let mut r = req("SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bK1");
        assert!(!via_fixup(&mut r, "203.0.113.9:5060".parse().unwrap()));
    }

    #[test]
    fn ipv6_received() {
        let mut r = req("SIP/2.0/TCP [2001:db8::1]:5060;rport;branch=z9hG4bK1");
        assert!(via_fixup(&mut r, "[2001:db8::2]:6000".parse().unwrap()));
        let v = top(&r);
        assert_eq!(v.received(), Some("2001:db8::2"));
        let mut resp = Response::new(crate::msg::StatusCode::new(200).unwrap());
        resp.headers.push(HeaderName::Via, v.to_string());
        let p = response_target(&resp).unwrap();
        assert_eq!(p.addr, "[2001:db8::2]:6000".parse().unwrap());
        assert_eq!(p.transport, Transport::Tcp);
    }

    #[test]
    fn response_target_rules() {
        let t = |via: &str| via_target(&Via::parse(via).unwrap()).map(|p| p.addr.to_string());
        assert_eq!(
            t("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1").as_deref(),
            Some("10.0.0.1:5060")
        );
        assert_eq!(
            t("SIP/2.0/UDP 10.0.0.1:5070;received=192.0.2.1;branch=z").as_deref(),
            Some("192.0.2.1:5070")
        );
        assert_eq!(
            t("SIP/2.0/UDP 10.0.0.1:5070;received=192.0.2.1;rport=9999").as_deref(),
            Some("192.0.2.1:9999")
        );
        // A bare rport (never filled) falls back to sent-by's port.
        assert_eq!(
            t("SIP/2.0/UDP 10.0.0.1:5070;rport").as_deref(),
            Some("10.0.0.1:5070")
        );
        assert_eq!(t("SIP/2.0/UDP host.example.com;branch=z"), None);
        assert_eq!(t("SIP/2.0/SCTP 10.0.0.1;branch=z"), None);
        assert_eq!(
            t("SIP/2.0/TLS 10.0.0.1;branch=z").as_deref(),
            Some("10.0.0.1:5061")
        );
    }

    #[test]
    fn large_requests_switch_to_tcp() {
        let c = choose_transport;
        assert_eq!(c(Transport::Udp, 1301, Some(1300), true), Transport::Tcp);
        assert_eq!(c(Transport::Udp, 1300, Some(1300), true), Transport::Udp);
        assert_eq!(c(Transport::Udp, 5000, Some(1300), false), Transport::Udp);
        assert_eq!(c(Transport::Udp, 5000, None, true), Transport::Udp);
        assert_eq!(c(Transport::Tls, 5000, Some(1300), true), Transport::Tls);
        let mut r = req("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1");
        assert!(set_via_transport(&mut r, Transport::Tcp));
        assert_eq!(top(&r).transport, "TCP");
        assert_eq!(top(&r).branch(), Some("z9hG4bK1"));
    }
}
