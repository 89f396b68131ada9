//! The two ends of a call on real sockets: SpanDSP terminals, `media::socket` shells, a
//! media clock that runs fast or in real time, and the documents sent.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use engine::documents::{images_to_fax_tiff, read_tiff_pages, write_fax_tiff, ConvertOptions};
use media::g711::Law;
use media::playout::{Frame, PlayoutBuffer, PlayoutConfig, FRAME_SAMPLES};
use media::ports::PortPool;
use media::rtp::{PayloadMap, RtpReceiver, RtpSender, SenderConfig, StreamIds};
use media::socket::{MediaSocket, RtpStream, SocketConfig, StreamFilter, UdptlStream};
use media::udptl::{
    ErrorCorrection, ReceiverConfig, SenderConfig as UdptlSenderConfig, UdptlReceiver, UdptlSender,
};
use spandsp::{
    CompletionCode, Direction, FaxEvent, FaxResult, FaxTerminal, Role, T30Config, T38Config,
    T38Terminal, TICK_SAMPLES,
};
use test_support::fax_image;
use tokio::time::timeout;

use super::capture::Capture;
use super::common::assert_same_pixels;
use super::{GUARD, LOCALHOST, RECEIVER_IDENT, SENDER_IDENT};

/// One media tick: 20 ms, 160 samples at 8 kHz.
pub const TICK: Duration = Duration::from_millis(20);
/// A call that has not ended after this much media time has failed.
const MAX_TICKS: u64 = 10 * 60 * 50;
/// How long one side lives on after the other has finished, like a BYE in flight.
const HANGUP_TICKS: u64 = 50;

/// ITU charts 1 and 2 as one TIFF-F, converted once per test run.
pub fn two_page_document() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| {
        let images: Vec<Vec<u8>> = (1..=2)
            .map(|i| std::fs::read(fax_image(&format!("spandsp_itu{i}.pbm"))).expect("chart"))
            .collect();
        let inputs: Vec<&[u8]> = images.iter().map(Vec::as_slice).collect();
        let doc = images_to_fax_tiff(&inputs, &ConvertOptions::default()).expect("convert");
        assert_eq!(doc.pages, 2);
        doc.tiff
    })
}

/// The top 200 rows of the first chart: a short page for the real-time test.
pub fn short_page_document() -> Vec<u8> {
    let mut pages = read_tiff_pages(two_page_document()).expect("decode");
    let mut page = pages.swap_remove(0);
    let rows = 200;
    page.bitmap.data.truncate(page.bitmap.stride() * rows);
    page.bitmap.height = rows as u32;
    write_fax_tiff(&[page]).expect("write")
}

pub fn assert_complete(
    sender: &FaxResult,
    receiver: &FaxResult,
    pages: u32,
    send: &Path,
    rx: &Path,
) {
    for (who, result) in [("sender", sender), ("receiver", receiver)] {
        assert_eq!(result.code, CompletionCode::OK, "{who}: {}", result.code);
        assert_eq!(result.stats.pages_transferred, pages, "{who} pages");
        assert!(
            !result.stats.ecm,
            "{who}: ECM off, so the T.30 frames are MPS/EOP"
        );
    }
    assert_eq!(sender.remote_ident, RECEIVER_IDENT);
    assert_eq!(receiver.remote_ident, SENDER_IDENT);
    assert_same_pixels(send, rx);
}

fn t30(ident: &str) -> T30Config {
    T30Config {
        local_ident: ident.into(),
        ecm: false,
        ..T30Config::default()
    }
}

/// Binds two sockets of the pool that send to each other (as after the SDP answer).
fn socket_pair(pool: &PortPool, filter: StreamFilter) -> (MediaSocket, MediaSocket) {
    let config = SocketConfig {
        local_ip: LOCALHOST,
        ..SocketConfig::default()
    };
    let discard = SocketAddr::new(LOCALHOST, 9);
    let mut b = MediaSocket::bind(pool, &config, filter, discard).expect("bind B");
    let a = MediaSocket::bind(pool, &config, filter, b.local_addr()).expect("bind A");
    b.relatch(a.local_addr());
    (a, b)
}

/// How the media clock runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pace {
    /// As fast as the two ends can go: each tick waits only for its packets to arrive.
    Fast,
    /// One tick every 20 ms of wall-clock time.
    RealTime,
}

/// The media clock: simulated ticks, or real time.
struct Clock {
    pace: Pace,
    start: Instant,
    ticks: u64,
    interval: tokio::time::Interval,
}

impl Clock {
    fn new(pace: Pace) -> Clock {
        Clock {
            pace,
            start: Instant::now(),
            ticks: 0,
            interval: tokio::time::interval(TICK),
        }
    }

    /// Waits for the next tick (real time only) and returns the media time of it.
    async fn tick(&mut self) -> Instant {
        self.ticks += 1;
        match self.pace {
            Pace::Fast => self.start + TICK * self.ticks as u32,
            Pace::RealTime => {
                self.interval.tick().await;
                Instant::now()
            }
        }
    }
}

struct T38Side {
    terminal: T38Terminal,
    stream: UdptlStream,
    refused: u64,
}

impl T38Side {
    fn new(role: Role, direction: Direction, ident: &str, t38: &T38Config, s: MediaSocket) -> Self {
        let sender = UdptlSender::new(UdptlSenderConfig {
            error_correction: ErrorCorrection::Redundancy { depth: 3 },
            max_datagram: t38.max_datagram as usize,
            first_seq: 0,
        });
        let receiver = UdptlReceiver::new(ReceiverConfig {
            t38_version: t38.version,
            ..ReceiverConfig::default()
        });
        T38Side {
            terminal: T38Terminal::new(role, direction, &t30(ident), t38).expect("terminal"),
            stream: UdptlStream::new(s, sender, receiver),
            refused: 0,
        }
    }

    fn send(&mut self) {
        while let Some(ifp) = self.terminal.poll_ifp() {
            self.stream
                .queue_ifp(&ifp.data, ifp.repeats)
                .expect("SpanDSP never emits an empty IFP");
        }
        self.stream.flush().expect("send");
    }

    fn sent(&self) -> u64 {
        self.stream.socket().stats().sent
    }

    /// Takes datagrams until `expected` have arrived in all, then feeds SpanDSP.
    async fn receive(&mut self, expected: u64, now: Instant) {
        loop {
            self.stream.drain(now).expect("receive");
            if self.stream.socket().stats().received >= expected {
                break;
            }
            timeout(GUARD, self.stream.readable())
                .await
                .expect("the peer's datagrams arrive")
                .expect("readable");
        }
        self.stream.handle_timeout(now);
        while let Some((seq, ifp)) = self.stream.poll_ifp() {
            if self.terminal.rx_ifp(ifp, seq).is_err() {
                self.refused += 1;
            }
        }
        while self.terminal.poll_event().is_some() {}
    }
}

pub struct CallOutcome {
    pub sender: FaxResult,
    pub receiver: FaxResult,
    /// Local ports of the sending and the receiving side.
    pub ports: (u16, u16),
    /// Datagrams sent by both sides.
    pub datagrams: u64,
    pub ticks: u64,
    pub wall: Duration,
}

pub async fn t38_call(
    version: u8,
    send: &Path,
    rx: &Path,
    pace: Pace,
    pool: &PortPool,
) -> CallOutcome {
    t38_call_captured(version, send, rx, pace, pool, None)
        .await
        .0
}

/// A T.38 call; with `capture`, tshark records the receiver's port from before the start.
pub async fn t38_call_captured(
    version: u8,
    send: &Path,
    rx: &Path,
    pace: Pace,
    pool: &PortPool,
    capture: Option<&Path>,
) -> (CallOutcome, Option<PathBuf>) {
    let t38 = T38Config {
        version,
        max_datagram: 400,
        ..T38Config::default()
    };
    let (sa, sb) = socket_pair(pool, StreamFilter::udptl());
    let ports = (sa.local_addr().port(), sb.local_addr().port());
    let tshark = capture.map(|dir| Capture::start(ports.1, dir));
    let send_dir = Direction::Send {
        tiff: send.into(),
        first_page: 1,
    };
    let rx_dir = Direction::Receive { tiff: rx.into() };
    let mut a = T38Side::new(Role::Calling, send_dir, SENDER_IDENT, &t38, sa);
    let mut b = T38Side::new(Role::Answering, rx_dir, RECEIVER_IDENT, &t38, sb);

    let mut clock = Clock::new(pace);
    a.stream.start().expect("prime");
    b.stream.start().expect("prime");
    let mut hangup: Option<u64> = None;
    while !(a.terminal.is_finished() && b.terminal.is_finished()) {
        assert!(
            clock.ticks < MAX_TICKS,
            "no result after 10 minutes of media"
        );
        if a.terminal.is_finished() || b.terminal.is_finished() {
            let at = *hangup.get_or_insert(clock.ticks + HANGUP_TICKS);
            if clock.ticks >= at {
                a.terminal.terminate();
                b.terminal.terminate();
            }
        }
        let now = clock.tick().await;
        a.terminal.advance(TICK_SAMPLES);
        b.terminal.advance(TICK_SAMPLES);
        a.send();
        b.send();
        let (to_b, to_a) = (a.sent(), b.sent());
        b.receive(to_b, now).await;
        a.receive(to_a, now).await;
    }
    assert_eq!(a.refused + b.refused, 0, "SpanDSP refused an IFP");
    for side in [&a, &b] {
        let rx = side.stream.receiver_stats();
        assert_eq!((rx.malformed, rx.lost), (0, 0), "{rx:?}");
        let sock = side.stream.socket().stats();
        assert_eq!((sock.unfit, sock.foreign, sock.send_dropped), (0, 0, 0));
    }
    let datagrams = a.sent() + b.sent();
    let file = tshark.map(|c| c.stop(datagrams as usize));
    let outcome = CallOutcome {
        sender: a.terminal.result().cloned().expect("sender result"),
        receiver: b.terminal.result().cloned().expect("receiver result"),
        ports,
        datagrams,
        ticks: clock.ticks,
        wall: clock.start.elapsed(),
    };
    (outcome, file)
}

struct AudioSide {
    terminal: FaxTerminal,
    stream: RtpStream,
    frame: [i16; FRAME_SAMPLES],
    result: Option<FaxResult>,
    pages: u32,
}

impl AudioSide {
    fn new(role: Role, direction: Direction, ident: &str, socket: MediaSocket, seed: u64) -> Self {
        let law = Law::Ulaw;
        let mut map = PayloadMap::new();
        map.insert_rtpmap(0, "PCMU", 8000).expect("map");
        let sender =
            RtpSender::new(SenderConfig::new(law, StreamIds::from_seed(seed))).expect("20 ms PCMU");
        AudioSide {
            terminal: FaxTerminal::new(role, direction, &t30(ident)).expect("terminal"),
            stream: RtpStream::new(
                socket,
                sender,
                RtpReceiver::new(map),
                PlayoutBuffer::new(PlayoutConfig::default()),
            ),
            frame: [0; FRAME_SAMPLES],
            result: None,
            pages: 0,
        }
    }

    fn send(&mut self) {
        self.terminal.tx(&mut self.frame);
        assert_eq!(self.stream.send_audio(&self.frame).expect("send"), 1);
    }

    fn sent(&self) -> u64 {
        self.stream.socket().stats().sent
    }

    async fn receive(&mut self, expected: u64, now: Instant) {
        loop {
            self.stream.drain(now).expect("receive");
            if self.stream.socket().stats().received >= expected {
                break;
            }
            timeout(GUARD, self.stream.readable())
                .await
                .expect("the peer's packets arrive")
                .expect("readable");
        }
        match self.stream.pop_frame(now) {
            Frame::Audio(samples) => self.terminal.rx(samples),
            Frame::Gap => self.terminal.rx_fillin(FRAME_SAMPLES),
        }
        while let Some(event) = self.terminal.poll_event() {
            match event {
                FaxEvent::Page(_) => self.pages += 1,
                FaxEvent::Finished(result) => self.result = Some(result),
                FaxEvent::Negotiated { .. } => {}
            }
        }
    }
}

pub async fn audio_call(
    send: &Path,
    rx: &Path,
    pace: Pace,
    pool: &PortPool,
    capture: Option<&Path>,
) -> (CallOutcome, Option<PathBuf>) {
    let (sa, sb) = socket_pair(pool, StreamFilter::rtp_types(&[0]));
    let ports = (sa.local_addr().port(), sb.local_addr().port());
    let tshark = capture.map(|dir| Capture::start(ports.1, dir));
    let send_dir = Direction::Send {
        tiff: send.into(),
        first_page: 1,
    };
    let rx_dir = Direction::Receive { tiff: rx.into() };
    let mut a = AudioSide::new(Role::Calling, send_dir, SENDER_IDENT, sa, 0xA);
    let mut b = AudioSide::new(Role::Answering, rx_dir, RECEIVER_IDENT, sb, 0xB);

    let mut clock = Clock::new(pace);
    a.stream.start().expect("prime");
    b.stream.start().expect("prime");
    let mut hangup: Option<u64> = None;
    while a.result.is_none() || b.result.is_none() {
        assert!(
            clock.ticks < MAX_TICKS,
            "no result after 10 minutes of media"
        );
        if a.result.is_some() || b.result.is_some() {
            // The first to finish hangs up 10 s later at most (SpanDSP can wait for ever
            // for a lost DCN); the BYE ends the other.
            let at = *hangup.get_or_insert(clock.ticks + 10 * HANGUP_TICKS);
            if clock.ticks >= at {
                a.terminal.terminate();
                b.terminal.terminate();
            }
        }
        let now = clock.tick().await;
        a.send();
        b.send();
        let (to_b, to_a) = (a.sent(), b.sent());
        b.receive(to_b, now).await;
        a.receive(to_a, now).await;
    }
    for side in [&a, &b] {
        let playout = side.stream.playout_stats();
        assert_eq!((playout.lost, playout.late, playout.duplicate), (0, 0, 0));
        let sock = side.stream.socket().stats();
        assert_eq!((sock.unfit, sock.foreign, sock.send_dropped), (0, 0, 0));
    }
    assert_eq!(
        b.pages,
        a.result.as_ref().map_or(0, |r| r.stats.pages_total)
    );
    let datagrams = a.sent() + b.sent();
    let file = tshark.map(|c| c.stop(datagrams as usize));
    let outcome = CallOutcome {
        sender: a.result.take().expect("sender result"),
        receiver: b.result.take().expect("receiver result"),
        ports,
        datagrams,
        ticks: clock.ticks,
        wall: clock.start.elapsed(),
    };
    (outcome, file)
}
