//! Writing messages (RFC 3261 §7): canonical header names, CRLF line ends, one value per
//! line, and a Content-Length that always matches the body.

use std::fmt::Write as _;

use super::headers::Headers;
use super::message::{Message, Request, Response};

/// Replaces line breaks so that no value can end a line or inject a header.
fn push_clean(out: &mut String, s: &str) {
    if s.contains(['\r', '\n']) {
        out.extend(
            s.chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
        );
    } else {
        out.push_str(s);
    }
}

fn write_head(out: &mut String, headers: &Headers, body_len: usize) {
    for h in headers.iter() {
        push_clean(out, h.name.as_str());
        out.push_str(": ");
        push_clean(out, &h.value);
        out.push_str("\r\n");
    }
    // Writing to a String cannot fail.
    let _ = write!(out, "Content-Length: {body_len}\r\n\r\n");
}

impl Request {
    /// The message as bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = String::with_capacity(512);
        let _ = write!(head, "{} ", self.method);
        push_clean(&mut head, &self.uri.to_string());
        let _ = write!(head, " {}\r\n", self.version);
        write_head(&mut head, &self.headers, self.body.len());
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

impl Response {
    /// The message as bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = String::with_capacity(512);
        let _ = write!(head, "{} {} ", self.version, self.status);
        push_clean(&mut head, &self.reason);
        head.push_str("\r\n");
        write_head(&mut head, &self.headers, self.body.len());
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

impl Message {
    /// The message as bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_datagram, HeaderName, Method, Uri};
    use super::*;

    #[test]
    fn writes_canonical_names_and_content_length() {
        let m = parse_datagram(
            b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/UDP g\r\ni: x\r\nl: 3\r\n\r\nabc",
        )
        .unwrap();
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            text,
            "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP g\r\n\
             Call-ID: x\r\nContent-Length: 3\r\n\r\nabc"
        );
    }

    #[test]
    fn values_cannot_inject_lines() {
        let mut r = Request::new(Method::Options, Uri::parse("sip:a@b").unwrap());
        r.headers.push(HeaderName::Subject, "x\r\nVia: evil");
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(text.contains("Subject: x  Via: evil\r\n"));
    }
}
