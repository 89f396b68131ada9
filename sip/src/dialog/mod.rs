//! Calls as sans-IO state machines over the [`TransactionLayer`] (RFC 3261 §12 dialogs,
//! §13 INVITE, §14 re-INVITE, §15 BYE, §9 CANCEL), with reliable provisional responses
//! (RFC 3262), UPDATE (RFC 3311), session timers (RFC 4028) and the offer/answer of
//! RFC 3264 through [`crate::sdp`].
//!
//! One [`DialogLayer`] holds every call of a user agent. The shell owns it beside the
//! transaction layer and:
//! - passes each [`TransactionEvent`] to
//!   [`handle_transaction_event`](DialogLayer::handle_transaction_event), which gives back
//!   the ones that are not about calls (a registration's, say);
//! - turns application commands into calls of [`invite`](DialogLayer::invite),
//!   [`ring`](DialogLayer::ring), [`accept`](DialogLayer::accept),
//!   [`reject`](DialogLayer::reject), [`cancel`](DialogLayer::cancel),
//!   [`bye`](DialogLayer::bye), [`reinvite`](DialogLayer::reinvite),
//!   [`accept_offer`](DialogLayer::accept_offer), [`reject_offer`](DialogLayer::reject_offer);
//! - calls [`handle_timeout`](DialogLayer::handle_timeout) at
//!   [`poll_timeout`](DialogLayer::poll_timeout) and drains
//!   [`poll_event`](DialogLayer::poll_event); what to send comes out of the transaction
//!   layer's `poll_transmit`.
//!
//! Behaviours a fax server depends on: a 488 to a re-INVITE keeps the call and its media;
//! glare gets 491 and a retry after the §14.1 back-off; session refreshes and SDP-less
//! re-INVITEs are answered with our current SDP byte for byte (same `o=` version) without
//! bothering the application; an INVITE without SDP gets our offer in the 2xx and the answer
//! from the ACK. In-dialog requests go to the next hop the call started with (the INVITE's
//! source, or the peer we sent it to), which is where NAT latching wants them; resolving a
//! remote target by RFC 3263 is the shell's business.

mod call;
mod indialog;
mod timer;
mod types;
mod uac;
mod uas;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

pub use types::{
    CallParams, DialogConfig, DialogEvent, DialogId, EndReason, InboundAuth, LocalAgent,
    MediaConfig, RefreshMethod, SessionTimerConfig,
};

pub(crate) use self::call::{after, via_value};
use self::call::{decorate, Call, Ctx, Purpose};
use crate::auth::{Credentials, DigestClient, Verdict};
use crate::error::{Error, Result};
use crate::msg::{check_request, HeaderName, Method, Request, Response, StatusCode};
use crate::rng::Rng;
use crate::sdp::{Agreed, OfferMedia, Policy, SessionDescription};
use crate::transaction::{Peer, TransactionEvent, TransactionId, TransactionLayer};

/// Every call of a user agent.
#[derive(Debug)]
pub struct DialogLayer {
    cfg: DialogConfig,
    inbound_auth: Option<InboundAuth>,
    rng: Rng,
    next_id: u64,
    calls: BTreeMap<DialogId, Call>,
    txs: HashMap<TransactionId, (DialogId, Purpose)>,
    /// (Call-ID, our tag) to call, for requests and ACKs inside a dialog.
    by_tag: HashMap<(String, String), DialogId>,
    events: VecDeque<DialogEvent>,
}

impl DialogLayer {
    /// A layer with no calls; `seed` drives tags, Call-IDs, RSeq and the glare back-off.
    pub fn new(mut cfg: DialogConfig, seed: u64) -> Self {
        DialogLayer {
            inbound_auth: cfg.inbound_auth.take(),
            cfg,
            rng: Rng::new(seed),
            next_id: 0,
            calls: BTreeMap::new(),
            txs: HashMap::new(),
            by_tag: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DialogConfig {
        &self.cfg
    }

    /// Number of calls held (ended ones linger 32 s to re-ACK late 2xx).
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True when no call is held.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    fn with_call<T>(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        id: DialogId,
        f: impl FnOnce(&mut Call, &mut Ctx<'_>) -> Result<T>,
    ) -> Result<T> {
        let DialogLayer {
            cfg,
            rng,
            calls,
            txs,
            events,
            ..
        } = self;
        let call = calls.get_mut(&id).ok_or(Error::UnknownDialog)?;
        let mut cx = Ctx {
            now,
            cfg,
            tl,
            rng,
            events,
            txs,
        };
        f(call, &mut cx)
    }

    /// Places a call: sends the INVITE (with our offer, or none for a delayed offer).
    pub fn invite(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        params: CallParams,
    ) -> Result<DialogId> {
        self.next_id += 1;
        let id = DialogId(self.next_id);
        let DialogLayer {
            cfg,
            rng,
            txs,
            events,
            ..
        } = self;
        let mut cx = Ctx {
            now,
            cfg,
            tl,
            rng,
            events,
            txs,
        };
        let call = uac::start_call(&mut cx, id, params)?;
        self.by_tag
            .insert((call.call_id.clone(), call.local_tag.clone()), id);
        self.calls.insert(id, call);
        Ok(id)
    }

    /// Places a call like [`invite`](Self::invite), trying `alternates` in order when the
    /// next hop times out, fails at the transport or answers 503 before ringing (RFC 3263
    /// §4.3). The alternates are usually [`TargetList::remaining`](crate::transport::TargetList::remaining)
    /// of the list whose current target is `params.peer`.
    pub fn invite_with_failover(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        params: CallParams,
        alternates: Vec<Peer>,
    ) -> Result<DialogId> {
        let id = self.invite(now, tl, params)?;
        if let Some(uac) = self.calls.get_mut(&id).and_then(|c| c.uac.as_mut()) {
            uac.alternates = alternates;
        }
        Ok(id)
    }

    /// Where the call's requests go now (after failover or a redirect, not where it began).
    pub fn next_hop(&self, id: DialogId) -> Option<Peer> {
        self.calls.get(&id).map(|c| c.peer)
    }

    /// Sends 180 Ringing for an incoming call (reliably when the caller uses 100rel).
    pub fn ring(&mut self, now: Instant, tl: &mut TransactionLayer, id: DialogId) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.ring(cx))
    }

    /// Answers an incoming call with 200 OK: our answer to its offer per `media.policy`
    /// (or a 488 when nothing fits), or our offer when it came without SDP.
    pub fn accept(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        id: DialogId,
        media: MediaConfig,
    ) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.accept(cx, media))
    }

    /// Refuses an incoming call with `code` (300–699).
    pub fn reject(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        id: DialogId,
        code: StatusCode,
    ) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.reject(cx, code, Vec::new()))
    }

    /// Refuses an incoming call with `code` and extra headers (`Retry-After`, `Reason`).
    pub fn reject_with(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        id: DialogId,
        code: StatusCode,
        headers: Vec<(HeaderName, String)>,
    ) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.reject(cx, code, headers))
    }

    /// Cancels our unanswered INVITE (sent once a provisional response has arrived).
    pub fn cancel(&mut self, now: Instant, tl: &mut TransactionLayer, id: DialogId) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.cancel(cx))
    }

    /// Hangs up: BYE once established, CANCEL while our INVITE is unanswered.
    pub fn bye(&mut self, now: Instant, tl: &mut TransactionLayer, id: DialogId) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.bye(cx))
    }

    /// Offers new media in a re-INVITE (to T.38, back to audio).
    pub fn reinvite(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        id: DialogId,
        what: OfferMedia,
    ) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.reinvite(cx, what))
    }

    /// Answers the offer of a [`DialogEvent::ReinviteOffered`] with `policy` (the call's
    /// own when `None`); a 488 when nothing fits.
    pub fn accept_offer(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        id: DialogId,
        policy: Option<Policy>,
    ) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.accept_offer(cx, policy))
    }

    /// Refuses the offer of a [`DialogEvent::ReinviteOffered`]; the call keeps its media.
    pub fn reject_offer(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        id: DialogId,
        code: StatusCode,
    ) -> Result<()> {
        self.with_call(now, tl, id, |c, cx| c.reject_offer(cx, code))
    }

    /// Credentials for challenges to the requests we send in this call (BYE, re-INVITE).
    pub fn set_credentials(&mut self, id: DialogId, creds: Credentials) -> Result<()> {
        let seed = self.rng.next_u64();
        let call = self.calls.get_mut(&id).ok_or(Error::UnknownDialog)?;
        call.auth = Some(DigestClient::new(creds, seed));
        Ok(())
    }

    /// The media agreed in the call, if any.
    pub fn agreed(&self, id: DialogId) -> Option<&Agreed> {
        self.calls.get(&id)?.media.agreed.as_ref()
    }

    /// The SDP we last sent in a completed offer/answer.
    pub fn local_sdp(&self, id: DialogId) -> Option<&SessionDescription> {
        self.calls.get(&id)?.media.local.as_ref()
    }

    /// The SDP the far end last sent in a completed offer/answer.
    pub fn remote_sdp(&self, id: DialogId) -> Option<&SessionDescription> {
        self.calls.get(&id)?.media.remote.as_ref()
    }

    /// The Call-ID of the call.
    pub fn call_id(&self, id: DialogId) -> Option<&str> {
        self.calls.get(&id).map(|c| c.call_id.as_str())
    }

    /// Handles a transaction event; gives it back when it is not about a call.
    pub fn handle_transaction_event(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        ev: TransactionEvent,
    ) -> Option<TransactionEvent> {
        match ev {
            TransactionEvent::Request {
                id,
                request,
                peer,
                cancels,
            } => {
                self.on_request(now, tl, id, request, peer, cancels);
                None
            }
            TransactionEvent::Ack { request, .. } => {
                if let Some(d) = self.dialog_of(&request, true) {
                    let _ = self.with_call(now, tl, d, |c, cx| {
                        c.on_ack(cx, &request);
                        Ok(())
                    });
                }
                None
            }
            TransactionEvent::Response { id, response } => {
                let Some(&(d, purpose)) = self.txs.get(&id) else {
                    return Some(TransactionEvent::Response { id, response });
                };
                let _ = self.with_call(now, tl, d, |c, cx| {
                    match purpose {
                        Purpose::Invite => c.on_invite_response(cx, id, response),
                        Purpose::Reinvite | Purpose::Update => {
                            c.on_offer_response(cx, id, response)
                        }
                        Purpose::Bye => c.on_bye_response(cx, &response),
                        _ => {}
                    }
                    Ok(())
                });
                None
            }
            TransactionEvent::StrayResponse { response, peer } => {
                let is_2xx_invite = response.status.is_success()
                    && response
                        .headers
                        .cseq()
                        .is_ok_and(|c| c.method == Method::Invite);
                let d = self.dialog_of_response(&response);
                match d {
                    Some(d) if is_2xx_invite => {
                        let _ = self.with_call(now, tl, d, |c, cx| {
                            c.on_stray_2xx(cx, response);
                            Ok(())
                        });
                        None
                    }
                    Some(_) => None,
                    None => Some(TransactionEvent::StrayResponse { response, peer }),
                }
            }
            TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                let transport = matches!(ev, TransactionEvent::TransportError { .. });
                let Some(&(d, purpose)) = self.txs.get(&id) else {
                    return Some(ev);
                };
                let _ = self.with_call(now, tl, d, |c, cx| {
                    match purpose {
                        Purpose::Invite => c.on_invite_timeout(cx, id, transport),
                        Purpose::Reinvite | Purpose::Update => c.on_offer_timeout(cx, id),
                        _ => {}
                    }
                    Ok(())
                });
                None
            }
            TransactionEvent::AckTimeout { id } => {
                let Some(&(d, _)) = self.txs.get(&id) else {
                    return Some(ev);
                };
                let _ = self.with_call(now, tl, d, |c, cx| {
                    c.on_ack_timeout(cx, id);
                    Ok(())
                });
                None
            }
            TransactionEvent::Terminated { id } => match self.txs.remove(&id) {
                Some(_) => None,
                None => Some(ev),
            },
        }
    }

    /// The call a request (or ACK) inside a dialog belongs to: by Call-ID and our tag, which
    /// is the To tag of requests sent to us.
    fn dialog_of(&self, req: &Request, to_us: bool) -> Option<DialogId> {
        let h = &req.headers;
        let addr = if to_us { h.to() } else { h.from() }.ok()?;
        let key = (h.call_id().ok()?.to_owned(), addr.tag()?.to_owned());
        self.by_tag.get(&key).copied()
    }

    fn dialog_of_response(&self, resp: &Response) -> Option<DialogId> {
        let h = &resp.headers;
        let key = (
            h.call_id().ok()?.to_owned(),
            h.from().ok()?.tag()?.to_owned(),
        );
        self.by_tag.get(&key).copied()
    }

    fn respond_alone(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        tx: TransactionId,
        mut resp: Response,
        method: &Method,
    ) {
        if !resp.headers.to().is_ok_and(|t| t.tag().is_some()) {
            resp.set_to_tag(&self.rng.hex(5));
        }
        decorate(&mut resp, &self.cfg.agent, method);
        let _ = tl.send_response(now, tx, resp);
    }

    fn on_request(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        tx: TransactionId,
        req: Request,
        peer: Peer,
        cancels: Option<TransactionId>,
    ) {
        let method = req.method.clone();
        if method == Method::Cancel {
            let target = cancels.and_then(|c| self.txs.get(&c).map(|&(d, _)| (c, d)));
            let code = if target.is_some() { 200 } else { 481 };
            let mut resp =
                Response::for_request(&req, StatusCode::new(code).unwrap_or(StatusCode::OK));
            // The 200 to CANCEL carries the tag of the INVITE's responses (RFC 3261 §9.2).
            if let Some(c) = target.and_then(|(_, d)| self.calls.get(&d)) {
                resp.set_to_tag(&c.local_tag);
            }
            self.respond_alone(now, tl, tx, resp, &method);
            if let Some((invite_tx, d)) = target {
                let _ = self.with_call(now, tl, d, |c, cx| {
                    c.on_cancel(cx, invite_tx);
                    Ok(())
                });
            }
            return;
        }
        if let Err(rej) = check_request(&req, &self.cfg.uas_policy) {
            let resp = rej.response(&req, None);
            self.respond_alone(now, tl, tx, resp, &method);
            return;
        }
        let in_dialog = req.headers.to().is_ok_and(|t| t.tag().is_some());
        if in_dialog {
            match self.dialog_of(&req, true) {
                Some(d) => {
                    if self.challenges_in_dialog(&method)
                        && !self.authenticate(now, tl, tx, &req, peer)
                    {
                        return;
                    }
                    let _ = self.with_call(now, tl, d, |c, cx| {
                        c.on_in_dialog(cx, tx, req);
                        Ok(())
                    });
                }
                None => {
                    let resp = Response::for_request(
                        &req,
                        StatusCode::new(481).unwrap_or(StatusCode::BAD_REQUEST),
                    );
                    self.respond_alone(now, tl, tx, resp, &method);
                }
            }
            return;
        }
        match method {
            Method::Invite => self.on_new_invite(now, tl, tx, req, peer),
            Method::Options => {
                let resp = Response::for_request(&req, StatusCode::OK);
                self.respond_alone(now, tl, tx, resp, &method);
            }
            _ => {
                let resp = Response::for_request(
                    &req,
                    StatusCode::new(481).unwrap_or(StatusCode::BAD_REQUEST),
                );
                self.respond_alone(now, tl, tx, resp, &method);
            }
        }
    }

    /// Checks the credentials of a request from a peer that must authenticate; answers
    /// 401/407 or 403 and returns false when it is not to be processed.
    fn authenticate(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        tx: TransactionId,
        req: &Request,
        peer: Peer,
    ) -> bool {
        let Some(ia) = &mut self.inbound_auth else {
            return true;
        };
        if !ia.applies_to(peer.addr.ip()) {
            return true;
        }
        let users = &ia.users;
        let resp = match ia
            .server
            .verify(now, req, ia.proxy, |u| users.get(u).cloned())
        {
            Verdict::Authenticated { .. } => return true,
            Verdict::Challenge { stale } => ia.server.challenge_response(now, req, stale, ia.proxy),
            Verdict::Forbidden(why) => {
                Response::for_request(req, StatusCode::new(403).unwrap_or(StatusCode::BAD_REQUEST))
                    .with_reason(format!("Forbidden ({why})"))
            }
        };
        self.respond_alone(now, tl, tx, resp, &req.method);
        false
    }

    /// True for an in-dialog request that the configured inbound authentication covers.
    fn challenges_in_dialog(&self, method: &Method) -> bool {
        self.inbound_auth.as_ref().is_some_and(|ia| ia.in_dialog)
            && !matches!(method, Method::Ack | Method::Cancel | Method::Prack)
    }

    fn on_new_invite(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        tx: TransactionId,
        req: Request,
        peer: Peer,
    ) {
        if !self.authenticate(now, tl, tx, &req, peer) {
            return;
        }
        self.next_id += 1;
        let id = DialogId(self.next_id);
        let DialogLayer {
            cfg,
            rng,
            txs,
            events,
            ..
        } = self;
        let mut cx = Ctx {
            now,
            cfg,
            tl,
            rng,
            events,
            txs,
        };
        if let Some(call) = uas::new_incoming(&mut cx, id, tx, req, peer) {
            self.by_tag
                .insert((call.call_id.clone(), call.local_tag.clone()), id);
            self.calls.insert(id, call);
        }
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, tl: &mut TransactionLayer) {
        let due: Vec<DialogId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.next_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let keep = self
                .with_call(now, tl, id, |c, cx| Ok(c.on_timeout(cx)))
                .unwrap_or(false);
            if !keep {
                if let Some(c) = self.calls.remove(&id) {
                    self.by_tag.remove(&(c.call_id, c.local_tag));
                }
            }
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<DialogEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls.values().filter_map(Call::next_timeout).min()
    }
}
