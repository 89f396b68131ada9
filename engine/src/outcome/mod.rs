//! How one fax attempt ended: a class, what to do next, the Q.850 cause and a reason an
//! operator can read (issue #5 item 4).
//!
//! [`classify`] is a pure function of [`AttemptFacts`], the plain facts a call gathers (SIP
//! final status, RFC 3326 `Reason`, RFC 3261 `Retry-After` and `Warning`, our ring timer, the
//! T.30 completion code from SpanDSP and the page counts). Protocol outcomes are values, not
//! errors (design.md §8), so every input gives an [`Outcome`]; nothing here can fail.
//!
//! Unlike gofaxserver, which only looks at `fax-success` and retries any answered call that
//! failed (behaviour §5.5, §14.5), the class decides the retry: numbers that do not exist are
//! not redialed, unreachable gateways are skipped for the next one, a document error is final.

pub mod reason;
pub mod t30;
mod text;

use serde::{Deserialize, Serialize};

pub use reason::{parse_reason, q850_cause, ReasonValue, Q850};

/// What a call knows when an attempt ends; everything the classifier looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptFacts {
    /// The SIP final response status to our INVITE, if one arrived (200 when answered).
    pub sip_status: Option<u16>,
    /// `Retry-After` seconds from that response, if any.
    pub retry_after: Option<u32>,
    /// The values of every `Reason` header seen (on the final response, BYE or CANCEL).
    pub reason_headers: Vec<String>,
    /// A Q.850 cause the call already took from a `Reason` header; used when
    /// `reason_headers` gives none.
    pub q850_cause: Option<u16>,
    /// The warn-codes of `Warning` headers on the final response (RFC 3261 §20.43).
    pub warning_codes: Vec<u16>,
    /// True when our rejected offer already held nothing but G.711 (so "audio only" cannot help).
    pub offered_only_g711: bool,
    /// True when the call was answered (a 2xx to our INVITE, or we answered theirs).
    pub answered: bool,
    /// True when our ring timer expired and we sent CANCEL.
    pub ring_timeout: bool,
    /// True when a SIP transaction timed out (no response at all from the next hop).
    pub transport_timeout: bool,
    /// True when fax tones (CNG, CED, V.21 preamble, RFC 4733 events) or T.30 frames were seen.
    pub fax_detected: bool,
    /// SpanDSP's T.30 completion code (`T30_ERR_*`, 0 = OK), if the fax session ran.
    pub t30_code: Option<i32>,
    /// SpanDSP's text for that code.
    pub t30_text: String,
    /// Pages sent and confirmed (or received).
    pub pages_transferred: u32,
    /// Pages in the document being sent; 0 when receiving or unknown.
    pub pages_total: u32,
}

/// The class of an attempt's outcome; serialized as `{"class": "<snake_case name>", ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum OutcomeClass {
    /// Every page went through.
    Success,
    /// Some pages went through before the fax failed.
    Partial {
        /// Pages transferred.
        sent: u32,
        /// Pages in the document (0 when receiving or unknown).
        total: u32,
    },
    /// The line was busy (486, 600, or Q.850 cause 17).
    Busy,
    /// Nobody answered: our ring timer sent CANCEL, or 480 / 487.
    NoAnswer,
    /// The call was refused (403, 603, 606 without a media warning): final.
    Rejected,
    /// The number does not exist (404, 410, 484, 604): final.
    NotFound,
    /// The gateway could not be reached or failed (408, 5xx, timeouts): try the next one.
    Unreachable,
    /// No common media (488, 415, 606 with a media warning): redial offering G.711 only.
    NoCommonMedia,
    /// Answered, but no fax ever spoke (no tones, T.30 T0/T1 expired).
    NotAFax,
    /// The fax started but T.30 failed before the first page was confirmed.
    FaxFailed,
    /// Our document could not be read (SpanDSP's TIFF errors): final.
    DocumentError,
}

impl OutcomeClass {
    /// Every stable name, in declaration order.
    pub const NAMES: [&'static str; 11] = [
        "success",
        "partial",
        "busy",
        "no_answer",
        "rejected",
        "not_found",
        "unreachable",
        "no_common_media",
        "not_a_fax",
        "fax_failed",
        "document_error",
    ];

    /// The stable snake_case name the store and API keep (same as the serde tag).
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeClass::Success => "success",
            OutcomeClass::Partial { .. } => "partial",
            OutcomeClass::Busy => "busy",
            OutcomeClass::NoAnswer => "no_answer",
            OutcomeClass::Rejected => "rejected",
            OutcomeClass::NotFound => "not_found",
            OutcomeClass::Unreachable => "unreachable",
            OutcomeClass::NoCommonMedia => "no_common_media",
            OutcomeClass::NotAFax => "not_a_fax",
            OutcomeClass::FaxFailed => "fax_failed",
            OutcomeClass::DocumentError => "document_error",
        }
    }

    /// True when the fax exchange itself failed after T.30 started (counts toward the V.17 and
    /// ECM fall-backs, as gofaxserver's `TotTries` counts negotiations, not dials).
    pub fn is_fax_failure(self) -> bool {
        matches!(self, OutcomeClass::Partial { .. } | OutcomeClass::FaxFailed)
    }

    /// True when the media path may be to blame (what the T.38 policy learns from).
    pub fn is_media_failure(self) -> bool {
        self.is_fax_failure() || self == OutcomeClass::NotAFax
    }
}

impl std::fmt::Display for OutcomeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the queue should do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextAction {
    /// Nothing: the fax went through.
    Done,
    /// Retry the same gateway after the usual back-off.
    RetryLater,
    /// Try the next gateway; wait at least `Retry-After` before this one again.
    NextGateway,
    /// Redial offering G.711 only (no T.38, no other codecs).
    RedialAudioOnly,
    /// Final: do not retry anywhere.
    GiveUp,
}

impl NextAction {
    /// True when another attempt should follow.
    pub fn retries(self) -> bool {
        !matches!(self, NextAction::Done | NextAction::GiveUp)
    }
}

/// The classified outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The class.
    #[serde(flatten)]
    pub class: OutcomeClass,
    /// What to do next.
    pub next: NextAction,
    /// The SIP final status, if any.
    pub sip_status: Option<u16>,
    /// The Q.850 cause from a `Reason` header, if any.
    pub q850: Option<Q850>,
    /// Seconds the far end asked us to wait (`Retry-After`); the queue caps it.
    pub retry_after: Option<u32>,
    /// SpanDSP's T.30 completion code, if the fax session ran.
    pub t30_code: Option<i32>,
    /// An operator-readable reason, e.g. "Busy (SIP 486)".
    pub reason: String,
}

/// Classifies one attempt.
pub fn classify(facts: &AttemptFacts) -> Outcome {
    let q850 = q850_cause(&facts.reason_headers).or_else(|| {
        let cause = facts.q850_cause.and_then(|c| u8::try_from(c).ok());
        cause
            .filter(|c| (1..=127).contains(c))
            .map(|cause| Q850 { cause, text: None })
    });
    // A 2xx is an answer even if the caller forgot to say so.
    let answered = facts.answered || facts.sip_status.is_some_and(|s| (200..300).contains(&s));
    let (class, next) = if answered {
        classify_answered(facts)
    } else {
        classify_unanswered(facts, q850.as_ref())
    };
    Outcome {
        class,
        next,
        sip_status: facts.sip_status,
        reason: text::reason(facts, class, q850.as_ref()),
        q850,
        retry_after: facts.retry_after,
        t30_code: facts.t30_code,
    }
}

fn classify_answered(f: &AttemptFacts) -> (OutcomeClass, NextAction) {
    use OutcomeClass as C;
    match f.t30_code {
        Some(t30::OK) => (C::Success, NextAction::Done),
        Some(c) if t30::is_document_error(c) => (C::DocumentError, NextAction::GiveUp),
        _ if f.pages_transferred > 0 => (
            C::Partial {
                sent: f.pages_transferred,
                total: f.pages_total,
            },
            NextAction::RetryLater,
        ),
        // Retried: a fax behind a voice menu or a flaky T.38 path also looks like this.
        Some(c) if t30::is_no_fax(c) => (C::NotAFax, NextAction::RetryLater),
        _ if !f.fax_detected => (C::NotAFax, NextAction::RetryLater),
        _ => (C::FaxFailed, NextAction::RetryLater),
    }
}

fn classify_unanswered(f: &AttemptFacts, q850: Option<&Q850>) -> (OutcomeClass, NextAction) {
    use OutcomeClass as C;
    let by_status = match f.sip_status {
        // A final response that crossed our CANCEL says more than the 487 would.
        Some(s) if s != 487 => status_class(s, f),
        _ if f.ring_timeout => return (C::NoAnswer, NextAction::RetryLater),
        Some(_) => C::NoAnswer,
        None => C::Unreachable,
    };
    // Q.850 refines only the vague classes; a 404 with "user busy" is still not found.
    let class = match (by_status, q850.map(|q| q.cause)) {
        (C::Unreachable | C::NoAnswer, Some(17)) => C::Busy,
        (C::Unreachable, Some(18 | 19)) => C::NoAnswer,
        (C::Unreachable | C::NoAnswer, Some(1 | 22 | 28)) => C::NotFound,
        (C::Unreachable | C::NoAnswer, Some(21)) => C::Rejected,
        (c, _) => c,
    };
    let next = match class {
        C::Busy | C::NoAnswer => NextAction::RetryLater,
        C::Rejected | C::NotFound => NextAction::GiveUp,
        C::NoCommonMedia if f.offered_only_g711 => NextAction::NextGateway,
        C::NoCommonMedia => NextAction::RedialAudioOnly,
        _ => NextAction::NextGateway,
    };
    (class, next)
}

fn status_class(status: u16, f: &AttemptFacts) -> OutcomeClass {
    use OutcomeClass as C;
    match status {
        486 | 600 => C::Busy,
        480 | 487 => C::NoAnswer,
        403 | 603 => C::Rejected,
        404 | 410 | 484 | 604 => C::NotFound,
        415 | 488 => C::NoCommonMedia,
        // RFC 3261 warn-codes 300–399 are all about the session description.
        606 if f.warning_codes.iter().any(|w| (300..400).contains(w)) => C::NoCommonMedia,
        600..=699 => C::Rejected,
        // 401/407 left after our credentials, 3xx not followed, other 4xx: this gateway
        // refused us, another may not.
        _ => C::Unreachable,
    }
}
