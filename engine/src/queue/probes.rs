//! The gateways the SIP agent probes with OPTIONS, from the store's gateway list: each
//! gateway's URI and next hop. The queue's routing then skips gateways the prober marks down.

use std::net::{IpAddr, SocketAddr};

use sip::msg::Uri;
use sip::transaction::{Peer, Transport};
use store::Gateway;

use crate::call::ProbedGateway;

/// Probe targets for `gateways`, and a line for each gateway that cannot be probed (a bad
/// URI, or a name that does not resolve now; it is retried at the next reload).
pub async fn probe_targets(gateways: &[Gateway]) -> (Vec<ProbedGateway>, Vec<String>) {
    let mut targets = Vec::with_capacity(gateways.len());
    let mut skipped = Vec::new();
    for gw in gateways {
        match probe_target(gw).await {
            Ok(t) => targets.push(t),
            Err(e) => skipped.push(format!("gateway {}: not probed: {e}", gw.name)),
        }
    }
    (targets, skipped)
}

/// A gateway's URI split into what dialling and probing need.
pub(crate) struct GatewayAddress {
    /// The gateway's URI as configured.
    pub uri: Uri,
    /// Its transport setting.
    pub transport: Transport,
    /// The URI's port, or the transport's default.
    pub port: u16,
    /// The host without IPv6 brackets (an address or a name).
    pub host: String,
}

/// Parses a gateway's URI and transport.
pub(crate) fn gateway_address(gw: &Gateway) -> Result<GatewayAddress, String> {
    let uri = Uri::parse(gw.uri.trim()).map_err(|e| format!("bad URI {:?}: {e}", gw.uri))?;
    let sip = uri
        .as_sip()
        .ok_or_else(|| format!("{:?} is not a sip: URI", gw.uri))?;
    let transport = match gw.transport {
        store::Transport::Udp => Transport::Udp,
        store::Transport::Tcp => Transport::Tcp,
        store::Transport::Tls => Transport::Tls,
    };
    let port = sip.port.unwrap_or(if transport == Transport::Tls {
        5061
    } else {
        5060
    });
    let host = sip.host.canonical();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok(GatewayAddress {
        uri,
        transport,
        port,
        host,
    })
}

async fn probe_target(gw: &Gateway) -> Result<ProbedGateway, String> {
    let GatewayAddress {
        uri,
        transport,
        port,
        host,
    } = gateway_address(gw)?;
    let addr = match host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} has no address"))?,
    };
    Ok(ProbedGateway {
        name: gw.name.clone(),
        uri,
        peer: Peer { addr, transport },
    })
}
