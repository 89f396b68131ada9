//! The digest computation of RFC 7616 §3.4 with the SIP algorithms of RFC 8760: MD5,
//! SHA-256 and SHA-512/256, each also in its `-sess` form, `qop=auth`, `qop=auth-int`, and
//! the RFC 2069 form without qop that old SIP gear still answers with.

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

/// A digest algorithm (RFC 7616 §3.3, RFC 8760 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when a challenge names none.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`.
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Parses the `algorithm` parameter (case-insensitive); `None` for one we cannot compute.
    pub fn parse(s: &str) -> Option<Algorithm> {
        const ALL: [Algorithm; 6] = [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
            Algorithm::Sha512_256,
            Algorithm::Sha512_256Sess,
        ];
        ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The name as written in a header.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// True for the `-sess` variants, whose HA1 also covers the nonce and cnonce.
    pub fn is_sess(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Preference among several challenges: RFC 8760 §2.4 asks for the strongest first.
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => 3,
        }
    }

    /// The lower-case hex hash of `data`.
    pub fn hash(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(data)),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(data)),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => hex(&Sha512_256::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quality of protection (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// `auth`: method and URI are covered.
    Auth,
    /// `auth-int`: the body is covered too.
    AuthInt,
}

impl Qop {
    /// Parses a qop token.
    pub fn parse(s: &str) -> Option<Qop> {
        if s.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }

    /// The token as written in a header.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Everything that goes into one digest response.
#[derive(Debug, Clone, Copy)]
pub struct DigestParams<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// User name.
    pub username: &'a str,
    /// Realm.
    pub realm: &'a str,
    /// The server's nonce.
    pub nonce: &'a str,
    /// Our cnonce (required with qop or a `-sess` algorithm).
    pub cnonce: Option<&'a str>,
    /// The nonce count (required with qop).
    pub nc: Option<u32>,
    /// The qop, or `None` for the RFC 2069 form.
    pub qop: Option<Qop>,
    /// The request method.
    pub method: &'a str,
    /// The `uri` parameter: the Request-URI as text.
    pub uri: &'a str,
    /// The body, for `auth-int`.
    pub body: &'a [u8],
}

/// HA1 from a password (RFC 7616 §3.4.2): `H(user:realm:password)`, and for `-sess`
/// `H(H(user:realm:password):nonce:cnonce)`.
pub fn ha1(p: &DigestParams<'_>, password: &str) -> String {
    let base = p
        .algorithm
        .hash(format!("{}:{}:{}", p.username, p.realm, password).as_bytes());
    sess_ha1(p, base)
}

/// Applies the `-sess` step to a stored `H(user:realm:password)`.
pub fn sess_ha1(p: &DigestParams<'_>, base: String) -> String {
    if p.algorithm.is_sess() {
        let s = format!("{base}:{}:{}", p.nonce, p.cnonce.unwrap_or(""));
        p.algorithm.hash(s.as_bytes())
    } else {
        base
    }
}

/// The `response` value (RFC 7616 §3.4.1) for a given HA1.
pub fn response(p: &DigestParams<'_>, ha1: &str) -> String {
    let alg = p.algorithm;
    let ha2 = match p.qop {
        Some(Qop::AuthInt) => {
            alg.hash(format!("{}:{}:{}", p.method, p.uri, alg.hash(p.body)).as_bytes())
        }
        _ => alg.hash(format!("{}:{}", p.method, p.uri).as_bytes()),
    };
    let text = match p.qop {
        Some(q) => format!(
            "{ha1}:{}:{:08x}:{}:{}:{ha2}",
            p.nonce,
            p.nc.unwrap_or(1),
            p.cnonce.unwrap_or(""),
            q.as_str()
        ),
        None => format!("{ha1}:{}:{ha2}", p.nonce),
    };
    alg.hash(text.as_bytes())
}

/// HMAC-SHA-256 (RFC 2104), for stateless server nonces.
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sha512_256_of_abc() {
        assert_eq!(
            Algorithm::Sha512_256.hash(b"abc"),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
    }
}
