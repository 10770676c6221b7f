//! The push request: body and signature.
//!
//! The body carries the envelope's fields for one recipient (AMTP's push shape, plus
//! `idempotency_key`). The signature header is
//! `X-AMTP-Signature: sha256=<hex>`, the HMAC-SHA256, keyed with the agent's webhook
//! secret (its text, as UTF-8 bytes), of `<X-AMTP-Timestamp>.<body bytes>`. A receiver
//! recomputes it over the raw body, compares in constant time, and rejects timestamps
//! far from its clock to stop replays.

use agentgate_core::envelope::Attachment;
use agentgate_core::{Address, Envelope, MessageId, RawJson, Timestamp};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Sha256;

/// The JSON body of one push.
#[derive(Debug, Serialize)]
pub(crate) struct PushBody<'a> {
    message_id: &'a MessageId,
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<&'a str>,
    sender: &'a Address,
    recipient: &'a Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<&'a str>,
    timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a RawJson>,
    #[serde(skip_serializing_if = "<[Attachment]>::is_empty")]
    attachments: &'a [Attachment],
    #[serde(skip_serializing_if = "Option::is_none")]
    coordination: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_reply_to: Option<&'a MessageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_type: Option<&'a str>,
}

impl<'a> PushBody<'a> {
    /// The body pushing `envelope` to `recipient`.
    pub(crate) fn new(envelope: &'a Envelope, recipient: &'a Address) -> PushBody<'a> {
        PushBody {
            message_id: &envelope.message_id,
            idempotency_key: envelope.idempotency_key.as_deref(),
            sender: &envelope.sender,
            recipient,
            subject: envelope.subject.as_deref(),
            schema: envelope.schema.as_deref(),
            timestamp: envelope.timestamp,
            headers: envelope.headers.as_ref(),
            payload: envelope.payload.as_ref(),
            attachments: &envelope.attachments,
            coordination: envelope.coordination.as_ref(),
            in_reply_to: envelope.in_reply_to.as_ref(),
            response_type: envelope.response_type.as_deref(),
        }
    }

    /// The body's JSON bytes.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("push body serialises")
    }
}

/// The `X-AMTP-Signature` value for `body` sent at `unix_seconds`.
pub(crate) fn signature(secret: &str, unix_seconds: u64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentgate_core::envelope::WireEnvelope;
    use serde_json::json;

    #[test]
    fn known_signature() {
        // HMAC-SHA256("key", "1700000000.{}"), computed with Python's hmac module.
        let s = signature("key", 1_700_000_000, b"{}");
        assert_eq!(
            s,
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(s, signature("key", 1_700_000_001, b"{}"));
        assert_ne!(s, signature("other", 1_700_000_000, b"{}"));
    }

    #[test]
    fn body_has_the_push_shape() {
        let w: WireEnvelope = serde_json::from_value(json!({
            "sender": "a@x.com", "recipients": ["b@x.com", "c@x.com"],
            "idempotency_key": "k1", "subject": "s", "payload": {"n": 1}
        }))
        .unwrap();
        let env = Envelope::from_wire(w, Timestamp(1_767_323_045_678), [1; 10]).unwrap();
        let body: Value =
            serde_json::from_slice(&PushBody::new(&env, &env.recipients[0]).to_vec()).unwrap();
        assert_eq!(body["recipient"], "b@x.com");
        assert_eq!(body["idempotency_key"], "k1");
        assert_eq!(body["timestamp"], "2026-01-02T03:04:05.678Z");
        assert_eq!(body["payload"], json!({"n": 1}));
        assert!(body.get("recipients").is_none());
        assert!(body.get("attachments").is_none());
    }
}
