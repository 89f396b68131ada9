//! Helpers shared by engine's integration tests: documents from the ITU test charts, and the
//! pixel-for-pixel comparison of a received fax with the one sent.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod loopback;

use std::path::{Path, PathBuf};

use engine::documents::{images_to_fax_tiff, read_tiff_pages, Bitmap, ConvertOptions, FaxPage};
use test_support::fax_image;

/// The named charts from `shared/testdata/fax-images` as one fax TIFF-F, a page each.
pub fn charts_tiff(names: &[String]) -> Vec<u8> {
    let images: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(fax_image(n)).expect("read chart"))
        .collect();
    let inputs: Vec<&[u8]> = images.iter().map(Vec::as_slice).collect();
    let doc = images_to_fax_tiff(&inputs, &ConvertOptions::default()).expect("convert charts");
    assert_eq!(doc.pages as usize, names.len());
    doc.tiff
}

/// `spandsp_itu1.pbm` … `spandsp_itu{n}.pbm`.
pub fn itu_charts(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("spandsp_itu{i}.pbm")).collect()
}

/// Writes `tiff` as `send.tif` in `dir` and returns its path.
pub fn write_send_document(dir: &Path, tiff: &[u8]) -> PathBuf {
    let path = dir.join("send.tif");
    std::fs::write(&path, tiff).expect("write document");
    path
}

/// Every page of a TIFF, decoded independently of SpanDSP.
pub fn pages_of(path: &Path) -> Vec<FaxPage> {
    read_tiff_pages(&std::fs::read(path).expect("read TIFF")).expect("decode TIFF")
}

/// Asserts the received document holds exactly the pages and pixels of the sent one.
pub fn assert_same_pixels(sent: &Path, received: &Path) {
    let sent = pages_of(sent);
    let received = pages_of(received);
    assert_eq!(received.len(), sent.len(), "page count");
    for (i, (s, r)) in sent.iter().zip(&received).enumerate() {
        let page = i + 1;
        assert_eq!(
            (r.bitmap.width, r.bitmap.height),
            (s.bitmap.width, s.bitmap.height),
            "page {page} size"
        );
        assert!(
            (r.y_dpi - s.y_dpi).abs() < 2.0,
            "page {page} resolution {} vs {}",
            r.y_dpi,
            s.y_dpi
        );
        let differing = s
            .bitmap
            .data
            .iter()
            .zip(&r.bitmap.data)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differing, 0, "page {page}: {differing} bytes differ");
    }
}

/// A PBM (P4) reader of our own, independent of the `image` crate the converter uses.
pub fn parse_pbm(bytes: &[u8]) -> Bitmap {
    let mut fields = Vec::new();
    let mut pos = 0;
    while fields.len() < 3 {
        match bytes[pos] {
            b'#' => {
                while bytes[pos] != b'\n' {
                    pos += 1;
                }
            }
            b if b.is_ascii_whitespace() => pos += 1,
            _ => {
                let start = pos;
                while !bytes[pos].is_ascii_whitespace() {
                    pos += 1;
                }
                fields.push(std::str::from_utf8(&bytes[start..pos]).unwrap().to_string());
            }
        }
    }
    assert_eq!(fields[0], "P4");
    let (w, h): (u32, u32) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let len = w.div_ceil(8) as usize * h as usize;
    Bitmap::from_packed(w, h, bytes[pos + 1..pos + 1 + len].to_vec()).unwrap()
}

/// Waits until no media scheduler shard of this runtime is more than `max` late, as after a
/// starved process catches up; fails after 10 s (a failure guard, not a delay).
pub async fn media_caught_up(max: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while engine::call::media_lateness() > max {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the media shards never caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
