//! Per-destination overrides: the `override-<number>` key space (gofaxip's mod_db realm).
//!
//! Each key is a FreeSWITCH channel variable name and each value a string, as operators wrote
//! them with `db insert/override-<number>/<key>/<value>`. Booleans are read tolerantly
//! (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, any case) and written as `true`/`false`.
//! A value we cannot use is reported in [`Overrides::invalid`] and otherwise ignored, so one
//! typo never blocks a fax.

use std::collections::BTreeMap;

/// `fax_enable_t38`: allow T.38.
pub const ENABLE_T38: &str = "fax_enable_t38";
/// `fax_enable_t38_request`: ask for T.38 ourselves.
pub const ENABLE_T38_REQUEST: &str = "fax_enable_t38_request";
/// `fax_use_ecm`: request error correction mode.
pub const USE_ECM: &str = "fax_use_ecm";
/// `fax_disable_v17`: do not use V.17 (14 400 bit/s); V.29 at most.
pub const DISABLE_V17: &str = "fax_disable_v17";
/// `fax_ident`: TSI/CSI, at most 20 characters.
pub const IDENT: &str = "fax_ident";
/// `fax_header`: header line text, at most 50 characters.
pub const HEADER: &str = "fax_header";
/// `fax_verbose`: SpanDSP's verbose T.30 log.
pub const VERBOSE: &str = "fax_verbose";

/// The most characters T.30 carries in a TSI/CSI.
pub const MAX_IDENT_CHARS: usize = 20;
/// The most characters we put in a header line.
pub const MAX_HEADER_CHARS: usize = 50;

/// The overrides stored for one number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `fax_enable_t38`.
    pub enable_t38: Option<bool>,
    /// `fax_enable_t38_request`.
    pub enable_t38_request: Option<bool>,
    /// `fax_use_ecm`.
    pub use_ecm: Option<bool>,
    /// `fax_disable_v17`.
    pub disable_v17: Option<bool>,
    /// `fax_ident`.
    pub ident: Option<String>,
    /// `fax_header`.
    pub header: Option<String>,
    /// `fax_verbose`.
    pub verbose: Option<bool>,
    /// Keys we do not act on, kept so they can be logged (FreeSWITCH passed any variable on).
    pub other: BTreeMap<String, String>,
    /// Entries that were present but unusable, and why.
    pub invalid: Vec<InvalidOverride>,
}

/// An override entry that was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOverride {
    /// The key.
    pub key: String,
    /// The value as stored.
    pub value: String,
    /// Why it was ignored.
    pub problem: &'static str,
}

impl Overrides {
    /// Reads entries (key, value); keys are trimmed and matched case-insensitively.
    pub fn from_entries<I, K, V>(entries: I) -> Overrides
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut o = Overrides::default();
        for (key, value) in entries {
            o.apply(key.as_ref(), value.as_ref());
        }
        o
    }

    /// True when no override is set (unknown and invalid entries aside).
    pub fn is_empty(&self) -> bool {
        self.enable_t38.is_none()
            && self.enable_t38_request.is_none()
            && self.use_ecm.is_none()
            && self.disable_v17.is_none()
            && self.ident.is_none()
            && self.header.is_none()
            && self.verbose.is_none()
    }

    fn apply(&mut self, key: &str, value: &str) {
        let name = key.trim().to_ascii_lowercase();
        let slot = match name.as_str() {
            ENABLE_T38 => &mut self.enable_t38,
            ENABLE_T38_REQUEST => &mut self.enable_t38_request,
            USE_ECM => &mut self.use_ecm,
            DISABLE_V17 => &mut self.disable_v17,
            VERBOSE => &mut self.verbose,
            IDENT => return self.text(name, value, MAX_IDENT_CHARS),
            HEADER => return self.text(name, value, MAX_HEADER_CHARS),
            _ => {
                self.other.insert(name, value.to_owned());
                return;
            }
        };
        match parse_bool(value) {
            Some(b) => *slot = Some(b),
            None => self.reject(
                name,
                value,
                "not a boolean (true/false, 1/0, yes/no, on/off)",
            ),
        }
    }

    fn text(&mut self, name: String, value: &str, max: usize) {
        let v = value.trim();
        if v.chars().count() > max {
            self.reject(name, value, "too long");
        } else if !v.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            // SpanDSP's header font and the T.30 TSI field only carry printable ASCII.
            self.reject(name, value, "not printable ASCII");
        } else if name == IDENT {
            self.ident = Some(v.to_owned());
        } else {
            self.header = Some(v.to_owned());
        }
    }

    fn reject(&mut self, key: String, value: &str, problem: &'static str) {
        self.invalid.push(InvalidOverride {
            key,
            value: value.to_owned(),
            problem,
        });
    }
}

/// Reads a boolean the way operators write one; `None` if it is not one.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// How we write a boolean override.
pub fn encode_bool(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}
