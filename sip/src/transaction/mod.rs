//! SIP transactions (RFC 3261 §17, with RFC 6026's Accepted state), as a sans-IO layer.
//!
//! [`TransactionLayer`] owns every transaction of a UA. The shell feeds it received messages
//! ([`handle_message`](TransactionLayer::handle_message)), the TU's requests and responses
//! ([`send_request`](TransactionLayer::send_request),
//! [`send_response`](TransactionLayer::send_response)) and the time
//! ([`handle_timeout`](TransactionLayer::handle_timeout)), then drains
//! [`poll_transmit`](TransactionLayer::poll_transmit) and
//! [`poll_event`](TransactionLayer::poll_event) and sleeps until
//! [`poll_timeout`](TransactionLayer::poll_timeout).
//!
//! The layer matches messages to transactions ([`ServerKey`], [`ClientKey`]), absorbs
//! retransmitted requests (re-sending the last response), builds the ACK for non-2xx finals,
//! retransmits a 2xx to INVITE until its ACK (RFC 3261 §13.3.1.4), stamps `received` and
//! `rport` on incoming Vias (§18.2.1, RFC 3581) and sends responses where §18.2.2 says.
//! On TCP and TLS no retransmission timers run and timers D, I, J, K are zero.
//!
//! The TU checks each new request with [`check_request`](crate::msg::check_request) and
//! answers a [`Rejection`](crate::msg::Rejection) through `send_response`, so that
//! retransmissions of a bad request are absorbed like any other. It must answer every
//! request it is given; a server transaction waits for it.

mod client;
mod key;
mod server;
mod types;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

pub use client::ack_for_non_2xx;
pub use key::{ClientKey, ServerKey};
pub use types::{Peer, TimerConfig, TransactionEvent, TransactionId, Transmit, Transport};

use self::client::{InviteClient, NonInviteClient};
use self::server::{InviteServer, NonInviteServer};
use self::types::Outbox;
use crate::error::{Error, Result};
use crate::msg::{HeaderName, Host, Message, Method, Request, Response, Via, MAGIC_COOKIE};
use crate::stats::{Counters, End, Side};

#[derive(Debug)]
enum Tx {
    InviteClient(Box<InviteClient>, ClientKey),
    NonInviteClient(Box<NonInviteClient>, ClientKey),
    InviteServer(Box<InviteServer>, ServerKey, Option<(String, u32)>),
    NonInviteServer(Box<NonInviteServer>, ServerKey),
}

impl Tx {
    fn next_timeout(&self) -> Option<Instant> {
        match self {
            Tx::InviteClient(t, _) => t.next_timeout(),
            Tx::NonInviteClient(t, _) => t.next_timeout(),
            Tx::InviteServer(t, ..) => t.next_timeout(),
            Tx::NonInviteServer(t, _) => t.next_timeout(),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Tx::InviteClient(t, _) => t.is_terminated(),
            Tx::NonInviteClient(t, _) => t.is_terminated(),
            Tx::InviteServer(t, ..) => t.is_terminated(),
            Tx::NonInviteServer(t, _) => t.is_terminated(),
        }
    }

    /// True while a client transaction waits for its final response.
    fn awaiting_final(&self) -> bool {
        match self {
            Tx::InviteClient(t, _) => t.awaiting_final(),
            Tx::NonInviteClient(t, _) => t.awaiting_final(),
            _ => false,
        }
    }
}

/// All transactions of a user agent, and their output.
#[derive(Debug)]
pub struct TransactionLayer {
    cfg: TimerConfig,
    next_id: u64,
    branch_seed: u64,
    txs: HashMap<TransactionId, Tx>,
    clients: HashMap<ClientKey, TransactionId>,
    servers: HashMap<ServerKey, TransactionId>,
    /// INVITE server transactions that sent a 2xx, by (Call-ID, CSeq number), to match the
    /// ACK, which has a branch of its own.
    accepted: HashMap<(String, u32), TransactionId>,
    out: Outbox,
}

/// SplitMix64, to turn a seed and a counter into branch text without a random source.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where a response to a request from `source` goes (RFC 3261 §18.2.2, RFC 3581 §4): back on
/// the connection for TCP/TLS; over UDP to the source address, at the source port when the
/// Via asked for `rport`, else at the sent-by port.
fn response_peer(via: &Via, source: Peer) -> Peer {
    if source.transport.is_reliable() || via.rport().is_some() {
        return source;
    }
    Peer {
        addr: SocketAddr::new(source.addr.ip(), via.port.unwrap_or(5060)),
        transport: source.transport,
    }
}

/// Adds `received` (when sent-by is not the source address) and fills `rport` in the top Via
/// (RFC 3261 §18.2.1, RFC 3581 §4).
fn stamp_via(req: &mut Request, source: Peer) -> Option<Via> {
    let mut via = req.headers.top_via().ok()?;
    let src_ip = source.addr.ip();
    let host_is_source = match &via.host {
        Host::Ipv4(a) => std::net::IpAddr::V4(*a) == src_ip,
        Host::Ipv6(a) => std::net::IpAddr::V6(*a) == src_ip,
        Host::Domain(_) => false,
    };
    let mut changed = false;
    if !host_is_source {
        via.params.set("received", Some(&src_ip.to_string()));
        changed = true;
    }
    if via.rport().is_some() {
        via.params
            .set("rport", Some(&source.addr.port().to_string()));
        changed = true;
    }
    if changed {
        req.headers.replace_first(&HeaderName::Via, via.to_string());
    }
    Some(via)
}

impl TransactionLayer {
    /// An empty layer; `branch_seed` should differ between runs (the shell takes it from a
    /// random source) so that branches are unique.
    pub fn new(cfg: TimerConfig, branch_seed: u64) -> Self {
        TransactionLayer {
            cfg,
            next_id: 0,
            branch_seed,
            txs: HashMap::new(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            accepted: HashMap::new(),
            out: Outbox::default(),
        }
    }

    /// A fresh RFC 3261 branch for a request we send.
    pub fn new_branch(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{MAGIC_COOKIE}{:016x}",
            mix(self.branch_seed ^ mix(self.next_id))
        )
    }

    fn alloc_id(&mut self) -> TransactionId {
        self.next_id += 1;
        TransactionId(self.next_id)
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Starts a client transaction for `request` (anything but ACK), whose top Via must carry
    /// a branch from [`new_branch`](Self::new_branch), and sends it to `peer`.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        peer: Peer,
    ) -> Result<TransactionId> {
        if request.method == Method::Ack {
            return Err(Error::TransactionState(
                "ACK is not a transaction; use send_stateless",
            ));
        }
        let key = ClientKey::for_request(&request)?;
        if self.clients.contains_key(&key) {
            return Err(Error::TransactionState(
                "a transaction with this branch is still alive",
            ));
        }
        let id = self.alloc_id();
        let tx = if request.method == Method::Invite {
            request.headers.cseq()?;
            let t = InviteClient::start(id, request, peer, self.cfg, now, &mut self.out);
            Tx::InviteClient(Box::new(t), key.clone())
        } else {
            let t = NonInviteClient::start(id, request, peer, self.cfg, now, &mut self.out);
            Tx::NonInviteClient(Box::new(t), key.clone())
        };
        self.clients.insert(key, id);
        self.txs.insert(id, tx);
        Ok(id)
    }

    /// Sends a response in server transaction `id`.
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Response,
    ) -> Result<()> {
        let tx = self.txs.get_mut(&id).ok_or(Error::UnknownTransaction)?;
        let counted = response.status.is_final().then(|| {
            let method = response.headers.cseq().map(|c| c.method);
            (method, End::of_status(response.status.as_u16()))
        });
        let sent = match tx {
            Tx::InviteServer(t, _, accepted_key) => {
                let success = response.status.is_success();
                t.send_response(now, response, &mut self.out)?;
                if success && t.is_accepted() {
                    let h = &t.request().headers;
                    if let (Ok(call_id), Ok(cseq)) = (h.call_id(), h.cseq()) {
                        let k = (call_id.to_owned(), cseq.seq);
                        self.accepted.insert(k.clone(), id);
                        *accepted_key = Some(k);
                    }
                }
                Ok(())
            }
            Tx::NonInviteServer(t, _) => t.send_response(now, response, &mut self.out),
            _ => Err(Error::TransactionState(
                "responses are sent in server transactions",
            )),
        };
        // A second final is refused above, so each server transaction counts once.
        if let (Ok(()), Some((Ok(method), end))) = (&sent, counted) {
            Counters::global().record(Side::Server, &method, end);
        }
        sent
    }

    /// Counts client transaction `id` as ended if this step ended its wait for a final.
    fn count_client(&self, id: Option<TransactionId>, was_waiting: bool, end: End) {
        let Some(tx) = id.and_then(|id| self.txs.get(&id)) else {
            return;
        };
        if let (true, false, Tx::InviteClient(_, k) | Tx::NonInviteClient(_, k)) =
            (was_waiting, tx.awaiting_final(), tx)
        {
            Counters::global().record(Side::Client, &k.method, end);
        }
    }

    /// Sends a message outside any transaction: the ACK for a 2xx, a stateless response.
    pub fn send_stateless(&mut self, message: impl Into<Message>, peer: Peer) {
        self.out.send(peer, message);
    }

    /// A message arrived from `peer`.
    pub fn handle_message(&mut self, now: Instant, message: Message, peer: Peer) {
        match message {
            Message::Request(r) => self.handle_request(now, r, peer),
            Message::Response(r) => self.handle_response(now, r, peer),
        }
    }

    fn handle_request(&mut self, now: Instant, mut req: Request, source: Peer) {
        // A request without a usable Via cannot be answered; the validator's 400 needs one too.
        let Some(via) = stamp_via(&mut req, source) else {
            return;
        };
        let Ok(key) = ServerKey::for_request(&req) else {
            return;
        };
        if req.method == Method::Ack {
            self.handle_ack(now, req, source, &key);
            return;
        }
        if let Some(id) = self.servers.get(&key).copied() {
            match self.txs.get_mut(&id) {
                Some(Tx::InviteServer(t, ..)) => t.on_retransmission(&mut self.out),
                Some(Tx::NonInviteServer(t, _)) => t.on_retransmission(&mut self.out),
                _ => {}
            }
            return;
        }
        let id = self.alloc_id();
        let dest = response_peer(&via, source);
        let cancels = if req.method == Method::Cancel {
            ServerKey::with_method(&req, Method::Invite)
                .ok()
                .and_then(|k| self.servers.get(&k).copied())
        } else {
            None
        };
        let tx = if req.method == Method::Invite {
            let t = InviteServer::new(id, req.clone(), dest, self.cfg, now, &mut self.out);
            Tx::InviteServer(Box::new(t), key.clone(), None)
        } else {
            Tx::NonInviteServer(
                Box::new(NonInviteServer::new(id, dest, self.cfg)),
                key.clone(),
            )
        };
        self.servers.insert(key, id);
        self.txs.insert(id, tx);
        self.out.event(TransactionEvent::Request {
            id,
            request: req,
            peer: source,
            cancels,
        });
    }

    fn handle_ack(&mut self, now: Instant, ack: Request, source: Peer, key: &ServerKey) {
        if let Some(id) = self.servers.get(key).copied() {
            if let Some(Tx::InviteServer(t, ..)) = self.txs.get_mut(&id) {
                if !t.on_ack(now) {
                    return;
                }
                self.out.event(TransactionEvent::Ack {
                    request: ack,
                    peer: source,
                    accepted: Some(id),
                });
                return;
            }
        }
        let dialog_key = match (ack.headers.call_id(), ack.headers.cseq()) {
            (Ok(c), Ok(s)) => Some((c.to_owned(), s.seq)),
            _ => None,
        };
        let accepted = dialog_key.and_then(|k| self.accepted.get(&k).copied());
        if let Some(id) = accepted {
            if let Some(Tx::InviteServer(t, ..)) = self.txs.get_mut(&id) {
                t.on_2xx_ack();
            }
        }
        self.out.event(TransactionEvent::Ack {
            request: ack,
            peer: source,
            accepted,
        });
    }

    fn handle_response(&mut self, now: Instant, resp: Response, source: Peer) {
        let id = ClientKey::for_response(&resp)
            .ok()
            .and_then(|k| self.clients.get(&k).copied());
        let end = End::of_status(resp.status.as_u16());
        let waiting = id
            .and_then(|id| self.txs.get(&id))
            .is_some_and(Tx::awaiting_final);
        match id.and_then(|id| self.txs.get_mut(&id)) {
            Some(Tx::InviteClient(t, _)) => t.on_response(now, resp, &mut self.out),
            Some(Tx::NonInviteClient(t, _)) => t.on_response(now, resp, &mut self.out),
            _ => self.out.event(TransactionEvent::StrayResponse {
                response: resp,
                peer: source,
            }),
        }
        self.count_client(id, waiting, end);
        self.reap();
    }

    /// The transport failed to send for transaction `id`.
    pub fn handle_transport_error(&mut self, _now: Instant, id: TransactionId) {
        let waiting = self.txs.get(&id).is_some_and(Tx::awaiting_final);
        match self.txs.get_mut(&id) {
            Some(Tx::InviteClient(t, _)) => t.on_transport_error(&mut self.out),
            Some(Tx::NonInviteClient(t, _)) => t.on_transport_error(&mut self.out),
            Some(Tx::InviteServer(t, ..)) => t.on_transport_error(&mut self.out),
            Some(Tx::NonInviteServer(t, _)) => t.on_transport_error(&mut self.out),
            None => {}
        }
        self.count_client(Some(id), waiting, End::TransportError);
        self.reap();
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // In id order, so that output does not depend on hash order.
        let mut due: Vec<TransactionId> = self
            .txs
            .iter()
            .filter(|(_, tx)| tx.next_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        due.sort();
        for id in due {
            let waiting = self.txs.get(&id).is_some_and(Tx::awaiting_final);
            match self.txs.get_mut(&id) {
                Some(Tx::InviteClient(t, _)) => t.on_timeout(now, &mut self.out),
                Some(Tx::NonInviteClient(t, _)) => t.on_timeout(now, &mut self.out),
                Some(Tx::InviteServer(t, ..)) => t.on_timeout(now, &mut self.out),
                Some(Tx::NonInviteServer(t, _)) => t.on_timeout(now),
                None => {}
            }
            self.count_client(Some(id), waiting, End::Timeout);
        }
        self.reap();
    }

    /// Removes terminated transactions and their index entries, reporting each.
    fn reap(&mut self) {
        let mut dead: Vec<TransactionId> = self
            .txs
            .iter()
            .filter(|(_, t)| t.is_terminated())
            .map(|(id, _)| *id)
            .collect();
        dead.sort();
        for id in dead {
            match self.txs.remove(&id) {
                Some(Tx::InviteClient(_, k)) | Some(Tx::NonInviteClient(_, k)) => {
                    self.clients.remove(&k);
                }
                Some(Tx::InviteServer(_, k, acc)) => {
                    self.servers.remove(&k);
                    if let Some(a) = acc {
                        self.accepted.remove(&a);
                    }
                }
                Some(Tx::NonInviteServer(_, k)) => {
                    self.servers.remove(&k);
                }
                None => continue,
            }
            self.out.event(TransactionEvent::Terminated { id });
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.out.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.txs.values().filter_map(Tx::next_timeout).min()
    }
}
