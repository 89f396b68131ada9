//! The call as UAC (RFC 3261 §13.2): the initial INVITE, early dialogs and PRACK (RFC 3262
//! §4), the 2xx and the ACK we build for it (§13.2.2.4), forks (a second 2xx with another
//! To tag is ACKed and sent BYE), CANCEL (§9.1), redirects (§8.1.3.4), challenges (§22.2)
//! and 422 Session Interval Too Small (RFC 4028 §7.2).

use std::net::SocketAddr;

use super::call::{
    sdp_of, set_sdp, Call, CancelState, Ctx, Leg, Media, Phase, Purpose, Role, UacInvite,
};
use super::types::{CallParams, DialogEvent, DialogId, EndReason};
use crate::auth::{AuthAttempt, DigestClient};
use crate::error::{Error, Result};
use crate::msg::{HeaderName, Host, Method, Request, Response, StatusCode, Uri};
use crate::sdp::{accept_answer, LocalSdp};
use crate::transaction::{Peer, TransactionId, Transport};

/// Where to send a request for `uri` when it names an IP address; host names need RFC 3263
/// resolution, which is the shell's business, so they keep the current next hop.
pub(crate) fn peer_for_uri(uri: &Uri, current: Peer) -> Peer {
    let Some(sip) = uri.as_sip() else {
        return current;
    };
    let ip = match sip.host {
        Host::Ipv4(a) => std::net::IpAddr::V4(a),
        Host::Ipv6(a) => std::net::IpAddr::V6(a),
        Host::Domain(_) => return current,
    };
    let transport = match (sip.secure, sip.transport().as_deref()) {
        (true, _) | (_, Some("tls")) => Transport::Tls,
        (_, Some("tcp")) => Transport::Tcp,
        _ => Transport::Udp,
    };
    let default_port = if transport == Transport::Tls {
        5061
    } else {
        5060
    };
    Peer {
        addr: SocketAddr::new(ip, sip.port.unwrap_or(default_port)),
        transport,
    }
}

/// Builds and sends the INVITE of a new outgoing call.
pub(crate) fn start_call(cx: &mut Ctx<'_>, id: DialogId, params: CallParams) -> Result<Call> {
    let call_id = format!("{}@{}", cx.rng.hex(10), cx.cfg.agent.host);
    let local_tag = cx.rng.hex(5);
    let mut sdp = LocalSdp::new(cx.rng.next_u64() >> 24, 1);
    let offer = (!params.delayed_offer).then(|| sdp.offer(&params.media.caps, params.media.offer));
    let mut call = Call {
        id,
        role: Role::Uac,
        peer: params.peer,
        call_id,
        local_tag,
        local: params.from,
        remote: params.to,
        leg: Leg {
            remote_tag: String::new(),
            target: params.target,
            routes: Vec::new(),
        },
        local_cseq: 1,
        remote_cseq: None,
        phase: Phase::Calling,
        media: Media {
            cfg: Some(params.media),
            sdp,
            local: None,
            remote: None,
            agreed: None,
        },
        auth: params
            .credentials
            .map(|c| DigestClient::new(c, cx.rng.next_u64())),
        peer_allows_update: false,
        peer_supports_timer: false,
        uac: None,
        uas: None,
        out_offer: None,
        in_offer: None,
        wait_ack: None,
        last_ack: None,
        glare: None,
        timer: None,
        bye: None,
        ended_at: None,
    };
    let leg = call.leg.clone();
    let mut req = call.build_on(cx, Method::Invite, 1, &leg);
    let st = cx.cfg.session_timer;
    if let Some(se) = st.session_expires {
        req.headers
            .push(HeaderName::SessionExpires, se.max(st.min_se).to_string());
        req.headers.push(HeaderName::MinSe, st.min_se.to_string());
    }
    for (n, v) in params.headers {
        req.headers.push(n, v);
    }
    if let Some(o) = &offer {
        set_sdp(&mut req.headers, &mut req.body, o);
    }
    let tx = cx.send(id, Purpose::Invite, req.clone(), call.peer)?;
    call.uac = Some(UacInvite {
        tx,
        request: req,
        offer,
        redirects: 0,
        attempt: AuthAttempt::default(),
        se_retries: 0,
        provisional: false,
        cancel: CancelState::None,
        confirmed_tag: None,
        acks: Default::default(),
        rseq: Default::default(),
        early_answer: None,
        done: false,
        alternates: Vec::new(),
    });
    Ok(call)
}

/// The CANCEL for `invite` (RFC 3261 §9.1): its Request-URI, top Via, From, To, Call-ID,
/// Route and CSeq number.
fn cancel_for(invite: &Request, user_agent: &str) -> Request {
    let mut c = Request::new(Method::Cancel, invite.uri.clone());
    let h = &invite.headers;
    if let Some(v) = h.list(&HeaderName::Via).next() {
        c.headers.push(HeaderName::Via, v);
    }
    c.headers
        .push(HeaderName::MaxForwards, super::types::MAX_FORWARDS);
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        if let Some(v) = h.get(&name) {
            c.headers.push(name, v);
        }
    }
    let seq = h.cseq().map(|c| c.seq).unwrap_or(1);
    c.headers.push(HeaderName::CSeq, format!("{seq} CANCEL"));
    for r in h.get_all(&HeaderName::Route) {
        c.headers.push(HeaderName::Route, r);
    }
    c.headers.push(HeaderName::UserAgent, user_agent);
    c
}

fn has_tag(tags: &[&str], tag: &str) -> bool {
    tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
}

impl Call {
    /// The application cancels our unanswered INVITE.
    pub(crate) fn cancel(&mut self, cx: &mut Ctx<'_>) -> Result<()> {
        let Some(uac) = &mut self.uac else {
            return Err(Error::DialogState("only the caller can cancel"));
        };
        if uac.done || self.phase == Phase::Ended {
            return Err(Error::DialogState(
                "the INVITE already has a final response",
            ));
        }
        match uac.cancel {
            CancelState::None if uac.provisional => self.send_cancel(cx),
            CancelState::None => uac.cancel = CancelState::Pending,
            _ => {}
        }
        Ok(())
    }

    fn send_cancel(&mut self, cx: &mut Ctx<'_>) {
        let Some(uac) = &mut self.uac else { return };
        let c = cancel_for(&uac.request, &cx.cfg.agent.user_agent);
        uac.cancel = CancelState::Sent;
        let _ = cx.send(self.id, Purpose::Cancel, c, self.peer);
    }

    /// A response in our INVITE client transaction `tx`.
    pub(crate) fn on_invite_response(
        &mut self,
        cx: &mut Ctx<'_>,
        tx: TransactionId,
        resp: Response,
    ) {
        let current = self.uac.as_ref().is_some_and(|u| u.tx == tx);
        let code = resp.status;
        if code.is_success() {
            self.on_invite_2xx(cx, resp);
        } else if current && code.is_provisional() {
            self.on_invite_provisional(cx, resp);
        } else if current {
            self.on_invite_failure(cx, resp);
        }
    }

    fn on_invite_provisional(&mut self, cx: &mut Ctx<'_>, resp: Response) {
        let Some(uac) = &mut self.uac else { return };
        uac.provisional = true;
        if uac.cancel == CancelState::Pending {
            self.send_cancel(cx);
        }
        if resp.status == StatusCode::TRYING || self.phase == Phase::Ended {
            return;
        }
        let Some(uac) = &mut self.uac else { return };
        let leg = Leg::from_response(&resp, &uac.request.uri);
        let h = &resp.headers;
        let reliable = has_tag(&h.require(), "100rel");
        let rseq = h
            .get(&HeaderName::RSeq)
            .and_then(|v| v.trim().parse::<u32>().ok());
        if reliable && !leg.remote_tag.is_empty() {
            let Some(rseq) = rseq else { return };
            if uac
                .rseq
                .get(&leg.remote_tag)
                .is_some_and(|&last| rseq <= last)
            {
                // A retransmission: our PRACK transaction takes care of itself.
                return;
            }
            uac.rseq.insert(leg.remote_tag.clone(), rseq);
        }
        let remote_sdp = sdp_of(h, &resp.body).and_then(|r| r.ok());
        if uac.offer.is_some() {
            if let Some(s) = &remote_sdp {
                uac.early_answer = Some(s.clone());
            }
        }
        let invite_cseq = uac.request.headers.cseq().map(|c| c.seq).unwrap_or(1);
        if !leg.remote_tag.is_empty() && self.phase == Phase::Calling {
            self.phase = Phase::Early;
            self.leg = leg.clone();
        }
        self.learn_peer(&resp);
        if reliable && !leg.remote_tag.is_empty() {
            if let Some(rseq) = rseq {
                self.local_cseq = self.local_cseq.wrapping_add(1);
                let mut prack = self.build_on(cx, Method::Prack, self.local_cseq, &leg);
                prack
                    .headers
                    .push(HeaderName::RAck, format!("{rseq} {invite_cseq} INVITE"));
                let _ = cx.send(self.id, Purpose::Prack, prack, self.peer);
            }
        }
        cx.event(DialogEvent::Early {
            id: self.id,
            status: resp.status,
            remote_sdp,
        });
    }

    /// Remembers what the far end can do: UPDATE (for refreshes) and session timers.
    pub(crate) fn learn_peer(&mut self, resp: &Response) {
        let h = &resp.headers;
        if h.contains(&HeaderName::Allow) {
            self.peer_allows_update = h.allow().contains(&Method::Update);
        }
        if has_tag(&h.supported(), "timer") || has_tag(&h.require(), "timer") {
            self.peer_supports_timer = true;
        }
    }

    fn on_invite_2xx(&mut self, cx: &mut Ctx<'_>, resp: Response) {
        let Some(uac) = &mut self.uac else { return };
        let leg = Leg::from_response(&resp, &uac.request.uri);
        if let Some(ack) = uac.acks.get(&leg.remote_tag) {
            // A retransmitted 2xx: the ACK was lost (RFC 3261 §13.2.2.4).
            cx.tl.send_stateless(ack.clone(), self.peer);
            return;
        }
        let invite = uac.request.clone();
        if uac.confirmed_tag.is_some() || self.phase == Phase::Ended {
            // Another fork answered too (or the call is already over): confirm and end
            // that dialog at once.
            let ack = self.ack_for(cx, &invite, &leg);
            cx.tl.send_stateless(ack.clone(), self.peer);
            let seq = invite.headers.cseq().map(|c| c.seq).unwrap_or(1);
            let bye = self.build_on(cx, Method::Bye, seq.wrapping_add(1), &leg);
            let _ = cx.send(self.id, Purpose::ForkBye, bye, self.peer);
            if let Some(uac) = &mut self.uac {
                uac.acks.insert(leg.remote_tag.clone(), ack);
            }
            return;
        }
        uac.confirmed_tag = Some(leg.remote_tag.clone());
        uac.done = true;
        let offer = uac.offer.clone();
        let early = uac.early_answer.clone();
        let cancelled = uac.cancel != CancelState::None;
        self.leg = leg.clone();
        self.phase = Phase::Confirmed;
        self.learn_peer(&resp);
        let mut ack = self.ack_for(cx, &invite, &leg);
        let body = sdp_of(&resp.headers, &resp.body).and_then(|r| r.ok());
        let ok = match (&offer, self.media.cfg.clone()) {
            (_, None) => false,
            (Some(offer), Some(cfg)) => match body.or(early) {
                Some(answer) => match accept_answer(offer, &answer, &cfg.caps) {
                    Ok(agreed) => {
                        self.media.local = Some(offer.clone());
                        self.media.remote = Some(answer);
                        self.media.agreed = Some(agreed);
                        true
                    }
                    Err(_) => false,
                },
                None => false,
            },
            // Delayed offer: the 2xx holds the offer and our ACK the answer.
            (None, Some(cfg)) => match body {
                Some(their_offer) => {
                    match self.media.sdp.answer(&their_offer, &cfg.caps, &cfg.policy) {
                        Ok(a) => {
                            set_sdp(&mut ack.headers, &mut ack.body, &a.sdp);
                            self.media.local = Some(a.sdp);
                            self.media.remote = Some(their_offer);
                            self.media.agreed = Some(a.agreed);
                            true
                        }
                        Err(_) => false,
                    }
                }
                None => false,
            },
        };
        cx.tl.send_stateless(ack.clone(), self.peer);
        let seq = invite.headers.cseq().map(|c| c.seq).unwrap_or(1);
        self.last_ack = Some((seq, ack.clone()));
        if let Some(uac) = &mut self.uac {
            uac.acks.insert(leg.remote_tag.clone(), ack);
        }
        if cancelled {
            self.hang_up(cx, EndReason::Cancel);
        } else if !ok {
            self.hang_up(cx, EndReason::NoCommonMedia);
        } else {
            self.apply_timer_uac(cx, &resp);
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

    fn on_invite_failure(&mut self, cx: &mut Ctx<'_>, resp: Response) {
        let code = resp.status.as_u16();
        let Some(uac) = &mut self.uac else { return };
        uac.done = true;
        let cancelled = uac.cancel != CancelState::None;
        if !cancelled && self.phase != Phase::Ended {
            let retry = match code {
                401 | 407 => self.retry_challenged_invite(cx, &resp),
                422 => self.retry_interval_too_small(cx, &resp),
                503 => self.fail_over(cx),
                300..=399 => self.follow_redirect(cx, &resp),
                _ => false,
            };
            if retry {
                return;
            }
        }
        let reason = if cancelled && code == 487 {
            EndReason::Cancel
        } else {
            EndReason::Rejected(resp.status)
        };
        self.end(cx, reason);
    }

    /// Sends `req` as the new attempt of our INVITE.
    fn reissue_invite(&mut self, cx: &mut Ctx<'_>, req: Request) -> bool {
        match cx.send(self.id, Purpose::Invite, req.clone(), self.peer) {
            Ok(tx) => {
                if let Some(uac) = &mut self.uac {
                    uac.tx = tx;
                    uac.request = req;
                    uac.done = false;
                    uac.provisional = false;
                }
                true
            }
            Err(_) => false,
        }
    }

    fn retry_challenged_invite(&mut self, cx: &mut Ctx<'_>, resp: &Response) -> bool {
        let (Some(auth), Some(uac)) = (&mut self.auth, &mut self.uac) else {
            return false;
        };
        if !auth.on_challenge(resp, &mut uac.attempt) {
            return false;
        }
        let old = uac.request.clone();
        let req = self.resend_of(cx, &old);
        self.reissue_invite(cx, req)
    }

    fn retry_interval_too_small(&mut self, cx: &mut Ctx<'_>, resp: &Response) -> bool {
        let Some(uac) = &mut self.uac else {
            return false;
        };
        let Ok(Some(min)) = resp.headers.min_se() else {
            return false;
        };
        if uac.se_retries >= 2 {
            return false;
        }
        uac.se_retries += 1;
        let old = uac.request.clone();
        let mut req = self.resend_of(cx, &old);
        req.headers.set(HeaderName::SessionExpires, min.to_string());
        req.headers.set(HeaderName::MinSe, min.to_string());
        self.reissue_invite(cx, req)
    }

    fn follow_redirect(&mut self, cx: &mut Ctx<'_>, resp: &Response) -> bool {
        let Some(uac) = &mut self.uac else {
            return false;
        };
        if uac.redirects >= cx.cfg.max_redirects {
            return false;
        }
        let mut contacts: Vec<(f32, Uri)> = resp
            .headers
            .contacts()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.address())
            .map(|a| {
                let q = a
                    .params
                    .get("q")
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                (q, a.uri.clone())
            })
            .filter(|(_, u)| *u != uac.request.uri)
            .collect();
        contacts.sort_by(|a, b| b.0.total_cmp(&a.0));
        let Some((_, target)) = contacts.into_iter().next() else {
            return false;
        };
        uac.redirects += 1;
        let old = uac.request.clone();
        let mut req = self.resend_of(cx, &old);
        req.uri = target.clone();
        self.leg.target = target.clone();
        self.peer = peer_for_uri(&target, self.peer);
        if let Some(auth) = &mut self.auth {
            if auth.has_credentials() {
                auth.authorize(&mut req);
            }
        }
        cx.event(DialogEvent::Redirected {
            id: self.id,
            target,
        });
        self.reissue_invite(cx, req)
    }

    /// Sends the INVITE to the next hop left, if any (RFC 3263 §4.3: after a 503 or a
    /// timeout). Only before an early dialog exists: once a server answered 18x, the call
    /// is that server's, and trying elsewhere could ring twice.
    fn fail_over(&mut self, cx: &mut Ctx<'_>) -> bool {
        if self.phase != Phase::Calling {
            return false;
        }
        let Some(uac) = &mut self.uac else {
            return false;
        };
        if uac.alternates.is_empty() {
            return false;
        }
        let next = uac.alternates.remove(0);
        let old = uac.request.clone();
        self.peer = next;
        // A new transaction to a new server: new branch (with its transport), next CSeq.
        let req = self.resend_of(cx, &old);
        self.reissue_invite(cx, req)
    }

    /// Timer B, or a transport failure, in our INVITE client transaction.
    pub(crate) fn on_invite_timeout(
        &mut self,
        cx: &mut Ctx<'_>,
        tx: TransactionId,
        transport: bool,
    ) {
        let Some(uac) = &self.uac else { return };
        if uac.tx != tx || uac.done {
            return;
        }
        if uac.cancel == CancelState::None && self.fail_over(cx) {
            return;
        }
        let Some(uac) = &self.uac else { return };
        let reason = if uac.cancel != CancelState::None {
            EndReason::Cancel
        } else if transport {
            EndReason::Error("transport failure")
        } else {
            EndReason::Timeout
        };
        self.end(cx, reason);
    }

    /// A 2xx to INVITE that matched no transaction (it outlived Timer M): ACK it again.
    pub(crate) fn on_stray_2xx(&mut self, cx: &mut Ctx<'_>, resp: Response) {
        let seq = resp.headers.cseq().map(|c| c.seq).ok();
        let initial = self
            .uac
            .as_ref()
            .and_then(|u| u.request.headers.cseq().ok())
            .map(|c| c.seq);
        if seq.is_some() && seq == initial {
            self.on_invite_2xx(cx, resp);
        } else if let Some((s, ack)) = &self.last_ack {
            if Some(*s) == seq {
                cx.tl.send_stateless(ack.clone(), self.peer);
            }
        }
    }
}
