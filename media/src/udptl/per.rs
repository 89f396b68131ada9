//! The few ASN.1 PER (aligned variant, ITU-T X.691) pieces UDPTL needs: unconstrained length
//! determinants (X.691 §10.9.3.5–8, including the fragmented form) and open types (§10.2).
//!
//! Everything UDPTL carries is octet-aligned, so these work on whole bytes.

use crate::Error;

/// The largest fragment a length determinant can announce: 4 × 16K (X.691 §10.9.3.8).
const FRAGMENT_UNIT: usize = 16 * 1024;

/// What a length determinant said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    /// The whole length (fewer than 16384).
    Complete(usize),
    /// A fragment of `n` × 16K; another length determinant follows the fragment.
    Fragment(usize),
}

/// A bounds-checked cursor over a received datagram.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn malformed(reason: &'static str) -> Error {
    Error::MalformedUdptl(reason)
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        let b = *self.buf.get(self.pos).ok_or(malformed(what))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        let bytes = self.take(2, what)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(malformed(what));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Reads one length determinant (1 octet, 2 octets, or a fragment announcement).
    pub(crate) fn length(&mut self) -> Result<Length, Error> {
        let first = self.u8("truncated length")?;
        match first >> 6 {
            0b00 | 0b01 => Ok(Length::Complete(usize::from(first))),
            0b10 => {
                let second = self.u8("truncated 2-byte length")?;
                Ok(Length::Complete(
                    usize::from(first & 0x3F) << 8 | usize::from(second),
                ))
            }
            _ => match first & 0x3F {
                m @ 1..=4 => Ok(Length::Fragment(usize::from(m) * FRAGMENT_UNIT)),
                _ => Err(malformed("bad fragment multiplier")),
            },
        }
    }

    /// Reads a count (the length of a SEQUENCE OF); counts above `max` are refused.
    pub(crate) fn count(&mut self, max: usize, what: &'static str) -> Result<usize, Error> {
        match self.length()? {
            Length::Complete(n) if n <= max => Ok(n),
            // A fragmented count means at least 16K items: far beyond any limit we accept.
            _ => Err(malformed(what)),
        }
    }

    /// Reads an open type or octet string, its length possibly fragmented, without copying.
    pub(crate) fn octets(&mut self) -> Result<Octets<'a>, Error> {
        let start = self.pos;
        let mut len = 0;
        loop {
            match self.length()? {
                Length::Complete(n) => {
                    self.take(n, "open type overruns the datagram")?;
                    len += n;
                    break;
                }
                Length::Fragment(n) => {
                    self.take(n, "open type fragment overruns the datagram")?;
                    len += n;
                }
            }
        }
        Ok(Octets {
            encoded: &self.buf[start..self.pos],
            len,
        })
    }

    /// Reads `n` open types or octet strings in a row (a SEQUENCE OF's items).
    pub(crate) fn octets_list(&mut self, n: usize) -> Result<OctetsList<'a>, Error> {
        let start = self.pos;
        for _ in 0..n {
            self.octets()?;
        }
        Ok(OctetsList {
            encoded: &self.buf[start..self.pos],
            count: n,
        })
    }
}

/// The value of one open type or OCTET STRING inside a received datagram (an IFP or an FEC
/// message), checked but not copied out.
///
/// Nearly always one run of octets; from 16K octets on, PER splits a value into fragments,
/// each behind its own length determinant, so the value is read through [`Octets::chunks`].
#[derive(Debug, Clone, Copy)]
pub struct Octets<'a> {
    /// The encoding: length determinant(s) and octets, already checked to be complete.
    encoded: &'a [u8],
    len: usize,
}

impl<'a> Octets<'a> {
    /// Length of the value in octets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value as one slice, unless PER fragmented it (16K octets or more).
    pub fn as_slice(&self) -> Option<&'a [u8]> {
        let mut chunks = self.chunks();
        let first = chunks.next()?;
        chunks.next().is_none().then_some(first)
    }

    /// The value's runs of octets, in order (one, unless fragmented).
    pub fn chunks(&self) -> Chunks<'a> {
        Chunks {
            reader: Reader::new(self.encoded),
            done: false,
        }
    }

    /// Replaces what `out` holds with the value; no allocation when `out` has the room.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        out.clear();
        for chunk in self.chunks() {
            out.extend_from_slice(chunk);
        }
    }

    /// The value in a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        self.copy_to(&mut out);
        out
    }
}

/// The runs of octets of an [`Octets`] value.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    reader: Reader<'a>,
    done: bool,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        // The encoding was checked when it was read, so the errors below cannot occur; they
        // end the iteration rather than panic.
        match self.reader.length() {
            Ok(Length::Fragment(n)) => self.reader.take(n, "").ok(),
            Ok(Length::Complete(n)) => {
                self.done = true;
                self.reader.take(n, "").ok()
            }
            Err(_) => {
                self.done = true;
                None
            }
        }
    }
}

/// The items of a SEQUENCE OF open types or octet strings inside a received datagram.
#[derive(Debug, Clone, Copy)]
pub struct OctetsList<'a> {
    encoded: &'a [u8],
    count: usize,
}

impl<'a> OctetsList<'a> {
    /// How many items there are.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The items in order.
    pub fn iter(&self) -> OctetsIter<'a> {
        OctetsIter {
            reader: Reader::new(self.encoded),
            left: self.count,
        }
    }
}

impl<'a> IntoIterator for OctetsList<'a> {
    type Item = Octets<'a>;
    type IntoIter = OctetsIter<'a>;

    fn into_iter(self) -> OctetsIter<'a> {
        self.iter()
    }
}

/// Iterates the items of an [`OctetsList`].
#[derive(Debug, Clone)]
pub struct OctetsIter<'a> {
    reader: Reader<'a>,
    left: usize,
}

impl<'a> Iterator for OctetsIter<'a> {
    type Item = Octets<'a>;

    fn next(&mut self) -> Option<Octets<'a>> {
        self.left = self.left.checked_sub(1)?;
        // Checked when the list was read: an error cannot occur, and ends the iteration.
        self.reader.octets().ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Appends the length determinant of a count below 16384 (longer open types fragment; see
/// [`write_open_type`]).
pub(crate) fn write_count(out: &mut Vec<u8>, n: usize) {
    debug_assert!(n < FRAGMENT_UNIT);
    if n < 0x80 {
        out.push(n as u8);
    } else {
        out.push(0x80 | (n >> 8) as u8 & 0x3F);
        out.push(n as u8);
    }
}

/// Appends an open type (or octet string) holding `data`, fragmenting past 16K octets.
pub(crate) fn write_open_type(out: &mut Vec<u8>, data: &[u8]) {
    let mut rest = data;
    loop {
        if rest.len() < FRAGMENT_UNIT {
            write_count(out, rest.len());
            out.extend_from_slice(rest);
            return;
        }
        let units = (rest.len() / FRAGMENT_UNIT).min(4);
        out.push(0xC0 | units as u8);
        let (chunk, tail) = rest.split_at(units * FRAGMENT_UNIT);
        out.extend_from_slice(chunk);
        rest = tail;
    }
}

/// The encoded size of a length determinant for `n` (< 16384).
pub(crate) fn count_len(n: usize) -> usize {
    if n < 0x80 {
        1
    } else {
        2
    }
}

/// The encoded size of an open type holding `n` octets.
pub(crate) fn open_type_len(n: usize) -> usize {
    let mut rest = n;
    let mut size = 0;
    while rest >= FRAGMENT_UNIT {
        let chunk = (rest / FRAGMENT_UNIT).min(4) * FRAGMENT_UNIT;
        size += 1 + chunk;
        rest -= chunk;
    }
    size + count_len(rest) + rest
}

/// Appends an unconstrained non-negative INTEGER (X.691 §12.2.6): a length octet, then the
/// minimal two's-complement octets.
pub(crate) fn write_unsigned(out: &mut Vec<u8>, value: u32) {
    let n = unsigned_len(value) - 1;
    out.push(n as u8);
    out.extend_from_slice(&u64::from(value).to_be_bytes()[8 - n..]);
}

/// The encoded size of [`write_unsigned`]'s output.
pub(crate) fn unsigned_len(value: u32) -> usize {
    // The fewest octets whose two's-complement reading keeps the value non-negative.
    let octets = (1..=5)
        .find(|&n| u64::from(value) < 1u64 << (8 * n - 1))
        .unwrap_or(5);
    1 + octets
}

impl Reader<'_> {
    /// Reads an unconstrained INTEGER that must be non-negative and fit in a `u32`.
    pub(crate) fn unsigned(&mut self, what: &'static str) -> Result<u32, Error> {
        let n = match self.length()? {
            Length::Complete(n @ 1..=5) => n,
            _ => return Err(malformed(what)),
        };
        let bytes = self.take(n, what)?;
        if bytes[0] & 0x80 != 0 {
            return Err(malformed(what));
        }
        let significant = if n == 5 {
            if bytes[0] != 0 {
                return Err(malformed(what));
            }
            &bytes[1..]
        } else {
            bytes
        };
        Ok(significant
            .iter()
            .fold(0u32, |acc, &b| acc << 8 | u32::from(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_all_three_forms() {
        for n in [
            0usize, 1, 127, 128, 300, 16383, 16384, 40000, 70000, 200_000,
        ] {
            let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut out = Vec::new();
            write_open_type(&mut out, &data);
            assert_eq!(out.len(), open_type_len(n), "size of {n}");
            let mut r = Reader::new(&out);
            let octets = r.octets().unwrap();
            assert_eq!(octets.to_vec(), data, "{n}");
            assert_eq!(octets.len(), n);
            assert_eq!(octets.as_slice().is_some(), n < 16384, "{n} is one run");
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn unsigned_integers_round_trip() {
        for v in [
            0u32,
            1,
            127,
            128,
            255,
            256,
            32767,
            32768,
            0x7FFF_FFFF,
            u32::MAX,
        ] {
            let mut out = Vec::new();
            write_unsigned(&mut out, v);
            assert_eq!(out.len(), unsigned_len(v));
            assert_eq!(Reader::new(&out).unsigned("x").unwrap(), v, "{v}");
        }
        assert!(Reader::new(&[1, 0x80]).unsigned("x").is_err(), "negative");
        assert!(Reader::new(&[0]).unsigned("x").is_err(), "empty");
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert!(Reader::new(&[]).length().is_err());
        assert!(Reader::new(&[0x81]).length().is_err());
        assert!(Reader::new(&[0xC0]).length().is_err());
        assert!(Reader::new(&[0xC5]).length().is_err());
        assert_eq!(
            Reader::new(&[0xC4]).length().unwrap(),
            Length::Fragment(65536)
        );
        assert!(Reader::new(&[0x05, 1, 2]).octets().is_err());
        assert!(Reader::new(&[0xC1, 1, 2]).octets().is_err());
    }
}
