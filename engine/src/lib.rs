//! faxserver's engine.
//!
//! Owns fax sessions over SpanDSP, and will own calls, T.38 and retry policy, routing, the
//! durable queue, the tracker and notification. `documents` turns uploads into fax pages and
//! received pages into PDF.

pub mod call;
pub mod documents;
pub mod events;
pub mod loopback;
pub mod outcome;
pub mod policy;
pub mod queue;
pub mod selftest;
