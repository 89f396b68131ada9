//! The T.38 and retry policy (issue #5 item 5): pure decisions plus a thin persistence layer.
//!
//! [`decide`] turns base [`Settings`], the learned [`History`] of the number pair, the
//! destination's [`Overrides`] and the job's fax failures so far into a [`DialPlan`] (T.38
//! off/accept/request, G.711-only offer, ECM, V.17, ident, header, verbose). [`learn`] folds an
//! attempt's [`crate::outcome::Outcome`] and the [`MediaUsed`] into the next history. Neither
//! touches a clock or the store: `now` is an argument (design.md §3). [`persist`] loads and
//! saves that state through the store's key-value space, with expiries.
//!
//! Differences from gofaxserver (each one of its bugs, behaviour §6 and §14.6–10) are noted
//! where they are implemented: [`learn`] (flip-flop learns from outcomes; fallback expires and
//! only follows T.38 failures), [`decide`] (the ECM fall-back works; failures, not dials, are
//! counted), [`Settings`] (T.38 on a leg is configuration, not "upstream only"), [`persist`]
//! (state survives restarts and is shared between nodes).

mod decide;
mod learn;
pub mod overrides;
pub mod persist;
mod settings;

pub use crate::call::T38Mode;
pub use decide::{decide, DialPlan, T38Source};
pub use learn::{learn, Fallback, History, MediaUsed, PairState};
pub use overrides::{InvalidOverride, Overrides};
pub use persist::Parties;
pub use settings::{t38_mode, Identity, Settings};
