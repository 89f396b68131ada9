//! Bilevel and grey rasters and the few pixel operations conversion needs.

use super::DocumentError;

/// A bilevel raster, rows packed MSB-first, stride (width+7)/8, bit 1 = black.
///
/// Bits past `width` in the last byte of each row are always 0, so two bitmaps with the same
/// pixels have equal `data`.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels (rows).
    pub height: u32,
    /// `height` rows of `stride()` bytes each.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pixel data is megabytes; a summary is what a failing assertion needs.
        f.debug_struct("Bitmap")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("black_pixels", &self.black_pixels())
            .finish()
    }
}

impl Bitmap {
    /// An all-white bitmap; callers bound `width` and `height` (the decoders check limits first).
    pub fn new(width: u32, height: u32) -> Bitmap {
        let stride = (width as usize).div_ceil(8);
        Bitmap {
            width,
            height,
            data: vec![0; stride.saturating_mul(height as usize)],
        }
    }

    /// Wraps packed rows, checking the length and clearing the padding bits.
    pub fn from_packed(
        width: u32,
        height: u32,
        mut data: Vec<u8>,
    ) -> Result<Bitmap, DocumentError> {
        let stride = (width as usize).div_ceil(8);
        let expected = stride.checked_mul(height as usize);
        if expected != Some(data.len()) {
            return Err(DocumentError::CorruptImage(format!(
                "{width}x{height} bitmap needs {} bytes, got {}",
                expected.map_or_else(|| "too many".to_string(), |n| n.to_string()),
                data.len()
            )));
        }
        let mask = pad_mask(width);
        if mask != 0xFF && stride > 0 {
            for row in data.chunks_exact_mut(stride) {
                if let Some(last) = row.last_mut() {
                    *last &= mask;
                }
            }
        }
        Ok(Bitmap {
            width,
            height,
            data,
        })
    }

    /// Bytes per row: (width+7)/8.
    pub fn stride(&self) -> usize {
        (self.width as usize).div_ceil(8)
    }

    /// Is pixel (x, y) black? Pixels outside the bitmap read as white.
    pub fn get(&self, x: u32, y: u32) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        let i = y as usize * self.stride() + (x as usize >> 3);
        self.data.get(i).is_some_and(|b| b & (0x80 >> (x & 7)) != 0)
    }

    /// Sets pixel (x, y) to black or white; ignored outside the bitmap.
    pub fn set(&mut self, x: u32, y: u32, black: bool) {
        if x >= self.width || y >= self.height {
            return;
        }
        let i = y as usize * self.stride() + (x as usize >> 3);
        if let Some(b) = self.data.get_mut(i) {
            let bit = 0x80u8 >> (x & 7);
            if black {
                *b |= bit;
            } else {
                *b &= !bit;
            }
        }
    }

    /// Packed row `y` (empty when out of range).
    pub fn row(&self, y: u32) -> &[u8] {
        let s = self.stride();
        let start = y as usize * s;
        self.data.get(start..start + s).unwrap_or(&[])
    }

    /// Mutable packed row `y` (empty when out of range).
    pub fn row_mut(&mut self, y: u32) -> &mut [u8] {
        let s = self.stride();
        let start = y as usize * s;
        self.data.get_mut(start..start + s).unwrap_or(&mut [])
    }

    /// Number of black pixels.
    pub fn black_pixels(&self) -> u64 {
        // Padding bits are kept at 0, so counting whole bytes is exact.
        self.data.iter().map(|b| u64::from(b.count_ones())).sum()
    }

    /// Flips every pixel (for TIFF pages stored min-is-black).
    pub(crate) fn invert(&mut self) {
        let s = self.stride();
        let mask = pad_mask(self.width);
        if s == 0 {
            return;
        }
        for row in self.data.chunks_exact_mut(s) {
            for b in row.iter_mut() {
                *b = !*b;
            }
            if let Some(last) = row.last_mut() {
                *last &= mask;
            }
        }
    }

    /// Grey copy (0 = black, 255 = white), for resampling.
    pub(crate) fn to_grey(&self) -> Grey {
        let w = self.width as usize;
        let mut data = Vec::with_capacity(w * self.height as usize);
        for y in 0..self.height {
            let row = self.row(y);
            for byte in row {
                for bit in 0..8 {
                    data.push(if byte & (0x80 >> bit) != 0 { 0 } else { 255 });
                }
            }
            // Drop the padding pixels of the last byte.
            data.truncate((y as usize + 1) * w);
        }
        Grey {
            width: self.width,
            height: self.height,
            data,
        }
    }

    /// Sets pixels [start, end) of row `y` black, a byte at a time where possible.
    pub(crate) fn fill_run(row: &mut [u8], start: u32, end: u32) {
        let (mut s, e) = (start as usize, end as usize);
        while s < e && s & 7 != 0 {
            if let Some(b) = row.get_mut(s >> 3) {
                *b |= 0x80 >> (s & 7);
            }
            s += 1;
        }
        while s + 8 <= e {
            if let Some(b) = row.get_mut(s >> 3) {
                *b = 0xFF;
            }
            s += 8;
        }
        while s < e {
            if let Some(b) = row.get_mut(s >> 3) {
                *b |= 0x80 >> (s & 7);
            }
            s += 1;
        }
    }

    /// Paints row `y` from a CCITT transition list (colour changes, starting white).
    ///
    /// Out-of-order or out-of-range positions (only corrupt data has them) are clamped, never
    /// trusted as indexes.
    pub(crate) fn set_row_from_transitions(row: &mut [u8], width: u32, transitions: &[u32]) {
        row.fill(0);
        let mut pos = 0u32;
        let mut black = false;
        for &t in transitions {
            let t = t.clamp(pos, width);
            if black {
                Bitmap::fill_run(row, pos, t);
            }
            pos = t;
            black = !black;
        }
        if black {
            Bitmap::fill_run(row, pos, width);
        }
    }
}

/// Mask of the valid bits in the last byte of a row.
fn pad_mask(width: u32) -> u8 {
    match width % 8 {
        0 => 0xFF,
        r => 0xFFu8 << (8 - r),
    }
}

/// An 8-bit grey raster, 0 = black, 255 = white, one byte per pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grey {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Grey {
    /// Rotates 90° counter-clockwise: the top edge becomes the left edge, as Ghostscript does
    /// for landscape pages, so PDF and image input come out the same way round.
    pub(crate) fn rotate_ccw(&self) -> Grey {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut data = vec![255u8; w * h];
        // dest (dx, dy), dest width h: source x = w-1-dy, source y = dx.
        for (dy, out_row) in data.chunks_exact_mut(h.max(1)).enumerate().take(w) {
            let sx = w - 1 - dy;
            for (dx, out) in out_row.iter_mut().enumerate() {
                if let Some(v) = self.data.get(dx * w + sx) {
                    *out = *v;
                }
            }
        }
        Grey {
            width: self.height,
            height: self.width,
            data,
        }
    }
}

/// Row-wise pixel colours for the `fax` encoder.
pub(crate) fn row_pels(row: &[u8], width: u32) -> impl Iterator<Item = fax::Color> + '_ {
    (0..width as usize).map(move |x| {
        let black = row.get(x >> 3).is_some_and(|b| b & (0x80 >> (x & 7)) != 0);
        if black {
            fax::Color::Black
        } else {
            fax::Color::White
        }
    })
}
