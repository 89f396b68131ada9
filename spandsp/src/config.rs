//! T.30 and T.38 configuration as Rust values (ITU-T T.30 §5, T.38 §D).

use std::os::raw::c_int;
use std::path::PathBuf;

use spandsp_sys as sys;

use crate::Error;

/// Which side of the call this terminal is: the caller sends CNG, the answerer CED and DIS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The party that placed the call.
    Calling,
    /// The party that answered the call.
    Answering,
}

impl Role {
    pub(crate) fn is_calling(self) -> c_int {
        c_int::from(self == Role::Calling)
    }
}

/// Whether this terminal sends a document or receives one, and the TIFF file involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// Send the pages of an existing TIFF-F file (checked before the call starts).
    Send {
        /// The TIFF-F to send.
        tiff: PathBuf,
        /// The first page to send, from 1 (1 sends them all). The header line keeps the
        /// file's page numbers: SpanDSP numbers pages by their place in the TIFF.
        first_page: u32,
    },
    /// Receive pages into a new TIFF file (its directory must exist).
    Receive {
        /// Where the received pages are written.
        tiff: PathBuf,
    },
}

impl Direction {
    /// Sends every page of `tiff`.
    pub fn send(tiff: impl Into<PathBuf>) -> Direction {
        Direction::Send {
            tiff: tiff.into(),
            first_page: 1,
        }
    }
}

/// A set of fax modems (T.30 `T30_SUPPORT_*` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modems(u32);

// Casts stay although bindgen's aliases are u32 today: their type is not part of the API.
#[allow(clippy::unnecessary_cast)]
impl Modems {
    /// V.27ter, 2400 and 4800 bit/s.
    pub const V27TER: Modems = Modems(sys::T30_SUPPORT_V27TER as u32);
    /// V.29, 7200 and 9600 bit/s.
    pub const V29: Modems = Modems(sys::T30_SUPPORT_V29 as u32);
    /// V.17, 7200 to 14400 bit/s.
    pub const V17: Modems = Modems(sys::T30_SUPPORT_V17 as u32);
    /// All three, the usual default.
    pub const ALL: Modems = Modems(Self::V27TER.0 | Self::V29.0 | Self::V17.0);

    /// The union of two sets.
    pub const fn with(self, other: Modems) -> Modems {
        Modems(self.0 | other.0)
    }

    /// True when every modem of `other` is in this set.
    pub const fn contains(self, other: Modems) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw SpanDSP bit mask.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The modem set that makes the call run at `bit_rate` at most (14400, 9600 or 4800).
    pub fn up_to(bit_rate: u32) -> Modems {
        match bit_rate {
            r if r >= 12000 => Modems::ALL,
            r if r >= 7200 => Modems::V29.with(Modems::V27TER),
            _ => Modems::V27TER,
        }
    }
}

/// A set of T.4/T.6 image compressions offered on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compressions(u32);

#[allow(clippy::unnecessary_cast)]
impl Compressions {
    /// T.4 one-dimensional (Modified Huffman).
    pub const T4_1D: Compressions = Compressions(sys::T30_SUPPORT_T4_1D_COMPRESSION as u32);
    /// T.4 two-dimensional (Modified READ).
    pub const T4_2D: Compressions = Compressions(sys::T30_SUPPORT_T4_2D_COMPRESSION as u32);
    /// T.6 (MMR); used on the line only with ECM.
    pub const T6: Compressions = Compressions(sys::T30_SUPPORT_T6_COMPRESSION as u32);
    /// All of T.4 1D, T.4 2D and T.6.
    pub const ALL: Compressions = Compressions(Self::T4_1D.0 | Self::T4_2D.0 | Self::T6.0);

    /// The union of two sets.
    pub const fn with(self, other: Compressions) -> Compressions {
        Compressions(self.0 | other.0)
    }

    /// The raw SpanDSP bit mask.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

/// How much of SpanDSP's own log reaches `tracing` (target `spandsp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing.
    None,
    /// Errors and warnings, including protocol errors.
    Warning,
    /// Plus the T.30 protocol flow (frames sent and received, phase changes).
    Flow,
    /// Everything SpanDSP can say.
    Debug,
}

impl LogLevel {
    pub(crate) fn to_span(self) -> c_int {
        let severity = match self {
            LogLevel::None => sys::SPAN_LOG_NONE,
            LogLevel::Warning => sys::SPAN_LOG_PROTOCOL_WARNING,
            LogLevel::Flow => sys::SPAN_LOG_FLOW,
            LogLevel::Debug => sys::SPAN_LOG_DEBUG_3,
        } as c_int;
        severity | sys::SPAN_LOG_SHOW_TAG as c_int | sys::SPAN_LOG_SHOW_PROTOCOL as c_int
    }
}

/// The T.30 settings of one fax terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct T30Config {
    /// Our station identifier, sent as TSI (sending) or CSI (receiving): ≤ 20 characters.
    pub local_ident: String,
    /// Text of the header line printed at the top of each sent page: ≤ 50 characters.
    pub header_info: Option<String>,
    /// Time zone (POSIX TZ string) for the date in the header line; the process's when `None`.
    pub header_tz: Option<String>,
    /// Offer error correction mode (T.30 Annex A).
    pub ecm: bool,
    /// Modems offered.
    pub modems: Modems,
    /// Compressions offered on the line.
    pub compressions: Compressions,
    /// Tag that prefixes this terminal's SpanDSP log lines (the call id in a server).
    pub log_tag: String,
    /// How much SpanDSP logs.
    pub log_level: LogLevel,
    /// The T.30 state's own level when it should say more than the modems and the T.38 core:
    /// a debug trace wants the frames (flow level), not the core's line per packet.
    pub protocol_log_level: Option<LogLevel>,
}

impl Default for T30Config {
    fn default() -> Self {
        T30Config {
            local_ident: String::new(),
            header_info: None,
            header_tz: None,
            ecm: true,
            modems: Modems::ALL,
            compressions: Compressions::ALL,
            log_tag: "fax".to_owned(),
            log_level: LogLevel::Warning,
            protocol_log_level: None,
        }
    }
}

impl T30Config {
    /// Checks the values SpanDSP would reject or silently mangle.
    pub fn validate(&self) -> Result<(), Error> {
        let ident_ok = self.local_ident.len() <= 20
            && self.local_ident.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !ident_ok {
            return Err(Error::BadIdent(self.local_ident.clone()));
        }
        if let Some(header) = &self.header_info {
            if header.chars().count() > 50 || header.contains('\0') || !header.is_ascii() {
                return Err(Error::BadHeader(header.clone()));
            }
        }
        if self.modems.bits() & Modems::ALL.bits() == 0 {
            return Err(Error::BadConfig("no modem enabled".to_owned()));
        }
        if self.compressions.bits() & (Compressions::T4_1D.bits()) == 0 {
            // T.4 1D is mandatory for every Group 3 terminal (T.30 Table 2).
            return Err(Error::BadConfig(
                "T.4 1D compression cannot be disabled".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The T.38 settings of a terminal or gateway, as negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct T38Config {
    /// `T38FaxVersion`: both ends must use the same (0 encodes field types differently).
    pub version: u8,
    /// `T38FaxMaxBuffer`, for SDP bookkeeping only (SpanDSP 0.0.6 does not read it).
    pub max_buffer: u32,
    /// `T38FaxMaxDatagram`, for SDP bookkeeping only; the UDPTL layer enforces it.
    pub max_datagram: u32,
    /// `T38FaxFillBitRemoval`.
    pub fill_bit_removal: bool,
}

impl Default for T38Config {
    fn default() -> Self {
        T38Config {
            version: 0,
            max_buffer: 400,
            max_datagram: 176,
            fill_bit_removal: false,
        }
    }
}

impl T38Config {
    /// Checks the version SpanDSP can speak (0 to 3).
    pub fn validate(&self) -> Result<(), Error> {
        if self.version > 3 {
            return Err(Error::BadConfig(format!(
                "T38FaxVersion {} is not supported (0 to 3)",
                self.version
            )));
        }
        Ok(())
    }
}
