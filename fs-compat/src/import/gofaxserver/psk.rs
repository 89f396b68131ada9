//! gofaxserver's reversible password encryption (`gofaxserver-behaviour.md` §2.4): the key
//! is the `psk` bytes truncated or zero-padded to 32, AES-256 in CFB mode (full 128-bit
//! segments, as Go's `cipher.NewCFBEncrypter`), stored as standard base64 of IV‖ciphertext.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cfb_mode::cipher::{AsyncStreamCipher, KeyIvInit};

/// Length of the IV that precedes the ciphertext.
pub const IV_LEN: usize = 16;

/// Why a stored password could not be turned back into text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PskError {
    /// The column is not base64.
    #[error("the stored value is not base64")]
    NotBase64,
    /// Shorter than an IV.
    #[error("the stored value is shorter than an IV")]
    TooShort,
    /// Decrypts to something that is not text: almost surely another psk. CFB has no
    /// integrity check, so this is the only sign gofaxserver's format gives.
    #[error("it does not decrypt to text with this psk (encrypted with another one?)")]
    NotText,
    /// Decrypts to nothing.
    #[error("the password is empty")]
    Empty,
}

/// The AES-256 key gofaxserver derives from `psk`.
pub fn key(psk: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let bytes = psk.as_bytes();
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    key
}

/// Decrypts one `tenant_users.password` value.
pub fn decrypt(psk: &str, stored: &str) -> Result<String, PskError> {
    let raw = STANDARD
        .decode(stored.trim())
        .map_err(|_| PskError::NotBase64)?;
    if raw.len() < IV_LEN {
        return Err(PskError::TooShort);
    }
    let (iv, ciphertext) = raw.split_at(IV_LEN);
    let mut buf = ciphertext.to_vec();
    cfb_mode::Decryptor::<aes::Aes256>::new(&key(psk).into(), iv.into()).decrypt(&mut buf);
    let text = String::from_utf8(buf).map_err(|_| PskError::NotText)?;
    if text.chars().any(char::is_control) {
        return Err(PskError::NotText);
    }
    if text.is_empty() {
        return Err(PskError::Empty);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encrypt(psk: &str, iv: [u8; IV_LEN], plain: &str) -> String {
        let mut buf = plain.as_bytes().to_vec();
        cfb_mode::Encryptor::<aes::Aes256>::new(&key(psk).into(), &iv.into()).encrypt(&mut buf);
        let mut out = iv.to_vec();
        out.extend_from_slice(&buf);
        STANDARD.encode(out)
    }

    #[test]
    fn key_is_truncated_or_zero_padded() {
        assert_eq!(&key("abc")[..4], b"abc\0");
        assert_eq!(key(&"x".repeat(40)), [b'x'; 32]);
    }

    #[test]
    fn round_trip_and_wrong_keys() {
        let stored = encrypt("secret-psk", [7; IV_LEN], "correct horse battery");
        assert_eq!(
            decrypt("secret-psk", &stored).as_deref(),
            Ok("correct horse battery")
        );
        assert_eq!(decrypt("other-psk", &stored), Err(PskError::NotText));
        assert_eq!(decrypt("k", "***"), Err(PskError::NotBase64));
        assert_eq!(decrypt("k", "AAAA"), Err(PskError::TooShort));
        assert_eq!(
            decrypt("k", &encrypt("k", [1; IV_LEN], "")),
            Err(PskError::Empty)
        );
    }

    #[test]
    fn known_vector() {
        // NIST SP 800-38A F.3.13 (CFB128-AES256.Encrypt), first block: the crates must
        // compute the same CFB as Go's crypto/cipher.
        let key: [u8; 32] = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f");
        let mut block: [u8; 16] = hex("6bc1bee22e409f96e93d7e117393172a");
        cfb_mode::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into()).encrypt(&mut block);
        assert_eq!(block, hex::<16>("dc7e84bfda79164b7ecd8486985d3860"));
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
        }
        out
    }
}
