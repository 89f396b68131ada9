//! Phone-number normalisation to E.164 (ITU-T E.164, at most 15 digits after `+`).
//!
//! gofaxserver applied two hard-coded regexes that mangled international numbers; here a
//! [`NumberRules`] set describes one national numbering plan, and anything that is not clearly
//! national or international is an error rather than a guess.

use std::fmt;

use crate::error::{Error, Result};

/// A number in E.164 form (`+` then 7 to 15 digits); only [`NumberRules`] and
/// [`E164::parse`] make one, so holding one proves normalisation happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

impl E164 {
    /// Accepts a string that is already E.164, such as one read back from the database.
    pub fn parse(s: &str) -> Result<Self> {
        s.strip_prefix('+')
            .and_then(international)
            .ok_or_else(|| Error::InvalidNumber {
                input: s.to_owned(),
                reason: "not in E.164 form",
            })
    }

    /// The number as `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Maximum digits in an E.164 number, country code included.
const E164_MAX_DIGITS: usize = 15;
/// Shortest number we accept as international; shorter ones are almost certainly typos.
const E164_MIN_DIGITS: usize = 7;

/// How numbers dialled in one national plan are turned into E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRules {
    /// Country calling code without `+`, e.g. `1` for NANP.
    pub country_code: String,
    /// Length of a national significant number, e.g. 10 for NANP.
    pub national_digits: usize,
    /// Trunk prefix that may precede a national number, e.g. `1` for NANP, `0` in the UK.
    pub trunk_prefix: Option<String>,
    /// Prefix dialled before international numbers, e.g. `011` for NANP, `00` elsewhere.
    pub international_prefix: Option<String>,
}

impl Default for NumberRules {
    /// The North American Numbering Plan.
    fn default() -> Self {
        Self::nanp()
    }
}

impl NumberRules {
    /// The North American Numbering Plan: `+1`, 10 national digits, trunk `1`, exit `011`.
    pub fn nanp() -> Self {
        NumberRules {
            country_code: "1".into(),
            national_digits: 10,
            trunk_prefix: Some("1".into()),
            international_prefix: Some("011".into()),
        }
    }

    /// Normalises `input` to E.164 (`+` and digits), or explains why it cannot.
    pub fn normalize(&self, input: &str) -> Result<E164> {
        let err = |reason| Error::InvalidNumber {
            input: input.to_owned(),
            reason,
        };
        let trimmed = input.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                // Visual separators people and PBXes put in numbers.
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(err("contains a character that is not a digit")),
            }
        }
        if digits.is_empty() {
            return Err(err("no digits"));
        }
        if plus {
            return international(&digits).ok_or_else(|| err("not a valid E.164 number"));
        }
        if let Some(intl) = self.international_prefix.as_deref() {
            if let Some(rest) = digits.strip_prefix(intl) {
                return international(rest).ok_or_else(|| err("not a valid international number"));
            }
        }
        if digits.len() == self.national_digits {
            return Ok(E164(format!("+{}{}", self.country_code, digits)));
        }
        if let Some(trunk) = self.trunk_prefix.as_deref() {
            if let Some(rest) = digits.strip_prefix(trunk) {
                if rest.len() == self.national_digits {
                    return Ok(E164(format!("+{}{}", self.country_code, rest)));
                }
            }
        }
        Err(err("neither a national nor an international number"))
    }
}

/// Validates the digits after `+`: no leading zero (no country code starts with 0), sane length.
fn international(digits: &str) -> Option<E164> {
    let ok = (E164_MIN_DIGITS..=E164_MAX_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| E164(format!("+{digits}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanp_table() {
        let rules = NumberRules::default();
        let table: &[(&str, Option<&str>)] = &[
            ("2125551234", Some("+12125551234")),
            ("12125551234", Some("+12125551234")),
            ("+12125551234", Some("+12125551234")),
            ("(212) 555-1234", Some("+12125551234")),
            ("1-212-555-1234", Some("+12125551234")),
            (" 212.555.1234 ", Some("+12125551234")),
            ("011442071234567", Some("+442071234567")),
            ("+442071234567", Some("+442071234567")),
            ("+4930123456", Some("+4930123456")),
            ("01149301234567", Some("+49301234567")),
            ("", None),
            ("+", None),
            ("abc", None),
            ("212555123", None),
            ("22125551234", None),
            ("212555123456", None),
            ("+0123456789", None),
            ("+1234567890123456", None),
            ("011", None),
            ("0110442071234567", None),
            ("212555l234", None),
            ("sip:2125551234@example.com", None),
            ("+1 212 555 1234", Some("+12125551234")),
            ("2125551234\u{0}", None),
        ];
        for (input, want) in table {
            let got = rules.normalize(input).ok();
            assert_eq!(got.as_ref().map(E164::as_str), *want, "input {input:?}");
            if let Some(n) = got {
                assert_eq!(E164::parse(n.as_str()).ok(), Some(n.clone()), "round trip");
            }
        }
    }

    #[test]
    fn uk_rules() {
        let uk = NumberRules {
            country_code: "44".into(),
            national_digits: 10,
            trunk_prefix: Some("0".into()),
            international_prefix: Some("00".into()),
        };
        assert_eq!(
            uk.normalize("02071234567").unwrap().as_str(),
            "+442071234567"
        );
        assert_eq!(
            uk.normalize("2071234567").unwrap().as_str(),
            "+442071234567"
        );
        assert_eq!(
            uk.normalize("0012125551234").unwrap().as_str(),
            "+12125551234"
        );
        assert!(uk.normalize("12125551234").is_err());
    }

    #[test]
    fn error_names_input() {
        let e = NumberRules::nanp().normalize("12").unwrap_err();
        assert!(e.to_string().contains("\"12\""), "{e}");
    }
}
