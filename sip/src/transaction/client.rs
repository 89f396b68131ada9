//! Client transactions: RFC 3261 §17.1.1 (INVITE, with the RFC 6026 Accepted state) and
//! §17.1.2 (non-INVITE).
//!
//! ```text
//! INVITE client                              non-INVITE client
//! Calling --1xx--> Proceeding                Trying --1xx--> Proceeding
//!   | A: retransmit, T1, 2T1, 4T1 … (UDP)      | E: retransmit, T1, 2T1 … ≤ T2 (UDP)
//!   | B (64·T1): Timeout                       | F (64·T1): Timeout
//!   +--2xx--> Accepted --M (64·T1)--> end      +--200-699--> Completed --K (T4; 0 on TCP)--> end
//!   +--300-699, send ACK--> Completed --D (32 s; 0 on TCP)--> end
//! ```
//!
//! The ACK for a non-2xx final is built here (§17.1.1.3); the ACK for a 2xx is the dialog's,
//! which sees every 2xx, retransmissions included, while the transaction is Accepted.

use std::time::{Duration, Instant};

use super::types::{after, due, Outbox, Peer, TimerConfig, TransactionEvent, TransactionId};
use crate::msg::{HeaderName, Method, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InviteState {
    Calling,
    Proceeding,
    Accepted,
    Completed,
    Terminated,
}

/// The INVITE client transaction.
#[derive(Debug)]
pub(crate) struct InviteClient {
    id: TransactionId,
    request: Request,
    peer: Peer,
    cfg: TimerConfig,
    state: InviteState,
    timer_a: Option<Instant>,
    interval_a: Duration,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    ack: Option<Request>,
}

/// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same Request-URI, Call-ID,
/// From, CSeq number and top Via (so the same branch) as the INVITE, the response's To, and
/// the INVITE's Route headers.
pub fn ack_for_non_2xx(invite: &Request, response: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    let h = &invite.headers;
    if let Some(via) = h.list(&HeaderName::Via).next() {
        ack.headers.push(HeaderName::Via, via);
    }
    for name in [HeaderName::MaxForwards, HeaderName::From] {
        if let Some(v) = h.get(&name) {
            ack.headers.push(name, v);
        }
    }
    if let Some(to) = response.headers.get(&HeaderName::To) {
        ack.headers.push(HeaderName::To, to);
    }
    if let Some(v) = h.get(&HeaderName::CallId) {
        ack.headers.push(HeaderName::CallId, v);
    }
    let seq = h.cseq().map(|c| c.seq).unwrap_or(0);
    ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    for r in h.get_all(&HeaderName::Route) {
        ack.headers.push(HeaderName::Route, r);
    }
    ack
}

impl InviteClient {
    pub(crate) fn start(
        id: TransactionId,
        request: Request,
        peer: Peer,
        cfg: TimerConfig,
        now: Instant,
        out: &mut Outbox,
    ) -> Self {
        out.send(peer, request.clone());
        let unreliable = !peer.transport.is_reliable();
        InviteClient {
            id,
            request,
            peer,
            cfg,
            state: InviteState::Calling,
            timer_a: unreliable.then(|| after(now, cfg.t1)),
            interval_a: cfg.t1,
            timer_b: Some(after(now, cfg.t1x64())),
            timer_d: None,
            timer_m: None,
            ack: None,
        }
    }

    pub(crate) fn on_response(&mut self, now: Instant, resp: Response, out: &mut Outbox) {
        let code = resp.status;
        match self.state {
            InviteState::Calling | InviteState::Proceeding => {
                self.timer_a = None;
                self.timer_b = None;
                if code.is_provisional() {
                    self.state = InviteState::Proceeding;
                } else if code.is_success() {
                    self.state = InviteState::Accepted;
                    self.timer_m = Some(after(now, self.cfg.t1x64()));
                } else {
                    let ack = ack_for_non_2xx(&self.request, &resp);
                    out.send(self.peer, ack.clone());
                    self.ack = Some(ack);
                    self.state = InviteState::Completed;
                    self.timer_d = Some(if self.peer.transport.is_reliable() {
                        now
                    } else {
                        after(now, self.cfg.timer_d())
                    });
                }
                out.event(TransactionEvent::Response {
                    id: self.id,
                    response: resp,
                });
            }
            // Every 2xx goes up so that the dialog can ACK each one (RFC 6026 §8.4).
            InviteState::Accepted if code.is_success() => out.event(TransactionEvent::Response {
                id: self.id,
                response: resp,
            }),
            InviteState::Completed if code.is_final() && !code.is_success() => {
                if let Some(ack) = &self.ack {
                    out.send(self.peer, ack.clone());
                }
            }
            _ => {}
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if due(self.timer_a, now) {
            out.send(self.peer, self.request.clone());
            self.interval_a = self.interval_a.saturating_mul(2);
            self.timer_a = Some(after(now, self.interval_a));
        }
        if due(self.timer_b, now) {
            out.event(TransactionEvent::Timeout { id: self.id });
            self.terminate();
        }
        if due(self.timer_d, now) || due(self.timer_m, now) {
            self.terminate();
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(TransactionEvent::TransportError { id: self.id });
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = InviteState::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        [self.timer_a, self.timer_b, self.timer_d, self.timer_m]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == InviteState::Terminated
    }

    /// True until a final response, a timeout or a transport error ends the exchange.
    pub(crate) fn awaiting_final(&self) -> bool {
        matches!(self.state, InviteState::Calling | InviteState::Proceeding)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// The non-INVITE client transaction.
#[derive(Debug)]
pub(crate) struct NonInviteClient {
    id: TransactionId,
    request: Request,
    peer: Peer,
    cfg: TimerConfig,
    state: NonInviteState,
    timer_e: Option<Instant>,
    interval_e: Duration,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl NonInviteClient {
    pub(crate) fn start(
        id: TransactionId,
        request: Request,
        peer: Peer,
        cfg: TimerConfig,
        now: Instant,
        out: &mut Outbox,
    ) -> Self {
        out.send(peer, request.clone());
        let unreliable = !peer.transport.is_reliable();
        NonInviteClient {
            id,
            request,
            peer,
            cfg,
            state: NonInviteState::Trying,
            timer_e: unreliable.then(|| after(now, cfg.t1)),
            interval_e: cfg.t1,
            timer_f: Some(after(now, cfg.t1x64())),
            timer_k: None,
        }
    }

    pub(crate) fn on_response(&mut self, now: Instant, resp: Response, out: &mut Outbox) {
        match self.state {
            NonInviteState::Trying | NonInviteState::Proceeding => {
                if resp.status.is_provisional() {
                    self.state = NonInviteState::Proceeding;
                } else {
                    self.state = NonInviteState::Completed;
                    self.timer_e = None;
                    self.timer_f = None;
                    self.timer_k = Some(if self.peer.transport.is_reliable() {
                        now
                    } else {
                        after(now, self.cfg.t4)
                    });
                }
                out.event(TransactionEvent::Response {
                    id: self.id,
                    response: resp,
                });
            }
            // Retransmitted finals are absorbed.
            NonInviteState::Completed | NonInviteState::Terminated => {}
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if due(self.timer_e, now) {
            out.send(self.peer, self.request.clone());
            self.interval_e = if self.state == NonInviteState::Proceeding {
                self.cfg.t2
            } else {
                self.interval_e.saturating_mul(2).min(self.cfg.t2)
            };
            self.timer_e = Some(after(now, self.interval_e));
        }
        if due(self.timer_f, now) {
            out.event(TransactionEvent::Timeout { id: self.id });
            self.terminate();
        }
        if due(self.timer_k, now) {
            self.terminate();
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(TransactionEvent::TransportError { id: self.id });
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = NonInviteState::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        [self.timer_e, self.timer_f, self.timer_k]
            .into_iter()
            .flatten()
            .min()
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == NonInviteState::Terminated
    }

    /// True until a final response, a timeout or a transport error ends the exchange.
    pub(crate) fn awaiting_final(&self) -> bool {
        matches!(
            self.state,
            NonInviteState::Trying | NonInviteState::Proceeding
        )
    }
}
