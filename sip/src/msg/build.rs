//! Building responses from requests (RFC 3261 §8.2.6), including the 400 for bytes the
//! parser rejected.

use super::headers::HeaderName;
use super::message::{Request, Response, StatusCode};
use super::name_addr::NameAddr;
use super::parser::salvage_request_headers;

/// The headers a response copies from its request (RFC 3261 §8.2.6.2), in this order.
const COPIED: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

impl Response {
    /// A response to `req` with the default reason phrase: every Via, From, To, Call-ID and
    /// CSeq copied unchanged, no body.
    pub fn for_request(req: &Request, status: StatusCode) -> Response {
        let mut resp = Response::new(status);
        for name in &COPIED {
            for v in req.headers.get_all(name) {
                resp.headers.push(name.clone(), v);
            }
        }
        resp
    }

    /// Replaces the reason phrase.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Response {
        self.reason = reason.into();
        self
    }

    /// Adds `;tag=<tag>` to To unless it already has a tag (RFC 3261 §8.2.6.2); the rest of
    /// the value is kept byte for byte. Returns whether a tag was added.
    pub fn set_to_tag(&mut self, tag: &str) -> bool {
        let Some(to) = self.headers.get(&HeaderName::To) else {
            return false;
        };
        match NameAddr::parse(to) {
            Ok(n) if n.tag().is_none() => {
                let v = format!("{to};tag={tag}");
                self.headers.set(HeaderName::To, v);
                true
            }
            _ => false,
        }
    }
}

/// A 400 for bytes that [`parse_datagram`](super::parse_datagram) rejected, when they look
/// like a request and still show Via, From, To, Call-ID and CSeq (the headers a response
/// must echo). `None` means the bytes can only be dropped.
pub fn bad_request_for(buf: &[u8], reason: &str, to_tag: Option<&str>) -> Option<Response> {
    let headers = salvage_request_headers(buf)?;
    if !COPIED.iter().all(|n| headers.contains(n)) {
        return None;
    }
    let mut resp = Response::new(StatusCode::BAD_REQUEST).with_reason(reason);
    for name in &COPIED {
        for v in headers.get_all(name) {
            resp.headers.push(name.clone(), v);
        }
    }
    if let Some(tag) = to_tag {
        resp.set_to_tag(tag);
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::super::{parse_datagram, Message};
    use super::*;

    #[test]
    fn for_request_copies_and_tags() {
        let Message::Request(req) = parse_datagram(
            b"BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP g\r\n\
              From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nSubject: s\r\n\r\n",
        )
        .unwrap() else {
            panic!("not a request")
        };
        let mut resp = Response::for_request(&req, StatusCode::OK);
        assert!(resp.set_to_tag("abc"));
        assert!(!resp.set_to_tag("def"));
        assert_eq!(resp.headers.count(&HeaderName::Via), 2);
        assert_eq!(resp.headers.get(&HeaderName::To), Some("<sip:a@b>;tag=abc"));
        assert!(!resp.headers.contains(&HeaderName::Subject));
    }
}
