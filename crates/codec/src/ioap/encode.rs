//! Frames the gateway writes, and the bytes a strict REGISTER signs.

use agentgate_core::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::lax::civil_from_days;
use super::pyjson::dump_str;
use super::{DEFAULT_VERSION, ErrorCode, Integer, ServerType};

/// The first line of the bytes a strict-mode REGISTER signs (see
/// [`strict_register_bytes`]); it keeps those bytes from meaning anything elsewhere.
pub const REGISTER_DOMAIN: &str = "agentgate ioap.v2 register\n";

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the form the reference client reads and agentgate
/// writes. Times after year 9999, which Python's `datetime` cannot hold, are written
/// as 9999-12-31T23:59:59.999999Z.
pub fn format_timestamp(at: Timestamp) -> String {
    const LAST_MICROS: u64 = 253_402_300_799_999_999;
    let micros = at.millis().saturating_mul(1000).min(LAST_MICROS);
    let secs = (micros / 1_000_000) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let day_secs = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60,
        micros % 1_000_000
    )
}

/// An ERROR for an IoAP v1 (or strict) client.
#[derive(Clone, Copy, Debug)]
pub struct ErrorFrame<'a> {
    /// A fresh frame id.
    pub id: &'a str,
    /// The gateway's DID.
    pub from: &'a str,
    /// The agent addressed (the offending frame's `from`, when known).
    pub to: &'a str,
    /// The offending frame's `id`, when known (see [`super::offending_id`]).
    pub correlation_id: Option<&'a str>,
    /// One of the seven codes.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: &'a str,
    /// Extra context, such as `{"reason": "from_mismatch"}`. Nested values count
    /// towards [`super::MAX_DEPTH`] from depth 3 (envelope, payload, details).
    pub details: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// When the frame is written.
    pub at: Timestamp,
}

/// Writes an ERROR frame.
pub fn error_frame(e: &ErrorFrame<'_>) -> String {
    let mut payload = String::with_capacity(64 + e.message.len());
    payload.push_str("{\"code\":");
    dump_str(&mut payload, e.code.as_str());
    payload.push_str(",\"message\":");
    dump_str(&mut payload, e.message);
    if let Some(details) = e.details {
        payload.push_str(",\"details\":");
        write_object(&mut payload, details);
    }
    payload.push('}');
    envelope(
        e.id,
        e.correlation_id,
        e.at,
        e.from,
        e.to,
        "ERROR",
        &payload,
    )
}

/// A PONG answering a PING.
#[derive(Clone, Copy, Debug)]
pub struct PongFrame<'a> {
    /// A fresh frame id (the reference reused the PING's).
    pub id: &'a str,
    /// The gateway's DID.
    pub from: &'a str,
    /// The PING's `from`.
    pub to: &'a str,
    /// The PING's `id`.
    pub ping_id: &'a str,
    /// The PING's sequence ([`super::Frame::sequence`]), echoed.
    pub sequence: Option<&'a Integer>,
    /// When the frame is written.
    pub at: Timestamp,
}

/// Writes a PONG frame: payload `{"sequence": n}`, or `{}` when the PING had none.
pub fn pong_frame(p: &PongFrame<'_>) -> String {
    let payload = match p.sequence {
        Some(n) => format!("{{\"sequence\":{n}}}"),
        None => "{}".to_owned(),
    };
    envelope(p.id, Some(p.ping_id), p.at, p.from, p.to, "PONG", &payload)
}

/// A strict-mode CHALLENGE.
#[derive(Clone, Copy, Debug)]
pub struct ChallengeFrame<'a> {
    /// A fresh frame id; the agent's REGISTER names it in `correlation_id`.
    pub id: &'a str,
    /// The gateway's DID.
    pub gateway_did: &'a str,
    /// 32 random bytes, fresh for this connection.
    pub nonce: &'a [u8; 32],
    /// The connection's name (no line feeds: it is a line of the signed text).
    pub connection_id: &'a str,
    /// When the challenge stops being answerable.
    pub expires_at: Timestamp,
    /// When the frame is written.
    pub at: Timestamp,
}

/// Writes a CHALLENGE frame (see the module documentation of [`super`]).
pub fn challenge_frame(c: &ChallengeFrame<'_>) -> String {
    let mut payload = String::with_capacity(160);
    payload.push_str("{\"nonce\":");
    dump_str(&mut payload, &encode_nonce(c.nonce));
    payload.push_str(",\"connection_id\":");
    dump_str(&mut payload, c.connection_id);
    payload.push_str(",\"expires_at\":");
    dump_str(&mut payload, &format_timestamp(c.expires_at));
    payload.push('}');
    envelope(
        c.id,
        None,
        c.at,
        c.gateway_did,
        "",
        ServerType::Challenge.as_str(),
        &payload,
    )
}

/// A strict-mode REGISTERED: the gateway accepted the agent's REGISTER.
#[derive(Clone, Copy, Debug)]
pub struct RegisteredFrame<'a> {
    /// A fresh frame id.
    pub id: &'a str,
    /// The gateway's DID.
    pub gateway_did: &'a str,
    /// The agent's DID, now bound to the connection.
    pub agent_did: &'a str,
    /// The connection's name, as in the CHALLENGE.
    pub connection_id: &'a str,
    /// The REGISTER's `id`.
    pub register_id: &'a str,
    /// When the frame is written.
    pub at: Timestamp,
}

/// Writes a REGISTERED frame: payload `{"did": agent DID, "connection_id": …}`.
pub fn registered_frame(r: &RegisteredFrame<'_>) -> String {
    let mut payload = String::with_capacity(128);
    payload.push_str("{\"did\":");
    dump_str(&mut payload, r.agent_did);
    payload.push_str(",\"connection_id\":");
    dump_str(&mut payload, r.connection_id);
    payload.push('}');
    envelope(
        r.id,
        Some(r.register_id),
        r.at,
        r.gateway_did,
        r.agent_did,
        ServerType::Registered.as_str(),
        &payload,
    )
}

/// What became of a relayed frame, as a strict-mode RECEIPT reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// Handed to the receiver's connection.
    Delivered,
    /// The receiver is offline; the frame is held for it.
    Queued,
    /// The receiver did not come back before the frame's time ran out.
    Expired,
}

impl ReceiptStatus {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Delivered => "delivered",
            ReceiptStatus::Queued => "queued",
            ReceiptStatus::Expired => "expired",
        }
    }
}

/// A strict-mode RECEIPT about a frame the agent sent.
#[derive(Clone, Copy, Debug)]
pub struct ReceiptFrame<'a> {
    /// A fresh frame id.
    pub id: &'a str,
    /// The gateway's DID.
    pub gateway_did: &'a str,
    /// The agent that sent the frame.
    pub to: &'a str,
    /// The frame's `id`.
    pub message_id: &'a str,
    /// What became of it.
    pub status: ReceiptStatus,
    /// When the frame is written.
    pub at: Timestamp,
}

/// Writes a RECEIPT frame: payload `{"message_id": …, "status": …}`, `correlation_id`
/// the frame's id.
pub fn receipt_frame(r: &ReceiptFrame<'_>) -> String {
    let mut payload = String::with_capacity(96);
    payload.push_str("{\"message_id\":");
    dump_str(&mut payload, r.message_id);
    payload.push_str(",\"status\":");
    dump_str(&mut payload, r.status.as_str());
    payload.push('}');
    envelope(
        r.id,
        Some(r.message_id),
        r.at,
        r.gateway_did,
        r.to,
        ServerType::Receipt.as_str(),
        &payload,
    )
}

/// A nonce as a CHALLENGE carries it: unpadded base64url (43 characters).
pub fn encode_nonce(nonce: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(nonce)
}

/// The 32 bytes of a CHALLENGE's nonce.
pub(crate) fn decode_nonce(text: &str) -> Option<[u8; 32]> {
    if text.len() != 43 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

/// The bytes a strict-mode REGISTER signs: [`REGISTER_DOMAIN`], then the gateway's DID,
/// the nonce (as the CHALLENGE carried it), the connection id and the expiry (as the
/// CHALLENGE carried it), then the agent's DID, separated by line feeds, as UTF-8.
/// Only the last piece comes from the agent, so a line feed in it cannot move the
/// others.
pub fn strict_register_bytes(
    gateway_did: &str,
    nonce_b64: &str,
    connection_id: &str,
    expires_at: &str,
    agent_did: &str,
) -> Vec<u8> {
    [
        REGISTER_DOMAIN,
        gateway_did,
        "\n",
        nonce_b64,
        "\n",
        connection_id,
        "\n",
        expires_at,
        "\n",
        agent_did,
    ]
    .concat()
    .into_bytes()
}

/// An envelope in the reference's key order, with an empty signature.
fn envelope(
    id: &str,
    correlation_id: Option<&str>,
    at: Timestamp,
    from: &str,
    to: &str,
    frame_type: &str,
    payload: &str,
) -> String {
    let mut out = String::with_capacity(160 + payload.len());
    out.push_str("{\"id\":");
    dump_str(&mut out, id);
    out.push_str(",\"correlation_id\":");
    match correlation_id {
        Some(c) => dump_str(&mut out, c),
        None => out.push_str("null"),
    }
    out.push_str(",\"timestamp\":");
    dump_str(&mut out, &format_timestamp(at));
    out.push_str(",\"from\":");
    dump_str(&mut out, from);
    out.push_str(",\"to\":");
    dump_str(&mut out, to);
    out.push_str(",\"type\":");
    dump_str(&mut out, frame_type);
    out.push_str(",\"payload\":");
    out.push_str(payload);
    out.push_str(",\"version\":");
    dump_str(&mut out, DEFAULT_VERSION);
    out.push_str(",\"signature\":\"\"}");
    out
}

fn write_object(out: &mut String, map: &serde_json::Map<String, serde_json::Value>) {
    out.push('{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        dump_str(out, key);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => dump_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}
