//! Gateway configuration: the typed [`Config`] and its sections.
//!
//! Every key has a default, so an empty file is a valid configuration. Loading (YAML file,
//! `AGENTGATE_…` environment overrides, the AMTP guide's `AMTP_…` aliases) and
//! validation live in [`mod@load`]; library code receives a finished [`Config`] and never
//! reads the environment itself.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod load;

pub use load::{
    ConfigError, Loaded, Origin, Override, Problem, env_name, load, load_with_overrides, redact,
    redacted, to_yaml,
};

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `server.*`: identity and listener.
    pub server: ServerConfig,
    /// `storage.*`: which backend keeps state.
    pub storage: StorageConfig,
    /// `auth.*`: admin keys.
    pub auth: AuthConfig,
    /// `tls.*`: HTTPS.
    pub tls: TlsConfig,
    /// `logging.*`.
    pub logging: LoggingConfig,
    /// `message.*`: limits and de-duplication.
    pub message: MessageConfig,
    /// `inbox.*`: pull inbox paging and long-poll.
    pub inbox: InboxConfig,
    /// `delivery.*`: push delivery.
    pub delivery: DeliveryConfig,
    /// `discovery.*`: the agent directory as others see it.
    pub discovery: DiscoveryConfig,
    /// `metrics.*`.
    pub metrics: MetricsConfig,
    /// `federation.*`: other domains (used from the federation release on).
    pub federation: FederationConfig,
    /// `websocket.*`: real-time sessions (used from the WebSocket release on).
    pub websocket: WebSocketConfig,
}

impl Config {
    /// The URL peers and clients use to reach this gateway: `server.public_url` when
    /// set; otherwise `http(s)://<host>:<port>` from `server.listen` and `tls.enabled`,
    /// where the host is `server.domain` when listening on all addresses and the listen
    /// IP otherwise.
    pub fn effective_public_url(&self) -> String {
        if let Some(url) = &self.server.public_url {
            return url.clone();
        }
        let scheme = if self.tls.enabled { "https" } else { "http" };
        let ip = self.server.listen.ip();
        let host = if ip.is_unspecified() {
            self.server.domain.clone()
        } else if ip.is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        format!("{scheme}://{host}:{}", self.server.listen.port())
    }
}

/// `server.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The one domain this gateway serves.
    pub domain: String,
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// How peers reach this gateway; derived from `listen` and TLS when absent.
    pub public_url: Option<String>,
    /// Longest time one request may take before it is answered 503.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// On SIGTERM, how long in-flight requests may take to finish.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Most connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            domain: "localhost".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            request_timeout: Duration::from_secs(90),
            shutdown_grace: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

/// Which storage backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One node, one data directory.
    #[default]
    Embedded,
    /// A NATS JetStream cluster.
    Nats,
}

impl Backend {
    /// The name as written in configuration: `embedded` or `nats`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Nats => "nats",
        }
    }
}

/// `storage.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `embedded` or `nats`.
    pub backend: Backend,
    /// Where the embedded backend (and the generated admin key) live.
    pub data_dir: PathBuf,
    /// Embedded backend tuning.
    pub embedded: EmbeddedConfig,
    /// NATS backend settings.
    pub nats: NatsConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: Backend::Embedded,
            data_dir: PathBuf::from("./data"),
            embedded: EmbeddedConfig::default(),
            nats: NatsConfig::default(),
        }
    }
}

/// `storage.embedded.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// Block cache size in MiB; bounds the store's memory whatever the data size.
    pub cache_mb: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig { cache_mb: 64 }
    }
}

/// `storage.nats.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URLs.
    pub servers: Vec<String>,
    /// JetStream replicas per stream and bucket.
    pub replicas: u8,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            servers: vec!["nats://127.0.0.1:4222".into()],
            replicas: 1,
        }
    }
}

/// `auth.*`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// File of admin keys, one per line, `#` comments. When absent the gateway creates
    /// `<data_dir>/admin.key` (mode 0600) with one new key.
    pub admin_key_file: Option<PathBuf>,
}

/// Lowest TLS version accepted.
///
/// Written `"1.3"` or `"1.2"`; `TLS1.2`, `TLSv1.3` and an unquoted YAML number (`1.2`) are
/// accepted too, since the AMTP guide's examples and operators write all of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    #[serde(rename = "1.2")]
    V1_2,
    /// TLS 1.3 only.
    #[default]
    #[serde(rename = "1.3")]
    V1_3,
}

impl TlsVersion {
    /// Parses `1.2`, `1.3`, optionally prefixed by `TLS`/`TLSv` (any case).
    pub fn parse(s: &str) -> Option<TlsVersion> {
        let t = s.trim().to_ascii_lowercase();
        let t = t
            .strip_prefix("tlsv")
            .or_else(|| t.strip_prefix("tls"))
            .unwrap_or(&t)
            .trim();
        match t {
            "1.2" => Some(TlsVersion::V1_2),
            "1.3" => Some(TlsVersion::V1_3),
            _ => None,
        }
    }

    /// The version as written in configuration: `"1.2"` or `"1.3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        }
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TlsVersion;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a TLS version, \"1.2\" or \"1.3\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TlsVersion, E> {
                TlsVersion::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "unknown TLS version {v:?}; expected \"1.2\" or \"1.3\""
                    ))
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<TlsVersion, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

/// `tls.*`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve HTTPS. Turned on automatically when both files are given.
    pub enabled: bool,
    /// PEM certificate chain.
    pub cert_file: Option<PathBuf>,
    /// PEM private key.
    pub key_file: Option<PathBuf>,
    /// `"1.3"` (default) or `"1.2"`.
    pub min_version: TlsVersion,
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable text.
    Text,
}

/// `logging.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter directive.
    pub level: String,
    /// `json` or `text`.
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".into(),
            format: LogFormat::Json,
        }
    }
}

/// `message.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageConfig {
    /// Largest request body accepted, in bytes.
    pub max_size: usize,
    /// How long a (sender, idempotency key) is remembered.
    #[serde(with = "humantime_serde")]
    pub dedup_window: Duration,
}

impl Default for MessageConfig {
    fn default() -> Self {
        MessageConfig {
            max_size: 10 * 1024 * 1024,
            dedup_window: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// `inbox.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboxConfig {
    /// Page size when `limit` is not given.
    pub default_limit: usize,
    /// Largest `limit` accepted.
    pub max_limit: usize,
    /// Longest long-poll `wait` accepted.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for InboxConfig {
    fn default() -> Self {
        InboxConfig {
            default_limit: 50,
            max_limit: 1000,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// `delivery.*`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Push delivery to agents' webhooks.
    pub push: PushConfig,
}

/// `delivery.push.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Attempts in all before a push is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles after each, with ±25 % jitter.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest delay between attempts.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Time allowed for one POST.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Pushes in flight at once.
    pub concurrency: usize,
    /// Allow `http://` push targets (otherwise `https://` only).
    pub allow_http: bool,
    /// Allow targets that resolve to loopback, private or link-local addresses.
    pub allow_private_targets: bool,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            max_attempts: 12,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            concurrency: 32,
            allow_http: false,
            allow_private_targets: false,
        }
    }
}

/// `discovery.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// An agent is "active" if it made an authenticated request within this window.
    #[serde(with = "humantime_serde")]
    pub active_window: Duration,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            active_window: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// `metrics.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Require an admin key (`X-Admin-Key` or `Authorization: Bearer`) for `/metrics`.
    pub require_auth: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { require_auth: true }
    }
}

/// `federation.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationConfig {
    /// Domain → `_amtp` TXT record text, consulted before DNS.
    pub static_records: BTreeMap<String, String>,
    /// Allow `http://` gateway URLs (loopback and test setups).
    pub allow_http: bool,
    /// Domains admitted without signatures.
    pub unsigned_peers: Vec<String>,
    /// Allow peers' gateways on loopback, private or link-local addresses (loopback
    /// and test setups; otherwise a DNS record could point deliveries at internal hosts).
    pub allow_private_peers: bool,
    /// DNS servers (`ip:port`) to ask for `_amtp` records; empty means the system's
    /// resolver configuration.
    pub resolvers: Vec<SocketAddr>,
    /// How long a domain without a usable record is remembered as such.
    #[serde(with = "humantime_serde")]
    pub negative_cache_ttl: Duration,
    /// Longest a discovered record is cached, whatever its DNS TTL says.
    #[serde(with = "humantime_serde")]
    pub max_cache_ttl: Duration,
    /// How old (or how far in the future) a peer's signature may be.
    #[serde(with = "humantime_serde")]
    pub signature_max_age: Duration,
    /// How long a peer's published keys are cached.
    #[serde(with = "humantime_serde")]
    pub key_cache_ttl: Duration,
    /// After a rotation, how long the previous signing key stays published.
    #[serde(with = "humantime_serde")]
    pub retired_key_ttl: Duration,
    /// Delivery to other domains.
    pub outbound: OutboundConfig,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            static_records: BTreeMap::new(),
            allow_http: false,
            unsigned_peers: Vec::new(),
            allow_private_peers: false,
            resolvers: Vec::new(),
            negative_cache_ttl: Duration::from_secs(60),
            max_cache_ttl: Duration::from_secs(3600),
            signature_max_age: Duration::from_secs(300),
            key_cache_ttl: Duration::from_secs(600),
            retired_key_ttl: Duration::from_secs(7 * 24 * 3600),
            outbound: OutboundConfig::default(),
        }
    }
}

/// `federation.outbound.*`: the AMTP specification's retry schedule by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Attempts in all before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles after each, with ±25 % jitter.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest delay between attempts.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Time allowed for one POST to a peer.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Outbox jobs (one per message and domain) in flight at once.
    pub concurrency: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            max_attempts: 168,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(30),
            concurrency: 512,
        }
    }
}

/// `websocket.*`: real-time sessions at `/ws` (`docs/protocols/websocket.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocketConfig {
    /// How long a new session may take to authenticate (native) or register (ioap).
    #[serde(with = "humantime_serde")]
    pub auth_timeout: Duration,
    /// Largest frame (message) accepted from a client, in bytes.
    pub max_frame_size: usize,
    /// WebSocket sessions open at once, in all.
    pub max_connections: usize,
    /// WebSocket sessions open at once from one IP address.
    pub max_connections_per_address: usize,
    /// Frames one identity may send per second (both dialects); `0` for no limit.
    pub max_messages_per_second: u32,
    /// Messages pushed to a native session and not yet acknowledged, at most.
    pub max_unacked: usize,
    /// Frames queued for one connection before it counts as a slow consumer.
    pub outbound_queue: usize,
    /// `Origin` values allowed to open sessions; empty allows any (requests without an
    /// `Origin`, from non-browser clients, are always allowed).
    pub allowed_origins: Vec<String>,
    /// How often the server pings an idle session.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// How long a ping may stay unanswered before the session is closed.
    #[serde(with = "humantime_serde")]
    pub ping_timeout: Duration,
    /// The AIConexus `ioap.v1` edge.
    pub ioap: IoapConfig,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            auth_timeout: Duration::from_secs(10),
            max_frame_size: 1024 * 1024,
            max_connections: 100_000,
            max_connections_per_address: 10_000,
            max_messages_per_second: 1_000,
            max_unacked: 256,
            outbound_queue: 1_024,
            allowed_origins: Vec::new(),
            ping_interval: Duration::from_secs(20),
            ping_timeout: Duration::from_secs(20),
            ioap: IoapConfig::default(),
        }
    }
}

/// `websocket.ioap.*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IoapConfig {
    /// `compat` (default) or `strict`.
    pub mode: IoapMode,
    /// Relay `INTENT`, `EXEC_REQUEST` and `EXEC_RESPONSE` frames (otherwise refused).
    pub relay_exec: bool,
    /// Serve `GET /agents` without the admin key, as the reference gateway does.
    pub public_agents: bool,
    /// Strict mode: frames held per offline receiver until it registers; 0 answers
    /// `UNKNOWN_AGENT` at once instead.
    pub offline_queue: usize,
    /// How long a held frame waits for its receiver.
    #[serde(with = "humantime_serde")]
    pub offline_ttl: Duration,
}

impl Default for IoapConfig {
    fn default() -> Self {
        IoapConfig {
            mode: IoapMode::Compat,
            relay_exec: false,
            public_agents: false,
            offline_queue: 0,
            offline_ttl: Duration::from_secs(30),
        }
    }
}

/// How faithfully the `ioap.v1` edge reproduces legacy quirks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IoapMode {
    /// Serve the reference clients as they are: a signed REGISTER proves the DID.
    #[default]
    Compat,
    /// Challenge–response registration with standard DIDs only, for every ioap session.
    Strict,
}
