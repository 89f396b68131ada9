//! T.30 completion codes as libspandsp 0.0.6 numbers them (`T30_ERR_*` in `spandsp/t30.h`).
//!
//! SpanDSP renumbered these between versions ("Unexpected message received" is 11 in older
//! headers, 13 in ours), so the constants belong to the library we link, and only the few that
//! change how an attempt is classified are named. `tests/outcome.rs` checks each against
//! SpanDSP's own `t30_completion_code_to_str`, so a library upgrade that moves them fails there.

/// Every page was sent or received and confirmed.
pub const OK: i32 = 0;
/// "Timed out waiting for initial communication": no fax answered at all.
pub const T0_EXPIRED: i32 = 2;
/// "Timed out waiting for the first message": T.30 timer T1 ran out before any frame.
pub const T1_EXPIRED: i32 = 3;
/// "TIFF/F file cannot be opened": the first of the document errors (41–47).
pub const FILE_ERROR: i32 = 41;
/// "Cannot allocate memory for more pages": the last of the document errors.
pub const NO_MEM: i32 = 47;
/// "The call dropped prematurely": the call ended before T.30 did.
pub const CALL_DROPPED: i32 = 49;

/// True when the code says no fax machine ever spoke to us (T0 or T1 expired).
pub fn is_no_fax(code: i32) -> bool {
    matches!(code, T0_EXPIRED | T1_EXPIRED)
}

/// True for the TIFF errors (41–47): our document is at fault, so redialing cannot help.
pub fn is_document_error(code: i32) -> bool {
    (FILE_ERROR..=NO_MEM).contains(&code)
}
