//! `status` and `version`, worded as mod_commands words them, so that tools parsing
//! FreeSWITCH's output (`UP … years, …`, `(Version …) is ready`, `session(s)`) keep working.

use std::time::Duration;

/// The FreeSWITCH release whose behaviour this layer follows.
pub const EMULATED_VERSION: &str = "1.10.12";

/// What `status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Time since the server started.
    pub uptime: Duration,
    /// Calls now.
    pub live: usize,
    /// Calls since start.
    pub since_startup: u64,
    /// Most calls at once.
    pub peak: usize,
    /// The configured call limit.
    pub max: usize,
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The `status` text.
pub fn status(c: &Counts) -> String {
    let total_us = c.uptime.as_micros();
    let us = (total_us % 1000) as u64;
    let ms = ((total_us / 1000) % 1000) as u64;
    let secs = c.uptime.as_secs();
    let (s, m, h) = (secs % 60, (secs / 60) % 60, (secs / 3600) % 24);
    let days = secs / 86_400;
    let (y, d) = (days / 365, days % 365);
    format!(
        "UP {y} year{}, {d} day{}, {h} hour{}, {m} minute{}, {s} second{}, {ms} millisecond{}, {us} microsecond{}\n\
         FreeSWITCH (Version {EMULATED_VERSION} -faxserver-{} 64bit) is ready\n\
         {} session(s) since startup\n\
         {} session(s) - peak {}, last 5min {} \n\
         0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n\
         {} session(s) max\n\
         min idle cpu 0.00/100.00\n\
         Current Stack Size/Max 240K/8192K\n",
        plural(y),
        plural(d),
        plural(h),
        plural(m),
        plural(s),
        plural(ms),
        plural(us),
        env!("CARGO_PKG_VERSION"),
        c.since_startup,
        c.live,
        c.peak,
        c.peak,
        c.max,
    )
}

/// The `version` text (`version short`: the bare number).
pub fn version(arg: Option<&str>) -> String {
    if arg.is_some_and(|a| a.trim().eq_ignore_ascii_case("short")) {
        return format!("{EMULATED_VERSION}\n");
    }
    format!(
        "FreeSWITCH Version {EMULATED_VERSION}-release~faxserver-{v}~64bit (faxserver {v} 64bit)\n",
        v = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text() {
        let text = status(&Counts {
            uptime: Duration::from_micros(90_061_001_002),
            live: 1,
            since_startup: 3,
            peak: 2,
            max: 1000,
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "UP 0 years, 1 day, 1 hour, 1 minute, 1 second, 1 millisecond, 2 microseconds"
        );
        assert!(lines[1].starts_with("FreeSWITCH (Version 1.10.12 -faxserver-"));
        assert!(lines[1].ends_with(" 64bit) is ready"));
        assert_eq!(lines[2], "3 session(s) since startup");
        assert_eq!(lines[3], "1 session(s) - peak 2, last 5min 2 ");
        assert_eq!(lines[5], "1000 session(s) max");
        assert_eq!(lines[6], "min idle cpu 0.00/100.00");
        assert_eq!(version(Some("short")), "1.10.12\n");
        assert!(version(None).starts_with("FreeSWITCH Version 1.10.12"));
    }
}
