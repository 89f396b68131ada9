//! FreeSWITCH compatibility for faxserver.
//!
//! This crate will own the Event Socket (ESL) server with its sans-IO codec, the mod_db key
//! space emulation, and importers for FreeSWITCH gateway XML and gofaxserver configuration.
