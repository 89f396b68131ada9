//! Standard Webhooks signatures (<https://www.standardwebhooks.com>, "Signature scheme"):
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`,
//! with a per-endpoint secret written `whsec_<base64 key>`.
//!
//! The id stays the same on every try of one message, so receivers can drop duplicates; the
//! timestamp is that of the try, so that receivers can refuse replays of old requests.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use crate::error::{Error, Result};

/// Header carrying the message id.
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the try's Unix time in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// Prefix of a secret's text form.
const PREFIX: &str = "whsec_";
/// Key length of generated secrets (the spec asks for 24 to 64 bytes).
const KEY_BYTES: usize = 32;

/// A webhook signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    // Whoever holds it can forge our requests: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// A new random secret from the operating system's generator.
    pub fn generate() -> Self {
        let mut key = vec![0u8; KEY_BYTES];
        OsRng.fill_bytes(&mut key);
        Secret(key)
    }

    /// Reads `whsec_<base64>` (the prefix is optional, as the spec's libraries allow).
    pub fn parse(text: &str) -> Result<Self> {
        let b64 = text.trim().strip_prefix(PREFIX).unwrap_or(text.trim());
        let key = B64
            .decode(b64)
            .map_err(|_| Error::config("webhook secret", "not whsec_ followed by base64"))?;
        if key.is_empty() {
            return Err(Error::config("webhook secret", "empty key"));
        }
        Ok(Secret(key))
    }

    /// The text form, `whsec_<base64>`, to show once to whoever configures the receiver.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", B64.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; the error branch cannot happen.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for one try: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", B64.encode(tag))
    }

    /// The three Standard Webhooks headers for one try.
    pub fn headers(&self, id: &str, timestamp: i64, body: &[u8]) -> [(&'static str, String); 3] {
        [
            (HEADER_ID, id.to_owned()),
            (HEADER_TIMESTAMP, timestamp.to_string()),
            (HEADER_SIGNATURE, self.sign(id, timestamp, body)),
        ]
    }

    /// Checks a request as a receiver would: one of the space-separated `v1,` signatures
    /// matches (compared in constant time), and the timestamp is within `tolerance_secs` of
    /// `now`.
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<(), VerifyError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        if (now - ts).abs() > tolerance_secs {
            return Err(VerifyError::Stale);
        }
        for sig in signatures.split_whitespace() {
            let Some(b64) = sig.strip_prefix("v1,") else {
                continue;
            };
            let Ok(tag) = B64.decode(b64) else {
                continue;
            };
            if self.mac(id, ts, body).verify_slice(&tag).is_ok() {
                return Ok(());
            }
        }
        Err(VerifyError::Mismatch)
    }
}

/// Why a signature check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp is not an integer.
    #[error("bad webhook-timestamp")]
    BadTimestamp,
    /// The timestamp is too far from now (a replay, or a wrong clock).
    #[error("webhook-timestamp outside the tolerance")]
    Stale,
    /// No signature matches.
    #[error("no matching signature")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries (their test vector).
    #[test]
    fn matches_the_reference_test_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = 1_614_265_330;
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign(id, ts, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(
            secret.verify(
                id,
                "1614265330",
                &secret.sign(id, ts, body),
                body,
                ts + 10,
                300
            ),
            Ok(())
        );
    }

    #[test]
    fn rejects_tampering_staleness_and_other_secrets() {
        let s = Secret::generate();
        let sig = s.sign("msg_1", 1000, b"{}");
        assert_eq!(
            s.verify("msg_1", "1000", &sig, b"{ }", 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            s.verify("msg_2", "1000", &sig, b"{}", 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            s.verify("msg_1", "1000", &sig, b"{}", 1301, 300),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            s.verify("msg_1", "x", &sig, b"{}", 1000, 300),
            Err(VerifyError::BadTimestamp)
        );
        let other = Secret::generate();
        assert_eq!(
            other.verify("msg_1", "1000", &sig, b"{}", 1000, 300),
            Err(VerifyError::Mismatch)
        );
        // Several signatures (key rotation): any match is enough.
        let both = format!("v1,AAAA {sig}");
        assert_eq!(s.verify("msg_1", "1000", &both, b"{}", 1000, 300), Ok(()));
    }

    #[test]
    fn secrets_round_trip_and_never_print() {
        let s = Secret::generate();
        let text = s.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).expect("parse"), s);
        assert!(!format!("{s:?}").contains(&text[6..]));
        assert!(Secret::parse("whsec_!!!").is_err());
        assert!(Secret::parse("whsec_").is_err());
    }
}
