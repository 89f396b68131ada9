//! G.711 µ-law and A-law companding (ITU-T G.711 §3 tables 1a/1b and 2a/2b), in pure Rust.
//!
//! Bit-exact with SpanDSP's own `linear_to_ulaw`/`linear_to_alaw` and their inverses, so that
//! audio we encode decodes exactly as the fax engine at the other end expects. Decoding is a
//! 256-entry table built at compile time; encoding finds the segment with one leading-zero
//! count instead of a search.

/// Samples per second of G.711 (and of every SpanDSP audio stream).
pub const SAMPLE_RATE: u32 = 8000;

/// A G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (PCMU, static RTP payload type 0).
    Ulaw,
    /// A-law (PCMA, static RTP payload type 8).
    Alaw,
}

impl Law {
    /// Encodes one linear sample.
    #[inline]
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => linear_to_ulaw(sample),
            Law::Alaw => linear_to_alaw(sample),
        }
    }

    /// Decodes one byte.
    #[inline]
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => ulaw_to_linear(code),
            Law::Alaw => alaw_to_linear(code),
        }
    }

    /// The static RTP payload type of this law (RFC 3551 §6): 0 for PCMU, 8 for PCMA.
    pub fn static_payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// The RTP encoding name used in SDP `a=rtpmap` ("PCMU" or "PCMA").
    pub fn encoding_name(self) -> &'static str {
        match self {
            Law::Ulaw => "PCMU",
            Law::Alaw => "PCMA",
        }
    }
}

/// Bias added before µ-law segment search, so that segment 0 starts at zero (G.711 table 2a).
const ULAW_BIAS: i32 = 0x84;
/// A-law inverts the even bits of every code word (G.711 §3, "alternate mark inversion").
const ALAW_AMI_MASK: u8 = 0x55;

/// Index of the highest set bit; `value` is never 0 here because callers OR in 0xFF.
#[inline]
fn top_bit(value: i32) -> i32 {
    31 - value.leading_zeros() as i32
}

/// Encodes one linear sample as µ-law.
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let (magnitude, mask) = if sample >= 0 {
        (ULAW_BIAS + i32::from(sample), 0xFF)
    } else {
        (ULAW_BIAS - i32::from(sample), 0x7F)
    };
    let seg = top_bit(magnitude | 0xFF) - 7;
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    // seg is 0..=7 and the shifted value keeps 4 bits, so the code fits in 7 bits.
    let code = (seg << 4) | ((magnitude >> (seg + 3)) & 0x0F);
    (code as u8) ^ mask
}

/// Encodes one linear sample as A-law.
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    let (magnitude, mask) = if sample >= 0 {
        (i32::from(sample), ALAW_AMI_MASK | 0x80)
    } else {
        // One's complement keeps the negative range symmetric with the positive one.
        (-i32::from(sample) - 1, ALAW_AMI_MASK)
    };
    let seg = top_bit(magnitude | 0xFF) - 7;
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let shift = if seg == 0 { 4 } else { seg + 3 };
    let code = (seg << 4) | ((magnitude >> shift) & 0x0F);
    (code as u8) ^ mask
}

/// Decodes one µ-law byte.
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

/// Decodes one A-law byte.
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

/// Encodes `samples` into `out`; returns how many were encoded (the shorter length).
pub fn encode_frame(law: Law, samples: &[i16], out: &mut [u8]) -> usize {
    let n = samples.len().min(out.len());
    let (samples, out) = (&samples[..n], &mut out[..n]);
    // A receiving fax machine sends silence for most of a page: finding it is one vectorised
    // pass, cheaper than encoding it.
    if samples.iter().all(|&s| s == 0) {
        out.fill(law.encode(0));
        return n;
    }
    match law {
        Law::Ulaw => {
            for (o, &s) in out.iter_mut().zip(samples) {
                *o = linear_to_ulaw(s);
            }
        }
        Law::Alaw => {
            for (o, &s) in out.iter_mut().zip(samples) {
                *o = linear_to_alaw(s);
            }
        }
    }
    n
}

/// Decodes `codes` into `out`; returns how many were decoded (the shorter length).
pub fn decode_frame(law: Law, codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    let table = match law {
        Law::Ulaw => &ULAW_TABLE,
        Law::Alaw => &ALAW_TABLE,
    };
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = table[usize::from(c)];
    }
    n
}

/// Encodes `samples` into a new vector.
pub fn encode_to_vec(law: Law, samples: &[i16]) -> Vec<u8> {
    let mut out = vec![0; samples.len()];
    encode_frame(law, samples, &mut out);
    out
}

/// The µ-law expansion table (G.711 table 2b).
static ULAW_TABLE: [i16; 256] = build_ulaw_table();
/// The A-law expansion table (G.711 table 1b).
static ALAW_TABLE: [i16; 256] = build_alaw_table();

const fn ulaw_decode_slow(code: u8) -> i16 {
    let u = !code;
    let t = ((((u & 0x0F) as i32) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    if u & 0x80 != 0 {
        (ULAW_BIAS - t) as i16
    } else {
        (t - ULAW_BIAS) as i16
    }
}

const fn alaw_decode_slow(code: u8) -> i16 {
    let a = code ^ ALAW_AMI_MASK;
    let mut i = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    if seg != 0 {
        i = (i + 0x108) << (seg - 1);
    } else {
        i += 8;
    }
    if a & 0x80 != 0 {
        i as i16
    } else {
        -i as i16
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode_slow(i as u8);
        i += 1;
    }
    table
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode_slow(i as u8);
        i += 1;
    }
    table
}
