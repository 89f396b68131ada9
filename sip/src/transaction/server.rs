//! Server transactions: RFC 3261 §17.2.1 (INVITE, with the RFC 6026 Accepted state) and
//! §17.2.2 (non-INVITE).
//!
//! ```text
//! INVITE server
//! Proceeding --300-699--> Completed --ACK--> Confirmed --I (T4; 0 on TCP)--> end
//!   | 100 Trying after 200 ms      | G: resend final, T1, 2T1 … ≤ T2 (UDP)
//!   | INVITE again: resend 1xx     | H (64·T1): Timeout (no ACK)
//!   +--2xx--> Accepted --L (64·T1)--> end
//!               | 2xx resent at T1, 2T1 … ≤ T2 until the ACK (UDP; RFC 3261 §13.3.1.4)
//!               | no ACK by L: AckTimeout
//!
//! non-INVITE server
//! Trying --1xx--> Proceeding --200-699--> Completed --J (64·T1; 0 on TCP)--> end
//!   (retransmissions: absorbed in Trying, answered with the last response after)
//! ```
//!
//! RFC 6026 leaves 2xx retransmission to the UAS core; it is done here, in the transaction
//! that sent the 2xx, because that is where the timers are, and the dialog layer only has to
//! hear about the ACK or its absence. INVITE retransmissions in Accepted are absorbed.

use std::time::{Duration, Instant};

use super::types::{after, due, Outbox, Peer, TimerConfig, TransactionEvent, TransactionId};
use crate::error::{Error, Result};
use crate::msg::{Request, Response, StatusCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InviteState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// The INVITE server transaction.
#[derive(Debug)]
pub(crate) struct InviteServer {
    id: TransactionId,
    request: Request,
    peer: Peer,
    cfg: TimerConfig,
    state: InviteState,
    timer_trying: Option<Instant>,
    provisional: Option<Response>,
    final_response: Option<Response>,
    /// Timer G, and the 2xx retransmission timer in Accepted.
    timer_g: Option<Instant>,
    interval_g: Duration,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
    acked: bool,
}

impl InviteServer {
    /// `peer` is where responses go (already resolved from the top Via).
    pub(crate) fn new(
        id: TransactionId,
        request: Request,
        peer: Peer,
        cfg: TimerConfig,
        now: Instant,
        out: &mut Outbox,
    ) -> Self {
        let mut s = InviteServer {
            id,
            request,
            peer,
            cfg,
            state: InviteState::Proceeding,
            timer_trying: None,
            provisional: None,
            final_response: None,
            timer_g: None,
            interval_g: cfg.t1,
            timer_h: None,
            timer_i: None,
            timer_l: None,
            acked: false,
        };
        match cfg.trying_delay {
            Some(d) => s.timer_trying = Some(after(now, d)),
            None => s.send_trying(out),
        }
        s
    }

    fn send_trying(&mut self, out: &mut Outbox) {
        let trying = Response::for_request(&self.request, StatusCode::TRYING);
        out.send(self.peer, trying.clone());
        self.provisional = Some(trying);
        self.timer_trying = None;
    }

    pub(crate) fn request(&self) -> &Request {
        &self.request
    }

    pub(crate) fn on_retransmission(&mut self, out: &mut Outbox) {
        match self.state {
            InviteState::Proceeding => match &self.provisional {
                Some(p) => out.send(self.peer, p.clone()),
                None => self.send_trying(out),
            },
            InviteState::Completed => {
                if let Some(f) = &self.final_response {
                    out.send(self.peer, f.clone());
                }
            }
            InviteState::Confirmed | InviteState::Accepted | InviteState::Terminated => {}
        }
    }

    /// An ACK with this transaction's key: the ACK for our non-2xx (absorbed) or, from an
    /// RFC 2543 peer that reuses the INVITE's Via, for our 2xx. Returns true for the latter.
    pub(crate) fn on_ack(&mut self, now: Instant) -> bool {
        match self.state {
            InviteState::Completed => {
                self.state = InviteState::Confirmed;
                self.timer_g = None;
                self.timer_h = None;
                self.timer_i = Some(if self.peer.transport.is_reliable() {
                    now
                } else {
                    after(now, self.cfg.t4)
                });
                false
            }
            InviteState::Accepted => {
                self.on_2xx_ack();
                true
            }
            _ => false,
        }
    }

    /// The ACK for our 2xx arrived: stop retransmitting it.
    pub(crate) fn on_2xx_ack(&mut self) {
        if self.state == InviteState::Accepted {
            self.acked = true;
            self.timer_g = None;
        }
    }

    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        resp: Response,
        out: &mut Outbox,
    ) -> Result<()> {
        if self.state != InviteState::Proceeding {
            return Err(Error::TransactionState("a final response was already sent"));
        }
        out.send(self.peer, resp.clone());
        self.timer_trying = None;
        let unreliable = !self.peer.transport.is_reliable();
        if resp.status.is_provisional() {
            self.provisional = Some(resp);
        } else if resp.status.is_success() {
            self.state = InviteState::Accepted;
            self.timer_g = unreliable.then(|| after(now, self.cfg.t1));
            self.interval_g = self.cfg.t1;
            self.timer_l = Some(after(now, self.cfg.t1x64()));
            self.final_response = Some(resp);
        } else {
            self.state = InviteState::Completed;
            self.timer_g = unreliable.then(|| after(now, self.cfg.t1));
            self.interval_g = self.cfg.t1;
            self.timer_h = Some(after(now, self.cfg.t1x64()));
            self.final_response = Some(resp);
        }
        Ok(())
    }

    /// True while a 2xx waits for its ACK.
    pub(crate) fn is_accepted(&self) -> bool {
        self.state == InviteState::Accepted
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if due(self.timer_trying, now) && self.state == InviteState::Proceeding {
            self.send_trying(out);
        }
        if due(self.timer_g, now) {
            if let Some(f) = &self.final_response {
                out.send(self.peer, f.clone());
            }
            self.interval_g = self.interval_g.saturating_mul(2).min(self.cfg.t2);
            self.timer_g = Some(after(now, self.interval_g));
        }
        if due(self.timer_h, now) {
            out.event(TransactionEvent::Timeout { id: self.id });
            self.terminate();
        }
        if due(self.timer_l, now) {
            if !self.acked {
                out.event(TransactionEvent::AckTimeout { id: self.id });
            }
            self.terminate();
        }
        if due(self.timer_i, now) {
            self.terminate();
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(TransactionEvent::TransportError { id: self.id });
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = InviteState::Terminated;
        self.timer_trying = None;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        [
            self.timer_trying,
            self.timer_g,
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == InviteState::Terminated
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// The non-INVITE server transaction.
#[derive(Debug)]
pub(crate) struct NonInviteServer {
    id: TransactionId,
    peer: Peer,
    cfg: TimerConfig,
    state: NonInviteState,
    last: Option<Response>,
    timer_j: Option<Instant>,
}

impl NonInviteServer {
    pub(crate) fn new(id: TransactionId, peer: Peer, cfg: TimerConfig) -> Self {
        NonInviteServer {
            id,
            peer,
            cfg,
            state: NonInviteState::Trying,
            last: None,
            timer_j: None,
        }
    }

    pub(crate) fn on_retransmission(&mut self, out: &mut Outbox) {
        if matches!(
            self.state,
            NonInviteState::Proceeding | NonInviteState::Completed
        ) {
            if let Some(r) = &self.last {
                out.send(self.peer, r.clone());
            }
        }
    }

    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        resp: Response,
        out: &mut Outbox,
    ) -> Result<()> {
        if !matches!(
            self.state,
            NonInviteState::Trying | NonInviteState::Proceeding
        ) {
            return Err(Error::TransactionState("a final response was already sent"));
        }
        out.send(self.peer, resp.clone());
        if resp.status.is_final() {
            self.state = NonInviteState::Completed;
            self.timer_j = Some(if self.peer.transport.is_reliable() {
                now
            } else {
                after(now, self.cfg.t1x64())
            });
        } else {
            self.state = NonInviteState::Proceeding;
        }
        self.last = Some(resp);
        Ok(())
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if due(self.timer_j, now) {
            self.state = NonInviteState::Terminated;
            self.timer_j = None;
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Outbox) {
        out.event(TransactionEvent::TransportError { id: self.id });
        self.state = NonInviteState::Terminated;
        self.timer_j = None;
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == NonInviteState::Terminated
    }
}
