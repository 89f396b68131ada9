//! Safe wrappers over libspandsp 0.0.6: the T.30 fax engine behind ITU-T T.30, T.4 and T.38.
//!
//! Every wrapper owns one SpanDSP state object (RAII: freed on `Drop`, after `t30_terminate`
//! so open TIFFs are closed properly). Time advances only by the samples the caller feeds in
//! (8 kHz, normally 160 per 20 ms tick), so a wrapper runs as fast as its caller steps it.
//! C callbacks only record what happened; the caller drains events with `poll_event` and
//! outgoing T.38 IFP packets with `poll_ifp`.
//!
//! - [`FaxTerminal`]: a T.30 terminal over audio (V.21, V.27ter, V.29, V.17 modems).
//! - [`T38Terminal`]: a T.30 terminal over T.38 IFP packets.
//! - [`T38Gateway`]: a live T.38 ↔ audio gateway.
//! - [`g711`]: SpanDSP's own G.711 µ-law and A-law (the reference other code is checked against).

mod audio_port;
mod config;
mod error;
mod events;
mod ffi_util;
pub mod g711;
mod gateway;
pub mod log;
mod shared;
mod t30;
mod t38_terminal;
mod terminal;
mod tiff_check;
mod tones;

pub use config::{Compressions, Direction, LogLevel, Modems, Role, T30Config, T38Config};
pub use error::Error;
pub use events::{CompletionCode, FaxEvent, FaxResult, PageResult, Resolution};
pub use gateway::{GatewayConfig, GatewayEvent, GatewayResult, T38Gateway};
pub use shared::MAX_QUEUED_IFPS;
pub use t38_terminal::{OutgoingIfp, T38Terminal, MAX_CATCH_UP_SAMPLES};
pub use terminal::FaxTerminal;
pub use tiff_check::{check_send_tiff, inspect_send_tiff, TiffCheck, TiffSummary};
pub use tones::{ConnectTone, GeneratedTone, ToneDetector, ToneGenerator};

/// Samples per second of every SpanDSP audio stream.
pub const SAMPLE_RATE: u32 = 8000;

/// Samples in one 20 ms tick, the step SpanDSP's timers and pacing are designed for.
pub const TICK_SAMPLES: usize = 160;
