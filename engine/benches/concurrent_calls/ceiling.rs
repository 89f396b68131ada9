//! The raw SpanDSP ceiling, measured in the same run: the record-and-replay method of
//! `spandsp/benches/channels.rs`, with its C replayer `spandsp/benches/raw_replay.c`.
//!
//! One back-to-back call per kind (audio, T.38) of the same 3-page document the calls send is
//! run in memory through the Rust wrappers, recording tick by tick what the measured party
//! received; `raw_replay` then feeds that recording into K fresh raw libspandsp instances
//! stepped in turn and prints its process CPU time. CPU ÷ (K × recorded seconds) is what one
//! channel of bare SpanDSP costs per second of call: the floor the full calls are set against.
//!
//! The recording format, the T.30 settings and the call order mirror `channels.rs` exactly,
//! because `raw_replay` checks every instance ends with code 0 and 3 pages.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use spandsp::g711::Law;
use spandsp::{
    Direction, FaxResult, FaxTerminal, LogLevel, Modems, Role, T30Config, T38Config, T38Terminal,
    TICK_SAMPLES,
};

/// Samples per 20 ms tick.
const TICK: usize = TICK_SAMPLES;
/// Pages `raw_replay` expects every replayed instance to complete.
pub const RAW_PAGES: u32 = 3;
/// The caller's station identifier (`raw_replay.c` uses the same).
const SENDER_IDENT: &str = "+1 555 0100";
/// The answerer's station identifier (`raw_replay.c` uses the same).
const RECEIVER_IDENT: &str = "+1 555 0199";
/// Magic at the start of a recording file (`raw_replay.c` checks it).
const MAGIC: &[u8; 8] = b"FXREC1\0\0";
/// A live call that has not ended after this many ticks (10 simulated minutes) failed.
const MAX_TICKS: usize = 30_000;

/// Which party of which call `raw_replay` replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawMode {
    /// Answering audio terminal receiving.
    AudioRx,
    /// Calling audio terminal sending.
    AudioTx,
    /// Answering T.38 terminal receiving.
    T38Rx,
}

impl RawMode {
    /// The mode's name on `raw_replay`'s command line.
    pub fn name(self) -> &'static str {
        match self {
            RawMode::AudioRx => "audio-rx",
            RawMode::AudioTx => "audio-tx",
            RawMode::T38Rx => "t38-rx",
        }
    }
}

/// What the measured party received during one tick.
#[derive(Default)]
struct Tick {
    /// Decoded G.711 samples (empty for a T.38 party).
    audio: Vec<i16>,
    /// IFPs with the sequence numbers they were fed with.
    ifps: Vec<(u16, Vec<u8>)>,
}

/// A recorded input stream, one entry per tick.
#[derive(Default)]
struct Recording {
    /// Every tick carries 160 samples.
    has_audio: bool,
    /// The ticks, in order.
    ticks: Vec<Tick>,
}

impl Recording {
    /// Writes the format `raw_replay.c` reads (little-endian; see its header comment).
    fn write(&self, path: &Path) -> Result<(), String> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.push(u8::from(self.has_audio));
        let ticks = u32::try_from(self.ticks.len()).map_err(|_| "too many ticks")?;
        bytes.extend_from_slice(&ticks.to_le_bytes());
        for tick in &self.ticks {
            for sample in &tick.audio {
                bytes.extend_from_slice(&sample.to_le_bytes());
            }
            let count = u16::try_from(tick.ifps.len()).map_err(|_| "too many IFPs")?;
            bytes.extend_from_slice(&count.to_le_bytes());
            for (seq, data) in &tick.ifps {
                let len = u16::try_from(data.len()).map_err(|_| "IFP too long")?;
                bytes.extend_from_slice(&seq.to_le_bytes());
                bytes.extend_from_slice(&len.to_le_bytes());
                bytes.extend_from_slice(data);
            }
        }
        let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut w = BufWriter::new(file);
        w.write_all(&bytes)
            .and_then(|()| w.flush())
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// T.30 settings of every terminal here; `raw_replay.c`'s `configure_t30` mirrors them.
fn t30_config(ident: &str) -> T30Config {
    T30Config {
        local_ident: ident.to_owned(),
        ecm: false,
        modems: Modems::ALL,
        log_level: LogLevel::None,
        ..T30Config::default()
    }
}

/// Checks a live party ended with code 0 and every page.
fn check_live(who: &str, result: Option<&FaxResult>) -> Result<(), String> {
    match result {
        Some(r) if r.is_ok() && r.stats.pages_transferred == RAW_PAGES => Ok(()),
        Some(r) => Err(format!(
            "live {who}: code {}, {} pages",
            r.code, r.stats.pages_transferred
        )),
        None => Err(format!("live {who} never finished")),
    }
}

/// The recordings and the replayer, built once per bench run.
pub struct Ceiling {
    /// The compiled `raw_replay`.
    exe: PathBuf,
    /// The 3-page document (the audio sender's replay reads it).
    send_tiff: PathBuf,
    /// Where the recordings and the replays' TIFFs go.
    dir: PathBuf,
    /// Simulated seconds of the audio and the T.38 recording.
    seconds: [f64; 2],
}

impl Ceiling {
    /// Compiles `raw_replay` and records one audio and one T.38 call of `send_tiff` (which
    /// must have [`RAW_PAGES`] pages) into `dir`.
    pub fn prepare(dir: &Path, send_tiff: &Path) -> Result<Ceiling, String> {
        let exe = build_raw_replay(dir)?;
        let (audio_rx, audio_tx) = live_audio(send_tiff, dir)?;
        let t38_rx = live_t38(send_tiff, dir)?;
        audio_rx.write(&dir.join("audio-rx.rec"))?;
        audio_tx.write(&dir.join("audio-tx.rec"))?;
        t38_rx.write(&dir.join("t38-rx.rec"))?;
        let secs = |r: &Recording| r.ticks.len() as f64 * 0.02;
        Ok(Ceiling {
            exe,
            send_tiff: send_tiff.to_owned(),
            dir: dir.to_owned(),
            seconds: [secs(&audio_rx), secs(&t38_rx)],
        })
    }

    /// Simulated seconds of the recorded audio call.
    pub fn audio_seconds(&self) -> f64 {
        self.seconds[0]
    }

    /// Replays `mode` into `k` raw instances; returns CPU seconds per channel per second of
    /// call.
    pub fn measure(&self, mode: RawMode, k: usize) -> Result<f64, String> {
        let out = self.dir.join("replay-out");
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        let rec = self.dir.join(format!("{}.rec", mode.name()));
        let output = Command::new(&self.exe)
            .arg(mode.name())
            .arg(&rec)
            .arg(k.to_string())
            .arg(&out)
            .arg(&self.send_tiff)
            .output()
            .map_err(|e| format!("starting raw_replay: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<&str> = stdout.split_whitespace().collect();
        let cpu = match fields.as_slice() {
            ["cpu_seconds", cpu, "ok", ok] if output.status.success() && *ok == k.to_string() => {
                cpu.parse::<f64>().map_err(|e| e.to_string())?
            }
            _ => {
                return Err(format!(
                    "raw_replay {} failed ({}): {stdout}{}",
                    mode.name(),
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        };
        let seconds = match mode {
            RawMode::AudioRx | RawMode::AudioTx => self.seconds[0],
            RawMode::T38Rx => self.seconds[1],
        };
        Ok(cpu / (k as f64 * seconds))
    }
}

/// Compiles `spandsp/benches/raw_replay.c` into `dir`, as `channels.rs` does.
fn build_raw_replay(dir: &Path) -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spandsp/benches/raw_replay.c");
    let exe = dir.join("raw_replay");
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "spandsp"])
        .output()
        .map_err(|e| format!("running pkg-config: {e}"))?;
    if !flags.status.success() {
        return Err("pkg-config does not know spandsp (apt-get install libspandsp-dev)".into());
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
        .map_err(|e| format!("running cc: {e}"))?;
    if !status.success() {
        return Err(format!("compiling {} failed: {status}", src.display()));
    }
    Ok(exe)
}

/// A live audio ↔ audio call (A-law on the line, the call order of `engine/src/loopback.rs`);
/// returns what the receiver and what the sender heard.
fn live_audio(send_tiff: &Path, dir: &Path) -> Result<(Recording, Recording), String> {
    let send = Direction::Send {
        tiff: send_tiff.to_owned(),
        first_page: 1,
    };
    let receive = Direction::Receive {
        tiff: dir.join("live-audio.tif"),
    };
    let err = |e: spandsp::Error| e.to_string();
    let mut a = FaxTerminal::new(Role::Calling, send, &t30_config(SENDER_IDENT)).map_err(err)?;
    let mut b =
        FaxTerminal::new(Role::Answering, receive, &t30_config(RECEIVER_IDENT)).map_err(err)?;
    let mut heard_by_b = Recording {
        has_audio: true,
        ..Recording::default()
    };
    let mut heard_by_a = Recording {
        has_audio: true,
        ..Recording::default()
    };
    let (mut a_out, mut b_out) = ([0i16; TICK], [0i16; TICK]);
    while !(a.is_finished() && b.is_finished()) {
        if heard_by_b.ticks.len() >= MAX_TICKS {
            return Err("the live audio call did not finish".into());
        }
        a.tx(&mut a_out);
        Law::Alaw.round_trip(&mut a_out);
        b.tx(&mut b_out);
        Law::Alaw.round_trip(&mut b_out);
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
    check_live("audio sender", a.result())?;
    check_live("audio receiver", b.result())?;
    Ok((heard_by_b, heard_by_a))
}

/// A live T.38 ↔ T.38 call; returns what the receiving terminal got.
fn live_t38(send_tiff: &Path, dir: &Path) -> Result<Recording, String> {
    let t38 = T38Config::default();
    let send = Direction::Send {
        tiff: send_tiff.to_owned(),
        first_page: 1,
    };
    let receive = Direction::Receive {
        tiff: dir.join("live-t38.tif"),
    };
    let err = |e: spandsp::Error| e.to_string();
    let mut a =
        T38Terminal::new(Role::Calling, send, &t30_config(SENDER_IDENT), &t38).map_err(err)?;
    let mut b = T38Terminal::new(Role::Answering, receive, &t30_config(RECEIVER_IDENT), &t38)
        .map_err(err)?;
    let mut rec = Recording::default();
    let (mut seq_ab, mut seq_ba) = (0u16, 0u16);
    while !(a.is_finished() && b.is_finished()) {
        if rec.ticks.len() >= MAX_TICKS {
            return Err("the live T.38 call did not finish".into());
        }
        a.advance(TICK);
        b.advance(TICK);
        let mut tick = Tick::default();
        while let Some(ifp) = a.poll_ifp() {
            // A malformed IFP is dropped by SpanDSP here; the replay repeats exactly that.
            let _ = b.rx_ifp(&ifp.data, seq_ab);
            tick.ifps.push((seq_ab, ifp.data));
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
    check_live("T.38 sender", a.result())?;
    check_live("T.38 receiver", b.result())?;
    Ok(rec)
}
