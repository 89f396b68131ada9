//! Channels per core: the Rust wrappers against raw libspandsp on the same recorded calls.
//!
//! One live back-to-back call per mode records, tick by tick, exactly what the measured
//! party received. Child processes then replay that recording into N fresh instances each
//! (this binary with `--replay` for the Rust wrappers, `raw_replay.c` for raw SpanDSP), read
//! process CPU time once around the whole replay, and check every instance finished the
//! call. Runs alternate Rust, C, Rust, C, … and the table reports medians.
//!
//! `cargo bench -p spandsp --bench channels [-- --quick] [--runs K] [--n 1,256] [--mode M] [--keep]`
//! (`CHANNELS_QUICK=1` is the same as `--quick`). See BENCHMARKS.md at the repository root.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

use spandsp::g711::Law;
use spandsp::{
    Direction, FaxResult, FaxTerminal, GatewayConfig, LogLevel, Modems, Role, T30Config, T38Config,
    T38Gateway, T38Terminal, TICK_SAMPLES,
};

/// Samples per 20 ms tick.
const TICK: usize = TICK_SAMPLES;
/// Simulated seconds per tick.
const TICK_SECONDS: f64 = 0.02;
/// Pages in the document every call sends.
const PAGES: u32 = 3;
/// The caller's station identifier (raw_replay.c uses the same).
const SENDER_IDENT: &str = "+1 555 0100";
/// The answerer's station identifier (raw_replay.c uses the same).
const RECEIVER_IDENT: &str = "+1 555 0199";
/// The G.711 law of the audio leg in the live calls.
const LAW: Law = Law::Alaw;
/// Live calls give up after this many ticks (10 simulated minutes).
const MAX_TICKS: usize = 30_000;
/// Magic at the start of a recording file.
const MAGIC: &[u8; 8] = b"FXREC1\0\0";

/// What is measured: which party of which call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Audio fax terminal receiving (V.17, ECM off).
    AudioRx,
    /// Audio fax terminal sending (V.17, ECM off).
    AudioTx,
    /// T.38 terminal receiving from a T.38 terminal (V.17, ECM off).
    T38Rx,
    /// T.38 gateway between an audio V.17 sender and a T.38 receiving terminal.
    Gateway,
}

impl Mode {
    /// Every mode, in table order.
    const ALL: [Mode; 4] = [Mode::AudioRx, Mode::AudioTx, Mode::T38Rx, Mode::Gateway];

    /// The name on the command line and for raw_replay.
    fn name(self) -> &'static str {
        match self {
            Mode::AudioRx => "audio-rx",
            Mode::AudioTx => "audio-tx",
            Mode::T38Rx => "t38-rx",
            Mode::Gateway => "gateway",
        }
    }

    /// The label in the result table.
    fn label(self) -> &'static str {
        match self {
            Mode::AudioRx => "audio receive (V.17, ECM off)",
            Mode::AudioTx => "audio send (V.17, ECM off)",
            Mode::T38Rx => "T.38 terminal receive (V.17, ECM off)",
            Mode::Gateway => "T.38 gateway (audio V.17 sender ↔ T.38 terminal)",
        }
    }

    /// The mode called `name`, if any.
    fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// One IFP packet as the measured party received it.
#[derive(Debug, Clone)]
struct Ifp {
    /// UDPTL sequence number it was fed with.
    seq: u16,
    /// The encoded IFP.
    data: Vec<u8>,
}

/// What the measured party received during one 20 ms tick.
#[derive(Debug, Clone, Default)]
struct Tick {
    /// Decoded G.711 samples (empty for a T.38-only party).
    audio: Vec<i16>,
    /// IFPs, in the order they were fed.
    ifps: Vec<Ifp>,
}

/// A recorded input stream, one entry per tick.
#[derive(Debug, Clone, Default)]
struct Recording {
    /// True when every tick carries 160 samples of audio.
    has_audio: bool,
    /// The ticks, in order.
    ticks: Vec<Tick>,
}

impl Recording {
    /// Simulated seconds the recording covers.
    fn seconds(&self) -> f64 {
        self.ticks.len() as f64 * TICK_SECONDS
    }

    /// Writes the format raw_replay.c reads (little-endian, see its header comment).
    fn write(&self, path: &Path) {
        let file = File::create(path).expect("creating the recording file");
        let mut w = BufWriter::new(file);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.push(u8::from(self.has_audio));
        let ticks = u32::try_from(self.ticks.len()).expect("tick count fits in u32");
        bytes.extend_from_slice(&ticks.to_le_bytes());
        for tick in &self.ticks {
            assert_eq!(tick.audio.len(), if self.has_audio { TICK } else { 0 });
            for sample in &tick.audio {
                bytes.extend_from_slice(&sample.to_le_bytes());
            }
            let count = u16::try_from(tick.ifps.len()).expect("IFPs per tick fit in u16");
            bytes.extend_from_slice(&count.to_le_bytes());
            for ifp in &tick.ifps {
                let len = u16::try_from(ifp.data.len()).expect("IFP length fits in u16");
                bytes.extend_from_slice(&ifp.seq.to_le_bytes());
                bytes.extend_from_slice(&len.to_le_bytes());
                bytes.extend_from_slice(&ifp.data);
            }
        }
        w.write_all(&bytes).expect("writing the recording file");
        w.flush().expect("flushing the recording file");
    }

    /// Reads a file written by [`Recording::write`].
    fn read(path: &Path) -> Recording {
        let file = File::open(path).expect("opening the recording file");
        let mut bytes = Vec::new();
        BufReader::new(file)
            .read_to_end(&mut bytes)
            .expect("reading the recording file");
        let mut r = Reader { bytes: &bytes };
        assert_eq!(r.take(8), MAGIC, "not a recording file");
        let has_audio = r.take(1)[0] != 0;
        let ticks = r.u32() as usize;
        let mut rec = Recording {
            has_audio,
            ticks: Vec::with_capacity(ticks),
        };
        for _ in 0..ticks {
            let audio = if has_audio {
                (0..TICK).map(|_| r.u16() as i16).collect()
            } else {
                Vec::new()
            };
            let count = r.u16();
            let ifps = (0..count)
                .map(|_| {
                    let seq = r.u16();
                    let len = usize::from(r.u16());
                    Ifp {
                        seq,
                        data: r.take(len).to_vec(),
                    }
                })
                .collect();
            rec.ticks.push(Tick { audio, ifps });
        }
        rec
    }
}

/// A cursor over a recording file's bytes.
struct Reader<'a> {
    /// What is left to read.
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> &'a [u8] {
        assert!(self.bytes.len() >= n, "truncated recording file");
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        head
    }

    /// The next little-endian u16.
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take(2).try_into().expect("two bytes"))
    }

    /// The next little-endian u32.
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().expect("four bytes"))
    }
}

/// T.30 settings of every terminal here; raw_replay.c's `configure_t30` mirrors them.
fn t30_config(ident: &str) -> T30Config {
    T30Config {
        local_ident: ident.to_owned(),
        ecm: false,
        modems: Modems::ALL,
        log_level: LogLevel::None,
        ..T30Config::default()
    }
}

/// Gateway settings; raw_replay.c's gateway set-up mirrors them.
fn gateway_config() -> GatewayConfig {
    GatewayConfig {
        ecm: false,
        modems: Modems::ALL,
        t38: T38Config::default(),
        fill_bit_removal: false,
        log_tag: "gateway".to_owned(),
        log_level: LogLevel::None,
        protocol_log_level: None,
    }
}

/// Process CPU time in seconds (all threads, user + system), read like raw_replay.c does.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_PROCESS_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Stops the bench with a message and a non-zero exit code.
fn fail(msg: &str) -> ! {
    eprintln!("channels: {msg}");
    exit(1)
}

/// Checks a live party's result: completion code 0, 3 pages, 14400 bit/s (V.17).
fn check_live(who: &str, result: Option<&FaxResult>) {
    let Some(r) = result else {
        fail(&format!("live call: the {who} never finished"))
    };
    if !r.is_ok() || r.stats.pages_transferred != PAGES || r.stats.bit_rate != 14_400 {
        fail(&format!(
            "live call: the {who} ended with code {}, {} pages at {} bit/s (want 0, {PAGES}, 14400)",
            r.code, r.stats.pages_transferred, r.stats.bit_rate
        ));
    }
}

/// A live audio ↔ audio call; returns what the receiver and what the sender heard.
fn live_audio(send_tiff: &Path, dir: &Path) -> (Recording, Recording) {
    let send = Direction::Send {
        tiff: send_tiff.to_owned(),
        first_page: 1,
    };
    let receive = Direction::Receive {
        tiff: dir.join("live-audio.tif"),
    };
    let mut a = FaxTerminal::new(Role::Calling, send, &t30_config(SENDER_IDENT))
        .expect("creating the live audio sender");
    let mut b = FaxTerminal::new(Role::Answering, receive, &t30_config(RECEIVER_IDENT))
        .expect("creating the live audio receiver");
    let mut heard_by_b = Recording {
        has_audio: true,
        ..Recording::default()
    };
    let mut heard_by_a = heard_by_b.clone();
    let mut a_out = [0i16; TICK];
    let mut b_out = [0i16; TICK];
    // Same call order as engine/src/loopback.rs.
    while !(a.is_finished() && b.is_finished()) {
        if heard_by_b.ticks.len() >= MAX_TICKS {
            fail("live audio call did not finish");
        }
        a.tx(&mut a_out);
        LAW.round_trip(&mut a_out);
        b.tx(&mut b_out);
        LAW.round_trip(&mut b_out);
        b.rx(&a_out);
        a.rx(&b_out);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        for (rec, audio) in [(&mut heard_by_b, &a_out), (&mut heard_by_a, &b_out)] {
            rec.ticks.push(Tick {
                audio: audio.to_vec(),
                ifps: Vec::new(),
            });
        }
    }
    check_live("audio sender", a.result());
    check_live("audio receiver", b.result());
    (heard_by_b, heard_by_a)
}

/// A live T.38 ↔ T.38 call; returns what the receiving terminal got.
fn live_t38(send_tiff: &Path, dir: &Path) -> Recording {
    let t38 = T38Config::default();
    let send = Direction::Send {
        tiff: send_tiff.to_owned(),
        first_page: 1,
    };
    let receive = Direction::Receive {
        tiff: dir.join("live-t38.tif"),
    };
    let mut a = T38Terminal::new(Role::Calling, send, &t30_config(SENDER_IDENT), &t38)
        .expect("creating the live T.38 sender");
    let mut b = T38Terminal::new(Role::Answering, receive, &t30_config(RECEIVER_IDENT), &t38)
        .expect("creating the live T.38 receiver");
    let mut rec = Recording::default();
    let (mut seq_ab, mut seq_ba) = (0u16, 0u16);
    while !(a.is_finished() && b.is_finished()) {
        if rec.ticks.len() >= MAX_TICKS {
            fail("live T.38 call did not finish");
        }
        a.advance(TICK);
        b.advance(TICK);
        let mut tick = Tick::default();
        while let Some(ifp) = a.poll_ifp() {
            // As in the loopback, a malformed IFP is dropped by SpanDSP; the replay repeats it.
            let _ = b.rx_ifp(&ifp.data, seq_ab);
            tick.ifps.push(Ifp {
                seq: seq_ab,
                data: ifp.data,
            });
            seq_ab = seq_ab.wrapping_add(1);
        }
        while let Some(ifp) = b.poll_ifp() {
            let _ = a.rx_ifp(&ifp.data, seq_ba);
            seq_ba = seq_ba.wrapping_add(1);
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        rec.ticks.push(tick);
    }
    check_live("T.38 sender", a.result());
    check_live("T.38 receiver", b.result());
    rec
}

/// A live audio sender → gateway → T.38 receiver call; returns the gateway's input.
fn live_gateway(send_tiff: &Path, dir: &Path) -> Recording {
    let send = Direction::Send {
        tiff: send_tiff.to_owned(),
        first_page: 1,
    };
    let receive = Direction::Receive {
        tiff: dir.join("live-gateway.tif"),
    };
    let mut a = FaxTerminal::new(Role::Calling, send, &t30_config(SENDER_IDENT))
        .expect("creating the live audio sender");
    let mut b = T38Terminal::new(
        Role::Answering,
        receive,
        &t30_config(RECEIVER_IDENT),
        &T38Config::default(),
    )
    .expect("creating the live T.38 receiver");
    let mut gw = T38Gateway::new(&gateway_config()).expect("creating the live gateway");
    let mut rec = Recording {
        has_audio: true,
        ..Recording::default()
    };
    let (mut seq_to_b, mut seq_to_gw) = (0u16, 0u16);
    let mut a_out = [0i16; TICK];
    let mut b_out = [0i16; TICK];
    // Same call order as engine/src/loopback.rs (audio sender → gateway → T.38 receiver).
    while !(a.is_finished() && b.is_finished()) {
        if rec.ticks.len() >= MAX_TICKS {
            fail("live gateway call did not finish");
        }
        a.tx(&mut a_out);
        LAW.round_trip(&mut a_out);
        gw.rx_audio(&a_out);
        gw.tx_audio(&mut b_out);
        LAW.round_trip(&mut b_out);
        a.rx(&b_out);
        b.advance(TICK);
        let mut tick = Tick {
            audio: a_out.to_vec(),
            ifps: Vec::new(),
        };
        while let Some(ifp) = gw.poll_ifp() {
            let _ = b.rx_ifp(&ifp.data, seq_to_b);
            seq_to_b = seq_to_b.wrapping_add(1);
        }
        while let Some(ifp) = b.poll_ifp() {
            let _ = gw.rx_ifp(&ifp.data, seq_to_gw);
            tick.ifps.push(Ifp {
                seq: seq_to_gw,
                data: ifp.data,
            });
            seq_to_gw = seq_to_gw.wrapping_add(1);
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        while gw.poll_event().is_some() {}
        rec.ticks.push(tick);
    }
    check_live("audio sender", a.result());
    check_live("T.38 receiver", b.result());
    if !gw.is_finished() {
        fail("live call: the gateway never saw DCN");
    }
    rec
}

/// One replayed instance: steps through a tick the way the live call did.
trait Replayed {
    /// Feeds one recorded tick, in the live call's order, and drains what comes out.
    fn step(&mut self, tick: &Tick, out: &mut [i16; TICK]);
    /// True when the instance finished properly (code 0 and 3 pages; gateway: DCN).
    fn ok(&self) -> bool;
}

impl Replayed for FaxTerminal {
    fn step(&mut self, tick: &Tick, out: &mut [i16; TICK]) {
        self.tx(out);
        self.rx(&tick.audio);
        while self.poll_event().is_some() {}
    }

    fn ok(&self) -> bool {
        self.result()
            .is_some_and(|r| r.is_ok() && r.stats.pages_transferred == PAGES)
    }
}

impl Replayed for T38Terminal {
    fn step(&mut self, tick: &Tick, _out: &mut [i16; TICK]) {
        self.advance(TICK);
        for ifp in &tick.ifps {
            let _ = self.rx_ifp(&ifp.data, ifp.seq);
        }
        while self.poll_ifp().is_some() {}
        while self.poll_event().is_some() {}
    }

    fn ok(&self) -> bool {
        self.result()
            .is_some_and(|r| r.is_ok() && r.stats.pages_transferred == PAGES)
    }
}

impl Replayed for T38Gateway {
    fn step(&mut self, tick: &Tick, out: &mut [i16; TICK]) {
        self.rx_audio(&tick.audio);
        self.tx_audio(out);
        for ifp in &tick.ifps {
            let _ = self.rx_ifp(&ifp.data, ifp.seq);
        }
        while self.poll_ifp().is_some() {}
        while self.poll_event().is_some() {}
    }

    fn ok(&self) -> bool {
        self.is_finished()
    }
}

/// Creates `n` instances, steps all of them through every tick, checks and drops them;
/// returns the CPU seconds of all that and how many instances finished properly. Kept out
/// of line so profilers can isolate it.
#[inline(never)]
fn replay_all<P: Replayed>(rec: &Recording, n: usize, make: impl Fn(usize) -> P) -> (f64, usize) {
    let start = cpu_seconds();
    let mut parties: Vec<P> = (0..n).map(make).collect();
    let mut out = [0i16; TICK];
    for tick in &rec.ticks {
        for party in &mut parties {
            party.step(tick, &mut out);
        }
    }
    let ok = parties.iter().filter(|p| p.ok()).count();
    drop(parties);
    (cpu_seconds() - start, ok)
}

/// The child process of a Rust run: `--replay MODE RECORDING N OUT_DIR [SEND_TIFF]`.
fn replay_child(args: &[String]) -> ! {
    let [mode, rec_path, n, dir, rest @ ..] = args else {
        fail("usage: channels --replay MODE RECORDING N OUT_DIR [SEND_TIFF]")
    };
    let mode = Mode::from_name(mode).unwrap_or_else(|| fail(&format!("unknown mode {mode}")));
    let n: usize = n.parse().unwrap_or_else(|_| fail(&format!("bad N {n}")));
    let dir = PathBuf::from(dir);
    let rec = Recording::read(Path::new(rec_path));
    let rx_path = |i: usize| Direction::Receive {
        tiff: dir.join(format!("rx-{i}.tif")),
    };
    let receiver = t30_config(RECEIVER_IDENT);
    let (cpu, ok) = match mode {
        Mode::AudioRx => replay_all(&rec, n, |i| {
            FaxTerminal::new(Role::Answering, rx_path(i), &receiver)
                .expect("creating an audio receiver")
        }),
        Mode::AudioTx => {
            let tiff = PathBuf::from(
                rest.first()
                    .unwrap_or_else(|| fail("audio-tx needs SEND_TIFF")),
            );
            let sender = t30_config(SENDER_IDENT);
            replay_all(&rec, n, |_| {
                let send = Direction::Send {
                    tiff: tiff.clone(),
                    first_page: 1,
                };
                FaxTerminal::new(Role::Calling, send, &sender).expect("creating an audio sender")
            })
        }
        Mode::T38Rx => {
            let t38 = T38Config::default();
            replay_all(&rec, n, |i| {
                T38Terminal::new(Role::Answering, rx_path(i), &receiver, &t38)
                    .expect("creating a T.38 receiver")
            })
        }
        Mode::Gateway => {
            let config = gateway_config();
            replay_all(&rec, n, |_| {
                T38Gateway::new(&config).expect("creating a gateway")
            })
        }
    };
    println!("cpu_seconds {cpu:.6} ok {ok}");
    exit(if ok == n { 0 } else { 2 })
}

/// Runs one replay child and returns its CPU seconds; any failure ends the bench.
fn run_child(what: &str, cmd: &mut Command, n: usize) -> f64 {
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("starting the {what} replay: {e}")));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    let parsed = match fields.as_slice() {
        ["cpu_seconds", cpu, "ok", ok] => cpu.parse::<f64>().ok().zip(ok.parse::<usize>().ok()),
        _ => None,
    };
    match parsed {
        Some((cpu, ok)) if output.status.success() && ok == n => cpu,
        Some((_, ok)) => fail(&format!(
            "INVALID RUN: {what} replay: only {ok} of {n} instances finished properly"
        )),
        None => fail(&format!(
            "INVALID RUN: {what} replay failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// Builds the 3-page TIFF-F every call sends, in `dir`.
fn make_send_tiff(dir: &Path) -> PathBuf {
    let one_page = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/fax-images/asterisk-testsuite_send.tiff");
    let one_page = one_page
        .canonicalize()
        .unwrap_or_else(|e| fail(&format!("test image {}: {e}", one_page.display())));
    let out = dir.join("send-3pages.tif");
    let status = Command::new("tiffcp")
        .args([&one_page, &one_page, &one_page, &out])
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "running tiffcp (apt-get install libtiff-tools): {e}"
            ))
        });
    if !status.success() {
        fail(&format!("tiffcp failed: {status}"));
    }
    let summary = spandsp::check_send_tiff(&out).expect("checking the 3-page TIFF");
    if summary.pages != PAGES {
        fail(&format!(
            "the send TIFF has {} pages, not {PAGES}",
            summary.pages
        ));
    }
    out
}

/// Compiles raw_replay.c into `dir` and returns the executable's path.
fn build_raw_replay(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/raw_replay.c");
    let exe = dir.join("raw_replay");
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "spandsp"])
        .output()
        .unwrap_or_else(|e| fail(&format!("running pkg-config: {e}")));
    if !flags.status.success() {
        fail("pkg-config does not know spandsp (apt-get install libspandsp-dev)");
    }
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let status = Command::new("cc")
        .arg("-O2")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace())
        .args(["-ltiff", "-lm"])
        .status()
        .unwrap_or_else(|e| fail(&format!("running cc: {e}")));
    if !status.success() {
        fail(&format!("compiling {} failed: {status}", src.display()));
    }
    exe
}

/// The median of a non-empty list.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Command-line options of the parent process.
struct Options {
    /// Instance counts to measure.
    ns: Vec<usize>,
    /// Runs per side for N > 1; N = 1 gets 2·runs + 1, as it is cheap and noisier.
    runs: usize,
    /// Modes to measure.
    modes: Vec<Mode>,
    /// Keep the temporary directory (recordings, raw_replay, TIFFs) for manual runs.
    keep: bool,
}

/// Parses the parent's arguments (cargo bench adds `--bench`, which is ignored).
fn parse_options(args: &[String]) -> Options {
    let quick = std::env::var_os("CHANNELS_QUICK").is_some_and(|v| v != "0");
    let mut opts = Options {
        ns: vec![1, 256],
        runs: 5,
        modes: Vec::new(),
        keep: false,
    };
    let mut quick = quick;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| fail(&format!("{arg} needs a value")))
                .clone()
        };
        match arg.as_str() {
            "--bench" => {}
            "--quick" => quick = true,
            "--keep" => opts.keep = true,
            "--runs" => {
                opts.runs = value()
                    .parse()
                    .ok()
                    .filter(|&r| r > 0)
                    .unwrap_or_else(|| fail("--runs takes a positive number"));
            }
            "--n" => {
                opts.ns = value()
                    .split(',')
                    .map(|s| s.trim().parse().ok().filter(|&n| n > 0))
                    .collect::<Option<Vec<usize>>>()
                    .unwrap_or_else(|| fail("--n takes a list like 1,256"));
            }
            "--mode" => {
                let name = value();
                opts.modes.push(
                    Mode::from_name(&name).unwrap_or_else(|| fail(&format!("unknown mode {name}"))),
                );
            }
            other => fail(&format!(
                "unknown argument {other}; use --quick, --keep, --runs K, --n 1,256, --mode {}",
                Mode::ALL.map(Mode::name).join("|")
            )),
        }
    }
    if quick {
        opts.ns = vec![1, 8];
        opts.runs = 2;
    }
    if opts.modes.is_empty() {
        opts.modes = Mode::ALL.to_vec();
    }
    opts
}

/// One line of the result table.
struct Row {
    /// What was measured.
    mode: Mode,
    /// Instances stepped together.
    n: usize,
    /// Runs per side.
    runs: usize,
    /// Median Rust × real time.
    rust: f64,
    /// Median C × real time.
    c: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--replay") {
        replay_child(&args[1..]);
    }
    let opts = parse_options(&args);
    let tmp = tempfile::Builder::new()
        .prefix("faxserver-channels-")
        .tempdir()
        .expect("creating a temporary directory");
    let dir = tmp.path().to_owned();
    let dir = dir.as_path();
    if opts.keep {
        eprintln!("channels: keeping {}", tmp.keep().display());
    }
    let send_tiff = make_send_tiff(dir);
    let raw_replay = build_raw_replay(dir);
    let self_exe = std::env::current_exe().expect("finding this bench's executable");

    eprintln!("channels: recording live calls …");
    let (audio_rx, audio_tx) = live_audio(&send_tiff, dir);
    let recordings = [
        (Mode::AudioRx, audio_rx),
        (Mode::AudioTx, audio_tx),
        (Mode::T38Rx, live_t38(&send_tiff, dir)),
        (Mode::Gateway, live_gateway(&send_tiff, dir)),
    ];
    let mut rows = Vec::new();
    for (mode, rec) in &recordings {
        if !opts.modes.contains(mode) {
            continue;
        }
        let rec_path = dir.join(format!("{}.rec", mode.name()));
        rec.write(&rec_path);
        let out_dirs = [dir.join("out-rust"), dir.join("out-c")];
        for d in &out_dirs {
            std::fs::create_dir_all(d).expect("creating a replay output directory");
        }
        for &n in &opts.ns {
            let runs = if n == 1 { 2 * opts.runs + 1 } else { opts.runs };
            let channel_seconds = n as f64 * rec.seconds();
            let (mut rust, mut c) = (Vec::new(), Vec::new());
            for run in 1..=runs {
                for (side, out_dir) in ["rust", "c"].into_iter().zip(&out_dirs) {
                    let mut cmd = if side == "rust" {
                        let mut cmd = Command::new(&self_exe);
                        cmd.arg("--replay");
                        cmd
                    } else {
                        Command::new(&raw_replay)
                    };
                    cmd.arg(mode.name())
                        .arg(&rec_path)
                        .arg(n.to_string())
                        .arg(out_dir)
                        .arg(&send_tiff);
                    let cpu = run_child(side, &mut cmd, n);
                    let x = channel_seconds / cpu;
                    eprintln!(
                        "  {:8} N={n:<4} run {run}/{runs} {side:4}: {cpu:8.4} CPU s, {x:8.0}× real time",
                        mode.name()
                    );
                    if side == "rust" { &mut rust } else { &mut c }.push(x);
                }
            }
            rows.push(Row {
                mode: *mode,
                n,
                runs,
                rust: median(&rust),
                c: median(&c),
            });
        }
    }

    println!();
    println!("| mode | N | Rust × real time (median) | C × real time (median) | overhead % |");
    println!("|---|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:+.1} |",
            row.mode.label(),
            row.n,
            row.rust,
            row.c,
            (row.c / row.rust - 1.0) * 100.0
        );
    }
    println!();
    for (mode, rec) in &recordings {
        if opts.modes.contains(mode) {
            println!(
                "{}: {:.1} simulated s per call; runs per side: {}",
                mode.name(),
                rec.seconds(),
                rows.iter()
                    .filter(|r| r.mode == *mode)
                    .map(|r| format!("N={} ×{}", r.n, r.runs))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}
