//! Shared test helpers for faxserver: locating third-party test data in `../shared/testdata`,
//! and writing small TIFFs with exact properties for tests of what must be refused.
//!
//! Also a manual clock and a seeded lossy link for media tests in simulated time; SIP message
//! builders, a pcap reader and scripted peers come as the SIP layer lands.

mod link;
mod pcap;
mod tiff;

pub use link::{LinkProfile, LinkStats, Loss, LossyLink, ManualClock, SeededRng};
pub use pcap::{parse_pcap, read_pcap_file, Pcap, PcapError, PcapRecord, UdpDatagram};
pub use tiff::{write_bilevel_tiff, TiffSpec};

use std::path::PathBuf;

/// The `shared/testdata` directory beside the checkout (`../shared/testdata` from the root).
///
/// Panics with a clear message when it is missing, because every data-driven test needs it.
pub fn testdata_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("..").join("shared").join("testdata");
    assert!(
        dir.is_dir(),
        "test data not found at {}: the checkout must sit beside shared/ (see README)",
        dir.display()
    );
    dir
}

/// A file in `shared/testdata/fax-images`.
pub fn fax_image(name: &str) -> PathBuf {
    let path = testdata_dir().join("fax-images").join(name);
    assert!(path.is_file(), "missing test image {}", path.display());
    path
}
