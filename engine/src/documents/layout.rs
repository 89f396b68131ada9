//! Placing a decoded page on the fax page: rotation, fit-to-paper scaling, dithering.
//!
//! Rules, in order:
//! 1. A page exactly 1728 pixels wide whose horizontal resolution is 204 dpi, or unknown, is
//!    already fax geometry: columns are kept pixel for pixel and only the rows are rescaled
//!    when its vertical resolution (196 lpi when unknown) differs from the output's. Its
//!    length is kept (fax pages may be any length).
//! 2. Otherwise the page is fitted into the paper at fax geometry (1728 × 2156 lines for
//!    Letter, 1728 × 2292 for A4, at fine resolution; half the lines at standard), keeping its
//!    aspect ratio and accounting for the non-square 204 × 196 (or 204 × 98) pixels. Pages with
//!    a known resolution (TIFF) keep their physical size when they fit and are only shrunk;
//!    pages without one (PNG, JPEG, PNM) are scaled up or down to fill the paper.
//! 3. A landscape page (wider than tall) is turned 90° counter-clockwise when that lets it be
//!    printed larger, like Ghostscript does for PDF pages.
//! 4. The scaled page is placed at the top of the paper, centred horizontally, and dithered.

use super::bitmap::{Bitmap, Grey};
use super::dither::{dither, resample, rescale_rows};
use super::{PaperSize, FAX_WIDTH, FAX_X_DPI};

/// A decoded page before layout.
pub(crate) enum Raster {
    Bilevel(Bitmap),
    Grey(Grey),
}

impl Raster {
    fn size(&self) -> (u32, u32) {
        match self {
            Raster::Bilevel(b) => (b.width, b.height),
            Raster::Grey(g) => (g.width, g.height),
        }
    }

    fn into_grey(self) -> Grey {
        match self {
            Raster::Bilevel(b) => b.to_grey(),
            Raster::Grey(g) => g,
        }
    }
}

/// A page to lay out, with its resolution when the file states one.
pub(crate) struct SourcePage {
    pub raster: Raster,
    pub dpi: Option<(f64, f64)>,
}

/// Output geometry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    pub y_dpi: f64,
    pub paper: PaperSize,
}

impl Target {
    /// Paper length in lines at the output resolution.
    pub(crate) fn lines(&self) -> u32 {
        let fine = self.y_dpi > 150.0;
        match (self.paper, fine) {
            (PaperSize::Letter, true) => 2156,
            (PaperSize::Letter, false) => 1078,
            (PaperSize::A4, true) => 2292,
            (PaperSize::A4, false) => 1146,
        }
    }
}

/// Longest page kept at fax geometry: 30000 lines is 3.9 m at fine resolution.
const MAX_PAGE_LINES: u32 = 30_000;

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= b * 0.01
}

/// Lays one page out on fax paper.
pub(crate) fn render(src: SourcePage, target: &Target) -> Bitmap {
    let (w, h) = src.raster.size();
    let x_is_fax = src.dpi.is_none_or(|(x, _)| near(x, f64::from(FAX_X_DPI)));
    let src_y = src.dpi.map_or(196.0, |(_, y)| y);
    let rows = if near(src_y, target.y_dpi) {
        f64::from(h)
    } else {
        (f64::from(h) * target.y_dpi / src_y).round().max(1.0)
    };
    // An absurd vertical resolution would make an absurdly long page: fit those instead.
    if w == FAX_WIDTH && x_is_fax && rows <= f64::from(MAX_PAGE_LINES) {
        let rows = rows as u32;
        return match src.raster {
            Raster::Bilevel(b) if rows == h => b,
            Raster::Bilevel(b) => rescale_rows(&b, rows),
            // Dithering copies pure black and white exactly, so this is also a threshold.
            Raster::Grey(g) if rows == h => dither(&g),
            // Black-and-white images (PBM, line art) get row merging so hairlines survive.
            Raster::Grey(g) if g.data.iter().all(|&v| v == 0 || v == 255) => {
                rescale_rows(&dither(&g), rows)
            }
            Raster::Grey(g) => dither(&resample(g, w, rows)),
        };
    }

    let page_w = f64::from(FAX_WIDTH) / f64::from(FAX_X_DPI);
    let page_lines = target.lines();
    let page_h = f64::from(page_lines) / target.y_dpi;
    // Physical size in inches, or in pixels when unknown (only the aspect ratio matters then).
    let (pw, ph) = match src.dpi {
        Some((x, y)) => (f64::from(w) / x, f64::from(h) / y),
        None => (f64::from(w), f64::from(h)),
    };
    let fit = |a: f64, b: f64| {
        let s = (page_w / a).min(page_h / b);
        if src.dpi.is_some() {
            s.min(1.0)
        } else {
            s
        }
    };
    let rotate = pw > ph && fit(ph, pw) > fit(pw, ph);
    let (pw, ph) = if rotate { (ph, pw) } else { (pw, ph) };
    let scale = fit(pw, ph);
    let dw = ((pw * scale * f64::from(FAX_X_DPI)).round() as u32).clamp(1, FAX_WIDTH);
    let dh = ((ph * scale * target.y_dpi).round() as u32).clamp(1, page_lines);

    let mut grey = src.raster.into_grey();
    if rotate {
        grey = grey.rotate_ccw();
    }
    let scaled = resample(grey, dw, dh);
    let content = dither(&scaled);
    let mut page = Bitmap::new(FAX_WIDTH, page_lines);
    let left = (FAX_WIDTH - dw) / 2;
    blit(&content, &mut page, left);
    page
}

/// Copies `src` into the top of `dst`, `left` pixels in.
fn blit(src: &Bitmap, dst: &mut Bitmap, left: u32) {
    if left % 8 == 0 {
        let at = (left / 8) as usize;
        for y in 0..src.height.min(dst.height) {
            let s = src.row(y);
            if let Some(d) = dst.row_mut(y).get_mut(at..at + s.len()) {
                d.copy_from_slice(s);
            }
        }
        return;
    }
    let shift = left % 8;
    let at = (left / 8) as usize;
    for y in 0..src.height.min(dst.height) {
        let s = src.row(y);
        let d = dst.row_mut(y);
        for (i, &b) in s.iter().enumerate() {
            if let Some(x) = d.get_mut(at + i) {
                *x |= b >> shift;
            }
            if let Some(x) = d.get_mut(at + i + 1) {
                *x |= b << (8 - shift);
            }
        }
    }
}
