//! Fax calls over SIP: the engine's user agent, the media leg of each call (G.711 or T.38
//! on one port) and the call task that joins SIP, media and SpanDSP.
//!
//! A call runs as one tokio task: [`run_outgoing`] dials and sends or receives a document,
//! [`run_incoming`] answers an [`IncomingCall`]. Each returns a [`CallReport`] whatever
//! happens: SIP failures, T.30 failures and timeouts end up in it, never as a lost call.
//! The T.38 policy ([`T38Mode`], [`T38Trigger`], [`DeadT38`]) is applied inside the task:
//! T.38 is requested at answer or on the first sign of a fax, accepted when offered,
//! abandoned for G.711 on a 488, and left for G.711 again when no UDPTL arrives.

mod acl;
mod agent;
mod agent_config;
pub mod bridge;
mod clock;
mod config;
pub mod cpu_idle;
mod cpu_quota;
pub mod debug;
mod dial;
mod doorbell;
mod gateways;
mod handle;
mod identity;
mod leg;
mod limiter;
mod media_load;
mod registry;
mod report;
mod session;

pub use acl::{BadCidr, Cidr, PeerAcl};
pub use agent::{AgentConfig, CallEvent, CallHandle, IncomingCall, SipAgent};
pub use clock::TICK;
pub use config::{
    DeadT38, FaxOptions, MediaSettings, T38Mode, T38Trigger, UdptlOptions, DEFAULT_PLAYOUT_DEPTH,
};
pub use dial::NameResolver;
pub use gateways::{GatewayProbing, GatewayStates, ProbedGateway};
pub use identity::{
    called_number, caller, format_number, resolve_source, CallSource, CalledFrom, CalledNumber,
    Caller, CallerSource, GatewayIdentity, IdentityError, InboundIdentity, InboundParties,
    NumberFormat, OutboundCaller,
};
pub use limiter::{RateLimit, SourceLimiter};
pub(crate) use media_load::count_skipped_claim;
pub use media_load::{
    media_lateness, overload_counts, start_media_scheduler, Overload, OverloadCounts, OverloadGuard,
};
pub use registry::{OutboundRegistration, RegistrationState};
pub use report::{
    CallReport, FaxDirection, FaxSummary, MediaCounters, MediaPhase, PageReport, Party,
    SessionRefresh, T38Event, T38Step,
};
pub use session::{run_incoming, run_outgoing, FaxJob, OutgoingCall, Progress};

/// Why a call could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The SIP layer refused (bind failure, bad request).
    #[error("SIP: {0}")]
    Sip(sip::Error),
    /// A media core refused its configuration.
    #[error("media: {0}")]
    Media(media::Error),
    /// SpanDSP refused the fax settings or the document.
    #[error("fax: {0}")]
    Fax(spandsp::Error),
    /// A socket failed.
    #[error("I/O: {0}")]
    Io(std::io::Error),
    /// Something needed to start is missing.
    #[error("setup: {0}")]
    Setup(&'static str),
    /// The SIP agent task has stopped.
    #[error("the SIP agent has stopped")]
    AgentStopped,
}
