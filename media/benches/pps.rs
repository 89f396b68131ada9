//! Packets per second per core through the media cores, for many calls stepped in turn at
//! 50 packets/s per call and direction (20 ms G.711 RTP, RFC 3550/3551; paced T.38 UDPTL,
//! ITU-T T.38 §9.1):
//!
//! - G.711 RTP receive: `RtpReceiver` + `PlayoutBuffer` (decode, place, pop a 20 ms frame);
//! - G.711 RTP send: `RtpSender` (encode, packetise);
//! - UDPTL send + receive with redundancy 3: `UdptlSender` + `UdptlReceiver`;
//! - the same G.711 and UDPTL paths through `media::socket` streams on loopback UDP, so the
//!   system calls and the tokio shell are counted too.
//!
//! Each is set against the SpanDSP per-channel cost measured in the same run by record and
//! replay (`shared/docs/spandsp.md` §4): one back-to-back call is recorded, then its receiving
//! party is replayed into fresh instances stepped in turn.
//!
//! CPU time is the thread's own (`/proc/thread-self/schedstat`: user + system time on CPU).
//!
//! ```text
//! CARGO_BUILD_JOBS=2 cargo bench -p media --bench pps [-- --calls 1000 --seconds 20
//!     --socket-calls 200 --spandsp-calls 64 | --quick]
//! ```

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use media::g711::Law;
use media::playout::{Frame, PlayoutBuffer, PlayoutConfig, FRAME_SAMPLES};
use media::ports::PortPool;
use media::rtp::{PayloadMap, Received, RtpReceiver, RtpSender, SenderConfig, StreamIds};
use media::socket::{MediaSocket, RtpStream, SocketConfig, StreamFilter, UdptlStream};
use media::udptl::{ReceiverConfig, SenderConfig as UdptlConfig, UdptlReceiver, UdptlSender};
use spandsp::{Direction, FaxTerminal, Role, T30Config, T38Config, T38Terminal, TICK_SAMPLES};

const TICK: Duration = Duration::from_millis(20);
const PACKETS_PER_SECOND: f64 = 50.0;

/// Command-line settings.
struct Args {
    calls: usize,
    seconds: u32,
    socket_calls: usize,
    spandsp_calls: usize,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            calls: 1000,
            seconds: 20,
            socket_calls: 200,
            spandsp_calls: 64,
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let mut value = || it.next().and_then(|v| v.parse().ok());
            match arg.as_str() {
                "--calls" => args.calls = value().unwrap_or(args.calls),
                "--seconds" => args.seconds = value().map_or(args.seconds, |v: usize| v as u32),
                "--socket-calls" => args.socket_calls = value().unwrap_or(args.socket_calls),
                "--spandsp-calls" => args.spandsp_calls = value().unwrap_or(args.spandsp_calls),
                "--quick" => {
                    args.calls = 100;
                    args.seconds = 5;
                    args.socket_calls = 20;
                    args.spandsp_calls = 4;
                }
                _ => {} // `cargo bench` adds `--bench`
            }
        }
        args
    }

    fn ticks(&self) -> u32 {
        self.seconds * 50
    }
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| {
            static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
            START.get_or_init(Instant::now).elapsed()
        })
}

/// Runs `body` and returns the CPU time it took.
fn cpu<T>(body: impl FnOnce() -> T) -> (T, Duration) {
    let before = thread_cpu();
    let out = body();
    (out, thread_cpu().saturating_sub(before))
}

/// One measured figure: `packets` handled in `cpu` seconds.
struct Rate {
    packets: u64,
    cpu: Duration,
}

impl Rate {
    fn pps(&self) -> f64 {
        self.packets as f64 / self.cpu.as_secs_f64().max(1e-9)
    }

    fn ns_per_packet(&self) -> f64 {
        self.cpu.as_nanos() as f64 / self.packets.max(1) as f64
    }

    /// Calls one core carries when each call puts 50 packets/s through this path.
    fn calls(&self) -> f64 {
        self.pps() / PACKETS_PER_SECOND
    }

    fn print(&self, name: &str) {
        println!(
            "  {name:<48} {:>12.0} pps/core {:>9.0} ns/packet {:>10.0} calls/core",
            self.pps(),
            self.ns_per_packet(),
            self.calls()
        );
    }
}

/// Two paths every call needs (e.g. receive and send): calls per core for both.
fn both(a: &Rate, b: &Rate) -> f64 {
    1.0 / (1.0 / a.calls() + 1.0 / b.calls())
}

/// 20 ms of a 1,800 Hz tone, like V.21 or V.17 line audio (never silent, so never slipped).
fn tone() -> [i16; FRAME_SAMPLES] {
    let mut frame = [0i16; FRAME_SAMPLES];
    for (i, s) in frame.iter_mut().enumerate() {
        *s = ((i as f64 * std::f64::consts::TAU * 1800.0 / 8000.0).sin() * 6000.0) as i16;
    }
    frame
}

/// A paced V.17 non-ECM data IFP as SpanDSP sends it (version 0): 54 octets of T.4 data.
fn data_ifp() -> Vec<u8> {
    let mut ifp = vec![0xD0, 0x01, 0xE0, 0x00, 0x35];
    ifp.extend((0..54u8).map(|i| i.wrapping_mul(37)));
    ifp
}

fn pcmu_map() -> PayloadMap {
    let mut map = PayloadMap::new();
    let _ = map.insert_rtpmap(0, "PCMU", 8000);
    map
}

// ---------------------------------------------------------------------------------------
// Cores only

fn rtp_receive(args: &Args) -> Rate {
    let mut sender =
        RtpSender::new(SenderConfig::new(Law::Ulaw, StreamIds::from_seed(1))).expect("sender");
    sender.push_audio(&tone());
    let template = sender.poll_transmit().expect("one packet");
    struct Call {
        receiver: RtpReceiver,
        playout: PlayoutBuffer,
        packet: Vec<u8>,
    }
    let mut calls: Vec<Call> = (0..args.calls)
        .map(|_| Call {
            receiver: RtpReceiver::new(pcmu_map()),
            playout: PlayoutBuffer::new(PlayoutConfig::default()),
            packet: template.clone(),
        })
        .collect();
    let start = Instant::now();
    let ((), cpu) = cpu(|| {
        for t in 0..args.ticks() {
            let now = start + TICK * t;
            for call in &mut calls {
                // What the kernel hands over: the next packet of the stream.
                if let Some(header) = call.packet.get_mut(2..8) {
                    header[..2].copy_from_slice(&(t as u16).to_be_bytes());
                    header[2..].copy_from_slice(&(t * 160).to_be_bytes());
                }
                if let Ok(Received::Audio(audio)) = call.receiver.receive(&call.packet) {
                    call.playout.push(now, &audio);
                }
                if let Frame::Audio(samples) = call.playout.pop_frame(now) {
                    black_box(samples.first());
                }
            }
        }
    });
    assert!(calls.iter().all(|c| c.playout.stats().played > 0));
    Rate {
        packets: args.calls as u64 * u64::from(args.ticks()),
        cpu,
    }
}

fn rtp_send(args: &Args) -> Rate {
    let frame = tone();
    let mut senders: Vec<RtpSender> = (0..args.calls)
        .map(|i| {
            RtpSender::new(SenderConfig::new(Law::Ulaw, StreamIds::from_seed(i as u64)))
                .expect("sender")
        })
        .collect();
    let (packets, cpu) = cpu(|| {
        let mut packets = 0u64;
        for _ in 0..args.ticks() {
            for sender in &mut senders {
                sender.push_audio(&frame);
                while let Some(datagram) = sender.poll_transmit() {
                    black_box(datagram.len());
                    packets += 1;
                }
            }
        }
        packets
    });
    Rate { packets, cpu }
}

fn udptl_send_receive(args: &Args) -> Rate {
    let ifp = data_ifp();
    let mut calls: Vec<(UdptlSender, UdptlReceiver)> = (0..args.calls)
        .map(|_| {
            (
                UdptlSender::new(UdptlConfig::default()),
                UdptlReceiver::new(ReceiverConfig::default()),
            )
        })
        .collect();
    let start = Instant::now();
    let (packets, cpu) = cpu(|| {
        let mut packets = 0u64;
        for t in 0..args.ticks() {
            let now = start + TICK * t;
            for (sender, receiver) in &mut calls {
                let _ = sender.send_ifp(&ifp, 1);
                while let Some(datagram) = sender.poll_transmit() {
                    let _ = receiver.handle_datagram(now, &datagram);
                    packets += 1;
                }
                while let Some((_, ifp)) = receiver.poll_ifp() {
                    black_box(ifp.len());
                }
            }
        }
        packets
    });
    Rate { packets, cpu }
}

// ---------------------------------------------------------------------------------------
// Through sockets

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Binds `n` socket pairs, each pair sending to each other.
fn socket_pairs(n: usize, filter: StreamFilter) -> Vec<(MediaSocket, MediaSocket)> {
    let pool = PortPool::new(40000..=49999).expect("pool");
    let config = SocketConfig {
        local_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ..SocketConfig::default()
    };
    let placeholder = "127.0.0.1:9".parse().expect("address");
    (0..n)
        .map(|_| {
            let mut b = MediaSocket::bind(&pool, &config, filter, placeholder).expect("bind");
            let a = MediaSocket::bind(&pool, &config, filter, b.local_addr()).expect("bind");
            b.relatch(a.local_addr());
            (a, b)
        })
        .collect()
}

fn rtp_over_sockets(args: &Args) -> Rate {
    let rt = runtime();
    rt.block_on(async {
        let frame = tone();
        let mut calls: Vec<(RtpStream, RtpStream)> =
            socket_pairs(args.socket_calls, StreamFilter::rtp_types(&[0]))
                .into_iter()
                .enumerate()
                .map(|(i, (a, b))| {
                    let stream = |s, seed| {
                        let ids = StreamIds::from_seed(seed);
                        let sender = RtpSender::new(SenderConfig::new(Law::Ulaw, ids));
                        RtpStream::new(
                            s,
                            sender.expect("sender"),
                            RtpReceiver::new(pcmu_map()),
                            PlayoutBuffer::new(PlayoutConfig::default()),
                        )
                    };
                    (stream(a, 2 * i as u64), stream(b, 2 * i as u64 + 1))
                })
                .collect();
        let start = Instant::now();
        let before = thread_cpu();
        let mut packets = 0u64;
        for t in 0..args.ticks() {
            let now = start + TICK * t;
            for (a, _) in &mut calls {
                packets += a.send_audio(&frame).expect("send") as u64;
            }
            for (_, b) in &mut calls {
                let mut got = b.drain(now).expect("receive");
                while got == 0 {
                    b.readable().await.expect("readable");
                    got = b.drain(now).expect("receive");
                }
                if let Frame::Audio(samples) = b.pop_frame(now) {
                    black_box(samples.first());
                }
            }
        }
        Rate {
            packets,
            cpu: thread_cpu().saturating_sub(before),
        }
    })
}

fn udptl_over_sockets(args: &Args) -> Rate {
    let rt = runtime();
    rt.block_on(async {
        let ifp = data_ifp();
        let mut calls: Vec<(UdptlStream, UdptlStream)> =
            socket_pairs(args.socket_calls, StreamFilter::udptl())
                .into_iter()
                .map(|(a, b)| {
                    let stream = |s| {
                        UdptlStream::new(
                            s,
                            UdptlSender::new(UdptlConfig::default()),
                            UdptlReceiver::new(ReceiverConfig::default()),
                        )
                    };
                    (stream(a), stream(b))
                })
                .collect();
        let start = Instant::now();
        let before = thread_cpu();
        let mut packets = 0u64;
        for t in 0..args.ticks() {
            let now = start + TICK * t;
            for (a, _) in &mut calls {
                let _ = a.queue_ifp(&ifp, 1);
                packets += a.flush().expect("send") as u64;
            }
            for (_, b) in &mut calls {
                let mut got = b.drain(now).expect("receive");
                while got == 0 {
                    b.readable().await.expect("readable");
                    got = b.drain(now).expect("receive");
                }
                while let Some((_, ifp)) = b.poll_ifp() {
                    black_box(ifp.len());
                }
            }
        }
        Rate {
            packets,
            cpu: thread_cpu().saturating_sub(before),
        }
    })
}

// ---------------------------------------------------------------------------------------
// SpanDSP, recorded and replayed

fn document() -> PathBuf {
    test_support::fax_image("asterisk-testsuite_send.tiff")
}

fn t30(ident: &str) -> T30Config {
    T30Config {
        local_ident: ident.into(),
        ecm: false,
        ..T30Config::default()
    }
}

/// Records, per tick, the audio an answering `FaxTerminal` hears in a V.17 call.
fn record_audio(dir: &Path) -> Vec<[i16; FRAME_SAMPLES]> {
    let send = Direction::Send {
        tiff: document(),
        first_page: 1,
    };
    let rx = Direction::Receive {
        tiff: dir.join("live-audio.tif"),
    };
    let mut a = FaxTerminal::new(Role::Calling, send, &t30("1")).expect("sender");
    let mut b = FaxTerminal::new(Role::Answering, rx, &t30("2")).expect("receiver");
    let (mut fa, mut fb) = ([0i16; FRAME_SAMPLES], [0i16; FRAME_SAMPLES]);
    let mut heard = Vec::new();
    while !(a.is_finished() && b.is_finished()) && heard.len() < 15 * 60 * 50 {
        a.tx(&mut fa);
        b.tx(&mut fb);
        a.rx(&fb);
        b.rx(&fa);
        heard.push(fa);
        while a.poll_event().is_some() || b.poll_event().is_some() {}
    }
    assert!(
        b.result().is_some_and(|r| r.is_ok()),
        "recorded call succeeded"
    );
    heard
}

/// Records, per tick, the IFPs an answering `T38Terminal` receives.
fn record_t38(dir: &Path) -> Vec<Vec<(u16, Vec<u8>)>> {
    let t38 = T38Config::default();
    let send = Direction::Send {
        tiff: document(),
        first_page: 1,
    };
    let rx = Direction::Receive {
        tiff: dir.join("live-t38.tif"),
    };
    let mut a = T38Terminal::new(Role::Calling, send, &t30("1"), &t38).expect("sender");
    let mut b = T38Terminal::new(Role::Answering, rx, &t30("2"), &t38).expect("receiver");
    let (mut seq_a, mut seq_b) = (0u16, 0u16);
    let mut heard = Vec::new();
    while !(a.is_finished() && b.is_finished()) && heard.len() < 15 * 60 * 50 {
        a.advance(TICK_SAMPLES);
        b.advance(TICK_SAMPLES);
        let mut tick = Vec::new();
        while let Some(ifp) = a.poll_ifp() {
            let _ = b.rx_ifp(&ifp.data, seq_a);
            tick.push((seq_a, ifp.data));
            seq_a = seq_a.wrapping_add(1);
        }
        while let Some(ifp) = b.poll_ifp() {
            let _ = a.rx_ifp(&ifp.data, seq_b);
            seq_b = seq_b.wrapping_add(1);
        }
        heard.push(tick);
        while a.poll_event().is_some() || b.poll_event().is_some() {}
    }
    assert!(
        b.result().is_some_and(|r| r.is_ok()),
        "recorded call succeeded"
    );
    heard
}

/// Channels per core for `n` receivers replaying `ticks` ticks with `step`.
fn replay<T>(
    n: usize,
    ticks: usize,
    make: impl Fn(usize) -> T,
    step: impl Fn(&mut T, usize),
) -> f64 {
    let mut parties: Vec<T> = (0..n).map(make).collect();
    let ((), cpu) = cpu(|| {
        for t in 0..ticks {
            for p in &mut parties {
                step(p, t);
            }
        }
    });
    let media = n as f64 * ticks as f64 * TICK.as_secs_f64();
    media / cpu.as_secs_f64().max(1e-9)
}

fn spandsp_audio_receive(n: usize, dir: &Path) -> f64 {
    let heard = record_audio(dir);
    replay(
        n,
        heard.len(),
        |i| {
            let rx = Direction::Receive {
                tiff: dir.join(format!("audio-{i}.tif")),
            };
            (
                FaxTerminal::new(Role::Answering, rx, &t30("2")).expect("receiver"),
                [0i16; FRAME_SAMPLES],
            )
        },
        |(terminal, out), t| {
            terminal.tx(out);
            if let Some(frame) = heard.get(t) {
                terminal.rx(frame);
            }
            while terminal.poll_event().is_some() {}
        },
    )
}

fn spandsp_t38_receive(n: usize, dir: &Path) -> f64 {
    let heard = record_t38(dir);
    replay(
        n,
        heard.len(),
        |i| {
            let rx = Direction::Receive {
                tiff: dir.join(format!("t38-{i}.tif")),
            };
            T38Terminal::new(Role::Answering, rx, &t30("2"), &T38Config::default())
                .expect("receiver")
        },
        |terminal, t| {
            terminal.advance(TICK_SAMPLES);
            for (seq, ifp) in heard.get(t).into_iter().flatten() {
                let _ = terminal.rx_ifp(ifp, *seq);
            }
            while terminal.poll_ifp().is_some() || terminal.poll_event().is_some() {}
        },
    )
}

fn main() {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("media-pps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    println!(
        "media cores: {} calls stepped in turn, {} s of media each, 50 packets/s per call",
        args.calls, args.seconds
    );
    let rx = rtp_receive(&args);
    rx.print("G.711 RTP receive (decode + playout)");
    let tx = rtp_send(&args);
    tx.print("G.711 RTP send (encode + packetise)");
    let t38 = udptl_send_receive(&args);
    t38.print("UDPTL send + receive, redundancy 3");
    let audio_calls = both(&rx, &tx);
    println!(
        "  {:<48} {audio_calls:>53.0} calls/core",
        "G.711 call (receive + send)"
    );

    println!(
        "through media::socket on loopback UDP: {} calls, {} s of media each",
        args.socket_calls, args.seconds
    );
    let rtp_sock = rtp_over_sockets(&args);
    rtp_sock.print("G.711 RtpStream send + receive");
    let udptl_sock = udptl_over_sockets(&args);
    udptl_sock.print("UDPTL UdptlStream send + receive, redundancy 3");

    println!(
        "SpanDSP, same run (record and replay, {} receivers stepped in turn, V.17, ECM off):",
        args.spandsp_calls
    );
    let spandsp_audio = spandsp_audio_receive(args.spandsp_calls, &dir);
    println!(
        "  {:<48} {spandsp_audio:>53.0} channels/core",
        "FaxTerminal receive"
    );
    let spandsp_t38 = spandsp_t38_receive(args.spandsp_calls, &dir);
    println!(
        "  {:<48} {spandsp_t38:>53.0} channels/core",
        "T38Terminal receive"
    );

    println!("ratios (media calls/core ÷ SpanDSP channels/core; higher = media cheaper):");
    let line = |name: &str, media: f64, spandsp: f64| {
        let total = 1.0 / (1.0 / media + 1.0 / spandsp);
        println!(
            "  {name:<48} {:>8.1}x   media share of per-call CPU {:>5.1} %   both: {total:>6.0} calls/core",
            media / spandsp,
            100.0 * spandsp / (media + spandsp),
        );
    };
    line(
        "G.711 cores vs FaxTerminal receive",
        audio_calls,
        spandsp_audio,
    );
    line(
        "G.711 over sockets vs FaxTerminal receive",
        rtp_sock.calls(),
        spandsp_audio,
    );
    line(
        "UDPTL cores vs T38Terminal receive",
        t38.calls(),
        spandsp_t38,
    );
    line(
        "UDPTL over sockets vs T38Terminal receive",
        udptl_sock.calls(),
        spandsp_t38,
    );
    let _ = std::fs::remove_dir_all(&dir);
}
