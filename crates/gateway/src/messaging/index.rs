//! The per-agent index of sent and received messages (`message_index` bucket).
//!
//! One entry per (agent, message): key `<escaped address>.<inverted time>-<message id>`,
//! value one byte of flags. The time is inverted (`u64::MAX - ms`, 16 hex digits) so
//! that a key-ordered scan yields the newest message first. A message an agent sends
//! to itself has one entry with both flags.

use agentgate_core::{Address, MessageId, Timestamp};
use agentgate_store::escape_token_into;

/// The agent sent the message.
pub(crate) const SENT: u8 = 1;
/// The agent received the message.
pub(crate) const RECEIVED: u8 = 2;

/// Which of an agent's messages to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sent by the agent.
    Sent,
    /// Received by the agent.
    Received,
    /// Both.
    All,
}

impl Role {
    /// Parses the `role` query parameter.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "sent" => Some(Role::Sent),
            "received" => Some(Role::Received),
            "all" => Some(Role::All),
            _ => None,
        }
    }

    /// Whether an entry with `flags` is listed for this role.
    pub(crate) fn matches(self, flags: u8) -> bool {
        match self {
            Role::Sent => flags & SENT != 0,
            Role::Received => flags & RECEIVED != 0,
            Role::All => flags & (SENT | RECEIVED) != 0,
        }
    }
}

/// The key prefix of `address`'s entries.
pub(crate) fn prefix(address: &Address) -> String {
    key(address, "")
}

/// The key of `address`'s entry whose key ends in `suffix` (from [`suffix`]).
pub(crate) fn key(address: &Address, suffix: &str) -> String {
    let mut key = String::with_capacity(address.as_str().len() + 13 + suffix.len());
    escape_token_into(address.as_str(), &mut key);
    key.push('.');
    key.push_str(suffix);
    key
}

/// The part of a key after the prefix: inverted time and message id.
pub(crate) fn suffix(accepted_at: Timestamp, id: &MessageId) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let inverted = u64::MAX - accepted_at.millis();
    let mut out = String::with_capacity(16 + 1 + 36);
    for shift in (0..16).rev() {
        out.push(HEX[((inverted >> (shift * 4)) & 15) as usize] as char);
    }
    out.push('-');
    let mut buf = uuid::Uuid::encode_buffer();
    out.push_str(id.as_uuid().hyphenated().encode_lower(&mut buf));
    out
}

/// The message id in a key suffix.
pub(crate) fn id_of(suffix: &str) -> Option<MessageId> {
    parse(suffix).map(|(id, _)| id)
}

/// The message id and acceptance time in a key suffix.
pub(crate) fn parse(suffix: &str) -> Option<(MessageId, Timestamp)> {
    let inverted = u64::from_str_radix(suffix.get(..16)?, 16).ok()?;
    if suffix.as_bytes().get(16) != Some(&b'-') {
        return None;
    }
    let id = MessageId::parse(suffix.get(17..)?).ok()?;
    Some((id, Timestamp(u64::MAX - inverted)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentgate_store::validate_name;

    #[test]
    fn newer_sorts_first_and_ids_round_trip() {
        let id = MessageId::v7(Timestamp(10), [1; 10]);
        let a = suffix(Timestamp(1000), &id);
        let b = suffix(Timestamp(2000), &id);
        assert!(b < a);
        assert_eq!(id_of(&a), Some(id));
        assert_eq!(parse(&a), Some((id, Timestamp(1000))));
        assert_eq!(parse("zz"), None);
        let key = format!("{}{a}", prefix(&Address::parse("x.y@z.com").unwrap()));
        assert!(validate_name(&key).is_ok(), "{key}");
        assert!(Role::Sent.matches(SENT) && !Role::Sent.matches(RECEIVED));
        assert!(Role::All.matches(SENT | RECEIVED));
        assert_eq!(Role::parse("x"), None);
    }
}
