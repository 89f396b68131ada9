//! Our TIFF-F writer: one directory per page, one G4 strip per page.
//!
//! The `tiff` crate cannot write 1-bit CCITT images, and the format needs a dozen tags, so we
//! write it ourselves. Layout: header, then for each page its strip followed by its directory
//! and the directory's out-of-line rationals.

use super::bitmap::Bitmap;
use super::ccitt;
use super::DocumentError;

/// One page already encoded as a G4 strip.
pub(crate) struct EncodedPage {
    pub width: u32,
    pub height: u32,
    pub x_dpi: f32,
    pub y_dpi: f32,
    pub g4: Vec<u8>,
}

impl EncodedPage {
    pub(crate) fn encode(bitmap: &Bitmap, x_dpi: f32, y_dpi: f32) -> EncodedPage {
        EncodedPage {
            width: bitmap.width,
            height: bitmap.height,
            x_dpi,
            y_dpi,
            g4: ccitt::encode_g4(bitmap),
        }
    }
}

const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;

/// Resolution as a rational with enough precision for 195.9 or 391.0 lpi.
fn rational(dpi: f32) -> (u32, u32) {
    let dpi = if dpi.is_finite() && dpi > 0.0 {
        dpi
    } else {
        204.0
    };
    ((f64::from(dpi) * 100.0).round() as u32, 100)
}

/// Assembles the TIFF file.
pub(crate) fn assemble(pages: &[EncodedPage]) -> Result<Vec<u8>, DocumentError> {
    if pages.is_empty() {
        return Err(DocumentError::ZeroPages);
    }
    let total = u16::try_from(pages.len())
        .map_err(|_| DocumentError::NotSupported("more than 65535 pages in one TIFF".into()))?;
    let mut out: Vec<u8> = Vec::new();
    out.extend_from_slice(b"II*\0");
    // Patched below with the first directory's offset.
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut link_at = 4usize;
    for (i, page) in pages.iter().enumerate() {
        let strip_offset = offset32(out.len())?;
        out.extend_from_slice(&page.g4);
        if out.len() % 2 == 1 {
            out.push(0);
        }
        let ifd_at = out.len();
        let ifd_offset = offset32(ifd_at)?;
        patch(&mut out, link_at, ifd_offset);
        let entries: [(u16, u16, u32, u32); 17] = [
            (254, LONG, 1, 2), // NewSubfileType: one page of a multi-page document
            (256, LONG, 1, page.width),
            (257, LONG, 1, page.height),
            (258, SHORT, 1, 1), // BitsPerSample
            (259, SHORT, 1, 4), // Compression: CCITT T.6
            (262, SHORT, 1, 0), // Photometric: min-is-white
            (266, SHORT, 1, 1), // FillOrder: MSB first
            (273, LONG, 1, strip_offset),
            (274, SHORT, 1, 1), // Orientation: top-left
            (277, SHORT, 1, 1), // SamplesPerPixel
            (278, LONG, 1, page.height),
            (279, LONG, 1, offset32(page.g4.len())?),
            (282, RATIONAL, 1, 0), // XResolution, offset patched below
            (283, RATIONAL, 1, 0), // YResolution, offset patched below
            (293, LONG, 1, 0),     // T6Options
            (296, SHORT, 1, 2),    // ResolutionUnit: inch
            // PageNumber: two SHORTs, page and total, packed in the value field.
            (297, SHORT, 2, 0),
        ];
        let ifd_len = 2 + entries.len() * 12 + 4;
        let rationals_at = offset32(ifd_at + ifd_len)?;
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            match (tag, kind) {
                (282, _) => out.extend_from_slice(&rationals_at.to_le_bytes()),
                (283, _) => out.extend_from_slice(&(rationals_at + 8).to_le_bytes()),
                (297, _) => {
                    out.extend_from_slice(&(i as u16).to_le_bytes());
                    out.extend_from_slice(&total.to_le_bytes());
                }
                // A SHORT sits in the first two bytes of the value field.
                (_, SHORT) => {
                    out.extend_from_slice(&(value as u16).to_le_bytes());
                    out.extend_from_slice(&[0, 0]);
                }
                _ => out.extend_from_slice(&value.to_le_bytes()),
            }
        }
        link_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        for dpi in [page.x_dpi, page.y_dpi] {
            let (n, d) = rational(dpi);
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&d.to_le_bytes());
        }
    }
    Ok(out)
}

fn offset32(n: usize) -> Result<u32, DocumentError> {
    u32::try_from(n).map_err(|_| DocumentError::NotSupported("fax TIFF would exceed 4 GiB".into()))
}

fn patch(out: &mut [u8], at: usize, value: u32) {
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
}
