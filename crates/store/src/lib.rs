//! agentgate storage ports.
//!
//! Three ports, at the level the services need, each shaped so that NATS JetStream can
//! implement it directly and the embedded backend implements the same semantics:
//!
//! - [`KvStore`]: key/value buckets with revisions and compare-and-set (JetStream KV).
//! - [`EventStore`]: aggregate event streams with optimistic concurrency, de-duplication
//!   by event id, replay and snapshots (a JetStream stream, one subject per aggregate,
//!   `Nats-Expected-Last-Subject-Sequence` and `Nats-Msg-Id`).
//! - [`MailboxStore`]: durable queues with enqueue, lease, acknowledge, redeliver with
//!   delay, dead-letter and list (a stream with one subject per queue and pull consumers
//!   with `AckWait`, `NakWithDelay` and `MaxDeliver`).
//!
//! **Durability contract:** every mutating call returns `Ok` only once its effect is
//! durable (fsync'd on the embedded backend, replicated on JetStream). Backends batch
//! concurrent calls into one commit (group commit), so callers should issue independent
//! writes concurrently rather than one after another, or together in one
//! [`Store::write_many`] call.
//!
//! **Names:** bucket names, keys, stream names and queue names are made of tokens of
//! `[A-Za-z0-9_=-]` separated by single dots (JetStream's subject rules). Use
//! [`escape_token`] to put arbitrary text (an address, say) into one token.
//!
//! The conformance suite in [`conformance`] (feature `testkit`) states these semantics
//! as tests; every backend runs it.
#![deny(missing_docs)]

use async_trait::async_trait;
use bytes::Bytes;
use uuid::Uuid;

#[cfg(feature = "testkit")]
pub mod conformance;
mod names;

pub use names::{escape_token, escape_token_into, unescape_token, validate_name};

/// Result of a storage call.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A storage failure. Conditions a caller must handle (a lost race, a missing item)
/// have their own variants; infrastructure failures are [`StoreError::Unavailable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A compare-and-set or expected-version check failed.
    #[error("conflict: expected revision {expected}, found {actual}")]
    Conflict {
        /// The revision or version the caller expected.
        expected: u64,
        /// The one found (0 when absent).
        actual: u64,
    },
    /// `create` found the key already present.
    #[error("key already exists (revision {0})")]
    AlreadyExists(u64),
    /// A name, key or size is not acceptable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The backend could not do the work (I/O error, unreachable cluster).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store was closed.
    #[error("store is closed")]
    Closed,
}

// ---------------------------------------------------------------------------------------
// Key/value

/// How a bucket behaves. Declared once with [`KvStore::ensure_bucket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketConfig {
    /// Bucket name (one token).
    pub name: String,
    /// Entries older than this (since their last write) are invisible and purged.
    pub ttl_ms: Option<u64>,
}

/// One key's current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Bytes,
    /// Revision of the last write; increases with every write to the bucket.
    pub revision: u64,
    /// When the value was written, ms since the epoch.
    pub written_at_ms: u64,
}

/// Key/value buckets with compare-and-set.
#[async_trait]
pub trait KvStore: Send + Sync {
    /// Creates the bucket if it does not exist (idempotent; a changed TTL is applied).
    async fn ensure_bucket(&self, config: &BucketConfig) -> Result<()>;
    /// The current entry, or `None` if absent, deleted or expired.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<KvEntry>>;
    /// The current entries of `keys`, in order, as [`KvStore::get`] would give each, read
    /// together (one snapshot where the backend has them). Fails as a whole if any key
    /// is not a valid name.
    ///
    /// The default runs the single calls concurrently.
    async fn get_many(&self, bucket: &str, keys: &[String]) -> Result<Vec<Option<KvEntry>>> {
        futures::future::join_all(keys.iter().map(|k| self.get(bucket, k)))
            .await
            .into_iter()
            .collect()
    }
    /// Writes unconditionally; returns the new revision.
    async fn put(&self, bucket: &str, key: &str, value: Bytes) -> Result<u64>;
    /// Writes only if the key is absent (or expired); else [`StoreError::AlreadyExists`].
    async fn create(&self, bucket: &str, key: &str, value: Bytes) -> Result<u64>;
    /// Writes only if the key's revision is `expected`; else [`StoreError::Conflict`].
    async fn update(&self, bucket: &str, key: &str, value: Bytes, expected: u64) -> Result<u64>;
    /// Deletes the key; with `expected`, only at that revision. Returns whether it existed.
    async fn delete(&self, bucket: &str, key: &str, expected: Option<u64>) -> Result<bool>;
    /// Live entries whose key starts with `prefix`, in key order, starting after `after`.
    async fn scan(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<KvEntry>>;
}

// ---------------------------------------------------------------------------------------
// Event streams

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// De-duplication id: appending an id the stream already holds is a no-op.
    pub id: Uuid,
    /// Event type name.
    pub kind: String,
    /// Encoded event.
    pub data: Bytes,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Stream (aggregate) name.
    pub stream: String,
    /// Position in the stream, from 1.
    pub version: u64,
    /// The event's id.
    pub id: Uuid,
    /// Event type name.
    pub kind: String,
    /// Encoded event.
    pub data: Bytes,
    /// When it was appended, ms since the epoch.
    pub recorded_at_ms: u64,
}

/// The optimistic-concurrency condition of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must be empty (version 0).
    NoStream,
    /// The stream's last version must be exactly this.
    Exact(u64),
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The stream's version after the append.
    pub version: u64,
    /// How many of the events were already present (by id) and so not appended again.
    pub duplicates: usize,
}

/// A saved aggregate state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream version the state reflects.
    pub version: u64,
    /// Encoded state.
    pub state: Bytes,
}

/// Aggregate event streams.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends events atomically. Events whose id the stream already holds are skipped;
    /// when every event is such a duplicate the call succeeds without checking
    /// `expected` (a retried append is not a conflict). Otherwise a failed `expected`
    /// check appends nothing and returns [`StoreError::Conflict`].
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome>;
    /// Up to `limit` events with version ≥ `from_version`, in order.
    async fn read(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;
    /// The stream's last version (0 when empty).
    async fn version(&self, stream: &str) -> Result<u64>;
    /// Saves a snapshot; a later [`load_snapshot`](EventStore::load_snapshot) returns
    /// the one with the highest version.
    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<()>;
    /// The latest snapshot, if any.
    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>>;
}

// ---------------------------------------------------------------------------------------
// Mailbox queues

/// An item to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// Queue name.
    pub queue: String,
    /// De-duplication id within the queue.
    pub id: Uuid,
    /// Encoded item.
    pub payload: Bytes,
    /// Not leasable before this time (ms since the epoch); `None` for at once.
    pub not_before_ms: Option<u64>,
}

/// The state of a queued item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemState {
    /// Leasable now.
    Ready,
    /// Leasable later (`available_at_ms` is in the future).
    Delayed,
    /// Leased; becomes leasable again when the lease runs out.
    Leased,
    /// Dead-lettered: listed, never leased again, removed only by ack.
    Dead,
}

/// A queued item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    /// Queue name.
    pub queue: String,
    /// The item's id.
    pub id: Uuid,
    /// Order of arrival; increases across the whole store.
    pub seq: u64,
    /// Encoded item.
    pub payload: Bytes,
    /// When it was enqueued, ms since the epoch.
    pub enqueued_at_ms: u64,
    /// Leases taken so far.
    pub attempts: u32,
    /// State at the time of the call.
    pub state: ItemState,
    /// When it is (or was) next leasable, or when its lease ends.
    pub available_at_ms: u64,
    /// Error recorded by the last nack or dead-letter.
    pub last_error: Option<String>,
}

/// What enqueueing one item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// Stored, with this sequence number.
    Enqueued(u64),
    /// An item with this id was already in the queue (with this sequence number).
    Duplicate(u64),
}

/// Counts of a queue's items by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Leasable now.
    pub ready: u64,
    /// Waiting for their time.
    pub delayed: u64,
    /// Leased.
    pub leased: u64,
    /// Dead-lettered.
    pub dead: u64,
}

impl QueueStats {
    /// All items in the queue.
    pub fn total(&self) -> u64 {
        self.ready + self.delayed + self.leased + self.dead
    }
}

/// Durable queues.
#[async_trait]
pub trait MailboxStore: Send + Sync {
    /// Enqueues items, possibly into several queues, all or nothing. An item whose id
    /// is already present in its queue (in any state) is not stored again.
    async fn enqueue(&self, items: Vec<NewItem>) -> Result<Vec<EnqueueOutcome>>;
    /// Leases up to `max` leasable items of `queue`, oldest first, each for `lease_ms`.
    /// Each lease increments the item's `attempts`. A lease that runs out without
    /// ack or nack makes the item leasable again (redelivery).
    async fn lease(&self, queue: &str, max: usize, lease_ms: u64) -> Result<Vec<QueueItem>>;
    /// Removes the item (any state). Returns whether it was present.
    async fn ack(&self, queue: &str, id: Uuid) -> Result<bool>;
    /// Ends a lease early; the item becomes leasable after `delay_ms`, with `error`
    /// recorded. Returns whether the item was present.
    async fn nack(
        &self,
        queue: &str,
        id: Uuid,
        delay_ms: u64,
        error: Option<String>,
    ) -> Result<bool>;
    /// Marks the item dead with `reason`. Returns whether it was present.
    async fn dead_letter(&self, queue: &str, id: Uuid, reason: String) -> Result<bool>;
    /// Items of `queue` in arrival order with `seq` greater than `after_seq`, any state.
    async fn list(
        &self,
        queue: &str,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<QueueItem>>;
    /// One item by id.
    async fn get(&self, queue: &str, id: Uuid) -> Result<Option<QueueItem>>;
    /// Counts by state.
    async fn stats(&self, queue: &str) -> Result<QueueStats>;
    /// Removes every item of `queue` that was enqueued before the call, in any state
    /// (ready, delayed, leased or dead); items enqueued meanwhile stay. Their ids may be
    /// enqueued again afterwards. Returns how many items were removed. (JetStream: a
    /// stream purge filtered on the queue's subject, up to the stream's last sequence.)
    async fn purge(&self, queue: &str) -> Result<u64>;
}

/// One write of a [`Store::write_many`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// As [`KvStore::put`].
    Put {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Value.
        value: Bytes,
    },
    /// As [`KvStore::create`].
    Create {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Value.
        value: Bytes,
    },
    /// As [`KvStore::update`].
    Update {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Value.
        value: Bytes,
        /// The revision the key must have.
        expected: u64,
    },
    /// As [`MailboxStore::enqueue`] (its items all or nothing, as there).
    Enqueue(Vec<NewItem>),
    /// As [`MailboxStore::ack`].
    Ack {
        /// Queue.
        queue: String,
        /// Item.
        id: Uuid,
    },
}

/// What one write of a [`Store::write_many`] call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A `Put`, `Create` or `Update`: the entry's new revision.
    Revision(u64),
    /// An `Enqueue`: one outcome per item.
    Enqueued(Vec<EnqueueOutcome>),
    /// An `Ack`: whether the item was present.
    Acked(bool),
}

/// One write of [`Store::write_many`] as the single call.
async fn write_one<S: KvStore + MailboxStore + ?Sized>(store: &S, write: Write) -> Result<Written> {
    match write {
        Write::Put { bucket, key, value } => {
            store.put(&bucket, &key, value).await.map(Written::Revision)
        }
        Write::Create { bucket, key, value } => store
            .create(&bucket, &key, value)
            .await
            .map(Written::Revision),
        Write::Update {
            bucket,
            key,
            value,
            expected,
        } => store
            .update(&bucket, &key, value, expected)
            .await
            .map(Written::Revision),
        Write::Enqueue(items) => store.enqueue(items).await.map(Written::Enqueued),
        Write::Ack { queue, id } => store.ack(&queue, id).await.map(Written::Acked),
    }
}

/// A complete backend: the three ports plus lifecycle.
#[async_trait]
pub trait Store: KvStore + EventStore + MailboxStore + Send + Sync + 'static {
    /// Checks that the store can serve requests (for readiness probes).
    async fn check(&self) -> Result<()>;
    /// Makes everything written so far durable and stops accepting writes.
    async fn close(&self) -> Result<()>;

    /// Runs independent writes in one round trip. Each succeeds or fails on its own,
    /// exactly as the single call would (no atomicity across writes; a later write does
    /// not see whether an earlier one failed), and the call returns when all are
    /// durable, with one result per write, in order. The outer error is for the call as
    /// a whole (the store closed). (JetStream: the publishes pipelined, then awaited.)
    ///
    /// The default runs the single calls concurrently; a backend with a commit queue
    /// sends them as one request.
    async fn write_many(&self, writes: Vec<Write>) -> Result<Vec<Result<Written>>> {
        // Started together so they share the backend's group commit.
        Ok(futures::future::join_all(writes.into_iter().map(|w| write_one(self, w))).await)
    }
}

#[cfg(test)]
mod write_many_tests;
