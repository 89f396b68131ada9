//! Fax media transport for faxserver.
//!
//! Sans-IO cores, each fed packets and the current time and returning what to send or play:
//! - [`rtp`]: RTP (RFC 3550) packets, with RFC 4733/4734 telephone events ([`rtp_event`]).
//! - [`g711`]: G.711 µ-law and A-law.
//! - [`playout`]: the fixed-depth playout buffer that turns RTP into 20 ms fax audio frames.
//! - [`udptl`]: UDPTL (ITU-T T.38 annex) with redundancy and FEC.
//!
//! Around them:
//! - [`ports`]: the pool of media UDP port pairs.
//! - [`socket`]: tokio UDP socket shells with DSCP marking and latching (symmetric media).
//! - [`pcap`]: a pcap file of a socket's datagrams, for a call's debug bundle.

mod error;
pub mod g711;
pub mod pcap;
pub mod playout;
pub mod ports;
pub mod rtp;
pub mod rtp_event;
pub mod socket;
pub mod udptl;

pub use error::Error;
