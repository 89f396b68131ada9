//! One claimed job, to the end of one attempt: the async shell around [`super::plan`].
//!
//! Order of writes, so that a crash at any point loses nothing and sends nothing twice:
//! 1. the attempt row (`start_attempt`) before dialing;
//! 2. one page result per confirmed page, as the far end confirms it;
//! 3. the attempt's record in the event log (the commit point, see [`super::progress`]);
//! 4. the attempt row's end, then the job's row (complete, retry, fail) and its final event.
//!
//! A crash before 3 leaves an attempt row without a record: the next claim records it as
//! interrupted with the pages already confirmed, and sends only the rest — or nothing, when
//! every page was confirmed. A crash after 3 replays the record's decision.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use store::{AttemptOutcome, Direction, Job, NewAttempt, NewPageResult};
use tokio::sync::{mpsc, watch};

use super::dialer::DialRequest;
use super::limits::GlobalSlot;
use super::options::{layered, load_job_options, named_route, JobOptions};
use super::pages::check_first_page;
use super::plan::{plan_attempt, Plan};
use super::progress::{AttemptRecord, JobProgress, ATTEMPT_INTERRUPTED};
use super::publish::CallEvents;
use super::route::{load_route, Route, Target};
use super::settings::QueueSettings;
use super::settle::{complete, event, fail, finish, hand_back, interrupted};
use super::tracker::{AttemptInfo, Begin, Phase};
use super::worker::Ctx;
use crate::call::{CallReport, FaxDirection, FaxOptions, Progress};
use crate::events::CallInfo;
use crate::policy::{self, DialPlan, Identity, Parties, T38Mode};

/// Event kind of a job that ended delivered (or kept for the API).
pub const JOB_COMPLETED: &str = "job.completed";
/// Event kind of a job that ended undelivered.
pub const JOB_FAILED: &str = "job.failed";
/// Event kind of a job given back without an attempt (no channel, shutdown, lost lease).
pub const JOB_HANDED_BACK: &str = "job.handed_back";
/// Most events read to rebuild a job's progress.
const EVENT_LIMIT: u32 = 10_000;

type Res<T> = store::Result<T>;

/// Runs one claimed job; store failures leave it to its lease, which lapses and lets the
/// job be claimed again.
pub(crate) async fn run_job(ctx: Arc<Ctx>, job: Job, slot: GlobalSlot) {
    let key = job.id.to_string();
    ctx.tracker
        .update(|t| t.begin(&key, begin_of(&job, 0), Phase::Routed, ctx.now()));
    if let Err(e) = process(&ctx, &job, slot).await {
        tracing::warn!(job_id = %job.id, error = %e, "job left to its lease after a store error");
        ctx.tracker.update(|t| t.forget(&key));
    }
}

/// How long a job whose gateways are all down waits before it looks again.
const GATEWAYS_DOWN_WAIT: Duration = Duration::from_secs(30);

async fn process(ctx: &Ctx, job: &Job, slot: GlobalSlot) -> Res<()> {
    let store = ctx.store.as_ref();
    let tenant = job.tenant_id;
    let events = store
        .list_events(Some(tenant), Some(job.id), EVENT_LIMIT)
        .await?;
    let mut progress = JobProgress::from_events(&events);
    let options = load_job_options(store, job, ctx.now()).await?;
    let route = match &options {
        Some(o) if !o.gateways.is_empty() => named_route(store, job, &o.gateways).await?,
        _ => load_route(store, job.direction, &job.callee).await?,
    };
    let mut settings = ctx.settings.clone();
    if let Some(n) = options.as_ref().and_then(|o| o.attempts) {
        settings.retry_attempts = n.max(1);
    }
    recover_interrupted(ctx, job, &route, &mut progress).await?;
    let mut route = route;
    let down: Vec<String> = route
        .targets
        .iter()
        .filter(|t| ctx.dialer.is_down(&t.gateway.name))
        .map(|t| t.gateway.name.clone())
        .collect();
    if !down.is_empty() {
        if down.len() == route.targets.len() {
            // Nothing to try: wait for a gateway to answer its probes again rather than
            // spend the job's attempts on dead gateways.
            let at = ctx.now() + delta(GATEWAYS_DOWN_WAIT);
            let why = format!(
                "every gateway is down (no answer to OPTIONS): {}",
                down.join(", ")
            );
            return hand_back(ctx, job, at, &why).await;
        }
        route.targets.retain(|t| !down.contains(&t.gateway.name));
    }

    let doc = match job.document_id {
        Some(id) => store.get_document(tenant, id).await?,
        None => None,
    };
    let Some(doc) = doc else {
        return fail(ctx, job, "the job has no document to send").await;
    };
    let total = u32::try_from(doc.pages).unwrap_or(0);
    ctx.tracker.update(|t| {
        t.begin(
            &job.id.to_string(),
            begin_of(job, total),
            Phase::Routed,
            ctx.now(),
        )
    });

    if route.targets.is_empty() {
        return no_target(ctx, job, &route).await;
    }
    match plan_attempt(&progress, &route.targets, total, &settings) {
        Plan::AlreadyDelivered => complete(ctx, job, "delivered before a restart", true).await,
        Plan::AllPagesConfirmed => {
            complete(
                ctx,
                job,
                "every page was confirmed before the call was cut short",
                true,
            )
            .await
        }
        Plan::Exhausted { reason } => fail(ctx, job, &reason).await,
        Plan::Dial {
            index,
            first_page,
            attempt,
        } => {
            let a = Attempt {
                job,
                route: &route,
                index,
                first_page,
                attempt,
                total,
                data: &doc.data,
                settings: &settings,
                options: options.as_ref(),
            };
            dial(ctx, a, &progress, slot).await
        }
    }
}

fn begin_of(job: &Job, total: u32) -> Begin {
    let outbound = job.direction == Direction::Outbound;
    Begin {
        direction: job.direction.as_str().to_owned(),
        caller: job.caller.clone(),
        callee: job.callee.clone(),
        src_tenant_id: if outbound { job.tenant_id.0 } else { 0 },
        dst_tenant_id: if outbound { 0 } else { job.tenant_id.0 },
        enqueued_at: Some(job.created_at),
        pages_total: total,
    }
}

/// A job with no gateway to dial: a fax for one of our numbers (received, or sent to a
/// number whose tenant only has webhook or e-mail endpoints) is kept for the API; anything
/// else has nowhere to go.
async fn no_target(ctx: &Ctx, job: &Job, route: &Route) -> Res<()> {
    if !route.deferred.is_empty() {
        // The notifier delivers a received fax to these on `FaxReceived`.
        let kinds: Vec<&str> = route
            .deferred
            .iter()
            .map(|e| e.endpoint_type.as_str())
            .collect();
        let reason = format!(
            "kept for the API; its {} endpoints get it from the notifier",
            kinds.join(", ")
        );
        return complete(ctx, job, &reason, false).await;
    }
    if route.local_callee && job.direction == Direction::Inbound {
        return complete(
            ctx,
            job,
            "kept for the API; the number has no delivery endpoint",
            false,
        )
        .await;
    }
    let reason = if route.unknown_gateways.is_empty() {
        "no gateway to send through".to_owned()
    } else {
        format!(
            "no usable gateway: endpoints name unknown gateways {}",
            route.unknown_gateways.join(", ")
        )
    };
    fail(ctx, job, &reason).await
}

/// Records attempts a crash, a shutdown or a lost lease cut short, with the pages the far
/// end had confirmed by then.
async fn recover_interrupted(
    ctx: &Ctx,
    job: &Job,
    route: &Route,
    progress: &mut JobProgress,
) -> Res<()> {
    let store = ctx.store.as_ref();
    let tenant = job.tenant_id;
    for a in store.list_attempts(tenant, job.id).await? {
        // The reception of an incoming fax has no endpoint: it is not a delivery attempt.
        let Some(endpoint) = a.endpoint_id else {
            continue;
        };
        let pages = store.list_page_results(tenant, a.id).await?;
        let seen = pages
            .iter()
            .map(|p| u32::try_from(p.page).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let now = ctx.now();
        if progress.recorded.contains(&a.id.0) {
            if a.ended_at.is_none() {
                let o = outcome_row(
                    now,
                    -1,
                    "closed after a restart; see the attempt's event",
                    &pages,
                );
                store.finish_attempt(a.id, &o).await?;
            }
            continue;
        }
        let key = format!("endpoint:{endpoint}");
        let destination = route
            .targets
            .iter()
            .find(|t| t.key == key)
            .map_or_else(|| key.clone(), |t| t.destination.clone());
        let record = AttemptRecord {
            attempt_id: a.id.0,
            target: key,
            confirmed: seen.max(progress.confirmed(&destination)),
            destination,
            first_page: pages
                .iter()
                .map(|p| u32::try_from(p.page).unwrap_or(0))
                .min()
                .unwrap_or(0),
            class: None,
            next: None,
            reason: "interrupted: the call was cut short (server stopped or lost its lease)".into(),
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
        if a.ended_at.is_none() {
            store
                .finish_attempt(a.id, &outcome_row(now, -1, &record.reason, &pages))
                .await?;
        }
        tracing::info!(job_id = %job.id, attempt = a.id.0, confirmed = record.confirmed, "interrupted attempt recorded");
        progress.apply(&record);
    }
    Ok(())
}

fn outcome_row(
    now: DateTime<Utc>,
    code: i64,
    text: &str,
    pages: &[store::PageResult],
) -> AttemptOutcome {
    AttemptOutcome {
        ended_at: now,
        result_code: code,
        result_text: text.to_owned(),
        pages: i64::try_from(pages.len()).unwrap_or(0),
    }
}

/// What one attempt works on.
pub(super) struct Attempt<'a> {
    pub(super) job: &'a Job,
    pub(super) route: &'a Route,
    pub(super) index: usize,
    pub(super) first_page: u32,
    pub(super) attempt: u32,
    pub(super) total: u32,
    pub(super) data: &'a [u8],
    /// The queue's settings with the job's own attempt count.
    pub(super) settings: &'a QueueSettings,
    /// What the job asked for itself, if anything.
    pub(super) options: Option<&'a JobOptions>,
}

impl Attempt<'_> {
    pub(super) fn target(&self) -> &Target {
        &self.route.targets[self.index]
    }
}

async fn dial(ctx: &Ctx, a: Attempt<'_>, progress: &JobProgress, slot: GlobalSlot) -> Res<()> {
    let job = a.job;
    let target = a.target();
    let gw = &target.gateway;
    let now = ctx.now();
    let Ok(_channel) = ctx.limits.channel(slot, job.tenant_id, Some(gw.id)) else {
        let at = now + delta(ctx.settings.busy_wait);
        return hand_back(
            ctx,
            job,
            at,
            "no free channel for the tenant or the gateway",
        )
        .await;
    };
    if let Err(wait) = ctx.limits.try_call(gw.id, now) {
        let at = now + delta(wait.max(Duration::from_millis(100)));
        return hand_back(ctx, job, at, "the gateway's call rate is used up").await;
    }
    let plan = dial_plan(ctx, &a, gw.t38_allowed, progress.fax_failures).await?;
    if let Err(e) = check_first_page(a.data, a.first_page) {
        return fail(ctx, job, &format!("the document cannot be read: {e}")).await;
    }
    let attempt = ctx
        .store
        .start_attempt(&NewAttempt {
            job_id: job.id,
            endpoint_id: Some(target.endpoint.id),
            gateway_id: Some(gw.id),
            started_at: now,
        })
        .await?;
    let key = job.id.to_string();
    let already = a.first_page.saturating_sub(1);
    ctx.tracker.update(|t| {
        t.attempt(
            &key,
            AttemptInfo {
                attempt: a.attempt,
                max_attempts: a.settings.retry_attempts,
                priority: target.endpoint.priority,
                endpoint_type: target.endpoint.endpoint_type.as_str().to_owned(),
                endpoint_label: target.endpoint.scope.as_str().to_owned(),
                endpoint_value: gw.name.clone(),
            },
            already,
            now,
        )
    });
    tracing::info!(job_id = %job.id, attempt = attempt.id.0, gateway = %gw.name, first_page = a.first_page, "dialling");

    let tiff = spool_path(ctx, job, attempt.id.0);
    let mut options = fax_options(&ctx.settings.fax, &plan);
    if let Some(tz) = super::options::header_tz(ctx.store.as_ref(), job).await? {
        options.header_tz = Some(tz);
    }
    // A custom date format: this attempt's copy carries our header line (all pages, so the
    // page numbers stay the document's when resending from a later page).
    let stamped = match super::options::header_date_format(ctx.store.as_ref(), job).await? {
        Some(f) => super::options::with_header_line(a.data, &f, now, &mut options).await,
        None => None,
    };
    let written = std::fs::create_dir_all(&ctx.settings.spool_dir)
        .and_then(|()| std::fs::write(&tiff, stamped.as_deref().unwrap_or(a.data)));
    let mut report = match written {
        Ok(()) => {
            options.debug_pcap =
                super::bundles::pcap_wanted(ctx.store.as_ref(), job.tenant_id, Some(gw.id)).await;
            if let Some(ring) = a.options.and_then(JobOptions::ring_timeout) {
                options.ring_timeout = ring;
            }
            call(ctx, &a, attempt.id, tiff.clone(), options).await
        }
        Err(e) => {
            let mut r = CallReport::new(FaxDirection::Send);
            r.failure = Some(format!("cannot write {}: {e}", tiff.display()));
            Finished {
                report: r,
                confirmed: already,
                lease_lost: false,
                cancelled: false,
            }
        }
    };
    let _ = std::fs::remove_file(&tiff);
    let end = ctx.now();
    let owner = super::bundles::Owner {
        tenant: job.tenant_id,
        job: job.id,
        leg: store::debug::leg::SEND,
        attempt_id: Some(attempt.id.0),
    };
    let r = &mut report.report;
    let debug = std::mem::take(&mut r.debug);
    // Off when the server keeps no bundles (FAXSERVER_DEBUG_RETENTION_DAYS=0).
    if ctx.settings.fax.debug_capture {
        super::bundles::save(ctx.store.as_ref(), owner, &r.call_id, debug, end).await;
    }
    ctx.limits.on_response(
        gw.id,
        end,
        report.report.sip_status,
        report.report.retry_after,
    );
    let confirmed = report
        .confirmed
        .max(progress.confirmed(&target.destination));
    if (report.lease_lost || report.cancelled) && !report.report.is_success() {
        return interrupted(ctx, &a, attempt.id, &report, confirmed, end).await;
    }
    finish(
        ctx,
        &a,
        attempt.id,
        progress,
        &report.report,
        confirmed,
        end,
    )
    .await
}

/// A call ended; what the queue learned from it.
pub(super) struct Finished {
    pub(super) report: CallReport,
    pub(super) confirmed: u32,
    pub(super) lease_lost: bool,
    pub(super) cancelled: bool,
}

/// Places the call while renewing the lease and recording confirmed pages as they come.
async fn call(
    ctx: &Ctx,
    a: &Attempt<'_>,
    attempt: store::AttemptId,
    tiff: PathBuf,
    options: FaxOptions,
) -> Finished {
    let job = a.job;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let cancel_tx = Arc::new(cancel_tx);
    let (ptx, prx) = mpsc::unbounded_channel();
    let already = a.first_page.saturating_sub(1);
    let info = CallInfo {
        call_uuid: uuid::Uuid::new_v4().to_string(),
        job_uuid: Some(job.id.to_string()),
        tenant_id: Some(job.tenant_id.0),
        sip_call_id: String::new(),
        direction: FaxDirection::Send,
        caller: job.caller.clone(),
        callee: job.callee.clone(),
        gateway: Some(a.target().gateway.name.clone()),
    };
    // Listed for `uuid_kill`/`hupall` for as long as the call runs.
    let _live = ctx.events.calls.register(&info, cancel_tx.clone());
    let mut events = CallEvents::pending(&ctx.events, info);
    let req = DialRequest {
        gateway: a.target().gateway.clone(),
        caller: job.caller.clone(),
        callee: job.callee.clone(),
        tiff,
        first_page: a.first_page,
        options,
        cancel: cancel_rx,
    };
    let lost = AtomicBool::new(false);
    // The dial future owns the progress sender, so the page writer ends once the call has.
    // The guard never finishes: it only renews the lease and, when the lease is lost or the
    // shutdown's grace is over, tells the call to hang up; the call then ends by itself.
    let dial = ctx.dialer.dial(req, ptx);
    let guard = guard_call(ctx, job, &cancel_tx, &lost);
    let (mut report, confirmed) = tokio::join!(
        async {
            tokio::select! {
                r = dial => r,
                never = guard => match never {},
            }
        },
        record_pages(ctx, job, attempt, already, prx, &mut events)
    );
    events.ended(&mut report);
    Finished {
        report,
        confirmed,
        lease_lost: lost.load(Ordering::SeqCst),
        cancelled: ctx.shutdown.is_cancelled(),
    }
}

/// Renews the lease while the call runs and asks the call to hang up when the lease is lost
/// (`lost` is set) or the shutdown cancels running calls.
async fn guard_call(
    ctx: &Ctx,
    job: &Job,
    cancel: &watch::Sender<bool>,
    lost: &AtomicBool,
) -> Infallible {
    let mut shutdown = ctx.shutdown.cancelled();
    let mut tick = tokio::time::interval(ctx.settings.renew_every);
    tick.tick().await;
    let (mut renewing, mut watching) = (true, true);
    loop {
        tokio::select! {
            _ = tick.tick(), if renewing => {
                match ctx.store.renew_lease(job.id, &ctx.worker, ctx.settings.lease, ctx.now()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job_id = %job.id, "lease lost during the call; hanging up");
                        lost.store(true, Ordering::SeqCst);
                        let _ = cancel.send(true);
                        renewing = false;
                    }
                    Err(e) => tracing::warn!(job_id = %job.id, error = %e, "lease renewal failed; will retry"),
                }
            }
            ok = cancelled(&mut shutdown), if watching => {
                if ok {
                    let _ = cancel.send(true);
                }
                watching = false;
            }
            () = std::future::pending(), if !renewing && !watching => {}
        }
    }
}

/// Waits for the shutdown's cancel; false if it can no longer come.
async fn cancelled(rx: &mut watch::Receiver<bool>) -> bool {
    rx.wait_for(|c| *c).await.is_ok()
}

/// Writes a page result for each page the far end confirms, in the document's numbering;
/// returns the pages confirmed when the call ends.
async fn record_pages(
    ctx: &Ctx,
    job: &Job,
    attempt: store::AttemptId,
    already: u32,
    mut rx: mpsc::UnboundedReceiver<Progress>,
    events: &mut CallEvents,
) -> u32 {
    let key = job.id.to_string();
    let mut confirmed = already;
    while let Some(p) = rx.recv().await {
        let Progress::Page(page) = &p else {
            events.progress(&p, already);
            continue;
        };
        let number = already + page.page;
        let row = NewPageResult {
            attempt_id: attempt,
            page: i64::from(number),
            result_code: 0,
            bad_rows: i64::from(page.bad_rows),
            detail: format!(
                "{} bit/s{}, {}, {} rows, {}",
                page.bit_rate,
                if page.ecm { " ECM" } else { "" },
                page.resolution,
                page.rows,
                page.media
            ),
        };
        // The tracker shows a page only once the store has it, so what the API reports as
        // sent is what a restart will know.
        match ctx.store.add_page_result(&row).await {
            Ok(_) => {
                confirmed = confirmed.max(number);
                ctx.tracker.update(|t| t.pages(&key, number, ctx.now()));
            }
            Err(e) => {
                tracing::warn!(job_id = %job.id, page = number, error = %e, "page result not stored")
            }
        }
        // After the store write: a listener told of a page finds it in the store.
        events.progress(&p, already);
    }
    confirmed
}

async fn dial_plan(
    ctx: &Ctx,
    a: &Attempt<'_>,
    t38_allowed: bool,
    fax_failures: u32,
) -> Res<DialPlan> {
    let job = a.job;
    let store = ctx.store.as_ref();
    let now = ctx.now();
    let mut settings = ctx.settings.policy.clone();
    if !t38_allowed {
        settings.enable_t38 = false;
        settings.request_t38 = false;
    }
    let parties = parties(job);
    let history = policy::persist::load_history(store, &parties, now).await?;
    let mut overrides = policy::persist::load_overrides(store, &job.callee, now).await?;
    if let Some(o) = a.options {
        overrides = layered(overrides, &o.overrides());
    }
    let header = match store::E164::parse(&job.caller) {
        Ok(n) => store
            .find_number(&n)
            .await?
            .filter(|n| n.tenant_id == job.tenant_id)
            .map(|n| n.header)
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    let identity = Identity {
        ident: job
            .caller
            .chars()
            .take(policy::overrides::MAX_IDENT_CHARS)
            .collect(),
        header,
    };
    Ok(policy::decide(
        &settings,
        &history,
        &overrides,
        &identity,
        fax_failures,
        now,
    ))
}

pub(super) fn parties(job: &Job) -> Parties {
    Parties {
        caller: job.caller.clone(),
        callee: job.callee.clone(),
        direction: FaxDirection::Send,
    }
}

/// The call's fax options: the configured base with the dial plan applied.
pub fn fax_options(base: &FaxOptions, plan: &DialPlan) -> FaxOptions {
    FaxOptions {
        t38: if plan.g711_only {
            T38Mode::Off
        } else {
            plan.t38
        },
        ecm: plan.ecm,
        disable_v17: plan.disable_v17,
        ident: plan.ident.clone(),
        header: (!plan.header.is_empty()).then(|| plan.header.clone()),
        log_level: if plan.verbose {
            spandsp::LogLevel::Flow
        } else {
            base.log_level
        },
        ..base.clone()
    }
}

fn spool_path(ctx: &Ctx, job: &Job, attempt: i64) -> PathBuf {
    ctx.settings
        .spool_dir
        .join(format!("send-{}-{attempt}.tif", job.id))
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::zero())
}
