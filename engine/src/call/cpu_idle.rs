//! The host's idle CPU, for admission control that acts before the host saturates
//! (FreeSWITCH's `min-idle-cpu`). The media clock's lateness shows only once the CPU is
//! exhausted, and by then the calls already admitted may need more than there is: measured
//! here, a node that stopped admitting at 300 ms of lateness still lost a fifth of the calls
//! it carried. Idle CPU falls steadily with load, so a floor on it stops admissions while
//! the calls in progress still fit.
//!
//! The reading is host-wide (`/proc/stat`), as FreeSWITCH's: other processes' load counts,
//! which is the point on a shared host. Under a container's CPU quota the share left of the
//! quota counts too, whichever is smaller (see `call::cpu_quota`); embedders that measure
//! otherwise report their own figure with [`report_host_cpu_idle`].

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::cpu_quota::{idle_under_quota, QuotaLevel};

/// Cumulative CPU time of the host, from the aggregate `cpu` line of `/proc/stat` (clock
/// ticks summed over all CPUs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Time spent running something: user, nice, system, irq, softirq, and steal (time a
    /// hypervisor gave to someone else is not available to us either).
    pub busy: u64,
    /// Time idle, waiting for I/O included.
    pub idle: u64,
}

/// Reads the aggregate `cpu` line of `/proc/stat` text; `None` if it is missing or malformed.
pub fn parse_proc_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let mut fields = line.split_ascii_whitespace().skip(1).map(str::parse::<u64>);
    // user nice system idle are in every kernel; the later fields came with later kernels.
    let mut required = || fields.next()?.ok();
    let (user, nice, system, idle) = (required()?, required()?, required()?, required()?);
    let mut optional = || fields.next().unwrap_or(Ok(0)).ok();
    // iowait irq softirq steal; guest time is inside user already.
    let (iowait, irq, softirq, steal) = (optional()?, optional()?, optional()?, optional()?);
    let busy = [user, nice, system, irq, softirq, steal]
        .into_iter()
        .fold(0u64, u64::saturating_add);
    Some(CpuTimes {
        busy,
        idle: idle.saturating_add(iowait),
    })
}

/// The idle share (0.0–1.0) between two readings; `None` when no time passed between them
/// or the counters went backwards.
pub fn idle_between(earlier: CpuTimes, later: CpuTimes) -> Option<f64> {
    let busy = later.busy.checked_sub(earlier.busy)?;
    let idle = later.idle.checked_sub(earlier.idle)?;
    let total = busy.checked_add(idle).filter(|t| *t > 0)?;
    Some(idle as f64 / total as f64)
}

/// No reading yet (or the last one failed).
const UNKNOWN: u32 = u32::MAX;

/// The latest idle share in thousandths, process-wide.
static IDLE_PERMILLE: AtomicU32 = AtomicU32::new(UNKNOWN);

/// Records the host's idle CPU share (0.0–1.0) for the overload guard and `/metrics`; the
/// sampler started by [`spawn_host_cpu_sampler`] calls this, and an embedder with a better
/// measure (a container's quota) may instead. A share outside 0–1 clears the reading.
pub fn report_host_cpu_idle(share: f64) {
    let permille = if (0.0..=1.0).contains(&share) {
        (share * 1000.0).round() as u32
    } else {
        UNKNOWN
    };
    IDLE_PERMILLE.store(permille, Ordering::Relaxed);
}

/// The host's idle CPU share last reported, if any.
pub fn host_cpu_idle() -> Option<f64> {
    let permille = IDLE_PERMILLE.load(Ordering::Relaxed);
    (permille != UNKNOWN).then(|| f64::from(permille) / 1000.0)
}

/// Reads `/proc/stat` and the quotas of the process's cgroups (see `call::cpu_quota`)
/// every `every`, and reports the smallest idle share over each interval, until the runtime
/// ends. Where neither can be read the reading stays unknown, and the guard ignores it (said
/// once in the log). Must run inside a tokio runtime.
pub fn spawn_host_cpu_sampler(every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let self_cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut sampler = IdleSampler::new(Path::new("/sys/fs/cgroup"), &self_cgroup);
        if sampler.host.is_none() && sampler.quotas.is_empty() {
            tracing::warn!("/proc/stat unreadable: sip.min_idle_cpu has no effect");
            return;
        }
        if let Some(cpus) = sampler.quotas.iter().map(|q| q.level.cpus).reduce(f64::min) {
            tracing::info!("CPU quota of {cpus:.2} CPUs: the idle-CPU floor counts against it");
        }
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            report_host_cpu_idle(sampler.sample().unwrap_or(f64::NAN));
        }
    })
}

fn read_proc_stat() -> Option<CpuTimes> {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .as_deref()
        .and_then(parse_proc_stat)
}

/// The last readings of the host's CPU and of each quota's usage.
struct IdleSampler {
    host: Option<CpuTimes>,
    quotas: Vec<QuotaUse>,
    at: Instant,
}

struct QuotaUse {
    level: QuotaLevel,
    used: Option<Duration>,
}

impl IdleSampler {
    /// Takes the first readings; the cgroup file system is at `cgroup_root` and the process's
    /// cgroups are `self_cgroup` (the text of `/proc/self/cgroup`).
    fn new(cgroup_root: &Path, self_cgroup: &str) -> Self {
        let quotas = QuotaLevel::discover(cgroup_root, self_cgroup)
            .into_iter()
            .map(|level| QuotaUse {
                used: level.read_usage(),
                level,
            })
            .collect();
        IdleSampler {
            host: read_proc_stat(),
            quotas,
            at: Instant::now(),
        }
    }

    /// The smallest idle share since the last sample, of the host and of every quota.
    fn sample(&mut self) -> Option<f64> {
        let now = Instant::now();
        let wall = now.duration_since(std::mem::replace(&mut self.at, now));
        let host = read_proc_stat();
        let mut least = match (self.host, host) {
            (Some(before), Some(after)) => idle_between(before, after),
            _ => None,
        };
        self.host = host;
        for quota in &mut self.quotas {
            let used = quota.level.read_usage();
            let delta = used
                .zip(quota.used)
                .and_then(|(after, before)| after.checked_sub(before));
            quota.used = used;
            // A counter that went backwards (the cgroup was recreated) says nothing this time.
            if let Some(idle) = delta.and_then(|d| idle_under_quota(d, quota.level.cpus, wall)) {
                least = Some(least.map_or(idle, |l| l.min(idle)));
            }
        }
        least
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  4705 356 584 3699176 23 0 59 7 0 0\n\
                        cpu0 1393 280 232 1849627 11 0 57 3 0 0\n\
                        intr 114930548 113199788 3 0 5 263 0 4 [...]\n";

    #[test]
    fn the_aggregate_line_is_read() {
        let t = parse_proc_stat(STAT).unwrap();
        assert_eq!(t.busy, 4705 + 356 + 584 + 59 + 7);
        assert_eq!(t.idle, 3699176 + 23);
    }

    #[test]
    fn old_kernels_with_four_fields_and_garbage_are_handled() {
        let t = parse_proc_stat("cpu 10 0 5 85\n").unwrap();
        assert_eq!((t.busy, t.idle), (15, 85));
        for bad in [
            "",
            "cpu0 1 2 3 4\n",
            "cpu x 2 3 4\n",
            "cpu 1 2\n",
            "cpu 1 2 3 -4\n",
        ] {
            assert_eq!(parse_proc_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn idle_share_between_readings() {
        let a = CpuTimes {
            busy: 100,
            idle: 900,
        };
        let b = CpuTimes {
            busy: 190,
            idle: 910,
        };
        assert_eq!(idle_between(a, b), Some(0.1));
        assert_eq!(idle_between(a, a), None, "no time passed");
        assert_eq!(idle_between(b, a), None, "counters went back");
    }

    #[test]
    fn a_busy_quota_wins_over_an_idle_host() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let write = |name: &str, text: &str| std::fs::write(r.join(name), text).unwrap();
        write("cgroup.controllers", "cpu\n");
        write("cpu.max", "200000 100000\n");
        write("cpu.stat", "usage_usec 1000000\n");
        let mut sampler = IdleSampler::new(r, "0::/\n");
        assert_eq!(sampler.quotas.len(), 1);
        // Far more than two CPUs' worth since the first reading: no headroom left, whatever
        // the host's own counters say.
        write("cpu.stat", "usage_usec 999000000\n");
        assert_eq!(sampler.sample(), Some(0.0));
        assert_eq!(sampler.quotas[0].used, Some(Duration::from_secs(999)));
    }
}
