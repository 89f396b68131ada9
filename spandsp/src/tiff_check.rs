//! Checks a TIFF before a call sends it, with the same libtiff SpanDSP will read it with.
//!
//! SpanDSP only opens the file after DIS, about 8 s into a call, and then fails with a bare
//! T.30 code; checking first turns that into a clear error before anyone is dialled.

use std::path::Path;

use spandsp_sys as sys;

use crate::ffi_util::path_to_cstring;
use crate::Error;

/// The fax width SpanDSP sends at 204 dpi (ITU-T T.4, 215 mm).
const FAX_WIDTH: u32 = 1728;
/// More pages than any real fax; a guard against looping over a hostile file.
const MAX_PAGES: usize = 10_000;

/// What a sendable TIFF holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TiffSummary {
    /// Number of pages.
    pub pages: u32,
    /// Vertical resolution of each page in lines per inch (98, 196 or 391).
    pub y_dpi: Vec<f32>,
}

/// How thoroughly a TIFF is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiffCheck {
    /// Tags only: cheap, for every call attempt of an already accepted document.
    Headers,
    /// Tags and every strip decoded: for accepting a document, once.
    Full,
}

/// Checks that `path` is a TIFF SpanDSP can send: readable, bilevel, 1728 pixels wide at
/// 204 dpi, with standard, fine or superfine vertical resolution, on every page, and with
/// image data that decodes. Run it once when a document is accepted.
pub fn check_send_tiff(path: &Path) -> Result<TiffSummary, Error> {
    inspect_send_tiff(path, TiffCheck::Full)
}

/// Checks `path` as [`check_send_tiff`] does, decoding the image data only for
/// [`TiffCheck::Full`]. Terminals run the cheap [`TiffCheck::Headers`] form before each call.
pub fn inspect_send_tiff(path: &Path, depth: TiffCheck) -> Result<TiffSummary, Error> {
    let bad = |reason: String| Error::BadTiff {
        path: path.to_owned(),
        reason,
    };
    let c_path = path_to_cstring(path)?;
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(bad("not a regular file".to_owned())),
        Err(err) => return Err(bad(err.to_string())),
    }
    crate::log::install();
    let Some(tiff) = OpenTiff::open(&c_path) else {
        return Err(bad("not a readable TIFF file".to_owned()));
    };
    let mut y_dpi = Vec::new();
    loop {
        let n = y_dpi.len() + 1;
        let info = tiff.read_page(depth == TiffCheck::Full);
        if info.bits_per_sample != 1 || info.samples_per_pixel != 1 {
            return Err(bad(format!(
                "page {n} is not black and white ({} bits x {} samples per pixel)",
                info.bits_per_sample, info.samples_per_pixel
            )));
        }
        if info.width != FAX_WIDTH {
            return Err(bad(format!(
                "page {n} is {} pixels wide; fax pages are 1728",
                info.width
            )));
        }
        let (x, y) = dpi(&info);
        if !near(x, 204.0) {
            return Err(bad(format!(
                "page {n} has {x:.0} dpi across; fax pages have 204"
            )));
        }
        let Some(lines) = [98.0, 196.0, 391.0].into_iter().find(|&d| near(y, d)) else {
            return Err(bad(format!(
                "page {n} has {y:.0} lines per inch; fax pages have 98, 196 or 391"
            )));
        };
        if info.decodes == 0 {
            return Err(bad(format!("page {n} has corrupt image data")));
        }
        y_dpi.push(lines);
        if y_dpi.len() >= MAX_PAGES || !tiff.next_page() {
            break;
        }
    }
    Ok(TiffSummary {
        pages: y_dpi.len() as u32,
        y_dpi,
    })
}

/// A TIFF opened through libtiff, closed on drop.
struct OpenTiff(*mut std::os::raw::c_void);

impl OpenTiff {
    fn open(path: &std::ffi::CStr) -> Option<OpenTiff> {
        // SAFETY: `path` is a valid C string; the shim returns NULL on failure.
        let handle = unsafe { sys::faxsrv_tiff_open(path.as_ptr()) };
        (!handle.is_null()).then_some(OpenTiff(handle))
    }

    fn read_page(&self, decode: bool) -> sys::faxsrv_tiff_page_t {
        let mut info = sys::faxsrv_tiff_page_t::default();
        // SAFETY: the handle is open; `info` is a valid out-struct.
        unsafe { sys::faxsrv_tiff_read_page(self.0, i32::from(decode), &mut info) };
        info
    }

    fn next_page(&self) -> bool {
        // SAFETY: the handle is open.
        unsafe { sys::faxsrv_tiff_next_page(self.0) != 0 }
    }
}

impl Drop for OpenTiff {
    fn drop(&mut self) {
        // SAFETY: the handle came from faxsrv_tiff_open and is closed exactly once.
        unsafe { sys::faxsrv_tiff_close(self.0) };
    }
}

fn dpi(info: &sys::faxsrv_tiff_page_t) -> (f32, f32) {
    let scale = match info.resolution_unit {
        3 => 2.54,
        _ => 1.0,
    };
    (info.x_resolution * scale, info.y_resolution * scale)
}

fn near(value: f32, target: f32) -> bool {
    (value - target).abs() <= target * 0.02
}
