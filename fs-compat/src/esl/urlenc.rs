//! FreeSWITCH's URL encoding of event header values (`switch_url_encode`).
//!
//! Bytes below space, above `~`, and the characters of `SWITCH_URL_UNSAFE`
//! (`\r\n #%&+:;<=>?@[\]^`{|}"`) become `%XX` with upper-case hex, except that a `%`
//! already followed by two upper-case hex digits is kept (FreeSWITCH does not encode twice).

const UNSAFE: &[u8] = b"\r\n #%&+:;<=>?@[\\]^`{|}\"";
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Encodes `value` as FreeSWITCH writes header values of plain and XML events.
pub fn encode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let already_encoded = b == b'%'
            && i + 2 < bytes.len()
            && HEX.contains(&bytes[i + 1])
            && HEX.contains(&bytes[i + 2]);
        if !already_encoded && (!(b' '..=b'~').contains(&b) || UNSAFE.contains(&b)) {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// Decodes `%XX` sequences (either case); anything malformed is kept as it is.
pub fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_freeswitch() {
        assert_eq!(encode("2020-05-14 17:35:30"), "2020-05-14%2017%3A35%3A30");
        assert_eq!(
            encode("Thu, 14 May 2020 09:35:30 GMT"),
            "Thu,%2014%20May%202020%2009%3A35%3A30%20GMT"
        );
        assert_eq!(encode("::1"), "%3A%3A1");
        assert_eq!(
            encode("sofia/default/1005 '&park'"),
            "sofia/default/1005%20'%26park'"
        );
        assert_eq!(encode("a/b.c-d_e~f'g(h)*!$,"), "a/b.c-d_e~f'g(h)*!$,");
        assert_eq!(encode("é\n\t"), "%C3%A9%0A%09");
    }

    #[test]
    fn keeps_existing_upper_case_escapes() {
        assert_eq!(encode("100%25"), "100%25");
        assert_eq!(encode("100%2a"), "100%252a");
        assert_eq!(encode("%4"), "%254");
        assert_eq!(encode("%"), "%25");
    }

    #[test]
    fn decodes_and_survives_junk() {
        assert_eq!(decode("%3A%3a1%"), "::1%");
        assert_eq!(decode("%zz%2"), "%zz%2");
        assert_eq!(decode("%C3%A9"), "é");
        assert_eq!(decode(&encode("a b:c\u{7f}")), "a b:c\u{7f}");
    }
}
