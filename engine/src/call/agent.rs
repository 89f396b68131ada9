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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip::dialog::{CallParams, DialogConfig, DialogEvent, DialogId, DialogLayer, MediaConfig};
use sip::msg::{HeaderName, Method, Request, Response, StatusCode};
use sip::sdp::{OfferMedia, Policy, SessionDescription};
use sip::transaction::{Peer, TimerConfig, TransactionEvent, TransactionLayer, Transport};
use sip::transport::{SipTransport, TransportConfig, TransportEvent};
use tokio::sync::{mpsc, oneshot, watch};

pub use super::agent_config::AgentConfig;
use super::debug::{SipTap, SipTaps};
use super::dial::NameResolver;
use super::doorbell::{event_channel, CallSink};
use super::gateways::{GatewayStates, Gateways, ProbedGateway};
pub use super::handle::{CallHandle, IncomingCall};
use super::identity::resolve_source;
use super::limiter::SourceLimiter;
use super::registry::{RegistrationState, Registry};
use super::CallError as Error;
use sip::msg::Uri;

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
    /// Our call was answered by this next hop (after any failover).
    Routed {
        /// The next hop that answered.
        peer: Peer,
    },
}

pub(crate) enum Cmd {
    Invite(
        Box<CallParams>,
        Vec<Peer>,
        CallSink,
        oneshot::Sender<sip::Result<(DialogId, String, SipTap)>>,
    ),
    Ring(DialogId),
    Accept(DialogId, Box<MediaConfig>),
    Reject(DialogId, u16),
    Bye(DialogId),
    Reinvite(DialogId, OfferMedia),
    AcceptOffer(DialogId, Option<Policy>),
    RejectOffer(DialogId, u16),
    Drop(DialogId, String),
    Targets(Box<Uri>, oneshot::Sender<Vec<(Uri, Peer)>>),
    Registrations(oneshot::Sender<Vec<RegistrationState>>),
    Gateways(Vec<ProbedGateway>),
}

/// A handle on the running agent; cheap to clone.
#[derive(Debug, Clone)]
pub struct SipAgent {
    cmd: mpsc::UnboundedSender<Cmd>,
    udp: SocketAddr,
    resolver: NameResolver,
    shutting_down: Arc<AtomicBool>,
    dropped_unknown: Arc<AtomicU64>,
    gateway_states: watch::Receiver<GatewayStates>,
}

impl SipAgent {
    /// Binds the transport and starts the agent; incoming calls arrive on the receiver.
    pub async fn start(
        cfg: AgentConfig,
    ) -> Result<(SipAgent, mpsc::Receiver<IncomingCall>), Error> {
        let resolver = cfg.resolver.clone().ready();
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
        let dropped_unknown = Arc::new(AtomicU64::new(0));
        let (states_tx, gateway_states) = watch::channel(GatewayStates::new());
        let seed = seed();
        let mut gateways =
            Gateways::new(&agent, cfg.gateway_probing, seed.rotate_left(53), states_tx);
        // Published before `start` returns, so that a caller sees its gateways at once.
        gateways.set(Instant::now(), cfg.gateways.clone());
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
            taps: SipTaps::default(),
            limiter: SourceLimiter::new(cfg.unknown_source_limit),
            gateways,
            dropped_unknown: dropped_unknown.clone(),
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
                resolver,
                shutting_down,
                dropped_unknown,
                gateway_states,
            },
            incoming,
        ))
    }

    /// Our UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.udp
    }

    /// The next hops of `uri` per RFC 3263 through the configured resolver, in failover
    /// order; empty when nothing resolves.
    pub async fn resolve(&self, uri: &sip::msg::SipUri) -> Vec<Peer> {
        self.resolver.resolve(uri, seed()).await
    }

    /// Places a call; the INVITE is on its way when this returns.
    pub async fn invite(&self, params: CallParams) -> Result<CallHandle, Error> {
        self.invite_with_failover(params, Vec::new()).await
    }

    /// Places a call to `params.peer`, moving on to each of `alternates` in turn when a
    /// next hop times out, fails at the transport or answers 503 before ringing.
    pub async fn invite_with_failover(
        &self,
        params: CallParams,
        alternates: Vec<Peer>,
    ) -> Result<CallHandle, Error> {
        let (sink, events, doorbell) = event_channel();
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Invite(Box::new(params), alternates, sink, tx))
            .map_err(|_| Error::AgentStopped)?;
        let (id, call_id, sip) = rx
            .await
            .map_err(|_| Error::AgentStopped)?
            .map_err(Error::Sip)?;
        Ok(CallHandle {
            id,
            call_id,
            cmd: self.cmd.clone(),
            events,
            doorbell,
            sip,
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

    /// Whether the probed gateway `name` answers (`None`: not probed). A gateway not yet
    /// probed counts as up.
    pub fn gateway_up(&self, name: &str) -> Option<bool> {
        self.gateway_states.borrow().get(name).copied()
    }

    /// Every probed gateway's state, updated as probes answer or time out.
    pub fn gateway_states(&self) -> watch::Receiver<GatewayStates> {
        self.gateway_states.clone()
    }

    /// Probes exactly these gateways from now on (a reload); unchanged ones keep their state.
    pub fn set_gateways(&self, gateways: Vec<ProbedGateway>) {
        let _ = self.cmd.send(Cmd::Gateways(gateways));
    }

    /// Requests from sources outside the ACL dropped by the rate limit so far.
    pub fn dropped_unknown(&self) -> u64 {
        self.dropped_unknown.load(Ordering::Relaxed)
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
    /// The SIP ladder of each call, by Call-ID.
    taps: SipTaps,
    limiter: SourceLimiter,
    gateways: Gateways,
    dropped_unknown: Arc<AtomicU64>,
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
                self.gateways.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                ev = transport.next_event() => match ev {
                    None => return,
                    Some(TransportEvent::Message(inc)) => {
                        let now = Instant::now();
                        if self.admitted(&inc.message, inc.peer.addr.ip(), now) {
                            self.taps.received(&inc.message, &inc.raw, &inc.peer);
                            self.tl.handle_message(now, inc.message, inc.peer);
                        }
                    }
                    Some(TransportEvent::FlowClosed(flow)) => self.registry.flow_closed(flow),
                },
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
                    self.gateways.handle_timeout(now, &mut self.tl);
                }
            }
            self.pump(&transport).await;
            self.taps.settle();
        }
    }

    /// Requests from sources outside the ACL pass only within their rate limit; responses
    /// (gateways answering us need not be in the ACL) and requests of our calls always pass.
    fn admitted(&mut self, message: &sip::msg::Message, source: IpAddr, now: Instant) -> bool {
        let sip::msg::Message::Request(req) = message else {
            return true;
        };
        if self.cfg.acl.admits(source) || self.cfg.trusted_proxies.admits(source) {
            return true;
        }
        // Requests within our calls (a gateway we dialled sends BYE or a re-INVITE) are
        // never limited, however many calls run.
        if req
            .headers
            .get(&HeaderName::CallId)
            .is_some_and(|id| self.by_call_id.contains_key(id.trim()))
        {
            return true;
        }
        if self.limiter.allow(source, now) {
            return true;
        }
        self.dropped_unknown
            .store(self.limiter.dropped(), Ordering::Relaxed);
        false
    }

    fn command(&mut self, cmd: Cmd) {
        let now = Instant::now();
        let (dl, tl) = (&mut self.dl, &mut self.tl);
        let result = match cmd {
            Cmd::Invite(params, alternates, sink, reply) => {
                let result = dl
                    .invite_with_failover(now, tl, *params, alternates)
                    .map(|id| {
                        let call_id = dl.call_id(id).unwrap_or_default().to_owned();
                        self.routes.insert(id, sink);
                        self.by_call_id.insert(call_id.clone(), id);
                        let tap = self.taps.open(&call_id);
                        (id, call_id, tap)
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
            Cmd::Gateways(list) => {
                self.gateways.set(now, list);
                self.gateways.handle_timeout(now, tl);
                Ok(())
            }
            Cmd::Drop(id, call_id) => {
                self.routes.remove(&id);
                if let Some(call_id) = dl.call_id(id) {
                    self.by_call_id.remove(call_id);
                }
                self.taps.close(&call_id);
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
            let mut busy = self.flush(transport).await;
            let now = Instant::now();
            while let Some(ev) = self.tl.poll_event() {
                busy = true;
                self.peek(&ev);
                let Some(ev) = self.registry.handle_event(now, &mut self.tl, ev) else {
                    continue;
                };
                let Some(ev) = self.gateways.handle_event(now, ev) else {
                    continue;
                };
                if let Some(other) = self.dl.handle_transaction_event(now, &mut self.tl, ev) {
                    self.unhandled(now, other);
                }
            }
            self.registry.drain(now);
            self.gateways.drain();
            // What the layers answered goes out (and into the ladder) before the call hears
            // of it, so a call that ends on this event finds its last message recorded.
            busy |= self.flush(transport).await;
            while let Some(ev) = self.dl.poll_event() {
                busy = true;
                self.route(now, ev);
            }
            if !busy {
                return;
            }
        }
    }

    /// Sends what the transaction layer has queued; true when there was something.
    async fn flush(&mut self, transport: &SipTransport) -> bool {
        let mut any = false;
        while let Some(t) = self.tl.poll_transmit() {
            any = true;
            self.taps.sent(&t.message, &t.peer);
            if let Err(e) = transport.send(t).await {
                tracing::debug!("SIP send failed: {e}");
            }
        }
        any
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
        if let (DialogEvent::Confirmed { .. }, Some(sink), Some(peer)) =
            (&ev, self.routes.get(&id), self.dl.next_hop(id))
        {
            let _ = sink.send(CallEvent::Routed { peer });
        }
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
        if let Some((guard, why)) = self
            .cfg
            .overload
            .and_then(|g| g.overloaded().map(|why| (g, why)))
        {
            tracing::warn!("SIP INVITE from {source} refused with 503: {why}");
            super::media_load::count_refused_invite();
            let _ = self.dl.reject_with(
                now,
                &mut self.tl,
                id,
                status(503),
                vec![(HeaderName::RetryAfter, guard.retry_after.to_string())],
            );
            return;
        }
        let (sink, events, doorbell) = event_channel();
        let call_id = self.dl.call_id(id).unwrap_or_default().to_owned();
        self.routes.insert(id, sink);
        self.by_call_id.insert(call_id.clone(), id);
        let sip = self.taps.open(&call_id);
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
                doorbell,
                sip,
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
