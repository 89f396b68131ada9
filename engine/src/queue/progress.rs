//! A job's delivery progress, rebuilt from its event log on every claim.
//!
//! Each attempt leaves one [`AttemptRecord`] in the store's event log (`attempt.ended`, or
//! `attempt.interrupted` for one cut short by a crash or a shutdown). The record is written
//! before the job's row changes, so it is the commit point of an attempt: whichever worker
//! claims the job next, in this process or after a restart, folds the records into a
//! [`JobProgress`] and carries on from there. Nothing about a job's retries lives only in
//! memory (gofaxserver lost every job in back-off on restart, behaviour §0).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::Event;

use crate::outcome::NextAction;

/// Event kind of a finished attempt.
pub const ATTEMPT_ENDED: &str = "attempt.ended";
/// Event kind of an attempt cut short by a crash, a shutdown or a lost lease.
pub const ATTEMPT_INTERRUPTED: &str = "attempt.interrupted";

/// What one attempt did, as kept in the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The attempt row.
    pub attempt_id: i64,
    /// The target tried (`endpoint:<id>`).
    pub target: String,
    /// Whose confirmed pages it counts toward.
    pub destination: String,
    /// The first page this attempt sent, in the document's numbering (from 1).
    pub first_page: u32,
    /// Pages of the document the destination has confirmed after this attempt: pages
    /// `1..=confirmed` (T.30 confirms pages in order).
    pub confirmed: u32,
    /// The outcome class (`busy`, `success`, …); `None` when interrupted.
    pub class: Option<String>,
    /// What the classifier advised; `None` when interrupted.
    pub next: Option<NextAction>,
    /// Why it ended, for people.
    pub reason: String,
    /// T.30 ran and failed (counts toward the V.17 and ECM fall-backs).
    pub fax_failure: bool,
    /// The queue moved on to the next target after this attempt.
    pub passed: bool,
    /// When the next attempt may start, when one follows.
    pub retry_at: Option<DateTime<Utc>>,
}

impl AttemptRecord {
    /// True when the attempt delivered the whole document.
    pub fn delivered(&self) -> bool {
        self.next == Some(NextAction::Done)
    }
}

/// Everything earlier attempts of a job decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobProgress {
    /// Attempts per target (interrupted ones included, so a crash loop ends).
    pub tries: BTreeMap<String, u32>,
    /// Targets the queue has moved past.
    pub passed: BTreeSet<String>,
    /// Pages confirmed per destination (a prefix of the document).
    pub confirmed: BTreeMap<String, u32>,
    /// Attempts whose fax exchange failed.
    pub fax_failures: u32,
    /// The reason of the last attempt.
    pub last_reason: Option<String>,
    /// An attempt delivered the document.
    pub delivered: bool,
    /// Attempt rows that have a record.
    pub recorded: BTreeSet<i64>,
}

impl JobProgress {
    /// Folds a job's events (oldest first); other kinds and unreadable details are skipped.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut p = JobProgress::default();
        for e in events {
            if e.kind != ATTEMPT_ENDED && e.kind != ATTEMPT_INTERRUPTED {
                continue;
            }
            match serde_json::from_value::<AttemptRecord>(e.detail.clone()) {
                Ok(r) => p.apply(&r),
                Err(err) => {
                    tracing::warn!(event = e.id.0, error = %err, "unreadable attempt record skipped")
                }
            }
        }
        p
    }

    /// Adds one record.
    pub fn apply(&mut self, r: &AttemptRecord) {
        if !self.recorded.insert(r.attempt_id) {
            return;
        }
        *self.tries.entry(r.target.clone()).or_default() += 1;
        if r.passed {
            self.passed.insert(r.target.clone());
        }
        let c = self.confirmed.entry(r.destination.clone()).or_default();
        *c = (*c).max(r.confirmed);
        self.fax_failures += u32::from(r.fax_failure);
        self.last_reason = Some(r.reason.clone());
        self.delivered |= r.delivered();
    }

    /// Attempts made on `target`.
    pub fn tries(&self, target: &str) -> u32 {
        self.tries.get(target).copied().unwrap_or(0)
    }

    /// Pages `destination` has confirmed.
    pub fn confirmed(&self, destination: &str) -> u32 {
        self.confirmed.get(destination).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{EventId, JobId, TenantId};

    fn rec(id: i64, target: &str, confirmed: u32, next: Option<NextAction>) -> AttemptRecord {
        AttemptRecord {
            attempt_id: id,
            target: target.into(),
            destination: "callee:+15551230001".into(),
            first_page: 1,
            confirmed,
            class: next.map(|_| "busy".into()),
            next,
            reason: format!("reason {id}"),
            fax_failure: id == 2,
            passed: id == 3,
            retry_at: None,
        }
    }

    fn event(kind: &str, detail: serde_json::Value) -> Event {
        Event {
            id: EventId(1),
            at: Utc::now(),
            tenant_id: Some(TenantId(1)),
            job_id: Some(JobId(uuid::Uuid::nil())),
            kind: kind.into(),
            detail,
        }
    }

    #[test]
    fn folds_records_and_ignores_the_rest() {
        let records = [
            rec(1, "endpoint:1", 0, Some(NextAction::RetryLater)),
            rec(2, "endpoint:1", 2, None),
            rec(3, "endpoint:1", 1, Some(NextAction::NextGateway)),
            rec(4, "endpoint:2", 3, Some(NextAction::Done)),
        ];
        let mut events: Vec<Event> = records
            .iter()
            .map(|r| {
                let kind = if r.next.is_none() {
                    ATTEMPT_INTERRUPTED
                } else {
                    ATTEMPT_ENDED
                };
                event(kind, serde_json::to_value(r).unwrap())
            })
            .collect();
        events.insert(1, event("job.queued", serde_json::json!({"pages": 3})));
        events.push(event(ATTEMPT_ENDED, serde_json::json!({"garbage": true})));
        // The same record twice (written again after a crash) counts once.
        events.push(event(
            ATTEMPT_ENDED,
            serde_json::to_value(&records[0]).unwrap(),
        ));
        let p = JobProgress::from_events(&events);
        assert_eq!(p.tries("endpoint:1"), 3);
        assert_eq!(p.tries("endpoint:2"), 1);
        assert_eq!(p.tries("endpoint:9"), 0);
        assert!(p.passed.contains("endpoint:1") && !p.passed.contains("endpoint:2"));
        assert_eq!(
            p.confirmed("callee:+15551230001"),
            3,
            "the highest confirmation"
        );
        assert_eq!(p.fax_failures, 1);
        assert!(p.delivered);
        assert_eq!(p.last_reason.as_deref(), Some("reason 4"));
        assert_eq!(p.recorded.len(), 4);
    }

    #[test]
    fn nothing_recorded_is_a_fresh_job() {
        let p = JobProgress::from_events(&[]);
        assert_eq!(p, JobProgress::default());
        assert!(!p.delivered);
    }
}
