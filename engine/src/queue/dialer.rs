//! How the queue places a call: a [`Dialer`] turns a gateway, two numbers and a TIFF into a
//! [`CallReport`]. [`SipDialer`] does it over SIP with the engine's call task; tests put a
//! scripted dialer in its place to drive the queue without a network.
//!
//! The call goes to `sip:<callee>@<gateway host:port>` with the caller in From. The
//! per-gateway identity rules (number formats, P-Asserted-Identity) are another part of the
//! engine (`call::GatewayIdentity`) and are not applied here yet.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use async_trait::async_trait;
use sip::auth::Credentials;
use sip::msg::{NameAddr, SipUri, Uri};
use sip::transaction::{Peer, Transport};
use store::Gateway;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

use super::probes::{gateway_address, GatewayAddress};
use crate::call::{
    run_outgoing, CallReport, FaxDirection, FaxJob, FaxOptions, MediaSettings, OutgoingCall,
    Progress, SipAgent,
};

/// One call the queue wants placed.
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// Where to.
    pub gateway: Gateway,
    /// The calling number (From).
    pub caller: String,
    /// The called number (Request-URI user).
    pub callee: String,
    /// The whole TIFF-F document.
    pub tiff: PathBuf,
    /// The first page still to send, from 1; the header line keeps the document's numbers.
    pub first_page: u32,
    /// T.38, T.30 and timers for this attempt.
    pub options: FaxOptions,
    /// Becomes `true` when the call must end (shutdown past its grace time, lost lease).
    pub cancel: watch::Receiver<bool>,
}

/// Places fax calls for the queue.
#[async_trait]
pub trait Dialer: Send + Sync {
    /// Places the call and sends the document; reports progress as it goes.
    async fn dial(&self, req: DialRequest, progress: UnboundedSender<Progress>) -> CallReport;

    /// True when the gateway is known to be down (it stopped answering OPTIONS probes);
    /// routing skips it until it answers again.
    fn is_down(&self, _gateway: &str) -> bool {
        false
    }
}

/// An empty report: for a dialer that gives up before a call is placed, and for dialers
/// outside the engine (scripted ones in tests) that fill in what their call did.
pub fn empty_report(direction: FaxDirection) -> CallReport {
    CallReport::new(direction)
}

/// Dials over SIP with the engine's user agent.
#[derive(Debug, Clone)]
pub struct SipDialer {
    agent: SipAgent,
    media: MediaSettings,
    from_host: Option<IpAddr>,
}

impl SipDialer {
    /// Dials through `agent`; `from_host` is the address in our From URI (by default, the
    /// local address that routes to the gateway).
    pub fn new(agent: SipAgent, media: MediaSettings, from_host: Option<IpAddr>) -> Self {
        SipDialer {
            agent,
            media,
            from_host,
        }
    }
}

#[async_trait]
impl Dialer for SipDialer {
    fn is_down(&self, gateway: &str) -> bool {
        self.agent.gateway_up(gateway) == Some(false)
    }

    async fn dial(&self, req: DialRequest, progress: UnboundedSender<Progress>) -> CallReport {
        let call = match outgoing_call(&req, self.from_host).await {
            Ok(c) => c,
            Err(e) => {
                let mut report = empty_report(FaxDirection::Send);
                report.failure = Some(format!("gateway {}: {e}", req.gateway.name));
                return report;
            }
        };
        let job = FaxJob {
            direction: spandsp::Direction::Send {
                tiff: req.tiff,
                first_page: req.first_page,
            },
            options: req.options,
            cancel: Some(req.cancel),
        };
        run_outgoing(&self.agent, call, job, &self.media, Some(progress)).await
    }
}

/// Builds the call to the gateway: its URI with the callee as user, resolved to an address.
pub async fn outgoing_call(
    req: &DialRequest,
    from_host: Option<IpAddr>,
) -> Result<OutgoingCall, String> {
    let gw = &req.gateway;
    let GatewayAddress {
        uri,
        transport,
        port,
        host: bare,
    } = gateway_address(gw)?;
    let sip = uri
        .as_sip()
        .ok_or_else(|| format!("{:?} is not a sip: URI", gw.uri))?;
    // An address is dialled as it is. A name is left unresolved (an unspecified next hop):
    // the agent resolves it per RFC 3263 (NAPTR, SRV, A/AAAA) when the call is placed and
    // fails over to the next target on a timeout or 503.
    // The RFC 3263 resolver picks transports from DNS and the URI alone, so a gateway set
    // to TCP or TLS keeps a plain address lookup over its own transport.
    let (addr, towards) = match bare.parse::<IpAddr>() {
        Ok(ip) => (SocketAddr::new(ip, port), Some(SocketAddr::new(ip, port))),
        Err(_) if transport != Transport::Udp => {
            let a = tokio::net::lookup_host((bare.as_str(), port))
                .await
                .map_err(|e| format!("cannot resolve {bare}: {e}"))?
                .next()
                .ok_or_else(|| format!("{bare} has no address"))?;
            (a, Some(a))
        }
        Err(_) => (
            SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
            tokio::net::lookup_host((bare.as_str(), port))
                .await
                .ok()
                .and_then(|mut a| a.next()),
        ),
    };
    let mut target = SipUri::new(Some(&req.callee), sip.host.clone());
    target.port = sip.port;
    target.secure = sip.secure;
    let from_ip = match (from_host, towards) {
        (Some(ip), _) if !ip.is_unspecified() => ip,
        (_, Some(peer)) => local_ip_towards(peer).await,
        // Unresolvable here: the call will fail in dialling with the resolver's reason.
        _ => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    };
    let user = if req.caller.is_empty() {
        "faxserver"
    } else {
        &req.caller
    };
    let from_text = match from_ip {
        IpAddr::V4(ip) => format!("<sip:{user}@{ip}>"),
        IpAddr::V6(ip) => format!("<sip:{user}@[{ip}]>"),
    };
    let from = NameAddr::parse(&from_text).map_err(|e| format!("caller {user:?}: {e}"))?;
    let target = Uri::Sip(target);
    let to = NameAddr::parse(&format!("<{target}>")).map_err(|e| format!("callee: {e}"))?;
    let credentials = match (&gw.username, &gw.password) {
        (Some(u), Some(p)) if !u.is_empty() => Some(Credentials::new(u.clone(), p.clone())),
        _ => None,
    };
    Ok(OutgoingCall {
        target,
        from,
        to,
        peer: Peer { addr, transport },
        credentials,
        headers: Vec::new(),
    })
}

/// The local address the system would use to reach `peer` (no packet is sent).
async fn local_ip_towards(peer: SocketAddr) -> IpAddr {
    let any: SocketAddr = if peer.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let found = async {
        let s = tokio::net::UdpSocket::bind(any).await.ok()?;
        s.connect(peer).await.ok()?;
        s.local_addr().ok().map(|a| a.ip())
    };
    found.await.unwrap_or(any.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{GatewayId, Transport as T};

    fn request(uri: &str, transport: T) -> DialRequest {
        let (_tx, cancel) = watch::channel(false);
        DialRequest {
            gateway: Gateway {
                id: GatewayId(1),
                name: "carrier".into(),
                uri: uri.into(),
                transport,
                username: Some("user".into()),
                password: Some("secret".into()),
                register: false,
                allowed_sources: vec![],
                tenant_id: None,
                debug_pcap: false,
                t38_allowed: true,
            },
            caller: "+15551230001".into(),
            callee: "+15551230002".into(),
            tiff: PathBuf::from("/nonexistent.tif"),
            first_page: 1,
            options: FaxOptions::default(),
            cancel,
        }
    }

    #[tokio::test]
    async fn calls_go_to_the_gateway_with_the_callee_as_user() {
        let call = outgoing_call(&request("sip:127.0.0.1:5080", T::Udp), None)
            .await
            .unwrap();
        assert_eq!(call.peer.addr, "127.0.0.1:5080".parse().unwrap());
        assert_eq!(call.peer.transport, Transport::Udp);
        let target = call.target.to_string();
        assert!(target.contains("15551230002@127.0.0.1:5080"), "{target}");
        assert!(
            call.from.to_string().contains("15551230001@127.0.0.1"),
            "{}",
            call.from
        );
        assert!(call.credentials.is_some());

        let tcp = outgoing_call(
            &request("sip:gw@[::1]", T::Tcp),
            Some("::1".parse().unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(tcp.peer.addr, "[::1]:5060".parse().unwrap());
        assert_eq!(tcp.peer.transport, Transport::Tcp);

        for bad in ["http://example.com", "not a uri", "sip:"] {
            assert!(
                outgoing_call(&request(bad, T::Udp), None).await.is_err(),
                "{bad}"
            );
        }
    }
}
