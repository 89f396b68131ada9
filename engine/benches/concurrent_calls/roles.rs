//! The two child processes of a step: a receiver answering N calls with `run_incoming` and a
//! sender placing N calls to it with `run_outgoing`, each a faxserver engine of its own (one
//! SIP agent, one port pool, a tokio runtime with one worker per core, as `faxserver` runs).
//!
//! Each child meters itself (CPU, RSS, calls in progress) and prints one `result {json}` line
//! on stdout when its calls are over; progress goes to stderr.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use engine::call::{
    cpu_idle::spawn_host_cpu_sampler, run_incoming, run_outgoing, AgentConfig, CallReport, FaxJob,
    FaxOptions, MediaSettings, OutgoingCall, OverloadGuard, PeerAcl, SipAgent, T38Mode, T38Trigger,
};
use media::ports::PortPool;
use serde::{Deserialize, Serialize};
use spandsp::Direction;
use tokio::task::JoinSet;

use super::procfs;

/// Everything runs on loopback.
pub const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How often the meter samples memory and the number of calls in progress.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How often a child reports progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// The receiver stops waiting when no INVITE has come for this long (the sender is stuck).
const NO_INVITE_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this many failed calls are described in a child's result.
const FAILURES_KEPT: usize = 8;

/// How the calls carry the fax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallMode {
    /// G.711 only: `T38Mode::Off` on both sides.
    G711,
    /// T.38 offered alone in the sender's INVITE, accepted by the receiver.
    T38Invite,
    /// G.711 first, T.38 requested by the receiver with a re-INVITE at answer.
    T38Reinvite,
}

impl CallMode {
    /// The name used on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            CallMode::G711 => "g711",
            CallMode::T38Invite => "t38",
            CallMode::T38Reinvite => "t38-reinvite",
        }
    }

    /// The mode called `name`.
    pub fn from_name(name: &str) -> Option<CallMode> {
        [CallMode::G711, CallMode::T38Invite, CallMode::T38Reinvite]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// True for the T.38 modes.
    pub fn is_t38(self) -> bool {
        self != CallMode::G711
    }

    /// Fax options of one side: ECM off and V.17 allowed, as in the raw SpanDSP replay.
    fn options(self, sender: bool) -> FaxOptions {
        let (t38, t38_in_invite) = match (self, sender) {
            (CallMode::G711, _) => (T38Mode::Off, false),
            (CallMode::T38Invite, true) => (T38Mode::Request, true),
            (CallMode::T38Invite, false) | (CallMode::T38Reinvite, true) => {
                (T38Mode::Accept, false)
            }
            (CallMode::T38Reinvite, false) => (T38Mode::Request, false),
        };
        FaxOptions {
            t38,
            t38_trigger: T38Trigger::Answer,
            t38_in_invite,
            ecm: false,
            ident: if sender { "SENDER" } else { "RECEIVER" }.to_owned(),
            ..FaxOptions::default()
        }
    }

    /// True when every page of the call went over the media this mode is meant to measure.
    fn media_ok(self, report: &CallReport) -> bool {
        let want = if self.is_t38() { "t38/" } else { "audio/" };
        !report.pages.is_empty() && report.pages.iter().all(|p| p.media.starts_with(want))
    }
}

/// What a child measured, printed as JSON on its last stdout line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChildReport {
    /// Calls that ran (answered or placed).
    pub calls: usize,
    /// Calls that succeeded with every page over the intended media.
    pub successes: usize,
    /// Calls refused before answer with 503 (the far end's overload guard): the server's
    /// queue would place them again later.
    #[serde(default)]
    pub refused: usize,
    /// A few failed calls' summaries.
    pub failures: Vec<String>,
    /// Most calls in progress at once.
    pub peak_active: usize,
    /// Sum of the calls' media time, in seconds.
    pub media_seconds: f64,
    /// Shortest and longest call, in media seconds.
    pub call_seconds: (f64, f64),
    /// CPU seconds from the start of the first call to the end of the last.
    pub cpu_seconds: f64,
    /// Wall-clock seconds of the same span.
    pub wall_seconds: f64,
    /// RSS before the first call, in KiB.
    pub rss_idle_kib: u64,
    /// Highest RSS seen while `peak_active` calls were in progress, in KiB.
    pub rss_peak_kib: u64,
    /// `VmHWM` at the end, in KiB.
    pub hwm_kib: u64,
    /// How late a 20 ms tokio timer task woke (p50, p99, max), in ms: the runtime's delay.
    pub runtime_late_ms: (f64, f64, f64),
    /// How late a plain thread sleeping 20 ms at a time woke (p50, p99, max), in ms: the
    /// operating system's delay, which the runtime's includes.
    pub thread_late_ms: (f64, f64, f64),
}

/// A child's arguments, from `--role ROLE --key value …`.
#[derive(Debug, Clone)]
pub struct RoleArgs {
    /// `sender` or `receiver`.
    pub role: String,
    /// How the calls carry the fax.
    pub mode: CallMode,
    /// Calls to run.
    pub n: usize,
    /// The media port pool's range.
    pub ports: RangeInclusive<u16>,
    /// Sender: the document; receiver: the directory for received TIFFs.
    pub path: PathBuf,
    /// Sender: the receiver's SIP address.
    pub target: Option<SocketAddr>,
    /// Sender: new calls per second.
    pub rate: f64,
    /// Pages every call must complete.
    pub pages: u32,
    /// The child stops itself when its RSS passes this many MiB.
    pub max_rss_mib: u64,
    /// The overload guard's threshold in ms (0: off): the receiver answers INVITEs 503 while
    /// its media clock is this late, and the sender holds new calls back meanwhile, as the
    /// server's queue does.
    pub overload_ms: u64,
    /// The guard's floor on the host's idle CPU in per cent (0: off), as `sip.min_idle_cpu`.
    pub min_idle_cpu: u8,
}

impl RoleArgs {
    /// The command-line form, for the parent to pass on.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--role".to_owned(),
            self.role.clone(),
            "--mode".to_owned(),
            self.mode.name().to_owned(),
            "--n".to_owned(),
            self.n.to_string(),
            "--ports".to_owned(),
            format!("{}-{}", self.ports.start(), self.ports.end()),
            "--path".to_owned(),
            self.path.display().to_string(),
            "--rate".to_owned(),
            self.rate.to_string(),
            "--pages".to_owned(),
            self.pages.to_string(),
            "--max-rss-mib".to_owned(),
            self.max_rss_mib.to_string(),
            "--overload-ms".to_owned(),
            self.overload_ms.to_string(),
            "--min-idle-cpu".to_owned(),
            self.min_idle_cpu.to_string(),
        ];
        if let Some(t) = self.target {
            args.extend(["--target".to_owned(), t.to_string()]);
        }
        args
    }

    /// Parses what [`RoleArgs::to_args`] wrote.
    pub fn parse(args: &[String]) -> Result<RoleArgs, String> {
        let get = |key: &str| {
            args.iter()
                .position(|a| a == key)
                .and_then(|i| args.get(i + 1))
                .cloned()
                .ok_or_else(|| format!("missing {key}"))
        };
        let bad = |key: &str| format!("bad {key}");
        let ports = get("--ports")?;
        let (first, last) = ports.split_once('-').ok_or_else(|| bad("--ports"))?;
        Ok(RoleArgs {
            role: get("--role")?,
            mode: CallMode::from_name(&get("--mode")?).ok_or_else(|| bad("--mode"))?,
            n: get("--n")?.parse().map_err(|_| bad("--n"))?,
            ports: first.parse().map_err(|_| bad("--ports"))?
                ..=last.parse().map_err(|_| bad("--ports"))?,
            path: PathBuf::from(get("--path")?),
            target: match get("--target") {
                Ok(t) => Some(t.parse().map_err(|_| bad("--target"))?),
                Err(_) => None,
            },
            rate: get("--rate")?.parse().map_err(|_| bad("--rate"))?,
            pages: get("--pages")?.parse().map_err(|_| bad("--pages"))?,
            max_rss_mib: get("--max-rss-mib")?
                .parse()
                .map_err(|_| bad("--max-rss-mib"))?,
            overload_ms: get("--overload-ms")?
                .parse()
                .map_err(|_| bad("--overload-ms"))?,
            min_idle_cpu: get("--min-idle-cpu")?
                .parse()
                .map_err(|_| bad("--min-idle-cpu"))?,
        })
    }

    /// The overload guard, if one was asked for.
    fn overload(&self) -> Option<OverloadGuard> {
        (self.overload_ms > 0 || self.min_idle_cpu > 0).then(|| OverloadGuard {
            max_lateness: match self.overload_ms {
                0 => Duration::MAX,
                ms => Duration::from_millis(ms),
            },
            min_idle_percent: self.min_idle_cpu,
            ..OverloadGuard::default()
        })
    }
}

/// Samples RSS and the number of calls in progress on a thread of its own, so that the
/// figure at peak concurrency does not depend on the runtime's workers being free.
struct Meter {
    active: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    /// Peak calls in progress and the highest RSS seen at that peak.
    peak: Arc<Mutex<(usize, u64)>>,
    thread: Option<JoinHandle<()>>,
    rss_idle_kib: u64,
    cpu_start: f64,
    wall_start: Instant,
}

impl Meter {
    /// Starts sampling; past `max_rss_mib` the process exits at once, so that a runaway
    /// allocation ends this bench rather than a neighbour's work on a shared machine.
    fn start(max_rss_mib: u64) -> Meter {
        let active = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(Mutex::new((0, 0)));
        let thread = {
            let (active, stop, peak) = (active.clone(), stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let now = active.load(Ordering::Relaxed);
                    let rss = procfs::status_kib("VmRSS");
                    if rss / 1024 > max_rss_mib {
                        eprintln!(
                            "concurrent_calls child: RSS {} MiB is above the cap of {max_rss_mib} MiB \
                             with {now} calls in progress: stopping",
                            rss / 1024
                        );
                        std::process::exit(3);
                    }
                    let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                    if now > p.0 {
                        *p = (now, rss);
                    } else if now == p.0 && now > 0 {
                        p.1 = p.1.max(rss);
                    }
                    drop(p);
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        Meter {
            active,
            stop,
            peak,
            thread: Some(thread),
            rss_idle_kib: procfs::status_kib("VmRSS"),
            cpu_start: procfs::cpu_seconds(),
            wall_start: Instant::now(),
        }
    }

    /// Stops sampling and fills the process-wide figures of `report`.
    fn finish(mut self, report: &mut ChildReport) {
        report.cpu_seconds = procfs::cpu_seconds() - self.cpu_start;
        report.wall_seconds = self.wall_start.elapsed().as_secs_f64();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let (peak, rss) = *self.peak.lock().unwrap_or_else(|e| e.into_inner());
        report.peak_active = peak;
        report.rss_peak_kib = rss;
        report.rss_idle_kib = self.rss_idle_kib;
        report.hwm_kib = procfs::status_kib("VmHWM");
    }
}

/// Wake-up lateness of a 20 ms period, in µs, collected until stopped.
type Lateness = Arc<Mutex<Vec<u32>>>;

/// Percentiles (p50, p99, max) of lateness samples, in ms.
fn lateness_ms(samples: &Lateness) -> (f64, f64, f64) {
    let mut v = samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_unstable();
    let pick = |q: f64| f64::from(v[((v.len() - 1) as f64 * q).round() as usize]) / 1000.0;
    (pick(0.5), pick(0.99), pick(1.0))
}

/// Probes how late timers fire, beside the calls: a tokio task and an OS thread each wake
/// every 20 ms, as a call's media clock does, and record how late they were. When the
/// runtime's figure is far above the thread's, the workers are busy; when both are high, the
/// process is not getting a CPU (the machine is shared).
struct Probes {
    runtime: Lateness,
    thread: Lateness,
    stop: Arc<AtomicBool>,
}

impl Probes {
    fn start() -> Probes {
        let period = Duration::from_millis(20);
        let runtime: Lateness = Arc::default();
        let thread: Lateness = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (samples, stop) = (runtime.clone(), stop.clone());
            tokio::spawn(async move {
                let mut next = tokio::time::Instant::now() + period;
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep_until(next).await;
                    let late = next.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    samples.lock().unwrap_or_else(|e| e.into_inner()).push(late);
                    next += period;
                }
            });
        }
        {
            let (samples, stop) = (thread.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut next = Instant::now() + period;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                    let late = next.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    samples.lock().unwrap_or_else(|e| e.into_inner()).push(late);
                    next += period;
                }
            });
        }
        Probes {
            runtime,
            thread,
            stop,
        }
    }

    /// Stops probing and fills `report`.
    fn finish(self, report: &mut ChildReport) {
        self.stop.store(true, Ordering::Relaxed);
        report.runtime_late_ms = lateness_ms(&self.runtime);
        report.thread_late_ms = lateness_ms(&self.thread);
    }
}

/// Counts a finished call into `report`.
fn tally(report: &mut ChildReport, mode: CallMode, pages: u32, call: &CallReport) {
    report.calls += 1;
    let secs = call.duration_ms as f64 / 1000.0;
    report.media_seconds += secs;
    report.call_seconds = if report.calls == 1 {
        (secs, secs)
    } else {
        (
            report.call_seconds.0.min(secs),
            report.call_seconds.1.max(secs),
        )
    };
    let pages_done = call.fax.as_ref().map_or(0, |f| f.pages);
    if call.is_success() && pages_done == pages && mode.media_ok(call) {
        report.successes += 1;
    } else if !call.answered && call.sip_status == Some(503) {
        report.refused += 1;
    } else if report.failures.len() < FAILURES_KEPT {
        let media: Vec<&str> = call.media.iter().map(|m| m.media.as_str()).collect();
        // What the media path did to the call: late or lost packets point at scheduling,
        // bad rows with clean counters at the modem.
        let c = &call.media_counters;
        let bad_rows: Vec<String> = call.pages.iter().map(|p| p.bad_rows.to_string()).collect();
        report.failures.push(format!(
            "{} [media {}; {} of {pages} pages; bad rows per page {}; RTP late {} lost {}; \
             UDPTL late {} lost {} recovered {}]",
            call.summary(),
            media.join(","),
            pages_done,
            bad_rows.join("/"),
            c.rtp_late,
            c.rtp_lost,
            c.udptl_late,
            c.udptl_lost,
            c.udptl_recovered
        ));
    }
}

/// Prints calls done and in progress every [`PROGRESS_EVERY`].
fn spawn_progress(role: &str, active: Arc<AtomicUsize>, done: Arc<AtomicUsize>, n: usize) {
    let role = role.to_owned();
    let start = Instant::now();
    // The most any scheduler shard was behind real time since the last line, sampled every
    // 100 ms: the tokio probe cannot show it, because a late shard runs one tick per turn
    // and lets the probe run in between.
    let late_ms = Arc::new(AtomicU64::new(0));
    let sampled = late_ms.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        loop {
            every.tick().await;
            let late = engine::call::media_lateness().as_millis() as u64;
            sampled.fetch_max(late, Ordering::Relaxed);
        }
    });
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PROGRESS_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            eprintln!(
                "  [{role} {:4.0} s] in progress {:5}, done {:5} of {n}, CPU {:6.1} s, RSS {} MiB, media clock late ≤ {} ms",
                start.elapsed().as_secs_f64(),
                active.load(Ordering::Relaxed),
                done.load(Ordering::Relaxed),
                procfs::cpu_seconds(),
                procfs::status_kib("VmRSS") / 1024,
                late_ms.swap(0, Ordering::Relaxed)
            );
        }
    });
}

/// Runs a child role and exits: 0 when every call succeeded.
pub fn run(args: &[String]) -> ! {
    let args = RoleArgs::parse(args).unwrap_or_else(|e| {
        eprintln!("concurrent_calls child: {e}");
        std::process::exit(2)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the runtime");
    let report = runtime.block_on(async {
        if args.min_idle_cpu > 0 {
            // As the server does when `sip.min_idle_cpu` is set.
            spawn_host_cpu_sampler(Duration::from_secs(1));
        }
        match args.role.as_str() {
            "receiver" => receiver(&args).await,
            "sender" => sender(&args).await,
            other => Err(format!("unknown role {other}")),
        }
    });
    match report {
        Ok(report) => {
            let ok = report.successes == args.n;
            println!(
                "result {}",
                serde_json::to_string(&report).unwrap_or_default()
            );
            std::process::exit(if ok { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("concurrent_calls {}: {e}", args.role);
            std::process::exit(2)
        }
    }
}

fn media(args: &RoleArgs) -> Result<MediaSettings, String> {
    let pool = PortPool::new(args.ports.clone()).map_err(|e| e.to_string())?;
    Ok(MediaSettings::new(Arc::new(pool), LO))
}

/// Answers `n` calls, each received into its own TIFF.
async fn receiver(args: &RoleArgs) -> Result<ChildReport, String> {
    let media = media(args)?;
    let mut cfg = AgentConfig::new(SocketAddr::new(LO, 0));
    cfg.acl = PeerAcl::parse(["127.0.0.0/8"]).map_err(|e| e.to_string())?;
    cfg.overload = args.overload();
    let (agent, mut incoming) = SipAgent::start(cfg).await.map_err(|e| e.to_string())?;
    let meter = Meter::start(args.max_rss_mib);
    let probes = Probes::start();
    let done = Arc::new(AtomicUsize::new(0));
    spawn_progress("receiver", meter.active.clone(), done.clone(), args.n);
    // The parent waits for this line before it starts the sender.
    println!("ready {}", agent.local_addr());
    let mut calls = JoinSet::new();
    for i in 0..args.n {
        let call = match tokio::time::timeout(NO_INVITE_TIMEOUT, incoming.recv()).await {
            Ok(Some(call)) => call,
            Ok(None) | Err(_) => break,
        };
        let job = FaxJob {
            direction: Direction::Receive {
                tiff: args.path.join(format!("rx-{i}.tif")),
            },
            options: args.mode.options(false),
            cancel: None,
        };
        let (media, active, done) = (media.clone(), meter.active.clone(), done.clone());
        calls.spawn(async move {
            active.fetch_add(1, Ordering::Relaxed);
            let report = run_incoming(call, job, &media, None).await;
            active.fetch_sub(1, Ordering::Relaxed);
            done.fetch_add(1, Ordering::Relaxed);
            report
        });
    }
    let mut report = ChildReport::default();
    while let Some(call) = calls.join_next().await {
        let call = call.map_err(|e| format!("a call task failed: {e}"))?;
        tally(&mut report, args.mode, args.pages, &call);
    }
    meter.finish(&mut report);
    probes.finish(&mut report);
    drop(agent);
    Ok(report)
}

/// Places `n` calls to the receiver, `rate` new calls per second.
async fn sender(args: &RoleArgs) -> Result<ChildReport, String> {
    let media = media(args)?;
    let target = args.target.ok_or("the sender needs --target")?;
    let (agent, _incoming) = SipAgent::start(AgentConfig::new(SocketAddr::new(LO, 0)))
        .await
        .map_err(|e| e.to_string())?;
    let meter = Meter::start(args.max_rss_mib);
    let probes = Probes::start();
    let done = Arc::new(AtomicUsize::new(0));
    spawn_progress("sender", meter.active.clone(), done.clone(), args.n);
    let uri = format!("sip:5551234@{target}");
    let period = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let mut start = tokio::time::Instant::now();
    let mut calls = JoinSet::new();
    let guard = args.overload();
    for i in 0..args.n {
        tokio::time::sleep_until(start + period * i as u32).await;
        // As the server's queue claims no job while the guard says so; the ramp then resumes
        // at its rate (as the queue's per-gateway call rate would), not with a burst of every
        // call held back, which would only make the far end refuse them.
        let held = tokio::time::Instant::now();
        while guard.and_then(|g| g.overloaded()).is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        start += held.elapsed();
        let call = OutgoingCall::direct(&uri, &format!("555{i:07}"), agent.local_addr())
            .map_err(|e| e.to_string())?;
        let job = FaxJob {
            direction: Direction::Send {
                tiff: args.path.clone(),
                first_page: 1,
            },
            options: args.mode.options(true),
            cancel: None,
        };
        let (agent, media) = (agent.clone(), media.clone());
        let (active, done) = (meter.active.clone(), done.clone());
        calls.spawn(async move {
            active.fetch_add(1, Ordering::Relaxed);
            let report = run_outgoing(&agent, call, job, &media, None).await;
            active.fetch_sub(1, Ordering::Relaxed);
            done.fetch_add(1, Ordering::Relaxed);
            report
        });
    }
    let mut report = ChildReport::default();
    while let Some(call) = calls.join_next().await {
        let call = call.map_err(|e| format!("a call task failed: {e}"))?;
        tally(&mut report, args.mode, args.pages, &call);
    }
    meter.finish(&mut report);
    probes.finish(&mut report);
    Ok(report)
}
