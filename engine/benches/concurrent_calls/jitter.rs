//! Send-interval jitter of RTP and UDPTL, taken from a loopback capture of a sample of calls.
//!
//! `dumpcap` captures on `lo` with a kernel (BPF) filter that passes only media between the two
//! pools and only to destination ports in every `stride`-th port pair, so a few dozen calls
//! are captured whatever N is, and the filter's cost stays a few instructions per packet. The
//! kernel still clones every packet on `lo` for the capture socket before the filter drops it:
//! about 4 % of a T.38 sender's CPU in a profile, paid by the calls measured.
//! On loopback a packet is captured as it is handed to the device, inside the sender's
//! `sendto`, so capture times are send times: scheduling delay on the sending side shows,
//! network delay does not exist.
//!
//! - RTP (G.711, one packet per 20 ms tick): every interval between consecutive packets of a
//!   flow; the deviation is |interval − 20 ms|. A tick served late shows as a long interval,
//!   and the catch-up burst (missed ticks are sent at once) as short ones.
//! - UDPTL: SpanDSP emits IFPs only when it has something to say, and indicators go out
//!   repeated, back to back. Datagrams less than 1 ms apart are one flush (one tick); the
//!   deviation of the interval between flushes is its distance to the nearest whole number of
//!   ticks (at least one). The first datagram of a flow, the `no-signal` that opens the far
//!   end's latch when T.38 starts, is not on a tick and is left out. This cannot tell a tick more than 10 ms late from the next one, so
//!   the RTP figure is the better measure of lateness; this one shows the spread.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use test_support::read_pcap_file;

/// One media tick.
const TICK_US: f64 = 20_000.0;
/// Datagrams of one flow closer than this were sent by one flush.
const SAME_FLUSH_US: f64 = 1_000.0;
/// Intervals longer than this are gaps between phases of a call, not ticks.
const MAX_INTERVAL_US: f64 = 2_000_000.0;
/// Bytes kept per packet: headers up to the first bytes of RTP or UDPTL.
const SNAPLEN: &str = "96";

/// Percentiles of the deviation of one direction's send intervals, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Jitter {
    /// Intervals measured.
    pub intervals: usize,
    /// Flows (calls in one direction) they came from.
    pub flows: usize,
    /// Median deviation.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest deviation.
    pub max_ms: f64,
}

impl Jitter {
    /// `p50/p99` as the table shows it.
    pub fn cell(&self) -> String {
        if self.intervals == 0 {
            "–".to_owned()
        } else {
            format!("{:.2}/{:.2}", self.p50_ms, self.p99_ms)
        }
    }
}

/// Jitter of what each process sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Directions {
    /// Datagrams the sending process sent (to the receiver's pool).
    pub from_sender: Jitter,
    /// Datagrams the receiving process sent (to the sender's pool).
    pub from_receiver: Jitter,
}

/// A running `dumpcap`.
pub struct Capture {
    child: Child,
    path: PathBuf,
}

/// The stride in port pairs that samples about 32 calls out of `n`.
pub fn stride_for(n: usize) -> u32 {
    (n.div_ceil(32).max(1) as u32).next_power_of_two()
}

impl Capture {
    /// Starts capturing media between the two pools into `path`, to destination ports in every
    /// `stride`-th pair (a power of two).
    pub fn start(
        path: PathBuf,
        sender: &RangeInclusive<u16>,
        receiver: &RangeInclusive<u16>,
        stride: u32,
    ) -> Result<Capture, String> {
        let mask = 2 * stride - 1;
        let range = |r: &RangeInclusive<u16>| format!("portrange {}-{}", r.start(), r.end());
        let filter = format!(
            "udp and ((src {s} and dst {r}) or (src {r} and dst {s})) and (udp[2:2] & {mask}) = 0",
            s = range(sender),
            r = range(receiver),
        );
        let child = Command::new("dumpcap")
            .args([
                "-q", "-i", "lo", "-P", "-s", SNAPLEN, "-B", "64", "-f", &filter, "-w",
            ])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting dumpcap (apt-get install tshark): {e}"))?;
        // dumpcap needs a moment to open the interface; the first calls start later anyway.
        std::thread::sleep(Duration::from_millis(1500));
        Ok(Capture { child, path })
    }

    /// Stops the capture (SIGTERM, so that dumpcap flushes its file) and measures it; the
    /// file is deleted unless `keep`.
    pub fn finish(
        mut self,
        keep: bool,
        sender: &RangeInclusive<u16>,
        receiver: &RangeInclusive<u16>,
    ) -> Result<Directions, String> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let pcap = read_pcap_file(&self.path).map_err(|e| e.to_string())?;
        let mut flows: HashMap<(u16, u16), Vec<(f64, bool)>> = HashMap::new();
        for d in pcap.udp_datagrams() {
            let t = d.timestamp.as_secs_f64() * 1e6;
            let rtp = is_rtp(&d.payload);
            flows
                .entry((d.src.port(), d.dst.port()))
                .or_default()
                .push((t, rtp));
        }
        if !keep {
            let _ = std::fs::remove_file(&self.path);
        }
        let mut from_sender = (Vec::new(), 0);
        let mut from_receiver = (Vec::new(), 0);
        for ((src, dst), packets) in &flows {
            let side = if sender.contains(src) && receiver.contains(dst) {
                &mut from_sender
            } else {
                &mut from_receiver
            };
            side.1 += 1;
            deviations(packets, &mut side.0);
        }
        Ok(Directions {
            from_sender: summarize(from_sender.0, from_sender.1),
            from_receiver: summarize(from_receiver.0, from_receiver.1),
        })
    }
}

/// RTP version 2 with a G.711 payload type (UDPTL starts with a sequence number, whose top
/// bits stay 0 for the first 16,384 datagrams of a call).
fn is_rtp(payload: &[u8]) -> bool {
    payload.len() >= 12 && payload[0] >> 6 == 2 && matches!(payload[1] & 0x7f, 0 | 8)
}

/// Appends the deviations (µs) of one flow's send intervals; `packets` are (time µs, is RTP)
/// in capture order.
fn deviations(packets: &[(f64, bool)], out: &mut Vec<f64>) {
    let mut last_rtp: Option<f64> = None;
    let mut last_flush: Option<f64> = None;
    let mut last_udptl: Option<f64> = None;
    for &(t, rtp) in packets {
        if rtp {
            if let Some(prev) = last_rtp {
                let dt = t - prev;
                if dt < MAX_INTERVAL_US {
                    out.push((dt - TICK_US).abs());
                }
            }
            last_rtp = Some(t);
            continue;
        }
        let Some(prev_udptl) = last_udptl.replace(t) else {
            // The first datagram is the `no-signal` sent when T.38 media starts, so that the
            // far end can latch: it is off the tick grid by design.
            continue;
        };
        if t - prev_udptl < SAME_FLUSH_US {
            continue;
        }
        if let Some(prev) = last_flush {
            let dt = t - prev;
            if dt < MAX_INTERVAL_US {
                let ticks = (dt / TICK_US).round().max(1.0);
                out.push((dt - ticks * TICK_US).abs());
            }
        }
        last_flush = Some(t);
    }
}

/// Percentiles of `devs` (µs) as milliseconds.
fn summarize(mut devs: Vec<f64>, flows: usize) -> Jitter {
    if devs.is_empty() {
        return Jitter::default();
    }
    devs.sort_by(f64::total_cmp);
    let pick = |q: f64| devs[((devs.len() - 1) as f64 * q).round() as usize] / 1000.0;
    Jitter {
        intervals: devs.len(),
        flows,
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        max_ms: pick(1.0),
    }
}
