//! Typed access to the headers a user agent acts on (RFC 3261 §20; Session-Expires and
//! Min-SE from RFC 4028). Values are parsed on access, so a malformed header only fails
//! the code that needs it.

use std::fmt;

use super::headers::{HeaderName, Headers};
use super::lex::{split_list, trim_wsp, Cursor};
use super::message::Method;
use super::name_addr::{Contact, NameAddr};
use super::params::{parse_generic_all, Params};
use super::via::Via;
use crate::error::{Error, Result};

fn bad(name: HeaderName, reason: &'static str) -> Error {
    Error::Header { name, reason }
}

/// The CSeq header: a sequence number and a method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number (at most 2^32 − 1).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(value: &str) -> Result<CSeq, &'static str> {
        let mut c = Cursor::new(trim_wsp(value));
        let digits = c.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err("no sequence number");
        }
        let seq = digits
            .parse::<u32>()
            .map_err(|_| "sequence number above 4294967295")?;
        if !c.skip_wsp() {
            return Err("no white space before the method");
        }
        let method = Method::parse(c.rest()).ok_or("bad method")?;
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// A Content-Type value (`type/subtype;params`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// The type, as received.
    pub kind: String,
    /// The subtype, as received.
    pub subtype: String,
    /// Parameters (`boundary`, `charset`, …).
    pub params: Params,
}

impl MediaType {
    /// Parses `m-type SLASH m-subtype *(SEMI m-parameter)`.
    pub fn parse(value: &str) -> Result<MediaType, &'static str> {
        let mut c = Cursor::new(trim_wsp(value));
        let kind = c.token();
        if kind.is_empty() || !c.eat_sep(b'/') {
            return Err("expected type/subtype");
        }
        let subtype = c.token();
        if subtype.is_empty() {
            return Err("expected type/subtype");
        }
        let params = parse_generic_all(c.rest())?;
        Ok(MediaType {
            kind: kind.to_owned(),
            subtype: subtype.to_owned(),
            params,
        })
    }

    /// `type/subtype`, lower-cased, for comparisons.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.kind, self.subtype).to_ascii_lowercase()
    }
}

/// Who refreshes a session (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// The caller.
    Uac,
    /// The callee.
    Uas,
}

/// The Session-Expires header (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    /// The session interval in seconds.
    pub delta: u32,
    /// The `refresher` parameter, if present and understood.
    pub refresher: Option<Refresher>,
}

/// `delta-seconds`; values beyond 2^32 − 1 are capped (RFC 3261 §25.1 leaves overflow open,
/// and RFC 4475 §3.1.2.4 allows treating it as a default).
fn delta_seconds(v: &str) -> Option<u32> {
    let v = trim_wsp(v);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse::<u32>().unwrap_or(u32::MAX))
}

impl Headers {
    /// The only value of `name`, if any; an error if there are several.
    pub fn single(&self, name: &HeaderName) -> Result<Option<&str>> {
        let mut it = self.get_all(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(Error::DuplicateHeader(name.clone()));
        }
        Ok(first)
    }

    /// The only value of `name`; an error if it is absent or repeated.
    pub fn required(&self, name: &HeaderName) -> Result<&str> {
        self.single(name)?
            .ok_or_else(|| Error::MissingHeader(name.clone()))
    }

    /// Call-ID (mandatory, single, visible ASCII).
    pub fn call_id(&self) -> Result<&str> {
        let v = self.required(&HeaderName::CallId)?;
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(HeaderName::CallId, "not a word[@word]"));
        }
        Ok(v)
    }

    /// CSeq (mandatory, single).
    pub fn cseq(&self) -> Result<CSeq> {
        CSeq::parse(self.required(&HeaderName::CSeq)?).map_err(|r| bad(HeaderName::CSeq, r))
    }

    /// Every element of a list header, also splitting entries that a builder filled with a
    /// comma-separated list (the parser already stores one element per entry).
    pub fn list<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name).flat_map(split_list)
    }

    /// Every Via value, top first (none is not an error here).
    pub fn vias(&self) -> Result<Vec<Via>> {
        self.list(&HeaderName::Via)
            .map(|v| Via::parse(v).map_err(|r| bad(HeaderName::Via, r)))
            .collect()
    }

    /// The topmost Via (mandatory).
    pub fn top_via(&self) -> Result<Via> {
        let v = self
            .list(&HeaderName::Via)
            .next()
            .ok_or(Error::MissingHeader(HeaderName::Via))?;
        Via::parse(v).map_err(|r| bad(HeaderName::Via, r))
    }

    fn name_addr(&self, name: HeaderName) -> Result<NameAddr> {
        NameAddr::parse(self.required(&name)?).map_err(|r| bad(name, r))
    }

    /// From (mandatory, single).
    pub fn from(&self) -> Result<NameAddr> {
        self.name_addr(HeaderName::From)
    }

    /// To (mandatory, single).
    pub fn to(&self) -> Result<NameAddr> {
        self.name_addr(HeaderName::To)
    }

    fn name_addrs(&self, name: HeaderName) -> Result<Vec<NameAddr>> {
        self.list(&name)
            .map(|v| NameAddr::parse(v).map_err(|r| bad(name.clone(), r)))
            .collect()
    }

    /// Every Contact value.
    pub fn contacts(&self) -> Result<Vec<Contact>> {
        self.list(&HeaderName::Contact)
            .map(|v| Contact::parse(v).map_err(|r| bad(HeaderName::Contact, r)))
            .collect()
    }

    /// Every Route value, in order.
    pub fn routes(&self) -> Result<Vec<NameAddr>> {
        self.name_addrs(HeaderName::Route)
    }

    /// Every Record-Route value, in order.
    pub fn record_routes(&self) -> Result<Vec<NameAddr>> {
        self.name_addrs(HeaderName::RecordRoute)
    }

    /// Max-Forwards (0–255), if present.
    pub fn max_forwards(&self) -> Result<Option<u8>> {
        let Some(v) = self.single(&HeaderName::MaxForwards)? else {
            return Ok(None);
        };
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(HeaderName::MaxForwards, "not a number"));
        }
        v.parse::<u8>()
            .map(Some)
            .map_err(|_| bad(HeaderName::MaxForwards, "larger than 255"))
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Result<Option<MediaType>> {
        self.single(&HeaderName::ContentType)?
            .map(|v| MediaType::parse(v).map_err(|r| bad(HeaderName::ContentType, r)))
            .transpose()
    }

    /// Expires in seconds, if present (overlarge values are capped at 2^32 − 1).
    pub fn expires(&self) -> Result<Option<u32>> {
        self.single(&HeaderName::Expires)?
            .map(|v| delta_seconds(v).ok_or_else(|| bad(HeaderName::Expires, "not delta-seconds")))
            .transpose()
    }

    /// Retry-After in seconds (RFC 3261 §20.33), ignoring its comment and parameters;
    /// `None` when absent or not delta-seconds.
    pub fn retry_after(&self) -> Option<u32> {
        let v = self.get(&HeaderName::RetryAfter)?;
        delta_seconds(v.split([';', ' ', '(']).next()?.trim())
    }

    fn tags(&self, name: &HeaderName) -> Vec<&str> {
        self.list(name).filter(|v| !v.is_empty()).collect()
    }

    /// Option tags of Require.
    pub fn require(&self) -> Vec<&str> {
        self.tags(&HeaderName::Require)
    }

    /// Option tags of Proxy-Require.
    pub fn proxy_require(&self) -> Vec<&str> {
        self.tags(&HeaderName::ProxyRequire)
    }

    /// Option tags of Supported.
    pub fn supported(&self) -> Vec<&str> {
        self.tags(&HeaderName::Supported)
    }

    /// Option tags of Unsupported.
    pub fn unsupported(&self) -> Vec<&str> {
        self.tags(&HeaderName::Unsupported)
    }

    /// Methods listed in Allow (tokens that are not methods are skipped).
    pub fn allow(&self) -> Vec<Method> {
        self.list(&HeaderName::Allow)
            .filter_map(Method::parse)
            .collect()
    }

    /// The media ranges of Accept, or `None` when there is no Accept header at all (which
    /// means `application/sdp`, RFC 3261 §20.1).
    pub fn accept(&self) -> Option<Vec<&str>> {
        self.contains(&HeaderName::Accept)
            .then(|| self.tags(&HeaderName::Accept))
    }

    /// Session-Expires (RFC 4028), if present.
    pub fn session_expires(&self) -> Result<Option<SessionExpires>> {
        let Some(v) = self.single(&HeaderName::SessionExpires)? else {
            return Ok(None);
        };
        let name = HeaderName::SessionExpires;
        let (delta, params) = match v.split_once(';') {
            Some((d, rest)) => (d, format!(";{rest}")),
            None => (v, String::new()),
        };
        let delta = delta_seconds(delta).ok_or_else(|| bad(name.clone(), "not delta-seconds"))?;
        let params = parse_generic_all(&params).map_err(|r| bad(name, r))?;
        let refresher = match params.get("refresher") {
            Some(r) if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(r) if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            _ => None,
        };
        Ok(Some(SessionExpires { delta, refresher }))
    }

    /// Min-SE in seconds (RFC 4028), if present.
    pub fn min_se(&self) -> Result<Option<u32>> {
        self.single(&HeaderName::MinSe)?
            .map(|v| {
                let d = v.split(';').next().unwrap_or("");
                delta_seconds(d).ok_or_else(|| bad(HeaderName::MinSe, "not delta-seconds"))
            })
            .transpose()
    }

    /// Raw P-Asserted-Identity values (RFC 3325).
    pub fn p_asserted_identity(&self) -> Vec<&str> {
        self.get_all(&HeaderName::PAssertedIdentity).collect()
    }

    /// Raw Remote-Party-ID values (draft-ietf-sip-privacy-04, still sent by carriers).
    pub fn remote_party_id(&self) -> Vec<&str> {
        self.get_all(&HeaderName::RemotePartyId).collect()
    }

    /// Raw Diversion values (RFC 5806).
    pub fn diversion(&self) -> Vec<&str> {
        self.get_all(&HeaderName::Diversion).collect()
    }

    /// Raw History-Info values (RFC 7044).
    pub fn history_info(&self) -> Vec<&str> {
        self.get_all(&HeaderName::HistoryInfo).collect()
    }

    /// The raw Privacy value (RFC 3323), if present.
    pub fn privacy(&self) -> Option<&str> {
        self.get(&HeaderName::Privacy)
    }

    /// The raw Date value, if present.
    pub fn date(&self) -> Option<&str> {
        self.get(&HeaderName::Date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_parses_and_rejects_overflow() {
        assert_eq!(
            CSeq::parse("0009 INVITE").unwrap(),
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("1INVITE").is_err());
        assert!(CSeq::parse("1 INVITE x").is_err());
    }

    #[test]
    fn session_expires_and_min_se() {
        let mut h = Headers::new();
        h.push(HeaderName::SessionExpires, "1800;refresher=uac");
        h.push(HeaderName::MinSe, "90");
        let se = h.session_expires().unwrap().unwrap();
        assert_eq!(se.delta, 1800);
        assert_eq!(se.refresher, Some(Refresher::Uac));
        assert_eq!(h.min_se().unwrap(), Some(90));
        let mut h = Headers::new();
        h.push(HeaderName::SessionExpires, "600");
        assert_eq!(h.session_expires().unwrap().unwrap().refresher, None);
    }

    #[test]
    fn media_type_with_params() {
        let m = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert_eq!(m.essence(), "multipart/mixed");
        assert_eq!(m.params.get("boundary"), Some("7a9cbec02ceef655"));
        assert_eq!(
            MediaType::parse("Application / SDP").unwrap().essence(),
            "application/sdp"
        );
    }
}
