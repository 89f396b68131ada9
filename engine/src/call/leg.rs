//! The media leg of a call: one socket carrying G.711 or T.38, and the SpanDSP terminal that
//! speaks T.30 over it. Switching between the two keeps the port (the SDP of both is the
//! same), so a far end that latched on us keeps reaching us.

use std::net::SocketAddr;
use std::time::Instant;

use media::g711::Law;
use media::playout::{PlayoutBuffer, FRAME_SAMPLES};
use media::rtp::{PayloadMap, RtpReceiver, RtpSender, SenderConfig, StreamIds};
use media::rtp_event::ToneEvent;
use media::socket::{MediaSocket, RtpStream, SocketStats, UdptlStream};
use media::udptl::{ReceiverConfig, SenderConfig as UdptlSenderConfig, UdptlReceiver, UdptlSender};
use sip::sdp::{AudioSession, T38Session, G711};
use spandsp::{
    ConnectTone, Direction, FaxEvent, FaxResult, FaxTerminal, PageResult, Role, T30Config,
    T38Config, T38Terminal, ToneDetector, TICK_SAMPLES,
};

use super::config::MediaSettings;
use super::report::MediaCounters;
use super::CallError;

/// The SpanDSP side: an audio modem terminal or a T.38 terminal.
pub(crate) enum Terminal {
    Audio(Box<FaxTerminal>),
    T38(Box<T38Terminal>),
}

impl Terminal {
    pub(crate) fn poll_event(&mut self) -> Option<FaxEvent> {
        match self {
            Terminal::Audio(t) => t.poll_event(),
            Terminal::T38(t) => t.poll_event(),
        }
    }

    pub(crate) fn terminate(&mut self) {
        match self {
            Terminal::Audio(t) => t.terminate(),
            Terminal::T38(t) => t.terminate(),
        }
    }

    pub(crate) fn result(&self) -> Option<&FaxResult> {
        match self {
            Terminal::Audio(t) => t.result(),
            Terminal::T38(t) => t.result(),
        }
    }

    pub(crate) fn stats(&self) -> PageResult {
        match self {
            Terminal::Audio(t) => t.stats(),
            Terminal::T38(t) => t.stats(),
        }
    }
}

/// What travels on the socket now.
pub(crate) enum Stream {
    Audio(Box<RtpStream>),
    T38(Box<UdptlStream>),
}

/// Socket, stream and (once the call is up) terminal.
pub(crate) struct Leg {
    pub(crate) stream: Stream,
    pub(crate) terminal: Option<Terminal>,
    /// `audio/PCMU`, `t38/v0`, …
    pub(crate) media: String,
    /// Listens for CNG/CED/V.21 in received audio until the first one is heard.
    detector: Option<ToneDetector>,
}

fn law(codec: G711) -> Law {
    match codec {
        G711::Pcmu => Law::Ulaw,
        G711::Pcma => Law::Alaw,
    }
}

/// The report name of a T.38 stream.
pub(crate) fn t38_name(version: u8) -> String {
    format!("t38/v{version}")
}

/// The SDP name of a G.711 law.
pub(crate) fn audio_name(codec: G711) -> String {
    format!("audio/{}", codec.name())
}

impl Stream {
    /// A G.711 stream towards `session`, primed with one packet of silence.
    pub(crate) fn audio(
        mut socket: MediaSocket,
        session: &AudioSession,
        settings: &MediaSettings,
        seed: u64,
    ) -> Result<Stream, CallError> {
        let mut map = PayloadMap::static_defaults();
        map.insert_rtpmap(session.payload_type, session.codec.name(), 8000)
            .map_err(CallError::Media)?;
        if let Some(te) = session.telephone_event {
            map.insert_rtpmap(te, "telephone-event", 8000)
                .map_err(CallError::Media)?;
        }
        let mut sender_cfg = SenderConfig::new(law(session.codec), StreamIds::from_seed(seed));
        sender_cfg.payload_type = session.payload_type;
        sender_cfg.ptime_ms = session.ptime;
        let sender = RtpSender::new(sender_cfg).map_err(CallError::Media)?;
        if let Some(remote) = session.remote {
            socket.relatch(remote);
        }
        let mut stream = RtpStream::new(
            socket,
            sender,
            RtpReceiver::new(map),
            PlayoutBuffer::new(settings.playout),
        );
        stream.start().map_err(CallError::Io)?;
        Ok(Stream::Audio(Box::new(stream)))
    }

    /// A UDPTL stream towards `session`, primed with a no-signal indicator; also the T.38
    /// settings SpanDSP needs on this leg.
    pub(crate) fn t38(
        mut socket: MediaSocket,
        session: &T38Session,
        settings: &MediaSettings,
    ) -> Result<(Stream, T38Config), CallError> {
        let max_datagram = session.remote_max_datagram.unwrap_or(400).clamp(100, 1400) as usize;
        let sender = UdptlSender::new(UdptlSenderConfig {
            error_correction: settings.udptl.error_correction(session.udp_ec),
            max_datagram,
            first_seq: 0,
        });
        let receiver = UdptlReceiver::new(ReceiverConfig {
            t38_version: session.version,
            ..ReceiverConfig::default()
        });
        if let Some(remote) = session.remote {
            socket.relatch(remote);
        }
        let mut stream = UdptlStream::new(socket, sender, receiver);
        stream.start().map_err(CallError::Io)?;
        let t38 = T38Config {
            version: session.version,
            max_datagram: max_datagram as u32,
            fill_bit_removal: session.fill_bit_removal,
            ..T38Config::default()
        };
        Ok((Stream::T38(Box::new(stream)), t38))
    }

    /// Gives the socket back.
    pub(crate) fn into_socket(self) -> MediaSocket {
        match self {
            Stream::Audio(s) => s.into_socket(),
            Stream::T38(s) => s.into_socket(),
        }
    }

    /// The socket, for a readiness poll.
    pub(crate) fn socket_mut(&mut self) -> &mut MediaSocket {
        match self {
            Stream::Audio(s) => s.socket_mut(),
            Stream::T38(s) => s.socket_mut(),
        }
    }

    /// The socket's counters.
    pub(crate) fn socket_stats(&self) -> SocketStats {
        match self {
            Stream::Audio(s) => s.socket().stats(),
            Stream::T38(s) => s.socket().stats(),
        }
    }
}

impl Leg {
    /// An audio leg towards `session` (no terminal yet: early media sends silence).
    pub(crate) fn audio(
        socket: MediaSocket,
        session: &AudioSession,
        settings: &MediaSettings,
        seed: u64,
    ) -> Result<Leg, CallError> {
        Ok(Leg {
            stream: Stream::audio(socket, session, settings, seed)?,
            terminal: None,
            media: audio_name(session.codec),
            detector: None,
        })
    }

    /// A T.38 leg towards `session` with a T.38 terminal.
    pub(crate) fn t38(
        socket: MediaSocket,
        session: &T38Session,
        settings: &MediaSettings,
        fax: (Role, Direction, &T30Config),
    ) -> Result<Leg, CallError> {
        let (stream, t38) = Stream::t38(socket, session, settings)?;
        let (role, direction, t30) = fax;
        let terminal = T38Terminal::new(role, direction, t30, &t38).map_err(CallError::Fax)?;
        Ok(Leg {
            stream,
            terminal: Some(Terminal::T38(Box::new(terminal))),
            media: t38_name(session.version),
            detector: None,
        })
    }

    /// Starts T.30 on an audio leg.
    pub(crate) fn start_audio_terminal(
        &mut self,
        role: Role,
        direction: Direction,
        t30: &T30Config,
    ) -> Result<(), CallError> {
        let terminal = FaxTerminal::new(role, direction, t30).map_err(CallError::Fax)?;
        self.terminal = Some(Terminal::Audio(Box::new(terminal)));
        Ok(())
    }

    /// Listens for fax connect tones in the received audio (until the first is heard).
    pub(crate) fn detect_tones(&mut self) -> Result<(), CallError> {
        self.detector = Some(ToneDetector::new().map_err(CallError::Fax)?);
        Ok(())
    }

    /// Gives the socket back (the terminal is dropped first, closing its TIFF).
    pub(crate) fn into_socket(mut self) -> MediaSocket {
        self.terminal = None;
        self.stream.into_socket()
    }

    pub(crate) fn socket_stats(&self) -> SocketStats {
        self.stream.socket_stats()
    }

    /// Late, lost and recovered packets of this leg's stream so far.
    pub(crate) fn media_counters(&self) -> MediaCounters {
        match &self.stream {
            Stream::Audio(s) => {
                let p = s.playout_stats();
                MediaCounters {
                    rtp_late: p.late,
                    rtp_lost: p.lost,
                    ..MediaCounters::default()
                }
            }
            Stream::T38(s) => {
                let r = s.receiver_stats();
                MediaCounters {
                    udptl_late: r.late,
                    udptl_lost: r.lost,
                    udptl_recovered: r.recovered_redundancy + r.recovered_fec,
                    ..MediaCounters::default()
                }
            }
        }
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        match &self.stream {
            Stream::Audio(s) => s.socket().local_addr(),
            Stream::T38(s) => s.socket().local_addr(),
        }
    }

    pub(crate) fn is_t38(&self) -> bool {
        matches!(self.stream, Stream::T38(_))
    }

    /// One 20 ms tick at media time `now`: receive, feed T.30, send. Fax tones signalled by
    /// RFC 4733 events are pushed to `tones`.
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        tones: &mut Vec<ToneEvent>,
    ) -> Result<(), CallError> {
        match &mut self.stream {
            Stream::Audio(stream) => {
                stream.drain(now).map_err(CallError::Io)?;
                // Both frames live on the stack: at hundreds of calls a per-call buffer is
                // out of cache again by the call's next tick, and every line of it costs.
                let mut heard = [0i16; FRAME_SAMPLES];
                let real = stream.pop_frame_into(now, &mut heard);
                if let Some(d) = self.detector.as_mut().filter(|_| real) {
                    d.rx(&heard);
                    if let Some(tone) = d.poll() {
                        tones.push(match tone {
                            ConnectTone::Cng => ToneEvent::Cng,
                            ConnectTone::Ced => ToneEvent::Ans,
                            ConnectTone::V21Preamble => ToneEvent::V21Preamble,
                        });
                        self.detector = None;
                    }
                }
                if let Some(Terminal::Audio(t)) = &mut self.terminal {
                    if real {
                        t.rx(&heard);
                    } else {
                        t.rx_lost(FRAME_SAMPLES);
                    }
                }
                while let Some(tone) = stream.poll_tone() {
                    tones.push(tone);
                }
                let mut said = [0i16; FRAME_SAMPLES];
                if let Some(Terminal::Audio(t)) = &mut self.terminal {
                    t.tx(&mut said);
                }
                stream.send_audio(&said).map_err(CallError::Io)?;
            }
            Stream::T38(stream) => {
                stream.drain(now).map_err(CallError::Io)?;
                stream.handle_timeout(now);
                let Some(Terminal::T38(t)) = &mut self.terminal else {
                    return Ok(());
                };
                while let Some((seq, ifp)) = stream.poll_ifp() {
                    if let Err(e) = t.rx_ifp(ifp, seq) {
                        tracing::debug!("IFP {seq} refused: {e}");
                    }
                }
                t.advance(TICK_SAMPLES);
                while let Some(ifp) = t.poll_ifp() {
                    if let Err(e) = stream.queue_ifp(&ifp.data, ifp.repeats) {
                        tracing::debug!("IFP not sent: {e}");
                    }
                }
                stream.flush().map_err(CallError::Io)?;
            }
        }
        Ok(())
    }
}
