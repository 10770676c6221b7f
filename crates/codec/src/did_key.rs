//! `did:key` identifiers for Ed25519 keys, in the two forms IoAP v1 clients use.
//!
//! - **Standard** (the W3C did:key method): `did:key:z` followed by the base58btc
//!   encoding of the multicodec prefix `0xed 0x01` and the 32-byte key. Every such DID
//!   starts with `did:key:z6Mk`.
//! - **Legacy** (what the AIConexus reference client builds): the literal text
//!   `did:key:z6Mk` followed by the base58btc encoding of the raw 32-byte key, with no
//!   multicodec prefix. Other did:key resolvers reject these.
//!
//! Both forms start with `did:key:z6Mk`, but no text is valid in both. Decoding what
//! follows the `z` of a standard DID yields 34 bytes that begin `ed 01`; decoding it
//! from a legacy DID never does. Decoding what follows `z6Mk` yields exactly 32 bytes
//! only for a legacy DID (33 for a standard one). [`parse`] therefore tries the
//! standard form first and the legacy form second, and reports which one matched in
//! [`DidKey::form`], so that a caller can refuse legacy DIDs where it must (agentgate's
//! strict mode accepts only standard ones).
//!
//! [`parse_public_key`] reads the `public_key` of an IoAP REGISTER payload, which
//! clients send either as a bare base58btc key or as a whole DID.
//!
//! Keys are plain `[u8; 32]` here; whether they are valid curve points is for the
//! signature verifier to find out.

/// Every did:key starts with this.
pub const DID_KEY_PREFIX: &str = "did:key:";
/// The start of a legacy DID: [`DID_KEY_PREFIX`], the multibase tag `z` and the text
/// `6Mk`, which here stands for nothing (the key follows in base58btc).
pub const LEGACY_PREFIX: &str = "did:key:z6Mk";
/// The multicodec prefix of an Ed25519 public key (varint 0xed).
pub const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
/// Longest text [`parse`] and [`parse_public_key`] look at, in bytes. An Ed25519 DID
/// has at most 56 characters; the rest is headroom.
pub const MAX_DID_BYTES: usize = 128;

/// Which of the two encodings a DID used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DidForm {
    /// `did:key:z` + base58btc(`ed 01` ‖ key): the did:key method as specified.
    Standard,
    /// `did:key:z6Mk` + base58btc(key): the AIConexus reference client's form.
    Legacy,
}

/// A parsed Ed25519 did:key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DidKey {
    /// The raw Ed25519 public key.
    pub key: [u8; 32],
    /// The encoding the text used.
    pub form: DidForm,
}

impl DidKey {
    /// The DID in the form it was parsed from.
    pub fn to_did(&self) -> String {
        match self.form {
            DidForm::Standard => encode_standard(&self.key),
            DidForm::Legacy => encode_legacy(&self.key),
        }
    }
}

/// Why a text is not an Ed25519 did:key (or not a REGISTER public key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DidKeyError {
    /// Longer than [`MAX_DID_BYTES`].
    #[error("identifier is {0} bytes; the limit is {MAX_DID_BYTES}")]
    TooLong(usize),
    /// Does not start with `did:key:z` (the method and the base58btc multibase tag).
    #[error("not a base58btc did:key (expected the prefix \"did:key:z\")")]
    NotDidKey,
    /// A character outside the base58btc alphabet.
    #[error("not base58btc")]
    BadBase58,
    /// The standard decoding is 34 bytes but does not start with the Ed25519 multicodec.
    #[error("multicodec prefix {0:02x?} is not Ed25519 (ed 01)")]
    WrongMulticodec([u8; 2]),
    /// Decodes to a number of bytes that fits neither form (for a bare key: not 32).
    #[error("decodes to {0} bytes, which is neither form of an Ed25519 key")]
    WrongLength(usize),
}

/// Parses a did:key holding an Ed25519 key: the standard form first, then the legacy
/// form (see the module documentation).
pub fn parse(did: &str) -> Result<DidKey, DidKeyError> {
    if did.len() > MAX_DID_BYTES {
        return Err(DidKeyError::TooLong(did.len()));
    }
    let multibase = did
        .strip_prefix(DID_KEY_PREFIX)
        .and_then(|rest| rest.strip_prefix('z'))
        .ok_or(DidKeyError::NotDidKey)?;
    let standard = bs58::decode(multibase)
        .into_vec()
        .map_err(|_| DidKeyError::BadBase58)?;
    if let Some(key) = standard
        .strip_prefix(&ED25519_MULTICODEC[..])
        .and_then(|key| <[u8; 32]>::try_from(key).ok())
    {
        return Ok(DidKey {
            key,
            form: DidForm::Standard,
        });
    }
    if let Some(legacy) = multibase.strip_prefix("6Mk") {
        // `6Mk` is itself base58, so the whole text decoded above; its tail does too.
        let raw = bs58::decode(legacy)
            .into_vec()
            .map_err(|_| DidKeyError::BadBase58)?;
        if let Ok(key) = <[u8; 32]>::try_from(raw.as_slice()) {
            return Ok(DidKey {
                key,
                form: DidForm::Legacy,
            });
        }
    }
    match standard.as_slice() {
        [a, b, rest @ ..] if rest.len() == 32 => Err(DidKeyError::WrongMulticodec([*a, *b])),
        _ => Err(DidKeyError::WrongLength(standard.len())),
    }
}

/// The standard did:key of an Ed25519 key.
pub fn encode_standard(key: &[u8; 32]) -> String {
    let mut bytes = [0u8; 34];
    bytes[..2].copy_from_slice(&ED25519_MULTICODEC);
    bytes[2..].copy_from_slice(key);
    format!("{DID_KEY_PREFIX}z{}", bs58::encode(bytes).into_string())
}

/// The legacy (AIConexus reference client) did:key of an Ed25519 key.
pub fn encode_legacy(key: &[u8; 32]) -> String {
    format!("{LEGACY_PREFIX}{}", bs58::encode(key).into_string())
}

/// Reads the `public_key` of a REGISTER payload: a bare base58btc key (what the
/// reference client's two-agent pattern sends) or a whole did:key in either form (what
/// its exchange pattern sends).
pub fn parse_public_key(value: &str) -> Result<[u8; 32], DidKeyError> {
    if value.len() > MAX_DID_BYTES {
        return Err(DidKeyError::TooLong(value.len()));
    }
    if value.starts_with(DID_KEY_PREFIX) {
        return parse(value).map(|did| did.key);
    }
    let raw = bs58::decode(value)
        .into_vec()
        .map_err(|_| DidKeyError::BadBase58)?;
    <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| DidKeyError::WrongLength(raw.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ZERO_LEGACY: &str = "did:key:z6Mk11111111111111111111111111111111";
    const ZERO_STANDARD: &str = "did:key:z6MkeTG3bFFSLYVU7VqhgZxqr6YzpaGrQtFMh1uvqGy1vDnP";

    #[test]
    fn the_all_zero_key_in_both_forms() {
        assert_eq!(encode_legacy(&[0; 32]), ZERO_LEGACY);
        assert_eq!(encode_standard(&[0; 32]), ZERO_STANDARD);
        assert_eq!(
            parse(ZERO_LEGACY),
            Ok(DidKey {
                key: [0; 32],
                form: DidForm::Legacy
            })
        );
        assert_eq!(
            parse(ZERO_STANDARD),
            Ok(DidKey {
                key: [0; 32],
                form: DidForm::Standard
            })
        );
    }

    #[test]
    fn a_known_key_from_the_did_key_specification() {
        // The first Ed25519 example of the W3C did:key test vectors.
        let did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        let parsed = parse(did).unwrap();
        assert_eq!(parsed.form, DidForm::Standard);
        assert_eq!(parsed.to_did(), did);
        assert_eq!(encode_standard(&parsed.key), did);
    }

    #[test]
    fn what_is_not_an_ed25519_did_key() {
        use DidKeyError::*;
        let long = format!("{LEGACY_PREFIX}{}", "1".repeat(200));
        let cases: Vec<(&str, DidKeyError)> = vec![
            ("", NotDidKey),
            ("did:web:example.com", NotDidKey),
            ("did:key:", NotDidKey),
            ("did:key:6Mk1111", NotDidKey),
            ("DID:KEY:z6Mk11111111111111111111111111111111", NotDidKey),
            ("did:key:z6Mk0OIl", BadBase58),
            ("did:key:z6Mk1111111111111111111111111111111 ", BadBase58),
            ("did:key:z", WrongLength(0)),
            ("did:key:z6Mk", WrongLength(2)),
            // 33 zero bytes where the legacy form has 32 (26 in the standard reading).
            (
                "did:key:z6Mk111111111111111111111111111111111",
                WrongLength(26),
            ),
            (&long, TooLong(long.len())),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Err(want), "{text:?}");
        }
        // A secp256k1 key (multicodec e7 01) has the right length but another prefix.
        let mut secp = vec![0xe7, 0x01];
        secp.extend_from_slice(&[7; 32]);
        let did = format!("did:key:z{}", bs58::encode(&secp).into_string());
        assert_eq!(parse(&did), Err(WrongMulticodec([0xe7, 0x01])));
    }

    #[test]
    fn register_public_keys_bare_or_as_a_did() {
        let key = [9u8; 32];
        let bare = bs58::encode(key).into_string();
        assert_eq!(parse_public_key(&bare), Ok(key));
        assert_eq!(parse_public_key(&encode_legacy(&key)), Ok(key));
        assert_eq!(parse_public_key(&encode_standard(&key)), Ok(key));
        assert_eq!(
            parse_public_key(&bare[1..]),
            Err(DidKeyError::WrongLength(31))
        );
        assert_eq!(parse_public_key("0x00"), Err(DidKeyError::BadBase58));
        assert_eq!(parse_public_key(""), Err(DidKeyError::WrongLength(0)));
        assert_eq!(
            parse_public_key("did:key:zQ3s"),
            Err(DidKeyError::WrongLength(3))
        );
    }

    #[test]
    fn a_signature_checks_out_with_the_parsed_key() {
        use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
        let signing = SigningKey::from_bytes(&[42; 32]);
        let public = signing.verifying_key().to_bytes();
        let signature = signing.sign(b"agentgate");
        for did in [encode_standard(&public), encode_legacy(&public)] {
            let key = VerifyingKey::from_bytes(&parse(&did).unwrap().key).unwrap();
            assert!(key.verify(b"agentgate", &signature).is_ok());
        }
    }

    proptest! {
        #[test]
        fn both_forms_round_trip_and_never_collide(key in any::<[u8; 32]>()) {
            let standard = encode_standard(&key);
            let legacy = encode_legacy(&key);
            prop_assert!(standard.starts_with(LEGACY_PREFIX));
            prop_assert!(legacy.starts_with(LEGACY_PREFIX));
            prop_assert_eq!(standard.len(), 56);
            prop_assert!((44..=56).contains(&legacy.len()));
            prop_assert_ne!(&standard, &legacy);
            prop_assert_eq!(parse(&standard), Ok(DidKey { key, form: DidForm::Standard }));
            prop_assert_eq!(parse(&legacy), Ok(DidKey { key, form: DidForm::Legacy }));
            prop_assert_eq!(parse_public_key(&standard), Ok(key));
            prop_assert_eq!(parse_public_key(&legacy), Ok(key));
            prop_assert_eq!(parse_public_key(&bs58::encode(key).into_string()), Ok(key));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,80}") {
            let _ = parse(&text);
            let _ = parse_public_key(&text);
        }

        #[test]
        fn parse_never_panics_near_the_prefix(tail in "[1-9A-HJ-NP-Za-km-z]{0,60}") {
            let _ = parse(&format!("{LEGACY_PREFIX}{tail}"));
            let _ = parse(&format!("did:key:z{tail}"));
        }
    }
}
