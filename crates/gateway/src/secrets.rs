//! Secrets the gateway mints: agent API keys, webhook signing secrets, admin keys.
//!
//! Every secret is 256 bits from the operating system's CSPRNG (through `rand`'s
//! thread-local generator, which is seeded from it), written as a short prefix that says
//! what it is plus unpadded base64url.
//!
//! API keys are stored only as the hex SHA-256 of their text. A fast, unsalted hash is
//! the right tool here, unlike for passwords: slow hashes (argon2, bcrypt) and salts exist
//! to make guessing *low-entropy* secrets expensive, but a 256-bit random key cannot be
//! guessed at any hash speed, and there are no dictionaries or shared passwords for a salt
//! to defeat. A fast hash also lets the gateway look a presented key up directly (hash,
//! then one map lookup) on every request instead of comparing against every stored key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::clock::random_bytes;

/// Prefix of agent API keys.
pub(crate) const API_KEY_PREFIX: &str = "agk_";
/// Prefix of webhook signing secrets.
pub(crate) const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
/// Prefix of generated admin keys.
pub(crate) const ADMIN_KEY_PREFIX: &str = "aga_";

/// A new random secret: `prefix` + base64url of 32 random bytes.
pub(crate) fn new_secret(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 43);
    s.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(random_bytes::<32>(), &mut s);
    s
}

/// SHA-256 of a presented key.
pub(crate) fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Hex SHA-256 of a key, the form kept in storage.
pub(crate) fn key_hash_hex(key: &str) -> String {
    hex::encode(key_digest(key))
}

/// Parses the stored hex form back into a digest.
pub(crate) fn parse_key_hash(hex_text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_distinct_and_prefixed() {
        let a = new_secret(API_KEY_PREFIX);
        let b = new_secret(API_KEY_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("agk_"));
        assert_eq!(a.len(), 4 + 43);
        assert!(
            a[4..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn hash_round_trips() {
        let h = key_hash_hex("agk_x");
        assert_eq!(h.len(), 64);
        assert_eq!(parse_key_hash(&h), Some(key_digest("agk_x")));
        assert_eq!(parse_key_hash("zz"), None);
    }
}
