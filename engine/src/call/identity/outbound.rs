//! The identity we present on an outgoing INVITE, per gateway: how numbers are written, the
//! domain of From (the realm, which is not the next hop), the display name, and the
//! network-asserted identity headers a carrier may require.
//!
//! A caller who asks not to be identified gets the RFC 3323 §4.1.1.3 anonymous From and
//! `Privacy: id` (RFC 3325 §7); the real identity still goes in P-Asserted-Identity (and
//! Remote-Party-ID with `privacy=full`) when the gateway takes them, because carriers need
//! it for billing and emergency calls and remove it before the call leaves their network.

use serde::{Deserialize, Serialize};
use sip::msg::{HeaderName, Host, NameAddr, SipUri, Uri};
use sip::transaction::Peer;
use store::NumberRules;

use super::tidy_number;
use crate::call::session::OutgoingCall;

/// How a telephone number is written toward a gateway.
///
/// Numbers outside the plan's country keep working in the national forms: they are written
/// behind the plan's international prefix (`011442071234567`), or in E.164 if it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// `+15551234567`.
    #[default]
    E164,
    /// The national significant number: `5551234567`.
    National,
    /// The national number behind the trunk prefix: `15551234567`.
    NationalWithTrunkPrefix,
}

/// Writes `number` in `format` under `rules`; what does not normalise (an extension, a
/// name) is passed through without visual separators.
pub fn format_number(number: &str, format: NumberFormat, rules: &NumberRules) -> String {
    let Ok(e164) = rules.normalize(number) else {
        return tidy_number(number).unwrap_or_default();
    };
    let digits = e164.as_str().trim_start_matches('+');
    let national = digits
        .strip_prefix(rules.country_code.as_str())
        .filter(|n| n.len() == rules.national_digits);
    match (format, national) {
        (NumberFormat::E164, _) => e164.to_string(),
        (NumberFormat::National, Some(n)) => n.to_owned(),
        (NumberFormat::NationalWithTrunkPrefix, Some(n)) => {
            format!("{}{n}", rules.trunk_prefix.as_deref().unwrap_or(""))
        }
        (_, None) => match rules.international_prefix.as_deref() {
            Some(prefix) => format!("{prefix}{digits}"),
            None => e164.to_string(),
        },
    }
}

/// Why an outgoing call's identity could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The callee number is empty.
    #[error("no callee number")]
    NoCallee,
    /// The configured from-domain is not a host name or address.
    #[error("from-domain is not a host name or address: {0:?}")]
    BadDomain(String),
}

/// Our side of an outgoing call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboundCaller<'a> {
    /// Our number (the sending tenant's), in E.164 or as the plan writes it; empty for none.
    pub number: &'a str,
    /// The name to show, if any.
    pub name: Option<&'a str>,
    /// The caller asked not to be identified.
    pub withheld: bool,
}

/// How one gateway wants our identity presented.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayIdentity {
    /// How our number is written in From, P-Asserted-Identity and Remote-Party-ID.
    pub from_format: NumberFormat,
    /// How the callee is written in the Request-URI and To.
    pub to_format: NumberFormat,
    /// The numbering plan behind the national formats.
    pub rules: NumberRules,
    /// Host of From and of the asserted identities (the realm); the gateway's host if `None`.
    pub from_domain: Option<String>,
    /// Display name; the caller's own name if `None`.
    pub display_name: Option<String>,
    /// Send P-Asserted-Identity (RFC 3325 §9.1).
    pub p_asserted_identity: bool,
    /// Send Remote-Party-ID (draft-ietf-sip-privacy-04), which older carriers read instead.
    pub remote_party_id: bool,
    /// Mark telephone numbers with `;user=phone` (RFC 3261 §19.1.1).
    pub user_phone: bool,
}

impl GatewayIdentity {
    /// The call to `callee` through the gateway at `gateway` (its host, port and URI
    /// parameters), sent to `next_hop`, which may be an outbound proxy: the next hop never
    /// leaks into From or the Request-URI.
    pub fn outgoing_call(
        &self,
        caller: &OutboundCaller<'_>,
        callee: &str,
        gateway: &SipUri,
        next_hop: Peer,
    ) -> Result<OutgoingCall, IdentityError> {
        let callee = format_number(callee, self.to_format, &self.rules);
        if callee.is_empty() {
            return Err(IdentityError::NoCallee);
        }
        let mut target = gateway.clone();
        target.user = Some(escape_user(&callee));
        target.password = None;
        target.headers.clear();
        let mut to = SipUri::new(target.user.as_deref(), target.host.clone());
        to.secure = target.secure;
        to.port = target.port;
        if self.user_phone && is_phone(&callee) {
            target.params.set("user", Some("phone"));
            to.params.set("user", Some("phone"));
        }

        let host = match &self.from_domain {
            Some(d) => Host::parse(d.trim()).map_err(|_| IdentityError::BadDomain(d.clone()))?,
            None => gateway.host.clone(),
        };
        let number = format_number(caller.number, self.from_format, &self.rules);
        let name = self
            .display_name
            .as_deref()
            .or(caller.name)
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let identity = (!number.is_empty()).then(|| self.address(&number, &host, name));

        let mut headers = Vec::new();
        if let Some(id) = &identity {
            if self.p_asserted_identity {
                headers.push((HeaderName::PAssertedIdentity, id.to_string()));
            }
            if self.remote_party_id {
                let mut rpid = id.clone();
                rpid.params.set("party", Some("calling"));
                rpid.params.set("screen", Some("yes"));
                let privacy = if caller.withheld { "full" } else { "off" };
                rpid.params.set("privacy", Some(privacy));
                headers.push((HeaderName::RemotePartyId, rpid.to_string()));
            }
        }
        if caller.withheld {
            headers.push((HeaderName::Privacy, "id".to_owned()));
        }
        let from = match identity {
            Some(id) if !caller.withheld => id,
            _ => anonymous(),
        };
        Ok(OutgoingCall {
            target: Uri::Sip(target),
            from,
            to: NameAddr::new(Uri::Sip(to)),
            peer: next_hop,
            credentials: None,
            headers,
        })
    }

    fn address(&self, number: &str, host: &Host, name: Option<&str>) -> NameAddr {
        let mut uri = SipUri::new(Some(&escape_user(number)), host.clone());
        if self.user_phone && is_phone(number) {
            uri.params.set("user", Some("phone"));
        }
        let mut addr = NameAddr::new(Uri::Sip(uri));
        addr.display_name = name.map(str::to_owned);
        addr
    }
}

/// `"Anonymous" <sip:anonymous@anonymous.invalid>`, RFC 3323 §4.1.1.3.
fn anonymous() -> NameAddr {
    let uri = SipUri::new(
        Some("anonymous"),
        Host::Domain("anonymous.invalid".to_owned()),
    );
    let mut addr = NameAddr::new(Uri::Sip(uri));
    addr.display_name = Some("Anonymous".to_owned());
    addr
}

fn is_phone(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_digit() || "+*#".contains(c))
}

/// Escapes what a URI user part may not hold (RFC 3261 §25.1); `;` and `?` too, which the
/// grammar allows but which would read as user parameters or URI headers.
fn escape_user(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
