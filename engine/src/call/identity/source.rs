//! The real source of an INVITE: the packet's source, or, when the packet comes from a
//! trusted proxy (Kamailio's dispatcher in front of several nodes), the address that proxy
//! names in a header it adds.
//!
//! The header is believed only from a trusted proxy. Anyone else could write it, so from
//! any other source it is ignored (and reported, because it is either a misconfigured proxy
//! list or an attempt to get past the ACL). The proxy must set exactly one value: it should
//! remove any copy the client sent (`remove_hf` before `append_hf` in Kamailio), and a
//! request with two values is judged by the proxy's own address rather than by guessing
//! which value the proxy wrote.

use std::net::{IpAddr, SocketAddr};

use sip::msg::{HeaderName, Headers};

use crate::call::acl::PeerAcl;

/// Where an INVITE really comes from, and how we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallSource {
    /// Straight from the sender: the packet's source.
    Direct(IpAddr),
    /// From a trusted proxy that named the real source.
    Proxied {
        /// The proxy (the packet's source).
        proxy: IpAddr,
        /// The address it named.
        real: IpAddr,
    },
    /// From a trusted proxy without one usable header value: judged by the proxy's address.
    ProxyUnnamed {
        /// The proxy (the packet's source).
        proxy: IpAddr,
        /// What the header held when it was there but unusable (unparsable or repeated).
        bad_value: Option<String>,
    },
    /// Not from a trusted proxy, yet carrying the header: the header is ignored.
    Spoofed {
        /// The packet's source, which is what counts.
        packet: IpAddr,
        /// What the header claimed.
        claimed: String,
    },
}

impl CallSource {
    /// The address the ACL and identity trust judge.
    pub fn ip(&self) -> IpAddr {
        match self {
            CallSource::Direct(ip)
            | CallSource::Proxied { real: ip, .. }
            | CallSource::ProxyUnnamed { proxy: ip, .. }
            | CallSource::Spoofed { packet: ip, .. } => *ip,
        }
    }

    /// The trusted proxy the INVITE came through, if any.
    pub fn proxy(&self) -> Option<IpAddr> {
        match self {
            CallSource::Proxied { proxy, .. } | CallSource::ProxyUnnamed { proxy, .. } => {
                Some(*proxy)
            }
            CallSource::Direct(_) | CallSource::Spoofed { .. } => None,
        }
    }

    /// A line worth a warning: a spoofed header, or a trusted proxy sending a bad one.
    pub fn warning(&self, header: &str) -> Option<String> {
        match self {
            CallSource::Spoofed { packet, claimed } => Some(format!(
                "SIP INVITE from {packet}, not a trusted proxy, carries {header}: {claimed:?}; ignored"
            )),
            CallSource::ProxyUnnamed {
                proxy,
                bad_value: Some(v),
            } => Some(format!(
                "SIP INVITE from trusted proxy {proxy} has an unusable {header}: {v:?}; judged by the proxy's address"
            )),
            _ => None,
        }
    }
}

/// Decides where an INVITE received from `packet` really comes from.
///
/// `header` is the name of the header trusted proxies add (`X-Src-IP`, `X-Real-Source`);
/// `None` means proxies name no source, so their requests are judged by their own address.
pub fn resolve_source(
    packet: IpAddr,
    headers: &Headers,
    proxies: &PeerAcl,
    header: Option<&str>,
) -> CallSource {
    let values: Vec<&str> = match header {
        Some(h) => headers
            .get_all(&HeaderName::parse(h))
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect(),
        None => Vec::new(),
    };
    if !proxies.admits(packet) {
        if values.is_empty() {
            return CallSource::Direct(packet);
        }
        return CallSource::Spoofed {
            packet,
            claimed: values.join(", "),
        };
    }
    match values.as_slice() {
        [] => CallSource::ProxyUnnamed {
            proxy: packet,
            bad_value: None,
        },
        [one] => match parse_address(one) {
            Some(real) => CallSource::Proxied {
                proxy: packet,
                real,
            },
            None => CallSource::ProxyUnnamed {
                proxy: packet,
                bad_value: Some((*one).to_owned()),
            },
        },
        several => CallSource::ProxyUnnamed {
            proxy: packet,
            bad_value: Some(several.join(", ")),
        },
    }
}

/// `192.0.2.7`, `192.0.2.7:5060`, `2001:db8::7`, `[2001:db8::7]`, `[2001:db8::7]:5060`.
fn parse_address(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}
