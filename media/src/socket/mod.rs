//! The async socket shells around the media cores: one tokio UDP socket per stream.
//!
//! - [`MediaSocket`]: bound to a [`crate::ports::PortPool`] port on a configured IPv4 or IPv6
//!   address, DSCP-marked (default EF, RFC 3246; IPv4 TOS of RFC 2474 §3, IPv6 Traffic
//!   Class), receiving into one reused buffer, and latching on the peer's real address
//!   (symmetric RTP, RFC 4961; see [`Latch`]).
//! - [`RtpStream`]: G.711 RTP (RFC 3550, RFC 3551) with the playout buffer.
//! - [`UdptlStream`]: T.38 UDPTL (ITU-T T.38 §9.1).
//! - [`ReadinessSet`]: one readiness poll for many sockets, so that sockets with nothing
//!   queued are not asked each tick.
//!
//! The shells only move bytes: every decision is in a sans-IO core, and time is the caller's
//! media clock (`now` arguments), so tests can run it faster than real time.

mod latch;
mod media_socket;
mod readiness;
mod rtp_stream;
mod udptl_stream;

pub use latch::{Latch, StreamFilter, Verdict};
pub use media_socket::{
    Datagram, MediaSocket, SocketConfig, SocketStats, DEFAULT_MAX_DATAGRAM, DSCP_EF,
};
pub use readiness::ReadinessSet;
pub use rtp_stream::RtpStream;
pub use udptl_stream::{UdptlStream, NO_SIGNAL_IFP};
