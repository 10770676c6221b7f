//! Per-recipient delivery status records.
//!
//! A message record is written once, at acceptance, and carries each recipient's
//! initial outcome. What happens afterwards (push attempts, acknowledgement) is kept
//! here, one small record per (message, recipient) in the `delivery` bucket, so that
//! updates neither rewrite the envelope nor contend with other recipients' updates.
//! A recipient with no record here is still in its initial state.
//!
//! Updates are compare-and-set and obey [`DeliveryStatus::can_become`], so a late event
//! never moves a status backwards.

use std::collections::HashMap;
use std::sync::Arc;

use agentgate_core::{Address, DeliveryStatus, MessageId, Timestamp};
use agentgate_store::{KvStore, Store, StoreError, Write, escape_token_into, unescape_token};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::storage::{DELIVERY, StorageFailure};

/// What happened to one recipient's copy after acceptance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecipientRecord {
    /// Current status.
    pub status: DeliveryStatus,
    /// Push attempts made.
    #[serde(default)]
    pub attempts: u32,
    /// The last push error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the next push attempt is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<Timestamp>,
    /// When a push succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    /// When this record last changed.
    pub updated_at: Timestamp,
}

/// A recipient record as read, with the revision a write based on it must match.
#[derive(Clone, Debug, Default)]
pub(crate) struct Read {
    /// The record (`None`: still in its initial state).
    pub record: Option<RecipientRecord>,
    revision: Option<u64>,
}

/// Most compare-and-set rounds before an update gives up.
const MAX_CAS_ROUNDS: usize = 8;

/// Reads and updates recipient records.
pub(crate) struct StatusBook {
    store: Arc<dyn Store>,
}

fn key(id: &MessageId, recipient: &Address) -> String {
    let mut buf = uuid::Uuid::encode_buffer();
    let id = id.as_uuid().hyphenated().encode_lower(&mut buf);
    let mut key = String::with_capacity(id.len() + 1 + recipient.as_str().len() + 12);
    key.push_str(id);
    key.push('.');
    escape_token_into(recipient.as_str(), &mut key);
    key
}

impl StatusBook {
    pub(crate) fn new(store: Arc<dyn Store>) -> StatusBook {
        StatusBook { store }
    }

    /// Every recipient record of a message, by recipient address text.
    pub(crate) async fn all(
        &self,
        id: &MessageId,
    ) -> Result<HashMap<String, RecipientRecord>, StorageFailure> {
        let prefix = format!("{id}.");
        let mut out = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .scan(DELIVERY, &prefix, after.as_deref(), 1000)
                .await?;
            let done = page.len() < 1000;
            for e in &page {
                let Some(addr) = e.key.strip_prefix(&prefix).and_then(unescape_token) else {
                    continue;
                };
                let rec: RecipientRecord = serde_json::from_slice(&e.value).map_err(|err| {
                    StoreError::Corrupt(format!("delivery record {}: {err}", e.key))
                })?;
                out.insert(addr, rec);
            }
            after = page.last().map(|e| e.key.clone());
            if done {
                return Ok(out);
            }
        }
    }

    /// One recipient's record, if it has moved past its initial state.
    pub(crate) async fn get(
        &self,
        id: &MessageId,
        recipient: &Address,
    ) -> Result<Option<RecipientRecord>, StorageFailure> {
        let Some(e) = KvStore::get(&*self.store, DELIVERY, &key(id, recipient)).await? else {
            return Ok(None);
        };
        let rec = serde_json::from_slice(&e.value)
            .map_err(|err| StoreError::Corrupt(format!("delivery record {}: {err}", e.key)))?;
        Ok(Some(rec))
    }

    /// The records of several (message, recipient) pairs, in order, read together.
    pub(crate) async fn get_many(
        &self,
        pairs: &[(&MessageId, &Address)],
    ) -> Result<Vec<Read>, StorageFailure> {
        let keys: Vec<String> = pairs.iter().map(|(id, r)| key(id, r)).collect();
        let entries = self.store.get_many(DELIVERY, &keys).await?;
        entries
            .into_iter()
            .map(|e| {
                let Some(e) = e else {
                    return Ok(Read::default());
                };
                let record = serde_json::from_slice(&e.value).map_err(|err| {
                    StoreError::Corrupt(format!("delivery record {}: {err}", e.key))
                })?;
                Ok(Read {
                    record: Some(record),
                    revision: Some(e.revision),
                })
            })
            .collect()
    }

    /// The write that moves a recipient from `read` to `next`, for a `write_many`; `None`
    /// when the current status may not become the new one. The write fails with a
    /// conflict if the record changed since it was read: then use
    /// [`StatusBook::transition`].
    pub(crate) fn write_from(
        id: &MessageId,
        recipient: &Address,
        read: &Read,
        next: &RecipientRecord,
    ) -> Option<Write> {
        if let Some(cur) = &read.record
            && !cur.status.can_become(next.status)
        {
            return None;
        }
        let (bucket, key) = (DELIVERY.to_owned(), key(id, recipient));
        let value = Bytes::from(serde_json::to_vec(next).expect("record serialises"));
        Some(match read.revision {
            Some(expected) => Write::Update {
                bucket,
                key,
                value,
                expected,
            },
            None => Write::Create { bucket, key, value },
        })
    }

    /// Moves a recipient to the record `next` computes from the current one (`None` when
    /// still initial). Returns `false`, writing nothing, when the current status may not
    /// become the new one.
    pub(crate) async fn transition(
        &self,
        id: &MessageId,
        recipient: &Address,
        next: impl Fn(Option<&RecipientRecord>) -> RecipientRecord,
    ) -> Result<bool, StorageFailure> {
        let k = key(id, recipient);
        for _ in 0..MAX_CAS_ROUNDS {
            let current = KvStore::get(&*self.store, DELIVERY, &k).await?;
            let parsed: Option<RecipientRecord> =
                match &current {
                    Some(e) => Some(serde_json::from_slice(&e.value).map_err(|err| {
                        StoreError::Corrupt(format!("delivery record {k}: {err}"))
                    })?),
                    None => None,
                };
            let new = next(parsed.as_ref());
            if let Some(cur) = &parsed
                && !cur.status.can_become(new.status)
            {
                return Ok(false);
            }
            let value = Bytes::from(serde_json::to_vec(&new).expect("record serialises"));
            let written = match &current {
                Some(e) => self.store.update(DELIVERY, &k, value, e.revision).await,
                None => self.store.create(DELIVERY, &k, value).await,
            };
            match written {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict { .. } | StoreError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StorageFailure(StoreError::Unavailable(format!(
            "delivery record {k}: too many concurrent updates"
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentgate_store::{BucketConfig, Written};
    use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};

    fn record(status: DeliveryStatus) -> RecipientRecord {
        RecipientRecord {
            status,
            attempts: 1,
            last_error: None,
            next_retry: None,
            delivered_at: None,
            updated_at: Timestamp(1),
        }
    }

    #[tokio::test]
    async fn writes_from_a_read_create_update_or_refuse_as_the_status_allows() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let bucket = BucketConfig {
            name: DELIVERY.into(),
            ttl_ms: None,
        };
        store.ensure_bucket(&bucket).await.unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let book = StatusBook::new(store.clone());
        let id = MessageId::v7(Timestamp(5), [1; 10]);
        let (bob, carol) = (
            Address::parse("bob@b.test").unwrap(),
            Address::parse("carol@b.test").unwrap(),
        );
        book.transition(&id, &carol, |_| record(DeliveryStatus::Retrying))
            .await
            .unwrap();
        let reads = book.get_many(&[(&id, &bob), (&id, &carol)]).await.unwrap();
        assert!(reads[0].record.is_none());
        assert_eq!(
            reads[1].record.as_ref().unwrap().status,
            DeliveryStatus::Retrying
        );

        // Never written: a create. Written: an update at the revision read.
        let delivered = record(DeliveryStatus::Delivered);
        let create = StatusBook::write_from(&id, &bob, &reads[0], &delivered).unwrap();
        assert!(matches!(create, Write::Create { .. }), "{create:?}");
        let update = StatusBook::write_from(&id, &carol, &reads[1], &delivered).unwrap();
        assert!(matches!(update, Write::Update { .. }), "{update:?}");
        let results = store
            .write_many(vec![create, update.clone()])
            .await
            .unwrap();
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(Written::Revision(_)))),
            "{results:?}"
        );
        // The same update again is stale: a conflict, for `transition` to resolve.
        let again = store.write_many(vec![update]).await.unwrap();
        assert!(
            matches!(again[0], Err(StoreError::Conflict { .. })),
            "{again:?}"
        );

        // A delivered recipient does not go back to retrying.
        let reads = book.get_many(&[(&id, &bob)]).await.unwrap();
        let retrying = record(DeliveryStatus::Retrying);
        assert!(StatusBook::write_from(&id, &bob, &reads[0], &retrying).is_none());
        assert_eq!(
            book.get(&id, &bob).await.unwrap().unwrap().status,
            DeliveryStatus::Delivered
        );
    }
}
