//! The call as UAS (RFC 3261 §13.3): a new INVITE becomes a call, the application rings,
//! accepts or rejects it; reliable provisional responses are retransmitted until PRACK
//! (RFC 3262 §3); the ACK completes a delayed offer; CANCEL gets 487 (§9.2).

use super::call::{
    after, contact_uri, sdp_of, set_sdp, Call, Ctx, Leg, Media, Phase, Purpose, Reliable, Role,
    UasInvite, WaitAck,
};
use super::types::{DialogEvent, DialogId, EndReason, MediaConfig};
use crate::error::{Error, Result};
use crate::msg::{HeaderName, Method, Request, Response, StatusCode};
use crate::sdp::{accept_answer, LocalSdp};
use crate::transaction::{Peer, TransactionId};

fn has_tag(tags: &[&str], tag: &str) -> bool {
    tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
}

/// The 422 we owe a request whose Session-Expires is below our Min-SE (RFC 4028 §8.1).
pub(crate) fn interval_too_small(cx: &Ctx<'_>, req: &Request) -> Option<u32> {
    let se = req.headers.session_expires().ok().flatten()?;
    // The configured Min-SE, not max(90, it): a UAC honouring our lower Min-SE would
    // otherwise get 422 "90" and run a 90 s session it never asked for.
    let min = cx.cfg.session_timer.min_se.max(1);
    (se.delta < min).then_some(min)
}

/// A call for an INVITE outside any dialog that passed validation and authentication.
/// `None` when it was answered with an error here (bad SDP, 422).
pub(crate) fn new_incoming(
    cx: &mut Ctx<'_>,
    id: DialogId,
    tx: TransactionId,
    req: Request,
    peer: Peer,
) -> Option<Call> {
    let local_tag = cx.rng.hex(5);
    let reply = |cx: &mut Ctx<'_>, code: u16, reason: &str, extra: Option<(HeaderName, String)>| {
        let status = StatusCode::new(code).unwrap_or(StatusCode::BAD_REQUEST);
        let mut r = Response::for_request(&req, status).with_reason(reason);
        r.set_to_tag(&local_tag);
        if let Some((n, v)) = extra {
            r.headers.push(n, v);
        }
        super::call::decorate(&mut r, &cx.cfg.agent, &req.method);
        cx.respond(tx, r);
    };
    let offer = match sdp_of(&req.headers, &req.body) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(())) => {
            reply(cx, 400, "Malformed SDP", None);
            return None;
        }
    };
    if let Some(min) = interval_too_small(cx, &req) {
        reply(
            cx,
            422,
            "Session Interval Too Small",
            Some((HeaderName::MinSe, min.to_string())),
        );
        return None;
    }
    let (Ok(from), Ok(to), Ok(call_id), Ok(cseq)) = (
        req.headers.from(),
        req.headers.to(),
        req.headers.call_id(),
        req.headers.cseq(),
    ) else {
        reply(cx, 400, "Bad Request", None);
        return None;
    };
    let h = &req.headers;
    let reliable = has_tag(&h.require(), "100rel")
        || (cx.cfg.reliable_provisional && has_tag(&h.supported(), "100rel"));
    let remote_tag = from.tag().unwrap_or("").to_owned();
    let mut remote = from.clone();
    remote.params.remove("tag");
    let mut local = to.clone();
    local.params.remove("tag");
    let leg = Leg {
        remote_tag,
        target: contact_uri(&h.contacts().unwrap_or_default()).unwrap_or_else(|| from.uri.clone()),
        routes: h.record_routes().unwrap_or_default(),
    };
    let call = Call {
        id,
        role: Role::Uas,
        peer,
        call_id: call_id.to_owned(),
        local_tag,
        local,
        remote,
        leg,
        local_cseq: cx.rng.range(1, 1 << 16) as u32,
        remote_cseq: Some(cseq.seq),
        phase: Phase::Calling,
        media: Media {
            cfg: None,
            sdp: LocalSdp::new(cx.rng.next_u64() >> 24, 1),
            local: None,
            remote: None,
            agreed: None,
        },
        auth: None,
        peer_allows_update: h.allow().contains(&Method::Update),
        peer_supports_timer: has_tag(&h.supported(), "timer") || has_tag(&h.require(), "timer"),
        uac: None,
        uas: Some(UasInvite {
            tx,
            request: req.clone(),
            offer: offer.clone(),
            reliable,
            rel: None,
            next_rseq: cx.rng.range(1, 1 << 30) as u32,
            final_sent: false,
        }),
        out_offer: None,
        in_offer: None,
        wait_ack: None,
        last_ack: None,
        glare: None,
        timer: None,
        bye: None,
        ended_at: None,
    };
    cx.txs.insert(tx, (id, Purpose::ServerInvite));
    cx.event(DialogEvent::Incoming {
        id,
        request: Box::new(req),
        peer,
        offer,
    });
    Some(call)
}

impl Call {
    fn open_invite(&mut self) -> Result<&mut UasInvite> {
        if self.phase == Phase::Ended {
            return Err(Error::DialogState("the call has ended"));
        }
        match &mut self.uas {
            Some(u) if !u.final_sent => Ok(u),
            Some(_) => Err(Error::DialogState("the INVITE was already answered")),
            None => Err(Error::DialogState("not an incoming call")),
        }
    }

    /// 180 Ringing; reliable (RFC 3262) when the caller asked for it.
    pub(crate) fn ring(&mut self, cx: &mut Ctx<'_>) -> Result<()> {
        let t1 = cx.cfg.timers.t1;
        let now = cx.now;
        let uas = self.open_invite()?;
        if uas.rel.is_some() {
            return Err(Error::DialogState(
                "a reliable provisional response awaits its PRACK",
            ));
        }
        let req = uas.request.clone();
        let (tx, reliable) = (uas.tx, uas.reliable);
        let rseq = uas.next_rseq;
        let mut resp = self.response(cx, &req, StatusCode::RINGING);
        if reliable {
            resp.headers.push(HeaderName::Require, "100rel");
            resp.headers.push(HeaderName::RSeq, rseq.to_string());
            if let Some(uas) = &mut self.uas {
                uas.next_rseq = rseq.wrapping_add(1);
                uas.rel = Some(Reliable {
                    response: resp.clone(),
                    rseq,
                    next: after(now, t1),
                    interval: t1,
                    deadline: after(now, t1.saturating_mul(64)),
                });
            }
        }
        cx.respond(tx, resp);
        self.phase = Phase::Early;
        Ok(())
    }

    /// 200 OK with our answer, or with our offer when the INVITE had none.
    pub(crate) fn accept(&mut self, cx: &mut Ctx<'_>, media: MediaConfig) -> Result<()> {
        let uas = self.open_invite()?;
        let (tx, req, offer) = (uas.tx, uas.request.clone(), uas.offer.clone());
        let cseq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let mut resp = self.response(cx, &req, StatusCode::OK);
        let offered = match &offer {
            Some(off) => match self.media.sdp.answer(off, &media.caps, &media.policy) {
                Ok(a) => {
                    set_sdp(&mut resp.headers, &mut resp.body, &a.sdp);
                    self.media.local = Some(a.sdp);
                    self.media.remote = Some(off.clone());
                    self.media.agreed = Some(a.agreed);
                    None
                }
                Err(na) => {
                    let mut r = self.response(cx, &req, na.status());
                    r.headers
                        .push(HeaderName::Warning, na.warning_value(&warn_agent(cx)));
                    self.finish_invite(cx, tx, r);
                    self.end(cx, EndReason::NoCommonMedia);
                    return Ok(());
                }
            },
            None => {
                let o = self.media.sdp.offer(&media.caps, media.offer);
                set_sdp(&mut resp.headers, &mut resp.body, &o);
                Some(o)
            }
        };
        self.media.cfg = Some(media);
        self.apply_timer_uas(cx, &req, &mut resp);
        self.finish_invite(cx, tx, resp);
        self.phase = Phase::Confirmed;
        self.wait_ack = Some(WaitAck {
            tx,
            cseq,
            offered,
            initial: true,
        });
        Ok(())
    }

    /// A final non-2xx to the incoming INVITE.
    pub(crate) fn reject(
        &mut self,
        cx: &mut Ctx<'_>,
        code: StatusCode,
        headers: Vec<(HeaderName, String)>,
    ) -> Result<()> {
        if code.as_u16() < 300 {
            return Err(Error::DialogState(
                "a rejection needs a code of 300 or more",
            ));
        }
        let uas = self.open_invite()?;
        let (tx, req) = (uas.tx, uas.request.clone());
        let mut resp = self.response(cx, &req, code);
        for (name, value) in headers {
            resp.headers.push(name, value);
        }
        self.finish_invite(cx, tx, resp);
        self.end(cx, EndReason::Rejected(code));
        Ok(())
    }

    fn finish_invite(&mut self, cx: &mut Ctx<'_>, tx: TransactionId, resp: Response) {
        if let Some(uas) = &mut self.uas {
            uas.final_sent = true;
            uas.rel = None;
        }
        cx.respond(tx, resp);
    }

    /// True while the initial INVITE of an incoming call waits for its final response.
    pub(crate) fn unanswered(&self) -> bool {
        self.uas.as_ref().is_some_and(|u| !u.final_sent)
    }

    /// 487 to the incoming INVITE if it is still open (CANCEL, BYE).
    pub(crate) fn terminate_invite(&mut self, cx: &mut Ctx<'_>) -> bool {
        let Some(uas) = &self.uas else { return false };
        if uas.final_sent {
            return false;
        }
        let (tx, req) = (uas.tx, uas.request.clone());
        let resp = self.response(cx, &req, StatusCode::REQUEST_TERMINATED);
        self.finish_invite(cx, tx, resp);
        true
    }

    /// A CANCEL for our INVITE server transaction `invite_tx` (RFC 3261 §9.2).
    pub(crate) fn on_cancel(&mut self, cx: &mut Ctx<'_>, invite_tx: TransactionId) {
        if self.uas.as_ref().is_some_and(|u| u.tx == invite_tx) {
            if self.terminate_invite(cx) {
                self.end(cx, EndReason::Cancel);
            }
        } else if self.in_offer.as_ref().is_some_and(|o| o.tx == invite_tx) {
            if let Some(o) = self.in_offer.take() {
                let resp = self.response(cx, &o.request, StatusCode::REQUEST_TERMINATED);
                cx.respond(o.tx, resp);
            }
        }
    }

    /// PRACK (RFC 3262 §3): 200 when it acknowledges our outstanding reliable 18x, else 481.
    pub(crate) fn on_prack(&mut self, cx: &mut Ctx<'_>, tx: TransactionId, req: &Request) {
        let rack: Vec<String> = req
            .headers
            .get(&HeaderName::RAck)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let matches = self.uas.as_ref().is_some_and(|u| {
            let Some(rel) = &u.rel else { return false };
            let invite_seq = u.request.headers.cseq().map(|c| c.seq).ok();
            rack.first().and_then(|s| s.parse::<u32>().ok()) == Some(rel.rseq)
                && rack.get(1).and_then(|s| s.parse::<u32>().ok()) == invite_seq
                && rack.get(2).map(String::as_str) == Some("INVITE")
        });
        let code = if matches {
            if let Some(u) = &mut self.uas {
                u.rel = None;
            }
            StatusCode::OK
        } else {
            StatusCode::new(481).unwrap_or(StatusCode::BAD_REQUEST)
        };
        let resp = self.response(cx, req, code);
        cx.respond(tx, resp);
    }

    /// Retransmits a reliable 18x, or gives up on its PRACK after 64·T1 (RFC 3262 §3).
    pub(crate) fn on_reliable_timer(&mut self, cx: &mut Ctx<'_>) {
        let now = cx.now;
        let Some(uas) = &mut self.uas else { return };
        let Some(rel) = &mut uas.rel else { return };
        if now >= rel.deadline {
            let (tx, req) = (uas.tx, uas.request.clone());
            let resp = self
                .response(
                    cx,
                    &req,
                    StatusCode::new(500).unwrap_or(StatusCode::BAD_REQUEST),
                )
                .with_reason("Reliable Provisional Response Not Acknowledged");
            self.finish_invite(cx, tx, resp);
            self.end(cx, EndReason::Timeout);
        } else if now >= rel.next {
            rel.interval = rel.interval.saturating_mul(2);
            rel.next = after(now, rel.interval);
            let (tx, resp) = (uas.tx, rel.response.clone());
            cx.respond(tx, resp);
        }
    }

    /// The ACK for a 2xx of ours (RFC 3261 §13.3.1.4); it carries the answer when our 2xx
    /// carried the offer.
    pub(crate) fn on_ack(&mut self, cx: &mut Ctx<'_>, ack: &Request) {
        let seq = ack.headers.cseq().map(|c| c.seq).ok();
        let Some(w) = self.wait_ack.take_if(|w| Some(w.cseq) == seq) else {
            return;
        };
        let Some(cfg) = self.media.cfg.clone() else {
            return;
        };
        let answer = sdp_of(&ack.headers, &ack.body).and_then(|r| r.ok());
        if let Some(offer) = w.offered {
            match answer {
                Some(ans)
                    if !w.initial
                        && self
                            .media
                            .remote
                            .as_ref()
                            .is_some_and(|r| super::call::same_version(r, &ans)) => {}
                Some(ans) => match accept_answer(&offer, &ans, &cfg.caps) {
                    Ok(agreed) => {
                        self.media.local = Some(offer);
                        self.media.remote = Some(ans.clone());
                        self.media.agreed = Some(agreed.clone());
                        let (id, remote_sdp) = (self.id, ans);
                        cx.event(if w.initial {
                            DialogEvent::Confirmed {
                                id,
                                remote_sdp,
                                agreed,
                            }
                        } else {
                            DialogEvent::MediaChanged {
                                id,
                                remote_sdp,
                                agreed,
                            }
                        });
                    }
                    Err(_) => self.hang_up(cx, EndReason::NoCommonMedia),
                },
                None if w.initial => self.hang_up(cx, EndReason::NoCommonMedia),
                None => {}
            }
            return;
        }
        if w.initial {
            if let (Some(remote_sdp), Some(agreed)) =
                (self.media.remote.clone(), self.media.agreed.clone())
            {
                cx.event(DialogEvent::Confirmed {
                    id: self.id,
                    remote_sdp,
                    agreed,
                });
            }
        }
    }

    /// Our 2xx was retransmitted for 64·T1 without an ACK: end the session with BYE.
    pub(crate) fn on_ack_timeout(&mut self, cx: &mut Ctx<'_>, tx: TransactionId) {
        if self.wait_ack.as_ref().is_some_and(|w| w.tx == tx) {
            self.wait_ack = None;
            self.hang_up(cx, EndReason::Timeout);
        }
    }
}

/// The agent named in our Warning headers.
pub(crate) fn warn_agent(cx: &Ctx<'_>) -> String {
    match cx.cfg.agent.port {
        Some(p) => format!("{}:{p}", cx.cfg.agent.host),
        None => cx.cfg.agent.host.to_string(),
    }
}
