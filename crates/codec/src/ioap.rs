//! IoAP v1: the AIConexus WebSocket dialect (subprotocol `ioap.v1`), and agentgate's
//! strict variant of it (subprotocol `ioap.v2`).
//!
//! Each WebSocket text frame carries one JSON object, the envelope:
//!
//! | key | JSON type | required |
//! |---|---|---|
//! | `id` | string | yes |
//! | `correlation_id` | string or null | no |
//! | `timestamp` | a date-time text or a Unix timestamp number (see [`parse_datetime_text`]); never null | no |
//! | `from` (or `from_did`) | string | yes |
//! | `to` (or `to_did`) | string | yes |
//! | `type` | one of the 11 [`MessageType`] names, case-sensitive | yes |
//! | `payload` | object matching one of the payload models (below) | yes |
//! | `version` | string, never compared (absent means `"1.0"`) | no |
//! | `signature` | string, may be empty | yes |
//!
//! Other top-level keys are allowed and ignored. When both `from` and `from_did` are
//! present, `from` is the one read (likewise `to`).
//!
//! # What [`parse_frame`] accepts
//!
//! Exactly the frames that the reference client (`GatewayClient`, which runs
//! `Message(**json.loads(text))` on pydantic 2.12) accepts, so that a frame agentgate
//! relays is one the receiving client takes, and a frame the client sends is one
//! agentgate reads:
//!
//! - **JSON as Python reads it.** `NaN`, `Infinity` and `-Infinity` are numbers; a
//!   `\u` escape may leave a lone UTF-16 surrogate in a string; a repeated key takes
//!   its last value; an integer literal of more than 4,300 digits is refused (CPython
//!   raises `ValueError`).
//! - **pydantic's lax coercions.** A `str` field takes only a JSON string. An `int`
//!   field also takes `true`/`false`, a float with no fraction, or a numeric string
//!   (`" 5 "`, `"+5"`, `"1_000"`, `"5.00"`); a `float` field an integer, a bool or a
//!   numeric string (`"inf"` too); a `bool` field `0`/`1`, `0.0`/`1.0` or one of
//!   `0 1 f t n y no on off yes true false` (any case).
//! - **The payload is not tied to `type`.** It must be an object that at least one
//!   payload model accepts: every key a field of that model (no extra keys), every
//!   required field present, every value of the field's type. Models, in the order
//!   pydantic tries them (the first that accepts is the one "selected", which matters
//!   only for [`register_signing_bytes`]):
//!
//!   | [`PayloadModel`] | fields (`?` = optional; default) |
//!   |---|---|
//!   | `Register` | `public_key` str |
//!   | `Unregister` | `reason` str? |
//!   | `Offer`, `Answer` | `sdp` str |
//!   | `IceCandidate` | `candidate` str, `sdp_mid` str?, `sdp_mline_index` int? |
//!   | `Intent` | `query`, `context`, `task`, `status`, `required_input`, `cost` str?; `params` object? |
//!   | `ExecRequest` | `args` object (`{}`), `timeout_ms` int?, `stream` bool? (`false`) |
//!   | `ExecResponse` | `result` any, `error` str?, `status` str (`"success"`), `execution_time_ms` float?, `stream_url` str? |
//!   | `Error` | `code` [`ErrorCode`], `message` str, `details` object? |
//!   | `Ping`, `Pong` | `sequence` int? |
//!
//!   So `{}` is an `Unregister` payload, an OFFER may carry `{"candidate": "…"}`, and
//!   `{"sdp": "x", "bogus": 1}` fails the whole frame.
//! - **Timestamps** as pydantic's lax `datetime` reads them ([`parse_datetime_text`];
//!   JSON numbers are Unix seconds, or milliseconds above 2×10¹⁰).
//!
//! # Where agentgate is stricter than the reference, on purpose
//!
//! - A frame over [`MAX_FRAME_BYTES`] (1 MiB, the client's own `max_size`) is refused.
//! - Arrays and objects nested deeper than [`MAX_DEPTH`] levels are refused; CPython
//!   would read up to its recursion limit (about 1,000).
//! - Rust strings cannot hold a lone surrogate. The reference accepts one in any string;
//!   so does [`parse_frame`], and the exact text stays in [`Frame::text`] and in
//!   [`register_signing_bytes`], but the `Cow<str>` accessors show U+FFFD in its place
//!   and [`Frame::has_lone_surrogates`] says so. A gateway that routes or binds by
//!   those strings should refuse such frames.
//!
//! # Cost
//!
//! [`parse_frame`] reads the text once and keeps one small record per member of the
//! envelope and of the payload; values nested inside payload fields are checked but
//! not kept. [`register_signing_bytes`] reads the text again and keeps the whole
//! payload as a tree (a few tens of bytes per JSON value) to rewrite it; a gateway
//! calls it once per REGISTER.
//!
//! # The signed bytes of a REGISTER
//!
//! The reference client signs only REGISTER, over what [`register_signing_bytes`]
//! rebuilds: the envelope's model fields `correlation_id` (null when absent), `from`,
//! `id`, `payload`, `timestamp`, `to`, `type` and `version` (`"1.0"` when absent), with
//! no `signature` and none of the extra top-level keys; the payload as the selected
//! model dumps it (every field, defaults filled in, values as coerced); the timestamp
//! text with one trailing `Z` removed (the client signs `isoformat()` and then sends it
//! with a `Z` appended); all written as Python's `json.dumps(obj, sort_keys=True,
//! separators=(",", ":"))` writes it: keys sorted by code point, non-ASCII as lowercase
//! `\uXXXX` (astral characters as surrogate pairs), floats as `repr()`. The signature is
//! padded standard base64 of the Ed25519 signature over those bytes.
//!
//! # Frames agentgate sends to IoAP v1 clients
//!
//! [`error_frame`] and [`pong_frame`] write frames the reference client accepts: an
//! `ERROR` carries one of the seven [`ErrorCode`]s, a `PONG` carries `{}` or
//! `{"sequence": n}`, `signature` is `""`, and timestamps are
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ` ([`format_timestamp`]). The codec never reads the
//! clock: callers pass the time in.
//!
//! # Strict mode (`ioap.v2`, agentgate's own)
//!
//! A client that offers the subprotocol `ioap.v2` gets the same envelope and payload
//! rules as IoAP v1, plus three frame types that only the gateway sends:
//! `CHALLENGE`, `REGISTERED` and `RECEIPT` ([`ServerType`]). [`parse_frame_strict`]
//! accepts them; [`parse_frame`] (IoAP v1) never does.
//!
//! - **`CHALLENGE`** is the gateway's first frame on a strict connection
//!   ([`challenge_frame`]). `from` is the gateway's DID, `to` is `""` (the agent is not
//!   known yet), `signature` is `""`, `version` is `"1.0"`, and the payload is exactly
//!   `{"nonce": N, "connection_id": C, "expires_at": E}`: `N` is 32 random bytes in
//!   unpadded base64url (43 characters), `C` is an opaque string naming the connection,
//!   and `E` is the time after which the challenge is void, as
//!   `YYYY-MM-DDTHH:MM:SS.ffffffZ`. [`parse_frame_strict`] refuses a CHALLENGE whose
//!   payload has other keys, a nonce that does not decode to 32 bytes, or an `E` that
//!   is not a timestamp.
//! - **The agent's answer** is an ordinary REGISTER whose `from` is its **standard**
//!   did:key, whose `correlation_id` is the CHALLENGE's `id`, and whose `signature` is
//!   padded standard base64 of the Ed25519 signature over [`strict_register_bytes`]:
//!   the UTF-8 text `"agentgate ioap.v2 register\n" + gateway DID + "\n" + N + "\n" +
//!   C + "\n" + E + "\n" + agent DID`, each piece exactly as it appeared in the
//!   CHALLENGE (the agent DID as in the REGISTER's `from`). The gateway rebuilds these
//!   bytes from the challenge it issued, so nothing the agent sends besides `from` and
//!   the signature enters them.
//! - **`REGISTERED`** and **`RECEIPT`** are gateway-to-agent notices. The codec checks
//!   only that their payload is a JSON object; their fields are the gateway's to define.

use std::borrow::Cow;
use std::fmt;

mod encode;
mod lax;
mod pyjson;
mod sign;
#[cfg(test)]
mod tests;

pub use encode::{
    ChallengeFrame, ErrorFrame, PongFrame, REGISTER_DOMAIN, ReceiptFrame, ReceiptStatus,
    RegisteredFrame, challenge_frame, encode_nonce, error_frame, format_timestamp, pong_frame,
    receipt_frame, registered_frame, strict_register_bytes,
};
pub use lax::{FrameTime, parse_datetime_text};
pub use sign::register_signing_bytes;

use pyjson::{JsonError, JsonStr, Member, Value, last};

/// The WebSocket subprotocol of IoAP v1.
pub const SUBPROTOCOL_V1: &str = "ioap.v1";
/// The WebSocket subprotocol of agentgate's strict mode.
pub const SUBPROTOCOL_V2: &str = "ioap.v2";
/// The envelope version written in frames agentgate sends, and the one the reference
/// assumes when a frame has none. Never compared.
pub const DEFAULT_VERSION: &str = "1.0";
/// Largest frame accepted, in bytes: the reference client's `max_size`.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Deepest nesting of arrays and objects accepted, counting the envelope itself.
pub const MAX_DEPTH: usize = 64;

/// The eleven IoAP v1 message types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `REGISTER`
    Register,
    /// `UNREGISTER`
    Unregister,
    /// `OFFER` (WebRTC SDP offer)
    Offer,
    /// `ANSWER` (WebRTC SDP answer)
    Answer,
    /// `ICE_CANDIDATE`
    IceCandidate,
    /// `INTENT`
    Intent,
    /// `EXEC_REQUEST`
    ExecRequest,
    /// `EXEC_RESPONSE`
    ExecResponse,
    /// `ERROR`
    Error,
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
}

impl MessageType {
    /// All eleven, in the reference's order.
    pub const ALL: [MessageType; 11] = [
        MessageType::Register,
        MessageType::Unregister,
        MessageType::Offer,
        MessageType::Answer,
        MessageType::IceCandidate,
        MessageType::Intent,
        MessageType::ExecRequest,
        MessageType::ExecResponse,
        MessageType::Error,
        MessageType::Ping,
        MessageType::Pong,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Register => "REGISTER",
            MessageType::Unregister => "UNREGISTER",
            MessageType::Offer => "OFFER",
            MessageType::Answer => "ANSWER",
            MessageType::IceCandidate => "ICE_CANDIDATE",
            MessageType::Intent => "INTENT",
            MessageType::ExecRequest => "EXEC_REQUEST",
            MessageType::ExecResponse => "EXEC_RESPONSE",
            MessageType::Error => "ERROR",
            MessageType::Ping => "PING",
            MessageType::Pong => "PONG",
        }
    }

    /// The type with this wire name (case-sensitive).
    pub fn parse(name: &str) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The frame types strict mode adds, all sent by the gateway only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerType {
    /// `CHALLENGE`: the nonce a strict REGISTER must sign.
    Challenge,
    /// `REGISTERED`: the gateway accepted the REGISTER.
    Registered,
    /// `RECEIPT`: what became of a frame the agent sent.
    Receipt,
}

impl ServerType {
    /// All three.
    pub const ALL: [ServerType; 3] = [
        ServerType::Challenge,
        ServerType::Registered,
        ServerType::Receipt,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerType::Challenge => "CHALLENGE",
            ServerType::Registered => "REGISTERED",
            ServerType::Receipt => "RECEIPT",
        }
    }

    /// The type with this wire name (case-sensitive).
    pub fn parse(name: &str) -> Option<ServerType> {
        ServerType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A frame's `type`: one of IoAP v1's, or (strict mode only) one of the gateway's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// An IoAP v1 type.
    V1(MessageType),
    /// A strict-mode gateway type.
    Server(ServerType),
}

impl FrameType {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameType::V1(t) => t.as_str(),
            FrameType::Server(t) => t.as_str(),
        }
    }
}

/// The seven IoAP v1 error codes; an ERROR with any other code is refused by the
/// reference client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `INVALID_SIGNATURE`
    InvalidSignature,
    /// `UNKNOWN_AGENT`
    UnknownAgent,
    /// `CONNECTION_REFUSED`
    ConnectionRefused,
    /// `TIMEOUT`
    Timeout,
    /// `MALFORMED_MESSAGE`
    MalformedMessage,
    /// `UNSUPPORTED_VERSION`
    UnsupportedVersion,
    /// `INTERNAL_ERROR`
    InternalError,
}

impl ErrorCode {
    /// All seven, in the reference's order.
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::InvalidSignature,
        ErrorCode::UnknownAgent,
        ErrorCode::ConnectionRefused,
        ErrorCode::Timeout,
        ErrorCode::MalformedMessage,
        ErrorCode::UnsupportedVersion,
        ErrorCode::InternalError,
    ];

    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidSignature => "INVALID_SIGNATURE",
            ErrorCode::UnknownAgent => "UNKNOWN_AGENT",
            ErrorCode::ConnectionRefused => "CONNECTION_REFUSED",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::MalformedMessage => "MALFORMED_MESSAGE",
            ErrorCode::UnsupportedVersion => "UNSUPPORTED_VERSION",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }

    /// The code with this wire name (case-sensitive).
    pub fn parse(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which payload model accepted a frame's payload (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayloadModel {
    /// `{"public_key"}`
    Register,
    /// `{"reason"?}`, and the empty payload `{}`
    Unregister,
    /// `{"sdp"}`
    Offer,
    /// Identical to `Offer`, which pydantic tries first, so never selected.
    Answer,
    /// `{"candidate", "sdp_mid"?, "sdp_mline_index"?}`
    IceCandidate,
    /// `{"query"?, "context"?, "task"?, "params"?, "status"?, "required_input"?, "cost"?}`
    Intent,
    /// `{"args"?, "timeout_ms"?, "stream"?}`
    ExecRequest,
    /// `{"result"?, "error"?, "status"?, "execution_time_ms"?, "stream_url"?}`
    ExecResponse,
    /// `{"code", "message", "details"?}`
    Error,
    /// `{"sequence"?}`
    Ping,
    /// Identical to `Ping`, which pydantic tries first, so never selected.
    Pong,
    /// Strict mode: a CHALLENGE's `{"nonce", "connection_id", "expires_at"}`.
    Challenge,
    /// Strict mode: the payload of a REGISTERED or RECEIPT, any object.
    Object,
}

/// Which rules a frame is read by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// IoAP v1 (`ioap.v1`): the eleven types only.
    Compat,
    /// agentgate's strict mode (`ioap.v2`): also the gateway's CHALLENGE, REGISTERED and
    /// RECEIPT.
    Strict,
}

/// An integer as Python holds it: any size, kept as canonical decimal text (no `+`,
/// no leading zeros, no `-0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Integer(String);

impl Integer {
    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value, if it fits an `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }
}

impl From<i64> for Integer {
    fn from(value: i64) -> Self {
        Integer(value.to_string())
    }
}

impl fmt::Display for Integer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a text frame is not a valid IoAP frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IoapError {
    /// Longer than [`MAX_FRAME_BYTES`].
    #[error("frame is {0} bytes; the limit is {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    /// Not JSON (as Python's `json.loads` reads it).
    #[error("not JSON (at byte {at}): {reason}")]
    NotJson {
        /// Byte offset of the problem.
        at: usize,
        /// What is wrong there.
        reason: &'static str,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// JSON, but not an object.
    #[error("a frame is a JSON object")]
    NotAnObject,
    /// A required key is absent.
    #[error("no {0:?}")]
    MissingField(&'static str),
    /// A key holds a value of the wrong JSON type.
    #[error("{field:?} has the wrong type")]
    WrongType {
        /// The key (for payload-level problems, see [`IoapError::PayloadMismatch`]).
        field: &'static str,
    },
    /// `type` is a string but not a type of this mode (the name, cut to 64 bytes).
    #[error("unknown type {0:?}")]
    UnknownType(String),
    /// `payload` is an object that no payload model accepts.
    #[error("the payload matches no payload model")]
    PayloadMismatch,
    /// `timestamp` is not a date-time the reference accepts (or is null).
    #[error("timestamp is not a valid date-time")]
    BadTimestamp,
    /// Strict mode: a CHALLENGE whose payload is not exactly nonce, connection_id,
    /// expires_at, with a 32-byte nonce and a valid expiry.
    #[error("malformed CHALLENGE payload: {0}")]
    BadChallenge(&'static str),
    /// A valid frame whose signed bytes cannot be rebuilt.
    #[error("cannot rebuild the signed bytes: {0}")]
    Unsignable(&'static str),
}

impl IoapError {
    /// The ERROR code a gateway answers with. An unknown `version` is never an error:
    /// the reference never compares it, so nothing maps to `UNSUPPORTED_VERSION`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            IoapError::TooLarge(_)
            | IoapError::NotJson { .. }
            | IoapError::TooDeep
            | IoapError::NotAnObject
            | IoapError::MissingField(_)
            | IoapError::WrongType { .. }
            | IoapError::UnknownType(_)
            | IoapError::PayloadMismatch
            | IoapError::BadTimestamp
            | IoapError::BadChallenge(_) => ErrorCode::MalformedMessage,
            // Only a REGISTER's signature is checked; one that cannot be checked is
            // treated as one that does not verify.
            IoapError::Unsignable(_) => ErrorCode::InvalidSignature,
        }
    }

    /// A short snake_case name for an ERROR's `details.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            IoapError::TooLarge(_) => "too_large",
            IoapError::NotJson { .. } => "not_json",
            IoapError::TooDeep => "too_deep",
            IoapError::NotAnObject => "not_an_object",
            IoapError::MissingField(_) => "missing_field",
            IoapError::WrongType { .. } => "wrong_type",
            IoapError::UnknownType(_) => "unknown_type",
            IoapError::PayloadMismatch => "payload_mismatch",
            IoapError::BadTimestamp => "bad_timestamp",
            IoapError::BadChallenge(_) => "bad_challenge",
            IoapError::Unsignable(_) => "unsignable",
        }
    }
}

impl From<JsonError> for IoapError {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::Syntax(at) => IoapError::NotJson {
                at,
                reason: "syntax error",
            },
            JsonError::IntegerTooLong(at) => IoapError::NotJson {
                at,
                reason: "integer literal longer than 4300 digits",
            },
            JsonError::TooDeep => IoapError::TooDeep,
        }
    }
}

/// A strict-mode CHALLENGE's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The nonce as sent: unpadded base64url.
    pub nonce: Cow<'a, str>,
    /// The nonce's 32 bytes.
    pub nonce_bytes: [u8; 32],
    /// The connection's name.
    pub connection_id: Cow<'a, str>,
    /// The expiry as sent.
    pub expires_at: Cow<'a, str>,
    /// The expiry as an instant.
    pub expires: FrameTime,
}

/// A valid frame, borrowing from its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame<'a> {
    text: &'a str,
    mode: Mode,
    id: Cow<'a, str>,
    correlation_id: Option<Cow<'a, str>>,
    from: Cow<'a, str>,
    to: Cow<'a, str>,
    frame_type: FrameType,
    payload: &'a str,
    payload_model: PayloadModel,
    public_key: Option<Cow<'a, str>>,
    sequence: Option<Integer>,
    signature: Cow<'a, str>,
    version: Option<Cow<'a, str>>,
    timestamp_raw: Option<Cow<'a, str>>,
    timestamp: Option<FrameTime>,
    challenge: Option<Challenge<'a>>,
    lone_surrogates: bool,
}

impl<'a> Frame<'a> {
    /// The frame's text, unchanged: what a gateway relays.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The rules it was read by.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `correlation_id`, when present and not null.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// `from` (or `from_did`): the sender's DID as it claims it.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// `to` (or `to_did`): the recipient's DID.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// `type`.
    pub fn frame_type(&self) -> FrameType {
        self.frame_type
    }

    /// `type`, when it is an IoAP v1 type (always, in compat mode).
    pub fn message_type(&self) -> Option<MessageType> {
        match self.frame_type {
            FrameType::V1(t) => Some(t),
            FrameType::Server(_) => None,
        }
    }

    /// The payload's JSON text, exactly as sent.
    pub fn payload_raw(&self) -> &'a str {
        self.payload
    }

    /// The payload as a serde_json [`RawValue`](serde_json::value::RawValue), borrowed
    /// from the text. Fails where serde_json is stricter than Python: `NaN`,
    /// `Infinity`, an integer beyond `f64`'s range, a lone surrogate.
    pub fn payload_json(&self) -> Result<&'a serde_json::value::RawValue, serde_json::Error> {
        serde_json::from_str(self.payload)
    }

    /// The payload model that accepted the payload (not necessarily the one `type`
    /// names).
    pub fn payload_model(&self) -> PayloadModel {
        self.payload_model
    }

    /// `payload.public_key`, when the payload is a REGISTER payload (the reference
    /// registers a REGISTER with any other payload, `{}` included, with no key).
    pub fn public_key(&self) -> Option<&str> {
        self.public_key.as_deref()
    }

    /// `payload.sequence` (as coerced), when the payload is a PING/PONG payload with a
    /// non-null sequence.
    pub fn sequence(&self) -> Option<&Integer> {
        self.sequence.as_ref()
    }

    /// `signature` (possibly empty).
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// `version`, when present.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// `timestamp` as sent: the string's text, or a number's literal.
    pub fn timestamp_raw(&self) -> Option<&str> {
        self.timestamp_raw.as_deref()
    }

    /// `timestamp` as an instant.
    pub fn timestamp(&self) -> Option<FrameTime> {
        self.timestamp
    }

    /// Strict mode: a CHALLENGE's payload.
    pub fn challenge(&self) -> Option<&Challenge<'a>> {
        self.challenge.as_ref()
    }

    /// Whether one of the string accessors had to show U+FFFD for a lone surrogate
    /// (see the module documentation).
    pub fn has_lone_surrogates(&self) -> bool {
        self.lone_surrogates
    }
}

/// Reads an IoAP v1 frame (subprotocol `ioap.v1`) as the reference client validates
/// it (see the module documentation).
pub fn parse_frame(text: &str) -> Result<Frame<'_>, IoapError> {
    parse_frame_in(text, Mode::Compat)
}

/// Reads a frame of agentgate's strict mode (subprotocol `ioap.v2`): IoAP v1, plus the
/// gateway's CHALLENGE, REGISTERED and RECEIPT.
pub fn parse_frame_strict(text: &str) -> Result<Frame<'_>, IoapError> {
    parse_frame_in(text, Mode::Strict)
}

/// Reads a frame by the rules of `mode`.
pub fn parse_frame_in(text: &str, mode: Mode) -> Result<Frame<'_>, IoapError> {
    let root = read(text, 2)?;
    let Value::Object(members) = &root else {
        return Err(IoapError::NotAnObject);
    };
    let mut lossy = false;

    let id = text_of(required_str(members, "id", None)?, &mut lossy);
    let correlation_id = optional_str(members, "correlation_id")?.map(|s| text_of(s, &mut lossy));
    let (timestamp_raw, timestamp) = match last(members, "timestamp") {
        None => (None, None),
        Some(m) => {
            let at = lax::datetime(&m.value).ok_or(IoapError::BadTimestamp)?;
            let raw = match &m.value {
                Value::Str(s) => text_of(s, &mut lossy),
                _ => Cow::Borrowed(m.raw),
            };
            (Some(raw), Some(at))
        }
    };
    let from = text_of(required_str(members, "from", Some("from_did"))?, &mut lossy);
    let to = text_of(required_str(members, "to", Some("to_did"))?, &mut lossy);
    let frame_type = frame_type(members, mode)?;
    let payload = last(members, "payload").ok_or(IoapError::MissingField("payload"))?;
    let Value::Object(payload_members) = &payload.value else {
        return Err(IoapError::WrongType { field: "payload" });
    };
    let mut public_key = None;
    let mut sequence = None;
    let mut challenge = None;
    let payload_model = match frame_type {
        FrameType::Server(ServerType::Challenge) => {
            challenge = Some(read_challenge(payload_members, &mut lossy)?);
            PayloadModel::Challenge
        }
        FrameType::Server(_) => PayloadModel::Object,
        FrameType::V1(_) => {
            let selected = select(payload_members).ok_or(IoapError::PayloadMismatch)?;
            match (selected.model, selected.values.first()) {
                (PayloadModel::Register, Some((_, Coerced::Str(s)))) => {
                    public_key = Some(text_of(s, &mut lossy));
                }
                (PayloadModel::Ping, Some((_, Coerced::Int(i)))) => {
                    sequence = Some(Integer(i.clone()));
                }
                _ => {}
            }
            selected.model
        }
    };
    // `version: str = "1.0"`: absent is fine, null is not.
    let version = match last(members, "version").map(|m| &m.value) {
        None => None,
        Some(Value::Str(s)) => Some(text_of(s, &mut lossy)),
        Some(_) => return Err(IoapError::WrongType { field: "version" }),
    };
    let signature = text_of(required_str(members, "signature", None)?, &mut lossy);

    Ok(Frame {
        text,
        mode,
        id,
        correlation_id,
        from,
        to,
        frame_type,
        payload: payload.raw,
        payload_model,
        public_key,
        sequence,
        signature,
        version,
        timestamp_raw,
        timestamp,
        challenge,
        lone_surrogates: lossy,
    })
}

/// A string's text; notes whether a lone surrogate had to be replaced.
fn text_of<'a>(s: &JsonStr<'a>, lossy: &mut bool) -> Cow<'a, str> {
    let (decoded, l) = s.decode();
    *lossy |= l;
    decoded
}

/// The `id` of a frame that failed validation, when its text is a JSON object (within
/// the limits) with a string `id`: what an ERROR's `correlation_id` should name.
pub fn offending_id(text: &str) -> Option<Cow<'_, str>> {
    let root = read(text, 1).ok()?;
    let Value::Object(members) = &root else {
        return None;
    };
    match &last(members, "id")?.value {
        Value::Str(s) => Some(s.decode().0),
        _ => None,
    }
}

/// The size check and the JSON reader, expanding `expand` levels.
fn read(text: &str, expand: usize) -> Result<Value<'_>, IoapError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(IoapError::TooLarge(text.len()));
    }
    Ok(pyjson::parse(text, expand, MAX_DEPTH)?)
}

/// A required `str` field, looked up by its JSON name and then by its other name (the
/// alias comes first, as pydantic tries it first).
fn required_str<'v, 'a>(
    members: &'v [Member<'a>],
    name: &'static str,
    other: Option<&'static str>,
) -> Result<&'v JsonStr<'a>, IoapError> {
    let member = last(members, name)
        .or_else(|| other.and_then(|o| last(members, o)))
        .ok_or(IoapError::MissingField(name))?;
    lax::string(&member.value).ok_or(IoapError::WrongType { field: name })
}

/// An optional `str` field that may be null (or, for `version`, absent).
fn optional_str<'v, 'a>(
    members: &'v [Member<'a>],
    name: &'static str,
) -> Result<Option<&'v JsonStr<'a>>, IoapError> {
    match last(members, name).map(|m| &m.value) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(IoapError::WrongType { field: name }),
    }
}

fn frame_type(members: &[Member<'_>], mode: Mode) -> Result<FrameType, IoapError> {
    let member = last(members, "type").ok_or(IoapError::MissingField("type"))?;
    let s = lax::string(&member.value).ok_or(IoapError::WrongType { field: "type" })?;
    let (name, _) = s.decode();
    if let Some(t) = MessageType::parse(&name) {
        return Ok(FrameType::V1(t));
    }
    if mode == Mode::Strict
        && let Some(t) = ServerType::parse(&name)
    {
        return Ok(FrameType::Server(t));
    }
    let mut cut = name.len().min(64);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    Err(IoapError::UnknownType(name[..cut].to_owned()))
}

fn read_challenge<'a>(
    members: &[Member<'a>],
    lossy: &mut bool,
) -> Result<Challenge<'a>, IoapError> {
    const KEYS: [&str; 3] = ["nonce", "connection_id", "expires_at"];
    if members.iter().any(|m| !KEYS.iter().any(|k| m.key.is(k))) {
        return Err(IoapError::BadChallenge("unexpected key"));
    }
    let get = |key: &'static str| match last(members, key).map(|m| &m.value) {
        Some(Value::Str(s)) => Ok(s.decode()),
        _ => Err(IoapError::BadChallenge(
            "nonce, connection_id and expires_at are strings",
        )),
    };
    let (nonce, l1) = get("nonce")?;
    let (connection_id, l2) = get("connection_id")?;
    let (expires_at, l3) = get("expires_at")?;
    *lossy |= l1 || l2 || l3;
    let nonce_bytes = encode::decode_nonce(&nonce).ok_or(IoapError::BadChallenge(
        "nonce is not 32 bytes of unpadded base64url",
    ))?;
    let expires = parse_datetime_text(&expires_at)
        .ok_or(IoapError::BadChallenge("expires_at is not a timestamp"))?;
    Ok(Challenge {
        nonce,
        nonce_bytes,
        connection_id,
        expires_at,
        expires,
    })
}

/// The pydantic type of a payload field.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    OptStr,
    OptInt,
    OptFloat,
    OptBool,
    Dict,
    OptDict,
    Any,
    Code,
}

/// What a payload field holds when the payload does not name it.
#[derive(Clone, Copy)]
enum FieldDefault {
    Required,
    Null,
    EmptyDict,
    False,
    Success,
}

struct FieldSpec {
    name: &'static str,
    kind: Kind,
    default: FieldDefault,
}

const fn f(name: &'static str, kind: Kind, default: FieldDefault) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        default,
    }
}

/// The payload models of `models.py`, in the order of the `Union`.
static MODELS: [(PayloadModel, &[FieldSpec]); 11] = {
    use FieldDefault::{EmptyDict, False, Null, Required, Success};
    use Kind::*;
    [
        (PayloadModel::Register, &[f("public_key", Str, Required)]),
        (PayloadModel::Unregister, &[f("reason", OptStr, Null)]),
        (PayloadModel::Offer, &[f("sdp", Str, Required)]),
        (PayloadModel::Answer, &[f("sdp", Str, Required)]),
        (
            PayloadModel::IceCandidate,
            &[
                f("candidate", Str, Required),
                f("sdp_mid", OptStr, Null),
                f("sdp_mline_index", OptInt, Null),
            ],
        ),
        (
            PayloadModel::Intent,
            &[
                f("query", OptStr, Null),
                f("context", OptStr, Null),
                f("task", OptStr, Null),
                f("params", OptDict, Null),
                f("status", OptStr, Null),
                f("required_input", OptStr, Null),
                f("cost", OptStr, Null),
            ],
        ),
        (
            PayloadModel::ExecRequest,
            &[
                f("args", Dict, EmptyDict),
                f("timeout_ms", OptInt, Null),
                f("stream", OptBool, False),
            ],
        ),
        (
            PayloadModel::ExecResponse,
            &[
                f("result", Any, Null),
                f("error", OptStr, Null),
                f("status", Str, Success),
                f("execution_time_ms", OptFloat, Null),
                f("stream_url", OptStr, Null),
            ],
        ),
        (
            PayloadModel::Error,
            &[
                f("code", Code, Required),
                f("message", Str, Required),
                f("details", OptDict, Null),
            ],
        ),
        (PayloadModel::Ping, &[f("sequence", OptInt, Null)]),
        (PayloadModel::Pong, &[f("sequence", OptInt, Null)]),
    ]
};

/// A payload field's value after validation, as the model would dump it.
pub(crate) enum Coerced<'v, 'a> {
    Null,
    Str(&'v JsonStr<'a>),
    Int(String),
    Float(f64),
    Bool(bool),
    /// A dict or `Any` value, dumped as it came.
    Json(&'v Value<'a>),
    Code(ErrorCode),
    EmptyDict,
    Success,
}

/// The model that accepted a payload, with every field's value in model order.
pub(crate) struct Selected<'v, 'a> {
    pub model: PayloadModel,
    pub values: Vec<(&'static str, Coerced<'v, 'a>)>,
}

/// pydantic's "smart" union over the payload models. Every model that accepts a
/// payload sets the same fields (its keys) and, where two models share a key, they
/// give it the same type, so the tie-breaks (fields set, then exactness) always fall to
/// declaration order: the first model that accepts is the one selected.
pub(crate) fn select<'v, 'a>(members: &'v [Member<'a>]) -> Option<Selected<'v, 'a>> {
    MODELS
        .iter()
        .find_map(|(model, fields)| validate_model(*model, fields, members))
}

fn validate_model<'v, 'a>(
    model: PayloadModel,
    fields: &[FieldSpec],
    members: &'v [Member<'a>],
) -> Option<Selected<'v, 'a>> {
    // `extra = "forbid"`.
    if members
        .iter()
        .any(|m| !fields.iter().any(|field| m.key.is(field.name)))
    {
        return None;
    }
    let mut values = Vec::with_capacity(fields.len());
    for field in fields {
        let value = match last(members, field.name) {
            None => match field.default {
                FieldDefault::Required => return None,
                FieldDefault::Null => Coerced::Null,
                FieldDefault::EmptyDict => Coerced::EmptyDict,
                FieldDefault::False => Coerced::Bool(false),
                FieldDefault::Success => Coerced::Success,
            },
            Some(member) => coerce(field.kind, &member.value)?,
        };
        values.push((field.name, value));
    }
    Some(Selected { model, values })
}

fn coerce<'v, 'a>(kind: Kind, value: &'v Value<'a>) -> Option<Coerced<'v, 'a>> {
    let nullable = matches!(
        kind,
        Kind::OptStr | Kind::OptInt | Kind::OptFloat | Kind::OptBool | Kind::OptDict | Kind::Any
    );
    if nullable && *value == Value::Null {
        return Some(Coerced::Null);
    }
    match kind {
        Kind::Str | Kind::OptStr => lax::string(value).map(Coerced::Str),
        Kind::OptInt => lax::int(value).map(Coerced::Int),
        Kind::OptFloat => lax::float(value).map(Coerced::Float),
        Kind::OptBool => lax::boolean(value).map(Coerced::Bool),
        Kind::Dict | Kind::OptDict => match value {
            Value::Object(_) | Value::Opaque { object: true } => Some(Coerced::Json(value)),
            _ => None,
        },
        Kind::Any => Some(Coerced::Json(value)),
        Kind::Code => match value {
            Value::Str(s) => ErrorCode::parse(&s.decode().0).map(Coerced::Code),
            _ => None,
        },
    }
}
