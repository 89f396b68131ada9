//! The SIP `Reason` header (RFC 3326): `Q.850;cause=16;text="Normal call clearing"`.
//!
//! Carriers put the ISDN cause (ITU-T Q.850) of a failed or cleared call here; it is often more
//! specific than the SIP status (a 480 or 503 may carry "user busy" or "unallocated number").
//! Parsing is tolerant: malformed values are skipped, never an error.

use serde::{Deserialize, Serialize};

/// One `reason-value` of a `Reason` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonValue {
    /// The protocol token as sent (`SIP`, `Q.850`, or an extension).
    pub protocol: String,
    /// The `cause` parameter, when present and numeric.
    pub cause: Option<u16>,
    /// The `text` parameter, unquoted.
    pub text: Option<String>,
}

/// A Q.850 cause taken from a `Reason` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q850 {
    /// The cause value (1–127).
    pub cause: u8,
    /// The far end's text for it, if it sent one.
    pub text: Option<String>,
}

/// Parses one `Reason` header value, which may hold several comma-separated reason values.
pub fn parse_reason(value: &str) -> Vec<ReasonValue> {
    split_unquoted(value, ',')
        .into_iter()
        .filter_map(parse_one)
        .collect()
}

/// The first Q.850 cause found in any of the given `Reason` header values.
pub fn q850_cause<S: AsRef<str>>(headers: &[S]) -> Option<Q850> {
    headers
        .iter()
        .flat_map(|h| parse_reason(h.as_ref()))
        .filter(|r| r.protocol.eq_ignore_ascii_case("Q.850"))
        .find_map(|r| {
            // Q.850 causes are 7-bit; anything else is a broken header, not a cause.
            let cause = r
                .cause
                .and_then(|c| u8::try_from(c).ok())
                .filter(|c| (1..=127).contains(c))?;
            Some(Q850 {
                cause,
                text: r.text,
            })
        })
}

fn parse_one(item: &str) -> Option<ReasonValue> {
    let mut parts = split_unquoted(item, ';').into_iter();
    let protocol = parts.next()?.trim();
    if protocol.is_empty() || protocol.contains(['"', '=']) {
        return None;
    }
    let mut value = ReasonValue {
        protocol: protocol.to_owned(),
        cause: None,
        text: None,
    };
    for param in parts {
        let Some((name, raw)) = param.split_once('=') else {
            continue;
        };
        let raw = raw.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "cause" => value.cause = raw.parse().ok(),
            "text" => value.text = Some(unquote(raw)),
            _ => {}
        }
    }
    Some(value)
}

/// Splits on `sep` outside double quotes, honouring backslash escapes inside them.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

fn unquote(raw: &str) -> String {
    let Some(inner) = raw.strip_prefix('"') else {
        return raw.to_owned();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}
