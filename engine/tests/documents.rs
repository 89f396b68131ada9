//! Conversion of uploads to fax TIFF-F: PDF (via Ghostscript), images, TIFF passthrough and
//! re-rendering, limits and error reporting.
//!
//! Outcomes are checked with independent readers where possible: our own PBM parser for the
//! charts, `tiffinfo` for the TIFF tags, and Ghostscript for making test PDFs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::parse_pbm;
use engine::documents::{
    check_fax_tiff, images_to_fax_tiff, pdf_to_fax_tiff, read_tiff_pages, sniff_format,
    to_fax_tiff, write_fax_tiff, Bitmap, ConvertOptions, DocumentError, FaxPage, InputFormat,
    PaperSize, Resolution,
};

fn testdata() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    assert!(
        dir.join("fax-images").is_dir(),
        "test data missing: expected {} (the shared third-party test data next to the workspace)",
        dir.display()
    );
    dir
}

fn fax_image(name: &str) -> Vec<u8> {
    let path = testdata().join("fax-images").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

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

fn tiffinfo(tiff: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.tif");
    std::fs::write(&path, tiff).unwrap();
    run("tiffinfo", &[path.to_str().unwrap()])
}

/// A PDF made by Ghostscript from a PostScript program.
fn ps_to_pdf(ps: &str, extra: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let ps_path = dir.path().join("in.ps");
    let pdf_path = dir.path().join("out.pdf");
    std::fs::write(&ps_path, ps).unwrap();
    let out_arg = format!("-sOutputFile={}", pdf_path.display());
    let mut args = vec![
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-sDEVICE=pdfwrite",
        &out_arg,
    ];
    args.extend_from_slice(extra);
    args.push(ps_path.to_str().unwrap());
    run("gs", &args);
    std::fs::read(&pdf_path).unwrap()
}

/// One page of the given size (points) with a black frame 18 pt in from each edge, some
/// text and a 50 % grey box.
fn ps_page(width: u32, height: u32, label: &str) -> String {
    format!(
        "<< /PageSize [{width} {height}] >> setpagedevice\n\
         0 setgray 4 setlinewidth 18 18 {w} {h} rectstroke\n\
         /Helvetica findfont 36 scalefont setfont 72 {ty} moveto ({label}) show\n\
         0.5 setgray 72 72 216 216 rectfill\n\
         showpage\n",
        w = width - 36,
        h = height - 36,
        ty = height - 108,
    )
}

fn fine() -> ConvertOptions {
    ConvertOptions::default()
}

fn pages_of(doc: &[u8]) -> Vec<FaxPage> {
    read_tiff_pages(doc).expect("our output must decode")
}

/// Bounding box (x0, y0, x1, y1), inclusive, of the black pixels.
fn black_bbox(b: &Bitmap) -> Option<(u32, u32, u32, u32)> {
    let mut bbox: Option<(u32, u32, u32, u32)> = None;
    for y in 0..b.height {
        let row = b.row(y);
        if row.iter().all(|&v| v == 0) {
            continue;
        }
        let x0 = (0..b.width).find(|&x| b.get(x, y)).unwrap();
        let x1 = (0..b.width).rev().find(|&x| b.get(x, y)).unwrap();
        bbox = Some(match bbox {
            None => (x0, y, x1, y),
            Some((a, c, d, _)) => (a.min(x0), c, d.max(x1), y),
        });
    }
    bbox
}

fn black_fraction(b: &Bitmap, x0: u32, y0: u32, x1: u32, y1: u32) -> f64 {
    let mut black = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            black += u64::from(b.get(x, y));
        }
    }
    black as f64 / (f64::from(x1 - x0) * f64::from(y1 - y0))
}

fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let img = image::GrayImage::from_fn(width, height, |x, y| image::Luma([pixel(x, y)]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

// ---------------------------------------------------------------------------------------------
// Format sniffing

#[test]
fn formats_are_sniffed_from_magic_bytes() {
    assert_eq!(sniff_format(b"%PDF-1.7\n...").unwrap(), InputFormat::Pdf);
    assert_eq!(
        sniff_format(b"junk\r\n%PDF-1.4\n").unwrap(),
        InputFormat::Pdf
    );
    assert_eq!(sniff_format(b"II*\0\x08\0\0\0").unwrap(), InputFormat::Tiff);
    assert_eq!(sniff_format(b"MM\0*\0\0\0\x08").unwrap(), InputFormat::Tiff);
    assert_eq!(
        sniff_format(&png(2, 2, |_, _| 0)).unwrap(),
        InputFormat::Png
    );
    assert_eq!(
        sniff_format(b"\xFF\xD8\xFF\xE0\0\x10JFIF").unwrap(),
        InputFormat::Jpeg
    );
    assert_eq!(
        sniff_format(&fax_image("spandsp_itu1.pbm")).unwrap(),
        InputFormat::Pnm
    );
    for bad in [
        &b""[..],
        b"GIF89a....",
        b"PK\x03\x04 docx",
        b"hello world",
        b"II+\0bigtiff",
    ] {
        assert!(
            matches!(sniff_format(bad), Err(DocumentError::NotSupported(_))),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// TIFF in: passthrough and re-rendering

#[test]
fn fax_tiff_is_passed_through_byte_identical() {
    let input = fax_image("asterisk-testsuite_send.tiff");
    assert_eq!(check_fax_tiff(&input).unwrap(), 1);
    let doc = to_fax_tiff(&input, &fine()).unwrap();
    assert!(doc.passed_through);
    assert_eq!(doc.pages, 1);
    assert_eq!(doc.tiff, input);
}

#[test]
fn our_fax_tiff_has_tiff_f_tags_per_tiffinfo() {
    let itu1 = parse_pbm(&fax_image("spandsp_itu1.pbm"));
    let itu2 = parse_pbm(&fax_image("spandsp_itu2.pbm"));
    let pages = vec![
        FaxPage {
            bitmap: itu1.clone(),
            x_dpi: 204.0,
            y_dpi: 196.0,
        },
        FaxPage {
            bitmap: itu2.clone(),
            x_dpi: 204.0,
            y_dpi: 98.0,
        },
    ];
    let tiff = write_fax_tiff(&pages).unwrap();
    let info = tiffinfo(&tiff);
    assert_eq!(
        info.matches("TIFF Directory at offset").count(),
        2,
        "{info}"
    );
    assert_eq!(
        info.matches("Image Width: 1728 Image Length: 2376").count(),
        2,
        "{info}"
    );
    assert!(info.contains("Resolution: 204, 196 pixels/inch"), "{info}");
    assert!(info.contains("Resolution: 204, 98 pixels/inch"), "{info}");
    assert_eq!(
        info.matches("Compression Scheme: CCITT Group 4").count(),
        2,
        "{info}"
    );
    assert_eq!(info.matches("FillOrder: msb-to-lsb").count(), 2, "{info}");
    assert_eq!(
        info.matches("Photometric Interpretation: min-is-white")
            .count(),
        2,
        "{info}"
    );
    assert_eq!(info.matches("Rows/Strip: 2376").count(), 2, "{info}");
    assert!(
        info.contains("Page Number: 0-2") && info.contains("Page Number: 1-2"),
        "{info}"
    );
    assert_eq!(check_fax_tiff(&tiff).unwrap(), 2);
    let back = read_tiff_pages(&tiff).unwrap();
    assert_eq!(back, pages);
    // Our own output is sendable, so it passes through.
    let doc = to_fax_tiff(&tiff, &fine()).unwrap();
    assert!(doc.passed_through && doc.tiff == tiff && doc.pages == 2);
}

fn fill_rect(b: &mut Bitmap, x0: u32, y0: u32, x1: u32, y1: u32) {
    for y in y0..y1 {
        for x in x0..x1 {
            b.set(x, y, true);
        }
    }
}

/// A synthetic 300 dpi A4 scan: a 10-pixel frame 1 inch in, and a solid block in the top-left.
fn scan_page() -> Bitmap {
    let (w, h) = (2480u32, 3508u32);
    let mut b = Bitmap::new(w, h);
    fill_rect(&mut b, 300, 300, w - 300, 310);
    fill_rect(&mut b, 300, h - 310, w - 300, h - 300);
    fill_rect(&mut b, 300, 300, 310, h - 300);
    fill_rect(&mut b, w - 310, 300, w - 300, h - 300);
    fill_rect(&mut b, 400, 400, 700, 600);
    b
}

#[test]
fn scanner_tiff_is_rerendered_to_fax_geometry() {
    let dir = tempfile::tempdir().unwrap();
    let g4 = dir.path().join("g4.tif");
    let scan = dir.path().join("scan.tif");
    let page = FaxPage {
        bitmap: scan_page(),
        x_dpi: 300.0,
        y_dpi: 300.0,
    };
    std::fs::write(&g4, write_fax_tiff(&[page]).unwrap()).unwrap();
    // What a scanner writes: uncompressed, LSB-first, 8 rows per strip.
    run(
        "tiffcp",
        &[
            "-c",
            "none",
            "-f",
            "lsb2msb",
            "-r",
            "8",
            g4.to_str().unwrap(),
            scan.to_str().unwrap(),
        ],
    );
    let input = std::fs::read(&scan).unwrap();
    let info = tiffinfo(&input);
    assert!(
        info.contains("lsb-to-msb") && info.contains("Rows/Strip: 8"),
        "{info}"
    );
    assert!(matches!(
        check_fax_tiff(&input),
        Err(DocumentError::NotFaxTiff(_))
    ));

    let options = ConvertOptions {
        paper: PaperSize::A4,
        ..fine()
    };
    let doc = to_fax_tiff(&input, &options).unwrap();
    assert!(!doc.passed_through);
    assert_eq!(doc.pages, 1);
    let out = pages_of(&doc.tiff);
    let p = &out[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 2292));
    assert_eq!(p.resolution(), Resolution::Fine);
    // The physical size is kept: the frame is 1 inch in from the paper edge, which is 8.27 in
    // wide centred on the 8.47 in fax line, and 1 inch down.
    let (x0, y0, x1, y1) = black_bbox(&p.bitmap).unwrap();
    let expect_x0 = (1728.0 - 2480.0 / 300.0 * 204.0) / 2.0 + 204.0;
    assert!(
        (f64::from(x0) - expect_x0).abs() <= 3.0,
        "x0 {x0} vs {expect_x0}"
    );
    assert!((f64::from(y0) - 196.0).abs() <= 3.0, "y0 {y0}");
    let frame_w = (2480.0 - 600.0) / 300.0 * 204.0;
    assert!(
        (f64::from(x1 - x0 + 1) - frame_w).abs() <= 3.0,
        "frame width {}",
        x1 - x0 + 1
    );
    let frame_h = (3508.0 - 600.0) / 300.0 * 196.0;
    assert!(
        (f64::from(y1 - y0 + 1) - frame_h).abs() <= 3.0,
        "frame height {}",
        y1 - y0 + 1
    );
    // Letter paper is shorter than A4: the page is shrunk to fit, not cropped.
    let doc = to_fax_tiff(&input, &fine()).unwrap();
    let p = &pages_of(&doc.tiff)[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 2156));
    let (_, y0, _, y1) = black_bbox(&p.bitmap).unwrap();
    assert!(
        y1 < 2156 - 150 && y0 > 150,
        "frame {y0}..{y1} must be inside the page"
    );
}

#[test]
fn grey_lzw_tiff_is_rendered_and_dithered() {
    let dir = tempfile::tempdir().unwrap();
    let ps = dir.path().join("grey.ps");
    let tif = dir.path().join("grey.tif");
    std::fs::write(&ps, ps_page(612, 792, "GREY")).unwrap();
    let out = format!("-sOutputFile={}", tif.display());
    run(
        "gs",
        &[
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=tiffgray",
            "-r100",
            &out,
            ps.to_str().unwrap(),
        ],
    );
    let input = std::fs::read(&tif).unwrap();
    assert!(tiffinfo(&input).contains("Bits/Sample: 8"));
    let doc = to_fax_tiff(&input, &fine()).unwrap();
    let p = &pages_of(&doc.tiff)[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 2156));
    // The 3-inch grey box (1 inch from the bottom-left of the Letter page) is about half black.
    let left = (1728.0 - 8.5 * 204.0 * (11.0 * 196.0 / 2156.0_f64).min(1.0)) / 2.0;
    let x0 = (left + 1.2 * 204.0) as u32;
    let y0 = ((11.0 - 3.8) * 196.0) as u32;
    let frac = black_fraction(&p.bitmap, x0, y0, x0 + 300, y0 + 300);
    assert!((0.4..=0.6).contains(&frac), "grey box is {frac} black");
}

// ---------------------------------------------------------------------------------------------
// Images in

#[test]
fn fax_width_pbm_comes_through_pixel_exact() {
    let bytes = fax_image("spandsp_itu1.pbm");
    let original = parse_pbm(&bytes);
    let doc = to_fax_tiff(&bytes, &fine()).unwrap();
    assert!(!doc.passed_through);
    assert_eq!(doc.pages, 1);
    let out = pages_of(&doc.tiff);
    assert_eq!(out[0].resolution(), Resolution::Fine);
    assert_eq!(out[0].bitmap, original);
}

#[test]
fn fax_width_pbm_at_standard_resolution_merges_row_pairs() {
    let bytes = fax_image("spandsp_itu1.pbm");
    let original = parse_pbm(&bytes);
    let options = ConvertOptions {
        resolution: Resolution::Standard,
        ..fine()
    };
    let out = pages_of(&to_fax_tiff(&bytes, &options).unwrap().tiff);
    let page = &out[0].bitmap;
    assert_eq!(out[0].resolution(), Resolution::Standard);
    assert_eq!((page.width, page.height), (1728, 1188));
    for y in 0..page.height {
        let merged: Vec<u8> = original
            .row(2 * y)
            .iter()
            .zip(original.row(2 * y + 1))
            .map(|(a, b)| a | b)
            .collect();
        assert_eq!(page.row(y), &merged[..], "row {y}");
    }
}

#[test]
fn four_page_documents_from_itu_and_test_charts() {
    let itu: Vec<Vec<u8>> = (1..=4)
        .map(|i| fax_image(&format!("spandsp_itu{i}.pbm")))
        .collect();
    let inputs: Vec<&[u8]> = itu.iter().map(|v| &v[..]).collect();
    let doc = images_to_fax_tiff(&inputs, &fine()).unwrap();
    assert_eq!(doc.pages, 4);
    for (page, bytes) in pages_of(&doc.tiff).iter().zip(&itu) {
        assert_eq!(page.bitmap, parse_pbm(bytes));
    }

    let tests: Vec<Vec<u8>> = (1..=4)
        .map(|i| fax_image(&format!("spandsp_test{i}.pbm")))
        .collect();
    let inputs: Vec<&[u8]> = tests.iter().map(|v| &v[..]).collect();
    let options = ConvertOptions {
        paper: PaperSize::A4,
        ..fine()
    };
    let doc = images_to_fax_tiff(&inputs, &options).unwrap();
    assert_eq!(doc.pages, 4);
    let info = tiffinfo(&doc.tiff);
    assert_eq!(
        info.matches("Image Width: 1728 Image Length: 2292").count(),
        4,
        "{info}"
    );
    for (page, bytes) in pages_of(&doc.tiff).iter().zip(&tests) {
        let src = parse_pbm(bytes);
        // 150 dpi scans of about A4/Letter size (1275x1745 here): fitted into 1728 x 2292
        // lines of 204x196 dpi pixels, keeping the aspect ratio.
        let (sw, sh) = (f64::from(src.width), f64::from(src.height));
        let scale = (1728.0 / sw).min(2292.0 * 204.0 / 196.0 / sh);
        let scaled_w = sw * scale;
        let scaled_h = sh * scale * 196.0 / 204.0;
        assert!(
            scaled_w > 1600.0,
            "a page-sized scan must fill (nearly) the fax width"
        );
        let (x0, _, x1, y1) = black_bbox(&page.bitmap).unwrap();
        assert!(f64::from(x0) >= (1728.0 - scaled_w) / 2.0 - 1.0, "x0 {x0}");
        assert!(f64::from(x1) <= (1728.0 + scaled_w) / 2.0 + 1.0, "x1 {x1}");
        assert!(f64::from(y1) <= scaled_h + 1.0, "y1 {y1}");
        // Ink density survives scaling (dithering keeps tone, scaling keeps area).
        let src_ink = src.black_pixels() as f64 / (sw * sh);
        let out_ink = page.bitmap.black_pixels() as f64 / (scaled_w * scaled_h);
        assert!(
            (out_ink - src_ink).abs() < 0.3 * src_ink + 0.002,
            "ink {src_ink} -> {out_ink}"
        );
    }
}

#[test]
fn landscape_image_is_turned_to_portrait() {
    // 1000x600: a black border, and a block in the top-left corner.
    let img = png(1000, 600, |x, y| {
        let border = x < 10 || y < 10 || x >= 990 || y >= 590;
        let block = x < 300 && y < 200;
        if border || block {
            0
        } else {
            255
        }
    });
    let doc = to_fax_tiff(&img, &fine()).unwrap();
    let p = &pages_of(&doc.tiff)[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 2156));
    let (x0, y0, x1, y1) = black_bbox(&p.bitmap).unwrap();
    let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
    assert!(h > w, "content must be portrait, got {w}x{h}");
    // Rotated it fills the 11 in height: 2156 lines tall, 600/1000 of 11 in wide.
    assert_eq!(h, 2156);
    let want_w = 11.0 * 0.6 * 204.0;
    assert!(
        (f64::from(w) - want_w).abs() <= 2.0,
        "width {w} vs {want_w}"
    );
    // Counter-clockwise: the top-left block ends up bottom-left.
    let block = black_fraction(&p.bitmap, x0 + 30, y1 - 400, x0 + 250, y1 - 30);
    assert!(block > 0.99, "bottom-left block {block}");
    let other = black_fraction(&p.bitmap, x1 - 250, y0 + 30, x1 - 30, y0 + 400);
    assert!(other < 0.01, "top-right {other}");
}

#[test]
fn mid_grey_png_dithers_to_about_half_black() {
    let img = png(400, 400, |_, _| 128);
    let doc = to_fax_tiff(&img, &fine()).unwrap();
    let p = &pages_of(&doc.tiff)[0].bitmap;
    // A square fills the width: 1728 columns by 1728 * 196/204 lines.
    let lines = (1728.0 * 196.0 / 204.0_f64).round() as u32;
    let frac = black_fraction(p, 0, 0, 1728, lines);
    assert!((0.4..=0.6).contains(&frac), "{frac}");
    // Below the image the paper is white.
    assert_eq!(black_fraction(p, 0, lines + 2, 1728, 2156), 0.0);
}

#[test]
fn jpeg_input_is_converted() {
    let img = image::GrayImage::from_fn(300, 400, |x, _| {
        image::Luma([if x < 150 { 0 } else { 255 }])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let doc = to_fax_tiff(jpeg.get_ref(), &fine()).unwrap();
    let p = &pages_of(&doc.tiff)[0].bitmap;
    // Height-limited: 11 in tall, 8.25 in wide; left half black.
    let w = (11.0 * 0.75 * 204.0_f64).round() as u32;
    let left = (1728 - w) / 2;
    assert!(black_fraction(p, left + 10, 100, left + w / 2 - 10, 2000) > 0.97);
    assert!(black_fraction(p, left + w / 2 + 10, 100, left + w - 10, 2000) < 0.03);
}

#[test]
fn transparent_png_is_white_paper() {
    let img = image::RgbaImage::from_fn(100, 100, |x, _| {
        if x < 50 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([0, 0, 0, 255])
        }
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    let p = &pages_of(&to_fax_tiff(bytes.get_ref(), &fine()).unwrap().tiff)[0].bitmap;
    assert!(black_fraction(p, 20, 20, 840, 1600) < 0.01);
    assert!(black_fraction(p, 890, 20, 1700, 1600) > 0.99);
}

#[test]
fn corrupt_images_are_reported_not_panicked() {
    let good = png(50, 50, |x, y| ((x + y) % 256) as u8);
    let truncated = &good[..good.len() / 2];
    assert!(matches!(
        to_fax_tiff(truncated, &fine()),
        Err(DocumentError::CorruptImage(_))
    ));
    let mut flipped = good.clone();
    for b in flipped.iter_mut().skip(40).step_by(7) {
        *b ^= 0x5A;
    }
    assert!(matches!(
        to_fax_tiff(&flipped, &fine()),
        Err(DocumentError::CorruptImage(_))
    ));
    let jpeg =
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xDB garbage";
    assert!(matches!(
        to_fax_tiff(jpeg, &fine()),
        Err(DocumentError::CorruptImage(_))
    ));
    assert!(matches!(
        to_fax_tiff(b"P4\n1728 2376\n\0\0", &fine()),
        Err(DocumentError::CorruptImage(_))
    ));
    // A PNG header claiming 100000x100000 pixels is refused before decoding.
    let mut huge = good[..33].to_vec();
    huge[16..24].copy_from_slice(&[0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0]);
    let crc = crc32(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    huge.extend_from_slice(&good[33..]);
    let err = to_fax_tiff(&huge, &fine()).unwrap_err();
    assert!(
        matches!(err, DocumentError::ImageTooLarge { .. }),
        "{err:?}"
    );
    // TIFF damage: a strip pointing outside the file.
    let mut tiff = fax_image("asterisk-testsuite_1page.tif");
    tiff.truncate(tiff.len() / 2);
    assert!(matches!(
        to_fax_tiff(&tiff, &fine()),
        Err(DocumentError::BadTiff(_))
    ));
    assert!(matches!(
        read_tiff_pages(b"II*\0\x08\0\0\0\x01\0"),
        Err(DocumentError::BadTiff(_))
    ));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---------------------------------------------------------------------------------------------
// Limits and options

#[test]
fn input_larger_than_max_bytes_is_refused_before_parsing() {
    let mut options = fine();
    options.limits.max_bytes = 100;
    let err = to_fax_tiff(&[0u8; 101], &options).unwrap_err();
    assert!(
        matches!(
            err,
            DocumentError::TooLarge {
                bytes: 101,
                limit: 100
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        images_to_fax_tiff(&[&[0u8; 60], &[0u8; 60]], &options),
        Err(DocumentError::TooLarge { bytes: 120, .. })
    ));
}

#[test]
fn too_many_pages_is_refused() {
    let mut options = fine();
    options.limits.max_pages = 3;
    let itu = fax_image("spandsp_itu1.pbm");
    let err = images_to_fax_tiff(&[&itu, &itu, &itu, &itu], &options).unwrap_err();
    assert!(
        matches!(err, DocumentError::TooManyPages { limit: 3, .. }),
        "{err:?}"
    );
    // A fax TIFF that would otherwise pass through.
    let page = FaxPage {
        bitmap: Bitmap::new(1728, 100),
        x_dpi: 204.0,
        y_dpi: 196.0,
    };
    let tiff = write_fax_tiff(&vec![page; 4]).unwrap();
    let err = to_fax_tiff(&tiff, &options).unwrap_err();
    assert!(
        matches!(err, DocumentError::TooManyPages { pages: 4, limit: 3 }),
        "{err:?}"
    );
}

#[test]
fn write_fax_tiff_refuses_malformed_pages() {
    let empty = FaxPage {
        bitmap: Bitmap::new(0, 10),
        x_dpi: 204.0,
        y_dpi: 196.0,
    };
    assert!(matches!(
        write_fax_tiff(&[empty]),
        Err(DocumentError::CorruptImage(_))
    ));
    let short = FaxPage {
        bitmap: Bitmap {
            width: 1728,
            height: 10,
            data: vec![0; 100],
        },
        x_dpi: 204.0,
        y_dpi: 196.0,
    };
    assert!(matches!(
        write_fax_tiff(&[short]),
        Err(DocumentError::CorruptImage(_))
    ));
    assert!(matches!(write_fax_tiff(&[]), Err(DocumentError::ZeroPages)));
}

#[test]
fn only_fine_and_standard_output() {
    let options = ConvertOptions {
        resolution: Resolution::Superfine,
        ..fine()
    };
    let err = to_fax_tiff(&fax_image("spandsp_itu1.pbm"), &options).unwrap_err();
    assert!(matches!(err, DocumentError::NotSupported(_)), "{err:?}");
}

#[test]
fn error_messages_say_what_to_do() {
    let e = DocumentError::TooManyPages {
        pages: 300,
        limit: 200,
    };
    assert!(e.to_string().contains("300") && e.to_string().contains("200"));
    assert!(DocumentError::Encrypted.to_string().contains("password"));
}

// ---------------------------------------------------------------------------------------------
// PDF in (Ghostscript)

#[test]
fn pdf_letter_page_with_text_and_grey_box() {
    let pdf = ps_to_pdf(&ps_page(612, 792, "Hello fax"), &[]);
    let doc = to_fax_tiff(&pdf, &fine()).unwrap();
    assert_eq!(doc.pages, 1);
    assert!(!doc.passed_through);
    let p = &pages_of(&doc.tiff)[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 2156));
    assert_eq!(p.resolution(), Resolution::Fine);
    // Letter is 8.5 in wide, the fax line 8.47 in: Ghostscript scales by 0.9965 and centres
    // the page, leaving a few white lines above and below.
    let s = 1728.0 / (8.5 * 204.0);
    let top = (2156.0 - 11.0 * 196.0 * s) / 2.0;
    let px = |pt: f64| pt / 72.0 * 204.0 * s;
    let py = |pt: f64| top + pt / 72.0 * 196.0 * s;
    // Frame (line centred 18 pt in, 4 pt wide).
    let (x0, y0, x1, y1) = black_bbox(&p.bitmap).unwrap();
    assert!((f64::from(x0) - px(16.0)).abs() <= 3.0, "x0 {x0}");
    assert!((f64::from(x1) - px(612.0 - 16.0)).abs() <= 3.0, "x1 {x1}");
    assert!((f64::from(y0) - py(16.0)).abs() <= 3.0, "y0 {y0}");
    assert!((f64::from(y1) - py(792.0 - 16.0)).abs() <= 4.0, "y1 {y1}");
    // The grey box (72..288 pt from the bottom-left) is dithered to about half black.
    let bx = px(100.0) as u32;
    let by = py(792.0 - 260.0) as u32;
    let frac = black_fraction(&p.bitmap, bx, by, bx + 250, by + 250);
    assert!((0.4..=0.6).contains(&frac), "grey box {frac}");
    // The text line has solid black pixels; the paper between is white.
    let text = black_fraction(
        &p.bitmap,
        px(72.0) as u32,
        py(108.0 - 30.0) as u32,
        px(300.0) as u32,
        py(108.0) as u32,
    );
    assert!(text > 0.1 && text < 0.7, "text {text}");
    assert_eq!(
        black_fraction(
            &p.bitmap,
            px(350.0) as u32,
            py(300.0) as u32,
            px(550.0) as u32,
            py(500.0) as u32
        ),
        0.0
    );
}

#[test]
fn pdf_a4_and_letter_paper() {
    let a4 = ps_to_pdf(&ps_page(595, 842, "A4"), &[]);
    let options = ConvertOptions {
        paper: PaperSize::A4,
        ..fine()
    };
    let p = &pages_of(&to_fax_tiff(&a4, &options).unwrap().tiff)[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 2292));
    let (_, y0, _, y1) = black_bbox(&p.bitmap).unwrap();
    // A4 on A4 paper: scale 1, the frame spans the page height less 2 × 16 pt.
    let want = (842.0 - 32.0) / 72.0 * 196.0;
    assert!(
        (f64::from(y1 - y0) - want).abs() <= 4.0,
        "{} vs {want}",
        y1 - y0
    );

    // A4 on Letter paper is shrunk to fit the 11 in height.
    let p = &pages_of(&to_fax_tiff(&a4, &fine()).unwrap().tiff)[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 2156));
    let (_, y0, _, y1) = black_bbox(&p.bitmap).unwrap();
    let want = (842.0 - 32.0) / 72.0 * 196.0 * (792.0 / 842.0);
    assert!(
        (f64::from(y1 - y0) - want).abs() <= 4.0,
        "{} vs {want}",
        y1 - y0
    );

    // Standard resolution halves the lines.
    let options = ConvertOptions {
        resolution: Resolution::Standard,
        ..fine()
    };
    let p = &pages_of(&to_fax_tiff(&a4, &options).unwrap().tiff)[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 1078));
    assert_eq!(p.resolution(), Resolution::Standard);
    let options = ConvertOptions {
        resolution: Resolution::Standard,
        paper: PaperSize::A4,
        ..fine()
    };
    let p = &pages_of(&to_fax_tiff(&a4, &options).unwrap().tiff)[0];
    assert_eq!((p.bitmap.width, p.bitmap.height), (1728, 1146));
}

#[test]
fn pdf_landscape_page_is_turned_to_portrait() {
    // A thick bar along the landscape page's top edge.
    let ps = "<< /PageSize [792 612] >> setpagedevice\n\
              0 setgray 0 552 792 60 rectfill\n\
              /Helvetica findfont 48 scalefont setfont 72 300 moveto (LANDSCAPE) show\n\
              showpage\n";
    let pdf = ps_to_pdf(ps, &[]);
    let p = &pages_of(&to_fax_tiff(&pdf, &fine()).unwrap().tiff)[0].bitmap;
    assert_eq!((p.width, p.height), (1728, 2156));
    // Turned counter-clockwise, the bar runs down the left edge, full height.
    assert!(black_fraction(p, 5, 20, 150, 2130) > 0.99);
    assert!(black_fraction(p, 1500, 20, 1720, 2130) < 0.01);
}

#[test]
fn pdf_three_pages_and_page_limit() {
    let ps = (1..=3)
        .map(|i| ps_page(612, 792, &format!("Page {i}")))
        .collect::<String>();
    let pdf = ps_to_pdf(&ps, &[]);
    let doc = to_fax_tiff(&pdf, &fine()).unwrap();
    assert_eq!(doc.pages, 3);
    assert_eq!(pages_of(&doc.tiff).len(), 3);
    assert_eq!(check_fax_tiff(&doc.tiff).unwrap(), 3);

    let mut options = fine();
    options.limits.max_pages = 2;
    let err = to_fax_tiff(&pdf, &options).unwrap_err();
    assert!(
        matches!(err, DocumentError::TooManyPages { pages: 3, limit: 2 }),
        "{err:?}"
    );
}

#[test]
fn encrypted_pdf_is_refused() {
    let page = ps_page(612, 792, "secret");
    let pdf = ps_to_pdf(&page, &["-sOwnerPassword=x", "-sUserPassword=y"]);
    let err = to_fax_tiff(&pdf, &fine()).unwrap_err();
    assert!(matches!(err, DocumentError::Encrypted), "{err:?}");
}

#[test]
fn not_a_pdf_corrupt_pdf_and_zero_pages() {
    let png_bytes = png(10, 10, |_, _| 255);
    assert!(matches!(
        pdf_to_fax_tiff(&png_bytes, &fine()),
        Err(DocumentError::NotAPdf)
    ));
    assert!(matches!(
        to_fax_tiff(b"this is just text", &fine()),
        Err(DocumentError::NotSupported(_))
    ));
    let err = to_fax_tiff(b"%PDF-1.4\ngarbage garbage\n", &fine()).unwrap_err();
    match &err {
        DocumentError::CorruptPdf(why) => assert!(!why.is_empty()),
        other => panic!("expected CorruptPdf, got {other:?}"),
    }
    let zero = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
                 2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n\
                 trailer << /Root 1 0 R >>\n%%EOF\n";
    let err = to_fax_tiff(zero, &fine()).unwrap_err();
    assert!(matches!(err, DocumentError::ZeroPages), "{err:?}");
}

#[test]
fn ghostscript_is_killed_at_the_time_limit() {
    let pdf = ps_to_pdf(&ps_page(612, 792, "slow"), &[]);
    let mut options = fine();
    options.limits.timeout = Duration::from_millis(1);
    let err = to_fax_tiff(&pdf, &options).unwrap_err();
    assert!(matches!(err, DocumentError::Timeout(_)), "{err:?}");
}

#[test]
fn missing_ghostscript_is_a_converter_failure() {
    let pdf = ps_to_pdf(&ps_page(612, 792, "x"), &[]);
    let options = ConvertOptions {
        ghostscript: "/nonexistent/gs".into(),
        ..fine()
    };
    let err = to_fax_tiff(&pdf, &options).unwrap_err();
    assert!(matches!(err, DocumentError::ConverterFailed(_)), "{err:?}");
}
