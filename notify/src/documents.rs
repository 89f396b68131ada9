//! The fax as the notifications attach it: the stored document as PDF, its first page as
//! PDF (for `webhook_form`), and the TIFF when configured. Conversion is CPU-bound and runs
//! on the blocking pool.

use engine::documents::{fax_tiff_to_pdf, read_tiff_pages, write_fax_tiff};
use store::Document;

use crate::error::{Error, Result};

/// Whether a stored document is a TIFF (received faxes and converted uploads are).
pub fn is_tiff(doc: &Document) -> bool {
    doc.content_type.contains("tiff")
}

/// The whole fax as PDF (a stored PDF is passed through).
pub async fn fax_pdf(doc: &Document) -> Result<Vec<u8>> {
    if !is_tiff(doc) {
        return Ok(doc.data.clone());
    }
    let tiff = doc.data.clone();
    blocking(move || fax_tiff_to_pdf(&tiff).map_err(|e| Error::Document(e.to_string()))).await
}

/// The first page as PDF.
pub async fn first_page_pdf(doc: &Document) -> Result<Vec<u8>> {
    if !is_tiff(doc) {
        return Ok(doc.data.clone());
    }
    let tiff = doc.data.clone();
    blocking(move || {
        let pages = read_tiff_pages(&tiff).map_err(|e| Error::Document(e.to_string()))?;
        let first = pages
            .into_iter()
            .next()
            .ok_or_else(|| Error::Document("the fax has no page".into()))?;
        let one = write_fax_tiff(&[first]).map_err(|e| Error::Document(e.to_string()))?;
        fax_tiff_to_pdf(&one).map_err(|e| Error::Document(e.to_string()))
    })
    .await
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Document(format!("conversion task: {e}")))?
}
