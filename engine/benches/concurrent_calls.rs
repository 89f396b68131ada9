//! Concurrent fax calls between two faxserver engine processes on one machine, in real time.
//!
//! For each mode (G.711, T.38) and each N of a rising sequence, the bench starts a receiving
//! process (`run_incoming` for every call) and a sending process that places N calls to it
//! over loopback SIP, ramped at R new calls per second so that SIP does not burst. Media runs
//! at real time. Every call sends the same 3-page document (ECM off, V.17) that the raw
//! SpanDSP ceiling replays. Per step it reports:
//!
//! - success: `CallReport::is_success` on both sides, every page, over the intended media;
//!   the sequence stops at the first N that is not 100 %;
//! - CPU per channel: each process's CPU time (user + system) ÷ Σ media seconds of its
//!   calls, against raw libspandsp's CPU per channel-second measured just before the step
//!   (`spandsp/benches/raw_replay.c` on a recording of the same call, see `ceiling.rs`);
//! - send-interval jitter: from a loopback capture of a sample of the calls (`jitter.rs`);
//! - memory per channel: (RSS at peak concurrency − RSS before the first call) ÷ peak calls.
//!
//! `cargo bench -p engine --bench concurrent_calls [-- --quick] [--mode g711|t38|both]
//! [--g711-n 50,100] [--t38-n 100,500] [--max-n N] [--budget-min M] [--rate R] [--pages P]
//! [--ceiling-k K] [--t38-reinvite] [--nice N] [--spool DIR] [--max-rss-mib M] [--overload-ms MS] [--min-idle-cpu PCT] [--perf SECONDS]
//! [--keep]`.
//! See BENCHMARKS.md.

#[path = "concurrent_calls/ceiling.rs"]
mod ceiling;
#[path = "concurrent_calls/jitter.rs"]
mod jitter;
#[path = "concurrent_calls/procfs.rs"]
mod procfs;
#[path = "concurrent_calls/roles.rs"]
mod roles;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use ceiling::{Ceiling, RawMode, RAW_PAGES};
use jitter::{Capture, Directions};
use roles::{CallMode, ChildReport, RoleArgs};
use wait_timeout::ChildExt;

/// The sending process's media ports (5,000 pairs), below the kernel's ephemeral range so
/// that the SIP sockets (port 0) never take them.
const SENDER_PORTS: RangeInclusive<u16> = 10000..=19999;
/// The receiving process's media ports (5,000 pairs).
const RECEIVER_PORTS: RangeInclusive<u16> = 20000..=29999;
/// Port pairs each pool holds, less a margin for ports other processes hold.
const MAX_CALLS: usize = 4900;
/// The slowest ramp: new calls per second.
const MIN_RATE: f64 = 20.0;
/// The ramp must end within this share of a call, so that all N calls overlap.
const RAMP_SHARE: f64 = 0.6;
/// A child stops itself above this RSS: about 720 KiB per call is expected (about 3 GiB for
/// 4,000 calls), and a runaway process must stop long before the machine's OOM killer acts,
/// which may pick a neighbour's process.
const DEFAULT_MAX_RSS_MIB: u64 = 4096;
/// How long the receiver may take to finish after the sender has.
const RECEIVER_GRACE: Duration = Duration::from_secs(120);

/// Command-line options.
struct Options {
    /// Modes to run, in order.
    modes: Vec<CallMode>,
    /// N sequence for G.711.
    g711_n: Vec<usize>,
    /// N sequence for T.38.
    t38_n: Vec<usize>,
    /// No step above this N.
    max_n: usize,
    /// Stop starting steps once this much time has gone.
    budget: Duration,
    /// Fixed ramp rate; by default it grows with N.
    rate: Option<f64>,
    /// Pages per call (copies of the test page).
    pages: u32,
    /// Raw SpanDSP instances per ceiling replay.
    ceiling_k: usize,
    /// Record a perf profile of both processes for this long once the ramp is over.
    perf: Option<u64>,
    /// Keep the temporary directory.
    keep: bool,
    /// Run each process in a session of its own at this nice value, session (autogroup) and
    /// process alike; negative values put the calls ahead of other work and need root.
    nice: Option<i32>,
    /// Where the document sent and the TIFFs received live (default: the run directory).
    spool: Option<PathBuf>,
    /// Each child stops itself above this RSS.
    max_rss_mib: u64,
    /// The overload guard's threshold in ms for both processes (0: off, the default).
    overload_ms: u64,
    min_idle_cpu: u8,
}

/// Stops the bench with a message.
fn fail(msg: &str) -> ! {
    eprintln!("concurrent_calls: {msg}");
    std::process::exit(1)
}

fn parse_list(s: &str) -> Vec<usize> {
    s.split(',')
        .map(|v| v.trim().parse().ok().filter(|&n| n > 0))
        .collect::<Option<Vec<usize>>>()
        .unwrap_or_else(|| fail("a list of N looks like 50,100,200"))
}

fn parse_options(args: &[String]) -> Options {
    let mut o = Options {
        modes: vec![CallMode::G711, CallMode::T38Invite],
        // Finer steps where this 2-core machine tops out; the targets (500, 2,000) are in both.
        g711_n: vec![100, 200, 300, 400, 500, 700, 1000],
        t38_n: vec![250, 500, 750, 1000, 1500, 2000, 3000, 4000],
        max_n: MAX_CALLS,
        budget: Duration::from_secs(150 * 60),
        rate: None,
        pages: RAW_PAGES,
        ceiling_k: 64,
        perf: None,
        keep: false,
        nice: None,
        spool: None,
        max_rss_mib: DEFAULT_MAX_RSS_MIB,
        overload_ms: 0,
        min_idle_cpu: 0,
    };
    let mut t38_mode = CallMode::T38Invite;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .unwrap_or_else(|| fail(&format!("{arg} needs a value")))
        };
        let number = |v: String| -> f64 {
            v.parse()
                .ok()
                .filter(|x: &f64| *x > 0.0)
                .unwrap_or_else(|| fail(&format!("{arg} takes a positive number")))
        };
        match arg.as_str() {
            "--bench" => {}
            "--quick" => {
                o.g711_n = vec![4, 8];
                o.t38_n = vec![4, 8];
                o.pages = 1;
                o.ceiling_k = 8;
            }
            "--mode" => only = Some(value()),
            "--g711-n" => o.g711_n = parse_list(&value()),
            "--t38-n" => o.t38_n = parse_list(&value()),
            "--max-n" => o.max_n = number(value()) as usize,
            "--budget-min" => o.budget = Duration::from_secs_f64(number(value()) * 60.0),
            "--rate" => o.rate = Some(number(value())),
            "--pages" => o.pages = number(value()) as u32,
            "--ceiling-k" => o.ceiling_k = number(value()) as usize,
            "--perf" => o.perf = Some(number(value()) as u64),
            "--t38-reinvite" => t38_mode = CallMode::T38Reinvite,
            "--keep" => o.keep = true,
            "--spool" => o.spool = Some(PathBuf::from(value())),
            "--max-rss-mib" => o.max_rss_mib = number(value()) as u64,
            "--overload-ms" => o.overload_ms = number(value()) as u64,
            "--min-idle-cpu" => o.min_idle_cpu = (number(value()) as u64).min(99) as u8,
            "--nice" => {
                o.nice = Some(
                    value()
                        .parse()
                        .ok()
                        .filter(|n| (-20..=19).contains(n))
                        .unwrap_or_else(|| fail("--nice takes -20 … 19")),
                );
            }
            other => fail(&format!(
                "unknown argument {other}; see the header of engine/benches/concurrent_calls.rs"
            )),
        }
    }
    o.modes = match only.as_deref() {
        None | Some("both") => vec![CallMode::G711, t38_mode],
        Some("g711") => vec![CallMode::G711],
        Some("t38") => vec![t38_mode],
        Some(m) => fail(&format!("--mode {m}: use g711, t38 or both")),
    };
    o
}

/// The document of every call: the test page `pages` times, joined with `tiffcp` as
/// `spandsp/benches/channels.rs` does.
fn make_document(dir: &Path, pages: u32) -> PathBuf {
    let page = test_support::fax_image("asterisk-testsuite_send.tiff");
    let out = dir.join(format!("send-{pages}p.tif"));
    let status = Command::new("tiffcp")
        .args(std::iter::repeat_n(&page, pages as usize))
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "running tiffcp (apt-get install libtiff-tools): {e}"
            ))
        });
    if !status.success() {
        fail(&format!("tiffcp failed: {status}"));
    }
    out
}

/// The shared state of a run.
struct Context {
    opts: Options,
    dir: PathBuf,
    /// Where the calls read and write their TIFFs.
    spool: PathBuf,
    exe: PathBuf,
    document: PathBuf,
    ceiling: Ceiling,
    /// Media seconds one call is expected to last.
    call_seconds: f64,
    /// The soft open-file limit each child inherits.
    nofile: Option<u64>,
}

/// One step's results.
struct Row {
    mode: CallMode,
    n: usize,
    rate: f64,
    rx: ChildReport,
    tx: ChildReport,
    /// Raw SpanDSP CPU seconds per channel-second: receiving and sending party.
    raw_rx: f64,
    raw_tx: Option<f64>,
    jitter: Directions,
    load: (f64, f64),
}

impl Row {
    fn ok(&self) -> bool {
        self.rx.successes == self.n && self.tx.successes == self.n
    }
}

/// Waits for the receiver's `ready ADDR` line.
fn read_ready(out: &mut BufReader<ChildStdout>) -> Result<SocketAddr, String> {
    let mut line = String::new();
    out.read_line(&mut line).map_err(|e| e.to_string())?;
    line.trim()
        .strip_prefix("ready ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("the receiver did not start: {line:?}"))
}

/// The child's `result {json}` line.
fn parse_result(who: &str, stdout: &str) -> Result<ChildReport, String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| format!("the {who} gave no result"))
}

fn spawn_role(ctx: &Context, args: &RoleArgs) -> Result<Child, String> {
    // setsid(1) and nice(1) exec in place, so the child's id stays the bench process's id.
    let mut cmd = match ctx.opts.nice {
        Some(n) => {
            let mut c = Command::new("setsid");
            c.args(["nice", "-n", &n.to_string()]).arg(&ctx.exe);
            c
        }
        None => Command::new(&ctx.exe),
    };
    let mut child = cmd
        .args(args.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting the {}: {e}", args.role))?;
    if let Some(n) = ctx.opts.nice {
        if let Err(e) = prioritize_session(child.id(), n) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    }
    Ok(child)
}

/// Gives the session of `pid` the nice value `nice` for CPU shares between sessions.
///
/// With `kernel.sched_autogroup_enabled`, CPU time is shared fairly between sessions first
/// and only then by nice value within a session, so another session's build takes its share
/// whatever the calls' own nice value. The child is therefore started in a session of its
/// own (setsid) and that session's autogroup gets the nice value.
fn prioritize_session(pid: u32, nice: i32) -> Result<(), String> {
    let path = format!("/proc/{pid}/autogroup");
    if !Path::new(&path).exists() {
        // No autogroups: the process's own nice value is all there is.
        return Ok(());
    }
    let ours = std::fs::read_to_string("/proc/self/autogroup").unwrap_or_default();
    let group = |s: &str| s.split_whitespace().next().unwrap_or("").to_owned();
    // The child calls setsid() just after it starts; before that it is still in our group.
    let deadline = Instant::now() + Duration::from_secs(2);
    while group(&std::fs::read_to_string(&path).unwrap_or_default()) == group(&ours) {
        if Instant::now() > deadline {
            return Err(format!("process {pid} did not start a session of its own"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(&path, nice.to_string()).map_err(|e| format!("writing {path}: {e}"))
}

/// Records a perf profile of both children after `delay`, into the run directory.
fn spawn_perf(ctx: &Context, pids: [u32; 2], delay: Duration, tag: &str) {
    let Some(seconds) = ctx.opts.perf else { return };
    let data = ctx.dir.join(format!("perf-{tag}.data"));
    let text = ctx.dir.join(format!("perf-{tag}.txt"));
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let pids = format!("{},{}", pids[0], pids[1]);
        let recorded = Command::new("perf")
            .args([
                "record",
                "-q",
                "-e",
                "cpu-clock",
                "-F",
                "999",
                "-p",
                &pids,
                "-o",
            ])
            .arg(&data)
            .args(["--", "sleep", &seconds.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !recorded {
            eprintln!("concurrent_calls: perf record failed");
            return;
        }
        // By library first (where the time goes: SpanDSP, kernel, our code), then by symbol.
        let mut out = Vec::new();
        for sort in ["pid,dso", "pid,dso,sym"] {
            if let Ok(r) = Command::new("perf")
                .args([
                    "report",
                    "--stdio",
                    "--no-children",
                    "--percent-limit",
                    "0.3",
                ])
                .args(["--sort", sort, "-i"])
                .arg(&data)
                .output()
            {
                out.extend_from_slice(&r.stdout);
            }
        }
        let _ = std::fs::write(&text, out);
        eprintln!("concurrent_calls: perf profile in {}", text.display());
    });
}

/// Runs N calls in `mode` and measures them.
fn step(ctx: &Context, mode: CallMode, n: usize) -> Result<Row, String> {
    let load_before = procfs::load_average();
    let k = ctx.opts.ceiling_k;
    let raw_rx = ctx.ceiling.measure(
        if mode.is_t38() {
            RawMode::T38Rx
        } else {
            RawMode::AudioRx
        },
        k,
    )?;
    let raw_tx = if mode.is_t38() {
        None
    } else {
        Some(ctx.ceiling.measure(RawMode::AudioTx, k)?)
    };
    let rate = ctx.opts.rate.unwrap_or_else(|| {
        (n as f64 / (RAMP_SHARE * ctx.call_seconds))
            .ceil()
            .max(MIN_RATE)
    });
    let rx_dir = ctx.spool.join(format!("rx-{}-{n}", mode.name()));
    std::fs::create_dir_all(&rx_dir).map_err(|e| e.to_string())?;
    let base = RoleArgs {
        role: "receiver".to_owned(),
        mode,
        n,
        ports: RECEIVER_PORTS,
        path: rx_dir.clone(),
        target: None,
        rate,
        pages: ctx.opts.pages,
        max_rss_mib: ctx.opts.max_rss_mib,
        overload_ms: ctx.opts.overload_ms,
        min_idle_cpu: ctx.opts.min_idle_cpu,
    };
    let mut receiver = spawn_role(ctx, &base)?;
    let mut rx_out = BufReader::new(receiver.stdout.take().ok_or("no receiver stdout")?);
    let target = match read_ready(&mut rx_out) {
        Ok(t) => t,
        Err(e) => {
            let _ = receiver.kill();
            let _ = receiver.wait();
            return Err(e);
        }
    };
    let stride = jitter::stride_for(n);
    let pcap = ctx.dir.join(format!("media-{}-{n}.pcap", mode.name()));
    let capture = Capture::start(pcap, &SENDER_PORTS, &RECEIVER_PORTS, stride)?;
    let sender_args = RoleArgs {
        role: "sender".to_owned(),
        ports: SENDER_PORTS,
        path: ctx.document.clone(),
        target: Some(target),
        ..base
    };
    let sender = spawn_role(ctx, &sender_args)?;
    let ramp = Duration::from_secs_f64(n as f64 / rate);
    spawn_perf(
        ctx,
        [receiver.id(), sender.id()],
        ramp + Duration::from_secs(10),
        &format!("{}-{n}", mode.name()),
    );
    let tx_output = sender
        .wait_with_output()
        .map_err(|e| format!("waiting for the sender: {e}"))?;
    let tx = parse_result("sender", &String::from_utf8_lossy(&tx_output.stdout))
        .map_err(|e| format!("{e} ({})", tx_output.status));
    let rx_status = receiver
        .wait_timeout(RECEIVER_GRACE)
        .map_err(|e| e.to_string())?;
    if rx_status.is_none() {
        eprintln!("concurrent_calls: the receiver did not finish; stopping it");
        let _ = receiver.kill();
        let _ = receiver.wait();
    }
    let mut rx_text = String::new();
    let _ = rx_out.read_to_string(&mut rx_text);
    let rx = parse_result("receiver", &rx_text);
    let jitter = capture.finish(ctx.opts.keep, &SENDER_PORTS, &RECEIVER_PORTS)?;
    let _ = std::fs::remove_dir_all(&rx_dir);
    Ok(Row {
        mode,
        n,
        rate,
        rx: rx?,
        tx: tx?,
        raw_rx,
        raw_tx,
        jitter,
        load: (load_before, procfs::load_average()),
    })
}

/// Milliseconds of CPU per channel-second of a child.
fn cpu_ms(r: &ChildReport) -> f64 {
    if r.media_seconds > 0.0 {
        1000.0 * r.cpu_seconds / r.media_seconds
    } else {
        f64::NAN
    }
}

/// KiB of RSS per call at peak.
fn rss_per_call(r: &ChildReport) -> f64 {
    r.rss_peak_kib.saturating_sub(r.rss_idle_kib) as f64 / r.peak_active.max(1) as f64
}

fn print_step(row: &Row) {
    let (rx, tx) = (&row.rx, &row.tx);
    eprintln!(
        "  {} N={}: success rx {}/{} tx {}/{}, peak {} / {} calls, calls {:.0}–{:.0} s",
        row.mode.name(),
        row.n,
        rx.successes,
        row.n,
        tx.successes,
        row.n,
        rx.peak_active,
        tx.peak_active,
        rx.call_seconds.0,
        rx.call_seconds.1
    );
    if tx.refused > 0 {
        // Refused calls never started, so they are not failures of calls in progress.
        eprintln!(
            "    refused with 503 by the receiver's overload guard: {}; failed after admission: {}",
            tx.refused,
            tx.calls.saturating_sub(tx.successes + tx.refused)
        );
    }
    eprintln!(
        "    receiver: {:.1} CPU s over {:.0} s wall ({:.2} cores), {:.3} ms per channel-s = {:.2}× raw {:.3}",
        rx.cpu_seconds,
        rx.wall_seconds,
        rx.cpu_seconds / rx.wall_seconds,
        cpu_ms(rx),
        cpu_ms(rx) / (row.raw_rx * 1000.0),
        row.raw_rx * 1000.0
    );
    let raw_tx = row.raw_tx.unwrap_or(row.raw_rx);
    eprintln!(
        "    sender:   {:.1} CPU s over {:.0} s wall ({:.2} cores), {:.3} ms per channel-s = {:.2}× raw {:.3}{}",
        tx.cpu_seconds,
        tx.wall_seconds,
        tx.cpu_seconds / tx.wall_seconds,
        cpu_ms(tx),
        cpu_ms(tx) / (raw_tx * 1000.0),
        raw_tx * 1000.0,
        if row.raw_tx.is_none() { " (T.38 receive figure)" } else { "" }
    );
    eprintln!(
        "    RSS per call: receiver {:.0} KiB (idle {} MiB, peak {} MiB, HWM {} MiB), sender {:.0} KiB",
        rss_per_call(rx),
        rx.rss_idle_kib / 1024,
        rx.rss_peak_kib / 1024,
        rx.hwm_kib / 1024,
        rss_per_call(tx)
    );
    for (who, j) in [
        ("sender→receiver", &row.jitter.from_sender),
        ("receiver→sender", &row.jitter.from_receiver),
    ] {
        eprintln!(
            "    jitter {who}: p50 {:.3} ms, p99 {:.3} ms, max {:.1} ms ({} intervals, {} flows)",
            j.p50_ms, j.p99_ms, j.max_ms, j.intervals, j.flows
        );
    }
    for (who, r) in [("receiver", rx), ("sender", tx)] {
        let (rt, th) = (r.runtime_late_ms, r.thread_late_ms);
        eprintln!(
            "    {who} timer lateness p50/p99/max: tokio task {:.2}/{:.2}/{:.0} ms, OS thread {:.2}/{:.2}/{:.0} ms",
            rt.0, rt.1, rt.2, th.0, th.1, th.2
        );
    }
    for f in rx.failures.iter().chain(&tx.failures) {
        eprintln!("    failed: {f}");
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| mode | N | success rx / tx | peak calls | ramp /s | receiver CPU ms per channel-s (× raw) | \
         sender CPU ms per channel-s (× raw) | raw SpanDSP ms per channel-s rx / tx | cores used rx + tx | \
         jitter p50/p99 ms, sent by sender / receiver | RSS KiB per call rx / tx | load avg |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let raw_tx = r.raw_tx.unwrap_or(r.raw_rx);
        println!(
            "| {} | {} | {} / {} | {} | {:.0} | {:.3} ({:.2}×) | {:.3} ({:.2}×{}) | {:.3} / {} | {:.2} + {:.2} | {} / {} | {:.0} / {:.0} | {:.1}–{:.1} |",
            r.mode.name(),
            r.n,
            r.rx.successes,
            r.tx.successes,
            r.rx.peak_active.min(r.tx.peak_active),
            r.rate,
            cpu_ms(&r.rx),
            cpu_ms(&r.rx) / (r.raw_rx * 1000.0),
            cpu_ms(&r.tx),
            cpu_ms(&r.tx) / (raw_tx * 1000.0),
            if r.raw_tx.is_none() { " †" } else { "" },
            r.raw_rx * 1000.0,
            r.raw_tx.map_or("–".to_owned(), |t| format!("{:.3}", t * 1000.0)),
            r.rx.cpu_seconds / r.rx.wall_seconds,
            r.tx.cpu_seconds / r.tx.wall_seconds,
            r.jitter.from_sender.cell(),
            r.jitter.from_receiver.cell(),
            rss_per_call(&r.rx),
            rss_per_call(&r.tx),
            r.load.0,
            r.load.1,
        );
    }
    println!();
    for mode in [CallMode::G711, CallMode::T38Invite, CallMode::T38Reinvite] {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.mode == mode).collect();
        if mine.is_empty() {
            continue;
        }
        let best = mine.iter().filter(|r| r.ok()).map(|r| r.n).max();
        let first_bad = mine.iter().find(|r| !r.ok()).map(|r| r.n);
        println!(
            "{}: largest N with 100 % success {}{}",
            mode.name(),
            best.map_or("none".to_owned(), |b| b.to_string()),
            first_bad.map_or(String::new(), |b| format!(" (N = {b} failed)")),
        );
    }
    for r in rows.iter().filter(|r| r.ok()) {
        // What 2 cores would carry at this CPU per channel, if nothing else ran.
        let raw_tx = r.raw_tx.unwrap_or(r.raw_rx) * 1000.0;
        let raw_rx = r.raw_rx * 1000.0;
        let (rx, tx) = (cpu_ms(&r.rx), cpu_ms(&r.tx));
        println!(
            "{} N = {}: CPU-bound calls on 2 cores, both ends on the machine {:.0} (raw SpanDSP {:.0}), \
             receiving end alone {:.0} (raw SpanDSP {:.0})",
            r.mode.name(),
            r.n,
            2000.0 / (rx + tx),
            2000.0 / (raw_rx + raw_tx),
            2000.0 / rx,
            2000.0 / raw_rx
        );
    }
    if rows.iter().any(|r| r.raw_tx.is_none()) {
        println!("† raw_replay has no T.38 sender: the T.38 sender is set against the T.38 receive figure");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--role") {
        roles::run(&args);
    }
    if args.is_empty() {
        // `cargo bench` passes `--bench`; no argument at all is `cargo test --benches` (or
        // --all-targets) running every bench once as a smoke test: not this one, which takes
        // the better part of an hour.
        eprintln!("concurrent_calls: run it with `cargo bench -p engine --bench concurrent_calls`");
        return;
    }
    let opts = parse_options(&args);
    let started = Instant::now();
    let autogroups = std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|v| v.trim() == "1");
    if autogroups && opts.nice.is_none() {
        eprintln!(
            "concurrent_calls: warning: CPU is shared per session (autogroup) here, so every other \
             session's build takes an equal share from the calls; use --nice -10 to measure the \
             engine rather than the neighbours"
        );
    }
    let nofile = procfs::raise_nofile();
    let tmp = tempfile::Builder::new()
        .prefix("faxserver-concurrent-")
        .tempdir()
        .unwrap_or_else(|e| fail(&format!("creating a temporary directory: {e}")));
    let dir = if opts.keep || opts.perf.is_some() {
        let kept = tmp.keep();
        eprintln!("concurrent_calls: keeping {}", kept.display());
        kept
    } else {
        tmp.path().to_owned()
    };
    let spool = match &opts.spool {
        Some(s) => {
            let sub = s.join(format!("faxserver-concurrent-{}", std::process::id()));
            std::fs::create_dir_all(&sub)
                .unwrap_or_else(|e| fail(&format!("{}: {e}", sub.display())));
            sub
        }
        None => dir.clone(),
    };
    let document = make_document(&spool, opts.pages);
    let raw_document = if opts.pages == RAW_PAGES {
        document.clone()
    } else {
        make_document(&dir, RAW_PAGES)
    };
    eprintln!("concurrent_calls: recording the ceiling calls and building raw_replay …");
    let ceiling = Ceiling::prepare(&dir, &raw_document).unwrap_or_else(|e| fail(&e));
    // One page of the recorded call is about a third of it; SIP set-up adds a little.
    let call_seconds = ceiling.audio_seconds() * f64::from(opts.pages) / f64::from(RAW_PAGES) + 2.0;
    let ctx = Context {
        spool,
        exe: std::env::current_exe().unwrap_or_else(|e| fail(&e.to_string())),
        dir,
        document,
        ceiling,
        call_seconds,
        nofile,
        opts,
    };
    eprintln!(
        "concurrent_calls: {} cores, open files {}, about {:.0} s per call, budget {:.0} min",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        ctx.nofile.map_or("unlimited".to_owned(), |n| n.to_string()),
        ctx.call_seconds,
        ctx.opts.budget.as_secs_f64() / 60.0
    );
    let mut rows = Vec::new();
    'modes: for &mode in &ctx.opts.modes {
        let ns = if mode.is_t38() {
            &ctx.opts.t38_n
        } else {
            &ctx.opts.g711_n
        };
        for &n in ns {
            if n > ctx.opts.max_n.min(MAX_CALLS) {
                eprintln!("concurrent_calls: {} N={n} is above the cap", mode.name());
                break;
            }
            // A media socket and a TIFF per call, plus the runtime's own descriptors.
            if ctx.nofile.is_some_and(|limit| (2 * n + 256) as u64 > limit) {
                eprintln!(
                    "concurrent_calls: {} N={n} needs more open files than the limit",
                    mode.name()
                );
                break;
            }
            let rate = ctx.opts.rate.unwrap_or(MIN_RATE).max(MIN_RATE);
            let estimate = Duration::from_secs_f64(n as f64 / rate + ctx.call_seconds + 60.0);
            if started.elapsed() + estimate > ctx.opts.budget {
                eprintln!(
                    "concurrent_calls: {} N={n} would overrun the time budget",
                    mode.name()
                );
                continue 'modes;
            }
            eprintln!(
                "concurrent_calls: {} N={n} (load average {:.1}) …",
                mode.name(),
                procfs::load_average()
            );
            match step(&ctx, mode, n) {
                Ok(row) => {
                    print_step(&row);
                    let ok = row.ok();
                    rows.push(row);
                    if !ok {
                        continue 'modes;
                    }
                }
                Err(e) => {
                    eprintln!("concurrent_calls: {} N={n}: {e}", mode.name());
                    continue 'modes;
                }
            }
        }
    }
    print_table(&rows);
    if ctx.opts.spool.is_some() {
        let _ = std::fs::remove_dir_all(&ctx.spool);
    }
    eprintln!(
        "concurrent_calls: done in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
}
