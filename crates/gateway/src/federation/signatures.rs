//! Signing outbound deliveries and verifying inbound ones (HTTP Message Signatures,
//! RFC 9421, in the profile of [`agentgate_codec::http_signature`]).
//!
//! Verifying a delivery from a peer:
//!
//! 1. `Signature-Input` and `Signature` parse and follow the profile (label `amtp`,
//!    `@method @path content-digest date amtp-sender-domain`, Ed25519).
//! 2. The signature is fresh: `created` is at most `federation.signature_max_age` old
//!    and not more than that in the future, and `expires` has not passed.
//! 3. The keyid's domain is the `AMTP-Sender-Domain` header, which is not our own domain.
//! 4. The key: the sending domain is discovered (static record or DNS), its keys are
//!    fetched from `{gateway}/.well-known/amtp/keys` and cached for
//!    `federation.key_cache_ttl`; an unknown keyid refetches them (at most every
//!    [`REFETCH_AFTER`]), so a peer's rotation is picked up at once.
//! 5. The Ed25519 signature over the signature base rebuilt from this request.
//! 6. `Content-Digest` matches the body.
//! 7. The nonce has not been seen from that key within the freshness window (a durable
//!    record with a TTL, so a replay is refused even after a restart); see
//!    [`Nonce::record`].
//!
//! What the delivery may contain (senders of the signing domain, recipients of ours) is
//! checked by messaging, which receives the verified domain.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agentgate_codec::http_signature::{
    self as sig, LABEL, SENDER_DOMAIN_HEADER, SignatureError, SignatureParams,
};
use agentgate_core::Domain;
use agentgate_store::{Store, StoreError};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use ed25519_dalek::{Signature, VerifyingKey};
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::time::Instant;

use super::KEYS_PATH;
use super::discovery::{Discovery, DiscoveryError};
use super::keys::ActiveKey;
use crate::storage::FEDERATION_NONCES;

/// An unknown keyid refetches a peer's keys at most this often.
pub(crate) const REFETCH_AFTER: Duration = Duration::from_secs(5);
/// Largest key document accepted from a peer.
const MAX_KEYS_BODY: usize = 64 * 1024;
/// Most keys a peer may publish.
const MAX_KEYS: usize = 32;

/// The headers of a signed delivery, in the order they are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SignedHeaders {
    /// `Date` (IMF-fixdate).
    pub date: String,
    /// `Content-Digest`.
    pub content_digest: String,
    /// `AMTP-Sender-Domain`.
    pub sender_domain: String,
    /// `Signature-Input`.
    pub signature_input: String,
    /// `Signature`.
    pub signature: String,
}

impl SignedHeaders {
    /// (name, value) pairs to set on the request.
    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            ("date", &self.date),
            ("content-digest", &self.content_digest),
            (SENDER_DOMAIN_HEADER, &self.sender_domain),
            ("signature-input", &self.signature_input),
            ("signature", &self.signature),
        ]
    }
}

/// Signs `POST {path}` with `body` from `domain` at `now`, valid for `validity`.
pub(crate) fn sign(
    key: &ActiveKey,
    domain: &Domain,
    path: &str,
    body: &[u8],
    now: SystemTime,
    validity: Duration,
    nonce: &str,
) -> Result<SignedHeaders, SignatureError> {
    let created = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let params = SignatureParams::amtp(
        created,
        created + validity.as_secs().max(1),
        nonce,
        key.keyid.clone(),
    );
    let date = httpdate::fmt_http_date(now);
    let content_digest = sig::content_digest_sha256(body);
    let base = sig::signature_base(
        &[
            ("@method", "POST"),
            ("@path", path),
            ("content-digest", &content_digest),
            ("date", &date),
            (SENDER_DOMAIN_HEADER, domain.as_str()),
        ],
        &params,
    )?;
    Ok(SignedHeaders {
        signature_input: sig::serialize_signature_input(LABEL, &params)?,
        signature: sig::serialize_signature(LABEL, &key.sign(base.as_bytes()))?,
        date,
        content_digest,
        sender_domain: domain.as_str().to_owned(),
    })
}

/// Why an inbound delivery's signature is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A signature header is missing.
    #[error("the delivery is not signed: header {0} is missing")]
    Missing(&'static str),
    /// A header is present more than once or is not text.
    #[error("header {0} must appear once, as text")]
    BadHeader(&'static str),
    /// The signature fields do not parse or do not follow the profile.
    #[error("the signature is not usable: {0}")]
    Malformed(#[from] SignatureError),
    /// `created`/`expires` outside the accepted window.
    #[error("the signature is not fresh: {0}")]
    Stale(String),
    /// The sender domain header is not a domain, or differs from the keyid's domain.
    #[error("{0}")]
    DomainMismatch(String),
    /// The sending domain's gateway could not be found.
    #[error("cannot find the sending gateway: {0}")]
    Discovery(DiscoveryError),
    /// The sending gateway's keys could not be fetched.
    #[error("cannot fetch the sending gateway's keys: {0}")]
    KeysUnavailable(String),
    /// The keyid is not among the sending gateway's published keys.
    #[error("key {0} is not published by the sending gateway")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The body does not match `Content-Digest`.
    #[error("the body does not match Content-Digest")]
    DigestMismatch,
    /// The same signature nonce was seen before.
    #[error("this signed request was already received (nonce {0:?} reused)")]
    Replayed(String),
    /// The nonce could not be recorded.
    #[error("cannot record the signature nonce: {0}")]
    Storage(StoreError),
    /// An unsigned delivery from an allowed peer came from an address that is not its
    /// gateway's.
    #[error("{0}")]
    AddressMismatch(String),
}

impl VerifyError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Missing(_) => "SIGNATURE_REQUIRED",
            VerifyError::BadHeader(_) | VerifyError::Malformed(_) => "INVALID_SIGNATURE",
            VerifyError::Stale(_) => "SIGNATURE_EXPIRED",
            VerifyError::DomainMismatch(_) => "SENDER_DOMAIN_MISMATCH",
            VerifyError::Discovery(_) => "DISCOVERY_FAILED",
            VerifyError::KeysUnavailable(_) => "PEER_KEYS_UNAVAILABLE",
            VerifyError::UnknownKey(_) => "UNKNOWN_KEY",
            VerifyError::BadSignature => "INVALID_SIGNATURE",
            VerifyError::DigestMismatch => "CONTENT_DIGEST_MISMATCH",
            VerifyError::Replayed(_) => "REPLAYED_REQUEST",
            VerifyError::Storage(_) => "STORE_UNAVAILABLE",
            VerifyError::AddressMismatch(_) => "PEER_ADDRESS_MISMATCH",
        }
    }

    /// Whether the sender may succeed by retrying later (our side or the lookup of its
    /// keys failed), as opposed to a request that will never verify.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            VerifyError::Discovery(_) | VerifyError::KeysUnavailable(_) | VerifyError::Storage(_)
        )
    }
}

/// A verified delivery.
#[derive(Debug)]
pub struct Verified {
    /// The signing (sending) domain.
    pub domain: Domain,
    /// The signature's nonce, to record.
    pub nonce: Nonce,
}

/// A signature nonce (step 7).
#[derive(Debug)]
pub struct Nonce {
    key: String,
    text: String,
}

impl Nonce {
    /// Records the nonce; refuses one seen before within the freshness window.
    ///
    /// The caller may accept the delivery concurrently (one group commit for both): a
    /// replayed request has the very body that was signed (the digest is covered), so
    /// accepting it again is a repeat that changes nothing, and the replay is still
    /// answered with this refusal.
    pub async fn record(self, store: &dyn Store) -> Result<(), VerifyError> {
        match store
            .create(FEDERATION_NONCES, &self.key, Bytes::from_static(b"1"))
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::AlreadyExists(_)) => Err(VerifyError::Replayed(self.text)),
            Err(e) => Err(VerifyError::Storage(e)),
        }
    }
}

/// A peer's keys, as cached.
#[derive(Debug)]
struct PeerKeys {
    keys: HashMap<String, VerifyingKey>,
    fetched: Instant,
}

/// The document at [`KEYS_PATH`].
#[derive(Deserialize)]
struct KeysDocument {
    domain: String,
    keys: Vec<KeyDocument>,
}

#[derive(Deserialize)]
struct KeyDocument {
    keyid: String,
    alg: String,
    public_key: String,
}

/// Verifies inbound deliveries.
#[derive(Debug)]
pub(crate) struct Verifier {
    own: Domain,
    client: reqwest::Client,
    max_age: Duration,
    key_ttl: Duration,
    cache: Mutex<HashMap<String, Arc<PeerKeys>>>,
}

impl Verifier {
    /// A verifier for the gateway of `own`, fetching keys with `client`.
    pub fn new(
        own: Domain,
        client: reqwest::Client,
        max_age: Duration,
        key_ttl: Duration,
    ) -> Verifier {
        Verifier {
            own,
            client,
            max_age,
            key_ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies a signed `POST {path}` (steps 1–6); returns the authenticated sending
    /// domain and the nonce, which the caller records with [`Nonce::record`].
    pub async fn verify(
        &self,
        discovery: &Discovery,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let input = one(headers, "signature-input")?;
        let signature = one(headers, "signature")?;
        let digest = one(headers, "content-digest")?;
        let date = one(headers, "date")?;
        let sender = one(headers, SENDER_DOMAIN_HEADER)?;

        let params = sig::parse_signature_input(input, LABEL)?;
        let signature = sig::parse_signature(signature, LABEL)?;
        let unix = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let max_age = self.max_age.as_secs();
        if params.created + max_age < unix {
            return Err(VerifyError::Stale(format!(
                "created {} s ago; at most {max_age} s are accepted",
                unix - params.created
            )));
        }
        if params.created > unix + max_age {
            return Err(VerifyError::Stale(format!(
                "created {} s in the future",
                params.created - unix
            )));
        }
        if params.expires < unix {
            return Err(VerifyError::Stale("the signature has expired".into()));
        }

        let (key_domain, _) = params.keyid_parts()?;
        let domain = Domain::parse(sender).map_err(|e| {
            VerifyError::DomainMismatch(format!(
                "{SENDER_DOMAIN_HEADER} {sender:?} is not a domain: {e}"
            ))
        })?;
        if !key_domain.eq_ignore_ascii_case(domain.as_str()) {
            return Err(VerifyError::DomainMismatch(format!(
                "the key {} is not of the sending domain {domain}",
                params.keyid
            )));
        }
        if domain == self.own {
            return Err(VerifyError::DomainMismatch(format!(
                "a peer cannot deliver as this gateway's own domain {domain}"
            )));
        }

        let key = self.key(discovery, &domain, &params.keyid).await?;
        let base = sig::signature_base(
            &[
                ("@method", "POST"),
                ("@path", path),
                ("content-digest", digest),
                ("date", date),
                (SENDER_DOMAIN_HEADER, sender),
            ],
            &params,
        )?;
        key.verify_strict(base.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| VerifyError::BadSignature)?;
        sig::verify_content_digest(digest, body).map_err(|e| match e {
            SignatureError::DigestMismatch => VerifyError::DigestMismatch,
            other => VerifyError::Malformed(other),
        })?;

        Ok(Verified {
            domain,
            nonce: Nonce {
                key: nonce_key(&params.keyid, &params.nonce),
                text: params.nonce,
            },
        })
    }

    /// The verifying key `keyid` of `domain`, from the cache or the peer.
    async fn key(
        &self,
        discovery: &Discovery,
        domain: &Domain,
        keyid: &str,
    ) -> Result<VerifyingKey, VerifyError> {
        let cached = self.cache.lock().get(domain.as_str()).cloned();
        if let Some(peer) = &cached {
            let age = peer.fetched.elapsed();
            if age < self.key_ttl {
                if let Some(key) = peer.keys.get(keyid) {
                    return Ok(*key);
                }
                if age < REFETCH_AFTER {
                    return Err(VerifyError::UnknownKey(keyid.to_owned()));
                }
            }
        }
        let fetched = Arc::new(self.fetch(discovery, domain).await?);
        self.cache
            .lock()
            .insert(domain.as_str().to_owned(), fetched.clone());
        fetched
            .keys
            .get(keyid)
            .copied()
            .ok_or_else(|| VerifyError::UnknownKey(keyid.to_owned()))
    }

    async fn fetch(&self, discovery: &Discovery, domain: &Domain) -> Result<PeerKeys, VerifyError> {
        let peer = discovery
            .discover(domain)
            .await
            .map_err(VerifyError::Discovery)?;
        let url = peer.endpoint(KEYS_PATH);
        let unavailable = |e: String| VerifyError::KeysUnavailable(format!("{url}: {e}"));
        let mut response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status().as_u16())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(e.to_string()))?
        {
            if body.len() + chunk.len() > MAX_KEYS_BODY {
                return Err(unavailable(format!("larger than {MAX_KEYS_BODY} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let doc: KeysDocument =
            serde_json::from_slice(&body).map_err(|e| unavailable(e.to_string()))?;
        if !doc.domain.eq_ignore_ascii_case(domain.as_str()) {
            return Err(unavailable(format!(
                "the document is for {}, not {domain}",
                doc.domain
            )));
        }
        let prefix = format!("{}:", domain.as_str());
        let keys = doc
            .keys
            .into_iter()
            .filter(|k| k.alg == "ed25519" && k.keyid.to_ascii_lowercase().starts_with(&prefix))
            .take(MAX_KEYS)
            .filter_map(|k| {
                let bytes: [u8; 32] = URL_SAFE_NO_PAD
                    .decode(&k.public_key)
                    .ok()?
                    .try_into()
                    .ok()?;
                Some((k.keyid, VerifyingKey::from_bytes(&bytes).ok()?))
            })
            .collect();
        Ok(PeerKeys {
            keys,
            fetched: Instant::now(),
        })
    }
}

/// The value of a header that must appear exactly once.
fn one<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next().ok_or(VerifyError::Missing(name))?;
    if values.next().is_some() {
        return Err(VerifyError::BadHeader(name));
    }
    first.to_str().map_err(|_| VerifyError::BadHeader(name))
}

/// The nonce record's key: the keyid and nonce, escaped into one store token.
fn nonce_key(keyid: &str, nonce: &str) -> String {
    let mut key = String::with_capacity(keyid.len() + nonce.len() + 8);
    agentgate_store::escape_token_into(keyid, &mut key);
    key.push('.');
    agentgate_store::escape_token_into(nonce, &mut key);
    key
}

/// A fresh nonce: 16 random bytes, base64url.
pub(crate) fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(crate::clock::random_bytes::<16>())
}
