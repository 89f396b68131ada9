//! The queue's decisions, as pure functions of a job's progress, its targets and the time.
//!
//! Before an attempt, [`plan_attempt`] picks what to do; after it, [`after_attempt`] turns the
//! classified outcome into the job's next step:
//!
//! | outcome advice | attempts left on this target | another target left | step |
//! |---|---|---|---|
//! | every page confirmed (whatever the class) | – | – | complete |
//! | `Done` | – | – | complete |
//! | `GiveUp`, or an unanswered cause in `failed_response` | – | – | fail with the reason |
//! | `RetryLater` | yes | – | same target after the back-off (≥ `Retry-After`) |
//! | `RetryLater` | no | yes | next target now |
//! | `NextGateway` | – | yes | next target now |
//! | `NextGateway` | yes | no | same target after the back-off |
//! | `RedialAudioOnly` | yes | – | same target now (the policy learned "G.711 only") |
//! | `RedialAudioOnly` | no | yes | next target now |
//! | any retry | no | no | fail: "… (gave up after N attempts)" |
//!
//! Targets are tried in route order and never revisited once passed, so the first success
//! ends delivery (gofaxserver went on to the next priority after a success, §14.1).

use chrono::{DateTime, TimeDelta, Utc};

use super::causes;
use super::progress::JobProgress;
use super::route::Target;
use super::settings::QueueSettings;
use crate::outcome::{NextAction, Outcome};

/// Anything with a target key and a destination (a [`Target`], or a pair in tests).
pub trait Keyed {
    /// The target key.
    fn key(&self) -> &str;
    /// The destination key.
    fn destination(&self) -> &str;
}

impl Keyed for Target {
    fn key(&self) -> &str {
        &self.key
    }
    fn destination(&self) -> &str {
        &self.destination
    }
}

impl Keyed for (&str, &str) {
    fn key(&self) -> &str {
        self.0
    }
    fn destination(&self) -> &str {
        self.1
    }
}

/// What to do with a claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// An earlier attempt delivered it; only the job's row is behind (a crash in between).
    AlreadyDelivered,
    /// The destination confirmed every page before the last attempt was cut short.
    AllPagesConfirmed,
    /// Every target has used its attempts or was passed.
    Exhausted {
        /// The last attempt's reason.
        reason: String,
    },
    /// Dial `targets[index]`.
    Dial {
        /// Which target.
        index: usize,
        /// First page to send, in the document's numbering (from 1).
        first_page: u32,
        /// This attempt's number on that target (from 1).
        attempt: u32,
    },
}

/// How an attempt ended, as far as the queue cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The classified outcome.
    pub outcome: Outcome,
    /// The call was answered.
    pub answered: bool,
    /// Pages the destination has confirmed now (a prefix of the document).
    pub confirmed: u32,
    /// Pages in the document.
    pub total_pages: u32,
}

/// The job's next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Delivered.
    Complete,
    /// Another attempt at `at`; `passed` when the target is left for the next one.
    Retry {
        /// Earliest next claim.
        at: DateTime<Utc>,
        /// The queue moves past this target.
        passed: bool,
    },
    /// Given up.
    Fail {
        /// Why, for people.
        reason: String,
    },
}

fn eligible<T: Keyed>(p: &JobProgress, t: &T, s: &QueueSettings) -> bool {
    !p.passed.contains(t.key()) && p.tries(t.key()) < s.retry_attempts.max(1)
}

/// Decides what a claimed job does next, before any call.
pub fn plan_attempt<T: Keyed>(
    p: &JobProgress,
    targets: &[T],
    total_pages: u32,
    s: &QueueSettings,
) -> Plan {
    if p.delivered {
        return Plan::AlreadyDelivered;
    }
    let Some(index) = targets.iter().position(|t| eligible(p, t, s)) else {
        return Plan::Exhausted {
            reason: p
                .last_reason
                .clone()
                .unwrap_or_else(|| "no delivery target left".into()),
        };
    };
    let t = &targets[index];
    let confirmed = p.confirmed(t.destination());
    if total_pages > 0 && confirmed >= total_pages {
        // Resending now would deliver the fax twice, whatever the resend setting says.
        return Plan::AllPagesConfirmed;
    }
    let first_page = if s.resend_unconfirmed_pages {
        confirmed + 1
    } else {
        1
    };
    Plan::Dial {
        index,
        first_page,
        attempt: p.tries(t.key()) + 1,
    }
}

/// Decides the job's next step after an attempt on `targets[index]`; `p` is the progress
/// before this attempt, `spread` in \[-1, 1\] places the back-off in its jitter band.
pub fn after_attempt<T: Keyed>(
    p: &JobProgress,
    targets: &[T],
    index: usize,
    result: &AttemptResult,
    s: &QueueSettings,
    now: DateTime<Utc>,
    spread: f64,
) -> Step {
    if result.total_pages > 0 && result.confirmed >= result.total_pages {
        return Step::Complete;
    }
    let o = &result.outcome;
    let next = if causes::is_listed(&s.failed_response, o, result.answered) {
        NextAction::GiveUp
    } else {
        o.next
    };
    let Some(key) = targets.get(index).map(Keyed::key) else {
        return Step::Fail {
            reason: o.reason.clone(),
        };
    };
    let tries = p.tries(key) + 1;
    let same_left = tries < s.retry_attempts.max(1);
    let other_left = targets
        .iter()
        .enumerate()
        .any(|(j, t)| j != index && eligible(p, t, s));
    let later = || {
        let wait = s.backoff.wait(tries, o.retry_after, spread);
        now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::zero())
    };
    let total: u32 = p.tries.values().sum::<u32>() + 1;
    let give_up = || Step::Fail {
        reason: format!("{} (gave up after {total} attempt(s))", o.reason),
    };
    let move_on = || Step::Retry {
        at: now,
        passed: true,
    };
    match next {
        NextAction::Done => Step::Complete,
        NextAction::GiveUp => Step::Fail {
            reason: o.reason.clone(),
        },
        NextAction::RetryLater if same_left => Step::Retry {
            at: later(),
            passed: false,
        },
        NextAction::NextGateway if other_left => move_on(),
        NextAction::NextGateway if same_left => Step::Retry {
            at: later(),
            passed: false,
        },
        NextAction::RedialAudioOnly if same_left => Step::Retry {
            at: now,
            passed: false,
        },
        _ if other_left => move_on(),
        _ => give_up(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{classify, AttemptFacts};
    use crate::queue::delay::Backoff;
    use crate::queue::progress::AttemptRecord;
    use std::time::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn settings() -> QueueSettings {
        QueueSettings {
            retry_attempts: 2,
            backoff: Backoff {
                base: Duration::from_secs(60),
                factor: 2,
                max: Duration::from_secs(3600),
                jitter: 0.0,
            },
            ..QueueSettings::default()
        }
    }

    const TARGETS: [(&str, &str); 3] = [("a", "callee"), ("b", "callee"), ("c", "c")];

    fn sip(status: u16, retry_after: Option<u32>) -> AttemptResult {
        AttemptResult {
            outcome: classify(&AttemptFacts {
                sip_status: Some(status),
                retry_after,
                ..AttemptFacts::default()
            }),
            answered: false,
            confirmed: 0,
            total_pages: 3,
        }
    }

    fn answered(t30: i32, pages: u32, confirmed: u32) -> AttemptResult {
        AttemptResult {
            outcome: classify(&AttemptFacts {
                sip_status: Some(200),
                answered: true,
                fax_detected: true,
                t30_code: Some(t30),
                t30_text: "x".into(),
                pages_transferred: pages,
                pages_total: 3,
                ..AttemptFacts::default()
            }),
            answered: true,
            confirmed,
            total_pages: 3,
        }
    }

    fn record(id: i64, target: &str, confirmed: u32, passed: bool) -> AttemptRecord {
        AttemptRecord {
            attempt_id: id,
            target: target.into(),
            destination: "callee".into(),
            first_page: 1,
            confirmed,
            class: Some("busy".into()),
            next: Some(NextAction::RetryLater),
            reason: "Busy (SIP 486)".into(),
            fax_failure: false,
            passed,
            retry_at: None,
        }
    }

    fn progress(records: &[AttemptRecord]) -> JobProgress {
        let mut p = JobProgress::default();
        for r in records {
            p.apply(r);
        }
        p
    }

    #[test]
    fn plans() {
        let s = settings();
        let fresh = JobProgress::default();
        assert_eq!(
            plan_attempt(&fresh, &TARGETS, 3, &s),
            Plan::Dial {
                index: 0,
                first_page: 1,
                attempt: 1
            }
        );
        let one = progress(&[record(1, "a", 1, false)]);
        assert_eq!(
            plan_attempt(&one, &TARGETS, 3, &s),
            Plan::Dial {
                index: 0,
                first_page: 2,
                attempt: 2
            },
            "resend from the first unconfirmed page"
        );
        let whole = QueueSettings {
            resend_unconfirmed_pages: false,
            ..settings()
        };
        assert_eq!(
            plan_attempt(&one, &TARGETS, 3, &whole),
            Plan::Dial {
                index: 0,
                first_page: 1,
                attempt: 2
            },
            "or the whole document when configured"
        );
        let used = progress(&[record(1, "a", 2, false), record(2, "a", 2, false)]);
        assert_eq!(
            plan_attempt(&used, &TARGETS, 3, &s),
            Plan::Dial {
                index: 1,
                first_page: 3,
                attempt: 1
            },
            "attempts per endpoint; pages confirmed via another upstream count"
        );
        let passed = progress(&[record(1, "a", 0, true)]);
        assert!(matches!(
            plan_attempt(&passed, &TARGETS, 3, &s),
            Plan::Dial { index: 1, .. }
        ));
        let all = progress(&[record(1, "a", 3, false)]);
        assert_eq!(plan_attempt(&all, &TARGETS, 3, &s), Plan::AllPagesConfirmed);
        assert_eq!(
            plan_attempt(&all, &TARGETS, 3, &whole),
            Plan::AllPagesConfirmed
        );
        let done = {
            let mut r = record(1, "a", 3, false);
            r.next = Some(NextAction::Done);
            progress(&[r])
        };
        assert_eq!(plan_attempt(&done, &TARGETS, 3, &s), Plan::AlreadyDelivered);
        let spent = progress(&[
            record(1, "a", 0, true),
            record(2, "b", 0, true),
            record(3, "c", 0, false),
            record(4, "c", 0, false),
        ]);
        assert_eq!(
            plan_attempt(&spent, &TARGETS, 3, &s),
            Plan::Exhausted {
                reason: "Busy (SIP 486)".into()
            }
        );
        assert!(matches!(
            plan_attempt(&fresh, &[] as &[(&str, &str)], 3, &s),
            Plan::Exhausted { .. }
        ));
    }

    #[test]
    fn steps_after_an_attempt() {
        let s = settings();
        let fresh = JobProgress::default();
        let min = |m: i64| t0() + TimeDelta::minutes(m);
        let retry = |at, passed| Step::Retry { at, passed };
        let after = |p: &JobProgress, i: usize, r: &AttemptResult| {
            after_attempt(p, &TARGETS, i, r, &s, t0(), 0.0)
        };
        // Success.
        assert_eq!(after(&fresh, 0, &answered(0, 3, 3)), Step::Complete);
        // Busy: the same gateway after the delay, then the next one.
        assert_eq!(after(&fresh, 0, &sip(486, None)), retry(min(1), false));
        let once = progress(&[record(1, "a", 0, false)]);
        assert_eq!(after(&once, 0, &sip(486, None)), retry(t0(), true));
        // 503 with Retry-After: the next gateway at once; alone, this one no sooner than asked.
        assert_eq!(after(&fresh, 0, &sip(503, Some(600))), retry(t0(), true));
        let only = [("a", "callee")];
        assert_eq!(
            after_attempt(&fresh, &only, 0, &sip(503, Some(600)), &s, t0(), 0.0),
            retry(min(10), false)
        );
        // Not found and rejected are final.
        assert!(
            matches!(after(&fresh, 0, &sip(404, None)), Step::Fail { reason } if reason.contains("404"))
        );
        // 488 to an offer with T.38: redial at once (audio only, the policy's job).
        assert_eq!(after(&fresh, 0, &sip(488, None)), retry(t0(), false));
        // A partial fax: retried later; every page confirmed despite a T.30 error: done.
        assert_eq!(after(&fresh, 0, &answered(49, 2, 2)), retry(min(1), false));
        assert_eq!(after(&fresh, 0, &answered(49, 3, 3)), Step::Complete);
        // The last attempt anywhere: fail, naming how many attempts were made.
        let spent = progress(&[
            record(1, "a", 0, true),
            record(2, "b", 0, true),
            record(3, "c", 0, false),
        ]);
        match after(&spent, 2, &sip(486, None)) {
            Step::Fail { reason } => {
                assert!(
                    reason.contains("Busy") && reason.contains("after 4 attempt"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failed_response_makes_a_cause_final() {
        let s = QueueSettings {
            failed_response: vec!["USER_BUSY".into()],
            ..settings()
        };
        let step = after_attempt(
            &JobProgress::default(),
            &TARGETS,
            0,
            &sip(486, None),
            &s,
            t0(),
            0.0,
        );
        assert!(matches!(step, Step::Fail { .. }), "{step:?}");
    }

    #[test]
    fn backoff_grows_per_target() {
        let s = QueueSettings {
            retry_attempts: 5,
            ..settings()
        };
        let p = progress(&[record(1, "a", 0, false), record(2, "a", 0, false)]);
        let step = after_attempt(&p, &TARGETS, 0, &sip(486, None), &s, t0(), 0.0);
        assert_eq!(
            step,
            Step::Retry {
                at: t0() + TimeDelta::minutes(4),
                passed: false
            },
            "third failure: 60 s doubled twice"
        );
    }
}
