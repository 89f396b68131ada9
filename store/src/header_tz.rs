//! The time zone of the date in a sent fax's header line, per tenant or number.
//!
//! Operators name zones the IANA way (`Europe/Berlin`); SpanDSP's page header wants a POSIX
//! TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`) and has no zone database of its own. The system
//! database (`/usr/share/zoneinfo`, Debian's `tzdata`, or `$TZDIR`) holds both: every TZif
//! v2+ file ends with the POSIX rule for times after its table, which is what a fax sent
//! now needs.

use std::path::PathBuf;

/// Why a zone name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TzError {
    /// Not a well-formed IANA name (`Area/Location`, letters, digits, `_+-`).
    #[error("time zone {0:?} is not an IANA zone name such as Europe/Berlin")]
    Malformed(String),
    /// Well-formed but not in the system's zone database.
    #[error("unknown time zone {0:?}")]
    Unknown(String),
    /// In the database but without a POSIX rule (a TZif v1 file).
    #[error("time zone {0:?} has no POSIX rule in the zone database")]
    NoRule(String),
}

fn zoneinfo_dir() -> PathBuf {
    std::env::var_os("TZDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/zoneinfo"))
}

/// Checks an IANA zone name against the system database; `Ok` with the name trimmed.
pub fn validate(name: &str) -> Result<String, TzError> {
    posix_rule(name).map(|_| name.trim().to_owned())
}

/// The POSIX TZ rule of the IANA zone `name`, in a form SpanDSP 0.0.6 parses: quoted
/// abbreviations such as `<+14>` become plain letters, which only name the zone.
pub fn posix_rule(name: &str) -> Result<String, TzError> {
    let name = name.trim();
    let well_formed = !name.is_empty()
        && name.len() <= 64
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
        });
    if !well_formed {
        return Err(TzError::Malformed(name.to_owned()));
    }
    let bytes =
        std::fs::read(zoneinfo_dir().join(name)).map_err(|_| TzError::Unknown(name.to_owned()))?;
    if !bytes.starts_with(b"TZif") {
        return Err(TzError::Unknown(name.to_owned()));
    }
    // The footer is the last of the file's lines: "\n<rule>\n".
    let footer = bytes
        .strip_suffix(b"\n")
        .and_then(|b| b.rsplit(|&c| c == b'\n').next())
        .and_then(|f| std::str::from_utf8(f).ok())
        .filter(|f| !f.is_empty() && f.is_ascii() && !f.contains('\0'))
        .ok_or_else(|| TzError::NoRule(name.to_owned()))?;
    Ok(unquote(footer))
}

/// Replaces each `<...>` abbreviation with letters: `ZZA` for the first (standard time),
/// `ZZB` for the second (daylight time), which the rule keeps apart.
fn unquote(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len());
    let mut names = ["ZZA", "ZZB"].into_iter();
    let mut rest = rule;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => {
                out.push_str(names.next().unwrap_or("ZZC"));
                rest = &rest[start + end + 1..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The longest date format accepted for the header line.
pub const DATE_FORMAT_MAX: usize = 40;

/// Why a header date format was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateFormatError {
    /// Longer than [`DATE_FORMAT_MAX`] characters.
    #[error("date format is {0} characters; at most 40 are allowed")]
    TooLong(usize),
    /// Holds a character outside printable ASCII.
    #[error("date format must be printable ASCII")]
    NotPrintable,
    /// chrono cannot read it (an unknown `%` specifier, a lone `%`).
    #[error(
        "date format {0:?} is not a valid strftime format (chrono syntax, e.g. %Y-%m-%d %H:%M)"
    )]
    Invalid(String),
}

/// Checks a strftime-style (chrono syntax) header date format; `Ok` with it trimmed.
/// `""` is valid and means unset.
pub fn validate_date_format(format: &str) -> Result<String, DateFormatError> {
    use chrono::format::{Item, StrftimeItems};
    let format = format.trim();
    if !format.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(DateFormatError::NotPrintable);
    }
    if format.len() > DATE_FORMAT_MAX {
        return Err(DateFormatError::TooLong(format.len()));
    }
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(DateFormatError::Invalid(format.to_owned()));
    }
    Ok(format.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_formats_are_checked() {
        assert_eq!(
            validate_date_format(" %Y-%m-%d %H:%M ").unwrap(),
            "%Y-%m-%d %H:%M"
        );
        assert_eq!(validate_date_format("").unwrap(), "");
        assert_eq!(validate_date_format("%d.%m.%Y %a").unwrap(), "%d.%m.%Y %a");
        assert_eq!(
            validate_date_format("%Q"),
            Err(DateFormatError::Invalid("%Q".into()))
        );
        assert_eq!(
            validate_date_format("%Y %"),
            Err(DateFormatError::Invalid("%Y %".into()))
        );
        assert_eq!(
            validate_date_format(&"%Y".repeat(21)),
            Err(DateFormatError::TooLong(42))
        );
        assert!(validate_date_format(&"x".repeat(40)).is_ok());
        assert_eq!(
            validate_date_format("%Y\t%m"),
            Err(DateFormatError::NotPrintable)
        );
        assert_eq!(
            validate_date_format("%Y\u{e9}"),
            Err(DateFormatError::NotPrintable)
        );
        assert_eq!(
            validate_date_format("%Y\n%m"),
            Err(DateFormatError::NotPrintable)
        );
    }

    #[test]
    fn quoted_abbreviations_become_letters() {
        assert_eq!(unquote("<+14>-14"), "ZZA-14");
        assert_eq!(
            unquote("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1"),
            "ZZA3ZZB,M3.5.0/-2,M10.5.0/-1"
        );
        assert_eq!(
            unquote("CET-1CEST,M3.5.0,M10.5.0/3"),
            "CET-1CEST,M3.5.0,M10.5.0/3"
        );
    }

    #[test]
    fn system_zones_give_their_rules() {
        assert_eq!(posix_rule("Pacific/Kiritimati").unwrap(), "ZZA-14");
        assert_eq!(posix_rule("UTC").unwrap(), "UTC0");
        assert_eq!(
            posix_rule("Europe/Berlin").unwrap(),
            "CET-1CEST,M3.5.0,M10.5.0/3"
        );
    }

    #[test]
    fn bad_names_are_refused_clearly() {
        assert!(matches!(
            posix_rule("Mars/Olympus"),
            Err(TzError::Unknown(_))
        ));
        assert!(matches!(
            posix_rule("../etc/passwd"),
            Err(TzError::Malformed(_))
        ));
        assert!(matches!(posix_rule(""), Err(TzError::Malformed(_))));
        assert!(matches!(
            posix_rule("Europe/Berlin\0"),
            Err(TzError::Malformed(_))
        ));
        // A directory of the database, not a zone.
        assert!(matches!(posix_rule("Europe"), Err(TzError::Unknown(_))));
        assert_eq!(
            posix_rule("Mars/Olympus").unwrap_err().to_string(),
            "unknown time zone \"Mars/Olympus\""
        );
    }
}
