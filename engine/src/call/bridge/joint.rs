//! The media joint of a bridge: how the two legs' streams are connected on each 20 ms tick.
//!
//! - G.711 ↔ G.711: audio relayed frame by frame through each leg's playout buffer, so the
//!   far leg gets a steady 20 ms stream whatever the jitter of the near one.
//! - T.38 ↔ T.38 of one version: IFPs relayed in order; each leg's UDPTL sender re-frames
//!   them with that leg's redundancy or FEC and datagram size.
//! - T.38 ↔ G.711: SpanDSP's T.38 gateway demodulates one side and remodulates the other.
//! - T.38 ↔ T.38 of different versions: two gateways back to back over an internal audio
//!   path, since an IFP of one version is not valid in the other.

use media::playout::{Frame, FRAME_SAMPLES};
use spandsp::{
    GatewayConfig, GatewayEvent, GatewayResult, LogLevel, T38Config, T38Gateway, TICK_SAMPLES,
};

use crate::call::leg::Stream;
use crate::call::CallError;

/// How the legs are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joint {
    AudioRelay,
    T38Relay,
    /// Gateway; `audio_is_a` says which leg carries audio.
    Gateway {
        audio_is_a: bool,
    },
    DoubleGateway,
}

impl Joint {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Joint::AudioRelay => "audio relay",
            Joint::T38Relay => "T.38 relay",
            Joint::Gateway { .. } => "T.38 gateway",
            Joint::DoubleGateway => "T.38 gateway pair",
        }
    }
}

/// One leg's stream and the T.38 settings it negotiated.
pub(crate) struct BridgedStream {
    pub(crate) stream: Stream,
    pub(crate) t38: Option<T38Config>,
    last: [i16; FRAME_SAMPLES],
}

impl BridgedStream {
    pub(crate) fn new(stream: Stream, t38: Option<T38Config>) -> Self {
        BridgedStream {
            stream,
            t38,
            last: [0; FRAME_SAMPLES],
        }
    }

    /// The next 20 ms of received audio; a gap repeats the last frame (as `rx_lost` does
    /// for a terminal: modems survive a repeat far better than a hole).
    fn pop_audio(&mut self, now: std::time::Instant) -> Result<[i16; FRAME_SAMPLES], CallError> {
        let Stream::Audio(s) = &mut self.stream else {
            return Ok([0; FRAME_SAMPLES]);
        };
        s.drain(now).map_err(CallError::Io)?;
        if let Frame::Audio(samples) = s.pop_frame(now) {
            self.last.copy_from_slice(samples);
        }
        while s.poll_tone().is_some() {}
        Ok(self.last)
    }

    fn send_audio(&mut self, frame: &[i16]) -> Result<(), CallError> {
        if let Stream::Audio(s) = &mut self.stream {
            s.send_audio(frame).map_err(CallError::Io)?;
        }
        Ok(())
    }

    fn receive_ifps(&mut self, now: std::time::Instant, mut sink: impl FnMut(&[u8], u16)) {
        if let Stream::T38(s) = &mut self.stream {
            if let Err(e) = s.drain(now) {
                tracing::debug!("UDPTL receive: {e}");
            }
            s.handle_timeout(now);
            while let Some((seq, ifp)) = s.poll_ifp() {
                sink(ifp, seq);
            }
        }
    }

    fn send_ifp(&mut self, ifp: &[u8], repeats: u8) {
        if let Stream::T38(s) = &mut self.stream {
            if let Err(e) = s.queue_ifp(ifp, repeats) {
                tracing::debug!("IFP not relayed: {e}");
            }
        }
    }

    fn flush(&mut self) -> Result<(), CallError> {
        if let Stream::T38(s) = &mut self.stream {
            s.flush().map_err(CallError::Io)?;
        }
        Ok(())
    }
}

/// The gateways of a joint, and what they saw.
pub(crate) struct Gateways {
    first: Option<T38Gateway>,
    second: Option<T38Gateway>,
    /// Audio between the two gateways of a pair, one frame each way.
    between: ([i16; FRAME_SAMPLES], [i16; FRAME_SAMPLES]),
}

fn gateway(t38: &T38Config, tag: &str, log_level: LogLevel) -> Result<T38Gateway, CallError> {
    T38Gateway::new(&GatewayConfig {
        t38: *t38,
        log_tag: tag.to_owned(),
        protocol_log_level: Some(log_level),
        ..GatewayConfig::default()
    })
    .map_err(CallError::Fax)
}

impl Gateways {
    /// The gateways `joint` needs between `a` and `b`.
    pub(crate) fn for_joint(
        joint: Joint,
        a: &BridgedStream,
        b: &BridgedStream,
        tag: &str,
        log_level: LogLevel,
    ) -> Result<Gateways, CallError> {
        let (first, second) = match joint {
            Joint::AudioRelay | Joint::T38Relay => (None, None),
            Joint::Gateway { audio_is_a } => {
                let t38 = if audio_is_a { &b.t38 } else { &a.t38 };
                let t38 = t38.ok_or(CallError::Setup("T.38 leg without T.38 settings"))?;
                (Some(gateway(&t38, tag, log_level)?), None)
            }
            Joint::DoubleGateway => {
                let (ta, tb) = (
                    a.t38.ok_or(CallError::Setup("T.38 leg without settings"))?,
                    b.t38.ok_or(CallError::Setup("T.38 leg without settings"))?,
                );
                (
                    Some(gateway(&ta, tag, log_level)?),
                    Some(gateway(&tb, tag, log_level)?),
                )
            }
        };
        Ok(Gateways {
            first,
            second,
            between: ([0; FRAME_SAMPLES], [0; FRAME_SAMPLES]),
        })
    }

    /// Pages and rate as the gateways saw them in the T.30 frames (the most any saw).
    pub(crate) fn result(&self) -> Option<GatewayResult> {
        [&self.first, &self.second]
            .into_iter()
            .flatten()
            .map(T38Gateway::result)
            .max_by_key(|r| (r.pages, r.disconnected))
    }

    /// Events of the gateways (page confirmations, DCN).
    pub(crate) fn poll_event(&mut self) -> Option<GatewayEvent> {
        self.first
            .as_mut()
            .and_then(T38Gateway::poll_event)
            .or_else(|| self.second.as_mut().and_then(T38Gateway::poll_event))
    }
}

/// Runs one tick of `joint` between `a` and `b`.
pub(crate) fn tick(
    joint: Joint,
    now: std::time::Instant,
    a: &mut BridgedStream,
    b: &mut BridgedStream,
    gw: &mut Gateways,
) -> Result<(), CallError> {
    match joint {
        Joint::AudioRelay => {
            let from_a = a.pop_audio(now)?;
            let from_b = b.pop_audio(now)?;
            b.send_audio(&from_a)?;
            a.send_audio(&from_b)?;
        }
        Joint::T38Relay => {
            // Each leg's sender re-frames with its own redundancy or FEC; a relayed IFP goes
            // out once, its loss covered by that error correction.
            a.receive_ifps(now, |ifp, _| b.send_ifp(ifp, 1));
            b.receive_ifps(now, |ifp, _| a.send_ifp(ifp, 1));
            a.flush()?;
            b.flush()?;
        }
        Joint::Gateway { audio_is_a } => {
            let Some(g) = gw.first.as_mut() else {
                return Ok(());
            };
            let (audio, t38) = if audio_is_a { (a, b) } else { (b, a) };
            gateway_tick(g, now, audio, t38)?;
        }
        Joint::DoubleGateway => {
            let (Some(ga), Some(gb)) = (gw.first.as_mut(), gw.second.as_mut()) else {
                return Ok(());
            };
            // ga speaks T.38 with leg a and audio with gb; gb the same towards leg b.
            t38_side(ga, now, a);
            t38_side(gb, now, b);
            let (a_to_b, b_to_a) = &mut gw.between;
            ga.rx_audio(b_to_a);
            gb.rx_audio(a_to_b);
            a_to_b.fill(0);
            b_to_a.fill(0);
            ga.tx_audio(a_to_b);
            gb.tx_audio(b_to_a);
            flush_ifps(ga, a)?;
            flush_ifps(gb, b)?;
        }
    }
    Ok(())
}

fn gateway_tick(
    g: &mut T38Gateway,
    now: std::time::Instant,
    audio: &mut BridgedStream,
    t38: &mut BridgedStream,
) -> Result<(), CallError> {
    t38_side(g, now, t38);
    let frame = audio.pop_audio(now)?;
    g.rx_audio(&frame);
    let mut out = [0i16; TICK_SAMPLES];
    g.tx_audio(&mut out);
    audio.send_audio(&out)?;
    flush_ifps(g, t38)
}

fn t38_side(g: &mut T38Gateway, now: std::time::Instant, t38: &mut BridgedStream) {
    t38.receive_ifps(now, |ifp, seq| {
        if let Err(e) = g.rx_ifp(ifp, seq) {
            tracing::debug!("gateway refused IFP {seq}: {e}");
        }
    });
}

fn flush_ifps(g: &mut T38Gateway, t38: &mut BridgedStream) -> Result<(), CallError> {
    while let Some(ifp) = g.poll_ifp() {
        t38.send_ifp(&ifp.data, ifp.repeats);
    }
    t38.flush()
}
