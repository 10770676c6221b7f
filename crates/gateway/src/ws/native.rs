//! The native dialect, `agentgate.v1`: JSON-RPC 2.0 over text frames
//! (`docs/protocols/websocket.md`).
//!
//! A session goes through two phases. Until it authenticates (within
//! `websocket.auth_timeout`) it answers only `auth`. Then it is bound to one agent:
//! `send` goes through the same service call as `POST /v1/messages`, `ack` through the
//! same as `DELETE /v1/inbox/…`, and a pump task pushes the agent's inbox, oldest first,
//! with at most `websocket.max_unacked` messages pushed and not acknowledged. Requests
//! are served concurrently (up to [`MAX_IN_FLIGHT`]); each answers through the
//! connection's bounded queue, so a client that stops reading stops being read.

use std::collections::HashMap;
use std::sync::Arc;

use agentgate_codec::jsonrpc::{self, FrameError};
use agentgate_core::{DeliveryMode, MessageId, Timestamp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::conn::{Conn, Inbound};
use super::limits::{RateLimiter, Verdict};
use crate::app::App;
use crate::clock;
use crate::directory::AgentEntry;
use crate::http::error::ApiError;
use crate::inbox::InboxError;
use crate::messaging::Origin;
use crate::presence::{CloseReason, Session, TextFrame};

/// Requests of one session served at once; further frames wait in the socket.
const MAX_IN_FLIGHT: usize = 64;
/// Most message ids in one `ack`.
const MAX_ACK_IDS: usize = 1_000;
/// Inbox items read per store round by the pump.
const PUMP_BATCH: usize = 100;

/// What the server says first.
#[derive(Serialize)]
struct Welcome<'a> {
    protocol: &'static str,
    domain: &'a str,
    session_id: String,
    nonce: String,
    auth_deadline: Timestamp,
}

/// `auth` parameters: an API key, or a signature with a registered key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthParams {
    api_key: Option<String>,
    agent: Option<String>,
    did: Option<String>,
    signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckParams {
    message_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

/// A refusal the session itself raises, with its stable code.
fn refusal(id: Option<&RawValue>, code: &str, message: &str) -> String {
    jsonrpc::error_response(
        id,
        jsonrpc::APPLICATION_ERROR,
        message,
        Some(&json!({ "code": code })),
    )
}

/// A service's error as a JSON-RPC error: `-32000` with the HTTP API's code, or
/// `-32603` for the gateway's own failures.
fn service_error(id: Option<&RawValue>, e: ApiError) -> String {
    let (status, info) = e.info();
    let code = if status.is_server_error() {
        jsonrpc::INTERNAL_ERROR
    } else {
        jsonrpc::APPLICATION_ERROR
    };
    let mut data = json!({ "code": info.code });
    if let Some(d) = info.details {
        data["details"] = d;
    }
    jsonrpc::error_response(id, code, &info.message, Some(&data))
}

fn bad_params(id: Option<&RawValue>, e: &serde_json::Error) -> String {
    jsonrpc::error_response(
        id,
        jsonrpc::INVALID_PARAMS,
        &format!("invalid params: {e}"),
        None::<&Value>,
    )
}

fn frame_error(e: &FrameError) -> String {
    jsonrpc::error_response(e.id(), e.code(), &e.to_string(), None::<&Value>)
}

/// The outcome of a frame before authentication.
enum Opening {
    /// Answer and go on waiting.
    Answer(String),
    /// Answer, then close with 4001.
    Refuse(String),
    /// Authenticated as this agent; the answer's id.
    Agent(Arc<AgentEntry>, Box<RawValue>),
}

/// The bytes a key-authenticating client signs (`docs/protocols/websocket.md`).
fn auth_message(welcome: &Welcome<'_>, agent: &str, did: &str) -> Vec<u8> {
    [
        "agentgate.v1 auth",
        welcome.domain,
        &welcome.session_id,
        &welcome.nonce,
        agent,
        did,
    ]
    .join("\n")
    .into_bytes()
}

/// Handles one frame of an unauthenticated session.
fn opening(app: &App, welcome: &Welcome<'_>, text: &str) -> Opening {
    let request = match jsonrpc::parse_request(text) {
        Ok(r) => r,
        Err(e) => return Opening::Answer(frame_error(&e)),
    };
    let Some(id) = request.id else {
        // A notification gets no answer, by JSON-RPC's rules; and authenticates nothing.
        return Opening::Answer(String::new());
    };
    if request.method != "auth" {
        return Opening::Answer(refusal(
            Some(id),
            "UNAUTHENTICATED",
            "authenticate first: call auth",
        ));
    }
    let params: AuthParams = match jsonrpc::params(request.params) {
        Ok(p) => p,
        Err(e) => return Opening::Refuse(bad_params(Some(id), &e)),
    };
    match params {
        AuthParams {
            api_key: Some(key),
            agent: None,
            did: None,
            signature: None,
        } => match app.directory.authenticate(&key) {
            Some(entry) => Opening::Agent(entry, id.to_owned()),
            None => Opening::Refuse(refusal(
                Some(id),
                "AUTHENTICATION_FAILED",
                "the API key is not valid",
            )),
        },
        AuthParams {
            api_key: None,
            agent: Some(agent),
            did: Some(did),
            signature: Some(signature),
        } => {
            let proven = URL_SAFE_NO_PAD
                .decode(signature.as_bytes())
                .ok()
                .and_then(|sig| {
                    let message = auth_message(welcome, &agent, &did);
                    app.directory.prove(&agent, &did, &message, &sig)
                });
            match proven {
                Some(entry) => Opening::Agent(entry, id.to_owned()),
                None => Opening::Refuse(refusal(
                    Some(id),
                    "AUTHENTICATION_FAILED",
                    "no registered key of this agent signed this session's challenge",
                )),
            }
        }
        _ => Opening::Refuse(jsonrpc::error_response(
            Some(id),
            jsonrpc::INVALID_PARAMS,
            "auth takes {\"api_key\"} or {\"agent\", \"did\", \"signature\"}",
            None::<&Value>,
        )),
    }
}

/// Runs a native session on `conn` until it ends.
pub(super) async fn run(app: Arc<App>, mut conn: Conn) {
    let sessions = &app.sessions;
    let now = clock::now();
    let timeout = sessions.settings.auth_timeout;
    let deadline = Instant::now() + timeout;
    let welcome = Welcome {
        protocol: super::NATIVE,
        domain: app.settings.domain.as_str(),
        session_id: Uuid::now_v7().to_string(),
        nonce: URL_SAFE_NO_PAD.encode(clock::random_bytes::<32>()),
        auth_deadline: now.plus_millis(timeout.as_millis() as u64),
    };
    if conn
        .out
        .send(jsonrpc::notification("welcome", &welcome).into())
        .await
        .is_err()
    {
        return;
    }
    let mut limiter = RateLimiter::new(
        sessions.settings.max_messages_per_second,
        std::time::Instant::now(),
    );
    let (agent, auth_id) = loop {
        let inbound = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                conn.close(CloseReason::AUTH_TIMEOUT).await;
                return;
            }
            _ = sessions.shutdown.cancelled() => {
                conn.close(CloseReason::GOING_AWAY).await;
                return;
            }
            i = conn.next() => i,
        };
        let text = match inbound {
            Inbound::Text(t) => t,
            Inbound::Gone => return conn.finish().await,
            Inbound::Fault(reason) => return conn.close(reason).await,
        };
        if let Some(r) = limiter.as_mut()
            && r.check(std::time::Instant::now()) == Verdict::Close
        {
            return conn.close(CloseReason::RATE_LIMITED).await;
        }
        match opening(&app, &welcome, text.as_str()) {
            Opening::Answer(frame) if frame.is_empty() => {}
            Opening::Answer(frame) => {
                if conn.out.send(frame.into()).await.is_err() {
                    return;
                }
            }
            Opening::Refuse(frame) => {
                let _ = conn.out.send(frame.into()).await;
                return conn.close(CloseReason::AUTH_FAILED).await;
            }
            Opening::Agent(entry, id) => break (entry, id),
        }
    };
    let session_id = welcome.session_id;
    serve(app.clone(), conn, agent, auth_id, session_id, limiter).await;
}

/// An authenticated session's shared state.
struct Active {
    app: Arc<App>,
    agent: Arc<AgentEntry>,
    out: mpsc::Sender<TextFrame>,
    window: Window,
    /// Stops the pump and the presence subscription.
    stop: CancellationToken,
    presence: Mutex<Option<CancellationToken>>,
}

/// Messages pushed and not yet acknowledged, each holding a permit of the window.
struct Window {
    permits: Arc<Semaphore>,
    pushed: Mutex<HashMap<Uuid, OwnedSemaphorePermit>>,
}

async fn serve(
    app: Arc<App>,
    mut conn: Conn,
    agent: Arc<AgentEntry>,
    auth_id: Box<RawValue>,
    session_id: String,
    mut limiter: Option<RateLimiter>,
) {
    let sessions = &app.sessions;
    let address = agent.agent.address.clone();
    let session = Arc::new(Session::new(
        sessions.next_id(),
        clock::now(),
        conn.out.clone(),
        &sessions.shutdown,
    ));
    if let Some(old) = sessions.native.claim(address.clone(), session.clone()) {
        old.close(CloseReason::SUPERSEDED);
    }
    let pending = app.inbox.depth(&address).await.unwrap_or(0);
    let answer = jsonrpc::response(
        &auth_id,
        &json!({ "agent": address, "session_id": session_id, "pending": pending }),
    );
    let active = Arc::new(Active {
        app: app.clone(),
        agent,
        out: conn.out.clone(),
        window: Window {
            permits: Arc::new(Semaphore::new(sessions.settings.max_unacked)),
            pushed: Mutex::new(HashMap::new()),
        },
        stop: CancellationToken::new(),
        presence: Mutex::new(None),
    });
    let mut reason = None;
    if conn.out.send(answer.into()).await.is_ok() {
        if active.agent.agent.delivery_mode == DeliveryMode::Pull {
            tokio::spawn(pump(active.clone()));
        }
        reason = requests(&active, &session, &mut conn, &mut limiter).await;
    }
    active.stop.cancel();
    // A pump waiting for room in a full window would otherwise wait for ever.
    active.window.permits.close();
    if let Some(p) = active.presence.lock().take() {
        p.cancel();
    }
    sessions.native.release(&address, session.id, clock::now());
    match reason {
        Some(r) => conn.close(r).await,
        None => conn.finish().await,
    }
}

/// Serves requests until the session ends; the close reason, or `None` when the peer
/// left.
async fn requests(
    active: &Arc<Active>,
    session: &Session,
    conn: &mut Conn,
    limiter: &mut Option<RateLimiter>,
) -> Option<CloseReason> {
    let mut in_flight: FuturesUnordered<BoxFuture<'static, ()>> = FuturesUnordered::new();
    // Made once: a future per frame would register with the token every time.
    let closed = session.closed();
    tokio::pin!(closed);
    loop {
        let inbound = tokio::select! {
            r = &mut closed => return Some(r),
            Some(()) = in_flight.next(), if !in_flight.is_empty() => continue,
            i = conn.next(), if in_flight.len() < MAX_IN_FLIGHT => i,
        };
        let text = match inbound {
            Inbound::Text(t) => t,
            Inbound::Gone => return None,
            Inbound::Fault(r) => return Some(r),
        };
        session.touch(clock::now());
        let verdict = limiter
            .as_mut()
            .map_or(Verdict::Allow, |l| l.check(std::time::Instant::now()));
        match verdict {
            Verdict::Close => return Some(CloseReason::RATE_LIMITED),
            Verdict::Refuse => {
                let answer = match jsonrpc::parse_request(text.as_str()) {
                    Ok(r) if r.id.is_none() => continue,
                    Ok(r) => refusal(
                        r.id,
                        "RATE_LIMITED",
                        "over websocket.max_messages_per_second; slow down",
                    ),
                    Err(e) => frame_error(&e),
                };
                let out = active.out.clone();
                in_flight.push(Box::pin(async move {
                    let _ = out.send(answer.into()).await;
                }));
            }
            Verdict::Allow => in_flight.push(Box::pin(handle(active.clone(), text))),
        }
    }
}

/// Serves one request and sends its answer.
async fn handle(active: Arc<Active>, text: axum::extract::ws::Utf8Bytes) {
    let request = match jsonrpc::parse_request(text.as_str()) {
        Ok(r) => r,
        Err(e) => {
            let _ = active.out.send(frame_error(&e).into()).await;
            return;
        }
    };
    let id = request.id;
    let answer = match request.method.as_ref() {
        "send" => send(&active, id, request.params).await,
        "ack" => ack(&active, id, request.params).await,
        "presence.list" => {
            no_params(id, request.params).unwrap_or_else(|| presence_list(&active, id))
        }
        "presence.subscribe" => {
            no_params(id, request.params).unwrap_or_else(|| presence_subscribe(&active, id))
        }
        "presence.unsubscribe" => no_params(id, request.params).unwrap_or_else(|| {
            if let Some(p) = active.presence.lock().take() {
                p.cancel();
            }
            id.map(|id| jsonrpc::response(id, &json!({ "subscribed": false })))
                .unwrap_or_default()
        }),
        "ping" => no_params(id, request.params).unwrap_or_else(|| {
            id.map(|id| jsonrpc::response(id, &json!({ "pong": true, "at": clock::now() })))
                .unwrap_or_default()
        }),
        "auth" => id
            .map(|id| {
                refusal(
                    Some(id),
                    "ALREADY_AUTHENTICATED",
                    "this session is already authenticated",
                )
            })
            .unwrap_or_default(),
        other => id
            .map(|id| {
                jsonrpc::error_response(
                    Some(id),
                    jsonrpc::METHOD_NOT_FOUND,
                    &format!("no method {other:?}"),
                    None::<&Value>,
                )
            })
            .unwrap_or_default(),
    };
    // A notification (no id) gets no answer.
    if id.is_some() && !answer.is_empty() {
        let _ = active.out.send(answer.into()).await;
    }
}

/// `None` when `params` are absent or `{}`; otherwise the invalid-params answer.
fn no_params(id: Option<&RawValue>, params: Option<&RawValue>) -> Option<String> {
    match jsonrpc::params::<NoParams>(params) {
        Ok(NoParams {}) => None,
        Err(e) => Some(bad_params(id, &e)),
    }
}

async fn send(active: &Active, id: Option<&RawValue>, params: Option<&RawValue>) -> String {
    let Some(envelope) = params.filter(|p| p.get().starts_with('{')) else {
        return jsonrpc::error_response(
            id,
            jsonrpc::INVALID_PARAMS,
            "send takes the message envelope as its params object",
            None::<&Value>,
        );
    };
    let app = &active.app;
    match app
        .workflows
        .submit(Origin::Agent(&active.agent), envelope.get().as_bytes())
        .await
    {
        Ok(submission) => match id {
            Some(id) => {
                let (_, body) = crate::http::submitted(&submission);
                jsonrpc::response(id, &body)
            }
            None => String::new(),
        },
        Err(e) => service_error(id, ApiError::Messaging(e)),
    }
}

async fn ack(active: &Active, id: Option<&RawValue>, params: Option<&RawValue>) -> String {
    let params: AckParams = match jsonrpc::params(params) {
        Ok(p) => p,
        Err(e) => return bad_params(id, &e),
    };
    if params.message_ids.len() > MAX_ACK_IDS {
        return refusal(
            id,
            "TOO_MANY_IDS",
            &format!("at most {MAX_ACK_IDS} message ids per ack"),
        );
    }
    let app = &active.app;
    let results: Vec<(String, Result<Timestamp, InboxError>)> =
        futures::stream::iter(params.message_ids.into_iter().map(|m| async move {
            let r = app.inbox.ack(&active.agent, &m).await;
            (m, r)
        }))
        .buffered(16)
        .collect()
        .await;
    let mut acknowledged = Vec::new();
    let mut not_found = Vec::new();
    for (m, r) in results {
        match r {
            Ok(_) => acknowledged.push(m),
            Err(InboxError::MessageNotFound(_) | InboxError::InvalidMessageId(_)) => {
                not_found.push(m)
            }
            Err(e) => return service_error(id, ApiError::Inbox(e)),
        }
    }
    // Acknowledged or gone: either way no longer pushed and waiting.
    {
        let mut pushed = active.window.pushed.lock();
        for m in acknowledged.iter().chain(&not_found) {
            if let Ok(mid) = MessageId::parse(m) {
                pushed.remove(mid.as_uuid());
            }
        }
    }
    match id {
        Some(id) => jsonrpc::response(
            id,
            &json!({ "acknowledged": acknowledged, "not_found": not_found }),
        ),
        None => String::new(),
    }
}

#[derive(Serialize)]
struct PresentAgent<'a> {
    address: &'a agentgate_core::Address,
    connected_since: Timestamp,
    last_activity: Timestamp,
}

/// Every online agent, by address.
fn present_agents(active: &Active) -> Value {
    let present = active.app.sessions.native.list();
    let agents: Vec<PresentAgent<'_>> = present
        .iter()
        .map(|p| PresentAgent {
            address: &p.identity,
            connected_since: p.connected_since,
            last_activity: p.last_activity,
        })
        .collect();
    json!({ "agents": agents })
}

fn presence_list(active: &Active, id: Option<&RawValue>) -> String {
    id.map(|id| jsonrpc::response(id, &present_agents(active)))
        .unwrap_or_default()
}

fn presence_subscribe(active: &Arc<Active>, id: Option<&RawValue>) -> String {
    let token = active.stop.child_token();
    if let Some(old) = active.presence.lock().replace(token.clone()) {
        old.cancel();
    }
    let mut changes = active.app.sessions.native.subscribe();
    let out = active.out.clone();
    let weak = Arc::downgrade(active);
    tokio::spawn(async move {
        loop {
            let change = tokio::select! {
                _ = token.cancelled() => return,
                c = changes.recv() => c,
            };
            let frame = match change {
                Ok(c) => jsonrpc::notification(
                    "presence",
                    &json!({ "address": c.identity, "status": c.status, "at": c.at }),
                ),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Missed changes: send the whole picture instead.
                    let Some(active) = weak.upgrade() else { return };
                    jsonrpc::notification("presence.reset", &present_agents(&active))
                }
                Err(_) => return,
            };
            if out.send(frame.into()).await.is_err() {
                return;
            }
        }
    });
    id.map(|id| jsonrpc::response(id, &json!({ "subscribed": true })))
        .unwrap_or_default()
}

/// The `message` notification for an inbox item (the stored envelope JSON, as is).
fn message_frame(envelope: &[u8]) -> Option<String> {
    let envelope = std::str::from_utf8(envelope).ok()?;
    let mut frame = String::with_capacity(envelope.len() + 64);
    frame.push_str(r#"{"jsonrpc":"2.0","method":"message","params":{"message":"#);
    frame.push_str(envelope);
    frame.push_str("}}");
    Some(frame)
}

/// Pushes the agent's inbox to the session, oldest first, within the window.
async fn pump(active: Arc<Active>) {
    let address = active.agent.agent.address.clone();
    let mut cursor = None;
    loop {
        let Ok(first) = active.window.permits.clone().acquire_owned().await else {
            return;
        };
        let limit = (active.window.permits.available_permits() + 1).min(PUMP_BATCH);
        let items = match active
            .app
            .inbox
            .wait_items(&address, cursor, limit, &active.stop)
            .await
        {
            Ok(items) if items.is_empty() => return,
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(agent = %address, error = %e, "reading the inbox for a WebSocket session failed");
                tokio::select! {
                    _ = active.stop.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                }
            }
        };
        let mut permit = Some(first);
        for item in items {
            let permit = match permit.take() {
                Some(p) => p,
                None => match active.window.permits.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => return,
                },
            };
            cursor = Some(item.seq);
            let Some(frame) = message_frame(&item.payload) else {
                tracing::warn!(agent = %address, seq = item.seq, "an inbox item is not UTF-8; skipped");
                continue;
            };
            active.window.pushed.lock().insert(item.id, permit);
            if active.out.send(frame.into()).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_frame_wraps_the_stored_envelope_as_is() {
        let frame = message_frame(br#"{"message_id":"x","payload":{"a":1}}"#).unwrap();
        let v: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["method"], "message");
        assert_eq!(v["params"]["message"]["payload"]["a"], 1);
        assert!(message_frame(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn service_errors_keep_the_http_code_and_hide_internal_failures() {
        let id = RawValue::from_string("1".into()).unwrap();
        let v: Value = serde_json::from_str(&service_error(
            Some(&id),
            ApiError::Inbox(InboxError::MessageNotFound("m".into())),
        ))
        .unwrap();
        assert_eq!(v["error"]["code"], jsonrpc::APPLICATION_ERROR);
        assert_eq!(v["error"]["data"]["code"], "MESSAGE_NOT_FOUND");
        let v: Value = serde_json::from_str(&service_error(
            Some(&id),
            ApiError::Internal("disk on fire".into()),
        ))
        .unwrap();
        assert_eq!(v["error"]["code"], jsonrpc::INTERNAL_ERROR);
        assert!(!v["error"]["message"].as_str().unwrap().contains("disk"));
    }
}
