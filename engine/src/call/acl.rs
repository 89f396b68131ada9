//! Which source addresses may place calls to us: exact addresses and CIDR blocks.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One allowed block: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// True when `ip` lies in the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A source address list that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCidr(pub String);

impl fmt::Display for BadCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an address or CIDR block: {:?}", self.0)
    }
}

impl std::error::Error for BadCidr {}

impl FromStr for Cidr {
    type Err = BadCidr;

    /// `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`.
    fn from_str(s: &str) -> Result<Self, BadCidr> {
        let bad = || BadCidr(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let network = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The peers allowed to call us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerAcl {
    any: bool,
    blocks: Vec<Cidr>,
}

impl PeerAcl {
    /// Every source may call (for the `receive` tool and tests, never a server default).
    pub fn any() -> Self {
        PeerAcl {
            any: true,
            blocks: Vec::new(),
        }
    }

    /// Only these blocks may call; an empty list admits nobody.
    pub fn only(blocks: Vec<Cidr>) -> Self {
        PeerAcl { any: false, blocks }
    }

    /// Parses a list of addresses and CIDR blocks.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, BadCidr> {
        let blocks = items
            .into_iter()
            .map(str::parse)
            .collect::<Result<Vec<Cidr>, _>>()?;
        Ok(Self::only(blocks))
    }

    /// True when `ip` may place calls to us.
    pub fn admits(&self, ip: IpAddr) -> bool {
        self.any || self.blocks.iter().any(|b| b.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_exact_addresses() {
        let acl = PeerAcl::parse(["192.0.2.0/24", "198.51.100.7", "2001:db8::/32"]).unwrap();
        for (ip, ok) in [
            ("192.0.2.1", true),
            ("192.0.2.255", true),
            ("192.0.3.1", false),
            ("198.51.100.7", true),
            ("198.51.100.8", false),
            ("::ffff:198.51.100.7", true),
            ("2001:db8:1::5", true),
            ("2001:db9::1", false),
        ] {
            assert_eq!(acl.admits(ip.parse().unwrap()), ok, "{ip}");
        }
        assert!(!PeerAcl::default().admits("127.0.0.1".parse().unwrap()));
        assert!(PeerAcl::any().admits("203.0.113.9".parse().unwrap()));
        assert!(PeerAcl::parse(["0.0.0.0/0"])
            .unwrap()
            .admits("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn bad_blocks_are_refused() {
        for s in [
            "",
            "300.1.1.1",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "host.example",
            "::/129",
        ] {
            assert!(s.parse::<Cidr>().is_err(), "{s}");
        }
    }
}
