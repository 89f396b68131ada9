//! SIP user agent (RFC 3261 and companions) for faxserver.
//!
//! This crate will own the message layer (`msg`, the only module that touches the SIP parser),
//! SDP with T.38 (`sdp`), the four RFC 3261 §17 transaction state machines, dialogs,
//! registration, digest authentication and the UDP/TCP transports, all as sans-IO cores
//! driven with `handle_*`, `handle_timeout`, `poll_transmit`, `poll_event` and `poll_timeout`.
