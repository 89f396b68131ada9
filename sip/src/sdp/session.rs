//! The SDP line grammar (RFC 4566 §5): a session section and media sections, parsed into
//! strings and numbers and written back in the RFC's order.
//!
//! Tolerances, because telephony gear is sloppy: a lone LF ends a line as well as CRLF,
//! empty lines are skipped, a missing `s=` reads as `-`, lines with type letters this module
//! does not know are skipped, and bytes that are not UTF-8 are replaced.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// `o=`: who made the description and which version it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name (`-` when there is none).
    pub username: String,
    /// Session id (digits; kept as text because some gear sends more than 64 bits).
    pub session_id: String,
    /// Session version (digits; kept as text for the same reason).
    pub session_version: String,
    /// Network type (`IN`).
    pub net_type: String,
    /// Address type (`IP4` or `IP6`).
    pub addr_type: String,
    /// Address of the originator.
    pub address: String,
}

/// `c=`: where media goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Network type (`IN`).
    pub net_type: String,
    /// Address type (`IP4` or `IP6`).
    pub addr_type: String,
    /// The address, possibly with `/ttl` or `/count`.
    pub address: String,
}

impl Connection {
    /// `IN IP4 <addr>` or `IN IP6 <addr>` for an IP address.
    pub fn for_ip(ip: IpAddr) -> Self {
        Connection {
            net_type: "IN".into(),
            addr_type: if ip.is_ipv4() { "IP4" } else { "IP6" }.into(),
            address: ip.to_string(),
        }
    }

    /// The address as an IP, when it is one (host names and multicast suffixes are not).
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.split('/').next()?.parse().ok()
    }
}

/// `a=name` or `a=name:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The name, as received.
    pub name: String,
    /// The value after the first `:`, if there was a `:`.
    pub value: Option<String>,
}

impl Attribute {
    /// A property attribute (`a=sendrecv`).
    pub fn flag(name: &str) -> Self {
        Attribute {
            name: name.into(),
            value: None,
        }
    }

    /// A value attribute (`a=ptime:20`).
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Attribute {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}

/// `t=` with its `r=` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Start time (NTP seconds; 0 for unbounded).
    pub start: u64,
    /// Stop time (NTP seconds; 0 for unbounded).
    pub stop: u64,
    /// Raw `r=` values.
    pub repeats: Vec<String>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type (`audio`, `image`, `video`, …), as received.
    pub media: String,
    /// Transport port; 0 rejects or disables the stream.
    pub port: u16,
    /// The `/<number of ports>` suffix, if any.
    pub port_count: Option<u16>,
    /// Transport protocol (`RTP/AVP`, `udptl`, …), as received.
    pub proto: String,
    /// Formats: payload types for RTP, `t38` for UDPTL.
    pub formats: Vec<String>,
    /// `i=`.
    pub information: Option<String>,
    /// `c=` lines of this section.
    pub connections: Vec<Connection>,
    /// Raw `b=` values.
    pub bandwidths: Vec<String>,
    /// Raw `k=` value.
    pub key: Option<String>,
    /// `a=` lines of this section, in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// A section with no formats, attributes or connection.
    pub fn new(media: &str, port: u16, proto: &str) -> Self {
        MediaDescription {
            media: media.into(),
            port,
            port_count: None,
            proto: proto.into(),
            formats: Vec::new(),
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// The first attribute called `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The value of the first attribute called `name` (case-insensitive).
    pub fn attribute_value(&self, name: &str) -> Option<&str> {
        self.attribute(name).and_then(|a| a.value.as_deref())
    }
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=`.
    pub session_name: String,
    /// `i=`.
    pub information: Option<String>,
    /// `u=`.
    pub uri: Option<String>,
    /// `e=` lines.
    pub emails: Vec<String>,
    /// `p=` lines.
    pub phones: Vec<String>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Raw session-level `b=` values.
    pub bandwidths: Vec<String>,
    /// `t=` lines with their `r=` lines.
    pub times: Vec<Timing>,
    /// Raw `z=` value.
    pub time_zones: Option<String>,
    /// Raw session-level `k=` value.
    pub key: Option<String>,
    /// Session-level `a=` lines.
    pub attributes: Vec<Attribute>,
    /// The media sections, in order.
    pub media: Vec<MediaDescription>,
}

fn sdp_err(line: usize, reason: &'static str) -> Error {
    Error::Sdp { line, reason }
}

fn parse_origin(v: &str, line: usize) -> Result<Origin> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    let [username, id, version, net, addr_type, address] = f.as_slice() else {
        return Err(sdp_err(line, "o= needs six fields"));
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(id) || !digits(version) {
        return Err(sdp_err(line, "o= session id and version must be numbers"));
    }
    Ok(Origin {
        username: (*username).into(),
        session_id: (*id).into(),
        session_version: (*version).into(),
        net_type: (*net).into(),
        addr_type: (*addr_type).into(),
        address: (*address).into(),
    })
}

fn parse_connection(v: &str, line: usize) -> Result<Connection> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    let [net, addr_type, address] = f.as_slice() else {
        return Err(sdp_err(line, "c= needs three fields"));
    };
    Ok(Connection {
        net_type: (*net).into(),
        addr_type: (*addr_type).into(),
        address: (*address).into(),
    })
}

fn parse_media(v: &str, line: usize) -> Result<MediaDescription> {
    let mut f = v.split_ascii_whitespace();
    let (Some(media), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err(sdp_err(line, "m= needs media, port and proto"));
    };
    let (port, count) = match port.split_once('/') {
        Some((p, c)) => (p, Some(c)),
        None => (port, None),
    };
    let num = |s: &str| -> Result<u16> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(sdp_err(line, "bad m= port"));
        }
        s.parse().map_err(|_| sdp_err(line, "m= port out of range"))
    };
    let mut m = MediaDescription::new(media, num(port)?, proto);
    m.port_count = count.map(num).transpose()?;
    m.formats = f.map(str::to_owned).collect();
    Ok(m)
}

fn parse_attribute(v: &str, line: usize) -> Result<Attribute> {
    let (name, value) = match v.split_once(':') {
        Some((n, val)) => (n, Some(val.to_owned())),
        None => (v, None),
    };
    if name.is_empty() {
        return Err(sdp_err(line, "empty attribute name"));
    }
    Ok(Attribute {
        name: name.into(),
        value,
    })
}

impl SessionDescription {
    /// Parses an SDP body.
    pub fn parse(body: &[u8]) -> Result<SessionDescription> {
        let text = String::from_utf8_lossy(body);
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
            .filter(|(_, l)| !l.is_empty());
        match lines.next() {
            Some((_, "v=0")) => {}
            Some((n, _)) => return Err(sdp_err(n, "first line must be v=0")),
            None => return Err(sdp_err(0, "empty session description")),
        }
        let mut origin = None;
        let mut sd = SessionDescription {
            origin: Origin {
                username: String::new(),
                session_id: String::new(),
                session_version: String::new(),
                net_type: String::new(),
                addr_type: String::new(),
                address: String::new(),
            },
            session_name: "-".into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            times: Vec::new(),
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        };
        for (n, line) in lines {
            let bytes = line.as_bytes();
            if bytes.get(1) != Some(&b'=') {
                return Err(sdp_err(n, "line is not <type>=<value>"));
            }
            let kind = bytes.first().copied().unwrap_or(0);
            let v = line.get(2..).unwrap_or("");
            if let Some(m) = sd.media.last_mut() {
                match kind {
                    b'm' => sd.media.push(parse_media(v, n)?),
                    b'i' => m.information = Some(v.into()),
                    b'c' => m.connections.push(parse_connection(v, n)?),
                    b'b' => m.bandwidths.push(v.into()),
                    b'k' => m.key = Some(v.into()),
                    b'a' => m.attributes.push(parse_attribute(v, n)?),
                    _ => {}
                }
                continue;
            }
            match kind {
                b'o' => origin = Some(parse_origin(v, n)?),
                b's' => sd.session_name = v.into(),
                b'i' => sd.information = Some(v.into()),
                b'u' => sd.uri = Some(v.into()),
                b'e' => sd.emails.push(v.into()),
                b'p' => sd.phones.push(v.into()),
                b'c' => sd.connection = Some(parse_connection(v, n)?),
                b'b' => sd.bandwidths.push(v.into()),
                b't' => {
                    let mut f = v.split_ascii_whitespace().map(str::parse::<u64>);
                    let (Some(Ok(start)), Some(Ok(stop)), None) = (f.next(), f.next(), f.next())
                    else {
                        return Err(sdp_err(n, "t= needs two numbers"));
                    };
                    sd.times.push(Timing {
                        start,
                        stop,
                        repeats: Vec::new(),
                    });
                }
                b'r' => match sd.times.last_mut() {
                    Some(t) => t.repeats.push(v.into()),
                    None => return Err(sdp_err(n, "r= before t=")),
                },
                b'z' => sd.time_zones = Some(v.into()),
                b'k' => sd.key = Some(v.into()),
                b'a' => sd.attributes.push(parse_attribute(v, n)?),
                b'm' => sd.media.push(parse_media(v, n)?),
                _ => {}
            }
        }
        sd.origin = origin.ok_or(sdp_err(0, "no o= line"))?;
        Ok(sd)
    }

    /// The session-level attribute called `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Where the media of section `m` goes: its own `c=`, else the session's.
    pub fn connection_for<'a>(&'a self, m: &'a MediaDescription) -> Option<&'a Connection> {
        m.connections.first().or(self.connection.as_ref())
    }

    /// The description as text, CRLF line ends, in RFC 4566 order.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(256);
        let mut line = |k: char, v: &str| {
            s.push(k);
            s.push('=');
            s.push_str(v);
            s.push_str("\r\n");
        };
        line('v', "0");
        let o = &self.origin;
        line(
            'o',
            &format!(
                "{} {} {} {} {} {}",
                o.username, o.session_id, o.session_version, o.net_type, o.addr_type, o.address
            ),
        );
        line('s', &self.session_name);
        if let Some(i) = &self.information {
            line('i', i);
        }
        if let Some(u) = &self.uri {
            line('u', u);
        }
        self.emails.iter().for_each(|e| line('e', e));
        self.phones.iter().for_each(|p| line('p', p));
        if let Some(c) = &self.connection {
            line('c', &conn_text(c));
        }
        self.bandwidths.iter().for_each(|b| line('b', b));
        for t in &self.times {
            line('t', &format!("{} {}", t.start, t.stop));
            t.repeats.iter().for_each(|r| line('r', r));
        }
        if let Some(z) = &self.time_zones {
            line('z', z);
        }
        if let Some(k) = &self.key {
            line('k', k);
        }
        self.attributes
            .iter()
            .for_each(|a| line('a', &attr_text(a)));
        for m in &self.media {
            let mut mline = format!("{} {}", m.media, m.port);
            if let Some(c) = m.port_count {
                mline.push_str(&format!("/{c}"));
            }
            mline.push(' ');
            mline.push_str(&m.proto);
            for f in &m.formats {
                mline.push(' ');
                mline.push_str(f);
            }
            line('m', &mline);
            if let Some(i) = &m.information {
                line('i', i);
            }
            m.connections.iter().for_each(|c| line('c', &conn_text(c)));
            m.bandwidths.iter().for_each(|b| line('b', b));
            if let Some(k) = &m.key {
                line('k', k);
            }
            m.attributes.iter().for_each(|a| line('a', &attr_text(a)));
        }
        s
    }

    /// The description as bytes for a message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_text().into_bytes()
    }
}

fn conn_text(c: &Connection) -> String {
    format!("{} {} {}", c.net_type, c.addr_type, c.address)
}

fn attr_text(a: &Attribute) -> String {
    match &a.value {
        Some(v) => format!("{}:{v}", a.name),
        None => a.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 191 1228500736 IN IP4 138.132.169.101\r\ns=IMSS\r\n\
        c=IN IP4 138.132.169.101\r\nt=0 0\r\nm=audio 15580 RTP/AVP 8 103 102\r\n\
        a=rtpmap:103 G726-32/8000\r\na=ptime:30\r\na=rtpmap:102 telephone-event/8000/1\r\n\
        a=fmtp:102 0-15\r\na=sqn:0\r\na=cdsc:1 image udptl t38\r\n";

    #[test]
    fn parses_and_writes_back_byte_for_byte() {
        let sd = SessionDescription::parse(OFFER.as_bytes()).unwrap();
        assert_eq!(sd.origin.session_version, "1228500736");
        assert_eq!(sd.media[0].formats, ["8", "103", "102"]);
        assert_eq!(sd.media[0].attribute_value("PTIME"), Some("30"));
        assert_eq!(
            sd.media[0].attribute_value("cdsc"),
            Some("1 image udptl t38")
        );
        assert_eq!(sd.to_text(), OFFER);
    }

    #[test]
    fn tolerates_lf_and_missing_session_name() {
        let sd = SessionDescription::parse(
            b"v=0\no=- 1 2 IN IP6 ::1\nc=IN IP6 2001:db8::5\nm=image 0 udptl t38\n\n",
        )
        .unwrap();
        assert_eq!(sd.session_name, "-");
        assert_eq!(
            sd.connection.as_ref().unwrap().ip(),
            Some("2001:db8::5".parse().unwrap())
        );
        assert_eq!(sd.media[0].port, 0);
    }

    #[test]
    fn rejects_broken_lines() {
        for bad in [
            "",
            "o=- 1 2 IN IP4 x\r\n",
            "v=0\r\nm =video 3227 RTP/AVP 31\r\n",
            "v=0\r\no=- x 2 IN IP4 a\r\n",
            "v=0\r\no=- 1 2 IN IP4 a\r\nm=audio 70000 RTP/AVP 0\r\n",
            "v=0\r\ns=-\r\n",
        ] {
            assert!(
                SessionDescription::parse(bad.as_bytes()).is_err(),
                "{bad:?}"
            );
        }
    }
}
