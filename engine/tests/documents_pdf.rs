//! The TIFF reader (the independent decoder SpanDSP tests compare against) and received
//! TIFF → PDF.
//!
//! Test TIFFs in the layouts SpanDSP and scanners write (G3 1D/2D, fill bits, FillOrder 2,
//! several strips, uncompressed) are made from our G4 output with libtiff's `tiffcp`, so the
//! encoder on the other side is libtiff's. PDFs are rendered back with poppler's `pdftoppm`
//! (and Ghostscript for the G3 passthrough) at each page's own resolution and compared pixel
//! for pixel; page sizes are checked with `pdfinfo`.

mod common;

use std::path::Path;
use std::process::Command;

use common::parse_pbm;
use engine::documents::{
    check_fax_tiff, fax_tiff_to_pdf, read_tiff_pages, write_fax_tiff, Bitmap, DocumentError,
    FaxPage, Resolution,
};

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn testdata_file(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/fax-images");
    assert!(
        dir.is_dir(),
        "test data missing: expected {}",
        dir.display()
    );
    std::fs::read(dir.join(name)).unwrap()
}

/// Deterministic page content with long and short runs in both colours: bars, a frame,
/// diagonals and a field of small "glyphs", so every CCITT mode gets exercised.
fn pattern(width: u32, height: u32, seed: u32) -> Bitmap {
    let mut b = Bitmap::new(width, height);
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut rand = move |n: u32| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state % n.max(1)
    };
    let fill = |b: &mut Bitmap, x0: u32, y0: u32, x1: u32, y1: u32| {
        for y in y0..y1.min(b.height) {
            for x in x0..x1.min(b.width) {
                b.set(x, y, true);
            }
        }
    };
    fill(&mut b, 0, 0, width, 3);
    fill(&mut b, 0, height - 3, width, height);
    fill(&mut b, 0, 0, 3, height);
    fill(&mut b, width - 3, 0, width, height);
    for y in 0..height {
        b.set(y % width, y, true);
        b.set(width - 1 - (y * 3) % width, y, true);
    }
    for _ in 0..(width * height / 4000) {
        let (x, y) = (rand(width), rand(height));
        let (w, h) = (1 + rand(12), 1 + rand(16));
        fill(&mut b, x, y, x + w, y + h);
    }
    for _ in 0..4 {
        let y = rand(height);
        fill(&mut b, 0, y, width, y + 1 + rand(20));
    }
    b
}

fn page(width: u32, height: u32, x_dpi: f32, y_dpi: f32, seed: u32) -> FaxPage {
    FaxPage {
        bitmap: pattern(width, height, seed),
        x_dpi,
        y_dpi,
    }
}

/// Rewrites a TIFF with `tiffcp` and the given options.
fn tiffcp(input: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.tif"), dir.path().join("out.tif"));
    std::fs::write(&src, input).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.push(src.to_str().unwrap());
    all.push(dst.to_str().unwrap());
    run("tiffcp", &all);
    std::fs::read(&dst).unwrap()
}

fn tiffinfo(tiff: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.tif");
    std::fs::write(&path, tiff).unwrap();
    run("tiffinfo", &[path.to_str().unwrap()])
}

/// Renders page `n` (1-based) with poppler at the given resolution, 1 bit deep.
fn pdftoppm(pdf: &[u8], n: usize, x_dpi: f32, y_dpi: f32) -> Bitmap {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, pdf).unwrap();
    let prefix = dir.path().join("out");
    let (n, x, y) = (n.to_string(), x_dpi.to_string(), y_dpi.to_string());
    run(
        "pdftoppm",
        &[
            "-f",
            &n,
            "-l",
            &n,
            "-rx",
            &x,
            "-ry",
            &y,
            "-mono",
            "-singlefile",
            path.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    parse_pbm(&std::fs::read(dir.path().join("out.pbm")).unwrap())
}

/// Renders page `n` (1-based) with Ghostscript at the given resolution, 1 bit deep.
fn gs_pbm(pdf: &[u8], n: usize, x_dpi: f32, y_dpi: f32) -> Bitmap {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out_path = dir.path().join("p.pbm");
    let out = format!("-sOutputFile={}", out_path.display());
    let res = format!("-r{x_dpi}x{y_dpi}");
    let (first, last) = (format!("-dFirstPage={n}"), format!("-dLastPage={n}"));
    run(
        "gs",
        &[
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=pbmraw",
            &res,
            &first,
            &last,
            &out,
            path.to_str().unwrap(),
        ],
    );
    parse_pbm(&std::fs::read(out_path).unwrap())
}

/// Page sizes in points per `pdfinfo`.
fn pdfinfo_sizes(pdf: &[u8]) -> Vec<(f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = run(
        "pdfinfo",
        &["-f", "1", "-l", "9999", path.to_str().unwrap()],
    );
    out.lines()
        .filter(|l| l.starts_with("Page") && l.contains(" size: "))
        .map(|l| {
            let dims: Vec<f64> = l
                .split(" size: ")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            (dims[0], dims[1])
        })
        .collect()
}

fn assert_same(got: &Bitmap, want: &Bitmap, what: &str) {
    assert_eq!(
        (got.width, got.height),
        (want.width, want.height),
        "{what}: size"
    );
    if got != want {
        let differing = (0..want.height)
            .flat_map(|y| (0..want.width).map(move |x| (x, y)))
            .filter(|&(x, y)| got.get(x, y) != want.get(x, y))
            .count();
        panic!("{what}: {differing} pixels differ");
    }
}

fn pdf_has(pdf: &[u8], needle: &str) -> bool {
    pdf.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// read_tiff_pages against libtiff's encoders

#[test]
fn reader_decodes_every_libtiff_layout() {
    let pages = vec![
        page(1728, 400, 204.0, 196.0, 1),
        page(1728, 333, 204.0, 98.0, 2),
    ];
    let g4 = write_fax_tiff(&pages).unwrap();
    let layouts: &[(&str, &[&str])] = &[
        ("G4 as written", &[]),
        ("G3 1D", &["-c", "g3:1d"]),
        ("G3 1D with fill bits", &["-c", "g3:1d:fill"]),
        ("G3 2D", &["-c", "g3:2d"]),
        (
            "G3 2D, fill, FillOrder 2",
            &["-c", "g3:2d:fill", "-f", "lsb2msb"],
        ),
        (
            "G4, FillOrder 2, 16 rows per strip",
            &["-c", "g4", "-f", "lsb2msb", "-r", "16"],
        ),
        ("G3 2D, 7 rows per strip", &["-c", "g3:2d", "-r", "7"]),
        ("uncompressed, 5 rows per strip", &["-c", "none", "-r", "5"]),
        (
            "uncompressed, FillOrder 2",
            &["-c", "none", "-f", "lsb2msb"],
        ),
        ("PackBits", &["-c", "packbits"]),
    ];
    for (what, args) in layouts {
        let tiff = if args.is_empty() {
            g4.clone()
        } else {
            tiffcp(&g4, args)
        };
        let back = read_tiff_pages(&tiff).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(back.len(), 2, "{what}");
        for (got, want) in back.iter().zip(&pages) {
            assert_same(&got.bitmap, &want.bitmap, what);
            assert_eq!((got.x_dpi, got.y_dpi), (want.x_dpi, want.y_dpi), "{what}");
        }
    }
    // tiffinfo agrees on what tiffcp produced.
    let info = tiffinfo(&tiffcp(&g4, &["-c", "g3:2d:fill", "-f", "lsb2msb"]));
    assert!(
        info.contains("CCITT Group 3") && info.contains("lsb-to-msb"),
        "{info}"
    );
    assert!(
        info.contains("2-d encoding") && info.contains("EOL padding"),
        "{info}"
    );
}

#[test]
fn reader_decodes_ghostscript_fax_tiffs() {
    for name in [
        "asterisk-testsuite_send.tiff",
        "asterisk-testsuite_1page.tif",
    ] {
        let pages = read_tiff_pages(&testdata_file(name)).unwrap();
        assert_eq!(pages.len(), 1);
        let p = &pages[0];
        assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 2156), "{name}");
        assert_eq!(p.resolution(), Resolution::Fine, "{name}");
        let ink = p.bitmap.black_pixels();
        assert!(
            ink > 10_000 && ink < 1728 * 2156 / 2,
            "{name}: {ink} black pixels"
        );
        // Re-encoding with our writer and decoding again is lossless.
        let again = read_tiff_pages(&write_fax_tiff(&pages).unwrap()).unwrap();
        assert_eq!(&again, &pages);
    }
}

#[test]
fn reader_rejects_damage_without_panicking() {
    let g4 = write_fax_tiff(&[page(1728, 300, 204.0, 196.0, 3)]).unwrap();
    for cut in [4, 8, 20, g4.len() / 2, g4.len() - 30] {
        assert!(read_tiff_pages(&g4[..cut]).is_err(), "cut at {cut}");
    }
    // Corrupt CCITT data: the strip is the start of the file, after the 8-byte header.
    let mut bad = g4.clone();
    for b in &mut bad[100..400] {
        *b = 0x00;
    }
    assert!(matches!(
        read_tiff_pages(&bad),
        Err(DocumentError::BadTiff(_))
    ));
    let g3 = tiffcp(&g4, &["-c", "g3:2d"]);
    let info = tiffinfo(&g3);
    assert!(info.contains("Group 3"), "{info}");
    // Every single-byte corruption either decodes or fails cleanly.
    for i in (8..g3.len()).step_by(97) {
        let mut c = g3.clone();
        c[i] ^= 0xFF;
        let _ = read_tiff_pages(&c);
        let _ = check_fax_tiff(&c);
        let _ = fax_tiff_to_pdf(&c);
    }
}

#[test]
fn check_fax_tiff_gives_reasons() {
    let reason = |pages: &[FaxPage]| match check_fax_tiff(&write_fax_tiff(pages).unwrap()) {
        Err(DocumentError::NotFaxTiff(why)) => why,
        other => panic!("expected NotFaxTiff, got {other:?}"),
    };
    assert!(reason(&[page(2480, 100, 300.0, 300.0, 1)]).contains("2480 pixels wide"));
    assert!(reason(&[page(1728, 100, 200.0, 200.0, 1)]).contains("200x200"));
    for (x, y) in [
        (204.0, 98.0),
        (204.0, 196.0),
        (204.0, 391.0),
        (203.0, 195.0),
    ] {
        assert_eq!(
            check_fax_tiff(&write_fax_tiff(&[page(1728, 50, x, y, 1)]).unwrap()).unwrap(),
            1
        );
    }
    let g4 = write_fax_tiff(&[page(1728, 60, 204.0, 196.0, 1)]).unwrap();
    let raw = tiffcp(&g4, &["-c", "none"]);
    match check_fax_tiff(&raw) {
        Err(DocumentError::NotFaxTiff(why)) => assert!(why.contains("compression 1"), "{why}"),
        other => panic!("{other:?}"),
    }
    // G3 2D with FillOrder 2 is sendable (libtiff reads it for SpanDSP).
    assert_eq!(
        check_fax_tiff(&tiffcp(&g4, &["-c", "g3:2d:fill", "-f", "lsb2msb"])).unwrap(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// fax_tiff_to_pdf

/// Converts, checks page sizes against pdfinfo and pixels against renderings at each page's
/// own resolution.
///
/// Ghostscript maps each image sample to exactly one device pixel there, so its rendering must
/// match with 0 differing pixels. Poppler smooths 1-bit images whenever the page is not an
/// exact whole number of pixels (its grey output has intermediate levels; our MediaBox is an
/// f32 a hair under width/dpi) and its mono output then moves isolated pixels: on the
/// Ghostscript-made Asterisk halftone a third of the black pixels change place, and thin lines
/// at 200 dpi lose a few percent. So poppler, as a second independent reader, must produce the
/// same size and the same amount of black within 5 %, which a wrong K, bit order, polarity or
/// resolution would break by far more.
fn check_pdf(tiff: &[u8], pages: &[FaxPage], what: &str) -> Vec<u8> {
    let pdf = fax_tiff_to_pdf(tiff).unwrap_or_else(|e| panic!("{what}: {e}"));
    let sizes = pdfinfo_sizes(&pdf);
    assert_eq!(sizes.len(), pages.len(), "{what}: page count");
    for (i, (p, &(w, h))) in pages.iter().zip(&sizes).enumerate() {
        let n = i + 1;
        let want_w = f64::from(p.bitmap.width) * 72.0 / f64::from(p.x_dpi);
        let want_h = f64::from(p.bitmap.height) * 72.0 / f64::from(p.y_dpi);
        assert!(
            (w - want_w).abs() < 0.01 && (h - want_h).abs() < 0.01,
            "{what} page {n}: {w}x{h} pt, want {want_w}x{want_h}"
        );
        let gs = gs_pbm(&pdf, n, p.x_dpi, p.y_dpi);
        assert_same(&gs, &p.bitmap, &format!("{what} page {n} (Ghostscript)"));
        let poppler = pdftoppm(&pdf, n, p.x_dpi, p.y_dpi);
        assert_eq!(
            (poppler.width, poppler.height),
            (p.bitmap.width, p.bitmap.height),
            "{what} page {n} (poppler)"
        );
        let (got, want) = (
            poppler.black_pixels() as f64,
            p.bitmap.black_pixels() as f64,
        );
        assert!(
            (got - want).abs() <= 0.05 * want,
            "{what} page {n} (poppler): {got} black pixels, want {want}"
        );
    }
    pdf
}

#[test]
fn pdf_pages_at_every_fax_resolution() {
    let pages = vec![
        page(1728, 1100, 204.0, 196.0, 11),
        page(1728, 600, 204.0, 98.0, 12),
        page(1728, 1500, 204.0, 391.0, 13),
        page(1728, 900, 200.0, 200.0, 14),
        page(2592, 700, 300.0, 300.0, 15),
        page(3456, 500, 400.0, 400.0, 16),
    ];
    let tiff = write_fax_tiff(&pages).unwrap();
    let pdf = check_pdf(&tiff, &pages, "G4 mixed resolutions");
    // Each page's G4 strip is embedded as is.
    assert!(pdf_has(&pdf, "/K -1"));
    assert!(pdf_has(&pdf, "/CCITTFaxDecode"));
}

#[test]
fn pdf_short_and_long_pages() {
    let pages = vec![
        page(1728, 500, 204.0, 196.0, 21),
        page(1728, 6000, 204.0, 196.0, 22),
    ];
    let tiff = write_fax_tiff(&pages).unwrap();
    let pdf = check_pdf(&tiff, &pages, "short and long");
    let sizes = pdfinfo_sizes(&pdf);
    assert!((sizes[1].1 - 6000.0 * 72.0 / 196.0).abs() < 0.01);
}

#[test]
fn pdf_from_g3_2d_fill_order_2_embeds_the_g3_data() {
    let pages = vec![
        page(1728, 700, 204.0, 196.0, 31),
        page(1728, 350, 204.0, 98.0, 32),
    ];
    let g3 = tiffcp(
        &write_fax_tiff(&pages).unwrap(),
        &["-c", "g3:2d:fill", "-f", "lsb2msb"],
    );
    let pdf = check_pdf(&g3, &pages, "G3 2D FillOrder 2");
    assert!(
        pdf_has(&pdf, "/K 4") && pdf_has(&pdf, "/EndOfLine true"),
        "G3 data must be passed through"
    );
    assert!(!pdf_has(&pdf, "/K -1"));
}

#[test]
fn pdf_from_g3_1d_and_without_fill() {
    let pages = vec![page(1728, 400, 204.0, 196.0, 41)];
    let g4 = write_fax_tiff(&pages).unwrap();
    let pdf = check_pdf(&tiffcp(&g4, &["-c", "g3:1d"]), &pages, "G3 1D");
    assert!(pdf_has(&pdf, "/K 0"));
    check_pdf(&tiffcp(&g4, &["-c", "g3:2d"]), &pages, "G3 2D no fill");
    check_pdf(
        &tiffcp(&g4, &["-c", "g3:1d:fill"]),
        &pages,
        "G3 1D with fill",
    );
}

#[test]
fn pdf_from_multi_strip_and_uncompressed_pages_reencodes_g4() {
    let pages = vec![page(1728, 800, 204.0, 196.0, 51)];
    let g4 = write_fax_tiff(&pages).unwrap();
    let strips = tiffcp(&g4, &["-c", "g4", "-r", "64"]);
    assert!(tiffinfo(&strips).contains("Rows/Strip: 64"));
    let pdf = check_pdf(&strips, &pages, "G4 in 64-row strips");
    assert!(pdf_has(&pdf, "/K -1"));
    let g3_strips = tiffcp(&g4, &["-c", "g3:2d", "-f", "lsb2msb", "-r", "100"]);
    check_pdf(&g3_strips, &pages, "G3 2D in 100-row strips");
    check_pdf(
        &tiffcp(&g4, &["-c", "none", "-r", "8"]),
        &pages,
        "uncompressed",
    );
}

#[test]
fn pdf_from_ghostscript_fax_tiff() {
    let tiff = testdata_file("asterisk-testsuite_send.tiff");
    let pages = read_tiff_pages(&tiff).unwrap();
    check_pdf(&tiff, &pages, "asterisk send.tiff");
}

#[test]
fn pdf_refuses_what_is_not_a_fax() {
    assert!(matches!(
        fax_tiff_to_pdf(b"not a tiff"),
        Err(DocumentError::BadTiff(_))
    ));
    assert!(matches!(
        fax_tiff_to_pdf(b"II*\0\0\0\0\0"),
        Err(DocumentError::ZeroPages)
    ));
    let dir = tempfile::tempdir().unwrap();
    let tif = dir.path().join("grey.tif");
    let out = format!("-sOutputFile={}", tif.display());
    run(
        "gs",
        &[
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=tiffgray",
            "-r20",
            &out,
            "-c",
            "showpage",
        ],
    );
    let err = fax_tiff_to_pdf(&std::fs::read(&tif).unwrap()).unwrap_err();
    assert!(matches!(err, DocumentError::NotFaxTiff(_)), "{err:?}");
}
