//! Raster input: PNG, JPEG and PNM through `image`; grey and colour TIFF pages through `tiff`.

use std::io::Cursor;

use super::bitmap::Grey;
use super::tiff_read::{check_dimensions, PageInfo};
use super::{ConversionLimits, DocumentError, InputFormat};

fn image_error(e: image::ImageError, limits: &ConversionLimits) -> DocumentError {
    match e {
        image::ImageError::Limits(l) => DocumentError::CorruptImage(format!(
            "decoding would exceed the memory limit ({l}); at most {} pixels are accepted",
            limits.max_pixels
        )),
        other => DocumentError::CorruptImage(other.to_string()),
    }
}

fn too_large(width: u32, height: u32, limits: &ConversionLimits) -> DocumentError {
    DocumentError::ImageTooLarge {
        width: width.into(),
        height: height.into(),
        max_dimension: limits.max_dimension,
        max_pixels: limits.max_pixels,
    }
}

/// Decodes a PNG, JPEG or PNM image to grey, applying EXIF orientation and flattening
/// transparency onto white paper.
pub(crate) fn decode_image(
    bytes: &[u8],
    format: InputFormat,
    limits: &ConversionLimits,
) -> Result<Grey, DocumentError> {
    let format = match format {
        InputFormat::Png => image::ImageFormat::Png,
        InputFormat::Jpeg => image::ImageFormat::Jpeg,
        InputFormat::Pnm => image::ImageFormat::Pnm,
        other => {
            return Err(DocumentError::NotSupported(format!(
                "{other:?} is not a raster image format"
            )))
        }
    };
    let reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    // Reading the header allocates little; the size checks come before any pixel is decoded.
    let mut decoder = reader.into_decoder().map_err(|e| image_error(e, limits))?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    check_dimensions(w, h, limits)?;
    // 16-bit RGBA is 8 bytes a pixel: allow the decoded image 4 bytes a pixel of the pixel
    // budget, which every 8-bit image fits, and refuse deeper ones that would exceed it.
    let budget = limits.max_pixels.saturating_mul(4);
    if image::ImageDecoder::total_bytes(&decoder) > budget {
        return Err(too_large(w, h, limits));
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(budget.saturating_mul(2));
    image::ImageDecoder::set_limits(&mut decoder, image_limits)
        .map_err(|e| image_error(e, limits))?;
    let orientation = image::ImageDecoder::orientation(&mut decoder)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| image_error(e, limits))?;
    img.apply_orientation(orientation);
    let (w, h) = (img.width(), img.height());
    let data = if img.color().has_alpha() {
        let la = img.into_luma_alpha8();
        // Transparent areas are paper, so composite over white rather than drop alpha.
        la.pixels()
            .map(|p| {
                let [l, a] = p.0;
                let (l, a) = (u32::from(l), u32::from(a));
                ((l * a + 255 * (255 - a) + 127) / 255) as u8
            })
            .collect()
    } else {
        img.into_luma8().into_raw()
    };
    Ok(Grey {
        width: w,
        height: h,
        data,
    })
}

fn tiff_error(page: usize, e: tiff::TiffError) -> DocumentError {
    match e {
        tiff::TiffError::UnsupportedError(u) => {
            DocumentError::NotSupported(format!("TIFF page {page}: {u}"))
        }
        other => DocumentError::BadTiff(format!("page {page}: {other}")),
    }
}

/// Decodes one grey or colour TIFF page (any compression the `tiff` crate reads) to grey.
pub(crate) fn decode_tiff_page(
    bytes: &[u8],
    page: &PageInfo,
    limits: &ConversionLimits,
) -> Result<Grey, DocumentError> {
    let n = page.index + 1;
    check_dimensions(page.width, page.height, limits)?;
    let mut tiff_limits = tiff::decoder::Limits::default();
    tiff_limits.decoding_buffer_size =
        usize::try_from(limits.max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map_err(|e| tiff_error(n, e))?
        .with_limits(tiff_limits);
    dec.seek_to_image(page.index)
        .map_err(|e| tiff_error(n, e))?;
    let (w, h) = dec.dimensions().map_err(|e| tiff_error(n, e))?;
    check_dimensions(w, h, limits)?;
    let color = dec.colortype().map_err(|e| tiff_error(n, e))?;
    let image = dec.read_image().map_err(|e| tiff_error(n, e))?;
    let pixels = w as usize * h as usize;
    use tiff::decoder::DecodingResult as D;
    use tiff::ColorType as C;
    let samples: Vec<u8> = match image {
        D::U8(v) => v,
        // Only the high byte matters for a 1-bit fax.
        D::U16(v) => v.iter().map(|s| (s >> 8) as u8).collect(),
        _ => {
            return Err(DocumentError::NotSupported(format!(
                "TIFF page {n} uses {color:?} samples that are not 8 or 16-bit integers"
            )))
        }
    };
    let data: Vec<u8> = match color {
        C::Gray(8) | C::Gray(16) => samples,
        C::Gray(bits @ (1 | 2 | 4)) => unpack_grey(&samples, w, h, bits),
        C::GrayA(8) | C::GrayA(16) => samples
            .chunks_exact(2)
            .map(|p| over_white(p[0], p[1]))
            .collect(),
        C::RGB(8) | C::RGB(16) => samples
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        C::RGBA(8) | C::RGBA(16) => samples
            .chunks_exact(4)
            .map(|p| over_white(luma(p[0], p[1], p[2]), p[3]))
            .collect(),
        C::CMYK(8) | C::CMYK(16) => samples
            .chunks_exact(4)
            .map(|p| {
                let k = 255 - u32::from(p[3]);
                let ch = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
                luma(ch(p[0]), ch(p[1]), ch(p[2]))
            })
            .collect(),
        other => {
            return Err(DocumentError::NotSupported(format!(
                "TIFF page {n} has colour type {other:?}; save it as greyscale or RGB"
            )))
        }
    };
    if data.len() < pixels {
        return Err(DocumentError::BadTiff(format!(
            "page {n}: image data is short"
        )));
    }
    Ok(Grey {
        width: w,
        height: h,
        data,
    })
}

/// Rec. 601 luma in integers.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 299 + u32::from(g) * 587 + u32::from(b) * 114 + 500) / 1000) as u8
}

fn over_white(v: u8, alpha: u8) -> u8 {
    let (v, a) = (u32::from(v), u32::from(alpha));
    ((v * a + 255 * (255 - a) + 127) / 255) as u8
}

/// Expands packed 1, 2 or 4-bit grey rows (each row starts on a byte) to 8 bits.
fn unpack_grey(packed: &[u8], w: u32, h: u32, bits: u8) -> Vec<u8> {
    let bits = u32::from(bits);
    let stride = (w as usize * bits as usize).div_ceil(8);
    let max = (1u32 << bits) - 1;
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for row in packed.chunks(stride.max(1)).take(h as usize) {
        for x in 0..w as usize {
            let bit = x * bits as usize;
            let byte = row.get(bit / 8).copied().unwrap_or(0);
            let v = (u32::from(byte) >> (8 - bits as usize - bit % 8)) & max;
            out.push((v * 255 / max) as u8);
        }
    }
    out
}
