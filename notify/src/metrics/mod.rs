//! Prometheus `/metrics` and per-gateway figures (issue #8 items 4 and 7).
//!
//! A [`Metrics`] listens to the engine's [`EventBus`] and tallies calls, faxes, pages, T.38
//! behaviour, media packet counters and per-gateway counts ([`tally`]). A scrape adds what is
//! cheaper to read than to count: the queue and the delivery log from the store, the SIP
//! transaction counters of the `sip` crate, and each gateway's up/down state from the caller's
//! OPTIONS prober. [`router`] serves `/metrics` in the text format; [`figures_router`] serves
//! `GET /admin/gateways/figures` as JSON behind the admin key.

pub mod gateway;
mod http;
mod render;
pub mod tally;
pub mod text;

use std::sync::{Arc, Mutex, MutexGuard};

use engine::events::{EngineEvent, EventBus};
use store::Store;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;

pub use gateway::GatewayFigures;
pub use http::{figures_router, router};
pub use tally::Tally;

/// Whether gateway `name` is up (`Some(true)`), down (`Some(false)`) or not probed (`None`).
pub type GatewayUp = Arc<dyn Fn(&str) -> Option<bool> + Send + Sync>;

struct Inner {
    store: Arc<dyn Store>,
    clock: Clock,
    gateway_up: GatewayUp,
    tally: Mutex<Tally>,
    seen: watch::Sender<u64>,
}

/// The metrics of one server; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics reading the queue and delivery log from `store`, with the age of jobs taken
    /// from `clock` and gateway states from `gateway_up`.
    pub fn new(store: Arc<dyn Store>, clock: Clock, gateway_up: GatewayUp) -> Self {
        Metrics {
            inner: Arc::new(Inner {
                store,
                clock,
                gateway_up,
                tally: Mutex::new(Tally::default()),
                seen: watch::Sender::new(0),
            }),
        }
    }

    /// A poisoned lock only means a panic elsewhere mid-update; the counts stay usable.
    fn tally(&self) -> MutexGuard<'_, Tally> {
        self.inner.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one event (the listener calls this; tests may too).
    pub fn observe(&self, event: &EngineEvent) {
        self.tally().apply(event);
        self.inner.seen.send_modify(|n| *n += 1);
    }

    /// Events counted so far, to wait on.
    pub fn events_seen(&self) -> watch::Receiver<u64> {
        self.inner.seen.subscribe()
    }

    /// Listens to `bus` until `shutdown` turns true. Subscribes before returning, so every
    /// event published after this call is counted.
    pub fn spawn(&self, bus: &EventBus, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let mut rx = bus.subscribe();
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Ok(s) => me.observe(&s.event),
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(lost = n, "metrics fell behind the event bus");
                            me.tally().events_lost += n;
                        }
                        Err(RecvError::Closed) => return,
                    },
                    r = shutdown.changed() => if r.is_err() || *shutdown.borrow() {
                        return;
                    },
                }
            }
        })
    }

    /// Every gateway's figures: the configured ones and any that carried a call.
    pub async fn gateway_figures(&self) -> Vec<GatewayFigures> {
        let known: Vec<String> = match self.inner.store.list_gateways().await {
            Ok(g) => g.into_iter().map(|g| g.name).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: listing gateways failed");
                Vec::new()
            }
        };
        let tallies = self.tally().gateways.clone();
        gateway::figures(&tallies, &known, &*self.inner.gateway_up)
    }

    /// The text a scrape returns.
    pub async fn render(&self) -> String {
        let store = &self.inner.store;
        let queue = store
            .queue_stats()
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "metrics: queue figures failed"))
            .ok();
        let deliveries = store
            .delivery_failures()
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "metrics: delivery figures failed"))
            .ok();
        let figures = self.gateway_figures().await;
        let mut e = text::Exposition::default();
        render::events(&mut e, &self.tally());
        render::gateways(&mut e, &figures);
        render::store(&mut e, queue, deliveries, self.inner.clock.now());
        render::sip(&mut e, &sip::stats::Counters::global().snapshot());
        render::load(
            &mut e,
            engine::call::media_lateness(),
            engine::call::cpu_idle::host_cpu_idle(),
            engine::call::overload_counts(),
        );
        e.finish()
    }
}
