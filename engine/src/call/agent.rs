//! The SIP user agent of the engine: one task owns the transport, the transaction layer
//! and the dialog layer, and hands each call its own stream of events.
//!
//! Calls talk to it through a [`CallHandle`]; new incoming calls from admitted peers arrive
//! as [`IncomingCall`]s. Sources outside the [`PeerAcl`] get 403 before any media is opened,
//! and a line fail2ban can match is logged. Behind a trusted proxy the source judged is the
//! one the proxy names in its header (see [`resolve_source`]); that header from anyone else
//! is ignored. While shutting down, new INVITEs get 503 with Retry-After so that a proxy in
//! front fails over.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip::dialog::{
    CallParams, DialogConfig, DialogEvent, DialogId, DialogLayer, MediaConfig, SessionTimerConfig,
};
use sip::msg::{HeaderName, Method, Request, Response, StatusCode};
use sip::sdp::{OfferMedia, Policy, SessionDescription};
use sip::transaction::{Peer, TimerConfig, TransactionEvent, TransactionLayer, Transport};
use sip::transport::{SipTransport, TransportConfig};
use tokio::sync::{mpsc, oneshot};

use super::acl::PeerAcl;
use super::identity::resolve_source;
use super::registry::{OutboundRegistration, RegistrationState, Registry};
use super::CallError as Error;
use sip::msg::Uri;
use sip::registrar::RegistrarConfig;

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
    /// Session timers (RFC 4028) asked for and accepted.
    pub session_timer: SessionTimerConfig,
    /// Take REGISTERs from peers (and send their calls where they registered from).
    pub registrar: Option<RegistrarConfig>,
    /// Our own registrations to carriers or PBXes.
    pub registrations: Vec<OutboundRegistration>,
    /// OPTIONS keep-alive interval towards peers registered to us (keeps NAT pinholes open).
    pub keepalive: Duration,
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
            session_timer: SessionTimerConfig::default(),
            registrar: None,
            registrations: Vec::new(),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// What a call learns from the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// A dialog event of this call.
    Dialog(Box<DialogEvent>),
    /// The final response to our INVITE, with what it says about retrying.
    FinalResponse {
        /// Its status.
        status: u16,
        /// Retry-After, in seconds.
        retry_after: Option<u32>,
        /// Values of its `Reason` headers (RFC 3326).
        reasons: Vec<String>,
        /// Warn-codes of its `Warning` headers.
        warnings: Vec<u16>,
    },
    /// The far end's BYE or CANCEL carried these `Reason` header values.
    RemoteReason {
        /// The values.
        reasons: Vec<String>,
    },
}

enum Cmd {
    Invite(
        Box<CallParams>,
        CallSink,
        oneshot::Sender<sip::Result<(DialogId, String)>>,
    ),
    Ring(DialogId),
    Accept(DialogId, Box<MediaConfig>),
    Reject(DialogId, u16),
    Bye(DialogId),
    Reinvite(DialogId, OfferMedia),
    AcceptOffer(DialogId, Option<Policy>),
    RejectOffer(DialogId, u16),
    Drop(DialogId),
    Targets(Box<Uri>, oneshot::Sender<Vec<(Uri, Peer)>>),
    Registrations(oneshot::Sender<Vec<RegistrationState>>),
}

type CallSink = mpsc::UnboundedSender<CallEvent>;

/// A handle on the running agent; cheap to clone.
#[derive(Debug, Clone)]
pub struct SipAgent {
    cmd: mpsc::UnboundedSender<Cmd>,
    udp: SocketAddr,
    shutting_down: Arc<AtomicBool>,
}

/// A call offered to us by an admitted peer; answer it with
/// [`run_incoming`](super::run_incoming) or refuse it.
#[derive(Debug)]
pub struct IncomingCall {
    /// The INVITE.
    pub request: Box<Request>,
    /// Where it came from.
    pub peer: Peer,
    /// The real source the ACL admitted: the packet's source, or the one a trusted proxy
    /// named.
    pub source: IpAddr,
    /// The trusted proxy it came through, if any.
    pub proxy: Option<IpAddr>,
    /// Its SDP offer, if it had one.
    pub offer: Option<SessionDescription>,
    /// The call's handle.
    pub handle: CallHandle,
}

/// One call's end of the agent: commands out, events in.
#[derive(Debug)]
pub struct CallHandle {
    id: DialogId,
    call_id: String,
    cmd: mpsc::UnboundedSender<Cmd>,
    events: mpsc::UnboundedReceiver<CallEvent>,
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        let _ = self.cmd.send(Cmd::Drop(self.id));
    }
}

impl CallHandle {
    /// The SIP Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The next event; `None` when the agent has stopped.
    pub async fn next(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    /// Sends 180 Ringing.
    pub fn ring(&self) {
        let _ = self.cmd.send(Cmd::Ring(self.id));
    }

    /// Answers with 200 OK and `media`.
    pub fn accept(&self, media: MediaConfig) {
        let _ = self.cmd.send(Cmd::Accept(self.id, Box::new(media)));
    }

    /// Refuses the call with `status`.
    pub fn reject(&self, status: u16) {
        let _ = self.cmd.send(Cmd::Reject(self.id, status));
    }

    /// Hangs up (CANCEL while unanswered).
    pub fn bye(&self) {
        let _ = self.cmd.send(Cmd::Bye(self.id));
    }

    /// Offers new media in a re-INVITE.
    pub fn reinvite(&self, what: OfferMedia) {
        let _ = self.cmd.send(Cmd::Reinvite(self.id, what));
    }

    /// Answers the far end's re-INVITE offer.
    pub fn accept_offer(&self, policy: Option<Policy>) {
        let _ = self.cmd.send(Cmd::AcceptOffer(self.id, policy));
    }

    /// Refuses the far end's re-INVITE offer; the call keeps its media.
    pub fn reject_offer(&self, status: u16) {
        let _ = self.cmd.send(Cmd::RejectOffer(self.id, status));
    }
}

impl SipAgent {
    /// Binds the transport and starts the agent; incoming calls arrive on the receiver.
    pub async fn start(
        cfg: AgentConfig,
    ) -> Result<(SipAgent, mpsc::Receiver<IncomingCall>), Error> {
        let mut tcfg = TransportConfig::udp_and_tcp(cfg.listen);
        tcfg.advertised = cfg.advertised;
        let transport = SipTransport::bind(tcfg).await.map_err(Error::Sip)?;
        let v6 = cfg.listen.is_ipv6();
        let udp = transport
            .local_addr(Transport::Udp, v6)
            .ok_or(Error::Setup("no UDP socket bound"))?;
        let agent = transport
            .local_agent("fax", Transport::Udp, v6, &cfg.user_agent)
            .ok_or(Error::Setup("no UDP socket bound"))?;
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming) = mpsc::channel(64);
        let shutting_down = Arc::new(AtomicBool::new(false));
        let seed = seed();
        let registry = Registry::new(
            cfg.registrar.clone(),
            &cfg.registrations,
            &agent,
            cfg.keepalive,
            seed.rotate_left(5),
        );
        let task = AgentTask {
            registry,
            tl: TransactionLayer::new(TimerConfig::default(), seed),
            dl: DialogLayer::new(
                DialogConfig {
                    session_timer: cfg.session_timer,
                    ..DialogConfig::new(agent)
                },
                seed.rotate_left(17),
            ),
            routes: HashMap::new(),
            by_call_id: HashMap::new(),
            cfg,
            cmd: cmd.clone(),
            incoming: incoming_tx,
            shutting_down: shutting_down.clone(),
        };
        tokio::spawn(task.run(transport, cmd_rx));
        Ok((
            SipAgent {
                cmd,
                udp,
                shutting_down,
            },
            incoming,
        ))
    }

    /// Our UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.udp
    }

    /// Places a call; the INVITE is on its way when this returns.
    pub async fn invite(&self, params: CallParams) -> Result<CallHandle, Error> {
        let (sink, events) = mpsc::unbounded_channel();
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Invite(Box::new(params), sink, tx))
            .map_err(|_| Error::AgentStopped)?;
        let (id, call_id) = rx
            .await
            .map_err(|_| Error::AgentStopped)?
            .map_err(Error::Sip)?;
        Ok(CallHandle {
            id,
            call_id,
            cmd: self.cmd.clone(),
            events,
        })
    }

    /// Where a peer registered to us as `aor` can be reached: its contacts and the addresses
    /// their REGISTERs came from (the NAT binding), newest first.
    pub async fn registered_targets(&self, aor: &Uri) -> Vec<(Uri, Peer)> {
        let (tx, rx) = oneshot::channel();
        if self
            .cmd
            .send(Cmd::Targets(Box::new(aor.clone()), tx))
            .is_err()
        {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The state of each of our own registrations.
    pub async fn registrations(&self) -> Vec<RegistrationState> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Cmd::Registrations(tx)).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Stops taking new calls: INVITEs get 503 with Retry-After from now on.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
}

struct AgentTask {
    registry: Registry,
    tl: TransactionLayer,
    dl: DialogLayer,
    routes: HashMap<DialogId, CallSink>,
    by_call_id: HashMap<String, DialogId>,
    cfg: AgentConfig,
    cmd: mpsc::UnboundedSender<Cmd>,
    incoming: mpsc::Sender<IncomingCall>,
    shutting_down: Arc<AtomicBool>,
}

impl AgentTask {
    async fn run(mut self, mut transport: SipTransport, mut cmd_rx: mpsc::UnboundedReceiver<Cmd>) {
        self.registry.start(Instant::now(), &mut self.tl);
        self.pump(&transport).await;
        loop {
            let deadline = [
                self.tl.poll_timeout(),
                self.dl.poll_timeout(),
                self.registry.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                inc = transport.recv() => {
                    let Some(inc) = inc else { return };
                    self.tl.handle_message(Instant::now(), inc.message, inc.peer);
                }
                cmd = cmd_rx.recv() => {
                    // The task holds a sender itself, so `None` never comes.
                    let Some(cmd) = cmd else { return };
                    self.command(cmd);
                }
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                    let now = Instant::now();
                    self.tl.handle_timeout(now);
                    self.dl.handle_timeout(now, &mut self.tl);
                    self.registry.handle_timeout(now, &mut self.tl);
                }
            }
            self.pump(&transport).await;
        }
    }

    fn command(&mut self, cmd: Cmd) {
        let now = Instant::now();
        let (dl, tl) = (&mut self.dl, &mut self.tl);
        let result = match cmd {
            Cmd::Invite(params, sink, reply) => {
                let result = dl.invite(now, tl, *params).map(|id| {
                    let call_id = dl.call_id(id).unwrap_or_default().to_owned();
                    self.routes.insert(id, sink);
                    self.by_call_id.insert(call_id.clone(), id);
                    (id, call_id)
                });
                let _ = reply.send(result);
                Ok(())
            }
            Cmd::Ring(id) => dl.ring(now, tl, id),
            Cmd::Accept(id, media) => dl.accept(now, tl, id, *media),
            Cmd::Reject(id, code) => dl.reject(now, tl, id, status(code)),
            Cmd::Bye(id) => dl.bye(now, tl, id),
            Cmd::Reinvite(id, what) => dl.reinvite(now, tl, id, what),
            Cmd::AcceptOffer(id, policy) => dl.accept_offer(now, tl, id, policy),
            Cmd::RejectOffer(id, code) => dl.reject_offer(now, tl, id, status(code)),
            Cmd::Targets(aor, reply) => {
                let _ = reply.send(self.registry.targets(now, &aor));
                Ok(())
            }
            Cmd::Registrations(reply) => {
                let _ = reply.send(self.registry.states());
                Ok(())
            }
            Cmd::Drop(id) => {
                self.routes.remove(&id);
                if let Some(call_id) = dl.call_id(id) {
                    self.by_call_id.remove(call_id);
                }
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::debug!("SIP command refused: {e}");
        }
    }

    /// Sends what the layers want sent and routes their events, until both are quiet.
    async fn pump(&mut self, transport: &SipTransport) {
        loop {
            let mut busy = false;
            while let Some(t) = self.tl.poll_transmit() {
                busy = true;
                if let Err(e) = transport.send(t).await {
                    tracing::debug!("SIP send failed: {e}");
                }
            }
            let now = Instant::now();
            while let Some(ev) = self.tl.poll_event() {
                busy = true;
                self.peek(&ev);
                let Some(ev) = self.registry.handle_event(now, &mut self.tl, ev) else {
                    continue;
                };
                if let Some(other) = self.dl.handle_transaction_event(now, &mut self.tl, ev) {
                    self.unhandled(now, other);
                }
            }
            self.registry.drain(now);
            while let Some(ev) = self.dl.poll_event() {
                busy = true;
                self.route(now, ev);
            }
            if !busy {
                return;
            }
        }
    }

    /// Reads what the dialog layer does not pass on: Retry-After and Reason.
    fn peek(&self, ev: &TransactionEvent) {
        match ev {
            TransactionEvent::Response { response, .. } => self.peek_response(response),
            TransactionEvent::Request { request, .. }
                if matches!(request.method, Method::Bye | Method::Cancel) =>
            {
                let reasons = header_values(&request.headers, &HeaderName::Reason);
                if reasons.is_empty() {
                    return;
                }
                if let Some(sink) = self.sink_for(&request.headers) {
                    let _ = sink.send(CallEvent::RemoteReason { reasons });
                }
            }
            _ => {}
        }
    }

    fn peek_response(&self, response: &Response) {
        let status = response.status.as_u16();
        let invite = response
            .headers
            .cseq()
            .is_ok_and(|c| c.method == Method::Invite);
        if !invite || status < 200 {
            return;
        }
        let Some(sink) = self.sink_for(&response.headers) else {
            return;
        };
        let retry_after = response
            .headers
            .get(&HeaderName::RetryAfter)
            .and_then(|v| v.split([';', '(', ' ']).next()?.trim().parse().ok());
        let warnings = response
            .headers
            .get_all(&HeaderName::Warning)
            .filter_map(|w| w.trim().get(..3)?.parse().ok())
            .collect();
        let _ = sink.send(CallEvent::FinalResponse {
            status,
            retry_after,
            reasons: header_values(&response.headers, &HeaderName::Reason),
            warnings,
        });
    }

    fn sink_for(&self, headers: &sip::msg::Headers) -> Option<&CallSink> {
        let call_id = headers.get(&HeaderName::CallId)?;
        self.routes.get(self.by_call_id.get(call_id.trim())?)
    }

    fn unhandled(&mut self, now: Instant, ev: TransactionEvent) {
        // OPTIONS outside a dialog (a peer's keep-alive probe) gets 200; anything else that
        // is not about a call is refused rather than left to time out.
        if let TransactionEvent::Request { id, request, .. } = ev {
            let code = if request.method == Method::Options {
                StatusCode::OK
            } else {
                StatusCode::METHOD_NOT_ALLOWED
            };
            let mut resp = Response::for_request(&request, code);
            resp.headers.push(
                HeaderName::Allow,
                "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK, INFO",
            );
            let _ = self.tl.send_response(now, id, resp);
        }
    }

    fn route(&mut self, now: Instant, ev: DialogEvent) {
        if let DialogEvent::Incoming {
            id,
            request,
            peer,
            offer,
        } = ev
        {
            self.incoming_call(now, id, request, peer, offer);
            return;
        }
        let id = event_id(&ev);
        let ended = matches!(ev, DialogEvent::Terminated { .. });
        if let Some(sink) = self.routes.get(&id) {
            let _ = sink.send(CallEvent::Dialog(Box::new(ev)));
        }
        if ended {
            self.routes.remove(&id);
            if let Some(call_id) = self.dl.call_id(id) {
                self.by_call_id.remove(call_id);
            }
        }
    }

    fn incoming_call(
        &mut self,
        now: Instant,
        id: DialogId,
        request: Box<Request>,
        peer: Peer,
        offer: Option<SessionDescription>,
    ) {
        let header = self.cfg.real_source_header.as_deref();
        let from = resolve_source(
            peer.addr.ip(),
            &request.headers,
            &self.cfg.trusted_proxies,
            header,
        );
        if let Some(w) = from.warning(header.unwrap_or_default()) {
            tracing::warn!(target: "faxserver::security", "{w}");
        }
        let (source, proxy) = (from.ip(), from.proxy());
        if !self.cfg.acl.admits(source) {
            // One fixed format, so that fail2ban can match it; a proxied call gets another
            // one, so that fail2ban never bans the proxy that every call comes through.
            match proxy {
                None => tracing::warn!(
                    target: "faxserver::security",
                    "SIP INVITE from unknown source {source} rejected with 403"
                ),
                Some(p) => tracing::warn!(
                    target: "faxserver::security",
                    "SIP INVITE from unknown source {source} via trusted proxy {p}: 403"
                ),
            }
            let _ = self.dl.reject(now, &mut self.tl, id, status(403));
            return;
        }
        if self.shutting_down.load(Ordering::SeqCst) {
            let retry = self.cfg.shutdown_retry_after.to_string();
            let _ = self.dl.reject_with(
                now,
                &mut self.tl,
                id,
                status(503),
                vec![(HeaderName::RetryAfter, retry)],
            );
            return;
        }
        let (sink, events) = mpsc::unbounded_channel();
        let call_id = self.dl.call_id(id).unwrap_or_default().to_owned();
        self.routes.insert(id, sink);
        self.by_call_id.insert(call_id.clone(), id);
        let call = IncomingCall {
            request,
            peer,
            source,
            proxy,
            offer,
            handle: CallHandle {
                id,
                call_id,
                cmd: self.cmd.clone(),
                events,
            },
        };
        if let Err(e) = self.incoming.try_send(call) {
            // Nobody takes calls now (or too many wait): refuse rather than ring forever.
            let call = match e {
                mpsc::error::TrySendError::Full(c) | mpsc::error::TrySendError::Closed(c) => c,
            };
            let code = status(503);
            let _ = self.dl.reject(now, &mut self.tl, id, code);
            drop(call);
        }
    }
}

/// A status code from a number we chose (always within range; 500 if not).
fn status(code: u16) -> StatusCode {
    StatusCode::new(code).unwrap_or(StatusCode::NOT_IMPLEMENTED)
}

fn event_id(ev: &DialogEvent) -> DialogId {
    match ev {
        DialogEvent::Incoming { id, .. }
        | DialogEvent::Early { id, .. }
        | DialogEvent::Confirmed { id, .. }
        | DialogEvent::ReinviteOffered { id, .. }
        | DialogEvent::MediaChanged { id, .. }
        | DialogEvent::ReinviteRejected { id, .. }
        | DialogEvent::Refreshed { id, .. }
        | DialogEvent::Redirected { id, .. }
        | DialogEvent::Terminated { id, .. } => *id,
    }
}

fn header_values(headers: &sip::msg::Headers, name: &HeaderName) -> Vec<String> {
    headers.get_all(name).map(str::to_owned).collect()
}
