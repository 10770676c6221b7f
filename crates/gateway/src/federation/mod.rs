//! Federation with other domains' gateways.
//!
//! - [`discovery`]: where a domain's gateway is (static records, DNS TXT `_amtp`).
//! - [`keys`]: this gateway's Ed25519 signing keys, published at [`KEYS_PATH`].
//! - [`signatures`]: signing outbound deliveries, verifying inbound ones.
//! - `batch` (`agentgate_codec::amtp_batch`): several deliveries in one signed request,
//!   between agentgate gateways.
//! - `outbox`: the durable queue of deliveries to other domains and its worker.
//!
//! See `docs/protocols/federation.md` for the wire protocol and ADR 0005 for why.

pub(crate) use agentgate_codec::amtp_batch as batch;
pub mod discovery;
pub(crate) mod keys;
pub(crate) mod outbox;
pub mod signatures;

use std::sync::Arc;

use agentgate_codec::amtp_txt::DiscoveryRecord;
use agentgate_core::Domain;

use crate::config::Config;
use crate::delivery::resolver::GuardedResolver;
use discovery::{Discovery, DiscoverySettings};
use keys::KeyRing;
use signatures::Verifier;

/// Where a gateway publishes its federation keys, relative to its gateway URL.
pub(crate) const KEYS_PATH: &str = "/.well-known/amtp/keys";

/// Authentication methods this gateway announces in its record.
pub(crate) const AUTH_METHODS: &[&str] = &["httpsig"];

/// Optional features this gateway announces in its record.
pub(crate) const FEATURES: &[&str] = &["agent-discovery", batch::FEATURE];

/// The federation services.
#[derive(Debug)]
pub(crate) struct Federation {
    /// Finding peers.
    pub discovery: Discovery,
    /// Our signing keys.
    pub keys: KeyRing,
    /// Verifies peers' signatures.
    pub verifier: Verifier,
    /// The HTTP client for peers (deliveries, key fetches): no redirects, no proxy,
    /// https only unless `federation.allow_http`, public addresses only unless
    /// `federation.allow_private_peers`.
    pub client: reqwest::Client,
    /// Domains admitted without signatures (`federation.unsigned_peers`).
    pub unsigned_peers: Vec<Domain>,
    /// The path of `server.public_url` (empty, or e.g. `/amtp` when a proxy serves the
    /// gateway under a prefix and strips it): senders sign the path they send to.
    path_prefix: String,
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
                allow_private: f.allow_private_peers,
                resolvers: f.resolvers.clone(),
                negative_ttl: f.negative_cache_ttl,
                max_ttl: f.max_cache_ttl,
            },
        )?;
        let keys = KeyRing::open(&config.storage.data_dir, domain.clone(), f.retired_key_ttl)?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("agentgate/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(f.outbound.timeout)
            .connect_timeout(f.outbound.timeout)
            .https_only(!f.allow_http)
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: f.allow_private_peers,
            }))
            .build()?;
        let verifier = Verifier::new(
            domain.clone(),
            client.clone(),
            f.signature_max_age,
            f.key_cache_ttl,
        );
        let unsigned_peers = f
            .unsigned_peers
            .iter()
            .filter_map(|d| Domain::parse(d).ok())
            .collect();
        let path_prefix = url::Url::parse(&config.effective_public_url())
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Ok(Federation {
            discovery,
            keys,
            verifier,
            client,
            unsigned_peers,
            path_prefix,
        })
    }
}

impl Federation {
    /// Authenticates a signed delivery `POST {path}` (the path as received; the path of
    /// `server.public_url` is put in front of it): the sending domain, and the nonce
    /// still to record.
    pub async fn verify(
        &self,
        path: &str,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<signatures::Verified, signatures::VerifyError> {
        let path = format!("{}{path}", self.path_prefix);
        self.verifier
            .verify(
                &self.discovery,
                &path,
                headers,
                body,
                std::time::SystemTime::now(),
            )
            .await
    }

    /// Whether `domain` may deliver unsigned (`federation.unsigned_peers`).
    pub fn admits_unsigned(&self, domain: &Domain) -> bool {
        self.unsigned_peers.contains(domain)
    }

    /// Checks that an unsigned delivery claiming `domain` comes from an address of that
    /// domain's gateway (its IP literal, or what its host name resolves to).
    pub async fn check_unsigned_origin(
        &self,
        domain: &Domain,
        from: std::net::IpAddr,
    ) -> Result<(), signatures::VerifyError> {
        use signatures::VerifyError;
        let peer = self
            .discovery
            .discover(domain)
            .await
            .map_err(VerifyError::Discovery)?;
        let host = peer.gateway.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = peer.gateway.port_or_known_default().unwrap_or(443);
        let addresses: Vec<std::net::IpAddr> = match host.parse() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| {
                    VerifyError::Discovery(discovery::DiscoveryError::Lookup {
                        domain: domain.to_string(),
                        reason: e.to_string(),
                    })
                })?
                .map(|a| a.ip())
                .collect(),
        };
        if addresses
            .iter()
            .any(|a| a.to_canonical() == from.to_canonical())
        {
            Ok(())
        } else {
            Err(VerifyError::AddressMismatch(format!(
                "an unsigned delivery for {domain} must come from its gateway {}, not from {from}",
                peer.gateway
            )))
        }
    }
}
