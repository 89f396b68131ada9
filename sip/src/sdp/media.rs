//! Typed reading of media sections: codecs from `rtpmap`/`fmtp` and the static payload
//! types (RFC 3551 §6), `ptime`/`maxptime` and direction (RFC 4566 §6), T.38 parameters.

use super::session::{Attribute, MediaDescription, SessionDescription};
use super::t38::T38Params;

/// Media direction (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `sendrecv` (the default).
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer gives to an offered one (sendonly ↔ recvonly).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    /// The direction named by the first direction attribute in `attrs`, if any.
    pub fn from_attributes(attrs: &[Attribute]) -> Option<Direction> {
        attrs.iter().find_map(|a| {
            let n = a.name.as_str();
            [
                Direction::SendRecv,
                Direction::SendOnly,
                Direction::RecvOnly,
                Direction::Inactive,
            ]
            .into_iter()
            .find(|d| n.eq_ignore_ascii_case(d.as_str()))
        })
    }
}

/// One RTP payload format of an audio section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Payload type number.
    pub payload_type: u8,
    /// Encoding name as received (`PCMU`, `telephone-event`, …).
    pub name: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count, if given.
    pub channels: Option<u8>,
    /// The `fmtp` value, if any.
    pub fmtp: Option<String>,
}

impl Codec {
    /// True when this is `name` at 8 kHz (names compare case-insensitively).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name) && self.clock_rate == 8000
    }
}

/// RFC 3551 §6 static payload types that a telephony peer may list without `rtpmap`.
fn static_payload(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        _ => return None,
    })
}

fn payload_attr<'a>(m: &'a MediaDescription, name: &str, pt: &str) -> Option<&'a str> {
    m.attributes
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case(name))
        .filter_map(|a| a.value.as_deref())
        .find_map(|v| {
            let (p, rest) = v.split_once([' ', '\t'])?;
            (p == pt).then(|| rest.trim())
        })
}

impl MediaDescription {
    /// The payload formats in offer order, resolved through `rtpmap` or the static table;
    /// formats that are neither are skipped.
    pub fn codecs(&self) -> Vec<Codec> {
        self.formats
            .iter()
            .filter_map(|f| {
                let pt: u8 = f.parse().ok().filter(|p| *p < 128)?;
                let (name, rate, channels) = match payload_attr(self, "rtpmap", f) {
                    Some(map) => {
                        let mut parts = map.split('/');
                        let name = parts.next()?.to_owned();
                        let rate = parts.next()?.trim().parse().ok()?;
                        let channels = parts.next().and_then(|c| c.trim().parse().ok());
                        (name, rate, channels)
                    }
                    None => {
                        let (n, r) = static_payload(pt)?;
                        (n.to_owned(), r, None)
                    }
                };
                Some(Codec {
                    payload_type: pt,
                    name,
                    clock_rate: rate,
                    channels,
                    fmtp: payload_attr(self, "fmtp", f).map(str::to_owned),
                })
            })
            .collect()
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attribute_value("ptime")?.trim().parse().ok()
    }

    /// `a=maxptime` in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        self.attribute_value("maxptime")?.trim().parse().ok()
    }

    /// The explicit direction of this section, if any.
    pub fn direction(&self) -> Option<Direction> {
        Direction::from_attributes(&self.attributes)
    }

    /// The T.38 parameters of this section.
    pub fn t38(&self) -> T38Params {
        T38Params::from_attributes(&self.attributes)
    }

    /// True for `m=image <port> udptl t38`.
    pub fn is_udptl_t38(&self) -> bool {
        self.media.eq_ignore_ascii_case("image")
            && self.proto.eq_ignore_ascii_case("udptl")
            && self.formats.iter().any(|f| f.eq_ignore_ascii_case("t38"))
    }

    /// True for `m=audio <port> RTP/AVP …`.
    pub fn is_rtp_avp_audio(&self) -> bool {
        self.media.eq_ignore_ascii_case("audio") && self.proto.eq_ignore_ascii_case("RTP/AVP")
    }
}

impl SessionDescription {
    /// The effective direction of section `m`: its own, else the session's, else sendrecv.
    pub fn direction_of(&self, m: &MediaDescription) -> Direction {
        m.direction()
            .or_else(|| Direction::from_attributes(&self.attributes))
            .unwrap_or(Direction::SendRecv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_resolve_static_and_mapped_types() {
        let sd = SessionDescription::parse(
            b"v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 8 103 102 99\r\n\
              a=rtpmap:103 G726-32/8000\r\na=rtpmap:102 telephone-event/8000/1\r\na=fmtp:102 0-15\r\n\
              a=ptime:30\r\na=sendonly\r\n",
        )
        .unwrap();
        let m = &sd.media[0];
        let c = m.codecs();
        assert_eq!(c.len(), 3, "99 has no rtpmap and is not static");
        assert!(c[0].is("pcma"));
        assert_eq!(c[1].name, "G726-32");
        assert_eq!(
            (c[2].channels, c[2].fmtp.as_deref()),
            (Some(1), Some("0-15"))
        );
        assert_eq!(m.ptime(), Some(30));
        assert_eq!(sd.direction_of(m), Direction::SendOnly);
        assert_eq!(Direction::SendOnly.answer(), Direction::RecvOnly);
    }
}
