//! PDF input through Ghostscript, run as a sandboxed subprocess.
//!
//! Ghostscript is AGPL and has a CVE history, so it is executed, never linked, and always with
//! `-dSAFER`, a clean environment, a private temporary directory, no shell and a wall-clock
//! limit after which it is killed. Two runs: one counts the pages (so the page limit is enforced
//! before any rendering), then pages are rendered in batches to 8-bit grey at fax geometry and
//! dithered by us (Ghostscript's own halftoning would lose our control over text edges).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use super::bitmap::Bitmap;
use super::dither::dither;
use super::layout::Target;
use super::{ConvertOptions, DocumentError, PaperSize, FAX_WIDTH, FAX_X_DPI};

/// Pages rendered per Ghostscript run: bounds the temporary disk use (4 MB a page) while
/// keeping the per-run start-up cost small.
const BATCH: u32 = 16;

/// `%PDF-` may follow a little junk; readers accept it within the first 1024 bytes.
pub(crate) fn has_pdf_magic(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(5).any(|w| w == b"%PDF-")
}

/// Does the file declare an encryption dictionary?
///
/// `/Encrypt` is looked for outside stream data, which is where trailers and cross-reference
/// stream dictionaries live; a match inside (possibly compressed) page content is ignored.
pub(crate) fn is_encrypted(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(rest) = bytes.get(i..) {
        let Some(&first) = rest.first() else { break };
        let stream_start = first == b's'
            && rest.starts_with(b"stream")
            && matches!(rest.get(6), Some(b'\r' | b'\n'))
            && !bytes[..i].ends_with(b"end");
        if stream_start {
            // Skip the data; a trailer cannot be inside a stream.
            match find(&rest[6..], b"endstream") {
                Some(end) => {
                    i += 6 + end + 9;
                    continue;
                }
                None => return false,
            }
        }
        if first == b'/' && rest.starts_with(b"/Encrypt") {
            let next = rest.get(8).copied().unwrap_or(b' ');
            if !next.is_ascii_alphanumeric() {
                return true;
            }
        }
        i += 1;
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Renders every page of a PDF to a fax bitmap, calling `page` for each in order.
pub(crate) fn render_pdf(
    input: &[u8],
    options: &ConvertOptions,
    target: &Target,
    deadline: Instant,
    mut page: impl FnMut(Bitmap) -> Result<(), DocumentError>,
) -> Result<u32, DocumentError> {
    if !has_pdf_magic(input) {
        return Err(DocumentError::NotAPdf);
    }
    if is_encrypted(input) {
        return Err(DocumentError::Encrypted);
    }
    let dir = tempfile::Builder::new().prefix("faxserver-pdf").tempdir()?;
    let pdf = dir.path().join("input.pdf");
    std::fs::write(&pdf, input)?;

    let count = count_pages(options, dir.path(), &pdf, deadline)?;
    if count > options.limits.max_pages {
        return Err(DocumentError::TooManyPages {
            pages: count,
            limit: options.limits.max_pages,
        });
    }

    let lines = target.lines();
    let mut first = 1;
    while first <= count {
        let last = (first + BATCH - 1).min(count);
        let out_dir = dir.path().join(format!("batch-{first}"));
        std::fs::create_dir(&out_dir)?;
        let pattern = out_dir.join("page-%05d.pgm");
        let paper = match options.paper {
            PaperSize::Letter => "letter",
            PaperSize::A4 => "a4",
        };
        let args: Vec<String> = vec![
            "-sDEVICE=pgmraw".into(),
            format!("-r{FAX_X_DPI}x{}", target.y_dpi.round()),
            format!("-g{FAX_WIDTH}x{lines}"),
            "-dFIXEDMEDIA".into(),
            // Scales every page to the paper and turns landscape pages to portrait.
            "-dPDFFitPage".into(),
            format!("-sPAPERSIZE={paper}"),
            // No anti-aliasing: text edges must stay pure black and white.
            "-dTextAlphaBits=1".into(),
            "-dGraphicsAlphaBits=1".into(),
            format!("-dFirstPage={first}"),
            format!("-dLastPage={last}"),
            format!("-sOutputFile={}", pattern.display()),
            "-f".into(),
            pdf.display().to_string(),
        ];
        let output = run_gs(options, dir.path(), &args, deadline)?;
        for n in 1..=(last - first + 1) {
            let file = out_dir.join(format!("page-{n:05}.pgm"));
            let bytes = std::fs::read(&file).map_err(|_| {
                DocumentError::CorruptPdf(format!(
                    "Ghostscript rendered no page {}: {}",
                    first + n - 1,
                    summarise(&output)
                ))
            })?;
            // Delete as we go so a long document never holds all pages on disk.
            let _ = std::fs::remove_file(&file);
            let grey = parse_pgm(&bytes, FAX_WIDTH, lines)?;
            page(dither(&grey))?;
            if Instant::now() > deadline {
                return Err(DocumentError::Timeout(options.limits.timeout));
            }
        }
        first = last + 1;
    }
    Ok(count)
}

/// Asks Ghostscript how many pages the PDF has.
fn count_pages(
    options: &ConvertOptions,
    dir: &Path,
    pdf: &Path,
    deadline: Instant,
) -> Result<u32, DocumentError> {
    let path = pdf.display().to_string();
    let ps_path: String = path
        .chars()
        .flat_map(|c| match c {
            '(' | ')' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let args = vec![
        "-dNODISPLAY".into(),
        format!("--permit-file-read={path}"),
        "-c".into(),
        format!("({ps_path}) (r) file runpdfbegin pdfpagecount = quit"),
    ];
    let output = run_gs(options, dir, &args, deadline)?;
    let count = output
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().parse::<u32>().ok());
    let lower = format!("{}\n{}", output.stdout, output.stderr).to_lowercase();
    match count {
        Some(n) if n > 0 => Ok(n),
        _ if lower.contains("password") => Err(DocumentError::Encrypted),
        Some(0) if !lower.contains("error") => Err(DocumentError::ZeroPages),
        _ => Err(DocumentError::CorruptPdf(summarise(&output))),
    }
}

struct GsOutput {
    stdout: String,
    stderr: String,
}

/// Runs `gs -q -dSAFER -dBATCH -dNOPAUSE -dQUIET <args>` with a deadline.
fn run_gs(
    options: &ConvertOptions,
    dir: &Path,
    args: &[String],
    deadline: Instant,
) -> Result<GsOutput, DocumentError> {
    let stdout_path = dir.join("gs.out");
    let stderr_path = dir.join("gs.err");
    // Files, not pipes: a chatty Ghostscript could otherwise fill a pipe and stall until the
    // timeout.
    let stdout = std::fs::File::create(&stdout_path)?;
    let stderr = std::fs::File::create(&stderr_path)?;
    let mut cmd = Command::new(&options.ghostscript);
    cmd.args(["-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dQUIET"])
        .args(args)
        .current_dir(dir)
        // GS_OPTIONS and GS_LIB from our environment must not change what runs.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", dir)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    tracing::debug!(?args, "running Ghostscript");
    let mut child = cmd.spawn().map_err(|e| {
        DocumentError::ConverterFailed(format!(
            "cannot run Ghostscript ({}): {e}; install the ghostscript package",
            options.ghostscript.display()
        ))
    })?;
    let left = deadline.saturating_duration_since(Instant::now());
    let status = match child.wait_timeout(left.max(Duration::from_millis(1)))? {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            tracing::warn!(limit = ?options.limits.timeout, "Ghostscript killed at the time limit");
            return Err(DocumentError::Timeout(options.limits.timeout));
        }
    };
    let read = |p: &Path| {
        std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let output = GsOutput {
        stdout: read(&stdout_path),
        stderr: read(&stderr_path),
    };
    if !status.success() {
        return Err(DocumentError::CorruptPdf(format!(
            "Ghostscript exited with {status}: {}",
            summarise(&output)
        )));
    }
    Ok(output)
}

/// Ghostscript's complaints on one line, short enough for an error message.
fn summarise(output: &GsOutput) -> String {
    let text: Vec<&str> = output
        .stderr
        .lines()
        .chain(output.stdout.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("GPL Ghostscript"))
        .collect();
    let mut s = if text.is_empty() {
        "Ghostscript gave no reason".to_string()
    } else {
        text.join(" ").replace("**** ", "")
    };
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Reads a binary PGM (P5, maxval 255) of the expected size.
fn parse_pgm(bytes: &[u8], width: u32, height: u32) -> Result<super::bitmap::Grey, DocumentError> {
    let mut pos = 0;
    let mut fields = Vec::new();
    while fields.len() < 4 {
        match bytes.get(pos) {
            Some(b'#') => {
                while bytes.get(pos).is_some_and(|&b| b != b'\n') {
                    pos += 1;
                }
            }
            Some(b) if b.is_ascii_whitespace() => pos += 1,
            Some(_) => {
                let start = pos;
                while bytes.get(pos).is_some_and(|b| !b.is_ascii_whitespace()) {
                    pos += 1;
                }
                fields.push(String::from_utf8_lossy(&bytes[start..pos]).into_owned());
            }
            None => break,
        }
    }
    // Exactly one whitespace byte separates the header from the samples.
    pos += 1;
    let want = [
        "P5".to_string(),
        width.to_string(),
        height.to_string(),
        "255".to_string(),
    ];
    let n = width as usize * height as usize;
    match bytes.get(pos..pos + n) {
        Some(data) if fields == want => Ok(super::bitmap::Grey {
            width,
            height,
            data: data.to_vec(),
        }),
        _ => Err(DocumentError::ConverterFailed(format!(
            "Ghostscript produced an unexpected image (header {fields:?})"
        ))),
    }
}
