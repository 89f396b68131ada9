//! Fuzzes the TIFF reader and classifier: `read_tiff_pages`, `check_fax_tiff` and
//! `fax_tiff_to_pdf` must never panic, and what they accept must be self-consistent.
//!
//! Seed it with real fax TIFFs, e.g.
//! `mkdir -p corpus/tiff_probe && cp ../../shared/testdata/fax-images/*.tif* corpus/tiff_probe/`.
#![no_main]

use engine::documents::{
    check_fax_tiff, fax_tiff_to_pdf, read_tiff_pages, sniff_format, write_fax_tiff,
};
use libfuzzer_sys::fuzz_target;

/// Re-encoding big pages is slow and proves nothing new; keep the fuzzer fast.
const ROUND_TRIP_MAX_PIXELS: u64 = 4_000_000;

fuzz_target!(|data: &[u8]| {
    let _ = sniff_format(data);
    let pages = read_tiff_pages(data);
    let checked = check_fax_tiff(data);
    if let Ok(n) = checked {
        // A TIFF declared sendable decodes, with the page count it reported.
        let decoded = pages.as_ref().expect("a sendable TIFF must decode");
        assert_eq!(decoded.len() as u32, n);
    }
    if let Ok(pages) = &pages {
        let pixels: u64 = pages
            .iter()
            .map(|p| u64::from(p.bitmap.width) * u64::from(p.bitmap.height))
            .sum();
        for p in pages {
            assert_eq!(
                p.bitmap.data.len(),
                p.bitmap.stride() * p.bitmap.height as usize
            );
        }
        if pixels <= ROUND_TRIP_MAX_PIXELS {
            // Our own encoder's output decodes back to the same pixels.
            let tiff = write_fax_tiff(pages).expect("decoded pages re-encode");
            let back = read_tiff_pages(&tiff).expect("our TIFF decodes");
            assert_eq!(back.len(), pages.len());
            for (a, b) in back.iter().zip(pages) {
                assert_eq!(a.bitmap, b.bitmap);
            }
        }
    }
    if let Ok(pdf) = fax_tiff_to_pdf(data) {
        assert!(pdf.starts_with(b"%PDF-"));
    }
});
