//! Locating SIP servers (RFC 3263 §4): NAPTR → SRV → A/AAAA, as an ordered target list with
//! failover (§4.3: on a timeout or 503, try the next) and TTL expiry, sans-IO. DNS itself
//! is behind [`Resolver`], so tests use a fake and the shell a real one.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::fixup::{default_port, parse_via_token};
use crate::msg::{Host, SipUri};
use crate::rng::Rng;
use crate::transaction::{Peer, Transport};

/// A NAPTR record (RFC 3403) as RFC 3263 §4.1 uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Order: lower first.
    pub order: u16,
    /// Preference among equal orders: lower first.
    pub preference: u16,
    /// Service (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T`).
    pub service: String,
    /// The SRV name to look up.
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Priority: lower first.
    pub priority: u16,
    /// Weight among equal priorities.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Host to resolve to addresses.
    pub target: String,
}

/// Records and the time they may be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    /// The records; empty for NXDOMAIN or no data.
    pub records: Vec<T>,
    /// Their TTL.
    pub ttl: Duration,
}

impl<T> Answer<T> {
    /// No records, with a negative-caching TTL.
    pub fn empty(ttl: Duration) -> Self {
        Answer {
            records: Vec::new(),
            ttl,
        }
    }
}

/// The DNS lookups RFC 3263 needs.
pub trait Resolver {
    /// NAPTR records of `domain`.
    fn naptr(&mut self, domain: &str) -> Answer<Naptr>;
    /// SRV records of `name` (`_sip._udp.example.com`).
    fn srv(&mut self, name: &str) -> Answer<Srv>;
    /// A and AAAA records of `host`.
    fn addrs(&mut self, host: &str) -> Answer<IpAddr>;
}

/// Where to send, in order of preference, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetList {
    targets: Vec<Peer>,
    next: usize,
    expires: Option<Instant>,
}

impl TargetList {
    /// The target to use now.
    pub fn current(&self) -> Option<Peer> {
        self.targets.get(self.next).copied()
    }

    /// The current target failed (timeout, transport error or 503, §4.3): the next one.
    pub fn failover(&mut self) -> Option<Peer> {
        self.next = self.next.saturating_add(1).min(self.targets.len());
        self.current()
    }

    /// The targets after the current one, in order: the failover candidates of a request
    /// sent to [`current`](Self::current).
    pub fn remaining(&self) -> &[Peer] {
        self.targets
            .get(self.next.saturating_add(1)..)
            .unwrap_or(&[])
    }

    /// Every target, in order.
    pub fn all(&self) -> &[Peer] {
        &self.targets
    }

    /// True once the shortest TTL used has run out: resolve again before the next request.
    pub fn is_stale(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

fn service_transport(service: &str, secure: bool) -> Option<Transport> {
    match service.to_ascii_uppercase().as_str() {
        "SIP+D2U" if !secure => Some(Transport::Udp),
        "SIP+D2T" if !secure => Some(Transport::Tcp),
        "SIPS+D2T" => Some(Transport::Tls),
        _ => None,
    }
}

fn srv_prefix(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "_sip._udp.",
        Transport::Tcp => "_sip._tcp.",
        Transport::Tls => "_sips._tcp.",
    }
}

struct Walk<'a, R: Resolver> {
    resolver: &'a mut R,
    ttl: Option<Duration>,
    out: Vec<Peer>,
}

impl<R: Resolver> Walk<'_, R> {
    fn note(&mut self, ttl: Duration) {
        self.ttl = Some(self.ttl.map_or(ttl, |t| t.min(ttl)));
    }

    fn host(&mut self, host: &str, port: u16, transport: Transport) {
        let a = self.resolver.addrs(host);
        self.note(a.ttl);
        for ip in a.records {
            let peer = Peer {
                addr: SocketAddr::new(ip, port),
                transport,
            };
            if !self.out.contains(&peer) {
                self.out.push(peer);
            }
        }
    }

    /// Returns false when the name has no SRV records.
    fn srv(&mut self, name: &str, transport: Transport, rng: &mut Rng) -> bool {
        let a = self.resolver.srv(name);
        self.note(a.ttl);
        if a.records.is_empty() {
            return false;
        }
        for s in order_srv(a.records, rng) {
            // "." means the service is decidedly not available (RFC 2782).
            if s.target != "." {
                self.host(&s.target, s.port, transport);
            }
        }
        true
    }
}

/// Sorts SRV records by priority, and within a priority by the RFC 2782 weighted draw.
fn order_srv(mut records: Vec<Srv>, rng: &mut Rng) -> Vec<Srv> {
    records.sort_by_key(|s| s.priority);
    let mut out = Vec::with_capacity(records.len());
    while let Some(first) = records.first() {
        let prio = first.priority;
        let n = records.iter().take_while(|s| s.priority == prio).count();
        let mut group: Vec<Srv> = records.drain(..n).collect();
        // RFC 2782: zero-weight records first, so they get a small chance of selection.
        group.sort_by_key(|s| s.weight != 0);
        while !group.is_empty() {
            let total: u64 = group.iter().map(|s| u64::from(s.weight)).sum();
            let pick = rng.range(0, total);
            let mut run = 0u64;
            let mut idx = group.len() - 1;
            for (i, s) in group.iter().enumerate() {
                run += u64::from(s.weight);
                if run >= pick {
                    idx = i;
                    break;
                }
            }
            out.push(group.remove(idx));
        }
    }
    out
}

/// Resolves `uri` to targets over the transports we speak (`ours`, in our preference
/// order), per RFC 3263 §4.1 and §4.2. `seed` drives the SRV weighted draw.
pub fn resolve<R: Resolver>(
    resolver: &mut R,
    uri: &SipUri,
    ours: &[Transport],
    now: Instant,
    seed: u64,
) -> TargetList {
    let mut rng = Rng::new(seed);
    let mut w = Walk {
        resolver,
        ttl: None,
        out: Vec::new(),
    };
    let forced = uri.transport().and_then(|t| parse_via_token(&t));
    let secure_default = if uri.secure {
        Transport::Tls
    } else {
        Transport::Udp
    };
    let numeric = match &uri.host {
        Host::Ipv4(a) => Some(IpAddr::V4(*a)),
        Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        Host::Domain(_) => None,
    };
    let name = uri.host.canonical();
    let usable = |t: Transport| ours.contains(&t) && (!uri.secure || t == Transport::Tls);
    if let Some(ip) = numeric {
        let t = forced.unwrap_or(secure_default);
        if usable(t) {
            let port = uri.port.unwrap_or_else(|| default_port(t));
            w.out.push(Peer {
                addr: SocketAddr::new(ip, port),
                transport: t,
            });
        }
    } else if let Some(port) = uri.port {
        // §4.2: an explicit port means A/AAAA only.
        let t = forced.unwrap_or(secure_default);
        if usable(t) {
            w.host(&name, port, t);
        }
    } else if let Some(t) = forced {
        if usable(t) && !w.srv(&format!("{}{name}", srv_prefix(t)), t, &mut rng) {
            w.host(&name, default_port(t), t);
        }
    } else {
        let mut naptr = w.resolver.naptr(&name);
        w.note(naptr.ttl);
        naptr.records.retain(|n| {
            service_transport(&n.service, uri.secure).is_some_and(|t| ours.contains(&t))
        });
        naptr.records.sort_by_key(|n| (n.order, n.preference));
        let mut found = false;
        for n in &naptr.records {
            if let Some(t) = service_transport(&n.service, uri.secure) {
                found |= w.srv(&n.replacement, t, &mut rng);
            }
        }
        if !found {
            // §4.1: no NAPTR, so try the SRV names of the transports we support.
            for &t in ours.iter().filter(|t| usable(**t)) {
                found |= w.srv(&format!("{}{name}", srv_prefix(t)), t, &mut rng);
            }
        }
        if !found {
            let t = secure_default;
            if usable(t) {
                w.host(&name, default_port(t), t);
            }
        }
    }
    TargetList {
        targets: w.out,
        next: 0,
        expires: w.ttl.and_then(|t| now.checked_add(t)),
    }
}
