//! Importers of existing configurations (issue #9, item 5). So far: FreeSWITCH sofia gateway
//! XML ([`freeswitch`]); gofaxserver's config and tables are still to come.

pub mod freeswitch;
