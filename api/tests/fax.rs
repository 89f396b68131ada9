//! The tenant fax routes over the real router, a real SQLite store, real conversion
//! (Ghostscript for PDFs) and real documents: `submit` covers `/fax/send` (formats, the
//! sender check, limits, idempotency) and the document round trip; `jobs` covers status,
//! cancel and the listing.

mod common;

mod fax {
    mod jobs;
    mod submit;
}
