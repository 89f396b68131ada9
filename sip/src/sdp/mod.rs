//! Session descriptions (RFC 4566) with T.38 (ITU-T T.38 Annex D, RFC 4612), and the
//! RFC 3264 offer/answer of a fax endpoint.
//!
//! - [`SessionDescription`]: the line grammar, parsed and written back in RFC order
//!   (a hand-written parser: telephony SDP is small, and the `sdp` crate's attribute lookup
//!   is case-sensitive where T.38 gear is not).
//! - [`MediaDescription::codecs`], [`MediaDescription::t38`], [`Direction`]: typed reading.
//! - [`LocalSdp::answer`], [`LocalSdp::offer`], [`accept_answer`]: negotiation, with a
//!   [`NotAcceptable`] (488) when nothing fits and an `o=` version that changes only with
//!   the content.
//!
//! Parsing never panics; it is fuzzed (`fuzz/fuzz_targets/sdp.rs`).

mod capabilities;
mod media;
mod offer_answer;
mod session;
mod t38;

pub use capabilities::{Capabilities, Policy, Preference, T38Capabilities, G711};
pub use media::{Codec, Direction};
pub use offer_answer::{
    accept_answer, Agreed, Answer, AudioSession, LocalSdp, NotAcceptable, OfferMedia, T38Session,
};
pub use session::{Attribute, Connection, MediaDescription, Origin, SessionDescription, Timing};
pub use t38::{RateManagement, T38Params, UdpEc};
