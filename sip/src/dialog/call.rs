//! The state of one call and the message building every part of the dialog layer shares:
//! dialog identity, route set and CSeq (RFC 3261 §12), in-dialog requests (§12.2.1.1),
//! responses with our tag and capabilities, and SDP bodies.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::types::{
    DialogConfig, DialogEvent, DialogId, EndReason, LocalAgent, MediaConfig, ALLOW, MAX_FORWARDS,
    SUPPORTED,
};
use crate::auth::{AuthAttempt, DigestClient};
use crate::error::Result;
use crate::msg::{
    HeaderName, MediaType, Method, NameAddr, Request, Response, StatusCode, Uri, Via,
};
use crate::rng::Rng;
use crate::sdp::{Agreed, LocalSdp, OfferMedia, SessionDescription};
use crate::transaction::{Peer, TransactionId, TransactionLayer, Transport};

/// Which side of the initial INVITE we were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Uac,
    Uas,
}

/// Where the call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// INVITE sent or received, no dialog yet.
    Calling,
    /// An early dialog exists (18x with a tag).
    Early,
    /// A 2xx was sent or received.
    Confirmed,
    /// Terminated was reported; kept a while to re-ACK late 2xx.
    Ended,
}

/// What a client or server transaction of ours is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Invite,
    Cancel,
    Prack,
    Bye,
    ForkBye,
    Reinvite,
    Update,
    ServerInvite,
    ServerReinvite,
}

/// One side of a dialog as seen from us: the far end's tag, target and our route set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leg {
    pub(crate) remote_tag: String,
    pub(crate) target: Uri,
    pub(crate) routes: Vec<NameAddr>,
}

impl Leg {
    /// The leg a UAC learns from a response (RFC 3261 §12.1.2): To tag, Contact, and
    /// Record-Route reversed.
    pub(crate) fn from_response(resp: &Response, fallback: &Uri) -> Leg {
        let h = &resp.headers;
        let mut routes = h.record_routes().unwrap_or_default();
        routes.reverse();
        Leg {
            remote_tag: h
                .to()
                .ok()
                .and_then(|t| t.tag().map(str::to_owned))
                .unwrap_or_default(),
            target: contact_uri(&h.contacts().unwrap_or_default())
                .unwrap_or_else(|| fallback.clone()),
            routes,
        }
    }
}

/// The first Contact address, if any.
pub(crate) fn contact_uri(contacts: &[crate::msg::Contact]) -> Option<Uri> {
    contacts
        .iter()
        .find_map(|c| c.address().map(|a| a.uri.clone()))
}

/// The media state of a call.
#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub(crate) cfg: Option<MediaConfig>,
    pub(crate) sdp: LocalSdp,
    /// The SDP we last sent in a completed offer/answer.
    pub(crate) local: Option<SessionDescription>,
    /// The SDP the far end last sent in a completed offer/answer.
    pub(crate) remote: Option<SessionDescription>,
    pub(crate) agreed: Option<Agreed>,
}

/// What we ask for in an offer of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OfferKind {
    /// New media chosen by the application.
    Media(OfferMedia),
    /// A session refresh (RFC 4028) with unchanged SDP, or none for UPDATE.
    Refresh,
}

/// Our initial INVITE.
#[derive(Debug, Clone)]
pub(crate) struct UacInvite {
    pub(crate) tx: TransactionId,
    pub(crate) request: Request,
    pub(crate) offer: Option<SessionDescription>,
    pub(crate) redirects: u8,
    pub(crate) attempt: AuthAttempt,
    pub(crate) se_retries: u8,
    pub(crate) provisional: bool,
    pub(crate) cancel: CancelState,
    pub(crate) confirmed_tag: Option<String>,
    /// The ACK sent for each 2xx, by To tag, to repeat when the 2xx is retransmitted.
    pub(crate) acks: HashMap<String, Request>,
    /// The last RSeq PRACKed, by To tag.
    pub(crate) rseq: HashMap<String, u32>,
    pub(crate) early_answer: Option<SessionDescription>,
    pub(crate) done: bool,
    /// Next hops still to try, in order, on a timeout or 503 (RFC 3263 §4.3).
    pub(crate) alternates: Vec<Peer>,
}

/// Whether the application asked to cancel our INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelState {
    None,
    /// Asked before any provisional response: sent when one arrives (RFC 3261 §9.1).
    Pending,
    Sent,
}

/// A reliable provisional response waiting for its PRACK (RFC 3262 §3).
#[derive(Debug, Clone)]
pub(crate) struct Reliable {
    pub(crate) response: Response,
    pub(crate) rseq: u32,
    pub(crate) next: Instant,
    pub(crate) interval: Duration,
    pub(crate) deadline: Instant,
}

/// The INVITE that created the call, as UAS.
#[derive(Debug, Clone)]
pub(crate) struct UasInvite {
    pub(crate) tx: TransactionId,
    pub(crate) request: Request,
    pub(crate) offer: Option<SessionDescription>,
    /// The caller requires 100rel, or supports it and we prefer it.
    pub(crate) reliable: bool,
    pub(crate) rel: Option<Reliable>,
    pub(crate) next_rseq: u32,
    pub(crate) final_sent: bool,
}

/// A re-INVITE or UPDATE of ours in flight.
#[derive(Debug, Clone)]
pub(crate) struct OutOffer {
    pub(crate) tx: TransactionId,
    pub(crate) kind: OfferKind,
    pub(crate) offer: Option<SessionDescription>,
    pub(crate) request: Request,
    pub(crate) attempt: AuthAttempt,
    pub(crate) se_retries: u8,
}

/// A re-INVITE or UPDATE of theirs whose offer waits for the application.
#[derive(Debug, Clone)]
pub(crate) struct InOffer {
    pub(crate) tx: TransactionId,
    pub(crate) offer: SessionDescription,
    pub(crate) request: Request,
}

/// A 2xx of ours to an INVITE that waits for its ACK.
#[derive(Debug, Clone)]
pub(crate) struct WaitAck {
    pub(crate) tx: TransactionId,
    pub(crate) cseq: u32,
    /// The offer we put in the 2xx (delayed offer, SDP-less re-INVITE): the ACK answers it.
    pub(crate) offered: Option<SessionDescription>,
    pub(crate) initial: bool,
}

/// RFC 4028 state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionTimer {
    pub(crate) interval: u32,
    pub(crate) we_refresh: bool,
    pub(crate) refresh_at: Option<Instant>,
    pub(crate) expires_at: Instant,
}

/// One call: its dialog, its offer/answer state and the transactions in flight.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) id: DialogId,
    pub(crate) role: Role,
    pub(crate) peer: Peer,
    pub(crate) call_id: String,
    pub(crate) local_tag: String,
    pub(crate) local: NameAddr,
    pub(crate) remote: NameAddr,
    pub(crate) leg: Leg,
    pub(crate) local_cseq: u32,
    pub(crate) remote_cseq: Option<u32>,
    pub(crate) phase: Phase,
    pub(crate) media: Media,
    pub(crate) auth: Option<DigestClient>,
    pub(crate) peer_allows_update: bool,
    pub(crate) peer_supports_timer: bool,
    pub(crate) uac: Option<UacInvite>,
    pub(crate) uas: Option<UasInvite>,
    pub(crate) out_offer: Option<OutOffer>,
    pub(crate) in_offer: Option<InOffer>,
    pub(crate) wait_ack: Option<WaitAck>,
    pub(crate) last_ack: Option<(u32, Request)>,
    pub(crate) glare: Option<(Instant, OfferKind)>,
    pub(crate) timer: Option<SessionTimer>,
    pub(crate) bye: Option<(Request, AuthAttempt)>,
    pub(crate) ended_at: Option<Instant>,
}

/// What the handlers of a call need from the layer.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) cfg: &'a DialogConfig,
    pub(crate) tl: &'a mut TransactionLayer,
    pub(crate) rng: &'a mut Rng,
    pub(crate) events: &'a mut VecDeque<DialogEvent>,
    pub(crate) txs: &'a mut HashMap<TransactionId, (DialogId, Purpose)>,
}

impl Ctx<'_> {
    /// Starts a client transaction for a request of call `id`.
    pub(crate) fn send(
        &mut self,
        id: DialogId,
        purpose: Purpose,
        req: Request,
        peer: Peer,
    ) -> Result<TransactionId> {
        let tx = self.tl.send_request(self.now, req, peer)?;
        self.txs.insert(tx, (id, purpose));
        Ok(tx)
    }

    /// Sends a response in a server transaction; a transaction that is already gone (the
    /// far end gave up) is not an error for the call.
    pub(crate) fn respond(&mut self, tx: TransactionId, resp: Response) {
        let _ = self.tl.send_response(self.now, tx, resp);
    }

    /// Queues an event for the application.
    pub(crate) fn event(&mut self, e: DialogEvent) {
        self.events.push_back(e);
    }

    /// A Via value for a request of ours, with a fresh branch and `rport` (RFC 3581).
    pub(crate) fn via(&mut self, transport: Transport) -> String {
        via_value(&self.cfg.agent, transport, &self.tl.new_branch())
    }
}

/// `now + d`, saturating a century ahead: intervals come from the network (Session-Expires,
/// Retry-After) and must not overflow an `Instant`.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// `SIP/2.0/<transport> host[:port];branch=…;rport`.
pub(crate) fn via_value(agent: &LocalAgent, transport: Transport, branch: &str) -> String {
    let t = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
        Transport::Tls => "TLS",
    };
    let mut via = Via::new(t, agent.host.clone(), agent.port, branch);
    via.params.set("rport", None);
    via.to_string()
}

/// `addr;tag=<tag>`.
pub(crate) fn with_tag(addr: &NameAddr, tag: &str) -> String {
    let mut a = addr.clone();
    if !tag.is_empty() {
        a.params.set("tag", Some(tag));
    }
    a.to_string()
}

/// The SDP in a message body: `application/sdp`, or the SDP part of a `multipart/mixed`
/// body as SIP-I carriers send. `None` when there is no body; `Some(Err)` when there is
/// one that is not usable SDP.
pub(crate) fn sdp_of(
    headers: &crate::msg::Headers,
    body: &[u8],
) -> Option<std::result::Result<SessionDescription, ()>> {
    if body.is_empty() {
        return None;
    }
    let ct = headers.content_type().ok().flatten();
    let essence = ct.as_ref().map(MediaType::essence).unwrap_or_default();
    if essence == "application/sdp" {
        return Some(SessionDescription::parse(body).map_err(|_| ()));
    }
    if essence == "multipart/mixed" {
        let boundary = ct
            .as_ref()
            .and_then(|m| m.params.get("boundary"))
            .map(|b| b.trim_matches('"').to_owned())?;
        let text = String::from_utf8_lossy(body);
        let delim = format!("--{boundary}");
        for part in text.split(delim.as_str()) {
            let Some((head, content)) = part
                .split_once("\r\n\r\n")
                .or_else(|| part.split_once("\n\n"))
            else {
                continue;
            };
            if head.to_ascii_lowercase().contains("application/sdp") {
                let content = content.trim_end_matches(['\r', '\n']);
                return Some(SessionDescription::parse(content.as_bytes()).map_err(|_| ()));
            }
        }
        return Some(Err(()));
    }
    Some(Err(()))
}

/// True when two descriptions are the same session version: the far end did not change
/// anything (RFC 3264 §8: an unchanged `o=` version means unchanged SDP).
pub(crate) fn same_version(a: &SessionDescription, b: &SessionDescription) -> bool {
    a.origin.session_id == b.origin.session_id
        && a.origin.session_version == b.origin.session_version
        && a.origin.username == b.origin.username
}

/// Sets an SDP body.
pub(crate) fn set_sdp(
    headers: &mut crate::msg::Headers,
    body: &mut Vec<u8>,
    sdp: &SessionDescription,
) {
    headers.set(HeaderName::ContentType, "application/sdp");
    *body = sdp.to_bytes();
}

impl Call {
    /// True when we own the Call-ID (we sent the initial INVITE): the long glare back-off.
    pub(crate) fn owns_call_id(&self) -> bool {
        self.role == Role::Uac
    }

    /// Builds a request in this call's dialog (RFC 3261 §12.2.1.1) on `leg`, with `cseq`.
    pub(crate) fn build_on(
        &self,
        cx: &mut Ctx<'_>,
        method: Method,
        cseq: u32,
        leg: &Leg,
    ) -> Request {
        let loose = |n: &NameAddr| n.uri.as_sip().is_some_and(|u| u.params.contains("lr"));
        let (uri, routes): (Uri, Vec<String>) = match leg.routes.first() {
            // A strict router wants itself as the Request-URI and the target as the last
            // Route (RFC 3261 §12.2.1.1).
            Some(first) if !loose(first) => {
                let mut r: Vec<String> = leg.routes.iter().skip(1).map(|n| n.to_string()).collect();
                r.push(format!("<{}>", leg.target));
                (first.uri.clone(), r)
            }
            _ => (
                leg.target.clone(),
                leg.routes.iter().map(|n| n.to_string()).collect(),
            ),
        };
        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        h.push(HeaderName::Via, cx.via(self.peer.transport));
        h.push(HeaderName::MaxForwards, MAX_FORWARDS);
        h.push(HeaderName::From, with_tag(&self.local, &self.local_tag));
        h.push(HeaderName::To, with_tag(&self.remote, &leg.remote_tag));
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(HeaderName::CSeq, format!("{cseq} {method}"));
        for r in routes {
            h.push(HeaderName::Route, r);
        }
        if matches!(method, Method::Invite | Method::Update) {
            h.push(HeaderName::Contact, format!("<{}>", cx.cfg.agent.contact));
        }
        if !matches!(method, Method::Ack | Method::Cancel) {
            h.push(HeaderName::Allow, ALLOW);
            h.push(HeaderName::Supported, SUPPORTED);
        }
        h.push(HeaderName::UserAgent, cx.cfg.agent.user_agent.clone());
        req
    }

    /// A new request in the confirmed (or early) dialog with the next CSeq.
    pub(crate) fn new_request(&mut self, cx: &mut Ctx<'_>, method: Method) -> Request {
        self.local_cseq = self.local_cseq.wrapping_add(1);
        let leg = self.leg.clone();
        let mut req = self.build_on(cx, method, self.local_cseq, &leg);
        if let Some(a) = &mut self.auth {
            if a.has_credentials() {
                a.authorize(&mut req);
            }
        }
        req
    }

    /// `old` again as a new transaction: next CSeq, new branch, fresh credentials (RFC 3261
    /// §22.2 for challenges; §8.1.3.4 for redirects, whose caller changes the URI).
    pub(crate) fn resend_of(&mut self, cx: &mut Ctx<'_>, old: &Request) -> Request {
        self.local_cseq = self.local_cseq.wrapping_add(1);
        let mut req = old.clone();
        req.headers
            .replace_first(&HeaderName::Via, cx.via(self.peer.transport));
        req.headers.set(
            HeaderName::CSeq,
            format!("{} {}", self.local_cseq, old.method),
        );
        if let Some(a) = &mut self.auth {
            a.authorize(&mut req);
        }
        req
    }

    /// A response of ours to `req`: our tag, Server, and for 1xx/2xx to INVITE, UPDATE and
    /// OPTIONS our Contact and capabilities.
    pub(crate) fn response(&self, cx: &Ctx<'_>, req: &Request, code: StatusCode) -> Response {
        let mut resp = Response::for_request(req, code);
        resp.set_to_tag(&self.local_tag);
        decorate(&mut resp, &cx.cfg.agent, &req.method);
        resp
    }

    /// The ACK for a 2xx to our INVITE with CSeq `cseq` on `leg` (RFC 3261 §13.2.2.4): a new
    /// transaction branch, the INVITE's CSeq number and its credentials.
    pub(crate) fn ack_for(&self, cx: &mut Ctx<'_>, invite: &Request, leg: &Leg) -> Request {
        let cseq = invite
            .headers
            .cseq()
            .map(|c| c.seq)
            .unwrap_or(self.local_cseq);
        let mut ack = self.build_on(cx, Method::Ack, cseq, leg);
        for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
            for v in invite.headers.get_all(&name) {
                ack.headers.push(name.clone(), v);
            }
        }
        ack
    }

    /// Reports the end of the call once, and stops its timers.
    pub(crate) fn end(&mut self, cx: &mut Ctx<'_>, reason: EndReason) {
        if self.phase == Phase::Ended {
            return;
        }
        self.phase = Phase::Ended;
        self.ended_at = Some(cx.now);
        self.timer = None;
        self.glare = None;
        if let Some(u) = &mut self.uas {
            u.rel = None;
        }
        cx.event(DialogEvent::Terminated {
            id: self.id,
            reason,
        });
    }

    /// Sends BYE in the dialog and ends the call with `reason`.
    pub(crate) fn hang_up(&mut self, cx: &mut Ctx<'_>, reason: EndReason) {
        if self.phase == Phase::Ended {
            return;
        }
        let req = self.new_request(cx, Method::Bye);
        if cx
            .send(self.id, Purpose::Bye, req.clone(), self.peer)
            .is_ok()
        {
            self.bye = Some((req, AuthAttempt::default()));
        }
        self.end(cx, reason);
    }
}

/// Adds Server, and for 1xx/2xx to INVITE, UPDATE and OPTIONS (and 405) what a peer needs
/// to know about us: Contact, Allow, Supported, Accept.
pub(crate) fn decorate(resp: &mut Response, agent: &LocalAgent, method: &Method) {
    let code = resp.status.as_u16();
    let h = &mut resp.headers;
    h.push(HeaderName::Server, agent.user_agent.clone());
    let capable = code < 300 && matches!(method, Method::Invite | Method::Update | Method::Options);
    if capable && code > 100 && !matches!(method, Method::Options) {
        h.push(HeaderName::Contact, format!("<{}>", agent.contact));
    }
    if capable || code == 405 {
        if !h.contains(&HeaderName::Allow) {
            h.push(HeaderName::Allow, ALLOW);
        }
        h.push(HeaderName::Supported, SUPPORTED);
    }
    if capable && matches!(method, Method::Options) {
        h.push(HeaderName::Accept, "application/sdp");
    }
}
