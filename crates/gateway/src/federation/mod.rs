//! Federation with other domains' gateways.
//!
//! - [`discovery`]: where a domain's gateway is (static records, DNS TXT `_amtp`).
//! - [`keys`]: this gateway's Ed25519 signing keys, published at [`KEYS_PATH`].
//!
//! See `docs/protocols/federation.md` for the wire protocol.

pub mod discovery;
pub(crate) mod keys;

use agentgate_codec::amtp_txt::DiscoveryRecord;
use agentgate_core::Domain;

use crate::config::Config;
use discovery::{Discovery, DiscoverySettings};
use keys::KeyRing;

/// Where a gateway publishes its federation keys, relative to its gateway URL.
pub(crate) const KEYS_PATH: &str = "/.well-known/amtp/keys";

/// Authentication methods this gateway announces in its record.
pub(crate) const AUTH_METHODS: &[&str] = &["httpsig"];

/// Optional features this gateway announces in its record.
pub(crate) const FEATURES: &[&str] = &["agent-discovery"];

/// The federation services.
#[derive(Debug)]
pub(crate) struct Federation {
    /// Finding peers.
    pub discovery: Discovery,
    /// Our signing keys.
    pub keys: KeyRing,
}

impl Federation {
    /// Builds discovery from the configuration and opens (or creates) the key ring in
    /// the data directory.
    pub fn open(config: &Config, domain: &Domain) -> anyhow::Result<Federation> {
        let f = &config.federation;
        let own = DiscoveryRecord {
            gateway: config.effective_public_url(),
            auth: AUTH_METHODS.iter().map(|s| s.to_string()).collect(),
            max_size: Some(config.message.max_size as u64),
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
        };
        let discovery = Discovery::new(
            (domain.clone(), own),
            &f.static_records,
            DiscoverySettings {
                allow_http: f.allow_http,
                resolvers: f.resolvers.clone(),
                negative_ttl: f.negative_cache_ttl,
                max_ttl: f.max_cache_ttl,
            },
        )?;
        let keys = KeyRing::open(&config.storage.data_dir, domain.clone(), f.retired_key_ttl)?;
        Ok(Federation { discovery, keys })
    }
}
