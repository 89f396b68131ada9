//! The numbers of an incoming INVITE: the called number from the header the gateway's
//! config names, and the caller from a network-asserted identity when the source is trusted.
//!
//! Decisions, with their references:
//!
//! - **Diversion** (RFC 5806): proxies put the newest diversion on top, so the bottom-most
//!   readable entry is the number the sender dialled before any forwarding. gofaxserver took
//!   the top one; the two agree whenever the call was forwarded once.
//! - **History-Info** (RFC 7044 §10.3): the entry with the lowest `index` (`1` before `1.1`
//!   before `1.2`) is the root of the retargeting tree, the first target the call had;
//!   entries without a usable index count after indexed ones, in header order (entries are
//!   appended chronologically, §9.1). Both choices give the *original* called number.
//! - **P-Called-Party-ID** (RFC 3455 §4.2): its URI, as written.
//! - When the chosen header is absent or unreadable, the Request-URI user decides.
//! - **Caller**: P-Asserted-Identity (RFC 3325 §9.1), then Remote-Party-ID with
//!   `party=calling` or no `party` (draft-ietf-sip-privacy-04 §6), are believed only from a
//!   trusted source; otherwise From. Among several asserted identities (a `sip:` and a `tel:`
//!   one, §9.1) the first that holds a telephone number wins; a display name missing there is
//!   taken from From, which carriers fill with their calling-name lookup.
//! - **Privacy**: `id` (RFC 3325 §7), `user` or `header` (RFC 3323 §4.2), an anonymous From
//!   (RFC 3323 §4.1.1.3) and RPID `privacy=full|uri|name` withhold the number and/or the name.
//!   A withheld identity from a trusted source is kept for the record, as RFC 3325 lets the
//!   trust domain hold it (never to be shown: see [`Caller::presented_number`]); from an
//!   untrusted source it is dropped, since we have no standing to hold what the caller asked
//!   to hide. `unavailable`/`unknown` users mean "no number", not privacy.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sip::msg::{HeaderName, Headers, NameAddr, Request};

use super::uri_number;
use crate::call::acl::PeerAcl;
use crate::call::agent::IncomingCall;

/// Where the called number of an incoming call is read (a per-gateway setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalledFrom {
    /// The Request-URI user: where the call was routed to.
    #[default]
    RequestUri,
    /// The To header's URI: what the caller addressed, kept by some PBXes after routing.
    To,
    /// The original (bottom-most) Diversion entry, RFC 5806.
    Diversion,
    /// The root (lowest `index`) History-Info entry, RFC 7044.
    HistoryInfo,
    /// P-Called-Party-ID, RFC 3455.
    PCalledPartyId,
}

/// The called number and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalledNumber {
    /// The number as written (escapes, user parameters and visual separators removed).
    pub number: String,
    /// Where it came from: the configured place, or [`CalledFrom::RequestUri`] as fallback.
    pub from: CalledFrom,
}

/// The called number of `request`, read from `from` with the Request-URI as fallback;
/// `None` when neither names a user.
pub fn called_number(request: &Request, from: CalledFrom) -> Option<CalledNumber> {
    let h = &request.headers;
    let chosen = match from {
        CalledFrom::RequestUri => None,
        CalledFrom::To => h.get(&HeaderName::To).and_then(addr_number),
        CalledFrom::Diversion => h
            .list(&HeaderName::Diversion)
            .filter_map(addr_number)
            .last(),
        CalledFrom::HistoryInfo => history_root(h),
        CalledFrom::PCalledPartyId => h
            .get(&HeaderName::Other("P-Called-Party-ID".into()))
            .and_then(addr_number),
    };
    match chosen {
        Some(number) => Some(CalledNumber { number, from }),
        None => uri_number(&request.uri).map(|number| CalledNumber {
            number,
            from: CalledFrom::RequestUri,
        }),
    }
}

fn addr_number(value: &str) -> Option<String> {
    NameAddr::parse(value).ok().and_then(|a| uri_number(&a.uri))
}

fn history_root(h: &Headers) -> Option<String> {
    h.list(&HeaderName::HistoryInfo)
        .enumerate()
        .filter_map(|(pos, v)| {
            let a = NameAddr::parse(v).ok()?;
            let number = uri_number(&a.uri)?;
            let index = a.params.get("index").and_then(parse_index);
            Some(((index.is_none(), index, pos), number))
        })
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, number)| number)
}

/// `1.1.2` as `[1, 1, 2]`, which orders parents before children and siblings by number.
fn parse_index(s: &str) -> Option<Vec<u32>> {
    s.trim_matches('"')
        .split('.')
        .map(|p| p.parse::<u32>().ok())
        .collect()
}

/// Which header the caller's identity was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerSource {
    /// P-Asserted-Identity from a trusted source (RFC 3325).
    AssertedIdentity,
    /// Remote-Party-ID from a trusted source (draft-ietf-sip-privacy-04).
    RemotePartyId,
    /// From: what the caller says, unverified.
    From,
}

/// The calling party of an incoming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The number as written; `None` when unknown, or withheld by an untrusted source.
    pub number: Option<String>,
    /// The display name; `None` when absent, or withheld by an untrusted source.
    pub name: Option<String>,
    /// The caller asked that the number not be shown.
    pub number_withheld: bool,
    /// The caller asked that the name not be shown.
    pub name_withheld: bool,
    /// Where the identity was read.
    pub source: CallerSource,
}

impl Caller {
    /// The number to show to people (reports, e-mails, the called tenant); `None` if withheld.
    pub fn presented_number(&self) -> Option<&str> {
        self.number.as_deref().filter(|_| !self.number_withheld)
    }

    /// The name to show to people; `None` if withheld.
    pub fn presented_name(&self) -> Option<&str> {
        self.name.as_deref().filter(|_| !self.name_withheld)
    }
}

#[derive(Debug, Default)]
struct Party {
    number: Option<String>,
    name: Option<String>,
    number_withheld: bool,
    name_withheld: bool,
}

/// User parts and display names by which callers and networks say "withheld".
const WITHHELD: &[&str] = &["anonymous", "restricted", "private", "withheld"];
/// User parts and display names by which networks say "no number known".
const UNKNOWN: &[&str] = &["unavailable", "unknown"];

fn party_of(addr: &NameAddr) -> Party {
    let mut p = Party::default();
    let anonymous_host = addr.uri.as_sip().is_some_and(|u| {
        u.host
            .canonical()
            .trim_end_matches('.')
            .ends_with("anonymous.invalid")
    });
    match uri_number(&addr.uri) {
        Some(n) if anonymous_host || is_one_of(&n, WITHHELD) => p.number_withheld = true,
        Some(n) if is_one_of(&n, UNKNOWN) => {}
        Some(n) => p.number = Some(n),
        None if anonymous_host => p.number_withheld = true,
        None => {}
    }
    match addr.display_name.as_deref().map(str::trim) {
        Some(n) if is_one_of(n, WITHHELD) => p.name_withheld = true,
        Some(n) if n.is_empty() || is_one_of(n, UNKNOWN) => {}
        Some(n) => p.name = Some(n.to_owned()),
        None => {}
    }
    // An anonymous URI hides the caller, whatever the display name says.
    if p.number_withheld {
        p.name_withheld = true;
    }
    p
}

fn is_one_of(s: &str, words: &[&str]) -> bool {
    words.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// True when the number of a party is a telephone number (not `alice`).
fn is_phone_number(p: &Party) -> bool {
    p.number
        .as_deref()
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit() || "+*#".contains(c)))
}

fn asserted_identity(h: &Headers) -> Option<Party> {
    let parties: Vec<Party> = h
        .list(&HeaderName::PAssertedIdentity)
        .filter_map(|v| NameAddr::parse(v).ok())
        .map(|a| party_of(&a))
        .collect();
    let best = parties.iter().position(is_phone_number).unwrap_or(0);
    parties.into_iter().nth(best)
}

fn remote_party_id(h: &Headers) -> Option<Party> {
    h.list(&HeaderName::RemotePartyId)
        .filter_map(|v| NameAddr::parse(v).ok())
        .find(|a| {
            a.params
                .get("party")
                .is_none_or(|p| unquoted(p).eq_ignore_ascii_case("calling"))
        })
        .map(|a| {
            let mut p = party_of(&a);
            match a
                .params
                .get("privacy")
                .map(|v| unquoted(v).to_ascii_lowercase())
            {
                Some(v) if v == "full" => {
                    p.number_withheld = true;
                    p.name_withheld = true;
                }
                Some(v) if v == "uri" => p.number_withheld = true,
                Some(v) if v == "name" => p.name_withheld = true,
                _ => {}
            }
            p
        })
}

fn unquoted(v: &str) -> &str {
    v.trim_matches('"')
}

/// True when a `Privacy` header asks to hide the caller's identity (RFC 3323 §4.2,
/// RFC 3325 §7); `none`, `session` and `critical` alone do not.
fn privacy_requested(h: &Headers) -> bool {
    h.get_all(&HeaderName::Privacy)
        .flat_map(|v| v.split([';', ',']))
        .any(|v| is_one_of(v.trim(), &["id", "user", "header"]))
}

/// The caller of `request`; `trusted` says whether its (real) source belongs to our trust
/// domain, whose asserted identities we believe.
pub fn caller(request: &Request, trusted: bool) -> Caller {
    let h = &request.headers;
    let from = h
        .get(&HeaderName::From)
        .and_then(|v| NameAddr::parse(v).ok())
        .map(|a| party_of(&a))
        .unwrap_or_default();
    let asserted = if trusted {
        asserted_identity(h)
            .map(|p| (CallerSource::AssertedIdentity, p))
            .or_else(|| remote_party_id(h).map(|p| (CallerSource::RemotePartyId, p)))
    } else {
        None
    };
    // An anonymous From is the caller's own request for privacy (RFC 3323 §4.1.1.3).
    let hide = privacy_requested(h) || from.number_withheld;
    let (source, mut p) = match asserted {
        Some((source, mut p)) => {
            if p.name.is_none() && !from.name_withheld {
                p.name = from.name.clone();
            }
            (source, p)
        }
        None => (CallerSource::From, from),
    };
    if hide {
        p.number_withheld = true;
        p.name_withheld = true;
    }
    if !trusted {
        if p.number_withheld {
            p.number = None;
        }
        if p.name_withheld {
            p.name = None;
        }
    }
    Caller {
        number: p.number,
        name: p.name,
        number_withheld: p.number_withheld,
        name_withheld: p.name_withheld,
        source,
    }
}

/// How a gateway's incoming calls are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundIdentity {
    /// Where the called number is.
    pub called_from: CalledFrom,
    /// Real sources whose asserted identities we believe (our RFC 3325 trust domain).
    pub trusted: PeerAcl,
}

/// Both numbers of an incoming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundParties {
    /// The called number; `None` when no header nor the Request-URI names one.
    pub called: Option<CalledNumber>,
    /// The caller.
    pub caller: Caller,
}

impl InboundIdentity {
    /// The numbers of `request`, trusting its identity headers when `source` (the real
    /// source, after any trusted proxy) is trusted.
    pub fn parties(&self, request: &Request, source: IpAddr) -> InboundParties {
        InboundParties {
            called: called_number(request, self.called_from),
            caller: caller(request, self.trusted.admits(source)),
        }
    }
}

impl IncomingCall {
    /// The numbers of this call under `identity`, trust judged on its real source.
    pub fn parties(&self, identity: &InboundIdentity) -> InboundParties {
        identity.parties(&self.request, self.source)
    }
}
