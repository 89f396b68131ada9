//! The outbound leg's targets, dialled in order: while the caller is still ringing, a leg
//! that fails before answer gives way to the next target.

use std::collections::VecDeque;

use sip::dialog::{CallParams, MediaConfig};
use sip::sdp::SessionDescription;

use super::{bind, mirror_offer, Leg, LegReport};
use crate::call::{MediaSettings, OutgoingCall, SipAgent, T38Mode};

/// One outbound target of a bridge.
#[derive(Debug, Clone)]
pub struct BridgeTarget {
    /// The call to place.
    pub call: OutgoingCall,
    /// T.38 on a leg to this target; `None` takes the bridge's `outbound_t38`.
    pub t38: Option<T38Mode>,
}

impl From<OutgoingCall> for BridgeTarget {
    fn from(call: OutgoingCall) -> Self {
        BridgeTarget { call, t38: None }
    }
}

/// The targets not dialled yet and how to dial them.
pub(super) struct Targets {
    queue: VecDeque<BridgeTarget>,
    /// The caller's offer, mirrored in each INVITE.
    offer: Option<SessionDescription>,
    t38: T38Mode,
    /// Record each leg's media as a pcap.
    pcap: bool,
    /// Why the last target could not be dialled, when it could not.
    pub(super) dial_error: Option<String>,
}

impl Targets {
    pub(super) fn new(
        targets: Vec<BridgeTarget>,
        offer: Option<SessionDescription>,
        t38: T38Mode,
        pcap: bool,
    ) -> Targets {
        Targets {
            queue: targets.into(),
            offer,
            t38,
            pcap,
            dial_error: None,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// A leg to the next target whose INVITE could be sent, each one that could not
    /// recorded in `tried`; `None` when none is left.
    pub(super) async fn dial(
        &mut self,
        agent: &SipAgent,
        settings: &MediaSettings,
        tried: &mut Vec<LegReport>,
    ) -> Option<Leg> {
        while let Some(BridgeTarget { call, t38 }) = self.queue.pop_front() {
            let target = call.target.to_string();
            // A fresh port per attempt: a failed callee's stray packets must not reach the
            // next one's stream.
            let socket = match bind(settings) {
                Ok(s) => s,
                Err(e) => {
                    self.failed(target, format!("no media port: {e}"), tried);
                    continue;
                }
            };
            let t38 = t38.unwrap_or(self.t38);
            let mut leg = Leg::new(t38, socket, self.pcap);
            leg.report.target = target;
            let params = CallParams {
                target: call.target,
                from: call.from,
                to: call.to,
                peer: call.peer,
                media: MediaConfig {
                    caps: settings.capabilities(leg.port()),
                    policy: leg.policy(),
                    offer: mirror_offer(self.offer.as_ref(), t38),
                },
                delayed_offer: false,
                credentials: call.credentials,
                headers: call.headers,
            };
            match agent.invite(params).await {
                Ok(h) => {
                    self.dial_error = None;
                    leg.report.call_id = h.call_id().to_owned();
                    leg.handle = Some(h);
                    return Some(leg);
                }
                Err(e) => self.failed(leg.report.target, e.to_string(), tried),
            }
        }
        None
    }

    fn failed(&mut self, target: String, error: String, tried: &mut Vec<LegReport>) {
        tracing::info!(%target, %error, "bridge: could not dial the outbound leg");
        tried.push(LegReport {
            target,
            sip_end: format!("not dialled: {error}"),
            ..LegReport::default()
        });
        self.dial_error = Some(error);
    }
}
