//! Per-call debug bundles (issue #8 item 6): after each call leg the queue stores what the
//! call captured ([`CallDebug`]: SIP ladder, T.30 trace, pcap) under the job it belongs to,
//! and before each call it asks whether the tenant or gateway wants a pcap.
//!
//! Both are best effort: a bundle is for a support desk, so a store error is logged and the
//! fax goes on as if there were no bundle.

use chrono::{DateTime, Utc};
use store::{GatewayId, JobId, NewCallDebug, Store, TenantId};

use crate::call::bridge::BridgeReport;
use crate::call::debug::CallDebug;

/// Whether calls of `tenant` (through `gateway`) capture a pcap: either one's `debug_pcap`.
pub(crate) async fn pcap_wanted(
    store: &dyn Store,
    tenant: TenantId,
    gateway: Option<GatewayId>,
) -> bool {
    match store.get_tenant(tenant).await {
        Ok(Some(t)) if t.debug_pcap => return true,
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "tenant look-up for debug_pcap failed"),
    }
    let Some(g) = gateway else {
        return false;
    };
    match store.get_gateway(g).await {
        Ok(g) => g.is_some_and(|g| g.debug_pcap),
        Err(e) => {
            tracing::warn!(error = %e, "gateway look-up for debug_pcap failed");
            false
        }
    }
}

/// Where a leg's bundle belongs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    /// The job's tenant.
    pub tenant: TenantId,
    /// The job.
    pub job: JobId,
    /// One of [`store::debug::leg`].
    pub leg: &'a str,
    /// The attempt (`attempts.id`) of a send.
    pub attempt_id: Option<i64>,
}

/// Stores a leg's bundle; nothing when the call captured nothing (capture off, or a call
/// that never started). Takes the bundle, since a pcap can be megabytes that the report
/// needs no more.
pub(crate) async fn save(
    store: &dyn Store,
    owner: Owner<'_>,
    call_id: &str,
    debug: CallDebug,
    at: DateTime<Utc>,
) {
    if debug.is_empty() {
        return;
    }
    // The ladder and trace serialise infallibly (strings and numbers only).
    let sip = serde_json::to_value(&debug.sip).unwrap_or_default();
    let t30 = serde_json::to_value(&debug.t30).unwrap_or_default();
    let bundle = NewCallDebug {
        tenant_id: owner.tenant,
        job_id: owner.job,
        leg: owner.leg.to_owned(),
        attempt_id: owner.attempt_id,
        call_id: call_id.to_owned(),
        created_at: at,
        sip,
        t30,
        truncated: debug.truncated,
        pcap: debug.pcap,
    };
    if let Err(e) = store.save_call_debug(&bundle).await {
        tracing::warn!(job_id = %owner.job, call_id, error = %e, "debug bundle not stored");
    }
}

/// One leg's material, taken out of a report until its job is known.
pub(crate) struct LegBundle {
    leg: &'static str,
    call_id: String,
    debug: CallDebug,
}

/// Takes every leg's bundle out of a bridge report: the inbound leg and each outbound leg
/// tried. Taken, so that the ladders do not also land in the bridge row's detail.
pub(crate) fn take_bridge(report: &mut BridgeReport) -> Vec<LegBundle> {
    let mut out = vec![LegBundle {
        leg: store::debug::leg::BRIDGE_IN,
        call_id: report.inbound.call_id.clone(),
        debug: std::mem::take(&mut report.inbound.debug),
    }];
    // `tried` lists the last leg too, as `outbound` does; only `outbound` carries its bundle.
    let mut last = Some(std::mem::take(&mut report.outbound.debug));
    for l in &mut report.tried {
        let mut debug = std::mem::take(&mut l.debug);
        if l.call_id == report.outbound.call_id {
            debug = last.take().unwrap_or(debug);
        }
        out.push(LegBundle {
            leg: store::debug::leg::BRIDGE_OUT,
            call_id: l.call_id.clone(),
            debug,
        });
    }
    if let Some(debug) = last {
        out.push(LegBundle {
            leg: store::debug::leg::BRIDGE_OUT,
            call_id: report.outbound.call_id.clone(),
            debug,
        });
    }
    out
}

/// Stores the legs' bundles under the bridged call's job.
pub(crate) async fn save_legs(
    store: &dyn Store,
    tenant: TenantId,
    job: JobId,
    legs: Vec<LegBundle>,
    at: DateTime<Utc>,
) {
    for l in legs {
        let owner = Owner {
            tenant,
            job,
            leg: l.leg,
            attempt_id: None,
        };
        save(store, owner, &l.call_id, l.debug, at).await;
    }
}
