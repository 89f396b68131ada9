//! Received fax TIFF → PDF, embedding the CCITT data of each page unchanged where possible.
//!
//! A PDF `/CCITTFaxDecode` image takes exactly what a single-strip G3 or G4 TIFF page holds,
//! so the fax is archived without loss or re-encoding. FillOrder 2 data is bit-reversed (PDF
//! is MSB-first); pages split into several strips, or stored uncompressed, are re-encoded as
//! G4 because strips are coded independently and cannot simply be concatenated.

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref};

use super::ccitt;
use super::tiff_read::{self, PageInfo, COMPRESSION_G3, COMPRESSION_G4};
use super::{ConversionLimits, DocumentError};

/// How one page's image data goes into the PDF.
struct PageImage {
    data: Vec<u8>,
    /// CCITT K: -1 = G4, 0 = G3 1D, > 0 = G3 2D.
    k: i32,
    end_of_line: bool,
    /// Stored min-is-black: codec "white" is displayed black.
    inverted: bool,
}

fn page_image(
    bytes: &[u8],
    p: &PageInfo,
    limits: &ConversionLimits,
) -> Result<PageImage, DocumentError> {
    // Decoding also proves the data is sound before it is archived as is.
    let bitmap = tiff_read::decode_bilevel(bytes, p, limits)?;
    let single = p.strips.len() == 1;
    let raw = || -> Vec<u8> {
        let (offset, len) = p.strips.first().copied().unwrap_or((0, 0));
        let data = bytes.get(offset..offset + len).unwrap_or(&[]);
        if p.fill_order == 2 {
            data.iter().map(|b| b.reverse_bits()).collect()
        } else {
            data.to_vec()
        }
    };
    let inverted = p.photometric == Some(1);
    Ok(match p.compression {
        COMPRESSION_G4 if single => PageImage {
            data: raw(),
            k: -1,
            end_of_line: false,
            inverted,
        },
        COMPRESSION_G3 if single => PageImage {
            data: raw(),
            // Any K > 0 means "read the 1D/2D tag bit after each EOL"; the value is not a limit
            // readers enforce, and the TIFF does not record the encoder's K.
            k: if p.t4_options & 1 != 0 { 4 } else { 0 },
            end_of_line: true,
            // No `/EncodedByteAlign` even with TIFF fill bits (T4Options bit 2): they make
            // each EOL *end* on a byte boundary, while that flag lets readers skip to a byte
            // boundary right after a line's data; pdf.js does so unconditionally and would
            // eat the first zeros of such an EOL. With `/EndOfLine true` every reader skips
            // fill zeros while looking for the EOL (Ghostscript and poppler verified both ways).
            inverted,
        },
        _ => PageImage {
            // `bitmap` is already normalised to 1 = black.
            data: ccitt::encode_g4(&bitmap),
            k: -1,
            end_of_line: false,
            inverted: false,
        },
    })
}

/// Page length in points as an f32 whose printed form, times dpi/72, is at most `pixels`:
/// renderers at the page's own resolution then produce exactly `pixels` pixels whether they
/// round or take the ceiling (a value a hair too large gives an extra row or column).
fn points(pixels: u32, dpi: f64) -> f32 {
    let exact = f64::from(pixels) * 72.0 / dpi;
    let mut v = exact as f32;
    for _ in 0..16 {
        // pdf-writer prints the shortest decimal that reads back as this f32, as `Display` does.
        let printed: f64 = v.to_string().parse().unwrap_or(exact);
        if printed * dpi / 72.0 <= f64::from(pixels) || v <= 0.0 {
            break;
        }
        v = f32::from_bits(v.to_bits() - 1);
    }
    v
}

/// Builds the PDF.
pub(crate) fn tiff_to_pdf(
    bytes: &[u8],
    limits: &ConversionLimits,
) -> Result<Vec<u8>, DocumentError> {
    let pages = tiff_read::parse(bytes)?;
    if pages.len() > limits.max_pages as usize {
        return Err(DocumentError::TooManyPages {
            pages: u32::try_from(pages.len()).unwrap_or(u32::MAX),
            limit: limits.max_pages,
        });
    }
    for p in &pages {
        if !p.is_bilevel() {
            return Err(DocumentError::NotFaxTiff(format!(
                "page {} is not bilevel ({} bits per sample, {} samples per pixel)",
                p.index + 1,
                p.bits_per_sample,
                p.samples_per_pixel
            )));
        }
    }
    let mut pdf = Pdf::new();
    let catalog_id = Ref::new(1);
    let pages_id = Ref::new(2);
    let mut next = 3;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let mut kids = Vec::with_capacity(pages.len());
    for p in &pages {
        let image = page_image(bytes, p, limits)?;
        let (x_dpi, y_dpi) = p.dpi_or_guess();
        let w_pt = points(p.width, x_dpi);
        let h_pt = points(p.height, y_dpi);
        let (page_id, content_id, image_id) = (alloc(), alloc(), alloc());
        kids.push(page_id);
        let image_name = Name(b"Im0");

        let mut xobject = pdf.image_xobject(image_id, &image.data);
        xobject.filter(Filter::CcittFaxDecode);
        xobject.width(p.width as i32);
        xobject.height(p.height as i32);
        xobject.color_space().device_gray();
        xobject.bits_per_component(1);
        if image.inverted {
            xobject.decode([1.0, 0.0]);
        }
        let mut parms = xobject.decode_parms();
        parms.k(image.k);
        parms.columns(p.width as i32);
        parms.rows(p.height as i32);
        if image.end_of_line {
            parms.end_of_line(true);
        }
        parms.finish();
        xobject.finish();

        let mut content = Content::new();
        content.save_state();
        content.transform([w_pt, 0.0, 0.0, h_pt, 0.0, 0.0]);
        content.x_object(image_name);
        content.restore_state();
        pdf.stream(content_id, &content.finish());

        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, w_pt, h_pt));
        page.parent(pages_id);
        page.contents(content_id);
        page.resources().x_objects().pair(image_name, image_id);
        page.finish();
    }
    let count = kids.len() as i32;
    pdf.pages(pages_id).kids(kids).count(count);
    pdf.catalog(catalog_id).pages(pages_id);
    Ok(pdf.finish())
}
