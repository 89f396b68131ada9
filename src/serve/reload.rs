//! `GET /admin/reload`: re-reads the gateways, rebuilds who may call us and which gateways
//! the SIP agent probes with OPTIONS. Everything else
//! (numbers, endpoints, gateways for outgoing calls) is read from the store per call, so
//! there is nothing else to refresh.

use std::sync::Arc;

use engine::call::SipAgent;
use engine::queue::{probe_targets, LivePeers, Peers};
use store::Store;

/// Rebuilds the live peer list from the gateways in the store.
pub struct GatewayReloader {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The list the incoming side checks.
    pub peers: LivePeers,
    /// The SIP agent, which probes the gateways with OPTIONS.
    pub agent: SipAgent,
}

impl GatewayReloader {
    /// Reloads; a line saying what was loaded, or why not.
    pub async fn reload(&self) -> Result<String, String> {
        let gateways = self
            .store
            .list_gateways()
            .await
            .map_err(|e| format!("failed to reload gateways: {e}"))?;
        let (peers, warnings) = Peers::from_gateways(&gateways);
        for w in &warnings {
            tracing::warn!("{w}; entry ignored");
        }
        let line = format!(
            "{} gateway(s), {} allowed source block(s){}",
            gateways.len(),
            peers.len(),
            if warnings.is_empty() {
                String::new()
            } else {
                format!(", {} unusable entr(ies) ignored", warnings.len())
            }
        );
        self.peers.set(peers);
        let (targets, unprobed) = probe_targets(&gateways).await;
        for u in &unprobed {
            tracing::warn!("{u}");
        }
        self.agent.set_gateways(targets);
        tracing::info!("SIP peers reloaded: {line}");
        Ok(line)
    }
}
