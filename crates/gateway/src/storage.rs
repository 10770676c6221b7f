//! How the gateway's services use the storage ports: bucket and queue names in one
//! place, the error services report when the store fails, and `TimedStore`, which
//! measures every call for the store latency metric.
//!
//! | name | kind | key / queue | holds | TTL |
//! |---|---|---|---|---|
//! | `agents` | KV | escaped agent name | [`agentgate_core::Agent`] JSON | – |
//! | `agent_keys` | KV | hex SHA-256 of an API key | agent name | – |
//! | `messages` | KV | message id | message record (envelope + acceptance outcome) | `message.dedup_window` |
//! | `idempotency` | KV | escaped sender `.` escaped key | message id | `message.dedup_window` |
//! | `delivery` | KV | message id `.` escaped recipient | recipient delivery status | `message.dedup_window` |
//! | `message_index` | KV | escaped address `.` inverted time `-` id | sent/received flags | `message.dedup_window` |
//! | `inbox.<escaped address>` | queue | message id | envelope JSON | – |
//! | `push` | queue | id derived from (message, recipient) | push job | – |
//! | `outbox` | queue | id derived from (message, remote domain) | federation delivery job | – |
//! | `workflows` | KV | workflow id (= the coordinating message's id) | workflow state | `message.dedup_window` |
//! | `workflow_timers` | queue | workflow id | due when the workflow must be looked at (deadline, or a periodic resume) | – |
//! | `federation_nonces` | KV | escaped keyid `.` escaped nonce | seen signature nonces | twice `federation.signature_max_age` |
//! | `schemas` | KV | escaped schema id | registered JSON Schema `{id, definition, published_at, updated_at}` | – |

use std::sync::Arc;
use std::time::Instant;

use agentgate_core::Address;
use agentgate_store::{
    AppendOutcome, BucketConfig, EnqueueOutcome, EventStore, ExpectedVersion, KvEntry, KvStore,
    MailboxStore, NewEvent, NewItem, QueueItem, QueueStats, RecordedEvent, Snapshot, Store,
    StoreError, Write, Written, escape_token_into,
};
use async_trait::async_trait;
use bytes::Bytes;
use uuid::Uuid;

use crate::metrics::{Metrics, StoreOp};

/// Registered agents.
pub(crate) const AGENTS: &str = "agents";
/// API key hash → agent name.
pub(crate) const AGENT_KEYS: &str = "agent_keys";
/// Message records.
pub(crate) const MESSAGES: &str = "messages";
/// (sender, idempotency key) → message id.
pub(crate) const IDEMPOTENCY: &str = "idempotency";
/// Per-recipient delivery status.
pub(crate) const DELIVERY: &str = "delivery";
/// Per-agent sent/received index.
pub(crate) const MESSAGE_INDEX: &str = "message_index";
/// The queue of pending pushes.
pub(crate) const PUSH_QUEUE: &str = "push";
/// The queue of pending deliveries to other domains.
pub(crate) const OUTBOX_QUEUE: &str = "outbox";
/// Workflow states.
pub(crate) const WORKFLOWS: &str = "workflows";
/// Workflow timers.
pub(crate) const WORKFLOW_TIMERS: &str = "workflow_timers";
/// Signature nonces of inbound federation deliveries, for replay protection.
pub(crate) const FEDERATION_NONCES: &str = "federation_nonces";
/// Registered JSON Schemas.
pub(crate) const SCHEMAS: &str = "schemas";

/// The pull inbox queue of `address`.
pub(crate) fn inbox_queue(address: &Address) -> String {
    let mut queue = String::with_capacity(6 + address.as_str().len() + 12);
    queue.push_str("inbox.");
    escape_token_into(address.as_str(), &mut queue);
    queue
}

/// The bucket declarations, with `retention_ms` for the message buckets and
/// `nonce_ttl_ms` for the federation nonces.
pub(crate) fn buckets(retention_ms: u64, nonce_ttl_ms: u64) -> Vec<BucketConfig> {
    let b = |name: &str, ttl_ms| BucketConfig {
        name: name.to_string(),
        ttl_ms,
    };
    vec![
        b(AGENTS, None),
        b(AGENT_KEYS, None),
        b(MESSAGES, Some(retention_ms)),
        b(IDEMPOTENCY, Some(retention_ms)),
        b(DELIVERY, Some(retention_ms)),
        b(MESSAGE_INDEX, Some(retention_ms)),
        b(WORKFLOWS, Some(retention_ms)),
        b(FEDERATION_NONCES, Some(nonce_ttl_ms)),
        b(SCHEMAS, None),
    ]
}

/// The store failed to do something a service needed. Reported to clients as 503 when
/// the store is unavailable or closed, 500 otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StorageFailure(pub StoreError);

impl StorageFailure {
    /// Whether retrying later may help (the store is down or shutting down), as opposed
    /// to a fault in data or code.
    pub fn is_unavailable(&self) -> bool {
        // `StoreError` is non-exhaustive: anything not known to be transient is a fault.
        matches!(self.0, StoreError::Unavailable(_) | StoreError::Closed)
    }
}

impl From<StoreError> for StorageFailure {
    fn from(e: StoreError) -> Self {
        StorageFailure(e)
    }
}

/// A [`Store`] that records the latency of every call in [`Metrics`].
pub(crate) struct TimedStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl TimedStore {
    pub(crate) fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> TimedStore {
        TimedStore { inner, metrics }
    }

    async fn timed<T>(&self, op: StoreOp, f: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let out = f.await;
        self.metrics.store_op(op, start.elapsed());
        out
    }
}

type R<T> = agentgate_store::Result<T>;

#[async_trait]
impl KvStore for TimedStore {
    async fn ensure_bucket(&self, config: &BucketConfig) -> R<()> {
        self.timed(StoreOp::Other, self.inner.ensure_bucket(config))
            .await
    }
    async fn get(&self, bucket: &str, key: &str) -> R<Option<KvEntry>> {
        self.timed(StoreOp::KvGet, KvStore::get(&*self.inner, bucket, key))
            .await
    }
    async fn get_many(&self, bucket: &str, keys: &[String]) -> R<Vec<Option<KvEntry>>> {
        self.timed(StoreOp::KvGet, self.inner.get_many(bucket, keys))
            .await
    }
    async fn put(&self, bucket: &str, key: &str, value: Bytes) -> R<u64> {
        self.timed(StoreOp::KvWrite, self.inner.put(bucket, key, value))
            .await
    }
    async fn create(&self, bucket: &str, key: &str, value: Bytes) -> R<u64> {
        self.timed(StoreOp::KvWrite, self.inner.create(bucket, key, value))
            .await
    }
    async fn update(&self, bucket: &str, key: &str, value: Bytes, expected: u64) -> R<u64> {
        self.timed(
            StoreOp::KvWrite,
            self.inner.update(bucket, key, value, expected),
        )
        .await
    }
    async fn delete(&self, bucket: &str, key: &str, expected: Option<u64>) -> R<bool> {
        self.timed(StoreOp::KvWrite, self.inner.delete(bucket, key, expected))
            .await
    }
    async fn scan(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> R<Vec<KvEntry>> {
        self.timed(
            StoreOp::KvScan,
            self.inner.scan(bucket, prefix, after, limit),
        )
        .await
    }
}

#[async_trait]
impl EventStore for TimedStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> R<AppendOutcome> {
        self.timed(StoreOp::Other, self.inner.append(stream, expected, events))
            .await
    }
    async fn read(&self, stream: &str, from_version: u64, limit: usize) -> R<Vec<RecordedEvent>> {
        self.timed(StoreOp::Other, self.inner.read(stream, from_version, limit))
            .await
    }
    async fn version(&self, stream: &str) -> R<u64> {
        self.timed(StoreOp::Other, self.inner.version(stream)).await
    }
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> R<()> {
        self.timed(StoreOp::Other, self.inner.save_snapshot(stream, snapshot))
            .await
    }
    async fn load_snapshot(&self, stream: &str) -> R<Option<Snapshot>> {
        self.timed(StoreOp::Other, self.inner.load_snapshot(stream))
            .await
    }
}

#[async_trait]
impl MailboxStore for TimedStore {
    async fn enqueue(&self, items: Vec<NewItem>) -> R<Vec<EnqueueOutcome>> {
        self.timed(StoreOp::Enqueue, self.inner.enqueue(items))
            .await
    }
    async fn lease(&self, queue: &str, max: usize, lease_ms: u64) -> R<Vec<QueueItem>> {
        self.timed(StoreOp::Lease, self.inner.lease(queue, max, lease_ms))
            .await
    }
    async fn ack(&self, queue: &str, id: Uuid) -> R<bool> {
        self.timed(StoreOp::QueueWrite, self.inner.ack(queue, id))
            .await
    }
    async fn nack(&self, queue: &str, id: Uuid, delay_ms: u64, error: Option<String>) -> R<bool> {
        self.timed(
            StoreOp::QueueWrite,
            self.inner.nack(queue, id, delay_ms, error),
        )
        .await
    }
    async fn dead_letter(&self, queue: &str, id: Uuid, reason: String) -> R<bool> {
        self.timed(
            StoreOp::QueueWrite,
            self.inner.dead_letter(queue, id, reason),
        )
        .await
    }
    async fn list(&self, queue: &str, after_seq: Option<u64>, limit: usize) -> R<Vec<QueueItem>> {
        self.timed(StoreOp::QueueRead, self.inner.list(queue, after_seq, limit))
            .await
    }
    async fn get(&self, queue: &str, id: Uuid) -> R<Option<QueueItem>> {
        self.timed(
            StoreOp::QueueRead,
            MailboxStore::get(&*self.inner, queue, id),
        )
        .await
    }
    async fn stats(&self, queue: &str) -> R<QueueStats> {
        self.timed(StoreOp::QueueRead, self.inner.stats(queue))
            .await
    }
    async fn purge(&self, queue: &str) -> R<u64> {
        self.timed(StoreOp::QueueWrite, self.inner.purge(queue))
            .await
    }
}

#[async_trait]
impl Store for TimedStore {
    async fn check(&self) -> R<()> {
        self.timed(StoreOp::Other, self.inner.check()).await
    }
    async fn close(&self) -> R<()> {
        self.timed(StoreOp::Other, self.inner.close()).await
    }
    async fn write_many(&self, writes: Vec<Write>) -> R<Vec<R<Written>>> {
        self.timed(StoreOp::WriteMany, self.inner.write_many(writes))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentgate_store::validate_name;

    #[test]
    fn names_are_valid() {
        let a = Address::parse("Bot.One+x@example.com").unwrap();
        assert!(validate_name(&inbox_queue(&a)).is_ok());
        for b in buckets(1000, 1000) {
            assert!(validate_name(&b.name).is_ok());
        }
        for q in [PUSH_QUEUE, OUTBOX_QUEUE, WORKFLOW_TIMERS] {
            assert!(validate_name(q).is_ok());
        }
    }
}
