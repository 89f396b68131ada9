//! What our side can do and is willing to accept: the inputs of the offer/answer in
//! [`LocalSdp`](super::LocalSdp).

use std::net::IpAddr;

use super::t38::UdpEc;

/// A G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711 {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl G711 {
    /// The static payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// The encoding name.
    pub fn name(self) -> &'static str {
        match self {
            G711::Pcmu => "PCMU",
            G711::Pcma => "PCMA",
        }
    }
}

/// What our T.38 stack can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct T38Capabilities {
    /// Highest `T38FaxVersion` we speak.
    pub max_version: u8,
    /// Highest fax rate in bit/s.
    pub max_bit_rate: u32,
    /// Our `T38FaxMaxBuffer` in bytes.
    pub max_buffer: u32,
    /// Our `T38FaxMaxDatagram`: the largest UDPTL payload we accept.
    pub max_datagram: u32,
    /// Error correction schemes we handle, in order of preference.
    pub error_correction: Vec<UdpEc>,
    /// Whether we accept fill-bit removal.
    pub fill_bit_removal: bool,
}

impl Default for T38Capabilities {
    /// Version 0, 14400 bit/s, 2000-byte buffer, 400-byte datagrams, redundancy or FEC:
    /// the values most carriers and FreeSWITCH use.
    fn default() -> Self {
        T38Capabilities {
            max_version: 0,
            max_bit_rate: 14400,
            max_buffer: 2000,
            max_datagram: 400,
            error_correction: vec![UdpEc::Redundancy, UdpEc::Fec],
            fill_bit_removal: false,
        }
    }
}

/// Our side of a negotiation: addresses, ports and formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The address we advertise in `o=` and `c=` (may be an external one).
    pub address: IpAddr,
    /// Our RTP port.
    pub audio_port: u16,
    /// Our UDPTL port.
    pub image_port: u16,
    /// G.711 laws we accept, in order of preference for our offers.
    pub codecs: Vec<G711>,
    /// Payload type for RFC 4733 telephone-event in our offers; `None` disables it.
    pub telephone_event: Option<u8>,
    /// The packetization time we want to receive, in ms.
    pub ptime: u32,
    /// T.38 abilities.
    pub t38: T38Capabilities,
}

impl Capabilities {
    /// PCMU and PCMA, telephone-event on 101, 20 ms, default T.38 abilities.
    pub fn new(address: IpAddr, audio_port: u16, image_port: u16) -> Self {
        Capabilities {
            address,
            audio_port,
            image_port,
            codecs: vec![G711::Pcmu, G711::Pcma],
            telephone_event: Some(101),
            ptime: 20,
            t38: T38Capabilities::default(),
        }
    }
}

/// Which stream wins when an offer holds both audio and T.38.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// Answer the audio stream.
    Audio,
    /// Answer the T.38 stream.
    Image,
}

/// What the call is willing to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Accept G.711 audio.
    pub accept_audio: bool,
    /// Accept T.38 over UDPTL.
    pub accept_t38: bool,
    /// The winner when both are offered.
    pub prefer: Preference,
}

impl Default for Policy {
    /// Accept both, prefer T.38 when both are offered.
    fn default() -> Self {
        Policy {
            accept_audio: true,
            accept_t38: true,
            prefer: Preference::Image,
        }
    }
}
