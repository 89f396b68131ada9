//! How far the media clock runs behind real time, for admission control: a process whose
//! scheduler shards are late is short of CPU, and every call it takes on makes every call
//! it carries later. New calls are then refused (an INVITE gets 503, the queue leaves jobs
//! for later or for another node) before the calls in progress fail by the overload rule.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The instant tick stamps count from (a process-wide origin: stamps are plain integers so
/// that readers on other threads need no lock).
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// When a shard's latest tick was due, written by the shard each tick and read by
/// admission control.
#[derive(Debug)]
pub(crate) struct TickStamp {
    due_ns: AtomicU64,
    period: Duration,
}

impl TickStamp {
    /// A stamp for a shard ticking every `period`, as if it had just ticked now.
    pub(crate) fn new(period: Duration) -> Self {
        let stamp = TickStamp {
            due_ns: AtomicU64::new(0),
            period,
        };
        stamp.record(Instant::now());
        stamp
    }

    /// The shard is running the tick that was due at `due`.
    pub(crate) fn record(&self, due: Instant) {
        let ns = due.saturating_duration_since(origin()).as_nanos();
        self.due_ns
            .store(u64::try_from(ns).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// How late the shard is at `now`: zero while its next tick is not yet due, else how
    /// long that tick has been waiting (a shard that stopped ticking keeps getting later).
    pub(crate) fn lateness(&self, now: Instant) -> Duration {
        let due = Duration::from_nanos(self.due_ns.load(Ordering::Relaxed));
        let next = due + self.period;
        now.saturating_duration_since(origin()).saturating_sub(next)
    }
}

/// Refusing new calls while the media clock is late, or (if set) while the host's idle CPU
/// is below a floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverloadGuard {
    /// New calls are refused while some scheduler shard is later than this. Normal jitter
    /// stays well under 100 ms; a shard more than 1 s late starts dropping media.
    pub max_lateness: Duration,
    /// Retry-After of the 503 that refuses an INVITE, in seconds.
    pub retry_after: u32,
    /// New calls are also refused while the host's idle CPU is below this many per cent
    /// (0: never; see [`super::cpu_idle`]). Unlike lateness, this acts before the CPU runs out.
    pub min_idle_percent: u8,
}

impl Default for OverloadGuard {
    fn default() -> Self {
        OverloadGuard {
            max_lateness: Duration::from_millis(300),
            retry_after: 5,
            min_idle_percent: 0,
        }
    }
}

/// Why the guard refuses a new call now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Overload {
    /// The media clock runs this late.
    Late(Duration),
    /// The host's idle CPU share (0.0–1.0) is below the floor.
    Busy {
        /// The idle share measured.
        idle: f64,
    },
}

impl std::fmt::Display for Overload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overload::Late(late) => write!(
                f,
                "the media clock is {} ms behind real time",
                late.as_millis()
            ),
            Overload::Busy { idle } => {
                write!(f, "the host's CPU is {:.0} % idle", idle * 100.0)
            }
        }
    }
}

impl OverloadGuard {
    /// Why a new call must be refused now, if it must (see [`media_lateness`] and
    /// [`super::cpu_idle::host_cpu_idle`]).
    pub fn overloaded(&self) -> Option<Overload> {
        self.judge(media_lateness(), super::cpu_idle::host_cpu_idle())
    }

    /// The rule itself, for a lateness and an idle share (unknown idle never refuses).
    pub fn judge(&self, lateness: Duration, idle: Option<f64>) -> Option<Overload> {
        if lateness > self.max_lateness {
            return Some(Overload::Late(lateness));
        }
        let floor = f64::from(self.min_idle_percent) / 100.0;
        idle.filter(|share| *share < floor)
            .map(|idle| Overload::Busy { idle })
    }
}

/// What the overload guard turned away since the process started (all runtimes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverloadCounts {
    /// INVITEs answered 503 by the guard.
    pub invites_refused: u64,
    /// Times a queue worker claimed no job because of the guard.
    pub claims_skipped: u64,
}

static INVITES_REFUSED: AtomicU64 = AtomicU64::new(0);
static CLAIMS_SKIPPED: AtomicU64 = AtomicU64::new(0);

/// The guard's refusals so far, for metrics: a node that sheds calls should say so, not
/// only log it.
pub fn overload_counts() -> OverloadCounts {
    OverloadCounts {
        invites_refused: INVITES_REFUSED.load(Ordering::Relaxed),
        claims_skipped: CLAIMS_SKIPPED.load(Ordering::Relaxed),
    }
}

/// The agent refused an INVITE for overload.
pub(crate) fn count_refused_invite() {
    INVITES_REFUSED.fetch_add(1, Ordering::Relaxed);
}

/// A queue worker skipped a claim for overload.
pub(crate) fn count_skipped_claim() {
    CLAIMS_SKIPPED.fetch_add(1, Ordering::Relaxed);
}

/// How late the latest shard of this tokio runtime's media scheduler is (zero outside a
/// runtime, or before any shard started: see [`start_media_scheduler`]).
pub fn media_lateness() -> Duration {
    super::session::scheduler_lateness(Instant::now())
}

/// Starts this runtime's media scheduler shards for media `speed` (1 = real time) now rather
/// than with the first call, so that [`media_lateness`] also sees a starved runtime before
/// any call ran. Must run inside a tokio runtime.
pub fn start_media_scheduler(speed: u32) {
    super::session::start_scheduler(speed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_late_only_after_its_next_tick_is_due() {
        let period = Duration::from_millis(20);
        let stamp = TickStamp::new(period);
        let due = Instant::now();
        stamp.record(due);
        assert_eq!(stamp.lateness(due), Duration::ZERO);
        assert_eq!(stamp.lateness(due + period), Duration::ZERO);
        let late = stamp.lateness(due + period + Duration::from_millis(250));
        // Stamps keep nanoseconds: only the rounding of `due` itself can differ.
        assert!(
            late >= Duration::from_millis(249) && late <= Duration::from_millis(250),
            "{late:?}"
        );
    }

    #[test]
    fn the_guard_refuses_for_lateness_or_too_little_idle_cpu() {
        let ms = Duration::from_millis;
        let guard = OverloadGuard {
            max_lateness: ms(300),
            retry_after: 5,
            min_idle_percent: 10,
        };
        assert_eq!(guard.judge(ms(20), Some(0.5)), None);
        assert_eq!(
            guard.judge(ms(301), Some(0.5)),
            Some(Overload::Late(ms(301)))
        );
        assert_eq!(
            guard.judge(ms(20), Some(0.09)),
            Some(Overload::Busy { idle: 0.09 })
        );
        assert_eq!(
            guard.judge(ms(20), Some(0.10)),
            None,
            "the floor itself passes"
        );
        assert_eq!(guard.judge(ms(20), None), None, "no reading never refuses");
        let off = OverloadGuard::default();
        assert_eq!(
            off.judge(ms(20), Some(0.0)),
            None,
            "0 % turns the floor off"
        );
        assert_eq!(
            Overload::Busy { idle: 0.042 }.to_string(),
            "the host's CPU is 4 % idle"
        );
        assert_eq!(
            Overload::Late(ms(1250)).to_string(),
            "the media clock is 1250 ms behind real time"
        );
    }

    #[test]
    fn lateness_is_zero_outside_a_runtime() {
        assert_eq!(media_lateness(), Duration::ZERO);
    }
}
