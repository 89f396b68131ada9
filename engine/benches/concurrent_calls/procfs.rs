//! What the bench reads about a process from `/proc`: CPU time, resident memory, the load of
//! the machine, and the open-file limit.
//!
//! `/proc` rather than `getrusage`/`setrlimit`: the workspace forbids `unsafe`, and these files
//! give the same figures without a new dependency.

use std::process::Command;

/// Kernel ticks per second of the `utime`/`stime` fields of `/proc/<pid>/stat`. Linux fixes
/// `USER_HZ` at 100 for every architecture's user ABI, whatever the kernel's own HZ.
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system, every thread, exited ones included) this process has used.
///
/// The resolution is 10 ms, which is ample against the minutes of CPU a step uses.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces and parentheses: fields are counted after
    // its last ')'. What follows starts with field 3 (state); utime and stime are 14 and 15.
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / USER_HZ
}

/// A `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`), in KiB; 0 when absent.
pub fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix(':')?;
            value.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// The 1-minute load average, to show how busy the shared machine was.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The soft and hard limits on open files; `None` stands for unlimited.
fn nofile_limits() -> (Option<u64>, Option<u64>) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or("");
    let mut values = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(|v| v.parse::<u64>().ok());
    (values.next().flatten(), values.next().flatten())
}

/// Raises this process's soft open-file limit to its hard limit (children inherit it) and
/// returns the soft limit now in force.
///
/// Each call holds a media socket and a TIFF in each process, so N calls need a little over
/// 2·N descriptors per process. `prlimit(1)` (util-linux) changes our own limit from outside,
/// which needs no privilege when only the soft limit moves up to the hard one.
pub fn raise_nofile() -> Option<u64> {
    let (soft, hard) = nofile_limits();
    if soft != hard {
        let value = hard.map_or("unlimited".to_owned(), |h| h.to_string());
        let raised = Command::new("prlimit")
            .arg("--pid")
            .arg(std::process::id().to_string())
            .arg(format!("--nofile={value}:{value}"))
            .status()
            .is_ok_and(|s| s.success());
        if !raised {
            eprintln!(
                "concurrent_calls: could not raise the open-file limit with prlimit; \
                 run `ulimit -n {value}` first for large N"
            );
        }
    }
    nofile_limits().0
}
