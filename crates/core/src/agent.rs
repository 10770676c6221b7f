//! Agents registered on a gateway.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::schema_id::schema_covers;
use crate::time::Timestamp;

/// How an agent receives its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// The agent polls its inbox.
    Pull,
    /// The gateway POSTs each message to the agent's `push_target`.
    Push,
}

impl DeliveryMode {
    /// The mode's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Pull => "pull",
            DeliveryMode::Push => "push",
        }
    }
}

/// A registered agent as stored by the directory.
///
/// The API key is kept only as a hash. The webhook secret is kept as is, because the
/// gateway needs it to sign every push; it is shown to the operator once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// `name@domain`.
    pub address: Address,
    /// Pull or push.
    pub delivery_mode: DeliveryMode,
    /// Where pushes go (push mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_target: Option<String>,
    /// Extra headers sent with each push.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Schema ids (or `prefix.*` wildcards) the agent accepts.
    #[serde(default)]
    pub supported_schemas: Vec<String>,
    /// Hex SHA-256 of the agent's API key.
    pub api_key_hash: String,
    /// Ed25519 keys the agent may prove itself with (WebSocket sessions), as standard
    /// `did:key` identifiers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<String>,
    /// HMAC key for push signatures (push mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Registration time.
    pub created_at: Timestamp,
    /// Last authenticated request, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active: Option<Timestamp>,
}

impl Agent {
    /// Whether the agent was active within `window_ms` before `now`.
    pub fn is_active(&self, now: Timestamp, window_ms: u64) -> bool {
        self.last_active.is_some_and(|t| now.since(t) <= window_ms)
    }

    /// Whether the agent accepts messages of `schema`: some entry of its
    /// `supported_schemas` is that id, or a wildcard `ns:domain.*` / `ns:domain.entity.*`
    /// covering it at a segment boundary (see [`schema_covers`]). An agent that lists
    /// no schemas accepts anything; one that lists some refuses a message without one.
    pub fn accepts_schema(&self, schema: Option<&str>) -> bool {
        if self.supported_schemas.is_empty() {
            return true;
        }
        let Some(s) = schema else { return false };
        self.supported_schemas.iter().any(|p| schema_covers(p, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(schemas: &[&str], last: Option<u64>) -> Agent {
        Agent {
            address: Address::parse("a@x.com").unwrap(),
            delivery_mode: DeliveryMode::Pull,
            push_target: None,
            headers: BTreeMap::new(),
            supported_schemas: schemas.iter().map(|s| s.to_string()).collect(),
            api_key_hash: String::new(),
            public_keys: Vec::new(),
            webhook_secret: None,
            created_at: Timestamp(0),
            last_active: last.map(Timestamp),
        }
    }

    #[test]
    fn schema_matching() {
        assert!(agent(&[], None).accepts_schema(None));
        assert!(agent(&[], None).accepts_schema(Some("agntcy:a.b.v1")));
        let a = agent(&["agntcy:commerce.*", "agntcy:hr.person.v2"], None);
        assert!(a.accepts_schema(Some("agntcy:commerce.order.v1")));
        assert!(a.accepts_schema(Some("agntcy:hr.person.v2")));
        assert!(!a.accepts_schema(Some("agntcy:hr.person.v1")));
        assert!(!a.accepts_schema(None));
        // Wildcards stop at segment boundaries, in any namespace.
        let a = agent(&["ns:domain.*", "ns:hr.person.*"], None);
        assert!(a.accepts_schema(Some("ns:domain.x.v1")));
        assert!(!a.accepts_schema(Some("ns:domainx.y.v1")));
        assert!(a.accepts_schema(Some("ns:hr.person.v7")));
        assert!(!a.accepts_schema(Some("ns:hr.personnel.v1")));
        assert!(!a.accepts_schema(Some("other:domain.x.v1")));
        // A malformed stored entry (never accepted at registration) is no prefix.
        let a = agent(&["ns:domain*"], None);
        assert!(!a.accepts_schema(Some("ns:domainx.y.v1")));
    }

    #[test]
    fn activity_window() {
        assert!(!agent(&[], None).is_active(Timestamp(100), 10));
        assert!(agent(&[], Some(95)).is_active(Timestamp(100), 10));
        assert!(!agent(&[], Some(80)).is_active(Timestamp(100), 10));
    }

    #[test]
    fn mode_serde() {
        assert_eq!(
            serde_json::to_string(&DeliveryMode::Push).unwrap(),
            "\"push\""
        );
        assert_eq!(DeliveryMode::Pull.as_str(), "pull");
    }
}
