//! Stream framing (RFC 3261 §18.3: Content-Length delimits messages on TCP) with the
//! RFC 5626 §3.5.1 keep-alive: a double CRLF "ping" answered by a single CRLF "pong".

use crate::error::Result;
use crate::msg::{parse_stream, Framed, Message};

/// One item cut from a stream.
// Pings are rare and messages are moved on at once, so boxing would only add an allocation
// per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A whole SIP message.
    Message {
        /// The message.
        message: Message,
        /// Its bytes as received, without the CRLFs that may precede it.
        raw: Vec<u8>,
    },
    /// A CRLFCRLF keep-alive ping: answer with [`PONG`].
    Ping,
    /// A CRLF pong to a ping we sent.
    Pong,
}

/// The keep-alive ping (RFC 5626 §4.4.1).
pub const PING: &[u8] = b"\r\n\r\n";
/// The answer to a ping (RFC 5626 §4.4.1).
pub const PONG: &[u8] = b"\r\n";

/// Accumulates bytes from one connection and cuts them into [`StreamItem`]s.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    awaiting_pong: bool,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        StreamFramer::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Notes that we sent a ping, so that a lone CRLF is taken as its pong.
    pub fn ping_sent(&mut self) {
        self.awaiting_pong = true;
    }

    /// Bytes held that do not yet form an item.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next item, `Ok(None)` when more bytes are needed. An error means the stream can
    /// no longer be framed and the connection must be closed (§18.3 has no resync).
    pub fn next_item(&mut self) -> Result<Option<StreamItem>> {
        if self.buf.starts_with(PING) {
            self.buf.drain(..PING.len());
            return Ok(Some(StreamItem::Ping));
        }
        // A lone CRLF might be the first half of a ping; only a pending ping of ours makes
        // it a pong for sure. Otherwise the message parser skips it as §7.5 allows.
        if self.awaiting_pong && self.buf.starts_with(PONG) {
            self.buf.drain(..PONG.len());
            self.awaiting_pong = false;
            return Ok(Some(StreamItem::Pong));
        }
        if self.buf.starts_with(PONG) && self.buf.len() < PING.len() {
            let all_breaks = self.buf.iter().all(|b| matches!(b, b'\r' | b'\n'));
            if all_breaks {
                return Ok(None);
            }
        }
        match parse_stream(&self.buf)? {
            Framed::Incomplete => Ok(None),
            Framed::Complete { message, consumed } => {
                let taken = self.buf.get(..consumed).unwrap_or(&self.buf);
                let start = taken
                    .iter()
                    .position(|b| !matches!(b, b'\r' | b'\n'))
                    .unwrap_or(taken.len());
                let raw = taken.get(start..).unwrap_or_default().to_vec();
                self.buf.drain(..consumed.min(self.buf.len()));
                Ok(Some(StreamItem::Message { message, raw }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str =
        "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1\r\n\
        From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: x\r\n\
        CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 4\r\n\r\nbody";

    fn drain(f: &mut StreamFramer) -> Vec<StreamItem> {
        let mut out = Vec::new();
        while let Some(i) = f.next_item().unwrap() {
            out.push(i);
        }
        out
    }

    #[test]
    fn byte_at_a_time() {
        let mut f = StreamFramer::new();
        let mut items = Vec::new();
        let both = format!("{MSG}{MSG}");
        for b in both.as_bytes() {
            f.push(&[*b]);
            items.extend(drain(&mut f));
        }
        assert_eq!(items.len(), 2);
        assert!(
            matches!(&items[0], StreamItem::Message { message, raw } if message.body() == b"body" && raw == MSG.as_bytes())
        );
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn raw_bytes_leave_out_the_line_breaks_before_a_message() {
        let mut f = StreamFramer::new();
        f.push(format!("\r\n{MSG}").as_bytes());
        let items = drain(&mut f);
        assert!(
            matches!(&items[..], [StreamItem::Message { raw, .. }] if raw == MSG.as_bytes()),
            "{items:?}"
        );
    }

    #[test]
    fn pings_and_pongs() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n");
        assert_eq!(drain(&mut f), vec![]);
        f.push(b"\r\n");
        assert_eq!(drain(&mut f), vec![StreamItem::Ping]);
        f.ping_sent();
        f.push(b"\r\n");
        assert_eq!(drain(&mut f), vec![StreamItem::Pong]);
        f.push(PING);
        f.push(MSG.as_bytes());
        let items = drain(&mut f);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], StreamItem::Ping);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut f = StreamFramer::new();
        f.push(b"NOT SIP AT ALL\r\n\r\n");
        assert!(f.next_item().is_err());
        let mut f = StreamFramer::new();
        // Content-Length is mandatory on streams.
        f.push(MSG.replace("Content-Length: 4\r\n", "").as_bytes());
        assert!(f.next_item().is_err());
    }
}
