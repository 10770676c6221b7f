//! The AMTP message envelope.
//!
//! [`WireEnvelope`] is what a client sends: every field as loosely typed as JSON allows,
//! so that each problem can be reported with its own code. [`Envelope::from_wire`]
//! validates it into an [`Envelope`], filling in the id and timestamp the gateway owns.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::address::{Address, AddressError};
use crate::id::{MessageId, MessageIdError};
pub use crate::schema_id::{is_valid_schema_id, is_valid_schema_wildcard};
use crate::time::Timestamp;

/// The only protocol version spoken.
pub const AMTP_VERSION: &str = "1.0";
/// Most recipients one message may name.
pub const MAX_RECIPIENTS: usize = 1000;
/// Longest idempotency key, subject, or schema id, in bytes.
pub const MAX_SHORT_FIELD: usize = 1024;
/// Most attachments one message may carry.
pub const MAX_ATTACHMENTS: usize = 100;

/// A JSON value kept as the text it arrived in: parsed only to check it is JSON, never
/// built into a tree, and written back byte for byte. The payload and the signature
/// block are carried like this because the gateway only passes them on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The value as a tree (for code that inspects it).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).expect("raw JSON was checked when it was read")
    }
}

impl PartialEq for RawJson {
    /// Equal when the texts are equal (so `{"a":1}` and `{ "a": 1 }` differ).
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// An attachment reference (the content lives at `url`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:`, `sha512:` or `md5:` followed by hex.
    pub hash: String,
    /// `http(s)` URL of the content.
    pub url: String,
}

/// An envelope as received, before validation.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireEnvelope {
    /// Protocol version; `"1.0"` when absent.
    pub version: Option<String>,
    /// Client-chosen id (any UUID); minted when absent.
    pub message_id: Option<String>,
    /// De-duplication key; the message id is used when absent.
    pub idempotency_key: Option<String>,
    /// RFC 3339 time; the gateway's time when absent.
    pub timestamp: Option<String>,
    /// Sender address.
    pub sender: Option<String>,
    /// Recipient addresses.
    pub recipients: Option<Vec<String>>,
    /// Free-text subject.
    pub subject: Option<String>,
    /// Schema id.
    pub schema: Option<String>,
    /// Coordination block (workflows).
    pub coordination: Option<Value>,
    /// Free header map.
    pub headers: Option<Map<String, Value>>,
    /// Any JSON payload, kept as sent.
    pub payload: Option<RawJson>,
    /// Attachment references.
    pub attachments: Option<Vec<Attachment>>,
    /// Signature block, kept as sent.
    pub signature: Option<RawJson>,
    /// Id of the message this answers.
    pub in_reply_to: Option<String>,
    /// Kind of reply, e.g. `workflow_response`.
    pub response_type: Option<String>,
}

/// A validated envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Protocol version, always [`AMTP_VERSION`].
    pub version: String,
    /// Message id.
    pub message_id: MessageId,
    /// Idempotency key as sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Creation time.
    pub timestamp: Timestamp,
    /// Sender.
    pub sender: Address,
    /// Recipients, de-duplicated, in the order first given.
    pub recipients: Vec<Address>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Schema id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Coordination block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordination: Option<Value>,
    /// Headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    /// Payload, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<RawJson>,
    /// Attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Signature block, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<RawJson>,
    /// Id of the message this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<MessageId>,
    /// Kind of reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
}

/// Why an envelope is invalid. Each variant has a stable [`code`](EnvelopeError::code).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// `version` is not `"1.0"`.
    #[error("unsupported AMTP version {0:?}; this gateway speaks 1.0")]
    UnsupportedVersion(String),
    /// `message_id` is not a UUID.
    #[error("message_id: {0}")]
    InvalidMessageId(MessageIdError),
    /// `idempotency_key` is empty, too long or has characters outside `[A-Za-z0-9._:-]`.
    #[error("idempotency_key must be 1-128 characters of [A-Za-z0-9._:-]")]
    InvalidIdempotencyKey,
    /// `timestamp` is not RFC 3339.
    #[error("timestamp {0:?} is not an RFC 3339 date-time")]
    InvalidTimestamp(String),
    /// `sender` is missing.
    #[error("sender is required")]
    MissingSender,
    /// `sender` is not an address.
    #[error("sender {0:?}: {1}")]
    InvalidSender(String, AddressError),
    /// `recipients` is missing or empty.
    #[error("recipients must name at least one address")]
    NoRecipients,
    /// More than [`MAX_RECIPIENTS`].
    #[error("{0} recipients; at most 1000 are allowed")]
    TooManyRecipients(usize),
    /// A recipient is not an address.
    #[error("recipient {0:?}: {1}")]
    InvalidRecipient(String, AddressError),
    /// `schema` is not `namespace:domain.entity.vN`.
    #[error("schema {0:?} is not of the form namespace:domain.entity.vN")]
    InvalidSchema(String),
    /// `in_reply_to` is not a UUID.
    #[error("in_reply_to: {0}")]
    InvalidInReplyTo(MessageIdError),
    /// An attachment is malformed.
    #[error("attachment {0}: {1}")]
    InvalidAttachment(usize, &'static str),
    /// `coordination` is not an object.
    #[error("coordination must be an object")]
    InvalidCoordination,
    /// A short text field is longer than [`MAX_SHORT_FIELD`].
    #[error("{0} is longer than 1024 bytes")]
    FieldTooLong(&'static str),
}

impl EnvelopeError {
    /// The stable UPPER_SNAKE error code.
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::UnsupportedVersion(_) => "UNSUPPORTED_VERSION",
            EnvelopeError::InvalidMessageId(_) => "INVALID_MESSAGE_ID",
            EnvelopeError::InvalidIdempotencyKey => "INVALID_IDEMPOTENCY_KEY",
            EnvelopeError::InvalidTimestamp(_) => "INVALID_TIMESTAMP",
            EnvelopeError::MissingSender | EnvelopeError::InvalidSender(..) => "INVALID_SENDER",
            EnvelopeError::NoRecipients => "NO_RECIPIENTS",
            EnvelopeError::TooManyRecipients(_) => "TOO_MANY_RECIPIENTS",
            EnvelopeError::InvalidRecipient(..) => "INVALID_RECIPIENT",
            EnvelopeError::InvalidSchema(_) => "INVALID_SCHEMA",
            EnvelopeError::InvalidInReplyTo(_) => "INVALID_IN_REPLY_TO",
            EnvelopeError::InvalidAttachment(..) => "INVALID_ATTACHMENT",
            EnvelopeError::InvalidCoordination => "INVALID_COORDINATION",
            EnvelopeError::FieldTooLong(_) => "FIELD_TOO_LONG",
        }
    }
}

fn is_valid_idempotency_key(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn check_attachment(i: usize, a: &Attachment) -> Result<(), EnvelopeError> {
    let bad = |why| Err(EnvelopeError::InvalidAttachment(i, why));
    if a.filename.is_empty() || a.filename.len() > MAX_SHORT_FIELD {
        return bad("filename must be 1-1024 bytes");
    }
    if a.content_type.is_empty() || a.content_type.len() > MAX_SHORT_FIELD {
        return bad("content_type must be 1-1024 bytes");
    }
    let hex_ok = |h: &str, n: usize| h.len() == n && h.bytes().all(|b| b.is_ascii_hexdigit());
    let hash_ok = match a.hash.split_once(':') {
        Some(("sha256", h)) => hex_ok(h, 64),
        Some(("sha512", h)) => hex_ok(h, 128),
        Some(("md5", h)) => hex_ok(h, 32),
        _ => false,
    };
    if !hash_ok {
        return bad("hash must be sha256:, sha512: or md5: followed by the full hex digest");
    }
    if !(a.url.starts_with("https://") || a.url.starts_with("http://")) || a.url.len() > 4096 {
        return bad("url must be an http(s) URL of at most 4096 bytes");
    }
    Ok(())
}

impl Envelope {
    /// Validates a received envelope. `now` and `random` mint the id and timestamp
    /// when the client sent none.
    pub fn from_wire(
        w: WireEnvelope,
        now: Timestamp,
        random: [u8; 10],
    ) -> Result<Envelope, EnvelopeError> {
        let version = match w.version {
            None => AMTP_VERSION.to_string(),
            Some(v) if v == AMTP_VERSION => v,
            Some(v) => return Err(EnvelopeError::UnsupportedVersion(v)),
        };
        let message_id = match w.message_id {
            None => MessageId::v7(now, random),
            Some(s) => MessageId::parse(&s).map_err(EnvelopeError::InvalidMessageId)?,
        };
        if let Some(k) = &w.idempotency_key
            && !is_valid_idempotency_key(k)
        {
            return Err(EnvelopeError::InvalidIdempotencyKey);
        }
        let timestamp = match w.timestamp {
            None => now,
            Some(s) => Timestamp::parse_rfc3339(&s).ok_or(EnvelopeError::InvalidTimestamp(s))?,
        };
        let sender_text = w.sender.ok_or(EnvelopeError::MissingSender)?;
        let sender = Address::parse(&sender_text)
            .map_err(|e| EnvelopeError::InvalidSender(sender_text.clone(), e))?;
        let raw = w.recipients.unwrap_or_default();
        if raw.is_empty() {
            return Err(EnvelopeError::NoRecipients);
        }
        if raw.len() > MAX_RECIPIENTS {
            return Err(EnvelopeError::TooManyRecipients(raw.len()));
        }
        let mut recipients: Vec<Address> = Vec::with_capacity(raw.len());
        for r in raw {
            let a =
                Address::parse(&r).map_err(|e| EnvelopeError::InvalidRecipient(r.clone(), e))?;
            if !recipients.contains(&a) {
                recipients.push(a);
            }
        }
        for (name, field) in [
            ("subject", &w.subject),
            ("response_type", &w.response_type),
            ("schema", &w.schema),
        ] {
            if field.as_ref().is_some_and(|s| s.len() > MAX_SHORT_FIELD) {
                return Err(EnvelopeError::FieldTooLong(name));
            }
        }
        if let Some(s) = &w.schema
            && !is_valid_schema_id(s)
        {
            return Err(EnvelopeError::InvalidSchema(s.clone()));
        }
        let in_reply_to = w
            .in_reply_to
            .map(|s| MessageId::parse(&s).map_err(EnvelopeError::InvalidInReplyTo))
            .transpose()?;
        let attachments = w.attachments.unwrap_or_default();
        if attachments.len() > MAX_ATTACHMENTS {
            return Err(EnvelopeError::InvalidAttachment(
                MAX_ATTACHMENTS,
                "too many attachments",
            ));
        }
        for (i, a) in attachments.iter().enumerate() {
            check_attachment(i, a)?;
        }
        let coordination = match w.coordination {
            None | Some(Value::Null) => None,
            Some(c @ Value::Object(_)) => Some(c),
            Some(_) => return Err(EnvelopeError::InvalidCoordination),
        };
        Ok(Envelope {
            version,
            message_id,
            idempotency_key: w.idempotency_key,
            timestamp,
            sender,
            recipients,
            subject: w.subject,
            schema: w.schema,
            coordination,
            headers: w.headers,
            payload: w.payload,
            attachments,
            signature: w.signature,
            in_reply_to,
            response_type: w.response_type,
        })
    }

    /// The key this message is de-duplicated by for its sender: the idempotency key
    /// when given, else the message id.
    pub fn dedup_key(&self) -> String {
        match &self.idempotency_key {
            Some(k) => format!("k:{k}"),
            None => format!("m:{}", self.message_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Timestamp = Timestamp(1_767_323_045_678);

    fn wire(v: Value) -> WireEnvelope {
        serde_json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    fn ok(v: Value) -> Envelope {
        Envelope::from_wire(wire(v), NOW, [1; 10]).unwrap()
    }

    fn err(v: Value) -> EnvelopeError {
        Envelope::from_wire(wire(v), NOW, [1; 10]).unwrap_err()
    }

    #[test]
    fn minimal_envelope_gets_id_time_and_version() {
        let e = ok(json!({"sender": "a@x.com", "recipients": ["b@x.com"]}));
        assert_eq!(e.version, "1.0");
        assert_eq!(e.message_id.version(), 7);
        assert_eq!(e.timestamp, NOW);
        assert_eq!(e.payload, None);
        assert_eq!(e.dedup_key(), format!("m:{}", e.message_id));
    }

    #[test]
    fn sdk_style_envelope_is_accepted() {
        let e = ok(json!({
            "version": "1.0",
            "message_id": "9b2f4c1e-3a5d-4e6f-8a7b-1c2d3e4f5a6b",
            "idempotency_key": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
            "timestamp": "2026-01-02T03:04:05.678123+00:00",
            "sender": "a@x.com",
            "recipients": ["b@x.com", "b@x.com", "c@X.com"],
            "subject": "hi",
            "payload": {"n": 1}
        }));
        assert_eq!(
            e.message_id.to_string(),
            "9b2f4c1e-3a5d-4e6f-8a7b-1c2d3e4f5a6b"
        );
        assert_eq!(e.recipients.len(), 2, "duplicates removed");
        assert_eq!(e.recipients[1].to_string(), "c@x.com");
        assert_eq!(e.timestamp, NOW);
        assert_eq!(e.dedup_key(), "k:1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9");
    }

    #[test]
    fn each_problem_has_its_code() {
        let base = || json!({"sender": "a@x.com", "recipients": ["b@x.com"]});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            err(b).code()
        };
        assert_eq!(with("version", json!("2.0")), "UNSUPPORTED_VERSION");
        assert_eq!(with("message_id", json!("nope")), "INVALID_MESSAGE_ID");
        assert_eq!(
            with("idempotency_key", json!("")),
            "INVALID_IDEMPOTENCY_KEY"
        );
        assert_eq!(
            with("idempotency_key", json!("a b")),
            "INVALID_IDEMPOTENCY_KEY"
        );
        assert_eq!(with("timestamp", json!("yesterday")), "INVALID_TIMESTAMP");
        assert_eq!(with("sender", json!("Bob <a@x.com>")), "INVALID_SENDER");
        assert_eq!(with("recipients", json!([])), "NO_RECIPIENTS");
        assert_eq!(with("recipients", json!(["nobody"])), "INVALID_RECIPIENT");
        assert_eq!(with("schema", json!("nocolon")), "INVALID_SCHEMA");
        assert_eq!(with("in_reply_to", json!("x")), "INVALID_IN_REPLY_TO");
        assert_eq!(with("coordination", json!([1])), "INVALID_COORDINATION");
        assert_eq!(with("subject", json!("s".repeat(2000))), "FIELD_TOO_LONG");
        let many: Vec<String> = (0..1001).map(|i| format!("r{i}@x.com")).collect();
        assert_eq!(with("recipients", json!(many)), "TOO_MANY_RECIPIENTS");
        assert_eq!(
            err(json!({"recipients": ["b@x.com"]})).code(),
            "INVALID_SENDER"
        );
        assert_eq!(err(json!({"sender": "a@x.com"})).code(), "NO_RECIPIENTS");
        let att = json!([{"filename": "f", "content_type": "text/plain", "size": 1,
                          "hash": "sha256:abc", "url": "https://x.com/f"}]);
        assert_eq!(with("attachments", att), "INVALID_ATTACHMENT");
    }

    #[test]
    fn schema_ids() {
        assert!(is_valid_schema_id("agntcy:commerce.order.v1"));
        assert!(is_valid_schema_id("myapp:billing.invoice.v12"));
        for bad in [
            "agntcy:commerce.order",
            "agntcy:a.b.c",
            "agntcy:.b.v1",
            "a.b.v1",
            "x:a.b.v",
        ] {
            assert!(!is_valid_schema_id(bad), "{bad}");
        }
        assert!(is_valid_schema_wildcard("agntcy:commerce.*"));
        assert!(is_valid_schema_wildcard("agntcy:commerce.order.*"));
        for bad in [
            "agntcy:*",
            "agntcy:a.b.c.*",
            "commerce.*",
            "agntcy:commerce",
            "agntcy:.*",
        ] {
            assert!(!is_valid_schema_wildcard(bad), "{bad}");
        }
    }

    #[test]
    fn stored_form_round_trips() {
        let e = ok(
            json!({"sender": "a@x.com", "recipients": ["b@x.com"], "payload": [1, 2],
                          "headers": {"h": "v"}, "subject": "s"}),
        );
        let text = serde_json::to_string(&e).unwrap();
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn payload_and_signature_are_passed_on_byte_for_byte() {
        // Numbers beyond f64 and their formatting survive too (a JSON tree would not
        // keep them).
        let body = br#"{"sender":"a@x.com","recipients":["b@x.com"],
            "payload": { "text" : "caf\u00e9 \"q\"", "n" :1.50, "big":123456789012345678901234567890, "deep":[[{}]] },
            "signature": {"alg":"ed25519" ,"sig":"AA=="}}"#;
        let w: WireEnvelope = serde_json::from_slice(body).unwrap();
        let e = Envelope::from_wire(w, NOW, [1; 10]).unwrap();
        let payload = r#"{ "text" : "caf\u00e9 \"q\"", "n" :1.50, "big":123456789012345678901234567890, "deep":[[{}]] }"#;
        assert_eq!(e.payload.as_ref().unwrap().get(), payload);
        assert_eq!(e.payload.as_ref().unwrap().to_value()["n"], json!(1.5));
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains(&format!(r#""payload":{payload}"#)), "{text}");
        assert!(text.contains(r#""signature":{"alg":"ed25519" ,"sig":"AA=="}"#));
        // A null payload is no payload, as before.
        let w: WireEnvelope = serde_json::from_slice(
            br#"{"sender":"a@x.com","recipients":["b@x.com"],"payload":null}"#,
        )
        .unwrap();
        assert!(
            Envelope::from_wire(w, NOW, [1; 10])
                .unwrap()
                .payload
                .is_none()
        );
    }
}
