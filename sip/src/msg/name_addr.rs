//! `name-addr` / `addr-spec` values with header parameters: From, To, Contact, Route,
//! Record-Route, Reply-To, P-Asserted-Identity and the like (RFC 3261 §20.10, §25.1).

use std::fmt;

use super::lex::{is_token_str, quote, trim_wsp, unquote, Cursor};
use super::params::{parse_generic_all, Params};
use super::uri::Uri;

/// A URI with an optional display name and header parameters (`;tag=`, `;expires=`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted and unescaped.
    pub display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters (not URI parameters).
    pub params: Params,
}

impl NameAddr {
    /// A bare URI, with no display name or parameters.
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display_name: None,
            uri,
            params: Params::new(),
        }
    }

    /// Parses one `(name-addr / addr-spec) *(SEMI param)` value.
    ///
    /// Without angle brackets the URI ends at the first `;` (what follows are header
    /// parameters, RFC 3261 §20.10) and may not carry URI headers (RFC 4475 §3.1.2.13).
    /// An unquoted display name must be tokens separated by white space (RFC 4475
    /// §3.1.2.15); no white space is allowed inside the angle brackets (§3.1.2.14).
    pub fn parse(value: &str) -> Result<NameAddr, &'static str> {
        let s = trim_wsp(value);
        let mut c = Cursor::new(s);
        let (display_name, after_lt) = if c.peek() == Some(b'"') {
            let q = c.quoted().ok_or("unterminated quoted display name")?;
            c.skip_wsp();
            if !c.eat(b'<') {
                return Err("quoted display name not followed by an angle-bracketed URI");
            }
            (Some(unquote(q)), c.rest())
        } else if let Some(lt) = s.find('<') {
            let words: Vec<&str> = s
                .get(..lt)
                .unwrap_or("")
                .split([' ', '\t'])
                .filter(|w| !w.is_empty())
                .collect();
            if !words.iter().all(|w| is_token_str(w)) {
                return Err("display name has characters that must be quoted");
            }
            let name = (!words.is_empty()).then(|| words.join(" "));
            (name, s.get(lt + 1..).unwrap_or(""))
        } else {
            return Self::parse_addr_spec(s);
        };
        let gt = after_lt.find('>').ok_or("unclosed angle bracket")?;
        let inner = after_lt.get(..gt).unwrap_or("");
        if inner.starts_with([' ', '\t']) || inner.ends_with([' ', '\t']) {
            return Err("white space inside angle brackets");
        }
        let uri = Uri::parse(inner).map_err(|_| "bad URI")?;
        let params = parse_generic_all(after_lt.get(gt + 1..).unwrap_or(""))?;
        Ok(NameAddr {
            display_name,
            uri,
            params,
        })
    }

    fn parse_addr_spec(s: &str) -> Result<NameAddr, &'static str> {
        let end = s.find([';', ' ', '\t']).unwrap_or(s.len());
        let uri_text = s.get(..end).unwrap_or("");
        if uri_text.contains('?') {
            return Err("a URI with headers must be in angle brackets");
        }
        let uri = Uri::parse(uri_text).map_err(|_| "bad URI")?;
        let params = parse_generic_all(s.get(end..).unwrap_or(""))?;
        Ok(NameAddr {
            display_name: None,
            uri,
            params,
        })
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag")
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            write!(f, "{} ", quote(d))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// One Contact value: an address, or `*` (only in a REGISTER that removes all bindings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// `Contact: *`.
    Wildcard,
    /// An address with contact parameters (`expires`, `q`, …).
    Address(NameAddr),
}

impl Contact {
    /// Parses one Contact value.
    pub fn parse(value: &str) -> Result<Contact, &'static str> {
        if trim_wsp(value) == "*" {
            Ok(Contact::Wildcard)
        } else {
            NameAddr::parse(value).map(Contact::Address)
        }
    }

    /// The address, unless this is the wildcard.
    pub fn address(&self) -> Option<&NameAddr> {
        match self {
            Contact::Wildcard => None,
            Contact::Address(a) => Some(a),
        }
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Wildcard => f.write_str("*"),
            Contact::Address(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_display_name_with_escapes() {
        let n = NameAddr::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com> ;   tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(n.display_name.as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(n.tag(), Some("98asjd8"));
    }

    #[test]
    fn token_display_name_without_space_before_angle() {
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display_name.as_deref(), Some("caller"));
        assert_eq!(n.tag(), Some("323"));
    }

    #[test]
    fn addr_spec_params_belong_to_the_header() {
        let n = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(n.params.contains("unknownparam"));
        assert!(n.uri.as_sip().unwrap().params.is_empty());
        let n = NameAddr::parse("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert!(n.params.is_empty());
        assert!(n.uri.as_sip().unwrap().params.contains("unknownparam"));
    }

    #[test]
    fn rejects_rfc4475_malformed_forms() {
        assert!(NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
    }

    #[test]
    fn display_round_trips() {
        let n = NameAddr::parse("\"A \\\"B\\\"\" <sip:a@b;lr>;tag=x").unwrap();
        assert_eq!(n.to_string(), "\"A \\\"B\\\"\" <sip:a@b;lr>;tag=x");
        assert_eq!(NameAddr::parse(&n.to_string()).unwrap(), n);
    }
}
