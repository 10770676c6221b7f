//! Message identifiers.
//!
//! Any RFC 9562 UUID in its hyphenated form is accepted from clients (v7 preferred; v4
//! is what the AMTP Python SDK sends). The gateway mints v7 identifiers, from a time and
//! random bytes passed in by the caller.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::time::Timestamp;

/// A message identifier: a UUID, never nil.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(Uuid);

/// Why a string is not a valid message id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageIdError {
    /// Not a 36-character hyphenated UUID with valid hex digits.
    #[error("not a hyphenated UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")]
    Malformed,
    /// The nil UUID, which identifies nothing.
    #[error("the nil UUID is not a message id")]
    Nil,
}

impl MessageId {
    /// Parses a hyphenated UUID of any version.
    pub fn parse(s: &str) -> Result<Self, MessageIdError> {
        if s.len() != 36 {
            return Err(MessageIdError::Malformed);
        }
        let u = Uuid::try_parse(s).map_err(|_| MessageIdError::Malformed)?;
        if u.is_nil() {
            return Err(MessageIdError::Nil);
        }
        Ok(MessageId(u))
    }

    /// Mints a UUIDv7 from a time and 10 random bytes.
    pub fn v7(now: Timestamp, random: [u8; 10]) -> Self {
        MessageId(uuid::Builder::from_unix_timestamp_millis(now.millis(), &random).into_uuid())
    }

    /// A version 8 id derived from `parts`: the first 16 bytes of the SHA-256 of each
    /// part prefixed by its length, with the version and variant bits set. The gateway
    /// uses it for the messages it sends on behalf of something else (a workflow step,
    /// a failure report), so that sending one again is recognised as a repeat.
    pub fn derived(parts: &[&[u8]]) -> Self {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&h.finalize()[..16]);
        MessageId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    /// The UUID version number (4, 7, …).
    pub fn version(&self) -> usize {
        self.0.get_version_num()
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The 16 bytes of the UUID.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// Rebuilds an id from its 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Result<Self, MessageIdError> {
        let u = Uuid::from_bytes(bytes);
        if u.is_nil() {
            return Err(MessageIdError::Nil);
        }
        Ok(MessageId(u))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for MessageId {
    type Err = MessageIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageId::parse(s)
    }
}

impl Serialize for MessageId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = uuid::Uuid::encode_buffer();
        s.serialize_str(self.0.hyphenated().encode_lower(&mut buf))
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MessageId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_version_8_and_unambiguous() {
        let a = MessageId::derived(&[b"ab", b"c"]);
        assert_eq!(a, MessageId::derived(&[b"ab", b"c"]));
        assert_ne!(a, MessageId::derived(&[b"a", b"bc"]));
        assert_ne!(a, MessageId::derived(&[b"abc"]));
        assert_eq!(a.version(), 8);
        assert_eq!(MessageId::parse(&a.to_string()), Ok(a));
    }

    #[test]
    fn accepts_v4_and_v7_rejects_junk() {
        let v4 = MessageId::parse("9b2f4c1e-3a5d-4e6f-8a7b-1c2d3e4f5a6b").unwrap();
        assert_eq!(v4.version(), 4);
        let v7 = MessageId::parse("01890a5d-ac96-774b-bcce-b302099a8057").unwrap();
        assert_eq!(v7.version(), 7);
        // agentry only checked dash positions; a full parse rejects bad hex.
        assert_eq!(
            MessageId::parse("0189za5d-ac96-774b-bcce-b302099a8057"),
            Err(MessageIdError::Malformed)
        );
        assert_eq!(
            MessageId::parse("01890a5dac96774bbcceb302099a8057"),
            Err(MessageIdError::Malformed)
        );
        assert_eq!(
            MessageId::parse("00000000-0000-0000-0000-000000000000"),
            Err(MessageIdError::Nil)
        );
    }

    #[test]
    fn minted_v7_carries_the_time() {
        let id = MessageId::v7(Timestamp(1_700_000_000_123), [7; 10]);
        assert_eq!(id.version(), 7);
        let (secs, nanos) = id.as_uuid().get_timestamp().unwrap().to_unix();
        assert_eq!(
            secs * 1000 + u64::from(nanos) / 1_000_000,
            1_700_000_000_123
        );
        assert_eq!(MessageId::parse(&id.to_string()), Ok(id));
        assert_eq!(MessageId::from_bytes(*id.as_bytes()), Ok(id));
    }
}
