//! The sans-IO half of real DNS for RFC 3263: a cache of answers that expire by TTL and a
//! [`Resolver`] over it that notes what it is missing, so the RFC 3263 walk of
//! [`resolve`](super::resolve()) stays synchronous and testable while the lookups run in
//! the tokio shell ([`DnsResolver`](super::DnsResolver)).
//!
//! A resolution is a few rounds: walk the tree over the cache; if a lookup was missing, the
//! shell fetches every missing name at once and the walk runs again. The NAPTR → SRV →
//! A/AAAA chain is three deep, so three rounds fetch everything; a fourth is a safety
//! margin. A missing lookup answers "no records" during its round, which may make the walk
//! ask for fallback names it ends up not needing; those answers are cached, not wasted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::resolve::{resolve, Answer, Naptr, Resolver, Srv, TargetList};
use crate::msg::SipUri;
use crate::transaction::Transport;

/// Most rounds of lookups one resolution makes.
pub const MAX_ROUNDS: usize = 4;

/// One DNS question RFC 3263 asks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Query {
    /// NAPTR records of a domain.
    Naptr(String),
    /// SRV records of a name.
    Srv(String),
    /// A and AAAA records of a host.
    Addrs(String),
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// NAPTR records.
    Naptr(Answer<Naptr>),
    /// SRV records.
    Srv(Answer<Srv>),
    /// Addresses.
    Addrs(Answer<IpAddr>),
}

/// Answers kept until their TTL runs out; names compare case-insensitively without the
/// trailing dot.
#[derive(Debug, Clone, Default)]
pub struct DnsCache {
    now: Option<Instant>,
    naptr: HashMap<String, (Answer<Naptr>, Instant)>,
    srv: HashMap<String, (Answer<Srv>, Instant)>,
    addrs: HashMap<String, (Answer<IpAddr>, Instant)>,
    missing: Vec<Query>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn fresh<T: Clone>(
    map: &HashMap<String, (Answer<T>, Instant)>,
    name: &str,
    now: Option<Instant>,
) -> Option<Answer<T>> {
    let (a, until) = map.get(&key(name))?;
    // The TTL left, so that a target list built from old answers expires with them.
    let left = until.saturating_duration_since(now?);
    (!left.is_zero()).then(|| Answer {
        records: a.records.clone(),
        ttl: left,
    })
}

impl DnsCache {
    /// An empty cache.
    pub fn new() -> Self {
        DnsCache::default()
    }

    /// Stores the reply to `q` received at `now`.
    pub fn insert(&mut self, now: Instant, q: &Query, reply: Reply) {
        let until = |ttl: Duration| now.checked_add(ttl).unwrap_or(now);
        match (q, reply) {
            (Query::Naptr(n), Reply::Naptr(a)) => {
                let u = until(a.ttl);
                self.naptr.insert(key(n), (a, u));
            }
            (Query::Srv(n), Reply::Srv(a)) => {
                let u = until(a.ttl);
                self.srv.insert(key(n), (a, u));
            }
            (Query::Addrs(n), Reply::Addrs(a)) => {
                let u = until(a.ttl);
                self.addrs.insert(key(n), (a, u));
            }
            // A reply of the wrong kind answers nothing.
            _ => {}
        }
    }

    /// Drops every answer whose TTL has run out by `now`.
    pub fn purge(&mut self, now: Instant) {
        self.naptr.retain(|_, (_, u)| *u > now);
        self.srv.retain(|_, (_, u)| *u > now);
        self.addrs.retain(|_, (_, u)| *u > now);
    }

    /// Number of answers held.
    pub fn len(&self) -> usize {
        self.naptr.len() + self.srv.len() + self.addrs.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs the RFC 3263 walk for `uri` over the cache at `now`: the target list when every
    /// answer it needed was there, else the lookups to make first.
    pub fn plan(
        &mut self,
        uri: &SipUri,
        ours: &[Transport],
        now: Instant,
        seed: u64,
    ) -> Result<TargetList, Vec<Query>> {
        self.now = Some(now);
        self.missing.clear();
        let list = resolve(self, uri, ours, now, seed);
        if self.missing.is_empty() {
            Ok(list)
        } else {
            let mut m = std::mem::take(&mut self.missing);
            m.dedup();
            Err(m)
        }
    }

    /// Runs the walk over whatever is cached, treating missing answers as empty (after the
    /// last round, or when DNS is unreachable).
    pub fn best_effort(
        &mut self,
        uri: &SipUri,
        ours: &[Transport],
        now: Instant,
        seed: u64,
    ) -> TargetList {
        self.now = Some(now);
        let list = resolve(self, uri, ours, now, seed);
        self.missing.clear();
        list
    }

    fn miss<T>(&mut self, q: Query) -> Answer<T> {
        if !self.missing.contains(&q) {
            self.missing.push(q);
        }
        // Zero TTL: a list built on a miss is stale at once.
        Answer::empty(Duration::ZERO)
    }
}

impl Resolver for DnsCache {
    fn naptr(&mut self, domain: &str) -> Answer<Naptr> {
        fresh(&self.naptr, domain, self.now)
            .unwrap_or_else(|| self.miss(Query::Naptr(domain.to_owned())))
    }

    fn srv(&mut self, name: &str) -> Answer<Srv> {
        fresh(&self.srv, name, self.now).unwrap_or_else(|| self.miss(Query::Srv(name.to_owned())))
    }

    fn addrs(&mut self, host: &str) -> Answer<IpAddr> {
        fresh(&self.addrs, host, self.now)
            .unwrap_or_else(|| self.miss(Query::Addrs(host.to_owned())))
    }
}
