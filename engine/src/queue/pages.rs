//! Resending only what the far end has not confirmed: the document from a given page on.
//!
//! Gap: the header line SpanDSP draws on each page numbers pages from the start of the file
//! it is given, so a retry that starts at page 3 of 5 shows "1", "2", "3" where the original
//! numbering is "3", "4", "5". SpanDSP can keep the numbering (`t30_set_tx_file`'s
//! `start_page`, which this file's slicing would then replace), but the `spandsp` crate
//! always passes −1 and `spandsp::Direction::Send` has no field for it. Until it does, the
//! retry is sliced here and the page numbers the store records stay in the document's
//! numbering.

use crate::documents::{read_tiff_pages, write_fax_tiff, DocumentError};

/// The TIFF pages `first_page..` (from 1); the bytes unchanged when `first_page` is 1.
pub fn pages_from(tiff: &[u8], first_page: u32) -> Result<Vec<u8>, DocumentError> {
    if first_page <= 1 {
        return Ok(tiff.to_vec());
    }
    let pages = read_tiff_pages(tiff)?;
    let skip = usize::try_from(first_page - 1).unwrap_or(usize::MAX);
    if skip >= pages.len() {
        return Err(DocumentError::CorruptImage(format!(
            "cannot start at page {first_page} of a {}-page document",
            pages.len()
        )));
    }
    write_fax_tiff(&pages[skip..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::{Bitmap, FaxPage};

    fn page(mark: u8) -> FaxPage {
        let mut bitmap = Bitmap::new(1728, 40);
        // A different black row per page, so pages can be told apart after the round trip.
        let stride = bitmap.stride();
        let row = usize::from(mark) * 4;
        for b in &mut bitmap.data[row * stride..(row + 1) * stride] {
            *b = 0xff;
        }
        FaxPage {
            bitmap,
            x_dpi: 204.0,
            y_dpi: 196.0,
        }
    }

    #[test]
    fn slices_keep_the_later_pages() {
        let doc = write_fax_tiff(&[page(1), page(2), page(3)]).unwrap();
        assert_eq!(
            pages_from(&doc, 1).unwrap(),
            doc,
            "page 1 on: the document itself"
        );
        assert_eq!(pages_from(&doc, 0).unwrap(), doc);
        let rest = read_tiff_pages(&pages_from(&doc, 2).unwrap()).unwrap();
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[0].bitmap, page(2).bitmap);
        assert_eq!(rest[1].bitmap, page(3).bitmap);
        let last = read_tiff_pages(&pages_from(&doc, 3).unwrap()).unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].bitmap, page(3).bitmap);
        assert!(pages_from(&doc, 4).is_err());
        assert!(pages_from(b"not a tiff", 2).is_err());
    }
}
