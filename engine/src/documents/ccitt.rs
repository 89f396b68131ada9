//! CCITT codecs: T.6 (G4) through the `fax` crate, T.4 (G3 1D and 2D) on the `fax` crate's
//! code tables.
//!
//! `fax` 0.3 decodes only one-dimensional G3 and drops a last line that has no EOL after it,
//! so the T.4 line structure (EOL, fill bits, the 1D/2D tag bit, RTC) is handled here; the
//! Huffman tables and the mode codes are still the crate's.

use fax::maps::{black, mode, white, Mode};
use fax::BitReader;

use super::bitmap::{row_pels, Bitmap};

/// Encodes the whole bitmap as one T.6 (G4) strip, ending with EOFB.
pub(crate) fn encode_g4(bitmap: &Bitmap) -> Vec<u8> {
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::with_capacity(
        bitmap.data.len().saturating_mul(8) / 10,
    ));
    for y in 0..bitmap.height {
        // VecWriter's error type is Infallible.
        let Ok(()) = encoder.encode_line(row_pels(bitmap.row(y), bitmap.width), bitmap.width);
    }
    match encoder.finish() {
        Ok(writer) => writer.finish(),
        Err(never) => match never {},
    }
}

/// Decodes a G4 strip of `rows` rows into `out` starting at row `first_row`.
pub(crate) fn decode_g4(
    data: &[u8],
    out: &mut Bitmap,
    first_row: u32,
    rows: u32,
) -> Result<(), String> {
    let width = out.width;
    let mut y = first_row;
    // The decoder peeks up to 16 bits ahead, so a last line ending flush with the data (no
    // EOFB) needs padding. Ones, not zeros: `fax` reads a run of zeros as EOFB and would pad a
    // truncated strip with white instead of failing; ones decode as V0 and soon run dry.
    let input = data.iter().copied().chain([0xFFu8; 2]);
    let result = fax::decoder::decode_g4(input, width, Some(rows), |transitions| {
        Bitmap::set_row_from_transitions(out.row_mut(y), width, transitions);
        y += 1;
    });
    if result.is_none() {
        return Err(format!("G4 data is corrupt or truncated at row {y}"));
    }
    Ok(())
}

/// What the T.4 data of a strip looks like.
#[derive(Clone, Copy, Debug)]
pub(crate) struct G3Options {
    /// Lines may be 2D-coded (T4Options bit 0): each EOL is followed by a 1D/2D tag bit.
    pub two_d: bool,
    /// TIFF compression 2 (Modified Huffman): 1D, no EOLs, every row starts on a byte.
    pub byte_aligned_rows: bool,
}

/// Decodes a G3 strip of at most `rows` rows into `out` starting at row `first_row`.
///
/// Rows missing after an RTC or the end of the data stay white, as libtiff does.
pub(crate) fn decode_g3(
    data: &[u8],
    out: &mut Bitmap,
    first_row: u32,
    rows: u32,
    options: G3Options,
) -> Result<(), String> {
    let width = out.width;
    let mut bits = SliceBits::new(data);
    let mut reference: Vec<u32> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    for r in 0..rows {
        let row = first_row + r;
        if options.byte_aligned_rows {
            if r > 0 {
                bits.align();
            }
        } else {
            match bits.eol() {
                Eol::Found => {
                    // An EOL straight after an EOL (and its tag bit) is an RTC: the page ends.
                    let mark = bits.pos;
                    if options.two_d {
                        bits.skip(1);
                    }
                    if bits.eol() == Eol::Found || bits.exhausted() {
                        break;
                    }
                    bits.pos = mark;
                }
                Eol::Absent => {}
                Eol::End => break,
                Eol::Corrupt => {
                    return Err(format!("G3 data has a malformed EOL before row {row}"))
                }
            }
        }
        if bits.exhausted() {
            break;
        }
        let one_d = if options.two_d {
            bits.take_bit()
                .ok_or_else(|| format!("G3 data ends in the tag bit of row {row}"))?
        } else {
            true
        };
        let decoded = if one_d {
            decode_1d(&mut bits, width, &mut current)
        } else {
            decode_2d(&mut bits, width, &reference, &mut current)
        };
        decoded.ok_or_else(|| format!("G3 data is corrupt at row {row}"))?;
        Bitmap::set_row_from_transitions(out.row_mut(row), width, &current);
        std::mem::swap(&mut reference, &mut current);
    }
    Ok(())
}

/// Appends a colour change, keeping the list strictly increasing: two changes at the same
/// position cancel out (a zero-length run).
fn push_change(list: &mut Vec<u32>, pos: u32, width: u32) {
    if pos >= width {
        return;
    }
    if list.last() == Some(&pos) {
        list.pop();
    } else {
        list.push(pos);
    }
}

/// One run length: make-up codes then a terminating code.
fn run(bits: &mut SliceBits<'_>, is_black: bool, width: u32) -> Option<u32> {
    let mut sum = 0u32;
    loop {
        let n = if is_black {
            black::decode(bits)?
        } else {
            white::decode(bits)?
        };
        sum = sum.checked_add(u32::from(n))?;
        if sum > width {
            return None;
        }
        if n < 64 {
            return Some(sum);
        }
    }
}

fn decode_1d(bits: &mut SliceBits<'_>, width: u32, out: &mut Vec<u32>) -> Option<()> {
    out.clear();
    let mut a0 = 0u32;
    let mut is_black = false;
    while a0 < width {
        a0 = a0.checked_add(run(bits, is_black, width)?)?;
        if a0 > width {
            return None;
        }
        push_change(out, a0, width);
        is_black = !is_black;
    }
    Some(())
}

/// One two-dimensionally coded (MR) line against `reference`.
fn decode_2d(
    bits: &mut SliceBits<'_>,
    width: u32,
    reference: &[u32],
    out: &mut Vec<u32>,
) -> Option<()> {
    out.clear();
    let w = i64::from(width);
    // a0 starts on an imaginary white pixel before the line.
    let mut a0: i64 = -1;
    let mut is_black = false;
    while a0 < w {
        let m = mode::decode(bits)?;
        // b1: first change on the reference line right of a0 to the colour opposite a0's;
        // changes at even indexes turn black, odd ones turn white.
        let mut i = reference.partition_point(|&t| i64::from(t) <= a0);
        if (i % 2 == 1) != is_black {
            i += 1;
        }
        let b1 = reference.get(i).map_or(w, |&t| i64::from(t));
        let b2 = reference.get(i + 1).map_or(w, |&t| i64::from(t));
        match m {
            Mode::Pass => a0 = b2,
            Mode::Vertical(d) => {
                let a1 = b1 + i64::from(d);
                if a1 < a0.max(0) || a1 > w {
                    return None;
                }
                push_change(out, u32::try_from(a1).ok()?, width);
                a0 = a1;
                is_black = !is_black;
            }
            Mode::Horizontal => {
                let start = a0.max(0);
                let a1 = start + i64::from(run(bits, is_black, width)?);
                let a2 = a1 + i64::from(run(bits, !is_black, width)?);
                if a2 > w {
                    return None;
                }
                push_change(out, u32::try_from(a1).ok()?, width);
                push_change(out, u32::try_from(a2).ok()?, width);
                a0 = a2;
            }
            Mode::Extension | Mode::EOF => return None,
        }
    }
    Some(())
}

#[derive(Debug, PartialEq, Eq)]
enum Eol {
    /// Fill bits and an EOL were consumed.
    Found,
    /// The next bits are line data.
    Absent,
    /// Only zero bits (or nothing) remain.
    End,
    /// 8 to 10 zero bits then a one: neither code nor EOL.
    Corrupt,
}

/// Bit reader over a slice, MSB first; reads past the end see zeros but `peek` refuses to start
/// past the end, so every decoding loop terminates.
struct SliceBits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> SliceBits<'a> {
    fn new(data: &'a [u8]) -> Self {
        SliceBits { data, pos: 0 }
    }

    fn total(&self) -> usize {
        self.data.len() * 8
    }

    fn exhausted(&self) -> bool {
        self.pos >= self.total()
    }

    fn bit(&self, pos: usize) -> Option<bool> {
        self.data
            .get(pos >> 3)
            .map(|b| b & (0x80 >> (pos & 7)) != 0)
    }

    fn take_bit(&mut self) -> Option<bool> {
        let b = self.bit(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn skip(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.total());
    }

    fn align(&mut self) {
        self.pos = self.pos.div_ceil(8).saturating_mul(8).min(self.total());
    }

    /// Consumes fill bits and an EOL if they come next.
    fn eol(&mut self) -> Eol {
        let mut p = self.pos;
        // Whole zero bytes first: fill can be long, and byte steps keep this cheap.
        while p & 7 != 0 && self.bit(p) == Some(false) {
            p += 1;
        }
        while p & 7 == 0 && self.data.get(p >> 3) == Some(&0) {
            p += 8;
        }
        loop {
            match self.bit(p) {
                Some(false) => p += 1,
                Some(true) => break,
                None => {
                    self.pos = self.total();
                    return Eol::End;
                }
            }
        }
        let zeros = p - self.pos;
        if zeros >= 11 {
            self.pos = p + 1;
            Eol::Found
        } else if zeros < 8 {
            // No run-length code has more than 7 leading zeros; this is line data.
            Eol::Absent
        } else {
            Eol::Corrupt
        }
    }
}

impl BitReader for SliceBits<'_> {
    type Error = ();

    fn peek(&self, bits: u8) -> Option<u16> {
        if bits > 16 || self.exhausted() {
            return None;
        }
        if bits == 0 {
            return Some(0);
        }
        let byte = self.pos >> 3;
        let word = (0..3).fold(0u32, |acc, i| {
            (acc << 8) | u32::from(self.data.get(byte + i).copied().unwrap_or(0))
        });
        let shift = 24 - (self.pos & 7) as u32 - u32::from(bits);
        Some(((word >> shift) & ((1u32 << bits) - 1)) as u16)
    }

    fn consume(&mut self, bits: u8) -> Result<(), ()> {
        self.skip(usize::from(bits));
        Ok(())
    }

    fn bits_to_byte_boundary(&self) -> u8 {
        ((8 - (self.pos & 7)) & 7) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bitmap {
        let mut b = Bitmap::new(100, 7);
        for y in 0..7 {
            for x in 0..100 {
                b.set(x, y, (x * 7 + y * 13) % 11 < 4 || x == 99);
            }
        }
        b
    }

    #[test]
    fn g4_round_trip() {
        let b = sample();
        let enc = encode_g4(&b);
        let mut out = Bitmap::new(100, 7);
        decode_g4(&enc, &mut out, 0, 7).unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn g4_truncated_is_an_error() {
        let b = sample();
        let enc = encode_g4(&b);
        let mut out = Bitmap::new(100, 7);
        assert!(decode_g4(&enc[..enc.len() / 3], &mut out, 0, 7).is_err());
    }

    #[test]
    fn g3_peek_pads_with_zeros() {
        let bits = SliceBits {
            data: &[0b1010_0000],
            pos: 4,
        };
        assert_eq!(bits.peek(8), Some(0));
        let bits = SliceBits {
            data: &[0b1010_0000],
            pos: 8,
        };
        assert_eq!(bits.peek(1), None);
    }
}
