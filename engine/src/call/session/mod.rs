//! The call task: one fax call from INVITE to BYE, joining the SIP dialog, the media leg
//! and the SpanDSP terminal, and applying the T.38 policy and the timers that make every
//! call end.

use std::net::SocketAddr;
use std::time::Duration;

use media::pcap::PcapRecorder;
use media::rtp_event::ToneEvent;
use media::socket::{MediaSocket, SocketConfig, SocketStats, StreamFilter};
use sip::auth::Credentials;
use sip::dialog::{DialogEvent, EndReason, MediaConfig};
use sip::msg::{HeaderName, NameAddr, Uri};
use sip::sdp::{Agreed, AudioSession, Direction as SdpDirection, OfferMedia, Policy, Preference};
use sip::sdp::{SessionDescription, G711};
use sip::transaction::{Peer, Transport};
use spandsp::{Direction, FaxEvent, Modems, Role, T30Config};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use tokio::time::Instant as TokioInstant;

use super::agent::{CallEvent, CallHandle, IncomingCall, SipAgent};
use super::clock::MediaClock;
use super::config::{DeadT38, FaxOptions, MediaSettings, T38Mode, T38Trigger};
use super::debug::{MAX_PCAP_BYTES, MAX_T30_LINES, SIP_SETTLE_WAIT};
use super::leg::{audio_name, Leg};
use super::report::{
    CallReport, FaxDirection, FaxSummary, MediaPhase, PageReport, Party, T38Event, T38Step,
};
use super::CallError;
use crate::outcome::q850_cause;

/// How long we wait for the far end to confirm our BYE or CANCEL before we stop waiting.
const HANGUP_WAIT: Duration = Duration::from_secs(4);

/// The document side of a call: what to send or where to receive, and how.
#[derive(Debug, Clone)]
pub struct FaxJob {
    /// Send a TIFF-F, or receive into a new TIFF.
    pub direction: Direction,
    /// T.38 policy, T.30 settings and timers.
    pub options: FaxOptions,
    /// Set to `true` to hang up (an operator's cancel, or shutdown past its grace time).
    pub cancel: Option<watch::Receiver<bool>>,
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct OutgoingCall {
    /// Request-URI.
    pub target: Uri,
    /// From (our number).
    pub from: NameAddr,
    /// To (the callee).
    pub to: NameAddr,
    /// Next hop; an unspecified address (see [`OutgoingCall::resolving`]) means: resolve
    /// the Request-URI per RFC 3263 when dialling.
    pub peer: Peer,
    /// Credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// Extra headers (P-Asserted-Identity, Privacy, …).
    pub headers: Vec<(HeaderName, String)>,
}

impl OutgoingCall {
    /// A call to `sip:<number>@<host:port>` straight to that address over UDP, from
    /// `from_number` at `local`.
    pub fn direct(uri: &str, from_number: &str, local: SocketAddr) -> Result<Self, CallError> {
        let mut call = Self::resolving(uri, from_number, local)?;
        let sip_uri = call
            .target
            .as_sip()
            .ok_or(CallError::Setup("not a sip: URI"))?;
        let host = sip_uri.host.canonical();
        let port = sip_uri.port.unwrap_or(5060);
        call.peer.addr = format!("{host}:{port}")
            .parse()
            .or_else(|_| format!("[{host}]:{port}").parse())
            .map_err(|_| CallError::Setup("the URI's host must be an IP address"))?;
        Ok(call)
    }

    /// A call to any `sip:` URI, its host a name or an address: the next hops are found
    /// per RFC 3263 through the agent's resolver when the call is placed, with failover.
    pub fn resolving(uri: &str, from_number: &str, local: SocketAddr) -> Result<Self, CallError> {
        let target = Uri::parse(uri).map_err(CallError::Sip)?;
        target.as_sip().ok_or(CallError::Setup("not a sip: URI"))?;
        let addr = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0);
        let user = if from_number.is_empty() {
            "faxserver"
        } else {
            from_number
        };
        let from = NameAddr::parse(&format!("<sip:{user}@{local}>")).map_err(CallError::Setup)?;
        let to = NameAddr::parse(&format!("<{target}>")).map_err(CallError::Setup)?;
        Ok(OutgoingCall {
            target,
            from,
            to,
            peer: Peer {
                addr,
                transport: Transport::Udp,
            },
            credentials: None,
            headers: Vec::new(),
        })
    }
}

/// What a running call reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The INVITE went out under this SIP Call-ID (outgoing calls; sent first).
    Placed {
        /// SIP Call-ID.
        call_id: String,
    },
    /// The far end is ringing (18x).
    Ringing,
    /// The call was answered.
    Answered,
    /// Media now runs over this (`audio/PCMU`, `t38/v0`, …).
    Media(String),
    /// T.30 settled on a rate.
    Negotiated {
        /// Line bit rate.
        bit_rate: u32,
        /// Error correction.
        ecm: bool,
        /// The far end's identifier.
        remote_ident: String,
    },
    /// A page went through.
    Page(PageReport),
    /// A T.38 negotiation step.
    T38(T38Event),
}

enum Wake {
    Event(Option<CallEvent>),
    Tick(std::time::Instant),
    Answer,
    RingTimeout,
    HangupTimeout,
    Cancelled,
}

#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

mod guard;
mod scheduler;
mod signalling;
mod start;
mod step;
mod tick;

pub(crate) use scheduler::{lateness as scheduler_lateness, start as start_scheduler};
pub(crate) use start::{bind_socket, offers_t38};
use start::{early_audio, media_config, policy};
pub use start::{run_incoming, run_outgoing};

struct Session {
    handle: CallHandle,
    role: Role,
    direction: Direction,
    t30: T30Config,
    opts: FaxOptions,
    settings: MediaSettings,
    report: CallReport,
    clock: Option<MediaClock>,
    socket: Option<MediaSocket>,
    leg: Option<Leg>,
    progress: Option<UnboundedSender<Progress>>,
    seed: u64,
    tones: Vec<ToneEvent>,
    answer_at: Option<TokioInstant>,
    ring_deadline: Option<TokioInstant>,
    hangup_deadline: Option<TokioInstant>,
    /// We asked for T.38 (once per call).
    t38_asked: bool,
    /// Our re-INVITE is in flight; `true` when it offers T.38.
    reinvite_pending: Option<bool>,
    /// When T.38 started, and the socket's counters then (they run on from the audio leg).
    t38_since: Option<(u64, SocketStats)>,
    fell_back: bool,
    cancel: Option<watch::Receiver<bool>>,
    last_progress_ms: u64,
    t30_done_ms: Option<u64>,
    /// SpanDSP's lines of this call, when the debug bundle is kept.
    t30_log: Option<spandsp::log::Capture>,
}

impl Session {
    fn new(
        handle: CallHandle,
        role: Role,
        job: FaxJob,
        settings: &MediaSettings,
        mut socket: MediaSocket,
        report: CallReport,
        progress: Option<UnboundedSender<Progress>>,
    ) -> Self {
        let opts = job.options;
        if opts.debug_pcap {
            socket.set_pcap(Some(Box::new(PcapRecorder::new(MAX_PCAP_BYTES))));
        }
        let opts_capture = opts.debug_capture;
        let t30 = T30Config {
            local_ident: opts.ident.clone(),
            header_info: opts.header.clone(),
            header_tz: opts.header_tz.clone(),
            ecm: opts.ecm,
            modems: if opts.disable_v17 {
                Modems::up_to(9600)
            } else {
                Modems::ALL
            },
            log_tag: handle.call_id().chars().take(24).collect(),
            log_level: opts.log_level,
            // The T.30 frames (DIS, DCS, CFR, MCF, …) are logged at flow level; only T.30's
            // own state is raised, not the modems' or the T.38 core's line per packet.
            protocol_log_level: opts
                .debug_capture
                .then(|| opts.log_level.max(spandsp::LogLevel::Flow)),
            ..T30Config::default()
        };
        let seed = handle
            .call_id()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        Session {
            handle,
            role,
            direction: job.direction,
            t30,
            opts,
            settings: settings.clone(),
            report,
            clock: None,
            socket: Some(socket),
            leg: None,
            progress,
            seed,
            tones: Vec::new(),
            answer_at: None,
            ring_deadline: None,
            hangup_deadline: None,
            t38_asked: false,
            reinvite_pending: None,
            t38_since: None,
            fell_back: false,
            cancel: job.cancel,
            last_progress_ms: 0,
            t30_done_ms: None,
            t30_log: opts_capture.then(|| spandsp::log::Capture::new(MAX_T30_LINES)),
        }
    }

    fn now_ms(&self) -> u64 {
        self.clock.as_ref().map_or(0, MediaClock::ms)
    }

    fn tell(&self, p: Progress) {
        if let Some(tx) = &self.progress {
            let _ = tx.send(p);
        }
    }

    fn t38_step(&mut self, step: T38Step) {
        let event = T38Event {
            at_ms: self.now_ms(),
            step,
        };
        self.tell(Progress::T38(event.clone()));
        self.report.t38.push(event);
    }

    async fn run(self) -> CallReport {
        let mut session = match scheduler::drive(self).await {
            Ok(session) => session,
            Err(report) => return report,
        };
        if session.opts.debug_capture {
            session.handle.sip_settled(SIP_SETTLE_WAIT).await;
        }
        let scope = session.t30_log.take().map(|c| c.enter(session.now_ms()));
        let mut report = session.finish();
        if let Some(capture) = scope.map(spandsp::log::Scope::exit) {
            report.debug.add_t30(capture);
        }
        report
    }

    /// Handles one thing that happened to the call.
    fn on_wake(&mut self, wake: Wake) -> Flow {
        match wake {
            Wake::Event(Some(ev)) => self.on_event(ev),
            Wake::Event(None) => {
                self.fail("the SIP agent stopped");
                Flow::Stop
            }
            Wake::Tick(now) => self.on_tick(now),
            Wake::Answer => {
                self.answer_at = None;
                let port = self.socket.as_ref().map_or(0, |s| s.local_addr().port());
                self.handle
                    .accept(media_config(&self.settings, &self.opts, port));
                Flow::Go
            }
            Wake::RingTimeout => {
                self.ring_deadline = None;
                self.report.ring_timeout = true;
                self.fail(&format!(
                    "no answer within {} s",
                    self.opts.ring_timeout.as_secs()
                ));
                self.hang_up();
                Flow::Go
            }
            Wake::HangupTimeout => Flow::Stop,
            Wake::Cancelled => {
                self.cancel = None;
                self.fail("cancelled");
                self.stop_fax();
                self.hang_up();
                Flow::Go
            }
        }
    }

    fn fail(&mut self, why: &str) {
        if self.report.failure.is_none() {
            tracing::info!(call_id = %self.report.call_id, "fax call failed: {why}");
            self.report.failure = Some(why.to_owned());
        }
    }

    fn hang_up(&mut self) {
        if self.hangup_deadline.is_none() {
            self.handle.bye();
            if self.report.answered && self.report.hangup_by.is_none() {
                self.report.hangup_by = Some(Party::Local);
            }
            self.hangup_deadline = Some(TokioInstant::now() + HANGUP_WAIT);
        }
    }

    fn finish(mut self) -> CallReport {
        if self.report.fax.is_none() {
            self.stop_fax();
            if self.report.fax.is_none() {
                if let Some(result) = self
                    .leg
                    .as_ref()
                    .and_then(|l| l.terminal.as_ref())
                    .and_then(|t| t.result().cloned())
                {
                    self.report.fax = Some(FaxSummary::new(&result));
                }
            }
        }
        self.report.duration_ms = self.now_ms();
        if self.opts.debug_capture {
            let (sip, truncated) = self.handle.sip_ladder();
            self.report.debug.sip = sip;
            self.report.debug.truncated |= truncated;
        }
        if let Some(leg) = &self.leg {
            self.report.media_counters.add(leg.media_counters());
            tracing::debug!(
                call_id = %self.report.call_id,
                local = %leg.local_addr(),
                "call ended: {}",
                self.report.summary()
            );
        }
        // The socket outlives every leg, so its counters cover the whole call.
        let mut socket = match self.leg.take() {
            Some(leg) => Some(leg.into_socket()),
            None => self.socket.take(),
        };
        if let Some(s) = &mut socket {
            let stats = s.stats();
            self.report.media_counters.datagrams_sent = stats.sent;
            self.report.media_counters.datagrams_received =
                stats.received + stats.unfit + stats.foreign + stats.oversize;
            if let Some(pcap) = s.take_pcap() {
                self.report.debug.truncated |= pcap.truncated();
                self.report.debug.pcap = Some(pcap.into_bytes());
            }
        }
        self.report
    }
}
