//! What a bridged call did, per leg and as a whole.

use serde::{Deserialize, Serialize};

use crate::call::debug::CallDebug;
use crate::call::{MediaPhase, Party};

/// One leg of a bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegReport {
    /// The Request-URI dialled (outbound legs only).
    #[serde(default)]
    pub target: String,
    /// SIP Call-ID.
    pub call_id: String,
    /// The final status of its INVITE (sent or received).
    pub sip_status: Option<u16>,
    /// True once answered.
    pub answered: bool,
    /// Media carried on this leg, in order.
    pub media: Vec<MediaPhase>,
    /// How its SIP side ended.
    pub sip_end: String,
    /// Who hung it up.
    pub hangup_by: Option<Party>,
    /// The leg's SIP ladder, for the debug bundle.
    #[serde(default)]
    pub debug: CallDebug,
}

/// How the two legs were joined, from when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JointPhase {
    /// "audio relay", "T.38 relay", "T.38 gateway", "T.38 gateway pair".
    pub joint: String,
    /// Media time when it started, in ms.
    pub from_ms: u64,
}

/// Everything a finished bridge reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeReport {
    /// The inbound leg (the caller).
    pub inbound: LegReport,
    /// The outbound leg (the callee): the last one dialled.
    pub outbound: LegReport,
    /// Every outbound target tried, in order, including the one in `outbound`.
    #[serde(default)]
    pub tried: Vec<LegReport>,
    /// How the legs were joined over time.
    pub joints: Vec<JointPhase>,
    /// Pages confirmed in the T.30 frames a gateway relayed; `None` when only relays ran
    /// (a relay does not look into the fax).
    pub pages: Option<u32>,
    /// Last bit rate a gateway saw.
    pub bit_rate: Option<u32>,
    /// ECM as a gateway saw it.
    pub ecm: Option<bool>,
    /// True when a gateway saw the DCN that ends a fax normally.
    pub fax_completed: bool,
    /// Why the bridge failed, when it did on its own account.
    pub failure: Option<String>,
    /// Media time while both legs were up, in ms.
    pub duration_ms: u64,
}
