//! Writes every metric family; the names are listed in README.md's observability table.

use chrono::{DateTime, Utc};
use engine::call::OverloadCounts;
use sip::stats::TransactionCount;
use store::{DeliveryFailures, QueueStats};

use super::gateway::GatewayFigures;
use super::tally::Tally;
use super::text::{Exposition, Kind};

/// Families counted from the event bus.
pub fn events(e: &mut Exposition, t: &Tally) {
    let n = "faxserver_active_calls";
    e.family(n, Kind::Gauge, "Calls in progress, by media.");
    for (media, count) in t.active_by_media() {
        e.sample(n, &[("media", media.as_str())], count as f64);
    }
    let n = "faxserver_tenant_active_calls";
    e.family(
        n,
        Kind::Gauge,
        "Calls in progress (channels in use), by tenant.",
    );
    for (tenant, count) in t.active_by_tenant() {
        e.sample(n, &[("tenant", &tenant.to_string())], count as f64);
    }
    let n = "faxserver_tenant_calls_total";
    e.family(n, Kind::Counter, "Calls started, by tenant.");
    for (tenant, count) in &t.tenant_calls {
        e.sample(n, &[("tenant", &tenant.to_string())], *count as f64);
    }
    let n = "faxserver_faxes_total";
    e.family(
        n,
        Kind::Counter,
        "Fax calls that ended, by direction and outcome class.",
    );
    for ((direction, result), count) in &t.faxes {
        e.sample(
            n,
            &[("direction", direction), ("result", result)],
            *count as f64,
        );
    }
    let n = "faxserver_fax_pages_total";
    e.family(n, Kind::Counter, "Pages transferred, by direction.");
    for (direction, count) in &t.pages {
        e.sample(n, &[("direction", direction)], *count as f64);
    }
    e.single(
        "faxserver_t38_fallbacks_total",
        Kind::Counter,
        "Calls that went from T.38 back to G.711 audio.",
        t.t38_fallbacks as f64,
    );
    e.single(
        "faxserver_t38_flip_flops_total",
        Kind::Counter,
        "Calls whose media switched between audio and T.38 more than once.",
        t.t38_flip_flops as f64,
    );
    let n = "faxserver_media_packets_total";
    e.family(
        n,
        Kind::Counter,
        "Late, lost and recovered RTP and UDPTL packets of finished calls.",
    );
    let m = &t.media;
    for (stream, kind, v) in [
        ("rtp", "late", m.rtp_late),
        ("rtp", "lost", m.rtp_lost),
        ("udptl", "late", m.udptl_late),
        ("udptl", "lost", m.udptl_lost),
        ("udptl", "recovered", m.udptl_recovered),
    ] {
        e.sample(n, &[("stream", stream), ("kind", kind)], v as f64);
    }
    e.single(
        "faxserver_metrics_events_lost_total",
        Kind::Counter,
        "Engine events the metrics missed because the event bus ran ahead of them.",
        t.events_lost as f64,
    );
}

/// Per-gateway families.
pub fn gateways(e: &mut Exposition, figures: &[GatewayFigures]) {
    type Field = fn(&GatewayFigures) -> Option<f64>;
    let families: [(&str, Kind, &str, Field); 9] = [
        (
            "faxserver_gateway_up",
            Kind::Gauge,
            "1 when the gateway answers OPTIONS, 0 when it does not (absent when not probed).",
            |g| g.up.map(|u| f64::from(u8::from(u))),
        ),
        (
            "faxserver_gateway_calls_total",
            Kind::Counter,
            "Calls through the gateway that ended (seizures).",
            |g| Some(g.calls as f64),
        ),
        (
            "faxserver_gateway_answered_calls_total",
            Kind::Counter,
            "Calls through the gateway that were answered.",
            |g| Some(g.answered as f64),
        ),
        (
            "faxserver_gateway_faxes_succeeded_total",
            Kind::Counter,
            "Calls through the gateway with every page confirmed.",
            |g| Some(g.faxes_succeeded as f64),
        ),
        (
            "faxserver_gateway_t38_calls_total",
            Kind::Counter,
            "Calls through the gateway that used T.38.",
            |g| Some(g.t38_calls as f64),
        ),
        (
            "faxserver_gateway_t38_fallbacks_total",
            Kind::Counter,
            "Calls through the gateway that went from T.38 back to audio.",
            |g| Some(g.t38_fallbacks as f64),
        ),
        (
            "faxserver_gateway_answer_seizure_ratio",
            Kind::Gauge,
            "Answered calls / calls (absent before the first call).",
            |g| g.answer_seizure_ratio,
        ),
        (
            "faxserver_gateway_fax_success_ratio",
            Kind::Gauge,
            "Calls with every page confirmed / answered calls.",
            |g| g.fax_success_ratio,
        ),
        (
            "faxserver_gateway_t38_fallback_ratio",
            Kind::Gauge,
            "T.38 calls that fell back to audio / calls that used T.38.",
            |g| g.t38_fallback_ratio,
        ),
    ];
    for (name, kind, help, field) in families {
        e.family(name, kind, help);
        for g in figures {
            if let Some(v) = field(g) {
                e.sample(name, &[("gateway", &g.gateway)], v);
            }
        }
    }
    let n = "faxserver_gateway_t30_completions_total";
    e.family(
        n,
        Kind::Counter,
        "Calls through the gateway by T.30 completion code (0 = success).",
    );
    for g in figures {
        for (code, count) in &g.t30_codes {
            let code = code.to_string();
            e.sample(
                n,
                &[("gateway", &g.gateway), ("code", &code)],
                *count as f64,
            );
        }
    }
}

/// Families read from the store at scrape time; left out when the store could not answer.
pub fn store(
    e: &mut Exposition,
    queue: Option<QueueStats>,
    deliveries: Option<Vec<DeliveryFailures>>,
    now: DateTime<Utc>,
) {
    if let Some(q) = queue {
        let n = "faxserver_queue_jobs";
        e.family(
            n,
            Kind::Gauge,
            "Jobs waiting (queued) and in progress (active).",
        );
        e.sample(n, &[("state", "queued")], q.queued as f64);
        e.sample(n, &[("state", "active")], q.active as f64);
        let age = q
            .oldest_queued_at
            .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
        e.single(
            "faxserver_queue_oldest_job_age_seconds",
            Kind::Gauge,
            "Age of the oldest queued job (0 when none waits).",
            age,
        );
    }
    if let Some(d) = deliveries {
        let n = "faxserver_delivery_failed_attempts_total";
        e.family(
            n,
            Kind::Counter,
            "Webhook and e-mail tries that did not deliver, from the delivery log.",
        );
        for f in &d {
            e.sample(
                n,
                &[("channel", f.channel.as_str())],
                f.failed_attempts as f64,
            );
        }
        let n = "faxserver_deliveries_failed";
        e.family(
            n,
            Kind::Gauge,
            "Deliveries given up for good (a replay takes one out).",
        );
        for f in &d {
            e.sample(n, &[("channel", f.channel.as_str())], f.given_up as f64);
        }
    }
}

/// SIP transactions by side, method and how they ended.
pub fn sip(e: &mut Exposition, counts: &[TransactionCount]) {
    let n = "faxserver_sip_transactions_total";
    e.family(
        n,
        Kind::Counter,
        "Finished SIP transactions by side, method and final response class (or timeout).",
    );
    for c in counts {
        e.sample(
            n,
            &[
                ("side", c.side.as_str()),
                ("method", c.method),
                ("class", c.end.as_str()),
            ],
            c.count as f64,
        );
    }
}

/// How late the media clock runs, and what the overload guard turned away.
pub fn load(
    e: &mut Exposition,
    lateness: std::time::Duration,
    idle: Option<f64>,
    counts: OverloadCounts,
) {
    e.single(
        "faxserver_media_clock_lateness_seconds",
        Kind::Gauge,
        "How far the latest media scheduler shard is behind real time (CPU shortage).",
        lateness.as_secs_f64(),
    );
    // Only measured when sip.min_idle_cpu asks for it: no line rather than a made-up value.
    if let Some(idle) = idle {
        e.single(
            "faxserver_host_cpu_idle_ratio",
            Kind::Gauge,
            "Share of the host's CPU time idle over the last second (sip.min_idle_cpu).",
            idle,
        );
    }
    e.single(
        "faxserver_overload_invites_refused_total",
        Kind::Counter,
        "INVITEs answered 503 by the overload guard (media clock late, or CPU too busy).",
        counts.invites_refused as f64,
    );
    e.single(
        "faxserver_overload_claims_skipped_total",
        Kind::Counter,
        "Queue polls that claimed no job because of the overload guard.",
        counts.claims_skipped as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_share_is_a_line_only_when_measured() {
        let counts = OverloadCounts {
            invites_refused: 3,
            claims_skipped: 1,
        };
        let mut e = Exposition::default();
        load(
            &mut e,
            std::time::Duration::from_millis(250),
            Some(0.125),
            counts,
        );
        let text = e.finish();
        for line in [
            "faxserver_media_clock_lateness_seconds 0.25",
            "faxserver_host_cpu_idle_ratio 0.125",
            "faxserver_overload_invites_refused_total 3",
            "faxserver_overload_claims_skipped_total 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let mut e = Exposition::default();
        load(&mut e, std::time::Duration::ZERO, None, counts);
        assert!(!e.finish().contains("faxserver_host_cpu_idle_ratio"));
    }
}
