//! Applies a [`T30Config`] and a [`Direction`] to a SpanDSP T.30 engine (ITU-T T.30).

use std::ffi::CString;
use std::os::raw::c_int;

use spandsp_sys as sys;

use crate::ffi_util::path_to_cstring;
use crate::tiff_check::{inspect_send_tiff, TiffCheck};
use crate::{Direction, Error, T30Config};

/// `T4_COMPRESSION_ITU_T4_1D` from `<spandsp/t4_rx.h>` (a typedef'd enum bindgen leaves out).
const T4_COMPRESSION_ITU_T4_1D: c_int = 1;

/// C strings SpanDSP keeps pointers to, or that must outlive configuration.
#[derive(Debug)]
pub(crate) struct T30Strings {
    /// Kept alive because `span_log_set_tag` stores the pointer without copying.
    pub log_tag: CString,
}

/// Validates everything that can be checked before a call, so failures come first.
pub(crate) fn validate(config: &T30Config, direction: &Direction) -> Result<(), Error> {
    config.validate()?;
    match direction {
        Direction::Send { tiff, first_page } => {
            // Headers only: a full decode costs milliseconds per page on every attempt, and
            // documents are fully checked once, when they are accepted.
            let summary = inspect_send_tiff(tiff, TiffCheck::Headers)?;
            if *first_page == 0 || *first_page > summary.pages {
                return Err(Error::BadConfig(format!(
                    "cannot start at page {first_page} of a {}-page document",
                    summary.pages
                )));
            }
        }
        Direction::Receive { tiff } => {
            path_to_cstring(tiff)?;
            let parent = tiff.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(dir) = parent {
                if !dir.is_dir() {
                    return Err(Error::BadReceivePath(tiff.clone()));
                }
            }
        }
    }
    Ok(())
}

/// Configures `t30`; `validate` must have passed.
///
/// # Safety
/// `t30` must be a valid T.30 state.
pub(crate) unsafe fn apply(
    t30: *mut sys::t30_state_t,
    config: &T30Config,
    direction: &Direction,
) -> Result<T30Strings, Error> {
    let ident = CString::new(config.local_ident.as_str())
        .map_err(|_| Error::BadIdent(config.local_ident.clone()))?;
    let header = match &config.header_info {
        Some(h) => Some(CString::new(h.as_str()).map_err(|_| Error::BadHeader(h.clone()))?),
        None => None,
    };
    let tz = match &config.header_tz {
        Some(tz) => Some(
            CString::new(tz.as_str())
                .map_err(|_| Error::BadConfig(format!("time zone {tz:?} holds a NUL")))?,
        ),
        None => None,
    };
    let log_tag = CString::new(config.log_tag.replace('\0', "")).unwrap_or_default();
    // Received pages are stored as T.4 1D (MH). SpanDSP decodes each page into a bitmap and
    // has libtiff encode it again as the page ends, inside the media tick: measured here with
    // libtiff on a 1728×2156 text page, 6.5 ms for T.6 against 2.9 ms for MH, which at a few
    // thousand calls is a tenth of a receiving process. MH files are larger (+12 % on the
    // test chart) and the PDF step embeds MH as it embeds T.6, without re-encoding.
    let rx_encoding = T4_COMPRESSION_ITU_T4_1D;

    // SAFETY: `t30` is valid (caller); every string passed is a valid C string that SpanDSP
    // copies during the call, except the log tag, which is returned to live with the state.
    unsafe {
        if sys::t30_set_tx_ident(t30, ident.as_ptr()) < 0 {
            return Err(Error::BadIdent(config.local_ident.clone()));
        }
        let header_ptr = header.as_ref().map_or(std::ptr::null(), |h| h.as_ptr());
        if sys::t30_set_tx_page_header_info(t30, header_ptr) < 0 {
            return Err(Error::BadHeader(
                config.header_info.clone().unwrap_or_default(),
            ));
        }
        if let Some(tz) = &tz {
            sys::t30_set_tx_page_header_tz(t30, tz.as_ptr());
        }
        sys::t30_set_ecm_capability(t30, c_int::from(config.ecm));
        sys::t30_set_supported_modems(t30, config.modems.bits() as c_int);
        sys::t30_set_supported_compressions(t30, config.compressions.bits() as c_int);
        sys::t30_set_rx_encoding(t30, rx_encoding);
        match direction {
            Direction::Send { tiff, first_page } => {
                let path = path_to_cstring(tiff)?;
                // SpanDSP's start page is a TIFF directory index (from 0); −1 means the end.
                let start = c_int::try_from(first_page.saturating_sub(1)).unwrap_or(c_int::MAX);
                sys::t30_set_tx_file(t30, path.as_ptr(), start, -1);
            }
            Direction::Receive { tiff } => {
                let path = path_to_cstring(tiff)?;
                sys::t30_set_rx_file(t30, path.as_ptr(), -1);
            }
        }
        let level = config.protocol_log_level.unwrap_or(config.log_level);
        crate::log::configure(sys::t30_get_logging_state(t30), level, &log_tag);
    }
    Ok(T30Strings { log_tag })
}
