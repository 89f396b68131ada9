//! What a call leaves for its debug bundle: the SIP ladder of the leg, SpanDSP's T.30
//! trace and, when asked for, a pcap of its media. A carrier's support desk asks for
//! exactly these when a fax fails.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sip::msg::{HeaderName, Message, Method};
use sip::transaction::{Peer, Transport};
use tokio::sync::Notify;

/// Most SIP messages kept per leg; a call that loops on re-INVITEs keeps its start.
pub const MAX_SIP_MESSAGES: usize = 500;
/// Most T.30 trace lines kept per leg.
pub const MAX_T30_LINES: usize = 5_000;
/// Most pcap octets kept per leg (about 20 minutes of G.711 both ways).
pub const MAX_PCAP_BYTES: usize = 32 * 1024 * 1024;
/// How long a finished leg waits for the answer to its BYE to reach its ladder.
pub(crate) const SIP_SETTLE_WAIT: Duration = Duration::from_secs(1);

/// The debug material of one call leg.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDebug {
    /// Every SIP message of the leg, sent or received, in order.
    pub sip: Vec<SipTrace>,
    /// SpanDSP's protocol-level log of the leg, in order.
    pub t30: Vec<T30Trace>,
    /// A classic pcap of the leg's RTP/UDPTL, when capture was enabled.
    #[serde(skip)]
    pub pcap: Option<Vec<u8>>,
    /// True when a limit above cut something off.
    pub truncated: bool,
}

/// One SIP message on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipTrace {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub unix_ms: i64,
    /// True for a message we sent, false for one we received.
    pub sent: bool,
    /// The far address (`ip:port`).
    pub peer: String,
    /// `udp` or `tcp`.
    pub transport: String,
    /// The whole message as on the wire (lossy UTF-8).
    pub text: String,
}

/// One line of SpanDSP's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct T30Trace {
    /// Media time since the call started, in ms.
    pub at_ms: u64,
    /// SpanDSP's severity (`error`, `protocol-error`, `protocol-warning`, `flow`, …).
    pub level: String,
    /// The message.
    pub text: String,
}

impl CallDebug {
    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.sip.is_empty() && self.t30.is_empty() && self.pcap.is_none()
    }

    /// Takes SpanDSP's captured lines.
    pub(crate) fn add_t30(&mut self, capture: spandsp::log::Capture) {
        let (lines, truncated) = capture.into_lines();
        self.truncated |= truncated;
        self.t30.extend(lines.into_iter().map(|l| T30Trace {
            at_ms: l.at_ms,
            level: l.level.to_owned(),
            text: l.text,
        }));
    }
}

#[derive(Debug, Default)]
struct Ladder {
    messages: Vec<SipTrace>,
    truncated: bool,
}

impl Ladder {
    /// True while the last BYE or CANCEL we sent has no final response recorded after it.
    fn awaits_answer(&self) -> bool {
        let Some(at) = self
            .messages
            .iter()
            .rposition(|m| m.sent && (m.text.starts_with("BYE ") || m.text.starts_with("CANCEL ")))
        else {
            return false;
        };
        let method = if self.messages[at].text.starts_with("BYE ") {
            "BYE"
        } else {
            "CANCEL"
        };
        !self.messages[at + 1..].iter().any(|m| {
            !m.sent
                && m.text.starts_with("SIP/2.0 ")
                && !m.text.starts_with("SIP/2.0 1")
                && m.text.lines().any(|l| {
                    l.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("cseq:"))
                        && l.trim_end().ends_with(method)
                })
        })
    }
}

/// The SIP ladder of one call as the agent records it, shared with the call's handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct SipTap {
    ladder: Arc<Mutex<Ladder>>,
    grew: Arc<Notify>,
}

impl SipTap {
    fn record(&self, sent: bool, peer: &Peer, bytes: &[u8]) {
        self.push(sent, peer, bytes);
        self.grew.notify_waiters();
    }

    fn push(&self, sent: bool, peer: &Peer, bytes: &[u8]) {
        let Ok(mut ladder) = self.ladder.lock() else {
            return;
        };
        if ladder.messages.len() >= MAX_SIP_MESSAGES {
            ladder.truncated = true;
            return;
        }
        ladder.messages.push(SipTrace {
            unix_ms: unix_ms(),
            sent,
            peer: peer.addr.to_string(),
            transport: transport_name(peer.transport).to_owned(),
            text: String::from_utf8_lossy(bytes).into_owned(),
        });
    }

    /// The messages so far and whether some were dropped.
    pub(crate) fn snapshot(&self) -> (Vec<SipTrace>, bool) {
        match self.ladder.lock() {
            Ok(l) => (l.messages.clone(), l.truncated),
            Err(_) => (Vec::new(), false),
        }
    }

    /// Waits (at most `limit`) for the answer to the BYE or CANCEL we sent last: the dialog
    /// ends when our BYE leaves, but the ladder should show how the far end took it.
    pub(crate) async fn settled(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let grew = self.grew.notified();
            tokio::pin!(grew);
            grew.as_mut().enable();
            let waiting = self.ladder.lock().is_ok_and(|l| l.awaits_answer());
            if !waiting || tokio::time::timeout_at(deadline, grew).await.is_err() {
                return;
            }
        }
    }
}

/// The agent's taps, by Call-ID: one hash lookup per SIP message, nothing per media packet.
#[derive(Debug, Default)]
pub(crate) struct SipTaps {
    by_call_id: HashMap<String, SipTap>,
    /// An initial INVITE tapped before any call took it (see [`SipTaps::settle`]).
    fresh: Option<String>,
}

impl SipTaps {
    /// The tap of `call_id`, opened now unless a received INVITE opened it already.
    pub(crate) fn open(&mut self, call_id: &str) -> SipTap {
        if self.fresh.as_deref() == Some(call_id) {
            self.fresh = None;
        }
        self.by_call_id
            .entry(call_id.to_owned())
            .or_default()
            .clone()
    }

    /// Stops tapping `call_id`.
    pub(crate) fn close(&mut self, call_id: &str) {
        self.by_call_id.remove(call_id);
    }

    /// Records a message we received, `raw` being its bytes as they arrived. An initial INVITE
    /// opens a tap at once, because the answers to it (100 Trying) may leave before the call
    /// exists.
    pub(crate) fn received(&mut self, message: &Message, raw: &[u8], peer: &Peer) {
        let Some(call_id) = call_id_of(message) else {
            return;
        };
        if let Some(tap) = self.by_call_id.get(call_id) {
            tap.record(false, peer, raw);
            return;
        }
        if let Message::Request(req) = message {
            let initial =
                req.method == Method::Invite && req.headers.to().is_ok_and(|to| to.tag().is_none());
            if initial {
                let tap = SipTap::default();
                tap.record(false, peer, raw);
                self.by_call_id.insert(call_id.to_owned(), tap);
                self.fresh = Some(call_id.to_owned());
            }
        }
    }

    /// Records a message we sent (or tried to) to `peer`.
    pub(crate) fn sent(&self, message: &Message, peer: &Peer) {
        if let Some(tap) = call_id_of(message).and_then(|id| self.by_call_id.get(id)) {
            // What we send is exactly this serialisation.
            tap.record(true, peer, &message.to_bytes());
        }
    }

    /// Drops the tap a received INVITE opened if no call took it (refused, or malformed).
    pub(crate) fn settle(&mut self) {
        if let Some(id) = self.fresh.take() {
            self.by_call_id.remove(&id);
        }
    }

    /// Taps open now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_call_id.len()
    }
}

fn call_id_of(message: &Message) -> Option<&str> {
    let headers = match message {
        Message::Request(r) => &r.headers,
        Message::Response(r) => &r.headers,
    };
    headers.get(&HeaderName::CallId).map(str::trim)
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(start: &str, to_tag: &str, cseq: &str) -> String {
        format!(
            "{start}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\n\
             From: <sip:a@192.0.2.1>;tag=f\r\nTo: <sip:b@192.0.2.2>{to_tag}\r\n\
             Call-ID: c1\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
        )
    }

    fn msg(start: &str, to_tag: &str, cseq: &str) -> Message {
        sip::msg::parse_datagram(text(start, to_tag, cseq).as_bytes()).unwrap()
    }

    /// Hands `taps` a received message as it came off the wire.
    fn receive(taps: &mut SipTaps, start: &str, to_tag: &str, cseq: &str) {
        let raw = text(start, to_tag, cseq);
        taps.received(&msg(start, to_tag, cseq), raw.as_bytes(), &peer());
    }

    fn peer() -> Peer {
        Peer {
            addr: "192.0.2.2:5060".parse().unwrap(),
            transport: Transport::Udp,
        }
    }

    #[test]
    fn an_initial_invite_no_call_takes_is_dropped() {
        let mut taps = SipTaps::default();
        receive(&mut taps, "INVITE sip:b@192.0.2.2 SIP/2.0", "", "1 INVITE");
        assert_eq!(taps.len(), 1);
        taps.settle();
        assert_eq!(taps.len(), 0);
        // An in-dialog request of an unknown call opens nothing.
        receive(&mut taps, "BYE sip:b@192.0.2.2 SIP/2.0", ";tag=t", "2 BYE");
        assert_eq!(taps.len(), 0);
    }

    #[test]
    fn a_call_keeps_the_invite_that_arrived_before_it() {
        let mut taps = SipTaps::default();
        receive(&mut taps, "INVITE sip:b@192.0.2.2 SIP/2.0", "", "1 INVITE");
        let tap = taps.open("c1");
        taps.settle();
        taps.sent(&msg("SIP/2.0 180 Ringing", ";tag=t", "1 INVITE"), &peer());
        let (ladder, truncated) = tap.snapshot();
        assert!(!truncated);
        let lines: Vec<(bool, &str)> = ladder
            .iter()
            .map(|m| (m.sent, m.text.lines().next().unwrap()))
            .collect();
        assert_eq!(
            lines,
            [
                (false, "INVITE sip:b@192.0.2.2 SIP/2.0"),
                (true, "SIP/2.0 180 Ringing")
            ]
        );
        assert_eq!(ladder[0].peer, "192.0.2.2:5060");
        assert_eq!(ladder[0].transport, "udp");
        taps.close("c1");
        assert_eq!(taps.len(), 0);
    }

    #[test]
    fn the_ladder_shows_a_received_message_as_it_arrived() {
        // Compact header names, odd spacing and lower-case names: a re-serialisation would
        // tidy all three and hide what the peer sent.
        let wire =
            "INVITE sip:b@192.0.2.2 SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\n\
                    f:<sip:a@192.0.2.1>;tag=f\r\nt:   <sip:b@192.0.2.2>\r\ni: c1\r\n\
                    cseq: 1 INVITE\r\nl: 0\r\n\r\n";
        let message = sip::msg::parse_datagram(wire.as_bytes()).unwrap();
        assert_ne!(
            message.to_bytes(),
            wire.as_bytes(),
            "the test needs a message that re-serialises differently"
        );
        let mut taps = SipTaps::default();
        taps.received(&message, wire.as_bytes(), &peer());
        let tap = taps.open("c1");
        let (ladder, _) = tap.snapshot();
        assert_eq!(ladder.len(), 1);
        assert_eq!(ladder[0].text, wire);
    }

    #[tokio::test]
    async fn settled_waits_for_the_answer_to_our_bye() {
        let mut taps = SipTaps::default();
        let tap = taps.open("c1");
        taps.sent(
            &msg("BYE sip:b@192.0.2.2 SIP/2.0", ";tag=t", "2 BYE"),
            &peer(),
        );
        assert!(tap.ladder.lock().unwrap().awaits_answer());
        let waiting = tokio::spawn({
            let tap = tap.clone();
            async move { tap.settled(Duration::from_secs(30)).await }
        });
        receive(&mut taps, "SIP/2.0 200 OK", ";tag=t", "2 BYE");
        waiting.await.unwrap();
        assert!(!tap.ladder.lock().unwrap().awaits_answer());
        assert_eq!(tap.snapshot().0.len(), 2);
    }
}
