//! A small TIFF directory parser and the bilevel page decoder.
//!
//! Our own parser rather than the `tiff` crate's: fax work needs the raw strips, FillOrder and
//! T4Options, and must survive hostile files without trusting any count or offset. Grey and
//! colour pages are handed to the `tiff` crate (see `tiff_grey`).

use super::bitmap::Bitmap;
use super::ccitt::{self, G3Options};
use super::{ConversionLimits, DocumentError, FaxPage};

/// Most directories we follow; a chain longer than this is a loop or an attack.
const MAX_DIRECTORIES: usize = 100_000;

/// Most values we decode for one tag.
const MAX_VALUES: usize = 1_000_000;

pub(crate) const COMPRESSION_NONE: u16 = 1;
pub(crate) const COMPRESSION_MH: u16 = 2;
pub(crate) const COMPRESSION_G3: u16 = 3;
pub(crate) const COMPRESSION_G4: u16 = 4;
pub(crate) const COMPRESSION_PACKBITS: u16 = 32773;

/// The facts about one TIFF directory (page) that conversion uses.
#[derive(Clone, Debug, Default)]
pub(crate) struct PageInfo {
    pub index: usize,
    pub width: u32,
    pub height: u32,
    pub bits_per_sample: u16,
    pub samples_per_pixel: u16,
    pub compression: u16,
    /// 0 = min-is-white, 1 = min-is-black, 2 = RGB, 3 = palette, ...
    pub photometric: Option<u16>,
    pub fill_order: u16,
    pub t4_options: u32,
    pub rows_per_strip: u32,
    /// (offset, byte count) of every strip, already checked to lie inside the file.
    pub strips: Vec<(usize, usize)>,
    pub x_resolution: Option<f64>,
    pub y_resolution: Option<f64>,
    /// 1 = none, 2 = inch, 3 = centimetre.
    pub resolution_unit: u16,
    pub tiled: bool,
    pub planar: u16,
}

impl PageInfo {
    pub(crate) fn is_bilevel(&self) -> bool {
        self.bits_per_sample == 1 && self.samples_per_pixel == 1
    }

    /// Resolution in dots per inch, when the file states it in absolute units.
    pub(crate) fn dpi(&self) -> Option<(f64, f64)> {
        let factor = match self.resolution_unit {
            2 => 1.0,
            3 => 2.54,
            _ => return None,
        };
        // Outside 10..=10000 dpi the tag is nonsense (or hostile); treat it as absent.
        let sane = |v: f64| (10.0..=10_000.0).contains(&v);
        match (self.x_resolution, self.y_resolution) {
            (Some(x), Some(y)) if sane(x * factor) && sane(y * factor) => {
                Some((x * factor, y * factor))
            }
            _ => None,
        }
    }

    /// Stated resolution, or our guess: fax geometry for the fax widths, else 200 dpi square.
    pub(crate) fn dpi_or_guess(&self) -> (f64, f64) {
        self.dpi().unwrap_or(match self.width {
            1728 | 2048 | 2432 => (204.0, 196.0),
            _ => (200.0, 200.0),
        })
    }

    /// Rows in strip `i` (the last strip may be short).
    pub(crate) fn strip_rows(&self, i: usize) -> u32 {
        let start = (i as u64).saturating_mul(u64::from(self.rows_per_strip));
        let left = u64::from(self.height).saturating_sub(start);
        left.min(u64::from(self.rows_per_strip)) as u32
    }
}

#[derive(Clone, Copy)]
enum Order {
    Little,
    Big,
}

struct Reader<'a> {
    bytes: &'a [u8],
    order: Order,
}

impl Reader<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self.order {
            Order::Little => u16::from_le_bytes(b),
            Order::Big => u16::from_be_bytes(b),
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self.order {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        })
    }
}

/// A directory entry's values, decoded by field type.
enum Values {
    Unsigned(Vec<u64>),
    Rational(Vec<f64>),
    Other,
}

impl Values {
    fn first(&self) -> Option<u64> {
        match self {
            Values::Unsigned(v) => v.first().copied(),
            _ => None,
        }
    }
}

fn bad(msg: impl Into<String>) -> DocumentError {
    DocumentError::BadTiff(msg.into())
}

/// Parses the header and every directory.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<PageInfo>, DocumentError> {
    let order = match bytes.get(0..2) {
        Some(b"II") => Order::Little,
        Some(b"MM") => Order::Big,
        _ => return Err(bad("missing II/MM byte-order mark")),
    };
    let r = Reader { bytes, order };
    match r.u16_at(2) {
        Some(42) => {}
        Some(43) => {
            return Err(DocumentError::NotSupported(
                "BigTIFF files are not supported; save as a classic TIFF".into(),
            ))
        }
        _ => return Err(bad("missing TIFF magic number 42")),
    }
    let mut offset = r.u32_at(4).ok_or_else(|| bad("header truncated"))? as usize;
    let mut seen = std::collections::HashSet::new();
    let mut pages = Vec::new();
    while offset != 0 {
        if !seen.insert(offset) {
            return Err(bad(format!(
                "directory chain loops back to offset {offset}"
            )));
        }
        if pages.len() >= MAX_DIRECTORIES {
            return Err(bad("too many directories"));
        }
        let (page, next) = parse_directory(&r, offset, pages.len())?;
        pages.push(page);
        offset = next as usize;
    }
    if pages.is_empty() {
        return Err(DocumentError::ZeroPages);
    }
    Ok(pages)
}

fn parse_directory(
    r: &Reader<'_>,
    at: usize,
    index: usize,
) -> Result<(PageInfo, u32), DocumentError> {
    let n = r
        .u16_at(at)
        .ok_or_else(|| bad(format!("directory {index} lies outside the file")))?
        as usize;
    let mut p = PageInfo {
        index,
        bits_per_sample: 1,
        samples_per_pixel: 1,
        compression: COMPRESSION_NONE,
        fill_order: 1,
        resolution_unit: 2,
        planar: 1,
        rows_per_strip: u32::MAX,
        ..PageInfo::default()
    };
    let mut offsets: Option<Vec<u64>> = None;
    let mut counts: Option<Vec<u64>> = None;
    let (mut have_width, mut have_height) = (false, false);
    for i in 0..n {
        let e = at + 2 + i * 12;
        let truncated = || bad(format!("directory {index} is truncated"));
        let tag = r.u16_at(e).ok_or_else(truncated)?;
        let kind = r.u16_at(e + 2).ok_or_else(truncated)?;
        let count = r.u32_at(e + 4).ok_or_else(truncated)? as usize;
        let first_u32 = |v: &Values| v.first().and_then(|x| u32::try_from(x).ok());
        let first_u16 = |v: &Values| v.first().and_then(|x| u16::try_from(x).ok());
        // Only the tags we use are decoded: the rest may be huge or malformed without harm.
        let wanted = matches!(tag, 256..=259 | 262 | 266 | 273 | 277..=279 | 282..=284 | 292 | 296 | 322..=325);
        if !wanted {
            continue;
        }
        let v = read_values(r, e, kind, count, index, tag)?;
        match tag {
            256 => {
                p.width = first_u32(&v).ok_or_else(|| bad("bad ImageWidth"))?;
                have_width = true;
            }
            257 => {
                p.height = first_u32(&v).ok_or_else(|| bad("bad ImageLength"))?;
                have_height = true;
            }
            258 => p.bits_per_sample = first_u16(&v).ok_or_else(|| bad("bad BitsPerSample"))?,
            259 => p.compression = first_u16(&v).ok_or_else(|| bad("bad Compression"))?,
            262 => p.photometric = first_u16(&v),
            266 => p.fill_order = first_u16(&v).unwrap_or(1),
            273 => offsets = values_unsigned(v),
            277 => p.samples_per_pixel = first_u16(&v).ok_or_else(|| bad("bad SamplesPerPixel"))?,
            278 => p.rows_per_strip = first_u32(&v).ok_or_else(|| bad("bad RowsPerStrip"))?,
            279 => counts = values_unsigned(v),
            282 => p.x_resolution = first_rational(&v),
            283 => p.y_resolution = first_rational(&v),
            284 => p.planar = first_u16(&v).unwrap_or(1),
            292 => p.t4_options = first_u32(&v).unwrap_or(0),
            296 => p.resolution_unit = first_u16(&v).unwrap_or(2),
            _ => p.tiled = true,
        }
    }
    if !have_width || !have_height {
        return Err(bad(format!(
            "page {} has no ImageWidth or ImageLength",
            index + 1
        )));
    }
    if p.rows_per_strip == 0 {
        return Err(bad(format!("page {} has RowsPerStrip 0", index + 1)));
    }
    if !p.tiled {
        p.strips = strips(r, index, offsets, counts)?;
    }
    let next = r
        .u32_at(at + 2 + n * 12)
        .ok_or_else(|| bad(format!("directory {index} is truncated")))?;
    Ok((p, next))
}

fn values_unsigned(v: Values) -> Option<Vec<u64>> {
    match v {
        Values::Unsigned(v) => Some(v),
        _ => None,
    }
}

fn first_rational(v: &Values) -> Option<f64> {
    match v {
        Values::Rational(v) => v.first().copied(),
        Values::Unsigned(v) => v.first().map(|&x| x as f64),
        Values::Other => None,
    }
}

fn read_values(
    r: &Reader<'_>,
    entry: usize,
    kind: u16,
    count: usize,
    index: usize,
    tag: u16,
) -> Result<Values, DocumentError> {
    let size = match kind {
        1 | 7 => 1,
        3 => 2,
        4 => 4,
        5 => 8,
        _ => return Ok(Values::Other),
    };
    // A 30000-row page has at most 30000 strips; more values than this are an attack on memory.
    if count > MAX_VALUES {
        return Err(bad(format!(
            "tag {tag} of page {} has {count} values",
            index + 1
        )));
    }
    let total = count
        .checked_mul(size)
        .ok_or_else(|| bad(format!("tag {tag} of page {} is absurdly long", index + 1)))?;
    let start = if total <= 4 {
        entry + 8
    } else {
        r.u32_at(entry + 8).unwrap_or(u32::MAX) as usize
    };
    let end = start.saturating_add(total);
    if end > r.bytes.len() {
        return Err(bad(format!(
            "tag {tag} of page {} points outside the file",
            index + 1
        )));
    }
    let outside = || {
        bad(format!(
            "tag {tag} of page {} points outside the file",
            index + 1
        ))
    };
    Ok(match kind {
        1 | 7 => Values::Unsigned(
            r.bytes
                .get(start..end)
                .ok_or_else(outside)?
                .iter()
                .map(|&b| u64::from(b))
                .collect(),
        ),
        3 => Values::Unsigned(
            (0..count)
                .map(|i| r.u16_at(start + 2 * i).map(u64::from).ok_or_else(outside))
                .collect::<Result<_, _>>()?,
        ),
        4 => Values::Unsigned(
            (0..count)
                .map(|i| r.u32_at(start + 4 * i).map(u64::from).ok_or_else(outside))
                .collect::<Result<_, _>>()?,
        ),
        _ => Values::Rational(
            (0..count)
                .map(|i| {
                    let num = r.u32_at(start + 8 * i).ok_or_else(outside)?;
                    let den = r.u32_at(start + 8 * i + 4).ok_or_else(outside)?;
                    Ok(if den == 0 {
                        0.0
                    } else {
                        f64::from(num) / f64::from(den)
                    })
                })
                .collect::<Result<_, DocumentError>>()?,
        ),
    })
}

fn strips(
    r: &Reader<'_>,
    index: usize,
    offsets: Option<Vec<u64>>,
    counts: Option<Vec<u64>>,
) -> Result<Vec<(usize, usize)>, DocumentError> {
    let page = index + 1;
    let offsets = offsets.ok_or_else(|| bad(format!("page {page} has no StripOffsets")))?;
    let counts = counts.ok_or_else(|| bad(format!("page {page} has no StripByteCounts")))?;
    if offsets.len() != counts.len() {
        return Err(bad(format!(
            "page {page} has {} StripOffsets but {} StripByteCounts",
            offsets.len(),
            counts.len()
        )));
    }
    offsets
        .iter()
        .zip(&counts)
        .map(|(&o, &c)| {
            let end = o.checked_add(c);
            match end {
                Some(end) if end <= r.bytes.len() as u64 => Ok((o as usize, c as usize)),
                _ => Err(bad(format!("a strip of page {page} lies outside the file"))),
            }
        })
        .collect()
}

/// Refuses pages whose decoded size would exceed the limits.
pub(crate) fn check_dimensions(
    width: u32,
    height: u32,
    limits: &ConversionLimits,
) -> Result<(), DocumentError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(DocumentError::CorruptImage(format!(
            "image has no pixels ({width}x{height})"
        )));
    }
    if width > limits.max_dimension || height > limits.max_dimension || pixels > limits.max_pixels {
        return Err(DocumentError::ImageTooLarge {
            width: width.into(),
            height: height.into(),
            max_dimension: limits.max_dimension,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

/// Can `decode_bilevel` handle this page itself?
pub(crate) fn own_decoder_handles(p: &PageInfo) -> bool {
    p.is_bilevel()
        && !p.tiled
        && matches!(
            p.compression,
            COMPRESSION_NONE
                | COMPRESSION_MH
                | COMPRESSION_G3
                | COMPRESSION_G4
                | COMPRESSION_PACKBITS
        )
}

/// Decodes one bilevel page (strips in order, FillOrder and Photometric applied).
pub(crate) fn decode_bilevel(
    bytes: &[u8],
    p: &PageInfo,
    limits: &ConversionLimits,
) -> Result<Bitmap, DocumentError> {
    let page = p.index + 1;
    if !own_decoder_handles(p) {
        return Err(DocumentError::NotSupported(format!(
            "page {page}: {} bits per sample, {} samples, compression {}{} is not a bilevel page we can decode",
            p.bits_per_sample,
            p.samples_per_pixel,
            p.compression,
            if p.tiled { ", tiled" } else { "" }
        )));
    }
    check_dimensions(p.width, p.height, limits)?;
    let mut out = Bitmap::new(p.width, p.height);
    let mut row = 0u32;
    for (i, &(offset, len)) in p.strips.iter().enumerate() {
        if row >= p.height {
            break;
        }
        let rows = p.strip_rows(i);
        let raw = bytes.get(offset..offset + len).unwrap_or(&[]);
        let reversed;
        let data = if p.fill_order == 2 {
            reversed = raw.iter().map(|b| b.reverse_bits()).collect::<Vec<u8>>();
            &reversed[..]
        } else {
            raw
        };
        let err = |e: String| bad(format!("page {page}: {e}"));
        match p.compression {
            COMPRESSION_G4 => ccitt::decode_g4(data, &mut out, row, rows).map_err(err)?,
            COMPRESSION_G3 | COMPRESSION_MH => {
                if p.t4_options & 2 != 0 {
                    return Err(DocumentError::NotSupported(format!(
                        "page {page} uses T.4 uncompressed mode"
                    )));
                }
                let options = G3Options {
                    two_d: p.compression == COMPRESSION_G3 && p.t4_options & 1 != 0,
                    byte_aligned_rows: p.compression == COMPRESSION_MH,
                };
                ccitt::decode_g3(data, &mut out, row, rows, options).map_err(err)?
            }
            COMPRESSION_PACKBITS => {
                let unpacked = unpack_bits(data, out.stride() * rows as usize);
                copy_rows(&mut out, row, rows, &unpacked);
            }
            _ => copy_rows(&mut out, row, rows, data),
        }
        row += rows;
    }
    // Codecs emit white as 0; min-is-black pages store white as 1.
    if p.photometric == Some(1) {
        out.invert();
    }
    Ok(out)
}

/// Copies uncompressed rows; a short strip leaves the rest white (libtiff reports an error and
/// keeps what it read).
fn copy_rows(out: &mut Bitmap, first: u32, rows: u32, data: &[u8]) {
    let stride = out.stride();
    for r in 0..rows {
        let src = data.get(r as usize * stride..(r as usize + 1) * stride);
        let width = out.width;
        let dst = out.row_mut(first + r);
        if let Some(src) = src {
            dst.copy_from_slice(src);
        }
        if width % 8 != 0 {
            if let Some(last) = dst.last_mut() {
                *last &= 0xFFu8 << (8 - width % 8);
            }
        }
    }
}

/// PackBits (TIFF compression 32773), stopping at `limit` output bytes.
fn unpack_bits(data: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    let mut i = 0;
    while out.len() < limit {
        let Some(&n) = data.get(i) else { break };
        i += 1;
        let n = n as i8;
        if n >= 0 {
            let len = n as usize + 1;
            let Some(lit) = data.get(i..i + len) else {
                break;
            };
            out.extend_from_slice(lit);
            i += len;
        } else if n != -128 {
            let Some(&b) = data.get(i) else { break };
            i += 1;
            out.extend(std::iter::repeat_n(b, (1 - n as isize) as usize));
        }
    }
    out.truncate(limit);
    out
}

/// Decodes every page of a bilevel TIFF.
pub(crate) fn read_pages(
    bytes: &[u8],
    limits: &ConversionLimits,
) -> Result<Vec<FaxPage>, DocumentError> {
    let pages = parse(bytes)?;
    pages
        .iter()
        .map(|p| {
            let bitmap = decode_bilevel(bytes, p, limits)?;
            let (x, y) = p.dpi_or_guess();
            Ok(FaxPage {
                bitmap,
                x_dpi: x as f32,
                y_dpi: y as f32,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits() {
        assert_eq!(
            unpack_bits(&[2, 1, 2, 3, 0xFE, 9], 10),
            vec![1, 2, 3, 9, 9, 9]
        );
        assert_eq!(unpack_bits(&[0xFE, 9], 2), vec![9, 9]);
        assert_eq!(unpack_bits(&[5, 1], 10), Vec::<u8>::new());
    }

    #[test]
    fn garbage_is_bad_tiff() {
        assert!(matches!(
            parse(b"II*\0\xff\xff\xff\x7f"),
            Err(DocumentError::BadTiff(_))
        ));
        assert!(matches!(
            parse(b"II*\0\x08\0\0\0"),
            Err(DocumentError::BadTiff(_))
        ));
        assert!(matches!(parse(b"XX"), Err(DocumentError::BadTiff(_))));
    }
}
