//! Live fax bridging: an inbound leg (a carrier, say) joined to an outbound leg (a tenant's
//! PBX) with T.38 and G.711 on either side, through SpanDSP's T.38 gateway where they
//! differ and a relay where they match. See [`joint`] for the joints.
//!
//! The outbound leg is dialled first; the inbound one is answered when it answers, so the
//! caller keeps hearing ring until there is somewhere to send the fax, and gets the callee's
//! failure status when there is not. With several targets (upstream gateways in priority
//! order), one that fails before answer gives way to the next while the caller still rings
//! ([`dial`]). Either leg may switch media by re-INVITE at any time; the joint follows and
//! the other leg stays as it is.

mod dial;
mod joint;
mod legs;
mod report;

use std::time::Duration;

use sip::dialog::{DialogEvent, MediaConfig};
use sip::sdp::{OfferMedia, SessionDescription};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant as TokioInstant;

pub use self::dial::BridgeTarget;
use self::dial::Targets;
use self::joint::{tick, BridgedStream, Gateways, Joint};
use self::legs::Leg;
pub use self::report::{BridgeReport, JointPhase, LegReport};
use super::clock::MediaClock;
use super::debug::MAX_T30_LINES;
use super::leg::Stream;
use super::session::{bind_socket as bind, offers_t38};
use super::{CallEvent, CallHandle, IncomingCall, MediaSettings, OutgoingCall, SipAgent, T38Mode};

/// How a bridge treats each leg.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// T.38 on the inbound leg: accept it when offered (or not).
    pub inbound_t38: T38Mode,
    /// T.38 on the outbound leg, unless its target sets its own; `Request` offers T.38 in
    /// the INVITE.
    pub outbound_t38: T38Mode,
    /// An unanswered outbound leg is cancelled after this long.
    pub ring_timeout: Duration,
    /// The longest a bridge may last.
    pub max_duration: Duration,
    /// Highest `T38FaxVersion` offered or accepted on either leg. Version 3 carries V.34,
    /// which Super G3 machines try after ANSam and which carriers' gateways and SpanDSP's
    /// cannot pass: capping at 2 makes such calls settle on V.17.
    pub max_t38_version: u8,
    /// Keep each leg's SIP ladder and the gateway's T.30 trace (on the inbound leg) for the
    /// debug bundle.
    pub debug_capture: bool,
    /// Record each leg's RTP/UDPTL as a pcap for the debug bundle.
    pub debug_pcap: bool,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            inbound_t38: T38Mode::Accept,
            outbound_t38: T38Mode::Accept,
            ring_timeout: Duration::from_secs(60),
            max_duration: Duration::from_secs(3600),
            max_t38_version: 2,
            debug_capture: true,
            debug_pcap: false,
        }
    }
}

/// Which joint two legs' media need.
fn joint_for(a: &BridgedStream, b: &BridgedStream) -> Joint {
    match (&a.stream, &b.stream) {
        (Stream::Audio(_), Stream::Audio(_)) => Joint::AudioRelay,
        (Stream::Audio(_), Stream::T38(_)) => Joint::Gateway { audio_is_a: true },
        (Stream::T38(_), Stream::Audio(_)) => Joint::Gateway { audio_is_a: false },
        (Stream::T38(_), Stream::T38(_)) => {
            let same = a.t38.map(|c| c.version) == b.t38.map(|c| c.version);
            if same {
                Joint::T38Relay
            } else {
                Joint::DoubleGateway
            }
        }
    }
}

/// What the inbound INVITE offered, as the outbound leg's first offer.
fn mirror_offer(offer: Option<&SessionDescription>, outbound_t38: T38Mode) -> OfferMedia {
    let t38_offered = offer.is_some_and(offers_t38);
    if outbound_t38 == T38Mode::Request || (t38_offered && outbound_t38 != T38Mode::Off) {
        OfferMedia::T38
    } else {
        OfferMedia::Audio
    }
}

enum Wake {
    A(Option<CallEvent>),
    B(Option<CallEvent>),
    Tick(std::time::Instant),
    RingTimeout,
    HangupTimeout,
}

/// Bridges `inbound` to the callee of `outbound`; returns when both legs have ended.
pub async fn run_bridge(
    agent: &SipAgent,
    inbound: IncomingCall,
    outbound: OutgoingCall,
    settings: &MediaSettings,
    opts: BridgeOptions,
    phase: Option<UnboundedSender<String>>,
) -> BridgeReport {
    let targets = vec![outbound.into()];
    run_bridge_failover(agent, inbound, targets, settings, opts, phase).await
}

/// Bridges `inbound` to the first of `targets` that answers, trying them in order while the
/// caller is unanswered; returns when both legs have ended.
pub async fn run_bridge_failover(
    agent: &SipAgent,
    inbound: IncomingCall,
    targets: Vec<BridgeTarget>,
    settings: &MediaSettings,
    opts: BridgeOptions,
    phase: Option<UnboundedSender<String>>,
) -> BridgeReport {
    let mut report = BridgeReport::default();
    let mut capped = settings.clone();
    capped.udptl.max_version = capped.udptl.max_version.min(opts.max_t38_version);
    let settings = &capped;
    let IncomingCall { handle, offer, .. } = inbound;
    report.inbound.call_id = handle.call_id().to_owned();
    let Ok(sa) = bind(settings) else {
        handle.reject(503);
        report.failure = Some("no media port".to_owned());
        return report;
    };
    let mut a = Leg::new(opts.inbound_t38, sa, opts.debug_pcap);
    a.report.call_id.clone_from(&report.inbound.call_id);
    handle.ring();
    a.handle = Some(handle);
    let mut targets = Targets::new(targets, offer, opts.outbound_t38, opts.debug_pcap);
    let Some(mut b) = targets.dial(agent, settings, &mut report.tried).await else {
        if let Some(h) = &a.handle {
            h.reject(503);
        }
        report.failure = Some(match targets.dial_error.take() {
            Some(e) => format!("could not dial the outbound leg: {e}"),
            None => "no outbound target".to_owned(),
        });
        report.outbound = report.tried.last().cloned().unwrap_or_default();
        a.keep_ladder().await;
        report.inbound = a.report;
        return report;
    };
    // Targets that could not be dialled after the last leg that was.
    let mut undialled = Vec::new();
    let tell = |p: &str| {
        if let Some(tx) = &phase {
            let _ = tx.send(p.to_owned());
        }
    };
    tell("ROUTED");
    let seed = report.inbound.call_id.len() as u64 ^ 0x9e37_79b9;
    let mut clock: Option<MediaClock> = None;
    let mut joint: Option<Joint> = None;
    let mut gateways: Option<Gateways> = None;
    let mut pages_seen: Option<u32> = None;
    let mut ring_deadline = Some(TokioInstant::now() + opts.ring_timeout);
    let mut hangup_deadline: Option<TokioInstant> = None;
    let ms = |c: &Option<MediaClock>| c.as_ref().map_or(0, MediaClock::ms);
    // A gateway's T.30 frames (DIS, DCS, …) are logged at flow level; they go to the
    // inbound leg's debug bundle.
    let mut t30_log = opts
        .debug_capture
        .then(|| spandsp::log::Capture::new(MAX_T30_LINES));
    let log_level = if opts.debug_capture {
        spandsp::LogLevel::Flow
    } else {
        spandsp::LogLevel::Warning
    };
    loop {
        let both_up = a.stream.is_some() && b.stream.is_some() && hangup_deadline.is_none();
        let wake = {
            let (ha, hb) = (a.handle.as_mut(), b.handle.as_mut());
            tokio::select! {
                ev = next(ha) => Wake::A(ev),
                ev = next(hb) => Wake::B(ev),
                now = tick_clock(&mut clock), if both_up => Wake::Tick(now),
                () = sleep_until(ring_deadline), if ring_deadline.is_some() => Wake::RingTimeout,
                () = sleep_until(hangup_deadline), if hangup_deadline.is_some() => {
                    Wake::HangupTimeout
                }
            }
        };
        let mut media_changed = false;
        match wake {
            Wake::A(None) | Wake::B(None) | Wake::HangupTimeout => break,
            Wake::RingTimeout => {
                ring_deadline = None;
                b.hang_up();
                if targets.is_empty() {
                    report.failure = Some("the outbound leg did not answer".to_owned());
                    if let Some(h) = &a.handle {
                        h.reject(480);
                    }
                    hangup_deadline = Some(TokioInstant::now() + Duration::from_secs(4));
                } else {
                    // Cancelled: the next target is dialled below.
                    b.ended = true;
                    b.report.sip_end = "ring timeout".to_owned();
                }
            }
            Wake::Tick(now) => {
                if let (Some(j), Some(sa), Some(sb), Some(g)) = (
                    joint,
                    a.stream.as_mut(),
                    b.stream.as_mut(),
                    gateways.as_mut(),
                ) {
                    let scope = t30_log.take().map(|c| c.enter(ms(&clock)));
                    if let Err(e) = tick(j, now, sa, sb, g) {
                        tracing::debug!("bridge tick: {e}");
                    }
                    t30_log = scope.map(spandsp::log::Scope::exit);
                    while let Some(ev) = g.poll_event() {
                        if let spandsp::GatewayEvent::PageConfirmed { pages } = ev {
                            pages_seen = Some(pages);
                        }
                    }
                }
                if ms(&clock) > opts.max_duration.as_millis() as u64 {
                    report.failure = Some("bridge exceeded its time limit".to_owned());
                    a.hang_up();
                    b.hang_up();
                    hangup_deadline = Some(TokioInstant::now() + Duration::from_secs(4));
                }
            }
            Wake::A(Some(ev)) => {
                media_changed = on_event(&mut a, ev, settings, seed, ms(&clock));
            }
            Wake::B(Some(ev)) => {
                if let CallEvent::Dialog(d) = &ev {
                    if let DialogEvent::Confirmed { .. } = **d {
                        ring_deadline = None;
                        // The callee answered: now answer the caller.
                        if let Some(h) = &a.handle {
                            h.accept(MediaConfig {
                                caps: settings.capabilities(a.port()),
                                policy: a.policy(),
                                offer: OfferMedia::Audio,
                            });
                        }
                    }
                }
                media_changed = on_event(&mut b, ev, settings, seed.rotate_left(7), ms(&clock));
            }
        }
        // A leg that ended takes the other with it; one that failed before answering passes
        // its status back to the caller.
        if a.ended && !b.ended && hangup_deadline.is_none() {
            b.hang_up();
            hangup_deadline = Some(TokioInstant::now() + Duration::from_secs(4));
        }
        if b.ended && !a.ended && hangup_deadline.is_none() {
            if !a.report.answered && !b.report.answered && !targets.is_empty() {
                if let Some(next) = targets.dial(agent, settings, &mut undialled).await {
                    let mut failed = std::mem::replace(&mut b, next);
                    failed.keep_ladder().await;
                    report.tried.push(failed.report);
                    report.tried.append(&mut undialled);
                    ring_deadline = Some(TokioInstant::now() + opts.ring_timeout);
                    continue;
                }
            }
            if a.report.answered {
                a.hang_up();
            } else if let Some(e) = targets.dial_error.take() {
                report.failure = Some(format!("could not dial the outbound leg: {e}"));
                if let Some(h) = &a.handle {
                    h.reject(503);
                }
            } else if let Some(h) = &a.handle {
                let status = b
                    .report
                    .sip_status
                    .filter(|s| (400..700).contains(s) && *s != 401 && *s != 407);
                h.reject(status.unwrap_or(503));
            }
            hangup_deadline = Some(TokioInstant::now() + Duration::from_secs(4));
        }
        if a.ended && b.ended {
            break;
        }
        if media_changed {
            if let (Some(sa), Some(sb)) = (a.stream.as_ref(), b.stream.as_ref()) {
                if clock.is_none() {
                    clock = Some(MediaClock::new(settings.speed));
                    tell("BRIDGING");
                }
                let j = joint_for(sa, sb);
                if joint != Some(j) {
                    match Gateways::for_joint(j, sa, sb, &report.inbound.call_id, log_level) {
                        Ok(g) => {
                            if let Some(old) = gateways.as_ref().and_then(Gateways::result) {
                                pages_seen = Some(pages_seen.unwrap_or(0).max(old.pages));
                            }
                            gateways = Some(g);
                            joint = Some(j);
                            report.joints.push(JointPhase {
                                joint: j.name().to_owned(),
                                from_ms: ms(&clock),
                            });
                        }
                        Err(e) => {
                            report.failure = Some(format!("bridge joint failed: {e}"));
                            a.hang_up();
                            b.hang_up();
                            hangup_deadline = Some(TokioInstant::now() + Duration::from_secs(4));
                        }
                    }
                }
            }
        }
    }
    if let Some(r) = gateways.as_ref().and_then(Gateways::result) {
        report.pages = Some(pages_seen.unwrap_or(0).max(r.pages));
        report.bit_rate = Some(r.bit_rate);
        report.ecm = Some(r.ecm);
        report.fax_completed = r.disconnected;
    } else {
        report.pages = pages_seen;
    }
    report.duration_ms = ms(&clock);
    a.keep_ladder().await;
    b.keep_ladder().await;
    if let Some(capture) = t30_log {
        a.report.debug.add_t30(capture);
    }
    report.inbound = a.report;
    // The last attempt is also `outbound`, which alone keeps the debug bundle.
    let debug = std::mem::take(&mut b.report.debug);
    report.tried.push(b.report.clone());
    b.report.debug = debug;
    report.tried.append(&mut undialled);
    report.outbound = b.report;
    tell("DONE");
    report
}

/// Applies one SIP event to a leg; true when its media changed.
fn on_event(leg: &mut Leg, ev: CallEvent, settings: &MediaSettings, seed: u64, at_ms: u64) -> bool {
    let CallEvent::Dialog(ev) = ev else {
        if let CallEvent::FinalResponse { status, .. } = ev {
            if !leg.report.answered {
                leg.report.sip_status = Some(status);
            }
        }
        return false;
    };
    match *ev {
        DialogEvent::Confirmed { agreed, .. } => {
            leg.report.answered = true;
            leg.report.sip_status.get_or_insert(200);
            leg.start(&agreed, settings, seed, at_ms);
            true
        }
        DialogEvent::MediaChanged { agreed, .. } => {
            leg.start(&agreed, settings, seed, at_ms);
            true
        }
        DialogEvent::ReinviteOffered { offer, .. } => {
            let t38 = offers_t38(&offer);
            if let Some(h) = &leg.handle {
                if t38 && leg.t38 == T38Mode::Off {
                    h.reject_offer(488);
                } else {
                    h.accept_offer(Some(leg.policy()));
                }
            }
            false
        }
        DialogEvent::Terminated { reason, .. } => {
            leg.terminated(&reason);
            false
        }
        _ => false,
    }
}

async fn next(handle: Option<&mut CallHandle>) -> Option<CallEvent> {
    match handle {
        Some(h) => h.next().await,
        None => std::future::pending().await,
    }
}

async fn tick_clock(clock: &mut Option<MediaClock>) -> std::time::Instant {
    match clock {
        Some(c) => c.tick().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<TokioInstant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
