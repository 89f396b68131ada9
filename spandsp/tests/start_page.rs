//! Sending from a page inside the document: the far end gets only the later pages, pixel for
//! pixel, and the header line keeps the document's page numbers (SpanDSP numbers pages by
//! their index in the TIFF file, not by their position in the call).

use std::path::{Path, PathBuf};
use std::process::Command;

use spandsp::{
    Direction, FaxEvent, PageResult, Role, T30Config, T38Config, T38Terminal, TICK_SAMPLES,
};

const WIDTH: u32 = 1728;
const HEIGHT: u32 = 400;
const STRIDE: usize = (WIDTH / 8) as usize;
/// The header line's text starts "  dd-Mon-yyyy  hh:mm    "; columns past it hold no time.
const NO_CLOCK_FROM_BYTE: usize = 30 * 16 / 8;

/// A page whose pixels tell it apart: a black band at a height that depends on `n`.
fn page_pixels(n: u32) -> Vec<u8> {
    let mut image = vec![0u8; STRIDE * HEIGHT as usize];
    let top = 20 + n as usize * 60;
    for row in top..top + 30 {
        for (i, b) in image[row * STRIDE..(row + 1) * STRIDE]
            .iter_mut()
            .enumerate()
        {
            *b = if i % (n as usize + 2) == 0 {
                0xff
            } else {
                0x0f
            };
        }
    }
    image
}

/// An uncompressed, min-is-white, fine-resolution TIFF with one IFD per page.
fn write_tiff(pages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![b'I', b'I', 42, 0, 0, 0, 0, 0];
    let mut next_ifd_field = 4usize;
    for (index, image) in pages.iter().enumerate() {
        let image_offset = out.len() as u32;
        out.extend_from_slice(image);
        let res_offset = out.len() as u32;
        for dpi in [204u32, 196] {
            out.extend_from_slice(&dpi.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
        }
        let ifd_offset = out.len() as u32;
        out[next_ifd_field..next_ifd_field + 4].copy_from_slice(&ifd_offset.to_le_bytes());
        let entries: [(u16, u16, u32); 13] = [
            (256, 4, WIDTH),
            (257, 4, HEIGHT),
            (258, 3, 1),
            (259, 3, 1),
            (262, 3, 0),
            (273, 4, image_offset),
            (277, 3, 1),
            (278, 4, HEIGHT),
            (279, 4, image.len() as u32),
            (282, 5, res_offset),
            (283, 5, res_offset + 8),
            (296, 3, 2),
            (297, 3, index as u32 | ((pages.len() as u32) << 16)),
        ];
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, value) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        }
        next_ifd_field = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

/// One decoded page: its height and min-is-white rows of `STRIDE` bytes.
struct Page {
    height: usize,
    rows: Vec<u8>,
}

/// Decodes a received (T.6) TIFF with libtiff's `tiffcp`, independently of SpanDSP.
fn read_pages(path: &Path) -> Vec<Page> {
    let plain = path.with_extension("plain.tif");
    let status = Command::new("tiffcp")
        .args(["-c", "none", "-f", "msb2lsb", "-r", "100000"])
        .arg(path)
        .arg(&plain)
        .status()
        .expect("run tiffcp (libtiff-tools)");
    assert!(status.success(), "tiffcp failed");
    let b = std::fs::read(&plain).unwrap();
    assert_eq!(&b[..2], b"II", "tiffcp writes little-endian here");
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize;
    let mut pages = Vec::new();
    let mut ifd = u32_at(4);
    while ifd != 0 {
        let (mut width, mut height, mut offset, mut len, mut photometric) = (0, 0, 0, 0, 0);
        let n = u16_at(ifd);
        for i in 0..n {
            let e = ifd + 2 + i * 12;
            let value = if u16_at(e + 2) == 3 {
                u16_at(e + 8)
            } else {
                u32_at(e + 8)
            };
            match u16_at(e) {
                256 => width = value,
                257 => height = value,
                262 => photometric = value,
                273 => offset = value,
                279 => len = value,
                _ => {}
            }
        }
        assert_eq!(width, WIDTH as usize);
        assert_eq!(len, STRIDE * height, "one uncompressed strip");
        let mut rows = b[offset..offset + len].to_vec();
        if photometric == 1 {
            rows.iter_mut().for_each(|x| *x = !*x);
        }
        pages.push(Page { height, rows });
        ifd = u32_at(ifd + 2 + n * 12);
    }
    pages
}

struct Sent {
    pages: Vec<Page>,
    reported: Vec<PageResult>,
    result: PageResult,
}

/// Sends `doc` from `first_page` between two in-process T.38 terminals.
fn send(dir: &Path, doc: &Path, first_page: u32, name: &str) -> Sent {
    let t30 = T30Config {
        local_ident: "+1 555 0100".to_owned(),
        header_info: Some("Start page test".to_owned()),
        header_tz: Some("UTC".to_owned()),
        ..T30Config::default()
    };
    let rx: PathBuf = dir.join(name);
    let t38 = T38Config::default();
    let mut a = T38Terminal::new(
        Role::Calling,
        Direction::Send {
            tiff: doc.to_path_buf(),
            first_page,
        },
        &t30,
        &t38,
    )
    .unwrap();
    let mut b = T38Terminal::new(
        Role::Answering,
        Direction::Receive { tiff: rx.clone() },
        &T30Config::default(),
        &t38,
    )
    .unwrap();
    let (mut ab, mut ba) = (0u16, 0u16);
    let mut reported = Vec::new();
    // Ten minutes of simulated media at most: a guard, the call ends in well under one.
    for _ in 0..30_000 {
        let done_a = a.advance(TICK_SAMPLES);
        let done_b = b.advance(TICK_SAMPLES);
        while let Some(ifp) = a.poll_ifp() {
            let _ = b.rx_ifp(&ifp.data, ab);
            ab = ab.wrapping_add(1);
        }
        while let Some(ifp) = b.poll_ifp() {
            let _ = a.rx_ifp(&ifp.data, ba);
            ba = ba.wrapping_add(1);
        }
        while let Some(ev) = a.poll_event() {
            if let FaxEvent::Page(p) = ev {
                reported.push(p);
            }
        }
        if done_a && done_b {
            break;
        }
    }
    let result = a.result().expect("the sender finished");
    assert!(result.is_ok(), "sender: {:?}", result.code);
    assert!(b.result().expect("the receiver finished").is_ok());
    Sent {
        pages: read_pages(&rx),
        reported,
        result: result.stats.clone(),
    }
}

#[test]
fn a_send_from_page_3_delivers_pages_3_and_4_numbered_3_and_4() {
    let dir = tempfile::tempdir().unwrap();
    let source: Vec<Vec<u8>> = (1..=4).map(page_pixels).collect();
    let doc = dir.path().join("doc.tif");
    std::fs::write(&doc, write_tiff(&source)).unwrap();

    let full = send(dir.path(), &doc, 1, "full.tif");
    let part = send(dir.path(), &doc, 3, "part.tif");

    assert_eq!(full.pages.len(), 4);
    assert_eq!(part.pages.len(), 2, "only pages 3 and 4 are sent");
    let header_rows = part.pages[0].height - HEIGHT as usize;
    assert!(header_rows > 0, "the header line adds rows");
    let header = |p: &Page| p.rows[..header_rows * STRIDE].to_vec();
    for (i, page) in part.pages.iter().enumerate() {
        assert_eq!(page.height, HEIGHT as usize + header_rows);
        assert_eq!(
            page.rows[header_rows * STRIDE..],
            source[i + 2][..],
            "page {}",
            i + 3
        );
    }
    // The page number is in the header's right part; the clock in its left part may move on
    // between the two sends, so only columns past it are compared.
    let numbered = |p: &Page| -> Vec<u8> {
        header(p)
            .chunks(STRIDE)
            .flat_map(|row| row[NO_CLOCK_FROM_BYTE..].to_vec())
            .collect()
    };
    assert_eq!(numbered(&part.pages[0]), numbered(&full.pages[2]), "p.3");
    assert_eq!(numbered(&part.pages[1]), numbered(&full.pages[3]), "p.4");
    assert_ne!(
        numbered(&part.pages[0]),
        numbered(&full.pages[0]),
        "not p.1"
    );

    // Page counts stay per call: SpanDSP counts pages sent in this call, not file positions.
    let counts: Vec<u32> = part.reported.iter().map(|p| p.pages_transferred).collect();
    assert_eq!(counts, [1, 2]);
    assert_eq!(part.result.pages_transferred, 2);
    assert_eq!(
        part.result.pages_total, 4,
        "pages_in_file is the whole document"
    );
}

#[test]
fn a_first_page_outside_the_document_is_refused_before_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.tif");
    std::fs::write(&doc, write_tiff(&[page_pixels(1), page_pixels(2)])).unwrap();
    for first_page in [0, 3] {
        let r = T38Terminal::new(
            Role::Calling,
            Direction::Send {
                tiff: doc.clone(),
                first_page,
            },
            &T30Config::default(),
            &T38Config::default(),
        );
        assert!(r.is_err(), "first page {first_page}");
    }
}
