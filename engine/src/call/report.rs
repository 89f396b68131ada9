//! What a fax call did, for the store, the API, the CLI's JSON and the outcome classifier.

use serde::{Deserialize, Serialize};
use spandsp::{FaxResult, PageResult};

use super::debug::CallDebug;
use crate::outcome::{classify, AttemptFacts, Outcome};

/// Which way the document went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaxDirection {
    /// We sent the document.
    Send,
    /// We received one.
    Receive,
}

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// This side.
    Local,
    /// The far end.
    Remote,
}

/// A step in the T.38 negotiation of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum T38Step {
    /// A T.38 offer was made (in the INVITE or a re-INVITE).
    Offered {
        /// By whom.
        by: Party,
    },
    /// The offer was accepted and T.38 media started.
    Accepted {
        /// Who accepted it.
        by: Party,
    },
    /// The offer was refused.
    Rejected {
        /// Who refused it.
        by: Party,
        /// The SIP status (488, 606, …).
        status: u16,
    },
    /// The re-INVITE got no answer.
    TimedOut,
    /// T.38 was agreed but no UDPTL arrived while audio did.
    NoMedia,
    /// We went back to G.711 after T.38.
    BackToAudio,
}

/// A T.38 step and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct T38Event {
    /// Media time since the call started, in ms.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub step: T38Step,
}

/// A session refresh (RFC 4028) and when it completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRefresh {
    /// Media time since the call started, in ms.
    pub at_ms: u64,
    /// Who sent it.
    pub by: Party,
}

/// A stretch of the call carried by one kind of media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaPhase {
    /// `audio/PCMU`, `audio/PCMA` or `t38/v<version>`.
    pub media: String,
    /// Media time when it started, in ms.
    pub from_ms: u64,
}

/// One page sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageReport {
    /// Page number, from 1.
    pub page: u32,
    /// Line bit rate.
    pub bit_rate: u32,
    /// Error correction in use.
    pub ecm: bool,
    /// Resolution name.
    pub resolution: String,
    /// Width in pixels.
    pub width: u32,
    /// Rows.
    pub rows: u32,
    /// Rows with errors (non-ECM).
    pub bad_rows: u32,
    /// The media that carried it.
    pub media: String,
    /// Media time when it completed, in ms.
    pub at_ms: u64,
}

impl PageReport {
    pub(crate) fn new(p: &PageResult, media: &str, at_ms: u64) -> Self {
        PageReport {
            page: p.pages_transferred,
            bit_rate: p.bit_rate,
            ecm: p.ecm,
            resolution: p.resolution.name(),
            width: p.width,
            rows: p.length,
            bad_rows: p.bad_rows,
            media: media.to_owned(),
            at_ms,
        }
    }
}

/// The T.30 result of the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaxSummary {
    /// T.30 completion code (0 = every page confirmed).
    pub code: i32,
    /// SpanDSP's text for the code.
    pub code_text: String,
    /// Pages transferred.
    pub pages: u32,
    /// Pages in the document (sending only).
    pub pages_total: u32,
    /// Line bit rate at the end.
    pub bit_rate: u32,
    /// Error correction in use.
    pub ecm: bool,
    /// Resolution name.
    pub resolution: String,
    /// The far end's TSI or CSI.
    pub remote_ident: String,
    /// Rows with errors.
    pub bad_rows: u32,
    /// Longest run of bad rows.
    pub longest_bad_row_run: u32,
    /// Phase B negotiations seen.
    pub negotiations: u32,
}

impl FaxSummary {
    pub(crate) fn new(r: &FaxResult) -> Self {
        FaxSummary {
            code: r.code.0,
            code_text: r.code.text().to_owned(),
            pages: r.stats.pages_transferred,
            pages_total: r.stats.pages_total,
            bit_rate: r.stats.bit_rate,
            ecm: r.stats.ecm,
            resolution: r.stats.resolution.name(),
            remote_ident: r.remote_ident.clone(),
            bad_rows: r.stats.bad_rows,
            longest_bad_row_run: r.stats.longest_bad_row_run,
            negotiations: r.negotiations,
        }
    }
}

/// Packet counters of the call's media streams, summed over every leg the call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaCounters {
    /// RTP packets that arrived after they were due.
    pub rtp_late: u64,
    /// RTP packets that never arrived.
    pub rtp_lost: u64,
    /// UDPTL datagrams whose primary came after its position had been given up.
    pub udptl_late: u64,
    /// UDPTL positions never received and not repaired in time.
    pub udptl_lost: u64,
    /// UDPTL IFPs recovered from redundancy or FEC.
    pub udptl_recovered: u64,
    /// Datagrams the call's media socket sent.
    #[serde(default)]
    pub datagrams_sent: u64,
    /// Datagrams that reached the call's media socket, those dropped as unfit, foreign or
    /// oversize included.
    #[serde(default)]
    pub datagrams_received: u64,
}

impl MediaCounters {
    /// Adds `other` (a further leg) to these counters.
    pub fn add(&mut self, other: MediaCounters) {
        self.rtp_late += other.rtp_late;
        self.rtp_lost += other.rtp_lost;
        self.udptl_late += other.udptl_late;
        self.udptl_lost += other.udptl_lost;
        self.udptl_recovered += other.udptl_recovered;
        self.datagrams_sent += other.datagrams_sent;
        self.datagrams_received += other.datagrams_received;
    }
}

/// Everything a finished call reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReport {
    /// SIP Call-ID.
    pub call_id: String,
    /// Send or receive.
    pub direction: FaxDirection,
    /// True once the call was answered (2xx).
    pub answered: bool,
    /// The INVITE's final status as sent or received (200, 486, …).
    pub sip_status: Option<u16>,
    /// Seconds from a Retry-After in the final response.
    pub retry_after: Option<u32>,
    /// Q.850 cause from a `Reason` header, when one came.
    pub q850_cause: Option<u16>,
    /// Every `Reason` header value seen (final response, BYE, CANCEL).
    pub reason_headers: Vec<String>,
    /// Warn-codes of the final response's `Warning` headers.
    pub warning_codes: Vec<u16>,
    /// Our ring timer expired and we cancelled.
    pub ring_timeout: bool,
    /// A SIP transaction got no response at all.
    pub transport_timeout: bool,
    /// Our offer held G.711 only (a 488 to it cannot be helped by redialling audio-only).
    pub offered_only_g711: bool,
    /// Who hung up, when the call was answered.
    pub hangup_by: Option<Party>,
    /// How the SIP side ended, in words.
    pub sip_end: String,
    /// Why the engine ended the call itself (timeouts, dead T.38), when it did.
    pub failure: Option<String>,
    /// The T.30 result, once T.30 ran.
    pub fax: Option<FaxSummary>,
    /// True when T.30 heard anything from a fax machine (a frame or a page).
    pub fax_seen: bool,
    /// Media that carried the call, in order.
    pub media: Vec<MediaPhase>,
    /// The T.38 negotiation, in order.
    pub t38: Vec<T38Event>,
    /// Every page, in order.
    pub pages: Vec<PageReport>,
    /// Session refreshes (RFC 4028) completed during the call.
    pub session_refreshes: u32,
    /// Each of those refreshes, in order (absent in reports stored before it existed).
    #[serde(default)]
    pub refreshes: Vec<SessionRefresh>,
    /// Media time of the whole call, in ms.
    pub duration_ms: u64,
    /// Late, lost and recovered media packets (absent in reports stored before it existed).
    #[serde(default)]
    pub media_counters: MediaCounters,
    /// The next hop that answered our call (`udp:192.0.2.1:5060`), after any failover.
    #[serde(default)]
    pub next_hop: Option<String>,
    /// The leg's SIP ladder and T.30 trace (pcap is never serialised), for the debug bundle.
    #[serde(default)]
    pub debug: CallDebug,
}

impl CallReport {
    /// An empty report for a call that has not started.
    pub fn new(direction: FaxDirection) -> Self {
        CallReport {
            call_id: String::new(),
            direction,
            answered: false,
            sip_status: None,
            retry_after: None,
            q850_cause: None,
            reason_headers: Vec::new(),
            warning_codes: Vec::new(),
            ring_timeout: false,
            transport_timeout: false,
            offered_only_g711: false,
            hangup_by: None,
            sip_end: String::new(),
            failure: None,
            fax: None,
            fax_seen: false,
            media: Vec::new(),
            t38: Vec::new(),
            pages: Vec::new(),
            session_refreshes: 0,
            refreshes: Vec::new(),
            duration_ms: 0,
            media_counters: MediaCounters::default(),
            next_hop: None,
            debug: CallDebug::default(),
        }
    }

    /// True when T.30 confirmed every page and the engine saw no failure.
    pub fn is_success(&self) -> bool {
        self.failure.is_none()
            && self
                .fax
                .as_ref()
                .is_some_and(|f| f.code == 0 && f.pages > 0)
    }

    /// The facts the outcome classifier needs.
    pub fn attempt_facts(&self) -> AttemptFacts {
        AttemptFacts {
            sip_status: self.sip_status,
            retry_after: self.retry_after,
            reason_headers: self.reason_headers.clone(),
            q850_cause: self.q850_cause,
            warning_codes: self.warning_codes.clone(),
            offered_only_g711: self.offered_only_g711,
            answered: self.answered,
            ring_timeout: self.ring_timeout,
            transport_timeout: self.transport_timeout,
            fax_detected: self.fax_seen,
            t30_code: self.fax.as_ref().map(|f| f.code),
            t30_text: self
                .fax
                .as_ref()
                .map(|f| f.code_text.clone())
                .or_else(|| self.failure.clone())
                .unwrap_or_default(),
            pages_transferred: self.fax.as_ref().map_or(0, |f| f.pages),
            pages_total: self.fax.as_ref().map_or(0, |f| f.pages_total),
        }
    }

    /// The classified outcome of this attempt (what to tell people, what to do next).
    pub fn outcome(&self) -> Outcome {
        classify(&self.attempt_facts())
    }

    /// A one-line summary for logs and the CLI.
    pub fn summary(&self) -> String {
        match (&self.fax, &self.failure) {
            (Some(f), None) if f.code == 0 => format!(
                "success: {} page(s) at {} bit/s{}, remote {:?}",
                f.pages,
                f.bit_rate,
                if f.ecm { " ECM" } else { "" },
                f.remote_ident
            ),
            (Some(f), failure) => format!(
                "failed: {} (T.30 code {}), {} page(s) transferred{}",
                f.code_text,
                f.code,
                f.pages,
                failure
                    .as_ref()
                    .map(|r| format!("; {r}"))
                    .unwrap_or_default()
            ),
            (None, Some(failure)) => format!("failed: {failure}"),
            (None, None) => format!("failed: {}", self.sip_end),
        }
    }
}
