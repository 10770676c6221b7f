//! The stored form of an accepted message.
//!
//! One record per message id in the `messages` bucket, written once at acceptance:
//!
//! ```text
//! [1 byte format = 1][4 bytes header length, big endian][header JSON][envelope JSON]
//! ```
//!
//! The header holds what access checks, status and repeat responses need (sender,
//! acceptance time, each recipient's outcome) so they never parse the envelope. The
//! envelope JSON is kept exactly as it is served, so `GET /v1/messages/{id}` and inbox
//! items are slices of the same bytes, never re-serialised.

use std::ops::Range;

use agentgate_core::{Address, DeliveryStatus, Envelope, MessageId, RawJson, Timestamp};
use agentgate_store::StoreError;
use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

const FORMAT: u8 = 1;
const PREAMBLE: usize = 5;

/// One recipient's outcome at acceptance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientOutcome {
    /// The recipient.
    pub address: Address,
    /// `delivered` (pull inbox), `queued` (push pending) or `failed`.
    pub status: DeliveryStatus,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Why it failed, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl RecipientOutcome {
    /// Whether the recipient got the message (it is in its inbox or queued for push).
    pub fn accepted(&self) -> bool {
        self.status != DeliveryStatus::Failed
    }

    /// Whether the recipient is a push agent.
    pub fn is_push(&self) -> bool {
        self.status == DeliveryStatus::Queued
    }
}

/// The record header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordHeader {
    /// The message id.
    pub message_id: MessageId,
    /// The sender.
    pub sender: Address,
    /// When the gateway accepted it.
    pub accepted_at: Timestamp,
    /// Every recipient's outcome, in envelope order.
    pub recipients: Vec<RecipientOutcome>,
}

/// A message record: header plus envelope bytes.
#[derive(Clone, Debug)]
pub struct MessageRecord {
    /// The parsed header.
    pub header: RecordHeader,
    bytes: Bytes,
    envelope: Range<usize>,
}

impl MessageRecord {
    /// Builds the record of a newly accepted message.
    pub fn new(envelope: &Envelope, header: RecordHeader) -> MessageRecord {
        // Room for both parts at once: the raw payload and signature dominate.
        let raw = |r: &Option<RawJson>| r.as_ref().map_or(0, |r| r.get().len());
        let estimate = 1024
            + raw(&envelope.payload)
            + raw(&envelope.signature)
            + 160 * envelope.recipients.len();
        let mut buf = BytesMut::with_capacity(estimate);
        buf.put_u8(FORMAT);
        buf.put_u32(0);
        let mut w = buf.writer();
        serde_json::to_writer(&mut w, &header).expect("header serialises");
        let mut buf = w.into_inner();
        let start = buf.len();
        let head_len = (start - PREAMBLE) as u32;
        buf[1..PREAMBLE].copy_from_slice(&head_len.to_be_bytes());
        let mut w = buf.writer();
        serde_json::to_writer(&mut w, envelope).expect("envelope serialises");
        let buf = w.into_inner();
        let end = buf.len();
        MessageRecord {
            header,
            bytes: buf.freeze(),
            envelope: start..end,
        }
    }

    /// Parses a stored record.
    pub fn decode(bytes: Bytes) -> Result<MessageRecord, StoreError> {
        let corrupt = |why: &str| StoreError::Corrupt(format!("message record: {why}"));
        if bytes.len() < PREAMBLE || bytes[0] != FORMAT {
            return Err(corrupt("unknown format"));
        }
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        let start = PREAMBLE
            .checked_add(len)
            .filter(|s| *s <= bytes.len())
            .ok_or_else(|| corrupt("truncated header"))?;
        let header: RecordHeader =
            serde_json::from_slice(&bytes[PREAMBLE..start]).map_err(|e| corrupt(&e.to_string()))?;
        if start >= bytes.len() {
            return Err(corrupt("no envelope"));
        }
        let end = bytes.len();
        Ok(MessageRecord {
            header,
            bytes,
            envelope: start..end,
        })
    }

    /// The whole stored form.
    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// The envelope JSON (shares the record's memory).
    pub fn envelope_json(&self) -> Bytes {
        self.bytes.slice(self.envelope.clone())
    }

    /// The envelope, parsed.
    pub fn envelope(&self) -> Result<Envelope, StoreError> {
        serde_json::from_slice(&self.bytes[self.envelope.clone()])
            .map_err(|e| StoreError::Corrupt(format!("message envelope: {e}")))
    }

    /// Whether `address` is the sender or one of the recipients.
    pub fn involves(&self, address: &Address) -> bool {
        &self.header.sender == address
            || self.header.recipients.iter().any(|r| &r.address == address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentgate_core::envelope::WireEnvelope;
    use serde_json::json;

    #[test]
    fn round_trips_and_slices_the_envelope() {
        let w: WireEnvelope = serde_json::from_value(
            json!({"sender": "a@x.com", "recipients": ["b@x.com"], "payload": {"k": 1}}),
        )
        .unwrap();
        let env = Envelope::from_wire(w, Timestamp(5), [1; 10]).unwrap();
        let header = RecordHeader {
            message_id: env.message_id,
            sender: env.sender.clone(),
            accepted_at: Timestamp(5),
            recipients: vec![RecipientOutcome {
                address: env.recipients[0].clone(),
                status: DeliveryStatus::Delivered,
                error_code: None,
                error_message: None,
            }],
        };
        let rec = MessageRecord::new(&env, header.clone());
        let back = MessageRecord::decode(rec.bytes()).unwrap();
        assert_eq!(back.header, header);
        assert_eq!(back.envelope().unwrap(), env);
        assert_eq!(
            back.envelope_json(),
            Bytes::from(serde_json::to_vec(&env).unwrap())
        );
        assert!(back.involves(&Address::parse("b@x.com").unwrap()));
        assert!(!back.involves(&Address::parse("c@x.com").unwrap()));
        assert!(MessageRecord::decode(Bytes::from_static(b"\x01\x00\x00\x00\xff{}")).is_err());
        assert!(MessageRecord::decode(Bytes::from_static(b"")).is_err());
    }
}
