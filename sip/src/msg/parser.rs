//! Framing and parsing of SIP messages (RFC 3261 §7, §7.3.1 folding, §18.3 framing).
//!
//! The parser is strict about the start line (single spaces, no trailing white space,
//! RFC 4475 §3.1.2.7–3.1.2.10) and about Content-Length, and tolerant where RFC 3261 asks
//! for it: leading CRLFs are skipped (§7.5), header names are case-insensitive and may be
//! compact, values may be folded across lines and are unfolded to single spaces, and bytes
//! that are not UTF-8 in header values or the reason phrase are replaced (they can only
//! occur in quoted strings and display names, which this crate never acts on). Typed header
//! values are parsed later, on access, so that a bad `To` still leaves enough of the message
//! to answer 400.

use super::headers::{HeaderName, Headers};
use super::lex::{is_token, is_wsp, split_list, trim_wsp};
use super::message::{Message, Method, Request, Response, StatusCode, Version};
use super::uri::Uri;
use crate::error::{Error, Result};

/// The largest message head accepted on a stream before giving up on finding its end.
pub const MAX_HEAD_LEN: usize = 64 * 1024;

/// The largest body accepted on a stream.
pub const MAX_BODY_LEN: usize = 1024 * 1024;

/// The result of looking for one message at the front of a stream buffer.
// `Incomplete` is only ever a transient answer, so boxing the message would cost an
// allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// More bytes are needed.
    Incomplete,
    /// A whole message, and how many bytes of the buffer it used (leading CRLFs included).
    Complete {
        /// The message.
        message: Message,
        /// Bytes consumed from the front of the buffer.
        consumed: usize,
    },
}

/// Parses one message from a datagram (UDP): without Content-Length the body is the rest
/// of the datagram; bytes beyond Content-Length are ignored (RFC 3261 §18.3).
pub fn parse_datagram(buf: &[u8]) -> Result<Message> {
    let start = skip_leading_line_breaks(buf);
    if start >= buf.len() {
        return Err(Error::Empty);
    }
    let (head_end, body_start) = find_head_end(buf, start).ok_or(Error::UnterminatedHead)?;
    let head = parse_head(buf.get(start..head_end).unwrap_or_default())?;
    let rest = buf.get(body_start..).unwrap_or_default();
    let body = match head.content_length {
        Some(n) => rest.get(..n).ok_or(Error::Truncated {
            expected: n,
            available: rest.len(),
        })?,
        None => rest,
    };
    Ok(head.into_message(body.to_vec()))
}

/// Looks for one message at the front of a stream buffer (TCP, TLS), where Content-Length
/// is mandatory (RFC 3261 §18.3).
pub fn parse_stream(buf: &[u8]) -> Result<Framed> {
    let start = skip_leading_line_breaks(buf);
    if start >= buf.len() {
        return Ok(Framed::Incomplete);
    }
    let Some((head_end, body_start)) = find_head_end(buf, start) else {
        if buf.len() - start > MAX_HEAD_LEN {
            return Err(Error::TooLarge { max: MAX_HEAD_LEN });
        }
        return Ok(Framed::Incomplete);
    };
    if head_end - start > MAX_HEAD_LEN {
        return Err(Error::TooLarge { max: MAX_HEAD_LEN });
    }
    let head = parse_head(buf.get(start..head_end).unwrap_or_default())?;
    let len = head
        .content_length
        .ok_or(Error::ContentLength("required on a stream transport"))?;
    if len > MAX_BODY_LEN {
        return Err(Error::TooLarge { max: MAX_BODY_LEN });
    }
    let end = body_start
        .checked_add(len)
        .ok_or(Error::TooLarge { max: MAX_BODY_LEN })?;
    match buf.get(body_start..end) {
        Some(body) => Ok(Framed::Complete {
            message: head.into_message(body.to_vec()),
            consumed: end,
        }),
        None => Ok(Framed::Incomplete),
    }
}

/// True when the buffer holds only line breaks: CRLF keep-alives (RFC 5626 §3.5.1) that a
/// stream reader may discard.
pub fn is_keepalive(buf: &[u8]) -> bool {
    !buf.is_empty() && buf.iter().all(|&b| b == b'\r' || b == b'\n')
}

fn skip_leading_line_breaks(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Finds the empty line ending the head: returns (end of head, start of body).
fn find_head_end(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut pos = from;
    loop {
        let rel = buf.get(pos..)?.iter().position(|&b| b == b'\n')?;
        let nl = pos + rel;
        let line = buf.get(pos..nl)?;
        if (line.is_empty() || line == b"\r") && pos != from {
            return Some((pos, nl + 1));
        }
        pos = nl + 1;
    }
}

/// The head split into lines without their CR LF (a lone LF is accepted as a line end).
fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

enum StartLine {
    Request(Method, Uri, Version),
    Response(Version, StatusCode, String),
}

struct Head {
    start: StartLine,
    headers: Headers,
    content_length: Option<usize>,
}

impl Head {
    fn into_message(self, body: Vec<u8>) -> Message {
        match self.start {
            StartLine::Request(method, uri, version) => Message::Request(Request {
                method,
                uri,
                version,
                headers: self.headers,
                body,
            }),
            StartLine::Response(version, status, reason) => Message::Response(Response {
                version,
                status,
                reason,
                headers: self.headers,
                body,
            }),
        }
    }
}

fn parse_head(head: &[u8]) -> Result<Head> {
    let mut it = lines(head).enumerate();
    let (_, first) = it.next().ok_or(Error::Empty)?;
    if first.contains(&b'\r') {
        return Err(Error::StartLine("bare CR"));
    }
    let start = parse_start_line(&String::from_utf8_lossy(first))?;
    let mut headers = Headers::new();
    let mut content_length = None;
    for (_, name, value) in unfold(it)? {
        let name = HeaderName::parse(name);
        if name == HeaderName::ContentLength {
            if content_length.is_some() {
                return Err(Error::ContentLength("more than one Content-Length"));
            }
            content_length = Some(parse_content_length(&value)?);
            continue;
        }
        if name.is_list() {
            for v in split_list(&value) {
                headers.push(name.clone(), v);
            }
        } else {
            headers.push(name, value);
        }
    }
    Ok(Head {
        start,
        headers,
        content_length,
    })
}

/// Joins folded continuation lines to their header line and splits name from value.
/// Yields (line number, name, unfolded value).
fn unfold<'a>(
    lines: impl Iterator<Item = (usize, &'a [u8])>,
) -> Result<Vec<(usize, &'a str, String)>> {
    let mut out: Vec<(usize, &'a str, Vec<&'a [u8]>)> = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.contains(&b'\r') {
            return Err(Error::HeaderLine {
                line: line_no,
                reason: "bare CR",
            });
        }
        if line.first().is_some_and(|&b| is_wsp(b)) {
            match out.last_mut() {
                Some((_, _, pieces)) => pieces.push(line),
                None => {
                    return Err(Error::HeaderLine {
                        line: line_no,
                        reason: "continuation line before any header",
                    })
                }
            }
            continue;
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Error::HeaderLine {
                line: line_no,
                reason: "no colon",
            })?;
        let raw_name = line.get(..colon).unwrap_or_default();
        let name_len = raw_name
            .iter()
            .rposition(|&b| !is_wsp(b))
            .map_or(0, |p| p + 1);
        let name = raw_name.get(..name_len).unwrap_or_default();
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(Error::HeaderLine {
                line: line_no,
                reason: "header name is not a token",
            });
        }
        // A token is ASCII, so this cannot fail.
        let name = std::str::from_utf8(name).map_err(|_| Error::HeaderLine {
            line: line_no,
            reason: "header name is not a token",
        })?;
        out.push((
            line_no,
            name,
            vec![line.get(colon + 1..).unwrap_or_default()],
        ));
    }
    Ok(out
        .into_iter()
        .map(|(n, name, pieces)| {
            let text: Vec<String> = pieces
                .iter()
                .map(|p| trim_wsp(&String::from_utf8_lossy(p)).to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            (n, name, text.join(" "))
        })
        .collect())
}

fn parse_content_length(value: &str) -> Result<usize> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::ContentLength("not a non-negative decimal number"));
    }
    value.parse().map_err(|_| Error::ContentLength("too large"))
}

fn parse_start_line(line: &str) -> Result<StartLine> {
    let is_response = line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"));
    if is_response {
        let (ver, rest) = line
            .split_once(' ')
            .ok_or(Error::StartLine("status line without a status code"))?;
        let version = Version::parse(ver).ok_or(Error::StartLine("bad SIP version"))?;
        // Some stacks omit the space before an empty reason phrase.
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::StartLine("status code is not three digits"));
        }
        let status = code
            .parse()
            .ok()
            .and_then(StatusCode::new)
            .ok_or(Error::StartLine("status code outside 100-699"))?;
        return Ok(StartLine::Response(version, status, reason.to_owned()));
    }
    let mut parts = line.splitn(3, ' ');
    let (method, uri, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(u), Some(v)) if !m.is_empty() && !u.is_empty() && !v.is_empty() => (m, u, v),
        _ => {
            return Err(Error::StartLine(
                "request line is not METHOD SP URI SP VERSION",
            ))
        }
    };
    let method = Method::parse(method).ok_or(Error::StartLine("method is not a token"))?;
    let uri = Uri::parse(uri)?;
    let version = Version::parse(version).ok_or(Error::StartLine("bad SIP version"))?;
    Ok(StartLine::Request(method, uri, version))
}

/// Reads whatever headers can be read from bytes that failed to parse, skipping lines that
/// make no sense; used to answer 400 to a request the parser rejected. `None` when the
/// bytes do not look like a request.
pub(crate) fn salvage_request_headers(buf: &[u8]) -> Option<Headers> {
    let start = skip_leading_line_breaks(buf);
    let body = buf.get(start..)?;
    let head_end = find_head_end(buf, start).map_or(body.len(), |(end, _)| end - start);
    let head = body.get(..head_end)?;
    let mut it = lines(head).enumerate();
    let (_, first) = it.next()?;
    if first
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        return None;
    }
    let mut headers = Headers::new();
    let good = it.filter(|(_, l)| !l.contains(&b'\r'));
    let mut pending: Vec<(usize, &[u8])> = Vec::new();
    for (i, line) in good {
        // Unfold line by line so that one bad line does not lose the others.
        if line.first().is_some_and(|&b| is_wsp(b)) {
            pending.push((i, line));
            continue;
        }
        flush_salvaged(&mut pending, &mut headers);
        pending.push((i, line));
    }
    flush_salvaged(&mut pending, &mut headers);
    Some(headers)
}

fn flush_salvaged(pending: &mut Vec<(usize, &[u8])>, headers: &mut Headers) {
    if let Ok(v) = unfold(pending.drain(..)) {
        for (_, name, value) in v {
            headers.push(HeaderName::parse(name), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
        Content-Length: 4\r\n\r\nbodyEXTRA";

    #[test]
    fn datagram_ignores_bytes_after_content_length() {
        let m = parse_datagram(OPTIONS).unwrap();
        assert_eq!(m.body(), b"body");
    }

    #[test]
    fn stream_waits_for_the_whole_body_and_reports_consumed() {
        assert_eq!(parse_stream(&OPTIONS[..20]).unwrap(), Framed::Incomplete);
        let head_len = OPTIONS.len() - "bodyEXTRA".len();
        assert_eq!(
            parse_stream(&OPTIONS[..head_len + 2]).unwrap(),
            Framed::Incomplete
        );
        match parse_stream(OPTIONS).unwrap() {
            Framed::Complete { consumed, .. } => assert_eq!(consumed, head_len + 4),
            other => panic!("{other:?}"),
        }
        let mut with_ping = b"\r\n\r\n".to_vec();
        with_ping.extend_from_slice(OPTIONS);
        match parse_stream(&with_ping).unwrap() {
            Framed::Complete { consumed, .. } => assert_eq!(consumed, head_len + 8),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stream_requires_content_length() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
        assert!(matches!(parse_stream(m), Err(Error::ContentLength(_))));
        assert!(parse_datagram(m).is_ok());
    }

    #[test]
    fn folding_and_bare_lf() {
        let m = parse_datagram(b"OPTIONS sip:a@b SIP/2.0\nSubject: one\n  two\n\tthree\nl: 0\n\n")
            .unwrap();
        assert_eq!(m.headers().get(&HeaderName::Subject), Some("one two three"));
    }

    #[test]
    fn rejects_bad_start_lines() {
        for bad in [
            &b"INVITE  sip:a@b SIP/2.0\r\n\r\n"[..],
            b"INVITE sip:a@b SIP/2.0 \r\n\r\n",
            b"INVITE sip:a@b; lr SIP/2.0\r\n\r\n",
            b"INVITE <sip:a@b> SIP/2.0\r\n\r\n",
            b"SIP/2.0 4294967301 big\r\n\r\n",
            b"SIP/2.0 99 low\r\n\r\n",
            b"SIP/2.0\r\n\r\n",
        ] {
            assert!(
                parse_datagram(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn salvage_reads_headers_after_a_bad_request_line() {
        let h = salvage_request_headers(
            b"INVITE  sip:a@b SIP/2.0\r\nCall-ID: x\r\nbroken\r\nv: SIP/2.0/UDP h\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.get(&HeaderName::CallId), Some("x"));
        assert_eq!(h.get(&HeaderName::Via), Some("SIP/2.0/UDP h"));
        assert!(salvage_request_headers(b"SIP/2.0 200 OK\r\n\r\n").is_none());
    }
}
