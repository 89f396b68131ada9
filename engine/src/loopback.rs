//! Two fax parties joined in memory, with no sockets: the reference harness for tests, the
//! `selftest` command and benchmarks.
//!
//! Each side speaks audio (G.711 through a codec round trip, 20 ms frames) or T.38 (IFP
//! packets handed over in order). When one side is audio and the other T.38, a SpanDSP T.38
//! gateway sits between them, as it would in a bridged call. Time is simulated: one loop
//! iteration is one 20 ms tick, so a call runs as fast as the CPU allows.

use std::path::PathBuf;

use spandsp::g711::Law;
use spandsp::{
    Direction, FaxEvent, FaxResult, FaxTerminal, GatewayConfig, GatewayResult, PageResult, Role,
    T30Config, T38Config, T38Gateway, T38Terminal, TICK_SAMPLES,
};

/// How one party is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// G.711 audio with the given law.
    Audio(Law),
    /// T.38 IFP packets.
    T38,
}

impl Media {
    /// A short label, e.g. "G.711 A-law" or "T.38".
    pub fn label(self) -> &'static str {
        match self {
            Media::Audio(Law::Alaw) => "G.711 A-law",
            Media::Audio(Law::Ulaw) => "G.711 µ-law",
            Media::T38 => "T.38",
        }
    }
}

/// What to run: who sends, how each side is connected, and the fax settings.
#[derive(Debug, Clone)]
pub struct LoopbackSpec {
    /// The calling party's media; it sends `send_tiff`.
    pub sender: Media,
    /// The answering party's media; it receives into `receive_tiff`.
    pub receiver: Media,
    /// T.30 settings of the sender (ident, header, ECM, modems).
    pub sender_t30: T30Config,
    /// T.30 settings of the receiver.
    pub receiver_t30: T30Config,
    /// T.38 settings shared by every T.38 object in the path.
    pub t38: T38Config,
    /// Document to send.
    pub send_tiff: PathBuf,
    /// Where the received document is written.
    pub receive_tiff: PathBuf,
    /// Give up (terminating both parties) after this much simulated time.
    pub max_seconds: u32,
    /// Hang up the receiver after this many simulated seconds, as if it went away mid-call.
    pub receiver_hangup_after: Option<f64>,
}

impl LoopbackSpec {
    /// A spec with default T.30 settings (ECM on, all modems) and a 20-minute limit.
    pub fn new(sender: Media, receiver: Media, send_tiff: PathBuf, receive_tiff: PathBuf) -> Self {
        LoopbackSpec {
            sender,
            receiver,
            sender_t30: T30Config {
                local_ident: "+1 555 0100".into(),
                ..T30Config::default()
            },
            receiver_t30: T30Config {
                local_ident: "+1 555 0199".into(),
                ..T30Config::default()
            },
            t38: T38Config::default(),
            send_tiff,
            receive_tiff,
            max_seconds: 1200,
            receiver_hangup_after: None,
        }
    }
}

/// What happened, seen from both ends (and the gateway, when there was one).
#[derive(Debug, Clone)]
pub struct LoopbackOutcome {
    /// The sender's final result.
    pub sender: FaxResult,
    /// The receiver's final result.
    pub receiver: FaxResult,
    /// Per-page results reported by the sender.
    pub sender_pages: Vec<PageResult>,
    /// Per-page results reported by the receiver.
    pub receiver_pages: Vec<PageResult>,
    /// What the gateway observed, when the path had one.
    pub gateway: Option<GatewayResult>,
    /// Simulated seconds until both parties had finished.
    pub simulated_seconds: f64,
    /// IFP packets that crossed the T.38 part of the path, both directions.
    pub ifp_packets: u64,
}

/// Why a loopback could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    /// A party or the gateway could not be created (bad TIFF, bad config, …).
    #[error(transparent)]
    Fax(#[from] spandsp::Error),
    /// A party never reported a final result (a SpanDSP bug if it happens).
    #[error("the {0} never reported a result")]
    NoResult(&'static str),
}

/// One end of the loopback.
enum Party {
    Audio(Box<FaxTerminal>),
    T38(Box<T38Terminal>),
}

impl Party {
    fn new(
        media: Media,
        role: Role,
        direction: Direction,
        t30: &T30Config,
        t38: &T38Config,
    ) -> Result<Party, spandsp::Error> {
        Ok(match media {
            Media::Audio(_) => Party::Audio(Box::new(FaxTerminal::new(role, direction, t30)?)),
            Media::T38 => Party::T38(Box::new(T38Terminal::new(role, direction, t30, t38)?)),
        })
    }

    fn poll_event(&mut self) -> Option<FaxEvent> {
        match self {
            Party::Audio(t) => t.poll_event(),
            Party::T38(t) => t.poll_event(),
        }
    }

    fn result(&self) -> Option<&FaxResult> {
        match self {
            Party::Audio(t) => t.result(),
            Party::T38(t) => t.result(),
        }
    }

    fn terminate(&mut self) {
        match self {
            Party::Audio(t) => t.terminate(),
            Party::T38(t) => t.terminate(),
        }
    }
}

/// Where a party's output goes, by media on each side.
enum Path {
    /// Audio ↔ audio through the codec.
    Audio(Law),
    /// T.38 ↔ T.38.
    Ifp,
    /// Audio ↔ gateway ↔ T.38, in whichever direction the parties' media say.
    Gateway { law: Law, gateway: Box<T38Gateway> },
}

/// Per-direction IFP sequence numbers (UDPTL numbers each packet once).
#[derive(Default)]
struct Seqs {
    to_receiver: u16,
    to_sender: u16,
}

/// Runs one fax from sender to receiver to the end and reports both results.
pub fn run(spec: &LoopbackSpec) -> Result<LoopbackOutcome, LoopbackError> {
    let mut sender = Party::new(
        spec.sender,
        Role::Calling,
        Direction::Send {
            tiff: spec.send_tiff.clone(),
            first_page: 1,
        },
        &spec.sender_t30,
        &spec.t38,
    )?;
    let mut receiver = Party::new(
        spec.receiver,
        Role::Answering,
        Direction::Receive {
            tiff: spec.receive_tiff.clone(),
        },
        &spec.receiver_t30,
        &spec.t38,
    )?;
    let mut path = match (spec.sender, spec.receiver) {
        (Media::Audio(law), Media::Audio(_)) => Path::Audio(law),
        (Media::T38, Media::T38) => Path::Ifp,
        (Media::Audio(law), Media::T38) | (Media::T38, Media::Audio(law)) => {
            let config = GatewayConfig {
                ecm: spec.sender_t30.ecm || spec.receiver_t30.ecm,
                t38: spec.t38,
                log_tag: "gateway".into(),
                log_level: spec.sender_t30.log_level,
                ..GatewayConfig::default()
            };
            Path::Gateway {
                law,
                gateway: Box::new(T38Gateway::new(&config)?),
            }
        }
    };

    let max_ticks = u64::from(spec.max_seconds) * 50;
    let hangup_tick = spec.receiver_hangup_after.map(|s| (s * 50.0) as u64);
    let mut seqs = Seqs::default();
    let mut ifp_packets = 0u64;
    let mut sender_pages = Vec::new();
    let mut receiver_pages = Vec::new();
    let mut receiver_gone = false;
    let mut tick = 0u64;
    let mut a_out = [0i16; TICK_SAMPLES];
    let mut b_out = [0i16; TICK_SAMPLES];

    while sender.result().is_none() || receiver.result().is_none() {
        if tick >= max_ticks {
            sender.terminate();
            receiver.terminate();
            break;
        }
        if !receiver_gone && hangup_tick.is_some_and(|t| tick >= t) {
            receiver.terminate();
            receiver_gone = true;
        }
        step(
            &mut sender,
            &mut receiver,
            receiver_gone,
            &mut path,
            &mut seqs,
            &mut ifp_packets,
            &mut a_out,
            &mut b_out,
        );
        drain(&mut sender, &mut sender_pages);
        drain(&mut receiver, &mut receiver_pages);
        tick += 1;
    }
    drain(&mut sender, &mut sender_pages);
    drain(&mut receiver, &mut receiver_pages);
    let gateway = match &path {
        Path::Gateway { gateway, .. } => Some(gateway.result()),
        _ => None,
    };
    Ok(LoopbackOutcome {
        sender: sender
            .result()
            .cloned()
            .ok_or(LoopbackError::NoResult("sender"))?,
        receiver: receiver
            .result()
            .cloned()
            .ok_or(LoopbackError::NoResult("receiver"))?,
        sender_pages,
        receiver_pages,
        gateway,
        simulated_seconds: tick as f64 / 50.0,
        ifp_packets,
    })
}

fn drain(party: &mut Party, pages: &mut Vec<PageResult>) {
    while let Some(event) = party.poll_event() {
        if let FaxEvent::Page(page) = event {
            pages.push(page);
        }
    }
}

/// One 20 ms tick of both parties and the path between them. A receiver that has hung up
/// is no longer stepped: the sender then hears silence (audio) or nothing (T.38).
#[allow(clippy::too_many_arguments)]
fn step(
    sender: &mut Party,
    receiver: &mut Party,
    receiver_gone: bool,
    path: &mut Path,
    seqs: &mut Seqs,
    ifp_packets: &mut u64,
    a_out: &mut [i16; TICK_SAMPLES],
    b_out: &mut [i16; TICK_SAMPLES],
) {
    match (sender, receiver, path) {
        (Party::Audio(a), Party::Audio(b), Path::Audio(law)) => {
            a.tx(a_out);
            law.round_trip(a_out);
            if receiver_gone {
                b_out.fill(0);
            } else {
                b.tx(b_out);
                law.round_trip(b_out);
                b.rx(a_out);
            }
            a.rx(b_out);
        }
        (Party::T38(a), Party::T38(b), Path::Ifp) => {
            a.advance(TICK_SAMPLES);
            if !receiver_gone {
                b.advance(TICK_SAMPLES);
            }
            while let Some(ifp) = a.poll_ifp() {
                *ifp_packets += 1;
                if !receiver_gone {
                    let _ = b.rx_ifp(&ifp.data, seqs.to_receiver);
                }
                seqs.to_receiver = seqs.to_receiver.wrapping_add(1);
            }
            while let Some(ifp) = b.poll_ifp() {
                *ifp_packets += 1;
                if !receiver_gone {
                    let _ = a.rx_ifp(&ifp.data, seqs.to_sender);
                }
                seqs.to_sender = seqs.to_sender.wrapping_add(1);
            }
        }
        (Party::Audio(a), Party::T38(b), Path::Gateway { law, gateway, .. }) => {
            // audio sender → gateway → T.38 receiver
            a.tx(a_out);
            law.round_trip(a_out);
            gateway.rx_audio(a_out);
            gateway.tx_audio(b_out);
            law.round_trip(b_out);
            a.rx(b_out);
            if !receiver_gone {
                b.advance(TICK_SAMPLES);
            }
            exchange_ifps(
                gateway,
                b,
                receiver_gone,
                &mut seqs.to_receiver,
                &mut seqs.to_sender,
                ifp_packets,
            );
        }
        (Party::T38(a), Party::Audio(b), Path::Gateway { law, gateway, .. }) => {
            // T.38 sender → gateway → audio receiver
            a.advance(TICK_SAMPLES);
            if receiver_gone {
                b_out.fill(0);
            } else {
                b.tx(b_out);
                law.round_trip(b_out);
            }
            gateway.rx_audio(b_out);
            gateway.tx_audio(a_out);
            law.round_trip(a_out);
            if !receiver_gone {
                b.rx(a_out);
            }
            exchange_ifps(
                gateway,
                a,
                false,
                &mut seqs.to_sender,
                &mut seqs.to_receiver,
                ifp_packets,
            );
        }
        _ => unreachable!("the path is built from the parties' media"),
    }
}

/// Moves IFPs both ways between a gateway and a T.38 terminal.
fn exchange_ifps(
    gateway: &mut T38Gateway,
    terminal: &mut T38Terminal,
    terminal_gone: bool,
    seq_to_terminal: &mut u16,
    seq_to_gateway: &mut u16,
    ifp_packets: &mut u64,
) {
    while let Some(ifp) = gateway.poll_ifp() {
        *ifp_packets += 1;
        if !terminal_gone {
            let _ = terminal.rx_ifp(&ifp.data, *seq_to_terminal);
        }
        *seq_to_terminal = seq_to_terminal.wrapping_add(1);
    }
    while let Some(ifp) = terminal.poll_ifp() {
        *ifp_packets += 1;
        let _ = gateway.rx_ifp(&ifp.data, *seq_to_gateway);
        *seq_to_gateway = seq_to_gateway.wrapping_add(1);
    }
}
