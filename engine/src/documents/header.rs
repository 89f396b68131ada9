//! The header line of a sent fax, drawn by us when the sender wants its own date format.
//!
//! SpanDSP 0.0.6 renders the header itself with a fixed layout
//! (`"  %2d-%s-%d  %02d:%02d    %-50s %-21s   p.%d"`); only its zone can be chosen. A tenant
//! or number with a `header_date_format` gets this band instead: the same content (date,
//! header text, station ident, page number) drawn over the top rows of every page with the
//! 8 × 8 `font8x8` glyphs, enlarged to about 2 mm at the page's resolution, and SpanDSP is
//! told to draw none.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, Offset, Utc};
use font8x8::legacy::BASIC_LEGACY;

use super::{read_tiff_pages, write_fax_tiff, Bitmap, DocumentError, FaxPage};

/// Font pixels per glyph, both ways.
const GLYPH: u32 = 8;
/// Font rows of the band: one blank row above and below the glyphs.
const BAND_FONT_ROWS: u32 = GLYPH + 2;
/// SpanDSP's width for the header text and the ident, kept so lines look alike.
const TEXT_CELLS: usize = 50;
const IDENT_CELLS: usize = 21;

/// How many page pixels one font pixel covers, (across, down), at this resolution: 8 font
/// pixels come to about 2 mm at every fax resolution (2 × 1 at standard, 2 × 2 at fine).
pub fn scale(x_dpi: f32, y_dpi: f32) -> (u32, u32) {
    let one = |dpi: f32| {
        let s = (dpi / 100.0).round();
        if s.is_finite() && s >= 1.0 {
            (s as u32).min(16)
        } else {
            1
        }
    };
    (one(x_dpi), one(y_dpi))
}

/// Rows the band takes at the top of a page of vertical resolution `y_dpi`.
pub fn band_rows(y_dpi: f32) -> u32 {
    BAND_FONT_ROWS * scale(204.0, y_dpi).1
}

/// What the header line of one page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLine<'a> {
    /// The date, already formatted.
    pub date: &'a str,
    /// The sending number's header text.
    pub text: &'a str,
    /// The station ident (TSI).
    pub ident: &'a str,
    /// This page's number in the document, from 1.
    pub page: u32,
    /// The document's page count.
    pub pages: u32,
}

impl HeaderLine<'_> {
    /// The text drawn from the left edge, laid out as SpanDSP lays out its own.
    pub fn left(&self) -> String {
        format!(
            "  {}    {:<tw$} {:<iw$}",
            self.date,
            self.text,
            self.ident,
            tw = TEXT_CELLS,
            iw = IDENT_CELLS
        )
    }

    /// The page number, drawn against the right edge so that it is never cut off.
    pub fn right(&self) -> String {
        format!("p.{}/{}  ", self.page, self.pages)
    }
}

/// Draws `line` over the top rows of `page`: the band is made white, then the glyphs are
/// drawn; the left text is cut short where it would reach the page number.
pub fn draw_header(page: &mut FaxPage, line: &HeaderLine<'_>) {
    let (sx, sy) = scale(page.x_dpi, page.y_dpi);
    let bitmap = &mut page.bitmap;
    let band = (BAND_FONT_ROWS * sy).min(bitmap.height);
    for y in 0..band {
        bitmap.row_mut(y).fill(0);
    }
    let cell = GLYPH * sx;
    let columns = (bitmap.width / cell) as usize;
    let right = line.right();
    let right_at = columns.saturating_sub(right.chars().count());
    for (i, c) in line
        .left()
        .chars()
        .take(right_at.saturating_sub(1))
        .enumerate()
    {
        draw_glyph(bitmap, i as u32 * cell, sy, c, sx, sy);
    }
    for (i, c) in right.chars().enumerate() {
        draw_glyph(bitmap, (right_at + i) as u32 * cell, sy, c, sx, sy);
    }
}

/// The 8 × 8 rows of `c` (bit 0 is the leftmost pixel); `?` for anything not ASCII.
pub fn glyph(c: char) -> [u8; 8] {
    let c = if c.is_ascii() { c } else { '?' };
    BASIC_LEGACY[c as usize]
}

fn draw_glyph(bitmap: &mut Bitmap, x0: u32, y0: u32, c: char, sx: u32, sy: u32) {
    for (r, bits) in glyph(c).iter().enumerate() {
        for b in 0..GLYPH {
            if bits >> b & 1 == 0 {
                continue;
            }
            for dy in 0..sy {
                for dx in 0..sx {
                    bitmap.set(x0 + b * sx + dx, y0 + r as u32 * sy + dy, true);
                }
            }
        }
    }
}

/// `at` in the zone of POSIX TZ rule `zone` (the server's local time when `None` or
/// unreadable), written with the strftime-style `format` (chrono syntax). A format chrono
/// cannot read (store validation keeps those out) gives `YYYY-MM-DD HH:MM` instead.
pub fn format_date(at: DateTime<Utc>, zone: Option<&str>, format: &str) -> String {
    let offset = zone
        .and_then(|rule| tz::TimeZone::from_posix_tz(rule).ok())
        .and_then(|tz| {
            tz.find_local_time_type(at.timestamp())
                .ok()
                .map(|t| t.ut_offset())
        })
        .and_then(FixedOffset::east_opt)
        .unwrap_or_else(|| at.with_timezone(&chrono::Local).offset().fix());
    let local = at.with_timezone(&offset);
    let mut out = String::new();
    if write!(out, "{}", local.format(format)).is_err() {
        out = local.format("%Y-%m-%d %H:%M").to_string();
    }
    out
}

/// Re-encodes a TIFF document with the header line drawn on every page, numbered as pages
/// of the whole document (a resend starting at page 3 still says `p.3/5`).
pub fn stamp_tiff(
    tiff: &[u8],
    date: &str,
    text: &str,
    ident: &str,
) -> Result<Vec<u8>, DocumentError> {
    let mut pages = read_tiff_pages(tiff)?;
    let total = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    for (i, page) in pages.iter_mut().enumerate() {
        let line = HeaderLine {
            date,
            text,
            ident,
            page: u32::try_from(i + 1).unwrap_or(u32::MAX),
            pages: total,
        };
        draw_header(page, &line);
    }
    write_fax_tiff(&pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(x_dpi: f32, y_dpi: f32, height: u32) -> FaxPage {
        let mut bitmap = Bitmap::new(1728, height);
        // All black, so the white-fill of the band shows.
        bitmap.data.fill(0xff);
        FaxPage {
            bitmap,
            x_dpi,
            y_dpi,
        }
    }

    /// The pixels of a rectangle as `#`/`.` rows.
    fn picture(b: &Bitmap, x: u32, y: u32, w: u32, h: u32) -> Vec<String> {
        (y..y + h)
            .map(|y| {
                (x..x + w)
                    .map(|x| if b.get(x, y) { '#' } else { '.' })
                    .collect()
            })
            .collect()
    }

    const A: [&str; 8] = [
        "..##....", ".####...", "##..##..", "##..##..", "######..", "##..##..", "##..##..",
        "........",
    ];

    #[test]
    fn scale_keeps_glyphs_about_two_millimetres() {
        assert_eq!(scale(204.0, 98.0), (2, 1));
        assert_eq!(scale(204.0, 196.0), (2, 2));
        assert_eq!(scale(204.0, 391.0), (2, 4));
        assert_eq!(scale(f32::NAN, 0.0), (1, 1));
        assert_eq!((band_rows(98.0), band_rows(196.0)), (10, 20));
    }

    #[test]
    fn a_known_glyph_has_exact_pixels_at_standard_and_fine() {
        assert_eq!(glyph('A'), [0x0C, 0x1E, 0x33, 0x33, 0x3F, 0x33, 0x33, 0x00]);
        assert_eq!(glyph('\u{e9}'), glyph('?'));
        // "A" alone as the date: the left text starts with two spaces, so its cell is the third.
        let line = HeaderLine {
            date: "A",
            text: "",
            ident: "",
            page: 1,
            pages: 1,
        };
        // Standard: each font pixel is 2 pixels across, 1 row down; the glyph starts one
        // font row down.
        let mut p = page(204.0, 98.0, 40);
        draw_header(&mut p, &line);
        let got = picture(&p.bitmap, 32, 1, 16, 8);
        let want: Vec<String> = A
            .iter()
            .map(|r| r.chars().flat_map(|c| [c, c]).collect())
            .collect();
        assert_eq!(got, want);
        // Fine: 2 × 2, starting two rows down.
        let mut p = page(204.0, 196.0, 40);
        draw_header(&mut p, &line);
        let got = picture(&p.bitmap, 32, 2, 16, 16);
        let want: Vec<String> = A
            .iter()
            .flat_map(|r| {
                let wide: String = r.chars().flat_map(|c| [c, c]).collect();
                [wide.clone(), wide]
            })
            .collect();
        assert_eq!(got, want);
        // The band is white except for glyphs; the rows below are untouched.
        assert!(picture(&p.bitmap, 0, 0, 1728, 2)
            .iter()
            .all(|r| !r.contains('#')));
        assert!(p.bitmap.row(19).iter().all(|&b| b == 0));
        assert!(p.bitmap.row(20).iter().all(|&b| b == 0xff));
        assert_eq!(p.bitmap.width, 1728);
    }

    #[test]
    fn page_number_sits_at_the_right_edge_and_long_text_is_cut() {
        let long = "W".repeat(200);
        let line = HeaderLine {
            date: "2024-01-02 03:04",
            text: &long,
            ident: "+1 555 0001",
            page: 3,
            pages: 5,
        };
        assert_eq!(line.right(), "p.3/5  ");
        assert!(line.left().starts_with("  2024-01-02 03:04    WWW"));
        let mut p = page(204.0, 196.0, 100);
        draw_header(&mut p, &line);
        // 108 cells of 16 pixels; "p.3/5  " takes the last 7, the cell before is blank.
        let cell = |n: u32| picture(&p.bitmap, n * 16, 0, 16, 20);
        let render = |c: char| {
            let mut q = page(204.0, 196.0, 20);
            draw_header(
                &mut q,
                &HeaderLine {
                    date: &c.to_string(),
                    text: "",
                    ident: "",
                    page: 1,
                    pages: 1,
                },
            );
            picture(&q.bitmap, 32, 0, 16, 20)
        };
        assert_eq!(cell(101), render('p'));
        assert_eq!(cell(103), render('3'));
        assert_eq!(cell(105), render('5'));
        assert_eq!(cell(100), render(' '), "a blank cell before the number");
        assert_eq!(cell(99), render('W'), "the text runs up to it");
    }

    #[test]
    fn dates_follow_the_zone_and_format() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap(); // 2023-11-14 22:13:20Z
        let kolkata = "IST-5:30";
        assert_eq!(
            format_date(at, Some(kolkata), "%Y-%m-%d %H:%M"),
            "2023-11-15 03:43"
        );
        assert_eq!(
            format_date(
                at,
                Some("CET-1CEST,M3.5.0,M10.5.0/3"),
                "%d.%m.%Y %H:%M:%S %z"
            ),
            "14.11.2023 23:13:20 +0100"
        );
        assert_eq!(format_date(at, Some("UTC0"), "%Q"), "2023-11-14 22:13");
    }

    #[test]
    fn stamping_keeps_the_rest_of_every_page() {
        let pages = vec![page(204.0, 196.0, 60), page(204.0, 98.0, 30)];
        let tiff = write_fax_tiff(&pages).unwrap();
        let out = read_tiff_pages(&stamp_tiff(&tiff, "D", "T", "I").unwrap()).unwrap();
        assert_eq!(out.len(), 2);
        for (n, (before, after)) in pages.iter().zip(&out).enumerate() {
            let band = band_rows(before.y_dpi) as usize;
            let stride = before.bitmap.stride();
            assert_eq!(
                after.bitmap.data[band * stride..],
                before.bitmap.data[band * stride..]
            );
            let mut want = before.clone();
            draw_header(
                &mut want,
                &HeaderLine {
                    date: "D",
                    text: "T",
                    ident: "I",
                    page: n as u32 + 1,
                    pages: 2,
                },
            );
            assert_eq!(after.bitmap, want.bitmap);
        }
        assert!(stamp_tiff(b"not a tiff", "D", "T", "I").is_err());
    }
}
