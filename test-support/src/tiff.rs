//! A deliberately tiny, uncompressed TIFF writer (TIFF 6.0 baseline bilevel), independent of
//! the code under test, for making files with chosen widths and resolutions.

/// What to write.
#[derive(Debug, Clone)]
pub struct TiffSpec {
    /// Width in pixels.
    pub width: u32,
    /// Height in rows.
    pub height: u32,
    /// Horizontal resolution in dots per inch.
    pub x_dpi: u32,
    /// Vertical resolution in dots per inch.
    pub y_dpi: u32,
    /// Pages to write (each the same image).
    pub pages: u32,
}

/// Writes `spec` as an uncompressed, min-is-white, 1-bit TIFF whose pixels form a diagonal
/// stripe pattern, and returns the file's bytes.
pub fn write_bilevel_tiff(spec: &TiffSpec) -> Vec<u8> {
    let stride = spec.width.div_ceil(8) as usize;
    let mut image = vec![0u8; stride * spec.height as usize];
    for y in 0..spec.height as usize {
        for x in 0..spec.width as usize {
            if (x + y) % 16 < 4 {
                image[y * stride + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    let mut out = vec![b'I', b'I', 42, 0, 0, 0, 0, 0];
    let mut next_ifd_field = 4usize;
    for page in 0..spec.pages {
        let image_offset = out.len() as u32;
        out.extend_from_slice(&image);
        let res_offset = out.len() as u32;
        for dpi in [spec.x_dpi, spec.y_dpi] {
            out.extend_from_slice(&dpi.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
        }
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let ifd_offset = out.len() as u32;
        out[next_ifd_field..next_ifd_field + 4].copy_from_slice(&ifd_offset.to_le_bytes());
        // (tag, type, value): type 3 = SHORT, 4 = LONG, 5 = RATIONAL (value = offset).
        let entries: [(u16, u16, u32); 13] = [
            (256, 4, spec.width),
            (257, 4, spec.height),
            (258, 3, 1),
            (259, 3, 1),
            (262, 3, 0),
            (273, 4, image_offset),
            (277, 3, 1),
            (278, 4, spec.height),
            (279, 4, image.len() as u32),
            (282, 5, res_offset),
            (283, 5, res_offset + 8),
            (296, 3, 2),
            (297, 3, page | (spec.pages << 16)),
        ];
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, value) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            if tag == 297 {
                // PageNumber is two SHORTs packed into the value field.
                out.extend_from_slice(&(page as u16).to_le_bytes());
                out.extend_from_slice(&(spec.pages as u16).to_le_bytes());
            } else if kind == 3 {
                out.extend_from_slice(&(value as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        next_ifd_field = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}
