//! Retention of per-call debug bundles (`FAXSERVER_DEBUG_RETENTION_DAYS`): a background task
//! deletes bundles older than the configured number of days, once at start and then hourly.
//!
//! Hourly is plenty: a bundle lives for days, so one kept an hour longer costs nothing, while
//! a tighter loop would only add load on a shared database.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use engine::queue::{Clock, Shutdown};
use store::Store;
use tokio::task::JoinHandle;

/// How often the purge runs.
pub(crate) const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Bundles created before this are due for deletion.
pub(crate) fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - TimeDelta::days(i64::from(days))
}

/// Deletes the bundles older than `days` at `now`; returns how many went.
pub(crate) async fn purge(store: &dyn Store, now: DateTime<Utc>, days: u32) -> store::Result<u64> {
    store.purge_call_debug_before(cutoff(now, days)).await
}

/// Starts the hourly purge, unless `days` is 0 (bundles are then never made, so there is
/// nothing to delete); the task ends when `shutdown` stops the server.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    days: u32,
    clock: Clock,
    shutdown: &Shutdown,
) -> Option<JoinHandle<()>> {
    if days == 0 {
        return None;
    }
    let mut stopping = shutdown.stopping();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        // A server that was suspended purges once when it wakes, not once per missed hour.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
            match purge(store.as_ref(), clock.now(), days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, days, "debug bundles past retention deleted"),
                // The next hour tries again; a database hiccup must not end the task.
                Err(e) => tracing::warn!(error = %e, "purging debug bundles failed"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;
    use store::{Direction, JobId, NewCallDebug, NewJob, NewTenant, SqliteStore, TenantId};

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    async fn bundle(s: &SqliteStore, t: TenantId, job: JobId, created_at: DateTime<Utc>) -> i64 {
        s.save_call_debug(&NewCallDebug {
            tenant_id: t,
            job_id: job,
            leg: "send".into(),
            attempt_id: Some(1),
            call_id: created_at.to_rfc3339(),
            created_at,
            sip: json!([]),
            t30: json!([]),
            truncated: false,
            pcap: None,
        })
        .await
        .unwrap()
    }

    /// A tenant with one job, both made on 1 March.
    async fn tenant_with_job(s: &SqliteStore) -> (TenantId, JobId) {
        let t = s
            .create_tenant(&NewTenant::default(), at(1, 0))
            .await
            .unwrap()
            .id;
        let job = NewJob {
            tenant_id: t,
            direction: Direction::Outbound,
            caller: "+15551230001".into(),
            callee: "+15551230002".into(),
            document_id: None,
            priority: 0,
            not_before: at(1, 0),
        };
        (t, s.create_job(&job, at(1, 0)).await.unwrap().id)
    }

    #[tokio::test]
    async fn purge_deletes_only_bundles_older_than_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        let (t, job) = tenant_with_job(&s).await;
        bundle(&s, t, job, at(1, 11)).await;
        let kept_edge = bundle(&s, t, job, at(1, 12)).await;
        let kept = bundle(&s, t, job, at(14, 0)).await;

        // 14 days before 15 March 12:00 is 1 March 12:00: the bundle made then stays.
        assert_eq!(cutoff(at(15, 12), 14), at(1, 12));
        assert_eq!(purge(&s, at(15, 12), 14).await.unwrap(), 1);
        let left: Vec<i64> = s
            .list_call_debug(None, job)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(left, [kept_edge, kept]);
        assert_eq!(purge(&s, at(15, 12), 14).await.unwrap(), 0);
        assert_eq!(purge(&s, at(28, 0), 14).await.unwrap(), 1);
        assert_eq!(purge(&s, at(28, 1), 14).await.unwrap(), 1);
        assert!(s.list_call_debug(None, job).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn zero_days_starts_no_task() {
        let dir = tempfile::tempdir().unwrap();
        let s: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("r.db")).await.unwrap());
        assert!(spawn(s, 0, Clock::system(), &Shutdown::new()).is_none());
    }

    #[tokio::test]
    async fn the_task_purges_at_start_and_ends_on_stop() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        let (t, job) = tenant_with_job(&s).await;
        bundle(&s, t, job, at(1, 0)).await;
        let shared: Arc<dyn Store> = Arc::new(s.clone());
        // The clock reports each call, so the first purge is observed without a sleep.
        let (seen, mut asked) = tokio::sync::mpsc::unbounded_channel();
        let clock = Clock::new(move || {
            let _ = seen.send(());
            at(20, 0)
        });
        let shutdown = Shutdown::new();
        let task = spawn(shared, 14, clock, &shutdown).expect("a task");
        tokio::time::timeout(Duration::from_secs(10), asked.recv())
            .await
            .expect("the first purge runs at start");
        shutdown.stop();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the task ends on stop")
            .unwrap();
        assert!(s.list_call_debug(None, job).await.unwrap().is_empty());
    }
}
