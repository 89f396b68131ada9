//! Fax media transport for faxserver.
//!
//! This crate will own RTP (RFC 3550) with RFC 4733 fax tone events, G.711 µ-law and A-law,
//! UDPTL (ITU-T T.38 annex) with redundancy and FEC, the fax playout buffer, the media port
//! pool and the thin socket shells around these sans-IO cores.
