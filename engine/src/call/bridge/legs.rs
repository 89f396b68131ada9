//! One leg of a bridge: its dialog, its port or stream, and its report.

use sip::dialog::EndReason;
use sip::sdp::{Agreed, Policy, Preference};

use super::joint::BridgedStream;
use super::LegReport;
use media::pcap::PcapRecorder;

use crate::call::debug::{MAX_PCAP_BYTES, SIP_SETTLE_WAIT};
use crate::call::leg::{audio_name, t38_name, Stream};
use crate::call::{CallHandle, MediaPhase, MediaSettings, Party, T38Mode};

/// One leg of the bridge: its dialog, its media and what it did.
pub(super) struct Leg {
    pub(super) handle: Option<CallHandle>,
    pub(super) socket: Option<media::socket::MediaSocket>,
    pub(super) stream: Option<BridgedStream>,
    pub(super) t38: T38Mode,
    pub(super) report: LegReport,
    pub(super) ended: bool,
}

impl Leg {
    /// A leg on `socket`; with `pcap`, everything the socket sends or reads is recorded.
    pub(super) fn new(t38: T38Mode, mut socket: media::socket::MediaSocket, pcap: bool) -> Leg {
        if pcap {
            socket.set_pcap(Some(Box::new(PcapRecorder::new(MAX_PCAP_BYTES))));
        }
        Leg {
            handle: None,
            socket: Some(socket),
            stream: None,
            t38,
            report: LegReport::default(),
            ended: false,
        }
    }

    pub(super) fn policy(&self) -> Policy {
        Policy {
            accept_audio: true,
            accept_t38: self.t38 != T38Mode::Off,
            prefer: Preference::Image,
        }
    }

    pub(super) fn port(&self) -> u16 {
        self.socket.as_ref().map_or(0, |s| s.local_addr().port())
    }

    /// Moves the leg's port to the stream `agreed` names.
    pub(super) fn start(
        &mut self,
        agreed: &Agreed,
        settings: &MediaSettings,
        seed: u64,
        at_ms: u64,
    ) {
        let socket = match (self.stream.take(), self.socket.take()) {
            (Some(s), _) => s.stream.into_socket(),
            (None, Some(s)) => s,
            (None, None) => return,
        };
        let (built, name) = match agreed {
            Agreed::Audio(a) => (
                Stream::audio(socket, a, settings, seed).map(|s| BridgedStream::new(s, None)),
                audio_name(a.codec),
            ),
            Agreed::T38(t) => (
                Stream::t38(socket, t, settings).map(|(s, c)| BridgedStream::new(s, Some(c))),
                t38_name(t.version),
            ),
        };
        match built {
            Ok(stream) => {
                self.stream = Some(stream);
                if self.report.media.last().is_none_or(|p| p.media != name) {
                    self.report.media.push(MediaPhase {
                        media: name,
                        from_ms: at_ms,
                    });
                }
            }
            Err(e) => tracing::warn!("bridge leg media failed: {e}"),
        }
    }

    /// Copies the leg's SIP ladder into its report, once the answer to our BYE is in, and
    /// its pcap when one was recorded (the leg's media is over: its port is released).
    pub(super) async fn keep_ladder(&mut self) {
        if let Some(h) = &self.handle {
            h.sip_settled(SIP_SETTLE_WAIT).await;
            let (sip, truncated) = h.sip_ladder();
            self.report.debug.sip = sip;
            self.report.debug.truncated |= truncated;
        }
        let socket = match self.stream.take() {
            Some(s) => Some(s.stream.into_socket()),
            None => self.socket.take(),
        };
        if let Some(pcap) = socket.and_then(|mut s| s.take_pcap()) {
            self.report.debug.truncated |= pcap.truncated();
            self.report.debug.pcap = Some(pcap.into_bytes());
        }
    }

    pub(super) fn hang_up(&mut self) {
        if let Some(h) = &self.handle {
            if !self.ended {
                h.bye();
                if self.report.answered && self.report.hangup_by.is_none() {
                    self.report.hangup_by = Some(Party::Local);
                }
            }
        }
    }

    pub(super) fn terminated(&mut self, reason: &EndReason) {
        self.ended = true;
        self.report.sip_end = format!("{reason:?}");
        match reason {
            EndReason::Bye { remote: true } => {
                self.report.hangup_by.get_or_insert(Party::Remote);
            }
            EndReason::Rejected(code) => {
                self.report.sip_status.get_or_insert(code.as_u16());
            }
            _ => {}
        }
    }
}
