//! Finding other domains' gateways: `federation.static_records`, then the DNS TXT
//! record `_amtp.<domain>`.
//!
//! Answers are cached: a record for its DNS TTL (at most `federation.max_cache_ttl`),
//! a domain without a usable record for `federation.negative_cache_ttl`, so that a
//! peer that is down or misconfigured does not cost a DNS round trip per message.
//! Static records and this gateway's own domain never expire. Gateways on plain
//! `http://` are refused unless `federation.allow_http` is set.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agentgate_codec::amtp_txt::{DiscoveryRecord, RecordError, parse_record};
use agentgate_core::Domain;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use parking_lot::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::directory::validate::is_public_ip;

/// Most domains remembered at once; the oldest entries go first beyond it.
const CACHE_CAPACITY: usize = 10_000;

/// Where a peer's record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    /// This gateway's own configuration.
    Config,
    /// `federation.static_records`.
    Static,
    /// The DNS.
    Dns,
}

/// A domain's gateway, as discovered.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// The domain.
    pub domain: Domain,
    /// Its record.
    pub record: DiscoveryRecord,
    /// The record's gateway URL, parsed, without a trailing `/`.
    pub gateway: Url,
    /// Where the record came from.
    pub source: Source,
    /// How long the record may still be cached (`None`: does not expire).
    pub ttl: Option<Duration>,
}

impl Peer {
    /// `{gateway}{path}` for a path starting with `/`.
    pub fn endpoint(&self, path: &str) -> String {
        let base = self.gateway.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }
}

/// Why a domain's gateway could not be found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// No `_amtp` record (and no static record).
    #[error("{0} publishes no _amtp record")]
    NotFound(String),
    /// A record that is not usable.
    #[error("the _amtp record of {domain} is not usable: {reason}")]
    Invalid {
        /// The domain.
        domain: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The gateway URL is plain http and that is not allowed.
    #[error(
        "{domain}'s gateway {gateway} is plain http, which federation.allow_http does not allow"
    )]
    PlainHttp {
        /// The domain.
        domain: String,
        /// Its gateway URL.
        gateway: String,
    },
    /// The gateway URL names a loopback, private or link-local host.
    #[error(
        "{domain}'s gateway {gateway} is on a private address, which federation.allow_private_peers does not allow"
    )]
    PrivateAddress {
        /// The domain.
        domain: String,
        /// Its gateway URL.
        gateway: String,
    },
    /// The DNS did not answer usefully (timeout, server failure).
    #[error("looking up _amtp.{domain} failed: {reason}")]
    Lookup {
        /// The domain.
        domain: String,
        /// What the resolver said.
        reason: String,
    },
}

impl DiscoveryError {
    /// The stable error code of this failure.
    pub fn code(&self) -> &'static str {
        match self {
            DiscoveryError::NotFound(_) => "CAPABILITIES_NOT_FOUND",
            DiscoveryError::Invalid { .. }
            | DiscoveryError::PlainHttp { .. }
            | DiscoveryError::PrivateAddress { .. } => "INVALID_GATEWAY",
            DiscoveryError::Lookup { .. } => "DISCOVERY_FAILED",
        }
    }
}

/// One cached answer.
struct Cached {
    answer: Result<Arc<Peer>, DiscoveryError>,
    until: Instant,
}

/// Settings of [`Discovery`].
#[derive(Clone, Debug)]
pub(crate) struct DiscoverySettings {
    /// Allow `http://` gateways.
    pub allow_http: bool,
    /// Allow gateways on loopback, private or link-local addresses.
    pub allow_private: bool,
    /// DNS servers; empty means the system configuration.
    pub resolvers: Vec<SocketAddr>,
    /// How long a failure is remembered.
    pub negative_ttl: Duration,
    /// Longest a record is cached.
    pub max_ttl: Duration,
}

/// The discovery service.
pub(crate) struct Discovery {
    own: Arc<Peer>,
    statics: HashMap<String, Result<Arc<Peer>, DiscoveryError>>,
    resolver: TokioResolver,
    cache: Mutex<HashMap<String, Cached>>,
    settings: DiscoverySettings,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("own", &self.own.domain)
            .field("static_records", &self.statics.len())
            .finish_non_exhaustive()
    }
}

impl Discovery {
    /// A discovery service for a gateway whose own record is `own`.
    pub fn new(
        own: (Domain, DiscoveryRecord),
        static_records: &std::collections::BTreeMap<String, String>,
        settings: DiscoverySettings,
    ) -> anyhow::Result<Discovery> {
        let (own_domain, own_record) = own;
        let own = Arc::new(Peer {
            gateway: Url::parse(&own_record.gateway)?,
            domain: own_domain,
            record: own_record,
            source: Source::Config,
            ttl: None,
        });
        let statics = static_records
            .iter()
            .filter_map(|(domain, text)| {
                let domain = Domain::parse(domain).ok()?;
                let answer = peer_from(&domain, text, Source::Static, None, &settings);
                Some((domain.as_str().to_owned(), answer.map(Arc::new)))
            })
            .collect();
        let resolver = build_resolver(&settings.resolvers)?;
        Ok(Discovery {
            own,
            statics,
            resolver,
            cache: Mutex::new(HashMap::new()),
            settings,
        })
    }

    /// The gateway of `domain`: ours, a static record, a cached answer or a DNS lookup.
    pub async fn discover(&self, domain: &Domain) -> Result<Arc<Peer>, DiscoveryError> {
        if *domain == self.own.domain {
            return Ok(self.own.clone());
        }
        if let Some(answer) = self.statics.get(domain.as_str()) {
            return answer.clone();
        }
        let now = Instant::now();
        if let Some(hit) = self.cache.lock().get(domain.as_str())
            && hit.until > now
        {
            return match &hit.answer {
                Ok(peer) => {
                    let mut peer = (**peer).clone();
                    peer.ttl = Some(hit.until - now);
                    Ok(Arc::new(peer))
                }
                Err(e) => Err(e.clone()),
            };
        }
        let (answer, ttl) = self.lookup(domain).await;
        let answer = answer.map(Arc::new);
        let until = Instant::now() + ttl;
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_CAPACITY {
            let now = Instant::now();
            cache.retain(|_, c| c.until > now);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(
            domain.as_str().to_owned(),
            Cached {
                answer: answer.clone(),
                until,
            },
        );
        answer
    }

    /// Asks the DNS; returns the answer and how long it may be cached.
    async fn lookup(&self, domain: &Domain) -> (Result<Peer, DiscoveryError>, Duration) {
        let negative = self.settings.negative_ttl;
        let name = format!("_amtp.{}.", domain.as_str());
        let lookup = match self.resolver.txt_lookup(name).await {
            Ok(lookup) => lookup,
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
                return (
                    Err(DiscoveryError::NotFound(domain.as_str().to_owned())),
                    negative,
                );
            }
            Err(e) => {
                let error = DiscoveryError::Lookup {
                    domain: domain.as_str().to_owned(),
                    reason: e.to_string(),
                };
                return (Err(error), negative);
            }
        };
        let mut first_error = None;
        for record in lookup.answers() {
            let RData::TXT(txt) = &record.data else {
                continue;
            };
            let text: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            let Ok(text) = String::from_utf8(text) else {
                continue;
            };
            let ttl = Duration::from_secs(record.ttl.into()).min(self.settings.max_ttl);
            match peer_from(domain, &text, Source::Dns, Some(ttl), &self.settings) {
                Ok(peer) => return (Ok(peer), ttl),
                Err(e) if looks_like_amtp(&text) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {}
            }
        }
        let error =
            first_error.unwrap_or_else(|| DiscoveryError::NotFound(domain.as_str().to_owned()));
        (Err(error), negative)
    }
}

/// Whether a TXT string is meant as an AMTP record (others at the name are ignored).
fn looks_like_amtp(text: &str) -> bool {
    let t = text.trim().trim_start_matches('"').trim_start();
    t.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("v="))
        && t[2..].trim_start().starts_with("amtp")
}

/// Parses a record and applies the http and address policies (a host name is checked
/// again at connection time, by the client's resolver).
fn peer_from(
    domain: &Domain,
    text: &str,
    source: Source,
    ttl: Option<Duration>,
    settings: &DiscoverySettings,
) -> Result<Peer, DiscoveryError> {
    let invalid = |reason: String| DiscoveryError::Invalid {
        domain: domain.as_str().to_owned(),
        reason,
    };
    let record = parse_record(text).map_err(|e: RecordError| invalid(e.to_string()))?;
    let gateway = Url::parse(&record.gateway).map_err(|e| invalid(e.to_string()))?;
    if gateway.scheme() == "http" && !settings.allow_http {
        return Err(DiscoveryError::PlainHttp {
            domain: domain.as_str().to_owned(),
            gateway: record.gateway,
        });
    }
    let private = match gateway.host() {
        Some(url::Host::Ipv4(ip)) => !is_public_ip(ip.into()),
        Some(url::Host::Ipv6(ip)) => !is_public_ip(ip.into()),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => true,
    };
    if private && !settings.allow_private {
        return Err(DiscoveryError::PrivateAddress {
            domain: domain.as_str().to_owned(),
            gateway: record.gateway,
        });
    }
    Ok(Peer {
        domain: domain.clone(),
        record,
        gateway,
        source,
        ttl,
    })
}

/// The system resolver, or one asking only the configured servers (UDP, then TCP).
fn build_resolver(servers: &[SocketAddr]) -> anyhow::Result<TokioResolver> {
    let provider = TokioRuntimeProvider::default();
    if servers.is_empty() {
        // Without a usable system configuration (a container without resolv.conf),
        // peers can still be reached through static records.
        return match TokioResolver::builder_tokio() {
            Ok(builder) => Ok(builder.build()?),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "no system DNS configuration; only federation.static_records can be used"
                );
                Ok(TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(Vec::new()),
                    provider,
                )
                .build()?)
            }
        };
    }
    let name_servers = servers
        .iter()
        .map(|addr| {
            let connection = |mut c: ConnectionConfig| {
                c.port = addr.port();
                c
            };
            NameServerConfig::new(
                addr.ip(),
                true,
                vec![
                    connection(ConnectionConfig::udp()),
                    connection(ConnectionConfig::tcp()),
                ],
            )
        })
        .collect();
    Ok(TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(name_servers),
        provider,
    )
    .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
    use hickory_resolver::proto::rr::Record;
    use hickory_resolver::proto::rr::rdata::TXT;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A DNS server on loopback UDP answering TXT queries from `zone` (name → strings,
    /// TTL 1 s), SERVFAIL for `_amtp.servfail.*` and NXDOMAIN otherwise; counts the queries it saw. Stops when the test's
    /// runtime ends.
    async fn dns_server(
        zone: BTreeMap<&'static str, Vec<&'static str>>,
    ) -> (SocketAddr, Arc<AtomicUsize>) {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let seen = queries.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(request) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                seen.fetch_add(1, Ordering::SeqCst);
                let mut response = Message::response(request.metadata.id, OpCode::Query);
                response.metadata.recursion_desired = request.metadata.recursion_desired;
                response.metadata.recursion_available = true;
                let query = request.queries[0].clone();
                let name = query.name().to_ascii();
                response.add_query(query.clone());
                match zone.get(name.trim_end_matches('.')) {
                    _ if name.starts_with("_amtp.servfail.") => {
                        response.metadata.response_code = ResponseCode::ServFail;
                    }
                    Some(strings) => {
                        for s in strings {
                            let chunks: Vec<String> = s
                                .as_bytes()
                                .chunks(255)
                                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                                .collect();
                            response.add_answer(Record::from_rdata(
                                query.name().clone(),
                                1,
                                RData::TXT(TXT::new(chunks)),
                            ));
                        }
                    }
                    None => response.metadata.response_code = ResponseCode::NXDomain,
                }
                let _ = socket.send_to(&response.to_vec().unwrap(), from).await;
            }
        });
        (addr, queries)
    }

    fn own() -> (Domain, DiscoveryRecord) {
        (
            Domain::parse("a.test").unwrap(),
            DiscoveryRecord {
                gateway: "https://gw.a.test".into(),
                auth: vec!["httpsig".into()],
                max_size: Some(1024),
                features: vec![],
            },
        )
    }

    fn settings(resolver: SocketAddr, allow_http: bool) -> DiscoverySettings {
        DiscoverySettings {
            allow_http,
            allow_private: allow_http,
            resolvers: vec![resolver],
            negative_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(3600),
        }
    }

    fn d(s: &str) -> Domain {
        Domain::parse(s).unwrap()
    }

    #[tokio::test]
    async fn dns_records_are_found_cached_for_their_ttl_and_checked() {
        let long_gateway = "https://gw.b.test/".to_owned() + &"p".repeat(300);
        let long: &'static str =
            Box::leak(format!("v=amtp1;gateway={long_gateway}").into_boxed_str());
        let zone = BTreeMap::from([
            (
                "_amtp.b.test",
                vec![
                    "some other text",
                    "v=amtp1;gateway=https://gw.b.test:8443;max-size=2048",
                ],
            ),
            ("_amtp.long.test", vec![long]),
            ("_amtp.bad.test", vec!["v=amtp1;gateway=ftp://x"]),
            (
                "_amtp.plain.test",
                vec!["v=amtp1;gateway=http://127.0.0.1:9"],
            ),
            ("_amtp.other.test", vec!["google-site-verification=xyz"]),
        ]);
        let (addr, queries) = dns_server(zone).await;
        let discovery = Discovery::new(own(), &BTreeMap::new(), settings(addr, false)).unwrap();

        let peer = discovery.discover(&d("B.test")).await.unwrap();
        assert_eq!(peer.source, Source::Dns);
        assert_eq!(peer.record.max_size, Some(2048));
        assert_eq!(
            peer.endpoint("/v1/messages"),
            "https://gw.b.test:8443/v1/messages"
        );
        assert!(peer.ttl.unwrap() <= Duration::from_secs(1));
        let n = queries.load(Ordering::SeqCst);
        discovery.discover(&d("b.test")).await.unwrap();
        assert_eq!(queries.load(Ordering::SeqCst), n, "answered from the cache");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        discovery.discover(&d("b.test")).await.unwrap();
        assert!(
            queries.load(Ordering::SeqCst) > n,
            "asked again after the TTL"
        );

        // A record split into several 255-byte strings is joined.
        let peer = discovery.discover(&d("long.test")).await.unwrap();
        assert_eq!(peer.record.gateway, long_gateway);

        assert!(matches!(
            discovery.discover(&d("bad.test")).await,
            Err(DiscoveryError::Invalid { .. })
        ));
        assert!(matches!(
            discovery.discover(&d("plain.test")).await,
            Err(DiscoveryError::PlainHttp { .. })
        ));
        assert_eq!(
            discovery.discover(&d("other.test")).await.unwrap_err(),
            DiscoveryError::NotFound("other.test".into())
        );
        let e = discovery.discover(&d("none.test")).await.unwrap_err();
        assert_eq!(e, DiscoveryError::NotFound("none.test".into()));
        assert_eq!(e.code(), "CAPABILITIES_NOT_FOUND");
        let n = queries.load(Ordering::SeqCst);
        discovery.discover(&d("none.test")).await.unwrap_err();
        assert_eq!(queries.load(Ordering::SeqCst), n, "a failure is cached too");
    }

    #[tokio::test]
    async fn static_records_and_our_own_domain_need_no_dns() {
        let (addr, queries) = dns_server(BTreeMap::new()).await;
        let statics = BTreeMap::from([(
            "c.test".to_owned(),
            "v=amtp1;gateway=http://127.0.0.1:7001".to_owned(),
        )]);
        let discovery = Discovery::new(own(), &statics, settings(addr, true)).unwrap();
        let peer = discovery.discover(&d("c.test")).await.unwrap();
        assert_eq!(peer.source, Source::Static);
        assert_eq!(peer.ttl, None);
        let me = discovery.discover(&d("A.TEST")).await.unwrap();
        assert_eq!(me.source, Source::Config);
        assert_eq!(me.record.max_size, Some(1024));
        assert_eq!(queries.load(Ordering::SeqCst), 0);

        // Without allow_http the same static record is refused.
        let strict = Discovery::new(own(), &statics, settings(addr, false)).unwrap();
        assert!(matches!(
            strict.discover(&d("c.test")).await,
            Err(DiscoveryError::PlainHttp { .. })
        ));
    }

    #[tokio::test]
    async fn a_failing_resolver_is_a_lookup_failure() {
        let (addr, _) = dns_server(BTreeMap::new()).await;
        let discovery = Discovery::new(own(), &BTreeMap::new(), settings(addr, false)).unwrap();
        let e = discovery.discover(&d("servfail.test")).await.unwrap_err();
        assert!(matches!(e, DiscoveryError::Lookup { .. }), "{e:?}");
        assert_eq!(e.code(), "DISCOVERY_FAILED");
    }
}
