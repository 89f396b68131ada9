//! The call task: one fax call from INVITE to BYE, joining the SIP dialog, the media leg
//! and the SpanDSP terminal, and applying the T.38 policy and the timers that make every
//! call end.

use std::net::SocketAddr;
use std::time::Duration;

use media::rtp_event::ToneEvent;
use media::socket::{MediaSocket, SocketConfig, StreamFilter};
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
    /// Next hop.
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
        let target = Uri::parse(uri).map_err(CallError::Sip)?;
        let sip_uri = target.as_sip().ok_or(CallError::Setup("not a sip: URI"))?;
        let host = sip_uri.host.canonical();
        let port = sip_uri.port.unwrap_or(5060);
        let addr: SocketAddr = format!("{host}:{port}")
            .parse()
            .or_else(|_| format!("[{host}]:{port}").parse())
            .map_err(|_| CallError::Setup("the URI's host must be an IP address"))?;
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

/// Places `call` and runs the fax `job` on it.
pub async fn run_outgoing(
    agent: &SipAgent,
    call: OutgoingCall,
    job: FaxJob,
    settings: &MediaSettings,
    progress: Option<UnboundedSender<Progress>>,
) -> CallReport {
    let direction = fax_direction(&job.direction);
    let mut report = CallReport::new(direction);
    if let Direction::Send { tiff } = &job.direction {
        if let Err(e) = spandsp::inspect_send_tiff(tiff, spandsp::TiffCheck::Headers) {
            report.failure = Some(e.to_string());
            return report;
        }
    }
    let socket = match bind_socket(settings) {
        Ok(s) => s,
        Err(e) => {
            report.failure = Some(format!("no media port: {e}"));
            return report;
        }
    };
    let mut media = media_config(settings, &job.options, socket.local_addr().port());
    if job.options.t38_in_invite && job.options.t38 != T38Mode::Off {
        media.offer = OfferMedia::T38;
    }
    report.offered_only_g711 = media.offer == OfferMedia::Audio;
    let params = sip::dialog::CallParams {
        target: call.target,
        from: call.from,
        to: call.to,
        peer: call.peer,
        media,
        delayed_offer: false,
        credentials: call.credentials,
        headers: call.headers,
    };
    let handle = match agent.invite(params).await {
        Ok(h) => h,
        Err(e) => {
            report.failure = Some(format!("could not place the call: {e}"));
            return report;
        }
    };
    report.call_id = handle.call_id().to_owned();
    let ring_deadline = TokioInstant::now() + job.options.ring_timeout;
    let mut session = Session::new(
        handle,
        Role::Calling,
        job,
        settings,
        socket,
        report,
        progress,
    );
    session.ring_deadline = Some(ring_deadline);
    session.run().await
}

/// Answers `incoming` (after the configured delay) and runs the fax `job` on it.
pub async fn run_incoming(
    incoming: IncomingCall,
    job: FaxJob,
    settings: &MediaSettings,
    progress: Option<UnboundedSender<Progress>>,
) -> CallReport {
    let IncomingCall { handle, offer, .. } = incoming;
    let mut report = CallReport::new(fax_direction(&job.direction));
    report.call_id = handle.call_id().to_owned();
    let socket = match bind_socket(settings) {
        Ok(s) => s,
        Err(e) => {
            // Out of ports: a 503 lets the caller try another node.
            handle.reject(503);
            report.failure = Some(format!("no media port: {e}"));
            report.sip_status = Some(503);
            return report;
        }
    };
    if offer.as_ref().is_some_and(offers_t38) {
        report.t38.push(T38Event {
            at_ms: 0,
            step: T38Step::Offered { by: Party::Remote },
        });
    }
    let delay = job.options.answer_delay;
    let mut session = Session::new(
        handle,
        Role::Answering,
        job,
        settings,
        socket,
        report,
        progress,
    );
    session.handle.ring();
    session.answer_at = Some(TokioInstant::now() + delay);
    session.run().await
}

fn fax_direction(d: &Direction) -> FaxDirection {
    match d {
        Direction::Send { .. } => FaxDirection::Send,
        Direction::Receive { .. } => FaxDirection::Receive,
    }
}

fn bind_socket(settings: &MediaSettings) -> Result<MediaSocket, media::Error> {
    let config = SocketConfig {
        local_ip: settings.bind_ip,
        dscp: settings.dscp,
        ..SocketConfig::default()
    };
    // Sends nowhere useful until the SDP says where: the discard port of our own address.
    let placeholder = SocketAddr::new(settings.bind_ip, 9);
    MediaSocket::bind(
        &settings.pool,
        &config,
        StreamFilter::rtp_types(&[0, 8]),
        placeholder,
    )
}

fn policy(options: &FaxOptions) -> Policy {
    Policy {
        accept_audio: true,
        accept_t38: options.t38 != T38Mode::Off,
        prefer: Preference::Image,
    }
}

fn media_config(settings: &MediaSettings, options: &FaxOptions, port: u16) -> MediaConfig {
    MediaConfig {
        caps: settings.capabilities(port),
        policy: policy(options),
        offer: OfferMedia::Audio,
    }
}

fn offers_t38(sdp: &SessionDescription) -> bool {
    sdp.media.iter().any(|m| m.port != 0 && m.is_udptl_t38())
}

/// The audio stream of an early (18x) answer, read without completing offer/answer.
fn early_audio(sdp: &SessionDescription, codecs: &[G711]) -> Option<AudioSession> {
    let m = sdp
        .media
        .iter()
        .find(|m| m.port != 0 && m.is_rtp_avp_audio())?;
    let ip = sdp.connection_for(m).and_then(|c| c.ip())?;
    let all = m.codecs();
    let codec = all.iter().find(|c| codecs.iter().any(|g| c.is(g.name())))?;
    Some(AudioSession {
        remote: Some(SocketAddr::new(ip, m.port)),
        codec: if codec.is("PCMA") {
            G711::Pcma
        } else {
            G711::Pcmu
        },
        payload_type: codec.payload_type,
        telephone_event: all
            .iter()
            .find(|c| c.is("telephone-event"))
            .map(|c| c.payload_type),
        ptime: m.ptime().filter(|p| (10..=60).contains(p)).unwrap_or(20),
        direction: SdpDirection::SendRecv,
    })
}

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
    /// When T.38 started, and how many non-UDPTL datagrams had arrived by then.
    t38_since: Option<(u64, u64)>,
    fell_back: bool,
    cancel: Option<watch::Receiver<bool>>,
    last_progress_ms: u64,
    t30_done_ms: Option<u64>,
}

impl Session {
    fn new(
        handle: CallHandle,
        role: Role,
        job: FaxJob,
        settings: &MediaSettings,
        socket: MediaSocket,
        report: CallReport,
        progress: Option<UnboundedSender<Progress>>,
    ) -> Self {
        let opts = job.options;
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

    async fn run(mut self) -> CallReport {
        loop {
            let media_on = self.leg.is_some() && self.hangup_deadline.is_none();
            let wake = {
                let (handle, clock) = (&mut self.handle, &mut self.clock);
                tokio::select! {
                    ev = handle.next() => Wake::Event(ev),
                    now = tick(clock), if media_on => Wake::Tick(now),
                    () = sleep_until(self.answer_at), if self.answer_at.is_some() => Wake::Answer,
                    () = sleep_until(self.ring_deadline), if self.ring_deadline.is_some() => {
                        Wake::RingTimeout
                    }
                    () = sleep_until(self.hangup_deadline), if self.hangup_deadline.is_some() => {
                        Wake::HangupTimeout
                    }
                    () = cancelled(&mut self.cancel), if self.cancel.is_some() => Wake::Cancelled,
                }
            };
            let flow = match wake {
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
            };
            if flow == Flow::Stop {
                break;
            }
        }
        self.finish()
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

    fn on_event(&mut self, ev: CallEvent) -> Flow {
        match ev {
            // Finals to our re-INVITEs say nothing about the call's own status.
            CallEvent::FinalResponse { .. } if self.report.answered => Flow::Go,
            CallEvent::FinalResponse {
                status,
                retry_after,
                reasons,
                warnings,
            } => {
                self.report.sip_status = Some(status);
                self.report.retry_after = retry_after;
                self.report.warning_codes = warnings;
                self.add_reasons(reasons);
                Flow::Go
            }
            CallEvent::RemoteReason { reasons } => {
                self.add_reasons(reasons);
                Flow::Go
            }
            CallEvent::Dialog(ev) => self.on_dialog(*ev),
        }
    }

    fn add_reasons(&mut self, reasons: Vec<String>) {
        if let Some(q850) = q850_cause(&reasons) {
            self.report.q850_cause = Some(u16::from(q850.cause));
        }
        self.report.reason_headers.extend(reasons);
    }

    fn on_dialog(&mut self, ev: DialogEvent) -> Flow {
        match ev {
            DialogEvent::Early { remote_sdp, .. } => {
                self.tell(Progress::Ringing);
                if let Some(session) = remote_sdp
                    .as_ref()
                    .and_then(|sdp| early_audio(sdp, &self.settings.codecs))
                {
                    // Early media: send silence so that the far end can latch on us; the
                    // 200's SDP replaces this.
                    if self.leg.is_none() {
                        if let Err(e) = self.start_audio(&session, false) {
                            tracing::debug!("early media not started: {e}");
                        }
                    }
                }
                Flow::Go
            }
            DialogEvent::Confirmed { agreed, .. } => {
                self.ring_deadline = None;
                self.report.answered = true;
                self.report.sip_status.get_or_insert(200);
                self.tell(Progress::Answered);
                if let Err(e) = self.start_media(&agreed) {
                    self.fail(&format!("media could not start: {e}"));
                    self.hang_up();
                    return Flow::Go;
                }
                if matches!(agreed, Agreed::Audio(_))
                    && self.opts.t38 == T38Mode::Request
                    && self.opts.t38_trigger == T38Trigger::Answer
                {
                    self.request_t38();
                }
                Flow::Go
            }
            DialogEvent::ReinviteOffered { offer, .. } => {
                let t38 = offers_t38(&offer);
                if t38 && self.opts.t38 == T38Mode::Off {
                    self.handle.reject_offer(488);
                    self.t38_step(T38Step::Offered { by: Party::Remote });
                    self.t38_step(T38Step::Rejected {
                        by: Party::Local,
                        status: 488,
                    });
                } else {
                    if t38 {
                        self.t38_step(T38Step::Offered { by: Party::Remote });
                    }
                    self.handle.accept_offer(Some(policy(&self.opts)));
                }
                Flow::Go
            }
            DialogEvent::MediaChanged { agreed, .. } => {
                if let Err(e) = self.switch(&agreed) {
                    self.fail(&format!("media switch failed: {e}"));
                    self.hang_up();
                }
                Flow::Go
            }
            DialogEvent::ReinviteRejected { code, ours, .. } => {
                if ours {
                    let offered_t38 = self.reinvite_pending.take();
                    match (offered_t38, code.as_u16()) {
                        (Some(true), 408) => self.t38_step(T38Step::TimedOut),
                        (Some(true), status) => self.t38_step(T38Step::Rejected {
                            by: Party::Remote,
                            status,
                        }),
                        (Some(false), _) => {
                            // Back to audio was refused while T.38 carries nothing.
                            self.fail("no T.38 media");
                            self.hang_up();
                        }
                        (None, _) => {}
                    }
                }
                Flow::Go
            }
            DialogEvent::Terminated { reason, .. } => {
                self.on_terminated(reason);
                Flow::Stop
            }
            DialogEvent::Incoming { .. }
            | DialogEvent::Refreshed { .. }
            | DialogEvent::Redirected { .. } => Flow::Go,
        }
    }

    fn on_terminated(&mut self, reason: EndReason) {
        self.report.sip_end = match &reason {
            EndReason::Bye { remote: true } => "BYE from the far end".to_owned(),
            EndReason::Bye { remote: false } => "BYE from us".to_owned(),
            EndReason::Cancel => "cancelled".to_owned(),
            EndReason::Rejected(code) => format!("rejected with {}", code.as_u16()),
            EndReason::Timeout => "no response (SIP timeout)".to_owned(),
            EndReason::SessionExpired => "session timer expired".to_owned(),
            EndReason::NoCommonMedia => "no common media".to_owned(),
            EndReason::Error(e) => format!("SIP error: {e}"),
        };
        match reason {
            EndReason::Bye { remote: true } if self.report.hangup_by.is_none() => {
                self.report.hangup_by = Some(Party::Remote);
            }
            EndReason::Rejected(code) => {
                self.report.sip_status.get_or_insert(code.as_u16());
            }
            EndReason::Timeout => {
                self.report.transport_timeout = true;
                if !self.report.answered {
                    self.report.sip_status.get_or_insert(408);
                }
            }
            _ => {}
        }
    }

    fn start_media(&mut self, agreed: &Agreed) -> Result<(), CallError> {
        match agreed {
            Agreed::Audio(session) => self.start_audio(session, true),
            Agreed::T38(_) => {
                if self.report.t38.is_empty() {
                    // T.38 in the first INVITE's answer: ours or theirs.
                    let by = if self.role == Role::Calling {
                        Party::Local
                    } else {
                        Party::Remote
                    };
                    self.t38_step(T38Step::Offered { by });
                }
                // `switch` credits the far end with accepting when our offer is pending.
                if self.role == Role::Calling {
                    self.reinvite_pending = Some(true);
                }
                self.switch(agreed)
            }
        }
    }

    fn ensure_clock(&mut self) {
        if self.clock.is_none() {
            self.clock = Some(MediaClock::new(self.settings.speed));
        }
    }

    fn take_socket(&mut self) -> Result<MediaSocket, CallError> {
        // The old terminal's last events (a page just confirmed) still count; then it goes.
        self.collect_events();
        if let Some(leg) = self.leg.take() {
            return Ok(leg.into_socket());
        }
        self.socket
            .take()
            .ok_or(CallError::Setup("media socket lost"))
    }

    /// Audio towards `session`; with `fax`, T.30 starts on it.
    fn start_audio(&mut self, session: &AudioSession, fax: bool) -> Result<(), CallError> {
        self.ensure_clock();
        let socket = self.take_socket()?;
        let mut leg = Leg::audio(socket, session, &self.settings, self.seed)?;
        if fax {
            leg.start_audio_terminal(self.role, self.direction.clone(), &self.t30)?;
            self.last_progress_ms = self.now_ms();
            // Hearing CNG or CED proves a fax machine is there (for the outcome), and is
            // the moment to ask for T.38 under the `Tone` trigger.
            if !self.report.fax_seen {
                leg.detect_tones()?;
            }
        }
        let name = audio_name(session.codec);
        self.enter_phase(&name);
        self.leg = Some(leg);
        Ok(())
    }

    fn enter_phase(&mut self, media: &str) {
        if self.report.media.last().is_some_and(|p| p.media == media) {
            return;
        }
        self.report.media.push(MediaPhase {
            media: media.to_owned(),
            from_ms: self.now_ms(),
        });
        self.tell(Progress::Media(media.to_owned()));
    }

    /// The media changed (re-INVITE either way): move the port to the new stream and restart
    /// T.30 on it.
    fn switch(&mut self, agreed: &Agreed) -> Result<(), CallError> {
        let was_t38 = self.leg.as_ref().is_some_and(Leg::is_t38);
        match agreed {
            Agreed::T38(session) => {
                let by = if self.reinvite_pending.take() == Some(true) {
                    Party::Remote
                } else {
                    Party::Local
                };
                if was_t38 {
                    return Ok(());
                }
                self.ensure_clock();
                let socket = self.take_socket()?;
                let before = socket.stats();
                let leg = Leg::t38(
                    socket,
                    session,
                    &self.settings,
                    (self.role, self.direction.clone(), &self.t30),
                )?;
                self.t38_since = Some((
                    self.now_ms(),
                    before.unfit + before.foreign + before.received,
                ));
                self.last_progress_ms = self.now_ms();
                self.t38_step(T38Step::Accepted { by });
                self.enter_phase(&leg.media.clone());
                self.leg = Some(leg);
            }
            Agreed::Audio(session) => {
                self.reinvite_pending = None;
                if !was_t38 {
                    return Ok(());
                }
                self.t38_step(T38Step::BackToAudio);
                self.t38_since = None;
                self.start_audio(session, true)?;
            }
        }
        Ok(())
    }

    fn request_t38(&mut self) {
        if self.t38_asked || self.reinvite_pending.is_some() {
            return;
        }
        if self.leg.as_ref().is_some_and(Leg::is_t38) {
            return;
        }
        self.t38_asked = true;
        self.reinvite_pending = Some(true);
        self.handle.reinvite(OfferMedia::T38);
        self.t38_step(T38Step::Offered { by: Party::Local });
    }

    fn on_tick(&mut self, now: std::time::Instant) -> Flow {
        let mut tones = std::mem::take(&mut self.tones);
        if let Some(leg) = &mut self.leg {
            if let Err(e) = leg.tick(now, &mut tones) {
                tracing::debug!("media tick: {e}");
            }
        }
        let fax_tone = tones.drain(..).any(|t| {
            matches!(
                t,
                ToneEvent::Cng
                    | ToneEvent::Ans
                    | ToneEvent::AnsPhaseReversed
                    | ToneEvent::V21Preamble
            )
        });
        self.tones = tones;
        if fax_tone {
            self.report.fax_seen = true;
            self.maybe_request_on_tone();
        }
        self.collect_events();
        self.check_dead_t38();
        self.check_timers();
        Flow::Go
    }

    fn maybe_request_on_tone(&mut self) {
        if self.opts.t38 == T38Mode::Request && self.opts.t38_trigger == T38Trigger::Tone {
            self.request_t38();
        }
    }

    fn collect_events(&mut self) {
        let Some(leg) = &mut self.leg else { return };
        let media = leg.media.clone();
        let mut events = Vec::new();
        if let Some(t) = &mut leg.terminal {
            while let Some(ev) = t.poll_event() {
                events.push(ev);
            }
        }
        for ev in events {
            self.on_fax_event(ev, &media);
        }
    }

    fn on_fax_event(&mut self, ev: FaxEvent, media: &str) {
        let now = self.now_ms();
        match ev {
            FaxEvent::Negotiated {
                bit_rate,
                ecm,
                remote_ident,
                ..
            } => {
                self.last_progress_ms = now;
                let first = !self.report.fax_seen;
                self.report.fax_seen = true;
                self.tell(Progress::Negotiated {
                    bit_rate,
                    ecm,
                    remote_ident,
                });
                if first && !self.leg.as_ref().is_some_and(Leg::is_t38) {
                    self.maybe_request_on_tone();
                }
            }
            FaxEvent::Page(page) => {
                self.last_progress_ms = now;
                self.report.fax_seen = true;
                let report = PageReport::new(&page, media, now);
                self.tell(Progress::Page(report.clone()));
                self.report.pages.push(report);
            }
            FaxEvent::Finished(result) => {
                self.report.fax = Some(FaxSummary::new(&result));
                self.t30_done_ms.get_or_insert(now);
            }
        }
    }

    fn check_dead_t38(&mut self) {
        let Some((since, others_before)) = self.t38_since else {
            return;
        };
        let Some(leg) = &self.leg else { return };
        if leg.udptl_received() > 0 {
            self.t38_since = None;
            return;
        }
        let waited = Duration::from_millis(self.now_ms().saturating_sub(since));
        let stats = leg.socket_stats();
        let others = stats.unfit + stats.foreign;
        if waited < self.opts.t38_media_timeout || others <= others_before {
            return;
        }
        self.t38_since = None;
        self.t38_step(T38Step::NoMedia);
        if self.opts.dead_t38 == DeadT38::FallBackToAudio && !self.fell_back {
            self.fell_back = true;
            self.reinvite_pending = Some(false);
            self.handle.reinvite(OfferMedia::Audio);
        } else {
            self.fail("no T.38 media");
            self.hang_up();
        }
    }

    fn check_timers(&mut self) {
        let now = self.now_ms();
        if let Some(done) = self.t30_done_ms {
            if now.saturating_sub(done) >= self.opts.hangup_linger.as_millis() as u64 {
                self.hang_up();
            }
            return;
        }
        let idle = now.saturating_sub(self.last_progress_ms);
        if idle >= self.opts.idle_timeout.as_millis() as u64 {
            self.fail(&format!(
                "no fax progress for {} s{}",
                idle / 1000,
                if self.report.fax_seen {
                    ""
                } else {
                    " (no fax answered)"
                }
            ));
            self.stop_fax();
            self.hang_up();
            return;
        }
        if now >= self.cap_ms() {
            self.fail(&format!(
                "call exceeded its time limit of {} s",
                self.cap_ms() / 1000
            ));
            self.stop_fax();
            self.hang_up();
        }
    }

    /// The longest a call may run: the base cap plus time per page, counting the pages of
    /// the document (sending) or the pages received so far plus one (receiving).
    fn cap_ms(&self) -> u64 {
        let pages = match &self.leg.as_ref().and_then(|l| l.terminal.as_ref()) {
            Some(t) => {
                let s = t.stats();
                u64::from(s.pages_total.max(s.pages_transferred + 1))
            }
            None => 1,
        };
        (self.opts.max_duration + self.opts.per_page * pages as u32).as_millis() as u64
    }

    fn stop_fax(&mut self) {
        if let Some(t) = self.leg.as_mut().and_then(|l| l.terminal.as_mut()) {
            t.terminate();
        }
        self.collect_events();
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
        if let Some(leg) = &self.leg {
            tracing::debug!(
                call_id = %self.report.call_id,
                local = %leg.local_addr(),
                "call ended: {}",
                self.report.summary()
            );
        }
        self.report
    }
}

async fn tick(clock: &mut Option<MediaClock>) -> std::time::Instant {
    match clock {
        Some(c) => c.tick().await,
        None => std::future::pending().await,
    }
}

/// Resolves once the flag is set (or its sender is gone without setting it: never).
async fn cancelled(flag: &mut Option<watch::Receiver<bool>>) {
    let Some(rx) = flag else {
        return std::future::pending().await;
    };
    if rx.wait_for(|v| *v).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn sleep_until(deadline: Option<TokioInstant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
