//! Running SIPp (`sipp`, Debian's sip-tester) against our test UA: the scenario files are in
//! `tests/sipp/`. Without sipp installed the tests print SKIPPED and pass. Set
//! `SIPP_TRACE=1` to print sipp's message traces even when it succeeds.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sip::dialog::{DialogEvent, EndReason};
use sip::sdp::Agreed;
use tokio::process::{Child, Command};

use super::support_net::NetUa;

/// How long a test waits for an event.
pub const WAIT: Duration = Duration::from_secs(15);

/// 127.0.0.1.
pub fn lo() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

/// ::1.
pub fn lo6() -> IpAddr {
    "::1".parse().unwrap()
}

/// True (after saying so) when sipp is not installed.
pub fn sipp_missing() -> bool {
    let found = std::process::Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIPPED: sipp (sip-tester) is not installed");
    }
    !found
}

/// A port on `ip` that was free (for UDP and TCP) a moment ago, for sipp to bind.
pub fn free_port_on(ip: IpAddr) -> u16 {
    loop {
        let s = std::net::UdpSocket::bind((ip, 0)).unwrap();
        let port = s.local_addr().unwrap().port();
        if std::net::TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
}

/// The first of four consecutive UDP ports on `ip` that were free a moment ago, for sipp's
/// `-mp`: sipp binds audio RTP and RTCP there and video RTP and RTCP on the next two, and a
/// busy video port fails the whole run ("Unable to bind video RTP socket").
pub fn free_media_ports_on(ip: IpAddr) -> u16 {
    loop {
        let first = std::net::UdpSocket::bind((ip, 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        let Some(last) = port.checked_add(3) else {
            continue;
        };
        // Held together while checked, so none of them is handed out in between.
        let rest: Result<Vec<_>, _> = (port + 1..=last)
            .map(|p| std::net::UdpSocket::bind((ip, p)))
            .collect();
        if rest.is_ok() {
            return port;
        }
    }
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    free_port_on(lo())
}

/// How sipp runs.
#[derive(Debug, Clone, Copy)]
pub struct SippOpts {
    /// The address sipp binds.
    pub ip: IpAddr,
    /// `-t` mode: "u1" (UDP) or "t1" (one TCP connection).
    pub transport: &'static str,
}

impl Default for SippOpts {
    fn default() -> Self {
        SippOpts {
            ip: lo(),
            transport: "u1",
        }
    }
}

/// A running sipp.
pub struct Sipp {
    child: Child,
    dir: PathBuf,
    scenario: &'static str,
}

/// Starts sipp with `scenario` on UDP over 127.0.0.1; `remote` is our address when sipp
/// is the UAC.
pub fn sipp(scenario: &'static str, port: u16, remote: Option<SocketAddr>) -> Sipp {
    sipp_with(scenario, port, remote, SippOpts::default())
}

/// Starts sipp with `scenario` as `opts` say.
pub fn sipp_with(
    scenario: &'static str,
    port: u16,
    remote: Option<SocketAddr>,
    opts: SippOpts,
) -> Sipp {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sipp");
    let dir = std::env::temp_dir().join(format!(
        "sipp-{}-{scenario}-{}-{port}",
        std::process::id(),
        opts.transport
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new("sipp");
    cmd.current_dir(&dir)
        .arg("-sf")
        .arg(root.join(scenario))
        .args([
            "-i",
            &opts.ip.to_string(),
            "-p",
            &port.to_string(),
            "-m",
            "1",
        ])
        .args(["-t", opts.transport])
        .args(["-mp", &free_media_ports_on(opts.ip).to_string()])
        .args(["-timeout", "20s", "-timeout_error", "-nostdin"])
        .args(["-trace_msg", "-trace_err", "-trace_logs"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(r) = remote {
        cmd.arg(r.to_string());
    }
    Sipp {
        child: cmd.spawn().expect("spawn sipp"),
        dir,
        scenario,
    }
}

impl Sipp {
    /// Waits for sipp to exit and asserts it succeeded, showing its traces when not.
    pub async fn expect_success(mut self) {
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("sipp did not finish")
            .unwrap();
        if !status.success() || std::env::var_os("SIPP_TRACE").is_some() {
            let mut traces = String::new();
            for e in std::fs::read_dir(&self.dir).unwrap().flatten() {
                traces += &format!("==== {}\n", e.path().display());
                traces += &std::fs::read_to_string(e.path()).unwrap_or_default();
            }
            panic!("sipp {} exited with {status}\n{traces}", self.scenario);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True for `Confirmed`.
pub fn is_confirmed(e: &DialogEvent) -> bool {
    matches!(e, DialogEvent::Confirmed { .. })
}

/// The reason of a `Terminated`.
pub fn ended(e: &DialogEvent) -> Option<EndReason> {
    match e {
        DialogEvent::Terminated { reason, .. } => Some(reason.clone()),
        _ => None,
    }
}

/// The media agreed by every `Confirmed` and `MediaChanged`, in order.
pub fn agreed(ua: &NetUa) -> Vec<Agreed> {
    ua.seen
        .iter()
        .filter_map(|e| match e {
            DialogEvent::Confirmed { agreed, .. } | DialogEvent::MediaChanged { agreed, .. } => {
                Some(agreed.clone())
            }
            _ => None,
        })
        .collect()
}
