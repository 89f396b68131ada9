//! UDPTL, the UDP transport of T.38 fax (ITU-T T.38 §9.1, with the ASN.1 of Annex A and the
//! SDP attributes of Annex D), as sans-IO cores.
//!
//! - [`UdptlPacket`]: the datagram format, PER aligned (X.691), with strict decoding;
//!   [`UdptlView`] reads a received datagram in place, without copying.
//! - [`UdptlSender`]: numbers IFPs, adds redundancy (§9.1.4) or parity FEC (§9.1.5, layout in
//!   [`fec`]), and keeps datagrams within the peer's `T38FaxMaxDatagram`: recovery data is cut,
//!   oldest first, until the datagram fits. A primary IFP that alone exceeds the limit is
//!   still sent, with no recovery data, and counted in [`SenderStats::oversized`]: dropping it
//!   would lose it for certain, while most peers' buffers accept somewhat more than they
//!   announce. SpanDSP's IFPs (at most 59 octets when paced) never come near a real limit.
//! - [`UdptlReceiver`]: delivers IFPs in ascending sequence order exactly once, as SpanDSP's
//!   `t38_core_rx_ifp_packet` requires, repairing losses from redundancy or FEC, absorbing
//!   duplicates and reordering, and resynchronising after restarts and long gaps.
//! - [`ifp_len`]: measures an IFP, which FEC repair needs.

mod codec;
pub mod fec;
mod ifp;
mod per;
mod pool;
mod receiver;
mod repair;
mod sender;
mod view;
mod window;

pub use codec::{Recovery, UdptlPacket, MAX_RECOVERY_ENTRIES};
pub use ifp::ifp_len;
pub use per::{Chunks, Octets, OctetsIter, OctetsList};
pub use receiver::{ReceiverConfig, ReceiverStats, UdptlReceiver};
pub use sender::{ErrorCorrection, SenderConfig, SenderStats, UdptlSender};
pub use view::{RecoveryView, UdptlView};
