//! Dialling by name: the next hops of an outgoing call's Request-URI found per RFC 3263
//! (NAPTR, SRV by priority and weight, A/AAAA) through sip's resolver, in the order the
//! dialog layer fails over in (timeout, transport error or 503 before ringing: next one).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use sip::msg::SipUri;
use sip::transaction::Transport;
use sip::transport::{resolve, DnsResolver, Resolver, TargetList};

/// The transports we dial over, in our order of preference.
const OURS: [Transport; 2] = [Transport::Udp, Transport::Tcp];

/// How the agent resolves the host of a SIP URI that is a name.
#[derive(Clone)]
pub enum NameResolver {
    /// The name servers of /etc/resolv.conf (read when the agent starts).
    System,
    /// A DNS resolver of our own choosing (its own servers and cache).
    Dns(Arc<tokio::sync::Mutex<DnsResolver>>),
    /// Fixed answers: a static host table, or a test's names for loopback targets.
    Static(Arc<Mutex<dyn Resolver + Send>>),
    /// No DNS: only URIs with an IP address can be dialled.
    None,
}

impl std::fmt::Debug for NameResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameResolver::System => "System",
            NameResolver::Dns(_) => "Dns",
            NameResolver::Static(_) => "Static",
            NameResolver::None => "None",
        })
    }
}

impl NameResolver {
    /// A resolver over fixed answers.
    pub fn fixed(r: impl Resolver + Send + 'static) -> Self {
        NameResolver::Static(Arc::new(Mutex::new(r)))
    }

    /// Turns `System` into a resolver over the system's name servers (or none when the
    /// system has no usable DNS configuration: IP URIs still work).
    pub(crate) fn ready(self) -> Self {
        match self {
            NameResolver::System => match DnsResolver::from_system() {
                Ok(r) => NameResolver::Dns(Arc::new(tokio::sync::Mutex::new(r))),
                Err(e) => {
                    tracing::warn!("no DNS for dialling by name: {e}");
                    NameResolver::None
                }
            },
            other => other,
        }
    }

    /// The targets of `uri` in failover order; empty when nothing resolves.
    pub(crate) async fn resolve(&self, uri: &SipUri, seed: u64) -> Vec<sip::transaction::Peer> {
        let list: TargetList = match self {
            NameResolver::Dns(r) => r.lock().await.resolve(uri, &OURS, seed).await,
            NameResolver::Static(r) => {
                let mut r = r.lock().unwrap_or_else(PoisonError::into_inner);
                resolve(&mut Dyn(&mut *r), uri, &OURS, Instant::now(), seed)
            }
            NameResolver::System | NameResolver::None => {
                let mut none = NoDns;
                resolve(&mut none, uri, &OURS, Instant::now(), seed)
            }
        };
        list.all().to_vec()
    }
}

/// A sized stand-in for a shared resolver (`resolve` takes a sized one).
struct Dyn<'a>(&'a mut (dyn Resolver + Send));

impl Resolver for Dyn<'_> {
    fn naptr(&mut self, domain: &str) -> sip::transport::Answer<sip::transport::Naptr> {
        self.0.naptr(domain)
    }
    fn srv(&mut self, name: &str) -> sip::transport::Answer<sip::transport::Srv> {
        self.0.srv(name)
    }
    fn addrs(&mut self, host: &str) -> sip::transport::Answer<std::net::IpAddr> {
        self.0.addrs(host)
    }
}

/// Answers nothing: numeric hosts still resolve (RFC 3263 needs no DNS for them).
struct NoDns;

impl Resolver for NoDns {
    fn naptr(&mut self, _: &str) -> sip::transport::Answer<sip::transport::Naptr> {
        sip::transport::Answer::empty(std::time::Duration::from_secs(60))
    }
    fn srv(&mut self, _: &str) -> sip::transport::Answer<sip::transport::Srv> {
        sip::transport::Answer::empty(std::time::Duration::from_secs(60))
    }
    fn addrs(&mut self, _: &str) -> sip::transport::Answer<std::net::IpAddr> {
        sip::transport::Answer::empty(std::time::Duration::from_secs(60))
    }
}
