//! Document conversion: uploads (PDF, TIFF, PNG, JPEG, PNM) to fax pages, and received fax
//! pages to PDF.
//!
//! Outgoing documents become **TIFF-F** (RFC 3949 profile F): bilevel pages 1728 pixels wide
//! at 204 × 196 (fine) or 204 × 98 (standard) dpi, compressed with ITU-T **T.6** (G4), one
//! strip per page, FillOrder 1, Photometric min-is-white. Received documents are ITU-T **T.4**
//! (G3, 1D or 2D) or T.6 TIFF pages from SpanDSP; [`read_tiff_pages`] decodes them without
//! SpanDSP (CCITT coding via the `fax` crate) and [`fax_tiff_to_pdf`] archives them as PDF.
//!
//! PDF is rendered by Ghostscript in a sandboxed subprocess; everything else is decoded
//! in-process. Inputs are identified by their magic bytes only, sizes and page counts are
//! limited by [`ConversionLimits`], and malformed input gives a [`DocumentError`], never a panic.
//! Page placement rules (fit to paper, rotation, 1728-pixel inputs kept as is) are described
//! in the `layout` module and on [`to_fax_tiff`].

mod bitmap;
mod ccitt;
mod dither;
mod error;
pub mod header;
mod image_in;
mod layout;
mod pdf_in;
mod pdf_out;
mod tiff_read;
mod tiff_write;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use bitmap::Bitmap;
pub use error::DocumentError;

use layout::{Raster, SourcePage, Target};
use tiff_write::EncodedPage;

/// Fax page width in pixels (A4/Letter scan line, T.4 §2.2).
pub const FAX_WIDTH: u32 = 1728;
/// Horizontal fax resolution in dots per inch (8 dots/mm).
pub const FAX_X_DPI: u32 = 204;

/// Vertical/horizontal fax resolution.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Resolution {
    /// 204 × 98 dpi (3.85 lines/mm).
    Standard,
    /// 204 × 196 dpi (7.7 lines/mm).
    #[default]
    Fine,
    /// 204 × 391 dpi (15.4 lines/mm).
    Superfine,
    /// 200 × 200 dpi.
    Dpi200,
    /// 300 × 300 dpi.
    Dpi300,
    /// 400 × 400 dpi.
    Dpi400,
    /// Anything else.
    Other {
        /// Horizontal resolution in dots per inch.
        x_dpi: f32,
        /// Vertical resolution in dots per inch.
        y_dpi: f32,
    },
}

impl Resolution {
    /// (horizontal, vertical) dots per inch.
    pub fn dpi(self) -> (f32, f32) {
        match self {
            Resolution::Standard => (204.0, 98.0),
            Resolution::Fine => (204.0, 196.0),
            Resolution::Superfine => (204.0, 391.0),
            Resolution::Dpi200 => (200.0, 200.0),
            Resolution::Dpi300 => (300.0, 300.0),
            Resolution::Dpi400 => (400.0, 400.0),
            Resolution::Other { x_dpi, y_dpi } => (x_dpi, y_dpi),
        }
    }

    /// The named resolution within 1 % of (x, y), else `Other`.
    pub fn from_dpi(x_dpi: f32, y_dpi: f32) -> Resolution {
        let named = [
            Resolution::Standard,
            Resolution::Fine,
            Resolution::Superfine,
            Resolution::Dpi200,
            Resolution::Dpi300,
            Resolution::Dpi400,
        ];
        let near = |a: f32, b: f32| (a - b).abs() <= b * 0.01;
        named
            .into_iter()
            .find(|r| {
                let (x, y) = r.dpi();
                near(x_dpi, x) && near(y_dpi, y)
            })
            .unwrap_or(Resolution::Other { x_dpi, y_dpi })
    }
}

/// One decoded page and its resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct FaxPage {
    /// The pixels.
    pub bitmap: Bitmap,
    /// Horizontal resolution in dots per inch.
    pub x_dpi: f32,
    /// Vertical resolution in lines per inch.
    pub y_dpi: f32,
}

impl FaxPage {
    /// The page's resolution, classified.
    pub fn resolution(&self) -> Resolution {
        Resolution::from_dpi(self.x_dpi, self.y_dpi)
    }
}

/// Bounds on the work one conversion may do.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversionLimits {
    /// Largest accepted input, in bytes (checked before any parsing).
    pub max_bytes: u64,
    /// Most pages in one document.
    pub max_pages: u32,
    /// Wall-clock limit for the whole conversion; Ghostscript is killed when it is reached.
    pub timeout: Duration,
    /// Largest accepted image width or height, in pixels.
    pub max_dimension: u32,
    /// Largest accepted width × height of one image, in pixels.
    pub max_pixels: u64,
}

impl Default for ConversionLimits {
    fn default() -> Self {
        ConversionLimits {
            max_bytes: 50 * 1024 * 1024,
            max_pages: 200,
            timeout: Duration::from_secs(120),
            max_dimension: 30_000,
            // A 600 dpi A4 colour scan is 35 M pixels. Conversion holds about three bytes per
            // pixel at its peak (grey copy, rotation, resampling), so this bounds it near 300 MB.
            max_pixels: 100_000_000,
        }
    }
}

/// Target page geometry for rendered input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PaperSize {
    /// US Letter, 8.5 × 11 in: 2156 lines fine, 1078 standard.
    #[default]
    Letter,
    /// ISO A4, 210 × 297 mm: 2292 lines fine, 1146 standard.
    A4,
}

/// How to convert a document for sending.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvertOptions {
    /// Output resolution: only [`Resolution::Fine`] or [`Resolution::Standard`].
    pub resolution: Resolution,
    /// Paper the pages are fitted to.
    pub paper: PaperSize,
    /// Size, page and time limits.
    pub limits: ConversionLimits,
    /// The Ghostscript executable (looked up on `PATH` when not absolute).
    pub ghostscript: PathBuf,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            resolution: Resolution::Fine,
            paper: PaperSize::Letter,
            limits: ConversionLimits::default(),
            ghostscript: PathBuf::from("gs"),
        }
    }
}

/// A supported input format, as identified by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// Portable Document Format.
    Pdf,
    /// Tagged Image File Format (classic, not BigTIFF).
    Tiff,
    /// Portable Network Graphics.
    Png,
    /// JPEG / JFIF / EXIF.
    Jpeg,
    /// Netpbm: PBM, PGM, PPM (P1–P6) and PAM (P7).
    Pnm,
}

/// Identifies the format from the first bytes, never from a file name.
pub fn sniff_format(bytes: &[u8]) -> Result<InputFormat, DocumentError> {
    if bytes.starts_with(b"%PDF-") {
        return Ok(InputFormat::Pdf);
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Ok(InputFormat::Tiff);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(InputFormat::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(InputFormat::Jpeg);
    }
    if let [b'P', b'1'..=b'7', sep, ..] = bytes {
        if sep.is_ascii_whitespace() {
            return Ok(InputFormat::Pnm);
        }
    }
    // Some producers put junk before the PDF header; PDF readers accept it.
    if pdf_in::has_pdf_magic(bytes) {
        return Ok(InputFormat::Pdf);
    }
    let what = if bytes.is_empty() {
        "the file is empty"
    } else if bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+") {
        "BigTIFF is not supported; save as a classic TIFF"
    } else if bytes.starts_with(b"GIF8") {
        "GIF images are not supported; convert to PNG"
    } else if bytes.starts_with(b"BM") {
        "BMP images are not supported; convert to PNG"
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        "WebP images are not supported; convert to PNG or JPEG"
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        "office documents are not supported; export or print to PDF"
    } else {
        "unrecognised file format"
    };
    Err(DocumentError::NotSupported(format!(
        "{what}; send PDF, TIFF, PNG, JPEG or PNM"
    )))
}

/// A fax document ready for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaxDocument {
    /// The TIFF-F file.
    pub tiff: Vec<u8>,
    /// Number of pages.
    pub pages: u32,
    /// The input was already a sendable fax TIFF and is returned byte for byte.
    pub passed_through: bool,
}

/// The output geometry the options ask for.
fn target(options: &ConvertOptions) -> Result<Target, DocumentError> {
    let y_dpi = match options.resolution {
        Resolution::Fine => 196.0,
        Resolution::Standard => 98.0,
        other => {
            return Err(DocumentError::NotSupported(format!(
                "output resolution {other:?}; documents are sent at Fine or Standard resolution"
            )))
        }
    };
    Ok(Target {
        y_dpi,
        paper: options.paper,
    })
}

/// Collects output pages as they are produced, encoding each at once so that long documents
/// never hold all bitmaps in memory.
struct PageSink<'a> {
    pages: Vec<EncodedPage>,
    target: Target,
    limits: &'a ConversionLimits,
    deadline: Instant,
}

impl PageSink<'_> {
    fn push(&mut self, bitmap: Bitmap) -> Result<(), DocumentError> {
        if self.pages.len() >= self.limits.max_pages as usize {
            return Err(DocumentError::TooManyPages {
                pages: u32::try_from(self.pages.len() + 1).unwrap_or(u32::MAX),
                limit: self.limits.max_pages,
            });
        }
        self.pages.push(EncodedPage::encode(
            &bitmap,
            FAX_X_DPI as f32,
            self.target.y_dpi as f32,
        ));
        self.check_time()
    }

    fn check_time(&self) -> Result<(), DocumentError> {
        if Instant::now() > self.deadline {
            return Err(DocumentError::Timeout(self.limits.timeout));
        }
        Ok(())
    }

    fn finish(self) -> Result<FaxDocument, DocumentError> {
        let pages = u32::try_from(self.pages.len()).unwrap_or(u32::MAX);
        Ok(FaxDocument {
            tiff: tiff_write::assemble(&self.pages)?,
            pages,
            passed_through: false,
        })
    }
}

/// Any supported input -> fax TIFF-F bytes (multi-page, CCITT G4, 1728 px wide, 204x196 or 204x98, FillOrder 1, one strip per page).
///
/// * PDF: rendered by Ghostscript, fitted to the paper (landscape pages turned), dithered.
/// * TIFF: passed through byte for byte when [`check_fax_tiff`] accepts it (whatever the
///   requested resolution: it is already sendable); otherwise every page is decoded and laid
///   out like an image, using its stated resolution.
/// * PNG, JPEG, PNM: one page, fitted to the paper; an image exactly 1728 pixels wide is taken
///   as fax geometry (204 × 196 dpi) and kept pixel for pixel.
///
/// Pages are placed at the top of the paper and centred horizontally.
pub fn to_fax_tiff(input: &[u8], options: &ConvertOptions) -> Result<FaxDocument, DocumentError> {
    check_size(input.len(), &options.limits)?;
    let target = target(options)?;
    if sniff_format(input)? == InputFormat::Tiff {
        let pages = tiff_read::parse(input)?;
        if let Some(reason) = pages.iter().find_map(not_fax_reason) {
            tracing::debug!(%reason, "TIFF is re-rendered rather than passed through");
        } else {
            let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
            if count > options.limits.max_pages {
                return Err(DocumentError::TooManyPages {
                    pages: count,
                    limit: options.limits.max_pages,
                });
            }
            for p in &pages {
                tiff_read::decode_bilevel(input, p, &options.limits)?;
            }
            return Ok(FaxDocument {
                tiff: input.to_vec(),
                pages: count,
                passed_through: true,
            });
        }
    }
    let mut sink = PageSink {
        pages: Vec::new(),
        target,
        limits: &options.limits,
        deadline: Instant::now() + options.limits.timeout,
    };
    add_pages(input, options, &mut sink)?;
    sink.finish()
}

/// Several single-page (or multi-page) inputs -> one multi-page fax document, in order.
///
/// Nothing is passed through: every input is decoded and re-encoded, so the pages share one
/// resolution.
pub fn images_to_fax_tiff(
    inputs: &[&[u8]],
    options: &ConvertOptions,
) -> Result<FaxDocument, DocumentError> {
    let total: usize = inputs.iter().map(|i| i.len()).sum();
    check_size(total, &options.limits)?;
    let target = target(options)?;
    if inputs.is_empty() {
        return Err(DocumentError::ZeroPages);
    }
    // Every input gives at least one page, so this many inputs cannot fit.
    if inputs.len() > options.limits.max_pages as usize {
        return Err(DocumentError::TooManyPages {
            pages: u32::try_from(inputs.len()).unwrap_or(u32::MAX),
            limit: options.limits.max_pages,
        });
    }
    let mut sink = PageSink {
        pages: Vec::new(),
        target,
        limits: &options.limits,
        deadline: Instant::now() + options.limits.timeout,
    };
    for input in inputs {
        add_pages(input, options, &mut sink)?;
    }
    sink.finish()
}

/// PDF bytes -> fax TIFF-F; [`DocumentError::NotAPdf`] when the input is not a PDF.
pub fn pdf_to_fax_tiff(
    input: &[u8],
    options: &ConvertOptions,
) -> Result<FaxDocument, DocumentError> {
    check_size(input.len(), &options.limits)?;
    if !pdf_in::has_pdf_magic(input) {
        return Err(DocumentError::NotAPdf);
    }
    to_fax_tiff(input, options)
}

fn check_size(len: usize, limits: &ConversionLimits) -> Result<(), DocumentError> {
    let bytes = len as u64;
    if bytes > limits.max_bytes {
        return Err(DocumentError::TooLarge {
            bytes,
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

/// Decodes `input` and lays every page out into `sink`.
fn add_pages(
    input: &[u8],
    options: &ConvertOptions,
    sink: &mut PageSink<'_>,
) -> Result<(), DocumentError> {
    let limits = &options.limits;
    let target = sink.target;
    match sniff_format(input)? {
        InputFormat::Pdf => {
            let deadline = sink.deadline;
            let n = pdf_in::render_pdf(input, options, &target, deadline, |page| sink.push(page))?;
            if n == 0 {
                return Err(DocumentError::ZeroPages);
            }
        }
        InputFormat::Tiff => {
            let pages = tiff_read::parse(input)?;
            let room = (limits.max_pages as usize).saturating_sub(sink.pages.len());
            if pages.len() > room {
                return Err(DocumentError::TooManyPages {
                    pages: u32::try_from(pages.len() + sink.pages.len()).unwrap_or(u32::MAX),
                    limit: limits.max_pages,
                });
            }
            for p in &pages {
                let raster = if tiff_read::own_decoder_handles(p) {
                    Raster::Bilevel(tiff_read::decode_bilevel(input, p, limits)?)
                } else {
                    Raster::Grey(image_in::decode_tiff_page(input, p, limits)?)
                };
                let dpi = p.dpi().or_else(|| {
                    // Fax-width pages without a stated resolution are fax pages.
                    (p.width == FAX_WIDTH).then_some((f64::from(FAX_X_DPI), 196.0))
                });
                sink.check_time()?;
                sink.push(layout::render(SourcePage { raster, dpi }, &target))?;
            }
        }
        format @ (InputFormat::Png | InputFormat::Jpeg | InputFormat::Pnm) => {
            let grey = image_in::decode_image(input, format, limits)?;
            sink.check_time()?;
            let raster = Raster::Grey(grey);
            sink.push(layout::render(SourcePage { raster, dpi: None }, &target))?;
        }
    }
    Ok(())
}

/// Decode every page of a TIFF (G3 1D, G3 2D, G4, uncompressed, FillOrder 1 or 2, any number of strips) into bitmaps.
///
/// This is also the independent decoder tests use to compare pages received through SpanDSP,
/// so it does not use SpanDSP: CCITT decoding is the `fax` crate's. Missing resolution tags
/// read as 204 × 196 dpi for fax widths, 200 × 200 otherwise. Min-is-black pages are
/// inverted so that bit 1 is always black.
pub fn read_tiff_pages(bytes: &[u8]) -> Result<Vec<FaxPage>, DocumentError> {
    tiff_read::read_pages(bytes, &ConversionLimits::default())
}

/// Encode pages as TIFF-F (G4).
///
/// Pages are written with the geometry they have; nothing is resampled.
pub fn write_fax_tiff(pages: &[FaxPage]) -> Result<Vec<u8>, DocumentError> {
    for (i, p) in pages.iter().enumerate() {
        let b = &p.bitmap;
        if b.width == 0 || b.height == 0 || b.data.len() != b.stride() * b.height as usize {
            return Err(DocumentError::CorruptImage(format!(
                "page {} is {}x{} with {} bytes of pixels; a page needs at least one pixel and \
                 exactly stride x height bytes",
                i + 1,
                b.width,
                b.height,
                b.data.len()
            )));
        }
    }
    let encoded: Vec<EncodedPage> = pages
        .iter()
        .map(|p| EncodedPage::encode(&p.bitmap, p.x_dpi, p.y_dpi))
        .collect();
    tiff_write::assemble(&encoded)
}

/// Is this TIFF already sendable as is (all pages 1728 wide, x 204 dpi (±1%), y 98/196/391 lpi (±1%), CCITT G3 or G4, bilevel)? Returns the reason when not.
///
/// Every page is also decoded, so a file that passes is known to be sound.
pub fn check_fax_tiff(bytes: &[u8]) -> Result<u32, DocumentError> {
    let limits = ConversionLimits::default();
    let pages = tiff_read::parse(bytes)?;
    for p in &pages {
        if let Some(reason) = not_fax_reason(p) {
            return Err(DocumentError::NotFaxTiff(reason));
        }
    }
    for p in &pages {
        tiff_read::decode_bilevel(bytes, p, &limits)?;
    }
    u32::try_from(pages.len()).map_err(|_| DocumentError::NotFaxTiff("too many pages".into()))
}

/// Why a TIFF page cannot be sent as it is, judged from its tags.
fn not_fax_reason(p: &tiff_read::PageInfo) -> Option<String> {
    let n = p.index + 1;
    let near = |a: f64, b: f64| (a - b).abs() <= b * 0.01;
    if !p.is_bilevel() {
        return Some(format!(
            "page {n} is not bilevel ({} bits per sample, {} samples per pixel)",
            p.bits_per_sample, p.samples_per_pixel
        ));
    }
    if p.width != FAX_WIDTH {
        return Some(format!(
            "page {n} is {} pixels wide, not {FAX_WIDTH}",
            p.width
        ));
    }
    if !matches!(
        p.compression,
        tiff_read::COMPRESSION_G3 | tiff_read::COMPRESSION_G4
    ) {
        return Some(format!(
            "page {n} uses compression {}, not CCITT G3 or G4",
            p.compression
        ));
    }
    if p.compression == tiff_read::COMPRESSION_G3 && p.t4_options & 2 != 0 {
        return Some(format!("page {n} uses T.4 uncompressed mode"));
    }
    if p.photometric != Some(0) {
        return Some(match p.photometric {
            None => format!("page {n} has no PhotometricInterpretation tag"),
            Some(v) => format!("page {n} has PhotometricInterpretation {v}, not 0 (min-is-white)"),
        });
    }
    if p.tiled {
        return Some(format!("page {n} is tiled"));
    }
    match p.dpi() {
        None => Some(format!(
            "page {n} states no resolution in inches or centimetres"
        )),
        Some((x, y)) if !near(x, 204.0) || ![98.0, 196.0, 391.0].iter().any(|&f| near(y, f)) => {
            Some(format!(
                "page {n} is {x:.0}x{y:.0} dpi, not 204x98, 204x196 or 204x391"
            ))
        }
        Some(_) => None,
    }
}

/// A received TIFF-F -> PDF whose pages embed the CCITT data unchanged.
///
/// Single-strip G4 pages go in as `/CCITTFaxDecode /K -1`, single-strip G3 pages as `/K 0`
/// (1D) or `/K 4` (2D) with `/EndOfLine true` (FillOrder 2 data bit-reversed); other pages are
/// re-encoded as G4. Each page's MediaBox is its physical size: width/x-dpi × height/y-dpi
/// inches, so any resolution and page length comes out at its true size.
pub fn fax_tiff_to_pdf(bytes: &[u8]) -> Result<Vec<u8>, DocumentError> {
    pdf_out::tiff_to_pdf(bytes, &ConversionLimits::default())
}
