//! A container's CPU quota, for the idle-CPU floor. In a container limited to two CPUs on a
//! 32-CPU host, `/proc/stat` shows the host nearly idle while the container is throttled at its
//! quota and its media clock falls behind: the floor would never act. So the sampler also
//! reads the quota of every cgroup above the process (cgroup v2 `cpu.max`, or v1
//! `cpu.cfs_quota_us`) and what those cgroups used, and the idle share it reports is the
//! smallest of the host's and each quota's.
//!
//! Parsing and arithmetic are pure; [`QuotaLevel::discover`] and [`QuotaLevel::read_usage`]
//! read files under a root given by the caller (`/sys/fs/cgroup` in production).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// One cgroup above (or at) the process that has a CPU quota.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaLevel {
    /// The file holding the cgroup's cumulative CPU usage.
    usage_file: PathBuf,
    /// v2 `cpu.stat` (microseconds in `usage_usec`) or v1 `cpuacct.usage` (nanoseconds).
    v2: bool,
    /// CPUs the quota allows (quota ÷ period).
    pub cpus: f64,
}

/// The quota in `cpu.max` (cgroup v2: `"$MAX $PERIOD"`) as CPUs; `Some(None)` for no quota
/// (`max`), `None` if malformed.
pub fn parse_cpu_max(text: &str) -> Option<Option<f64>> {
    let mut fields = text.split_ascii_whitespace();
    let quota = fields.next()?;
    let period: u64 = fields.next().map_or(Some(100_000), |p| p.parse().ok())?;
    if quota == "max" {
        return Some(None);
    }
    let quota: u64 = quota.parse().ok()?;
    (period > 0).then(|| Some(quota as f64 / period as f64))
}

/// The quota from v1's `cpu.cfs_quota_us` and `cpu.cfs_period_us` as CPUs; `Some(None)` for no
/// quota (−1), `None` if malformed.
pub fn parse_cfs(quota: &str, period: &str) -> Option<Option<f64>> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: u64 = period.trim().parse().ok()?;
    if quota < 0 {
        return Some(None);
    }
    (period > 0).then(|| Some(quota as f64 / period as f64))
}

/// `usage_usec` from a v2 `cpu.stat`.
pub fn parse_usage_usec(cpu_stat: &str) -> Option<Duration> {
    cpu_stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_micros)
}

/// The process's cgroup paths from `/proc/self/cgroup`: the v2 one (`0::PATH`) and the v1
/// one of the `cpu` controller, each if present.
pub fn parse_self_cgroup(text: &str) -> (Option<&str>, Option<&str>) {
    let mut v2 = None;
    let mut v1 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            v2 = Some(path);
        } else if controllers.split(',').any(|c| c == "cpu") {
            v1 = Some(path);
        }
    }
    (v2, v1)
}

/// The idle share (0.0–1.0) of a quota of `cpus` over `wall`, in which the cgroup used
/// `used`; `None` when no time passed.
pub fn idle_under_quota(used: Duration, cpus: f64, wall: Duration) -> Option<f64> {
    let allowed = wall.as_secs_f64() * cpus;
    (allowed > 0.0).then(|| (1.0 - used.as_secs_f64() / allowed).clamp(0.0, 1.0))
}

/// The ancestors of `path` (a cgroup path such as `/a/b`), itself first, the root last.
fn ancestors(path: &str) -> impl Iterator<Item = PathBuf> + '_ {
    Path::new(path.trim_start_matches('/'))
        .ancestors()
        .map(Path::to_path_buf)
}

impl QuotaLevel {
    /// Every cgroup with a CPU quota from the process's own up to the root, under the cgroup
    /// file system at `root` (`/sys/fs/cgroup`), given `/proc/self/cgroup`'s text. Empty when
    /// nothing limits the process (or nothing can be read).
    pub fn discover(root: &Path, self_cgroup: &str) -> Vec<QuotaLevel> {
        let read = |p: PathBuf| std::fs::read_to_string(p).ok();
        let (v2, v1) = parse_self_cgroup(self_cgroup);
        let mut levels = Vec::new();
        // Pure v2 mounts its controllers at the root; a hybrid host's v2 tree carries no cpu
        // controller, and then the quota is v1's.
        if let Some(path) = v2.filter(|_| root.join("cgroup.controllers").exists()) {
            for dir in ancestors(path).map(|a| root.join(a)) {
                let quota = read(dir.join("cpu.max")).and_then(|t| parse_cpu_max(&t));
                if let Some(Some(cpus)) = quota {
                    levels.push(QuotaLevel {
                        usage_file: dir.join("cpu.stat"),
                        v2: true,
                        cpus,
                    });
                }
            }
            return levels;
        }
        let Some(path) = v1 else { return levels };
        // Debian mounts both v1 controllers together as `cpu,cpuacct` (with `cpu` and
        // `cpuacct` links to it); other systems mount them apart.
        let mount = |names: [&str; 2]| names.map(|n| root.join(n)).into_iter().find(|d| d.exists());
        let (Some(cpu), Some(acct)) = (
            mount(["cpu,cpuacct", "cpu"]),
            mount(["cpu,cpuacct", "cpuacct"]),
        ) else {
            return levels;
        };
        for relative in ancestors(path) {
            let dir = cpu.join(&relative);
            let quota = read(dir.join("cpu.cfs_quota_us"))
                .zip(read(dir.join("cpu.cfs_period_us")))
                .and_then(|(q, p)| parse_cfs(&q, &p));
            if let Some(Some(cpus)) = quota {
                levels.push(QuotaLevel {
                    usage_file: acct.join(&relative).join("cpuacct.usage"),
                    v2: false,
                    cpus,
                });
            }
        }
        levels
    }

    /// The cgroup's cumulative CPU usage now.
    pub fn read_usage(&self) -> Option<Duration> {
        let text = std::fs::read_to_string(&self.usage_file).ok()?;
        if self.v2 {
            parse_usage_usec(&text)
        } else {
            text.trim().parse().ok().map(Duration::from_nanos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_files_are_read() {
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(Some(2.0)));
        assert_eq!(parse_cpu_max("50000 100000"), Some(Some(0.5)));
        assert_eq!(parse_cpu_max("max 100000\n"), Some(None));
        assert_eq!(parse_cpu_max("max"), Some(None));
        for bad in ["", "x 100000", "100 0", "100 y"] {
            assert_eq!(parse_cpu_max(bad), None, "{bad:?}");
        }
        assert_eq!(parse_cfs("150000\n", "100000\n"), Some(Some(1.5)));
        assert_eq!(parse_cfs("-1\n", "100000\n"), Some(None));
        assert_eq!(parse_cfs("abc", "100000"), None);
        assert_eq!(parse_cfs("100", "0"), None);
        let stat = "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n";
        assert_eq!(parse_usage_usec(stat), Some(Duration::from_millis(1500)));
        assert_eq!(parse_usage_usec("user_usec 5\n"), None);
    }

    #[test]
    fn own_cgroup_paths_v1_hybrid_and_v2() {
        let hybrid = "12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/docker/abc\n";
        assert_eq!(
            parse_self_cgroup(hybrid),
            (Some("/docker/abc"), Some("/docker/abc"))
        );
        assert_eq!(parse_self_cgroup("0::/\n"), (Some("/"), None));
        assert_eq!(parse_self_cgroup("garbage\n"), (None, None));
    }

    #[test]
    fn idle_share_of_a_quota() {
        let s = Duration::from_secs;
        assert_eq!(idle_under_quota(s(1), 2.0, s(1)), Some(0.5));
        assert_eq!(idle_under_quota(s(3), 2.0, s(1)), Some(0.0), "bursting");
        assert_eq!(idle_under_quota(s(0), 2.0, s(0)), None);
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn v2_levels_with_quotas_are_found_and_read() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(r, "cgroup.controllers", "cpu memory\n");
        write(&r.join("kubepods/pod1"), "cpu.max", "400000 100000\n");
        write(&r.join("kubepods/pod1"), "cpu.stat", "usage_usec 7\n");
        write(&r.join("kubepods/pod1/ctr"), "cpu.max", "max 100000\n");
        write(&r.join("kubepods"), "cpu.max", "200000 100000\n");
        write(&r.join("kubepods"), "cpu.stat", "usage_usec 9000\n");
        let levels = QuotaLevel::discover(r, "0::/kubepods/pod1/ctr\n");
        let cpus: Vec<f64> = levels.iter().map(|l| l.cpus).collect();
        assert_eq!(cpus, [4.0, 2.0], "own level has none; pod and parent do");
        assert_eq!(levels[0].read_usage(), Some(Duration::from_micros(7)));
        assert_eq!(levels[1].read_usage(), Some(Duration::from_micros(9000)));
        assert!(QuotaLevel::discover(r, "0::/\n").is_empty());
    }

    #[test]
    fn v1_quota_is_found_on_a_hybrid_host() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let ctr = r.join("cpu,cpuacct/docker/abc");
        write(&ctr, "cpu.cfs_quota_us", "150000\n");
        write(&ctr, "cpu.cfs_period_us", "100000\n");
        write(&ctr, "cpuacct.usage", "2500000000\n");
        write(&r.join("cpu,cpuacct"), "cpu.cfs_quota_us", "-1\n");
        write(&r.join("cpu,cpuacct"), "cpu.cfs_period_us", "100000\n");
        write(&r.join("unified"), "cgroup.procs", "");
        let text = "3:cpu,cpuacct:/docker/abc\n0::/docker/abc\n";
        let levels = QuotaLevel::discover(r, text);
        assert_eq!(levels.len(), 1);
        assert_eq!(levels[0].cpus, 1.5);
        assert_eq!(levels[0].read_usage(), Some(Duration::from_millis(2500)));
    }
}
