//! OPTIONS keep-alive probing of peers and gateways (RFC 3261 §11) as a sans-IO state
//! machine over the [`TransactionLayer`], so that calls are not sent to a gateway that is
//! down, and NAT pinholes toward peers that registered to us stay open.
//!
//! - Each peer gets an OPTIONS every `interval`; one Call-ID per peer, CSeq one higher each
//!   time, like a registration, so the peer's logs read as one conversation.
//! - No final response within `timeout` marks the peer [`PeerStatus::Down`]. The timeout is
//!   our own, shorter than Timer F (32 s): a gateway that takes 32 s to answer is no use for
//!   a call. The transaction still runs, and a late answer brings the peer back.
//! - Any final response but 503 marks it [`PeerStatus::Up`]: a 404 or 405 still proves the
//!   peer is alive and reachable, which is all a keep-alive asks.
//! - A 503 marks it [`PeerStatus::Busy`] until its Retry-After (or the next probe), and the
//!   next probe waits until then (RFC 3261 §21.5.4).
//! - A probe is not sent while the previous one is still unanswered and within `timeout`;
//!   older unanswered transactions are kept so their late answers still count.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::dialog::{after, via_value, LocalAgent};
use crate::msg::{HeaderName, Method, Request, Response, StatusCode, Uri};
use crate::rng::Rng;
use crate::transaction::{Peer, TransactionEvent, TransactionId, TransactionLayer};

/// Settings shared by every probed peer.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Our Via sent-by, Contact (also the From URI) and User-Agent.
    pub agent: LocalAgent,
    /// Time between probes.
    pub interval: Duration,
    /// How long a probe may go unanswered before it counts as missed.
    pub timeout: Duration,
    /// Probes missed in a row (timeout or transport failure) before the peer is marked
    /// down; one lost UDP datagram should not take a gateway out of service.
    pub down_after: u32,
}

impl ProbeConfig {
    /// A probe every 30 s (inside common UDP NAT timeouts), down after 5 s without answer.
    pub fn new(agent: LocalAgent) -> Self {
        ProbeConfig {
            agent,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            down_after: 1,
        }
    }
}

/// Identifies one probed peer in a [`Prober`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeId(u64);

/// What the last probe said about a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerStatus {
    /// Not probed yet.
    Unknown,
    /// It answered.
    Up,
    /// It did not answer in time, or the transport failed.
    Down,
    /// It answered 503: not to be used until `until`.
    Busy {
        /// When it may be used (and is probed) again.
        until: Instant,
    },
}

/// What the prober tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum ProbeEvent {
    /// A peer's status changed.
    Changed {
        /// The peer.
        id: ProbeId,
        /// Its new status.
        status: PeerStatus,
        /// The final response that changed it; `None` for a timeout or transport failure.
        code: Option<StatusCode>,
    },
}

#[derive(Debug)]
struct Target {
    uri: Uri,
    peer: Peer,
    call_id: String,
    from_tag: String,
    cseq: u32,
    status: PeerStatus,
    /// The newest probe and when it times out, while unanswered.
    pending: Option<(TransactionId, Instant)>,
    /// Probes missed in a row.
    misses: u32,
    next_at: Instant,
}

/// Probes any number of peers with OPTIONS.
#[derive(Debug)]
pub struct Prober {
    cfg: ProbeConfig,
    rng: Rng,
    next_id: u64,
    targets: BTreeMap<ProbeId, Target>,
    txs: HashMap<TransactionId, ProbeId>,
    events: VecDeque<ProbeEvent>,
}

impl Prober {
    /// A prober with no peers; `seed` drives Call-IDs and tags.
    pub fn new(cfg: ProbeConfig, seed: u64) -> Self {
        Prober {
            cfg,
            rng: Rng::new(seed),
            next_id: 0,
            targets: BTreeMap::new(),
            txs: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Starts probing `uri` (the Request-URI) at `peer` (the next hop); the first probe is
    /// due at once.
    pub fn add(&mut self, now: Instant, uri: Uri, peer: Peer) -> ProbeId {
        self.next_id += 1;
        let id = ProbeId(self.next_id);
        let call_id = format!("{}@{}", self.rng.hex(10), self.cfg.agent.host);
        let from_tag = self.rng.hex(5);
        self.targets.insert(
            id,
            Target {
                uri,
                peer,
                call_id,
                from_tag,
                cseq: 0,
                status: PeerStatus::Unknown,
                pending: None,
                misses: 0,
                next_at: now,
            },
        );
        id
    }

    /// Stops probing a peer; true when it was probed.
    pub fn remove(&mut self, id: ProbeId) -> bool {
        self.txs.retain(|_, p| *p != id);
        self.targets.remove(&id).is_some()
    }

    /// The peer's status, if it is probed.
    pub fn status(&self, id: ProbeId) -> Option<PeerStatus> {
        self.targets.get(&id).map(|t| t.status)
    }

    /// True when calls may be sent to the peer at `now`: up, or not probed yet (a new
    /// gateway is given the benefit of the doubt), or busy no longer.
    pub fn is_available(&self, id: ProbeId, now: Instant) -> bool {
        match self.status(id) {
            Some(PeerStatus::Up | PeerStatus::Unknown) => true,
            Some(PeerStatus::Busy { until }) => now >= until,
            Some(PeerStatus::Down) | None => false,
        }
    }

    fn request(&mut self, tl: &mut TransactionLayer, id: ProbeId) -> Option<(Request, Peer)> {
        let agent = &self.cfg.agent;
        let t = self.targets.get_mut(&id)?;
        t.cseq = t.cseq.wrapping_add(1);
        let mut req = Request::new(Method::Options, t.uri.clone());
        let h = &mut req.headers;
        h.push(
            HeaderName::Via,
            via_value(agent, t.peer.transport, &tl.new_branch()),
        );
        h.push(HeaderName::MaxForwards, "70");
        h.push(
            HeaderName::From,
            format!("<{}>;tag={}", agent.contact, t.from_tag),
        );
        h.push(HeaderName::To, format!("<{}>", t.uri));
        h.push(HeaderName::CallId, t.call_id.clone());
        h.push(HeaderName::CSeq, format!("{} OPTIONS", t.cseq));
        h.push(HeaderName::Contact, format!("<{}>", agent.contact));
        h.push(HeaderName::Accept, "application/sdp");
        h.push(HeaderName::UserAgent, agent.user_agent.clone());
        Some((req, t.peer))
    }

    fn set_status(&mut self, id: ProbeId, status: PeerStatus, code: Option<StatusCode>) {
        let Some(t) = self.targets.get_mut(&id) else {
            return;
        };
        if t.status != status {
            t.status = status;
            self.events
                .push_back(ProbeEvent::Changed { id, status, code });
        }
    }

    /// Sends the probes that are due and marks down the peers whose probe timed out.
    pub fn handle_timeout(&mut self, now: Instant, tl: &mut TransactionLayer) {
        let ids: Vec<ProbeId> = self.targets.keys().copied().collect();
        for id in ids {
            let Some(t) = self.targets.get_mut(&id) else {
                continue;
            };
            if t.pending.is_some_and(|(_, at)| at <= now) {
                t.pending = None;
                self.missed(id);
            }
            let Some(t) = self.targets.get_mut(&id) else {
                continue;
            };
            if t.pending.is_some() || t.next_at > now {
                continue;
            }
            t.next_at = after(now, self.cfg.interval);
            let Some((req, peer)) = self.request(tl, id) else {
                continue;
            };
            match tl.send_request(now, req, peer) {
                Ok(tx) => {
                    self.txs.insert(tx, id);
                    if let Some(t) = self.targets.get_mut(&id) {
                        t.pending = Some((tx, after(now, self.cfg.timeout)));
                    }
                }
                Err(_) => self.missed(id),
            }
        }
    }

    /// A probe went unanswered or failed: down once `down_after` were missed in a row.
    fn missed(&mut self, id: ProbeId) {
        let Some(t) = self.targets.get_mut(&id) else {
            return;
        };
        t.misses = t.misses.saturating_add(1);
        if t.misses >= self.cfg.down_after.max(1) {
            self.set_status(id, PeerStatus::Down, None);
        }
    }

    fn on_final(&mut self, now: Instant, id: ProbeId, tx: TransactionId, resp: &Response) {
        let Some(t) = self.targets.get_mut(&id) else {
            return;
        };
        if t.pending.is_some_and(|(p, _)| p == tx) {
            t.pending = None;
        }
        t.misses = 0;
        if resp.status.as_u16() == 503 {
            let wait = resp
                .headers
                .retry_after()
                .map(|s| Duration::from_secs(u64::from(s)))
                .unwrap_or(self.cfg.interval);
            let until = after(now, wait);
            t.next_at = until;
            self.set_status(id, PeerStatus::Busy { until }, Some(resp.status));
        } else {
            self.set_status(id, PeerStatus::Up, Some(resp.status));
        }
    }

    fn on_failure(&mut self, id: ProbeId, tx: TransactionId) {
        let Some(t) = self.targets.get_mut(&id) else {
            return;
        };
        // Only the newest probe speaks for the peer; an older one failing says nothing new.
        if t.pending.is_some_and(|(p, _)| p == tx) {
            t.pending = None;
            self.missed(id);
        }
    }

    /// Handles a transaction event; gives it back when it is not about a probe.
    pub fn handle_transaction_event(
        &mut self,
        now: Instant,
        ev: TransactionEvent,
    ) -> Option<TransactionEvent> {
        let ours = |id: &TransactionId| self.txs.get(id).copied();
        match ev {
            TransactionEvent::Response { id, response } => match ours(&id) {
                Some(p) => {
                    if response.status.is_final() {
                        self.on_final(now, p, id, &response);
                    }
                    None
                }
                None => Some(TransactionEvent::Response { id, response }),
            },
            TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                match ours(&id) {
                    Some(p) => {
                        self.on_failure(p, id);
                        None
                    }
                    None => Some(ev),
                }
            }
            TransactionEvent::Terminated { id } => match self.txs.remove(&id) {
                Some(_) => None,
                None => Some(ev),
            },
            other => Some(other),
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ProbeEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.targets
            .values()
            .map(|t| match t.pending {
                // While a probe is out, only its timeout matters.
                Some((_, at)) => at,
                None => t.next_at,
            })
            .min()
    }
}
