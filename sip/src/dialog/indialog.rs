//! Requests inside a dialog (RFC 3261 §12.2, §14, §15): re-INVITE and UPDATE offers in
//! both directions (RFC 3264 through [`crate::sdp`], RFC 3311), glare with 491 and the
//! §14.1 back-off, session refreshes answered with unchanged SDP, SDP-less re-INVITEs,
//! BYE, OPTIONS and INFO.

use super::call::{
    same_version, sdp_of, set_sdp, Call, Ctx, InOffer, OfferKind, OutOffer, Phase, Purpose, WaitAck,
};
use super::types::{DialogEvent, EndReason};
use super::uas::{interval_too_small, warn_agent};
use crate::auth::AuthAttempt;
use crate::error::{Error, Result};
use crate::msg::{HeaderName, Method, Request, Response, StatusCode};
use crate::sdp::{accept_answer, OfferMedia, Policy};
use crate::transaction::TransactionId;

fn status(code: u16) -> StatusCode {
    StatusCode::new(code).unwrap_or(StatusCode::BAD_REQUEST)
}

impl Call {
    /// The application offers new media (a re-INVITE, e.g. to T.38).
    pub(crate) fn reinvite(&mut self, cx: &mut Ctx<'_>, what: OfferMedia) -> Result<()> {
        if self.phase != Phase::Confirmed {
            return Err(Error::DialogState("the call is not established"));
        }
        if self.offer_busy() {
            return Err(Error::DialogState(
                "an offer/answer exchange is in progress",
            ));
        }
        self.glare = None;
        self.send_offer(cx, OfferKind::Media(what), Method::Invite)
    }

    /// Sends a re-INVITE or UPDATE: new media, or a refresh that repeats our current SDP
    /// byte for byte (RFC 4028 §7.4; an UPDATE refresh has no body).
    pub(crate) fn send_offer(
        &mut self,
        cx: &mut Ctx<'_>,
        kind: OfferKind,
        method: Method,
    ) -> Result<()> {
        let cfg = self
            .media
            .cfg
            .clone()
            .ok_or(Error::DialogState("no media configuration"))?;
        let offer = match (kind, &method) {
            (OfferKind::Media(w), _) => Some(self.media.sdp.offer(&cfg.caps, w)),
            (OfferKind::Refresh, Method::Invite) => self.media.local.clone(),
            (OfferKind::Refresh, _) => None,
        };
        let purpose = if method == Method::Invite {
            Purpose::Reinvite
        } else {
            Purpose::Update
        };
        let mut req = self.new_request(cx, method);
        if let Some(o) = &offer {
            set_sdp(&mut req.headers, &mut req.body, o);
        }
        self.add_timer_headers(cx, &mut req);
        if let Some(a) = &mut self.auth {
            if a.has_credentials() {
                a.authorize(&mut req);
            }
        }
        let tx = cx.send(self.id, purpose, req.clone(), self.peer)?;
        self.out_offer = Some(OutOffer {
            tx,
            kind,
            offer,
            request: req,
            attempt: AuthAttempt::default(),
            se_retries: 0,
        });
        Ok(())
    }

    /// A response to our re-INVITE or UPDATE.
    pub(crate) fn on_offer_response(
        &mut self,
        cx: &mut Ctx<'_>,
        tx: TransactionId,
        resp: Response,
    ) {
        let code = resp.status;
        let ours = self.out_offer.as_ref().is_some_and(|o| o.tx == tx);
        if !ours {
            if code.is_success() {
                self.repeat_ack(cx, &resp);
            }
            return;
        }
        if code.is_provisional() {
            return;
        }
        let Some(mut o) = self.out_offer.take() else {
            return;
        };
        if code.is_success() {
            self.on_offer_accepted(cx, o, resp);
            return;
        }
        let retry = match code.as_u16() {
            401 | 407 => {
                let answered = self
                    .auth
                    .as_mut()
                    .is_some_and(|a| a.on_challenge(&resp, &mut o.attempt));
                answered.then(|| self.resend_of(cx, &o.request))
            }
            422 => match resp.headers.min_se() {
                Ok(Some(min)) if o.se_retries < 2 => {
                    o.se_retries += 1;
                    let mut req = self.resend_of(cx, &o.request);
                    let refresher = if self.timer.is_none_or(|t| t.we_refresh) {
                        "uac"
                    } else {
                        "uas"
                    };
                    req.headers.set(
                        HeaderName::SessionExpires,
                        format!("{min};refresher={refresher}"),
                    );
                    req.headers.set(HeaderName::MinSe, min.to_string());
                    Some(req)
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(req) = retry {
            let purpose = if req.method == Method::Invite {
                Purpose::Reinvite
            } else {
                Purpose::Update
            };
            if let Ok(tx) = cx.send(self.id, purpose, req.clone(), self.peer) {
                o.tx = tx;
                o.request = req;
                self.out_offer = Some(o);
                return;
            }
        }
        match code.as_u16() {
            491 => {
                let d = self.glare_delay(cx);
                self.glare = Some((super::call::after(cx.now, d), o.kind));
            }
            481 => self.end(cx, EndReason::Error("the far end lost the dialog (481)")),
            408 => self.hang_up(cx, EndReason::Timeout),
            _ if o.kind == OfferKind::Refresh => {}
            _ => cx.event(DialogEvent::ReinviteRejected {
                id: self.id,
                code,
                ours: true,
                media: self.media.agreed.clone(),
            }),
        }
    }

    fn repeat_ack(&mut self, cx: &mut Ctx<'_>, resp: &Response) {
        let seq = resp.headers.cseq().map(|c| c.seq).ok();
        if let Some((s, ack)) = &self.last_ack {
            if Some(*s) == seq {
                cx.tl.send_stateless(ack.clone(), self.peer);
            }
        }
    }

    fn on_offer_accepted(&mut self, cx: &mut Ctx<'_>, o: OutOffer, resp: Response) {
        if o.request.method == Method::Invite {
            let leg = self.leg.clone();
            let ack = self.ack_for(cx, &o.request, &leg);
            cx.tl.send_stateless(ack.clone(), self.peer);
            let seq = o.request.headers.cseq().map(|c| c.seq).unwrap_or(0);
            self.last_ack = Some((seq, ack));
        }
        if let Some(t) = super::call::contact_uri(&resp.headers.contacts().unwrap_or_default()) {
            self.leg.target = t;
        }
        self.learn_peer(&resp);
        self.apply_timer_uac(cx, &resp);
        let answer = sdp_of(&resp.headers, &resp.body).and_then(|r| r.ok());
        let Some(offer) = o.offer else {
            self.refreshed(cx, true);
            return;
        };
        let Some(cfg) = self.media.cfg.clone() else {
            return;
        };
        match answer {
            Some(ans)
                if o.kind == OfferKind::Refresh
                    && self
                        .media
                        .remote
                        .as_ref()
                        .is_some_and(|r| same_version(r, &ans)) =>
            {
                self.refreshed(cx, true);
            }
            Some(ans) => match accept_answer(&offer, &ans, &cfg.caps) {
                Ok(agreed) => {
                    self.media.local = Some(offer);
                    self.media.remote = Some(ans.clone());
                    self.media.agreed = Some(agreed.clone());
                    cx.event(DialogEvent::MediaChanged {
                        id: self.id,
                        remote_sdp: ans,
                        agreed,
                    });
                }
                Err(_) => self.hang_up(cx, EndReason::NoCommonMedia),
            },
            None => self.hang_up(cx, EndReason::Error("2xx to our offer without an answer")),
        }
    }

    /// Timer B/F or a transport failure on our re-INVITE or UPDATE (RFC 3261 §12.2.1.2,
    /// RFC 4028 §10): end the call.
    pub(crate) fn on_offer_timeout(&mut self, cx: &mut Ctx<'_>, tx: TransactionId) {
        if self.out_offer.as_ref().is_some_and(|o| o.tx == tx) {
            self.out_offer = None;
            self.hang_up(cx, EndReason::Timeout);
        }
    }

    /// A request inside this dialog.
    pub(crate) fn on_in_dialog(&mut self, cx: &mut Ctx<'_>, tx: TransactionId, req: Request) {
        let from_tag = req
            .headers
            .from()
            .ok()
            .and_then(|f| f.tag().map(str::to_owned))
            .unwrap_or_default();
        if self.phase == Phase::Ended || from_tag != self.leg.remote_tag {
            let resp = self.response(cx, &req, status(481));
            cx.respond(tx, resp);
            return;
        }
        let seq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        if self.remote_cseq.is_some_and(|r| seq < r) {
            // Out of order (RFC 3261 §12.2.2).
            let resp = self.response(cx, &req, status(500));
            cx.respond(tx, resp);
            return;
        }
        self.remote_cseq = Some(seq);
        match req.method {
            Method::Bye => self.on_bye(cx, tx, &req),
            Method::Invite | Method::Update => self.on_offer_request(cx, tx, req),
            Method::Prack => self.on_prack(cx, tx, &req),
            Method::Options | Method::Info => {
                let resp = self.response(cx, &req, StatusCode::OK);
                cx.respond(tx, resp);
            }
            _ => {
                let mut resp = self.response(cx, &req, StatusCode::METHOD_NOT_ALLOWED);
                resp.headers.set(HeaderName::Allow, super::types::ALLOW);
                cx.respond(tx, resp);
            }
        }
    }

    fn on_bye(&mut self, cx: &mut Ctx<'_>, tx: TransactionId, req: &Request) {
        let resp = self.response(cx, req, StatusCode::OK);
        cx.respond(tx, resp);
        self.terminate_invite(cx);
        if let Some(o) = self.in_offer.take() {
            let r = self.response(cx, &o.request, StatusCode::REQUEST_TERMINATED);
            cx.respond(o.tx, r);
        }
        self.end(cx, EndReason::Bye { remote: true });
    }

    /// The application hangs up.
    pub(crate) fn bye(&mut self, cx: &mut Ctx<'_>) -> Result<()> {
        match self.phase {
            Phase::Ended => Err(Error::DialogState("the call has ended")),
            _ if self.uac.as_ref().is_some_and(|u| !u.done) => self.cancel(cx),
            _ if self.unanswered() => Err(Error::DialogState(
                "an incoming call is answered or rejected, not hung up",
            )),
            _ => {
                self.hang_up(cx, EndReason::Bye { remote: false });
                Ok(())
            }
        }
    }

    /// A response to our BYE: answer a challenge once, ignore the rest.
    pub(crate) fn on_bye_response(&mut self, cx: &mut Ctx<'_>, resp: &Response) {
        if !matches!(resp.status.as_u16(), 401 | 407) {
            return;
        }
        let (Some(auth), Some((req, attempt))) = (&mut self.auth, &mut self.bye) else {
            return;
        };
        if !auth.on_challenge(resp, attempt) {
            return;
        }
        let (old, attempt) = (req.clone(), *attempt);
        let new = self.resend_of(cx, &old);
        if cx
            .send(self.id, Purpose::Bye, new.clone(), self.peer)
            .is_ok()
        {
            self.bye = Some((new, attempt));
        }
    }

    /// A re-INVITE or UPDATE from the far end.
    fn on_offer_request(&mut self, cx: &mut Ctx<'_>, tx: TransactionId, req: Request) {
        let is_invite = req.method == Method::Invite;
        let has_body = !req.body.is_empty();
        let we_offered = self
            .out_offer
            .as_ref()
            .is_some_and(|o| o.offer.is_some() || o.request.method == Method::Invite);
        let pending_reply = self.in_offer.is_some() || self.unanswered();
        // An early UPDATE with an offer while our INVITE's offer awaits its answer.
        let initial_pending = self.uac.as_ref().is_some_and(|u| !u.done);
        let reject = if is_invite && self.phase != Phase::Confirmed {
            Some(status(491))
        } else if (is_invite || has_body)
            && (we_offered || initial_pending || self.wait_ack.is_some())
        {
            // Glare (RFC 3261 §14.2, RFC 3311 §5.2).
            Some(StatusCode::REQUEST_PENDING)
        } else if (is_invite || has_body) && pending_reply {
            Some(status(500))
        } else {
            None
        };
        if let Some(code) = reject {
            let mut resp = self.response(cx, &req, code);
            if code.as_u16() == 500 {
                let secs = cx.rng.range(0, 10);
                resp.headers.push(HeaderName::RetryAfter, secs.to_string());
            }
            cx.respond(tx, resp);
            return;
        }
        if let Some(min) = interval_too_small(cx, &req) {
            let mut resp = self.response(cx, &req, status(422));
            resp.headers.push(HeaderName::MinSe, min.to_string());
            cx.respond(tx, resp);
            return;
        }
        if is_invite {
            cx.txs.insert(tx, (self.id, Purpose::ServerReinvite));
        }
        if let Some(t) = super::call::contact_uri(&req.headers.contacts().unwrap_or_default()) {
            self.leg.target = t;
        }
        let offer = match sdp_of(&req.headers, &req.body) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(())) => {
                let resp = self
                    .response(cx, &req, StatusCode::BAD_REQUEST)
                    .with_reason("Malformed SDP");
                cx.respond(tx, resp);
                return;
            }
        };
        match offer {
            Some(off)
                if !self
                    .media
                    .remote
                    .as_ref()
                    .is_some_and(|r| same_version(r, &off)) =>
            {
                self.in_offer = Some(InOffer {
                    tx,
                    offer: off.clone(),
                    request: req.clone(),
                });
                cx.event(DialogEvent::ReinviteOffered {
                    id: self.id,
                    offer: off,
                    method: req.method,
                });
            }
            // Unchanged SDP, or none: a refresh. Our current SDP goes back unchanged: as
            // the answer, or for an SDP-less re-INVITE as the offer the ACK answers.
            offer => {
                let mut resp = self.response(cx, &req, StatusCode::OK);
                let body = if is_invite || offer.is_some() {
                    self.media.local.clone()
                } else {
                    None
                };
                if let Some(local) = &body {
                    set_sdp(&mut resp.headers, &mut resp.body, local);
                }
                self.apply_timer_uas(cx, &req, &mut resp);
                cx.respond(tx, resp);
                if is_invite {
                    self.wait_ack = Some(WaitAck {
                        tx,
                        cseq: req.headers.cseq().map(|c| c.seq).unwrap_or(0),
                        offered: if offer.is_none() { body } else { None },
                        initial: false,
                    });
                }
                self.refreshed(cx, false);
            }
        }
    }

    /// The application takes the far end's new offer, with `policy` or the call's own.
    pub(crate) fn accept_offer(&mut self, cx: &mut Ctx<'_>, policy: Option<Policy>) -> Result<()> {
        let cfg = self
            .media
            .cfg
            .clone()
            .ok_or(Error::DialogState("no media configuration"))?;
        let io = self
            .in_offer
            .take()
            .ok_or(Error::DialogState("no offer waits for an answer"))?;
        let policy = policy.unwrap_or(cfg.policy);
        match self.media.sdp.answer(&io.offer, &cfg.caps, &policy) {
            Ok(a) => {
                let mut resp = self.response(cx, &io.request, StatusCode::OK);
                set_sdp(&mut resp.headers, &mut resp.body, &a.sdp);
                self.apply_timer_uas(cx, &io.request, &mut resp);
                cx.respond(io.tx, resp);
                self.media.local = Some(a.sdp);
                self.media.remote = Some(io.offer.clone());
                self.media.agreed = Some(a.agreed.clone());
                if io.request.method == Method::Invite {
                    self.wait_ack = Some(WaitAck {
                        tx: io.tx,
                        cseq: io.request.headers.cseq().map(|c| c.seq).unwrap_or(0),
                        offered: None,
                        initial: false,
                    });
                }
                cx.event(DialogEvent::MediaChanged {
                    id: self.id,
                    remote_sdp: io.offer,
                    agreed: a.agreed,
                });
            }
            Err(na) => {
                let mut resp = self.response(cx, &io.request, na.status());
                resp.headers
                    .push(HeaderName::Warning, na.warning_value(&warn_agent(cx)));
                cx.respond(io.tx, resp);
                cx.event(DialogEvent::ReinviteRejected {
                    id: self.id,
                    code: na.status(),
                    ours: false,
                    media: self.media.agreed.clone(),
                });
            }
        }
        Ok(())
    }

    /// The application refuses the far end's new offer; the old media stays.
    pub(crate) fn reject_offer(&mut self, cx: &mut Ctx<'_>, code: StatusCode) -> Result<()> {
        if code.as_u16() < 300 {
            return Err(Error::DialogState(
                "a rejection needs a code of 300 or more",
            ));
        }
        let io = self
            .in_offer
            .take()
            .ok_or(Error::DialogState("no offer waits for an answer"))?;
        let resp = self.response(cx, &io.request, code);
        cx.respond(io.tx, resp);
        cx.event(DialogEvent::ReinviteRejected {
            id: self.id,
            code,
            ours: false,
            media: self.media.agreed.clone(),
        });
        Ok(())
    }
}
