//! The base settings the policy starts from.

use chrono::Duration;

use crate::call::T38Mode;

/// The T.38 mode for FreeSWITCH's pair of flags (`fax_enable_t38`, `fax_enable_t38_request`).
///
/// Requesting without enabling is off, as in mod_spandsp: the request needs T.38 enabled.
pub fn t38_mode(enable: bool, request: bool) -> T38Mode {
    match (enable, request) {
        (false, _) => T38Mode::Off,
        (true, false) => T38Mode::Accept,
        (true, true) => T38Mode::Request,
    }
}

/// The policy's configuration, as it applies to the peer of this call leg.
///
/// gofaxserver forced T.38 off on every leg whose gateway was not an upstream (behaviour §6.1);
/// here the caller passes `enable_t38 = false` for peers that must not get T.38, so that rule
/// is configuration rather than a hard-coded exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Base value of `fax_enable_t38` (gofaxserver's `faxing.enable_t38`).
    pub enable_t38: bool,
    /// Base value of `fax_enable_t38_request` (gofaxserver's `faxing.request_t38`).
    pub request_t38: bool,
    /// How long what one call taught us about a (caller, callee) pair is used (15 minutes).
    pub flip_flop_window: Duration,
    /// Whether softmodem fallbacks are written and honoured (`freeswitch.softmodem_fallback`).
    pub softmodem_fallback: bool,
    /// How long a learned softmodem fallback forces audio for a number.
    pub fallback_period: Duration,
    /// Whether ECM is requested before the fall-back below (gofaxserver hard-coded false).
    pub use_ecm: bool,
    /// Turn V.17 off once this many fax failures happened; 0 = never.
    pub disable_v17_after_retry: u32,
    /// Turn ECM off once this many fax failures happened; 0 = never.
    pub disable_ecm_after_retry: u32,
    /// SpanDSP's verbose T.30 logging (`fax_verbose`).
    pub verbose: bool,
}

impl Default for Settings {
    /// gofaxserver's values for absent keys, except ECM on (gofaxip's default) and the
    /// fallback expiring after seven days (gofaxserver's entries never expired).
    fn default() -> Settings {
        Settings {
            enable_t38: false,
            request_t38: false,
            flip_flop_window: Duration::minutes(15),
            softmodem_fallback: false,
            fallback_period: Duration::days(7),
            use_ecm: true,
            disable_v17_after_retry: 0,
            disable_ecm_after_retry: 0,
            verbose: false,
        }
    }
}

/// The identity the sending number puts on its pages, before overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// TSI (or CSI when receiving), at most 20 characters.
    pub ident: String,
    /// Header line text, at most 50 characters.
    pub header: String,
}
