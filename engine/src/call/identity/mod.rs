//! Who is calling whom: the numbers of an incoming INVITE, the identity we present on an
//! outgoing one, and the real source of a call that a trusted SIP proxy relays.
//!
//! Everything here is a pure function of a parsed request and a small per-gateway config,
//! so it can be table-tested without a network; the agent only calls [`resolve_source`] on
//! each INVITE, and the code that knows the gateway applies [`InboundIdentity`] or
//! [`GatewayIdentity`].
//!
//! Numbers are returned as written (`061963177`, `+15551234567`), minus URI escapes, user
//! parameters and visual separators: turning them into E.164 needs the gateway's numbering
//! plan, which is [`store::NumberRules`]' job.

mod inbound;
mod outbound;
mod source;

pub use inbound::{
    called_number, caller, CalledFrom, CalledNumber, Caller, CallerSource, InboundIdentity,
    InboundParties,
};
pub use outbound::{format_number, GatewayIdentity, IdentityError, NumberFormat, OutboundCaller};
pub use source::{resolve_source, CallSource};

use sip::msg::{unescape, Uri};

/// The telephone number (or other user) a URI names, if it names one.
///
/// `sip:` users lose their escapes and telephone-subscriber parameters (`;npdi`, `;rn=`,
/// RFC 4694; `;phone-context=`, RFC 3966); `tel:` numbers lose their parameters. Visual
/// separators are dropped only when what remains is a number, so `alice.smith` survives.
fn uri_number(uri: &Uri) -> Option<String> {
    let raw = match uri {
        Uri::Sip(u) => {
            let user = u.user.as_deref()?;
            let user = String::from_utf8_lossy(&unescape(user)).into_owned();
            user.split(';').next().unwrap_or_default().to_owned()
        }
        Uri::Tel(t) => t.number.clone(),
        Uri::Other(_) => return None,
    };
    tidy_number(&raw)
}

/// Drops visual separators (RFC 3966 §5.1.1) from something that is a phone number, keeps
/// anything else as it is; `None` when nothing is left.
fn tidy_number(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let phone_like = raw.chars().any(|c| c.is_ascii_digit())
        && raw
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || "*#-.() ".contains(c) || (c == '+' && i == 0));
    let out: String = if phone_like {
        raw.chars()
            .filter(|c| c.is_ascii_digit() || "+*#".contains(*c))
            .collect()
    } else {
        raw.to_owned()
    };
    (!out.is_empty()).then_some(out)
}
