//! Parity FEC for UDPTL (ITU-T T.38 §9.1.5, `fec-info`).
//!
//! T.38 leaves the grouping to implementations; we use the interleaved layout that SpanDSP's
//! and Asterisk's UDPTL use, so we interoperate with them. A packet numbered `s` carrying
//! `entries` messages with `fec-npackets = span` has message `m` (0-based) equal to the XOR of
//! the `span` IFPs numbered
//!
//! ```text
//! s + m - span·entries,  s + m - (span-1)·entries,  …,  s + m - entries
//! ```
//!
//! so each message covers every `entries`-th IFP, and consecutive packets repeat each group
//! from a different position. A burst of up to `entries` lost packets is then repaired from the
//! next packet alone, and one group is repairable whenever exactly one of its IFPs is missing.
//! Shorter IFPs count as zero-padded; the repaired IFP's true length is found by parsing it
//! (see [`super::ifp::ifp_len`]), since FEC does not carry lengths.

use std::collections::VecDeque;

/// Offsets (all negative) from the carrying packet of the IFPs FEC message `m` covers.
pub(crate) fn covered_offsets(m: usize, span: usize, entries: usize) -> impl Iterator<Item = i64> {
    let window = (span * entries) as i64;
    (0..span).map(move |k| m as i64 - window + (k * entries) as i64)
}

/// The sequence numbers that FEC message `m` of packet `seq` covers, oldest first.
pub fn covered_seqs(seq: u16, m: usize, span: u8, entries: usize) -> Vec<u16> {
    covered_offsets(m, usize::from(span), entries)
        .map(|o| seq.wrapping_add(o as u16))
        .collect()
}

/// XOR of `ifps`, as long as the longest; shorter ones count as zero-padded.
pub fn xor_all<'a>(ifps: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    for ifp in ifps {
        xor_into(&mut out, ifp);
    }
    out
}

/// XORs `ifp` into `acc`, growing `acc` when `ifp` is longer.
pub(crate) fn xor_into(acc: &mut Vec<u8>, ifp: &[u8]) {
    if acc.len() < ifp.len() {
        acc.resize(ifp.len(), 0);
    }
    for (a, b) in acc.iter_mut().zip(ifp) {
        *a ^= b;
    }
}

/// The FEC messages for the next packet, given the IFPs sent before it (oldest first).
///
/// While fewer than `span·entries` IFPs have been sent, fewer messages are built (as many
/// whole groups as exist), so no message refers to an IFP from before the stream began.
pub(crate) fn build(history: &VecDeque<Vec<u8>>, span: u8, entries: usize) -> Vec<Vec<u8>> {
    let span = usize::from(span);
    if span == 0 {
        return Vec::new();
    }
    let entries = entries.min(history.len() / span);
    let len = history.len() as i64;
    (0..entries)
        .map(|m| {
            xor_all(covered_offsets(m, span, entries).filter_map(|o| {
                usize::try_from(len + o)
                    .ok()
                    .and_then(|i| history.get(i))
                    .map(Vec::as_slice)
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_interleave_and_end_before_the_carrier() {
        assert_eq!(covered_seqs(100, 0, 3, 3), vec![91, 94, 97]);
        assert_eq!(covered_seqs(100, 2, 3, 3), vec![93, 96, 99]);
        assert_eq!(covered_seqs(1, 0, 2, 1), vec![65535, 0], "wraps");
    }

    #[test]
    fn xor_pads_shorter_inputs() {
        assert_eq!(
            xor_all([&[1u8, 2][..], &[1, 0, 7][..]]),
            vec![0, 2, 7],
            "longest length wins"
        );
    }

    #[test]
    fn build_winds_up_with_whole_groups() {
        let mut h = VecDeque::new();
        for i in 0..5u8 {
            h.push_back(vec![i]);
        }
        // 5 sent, span 2 → 2 whole groups with entries = 2: {1,3} and {2,4}.
        assert_eq!(build(&h, 2, 3), vec![vec![1 ^ 3], vec![2 ^ 4]]);
    }
}
