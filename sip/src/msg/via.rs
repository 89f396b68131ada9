//! The Via header (RFC 3261 §20.42, §18.2; `rport` from RFC 3581).

use std::fmt;

use super::lex::{is_token, Cursor};
use super::params::{parse_generic, Params};
use super::uri::{parse_port, Host};

/// The branch prefix that marks an RFC 3261 transaction id (RFC 3261 §8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Protocol name and version, white space removed (`SIP/2.0`).
    pub protocol: String,
    /// The transport token as received (`UDP`, `TCP`, `TLS`, `SCTP`, …).
    pub transport: String,
    /// The host of sent-by.
    pub host: Host,
    /// The port of sent-by, if given.
    pub port: Option<u16>,
    /// Via parameters (`branch`, `received`, `rport`, `maddr`, …).
    pub params: Params,
}

fn is_host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

impl Via {
    /// A `SIP/2.0/<transport> host[:port];branch=<branch>` value.
    pub fn new(transport: &str, host: Host, port: Option<u16>, branch: &str) -> Self {
        let mut params = Params::new();
        params.set("branch", Some(branch));
        Via {
            protocol: "SIP/2.0".into(),
            transport: transport.to_owned(),
            host,
            port,
            params,
        }
    }

    /// Parses one Via value; white space is allowed around `/`, `:`, `;` and `=`.
    pub fn parse(value: &str) -> Result<Via, &'static str> {
        let mut c = Cursor::new(value);
        c.skip_wsp();
        let name = c.token();
        if name.is_empty() || !c.eat_sep(b'/') {
            return Err("bad sent-protocol");
        }
        let version = c.token();
        if version.is_empty() || !c.eat_sep(b'/') {
            return Err("bad sent-protocol");
        }
        let transport = c.token();
        if transport.is_empty() {
            return Err("missing transport");
        }
        if !c.skip_wsp() {
            return Err("no white space before sent-by");
        }
        let host = if c.peek() == Some(b'[') {
            let rest = c.rest();
            let end = rest.find(']').ok_or("unterminated IPv6 reference")?;
            let h = rest.get(..=end).unwrap_or("");
            c.take_while(|b| b != b']');
            c.eat(b']');
            h
        } else {
            c.take_while(is_host_char)
        };
        let host = Host::parse(host).map_err(|_| "bad sent-by host")?;
        let port = if c.eat_sep(b':') {
            Some(parse_port(c.take_while(|b| b.is_ascii_digit())).map_err(|_| "bad sent-by port")?)
        } else {
            None
        };
        let params = parse_generic(&mut c)?;
        c.skip_wsp();
        if !c.at_end() {
            return Err("unexpected character in Via");
        }
        if params
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case("branch") && p.value.is_none())
        {
            return Err("branch without a value");
        }
        if params
            .get("branch")
            .is_some_and(|b| !b.bytes().all(is_token))
        {
            return Err("branch is not a token");
        }
        Ok(Via {
            protocol: format!("{name}/{version}"),
            transport: transport.to_owned(),
            host,
            port,
            params,
        })
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch")
    }

    /// True when the branch starts with the RFC 3261 magic cookie.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&str> {
        self.params.get("received")
    }

    /// `None` without `rport`; `Some(None)` for a bare `rport`; `Some(Some(p))` once filled.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.find("rport")?;
        Some(p.value.as_deref().and_then(|v| parse_port(v).ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.params.get("maddr")
    }

    /// True for transports that are reliable (anything but UDP).
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case("UDP")
    }

    /// sent-by as `host[:port]`, lower-cased, for transaction matching.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host.canonical()),
            None => self.host.canonical(),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.protocol, self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spaced_out_via() {
        let v = Via::parse("SIP  /   2.0 /UDP     192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.protocol, "SIP/2.0");
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
        let v =
            Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ;   branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(v.host, Host::Domain("spindle.example.com".into()));
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
    }

    #[test]
    fn parses_ipv6_port_rport_received() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9]:5070;rport;received=[2001:db8::1];branch=z9hG4bKx",
        )
        .unwrap();
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("[2001:db8::1]"));
        assert_eq!(v.sent_by(), "[2001:db8::9]:5070");
        assert_eq!(Via::parse(&v.to_string()).unwrap(), v);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            ";",
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP",
            "SIP/2.0 host",
            "SIP/2.0/UDP h;branch",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
    }
}
