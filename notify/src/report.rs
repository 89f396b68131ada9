//! The report PDF of gofaxserver's `email_report`, `email_full` and notify `webhook`
//! (`gofaxserver-behaviour.md` §9.2): A4 portrait, title "Fax Results Report", the job's id,
//! caller, callee and time, then one table row per attempt, oldest first.
//!
//! Drawn with the standard Helvetica font (every PDF reader has it, so nothing is embedded);
//! characters outside Latin-1 print as `?`. Times are UTC, where gofaxserver used the server's
//! zone, so that a report reads the same wherever it is opened.

use chrono::{DateTime, Utc};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::gofax::{attempt_end, attempt_succeeded, attempt_uuid, JobFacts};

/// A4 in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MM: f32 = 72.0 / 25.4;
const MARGIN: f32 = 10.0 * MM;
/// Column titles and widths in mm, as gofaxserver's.
const COLUMNS: [(&str, f32); 4] = [
    ("Call ID", 45.0),
    ("Timestamp", 50.0),
    ("Status", 45.0),
    ("Message", 50.0),
];
const TEXT_SIZE: f32 = 10.0;
const ROW_H: f32 = 14.0;
/// Helvetica's average advance is about half the size; a little more keeps text in its cell.
const CHAR_W: f32 = TEXT_SIZE * 0.56;

/// One table row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Last dash-separated part of the attempt's UUID.
    pub call_id: String,
    /// When the attempt ended.
    pub timestamp: String,
    /// `success (<type>)` or `failed (<type>)`.
    pub status: String,
    /// Result text, else the status.
    pub message: String,
}

/// The rows of a job's report, oldest attempt first.
pub fn report_rows(f: &JobFacts, endpoint_type: &str) -> Vec<ReportRow> {
    let mut attempts: Vec<_> = f.attempts.iter().collect();
    attempts.sort_by_key(|a| (attempt_end(a), a.id));
    attempts
        .into_iter()
        .map(|a| {
            let uuid = attempt_uuid(&f.job, a).to_string();
            let verdict = if attempt_succeeded(a) {
                "success"
            } else {
                "failed"
            };
            let status = format!("{verdict} ({endpoint_type})");
            ReportRow {
                call_id: uuid.rsplit('-').next().unwrap_or_default().to_owned(),
                timestamp: stamp(attempt_end(a)),
                message: if a.result_text.is_empty() {
                    status.clone()
                } else {
                    a.result_text.clone()
                },
                status,
            }
        })
        .collect()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Draws the report of a job; `endpoint_type` names what the attempts delivered to
/// (`gateway` for fax calls).
pub fn report_pdf(f: &JobFacts, endpoint_type: &str) -> Vec<u8> {
    let header = [
        format!("ID: {}", f.job.id.0),
        format!("Caller: {}", f.job.caller),
        format!("Callee: {}", f.job.callee),
        format!("Timestamp (received): {}", stamp(f.job.created_at)),
    ];
    let rows = report_rows(f, endpoint_type);

    let mut pdf = Pdf::new();
    let catalog_id = Ref::new(1);
    let pages_id = Ref::new(2);
    let font_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let mut next = 5;
    pdf.type1_font(font_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));

    let mut kids = Vec::new();
    let mut remaining = rows.as_slice();
    let mut first = true;
    loop {
        let mut c = Content::new();
        let mut y = PAGE_H - MARGIN - 20.0;
        if first {
            text(&mut c, b"F2", 18.0, MARGIN, y, "Fax Results Report");
            y -= 30.0;
            for line in &header {
                text(&mut c, b"F1", 12.0, MARGIN, y, line);
                y -= 16.0;
            }
            y -= 10.0;
        }
        // Column titles on every page, then as many rows as fit.
        draw_row(&mut c, b"F2", y, COLUMNS.map(|(t, _)| t.to_owned()));
        c.set_line_width(0.5);
        c.move_to(MARGIN, y - 4.0);
        c.line_to(PAGE_W - MARGIN, y - 4.0);
        c.stroke();
        y -= ROW_H + 4.0;
        while let Some((row, rest)) = remaining.split_first() {
            if y < MARGIN {
                break;
            }
            let cells = [
                row.call_id.clone(),
                row.timestamp.clone(),
                row.status.clone(),
                row.message.clone(),
            ];
            draw_row(&mut c, b"F1", y, cells);
            y -= ROW_H;
            remaining = rest;
        }
        let (page_id, content_id) = (Ref::new(next), Ref::new(next + 1));
        next += 2;
        pdf.stream(content_id, &c.finish());
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(pages_id);
        page.contents(content_id);
        let mut res = page.resources();
        let mut fonts = res.fonts();
        fonts.pair(Name(b"F1"), font_id);
        fonts.pair(Name(b"F2"), bold_id);
        fonts.finish();
        res.finish();
        page.finish();
        kids.push(page_id);
        first = false;
        if remaining.is_empty() {
            break;
        }
    }
    let count = kids.len() as i32;
    pdf.pages(pages_id).kids(kids).count(count);
    pdf.catalog(catalog_id).pages(pages_id);
    pdf.finish()
}

fn draw_row(c: &mut Content, font: &[u8], y: f32, cells: [String; 4]) {
    let mut x = MARGIN;
    for ((_, width_mm), cell) in COLUMNS.iter().zip(cells) {
        let width = width_mm * MM;
        let max = ((width - 4.0) / CHAR_W).floor().max(4.0) as usize;
        text(c, font, TEXT_SIZE, x, y, &truncate(&cell, max));
        x += width;
    }
}

fn text(c: &mut Content, font: &[u8], size: f32, x: f32, y: f32, s: &str) {
    c.begin_text();
    c.set_font(Name(font), size);
    c.next_line(x, y);
    c.show(Str(&latin1(s)));
    c.end_text();
}

/// Cuts `s` to `max` characters, ending with "..." when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// WinAnsi bytes for Latin-1 text; anything else becomes `?`.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match u8::try_from(u32::from(c)) {
            Ok(b) if (0x20..0x7f).contains(&b) || b >= 0xa0 => b,
            _ => b'?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_and_encoding() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("a very long message", 10), "a very ...");
        assert_eq!(latin1("Zürich → x"), b"Z\xfcrich ? x".to_vec());
    }
}
