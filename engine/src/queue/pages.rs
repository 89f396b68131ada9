//! Resending only what the far end has not confirmed: the document from a given page on.
//!
//! The whole document goes to SpanDSP with the first page still to send, so the header line
//! keeps the document's page numbers ("p.3" on page 3 of a retry). The call's page reports
//! count from 1 within the call; the queue adds the pages already confirmed.

use crate::documents::{read_tiff_pages, DocumentError};

/// Checks that a send can start at `first_page` (from 1) of `tiff`.
pub fn check_first_page(tiff: &[u8], first_page: u32) -> Result<(), DocumentError> {
    if first_page <= 1 {
        return Ok(());
    }
    let pages = read_tiff_pages(tiff)?.len();
    let start = usize::try_from(first_page).unwrap_or(usize::MAX);
    if start > pages {
        return Err(DocumentError::CorruptImage(format!(
            "cannot start at page {first_page} of a {pages}-page document"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::{write_fax_tiff, Bitmap, FaxPage};

    fn page() -> FaxPage {
        FaxPage {
            bitmap: Bitmap::new(1728, 40),
            x_dpi: 204.0,
            y_dpi: 196.0,
        }
    }

    #[test]
    fn a_start_inside_the_document_passes_and_past_it_fails() {
        let doc = write_fax_tiff(&[page(), page(), page()]).unwrap();
        for first in 0..=3 {
            assert!(check_first_page(&doc, first).is_ok(), "page {first}");
        }
        assert!(check_first_page(&doc, 4).is_err());
        assert!(check_first_page(b"not a tiff", 2).is_err());
        assert!(
            check_first_page(b"not a tiff", 1).is_ok(),
            "page 1 needs no look"
        );
    }
}
