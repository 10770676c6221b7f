//! Key and value encodings.
//!
//! Every key starts with a validated name (bucket, stream or queue) followed by a NUL
//! byte. Names never contain NUL or `\x01`, so `name\0…` keys of one name form one
//! contiguous range, `[name\0, name\x01)`, that no other name's keys fall into. Integers
//! are big-endian so byte order is numeric order.

use agentgate_store::{ItemState, Result, StoreError};
use uuid::Uuid;

/// `name\0`: the start of a name's key range.
pub(crate) fn prefix(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 32);
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k
}

/// `name\x01`: the exclusive end of a name's key range.
pub(crate) fn prefix_end(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 1);
    k.extend_from_slice(name.as_bytes());
    k.push(1);
    k
}

/// `name\0` followed by big-endian `u64`s.
pub(crate) fn key_u64s(name: &str, parts: &[u64]) -> Vec<u8> {
    let mut k = prefix(name);
    for p in parts {
        k.extend_from_slice(&p.to_be_bytes());
    }
    k
}

/// `name\0` followed by the id's 16 bytes.
pub(crate) fn key_id(name: &str, id: Uuid) -> Vec<u8> {
    let mut k = prefix(name);
    k.extend_from_slice(id.as_bytes());
    k
}

/// `name\0` followed by raw bytes.
pub(crate) fn key_bytes(name: &str, rest: &[u8]) -> Vec<u8> {
    let mut k = prefix(name);
    k.extend_from_slice(rest);
    k
}

/// Reads a big-endian `u64` at `at`.
pub(crate) fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| corrupt("short u64"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| corrupt("short u32"))
}

fn uuid_at(b: &[u8], at: usize) -> Result<Uuid> {
    b.get(at..at + 16)
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
        .map(Uuid::from_bytes)
        .ok_or_else(|| corrupt("short id"))
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The trailing `u64` of a key (a sequence number or version).
pub(crate) fn key_tail_u64(key: &[u8]) -> Result<u64> {
    if key.len() < 8 {
        return Err(corrupt("short key"));
    }
    u64_at(key, key.len() - 8)
}

// ---------------------------------------------------------------------------------------
// Key/value

/// Stored per bucket in the meta keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BucketRec {
    pub ttl_ms: Option<u64>,
    pub revision: u64,
}

impl BucketRec {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(17);
        v.push(u8::from(self.ttl_ms.is_some()));
        v.extend_from_slice(&self.ttl_ms.unwrap_or(0).to_be_bytes());
        v.extend_from_slice(&self.revision.to_be_bytes());
        v
    }
    pub fn decode(b: &[u8]) -> Result<Self> {
        let has_ttl = *b.first().ok_or_else(|| corrupt("empty bucket record"))? != 0;
        let ttl = u64_at(b, 1)?;
        Ok(BucketRec {
            ttl_ms: has_ttl.then_some(ttl),
            revision: u64_at(b, 9)?,
        })
    }
}

/// A KV value: revision, written-at, value bytes.
pub(crate) fn encode_kv(revision: u64, written_at: u64, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + value.len());
    v.extend_from_slice(&revision.to_be_bytes());
    v.extend_from_slice(&written_at.to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// `(revision, written_at, value)`.
pub(crate) fn decode_kv(b: &[u8]) -> Result<(u64, u64, &[u8])> {
    Ok((
        u64_at(b, 0)?,
        u64_at(b, 8)?,
        b.get(16..).ok_or_else(|| corrupt("kv"))?,
    ))
}

/// Whether an entry written at `written_at` is past its bucket's TTL at `now`.
pub(crate) fn expired(now: u64, written_at: u64, ttl_ms: Option<u64>) -> bool {
    ttl_ms.is_some_and(|ttl| now.saturating_sub(written_at) >= ttl)
}

// ---------------------------------------------------------------------------------------
// Events

/// An event value: id, recorded-at, kind length, kind, data.
pub(crate) fn encode_event(id: Uuid, recorded_at: u64, kind: &str, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(28 + kind.len() + data.len());
    v.extend_from_slice(id.as_bytes());
    v.extend_from_slice(&recorded_at.to_be_bytes());
    v.extend_from_slice(&(kind.len() as u32).to_be_bytes());
    v.extend_from_slice(kind.as_bytes());
    v.extend_from_slice(data);
    v
}

/// `(id, recorded_at, kind, data)`.
pub(crate) fn decode_event(b: &[u8]) -> Result<(Uuid, u64, String, &[u8])> {
    let id = uuid_at(b, 0)?;
    let at = u64_at(b, 16)?;
    let kind_len = u32_at(b, 24)? as usize;
    let kind = b
        .get(28..28 + kind_len)
        .and_then(|k| std::str::from_utf8(k).ok())
        .ok_or_else(|| corrupt("event kind"))?;
    let data = b
        .get(28 + kind_len..)
        .ok_or_else(|| corrupt("event data"))?;
    Ok((id, at, kind.to_string(), data))
}

// ---------------------------------------------------------------------------------------
// Queues

/// Where an item's lease-index entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// In the ready index (by seq).
    Ready = 0,
    /// In the waiting index (by available-at), not leased.
    Delayed = 1,
    /// In the waiting index (by available-at), leased until `available_at`.
    Leased = 2,
    /// In no index: dead-lettered.
    Dead = 3,
}

impl Slot {
    fn from_u8(b: u8) -> Result<Self> {
        Ok(match b {
            0 => Slot::Ready,
            1 => Slot::Delayed,
            2 => Slot::Leased,
            3 => Slot::Dead,
            _ => return Err(corrupt("item slot")),
        })
    }
}

/// Waiting-index value: whether the entry is a lease (else a delay).
pub(crate) const WAIT_DELAYED: u8 = 0;
/// Waiting-index value for a lease.
pub(crate) const WAIT_LEASED: u8 = 1;

/// An item's metadata (its payload is stored separately so that leases and nacks do not
/// rewrite it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemMeta {
    pub id: Uuid,
    pub enqueued_at: u64,
    pub attempts: u32,
    pub slot: Slot,
    pub available_at: u64,
    pub last_error: Option<String>,
}

impl ItemMeta {
    pub fn encode(&self) -> Vec<u8> {
        let err = self.last_error.as_deref();
        let mut v = Vec::with_capacity(38 + err.map_or(0, str::len));
        v.extend_from_slice(self.id.as_bytes());
        v.extend_from_slice(&self.enqueued_at.to_be_bytes());
        v.extend_from_slice(&self.attempts.to_be_bytes());
        v.push(self.slot as u8);
        v.extend_from_slice(&self.available_at.to_be_bytes());
        v.push(u8::from(err.is_some()));
        if let Some(e) = err {
            v.extend_from_slice(e.as_bytes());
        }
        v
    }

    pub fn decode(b: &[u8]) -> Result<Self> {
        let slot = Slot::from_u8(*b.get(28).ok_or_else(|| corrupt("item meta"))?)?;
        let has_err = *b.get(37).ok_or_else(|| corrupt("item meta"))? != 0;
        let last_error = if has_err {
            let e = b.get(38..).ok_or_else(|| corrupt("item error"))?;
            Some(String::from_utf8(e.to_vec()).map_err(|_| corrupt("item error"))?)
        } else {
            None
        };
        Ok(ItemMeta {
            id: uuid_at(b, 0)?,
            enqueued_at: u64_at(b, 16)?,
            attempts: u32_at(b, 24)?,
            slot,
            available_at: u64_at(b, 29)?,
            last_error,
        })
    }

    /// The state at `now`.
    pub fn state(&self, now: u64) -> ItemState {
        match self.slot {
            Slot::Dead => ItemState::Dead,
            _ if self.available_at <= now => ItemState::Ready,
            Slot::Leased => ItemState::Leased,
            _ => ItemState::Delayed,
        }
    }
}

/// Per-queue counters: items not dead, items dead.
pub(crate) fn encode_counts(live: u64, dead: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&live.to_be_bytes());
    v.extend_from_slice(&dead.to_be_bytes());
    v
}

/// `(live, dead)`.
pub(crate) fn decode_counts(b: &[u8]) -> Result<(u64, u64)> {
    Ok((u64_at(b, 0)?, u64_at(b, 8)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips() {
        for err in [None, Some("boom".to_string()), Some(String::new())] {
            let m = ItemMeta {
                id: Uuid::new_v4(),
                enqueued_at: 7,
                attempts: 3,
                slot: Slot::Leased,
                available_at: 99,
                last_error: err,
            };
            assert_eq!(ItemMeta::decode(&m.encode()).unwrap(), m);
        }
        let b = BucketRec {
            ttl_ms: Some(5),
            revision: 9,
        };
        assert_eq!(BucketRec::decode(&b.encode()).unwrap(), b);
        let id = Uuid::new_v4();
        let e = encode_event(id, 5, "kind", b"data");
        let (i, at, k, d) = decode_event(&e).unwrap();
        assert_eq!((i, at, k.as_str(), d), (id, 5, "kind", &b"data"[..]));
    }

    #[test]
    fn name_ranges_do_not_overlap() {
        // "a" and "a.b": every key of "a.b" is outside [a\0, a\x01).
        let k = key_u64s("a.b", &[0]);
        assert!(k >= prefix("a") && k >= prefix_end("a"));
        assert!(key_u64s("a", &[u64::MAX]) < prefix_end("a"));
    }
}
