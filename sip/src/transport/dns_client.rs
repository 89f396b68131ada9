//! Real DNS for RFC 3263 over hickory-resolver: fetches what [`DnsCache::plan`] reports
//! missing, all of a round at once, and keeps the answers for their TTL, so a target list
//! that [`TargetList::is_stale`] is re-resolved by calling [`DnsResolver::resolve`] again.
//!
//! hickory 0.25 is used, not 0.26: 0.26 needs Rust 1.88, above the workspace rust-version.
//! Its own cache is turned off; ours is the one whose TTLs the target lists carry.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, TokioResolver};

use super::dns::{DnsCache, Query, Reply, MAX_ROUNDS};
use super::resolve::{Answer, Naptr, Srv, TargetList};
use crate::error::{Error, Result};
use crate::msg::SipUri;
use crate::transaction::Transport;

/// How long "no such name" is remembered when the server gives no SOA minimum.
const NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// How long a failed lookup (timeout, SERVFAIL) is remembered, so that an unreachable DNS
/// does not hold up every call.
const FAILURE_TTL: Duration = Duration::from_secs(5);

/// An RFC 3263 resolver over the system's (or the given) name servers.
#[derive(Debug)]
pub struct DnsResolver {
    inner: TokioResolver,
    cache: DnsCache,
}

fn opts(timeout: Duration) -> ResolverOpts {
    let mut o = ResolverOpts::default();
    o.cache_size = 0;
    o.timeout = timeout;
    o.attempts = 2;
    o
}

impl DnsResolver {
    /// Uses the name servers of /etc/resolv.conf.
    pub fn from_system() -> Result<DnsResolver> {
        let mut b = TokioResolver::builder_tokio()
            .map_err(|_| Error::Transport("cannot read the system DNS configuration"))?;
        *b.options_mut() = opts(Duration::from_secs(2));
        Ok(DnsResolver {
            inner: b.build(),
            cache: DnsCache::new(),
        })
    }

    /// Uses these name servers (UDP, with TCP for truncated answers), each lookup given
    /// `timeout` per attempt.
    pub fn with_servers(servers: &[SocketAddr], timeout: Duration) -> DnsResolver {
        let mut group = NameServerConfigGroup::new();
        for s in servers {
            group.merge(NameServerConfigGroup::from_ips_clear(
                &[s.ip()],
                s.port(),
                true,
            ));
        }
        let cfg = ResolverConfig::from_parts(None, Vec::new(), group);
        let mut b = TokioResolver::builder_with_config(cfg, TokioConnectionProvider::default());
        *b.options_mut() = opts(timeout);
        DnsResolver {
            inner: b.build(),
            cache: DnsCache::new(),
        }
    }

    /// The answers held.
    pub fn cache(&self) -> &DnsCache {
        &self.cache
    }

    /// Resolves `uri` to targets over the transports we speak (`ours`, in our order), per
    /// RFC 3263 §4, from cached answers where their TTL allows. `seed` drives the SRV draw.
    pub async fn resolve(&mut self, uri: &SipUri, ours: &[Transport], seed: u64) -> TargetList {
        self.resolve_at(uri, ours, Instant::now(), seed).await
    }

    /// [`resolve`](Self::resolve) with the clock given, for tests that move time on.
    pub async fn resolve_at(
        &mut self,
        uri: &SipUri,
        ours: &[Transport],
        now: Instant,
        seed: u64,
    ) -> TargetList {
        self.cache.purge(now);
        for _ in 0..MAX_ROUNDS {
            match self.cache.plan(uri, ours, now, seed) {
                Ok(list) => return list,
                Err(queries) => {
                    let replies =
                        futures_join(queries.iter().map(|q| self.lookup(q)).collect()).await;
                    for (q, r) in queries.iter().zip(replies) {
                        self.cache.insert(now, q, r);
                    }
                }
            }
        }
        self.cache.best_effort(uri, ours, now, seed)
    }

    /// One lookup, errors folded into empty answers with a negative-caching TTL.
    pub async fn lookup(&self, q: &Query) -> Reply {
        match q {
            Query::Naptr(n) => Reply::Naptr(self.records(n, RecordType::NAPTR, naptr).await),
            Query::Srv(n) => Reply::Srv(self.records(n, RecordType::SRV, srv).await),
            Query::Addrs(n) => {
                let mut a = self.records(n, RecordType::A, addr).await;
                let b = self.records(n, RecordType::AAAA, addr).await;
                a.records.extend(b.records);
                a.ttl = a.ttl.min(b.ttl);
                Reply::Addrs(a)
            }
        }
    }

    async fn records<T>(
        &self,
        name: &str,
        rtype: RecordType,
        conv: fn(&Record) -> Option<T>,
    ) -> Answer<T> {
        // Fully qualified: SIP names are never completed with a search domain.
        let fqdn = if name.ends_with('.') {
            name.to_owned()
        } else {
            format!("{name}.")
        };
        match self.inner.lookup(fqdn.as_str(), rtype).await {
            Ok(l) => {
                let records: Vec<T> = l.record_iter().filter_map(conv).collect();
                let ttl = l
                    .record_iter()
                    .map(Record::ttl)
                    .min()
                    .map_or(NEGATIVE_TTL, |t| Duration::from_secs(u64::from(t)));
                Answer { records, ttl }
            }
            Err(e) => Answer::empty(negative_ttl(&e)),
        }
    }
}

fn negative_ttl(e: &ResolveError) -> Duration {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { negative_ttl, .. }) => negative_ttl
            .map(|t| Duration::from_secs(u64::from(t)))
            .unwrap_or(NEGATIVE_TTL),
        _ => FAILURE_TTL,
    }
}

fn naptr(r: &Record) -> Option<Naptr> {
    let RData::NAPTR(n) = r.data() else {
        return None;
    };
    // RFC 3263 §4.1 uses only terminal "S" records; "A" and "U" and regexps are not SIP's.
    if !n.flags().eq_ignore_ascii_case(b"s") {
        return None;
    }
    Some(Naptr {
        order: n.order(),
        preference: n.preference(),
        service: String::from_utf8_lossy(n.services()).into_owned(),
        replacement: n.replacement().to_ascii().trim_end_matches('.').to_owned(),
    })
}

fn srv(r: &Record) -> Option<Srv> {
    let RData::SRV(s) = r.data() else {
        return None;
    };
    let target = s.target().to_ascii();
    Some(Srv {
        priority: s.priority(),
        weight: s.weight(),
        port: s.port(),
        target: if target == "." {
            target
        } else {
            target.trim_end_matches('.').to_owned()
        },
    })
}

fn addr(r: &Record) -> Option<IpAddr> {
    match r.data() {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

/// Runs the lookups of one round side by side.
async fn futures_join<F: std::future::Future<Output = Reply>>(futs: Vec<F>) -> Vec<Reply> {
    let mut set = Vec::with_capacity(futs.len());
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<Reply>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => *slot = Some(r),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
