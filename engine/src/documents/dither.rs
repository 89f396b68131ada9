//! Grey to bilevel (Floyd–Steinberg error diffusion) and area-averaging resampling.

use super::bitmap::{Bitmap, Grey};

/// Floyd–Steinberg error diffusion to 1 bit.
///
/// Pure black (0) and pure white (255) pixels are copied exactly and absorb no error: text
/// rendered without anti-aliasing stays crisp, and white paper next to a grey area never
/// collects stray dots.
pub(crate) fn dither(grey: &Grey) -> Bitmap {
    let w = grey.width as usize;
    let mut out = Bitmap::new(grey.width, grey.height);
    // Errors in 1/16 units for this row and the next, with one guard cell on each side so the
    // kernel never needs bounds checks.
    let mut cur = vec![0i32; w + 2];
    let mut next = vec![0i32; w + 2];
    for (y, src) in grey
        .data
        .chunks_exact(w.max(1))
        .enumerate()
        .take(grey.height as usize)
    {
        let row = out.row_mut(y as u32);
        for (x, &v) in src.iter().enumerate() {
            let black = match v {
                0 => true,
                255 => false,
                _ => {
                    let want = i32::from(v) * 16 + cur[x + 1];
                    let black = want < 128 * 16;
                    let err = want - if black { 0 } else { 255 * 16 };
                    // 7/16 right, 3/16 below-left, 5/16 below, 1/16 below-right.
                    cur[x + 2] += err * 7 / 16;
                    next[x] += err * 3 / 16;
                    next[x + 1] += err * 5 / 16;
                    next[x + 2] += err / 16;
                    black
                }
            };
            if black {
                if let Some(b) = row.get_mut(x >> 3) {
                    *b |= 0x80 >> (x & 7);
                }
            }
        }
        std::mem::swap(&mut cur, &mut next);
        next.fill(0);
    }
    out
}

/// Resamples to `dw`×`dh`: shrinking averages the source area under each destination pixel
/// (no hairline is dropped), enlarging interpolates linearly.
///
/// Done by `image`'s box-filter `thumbnail` through the non-generic `DynamicImage` API, which
/// is compiled optimised even in debug builds; flat white or black stays exactly 255 or 0.
pub(crate) fn resample(src: Grey, dw: u32, dh: u32) -> Grey {
    let blank = || Grey {
        width: dw,
        height: dh,
        data: vec![255; dw as usize * dh as usize],
    };
    if src.width == 0 || src.height == 0 || dw == 0 || dh == 0 {
        return blank();
    }
    let Some(buffer) = image::GrayImage::from_raw(src.width, src.height, src.data) else {
        return blank();
    };
    let scaled = image::DynamicImage::ImageLuma8(buffer)
        .thumbnail_exact(dw, dh)
        .into_luma8();
    let mut data = scaled.into_raw();
    // Enlarging interpolates in floats and truncates, turning flat white into 254 here and
    // there; dithering would make those specks. Snap them back to paper (and ink).
    for v in data.iter_mut() {
        match *v {
            254 => *v = 255,
            1 => *v = 0,
            _ => {}
        }
    }
    Grey {
        width: dw,
        height: dh,
        data,
    }
}

/// Bilevel vertical rescale by whole rows: reduction ORs the rows that fall on one output row
/// so hairlines survive (superfine → fine → standard); enlargement repeats rows.
pub(crate) fn rescale_rows(src: &Bitmap, dh: u32) -> Bitmap {
    let mut out = Bitmap::new(src.width, dh);
    let sh = u64::from(src.height);
    for y in 0..dh {
        let lo = u64::from(y) * sh / u64::from(dh);
        let hi = ((u64::from(y) + 1) * sh / u64::from(dh))
            .max(lo + 1)
            .min(sh);
        for s in lo..hi {
            let srow = src.row(s as u32);
            for (d, &b) in out.row_mut(y).iter_mut().zip(srow) {
                *d |= b;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_areas_stay_flat() {
        let g = Grey {
            width: 37,
            height: 11,
            data: vec![255; 37 * 11],
        };
        let r = resample(g, 100, 23);
        let bad: Vec<(usize, u8)> = r
            .data
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, v)| v != 255)
            .collect();
        assert!(bad.is_empty(), "{bad:?}");
        let g = Grey {
            width: 37,
            height: 11,
            data: vec![0; 37 * 11],
        };
        assert!(resample(g, 10, 5).data.iter().all(|&v| v == 0));
    }

    #[test]
    fn mid_grey_dithers_to_half() {
        let g = Grey {
            width: 200,
            height: 200,
            data: vec![128; 40_000],
        };
        let b = dither(&g);
        let frac = b.black_pixels() as f64 / 40_000.0;
        assert!((0.45..0.55).contains(&frac), "{frac}");
    }

    #[test]
    fn rows_or_merge() {
        let mut b = Bitmap::new(8, 4);
        b.set(1, 1, true);
        b.set(2, 2, true);
        let r = rescale_rows(&b, 2);
        assert!(r.get(1, 0) && r.get(2, 1) && !r.get(2, 0));
        let r = rescale_rows(&b, 8);
        assert!(r.get(1, 2) && r.get(1, 3) && !r.get(1, 4));
    }
}
