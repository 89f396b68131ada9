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
const MAX_PAGES: u32 = 10_000;

/// What a sendable TIFF holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TiffSummary {
    /// Number of pages.
    pub pages: u32,
    /// Vertical resolution of each page in lines per inch (98, 196 or 391).
    pub y_dpi: Vec<f32>,
}

/// Checks that `path` is a TIFF SpanDSP can send: readable, bilevel, 1728 pixels wide at
/// 204 dpi, with standard, fine or superfine vertical resolution, on every page.
pub fn check_send_tiff(path: &Path) -> Result<TiffSummary, Error> {
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
    let mut y_dpi = Vec::new();
    for page in 0..MAX_PAGES {
        let mut info = sys::faxsrv_tiff_page_t::default();
        // SAFETY: `c_path` is a valid C string for the call and `info` a valid out-struct.
        let rc = unsafe { sys::faxsrv_tiff_page_info(c_path.as_ptr(), page as i32, &mut info) };
        match rc {
            0 => {}
            -1 => return Err(bad("not a readable TIFF file".to_owned())),
            _ if page == 0 => return Err(bad("the TIFF has no pages".to_owned())),
            _ => break,
        }
        let n = page + 1;
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
    }
    Ok(TiffSummary {
        pages: y_dpi.len() as u32,
        y_dpi,
    })
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
