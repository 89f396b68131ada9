//! URIs: SIP and SIPS (RFC 3261 §19.1), tel (RFC 3966) and any other scheme kept opaque
//! (RFC 3261 §25.1 `absoluteURI`).
//!
//! User, password, parameters and headers are kept in their escaped form, so that a URI is
//! written back exactly as it came; [`unescape`](super::unescape) decodes them for
//! comparison.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::lex::{check_escaped, is_unreserved};
use super::params::{Param, Params};
use crate::error::{Error, Result};

/// A host: a domain name, an IPv4 address or an IPv6 reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name, as received (compare case-insensitively).
    Domain(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host: `[v6]`, a dotted quad, or a host name.
    pub fn parse(s: &str) -> Result<Host> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(Error::Uri("unterminated IPv6 reference"))?;
            return inner
                .parse()
                .map(Host::Ipv6)
                .map_err(|_| Error::Uri("bad IPv6 address"));
        }
        if let Ok(v4) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ipv4(v4));
        }
        // Underscores are not in the hostname grammar but appear in real deployments.
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if ok {
            Ok(Host::Domain(s.to_owned()))
        } else {
            Err(Error::Uri("bad host"))
        }
    }

    /// Lower-cased text form, for comparisons and transaction keys.
    pub fn canonical(&self) -> String {
        match self {
            Host::Domain(d) => d.to_ascii_lowercase(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]` (the host may be a bracketed IPv6 reference).
pub(crate) fn parse_hostport(s: &str) -> Result<(Host, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = s
            .find(']')
            .ok_or(Error::Uri("unterminated IPv6 reference"))?;
        let (h, rest) = (s.get(..=end).unwrap_or(s), s.get(end + 1..).unwrap_or(""));
        match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if rest.is_empty() => (h, None),
            None => return Err(Error::Uri("junk after IPv6 reference")),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(parse_port(p)?),
        None => None,
    };
    Ok((Host::parse(host)?, port))
}

/// A decimal port number.
pub(crate) fn parse_port(p: &str) -> Result<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Uri("bad port"));
    }
    p.parse().map_err(|_| Error::Uri("port out of range"))
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// True for `sips:`.
    pub secure: bool,
    /// The user part, escaped as received.
    pub user: Option<String>,
    /// The password, escaped as received.
    pub password: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=udp;lr`).
    pub params: Params,
    /// URI headers (`?Route=...&Subject=...`), names and values escaped as received.
    pub headers: Vec<(String, String)>,
}

/// `user-unreserved` plus `unreserved`: what a user part may hold unescaped.
fn is_user_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

impl SipUri {
    /// A URI `sip:user@host` with no port, parameters or headers.
    pub fn new(user: Option<&str>, host: Host) -> Self {
        SipUri {
            secure: false,
            user: user.map(str::to_owned),
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// Parses what follows `sip:` or `sips:`.
    fn parse_rest(secure: bool, s: &str) -> Result<SipUri> {
        // The user part may hold `;`, `?` and `,`, but never an unescaped `@`, so the first
        // `@` ends it.
        let (userinfo, hostpart) = match s.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, s),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pw) = match u.split_once(':') {
                    Some((user, pw)) => (user, Some(pw)),
                    None => (u, None),
                };
                if user.is_empty() || !check_escaped(user, is_user_char) {
                    return Err(Error::Uri("bad user part"));
                }
                if let Some(pw) = pw {
                    if !check_escaped(pw, is_password_char) {
                        return Err(Error::Uri("bad password"));
                    }
                }
                (Some(user.to_owned()), pw.map(str::to_owned))
            }
        };
        let (before_headers, headers) = match hostpart.split_once('?') {
            Some((a, h)) => (a, Some(h)),
            None => (hostpart, None),
        };
        let mut parts = before_headers.split(';');
        let (host, port) = parse_hostport(parts.next().unwrap_or(""))?;
        let mut params = Params::new();
        for p in parts {
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            if name.is_empty() || !check_escaped(name, is_param_char) {
                return Err(Error::Uri("bad URI parameter name"));
            }
            if let Some(v) = value {
                if v.is_empty() || !check_escaped(v, is_param_char) {
                    return Err(Error::Uri("bad URI parameter value"));
                }
            }
            params.0.push(Param {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            });
        }
        let mut hdrs = Vec::new();
        if let Some(h) = headers {
            for pair in h.split('&') {
                let (n, v) = pair
                    .split_once('=')
                    .ok_or(Error::Uri("URI header without '='"))?;
                if n.is_empty()
                    || !check_escaped(n, is_header_char)
                    || !check_escaped(v, is_header_char)
                {
                    return Err(Error::Uri("bad URI header"));
                }
                hdrs.push((n.to_owned(), v.to_owned()));
            }
        }
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers: hdrs,
        })
    }

    /// The `transport` parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.params.get("transport").map(str::to_ascii_lowercase)
    }

    /// The value of URI header `name` (case-insensitive), unescaped.
    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers
            .iter()
            .find(|(n, _)| super::unescape(n).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| super::unescape(v))
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The number, with any visual separators, as received (`+1-201-555-0123`).
    pub number: String,
    /// Parameters (`;phone-context=...;ext=...`).
    pub params: Params,
}

impl TelUri {
    fn parse_rest(s: &str) -> Result<TelUri> {
        let mut parts = s.split(';');
        let number = parts.next().unwrap_or("");
        let digits = number.strip_prefix('+').unwrap_or(number);
        let ok = !digits.is_empty()
            && digits.bytes().all(|b| {
                b.is_ascii_hexdigit() || matches!(b, b'-' | b'.' | b'(' | b')' | b'*' | b'#')
            });
        if !ok {
            return Err(Error::Uri("bad telephone number"));
        }
        let mut params = Params::new();
        for p in parts {
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            if name.is_empty() || !check_escaped(name, is_param_char) {
                return Err(Error::Uri("bad tel parameter"));
            }
            if value.is_some_and(|v| !check_escaped(v, is_param_char)) {
                return Err(Error::Uri("bad tel parameter"));
            }
            params.0.push(Param {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            });
        }
        Ok(TelUri {
            number: number.to_owned(),
            params,
        })
    }

    /// The digits only (and a leading `+`), without visual separators.
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || matches!(c, '+' | '*' | '#'))
            .collect()
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

/// A URI of a scheme this crate does not interpret, kept opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherUri {
    /// The scheme, as received.
    pub scheme: String,
    /// Everything after the first `:`.
    pub rest: String,
}

/// Any URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:`.
    Tel(TelUri),
    /// Any other scheme, opaque.
    Other(OtherUri),
}

/// `uric` (RFC 2396): what an opaque URI may hold, besides escapes.
fn is_uric(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b';' | b'/'
                | b'?'
                | b':'
                | b'@'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b'['
                | b']'
                | b'#'
        )
}

impl Uri {
    /// Parses a URI with no surrounding white space or angle brackets.
    pub fn parse(s: &str) -> Result<Uri> {
        let (scheme, rest) = s.split_once(':').ok_or(Error::Uri("no scheme"))?;
        let mut sb = scheme.bytes();
        let scheme_ok = sb.next().is_some_and(|b| b.is_ascii_alphabetic())
            && sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(Error::Uri("bad scheme"));
        }
        if rest.is_empty() {
            return Err(Error::Uri("nothing after the scheme"));
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let secure = scheme.eq_ignore_ascii_case("sips");
            SipUri::parse_rest(secure, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_rest(rest).map(Uri::Tel)
        } else if check_escaped(rest, is_uric) {
            Ok(Uri::Other(OtherUri {
                scheme: scheme.to_owned(),
                rest: rest.to_owned(),
            }))
        } else {
            Err(Error::Uri("bad character in URI"))
        }
    }

    /// The scheme, lower-cased.
    pub fn scheme(&self) -> String {
        match self {
            Uri::Sip(u) if u.secure => "sips".into(),
            Uri::Sip(_) => "sip".into(),
            Uri::Tel(_) => "tel".into(),
            Uri::Other(o) => o.scheme.to_ascii_lowercase(),
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(t) => t.fmt(f),
            Uri::Other(o) => write!(f, "{}:{}", o.scheme, o.rest),
        }
    }
}

impl std::str::FromStr for Uri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Uri> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            other => panic!("not a SIP URI: {other:?}"),
        }
    }

    #[test]
    fn parses_user_password_params_headers() {
        let u =
            sip("sip:alice:secret@example.com:5070;transport=TCP;lr?Subject=hi&Route=%3Csip:x%3E");
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert!(u.params.contains("lr"));
        assert_eq!(u.header("route").unwrap(), b"<sip:x>");
    }

    #[test]
    fn parses_ipv6_references() {
        let u = sip("sip:[2001:db8::10]:5060;maddr=[2001:db8::1]");
        assert_eq!(u.host, Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5060));
        assert_eq!(u.to_string(), "sip:[2001:db8::10]:5060;maddr=[2001:db8::1]");
        assert!(Uri::parse("sip:[2001:db8::10").is_err());
        assert!(Uri::parse("sip:[zz]").is_err());
    }

    #[test]
    fn user_part_may_hold_semicolons_and_question_marks() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, Host::Domain("example.com".into()));
        assert!(u.params.is_empty());
    }

    #[test]
    fn tel_and_opaque_uris() {
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap();
        match &t {
            Uri::Tel(t) => {
                assert_eq!(t.digits(), "+12015550123");
                assert_eq!(t.params.get("phone-context"), Some("example.com"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            t.to_string(),
            "tel:+1-201-555-0123;phone-context=example.com"
        );
        let o = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(o.scheme(), "soap.beep");
        assert_eq!(o.to_string(), "soap.beep://192.0.2.103:3002");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "<sip:a@b>",
            "sip:a@b c",
            "sip:",
            "sip:a@",
            "sip:a@b:99999",
            "sip:a@b;",
            "sip:a@b;=x",
            "sip:a%zz@b",
            "1sip:x",
            "x:a b",
            "sip:a@b?x",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad} should fail");
        }
    }
}
