//! The `WWW-Authenticate` / `Proxy-Authenticate` challenge and the `Authorization` /
//! `Proxy-Authorization` credentials of the Digest scheme (RFC 3261 §20.7, §20.27, §20.28,
//! §20.44, §25.1; RFC 7616 §3.3, §3.4).

use std::fmt;

use super::digest::{Algorithm, Qop};
use crate::error::{Error, Result};

fn bad(reason: &'static str) -> Error {
    Error::Auth(reason)
}

/// A scheme, its lower-cased parameters, and what follows when another challenge starts.
type Parsed<'a> = (String, Vec<(String, String)>, Option<&'a str>);

/// Splits `scheme param=value, param="quoted", …` into the scheme and its parameters. A
/// value may contain commas inside quotes. When a second challenge follows in the same
/// value (`Digest …, Digest …`), the rest is returned for the caller to parse.
fn parse_params(s: &str) -> Result<Parsed<'_>> {
    let s = s.trim_start();
    let scheme_end = s.find([' ', '\t']).unwrap_or(s.len());
    let scheme = s.get(..scheme_end).unwrap_or("");
    if scheme.is_empty() {
        return Err(bad("no auth scheme"));
    }
    let mut rest = s.get(scheme_end..).unwrap_or("");
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Ok((scheme.to_owned(), params, None));
        }
        let name_end = rest.find(['=', ',', ' ', '\t']).unwrap_or(rest.len());
        let name = rest.get(..name_end).unwrap_or("");
        let after = rest.get(name_end..).unwrap_or("").trim_start();
        let Some(value_part) = after.strip_prefix('=') else {
            // A token not followed by `=` starts the next challenge.
            if params.is_empty() {
                return Err(bad("auth parameter without a value"));
            }
            return Ok((scheme.to_owned(), params, Some(rest)));
        };
        let value_part = value_part.trim_start();
        let (value, tail) = if let Some(q) = value_part.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    _ => out.push(c),
                }
            }
            let end = end.ok_or_else(|| bad("unterminated quoted auth parameter"))?;
            (out, q.get(end..).unwrap_or(""))
        } else {
            let end = value_part
                .find([',', ' ', '\t'])
                .unwrap_or(value_part.len());
            (
                value_part.get(..end).unwrap_or("").to_owned(),
                value_part.get(end..).unwrap_or(""),
            )
        };
        if name.is_empty() {
            return Err(bad("empty auth parameter name"));
        }
        params.push((name.to_ascii_lowercase(), value));
        rest = tail;
    }
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space.
    pub realm: String,
    /// The server's nonce.
    pub nonce: String,
    /// Opaque data to return unchanged.
    pub opaque: Option<String>,
    /// The algorithm (MD5 when absent).
    pub algorithm: Algorithm,
    /// The qop values offered; empty for an RFC 2069 challenge.
    pub qop: Vec<Qop>,
    /// `stale=true`: the credentials were right but the nonce was old (RFC 7616 §3.3).
    pub stale: bool,
}

impl Challenge {
    /// Parses every Digest challenge in one header value. Challenges of other schemes and
    /// Digest challenges with an algorithm we cannot compute are skipped, so that the caller
    /// can pick among the rest.
    pub fn parse_all(value: &str) -> Result<Vec<Challenge>> {
        let mut out = Vec::new();
        let mut rest = Some(value);
        while let Some(s) = rest {
            let (scheme, params, next) = parse_params(s)?;
            rest = next;
            if !scheme.eq_ignore_ascii_case("Digest") {
                continue;
            }
            let Some(algorithm) =
                get(&params, "algorithm").map_or(Some(Algorithm::Md5), Algorithm::parse)
            else {
                continue;
            };
            out.push(Challenge {
                realm: get(&params, "realm")
                    .ok_or_else(|| bad("challenge without realm"))?
                    .to_owned(),
                nonce: get(&params, "nonce")
                    .ok_or_else(|| bad("challenge without nonce"))?
                    .to_owned(),
                opaque: get(&params, "opaque").map(str::to_owned),
                algorithm,
                qop: get(&params, "qop")
                    .map(|q| q.split(',').filter_map(|t| Qop::parse(t.trim())).collect())
                    .unwrap_or_default(),
                stale: get(&params, "stale").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            });
        }
        Ok(out)
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest realm={}, nonce={}",
            quote(&self.realm),
            quote(&self.nonce)
        )?;
        if let Some(o) = &self.opaque {
            write!(f, ", opaque={}", quote(o))?;
        }
        write!(f, ", algorithm={}", self.algorithm)?;
        if !self.qop.is_empty() {
            let q: Vec<&str> = self.qop.iter().map(|q| q.as_str()).collect();
            write!(f, ", qop={}", quote(&q.join(",")))?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

/// Digest credentials as sent in Authorization or Proxy-Authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// User name.
    pub username: String,
    /// Realm.
    pub realm: String,
    /// The nonce answered.
    pub nonce: String,
    /// The digest-uri.
    pub uri: String,
    /// The computed response.
    pub response: String,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Our cnonce.
    pub cnonce: Option<String>,
    /// The server's opaque, echoed.
    pub opaque: Option<String>,
    /// The qop chosen.
    pub qop: Option<Qop>,
    /// The nonce count.
    pub nc: Option<u32>,
}

impl Authorization {
    /// Parses a Digest credentials value.
    pub fn parse(value: &str) -> Result<Authorization> {
        let (scheme, params, _) = parse_params(value)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(bad("not Digest credentials"));
        }
        let need = |n: &str, why: &'static str| -> Result<String> {
            get(&params, n).map(str::to_owned).ok_or_else(|| bad(why))
        };
        let algorithm = match get(&params, "algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(a).ok_or_else(|| bad("unknown algorithm"))?,
        };
        let qop = match get(&params, "qop") {
            None => None,
            Some(q) => Some(Qop::parse(q).ok_or_else(|| bad("unknown qop"))?),
        };
        let nc = match get(&params, "nc") {
            None => None,
            Some(n) => Some(
                u32::from_str_radix(n, 16).map_err(|_| bad("nonce count is not 8 hex digits"))?,
            ),
        };
        Ok(Authorization {
            username: need("username", "credentials without username")?,
            realm: need("realm", "credentials without realm")?,
            nonce: need("nonce", "credentials without nonce")?,
            uri: need("uri", "credentials without uri")?,
            response: need("response", "credentials without response")?,
            algorithm,
            cnonce: get(&params, "cnonce").map(str::to_owned),
            opaque: get(&params, "opaque").map(str::to_owned),
            qop,
            nc,
        })
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri),
            quote(&self.response),
            self.algorithm
        )?;
        if let Some(c) = &self.cnonce {
            write!(f, ", cnonce={}", quote(c))?;
        }
        if let Some(o) = &self.opaque {
            write!(f, ", opaque={}", quote(o))?;
        }
        if let Some(q) = self.qop {
            write!(f, ", qop={}", q.as_str())?;
        }
        if let Some(n) = self.nc {
            write!(f, ", nc={n:08x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_two_challenges_in_one_value() {
        let v = "Digest realm=\"a.example\", qop=\"auth,auth-int\", algorithm=SHA-256, \
                 nonce=\"n1\", opaque=\"o\", Digest realm=\"a.example\", nonce=\"n1\", \
                 algorithm=MD5, qop=\"auth\", stale=TRUE";
        let c = Challenge::parse_all(v).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].algorithm, Algorithm::Sha256);
        assert_eq!(c[0].qop, [Qop::Auth, Qop::AuthInt]);
        assert_eq!(c[0].opaque.as_deref(), Some("o"));
        assert!(c[1].stale);
    }

    #[test]
    fn skips_unknown_algorithms_and_schemes() {
        let c = Challenge::parse_all("Basic realm=\"x\"").unwrap();
        assert!(c.is_empty());
        let c =
            Challenge::parse_all("Digest realm=\"x\", nonce=\"y\", algorithm=AKAv1-MD5").unwrap();
        assert!(c.is_empty());
        assert!(Challenge::parse_all("Digest realm=\"x").is_err());
        assert!(Challenge::parse_all("Digest nonce=\"y\"").is_err());
    }

    #[test]
    fn authorization_round_trips() {
        let a = Authorization {
            username: "al\"ice".into(),
            realm: "r".into(),
            nonce: "n".into(),
            uri: "sip:r".into(),
            response: "abc".into(),
            algorithm: Algorithm::Sha512_256Sess,
            cnonce: Some("c".into()),
            opaque: None,
            qop: Some(Qop::Auth),
            nc: Some(10),
        };
        let text = a.to_string();
        assert!(text.contains("nc=0000000a"));
        assert_eq!(Authorization::parse(&text).unwrap(), a);
    }
}
