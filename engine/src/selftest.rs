//! `faxserver selftest`: a test chart sent through every fax mode back to back, in process.
//!
//! The chart is a PDF made here (text, rules, a grey box, a fine grid), converted by the same
//! document pipeline uploads go through, then sent over G.711 (A-law and µ-law, ECM on and off,
//! each modem), T.38 (versions 0 and 3), and through the T.38 gateway in both directions. Each
//! mode checks the completion code, the page count and every received pixel.

use std::path::Path;
use std::time::{Duration, Instant};

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use spandsp::g711::Law;
use spandsp::{Modems, T38Config};

use crate::documents::{
    fax_tiff_to_pdf, read_tiff_pages, to_fax_tiff, ConvertOptions, DocumentError,
};
use crate::loopback::{run, LoopbackSpec, Media};

/// One mode of the self-test.
#[derive(Debug, Clone, Copy)]
pub struct SelftestMode {
    /// The sending side's media.
    pub sender: Media,
    /// The receiving side's media.
    pub receiver: Media,
    /// ECM on both sides.
    pub ecm: bool,
    /// Highest bit rate offered (14400 V.17, 9600 V.29, 4800 V.27ter).
    pub max_rate: u32,
    /// T.38 version on the T.38 parts of the path.
    pub t38_version: u8,
}

impl SelftestMode {
    /// A label such as "G.711 A-law -> T.38 v0 (gateway)".
    pub fn label(&self) -> String {
        let side = |m: Media| match m {
            Media::T38 => format!("T.38 v{}", self.t38_version),
            audio => audio.label().to_owned(),
        };
        let via = match (self.sender, self.receiver) {
            (Media::T38, Media::Audio(_)) | (Media::Audio(_), Media::T38) => " via gateway",
            _ => "",
        };
        format!("{} -> {}{via}", side(self.sender), side(self.receiver))
    }
}

/// Every mode the self-test runs.
pub fn all_modes() -> Vec<SelftestMode> {
    let a = Media::Audio(Law::Alaw);
    let u = Media::Audio(Law::Ulaw);
    let t = Media::T38;
    let mode = |sender, receiver, ecm, max_rate, t38_version| SelftestMode {
        sender,
        receiver,
        ecm,
        max_rate,
        t38_version,
    };
    vec![
        mode(a, a, true, 14400, 0),
        mode(u, u, false, 14400, 0),
        mode(a, a, false, 9600, 0),
        mode(u, u, true, 4800, 0),
        mode(t, t, true, 14400, 0),
        mode(t, t, false, 14400, 3),
        mode(a, t, true, 14400, 0),
        mode(t, u, false, 9600, 3),
    ]
}

/// The outcome of one mode.
#[derive(Debug, Clone)]
pub struct SelftestLine {
    /// The mode's label.
    pub mode: String,
    /// Pages received.
    pub pages: u32,
    /// Pages sent.
    pub pages_total: u32,
    /// Line bit rate.
    pub bit_rate: u32,
    /// ECM used.
    pub ecm: bool,
    /// Simulated call time.
    pub call_seconds: f64,
    /// Wall-clock time taken.
    pub wall: Duration,
    /// `None` when every check passed, else what failed.
    pub failure: Option<String>,
}

impl std::fmt::Display for SelftestLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<36} pages {}/{}  {:>5} bit/s  ECM {:<3}  call {:>6.1} s  in {:>5.2} s  {}",
            self.mode,
            self.pages,
            self.pages_total,
            self.bit_rate,
            if self.ecm { "on" } else { "off" },
            self.call_seconds,
            self.wall.as_secs_f64(),
            match &self.failure {
                None => "OK".to_owned(),
                Some(why) => format!("FAILED: {why}"),
            }
        )
    }
}

/// Why the self-test could not start.
#[derive(Debug, thiserror::Error)]
pub enum SelftestError {
    /// The test chart or the given document could not be converted.
    #[error("cannot prepare the test document: {0}")]
    Document(#[from] DocumentError),
    /// A file could not be written or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Converts `document` (or the built-in chart) to fax TIFF-F in `dir`; returns its path.
pub fn prepare_document(
    dir: &Path,
    document: Option<&[u8]>,
) -> Result<std::path::PathBuf, SelftestError> {
    let pdf;
    let input = match document {
        Some(bytes) => bytes,
        None => {
            pdf = test_chart_pdf();
            &pdf
        }
    };
    let fax = to_fax_tiff(input, &ConvertOptions::default())?;
    let path = dir.join("selftest-send.tif");
    std::fs::write(&path, &fax.tiff)?;
    Ok(path)
}

/// Runs one mode with the document at `send` and checks every page's pixels; with `keep`,
/// the received document is also written there as a PDF (named after the mode).
pub fn run_mode(dir: &Path, send: &Path, mode: &SelftestMode, keep: Option<&Path>) -> SelftestLine {
    let started = Instant::now();
    let receive = dir.join("selftest-received.tif");
    let mut spec = LoopbackSpec::new(mode.sender, mode.receiver, send.to_owned(), receive.clone());
    spec.sender_t30.ecm = mode.ecm;
    spec.receiver_t30.ecm = mode.ecm;
    spec.sender_t30.modems = Modems::up_to(mode.max_rate);
    spec.t38 = T38Config {
        version: mode.t38_version,
        ..T38Config::default()
    };
    let mut line = SelftestLine {
        mode: mode.label(),
        pages: 0,
        pages_total: 0,
        bit_rate: 0,
        ecm: false,
        call_seconds: 0.0,
        wall: Duration::ZERO,
        failure: None,
    };
    match run(&spec) {
        Err(err) => line.failure = Some(err.to_string()),
        Ok(outcome) => {
            line.pages = outcome.receiver.stats.pages_transferred;
            line.pages_total = outcome.sender.stats.pages_total;
            line.bit_rate = outcome.receiver.stats.bit_rate;
            line.ecm = outcome.receiver.stats.ecm;
            line.call_seconds = outcome.simulated_seconds;
            line.failure = if !outcome.sender.is_ok() {
                Some(format!("sender: {}", outcome.sender.code))
            } else if !outcome.receiver.is_ok() {
                Some(format!("receiver: {}", outcome.receiver.code))
            } else {
                compare_pages(send, &receive).err()
            };
            if let (Some(keep), None) = (keep, &line.failure) {
                line.failure = keep_as_pdf(&receive, keep, mode).err();
            }
        }
    }
    line.wall = started.elapsed();
    let _ = std::fs::remove_file(&receive);
    line
}

/// Writes the received TIFF-F as a PDF into `keep`, named after the mode, rate and ECM.
fn keep_as_pdf(received: &Path, keep: &Path, mode: &SelftestMode) -> Result<(), String> {
    let label = format!(
        "{} {} ecm {}",
        mode.label().replace('µ', "u"),
        mode.max_rate,
        if mode.ecm { "on" } else { "off" }
    );
    let mut name = String::new();
    for c in label.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '.' {
            c
        } else {
            '-'
        };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    let tiff = std::fs::read(received).map_err(|e| e.to_string())?;
    let pdf = fax_tiff_to_pdf(&tiff).map_err(|e| format!("received TIFF to PDF: {e}"))?;
    let path = keep.join(format!("received-{name}.pdf"));
    std::fs::write(&path, pdf).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks that `received` holds exactly the pages and pixels of `sent`.
fn compare_pages(sent: &Path, received: &Path) -> Result<(), String> {
    let read = |p: &Path| -> Result<_, String> {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        read_tiff_pages(&bytes).map_err(|e| format!("{}: {e}", p.display()))
    };
    let (sent, received) = (read(sent)?, read(received)?);
    if sent.len() != received.len() {
        return Err(format!(
            "{} pages sent, {} received",
            sent.len(),
            received.len()
        ));
    }
    for (i, (s, r)) in sent.iter().zip(&received).enumerate() {
        if s.bitmap.width != r.bitmap.width || s.bitmap.height != r.bitmap.height {
            return Err(format!("page {} changed size", i + 1));
        }
        if s.bitmap.data != r.bitmap.data {
            return Err(format!("page {} pixels differ", i + 1));
        }
    }
    Ok(())
}

/// A two-page Letter PDF: text, rules, a 50 % grey box and a fine grid.
pub fn test_chart_pdf() -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let pages = [(Ref::new(10), Ref::new(11)), (Ref::new(20), Ref::new(21))];
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(pages.iter().map(|p| p.0))
        .count(pages.len() as i32);
    pdf.type1_font(font).base_font(Name(b"Helvetica"));
    for (number, (page_id, content_id)) in pages.iter().enumerate() {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, 612.0, 792.0));
        page.parent(tree);
        page.contents(*content_id);
        page.resources().fonts().pair(Name(b"F1"), font);
        page.finish();

        let mut content = Content::new();
        content.begin_text();
        content.set_font(Name(b"F1"), 22.0);
        content.next_line(72.0, 700.0);
        content.show(Str(b"faxserver self-test chart"));
        content.set_font(Name(b"F1"), 11.0);
        for (i, text) in [
            "The quick brown fox jumps over the lazy dog. 0123456789",
            "Pack my box with five dozen liquor jugs. +1 (555) 010-0199",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz",
        ]
        .iter()
        .enumerate()
        {
            content.next_line(0.0, if i == 0 { -40.0 } else { -16.0 });
            content.show(Str(text.as_bytes()));
        }
        content.next_line(0.0, -16.0);
        let footer = format!("Page {} of {}", number + 1, pages.len());
        content.show(Str(footer.as_bytes()));
        content.end_text();
        content.set_line_width(2.0);
        content.rect(54.0, 54.0, 504.0, 684.0).stroke();
        content.set_fill_gray(0.5);
        content.rect(72.0, 420.0, 200.0, 120.0).fill_nonzero();
        content.set_fill_gray(0.0);
        content.set_line_width(0.5);
        for k in 0..20 {
            let offset = 300.0 + k as f32 * 6.0;
            content
                .move_to(offset, 420.0)
                .line_to(offset, 540.0)
                .stroke();
        }
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}
