//! What the event bus has told the metrics so far: calls in progress by media and tenant,
//! finished faxes, pages, T.38 behaviour, media packet counters and per-gateway counts.
//!
//! [`Tally::apply`] is a pure function of the events; the task that feeds it and the scrape
//! that reads it only take a lock.

use std::collections::{BTreeMap, HashMap};

use engine::call::{CallReport, FaxDirection, MediaCounters, T38Step};
use engine::events::{CallInfo, EngineEvent};

/// The media label of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaKind {
    /// No media report (nor page) yet says which.
    Unknown,
    /// G.711 audio (`audio/PCMU`, `audio/PCMA`).
    G711,
    /// T.38 over UDPTL (`t38/v…`).
    T38,
    /// Two legs joined by the bridge (a media name starting with `bridge`).
    Bridged,
}

impl MediaKind {
    /// Every label, in exposition order.
    pub const ALL: [MediaKind; 4] = [
        MediaKind::G711,
        MediaKind::T38,
        MediaKind::Bridged,
        MediaKind::Unknown,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Unknown => "unknown",
            MediaKind::G711 => "g711",
            MediaKind::T38 => "t38",
            MediaKind::Bridged => "bridged",
        }
    }

    /// The kind of a report media name (`audio/PCMU`, `t38/v0`, `bridge/…`).
    pub fn of(media: &str) -> MediaKind {
        if media.starts_with("bridge") {
            MediaKind::Bridged
        } else if media.starts_with("t38") {
            MediaKind::T38
        } else if media.starts_with("audio") {
            MediaKind::G711
        } else {
            MediaKind::Unknown
        }
    }
}

/// The direction label: `outbound` for a sent fax, `inbound` for a received one.
pub fn direction_label(d: FaxDirection) -> &'static str {
    match d {
        FaxDirection::Send => "outbound",
        FaxDirection::Receive => "inbound",
    }
}

/// A call between its created and ended events.
#[derive(Debug, Clone)]
struct Active {
    media: MediaKind,
    tenant: Option<i64>,
}

/// Finished calls through one gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayTally {
    /// Calls that ended (seizures).
    pub calls: u64,
    /// Of those, answered.
    pub answered: u64,
    /// Of those, every page confirmed.
    pub succeeded: u64,
    /// Calls that used T.38 at some point.
    pub t38_calls: u64,
    /// Of those, calls that went back to audio.
    pub t38_fallbacks: u64,
    /// T.30 completion codes of calls where T.30 ran.
    pub t30_codes: BTreeMap<i32, u64>,
}

/// Everything counted from events.
#[derive(Debug, Default)]
pub struct Tally {
    active: HashMap<String, Active>,
    /// Finished faxes by (direction, outcome class).
    pub faxes: BTreeMap<(&'static str, &'static str), u64>,
    /// Pages transferred, by direction.
    pub pages: BTreeMap<&'static str, u64>,
    /// Calls that went from T.38 back to audio.
    pub t38_fallbacks: u64,
    /// Calls whose media switched more than once.
    pub t38_flip_flops: u64,
    /// Late, lost and recovered media packets of finished calls.
    pub media: MediaCounters,
    /// Calls started per tenant.
    pub tenant_calls: BTreeMap<i64, u64>,
    /// Per gateway.
    pub gateways: BTreeMap<String, GatewayTally>,
    /// Events the metrics missed because the bus ran ahead of them.
    pub events_lost: u64,
}

/// Media switches between audio and T.38 over the call, from its media phases.
fn media_switches(report: &CallReport) -> usize {
    report
        .media
        .windows(2)
        .filter(|w| MediaKind::of(&w[0].media) != MediaKind::of(&w[1].media))
        .count()
}

impl Tally {
    /// Counts one event.
    pub fn apply(&mut self, event: &EngineEvent) {
        match event {
            EngineEvent::CallCreated { call } => {
                self.active.insert(
                    call.call_uuid.clone(),
                    Active {
                        media: MediaKind::Unknown,
                        tenant: call.tenant_id,
                    },
                );
                if let Some(t) = call.tenant_id {
                    *self.tenant_calls.entry(t).or_default() += 1;
                }
                // Listed from its first call on, with zeros until one ends.
                if let Some(g) = &call.gateway {
                    self.gateways.entry(g.clone()).or_default();
                }
            }
            EngineEvent::CallMedia { call, media } => self.set_media(call, media),
            EngineEvent::FaxPage { call, page } => self.set_media(call, &page.media),
            EngineEvent::CallEnded { call, report } => self.ended(call, report),
            _ => {}
        }
    }

    fn set_media(&mut self, call: &CallInfo, media: &str) {
        let kind = MediaKind::of(media);
        if let (Some(a), false) = (
            self.active.get_mut(&call.call_uuid),
            kind == MediaKind::Unknown,
        ) {
            a.media = kind;
        }
    }

    fn ended(&mut self, call: &CallInfo, report: &CallReport) {
        self.active.remove(&call.call_uuid);
        let direction = direction_label(report.direction);
        let class = report.outcome().class.as_str();
        *self.faxes.entry((direction, class)).or_default() += 1;
        let pages = report.fax.as_ref().map_or(0, |f| u64::from(f.pages));
        *self.pages.entry(direction).or_default() += pages;
        let fell_back = report.t38.iter().any(|e| e.step == T38Step::BackToAudio);
        if fell_back {
            self.t38_fallbacks += 1;
        }
        if media_switches(report) > 1 {
            self.t38_flip_flops += 1;
        }
        self.media.add(report.media_counters);
        let Some(name) = &call.gateway else { return };
        let g = self.gateways.entry(name.clone()).or_default();
        g.calls += 1;
        g.answered += u64::from(report.answered);
        g.succeeded += u64::from(report.is_success());
        let used_t38 = report
            .media
            .iter()
            .any(|p| MediaKind::of(&p.media) == MediaKind::T38);
        if used_t38 {
            g.t38_calls += 1;
            g.t38_fallbacks += u64::from(fell_back);
        }
        if let Some(f) = &report.fax {
            *g.t30_codes.entry(f.code).or_default() += 1;
        }
    }

    /// Calls in progress by media, every label present.
    pub fn active_by_media(&self) -> BTreeMap<MediaKind, u64> {
        let mut out: BTreeMap<MediaKind, u64> = MediaKind::ALL.iter().map(|m| (*m, 0)).collect();
        for a in self.active.values() {
            *out.entry(a.media).or_default() += 1;
        }
        out
    }

    /// Calls in progress per tenant, for every tenant seen (0 once its calls ended).
    pub fn active_by_tenant(&self) -> BTreeMap<i64, u64> {
        let mut out: BTreeMap<i64, u64> = self.tenant_calls.keys().map(|t| (*t, 0)).collect();
        for t in self.active.values().filter_map(|a| a.tenant) {
            *out.entry(t).or_default() += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(uuid: &str) -> CallInfo {
        CallInfo {
            call_uuid: uuid.into(),
            job_uuid: None,
            tenant_id: Some(1),
            sip_call_id: String::new(),
            direction: FaxDirection::Send,
            caller: String::new(),
            callee: String::new(),
            gateway: None,
        }
    }

    fn by_media(t: &Tally) -> Vec<(&'static str, u64)> {
        let m = t.active_by_media();
        m.into_iter().map(|(k, n)| (k.as_str(), n)).collect()
    }

    #[test]
    fn a_media_report_labels_the_call_before_any_page() {
        let mut t = Tally::default();
        let media = |uuid: &str, m: &str| EngineEvent::CallMedia {
            call: call(uuid),
            media: m.into(),
        };
        t.apply(&EngineEvent::CallCreated { call: call("a") });
        t.apply(&EngineEvent::CallCreated { call: call("b") });
        assert_eq!(
            by_media(&t),
            [("unknown", 2), ("g711", 0), ("t38", 0), ("bridged", 0)]
        );
        t.apply(&media("a", "audio/PCMU"));
        t.apply(&media("b", "audio/PCMA"));
        assert_eq!(
            by_media(&t),
            [("unknown", 0), ("g711", 2), ("t38", 0), ("bridged", 0)]
        );
        // A switch to T.38 moves the call; an unknown name leaves it where it was.
        t.apply(&media("b", "t38/v0"));
        t.apply(&media("a", "image/x-nothing"));
        assert_eq!(
            by_media(&t),
            [("unknown", 0), ("g711", 1), ("t38", 1), ("bridged", 0)]
        );
        // A media report for a call that already ended counts nothing.
        t.apply(&media("gone", "audio/PCMU"));
        assert_eq!(t.active_by_media().values().sum::<u64>(), 2);
    }
}
