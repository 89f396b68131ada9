//! A small user agent over the real transports, for loopback and SIPp tests: one tokio task
//! owns a `SipTransport`, a `TransactionLayer` and a `DialogLayer`; the test sends commands
//! and waits on dialog events with timeouts.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sip::auth::Credentials;
use sip::dialog::{CallParams, DialogConfig, DialogEvent, DialogId, DialogLayer, MediaConfig};
use sip::msg::{Message, NameAddr, StatusCode, Uri};
use sip::sdp::{Capabilities, OfferMedia, Policy};
use sip::transaction::{Peer, TimerConfig, TransactionLayer, Transport};
use sip::transport::{SipTransport, TransportConfig, TransportStats};
use tokio::sync::{mpsc, oneshot};

/// How the UA behaves by itself.
#[derive(Debug, Clone)]
pub struct UaOptions {
    /// Answer incoming INVITEs (after 180); when false they only ring.
    pub answer: bool,
    /// Accept T.38 (initial INVITE or re-INVITE); when false re-INVITEs get 488.
    pub accept_t38: bool,
    /// Drop the first copy of our outgoing messages whose label ("INVITE", "200 INVITE")
    /// is listed: simulated loss, recovered by retransmission.
    pub drop_first_out: Vec<String>,
    /// Same for incoming messages.
    pub drop_first_in: Vec<String>,
    /// Transaction timers (a short T1 makes Timer B fire in well under a second).
    pub timers: TimerConfig,
    /// The address we advertise (1:1 NAT) in Via, Contact and SDP.
    pub advertised: Option<IpAddr>,
    /// Ring at once but answer only once we have sent the 200 to the caller's PRACK
    /// (RFC 3262), so a SIPp scenario sees 180, 200 PRACK, 200 INVITE in that order.
    pub answer_after_prack: bool,
}

impl Default for UaOptions {
    fn default() -> Self {
        UaOptions {
            answer: true,
            accept_t38: true,
            drop_first_out: Vec::new(),
            drop_first_in: Vec::new(),
            timers: TimerConfig::default(),
            advertised: None,
            answer_after_prack: false,
        }
    }
}

enum Cmd {
    Invite(Box<CallParams>, oneshot::Sender<sip::Result<DialogId>>),
    InviteVia(
        Box<CallParams>,
        Vec<Peer>,
        oneshot::Sender<sip::Result<DialogId>>,
    ),
    Bye(DialogId),
    Reinvite(DialogId, OfferMedia),
    Sent(oneshot::Sender<Vec<String>>),
    Stats(oneshot::Sender<TransportStats>),
}

/// A running UA.
pub struct NetUa {
    cmd: mpsc::UnboundedSender<Cmd>,
    events: mpsc::UnboundedReceiver<DialogEvent>,
    /// Every event seen so far, in order.
    pub seen: Vec<DialogEvent>,
    /// Our UDP address.
    pub udp: SocketAddr,
    media_ip: IpAddr,
}

/// "METHOD" for requests, "CODE METHOD" for responses.
pub fn label(m: &Message) -> String {
    match m {
        Message::Request(r) => r.method.to_string(),
        Message::Response(r) => format!(
            "{} {}",
            r.status,
            r.headers
                .cseq()
                .map(|c| c.method.to_string())
                .unwrap_or_default()
        ),
    }
}

fn media(ip: IpAddr, accept_t38: bool) -> MediaConfig {
    MediaConfig {
        caps: Capabilities::new(ip, 40000, 40002),
        policy: Policy {
            accept_t38,
            ..Policy::default()
        },
        offer: OfferMedia::Audio,
    }
}

impl NetUa {
    /// Binds UDP and TCP on `ip` (port 0) and starts the UA task.
    pub async fn start(ip: IpAddr, opts: UaOptions) -> NetUa {
        let mut cfg = TransportConfig::udp_and_tcp(SocketAddr::new(ip, 0));
        cfg.advertised = opts.advertised;
        let transport = SipTransport::bind(cfg).await.expect("bind");
        let udp = transport.local_addr(Transport::Udp, ip.is_ipv6()).unwrap();
        let agent = transport
            .local_agent("fax", Transport::Udp, ip.is_ipv6(), "faxserver-test")
            .unwrap();
        let mut dcfg = DialogConfig::new(agent);
        dcfg.timers = opts.timers;
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let media_ip = opts.advertised.unwrap_or(ip);
        tokio::spawn(run(transport, dcfg, opts, media_ip, cmd_rx, ev_tx));
        NetUa {
            cmd,
            events,
            seen: Vec::new(),
            udp,
            media_ip,
        }
    }

    /// Calls `target` over UDP with an audio offer (or none when `delayed_offer`).
    pub async fn invite(
        &self,
        target: SocketAddr,
        delayed_offer: bool,
        credentials: Option<Credentials>,
    ) -> DialogId {
        let params = CallParams {
            target: Uri::parse(&format!("sip:fax@{target}")).unwrap(),
            from: NameAddr::parse(&format!("<sip:faxserver@{}>", self.udp)).unwrap(),
            to: NameAddr::parse(&format!("<sip:fax@{target}>")).unwrap(),
            peer: Peer {
                addr: target,
                transport: Transport::Udp,
            },
            media: media(self.media_ip, true),
            delayed_offer,
            credentials,
            headers: Vec::new(),
        };
        let (tx, rx) = oneshot::channel();
        let _ = self.cmd.send(Cmd::Invite(Box::new(params), tx));
        rx.await.unwrap().unwrap()
    }

    /// Call parameters for `target` (a URI) sent first to `peer`, with an audio offer.
    pub fn call_params(&self, target: &str, peer: Peer) -> CallParams {
        CallParams {
            target: Uri::parse(target).unwrap(),
            from: NameAddr::parse(&format!("<sip:faxserver@{}>", self.udp)).unwrap(),
            to: NameAddr::parse(&format!("<{target}>")).unwrap(),
            peer,
            media: media(self.media_ip, true),
            delayed_offer: false,
            credentials: None,
            headers: Vec::new(),
        }
    }

    /// Places a call that fails over to `alternates` (RFC 3263 §4.3).
    pub async fn invite_with_failover(
        &self,
        params: CallParams,
        alternates: Vec<Peer>,
    ) -> DialogId {
        let (tx, rx) = oneshot::channel();
        let _ = self
            .cmd
            .send(Cmd::InviteVia(Box::new(params), alternates, tx));
        rx.await.unwrap().unwrap()
    }

    /// Hangs up.
    pub fn bye(&self, id: DialogId) {
        let _ = self.cmd.send(Cmd::Bye(id));
    }

    /// Offers new media in a re-INVITE.
    pub fn reinvite(&self, id: DialogId, what: OfferMedia) {
        let _ = self.cmd.send(Cmd::Reinvite(id, what));
    }

    /// Labels of every message we sent (including dropped ones), in order.
    pub async fn sent(&self) -> Vec<String> {
        let (tx, rx) = oneshot::channel();
        let _ = self.cmd.send(Cmd::Sent(tx));
        rx.await.unwrap_or_default()
    }

    /// Transport counters.
    pub async fn stats(&self) -> TransportStats {
        let (tx, rx) = oneshot::channel();
        let _ = self.cmd.send(Cmd::Stats(tx));
        rx.await.unwrap_or_default()
    }

    /// Waits (at most `max`) for an event matching `f`, among those seen or still to come.
    pub async fn wait_for(
        &mut self,
        max: Duration,
        f: impl Fn(&DialogEvent) -> bool,
    ) -> Option<DialogEvent> {
        if let Some(e) = self.seen.iter().find(|e| f(e)) {
            return Some(e.clone());
        }
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let e = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .ok()??;
            self.seen.push(e.clone());
            if f(&e) {
                return Some(e);
            }
        }
    }
}

fn take_drop(list: &mut Vec<String>, label: &str) -> bool {
    match list.iter().position(|l| l == label) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

async fn run(
    mut transport: SipTransport,
    cfg: DialogConfig,
    mut opts: UaOptions,
    ip: IpAddr,
    mut cmd_rx: mpsc::UnboundedReceiver<Cmd>,
    ev_tx: mpsc::UnboundedSender<DialogEvent>,
) {
    let seed = u64::from(std::process::id()) ^ 0x5eed;
    let mut tl = TransactionLayer::new(opts.timers, seed);
    let mut dl = DialogLayer::new(cfg, seed.wrapping_add(1));
    let mut sent = Vec::new();
    let mut unanswered: Vec<DialogId> = Vec::new();
    loop {
        let deadline = [tl.poll_timeout(), dl.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            inc = transport.recv() => {
                let Some(inc) = inc else { return };
                if take_drop(&mut opts.drop_first_in, &label(&inc.message)) {
                    continue;
                }
                tl.handle_message(Instant::now(), inc.message, inc.peer);
            }
            cmd = cmd_rx.recv() => {
                let now = Instant::now();
                match cmd {
                    None => return,
                    Some(Cmd::Invite(p, reply)) => {
                        let _ = reply.send(dl.invite(now, &mut tl, *p));
                    }
                    Some(Cmd::InviteVia(p, alternates, reply)) => {
                        let _ = reply.send(dl.invite_with_failover(now, &mut tl, *p, alternates));
                    }
                    Some(Cmd::Bye(id)) => {
                        let _ = dl.bye(now, &mut tl, id);
                    }
                    Some(Cmd::Reinvite(id, what)) => {
                        let _ = dl.reinvite(now, &mut tl, id, what);
                    }
                    Some(Cmd::Sent(reply)) => {
                        let _ = reply.send(sent.clone());
                    }
                    Some(Cmd::Stats(reply)) => {
                        let _ = reply.send(transport.stats());
                    }
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                let now = Instant::now();
                tl.handle_timeout(now);
                dl.handle_timeout(now, &mut tl);
            }
        }
        loop {
            let mut busy = false;
            while let Some(t) = tl.poll_transmit() {
                busy = true;
                let l = label(&t.message);
                sent.push(l.clone());
                if l == "200 PRACK" {
                    for id in unanswered.drain(..) {
                        let _ = dl.accept(Instant::now(), &mut tl, id, media(ip, opts.accept_t38));
                    }
                }
                if take_drop(&mut opts.drop_first_out, &l) {
                    continue;
                }
                let _ = transport.send(t).await;
            }
            let now = Instant::now();
            while let Some(ev) = tl.poll_event() {
                busy = true;
                let _ = dl.handle_transaction_event(now, &mut tl, ev);
            }
            while let Some(ev) = dl.poll_event() {
                busy = true;
                if let (true, DialogEvent::Incoming { id, .. }) = (opts.answer_after_prack, &ev) {
                    unanswered.push(*id);
                }
                react(&mut dl, &mut tl, now, &opts, ip, &ev);
                let _ = ev_tx.send(ev);
            }
            if !busy {
                break;
            }
        }
    }
}

fn react(
    dl: &mut DialogLayer,
    tl: &mut TransactionLayer,
    now: Instant,
    opts: &UaOptions,
    ip: IpAddr,
    ev: &DialogEvent,
) {
    match ev {
        DialogEvent::Incoming { id, .. } => {
            let _ = dl.ring(now, tl, *id);
            if opts.answer && !opts.answer_after_prack {
                let _ = dl.accept(now, tl, *id, media(ip, opts.accept_t38));
            }
        }
        DialogEvent::ReinviteOffered { id, .. } => {
            if opts.accept_t38 {
                let _ = dl.accept_offer(now, tl, *id, None);
            } else {
                let _ = dl.reject_offer(now, tl, *id, StatusCode::new(488).unwrap());
            }
        }
        _ => {}
    }
}
