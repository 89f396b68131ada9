//! The UAS side of digest authentication (RFC 3261 §22.4, RFC 7616 §3.3, §3.4, §5.4):
//! challenging requests from peers that must authenticate and checking their answers.
//!
//! Nonces carry their own issue time and an HMAC-SHA-256 of it under a server secret, so
//! issuing one keeps no state and any node sharing the secret can check it. The only state
//! is the highest nonce count seen per nonce, for replay detection, dropped with the nonce.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::digest::{hex, hmac_sha256, response, sess_ha1, Algorithm, DigestParams, Qop};
use super::header::{Authorization, Challenge};
use crate::msg::{HeaderName, Request, Response, StatusCode};

/// What to do with a request after checking its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right: process the request.
    Authenticated {
        /// The user they belong to.
        username: String,
    },
    /// No credentials for our realm, or a nonce that is old or not ours: send
    /// [`DigestServer::challenge_response`] (`stale` goes in the challenge).
    Challenge {
        /// True when the response was computed correctly over an expired nonce.
        stale: bool,
    },
    /// Wrong user, wrong password, bad parameters or a replayed nonce count: 403.
    Forbidden(&'static str),
}

/// Issues and verifies digest challenges for one realm.
#[derive(Debug, Clone)]
pub struct DigestServer {
    realm: String,
    secret: Vec<u8>,
    epoch: Instant,
    nonce_ttl: Duration,
    algorithms: Vec<Algorithm>,
    seen: HashMap<String, (u32, Instant)>,
}

impl DigestServer {
    /// A verifier for `realm`; nonces are HMACs under `secret` of seconds since `epoch`.
    /// Challenges offer SHA-256 then MD5 (RFC 8760 §2.4: strongest first), with
    /// `qop="auth"`, and nonces live five minutes.
    pub fn new(realm: impl Into<String>, secret: &[u8], epoch: Instant) -> Self {
        DigestServer {
            realm: realm.into(),
            secret: secret.to_vec(),
            epoch,
            nonce_ttl: Duration::from_secs(300),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            seen: HashMap::new(),
        }
    }

    /// Sets the algorithms offered, in order (one challenge each).
    pub fn with_algorithms(mut self, algorithms: Vec<Algorithm>) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// Sets how long a nonce is accepted before it is answered with `stale=true`.
    pub fn with_nonce_ttl(mut self, ttl: Duration) -> Self {
        self.nonce_ttl = ttl;
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn mac(&self, ts: u64) -> String {
        let msg = format!("{ts:016x}:{}", self.realm);
        let mac = hmac_sha256(&self.secret, msg.as_bytes());
        hex(mac.get(..16).unwrap_or(&mac))
    }

    /// A fresh nonce for `now`.
    pub fn nonce(&self, now: Instant) -> String {
        let ts = now.saturating_duration_since(self.epoch).as_secs();
        format!("{ts:016x}{}", self.mac(ts))
    }

    /// When `nonce` was issued, if it is one of ours.
    fn issued(&self, nonce: &str) -> Option<Instant> {
        let ts_hex = nonce.get(..16)?;
        let ts = u64::from_str_radix(ts_hex, 16).ok()?;
        if nonce.get(16..)? != self.mac(ts) {
            return None;
        }
        self.epoch.checked_add(Duration::from_secs(ts))
    }

    /// The challenge header values for `now`.
    pub fn challenges(&self, now: Instant, stale: bool) -> Vec<String> {
        let nonce = self.nonce(now);
        self.algorithms
            .iter()
            .map(|&algorithm| {
                Challenge {
                    realm: self.realm.clone(),
                    nonce: nonce.clone(),
                    opaque: None,
                    algorithm,
                    qop: vec![Qop::Auth],
                    stale,
                }
                .to_string()
            })
            .collect()
    }

    /// A 401 with WWW-Authenticate challenges (or, with `proxy`, a 407 with
    /// Proxy-Authenticate) answering `req`; the caller adds the To tag.
    pub fn challenge_response(
        &self,
        now: Instant,
        req: &Request,
        stale: bool,
        proxy: bool,
    ) -> Response {
        let (code, name) = if proxy {
            (407, HeaderName::ProxyAuthenticate)
        } else {
            (401, HeaderName::WwwAuthenticate)
        };
        let status = StatusCode::new(code).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = Response::for_request(req, status);
        for c in self.challenges(now, stale) {
            resp.headers.push(name.clone(), c);
        }
        resp
    }

    /// Checks the credentials in `req` (Authorization, or Proxy-Authorization with
    /// `proxy`). `password` looks a user up.
    pub fn verify(
        &mut self,
        now: Instant,
        req: &Request,
        proxy: bool,
        password: impl Fn(&str) -> Option<String>,
    ) -> Verdict {
        self.seen
            .retain(|_, (_, issued)| now.saturating_duration_since(*issued) <= self.nonce_ttl);
        let name = if proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        let ours = req
            .headers
            .get_all(&name)
            .filter_map(|v| Authorization::parse(v).ok())
            .find(|a| a.realm == self.realm);
        let Some(auth) = ours else {
            return Verdict::Challenge { stale: false };
        };
        if !self.algorithms.contains(&auth.algorithm) {
            return Verdict::Challenge { stale: false };
        }
        let Some(issued) = self.issued(&auth.nonce) else {
            return Verdict::Challenge { stale: false };
        };
        if auth.uri != req.uri.to_string() {
            return Verdict::Forbidden("digest uri differs from the Request-URI");
        }
        let (Some(qop), Some(nc), Some(cnonce)) = (auth.qop, auth.nc, auth.cnonce.as_deref())
        else {
            return Verdict::Forbidden("qop, nc and cnonce are required");
        };
        let Some(pw) = password(&auth.username) else {
            return Verdict::Forbidden("unknown user");
        };
        let p = DigestParams {
            algorithm: auth.algorithm,
            username: &auth.username,
            realm: &self.realm,
            nonce: &auth.nonce,
            cnonce: Some(cnonce),
            nc: Some(nc),
            qop: Some(qop),
            method: req.method.as_str(),
            uri: &auth.uri,
            body: &req.body,
        };
        let base = auth
            .algorithm
            .hash(format!("{}:{}:{pw}", auth.username, self.realm).as_bytes());
        let expected = response(&p, &sess_ha1(&p, base));
        if !expected.eq_ignore_ascii_case(&auth.response) {
            return Verdict::Forbidden("wrong credentials");
        }
        if now.saturating_duration_since(issued) > self.nonce_ttl || now < issued {
            return Verdict::Challenge { stale: true };
        }
        let entry = self.seen.entry(auth.nonce.clone()).or_insert((0, issued));
        if nc <= entry.0 {
            return Verdict::Forbidden("nonce count replayed");
        }
        entry.0 = nc;
        Verdict::Authenticated {
            username: auth.username,
        }
    }
}
