//! The durable queue (issue #7 item 5): workers that claim jobs from the store with a lease,
//! dial the job's targets in priority order, retry with back-off, and never lose or repeat a
//! fax across crashes and restarts; the incoming side that turns received faxes into jobs;
//! the channel and call-rate caps; and the tracker behind `GET /admin/faxes`.
//!
//! The decisions are pure functions with table tests: [`route`] (which endpoints, in which
//! order), [`plan`] (what a claimed job does next, and what follows an attempt),
//! [`progress`] (a job's state, rebuilt from its event log), [`delay`] (retry delays and
//! back-off), [`limits`] (channel counts and token buckets, fed the time), [`tracker`].
//! The async shells are thin: [`Queue`] (claim loop and one job's attempt), [`Inbound`]
//! (one incoming call), [`SipDialer`] (one outgoing call).

pub mod bridging;
mod bridging_run;
mod bundles;
mod calls;
pub mod causes;
mod control;
pub mod delay;
mod dialer;
mod inbound;
mod job;
pub mod limits;
mod options;
pub mod pages;
pub mod plan;
mod probes;
pub mod progress;
mod publish;
pub mod route;
mod settings;
mod settle;
pub mod tracker;
mod worker;

pub use bridging_run::Bridging;
pub use calls::{Events, LiveCalls};
pub use control::{Clock, Reload, ServerControl, Shutdown};
pub use dialer::{empty_report, outgoing_call, DialRequest, Dialer, SipDialer};
pub use inbound::{
    received_pages, Inbound, InboundSettings, LivePeers, Peers, FAX_RECEIVED, RECEPTION_FAILED,
};
pub use job::{fax_options, JOB_COMPLETED, JOB_FAILED, JOB_HANDED_BACK};
pub use limits::{Caps, Limits};
pub use options::{
    header_date_format, header_tz, layered, load_job_options, named_route, save_job_options,
    JobOptions, JOB_OPTIONS_NAMESPACE,
};
pub use probes::probe_targets;
pub use settings::QueueSettings;
pub use tracker::{FaxRunState, Phase, TrackerHandle, TrackerView};
pub use worker::{drain, Queue, QueueParts};
