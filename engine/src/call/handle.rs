//! A call's end of the agent: the handle a call task drives its dialog with, and the
//! incoming call that carries one.

use std::net::IpAddr;

use sip::dialog::{DialogId, MediaConfig};
use sip::msg::Request;
use sip::sdp::{OfferMedia, Policy, SessionDescription};
use sip::transaction::Peer;
use tokio::sync::mpsc;

use super::agent::{CallEvent, Cmd};
use super::debug::{SipTap, SipTrace};
use super::doorbell::Doorbell;

/// A call offered to us by an admitted peer; answer it with
/// [`run_incoming`](super::run_incoming) or refuse it.
#[derive(Debug)]
pub struct IncomingCall {
    /// The INVITE.
    pub request: Box<Request>,
    /// Where it came from.
    pub peer: Peer,
    /// The real source the ACL admitted: the packet's source, or the one a trusted proxy
    /// named.
    pub source: IpAddr,
    /// The trusted proxy it came through, if any.
    pub proxy: Option<IpAddr>,
    /// Its SDP offer, if it had one.
    pub offer: Option<SessionDescription>,
    /// The call's handle.
    pub handle: CallHandle,
}

/// One call's end of the agent: commands out, events in.
#[derive(Debug)]
pub struct CallHandle {
    pub(crate) id: DialogId,
    pub(crate) call_id: String,
    pub(crate) cmd: mpsc::UnboundedSender<Cmd>,
    pub(crate) events: mpsc::UnboundedReceiver<CallEvent>,
    /// Rung by the agent after each event, once the session has joined a media shard.
    pub(crate) doorbell: Doorbell,
    pub(crate) sip: SipTap,
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        let call_id = std::mem::take(&mut self.call_id);
        let _ = self.cmd.send(Cmd::Drop(self.id, call_id));
    }
}

impl CallHandle {
    /// The SIP Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The SIP messages of this call so far, and whether some were dropped.
    pub fn sip_ladder(&self) -> (Vec<SipTrace>, bool) {
        self.sip.snapshot()
    }

    /// Waits, at most `limit`, for the far end's answer to our last BYE or CANCEL to reach
    /// the ladder.
    pub(crate) async fn sip_settled(&self, limit: std::time::Duration) {
        self.sip.settled(limit).await;
    }

    /// The next event; `None` when the agent has stopped.
    pub async fn next(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    /// Sends 180 Ringing.
    pub fn ring(&self) {
        let _ = self.cmd.send(Cmd::Ring(self.id));
    }

    /// Answers with 200 OK and `media`.
    pub fn accept(&self, media: MediaConfig) {
        let _ = self.cmd.send(Cmd::Accept(self.id, Box::new(media)));
    }

    /// Refuses the call with `status`.
    pub fn reject(&self, status: u16) {
        let _ = self.cmd.send(Cmd::Reject(self.id, status));
    }

    /// Hangs up (CANCEL while unanswered).
    pub fn bye(&self) {
        let _ = self.cmd.send(Cmd::Bye(self.id));
    }

    /// Offers new media in a re-INVITE.
    pub fn reinvite(&self, what: OfferMedia) {
        let _ = self.cmd.send(Cmd::Reinvite(self.id, what));
    }

    /// Answers the far end's re-INVITE offer.
    pub fn accept_offer(&self, policy: Option<Policy>) {
        let _ = self.cmd.send(Cmd::AcceptOffer(self.id, policy));
    }

    /// Refuses the far end's re-INVITE offer; the call keeps its media.
    pub fn reject_offer(&self, status: u16) {
        let _ = self.cmd.send(Cmd::RejectOffer(self.id, status));
    }
    /// Something that can still hang the call up once this handle is gone with a task
    /// that panicked.
    pub(crate) fn hangup_guard(&self) -> HangupGuard {
        HangupGuard {
            id: self.id,
            cmd: self.cmd.clone(),
        }
    }
}

/// Hangs a call up from outside its task (see [`CallHandle::hangup_guard`]).
#[derive(Debug)]
pub(crate) struct HangupGuard {
    id: DialogId,
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl HangupGuard {
    /// Sends BYE (or CANCEL while unanswered).
    pub(crate) fn bye(&self) {
        let _ = self.cmd.send(Cmd::Bye(self.id));
    }
}
