//! The end of an attempt: the attempt's record (the commit point), the attempt row, then
//! the job's row and its final event; and the T.38 policy learning from the call.

use chrono::{DateTime, Utc};
use serde_json::json;
use store::{AttemptOutcome, Job, JobFailure, NewEvent};

use super::job::{parties, Attempt, Finished, JOB_COMPLETED, JOB_FAILED, JOB_HANDED_BACK};
use super::plan::{after_attempt, AttemptResult, Step};
use super::progress::{AttemptRecord, JobProgress, ATTEMPT_ENDED, ATTEMPT_INTERRUPTED};
use super::worker::Ctx;
use crate::call::CallReport;
use crate::events::EngineEvent;
use crate::outcome::NextAction;
use crate::policy::{self, MediaUsed};

type Res<T> = store::Result<T>;

pub(super) async fn learn(
    ctx: &Ctx,
    job: &Job,
    t38_allowed: bool,
    report: &CallReport,
    now: DateTime<Utc>,
) {
    let store = ctx.store.as_ref();
    let mut settings = ctx.settings.policy.clone();
    if !t38_allowed {
        settings.enable_t38 = false;
    }
    let parties = parties(job);
    let result = async {
        let before = policy::persist::load_history(store, &parties, now).await?;
        let after = policy::learn(
            &before,
            &report.outcome(),
            MediaUsed::from_report(report),
            &settings,
            now,
        );
        policy::persist::save_history(store, &parties, &before, &after).await
    };
    if let Err(e) = result.await {
        tracing::warn!(job_id = %job.id, error = %e, "T.38 policy state not saved");
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn finish(
    ctx: &Ctx,
    a: &Attempt<'_>,
    attempt: store::AttemptId,
    progress: &JobProgress,
    report: &CallReport,
    confirmed: u32,
    end: DateTime<Utc>,
) -> Res<()> {
    let job = a.job;
    let target = a.target();
    learn(ctx, job, target.gateway.t38_allowed, report, end).await;
    let outcome = report.outcome();
    let result = AttemptResult {
        outcome: outcome.clone(),
        answered: report.answered,
        confirmed,
        total_pages: a.total,
    };
    let step = after_attempt(
        progress,
        &a.route.targets,
        a.index,
        &result,
        a.settings,
        end,
        ctx.spread(),
    );
    let (next, passed, retry_at) = match &step {
        Step::Complete => (NextAction::Done, false, None),
        Step::Retry { at, passed } => (outcome.next, *passed, Some(*at)),
        Step::Fail { .. } => (NextAction::GiveUp, false, None),
    };
    let record = AttemptRecord {
        attempt_id: attempt.0,
        target: target.key.clone(),
        destination: target.destination.clone(),
        first_page: a.first_page,
        confirmed,
        class: Some(outcome.class.as_str().to_owned()),
        next: Some(next),
        reason: outcome.reason.clone(),
        fax_failure: outcome.class.is_fax_failure(),
        passed,
        retry_at,
    };
    let mut detail = serde_json::to_value(&record).unwrap_or_default();
    if let Some(obj) = detail.as_object_mut() {
        obj.insert("gateway".into(), json!(target.gateway.name));
        obj.insert("call_id".into(), json!(report.call_id));
        obj.insert("sip_status".into(), json!(report.sip_status));
        obj.insert("t30_code".into(), json!(outcome.t30_code));
        obj.insert("media".into(), json!(report.media));
        obj.insert("duration_ms".into(), json!(report.duration_ms));
    }
    event(ctx, job, ATTEMPT_ENDED, detail).await?;
    let pages_here = confirmed.saturating_sub(a.first_page.saturating_sub(1));
    let code = outcome
        .t30_code
        .map(i64::from)
        .or(report.sip_status.map(i64::from))
        .unwrap_or(-1);
    ctx.store
        .finish_attempt(
            attempt,
            &AttemptOutcome {
                ended_at: end,
                result_code: code,
                result_text: outcome.reason.clone(),
                pages: i64::from(pages_here),
            },
        )
        .await?;
    tracing::info!(job_id = %job.id, attempt = attempt.0, class = outcome.class.as_str(), "attempt ended");
    match step {
        Step::Complete => complete(ctx, job, &outcome.reason, true).await,
        Step::Fail { reason } => fail(ctx, job, &reason).await,
        Step::Retry { at, .. } => {
            let ok = ctx
                .store
                .fail_job(
                    job.id,
                    &ctx.worker,
                    &JobFailure::Retry {
                        at,
                        error: outcome.reason.clone(),
                    },
                    end,
                )
                .await?;
            if !ok {
                tracing::warn!(job_id = %job.id, "lease lost before the retry was scheduled");
            }
            let key = job.id.to_string();
            ctx.tracker
                .update(|t| t.waiting(&key, Some(&outcome.reason), at, end));
            Ok(())
        }
    }
}

/// Records an attempt a shutdown or a lost lease cut short and hands the job back (unless
/// another worker holds it now).
pub(super) async fn interrupted(
    ctx: &Ctx,
    a: &Attempt<'_>,
    attempt: store::AttemptId,
    f: &Finished,
    confirmed: u32,
    end: DateTime<Utc>,
) -> Res<()> {
    let job = a.job;
    let target = a.target();
    let reason = if f.lease_lost {
        "interrupted: the lease was lost"
    } else {
        "interrupted: the server is shutting down"
    };
    let record = AttemptRecord {
        attempt_id: attempt.0,
        target: target.key.clone(),
        destination: target.destination.clone(),
        first_page: a.first_page,
        confirmed,
        class: None,
        next: None,
        reason: reason.into(),
        fax_failure: false,
        passed: false,
        retry_at: None,
    };
    event(
        ctx,
        job,
        ATTEMPT_INTERRUPTED,
        serde_json::to_value(&record).unwrap_or_default(),
    )
    .await?;
    let here = confirmed.saturating_sub(a.first_page.saturating_sub(1));
    ctx.store
        .finish_attempt(
            attempt,
            &AttemptOutcome {
                ended_at: end,
                result_code: -1,
                result_text: reason.into(),
                pages: i64::from(here),
            },
        )
        .await?;
    let key = job.id.to_string();
    if f.lease_lost {
        ctx.tracker.update(|t| t.forget(&key));
        return Ok(());
    }
    hand_back(ctx, job, end, reason).await?;
    ctx.tracker.update(|t| t.forget(&key));
    Ok(())
}

/// Gives the job back without counting an attempt; its last error stays as it was.
pub(super) async fn hand_back(ctx: &Ctx, job: &Job, at: DateTime<Utc>, why: &str) -> Res<()> {
    let error = job.last_error.clone().unwrap_or_default();
    ctx.store
        .fail_job(
            job.id,
            &ctx.worker,
            &JobFailure::Retry { at, error },
            ctx.now(),
        )
        .await?;
    event(
        ctx,
        job,
        JOB_HANDED_BACK,
        json!({ "reason": why, "retry_at": at }),
    )
    .await?;
    tracing::debug!(job_id = %job.id, %why, "job handed back");
    let key = job.id.to_string();
    ctx.tracker.update(|t| t.waiting(&key, None, at, ctx.now()));
    Ok(())
}

pub(super) async fn complete(ctx: &Ctx, job: &Job, reason: &str, delivered: bool) -> Res<()> {
    let now = ctx.now();
    if ctx.store.complete_job(job.id, &ctx.worker, now).await? {
        event(
            ctx,
            job,
            JOB_COMPLETED,
            json!({ "reason": reason, "delivered": delivered }),
        )
        .await?;
        tracing::info!(job_id = %job.id, delivered, "job completed");
        // A received fax kept for the API was not delivered anywhere: no delivery event.
        if delivered {
            ctx.events.publish(EngineEvent::JobDelivered {
                job_uuid: job.id.to_string(),
                tenant_id: job.tenant_id.0,
            });
        }
    } else {
        tracing::warn!(job_id = %job.id, "lease lost before completion; another worker has the job");
    }
    ctx.tracker
        .update(|t| t.finish(&job.id.to_string(), true, reason, now));
    Ok(())
}

pub(super) async fn fail(ctx: &Ctx, job: &Job, reason: &str) -> Res<()> {
    let now = ctx.now();
    let failure = JobFailure::Final {
        error: reason.to_owned(),
    };
    if ctx
        .store
        .fail_job(job.id, &ctx.worker, &failure, now)
        .await?
    {
        event(ctx, job, JOB_FAILED, json!({ "reason": reason })).await?;
        tracing::info!(job_id = %job.id, %reason, "job failed");
        ctx.events.publish(EngineEvent::JobFailed {
            job_uuid: job.id.to_string(),
            tenant_id: job.tenant_id.0,
            reason: reason.to_owned(),
        });
    } else {
        tracing::warn!(job_id = %job.id, "lease lost before the failure was recorded");
    }
    ctx.tracker
        .update(|t| t.finish(&job.id.to_string(), false, reason, now));
    Ok(())
}

pub(super) async fn event(ctx: &Ctx, job: &Job, kind: &str, detail: serde_json::Value) -> Res<()> {
    ctx.store
        .append_event(&NewEvent {
            at: ctx.now(),
            tenant_id: Some(job.tenant_id),
            job_id: Some(job.id),
            kind: kind.to_owned(),
            detail,
        })
        .await
        .map(|_| ())
}
