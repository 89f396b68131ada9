//! The public vocabulary of the dialog layer: ids, configuration, call parameters, events.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::auth::{Credentials, DigestServer};
use crate::msg::{HeaderName, Host, Method, NameAddr, Request, StatusCode, UasPolicy, Uri};
use crate::sdp::{Agreed, Capabilities, OfferMedia, Policy, SessionDescription};
use crate::transaction::{Peer, TimerConfig};

/// Identifies one call (one INVITE session) in a [`DialogLayer`](super::DialogLayer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId(pub(crate) u64);

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dlg{}", self.0)
    }
}

/// Who we are on the wire: the sent-by of our Vias, our Contact and our product name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAgent {
    /// Via sent-by host (may be an advertised external address).
    pub host: Host,
    /// Via sent-by port.
    pub port: Option<u16>,
    /// Our Contact URI.
    pub contact: Uri,
    /// User-Agent in requests and Server in responses.
    pub user_agent: String,
}

/// How a session refresh is sent when we are the refresher (RFC 4028 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshMethod {
    /// UPDATE without a body when the peer allows UPDATE, else re-INVITE.
    Update,
    /// Always re-INVITE with our unchanged SDP.
    Reinvite,
}

/// Session timer settings (RFC 4028).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// The session interval we ask for in our INVITEs, in seconds (`None`: we ask for none
    /// but still honour the peer's).
    pub session_expires: Option<u32>,
    /// The smallest interval we accept (Min-SE), in seconds. RFC 4028 §4 sets 90 as the
    /// floor between independent peers; a lower value is honoured (closed networks, tests).
    pub min_se: u32,
    /// How we refresh.
    pub refresh: RefreshMethod,
}

impl Default for SessionTimerConfig {
    /// 1800 s asked, 90 s minimum, refresh by UPDATE where allowed.
    fn default() -> Self {
        SessionTimerConfig {
            session_expires: Some(1800),
            min_se: 90,
            refresh: RefreshMethod::Update,
        }
    }
}

/// Peers whose requests must carry digest credentials (RFC 3261 §22.4): their INVITEs
/// always, their in-dialog requests when `in_dialog` is set.
#[derive(Debug, Clone)]
pub struct InboundAuth {
    /// Issues and verifies the challenges.
    pub server: DigestServer,
    /// User name to password.
    pub users: HashMap<String, String>,
    /// Source addresses that must authenticate; empty means every source.
    pub peers: Vec<IpAddr>,
    /// Challenge with 407 and Proxy-Authenticate instead of 401 and WWW-Authenticate, for
    /// peers that only answer proxy challenges (we sit where their proxy would).
    pub proxy: bool,
    /// Also challenge BYE, re-INVITE, UPDATE, INFO and OPTIONS inside calls from these
    /// peers. ACK and CANCEL cannot be challenged (§22.1) and PRACK is not, since a
    /// challenged PRACK stalls the reliable 18x it acknowledges. Off by default: many
    /// gateways do not answer a challenge to a BYE.
    pub in_dialog: bool,
}

impl InboundAuth {
    /// Challenges INVITEs from every source with 401, in-dialog requests left alone.
    pub fn new(server: DigestServer, users: HashMap<String, String>) -> Self {
        InboundAuth {
            server,
            users,
            peers: Vec::new(),
            proxy: false,
            in_dialog: false,
        }
    }

    /// True when requests from `ip` must authenticate.
    pub fn applies_to(&self, ip: IpAddr) -> bool {
        self.peers.is_empty() || self.peers.contains(&ip)
    }
}

/// Settings of a [`DialogLayer`](super::DialogLayer).
#[derive(Debug, Clone)]
pub struct DialogConfig {
    /// Our identity on the wire.
    pub agent: LocalAgent,
    /// Timer bases: T1 paces reliable provisional responses (RFC 3262 §3).
    pub timers: TimerConfig,
    /// Session timers.
    pub session_timer: SessionTimerConfig,
    /// As UAS, send 18x reliably when the caller supports 100rel (always when it requires it).
    pub reliable_provisional: bool,
    /// As UAC, how many 3xx redirections one call follows.
    pub max_redirects: u8,
    /// Challenge inbound INVITEs from these peers.
    pub inbound_auth: Option<InboundAuth>,
    /// What we accept (methods, Require tags, bodies): the checks of RFC 3261 §8.2.
    pub uas_policy: UasPolicy,
}

impl DialogConfig {
    /// Defaults around `agent`: RFC timers, 1800 s sessions, no reliable 18x unless asked,
    /// five redirections, no inbound authentication, [`UasPolicy::default`].
    pub fn new(agent: LocalAgent) -> Self {
        DialogConfig {
            agent,
            timers: TimerConfig::default(),
            session_timer: SessionTimerConfig::default(),
            reliable_provisional: false,
            max_redirects: 5,
            inbound_auth: None,
            uas_policy: UasPolicy::default(),
        }
    }
}

/// The media side of one call: our addresses and formats, what we accept, and what we
/// offer when we must make the offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Addresses, ports and formats.
    pub caps: Capabilities,
    /// What we accept in offers.
    pub policy: Policy,
    /// What we offer in an INVITE, or in the 2xx to an INVITE without SDP.
    pub offer: OfferMedia,
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct CallParams {
    /// The Request-URI.
    pub target: Uri,
    /// Our address (From); the tag is added.
    pub from: NameAddr,
    /// The callee (To).
    pub to: NameAddr,
    /// Where to send the INVITE (the next hop).
    pub peer: Peer,
    /// Media.
    pub media: MediaConfig,
    /// Send the INVITE without SDP and take the offer from the 2xx (RFC 3261 §13.2.1).
    pub delayed_offer: bool,
    /// Credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// Extra headers (P-Asserted-Identity, Privacy, …).
    pub headers: Vec<(HeaderName, String)>,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// A BYE; `remote` when the far end sent it.
    Bye {
        /// True when the far end hung up.
        remote: bool,
    },
    /// Cancelled before it was answered (by either side).
    Cancel,
    /// The INVITE got this final response (or we answered with it).
    Rejected(StatusCode),
    /// No response, no ACK for our 2xx, or no PRACK for a reliable 18x.
    Timeout,
    /// RFC 4028: the session was not refreshed in time.
    SessionExpired,
    /// The answer (or offer) had no stream we can use.
    NoCommonMedia,
    /// A protocol or transport failure; the text says which.
    Error(&'static str),
}

/// What the dialog layer tells the application.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum DialogEvent {
    /// A new INVITE: answer with `ring`, `accept` or `reject`.
    Incoming {
        /// The call.
        id: DialogId,
        /// The INVITE.
        request: Box<Request>,
        /// Where it came from.
        peer: Peer,
        /// Its SDP offer; `None` for a delayed offer.
        offer: Option<SessionDescription>,
    },
    /// A provisional response created an early dialog (UAC).
    Early {
        /// The call.
        id: DialogId,
        /// The 18x code.
        status: StatusCode,
        /// Its SDP (early media answer), if any.
        remote_sdp: Option<SessionDescription>,
    },
    /// The call is up and the media agreed.
    Confirmed {
        /// The call.
        id: DialogId,
        /// The far end's SDP.
        remote_sdp: SessionDescription,
        /// The stream agreed on.
        agreed: Agreed,
    },
    /// The far end offers new media (re-INVITE or UPDATE): answer with `accept_offer` or
    /// `reject_offer`. Session refreshes with unchanged SDP are answered without this.
    ReinviteOffered {
        /// The call.
        id: DialogId,
        /// The offer.
        offer: SessionDescription,
        /// INVITE or UPDATE.
        method: Method,
    },
    /// A re-INVITE or UPDATE in either direction changed the media.
    MediaChanged {
        /// The call.
        id: DialogId,
        /// The far end's SDP.
        remote_sdp: SessionDescription,
        /// The stream now agreed on.
        agreed: Agreed,
    },
    /// An offer was refused; the dialog goes on with the media it had.
    ReinviteRejected {
        /// The call.
        id: DialogId,
        /// The final response (488, 606, …).
        code: StatusCode,
        /// True when our offer was refused, false when we refused theirs.
        ours: bool,
        /// The media still in use.
        media: Option<Agreed>,
    },
    /// A session refresh completed (RFC 4028); media is untouched.
    Refreshed {
        /// The call.
        id: DialogId,
        /// The session interval now in force, in seconds.
        interval: u32,
        /// True when we sent the refresh, false when the far end did.
        ours: bool,
    },
    /// A 3xx sent the INVITE to a new target.
    Redirected {
        /// The call.
        id: DialogId,
        /// The new Request-URI.
        target: Uri,
    },
    /// The call is over.
    Terminated {
        /// The call.
        id: DialogId,
        /// Why.
        reason: EndReason,
    },
}

/// Methods we accept, for Allow.
pub(crate) const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK, INFO";
/// Option tags we support, for Supported.
pub(crate) const SUPPORTED: &str = "100rel, timer";
/// RFC 3261 §8.1.1.6.
pub(crate) const MAX_FORWARDS: &str = "70";
/// How long an ended call is kept to re-ACK late 2xx retransmissions (64·T1).
pub(crate) const LINGER: Duration = Duration::from_secs(32);
