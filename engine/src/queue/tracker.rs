//! The live view behind `GET /admin/faxes`: which faxes this node is working on, in what
//! phase, plus the recently finished ones.
//!
//! The JSON keeps gofaxserver's `FaxRunState` keys and phases (behaviour §5.8): `active` and
//! `items` with `job_uuid`, `phase`, `caller`, `callee`, `endpoint_label`, `started_at`, …
//! Its tracker deleted `DONE` entries at once and never set `SENDING`; here finished jobs move
//! to `recent` (the last [`RECENT`]) and every phase is set. Added keys: `pages_sent`,
//! `pages_total`, `next_attempt_at`, `direction`. The view is per node and in memory: a job
//! waiting out its back-off on another node (or from before a restart) shows up here once
//! this node claims it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// How many finished faxes the view keeps.
pub const RECENT: usize = 100;
/// A waiting entry whose retry is this far overdue was taken by another node; it is dropped.
const STALE: TimeDelta = TimeDelta::minutes(10);

/// Where a fax is (gofaxserver's phase names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Phase {
    /// Claimed and routed; no call yet.
    Routed,
    /// Carried live between two legs (not used yet).
    Bridging,
    /// An incoming fax is being received.
    Receiving,
    /// A call to a target is up or being placed.
    Sending,
    /// Waiting for its next attempt.
    Waiting,
    /// Finished.
    Done,
}

/// One fax in the view (gofaxserver's `FaxRunState` keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaxRunState {
    /// The job (for an incoming call, the job it became, once stored).
    pub job_uuid: String,
    /// The current call's SIP Call-ID.
    pub call_uuid: String,
    /// Tenant of the caller number, 0 if none.
    pub src_tenant_id: i64,
    /// Tenant of the callee number, 0 if none.
    pub dst_tenant_id: i64,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Caller number.
    pub caller: String,
    /// Callee number.
    pub callee: String,
    /// Phase.
    pub phase: Phase,
    /// Attempt number on the current target.
    pub attempt: u32,
    /// Attempts allowed per target.
    pub max_attempts: u32,
    /// Priority of the current target.
    pub current_priority: i64,
    /// `gateway` (or `webhook`, `email`).
    pub endpoint_type: String,
    /// Scope of the current target (`tenant`, `number`, `global`).
    pub endpoint_label: String,
    /// The gateway's name.
    pub endpoint_value: String,
    /// The last attempt's reason when it failed.
    pub last_error: String,
    /// The final result, once finished.
    pub last_result: String,
    /// Whether it was delivered.
    pub result_success: bool,
    /// Pages confirmed so far (document numbering).
    pub pages_sent: u32,
    /// Pages in the document (0 when receiving).
    pub pages_total: u32,
    /// When the job was created.
    pub enqueued_at: Option<DateTime<Utc>>,
    /// When this node started on it.
    pub started_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it is retried, while waiting.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// What `GET /admin/faxes` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackerView {
    /// Faxes begun and not finished.
    pub active: usize,
    /// Those faxes, oldest first.
    pub items: Vec<FaxRunState>,
    /// Finished faxes, newest first.
    pub recent: Vec<FaxRunState>,
}

/// The facts known when a fax begins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Begin {
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Caller number.
    pub caller: String,
    /// Callee number.
    pub callee: String,
    /// Caller's tenant, 0 if none.
    pub src_tenant_id: i64,
    /// Callee's tenant, 0 if none.
    pub dst_tenant_id: i64,
    /// Job creation time, if a job exists.
    pub enqueued_at: Option<DateTime<Utc>>,
    /// Pages in the document.
    pub pages_total: u32,
}

/// The target of an attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptInfo {
    /// Attempt number on the target.
    pub attempt: u32,
    /// Attempts allowed per target.
    pub max_attempts: u32,
    /// Target priority.
    pub priority: i64,
    /// Endpoint kind.
    pub endpoint_type: String,
    /// Endpoint scope.
    pub endpoint_label: String,
    /// Gateway name.
    pub endpoint_value: String,
}

/// The tracker's state; every method takes the time.
#[derive(Debug, Default)]
pub struct Tracker {
    items: HashMap<String, FaxRunState>,
    order: Vec<String>,
    recent: VecDeque<FaxRunState>,
}

impl Tracker {
    /// Starts (or restarts, on a new claim) tracking `key`.
    pub fn begin(&mut self, key: &str, b: Begin, phase: Phase, now: DateTime<Utc>) {
        let started_at = self.items.get(key).map_or(now, |s| s.started_at);
        let state = FaxRunState {
            job_uuid: key.to_owned(),
            call_uuid: String::new(),
            src_tenant_id: b.src_tenant_id,
            dst_tenant_id: b.dst_tenant_id,
            direction: b.direction,
            caller: b.caller,
            callee: b.callee,
            phase,
            attempt: 0,
            max_attempts: 0,
            current_priority: 0,
            endpoint_type: String::new(),
            endpoint_label: String::new(),
            endpoint_value: String::new(),
            last_error: self
                .items
                .get(key)
                .map(|s| s.last_error.clone())
                .unwrap_or_default(),
            last_result: String::new(),
            result_success: false,
            pages_sent: 0,
            pages_total: b.pages_total,
            enqueued_at: b.enqueued_at,
            started_at,
            updated_at: now,
            completed_at: None,
            next_attempt_at: None,
        };
        if self.items.insert(key.to_owned(), state).is_none() {
            self.order.push(key.to_owned());
        }
    }

    fn with(&mut self, key: &str, now: DateTime<Utc>, f: impl FnOnce(&mut FaxRunState)) {
        if let Some(s) = self.items.get_mut(key) {
            f(s);
            s.updated_at = now;
        }
    }

    /// An attempt starts: phase `SENDING`.
    pub fn attempt(&mut self, key: &str, a: AttemptInfo, first_confirmed: u32, now: DateTime<Utc>) {
        self.with(key, now, |s| {
            s.phase = Phase::Sending;
            s.attempt = a.attempt;
            s.max_attempts = a.max_attempts;
            s.current_priority = a.priority;
            s.endpoint_type = a.endpoint_type;
            s.endpoint_label = a.endpoint_label;
            s.endpoint_value = a.endpoint_value;
            s.pages_sent = first_confirmed;
            s.next_attempt_at = None;
            s.call_uuid.clear();
        });
    }

    /// The call got its Call-ID.
    pub fn call_id(&mut self, key: &str, call_id: &str, now: DateTime<Utc>) {
        self.with(key, now, |s| s.call_uuid = call_id.to_owned());
    }

    /// Sets the phase.
    pub fn phase(&mut self, key: &str, phase: Phase, now: DateTime<Utc>) {
        self.with(key, now, |s| s.phase = phase);
    }

    /// Pages confirmed so far.
    pub fn pages(&mut self, key: &str, sent: u32, now: DateTime<Utc>) {
        self.with(key, now, |s| s.pages_sent = s.pages_sent.max(sent));
    }

    /// Waits for a retry at `at`; `error` is why, when an attempt failed.
    pub fn waiting(
        &mut self,
        key: &str,
        error: Option<&str>,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        self.with(key, now, |s| {
            s.phase = Phase::Waiting;
            s.next_attempt_at = Some(at);
            if let Some(e) = error {
                s.last_error = e.to_owned();
            }
        });
    }

    /// Renames an entry (an incoming call that became a job).
    pub fn rename(&mut self, key: &str, job: &str, now: DateTime<Utc>) {
        if let Some(mut s) = self.items.remove(key) {
            s.job_uuid = job.to_owned();
            s.updated_at = now;
            self.items.insert(job.to_owned(), s);
            for k in &mut self.order {
                if k == key {
                    *k = job.to_owned();
                }
            }
        }
    }

    /// Finished: phase `DONE`, moved to the recent list.
    pub fn finish(&mut self, key: &str, success: bool, result: &str, now: DateTime<Utc>) {
        let Some(mut s) = self.items.remove(key) else {
            return;
        };
        self.order.retain(|k| k != key);
        s.phase = Phase::Done;
        s.result_success = success;
        s.last_result = result.to_owned();
        if !success {
            s.last_error = result.to_owned();
        }
        s.completed_at = Some(now);
        s.updated_at = now;
        s.next_attempt_at = None;
        self.recent.push_front(s);
        self.recent.truncate(RECENT);
    }

    /// Stops tracking without a result (handed back at shutdown, lease lost).
    pub fn forget(&mut self, key: &str) {
        if self.items.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }

    /// The view at `now` (waiting entries long overdue are dropped first).
    pub fn view(&mut self, now: DateTime<Utc>) -> TrackerView {
        let stale: Vec<String> = self
            .items
            .values()
            .filter(|s| {
                s.phase == Phase::Waiting && s.next_attempt_at.is_some_and(|at| at + STALE < now)
            })
            .map(|s| s.job_uuid.clone())
            .collect();
        for k in stale {
            self.forget(&k);
        }
        let items: Vec<FaxRunState> = self
            .order
            .iter()
            .filter_map(|k| self.items.get(k).cloned())
            .collect();
        TrackerView {
            active: items.len(),
            items,
            recent: self.recent.iter().cloned().collect(),
        }
    }
}

/// The tracker shared by the queue, the inbound calls and the API.
#[derive(Debug, Clone, Default)]
pub struct TrackerHandle(Arc<Mutex<Tracker>>);

impl TrackerHandle {
    /// Runs `f` on the tracker (briefly: the API reads it too).
    pub fn update<R>(&self, f: impl FnOnce(&mut Tracker) -> R) -> R {
        f(&mut lock(&self.0))
    }

    /// The view at `now`.
    pub fn view(&self, now: DateTime<Utc>) -> TrackerView {
        lock(&self.0).view(now)
    }
}

fn lock(m: &Mutex<Tracker>) -> MutexGuard<'_, Tracker> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn begin(caller: &str) -> Begin {
        Begin {
            direction: "outbound".into(),
            caller: caller.into(),
            callee: "+15551230002".into(),
            pages_total: 3,
            ..Begin::default()
        }
    }

    #[test]
    fn phases_through_a_job() {
        let mut tr = Tracker::default();
        tr.begin("j1", begin("+15551230001"), Phase::Routed, t(0));
        tr.begin("j2", begin("+15551230009"), Phase::Routed, t(1));
        tr.attempt(
            "j1",
            AttemptInfo {
                attempt: 1,
                max_attempts: 3,
                priority: 10,
                endpoint_type: "gateway".into(),
                endpoint_label: "global".into(),
                endpoint_value: "carrier".into(),
            },
            0,
            t(2),
        );
        tr.call_id("j1", "abc@host", t(2));
        tr.pages("j1", 2, t(3));
        tr.pages("j1", 1, t(3));
        let v = tr.view(t(3));
        assert_eq!(v.active, 2);
        assert_eq!(v.items[0].job_uuid, "j1", "oldest first");
        assert_eq!(v.items[0].phase, Phase::Sending);
        assert_eq!(v.items[0].pages_sent, 2, "never goes back");
        assert_eq!(v.items[0].call_uuid, "abc@host");
        tr.waiting("j1", Some("Busy (SIP 486)"), t(60), t(4));
        assert_eq!(tr.view(t(4)).items[0].phase, Phase::Waiting);
        // A new claim keeps the start time and the last error.
        tr.begin("j1", begin("+15551230001"), Phase::Routed, t(61));
        let again = tr.view(t(61)).items[0].clone();
        assert_eq!(
            (again.started_at, again.last_error.as_str()),
            (t(0), "Busy (SIP 486)")
        );
        tr.finish("j1", true, "success", t(70));
        tr.finish("nope", true, "ignored", t(70));
        let v = tr.view(t(70));
        assert_eq!(v.active, 1);
        assert_eq!(v.recent.len(), 1);
        assert_eq!(v.recent[0].phase, Phase::Done);
        assert!(v.recent[0].result_success);
        assert_eq!(v.recent[0].completed_at, Some(t(70)));
    }

    #[test]
    fn json_keeps_gofaxserver_keys() {
        let mut tr = Tracker::default();
        tr.begin("in-1", begin("+15551230001"), Phase::Receiving, t(0));
        tr.rename("in-1", "job-1", t(1));
        let json = serde_json::to_value(tr.view(t(1))).unwrap();
        assert_eq!(json["active"], 1);
        let item = &json["items"][0];
        for key in [
            "job_uuid",
            "call_uuid",
            "phase",
            "caller",
            "callee",
            "endpoint_label",
            "started_at",
            "attempt",
            "max_attempts",
        ] {
            assert!(item.get(key).is_some(), "missing {key}");
        }
        assert_eq!(item["job_uuid"], "job-1");
        assert_eq!(item["phase"], "RECEIVING");
        assert!(json["recent"].as_array().unwrap().is_empty());
    }

    #[test]
    fn recent_is_bounded_and_stale_waits_go() {
        let mut tr = Tracker::default();
        for i in 0..(RECENT + 5) {
            let k = format!("j{i}");
            tr.begin(&k, begin("x"), Phase::Routed, t(0));
            tr.finish(&k, false, "failed", t(1));
        }
        let v = tr.view(t(2));
        assert_eq!(v.recent.len(), RECENT);
        assert_eq!(
            v.recent[0].job_uuid,
            format!("j{}", RECENT + 4),
            "newest first"
        );
        assert_eq!(v.recent[0].last_error, "failed");
        tr.begin("w", begin("x"), Phase::Routed, t(0));
        tr.waiting("w", None, t(60), t(1));
        assert_eq!(tr.view(t(60 + 599)).active, 1);
        assert_eq!(tr.view(t(60 + 601)).active, 0);
    }
}
