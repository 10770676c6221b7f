//! This gateway's federation signing keys (Ed25519).
//!
//! The key ring lives in `<data_dir>/federation-keys.json` (mode 0600), created with
//! one key on first start. Exactly one key is active and signs outbound deliveries;
//! [`KeyRing::rotate`] makes a new key active and retires the previous one, which stays
//! published (so that deliveries signed just before the rotation still verify) until
//! `federation.retired_key_ttl` has passed. Every change is written to a temporary
//! file, synced and renamed over the old one, so a crash leaves either ring, whole.
//!
//! A key's id is the first 16 hex digits of the SHA-256 of its public key; on the wire
//! it appears as `keyid="<domain>:<id>"`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentgate_core::{Domain, Timestamp};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer, SigningKey};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock;

/// File name of the key ring in the data directory.
pub(crate) const KEY_FILE: &str = "federation-keys.json";

/// One key as stored.
#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    id: String,
    /// The 32-byte Ed25519 secret, standard base64.
    secret: String,
    created_at: Timestamp,
    retired_at: Option<Timestamp>,
}

/// The file's contents.
#[derive(Clone, Serialize, Deserialize)]
struct StoredRing {
    version: u32,
    keys: Vec<StoredKey>,
}

/// A key in memory.
#[derive(Clone)]
struct Key {
    id: String,
    signing: SigningKey,
    created_at: Timestamp,
    retired_at: Option<Timestamp>,
}

/// A public key as published at the well-known URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PublishedKey {
    /// `<domain>:<id>`.
    pub keyid: String,
    /// Always `ed25519`.
    pub alg: String,
    /// The 32-byte public key, base64url without padding.
    pub public_key: String,
    /// `active` (signs now) or `retired` (verifies until `expires_at`).
    pub status: String,
    /// When the key was made.
    pub created_at: Timestamp,
    /// When a retired key stops being published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// The active key, ready to sign.
#[derive(Clone)]
pub(crate) struct ActiveKey {
    /// `<domain>:<id>`.
    pub keyid: String,
    key: SigningKey,
}

impl ActiveKey {
    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// The key ring.
pub(crate) struct KeyRing {
    path: PathBuf,
    domain: Domain,
    retired_ttl: Duration,
    keys: RwLock<Vec<Key>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("path", &self.path)
            .field("keys", &self.keys.read().len())
            .finish()
    }
}

impl KeyRing {
    /// Loads `<data_dir>/federation-keys.json`, creating it with one new key if absent.
    pub fn open(data_dir: &Path, domain: Domain, retired_ttl: Duration) -> anyhow::Result<KeyRing> {
        fs::create_dir_all(data_dir)
            .with_context(|| format!("storage.data_dir: cannot create {}", data_dir.display()))?;
        let path = data_dir.join(KEY_FILE);
        let ring = KeyRing {
            path,
            domain,
            retired_ttl,
            keys: RwLock::new(Vec::new()),
        };
        match fs::read(&ring.path) {
            Ok(bytes) => {
                let keys = decode(&bytes)
                    .with_context(|| format!("{} is not a usable key ring", ring.path.display()))?;
                *ring.keys.write() = keys;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = vec![new_key(clock::now())];
                ring.save(&keys)?;
                tracing::info!(path = %ring.path.display(), "created a federation signing key");
                *ring.keys.write() = keys;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", ring.path.display()));
            }
        }
        Ok(ring)
    }

    /// The key that signs now.
    pub fn active(&self) -> ActiveKey {
        let keys = self.keys.read();
        let key = keys
            .iter()
            .find(|k| k.retired_at.is_none())
            .expect("a key ring always has an active key");
        ActiveKey {
            keyid: self.keyid(&key.id),
            key: key.signing.clone(),
        }
    }

    /// The keys to publish at `now`: the active one and retired ones not yet expired.
    pub fn published(&self, now: Timestamp) -> Vec<PublishedKey> {
        self.keys
            .read()
            .iter()
            .filter(|k| self.expiry(k).is_none_or(|e| e > now))
            .map(|k| PublishedKey {
                keyid: self.keyid(&k.id),
                alg: "ed25519".into(),
                public_key: URL_SAFE_NO_PAD.encode(k.signing.verifying_key().to_bytes()),
                status: if k.retired_at.is_some() {
                    "retired"
                } else {
                    "active"
                }
                .into(),
                created_at: k.created_at,
                expires_at: self.expiry(k),
            })
            .collect()
    }

    /// Makes a new key active and retires the current one; drops expired keys.
    /// Returns the new key as published.
    pub fn rotate(&self) -> anyhow::Result<PublishedKey> {
        let now = clock::now();
        let mut keys = self.keys.write();
        let mut next: Vec<Key> = keys
            .iter()
            .filter(|k| self.expiry(k).is_none_or(|e| e > now))
            .cloned()
            .collect();
        for k in &mut next {
            k.retired_at.get_or_insert(now);
        }
        let fresh = new_key(now);
        let id = fresh.id.clone();
        next.insert(0, fresh);
        self.save(&next)?;
        *keys = next;
        drop(keys);
        tracing::info!(keyid = %self.keyid(&id), "rotated the federation signing key");
        Ok(self
            .published(now)
            .into_iter()
            .find(|k| k.keyid == self.keyid(&id))
            .expect("the new key is published"))
    }

    fn keyid(&self, id: &str) -> String {
        format!("{}:{id}", self.domain.as_str())
    }

    fn expiry(&self, key: &Key) -> Option<Timestamp> {
        key.retired_at
            .map(|r| r.plus_millis(self.retired_ttl.as_millis() as u64))
    }

    /// Writes the ring atomically: temporary file (0600), sync, rename, sync directory.
    fn save(&self, keys: &[Key]) -> anyhow::Result<()> {
        let stored = StoredRing {
            version: 1,
            keys: keys
                .iter()
                .map(|k| StoredKey {
                    id: k.id.clone(),
                    secret: STANDARD.encode(k.signing.to_bytes()),
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                })
                .collect(),
        };
        let tmp = self.path.with_extension("json.tmp");
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let write = || -> std::io::Result<()> {
            let mut f = opts.open(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(&stored).map_err(std::io::Error::other)?)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// A fresh key made at `now`.
fn new_key(now: Timestamp) -> Key {
    let signing = SigningKey::from_bytes(&clock::random_bytes::<32>());
    Key {
        id: key_id(&signing),
        signing,
        created_at: now,
        retired_at: None,
    }
}

/// The first 16 hex digits of the SHA-256 of the public key.
fn key_id(key: &SigningKey) -> String {
    let digest = Sha256::digest(key.verifying_key().to_bytes());
    hex::encode(&digest[..8])
}

/// Reads a stored ring; it must hold exactly one active key.
fn decode(bytes: &[u8]) -> anyhow::Result<Vec<Key>> {
    let stored: StoredRing = serde_json::from_slice(bytes)?;
    anyhow::ensure!(
        stored.version == 1,
        "unknown key ring version {}",
        stored.version
    );
    let keys = stored
        .keys
        .into_iter()
        .map(|k| {
            let secret: [u8; 32] = STANDARD
                .decode(&k.secret)
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("key {}: the secret is not 32 bytes of base64", k.id))?;
            let signing = SigningKey::from_bytes(&secret);
            anyhow::ensure!(
                key_id(&signing) == k.id,
                "key {}: the id does not match the key",
                k.id
            );
            Ok(Key {
                id: k.id,
                signing,
                created_at: k.created_at,
                retired_at: k.retired_at,
            })
        })
        .collect::<anyhow::Result<Vec<Key>>>()?;
    let active = keys.iter().filter(|k| k.retired_at.is_none()).count();
    anyhow::ensure!(
        active == 1,
        "the ring has {active} active keys; exactly one is needed"
    );
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, VerifyingKey};

    fn domain() -> Domain {
        Domain::parse("a.test").unwrap()
    }

    fn verify(published: &PublishedKey, message: &[u8], signature: &[u8; 64]) -> bool {
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&published.public_key)
            .unwrap()
            .try_into()
            .unwrap();
        VerifyingKey::from_bytes(&bytes)
            .unwrap()
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }

    #[test]
    fn created_private_reloaded_and_signs_verifiably() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path(), domain(), Duration::from_secs(60)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let active = ring.active();
        assert!(active.keyid.starts_with("a.test:"));
        assert_eq!(active.keyid.len(), "a.test:".len() + 16);
        let published = ring.published(clock::now());
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].keyid, active.keyid);
        assert_eq!(published[0].status, "active");
        let sig = active.sign(b"hello");
        assert!(verify(&published[0], b"hello", &sig));
        assert!(!verify(&published[0], b"hellO", &sig));

        let again = KeyRing::open(dir.path(), domain(), Duration::from_secs(60)).unwrap();
        assert_eq!(again.active().keyid, active.keyid);
    }

    #[test]
    fn rotation_retires_then_drops_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path(), domain(), Duration::from_millis(1)).unwrap();
        let first = ring.active().keyid;
        let new = ring.rotate().unwrap();
        assert_eq!(new.status, "active");
        assert_ne!(new.keyid, first);
        assert_eq!(ring.active().keyid, new.keyid);
        // The retired key is kept until its ttl (1 ms) passes, then dropped at the next
        // rotation.
        let now = clock::now();
        let all = ring.published(Timestamp(0));
        assert!(
            all.iter()
                .any(|k| k.keyid == first && k.status == "retired")
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            !ring
                .published(clock::now())
                .iter()
                .any(|k| k.keyid == first)
        );
        assert!(now.millis() > 0);
        let third = ring.rotate().unwrap();
        let reloaded = KeyRing::open(dir.path(), domain(), Duration::from_secs(60)).unwrap();
        assert_eq!(reloaded.active().keyid, third.keyid);
        let ids: Vec<String> = reloaded
            .published(Timestamp(0))
            .into_iter()
            .map(|k| k.keyid)
            .collect();
        assert_eq!(ids, vec![third.keyid, new.keyid]);
    }

    #[test]
    fn a_damaged_ring_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        fs::write(&path, "{").unwrap();
        let e = KeyRing::open(dir.path(), domain(), Duration::from_secs(1)).unwrap_err();
        assert!(format!("{e:#}").contains("not a usable key ring"), "{e:#}");
        fs::write(&path, r#"{"version":1,"keys":[]}"#).unwrap();
        let e = KeyRing::open(dir.path(), domain(), Duration::from_secs(1)).unwrap_err();
        assert!(format!("{e:#}").contains("0 active keys"), "{e:#}");
        let secret = STANDARD.encode([7u8; 32]);
        fs::write(
            &path,
            format!(
                r#"{{"version":1,"keys":[{{"id":"0000000000000000","secret":"{secret}","created_at":"2026-01-01T00:00:00Z","retired_at":null}}]}}"#
            ),
        )
        .unwrap();
        let e = KeyRing::open(dir.path(), domain(), Duration::from_secs(1)).unwrap_err();
        assert!(format!("{e:#}").contains("does not match"), "{e:#}");
    }
}
