//! The stored form of a registered schema: one JSON value per schema in the `schemas`
//! bucket, keyed by the escaped id.

use agentgate_core::Timestamp;
use agentgate_store::{StoreError, escape_token};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A schema as stored: `{"id", "definition", "published_at", "updated_at"}`. The
/// definition is kept as the JSON text it was registered with.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SchemaRecord {
    /// The schema id.
    pub id: String,
    /// The JSON Schema, as sent.
    pub definition: Box<RawValue>,
    /// When the id was first registered.
    pub published_at: Timestamp,
    /// When the definition last changed.
    pub updated_at: Timestamp,
}

impl SchemaRecord {
    /// The stored bytes.
    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("a schema record serialises"))
    }

    /// Reads stored bytes; `key` names the entry in the error.
    pub fn decode(key: &str, bytes: &[u8]) -> Result<SchemaRecord, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("schema {key}: {e}")))
    }
}

/// The key of schema `id` in the `schemas` bucket.
pub(crate) fn key(id: &str) -> String {
    escape_token(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentgate_store::validate_name;

    #[test]
    fn round_trips_with_the_definition_text_kept() {
        let text = r#"{ "type" : "object",  "required": ["b", "a"] }"#;
        let r = SchemaRecord {
            id: "acme:sales.order.v1".into(),
            definition: RawValue::from_string(text.into()).unwrap(),
            published_at: Timestamp(1),
            updated_at: Timestamp(2),
        };
        let back = SchemaRecord::decode("k", &r.encode()).unwrap();
        assert_eq!(back.definition.get(), text);
        assert_eq!(back.id, r.id);
        assert_eq!(
            (back.published_at, back.updated_at),
            (Timestamp(1), Timestamp(2))
        );
        assert!(SchemaRecord::decode("k", b"{").is_err());
    }

    #[test]
    fn keys_are_valid_names() {
        let longest = format!("{}:{}.e.v1", "n".repeat(120), "d".repeat(120));
        for id in ["acme:sales.order.v1", "a-b_c:d.e.v0", longest.as_str()] {
            assert!(validate_name(&key(id)).is_ok(), "{id}");
        }
    }
}
