//! What the SIP side tells a call: final responses, Reason headers, dialog events.

use super::*;
use crate::call::report::SessionRefresh;

impl Session {
    pub(super) fn on_event(&mut self, ev: CallEvent) -> Flow {
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
            CallEvent::Routed { peer } => {
                let transport = format!("{:?}", peer.transport).to_lowercase();
                self.report.next_hop = Some(format!("{transport}:{}", peer.addr));
                Flow::Go
            }
            CallEvent::Dialog(ev) => self.on_dialog(*ev),
        }
    }

    pub(super) fn add_reasons(&mut self, reasons: Vec<String>) {
        if let Some(q850) = q850_cause(&reasons) {
            self.report.q850_cause = Some(u16::from(q850.cause));
        }
        self.report.reason_headers.extend(reasons);
    }

    pub(super) fn on_dialog(&mut self, ev: DialogEvent) -> Flow {
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
            DialogEvent::Refreshed { ours, .. } => {
                self.report.session_refreshes += 1;
                self.report.refreshes.push(SessionRefresh {
                    at_ms: self.now_ms(),
                    by: if ours { Party::Local } else { Party::Remote },
                });
                Flow::Go
            }
            DialogEvent::Terminated { reason, .. } => {
                self.on_terminated(reason);
                Flow::Stop
            }
            DialogEvent::Incoming { .. } | DialogEvent::Redirected { .. } => Flow::Go,
        }
    }

    pub(super) fn on_terminated(&mut self, reason: EndReason) {
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
}
