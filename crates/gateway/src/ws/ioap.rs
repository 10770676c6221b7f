//! The AIConexus dialect, `ioap.v1` (and its strict variant `ioap.v2`):
//! `docs/protocols/websocket.md`, frames per `agentgate_codec::ioap`.
//!
//! A session first proves its DID: in compatible mode with the REGISTER signature the
//! reference client makes, in strict mode by signing the gateway's CHALLENGE. It then
//! claims the DID in the presence registry (the newest session wins) and relays
//! signalling frames in memory to the session holding `to`: one map lookup and one
//! `try_send` on that session's bounded queue, so a sender never waits on a receiver,
//! and a receiver whose queue is full is closed as a slow consumer. Every frame is
//! answered or acted on; nothing is dropped silently. Strict senders get a RECEIPT per
//! relayed frame, and, when `websocket.ioap.offline_queue` is set, their frames for
//! offline DIDs are held (`offline.rs`) until the DID registers or the frame expires.

use std::sync::Arc;

use agentgate_codec::did_key::{self, DidForm};
use agentgate_codec::ioap::{
    self, ChallengeFrame, ErrorCode, ErrorFrame, Frame, MessageType, PongFrame, ReceiptFrame,
    ReceiptStatus, RegisteredFrame,
};
use agentgate_core::Timestamp;
use axum::extract::ws::Utf8Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;
use uuid::Uuid;

use super::Sessions;
use super::conn::{Conn, Inbound};
use super::limits::{RateLimiter, Verdict};
use super::offline::Held;
use crate::app::App;
use crate::clock;
use crate::config::IoapMode;
use crate::presence::{CloseReason, Session};

/// How far a compatible-mode REGISTER's timestamp may be from the gateway's clock.
pub(crate) const FRESHNESS_MS: u64 = 120_000;

/// The strict-mode challenge of one connection.
struct Challenge {
    nonce_bytes: [u8; 32],
    nonce: String,
    connection_id: String,
    expires_at: String,
    expires: Timestamp,
}

/// What one session knows about itself.
struct Ctx {
    app: Arc<App>,
    gateway_did: String,
    challenge: Option<Challenge>,
}

/// A refused REGISTER: the ERROR to send, then the close.
struct Refusal {
    frame: String,
    close: CloseReason,
}

impl Ctx {
    /// An ERROR frame to `to` about the frame `about` (its id, when known).
    fn error(
        &self,
        to: &str,
        about: Option<&str>,
        code: ErrorCode,
        message: &str,
        reason: &str,
        error: Option<String>,
    ) -> String {
        let mut details = Map::new();
        details.insert("reason".into(), Value::from(reason));
        if let Some(e) = error {
            details.insert("error".into(), Value::from(e));
        }
        ioap::error_frame(&ErrorFrame {
            id: &Uuid::new_v4().to_string(),
            from: &self.gateway_did,
            to,
            correlation_id: about,
            code,
            message,
            details: Some(&details),
            at: clock::now(),
        })
    }

    /// The ERROR answering a frame that is not valid IoAP.
    fn invalid(&self, text: &str, e: &ioap::IoapError) -> String {
        let about = ioap::offending_id(text);
        self.error(
            "",
            about.as_deref(),
            e.error_code(),
            "the frame is not a valid IoAP message",
            e.reason(),
            Some(e.to_string()),
        )
    }

    /// Checks a first frame; the registered DID when it proves one.
    fn register(&self, text: &str) -> Result<(String, String), Refusal> {
        let policy = |frame| Refusal {
            frame,
            close: CloseReason::POLICY,
        };
        let frame = ioap::parse_frame(text).map_err(|e| policy(self.invalid(text, &e)))?;
        if frame.has_lone_surrogates() {
            return Err(policy(self.error(
                "",
                Some(frame.id()),
                ErrorCode::MalformedMessage,
                "strings must be valid Unicode",
                "lone_surrogate",
                None,
            )));
        }
        if frame.message_type() != Some(MessageType::Register) {
            return Err(policy(self.error(
                frame.from(),
                Some(frame.id()),
                ErrorCode::MalformedMessage,
                "the first message must be a REGISTER",
                "register_first",
                None,
            )));
        }
        let refuse = |reason: &str, message: &str| Refusal {
            frame: self.error(
                frame.from(),
                Some(frame.id()),
                ErrorCode::InvalidSignature,
                message,
                reason,
                None,
            ),
            close: CloseReason::AUTH_FAILED,
        };
        let did = frame.from().to_owned();
        let parsed = did_key::parse(&did)
            .map_err(|e| refuse("bad_did", &format!("from is not an Ed25519 did:key: {e}")))?;
        if let Some(k) = frame.public_key() {
            match did_key::parse_public_key(k) {
                Ok(key) if key == parsed.key => {}
                _ => return Err(refuse("key_mismatch", "public_key is not the key of from")),
            }
        }
        let signature = STANDARD
            .decode(frame.signature().as_bytes())
            .ok()
            .and_then(|s| ed25519_dalek::Signature::from_slice(&s).ok())
            .ok_or_else(|| {
                refuse(
                    "bad_signature",
                    "signature is not a base64 Ed25519 signature",
                )
            })?;
        let now = clock::now();
        let signed = match &self.challenge {
            Some(c) => {
                if parsed.form != DidForm::Standard {
                    return Err(refuse(
                        "bad_did",
                        "strict mode takes standard did:key identifiers only",
                    ));
                }
                if now > c.expires {
                    return Err(refuse("stale", "the challenge has expired"));
                }
                ioap::strict_register_bytes(
                    &self.gateway_did,
                    &c.nonce,
                    &c.connection_id,
                    &c.expires_at,
                    &did,
                )
            }
            None => {
                if !fresh(&frame, now) {
                    return Err(refuse(
                        "stale",
                        "timestamp is missing or more than 120 s from the gateway's clock",
                    ));
                }
                ioap::register_signing_bytes(&frame)
                    .map_err(|_| refuse("bad_signature", "the signed bytes cannot be rebuilt"))?
            }
        };
        ed25519_dalek::VerifyingKey::from_bytes(&parsed.key)
            .and_then(|k| k.verify_strict(&signed, &signature))
            .map_err(|_| refuse("bad_signature", "the signature does not verify"))?;
        if self.challenge.is_none()
            && !self.app.sessions.register_ids.first_use(
                frame.id(),
                now.millis(),
                now.millis() + 2 * FRESHNESS_MS,
            )
        {
            return Err(refuse("replay", "this REGISTER was already used"));
        }
        Ok((did, frame.id().to_owned()))
    }
}

/// The gateway's DID: the `did:key` of its federation signing key.
pub(super) fn gateway_did(app: &App) -> String {
    did_key::encode_standard(&app.federation.keys.active().public_key())
}

/// Tells `held`'s sender, if connected, what became of it (a strict-mode RECEIPT).
/// Best effort: a sender whose queue is full misses the receipt.
pub(super) fn receipt(sessions: &Sessions, gateway_did: &str, held: &Held, status: ReceiptStatus) {
    let Some(sender) = sessions.ioap.get(held.sender.as_str()) else {
        return;
    };
    let frame = ioap::receipt_frame(&ReceiptFrame {
        id: &Uuid::new_v4().to_string(),
        gateway_did,
        to: &held.sender,
        message_id: &held.id,
        status,
        at: clock::now(),
    });
    let _ = sender.outbound.try_send(frame.into());
}

/// Delivers what was held for `did` to its new session; reports what expired.
fn release_held(ctx: &Ctx, did: &str, session: &Session) {
    let sessions = &ctx.app.sessions;
    if !sessions.offline.enabled() {
        return;
    }
    let (live, expired) = sessions.offline.take(did, clock::now().millis());
    for held in &live {
        let status = match session.outbound.try_send(held.frame.clone()) {
            Ok(()) => ReceiptStatus::Delivered,
            Err(_) => ReceiptStatus::Expired,
        };
        receipt(sessions, &ctx.gateway_did, held, status);
    }
    for held in &expired {
        receipt(sessions, &ctx.gateway_did, held, ReceiptStatus::Expired);
    }
}

/// Whether a compatible-mode REGISTER's timestamp is within [`FRESHNESS_MS`] of `now`.
fn fresh(frame: &Frame<'_>, now: Timestamp) -> bool {
    let Some(t) = frame.timestamp() else {
        return false;
    };
    let at_ms = t.unix_micros.div_euclid(1000);
    (at_ms - now.millis() as i64).unsigned_abs() <= FRESHNESS_MS
}

/// Runs an ioap session on `conn` until it ends; `strict` when `ioap.v2` was
/// negotiated.
pub(super) async fn run(app: Arc<App>, mut conn: Conn, strict: bool) {
    let sessions = &app.sessions;
    let strict = strict || sessions.settings.ioap.mode == IoapMode::Strict;
    let gateway_did = gateway_did(&app);
    let timeout = sessions.settings.auth_timeout;
    let now = clock::now();
    let challenge = strict.then(|| {
        let expires = now.plus_millis(timeout.as_millis() as u64);
        let nonce_bytes = clock::random_bytes::<32>();
        Challenge {
            nonce_bytes,
            nonce: ioap::encode_nonce(&nonce_bytes),
            connection_id: Uuid::now_v7().to_string(),
            expires_at: ioap::format_timestamp(expires),
            expires,
        }
    });
    if let Some(c) = &challenge {
        let frame = ioap::challenge_frame(&ChallengeFrame {
            id: &Uuid::new_v4().to_string(),
            gateway_did: &gateway_did,
            nonce: &c.nonce_bytes,
            connection_id: &c.connection_id,
            expires_at: c.expires,
            at: now,
        });
        if conn.out.send(frame.into()).await.is_err() {
            return;
        }
    }
    let ctx = Ctx {
        app: app.clone(),
        gateway_did,
        challenge,
    };
    let mut limiter = RateLimiter::new(
        sessions.settings.max_messages_per_second,
        std::time::Instant::now(),
    );
    // The first frame decides: a proven REGISTER, or an ERROR and a close.
    let inbound = tokio::select! {
        _ = tokio::time::sleep_until(Instant::now() + timeout) => {
            return conn.close(CloseReason::AUTH_TIMEOUT).await;
        }
        _ = sessions.shutdown.cancelled() => return conn.close(CloseReason::GOING_AWAY).await,
        i = conn.next() => i,
    };
    let text = match inbound {
        Inbound::Text(t) => t,
        Inbound::Gone => return conn.finish().await,
        Inbound::Fault(reason) => return conn.close(reason).await,
    };
    let (did, register_id) = match ctx.register(text.as_str()) {
        Ok(registered) => registered,
        Err(Refusal { frame, close }) => {
            let _ = conn.out.send(frame.into()).await;
            return conn.close(close).await;
        }
    };
    let session = Arc::new(Session::new(
        sessions.next_id(),
        clock::now(),
        conn.out.clone(),
        &sessions.shutdown,
    ));
    if let Some(old) = sessions.ioap.claim(did.clone(), session.clone()) {
        old.close(CloseReason::SUPERSEDED);
    }
    let mut reason = None;
    let welcomed = match &ctx.challenge {
        Some(c) => {
            let frame = ioap::registered_frame(&RegisteredFrame {
                id: &Uuid::new_v4().to_string(),
                gateway_did: &ctx.gateway_did,
                agent_did: &did,
                connection_id: &c.connection_id,
                register_id: &register_id,
                at: clock::now(),
            });
            conn.out.send(frame.into()).await.is_ok()
        }
        // The reference client expects no answer to its REGISTER.
        None => true,
    };
    if welcomed {
        // After the REGISTERED: what was held for this DID.
        release_held(&ctx, &did, &session);
        reason = relay(&ctx, &did, &session, &mut conn, &mut limiter).await;
    }
    sessions.ioap.release(&did, session.id, clock::now());
    match reason {
        Some(r) => conn.close(r).await,
        None => conn.finish().await,
    }
}

/// Serves a registered session until it ends; the close reason, or `None` when the
/// peer left.
async fn relay(
    ctx: &Ctx,
    did: &str,
    session: &Session,
    conn: &mut Conn,
    limiter: &mut Option<RateLimiter>,
) -> Option<CloseReason> {
    // Made once: a future per frame would register with the token every time.
    let closed = session.closed();
    tokio::pin!(closed);
    loop {
        let inbound = tokio::select! {
            r = &mut closed => return Some(r),
            i = conn.next() => i,
        };
        let text = match inbound {
            Inbound::Text(t) => t,
            Inbound::Gone => return None,
            Inbound::Fault(r) => return Some(r),
        };
        session.touch(clock::now());
        let answer = match limiter
            .as_mut()
            .map_or(Verdict::Allow, |l| l.check(std::time::Instant::now()))
        {
            Verdict::Close => return Some(CloseReason::RATE_LIMITED),
            Verdict::Refuse => Some(ctx.error(
                did,
                ioap::offending_id(text.as_str()).as_deref(),
                ErrorCode::Timeout,
                "over websocket.max_messages_per_second; slow down",
                "rate_limited",
                None,
            )),
            Verdict::Allow => match handle(ctx, did, &text) {
                Step::Answer(a) => a,
                Step::Close(r) => return Some(r),
            },
        };
        if let Some(a) = answer
            && conn.out.send(a.into()).await.is_err()
        {
            return None;
        }
    }
}

/// What a frame of a registered session leads to.
enum Step {
    /// Go on, sending this answer if any.
    Answer(Option<String>),
    /// End the session.
    Close(CloseReason),
}

/// Acts on one frame of a registered session.
fn handle(ctx: &Ctx, did: &str, text: &Utf8Bytes) -> Step {
    let frame = match ioap::parse_frame(text.as_str()) {
        Ok(f) if !f.has_lone_surrogates() => f,
        Ok(f) => {
            return Step::Answer(Some(ctx.error(
                did,
                Some(f.id()),
                ErrorCode::MalformedMessage,
                "strings must be valid Unicode",
                "lone_surrogate",
                None,
            )));
        }
        Err(e) => return Step::Answer(Some(ctx.invalid(text.as_str(), &e))),
    };
    if frame.from() != did {
        return Step::Answer(Some(ctx.error(
            did,
            Some(frame.id()),
            ErrorCode::MalformedMessage,
            "from is not the DID this connection registered",
            "from_mismatch",
            None,
        )));
    }
    let refuse = |code, message: &str, reason: &str| {
        Step::Answer(Some(ctx.error(
            did,
            Some(frame.id()),
            code,
            message,
            reason,
            None,
        )))
    };
    match frame.message_type() {
        Some(MessageType::Offer | MessageType::Answer | MessageType::IceCandidate) => {
            Step::Answer(forward(ctx, did, &frame, text))
        }
        Some(MessageType::Intent | MessageType::ExecRequest | MessageType::ExecResponse) => {
            if ctx.app.sessions.settings.ioap.relay_exec {
                Step::Answer(forward(ctx, did, &frame, text))
            } else {
                refuse(
                    ErrorCode::ConnectionRefused,
                    "this gateway does not relay INTENT and EXEC frames",
                    "type_not_relayed",
                )
            }
        }
        Some(MessageType::Ping) => Step::Answer(Some(ioap::pong_frame(&PongFrame {
            id: &Uuid::new_v4().to_string(),
            from: &ctx.gateway_did,
            to: did,
            ping_id: frame.id(),
            sequence: frame.sequence(),
            at: clock::now(),
        }))),
        Some(MessageType::Unregister) => Step::Close(CloseReason::UNREGISTERED),
        Some(MessageType::Register) => refuse(
            ErrorCode::MalformedMessage,
            "this connection is already registered",
            "already_registered",
        ),
        // Answers to the gateway or to peers: activity, nothing to do.
        Some(MessageType::Pong | MessageType::Error) | None => Step::Answer(None),
    }
}

/// Hands the frame's text, unchanged, to the session holding `to`; an ERROR for the
/// sender when that is not possible.
fn forward(ctx: &Ctx, did: &str, frame: &Frame<'_>, text: &Utf8Bytes) -> Option<String> {
    let unknown = || {
        Some(ctx.error(
            did,
            Some(frame.id()),
            ErrorCode::UnknownAgent,
            "no agent with this DID is connected",
            "not_connected",
            None,
        ))
    };
    let sessions = &ctx.app.sessions;
    let strict = ctx.challenge.is_some();
    let receipt = |status| {
        strict.then(|| {
            ioap::receipt_frame(&ReceiptFrame {
                id: &Uuid::new_v4().to_string(),
                gateway_did: &ctx.gateway_did,
                to: did,
                message_id: frame.id(),
                status,
                at: clock::now(),
            })
        })
    };
    let Some(target) = sessions.ioap.get(frame.to()) else {
        if !(strict && sessions.offline.enabled()) {
            return unknown();
        }
        let now = clock::now().millis();
        return match sessions
            .offline
            .hold(frame.to(), did, frame.id(), text.clone(), now)
        {
            Ok(()) => receipt(ReceiptStatus::Queued),
            Err(_) => Some(ctx.error(
                did,
                Some(frame.id()),
                ErrorCode::UnknownAgent,
                "the receiver is offline and no more frames can be held for it",
                "offline_queue_full",
                None,
            )),
        };
    };
    match target.outbound.try_send(text.clone()) {
        Ok(()) => receipt(ReceiptStatus::Delivered),
        Err(TrySendError::Full(_)) => {
            target.close(CloseReason::SLOW_CONSUMER);
            Some(ctx.error(
                did,
                Some(frame.id()),
                ErrorCode::Timeout,
                "the receiver is not reading; it was disconnected",
                "slow_consumer",
                None,
            ))
        }
        Err(TrySendError::Closed(_)) => unknown(),
    }
}
