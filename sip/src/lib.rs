//! SIP user agent (RFC 3261 and companions) for faxserver.
//!
//! Sans-IO cores, driven with `handle_*(now, input)`, `handle_timeout(now)`,
//! `poll_transmit()`, `poll_event()` and `poll_timeout()`:
//! - [`msg`]: SIP messages — parser, typed headers, serializer, RFC 4475 validation.
//! - [`sdp`]: session descriptions with T.38, and the RFC 3264 offer/answer for fax.
//! - [`transaction`]: the four RFC 3261 §17 transaction state machines and the layer that
//!   matches messages to them.
//!
//! Dialogs, registration, digest authentication and the UDP/TCP transports come later.

#![forbid(unsafe_code)]

mod error;
pub mod msg;
pub mod sdp;
pub mod transaction;

pub use error::{Error, Result};
