//! The length of a T.38 IFP packet (ITU-T T.38 §7, ASN.1 `IFPPacket` in Annex A), without
//! interpreting it.
//!
//! The receiver needs this for FEC: an XOR repair is as long as the longest IFP in its group,
//! and SpanDSP refuses an IFP with trailing octets, so a repaired IFP is cut to the length its
//! own encoding announces. Version 0 uses the pre-corrigendum field-type encoding (two 4-bit
//! field headers may share an octet); versions 1–3 use the corrected one.

/// Length in octets of the IFP at the start of `buf`, or `None` when it is cut short or
/// cannot be an IFP (an indicator with a data field, a fragmented field count).
pub fn ifp_len(buf: &[u8], version: u8) -> Option<usize> {
    let first = *buf.first()?;
    let data_field_present = first & 0x80 != 0;
    let is_data = first & 0x40 != 0;
    // An extension bit moves the type into a second octet (V.8/V.34/V.33 types).
    let mut pos = if first & 0x20 != 0 { 2 } else { 1 };
    if pos > buf.len() {
        return None;
    }
    if !is_data {
        return (!data_field_present).then_some(pos);
    }
    if !data_field_present {
        return Some(pos);
    }
    let count_octet = *buf.get(pos)?;
    let count = match count_octet >> 6 {
        0b00 | 0b01 => {
            pos += 1;
            usize::from(count_octet)
        }
        0b10 => {
            let low = *buf.get(pos + 1)?;
            pos += 2;
            usize::from(count_octet & 0x3F) << 8 | usize::from(low)
        }
        _ => return None,
    };
    let mut low_nibble = false;
    for _ in 0..count {
        let header = *buf.get(pos)?;
        let field_data_present = if version == 0 {
            if low_nibble {
                low_nibble = false;
                pos += 1;
                header & 0x08 != 0
            } else {
                let present = header & 0x80 != 0;
                if present {
                    pos += 1;
                } else {
                    // The next field header starts in the low half of this octet.
                    low_nibble = true;
                }
                present
            }
        } else {
            pos += if header & 0x40 != 0 { 2 } else { 1 };
            header & 0x80 != 0
        };
        if field_data_present {
            let hi = *buf.get(pos)?;
            let lo = *buf.get(pos + 1)?;
            pos += 2 + usize::from(u16::from_be_bytes([hi, lo])) + 1;
        }
        if pos > buf.len() {
            return None;
        }
    }
    if low_nibble {
        pos += 1;
    }
    (pos <= buf.len()).then_some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicators_are_one_or_two_octets() {
        assert_eq!(ifp_len(&[0x02, 0, 0], 0), Some(1), "CNG");
        assert_eq!(ifp_len(&[0x22, 0x40], 3), Some(2), "extended indicator");
        assert_eq!(ifp_len(&[0x82], 0), None, "indicator with a data field");
        assert_eq!(ifp_len(&[], 0), None);
    }

    #[test]
    fn data_packets_are_measured_in_both_versions() {
        // V.21 HDLC data, one field with 1 octet of data: c0 01 | 80 00 00 | ff.
        let v0 = [0xC0, 0x01, 0x80, 0x00, 0x00, 0xFF, 0, 0, 0];
        assert_eq!(ifp_len(&v0, 0), Some(6));
        // Two fields in version 0: hdlc-sig-end without data shares an octet with the next
        // header (hdlc-fcs-ok, no data): c0 02 | 0x?? one octet for both.
        assert_eq!(ifp_len(&[0xC0, 0x02, 0x23, 0, 0], 0), Some(3));
        // Version 3: each field header is its own octet.
        assert_eq!(ifp_len(&[0xC0, 0x02, 0x10, 0x18, 0, 0], 3), Some(4));
        assert_eq!(ifp_len(&v0[..5], 0), None, "cut short");
    }
}
