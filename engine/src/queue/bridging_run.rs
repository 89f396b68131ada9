//! Carries out a bridge decision ([`super::bridging`]) for an incoming call: dials the
//! chosen gateways in order until one answers, joins the legs with [`run_bridge_failover`],
//! shows the call as BRIDGING in the
//! tracker, and records it as an inbound job with its bridge row. Bridged calls are neither
//! retried nor notified (gofaxserver §8): the caller's fax machine is on the line and
//! retries by itself.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use store::{Direction as JobDirection, Gateway, GatewayId, JobId, NewBridge, TenantNumber};
use tokio::sync::{mpsc, watch};

use super::bridging::{load_decision, BridgeDecision, BridgeDirection};
use super::dialer::{outgoing_call, DialRequest};
use super::inbound::Inbound;
use super::route::gateway_names;
use super::tracker::{Begin, Phase};
use crate::call::bridge::{run_bridge_failover, BridgeOptions, BridgeReport, BridgeTarget};
use crate::call::{called_number, FaxDirection, FaxOptions, IncomingCall, SipAgent, T38Mode};
use crate::policy::{self, Identity, Overrides, Parties};

/// What the incoming side needs to bridge calls: the agent that dials the outbound leg.
#[derive(Debug, Clone)]
pub struct Bridging {
    /// Dials the outbound leg.
    pub agent: SipAgent,
    /// The address in the outbound leg's From URI (by default the one routing to the gateway).
    pub from_host: Option<IpAddr>,
    /// An unanswered outbound leg is given up after this long.
    pub ring_timeout: Duration,
}

impl Bridging {
    /// Bridges through `agent` with the default ring timeout.
    pub fn new(agent: SipAgent, from_host: Option<IpAddr>) -> Bridging {
        Bridging {
            agent,
            from_host,
            ring_timeout: BridgeOptions::default().ring_timeout,
        }
    }
}

/// The call's T.38 mode on a leg to or from `gateway`, from the receiving path's policy.
fn leg_t38(plan: &policy::DialPlan, gateway: &Gateway) -> T38Mode {
    if !gateway.t38_allowed || plan.g711_only {
        T38Mode::Off
    } else {
        plan.t38
    }
}

impl Inbound {
    /// Bridges `call` when the bridge decision says so (`Err` with the job it became, if
    /// any); gives the call back to be received otherwise.
    pub(super) async fn divert(
        &self,
        call: IncomingCall,
        source: Option<GatewayId>,
    ) -> Result<IncomingCall, Option<JobId>> {
        let (Some(bridging), Some(source)) = (self.bridging.as_ref(), source) else {
            return Ok(call);
        };
        let store = self.store.as_ref();
        let gateway = match store.get_gateway(source).await {
            Ok(Some(g)) => g,
            Ok(None) => return Ok(call),
            Err(e) => {
                tracing::warn!(error = %e, "gateway look-up failed; the call is received");
                return Ok(call);
            }
        };
        let callee = called_number(&call.request, self.settings.called_from)
            .and_then(|raw| self.settings.rules.normalize(&raw.number).ok());
        let Some(callee) = callee else {
            return Ok(call);
        };
        let owned = store.find_number(&callee).await.ok().flatten();
        let decision = match load_decision(store, &gateway, owned.as_ref()).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "bridge decision failed; the call is received");
                return Ok(call);
            }
        };
        let BridgeDecision::Bridge {
            direction,
            gateways,
        } = decision
        else {
            return Ok(call);
        };
        let callee = callee.to_string();
        Err(self
            .bridge(call, bridging, &gateway, owned, callee, direction, gateways)
            .await)
    }

    #[allow(clippy::too_many_arguments)]
    async fn bridge(
        &self,
        call: IncomingCall,
        bridging: &Bridging,
        source: &Gateway,
        owned: Option<TenantNumber>,
        callee: String,
        direction: BridgeDirection,
        names: Vec<String>,
    ) -> Option<JobId> {
        let store = self.store.as_ref();
        let tenant = match direction {
            BridgeDirection::Downstream => owned.as_ref().map(|n| n.tenant_id),
            BridgeDirection::Upstream => source.tenant_id.or(owned.as_ref().map(|n| n.tenant_id)),
        };
        let mut targets = Vec::new();
        for name in &names {
            for n in gateway_names(name) {
                if let Ok(Some(g)) = store.get_gateway_by_name(n).await {
                    targets.push(g);
                    break;
                }
            }
        }
        let (Some(tenant), Some(first)) = (tenant, targets.first().cloned()) else {
            tracing::warn!(?names, "bridge target unknown: call refused with 503");
            call.handle.reject(503);
            return None;
        };
        let caller = self.presented_caller(&call.request);
        let Some(slot) = self.limits.try_global_slot() else {
            tracing::warn!("bridged call refused with 503: every channel is in use");
            call.handle.reject(503);
            return None;
        };
        let Ok(_channel) = self.limits.channel(slot, tenant, None) else {
            tracing::warn!(tenant = %tenant, "bridged call refused with 503: the tenant's channels are in use");
            call.handle.reject(503);
            return None;
        };
        let started = self.clock.now();
        let key = format!("call-{}", uuid::Uuid::new_v4());
        self.tracker.update(|t| {
            t.begin(
                &key,
                Begin {
                    direction: JobDirection::Inbound.as_str().into(),
                    caller: caller.clone(),
                    callee: callee.clone(),
                    src_tenant_id: source.tenant_id.map_or(0, |t| t.0),
                    dst_tenant_id: owned.as_ref().map_or(0, |n| n.tenant_id.0),
                    enqueued_at: None,
                    pages_total: 0,
                },
                Phase::Routed,
                started,
            );
            t.call_id(&key, call.handle.call_id(), started);
        });
        let plan = self.bridge_plan(&caller, &callee).await;
        let opts = BridgeOptions {
            inbound_t38: leg_t38(&plan, source),
            outbound_t38: leg_t38(&plan, &first),
            ring_timeout: bridging.ring_timeout,
            debug_capture: self.settings.fax.debug_capture,
            debug_pcap: self.settings.fax.debug_capture
                && (source.debug_pcap
                    || first.debug_pcap
                    || super::bundles::pcap_wanted(self.store.as_ref(), tenant, None).await),
            ..BridgeOptions::default()
        };
        // The gateways whose calls could be set up, in order; run_bridge_failover tries
        // them one after another.
        let mut dialled = Vec::new();
        let mut legs = Vec::new();
        let mut setup_error = None;
        for gateway in &targets {
            match self.outbound_leg(bridging, gateway, &caller, &callee).await {
                Ok(out) => {
                    legs.push(BridgeTarget {
                        call: out,
                        t38: Some(leg_t38(&plan, gateway)),
                    });
                    dialled.push(gateway.name.clone());
                }
                Err(e) => {
                    tracing::warn!(gateway = %gateway.name, error = %e, "bridge target skipped");
                    setup_error = Some(format!("gateway {}: {e}", gateway.name));
                }
            }
        }
        let mut report = match setup_error.filter(|_| legs.is_empty()) {
            None => {
                let (tx, mut rx) = mpsc::unbounded_channel::<String>();
                // BRIDGING once both legs are up and joined.
                let phases = async {
                    while let Some(p) = rx.recv().await {
                        if p == "BRIDGING" {
                            let now = self.clock.now();
                            self.tracker.update(|t| t.phase(&key, Phase::Bridging, now));
                        }
                    }
                };
                let (report, ()) = tokio::join!(
                    run_bridge_failover(&bridging.agent, call, legs, &self.media, opts, Some(tx)),
                    phases
                );
                report
            }
            Some(failure) => {
                call.handle.reject(503);
                BridgeReport {
                    failure: Some(failure),
                    ..BridgeReport::default()
                }
            }
        };
        let debug = super::bundles::take_bridge(&mut report);
        // The gateway of the last leg dialled (tried in the order of `dialled`).
        let used = report.tried.len().clamp(1, dialled.len().max(1)) - 1;
        let gateway = dialled.get(used).unwrap_or(&first.name).clone();
        let tried: Vec<_> = dialled
            .iter()
            .zip(&report.tried)
            .map(|(name, leg)| json!({"gateway": name, "sip_status": leg.sip_status, "answered": leg.answered, "sip_end": leg.sip_end}))
            .collect();
        let end = self.clock.now();
        let success = report.fax_completed && report.failure.is_none();
        let result = bridge_result(&report);
        let record = NewBridge {
            tenant_id: tenant,
            caller,
            callee,
            direction: direction.as_str().into(),
            gateway: gateway.clone(),
            started_at: started,
            ended_at: end,
            duration_ms: i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
            pages: report.pages.map(i64::from),
            success,
            result: result.clone(),
            detail: json!({
                "source_gateway": source.name,
                "inbound": report.inbound,
                "outbound": report.outbound,
                "joints": report.joints,
                "bit_rate": report.bit_rate,
                "ecm": report.ecm,
                "fax_completed": report.fax_completed,
                "failure": report.failure,
                "tried": tried,
                "not_tried": dialled.iter().skip(report.tried.len()).collect::<Vec<_>>(),
            }),
        };
        match store.record_bridge(&record).await {
            Ok(job) => {
                if self.settings.fax.debug_capture {
                    super::bundles::save_legs(store, tenant, job.id, debug, end).await;
                }
                let id = job.id.to_string();
                tracing::info!(job_id = %id, gateway = %gateway, direction = direction.as_str(), success, "bridged call recorded");
                self.tracker.update(|t| {
                    t.rename(&key, &id, end);
                    t.finish(&id, success, &result, end);
                });
                Some(job.id)
            }
            Err(e) => {
                tracing::error!(error = %e, "bridged call could not be recorded");
                self.tracker
                    .update(|t| t.finish(&key, false, "not stored", end));
                None
            }
        }
    }

    /// The T.38 plan the receiving path would use for this pair of numbers.
    async fn bridge_plan(&self, caller: &str, callee: &str) -> policy::DialPlan {
        let now = self.clock.now();
        let parties = Parties {
            caller: caller.to_owned(),
            callee: callee.to_owned(),
            direction: FaxDirection::Receive,
        };
        let history = policy::persist::load_history(self.store.as_ref(), &parties, now)
            .await
            .unwrap_or_default();
        let identity = Identity {
            ident: self.settings.fax.ident.clone(),
            header: String::new(),
        };
        policy::decide(
            &self.settings.policy,
            &history,
            &Overrides::default(),
            &identity,
            0,
            now,
        )
    }

    async fn outbound_leg(
        &self,
        bridging: &Bridging,
        target: &Gateway,
        caller: &str,
        callee: &str,
    ) -> Result<crate::call::OutgoingCall, String> {
        let (_keep, cancel) = watch::channel(false);
        let req = DialRequest {
            gateway: target.clone(),
            caller: caller.to_owned(),
            callee: callee.to_owned(),
            tiff: PathBuf::new(),
            first_page: 1,
            options: FaxOptions::default(),
            cancel,
        };
        outgoing_call(&req, bridging.from_host).await
    }
}

/// The bridge's result in words: its failure, or what the gateway saw of the fax.
fn bridge_result(report: &BridgeReport) -> String {
    if let Some(f) = &report.failure {
        return f.clone();
    }
    if report.fax_completed {
        return "fax completed".into();
    }
    if !report.outbound.answered {
        return match report.outbound.sip_status {
            Some(s) => format!("outbound leg not answered: {s}"),
            None => "outbound leg not answered".into(),
        };
    }
    if report.pages.is_none() {
        "relayed (the fax was not observed)".into()
    } else {
        "ended before the fax completed".into()
    }
}
