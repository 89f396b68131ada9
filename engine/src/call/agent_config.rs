//! The agent's settings.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sip::dialog::SessionTimerConfig;
use sip::registrar::RegistrarConfig;

use super::acl::PeerAcl;
use super::dial::NameResolver;
use super::gateways::{GatewayProbing, ProbedGateway};
use super::limiter::RateLimit;
use super::media_load::OverloadGuard;
use super::registry::OutboundRegistration;

/// How the agent listens and whom it admits.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Listen address for UDP and TCP (port 0 picks one).
    pub listen: SocketAddr,
    /// Address for Via, Contact and SDP when it differs from the bound one (1:1 NAT).
    pub advertised: Option<IpAddr>,
    /// User-Agent and Server header value.
    pub user_agent: String,
    /// Peers allowed to call us (judged on the real source, see `trusted_proxies`).
    pub acl: PeerAcl,
    /// SIP proxies in front of us whose `real_source_header` names the real source of a
    /// call; never [`PeerAcl::any`], or anyone could name any source.
    pub trusted_proxies: PeerAcl,
    /// The header trusted proxies add with the real source (`X-Src-IP`); without it their
    /// calls are judged by the proxy's own address.
    pub real_source_header: Option<String>,
    /// Retry-After of the 503 sent while shutting down, in seconds.
    pub shutdown_retry_after: u32,
    /// INVITEs get 503 with Retry-After while the media clock is this late (`None`: never).
    pub overload: Option<OverloadGuard>,
    /// Session timers (RFC 4028) asked for and accepted.
    pub session_timer: SessionTimerConfig,
    /// Take REGISTERs from peers (and send their calls where they registered from).
    pub registrar: Option<RegistrarConfig>,
    /// Our own registrations to carriers or PBXes.
    pub registrations: Vec<OutboundRegistration>,
    /// OPTIONS keep-alive interval towards peers registered to us (keeps NAT pinholes open).
    pub keepalive: Duration,
    /// How calls to a SIP URI with a host name find their next hops (RFC 3263).
    pub resolver: NameResolver,
    /// Requests from sources outside `acl` and `trusted_proxies`, per source; beyond it
    /// they are dropped silently and counted ([`SipAgent::dropped_unknown`]).
    pub unknown_source_limit: RateLimit,
    /// Gateways to probe with OPTIONS (replace the list with [`SipAgent::set_gateways`]).
    pub gateways: Vec<ProbedGateway>,
    /// How gateways are probed.
    pub gateway_probing: GatewayProbing,
}

impl AgentConfig {
    /// Listens on `listen`, admits nobody until `acl` is set.
    pub fn new(listen: SocketAddr) -> Self {
        AgentConfig {
            listen,
            advertised: None,
            user_agent: format!("faxserver/{}", env!("CARGO_PKG_VERSION")),
            acl: PeerAcl::default(),
            trusted_proxies: PeerAcl::default(),
            real_source_header: None,
            shutdown_retry_after: 30,
            // Off for embedders and tests (whose clocks may run faster than real time);
            // the server turns it on.
            overload: None,
            session_timer: SessionTimerConfig::default(),
            registrar: None,
            registrations: Vec::new(),
            keepalive: Duration::from_secs(30),
            resolver: NameResolver::System,
            unknown_source_limit: RateLimit::default(),
            gateways: Vec::new(),
            gateway_probing: GatewayProbing::default(),
        }
    }
}
