//! T.38 session parameters of an `m=image … udptl t38` section (ITU-T T.38 Annex D.2.3,
//! RFC 4612 registration of the `T38Fax*` attributes).
//!
//! Attribute names and the enumerated values match case-insensitively, because gateways send
//! `t38faxversion` as well as `T38FaxVersion`. Boolean attributes may be a bare flag or carry
//! `:0`/`:1` (Cisco writes `T38FaxFillBitRemoval:0` to mean false).

use super::session::Attribute;

/// How the training check (TCF) is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateManagement {
    /// TCF is sent through the network (`transferredTCF`, required for UDPTL).
    TransferredTcf,
    /// TCF is generated locally by each gateway (`localTCF`, for TCP).
    LocalTcf,
}

impl RateManagement {
    fn as_str(self) -> &'static str {
        match self {
            RateManagement::TransferredTcf => "transferredTCF",
            RateManagement::LocalTcf => "localTCF",
        }
    }
}

/// UDPTL error correction (`T38FaxUdpEC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpEc {
    /// `t38UDPRedundancy`.
    Redundancy,
    /// `t38UDPFEC`.
    Fec,
    /// `t38UDPNoEC`.
    None,
}

impl UdpEc {
    fn as_str(self) -> &'static str {
        match self {
            UdpEc::Redundancy => "t38UDPRedundancy",
            UdpEc::Fec => "t38UDPFEC",
            UdpEc::None => "t38UDPNoEC",
        }
    }
}

/// The T.38 parameters of one image section; absent attributes are `None`/`false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct T38Params {
    /// `T38FaxVersion` (0 when absent).
    pub version: u8,
    /// `T38MaxBitRate` in bit/s.
    pub max_bit_rate: Option<u32>,
    /// `T38FaxFillBitRemoval`.
    pub fill_bit_removal: bool,
    /// `T38FaxTranscodingMMR`.
    pub transcoding_mmr: bool,
    /// `T38FaxTranscodingJBIG`.
    pub transcoding_jbig: bool,
    /// `T38FaxRateManagement`.
    pub rate_management: Option<RateManagement>,
    /// `T38FaxMaxBuffer` in bytes.
    pub max_buffer: Option<u32>,
    /// `T38FaxMaxDatagram` in bytes: the largest UDPTL payload the announcer can receive.
    pub max_datagram: Option<u32>,
    /// `T38FaxMaxIFP` in bytes.
    pub max_ifp: Option<u32>,
    /// `T38FaxUdpEC`.
    pub udp_ec: Option<UdpEc>,
}

fn flag(value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("") => true,
        Some(v) => !(v == "0" || v.eq_ignore_ascii_case("false")),
    }
}

fn number(value: Option<&str>) -> Option<u32> {
    value?.trim().parse().ok()
}

impl T38Params {
    /// Reads the `T38*` attributes of a section; unknown or unparsable values are ignored.
    pub fn from_attributes(attrs: &[Attribute]) -> T38Params {
        let mut p = T38Params::default();
        for a in attrs {
            let v = a.value.as_deref();
            match a.name.to_ascii_lowercase().as_str() {
                "t38faxversion" => p.version = v.and_then(|v| v.trim().parse().ok()).unwrap_or(0),
                "t38maxbitrate" => p.max_bit_rate = number(v),
                "t38faxfillbitremoval" => p.fill_bit_removal = flag(v),
                "t38faxtranscodingmmr" => p.transcoding_mmr = flag(v),
                "t38faxtranscodingjbig" => p.transcoding_jbig = flag(v),
                "t38faxratemanagement" => {
                    p.rate_management = match v.map(str::trim) {
                        Some(r) if r.eq_ignore_ascii_case("transferredTCF") => {
                            Some(RateManagement::TransferredTcf)
                        }
                        Some(r) if r.eq_ignore_ascii_case("localTCF") => {
                            Some(RateManagement::LocalTcf)
                        }
                        _ => None,
                    }
                }
                "t38faxmaxbuffer" => p.max_buffer = number(v),
                "t38faxmaxdatagram" => p.max_datagram = number(v),
                "t38faxmaxifp" => p.max_ifp = number(v),
                "t38faxudpec" => {
                    p.udp_ec = match v.map(str::trim) {
                        Some(e) if e.eq_ignore_ascii_case("t38UDPRedundancy") => {
                            Some(UdpEc::Redundancy)
                        }
                        Some(e) if e.eq_ignore_ascii_case("t38UDPFEC") => Some(UdpEc::Fec),
                        Some(e) if e.eq_ignore_ascii_case("t38UDPNoEC") => Some(UdpEc::None),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        p
    }

    /// The attributes announcing these parameters, canonical spelling, booleans as flags.
    pub fn to_attributes(&self) -> Vec<Attribute> {
        let mut out = vec![Attribute::new("T38FaxVersion", self.version.to_string())];
        if let Some(r) = self.max_bit_rate {
            out.push(Attribute::new("T38MaxBitRate", r.to_string()));
        }
        if self.fill_bit_removal {
            out.push(Attribute::flag("T38FaxFillBitRemoval"));
        }
        if self.transcoding_mmr {
            out.push(Attribute::flag("T38FaxTranscodingMMR"));
        }
        if self.transcoding_jbig {
            out.push(Attribute::flag("T38FaxTranscodingJBIG"));
        }
        if let Some(r) = self.rate_management {
            out.push(Attribute::new("T38FaxRateManagement", r.as_str()));
        }
        if let Some(b) = self.max_buffer {
            out.push(Attribute::new("T38FaxMaxBuffer", b.to_string()));
        }
        if let Some(d) = self.max_datagram {
            out.push(Attribute::new("T38FaxMaxDatagram", d.to_string()));
        }
        if let Some(i) = self.max_ifp {
            out.push(Attribute::new("T38FaxMaxIFP", i.to_string()));
        }
        if let Some(e) = self.udp_ec {
            out.push(Attribute::new("T38FaxUdpEC", e.as_str()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_names_and_zero_flags() {
        let attrs = [
            Attribute::new("t38faxversion", "3"),
            Attribute::new("t38maxbitrate", "14400"),
            Attribute::new("T38FaxFillBitRemoval", "0"),
            Attribute::flag("T38FaxTranscodingMMR"),
            Attribute::new("t38faxratemanagement", "TRANSFERREDTCF"),
            Attribute::new("t38faxmaxdatagram", "512"),
            Attribute::new("t38faxudpec", "t38udpfec"),
        ];
        let p = T38Params::from_attributes(&attrs);
        assert_eq!(p.version, 3);
        assert_eq!(p.max_bit_rate, Some(14400));
        assert!(!p.fill_bit_removal);
        assert!(p.transcoding_mmr);
        assert_eq!(p.rate_management, Some(RateManagement::TransferredTcf));
        assert_eq!(p.max_datagram, Some(512));
        assert_eq!(p.udp_ec, Some(UdpEc::Fec));
        assert_eq!(T38Params::from_attributes(&p.to_attributes()), p);
    }
}
