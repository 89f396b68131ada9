//! What past attempts taught us, and how one more attempt changes it.
//!
//! Two memories, both with an expiry:
//! - the **flip-flop** state of a (caller, callee) pair: whether the next call may use T.38,
//!   and whether it must offer G.711 only; kept for [`Settings::flip_flop_window`] (15 min);
//! - the **softmodem fallback** of a remote number: audio only, for
//!   [`Settings::fallback_period`], after T.38 failed there.
//!
//! gofaxserver's flip-flop (behaviour §6.1, §14.8) recorded whether T.38 had been *offered*,
//! not how the call went, so calls within 15 minutes alternated T.38 on/off even after
//! successes, and it lived in memory only. Here the state is learned from the outcome and the
//! media that carried it, and persisted through the store:
//! - a success on T.38 keeps T.38; a success on audio keeps what the pair had;
//! - a fax failure on T.38 (or after a failed switch to T.38) makes the next call audio;
//! - a fax failure on audio lets the next call try T.38 again;
//! - busy, no answer, unreachable and the like say nothing about media and change nothing
//!   (gofaxserver refreshed its timestamp on every call).
//!
//! Its softmodem fallback (behaviour §6.2, §14.10) never expired and was written after any
//! failed send with more than one negotiation or bad rows, even on audio, where forcing audio
//! changes nothing. Here it is written only when T.38 took part in a failed fax, and expires.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Settings;
use crate::call::CallReport;
use crate::outcome::{NextAction, Outcome, OutcomeClass};

/// Which media carried an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaUsed {
    /// No media: the call was never answered.
    None,
    /// G.711 throughout; T.38 was never tried.
    Audio,
    /// T.38 carried the fax (at least at the end).
    T38,
    /// T.38 was tried (re-INVITE refused or timed out, or no UDPTL arrived) and the call went
    /// on in audio.
    AudioAfterT38,
}

impl MediaUsed {
    /// What carried a finished call, from its report: the last media phase, and whether any
    /// T.38 negotiation happened on the way.
    pub fn from_report(report: &CallReport) -> MediaUsed {
        let last_t38 = report
            .media
            .last()
            .is_some_and(|m| m.media.starts_with("t38"));
        if last_t38 {
            MediaUsed::T38
        } else if !report.t38.is_empty() {
            MediaUsed::AudioAfterT38
        } else if report.media.is_empty() {
            MediaUsed::None
        } else {
            MediaUsed::Audio
        }
    }

    /// True when T.38 took part, successfully or not.
    pub fn involved_t38(self) -> bool {
        matches!(self, MediaUsed::T38 | MediaUsed::AudioAfterT38)
    }
}

/// The flip-flop state of one (caller, callee) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairState {
    /// Whether the next call may use T.38 (as far as settings allow).
    pub allow_t38: bool,
    /// Whether the next call must offer G.711 only (the last offer got 488/415).
    pub g711_only: bool,
    /// The media of the attempt this was learned from.
    pub media: MediaUsed,
    /// The outcome it was learned from.
    pub outcome: OutcomeClass,
    /// When it was learned (the end of that attempt).
    pub at: DateTime<Utc>,
    /// When it stops applying.
    pub expires_at: DateTime<Utc>,
}

impl PairState {
    /// True until it expires.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// A softmodem fallback: audio only for a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    /// When it was set, if known (entries written by hand may not say).
    pub since: Option<DateTime<Utc>>,
    /// When it ends; `None` = until removed.
    pub until: Option<DateTime<Utc>>,
}

impl Fallback {
    /// True until it ends.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|u| now < u)
    }
}

/// What the policy knows before a call: the pair's flip-flop state and any fallback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The (caller, callee) pair's state, if one was learned.
    pub pair: Option<PairState>,
    /// A softmodem fallback on one of the call's numbers, if any.
    pub fallback: Option<Fallback>,
}

/// The history after one more attempt ended with `outcome` over `media`.
pub fn learn(
    previous: &History,
    outcome: &Outcome,
    media: MediaUsed,
    settings: &Settings,
    now: DateTime<Utc>,
) -> History {
    let pair = previous.pair.as_ref().filter(|p| p.is_active(now));
    let fallback = previous.fallback.as_ref().filter(|f| f.is_active(now));
    let kept_g711_only = pair.is_some_and(|p| p.g711_only);
    let class = outcome.class;
    // (allow T.38 next, offer G.711 only next); None = nothing learned.
    let learned = match (class, media) {
        (OutcomeClass::Success, MediaUsed::T38) => Some((true, kept_g711_only)),
        (OutcomeClass::Success, MediaUsed::AudioAfterT38) => Some((false, kept_g711_only)),
        // Audio worked: keep (and extend) whatever made this call audio.
        (OutcomeClass::Success, _) => pair.map(|p| (p.allow_t38, p.g711_only)),
        (c, m) if c.is_media_failure() && m.involved_t38() => Some((false, kept_g711_only)),
        (c, MediaUsed::Audio) if c.is_media_failure() => Some((true, kept_g711_only)),
        (OutcomeClass::NoCommonMedia, _) if outcome.next == NextAction::RedialAudioOnly => {
            Some((false, true))
        }
        _ => None,
    };
    let pair = match learned {
        Some((allow_t38, g711_only)) => Some(PairState {
            allow_t38,
            g711_only,
            media,
            outcome: class,
            at: now,
            expires_at: now + settings.flip_flop_window,
        }),
        None => pair.cloned(),
    };
    let t38_failed = class.is_media_failure() && media.involved_t38();
    let fallback = if settings.softmodem_fallback && t38_failed {
        Some(Fallback {
            since: Some(now),
            until: Some(now + settings.fallback_period),
        })
    } else {
        fallback.cloned()
    };
    History { pair, fallback }
}
