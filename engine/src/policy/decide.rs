//! The dial plan for one attempt: T.38 mode, ECM, V.17 and identity, from settings, history
//! and overrides, in gofaxserver's order (behaviour §6): base settings, then softmodem
//! fallback or flip-flop may turn T.38 off, then per-destination overrides win over both.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{t38_mode, History, Identity, Overrides, Settings};
use crate::call::T38Mode;

/// What decided the T.38 mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum T38Source {
    /// The base settings.
    Settings,
    /// The pair's flip-flop state.
    FlipFlop,
    /// A softmodem fallback on one of the numbers.
    Fallback,
    /// A per-destination override.
    Override,
}

/// How to place (or answer) one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialPlan {
    /// T.38 off, accepted, or requested.
    pub t38: T38Mode,
    /// What decided `t38`, for the logs.
    pub t38_source: T38Source,
    /// Offer G.711 only (the last offer to this pair got 488/415).
    pub g711_only: bool,
    /// Request ECM.
    pub ecm: bool,
    /// Do not use V.17.
    pub disable_v17: bool,
    /// TSI/CSI to send.
    pub ident: String,
    /// Header line text.
    pub header: String,
    /// SpanDSP's verbose T.30 log.
    pub verbose: bool,
}

/// Decides the dial plan.
///
/// `fax_failures` counts this job's earlier attempts that failed after T.30 started
/// ([`crate::outcome::OutcomeClass::is_fax_failure`]): gofaxserver compared its `TotTries`,
/// which counts negotiations, so a busy line does not turn V.17 off. Its ECM rule could never
/// fire, because ECM was always off to begin with; here ECM starts from [`Settings::use_ecm`].
pub fn decide(
    settings: &Settings,
    history: &History,
    overrides: &Overrides,
    identity: &Identity,
    fax_failures: u32,
    now: DateTime<Utc>,
) -> DialPlan {
    let pair = history.pair.as_ref().filter(|p| p.is_active(now));
    let fallback =
        settings.softmodem_fallback && history.fallback.as_ref().is_some_and(|f| f.is_active(now));
    let g711_only = pair.is_some_and(|p| p.g711_only);

    let (mut enable, mut request) = (settings.enable_t38, settings.request_t38);
    let mut source = T38Source::Settings;
    if enable || request {
        if fallback {
            source = T38Source::Fallback;
        } else if pair.is_some_and(|p| !p.allow_t38) {
            source = T38Source::FlipFlop;
        }
        if source != T38Source::Settings {
            (enable, request) = (false, false);
        }
    }
    if overrides.enable_t38.is_some() || overrides.enable_t38_request.is_some() {
        source = T38Source::Override;
        enable = overrides.enable_t38.unwrap_or(enable);
        request = overrides.enable_t38_request.unwrap_or(request);
    }

    let reached = |n: u32| n > 0 && fax_failures >= n;
    DialPlan {
        t38: t38_mode(enable, request),
        t38_source: source,
        g711_only,
        ecm: overrides
            .use_ecm
            .unwrap_or(settings.use_ecm && !reached(settings.disable_ecm_after_retry)),
        disable_v17: overrides
            .disable_v17
            .unwrap_or(reached(settings.disable_v17_after_retry)),
        ident: overrides
            .ident
            .clone()
            .unwrap_or_else(|| identity.ident.clone()),
        header: overrides
            .header
            .clone()
            .unwrap_or_else(|| identity.header.clone()),
        verbose: overrides.verbose.unwrap_or(settings.verbose),
    }
}
