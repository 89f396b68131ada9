//! SIP transports (RFC 3261 §18) over UDP and TCP, IPv4 and IPv6.
//!
//! The rules are sans-IO and unit-tested:
//! - [`via_fixup`]: `received` and `rport` on incoming requests (§18.2.1, RFC 3581 §4).
//! - [`response_target`]: where a response goes when it cannot use the connection it came
//!   on (§18.2.2, RFC 3581 §4).
//! - [`choose_transport`]: TCP for requests over [`UDP_SIZE_LIMIT`] bytes (§18.1.1).
//! - [`StreamFramer`]: Content-Length framing on streams (§18.3) and CRLFCRLF keep-alive
//!   pings answered with CRLF (RFC 5626 §3.5.1, §4.4.1); [`KeepAlive`] times the pings.
//!
//! - [`resolve`]: RFC 3263 §4 server location (NAPTR → SRV → A/AAAA) into a
//!   [`TargetList`] with failover and TTL expiry, over a pluggable [`Resolver`];
//!   [`DnsCache`] is such a resolver over answers kept by TTL, and [`DnsResolver`] fills it
//!   from real DNS (hickory-resolver).
//!
//! [`SipTransport`] is the tokio shell that binds sockets, keeps one task per TCP
//! connection, reuses a connection to a peer, and hands received messages to the caller.
//! It presents an advertised external address (1:1 NAT) in Via and Contact when one is
//! configured ([`SipTransport::local_agent`]).

mod conn;
mod dns;
mod dns_client;
mod fixup;
mod framer;
mod keepalive;
mod resolve;
mod shell;

pub use dns::{DnsCache, Query, Reply, MAX_ROUNDS};
pub use dns_client::DnsResolver;
pub use fixup::{
    choose_transport, default_port, parse_via_token, response_target, set_via_transport, via_fixup,
    via_target, via_token, UDP_SIZE_LIMIT,
};
pub use framer::{StreamFramer, StreamItem, PING, PONG};
pub use keepalive::{KeepAlive, KeepAliveAction, KeepAliveConfig};
pub use resolve::{resolve, Answer, Naptr, Resolver, Srv, TargetList};
pub use shell::{Incoming, SipTransport, TransportConfig, TransportEvent, TransportStats};
