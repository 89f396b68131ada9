//! Shared test helpers for faxserver: locating third-party test data in `../shared/testdata`.
//!
//! It will grow the manual clock, the seeded lossy link, SIP message builders, a pcap reader
//! and scripted peers as the media and SIP layers land.
