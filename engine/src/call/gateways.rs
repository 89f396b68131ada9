//! OPTIONS probing of the gateways we send calls to: a gateway that stops answering is
//! marked down, and up again as soon as it answers anything (a 404 or a 503 still proves it
//! is alive). The state is published in a watch map that the queue's routing reads.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sip::dialog::LocalAgent;
use sip::msg::Uri;
use sip::probe::{PeerStatus, ProbeConfig, ProbeEvent, ProbeId, Prober};
use sip::transaction::{Peer, TransactionEvent, TransactionLayer};
use tokio::sync::watch;

/// A gateway to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedGateway {
    /// Its name (the key of [`SipAgent::gateway_up`](super::SipAgent::gateway_up)).
    pub name: String,
    /// The Request-URI of the probe.
    pub uri: Uri,
    /// Where the probe goes.
    pub peer: Peer,
}

/// How gateways are probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayProbing {
    /// Time between probes.
    pub interval: Duration,
    /// How long a probe may go unanswered before it counts as missed.
    pub timeout: Duration,
    /// Probes missed in a row before the gateway is marked down.
    pub down_after: u32,
}

impl Default for GatewayProbing {
    /// Every 30 s, 5 s to answer, down after 2 misses (a single lost datagram is forgiven).
    fn default() -> Self {
        GatewayProbing {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            down_after: 2,
        }
    }
}

/// Whether each probed gateway is up, by name.
pub type GatewayStates = HashMap<String, bool>;

#[derive(Debug)]
pub(crate) struct Gateways {
    prober: Prober,
    by_name: HashMap<String, (ProbeId, ProbedGateway)>,
    states: watch::Sender<GatewayStates>,
}

impl Gateways {
    pub(crate) fn new(
        agent: &LocalAgent,
        probing: GatewayProbing,
        seed: u64,
        states: watch::Sender<GatewayStates>,
    ) -> Self {
        let mut cfg = ProbeConfig::new(agent.clone());
        cfg.interval = probing.interval;
        cfg.timeout = probing.timeout;
        cfg.down_after = probing.down_after;
        Gateways {
            prober: Prober::new(cfg, seed),
            by_name: HashMap::new(),
            states,
        }
    }

    /// Probes exactly `list` from now on: new gateways start at once, removed ones stop,
    /// unchanged ones keep their state.
    pub(crate) fn set(&mut self, now: Instant, list: Vec<ProbedGateway>) {
        let wanted: HashMap<String, ProbedGateway> =
            list.into_iter().map(|g| (g.name.clone(), g)).collect();
        let stale: Vec<String> = self
            .by_name
            .iter()
            .filter(|(name, (_, g))| wanted.get(*name) != Some(g))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some((id, _)) = self.by_name.remove(&name) {
                self.prober.remove(id);
            }
        }
        for (name, g) in wanted {
            if !self.by_name.contains_key(&name) {
                let id = self.prober.add(now, g.uri.clone(), g.peer);
                self.by_name.insert(name, (id, g));
            }
        }
        self.publish();
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, tl: &mut TransactionLayer) {
        self.prober.handle_timeout(now, tl);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.prober.poll_timeout()
    }

    /// Takes the probes' transaction events; gives the rest back.
    pub(crate) fn handle_event(
        &mut self,
        now: Instant,
        ev: TransactionEvent,
    ) -> Option<TransactionEvent> {
        self.prober.handle_transaction_event(now, ev)
    }

    /// Publishes status changes.
    pub(crate) fn drain(&mut self) {
        let mut changed = false;
        while let Some(ProbeEvent::Changed { id, status, code }) = self.prober.poll_event() {
            changed = true;
            if let Some((name, _)) = self.by_name.iter().find(|(_, (p, _))| *p == id) {
                match status {
                    PeerStatus::Down => tracing::warn!("gateway {name} is down (no answer)"),
                    _ => tracing::info!("gateway {name} is up ({code:?})"),
                }
            }
        }
        if changed {
            self.publish();
        }
    }

    fn publish(&self) {
        let states = self
            .by_name
            .iter()
            .map(|(name, (id, _))| {
                let up = !matches!(self.prober.status(*id), Some(PeerStatus::Down) | None);
                (name.clone(), up)
            })
            .collect();
        self.states.send_replace(states);
    }
}
