//! The UAC side of digest authentication (RFC 3261 §22.2, §22.3; RFC 8760): answering 401
//! and 407 on any request, with nonce reuse and a nonce count per nonce.
//!
//! The owner of a request (dialog or registration) keeps an [`AuthAttempt`] for each chain
//! of requests that ends in one final answer. [`DigestClient::on_challenge`] says whether to
//! send the request again; the owner then builds it with a new CSeq and branch (a new
//! transaction, RFC 3261 §22.2) and calls [`DigestClient::authorize`]. A stale nonce is
//! retried without the application; a second challenge after we answered one is a
//! failure, so a wrong password cannot loop.

use super::digest::{ha1, response, Algorithm, DigestParams, Qop};
use super::header::{Authorization, Challenge};
use crate::msg::{HeaderName, Request, Response};
use crate::rng::Rng;

/// How many `stale=true` challenges one request chain may answer.
const MAX_STALE: u8 = 3;

/// A user name and password, optionally bound to one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The realm these credentials are for; `None` answers any realm.
    pub realm: Option<String>,
}

impl Credentials {
    /// Credentials for any realm.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
            realm: None,
        }
    }
}

/// What one chain of requests has done so far with challenges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthAttempt {
    answered: bool,
    stale: u8,
}

#[derive(Debug, Clone)]
struct Cached {
    proxy: bool,
    challenge: Challenge,
    nc: u32,
}

/// Credentials plus the challenges seen, for one dialog or registration.
#[derive(Debug, Clone)]
pub struct DigestClient {
    creds: Credentials,
    rng: Rng,
    cache: Vec<Cached>,
}

impl DigestClient {
    /// A client for `creds`; `seed` drives the cnonces.
    pub fn new(creds: Credentials, seed: u64) -> Self {
        DigestClient {
            creds,
            rng: Rng::new(seed),
            cache: Vec::new(),
        }
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Reads the challenges of a 401 or 407 to a request we sent. True means: send the
    /// request again (new CSeq, new branch) through [`authorize`](Self::authorize).
    pub fn on_challenge(&mut self, resp: &Response, attempt: &mut AuthAttempt) -> bool {
        let mut chosen: Vec<Cached> = Vec::new();
        let sources = [
            (HeaderName::WwwAuthenticate, false),
            (HeaderName::ProxyAuthenticate, true),
        ];
        for (name, proxy) in sources {
            for value in resp.headers.get_all(&name) {
                let Ok(all) = Challenge::parse_all(value) else {
                    continue;
                };
                for c in all {
                    if let Some(r) = &self.creds.realm {
                        if *r != c.realm {
                            continue;
                        }
                    }
                    if !c.qop.is_empty()
                        && !c.qop.contains(&Qop::Auth)
                        && !c.qop.contains(&Qop::AuthInt)
                    {
                        continue;
                    }
                    match chosen
                        .iter_mut()
                        .find(|k| k.proxy == proxy && k.challenge.realm == c.realm)
                    {
                        Some(k) if k.challenge.algorithm.strength() < c.algorithm.strength() => {
                            k.challenge = c;
                        }
                        Some(_) => {}
                        None => chosen.push(Cached {
                            proxy,
                            challenge: c,
                            nc: 0,
                        }),
                    }
                }
            }
        }
        if chosen.is_empty() {
            return false;
        }
        let stale = chosen.iter().all(|c| c.challenge.stale);
        if stale {
            if attempt.stale >= MAX_STALE {
                return false;
            }
            attempt.stale += 1;
        } else if attempt.answered {
            return false;
        } else {
            attempt.answered = true;
        }
        for c in chosen {
            self.cache
                .retain(|k| !(k.proxy == c.proxy && k.challenge.realm == c.challenge.realm));
            self.cache.push(c);
        }
        true
    }

    /// Replaces any Authorization and Proxy-Authorization in `req` with credentials for
    /// every challenge seen so far, counting one more use of each nonce.
    pub fn authorize(&mut self, req: &mut Request) {
        req.headers.remove(&HeaderName::Authorization);
        req.headers.remove(&HeaderName::ProxyAuthorization);
        let uri = req.uri.to_string();
        for i in 0..self.cache.len() {
            let cnonce = self.rng.hex(16);
            let Some(c) = self.cache.get_mut(i) else {
                continue;
            };
            c.nc = c.nc.wrapping_add(1);
            let ch = &c.challenge;
            let qop = if ch.qop.contains(&Qop::Auth) {
                Some(Qop::Auth)
            } else if ch.qop.contains(&Qop::AuthInt) {
                Some(Qop::AuthInt)
            } else {
                None
            };
            let with_cnonce = qop.is_some() || ch.algorithm.is_sess();
            let p = DigestParams {
                algorithm: ch.algorithm,
                username: &self.creds.username,
                realm: &ch.realm,
                nonce: &ch.nonce,
                cnonce: with_cnonce.then_some(cnonce.as_str()),
                nc: qop.map(|_| c.nc),
                qop,
                method: req.method.as_str(),
                uri: &uri,
                body: &req.body,
            };
            let h1 = ha1(&p, &self.creds.password);
            let auth = Authorization {
                username: self.creds.username.clone(),
                realm: ch.realm.clone(),
                nonce: ch.nonce.clone(),
                uri: uri.clone(),
                response: response(&p, &h1),
                algorithm: ch.algorithm,
                cnonce: p.cnonce.map(str::to_owned),
                opaque: ch.opaque.clone(),
                qop,
                nc: p.nc,
            };
            let name = if c.proxy {
                HeaderName::ProxyAuthorization
            } else {
                HeaderName::Authorization
            };
            req.headers.push(name, auth.to_string());
        }
    }

    /// True once a challenge has been answered, so requests carry credentials.
    pub fn has_credentials(&self) -> bool {
        !self.cache.is_empty()
    }

    /// The algorithms of the challenges in use (for diagnostics and tests).
    pub fn algorithms(&self) -> Vec<Algorithm> {
        self.cache.iter().map(|c| c.challenge.algorithm).collect()
    }
}
