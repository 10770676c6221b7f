//! The WebSocket edge: `GET /ws`, one endpoint for two dialects chosen by subprotocol
//! (`docs/protocols/websocket.md`).
//!
//! The upgrade handler checks the `Origin` allow-list, picks the dialect from what the
//! client offered (selecting a subprotocol only when it was offered), takes an
//! admission place (total and per address) and hands the socket to the dialect's
//! session. Sessions share [`Sessions`]: the presence registries, the admission
//! counters and the settings.

mod conn;
mod ioap;
mod limits;
mod native;
mod offline;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agentgate_core::Address;
use axum::extract::ws::WebSocket;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::http::header::{ORIGIN, SEC_WEBSOCKET_PROTOCOL};
use axum::response::Response;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::App;
use crate::config::WebSocketConfig;
use crate::http::error::ApiError;
use crate::metrics::DialectLabel;
use crate::presence::{CloseReason, Registry};
use agentgate_codec::ioap::ReceiptStatus;
use conn::{Conn, Counting, Liveness};
use limits::{Admission, SeenIds};
use offline::OfflineFrames;

/// How long shutdown waits for sessions to close.
pub(crate) const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Read buffer of each WebSocket connection, in bytes.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes of frames gathered before a write (a flush writes them sooner).
const WRITE_BUFFER: usize = 16 * 1024;

/// Most REGISTER ids remembered against replay (about 40 MB at the limit).
const REGISTER_IDS: usize = 200_000;

/// The native dialect's subprotocol.
pub const NATIVE: &str = "agentgate.v1";
/// The AIConexus dialect's subprotocol.
pub const IOAP_V1: &str = "ioap.v1";
/// The AIConexus dialect in strict mode.
pub const IOAP_V2: &str = "ioap.v2";

/// A session's dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// JSON-RPC 2.0, `agentgate.v1`.
    Native,
    /// AIConexus IoAP v1 (compatible mode unless configured strict).
    Ioap,
    /// IoAP in strict mode.
    IoapStrict,
}

/// The dialect for the subprotocols a client offered, in its order of preference, and
/// the subprotocol to select (only ever one it offered).
pub(crate) fn choose(offered: &[&str]) -> (Dialect, Option<&'static str>) {
    for p in offered {
        match *p {
            NATIVE => return (Dialect::Native, Some(NATIVE)),
            IOAP_V1 => return (Dialect::Ioap, Some(IOAP_V1)),
            IOAP_V2 => return (Dialect::IoapStrict, Some(IOAP_V2)),
            _ => {}
        }
    }
    (Dialect::Native, None)
}

/// The subprotocols in every `Sec-WebSocket-Protocol` header, in order.
fn offered(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether a request with `headers` may open a session under `allowed` origins.
fn origin_allowed(allowed: &[String], headers: &HeaderMap) -> bool {
    if allowed.is_empty() {
        return true;
    }
    match headers.get(ORIGIN) {
        None => true,
        Some(o) => o
            .to_str()
            .is_ok_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o))),
    }
}

/// The state every session shares.
#[derive(Debug)]
pub struct Sessions {
    /// Native sessions, by agent.
    pub(crate) native: Registry<Address>,
    /// ioap sessions, by DID.
    pub(crate) ioap: Registry<String>,
    admission: Arc<Admission>,
    /// Compatible-mode REGISTER ids within their freshness window.
    register_ids: SeenIds,
    /// Strict-mode frames held for offline receivers.
    offline: OfflineFrames,
    settings: WebSocketConfig,
    next_id: AtomicU64,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Sessions {
    /// Sessions under `settings`; they end when `shutdown` is cancelled.
    pub(crate) fn new(settings: WebSocketConfig, shutdown: CancellationToken) -> Sessions {
        Sessions {
            native: Registry::default(),
            ioap: Registry::default(),
            admission: Arc::new(Admission::new(
                settings.max_connections,
                settings.max_connections_per_address,
            )),
            register_ids: SeenIds::new(REGISTER_IDS),
            offline: OfflineFrames::new(
                settings.ioap.offline_queue,
                settings.ioap.offline_ttl.as_millis() as u64,
            ),
            settings,
            next_id: AtomicU64::new(1),
            tracker: TaskTracker::new(),
            shutdown,
        }
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn liveness(&self) -> Liveness {
        Liveness {
            ping_interval: self.settings.ping_interval,
            ping_timeout: self.settings.ping_timeout,
        }
    }

    /// Connections open (authenticated or not).
    pub(crate) fn open(&self) -> usize {
        self.admission.open()
    }

    /// Whether `GET /agents` is served without the admin key.
    pub(crate) fn public_agents(&self) -> bool {
        self.settings.ioap.public_agents
    }

    /// Identities holding a session, in both dialects.
    pub(crate) fn connected(&self) -> usize {
        self.native.len() + self.ioap.len()
    }

    /// Starts the task that reports held frames that expire (`None` when frames are
    /// not held).
    pub(crate) fn spawn_expiry(
        self: &Arc<Self>,
        app: std::sync::Weak<App>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if !self.offline.enabled() {
            return None;
        }
        let sessions = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = sessions.shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let expired = sessions.offline.expire(crate::clock::now().millis());
                if expired.is_empty() {
                    continue;
                }
                let Some(app) = app.upgrade() else { return };
                let gateway = ioap::gateway_did(&app);
                for held in &expired {
                    ioap::receipt(&sessions, &gateway, held, ReceiptStatus::Expired);
                }
            }
        }))
    }

    /// Closes every session (1001) and waits up to `grace` for them to end.
    pub(crate) async fn close_all(&self, grace: std::time::Duration) {
        self.native.close_all(CloseReason::GOING_AWAY);
        self.ioap.close_all(CloseReason::GOING_AWAY);
        self.tracker.close();
        let _ = tokio::time::timeout(grace, self.tracker.wait()).await;
    }
}

/// `GET /ws`: upgrades to a WebSocket session.
pub(crate) async fn upgrade(
    State(app): State<Arc<App>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (mut parts, _body) = request.into_parts();
    let settings = &app.sessions.settings;
    if !origin_allowed(&settings.allowed_origins, &parts.headers) {
        return Err(ApiError::OriginNotAllowed);
    }
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| ApiError::UpgradeRequired(e.body_text()))?;
    let (dialect, selected) = choose(&offered(&parts.headers));
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    // A small read buffer: the WebSocket library zero-fills all of it on every read,
    // so its size is both resident memory per idle session and work per read. Writes
    // are buffered up to WRITE_BUFFER, so a busy session still sends many frames per
    // system call.
    let upgrade = upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(settings.max_frame_size)
        .max_frame_size(settings.max_frame_size)
        .protocols(selected);
    let admitted = app.sessions.admission.admit(peer);
    let token = app.sessions.tracker.token();
    Ok(upgrade
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "WebSocket upgrade failed"))
        .on_upgrade(move |socket: WebSocket| async move {
            let _token = token;
            let conn = Conn::open(
                socket,
                app.sessions.settings.outbound_queue,
                app.sessions.liveness(),
                Counting {
                    metrics: app.metrics.clone(),
                    dialect: match dialect {
                        Dialect::Native => DialectLabel::Native,
                        Dialect::Ioap | Dialect::IoapStrict => DialectLabel::Ioap,
                    },
                },
            );
            let Ok(place) = admitted else {
                conn.close(CloseReason::TRY_AGAIN_LATER).await;
                return;
            };
            match dialect {
                Dialect::Native => native::run(app, conn).await,
                Dialect::Ioap => ioap::run(app, conn, false).await,
                Dialect::IoapStrict => ioap::run(app, conn, true).await,
            }
            drop(place);
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_first_known_offered_subprotocol_picks_the_dialect() {
        assert_eq!(choose(&[]), (Dialect::Native, None));
        assert_eq!(choose(&["chat", "x"]), (Dialect::Native, None));
        assert_eq!(choose(&[NATIVE]), (Dialect::Native, Some(NATIVE)));
        assert_eq!(choose(&[IOAP_V1]), (Dialect::Ioap, Some(IOAP_V1)));
        assert_eq!(
            choose(&[IOAP_V2, IOAP_V1]),
            (Dialect::IoapStrict, Some(IOAP_V2))
        );
        assert_eq!(
            choose(&["chat", IOAP_V1, NATIVE]),
            (Dialect::Ioap, Some(IOAP_V1))
        );
        assert_eq!(choose(&["IOAP.V1"]), (Dialect::Native, None));
    }

    #[test]
    fn offered_subprotocols_are_read_from_every_header_in_order() {
        let mut h = HeaderMap::new();
        h.append(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("a, ioap.v1"),
        );
        h.append(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(" b ,,"));
        assert_eq!(offered(&h), vec!["a", "ioap.v1", "b"]);
    }

    #[test]
    fn origins_are_checked_only_when_listed_and_sent() {
        let mut h = HeaderMap::new();
        assert!(origin_allowed(&[], &h));
        let allowed = vec!["https://app.example.com".to_string()];
        assert!(origin_allowed(&allowed, &h));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!origin_allowed(&allowed, &h));
        assert!(origin_allowed(&[], &h));
        h.insert(ORIGIN, HeaderValue::from_static("https://APP.example.com"));
        assert!(origin_allowed(&allowed, &h));
    }
}
