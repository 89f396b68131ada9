//! In-band detection of the fax connect tones (T.30 §4.1): the caller's CNG (1100 Hz) and
//! the answerer's CED/ANS (2100 Hz) or the V.21 preamble of its first frame. A call that
//! hears one knows a fax machine is on the line, and a T.38 policy can switch on it before
//! T.30 gets far (the way relay gateways do).

use std::os::raw::{c_int, c_void};

use spandsp_sys as sys;

use crate::Error;

/// A connect tone heard in the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectTone {
    /// CNG, the calling tone.
    Cng,
    /// CED/ANS, the 2100 Hz answer tone (with or without phase reversals or AM).
    Ced,
    /// The V.21 HDLC flags that start a T.30 frame.
    V21Preamble,
}

impl ConnectTone {
    fn from_code(code: c_int) -> Option<ConnectTone> {
        let code = u32::try_from(code).ok()?;
        match code {
            sys::MODEM_CONNECT_TONES_FAX_CNG => Some(ConnectTone::Cng),
            sys::MODEM_CONNECT_TONES_ANS
            | sys::MODEM_CONNECT_TONES_ANS_PR
            | sys::MODEM_CONNECT_TONES_ANSAM
            | sys::MODEM_CONNECT_TONES_ANSAM_PR => Some(ConnectTone::Ced),
            sys::MODEM_CONNECT_TONES_FAX_PREAMBLE => Some(ConnectTone::V21Preamble),
            _ => None,
        }
    }
}

/// Where the detectors' callbacks leave what they heard; boxed so its address is fixed.
#[derive(Debug, Default)]
struct Heard {
    tones: Vec<ConnectTone>,
}

/// Listens for CNG, CED and the V.21 preamble in 8 kHz audio.
pub struct ToneDetector {
    cng: *mut sys::modem_connect_tones_rx_state_t,
    ced: *mut sys::modem_connect_tones_rx_state_t,
    heard: Box<Heard>,
}

// SAFETY: the detector states are reachable only through this wrapper, which owns them, and
// SpanDSP keeps no thread-affine resources in them. Not `Sync`: no locking inside.
unsafe impl Send for ToneDetector {}

extern "C" fn on_tone(user_data: *mut c_void, code: c_int, _level: c_int, _delay: c_int) {
    // SAFETY: `user_data` is the `Heard` boxed in the detector that owns this state; the
    // callback runs synchronously inside `modem_connect_tones_rx`, while `rx` holds `&mut self`.
    let heard = unsafe { &mut *user_data.cast::<Heard>() };
    if let Some(tone) = ConnectTone::from_code(code) {
        heard.tones.push(tone);
    }
}

impl ToneDetector {
    /// Two detectors: one for CNG, one for CED or the V.21 preamble.
    pub fn new() -> Result<Self, Error> {
        let mut heard = Box::<Heard>::default();
        let user_data: *mut c_void = (&mut *heard as *mut Heard).cast();
        let init = |tone: u32| {
            // SAFETY: a NULL state asks SpanDSP to allocate one; the callback matches
            // `tone_report_func_t` and `user_data` (boxed) lives as long as the state.
            unsafe {
                sys::modem_connect_tones_rx_init(
                    std::ptr::null_mut(),
                    tone as c_int,
                    Some(on_tone),
                    user_data,
                )
            }
        };
        let cng = init(sys::MODEM_CONNECT_TONES_FAX_CNG);
        let ced = init(sys::MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE);
        let detector = ToneDetector { cng, ced, heard };
        if cng.is_null() || ced.is_null() {
            return Err(Error::InitFailed("connect tone detector"));
        }
        Ok(detector)
    }

    /// Feeds received audio.
    pub fn rx(&mut self, audio: &[i16]) {
        let len = c_int::try_from(audio.len()).unwrap_or(c_int::MAX);
        for state in [self.cng, self.ced] {
            // SAFETY: `state` is valid (checked at construction) and `audio` holds `len`
            // samples that SpanDSP only reads.
            unsafe { sys::modem_connect_tones_rx(state, audio.as_ptr(), len) };
        }
    }

    /// The next tone heard, in order.
    pub fn poll(&mut self) -> Option<ConnectTone> {
        if self.heard.tones.is_empty() {
            None
        } else {
            Some(self.heard.tones.remove(0))
        }
    }
}

impl Drop for ToneDetector {
    fn drop(&mut self) {
        for state in [self.cng, self.ced] {
            if !state.is_null() {
                // SAFETY: allocated by `modem_connect_tones_rx_init`, freed once, here.
                unsafe { sys::modem_connect_tones_rx_free(state) };
            }
        }
    }
}

/// Generates a connect tone, for tests that need a caller or answerer SpanDSP's terminals do
/// not imitate (a Super G3 machine's ANSam, say).
pub struct ToneGenerator {
    state: *mut sys::modem_connect_tones_tx_state_t,
}

// SAFETY: the generator state is owned by this wrapper alone and holds no thread-affine
// resources. Not `Sync`: no locking inside.
unsafe impl Send for ToneGenerator {}

/// A tone the generator can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratedTone {
    /// CNG.
    Cng,
    /// CED/ANS.
    Ced,
    /// ANSam with phase reversals, the V.8 answer tone of a V.34 (Super G3) fax machine.
    AnsAmPhaseReversed,
}

impl ToneGenerator {
    /// A generator of `tone`.
    pub fn new(tone: GeneratedTone) -> Result<Self, Error> {
        let code = match tone {
            GeneratedTone::Cng => sys::MODEM_CONNECT_TONES_FAX_CNG,
            GeneratedTone::Ced => sys::MODEM_CONNECT_TONES_ANS,
            GeneratedTone::AnsAmPhaseReversed => sys::MODEM_CONNECT_TONES_ANSAM_PR,
        };
        // SAFETY: a NULL state asks SpanDSP to allocate one for a valid tone type.
        let state =
            unsafe { sys::modem_connect_tones_tx_init(std::ptr::null_mut(), code as c_int) };
        if state.is_null() {
            return Err(Error::InitFailed("connect tone generator"));
        }
        Ok(ToneGenerator { state })
    }

    /// Fills `out` with the tone; returns how many samples were generated.
    pub fn tx(&mut self, out: &mut [i16]) -> usize {
        let len = c_int::try_from(out.len()).unwrap_or(c_int::MAX);
        // SAFETY: `state` is valid and `out` has room for `len` samples.
        let n = unsafe { sys::modem_connect_tones_tx(self.state, out.as_mut_ptr(), len) };
        usize::try_from(n).unwrap_or(0)
    }
}

impl Drop for ToneGenerator {
    fn drop(&mut self) {
        // SAFETY: allocated by `modem_connect_tones_tx_init`, freed once, here.
        unsafe { sys::modem_connect_tones_tx_free(self.state) };
    }
}

impl std::fmt::Debug for ToneGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToneGenerator").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ToneDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToneDetector")
            .field("heard", &self.heard)
            .finish_non_exhaustive()
    }
}
