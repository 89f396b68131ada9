//! Registrations in both directions for the agent: peers that register to us (a registrar
//! with a NAT binding table, kept open with OPTIONS probes) and our own registrations to
//! carriers (refreshed before expiry, retried with back-off, stopped on final refusals).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sip::auth::Credentials;
use sip::dialog::LocalAgent;
use sip::msg::{NameAddr, Uri};
use sip::probe::{ProbeConfig, ProbeEvent, ProbeId, Prober};
use sip::registrar::{Registrar, RegistrarConfig, RegistrarEvent};
use sip::registration::{Registration, RegistrationConfig, RegistrationEvent};
use sip::transaction::{Peer, TransactionEvent, TransactionLayer};

/// One registration of ours to a carrier or PBX.
#[derive(Debug, Clone)]
pub struct OutboundRegistration {
    /// The registrar's URI (Request-URI of the REGISTER).
    pub registrar: Uri,
    /// Our address of record.
    pub aor: NameAddr,
    /// Where the REGISTER goes.
    pub peer: Peer,
    /// Binding length we ask for, in seconds.
    pub expires: u32,
    /// Credentials for the challenge.
    pub credentials: Option<Credentials>,
}

/// State of one of our registrations, for status pages and `sofia status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationState {
    /// Our address of record.
    pub aor: String,
    /// True while a binding is in force.
    pub registered: bool,
    /// The last final refusal, when registration stopped.
    pub refused: Option<u16>,
}

#[derive(Debug)]
pub(crate) struct Registry {
    registrar: Option<Registrar>,
    ours: Vec<(Registration, RegistrationState)>,
    prober: Prober,
    /// Contact of a registered peer to its keep-alive probe.
    probes: HashMap<String, ProbeId>,
}

impl Registry {
    pub(crate) fn new(
        registrar: Option<RegistrarConfig>,
        ours: &[OutboundRegistration],
        agent: &LocalAgent,
        keepalive: Duration,
        seed: u64,
    ) -> Self {
        let ours = ours
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut cfg = RegistrationConfig::new(
                    r.registrar.clone(),
                    r.aor.clone(),
                    agent.clone(),
                    r.peer,
                );
                cfg.expires = r.expires;
                cfg.credentials = r.credentials.clone();
                let state = RegistrationState {
                    aor: r.aor.uri.to_string(),
                    registered: false,
                    refused: None,
                };
                (
                    Registration::new(cfg, seed.wrapping_add(i as u64 + 1)),
                    state,
                )
            })
            .collect();
        let mut probe = ProbeConfig::new(agent.clone());
        probe.interval = keepalive;
        Registry {
            registrar: registrar.map(|c| Registrar::new(c, seed.rotate_left(29))),
            ours,
            prober: Prober::new(probe, seed.rotate_left(41)),
            probes: HashMap::new(),
        }
    }

    /// Sends our first REGISTERs.
    pub(crate) fn start(&mut self, now: Instant, tl: &mut TransactionLayer) {
        for (r, state) in &mut self.ours {
            if let Err(e) = r.register(now, tl) {
                tracing::warn!("registration of {} not sent: {e}", state.aor);
            }
        }
    }

    /// Takes what is about registrations and probes; gives the rest back.
    pub(crate) fn handle_event(
        &mut self,
        now: Instant,
        tl: &mut TransactionLayer,
        ev: TransactionEvent,
    ) -> Option<TransactionEvent> {
        let mut ev = match self.registrar.as_mut() {
            Some(r) => r.handle_transaction_event(now, tl, ev),
            None => Some(ev),
        };
        for (r, _) in &mut self.ours {
            ev = r.handle_transaction_event(now, tl, ev?);
        }
        self.prober.handle_transaction_event(now, ev?)
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, tl: &mut TransactionLayer) {
        if let Some(r) = self.registrar.as_mut() {
            r.handle_timeout(now);
        }
        for (r, _) in &mut self.ours {
            r.handle_timeout(now, tl);
        }
        self.prober.handle_timeout(now, tl);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let registrar = self.registrar.as_ref().and_then(Registrar::poll_timeout);
        let ours = self.ours.iter().filter_map(|(r, _)| r.poll_timeout()).min();
        [registrar, ours, self.prober.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Applies what the state machines report: probes follow bindings, states are kept.
    pub(crate) fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.registrar.as_mut().and_then(Registrar::poll_event) {
            match ev {
                RegistrarEvent::Bound(b) => {
                    let key = b.contact.to_string();
                    if let Some(old) = self.probes.remove(&key) {
                        self.prober.remove(old);
                    }
                    tracing::info!("{} registered from {}", b.aor, b.source.addr);
                    let id = self.prober.add(now, b.contact, b.source);
                    self.probes.insert(key, id);
                }
                RegistrarEvent::Unbound { aor, contact, .. } => {
                    tracing::info!("{aor} unregistered");
                    if let Some(id) = self.probes.remove(&contact.to_string()) {
                        self.prober.remove(id);
                    }
                }
            }
        }
        for (r, state) in &mut self.ours {
            while let Some(ev) = r.poll_event() {
                match ev {
                    RegistrationEvent::Rejected { code } => {
                        tracing::warn!("registration of {} refused with {code}", state.aor);
                        state.registered = false;
                        state.refused = Some(code.as_u16());
                    }
                    _ => {
                        state.registered = r.is_registered();
                        state.refused = None;
                    }
                }
            }
            state.registered = r.is_registered();
        }
        while let Some(ProbeEvent::Changed { status, .. }) = self.prober.poll_event() {
            tracing::debug!("registered peer now {status:?}");
        }
    }

    /// A TCP connection closed: peers registered over it are no longer reachable there.
    pub(crate) fn flow_closed(&mut self, flow: Peer) {
        if let Some(r) = self.registrar.as_mut() {
            r.flow_closed(flow);
        }
    }

    /// Where to send a call for `aor`: each registered contact and its source address.
    pub(crate) fn targets(&self, now: Instant, aor: &Uri) -> Vec<(Uri, Peer)> {
        self.registrar
            .as_ref()
            .map(|r| r.targets(now, aor))
            .unwrap_or_default()
    }

    pub(crate) fn states(&self) -> Vec<RegistrationState> {
        self.ours.iter().map(|(_, s)| s.clone()).collect()
    }
}
