//! Errors of document conversion, worded for the person who submitted the document.

use std::time::Duration;

/// Why a document could not be converted; every message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The input is not one of the formats we accept, or uses a feature we do not handle.
    #[error("unsupported document: {0}")]
    NotSupported(String),
    /// A PDF was expected but the bytes do not start with `%PDF-`.
    #[error(
        "not a PDF: the file does not start with %PDF-; send a PDF, TIFF, PNG, JPEG or PNM file"
    )]
    NotAPdf,
    /// The PDF could not be read; the text is Ghostscript's explanation.
    #[error("the PDF is damaged or cannot be read: {0}")]
    CorruptPdf(String),
    /// The PDF is encrypted, so it cannot be rendered without a password.
    #[error("the PDF is encrypted or password-protected; remove the protection (print to a new PDF) and send it again")]
    Encrypted,
    /// The document has no pages to send.
    #[error("the document has no pages")]
    ZeroPages,
    /// The document has more pages than this server accepts.
    #[error("the document has {pages} pages, more than the limit of {limit}; split it into smaller documents")]
    TooManyPages {
        /// Pages found (or at least this many).
        pages: u32,
        /// The configured maximum.
        limit: u32,
    },
    /// The input file is larger than this server accepts.
    #[error("the file is {bytes} bytes, more than the limit of {limit} bytes; reduce its size or resolution")]
    TooLarge {
        /// Size of the input.
        bytes: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// An image has more pixels than this server is willing to decode.
    #[error("the image is {width}x{height} pixels, more than the limit ({max_dimension} pixels per side, {max_pixels} pixels in all); scale it down")]
    ImageTooLarge {
        /// Image width in pixels.
        width: u64,
        /// Image height in pixels.
        height: u64,
        /// Largest accepted width or height.
        max_dimension: u32,
        /// Largest accepted width × height.
        max_pixels: u64,
    },
    /// A PNG, JPEG or PNM image could not be decoded; the text is the decoder's message.
    #[error("the image is damaged or cannot be decoded: {0}")]
    CorruptImage(String),
    /// A TIFF file is damaged or malformed; the text says where.
    #[error("the TIFF file is damaged or malformed: {0}")]
    BadTiff(String),
    /// A TIFF file is valid but not a sendable fax TIFF (TIFF-F); the text gives the reason.
    #[error("not a fax TIFF: {0}")]
    NotFaxTiff(String),
    /// The external converter (Ghostscript) could not be run or misbehaved.
    #[error("document converter failed: {0}")]
    ConverterFailed(String),
    /// Conversion took longer than the configured limit and was stopped.
    #[error(
        "conversion took longer than the limit of {0:?} and was stopped; simplify the document"
    )]
    Timeout(Duration),
    /// Reading or writing a temporary file failed.
    #[error("I/O error during conversion: {0}")]
    Io(#[from] std::io::Error),
}
