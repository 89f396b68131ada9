//! Digest authentication for SIP (RFC 3261 §22 with RFC 7616 and RFC 8760): the
//! challenge and credentials headers, the digest computation, the UAC that answers 401 and
//! 407 on any request, and the UAS that challenges peers and verifies their answers.

mod client;
mod digest;
mod header;
mod server;

pub use client::{AuthAttempt, Credentials, DigestClient};
pub use digest::{ha1, response, sess_ha1, Algorithm, DigestParams, Qop};
pub use header::{Authorization, Challenge};
pub use server::{DigestServer, Verdict};
