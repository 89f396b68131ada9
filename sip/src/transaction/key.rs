//! Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3).
//!
//! Server side: a branch with the magic cookie identifies the transaction together with the
//! Via sent-by and the method (ACK counts as INVITE). Without the cookie (RFC 2543 peers) the
//! key is the Request-URI, Call-ID, From tag, CSeq number and top Via. RFC 3261 also compares
//! the To tag; it is left out so that the ACK (which carries our tag) matches the INVITE
//! (which had none), at the cost of confusing two forks of one RFC 2543 request — rare
//! enough for an endpoint.
//!
//! Client side: the top Via branch of the response and its CSeq method.

use crate::error::{Error, Result};
use crate::msg::{HeaderName, Method, Request, Response, MAGIC_COOKIE};

/// Identifies a server transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerKey {
    /// RFC 3261 matching.
    Branch {
        /// The branch parameter.
        branch: String,
        /// sent-by, lower-cased `host[:port]`.
        sent_by: String,
        /// The method, ACK mapped to INVITE.
        method: Method,
    },
    /// RFC 2543 fallback.
    Legacy {
        /// The Request-URI as text.
        request_uri: String,
        /// Call-ID.
        call_id: String,
        /// From tag (empty when absent).
        from_tag: String,
        /// CSeq number.
        cseq: u32,
        /// The top Via value as received.
        top_via: String,
        /// The method, ACK mapped to INVITE.
        method: Method,
    },
}

/// Identifies a client transaction: branch and method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// The branch of our top Via.
    pub branch: String,
    /// The method of the request (from CSeq for responses).
    pub method: Method,
}

fn matching_method(m: &Method) -> Method {
    if *m == Method::Ack {
        Method::Invite
    } else {
        m.clone()
    }
}

impl ServerKey {
    /// The key of the server transaction `req` belongs to.
    pub fn for_request(req: &Request) -> Result<ServerKey> {
        Self::with_method(req, matching_method(&req.method))
    }

    /// The key `req` would have with another method (a CANCEL looking for its INVITE).
    pub fn with_method(req: &Request, method: Method) -> Result<ServerKey> {
        let via = req.headers.top_via()?;
        match via.branch() {
            Some(b) if b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len() => {
                Ok(ServerKey::Branch {
                    branch: b.to_owned(),
                    sent_by: via.sent_by(),
                    method,
                })
            }
            _ => {
                let top_via = req
                    .headers
                    .list(&HeaderName::Via)
                    .next()
                    .ok_or(Error::MissingHeader(HeaderName::Via))?;
                Ok(ServerKey::Legacy {
                    request_uri: req.uri.to_string(),
                    call_id: req.headers.call_id()?.to_owned(),
                    from_tag: req.headers.from()?.tag().unwrap_or("").to_owned(),
                    cseq: req.headers.cseq()?.seq,
                    top_via: top_via.to_owned(),
                    method,
                })
            }
        }
    }
}

impl ClientKey {
    /// The key of a request we send; its top Via must carry an RFC 3261 branch.
    pub fn for_request(req: &Request) -> Result<ClientKey> {
        let via = req.headers.top_via()?;
        match via.branch() {
            Some(b) if b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len() => {
                Ok(ClientKey {
                    branch: b.to_owned(),
                    method: req.method.clone(),
                })
            }
            _ => Err(Error::Header {
                name: HeaderName::Via,
                reason: "a request we send needs a z9hG4bK branch",
            }),
        }
    }

    /// The key of the client transaction a response belongs to.
    pub fn for_response(resp: &Response) -> Result<ClientKey> {
        let via = resp.headers.top_via()?;
        let branch = via.branch().ok_or(Error::Header {
            name: HeaderName::Via,
            reason: "no branch",
        })?;
        Ok(ClientKey {
            branch: branch.to_owned(),
            method: resp.headers.cseq()?.method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{parse_datagram, Message};

    fn req(text: &str) -> Request {
        match parse_datagram(text.as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("response"),
        }
    }

    const INVITE: &str =
        "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP Host.Example:5060;branch=z9hG4bKabc\r\n\
        From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";

    #[test]
    fn ack_and_cancel_keys() {
        let invite = ServerKey::for_request(&req(INVITE)).unwrap();
        let ack = req(&INVITE
            .replace("INVITE sip", "ACK sip")
            .replace("1 INVITE", "1 ACK"));
        assert_eq!(ServerKey::for_request(&ack).unwrap(), invite);
        let cancel = req(&INVITE
            .replace("INVITE sip", "CANCEL sip")
            .replace("1 INVITE", "1 CANCEL"));
        assert_ne!(ServerKey::for_request(&cancel).unwrap(), invite);
        assert_eq!(
            ServerKey::with_method(&cancel, Method::Invite).unwrap(),
            invite
        );
        match invite {
            ServerKey::Branch { sent_by, .. } => assert_eq!(sent_by, "host.example:5060"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc2543_fallback() {
        let old = req(&INVITE.replace(";branch=z9hG4bKabc", ""));
        let key = ServerKey::for_request(&old).unwrap();
        assert!(matches!(key, ServerKey::Legacy { cseq: 1, .. }));
        let bare = req(&INVITE.replace("z9hG4bKabc", "z9hG4bK"));
        assert!(matches!(
            ServerKey::for_request(&bare).unwrap(),
            ServerKey::Legacy { .. }
        ));
        assert!(ClientKey::for_request(&bare).is_err());
    }
}
