//! The RFC 3264 offer/answer model for a fax endpoint: one G.711 audio stream or one T.38
//! UDPTL stream is accepted, every other stream is answered with port 0 (§6), and when
//! nothing is acceptable the result is a 488 — never an answer with no usable stream.
//!
//! T.38 parameters follow ITU-T T.38 Annex D.2.3: the answer carries the lower
//! `T38FaxVersion` and `T38MaxBitRate`, the offer's rate management, our own buffer and
//! datagram limits, and the offered error correction or a weaker one we support
//! (FEC → redundancy → none). The far end's `T38FaxMaxDatagram` is reported so that the
//! sender never exceeds it.
//!
//! [`LocalSdp`] owns our `o=` line: the version goes up only when the content of what we
//! send changes (RFC 3264 §8), so a session-refresh re-offer gets byte-identical SDP back.

use std::net::{IpAddr, SocketAddr};

use super::capabilities::{Capabilities, Policy, Preference, G711};

use super::media::{Codec, Direction};
use super::session::{Attribute, Connection, MediaDescription, Origin, SessionDescription, Timing};
use super::t38::{RateManagement, T38Params, UdpEc};
use crate::msg::StatusCode;

/// An agreed G.711 stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSession {
    /// Where to send RTP (`None` when the SDP held no usable IP address).
    pub remote: Option<SocketAddr>,
    /// The law.
    pub codec: G711,
    /// Its payload type on this stream.
    pub payload_type: u8,
    /// Payload type of telephone-event, if both sides use it.
    pub telephone_event: Option<u8>,
    /// Packetization time to send with: the far end's `ptime`, else 20 ms.
    pub ptime: u32,
    /// Our direction on the stream.
    pub direction: Direction,
}

/// An agreed T.38 UDPTL stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct T38Session {
    /// Where to send UDPTL (`None` when the SDP held no usable IP address).
    pub remote: Option<SocketAddr>,
    /// The agreed `T38FaxVersion`.
    pub version: u8,
    /// The agreed maximum rate in bit/s.
    pub max_bit_rate: u32,
    /// The agreed rate management.
    pub rate_management: RateManagement,
    /// The agreed error correction.
    pub udp_ec: UdpEc,
    /// Whether fill bits may be removed.
    pub fill_bit_removal: bool,
    /// The far end's `T38FaxMaxDatagram`: never send a larger UDPTL payload.
    pub remote_max_datagram: Option<u32>,
    /// The far end's `T38FaxMaxBuffer`.
    pub remote_max_buffer: Option<u32>,
}

/// The one stream a negotiation settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agreed {
    /// G.711 audio.
    Audio(AudioSession),
    /// T.38 over UDPTL.
    T38(T38Session),
}

/// A 488 Not Acceptable Here, with the RFC 3261 §20.43 warning code that says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAcceptable {
    /// Warning code: 302, 304 or 305.
    pub warning: u16,
    /// Warning text.
    pub text: &'static str,
}

impl NotAcceptable {
    const TRANSPORT: NotAcceptable = NotAcceptable {
        warning: 302,
        text: "Incompatible transport protocol",
    };
    const MEDIA_TYPE: NotAcceptable = NotAcceptable {
        warning: 304,
        text: "Media type not available",
    };
    const FORMAT: NotAcceptable = NotAcceptable {
        warning: 305,
        text: "Incompatible media format",
    };

    /// Always 488.
    pub fn status(&self) -> StatusCode {
        StatusCode::NOT_ACCEPTABLE_HERE
    }

    /// A Warning header value: `304 <agent> "Media type not available"`.
    pub fn warning_value(&self, agent: &str) -> String {
        format!("{} {agent} \"{}\"", self.warning, self.text)
    }
}

/// An answer to send and what it agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The SDP to send.
    pub sdp: SessionDescription,
    /// The accepted stream.
    pub agreed: Agreed,
}

/// Which streams an offer of ours carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferMedia {
    /// G.711 only.
    Audio,
    /// T.38 only (the usual re-INVITE to fax).
    T38,
    /// Both, audio first.
    AudioAndT38,
}

/// Our session description across a call: `o=` identity and version, and the last SDP sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSdp {
    session_id: u64,
    version: u64,
    last: Option<SessionDescription>,
}

fn remote_addr(sd: &SessionDescription, m: &MediaDescription) -> Option<SocketAddr> {
    let ip = sd.connection_for(m).and_then(Connection::ip)?;
    Some(SocketAddr::new(ip, m.port))
}

fn rejected(m: &MediaDescription) -> MediaDescription {
    let mut r = MediaDescription::new(&m.media, 0, &m.proto);
    r.formats = m.formats.clone();
    r
}

fn audio_section(
    port: u16,
    codecs: &[(u8, &str)],
    te: Option<(u8, &str)>,
    ptime: u32,
    dir: Direction,
) -> MediaDescription {
    let mut m = MediaDescription::new("audio", port, "RTP/AVP");
    for &(pt, name) in codecs {
        m.formats.push(pt.to_string());
        m.attributes
            .push(Attribute::new("rtpmap", format!("{pt} {name}/8000")));
    }
    if let Some((pt, events)) = te {
        m.formats.push(pt.to_string());
        m.attributes.push(Attribute::new(
            "rtpmap",
            format!("{pt} telephone-event/8000"),
        ));
        m.attributes
            .push(Attribute::new("fmtp", format!("{pt} {events}")));
    }
    m.attributes
        .push(Attribute::new("ptime", ptime.to_string()));
    m.attributes.push(Attribute::flag(dir.as_str()));
    m
}

fn image_section(port: u16, params: &T38Params, dir: Option<Direction>) -> MediaDescription {
    let mut m = MediaDescription::new("image", port, "udptl");
    m.formats.push("t38".into());
    m.attributes = params.to_attributes();
    if let Some(d) = dir {
        m.attributes.push(Attribute::flag(d.as_str()));
    }
    m
}

/// The weakest-first fallback of T.38 Annex D: keep the offered scheme if we can, else
/// degrade.
fn choose_ec(offered: Option<UdpEc>, ours: &[UdpEc]) -> Option<UdpEc> {
    let offered = offered?;
    let chain: &[UdpEc] = match offered {
        UdpEc::Fec => &[UdpEc::Fec, UdpEc::Redundancy],
        UdpEc::Redundancy => &[UdpEc::Redundancy],
        UdpEc::None => &[],
    };
    Some(
        chain
            .iter()
            .copied()
            .find(|e| ours.contains(e))
            .unwrap_or(UdpEc::None),
    )
}

impl LocalSdp {
    /// A description with this `o=` session id and first version.
    pub fn new(session_id: u64, first_version: u64) -> Self {
        LocalSdp {
            session_id,
            version: first_version,
            last: None,
        }
    }

    /// The current `o=` version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Answers a remote offer, or says why it must be refused with 488. A refusal leaves the
    /// state unchanged.
    pub fn answer(
        &mut self,
        offer: &SessionDescription,
        caps: &Capabilities,
        policy: &Policy,
    ) -> Result<Answer, NotAcceptable> {
        let mut audio: Option<(usize, Codec, Option<Codec>)> = None;
        let mut image: Option<usize> = None;
        let mut why = NotAcceptable::MEDIA_TYPE;
        for (i, m) in offer.media.iter().enumerate() {
            if m.port == 0 {
                continue;
            }
            if m.is_rtp_avp_audio() && policy.accept_audio && audio.is_none() {
                let codecs = m.codecs();
                match codecs
                    .iter()
                    .find(|c| caps.codecs.iter().any(|g| c.is(g.name())))
                {
                    Some(c) => {
                        let te = caps
                            .telephone_event
                            .and_then(|_| codecs.iter().find(|c| c.is("telephone-event")).cloned());
                        audio = Some((i, c.clone(), te));
                    }
                    None => why = NotAcceptable::FORMAT,
                }
            } else if m.is_udptl_t38() && policy.accept_t38 && image.is_none() {
                image = Some(i);
            } else if (m.media.eq_ignore_ascii_case("audio") && policy.accept_audio)
                || (m.media.eq_ignore_ascii_case("image") && policy.accept_t38)
            {
                why = NotAcceptable::TRANSPORT;
            }
        }
        let use_image = match (&audio, image) {
            (None, None) => return Err(why),
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(_), Some(_)) => policy.prefer == Preference::Image,
        };
        let mut sections = Vec::with_capacity(offer.media.len());
        let mut agreed = None;
        for (i, m) in offer.media.iter().enumerate() {
            match &audio {
                Some((ai, codec, te)) if !use_image && *ai == i => {
                    let (section, session) = answer_audio(offer, m, codec, te.as_ref(), caps);
                    sections.push(section);
                    agreed = Some(Agreed::Audio(session));
                    continue;
                }
                _ => {}
            }
            if use_image && image == Some(i) {
                let (section, session) = answer_t38(offer, m, caps);
                sections.push(section);
                agreed = Some(Agreed::T38(session));
                continue;
            }
            sections.push(rejected(m));
        }
        let agreed = agreed.ok_or(why)?;
        Ok(Answer {
            sdp: self.finish(caps.address, sections),
            agreed,
        })
    }

    /// Builds an offer of ours (initial INVITE, re-INVITE to T.38 or back to audio, or a
    /// session refresh, which gets the same bytes as before).
    pub fn offer(&mut self, caps: &Capabilities, what: OfferMedia) -> SessionDescription {
        let mut sections = Vec::new();
        if matches!(what, OfferMedia::Audio | OfferMedia::AudioAndT38) {
            let codecs: Vec<(u8, &str)> = caps
                .codecs
                .iter()
                .map(|g| (g.payload_type(), g.name()))
                .collect();
            let te = caps.telephone_event.map(|pt| (pt, "0-15"));
            sections.push(audio_section(
                caps.audio_port,
                &codecs,
                te,
                caps.ptime,
                Direction::SendRecv,
            ));
        }
        if matches!(what, OfferMedia::T38 | OfferMedia::AudioAndT38) {
            let t = &caps.t38;
            let params = T38Params {
                version: t.max_version,
                max_bit_rate: Some(t.max_bit_rate),
                fill_bit_removal: t.fill_bit_removal,
                rate_management: Some(RateManagement::TransferredTcf),
                max_buffer: Some(t.max_buffer),
                max_datagram: Some(t.max_datagram),
                udp_ec: t.error_correction.first().copied(),
                ..T38Params::default()
            };
            sections.push(image_section(caps.image_port, &params, None));
        }
        self.finish(caps.address, sections)
    }

    /// Wraps media sections in our session section, keeping the `o=` version when nothing
    /// else changed since the last description and bumping it otherwise.
    fn finish(&mut self, address: IpAddr, media: Vec<MediaDescription>) -> SessionDescription {
        let conn = Connection::for_ip(address);
        let mut sd = SessionDescription {
            origin: Origin {
                username: "faxserver".into(),
                session_id: self.session_id.to_string(),
                session_version: self.version.to_string(),
                net_type: conn.net_type.clone(),
                addr_type: conn.addr_type.clone(),
                address: conn.address.clone(),
            },
            session_name: "faxserver".into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: Some(conn),
            bandwidths: Vec::new(),
            times: vec![Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            }],
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media,
        };
        if let Some(last) = &self.last {
            if *last == sd {
                return sd;
            }
            self.version = self.version.wrapping_add(1);
            sd.origin.session_version = self.version.to_string();
        }
        self.last = Some(sd.clone());
        sd
    }
}

fn answer_audio(
    offer: &SessionDescription,
    m: &MediaDescription,
    codec: &Codec,
    te: Option<&Codec>,
    caps: &Capabilities,
) -> (MediaDescription, AudioSession) {
    let law = if codec.is("PCMA") {
        G711::Pcma
    } else {
        G711::Pcmu
    };
    let dir = offer.direction_of(m).answer();
    let events = te.map(|t| (t.payload_type, t.fmtp.as_deref().unwrap_or("0-15")));
    let section = audio_section(
        caps.audio_port,
        &[(codec.payload_type, law.name())],
        events,
        caps.ptime,
        dir,
    );
    let session = AudioSession {
        remote: remote_addr(offer, m),
        codec: law,
        payload_type: codec.payload_type,
        telephone_event: te.map(|t| t.payload_type),
        ptime: m.ptime().filter(|p| (10..=60).contains(p)).unwrap_or(20),
        direction: dir,
    };
    (section, session)
}

fn answer_t38(
    offer: &SessionDescription,
    m: &MediaDescription,
    caps: &Capabilities,
) -> (MediaDescription, T38Session) {
    let o = m.t38();
    let t = &caps.t38;
    let rate = o.max_bit_rate.unwrap_or(t.max_bit_rate).min(t.max_bit_rate);
    let params = T38Params {
        version: o.version.min(t.max_version),
        max_bit_rate: Some(rate),
        fill_bit_removal: o.fill_bit_removal && t.fill_bit_removal,
        transcoding_mmr: false,
        transcoding_jbig: false,
        rate_management: Some(o.rate_management.unwrap_or(RateManagement::TransferredTcf)),
        max_buffer: Some(t.max_buffer),
        max_datagram: Some(t.max_datagram),
        max_ifp: None,
        udp_ec: choose_ec(o.udp_ec, &t.error_correction),
    };
    let dir = m.direction().map(Direction::answer);
    let session = T38Session {
        remote: remote_addr(offer, m),
        version: params.version,
        max_bit_rate: rate,
        rate_management: params
            .rate_management
            .unwrap_or(RateManagement::TransferredTcf),
        udp_ec: params.udp_ec.unwrap_or(UdpEc::None),
        fill_bit_removal: params.fill_bit_removal,
        remote_max_datagram: o.max_datagram,
        remote_max_buffer: o.max_buffer,
    };
    (image_section(caps.image_port, &params, dir), session)
}

/// Reads the far end's answer to an offer of ours: the stream it accepted (T.38 wins if it
/// accepted both), or `Err` when it accepted nothing we can use — treat that like a 488.
pub fn accept_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
    caps: &Capabilities,
) -> Result<Agreed, NotAcceptable> {
    if answer.media.len() != offer.media.len() {
        return Err(NotAcceptable::MEDIA_TYPE);
    }
    let mut audio = None;
    for (o, a) in offer.media.iter().zip(&answer.media) {
        if a.port == 0 {
            continue;
        }
        if o.is_udptl_t38() && a.is_udptl_t38() {
            let p = a.t38();
            let t = &caps.t38;
            let rate = p.max_bit_rate.unwrap_or(t.max_bit_rate).min(t.max_bit_rate);
            return Ok(Agreed::T38(T38Session {
                remote: remote_addr(answer, a),
                version: p.version.min(t.max_version),
                max_bit_rate: rate,
                rate_management: p.rate_management.unwrap_or(RateManagement::TransferredTcf),
                udp_ec: p.udp_ec.unwrap_or(UdpEc::None),
                fill_bit_removal: p.fill_bit_removal && t.fill_bit_removal,
                remote_max_datagram: p.max_datagram,
                remote_max_buffer: p.max_buffer,
            }));
        }
        if o.is_rtp_avp_audio() && a.is_rtp_avp_audio() && audio.is_none() {
            let codecs = a.codecs();
            let Some(c) = codecs
                .iter()
                .find(|c| caps.codecs.iter().any(|g| c.is(g.name())))
            else {
                continue;
            };
            audio = Some(AudioSession {
                remote: remote_addr(answer, a),
                codec: if c.is("PCMA") { G711::Pcma } else { G711::Pcmu },
                payload_type: c.payload_type,
                telephone_event: codecs
                    .iter()
                    .find(|c| c.is("telephone-event"))
                    .map(|c| c.payload_type),
                ptime: a.ptime().filter(|p| (10..=60).contains(p)).unwrap_or(20),
                direction: answer.direction_of(a),
            });
        }
    }
    audio.map(Agreed::Audio).ok_or(NotAcceptable::MEDIA_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_correction_degrades() {
        let both = [UdpEc::Redundancy, UdpEc::Fec];
        assert_eq!(choose_ec(Some(UdpEc::Fec), &both), Some(UdpEc::Fec));
        assert_eq!(
            choose_ec(Some(UdpEc::Fec), &[UdpEc::Redundancy]),
            Some(UdpEc::Redundancy)
        );
        assert_eq!(choose_ec(Some(UdpEc::Redundancy), &[]), Some(UdpEc::None));
        assert_eq!(choose_ec(None, &both), None);
    }
}
