//! Results and events of a fax session as Rust values (T.30 phases B, D and E).

use std::ffi::CStr;
use std::fmt;

use spandsp_sys as sys;

/// A T.30 completion code (`T30_ERR_*`): 0 is success, anything else says why the call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompletionCode(pub i32);

impl CompletionCode {
    /// The call completed and every page was confirmed.
    pub const OK: CompletionCode = CompletionCode(sys::T30_ERR_OK as i32);
    /// The call was dropped before T.30 finished (hangup, BYE, or [`crate::FaxTerminal::terminate`]).
    pub const CALL_DROPPED: CompletionCode = CompletionCode(sys::T30_ERR_CALLDROPPED as i32);

    /// True for success.
    pub fn is_ok(self) -> bool {
        self == Self::OK
    }

    /// SpanDSP's text for this code, e.g. "The call dropped prematurely".
    pub fn text(self) -> &'static str {
        // SAFETY: t30_completion_code_to_str accepts any int and returns a pointer to a
        // static, NUL-terminated string ("???" for unknown codes); it never returns NULL.
        let ptr = unsafe { sys::t30_completion_code_to_str(self.0) };
        if ptr.is_null() {
            return "???";
        }
        // SAFETY: non-NULL and points into SpanDSP's static string table, valid forever.
        unsafe { CStr::from_ptr(ptr) }.to_str().unwrap_or("???")
    }
}

impl fmt::Display for CompletionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.text())
    }
}

/// Image resolution of a page, as T.30 negotiates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// Horizontal pixels per metre (8031 for the usual 204 dpi).
    pub x_ppm: i32,
    /// Vertical lines per metre (3850 standard, 7700 fine, 15400 superfine).
    pub y_ppm: i32,
}

impl Resolution {
    /// A short name: "standard", "fine", "superfine", or "XxY dpi".
    pub fn name(&self) -> String {
        match (self.x_ppm, self.y_ppm) {
            (8031, 3850) => "standard".to_owned(),
            (8031, 7700) => "fine".to_owned(),
            (8031, 15400) => "superfine".to_owned(),
            (x, y) => format!("{}x{} dpi", ppm_to_dpi(x), ppm_to_dpi(y)),
        }
    }
}

fn ppm_to_dpi(ppm: i32) -> i32 {
    ((f64::from(ppm) * 0.0254).round()) as i32
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What T.30 reports after each page (phase D), or at the end of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageResult {
    /// Pages transferred so far (sent and confirmed, or received).
    pub pages_transferred: u32,
    /// Pages in the file being sent (0 when receiving).
    pub pages_total: u32,
    /// Line bit rate of the page.
    pub bit_rate: u32,
    /// True when error correction mode was in use.
    pub ecm: bool,
    /// Image resolution.
    pub resolution: Resolution,
    /// Image width in pixels.
    pub width: u32,
    /// Image length in rows.
    pub length: u32,
    /// Image size in bytes.
    pub image_size: u32,
    /// Rows received with errors (non-ECM only).
    pub bad_rows: u32,
    /// Longest run of consecutive bad rows.
    pub longest_bad_row_run: u32,
    /// T.4 encoding on the line (1 = T.4 1D, 2 = T.4 2D, 3 = T.6).
    pub encoding: u32,
    /// ECM retransmission rounds.
    pub ecm_retries: u32,
}

impl PageResult {
    pub(crate) fn from_stats(stats: &sys::t30_stats_t, sending: bool) -> PageResult {
        let u = |v: i32| u32::try_from(v).unwrap_or(0);
        PageResult {
            pages_transferred: u(if sending {
                stats.pages_tx
            } else {
                stats.pages_rx
            }),
            pages_total: if sending { u(stats.pages_in_file) } else { 0 },
            bit_rate: u(stats.bit_rate),
            ecm: stats.error_correcting_mode != 0,
            resolution: Resolution {
                x_ppm: stats.x_resolution,
                y_ppm: stats.y_resolution,
            },
            width: u(stats.width),
            length: u(stats.length),
            image_size: u(stats.image_size),
            bad_rows: u(stats.bad_rows),
            longest_bad_row_run: u(stats.longest_bad_row_run),
            encoding: u(stats.encoding),
            ecm_retries: u(stats.error_correcting_mode_retries),
        }
    }
}

/// The final result of a fax session (phase E).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaxResult {
    /// Why the call ended.
    pub code: CompletionCode,
    /// Statistics at the end of the call (pages, rate, ECM, resolution, bad rows).
    pub stats: PageResult,
    /// The far end's TSI or CSI, trimmed.
    pub remote_ident: String,
    /// How many times the parties negotiated (DIS/DCS exchanges seen in phase B).
    pub negotiations: u32,
    /// Samples fed to the session when it ended (8 kHz), i.e. the call's fax duration.
    pub elapsed_samples: u64,
}

impl FaxResult {
    /// True when the code is 0 (every page confirmed).
    pub fn is_ok(&self) -> bool {
        self.code.is_ok()
    }
}

/// Something a fax terminal reports while running; drained with `poll_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaxEvent {
    /// Phase B: capabilities or settings were exchanged (the DIS/DTC/DCS frame's FCF).
    Negotiated {
        /// The T.30 frame type that was received, e.g. "DCS".
        frame: String,
        /// The far end's identifier as known at this point.
        remote_ident: String,
        /// Line bit rate chosen so far.
        bit_rate: u32,
        /// ECM in use.
        ecm: bool,
    },
    /// Phase D: a page was sent or received.
    Page(PageResult),
    /// Phase E: the session ended; nothing follows.
    Finished(FaxResult),
}
