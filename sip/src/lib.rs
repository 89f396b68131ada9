//! SIP user agent (RFC 3261 and companions) for faxserver.
//!
//! Sans-IO cores, driven with `handle_*(now, input)`, `handle_timeout(now)`,
//! `poll_transmit()`, `poll_event()` and `poll_timeout()`:
//! - [`msg`]: SIP messages — parser, typed headers, serializer, RFC 4475 validation.
//! - [`sdp`]: session descriptions with T.38, and the RFC 3264 offer/answer for fax.
//! - [`transaction`]: the four RFC 3261 §17 transaction state machines and the layer that
//!   matches messages to them.
//! - [`dialog`]: calls as UAC and UAS over the transaction layer (RFC 3261 §12–§15, with
//!   100rel, UPDATE and session timers: RFC 3262, RFC 3311, RFC 4028).
//! - [`registration`]: keeping our contact bound at a registrar (RFC 3261 §10).
//! - [`registrar`]: peers that register to us, with the NAT binding table for calls to them.
//! - [`probe`]: OPTIONS keep-alives that tell which peers are up, down or busy (RFC 3261 §11).
//! - [`stats`]: counters of finished transactions by method and response class, for metrics.
//! - [`auth`]: digest authentication, client and server (RFC 3261 §22, RFC 7616, RFC 8760).
//!
//! - [`transport`]: UDP and TCP transports (RFC 3261 §18, RFC 3581, RFC 5626 keep-alive):
//!   sans-IO rules and a tokio shell.

#![forbid(unsafe_code)]

pub mod auth;
pub mod dialog;
mod error;
pub mod msg;
pub mod probe;
pub mod registrar;
pub mod registration;
mod rng;
pub mod sdp;
pub mod stats;
pub mod transaction;
pub mod transport;

pub use error::{Error, Result};
