//! The worker loop: claim due jobs while channels are free, run each in its own task, and
//! on shutdown stop claiming, let running calls finish for the grace time, then cancel them
//! (their jobs are handed back for after the restart).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use store::{JobFailure, JobFilter, JobId, JobStatus, Store};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::calls::Events;
use super::control::{Clock, Shutdown};
use super::dialer::Dialer;
use super::job::run_job;
use super::limits::Limits;
use super::settings::QueueSettings;
use super::tracker::TrackerHandle;

/// Everything a job task needs.
pub(crate) struct Ctx {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) dialer: Arc<dyn Dialer>,
    pub(crate) settings: QueueSettings,
    pub(crate) limits: Limits,
    pub(crate) tracker: TrackerHandle,
    pub(crate) clock: Clock,
    pub(crate) worker: String,
    pub(crate) shutdown: Shutdown,
    pub(crate) events: Events,
    jitter: Mutex<u64>,
    /// Looks for a job skipped because the media clock ran late.
    held_back: AtomicU64,
}

impl Ctx {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A point in \[-1, 1\] for the back-off jitter (xorshift; no need for a real RNG).
    pub(crate) fn spread(&self) -> f64 {
        let mut s = self.jitter.lock().unwrap_or_else(|e| e.into_inner());
        let mut x = *s;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *s = x;
        (x as f64 / u64::MAX as f64) * 2.0 - 1.0
    }
}

/// What a queue is built from.
pub struct QueueParts {
    /// The store holding the jobs.
    pub store: Arc<dyn Store>,
    /// How calls are placed.
    pub dialer: Arc<dyn Dialer>,
    /// Settings.
    pub settings: QueueSettings,
    /// Caps shared with the inbound side.
    pub limits: Limits,
    /// The tracker shared with the API.
    pub tracker: TrackerHandle,
    /// The clock.
    pub clock: Clock,
    /// This node's worker id (leases carry it; stable across restarts of the node).
    pub worker: String,
    /// The server's shutdown switches.
    pub shutdown: Shutdown,
    /// Where calls and jobs are published, and the live call list (default: nowhere).
    pub events: Events,
}

/// The durable queue's workers on this node.
#[derive(Clone)]
pub struct Queue {
    ctx: Arc<Ctx>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("worker", &self.ctx.worker)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// A queue from its parts.
    pub fn new(p: QueueParts) -> Self {
        let seed = p.clock.now().timestamp_nanos_opt().unwrap_or(1) as u64 | 1;
        Queue {
            ctx: Arc::new(Ctx {
                store: p.store,
                dialer: p.dialer,
                settings: p.settings,
                limits: p.limits,
                tracker: p.tracker,
                clock: p.clock,
                worker: p.worker,
                shutdown: p.shutdown,
                events: p.events,
                jitter: Mutex::new(seed),
                held_back: AtomicU64::new(0),
            }),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The tracker.
    pub fn tracker(&self) -> TrackerHandle {
        self.ctx.tracker.clone()
    }

    /// The bus and live calls the queue publishes to.
    pub fn events(&self) -> &Events {
        &self.ctx.events
    }

    /// How often a look for a job was skipped because the media clock ran late (the
    /// overload guard), since the queue started.
    pub fn held_back(&self) -> u64 {
        self.ctx.held_back.load(Ordering::Relaxed)
    }

    /// Wakes an idle worker loop (a job was just queued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Hands back every job this worker id still holds: after a restart they belong to
    /// nobody, and waiting for their leases to lapse would only delay them. Their cut-short
    /// attempts are recorded when they are claimed again.
    pub async fn release_own_leases(&self) -> store::Result<usize> {
        let store = self.ctx.store.as_ref();
        let now = self.ctx.now();
        let mut released = 0;
        for tenant in store.list_tenants().await? {
            let mut filter = JobFilter {
                status: Some(JobStatus::Active),
                ..JobFilter::default()
            };
            loop {
                let page = store.list_jobs_filtered(tenant.id, &filter, 200).await?;
                let Some(last) = page.last() else { break };
                filter.after = Some(store::JobCursor::after(last));
                for job in page
                    .iter()
                    .filter(|j| j.lease_owner.as_deref() == Some(&self.ctx.worker))
                {
                    let failure = JobFailure::Retry {
                        at: now,
                        error: job.last_error.clone().unwrap_or_default(),
                    };
                    if store
                        .fail_job(job.id, &self.ctx.worker, &failure, now)
                        .await?
                    {
                        released += 1;
                    }
                }
            }
        }
        if released > 0 {
            tracing::info!(released, "jobs held before the restart were handed back");
        }
        Ok(released)
    }

    /// Claims one due job and runs it to the end of its attempt in this task; `None` when no
    /// job is due or no channel is free.
    pub async fn run_one(&self) -> store::Result<Option<JobId>> {
        let s = &self.ctx.settings;
        if held_back(&self.ctx) {
            return Ok(None);
        }
        let Some(slot) = self.ctx.limits.try_global_slot() else {
            return Ok(None);
        };
        let Some(job) = self
            .ctx
            .store
            .claim_next_job(&self.ctx.worker, s.lease, self.ctx.now())
            .await?
        else {
            return Ok(None);
        };
        let id = job.id;
        run_job(self.ctx.clone(), job, slot).await;
        Ok(Some(id))
    }

    /// Runs [`Self::run_one`] until nothing is due; returns how many jobs ran.
    pub async fn run_until_idle(&self) -> store::Result<usize> {
        let mut n = 0;
        while self.run_one().await?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    /// The worker loop, until the shutdown stops it: then running jobs get `grace` to end
    /// before they are cancelled; returns once every one has ended.
    pub async fn run(self, grace: Duration) {
        let ctx = self.ctx.clone();
        let mut stop = ctx.shutdown.stopping();
        let mut tasks = JoinSet::new();
        while !*stop.borrow() {
            while tasks.try_join_next().is_some() {}
            let slot = tokio::select! {
                s = ctx.limits.global_slot() => s,
                _ = stop.changed() => continue,
            };
            let Some(slot) = slot else { break };
            let claimed = if held_back(&ctx) {
                Ok(None)
            } else {
                ctx.store
                    .claim_next_job(&ctx.worker, ctx.settings.lease, ctx.now())
                    .await
            };
            match claimed {
                Ok(Some(job)) => {
                    // Every line logged for this job carries its id, and its call's SIP
                    // Call-ID once the INVITE is out (recorded by the publisher).
                    let span = tracing::info_span!(
                        "job",
                        job_id = %job.id,
                        call_id = tracing::field::Empty
                    );
                    tasks.spawn(run_job(ctx.clone(), job, slot).instrument(span));
                    continue;
                }
                Ok(None) => drop(slot),
                Err(e) => {
                    drop(slot);
                    tracing::warn!(error = %e, "claiming a job failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(ctx.settings.poll_interval) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => {}
                Some(_) = tasks.join_next() => {}
            }
        }
        drain(&mut tasks, grace, &ctx.shutdown).await;
    }
}

/// Lets running tasks end for `grace`, then cancels them and waits for the rest.
pub async fn drain<T: 'static>(tasks: &mut JoinSet<T>, grace: Duration, shutdown: &Shutdown) {
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            r = tasks.join_next() => if r.is_none() { return },
            () = &mut deadline => break,
        }
    }
    if !tasks.is_empty() {
        tracing::info!(
            running = tasks.len(),
            "grace time over: cancelling running calls"
        );
    }
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
}

/// Whether no job may be claimed now because the overload guard says so (media clock late,
/// or too little idle CPU): the job stays due, for this node later or for another one.
fn held_back(ctx: &Ctx) -> bool {
    let Some(why) = ctx.settings.overload.and_then(|g| g.overloaded()) else {
        return false;
    };
    ctx.held_back.fetch_add(1, Ordering::Relaxed);
    crate::call::count_skipped_claim();
    tracing::warn!("no job claimed: {why}");
    true
}
