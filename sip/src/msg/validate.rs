//! What a UAS does with a request that parsed but may not be acceptable (RFC 3261 §8.2,
//! with the outcomes RFC 4475 §3 asks for), and when a UAC must drop a response (§8.1.3.3).
//!
//! [`check_request`] runs in this order, so that each request gets the most specific
//! answer:
//! 1. SIP version other than 2.0: 505 (RFC 4475 §3.1.2.16).
//! 2. Syntax of everything a response or the UA relies on: 400. Missing or repeated Via,
//!    From, To, Call-ID, CSeq (§3.3.1, §3.3.8), a branch that is only the magic cookie
//!    (§3.2.1, answered statelessly rather than falling back to RFC 2543 matching),
//!    overlarge CSeq or Max-Forwards (§3.1.2.4), headers in the Request-URI (§3.1.2.11),
//!    malformed From/To/Contact/Route (§3.1.2.1, .6, .13–.15), a Date not in GMT (§3.1.2.12),
//!    a body without Content-Type.
//! 3. Method: unknown 501, known but not allowed 405 with Allow (§8.2.1). This comes before
//!    the CSeq method check because RFC 4475 §3.1.2.18 prefers 501 for an unknown method
//!    with a mismatched CSeq.
//! 4. CSeq method different from the request method: 400 (§3.1.2.17).
//! 5. Max-Forwards 0 on a non-OPTIONS request: 483, only if the policy asks; an endpoint
//!    processes such requests (RFC 4475 §3.3.11).
//! 6. Request-URI scheme not supported: 416 (§3.3.2, §3.3.3).
//! 7. A REGISTER whose To is not a SIP/SIPS URI, when REGISTER is allowed: 400 (§3.3.4).
//! 8. Require with unknown option tags: 420 with Unsupported (§3.3.5; Proxy-Require is
//!    for proxies and ignored here; ACK and CANCEL are exempt, RFC 3261 §8.2.2.3).
//! 9. A body of a type or encoding not understood: 415 with Accept / Accept-Encoding
//!    (§3.3.6).
//! 10. An INVITE whose Accept excludes `application/sdp`: 406 (§3.3.15).

use super::headers::HeaderName;
use super::message::{Method, Request, Response, StatusCode, Version};
use super::name_addr::Contact;
use super::uri::Uri;
use super::via::MAGIC_COOKIE;
use crate::error::{Error, Result};

/// What the UAS supports, for [`check_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UasPolicy {
    /// Methods accepted; `None` accepts any method.
    pub allow: Option<Vec<Method>>,
    /// Request-URI schemes accepted, lower-case.
    pub schemes: Vec<String>,
    /// Option tags supported (for Require).
    pub supported: Vec<String>,
    /// Body types understood, lower-case `type/subtype`; `None` accepts any body.
    pub accept: Option<Vec<String>>,
    /// Answer 483 to a non-OPTIONS request with Max-Forwards 0, as a proxy would.
    pub reject_zero_max_forwards: bool,
}

impl Default for UasPolicy {
    /// faxserver as an endpoint: INVITE and what a call needs, SIP/SIPS/tel URIs,
    /// `100rel` and `timer` (a UAS meets `Require: 100rel` by sending no unreliable 18x), SDP
    /// bodies, possibly inside multipart/mixed as SIP-I/SIP-T carriers send them.
    fn default() -> Self {
        UasPolicy {
            allow: Some(vec![
                Method::Invite,
                Method::Ack,
                Method::Bye,
                Method::Cancel,
                Method::Options,
                Method::Update,
                Method::Prack,
                Method::Info,
            ]),
            schemes: vec!["sip".into(), "sips".into(), "tel".into()],
            supported: vec!["100rel".into(), "timer".into()],
            accept: Some(vec!["application/sdp".into(), "multipart/mixed".into()]),
            reject_zero_max_forwards: false,
        }
    }
}

impl UasPolicy {
    /// Any method and any body; only syntax, version, scheme and Require are checked.
    pub fn permissive() -> Self {
        UasPolicy {
            allow: None,
            accept: None,
            ..UasPolicy::default()
        }
    }
}

/// The response a UAS should send instead of processing a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase.
    pub reason: String,
    /// Headers the response must carry (Allow, Unsupported, Accept, …).
    pub headers: Vec<(HeaderName, String)>,
}

impl Rejection {
    fn new(status: StatusCode) -> Self {
        Rejection {
            status,
            reason: status.default_reason().to_owned(),
            headers: Vec::new(),
        }
    }

    fn bad_request(e: &Error) -> Self {
        // A Reason-Phrase may not hold every printable character (RFC 3261 §25.1).
        let text: String = e
            .to_string()
            .chars()
            .map(|c| {
                let ok = !c.is_ascii()
                    || c.is_ascii_alphanumeric()
                    || " ;/?:@&=+$,-_.!~*'()%".contains(c);
                if ok {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        let mut chars = text.chars();
        let reason = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => "Bad Request".to_owned(),
        };
        Rejection {
            reason,
            ..Rejection::new(StatusCode::BAD_REQUEST)
        }
    }

    fn with(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The response to send: [`Response::for_request`] plus the extra headers, with a To tag
    /// added when given.
    pub fn response(&self, req: &Request, to_tag: Option<&str>) -> Response {
        let mut resp = Response::for_request(req, self.status).with_reason(self.reason.clone());
        for (n, v) in &self.headers {
            resp.headers.push(n.clone(), v.clone());
        }
        if let Some(tag) = to_tag {
            resp.set_to_tag(tag);
        }
        resp
    }
}

/// Decides whether a UAS may process `req`, or which response it must send instead.
pub fn check_request(req: &Request, policy: &UasPolicy) -> Result<(), Rejection> {
    if req.version != Version::SIP_2_0 {
        return Err(Rejection::new(StatusCode::VERSION_NOT_SUPPORTED));
    }
    check_syntax(req).map_err(|e| Rejection::bad_request(&e))?;
    let h = &req.headers;
    if let Some(allow) = &policy.allow {
        if !allow.contains(&req.method) {
            if matches!(req.method, Method::Extension(_)) {
                return Err(Rejection::new(StatusCode::NOT_IMPLEMENTED));
            }
            let list: Vec<&str> = allow.iter().map(Method::as_str).collect();
            return Err(Rejection::new(StatusCode::METHOD_NOT_ALLOWED)
                .with(HeaderName::Allow, list.join(", ")));
        }
    }
    let cseq = h.cseq().map_err(|e| Rejection::bad_request(&e))?;
    if cseq.method != req.method {
        return Err(Rejection {
            reason: "CSeq method does not match the request method".into(),
            ..Rejection::new(StatusCode::BAD_REQUEST)
        });
    }
    if policy.reject_zero_max_forwards
        && req.method != Method::Options
        && h.max_forwards().ok().flatten() == Some(0)
    {
        return Err(Rejection::new(StatusCode::TOO_MANY_HOPS));
    }
    if !policy
        .schemes
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&req.uri.scheme()))
    {
        return Err(Rejection::new(StatusCode::UNSUPPORTED_URI_SCHEME));
    }
    if req.method == Method::Register {
        let to_is_sip = h.to().is_ok_and(|t| matches!(t.uri, Uri::Sip(_)));
        if !to_is_sip {
            return Err(Rejection {
                reason: "Address of record is not a SIP URI".into(),
                ..Rejection::new(StatusCode::BAD_REQUEST)
            });
        }
    }
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        let unknown: Vec<&str> = h
            .require()
            .into_iter()
            .filter(|t| !policy.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unknown.is_empty() {
            return Err(Rejection::new(StatusCode::BAD_EXTENSION)
                .with(HeaderName::Unsupported, unknown.join(", ")));
        }
    }
    check_body(req, policy)?;
    if req.method == Method::Invite {
        if let Some(ranges) = h.accept() {
            if !ranges.iter().any(|r| accepts_sdp(r)) {
                return Err(Rejection::new(StatusCode::NOT_ACCEPTABLE));
            }
        }
    }
    Ok(())
}

fn check_syntax(req: &Request) -> Result<()> {
    let h = &req.headers;
    let vias = h.vias()?;
    let top = vias.first().ok_or(Error::MissingHeader(HeaderName::Via))?;
    if top.branch() == Some(MAGIC_COOKIE) {
        return Err(Error::Header {
            name: HeaderName::Via,
            reason: "branch is only the magic cookie",
        });
    }
    h.from()?;
    h.to()?;
    h.call_id()?;
    h.cseq()?;
    h.max_forwards()?;
    if let Uri::Sip(u) = &req.uri {
        if !u.headers.is_empty() {
            return Err(Error::Uri("headers are not allowed in a Request-URI"));
        }
    }
    let contacts = h.contacts()?;
    if req.method != Method::Register && contacts.contains(&Contact::Wildcard) {
        return Err(Error::Header {
            name: HeaderName::Contact,
            reason: "* outside REGISTER",
        });
    }
    h.routes()?;
    h.record_routes()?;
    if let Some(d) = h.date() {
        if !is_rfc1123_gmt(d) {
            return Err(Error::Header {
                name: HeaderName::Date,
                reason: "not an RFC 1123 date in GMT",
            });
        }
    }
    if h.content_type()?.is_none() && !req.body.is_empty() {
        return Err(Error::MissingHeader(HeaderName::ContentType));
    }
    Ok(())
}

fn check_body(req: &Request, policy: &UasPolicy) -> Result<(), Rejection> {
    if req.body.is_empty() {
        return Ok(());
    }
    let h = &req.headers;
    let encodings: Vec<&str> = h.get_all(&HeaderName::ContentEncoding).collect();
    if encodings
        .iter()
        .any(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"))
    {
        return Err(Rejection::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .with(HeaderName::AcceptEncoding, "identity"));
    }
    if let Some(accept) = &policy.accept {
        let essence = h
            .content_type()
            .ok()
            .flatten()
            .map(|m| m.essence())
            .unwrap_or_default();
        if !accept.iter().any(|a| a.eq_ignore_ascii_case(&essence)) {
            return Err(Rejection::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .with(HeaderName::Accept, accept.join(", ")));
        }
    }
    Ok(())
}

/// True when an Accept media range admits `application/sdp`.
fn accepts_sdp(range: &str) -> bool {
    let essence = range
        .split(';')
        .next()
        .unwrap_or("")
        .replace([' ', '\t'], "");
    ["application/sdp", "application/*", "*/*"]
        .iter()
        .any(|m| essence.eq_ignore_ascii_case(m))
}

/// Checks `Wkd, DD Mon YYYY HH:MM:SS GMT` (RFC 3261 §20.17 restricts Date to GMT).
fn is_rfc1123_gmt(d: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = d.split(' ').collect();
    let [wkday, day, month, year, time, zone] = parts.as_slice() else {
        return false;
    };
    let time_ok = {
        let t: Vec<&str> = time.split(':').collect();
        t.len() == 3 && t.iter().all(|p| digits(p, 2))
    };
    DAYS.contains(wkday)
        && digits(day, 2)
        && MONTHS.contains(month)
        && digits(year, 4)
        && time_ok
        && *zone == "GMT"
}

/// Whether a UAC may use `resp` or must discard it (RFC 3261 §8.1.3.3: exactly one Via;
/// RFC 4475 §3.1.2.5 and §3.3.10): `Err` says why it is dropped.
pub fn check_response(resp: &Response) -> Result<()> {
    if resp.version != Version::SIP_2_0 {
        return Err(Error::Version {
            major: resp.version.major,
            minor: resp.version.minor,
        });
    }
    let h = &resp.headers;
    match h.vias()?.len() {
        0 => return Err(Error::MissingHeader(HeaderName::Via)),
        1 => {}
        _ => return Err(Error::DuplicateHeader(HeaderName::Via)),
    }
    h.from()?;
    h.to()?;
    h.call_id()?;
    h.cseq()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123_dates() {
        assert!(is_rfc1123_gmt("Sat, 15 Oct 2005 04:44:56 GMT"));
        assert!(!is_rfc1123_gmt("Fri, 01 Jan 2010 16:00:00 EST"));
        assert!(!is_rfc1123_gmt("Fri, 1 Jan 2010 16:00:00 GMT"));
        assert!(!is_rfc1123_gmt(""));
    }

    #[test]
    fn accept_ranges() {
        assert!(accepts_sdp("application/sdp;level=1"));
        assert!(accepts_sdp("*/*"));
        assert!(!accepts_sdp("text/nobodyKnowsThis"));
    }
}
