//! Character classes and a byte cursor for the RFC 3261 §25.1 grammar.
//!
//! Every slice is cut at the position of an ASCII byte (or at the ends), so it always falls
//! on a UTF-8 character boundary; `str::get` is used anyway so that a mistake here would give
//! an error, never a panic.

/// `token` characters (RFC 3261 §25.1): alphanumerics and `-.!%*_+`'~`.
pub(crate) fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// `unreserved` = alphanum / mark.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// Space or horizontal tab.
pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims spaces and tabs (not other whitespace, which is significant in SIP).
pub(crate) fn trim_wsp(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// True when every byte is a token character and there is at least one.
pub(crate) fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

/// Checks that every `%` in `s` starts a two-hex-digit escape and every other byte passes
/// `allowed`.
pub(crate) fn check_escaped(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(|h| h.is_ascii_hexdigit());
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if allowed(c) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Decodes `%XX` escapes; anything that is not a valid escape is copied as is.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hi = b.get(i + 1).and_then(|h| (*h as char).to_digit(16));
            let lo = b.get(i + 2).and_then(|h| (*h as char).to_digit(16));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                // Two hex digits always fit in a byte.
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Splits a header value on commas that are outside quoted strings and angle brackets.
///
/// Always returns one element more than the number of separating commas, trimmed, so that
/// empty elements (`a,,b`) survive for the typed parsers to reject.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut depth, mut in_quote, mut escaped) = (0usize, 0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
            continue;
        }
        match b {
            b'"' => in_quote = true,
            b'<' => depth += 1,
            b'>' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                out.push(trim_wsp(value.get(start..i).unwrap_or("")));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(trim_wsp(value.get(start..).unwrap_or("")));
    out
}

/// Removes the quotes of a quoted string and its backslash escapes.
pub(crate) fn unquote(raw: &str) -> String {
    let inner = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(raw);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Puts `text` in double quotes, escaping `"` and `\`.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A forward-only cursor over a header value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `s`.
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    /// The next byte, if any.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    /// True at the end of input.
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Whatever has not been consumed.
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// Skips spaces and tabs; returns whether any were skipped.
    pub(crate) fn skip_wsp(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_wsp) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes optional whitespace, `b`, optional whitespace; false (and nothing consumed
    /// beyond the leading whitespace) if `b` is not there.
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_wsp();
        if self.eat(b) {
            self.skip_wsp();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes bytes while `pred` holds (only ASCII predicates are meaningful).
    pub(crate) fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.slice(start)
    }

    /// A token (possibly empty).
    pub(crate) fn token(&mut self) -> &'a str {
        self.take_while(is_token)
    }

    /// A quoted string starting at the cursor, returned with its quotes; `None` (nothing
    /// consumed) if there is no opening quote or no closing one.
    pub(crate) fn quoted(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.eat(b'"') {
            return None;
        }
        let bytes = self.s.as_bytes();
        let mut i = self.pos;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    self.pos = i + 1;
                    return Some(self.slice(start));
                }
                _ => i += 1,
            }
        }
        self.pos = start;
        None
    }

    fn slice(&self, start: usize) -> &'a str {
        self.s.get(start..self.pos).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_list_keeps_empty_elements_and_respects_quotes() {
        assert_eq!(split_list("a, b ,c"), ["a", "b", "c"]);
        assert_eq!(split_list(";;,;,,"), [";;", ";", "", ""]);
        assert_eq!(split_list(""), [""]);
        assert_eq!(
            split_list(r#""a,\"b" <sip:x,y>;p, c"#),
            [r#""a,\"b" <sip:x,y>;p"#, "c"]
        );
    }

    #[test]
    fn unquote_and_quote_are_inverse() {
        let raw = r#""J Rosenberg \\\"""#;
        assert_eq!(unquote(raw), r#"J Rosenberg \""#);
        assert_eq!(quote(&unquote(raw)), raw);
    }

    #[test]
    fn unescape_decodes_and_tolerates_bad_escapes() {
        assert_eq!(unescape("%75se%72"), b"user");
        assert_eq!(unescape("a%zz%4"), b"a%zz%4");
        assert_eq!(unescape("%00"), [0]);
    }

    #[test]
    fn quoted_handles_multibyte_and_unterminated() {
        let mut c = Cursor::new("\"\u{0436}\\\u{0436}\" x");
        assert_eq!(c.quoted(), Some("\"\u{0436}\\\u{0436}\""));
        let mut c = Cursor::new("\"abc");
        assert_eq!(c.quoted(), None);
        assert_eq!(c.rest(), "\"abc");
    }
}
