//! One call's events on the bus, from its progress reports: created (once the INVITE is out
//! with its Call-ID, or at once for an incoming call), answered, media, negotiated, each
//! page, and ended with the call's report. A call that ends before reporting anything still gets a
//! created event before its end, so listeners never see an end without a start.

use crate::call::{CallReport, Progress};
use crate::events::{CallInfo, EngineEvent};

use super::calls::Events;

/// Publishes one call's events.
pub(super) struct CallEvents {
    events: Events,
    info: CallInfo,
    created: bool,
}

impl CallEvents {
    /// A call whose SIP Call-ID is not known yet (outgoing: it comes with the INVITE).
    pub(super) fn pending(events: &Events, info: CallInfo) -> Self {
        CallEvents {
            events: events.clone(),
            info,
            created: false,
        }
    }

    /// A call that exists already (incoming): its created event goes out now.
    pub(super) fn created(events: &Events, info: CallInfo) -> Self {
        let mut c = Self::pending(events, info);
        c.create();
        c
    }

    fn create(&mut self) {
        if !self.created {
            self.created = true;
            self.events.publish(EngineEvent::CallCreated {
                call: self.info.clone(),
            });
        }
    }

    /// Publishes what `p` reports; `page_offset` turns the call's page numbers into the
    /// document's (a call that resumes after confirmed pages starts its count at 1).
    pub(super) fn progress(&mut self, p: &Progress, page_offset: u32) {
        if let Progress::Placed { call_id } = p {
            self.info.sip_call_id.clone_from(call_id);
            // The job's span (see worker.rs) declared the field empty until now.
            tracing::Span::current().record("call_id", call_id.as_str());
        }
        // Whatever comes first announces the call (a dialer may not report the INVITE).
        self.create();
        match p {
            Progress::Answered => {
                self.events.publish(EngineEvent::CallAnswered {
                    call: self.info.clone(),
                });
            }
            Progress::Negotiated {
                bit_rate,
                ecm,
                remote_ident,
            } => self.events.publish(EngineEvent::FaxNegotiated {
                call: self.info.clone(),
                bit_rate: *bit_rate,
                ecm: *ecm,
                remote_ident: remote_ident.clone(),
            }),
            Progress::Page(page) => {
                let mut page = page.clone();
                page.page += page_offset;
                self.events.publish(EngineEvent::FaxPage {
                    call: self.info.clone(),
                    page,
                });
            }
            // Live views (active calls by media) learn it here rather than at the first page.
            Progress::Media(media) => self.events.publish(EngineEvent::CallMedia {
                call: self.info.clone(),
                media: media.clone(),
            }),
            Progress::Placed { .. } | Progress::Ringing | Progress::T38(_) => {}
        }
    }

    /// Publishes the end of the call. The event carries the report without its debug
    /// bundle (SIP ladder, T.30 trace, pcap): that goes to the store only, and would make
    /// every subscriber copy megabytes.
    pub(super) fn ended(mut self, report: &mut CallReport) {
        if self.info.sip_call_id.is_empty() {
            self.info.sip_call_id.clone_from(&report.call_id);
        }
        self.create();
        let debug = std::mem::take(&mut report.debug);
        let published = Box::new(report.clone());
        report.debug = debug;
        self.events.publish(EngineEvent::CallEnded {
            call: self.info,
            report: published,
        });
    }
}
