//! SpanDSP's own G.711 µ-law and A-law (ITU-T G.711), the reference for faxserver's codecs.

use spandsp_sys as sys;

/// Encodes one linear sample as A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    // SAFETY: a pure function of its argument, from the shim.
    unsafe { sys::faxsrv_linear_to_alaw(sample) }
}

/// Decodes one A-law byte.
pub fn alaw_to_linear(code: u8) -> i16 {
    // SAFETY: a pure function of its argument, from the shim.
    unsafe { sys::faxsrv_alaw_to_linear(code) }
}

/// Encodes one linear sample as µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    // SAFETY: a pure function of its argument, from the shim.
    unsafe { sys::faxsrv_linear_to_ulaw(sample) }
}

/// Decodes one µ-law byte.
pub fn ulaw_to_linear(code: u8) -> i16 {
    // SAFETY: a pure function of its argument, from the shim.
    unsafe { sys::faxsrv_ulaw_to_linear(code) }
}

/// A G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// µ-law (PCMU, North America and Japan).
    Ulaw,
    /// A-law (PCMA, elsewhere).
    Alaw,
}

impl Law {
    /// Encodes one linear sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => linear_to_ulaw(sample),
            Law::Alaw => linear_to_alaw(sample),
        }
    }

    /// Decodes one byte.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => ulaw_to_linear(code),
            Law::Alaw => alaw_to_linear(code),
        }
    }

    /// Passes audio through the codec in place, as a G.711 line does.
    pub fn round_trip(self, audio: &mut [i16]) {
        for sample in audio {
            *sample = self.decode(self.encode(*sample));
        }
    }
}
