//! Sans-IO framing of the Event Socket: client bytes in, [`Frame`]s out; replies and events
//! out as bytes.
//!
//! Framing follows `read_packet` in `mod_event_socket.c`: line feeds and carriage returns
//! before a command are skipped; a command ends at two line feeds with nothing but carriage
//! returns between them (so both `\n\n` and `\r\n\r\n` work); its first line is the command,
//! the following `Name: value` lines are headers, and a positive `Content-Length` header
//! announces that many bytes of body. Unlike FreeSWITCH (10 MB per command), heads and
//! bodies have small limits, and exceeding one is an error rather than a silent cut.

use crate::{Error, Result};

/// The most bytes a command line plus its headers may take.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most bytes a command body may take.
pub const MAX_BODY: usize = 1024 * 1024;

/// The notice FreeSWITCH sends before it closes a connection it was asked to close.
pub const GOODBYE: &str = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";

/// One client command as it came off the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// The first line (`api status`, `event plain ALL`, …), without its line end.
    pub command: String,
    /// The `Name: value` lines after it, in order, values with leading spaces removed.
    pub headers: Vec<(String, String)>,
    /// The body announced by `Content-Length`, if any.
    pub body: Option<Vec<u8>>,
}

impl Frame {
    /// The first header of that name, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Accumulates bytes and cuts them into [`Frame`]s.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// How far the head of the next command has been scanned, and the line feeds seen at
    /// that point, so that a slow sender does not make us rescan.
    scanned: usize,
    line_feeds: u8,
    /// A parsed head waiting for this many bytes of body.
    pending: Option<(Frame, usize)>,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame; `Ok(None)` until one is complete. After an error the
    /// connection should be closed: the stream can no longer be framed.
    pub fn poll_frame(&mut self) -> Result<Option<Frame>> {
        if let Some((_, len)) = &self.pending {
            let len = *len;
            if self.buf.len() < len {
                return Ok(None);
            }
            let body: Vec<u8> = self.buf.drain(..len).collect();
            let (mut frame, _) = self.pending.take().unwrap_or_default();
            frame.body = Some(body);
            return Ok(Some(frame));
        }
        if self.scanned == 0 {
            let skip = self
                .buf
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            self.buf.drain(..skip);
        }
        let mut end = None;
        for (i, &b) in self.buf.iter().enumerate().skip(self.scanned) {
            match b {
                b'\n' => {
                    self.line_feeds += 1;
                    if self.line_feeds == 2 {
                        end = Some(i + 1);
                        break;
                    }
                }
                b'\r' => {}
                _ => self.line_feeds = 0,
            }
        }
        let Some(end) = end else {
            self.scanned = self.buf.len();
            if self.buf.len() > MAX_HEAD {
                return Err(Error::FrameTooLarge {
                    what: "command",
                    limit: MAX_HEAD,
                });
            }
            return Ok(None);
        };
        if end > MAX_HEAD {
            return Err(Error::FrameTooLarge {
                what: "command",
                limit: MAX_HEAD,
            });
        }
        let head: Vec<u8> = self.buf.drain(..end).collect();
        self.scanned = 0;
        self.line_feeds = 0;
        let frame = parse_head(&head);
        let len = frame.header("Content-Length").map_or(0, leading_number);
        if len == 0 {
            return Ok(Some(frame));
        }
        if len > MAX_BODY {
            return Err(Error::FrameTooLarge {
                what: "body",
                limit: MAX_BODY,
            });
        }
        self.pending = Some((frame, len));
        self.poll_frame()
    }
}

fn parse_head(head: &[u8]) -> Frame {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split(['\r', '\n']).filter(|l| !l.is_empty());
    let command = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.to_owned(), value.trim_start_matches(' ').to_owned()))
        })
        .collect();
    Frame {
        command,
        headers,
        body: None,
    }
}

/// `atoi`: the digits at the start, 0 when there are none or they overflow.
fn leading_number(value: &str) -> usize {
    let digits: String = value
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

/// The greeting: `Content-Type: auth/request`.
pub fn auth_request() -> Vec<u8> {
    b"Content-Type: auth/request\n\n".to_vec()
}

/// A `command/reply` with `Reply-Text: <text>`.
pub fn command_reply(text: &str) -> Vec<u8> {
    format!("Content-Type: command/reply\nReply-Text: {text}\n\n").into_bytes()
}

/// The reply to `bgapi`: `+OK Job-UUID: <uuid>` and a `Job-UUID` header.
pub fn bgapi_reply(job_uuid: &str) -> Vec<u8> {
    format!(
        "Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job_uuid}\nJob-UUID: {job_uuid}\n\n"
    )
    .into_bytes()
}

/// An `api/response`; an empty body becomes `-ERR no reply\n`, as in FreeSWITCH.
pub fn api_response(body: &str) -> Vec<u8> {
    let body = if body.is_empty() {
        "-ERR no reply\n"
    } else {
        body
    };
    let mut out = format!(
        "Content-Type: api/response\nContent-Length: {}\n\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// A `text/disconnect-notice` carrying `message`.
pub fn disconnect_notice(message: &str) -> Vec<u8> {
    let mut out = format!(
        "Content-Type: text/disconnect-notice\nContent-Length: {}\n\n",
        message.len()
    )
    .into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

/// An event already serialised as `text/event-<format>` (`plain`, `json` or `xml`).
pub fn event_frame(format: &str, serialized: &str) -> Vec<u8> {
    let mut out = format!(
        "Content-Length: {}\nContent-Type: text/event-{format}\n\n",
        serialized.len()
    )
    .into_bytes();
    out.extend_from_slice(serialized.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut d = Decoder::new();
        d.feed(input);
        let mut out = Vec::new();
        while let Some(f) = d.poll_frame().unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn commands_end_at_an_empty_line_with_either_line_end() {
        let f = frames(b"\r\n\nauth ClueCon\n\napi status\r\n\r\nexit\n\r\n");
        let commands: Vec<_> = f.iter().map(|f| f.command.as_str()).collect();
        assert_eq!(commands, ["auth ClueCon", "api status", "exit"]);
    }

    #[test]
    fn headers_and_body() {
        let f = frames(
            b"bgapi status\nJob-UUID:  abc\n\nsendevent CUSTOM\nContent-Length: 5\nX: y\n\nhello\nnext",
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].header("job-uuid"), Some("abc"));
        assert_eq!(f[1].body.as_deref(), Some(&b"hello"[..]));
        assert_eq!(f[1].header("X"), Some("y"));
    }

    #[test]
    fn byte_at_a_time_gives_the_same_frames() {
        let input = b"api status\r\n\r\nsendevent X\nContent-Length: 3\n\nabcevent plain ALL\n\n";
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for b in input {
            d.feed(&[*b]);
            while let Some(f) = d.poll_frame().unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out, frames(input));
        assert_eq!(out.len(), 3);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn limits() {
        let mut d = Decoder::new();
        d.feed(&vec![b'a'; MAX_HEAD + 1]);
        assert!(matches!(d.poll_frame(), Err(Error::FrameTooLarge { .. })));
        let mut d = Decoder::new();
        d.feed(format!("x\nContent-Length: {}\n\n", MAX_BODY + 1).as_bytes());
        assert!(matches!(d.poll_frame(), Err(Error::FrameTooLarge { .. })));
        let mut d = Decoder::new();
        d.feed(b"x\nContent-Length: -5\n\n");
        assert_eq!(d.poll_frame().unwrap().unwrap().body, None);
    }

    #[test]
    fn replies_are_byte_exact() {
        assert_eq!(auth_request(), b"Content-Type: auth/request\n\n");
        assert_eq!(
            command_reply("+OK accepted"),
            b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
        );
        assert_eq!(
            api_response(""),
            b"Content-Type: api/response\nContent-Length: 14\n\n-ERR no reply\n"
        );
        assert_eq!(
            disconnect_notice(GOODBYE),
            b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n".to_vec()
        );
        assert_eq!(
            bgapi_reply("u-1"),
            b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: u-1\nJob-UUID: u-1\n\n"
        );
        assert_eq!(
            event_frame("plain", "A: b\n\n"),
            b"Content-Length: 6\nContent-Type: text/event-plain\n\nA: b\n\n"
        );
    }
}
