//! agentgate's embedded storage backend: one node, one data directory.
//!
//! [`EmbeddedStore`] implements the storage ports of [`agentgate_store`] on
//! [fjall](https://crates.io/crates/fjall), a log-structured (LSM) key-value engine.
//! The choice, with measurements, is recorded in `docs/decisions/0002-embedded-storage-engine.md`.
//!
//! # How it works
//!
//! - **One writer, group commit.** Every mutating call is sent to a dedicated commit
//!   thread. It takes all requests waiting in its channel, runs each one's checks and
//!   writes in turn (so compare-and-set, de-duplication, expected versions and leases
//!   never race), writes each request as one atomic batch to the journal, then makes the
//!   whole group durable with a single `fsync` and only then answers the callers. Many
//!   concurrent callers therefore share one `fsync`.
//! - **Readers see only durable data.** After each group's `fsync` the commit thread
//!   publishes a database snapshot; reads run on tokio's blocking pool against the latest
//!   one, so a read never observes a write that a crash could still undo.
//! - **Bounded memory.** Nothing is indexed in memory: items, events and entries live in
//!   the engine, whose block cache is bounded by [`EmbeddedOptions::cache_mb`], plus
//!   memtables (32 MiB per keyspace; all unflushed data is also in the journal, which is
//!   capped at 128 MiB, so together they stay near that), a small per-queue scan hint and
//!   per-queue counters (both capped at 65,536 queues), and one record per bucket.
//! - **Few reads on the commit thread.** As the only writer it keeps bucket revisions and
//!   queue counters in memory instead of reading them back for every write; revisions
//!   and sequence numbers are reserved in blocks of 4,096 (the stored counter is a
//!   high-water mark, raised in the batch of the write that crosses it), so after a
//!   restart numbering continues above the mark, with a gap. An unconditional `put`
//!   into a TTL bucket does not read the old entry; the expiry-index entry it leaves
//!   behind is dropped by the purge, which removes an entry only if it was still
//!   written at the indexed time.
//! - **A failed fsync poisons the store.** Nothing of that group is shown to readers,
//!   its callers get `Unavailable`, and so does every later call until the directory is
//!   reopened (what reached the disk is unknown; reopening recovers from the journal).
//! - **Fast recovery.** At most 128 MiB of journal is kept before memtables are flushed,
//!   which bounds the replay after a crash.
//!
//! # Layout
//!
//! Keys start with a validated name and a NUL byte (see `codec`):
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `kv` | bucket, key | revision, written-at, value |
//! | `kv_exp` | bucket, written-at, key | — (expiry index for TTL purges) |
//! | `ev` | stream, version | id, recorded-at, kind, data |
//! | `ev_id` | stream, event id | version (de-duplication) |
//! | `snap` | stream | version, state |
//! | `q_meta` | queue, seq | id, enqueued-at, attempts, slot, available-at, last error |
//! | `q_payload` | queue, seq | payload |
//! | `q_id` | queue, item id | seq (de-duplication, lookup) |
//! | `q_ready` | queue, seq | — (leasable now, arrival order) |
//! | `q_wait` | queue, available-at, seq | lease or delay flag |
//! | `meta` | record name | bucket configs and revisions, stream versions, queue counts, the global seq |
//!
//! A lease first moves due entries from `q_wait` (delays over, leases run out) to
//! `q_ready`, then takes the oldest entries of `q_ready`, so leasing reads only the items
//! it returns. `stats` reads the durable per-queue counters plus the `q_wait` entries
//! still in the future (delayed and leased items), not the whole queue.
#![deny(missing_docs)]

mod codec;
mod engine;
mod writer;

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;

use agentgate_store::{
    AppendOutcome, BucketConfig, EnqueueOutcome, EventStore, ExpectedVersion, KvEntry, KvStore,
    MailboxStore, NewEvent, NewItem, QueueItem, QueueStats, RecordedEvent, Result, Snapshot, Store,
    StoreError, Write, Written, validate_name,
};
use async_trait::async_trait;
use bytes::Bytes;
use fjall::Readable;
use tokio::sync::{Semaphore, oneshot};
use uuid::Uuid;

use codec::{BucketRec, ItemMeta, WAIT_LEASED};
use engine::{Engine, Ks, unavailable};
use writer::{Job, KvMode, Reply, Request, Writer, now_ms};

/// Most write requests waiting for the commit thread; further callers wait their turn.
const MAX_IN_FLIGHT: usize = 8192;

/// Options for [`EmbeddedStore::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// Size of the engine's block cache, in MiB (default 64). Memory use is this plus
    /// the memtables (bounded by the 128 MiB journal cap, usually far less), independent
    /// of how much data is stored.
    pub cache_mb: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions { cache_mb: 64 }
    }
}

/// Commit activity since the store was opened (see [`EmbeddedStore::commit_counters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitCounters {
    /// Groups made durable, one fsync each.
    pub groups: u64,
    /// Write requests in those groups.
    pub writes: u64,
}

/// State shared by the store handle, readers and the commit thread.
pub(crate) struct Shared {
    engine: Engine,
    /// The latest durable view, replaced after every commit group.
    snapshot: RwLock<fjall::Snapshot>,
    /// Declared buckets and their TTLs.
    buckets: RwLock<HashMap<String, Option<u64>>>,
    closed: AtomicBool,
    /// fsync'd commit groups so far.
    groups: AtomicU64,
    /// Write requests committed so far.
    writes: AtomicU64,
    /// Set when a journal write or fsync failed: from then on every call fails with
    /// this error (what reached the disk is unknown until the directory is reopened).
    failed: OnceLock<StoreError>,
    /// Makes the commit thread's next fsync fail (tests of the failure path).
    #[cfg(test)]
    fail_next_sync: AtomicBool,
}

impl Shared {
    /// Publishes what the last group made durable. Returns the snapshot it replaced: dropping the last handle on an old view can
    /// free whole flushed memtables, which the commit thread leaves to another thread.
    fn publish(&self, bucket_updates: Vec<(String, Option<u64>)>) -> fjall::Snapshot {
        let snap = self.engine.db.snapshot();
        let old = std::mem::replace(&mut *self.snapshot.write().unwrap(), snap);
        if !bucket_updates.is_empty() {
            let mut buckets = self.buckets.write().unwrap();
            for (name, ttl) in bucket_updates {
                buckets.insert(name, ttl);
            }
        }
        old
    }

    /// Poisons the store (the first failure is kept); returns the error to report.
    fn poison(&self, what: &str) -> StoreError {
        let _ = self.failed.set(StoreError::Unavailable(format!(
            "{what}; the store refuses every call until it is reopened"
        )));
        self.failure().unwrap()
    }

    /// The error every call gets once the store is poisoned.
    fn failure(&self) -> Option<StoreError> {
        self.failed.get().cloned()
    }

    fn snapshot(&self) -> fjall::Snapshot {
        self.snapshot.read().unwrap().clone()
    }

    fn bucket_ttl(&self, bucket: &str) -> Result<Option<u64>> {
        validate_name(bucket)?;
        self.buckets
            .read()
            .unwrap()
            .get(bucket)
            .copied()
            .ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "bucket {bucket:?} does not exist (ensure_bucket first)"
                ))
            })
    }
}

/// The embedded backend: all three storage ports in one data directory.
///
/// Open it once per directory (the directory is locked while open). Every mutating call
/// returns only after its write is `fsync`'d; concurrent calls share `fsync`s, so issue
/// independent writes concurrently. Call [`Store::close`] for an orderly shutdown;
/// dropping the store also stops the commit thread after persisting.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    sender: Mutex<Option<Sender<Job>>>,
    permits: Arc<Semaphore>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir` and starts its commit thread.
    ///
    /// This blocks while the engine recovers (well under a second, even with a large
    /// data set, since the journal replayed after a crash is bounded); from async code,
    /// call it inside `tokio::task::spawn_blocking`.
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<Self> {
        let engine = Engine::open(dir, options.cache_mb)?;
        let mut buckets = HashMap::new();
        for guard in engine.ks(Ks::Meta).prefix(b"b\0") {
            let (k, v) = guard.into_inner().map_err(unavailable)?;
            let name = std::str::from_utf8(&k[2..])
                .map_err(|_| codec::corrupt("bucket name"))?
                .to_string();
            buckets.insert(name, BucketRec::decode(&v)?.ttl_ms);
        }
        let shared = Arc::new(Shared {
            snapshot: RwLock::new(engine.db.snapshot()),
            engine,
            buckets: RwLock::new(buckets),
            closed: AtomicBool::new(false),
            groups: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            failed: OnceLock::new(),
            #[cfg(test)]
            fail_next_sync: AtomicBool::new(false),
        });
        let writer = Writer::new(shared.clone())?;
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("agentgate-store-commit".into())
            .spawn(move || writer.run(rx))
            .map_err(unavailable)?;
        Ok(EmbeddedStore {
            shared,
            sender: Mutex::new(Some(tx)),
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// How many write requests were committed, in how many fsync'd groups, since open.
    /// With concurrent writers `groups` stays well below `writes` (group commit).
    pub fn commit_counters(&self) -> CommitCounters {
        CommitCounters {
            groups: self.shared.groups.load(Ordering::Relaxed),
            writes: self.shared.writes.load(Ordering::Relaxed),
        }
    }

    /// Sends a write to the commit thread and waits until it is durable.
    async fn write(&self, req: Request) -> Result<Reply> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        if let Some(e) = self.shared.failure() {
            return Err(e);
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let (reply, rx) = oneshot::channel();
        {
            let sender = self.sender.lock().unwrap();
            let sender = sender.as_ref().ok_or(StoreError::Closed)?;
            sender
                .send(Job {
                    req,
                    reply,
                    permit: Some(permit),
                })
                .map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs a read against the latest durable snapshot on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Shared, &fjall::Snapshot) -> Result<T> + Send + 'static,
    {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        if let Some(e) = self.shared.failure() {
            return Err(e);
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let snap = shared.snapshot();
            f(&shared, &snap)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }

    /// Stops the commit thread (after it persists) and waits for it.
    fn shut_down(&self) {
        let sender = self.sender.lock().unwrap().take();
        if let Some(sender) = sender {
            let (reply, _rx) = oneshot::channel();
            let _ = sender.send(Job {
                req: Request::Close,
                reply,
                permit: None,
            });
        }
        let thread = self.thread.lock().unwrap().take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shut_down();
    }
}

fn unexpected(reply: &Reply) -> StoreError {
    let kind = match reply {
        Reply::Unit => "unit",
        Reply::Revision(_) => "revision",
        Reply::Bool(_) => "bool",
        Reply::Appended(_) => "append",
        Reply::Enqueued(_) => "enqueue",
        Reply::Leased(_) => "lease",
        Reply::Purged { .. } => "purge",
        Reply::Many(_) => "many",
    };
    StoreError::Unavailable(format!("internal error: unexpected {kind} reply"))
}

/// The commit-thread request for one write of [`Store::write_many`] after the checks
/// the single call makes; `None` for an enqueue of nothing (nothing to do).
fn many_request(w: Write) -> Result<Option<Request>> {
    match w {
        Write::Put { bucket, key, value } => kv_request(bucket, key, value, KvMode::Put).map(Some),
        Write::Create { bucket, key, value } => {
            kv_request(bucket, key, value, KvMode::Create).map(Some)
        }
        Write::Update {
            bucket,
            key,
            value,
            expected,
        } => kv_request(bucket, key, value, KvMode::Update(expected)).map(Some),
        Write::Enqueue(items) => enqueue_request(items),
        Write::Ack { queue, id } => {
            validate_name(&queue)?;
            Ok(Some(Request::Ack { queue, id }))
        }
    }
}

/// An enqueue request, queue names checked; `None` when there is nothing to enqueue.
fn enqueue_request(items: Vec<NewItem>) -> Result<Option<Request>> {
    for item in &items {
        validate_name(&item.queue)?;
    }
    Ok((!items.is_empty()).then_some(Request::Enqueue(items)))
}

/// A KV write request, names checked.
fn kv_request(bucket: String, key: String, value: Bytes, mode: KvMode) -> Result<Request> {
    validate_name(&bucket)?;
    validate_name(&key)?;
    Ok(Request::KvWrite {
        bucket,
        key,
        value,
        mode,
    })
}

fn bytes(v: &[u8]) -> Bytes {
    Bytes::copy_from_slice(v)
}

// ---------------------------------------------------------------------------------------
// Key/value

fn kv_entry(key: &str, v: &[u8], now: u64, ttl: Option<u64>) -> Result<Option<KvEntry>> {
    let (revision, written_at, value) = codec::decode_kv(v)?;
    if codec::expired(now, written_at, ttl) {
        return Ok(None);
    }
    Ok(Some(KvEntry {
        key: key.to_string(),
        value: bytes(value),
        revision,
        written_at_ms: written_at,
    }))
}

#[async_trait]
impl KvStore for EmbeddedStore {
    async fn ensure_bucket(&self, config: &BucketConfig) -> Result<()> {
        validate_name(&config.name)?;
        match self.write(Request::EnsureBucket(config.clone())).await? {
            Reply::Unit => Ok(()),
            r => Err(unexpected(&r)),
        }
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<KvEntry>> {
        validate_name(key)?;
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.read(move |shared, snap| {
            let ttl = shared.bucket_ttl(&bucket)?;
            let k = codec::key_bytes(&bucket, key.as_bytes());
            match snap.get(shared.engine.ks(Ks::Kv), k).map_err(unavailable)? {
                Some(v) => kv_entry(&key, &v, now_ms(), ttl),
                None => Ok(None),
            }
        })
        .await
    }

    async fn get_many(&self, bucket: &str, keys: &[String]) -> Result<Vec<Option<KvEntry>>> {
        for key in keys {
            validate_name(key)?;
        }
        let (bucket, keys) = (bucket.to_string(), keys.to_vec());
        self.read(move |shared, snap| {
            let ttl = shared.bucket_ttl(&bucket)?;
            let now = now_ms();
            let ks = shared.engine.ks(Ks::Kv);
            keys.iter()
                .map(|key| {
                    let k = codec::key_bytes(&bucket, key.as_bytes());
                    match snap.get(ks, k).map_err(unavailable)? {
                        Some(v) => kv_entry(key, &v, now, ttl),
                        None => Ok(None),
                    }
                })
                .collect()
        })
        .await
    }

    async fn put(&self, bucket: &str, key: &str, value: Bytes) -> Result<u64> {
        self.kv_write(bucket, key, value, KvMode::Put).await
    }

    async fn create(&self, bucket: &str, key: &str, value: Bytes) -> Result<u64> {
        self.kv_write(bucket, key, value, KvMode::Create).await
    }

    async fn update(&self, bucket: &str, key: &str, value: Bytes, expected: u64) -> Result<u64> {
        self.kv_write(bucket, key, value, KvMode::Update(expected))
            .await
    }

    async fn delete(&self, bucket: &str, key: &str, expected: Option<u64>) -> Result<bool> {
        validate_name(bucket)?;
        validate_name(key)?;
        let req = Request::KvDelete {
            bucket: bucket.into(),
            key: key.into(),
            expected,
        };
        match self.write(req).await? {
            Reply::Bool(b) => Ok(b),
            r => Err(unexpected(&r)),
        }
    }

    async fn scan(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<KvEntry>> {
        let (bucket, prefix, after) = (
            bucket.to_string(),
            prefix.to_string(),
            after.map(str::to_string),
        );
        self.read(move |shared, snap| {
            let ttl = shared.bucket_ttl(&bucket)?;
            let start = codec::key_bytes(&bucket, prefix.as_bytes());
            let lower = match after {
                Some(a) if a.as_str() >= prefix.as_str() => {
                    Bound::Excluded(codec::key_bytes(&bucket, a.as_bytes()))
                }
                _ => Bound::Included(start.clone()),
            };
            let upper = Bound::Excluded(codec::prefix_end(&bucket));
            let now = now_ms();
            let mut out = Vec::new();
            if limit == 0 {
                return Ok(out);
            }
            for guard in snap.range(shared.engine.ks(Ks::Kv), (lower, upper)) {
                let (k, v) = guard.into_inner().map_err(unavailable)?;
                if !k.starts_with(&start) {
                    break;
                }
                let key = std::str::from_utf8(&k[bucket.len() + 1..])
                    .map_err(|_| codec::corrupt("kv key"))?;
                if let Some(e) = kv_entry(key, &v, now, ttl)? {
                    out.push(e);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}

impl EmbeddedStore {
    async fn kv_write(&self, bucket: &str, key: &str, value: Bytes, mode: KvMode) -> Result<u64> {
        let req = kv_request(bucket.into(), key.into(), value, mode)?;
        match self.write(req).await? {
            Reply::Revision(r) => Ok(r),
            r => Err(unexpected(&r)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Events

#[async_trait]
impl EventStore for EmbeddedStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome> {
        validate_name(stream)?;
        let req = Request::Append {
            stream: stream.into(),
            expected,
            events,
        };
        match self.write(req).await? {
            Reply::Appended(o) => Ok(o),
            r => Err(unexpected(&r)),
        }
    }

    async fn read(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        validate_name(stream)?;
        let stream = stream.to_string();
        self.read(move |shared, snap| {
            let lo = codec::key_u64s(&stream, &[from_version.max(1)]);
            let hi = codec::prefix_end(&stream);
            let mut out = Vec::new();
            for guard in snap.range(shared.engine.ks(Ks::Ev), lo..hi).take(limit) {
                let (k, v) = guard.into_inner().map_err(unavailable)?;
                let (id, recorded_at_ms, kind, data) = codec::decode_event(&v)?;
                out.push(RecordedEvent {
                    stream: stream.clone(),
                    version: codec::key_tail_u64(&k)?,
                    id,
                    kind,
                    data: bytes(data),
                    recorded_at_ms,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn version(&self, stream: &str) -> Result<u64> {
        validate_name(stream)?;
        let key = writer::stream_version_key(stream);
        self.read(
            move |shared, snap| match snap.get(shared.engine.ks(Ks::Meta), key) {
                Ok(Some(v)) => codec::u64_at(&v, 0),
                Ok(None) => Ok(0),
                Err(e) => Err(unavailable(e)),
            },
        )
        .await
    }

    async fn save_snapshot(&self, stream: &str, snapshot: Snapshot) -> Result<()> {
        validate_name(stream)?;
        match self
            .write(Request::SaveSnapshot {
                stream: stream.into(),
                snapshot,
            })
            .await?
        {
            Reply::Unit => Ok(()),
            r => Err(unexpected(&r)),
        }
    }

    async fn load_snapshot(&self, stream: &str) -> Result<Option<Snapshot>> {
        validate_name(stream)?;
        let key = codec::prefix(stream);
        self.read(move |shared, snap| {
            match snap
                .get(shared.engine.ks(Ks::Snap), key)
                .map_err(unavailable)?
            {
                Some(v) => Ok(Some(Snapshot {
                    version: codec::u64_at(&v, 0)?,
                    state: bytes(&v[8..]),
                })),
                None => Ok(None),
            }
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------
// Queues

fn queue_item(
    shared: &Shared,
    snap: &fjall::Snapshot,
    queue: &str,
    seq: u64,
    meta: &[u8],
    now: u64,
) -> Result<QueueItem> {
    let meta = ItemMeta::decode(meta)?;
    let payload = snap
        .get(shared.engine.ks(Ks::QPay), codec::key_u64s(queue, &[seq]))
        .map_err(unavailable)?
        .ok_or_else(|| codec::corrupt("item without payload"))?;
    Ok(QueueItem {
        queue: queue.to_string(),
        id: meta.id,
        seq,
        payload: bytes(&payload),
        enqueued_at_ms: meta.enqueued_at,
        attempts: meta.attempts,
        state: meta.state(now),
        available_at_ms: meta.available_at,
        last_error: meta.last_error,
    })
}

#[async_trait]
impl MailboxStore for EmbeddedStore {
    async fn enqueue(&self, items: Vec<NewItem>) -> Result<Vec<EnqueueOutcome>> {
        let Some(req) = enqueue_request(items)? else {
            return Ok(Vec::new());
        };
        match self.write(req).await? {
            Reply::Enqueued(o) => Ok(o),
            r => Err(unexpected(&r)),
        }
    }

    async fn lease(&self, queue: &str, max: usize, lease_ms: u64) -> Result<Vec<QueueItem>> {
        validate_name(queue)?;
        match self
            .write(Request::Lease {
                queue: queue.into(),
                max,
                lease_ms,
            })
            .await?
        {
            Reply::Leased(items) => Ok(items),
            r => Err(unexpected(&r)),
        }
    }

    async fn ack(&self, queue: &str, id: Uuid) -> Result<bool> {
        validate_name(queue)?;
        match self
            .write(Request::Ack {
                queue: queue.into(),
                id,
            })
            .await?
        {
            Reply::Bool(b) => Ok(b),
            r => Err(unexpected(&r)),
        }
    }

    async fn nack(
        &self,
        queue: &str,
        id: Uuid,
        delay_ms: u64,
        error: Option<String>,
    ) -> Result<bool> {
        validate_name(queue)?;
        match self
            .write(Request::Nack {
                queue: queue.into(),
                id,
                delay_ms,
                error,
            })
            .await?
        {
            Reply::Bool(b) => Ok(b),
            r => Err(unexpected(&r)),
        }
    }

    async fn dead_letter(&self, queue: &str, id: Uuid, reason: String) -> Result<bool> {
        validate_name(queue)?;
        match self
            .write(Request::DeadLetter {
                queue: queue.into(),
                id,
                reason,
            })
            .await?
        {
            Reply::Bool(b) => Ok(b),
            r => Err(unexpected(&r)),
        }
    }

    async fn list(
        &self,
        queue: &str,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<QueueItem>> {
        validate_name(queue)?;
        let queue = queue.to_string();
        self.read(move |shared, snap| {
            let lo = match after_seq {
                Some(s) => Bound::Excluded(codec::key_u64s(&queue, &[s])),
                None => Bound::Included(codec::prefix(&queue)),
            };
            let hi = Bound::Excluded(codec::prefix_end(&queue));
            let now = now_ms();
            let mut out = Vec::new();
            for guard in snap
                .range(shared.engine.ks(Ks::QMeta), (lo, hi))
                .take(limit)
            {
                let (k, v) = guard.into_inner().map_err(unavailable)?;
                let seq = codec::key_tail_u64(&k)?;
                out.push(queue_item(shared, snap, &queue, seq, &v, now)?);
            }
            Ok(out)
        })
        .await
    }

    async fn get(&self, queue: &str, id: Uuid) -> Result<Option<QueueItem>> {
        validate_name(queue)?;
        let queue = queue.to_string();
        self.read(move |shared, snap| {
            let Some(s) = snap
                .get(shared.engine.ks(Ks::QId), codec::key_id(&queue, id))
                .map_err(unavailable)?
            else {
                return Ok(None);
            };
            let seq = codec::u64_at(&s, 0)?;
            let meta = snap
                .get(shared.engine.ks(Ks::QMeta), codec::key_u64s(&queue, &[seq]))
                .map_err(unavailable)?
                .ok_or_else(|| codec::corrupt("queue id index points at a missing item"))?;
            queue_item(shared, snap, &queue, seq, &meta, now_ms()).map(Some)
        })
        .await
    }

    async fn purge(&self, queue: &str) -> Result<u64> {
        validate_name(queue)?;
        let (mut total, mut from, mut upto) = (0u64, 0u64, None);
        loop {
            let step = self
                .write(Request::Purge {
                    queue: queue.into(),
                    from,
                    upto,
                })
                .await?;
            match step {
                Reply::Purged {
                    removed,
                    upto: bound,
                    next,
                } => {
                    total += removed;
                    let Some(next) = next else {
                        return Ok(total);
                    };
                    (from, upto) = (next, Some(bound));
                }
                r => return Err(unexpected(&r)),
            }
        }
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats> {
        validate_name(queue)?;
        let queue = queue.to_string();
        self.read(move |shared, snap| {
            let (live, dead) = match snap
                .get(shared.engine.ks(Ks::Meta), writer::queue_counts_key(&queue))
                .map_err(unavailable)?
            {
                Some(v) => codec::decode_counts(&v)?,
                None => (0, 0),
            };
            // Waiting entries still in the future are delayed or leased; everything else
            // that is not dead is ready.
            let now = now_ms();
            let lo = codec::key_u64s(&queue, &[now.saturating_add(1)]);
            let hi = codec::prefix_end(&queue);
            let (mut delayed, mut leased) = (0u64, 0u64);
            for guard in snap.range(shared.engine.ks(Ks::QWait), lo..hi) {
                let (_, v) = guard.into_inner().map_err(unavailable)?;
                if v.first() == Some(&WAIT_LEASED) {
                    leased += 1;
                } else {
                    delayed += 1;
                }
            }
            Ok(QueueStats {
                ready: live.saturating_sub(delayed + leased),
                delayed,
                leased,
                dead,
            })
        })
        .await
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn check(&self) -> Result<()> {
        // A read through the engine proves the store is open and its files readable.
        self.read(|shared, snap| {
            snap.get(shared.engine.ks(Ks::Meta), writer::SEQ_KEY)
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// One request to the commit thread for all the writes (the single calls would be
    /// one each), after the same checks the single calls make.
    async fn write_many(&self, writes: Vec<Write>) -> Result<Vec<Result<Written>>> {
        let mut out: Vec<Option<Result<Written>>> = Vec::with_capacity(writes.len());
        let mut reqs = Vec::with_capacity(writes.len());
        for w in writes {
            match many_request(w) {
                Ok(Some(req)) => {
                    out.push(None);
                    reqs.push(req);
                }
                Ok(None) => out.push(Some(Ok(Written::Enqueued(Vec::new())))),
                Err(e) => out.push(Some(Err(e))),
            }
        }
        if !reqs.is_empty() {
            let sent = reqs.len();
            let replies = match self.write(Request::Many(reqs)).await? {
                Reply::Many(r) if r.len() == sent => r,
                r => return Err(unexpected(&r)),
            };
            let mut replies = replies.into_iter();
            for slot in out.iter_mut().filter(|s| s.is_none()) {
                *slot = replies.next().map(|r| {
                    r.and_then(|reply| match reply {
                        Reply::Revision(v) => Ok(Written::Revision(v)),
                        Reply::Enqueued(o) => Ok(Written::Enqueued(o)),
                        Reply::Bool(b) => Ok(Written::Acked(b)),
                        other => Err(unexpected(&other)),
                    })
                });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    async fn close(&self) -> Result<()> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let sender = self.sender.lock().unwrap().take();
        if let Some(sender) = sender {
            let (reply, rx) = oneshot::channel();
            if sender
                .send(Job {
                    req: Request::Close,
                    reply,
                    permit: None,
                })
                .is_ok()
            {
                let _ = rx.await;
            }
        }
        let thread = self.thread.lock().unwrap().take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?
                .map_err(|_| StoreError::Unavailable("commit thread panicked".into()))?;
        }
        // After a failed fsync the store was poisoned: the final persist proves nothing.
        match self.shared.failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(queue: &str) -> NewItem {
        NewItem {
            queue: queue.into(),
            id: Uuid::new_v4(),
            payload: Bytes::from_static(b"p"),
            not_before_ms: None,
        }
    }

    /// After a failed fsync the group's writes are never shown to readers, and every
    /// later call, read or write, fails with `Unavailable`.
    #[tokio::test]
    async fn a_failed_fsync_poisons_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let config = BucketConfig {
            name: "b".into(),
            ttl_ms: None,
        };
        store.ensure_bucket(&config).await.unwrap();
        store
            .put("b", "kept", Bytes::from_static(b"1"))
            .await
            .unwrap();

        store.shared.fail_next_sync.store(true, Ordering::Relaxed);
        let lost = store.put("b", "lost", Bytes::from_static(b"2")).await;
        assert!(matches!(lost, Err(StoreError::Unavailable(_))), "{lost:?}");
        // The failed group was not published: the last good snapshot is still current.
        let snap = store.shared.snapshot();
        let key = codec::key_bytes("b", b"lost");
        assert!(
            snap.get(store.shared.engine.ks(Ks::Kv), key)
                .unwrap()
                .is_none()
        );

        let unavailable = |r: Result<()>| matches!(r, Err(StoreError::Unavailable(_)));
        assert!(unavailable(
            store.put("b", "x", Bytes::new()).await.map(drop)
        ));
        assert!(unavailable(
            store.enqueue(vec![item("inbox.a")]).await.map(drop)
        ));
        assert!(unavailable(
            KvStore::get(&store, "b", "kept").await.map(drop)
        ));
        assert!(unavailable(store.stats("inbox.a").await.map(drop)));
        assert!(unavailable(store.check().await));
        assert!(unavailable(store.close().await));
        drop(store);

        // Reopening starts afresh from what is on disk.
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let kept = KvStore::get(&store, "b", "kept").await.unwrap().unwrap();
        assert_eq!(kept.value, Bytes::from_static(b"1"));
        store.close().await.unwrap();
    }

    /// A `put` into a TTL bucket does not remove the old expiry-index entry; the purge
    /// drops that stale entry when it is due without touching the newer value, and
    /// later purges the value itself.
    #[tokio::test]
    async fn stale_expiry_entries_left_by_put_are_purged_safely() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let ttl = 2_000;
        let config = BucketConfig {
            name: "t".into(),
            ttl_ms: Some(ttl),
        };
        store.ensure_bucket(&config).await.unwrap();
        let exp_entries = || {
            store
                .shared
                .engine
                .ks(Ks::KvExp)
                .prefix(codec::prefix("t"))
                .count()
        };
        let raw = || {
            let k = codec::key_bytes("t", b"k");
            let v = store.shared.engine.ks(Ks::Kv).get(k).unwrap()?;
            Some(codec::decode_kv(&v).unwrap().2.to_vec())
        };
        let t0 = now_ms();
        store
            .put("t", "k", Bytes::from_static(b"v1"))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
        let t1 = now_ms();
        store
            .put("t", "k", Bytes::from_static(b"v2"))
            .await
            .unwrap();
        assert_eq!(exp_entries(), 2, "the put leaves the old index entry");
        // The first entry is due at t0 + ttl; purges run about once a second.
        while exp_entries() > 1 && now_ms() < t0 + ttl + 1_400 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(exp_entries(), 1, "the stale index entry is purged");
        if now_ms() < t1 + ttl {
            assert_eq!(
                raw().as_deref(),
                Some(&b"v2"[..]),
                "the newer value is kept"
            );
        }
        // The value itself goes once it is due.
        while raw().is_some() && now_ms() < t1 + ttl + 3_000 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!((raw(), exp_entries()), (None, 0));
        store.close().await.unwrap();
    }

    /// Revisions and sequence numbers are reserved in blocks; across a reopen they keep
    /// increasing, and the per-queue counters the commit thread caches stay exact.
    #[tokio::test]
    async fn numbering_and_counts_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let config = BucketConfig {
            name: "b".into(),
            ttl_ms: Some(60_000),
        };
        let (mut rev, mut seq) = (0, 0);
        for round in 0..3 {
            let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
            store.ensure_bucket(&config).await.unwrap();
            for i in 0..5 {
                let r = store
                    .put("b", &format!("k{i}"), Bytes::from_static(b"v"))
                    .await
                    .unwrap();
                assert!(r > rev, "round {round}: revision {r} after {rev}");
                rev = r;
                let key = format!("c{round}-{i}");
                let r = store.create("b", &key, Bytes::new()).await.unwrap();
                assert!(r > rev);
                rev = r;
                let out = store.enqueue(vec![item("inbox.a"), item("inbox.b")]).await;
                for o in out.unwrap() {
                    let EnqueueOutcome::Enqueued(s) = o else {
                        panic!("duplicate")
                    };
                    assert!(s > seq, "round {round}: seq {s} after {seq}");
                    seq = s;
                }
            }
            let leased = store.lease("inbox.a", 2, 60_000).await.unwrap();
            store.ack("inbox.a", leased[0].id).await.unwrap();
            store
                .dead_letter("inbox.a", leased[1].id, "bad".into())
                .await
                .unwrap();
            let n = 5 * (round + 1);
            assert_eq!(
                store.stats("inbox.a").await.unwrap(),
                QueueStats {
                    ready: n - 2 * (round + 1),
                    delayed: 0,
                    leased: 0,
                    dead: round + 1,
                }
            );
            assert_eq!(store.stats("inbox.b").await.unwrap().ready, n);
            if round == 1 {
                drop(store); // without close
            } else {
                store.close().await.unwrap();
            }
        }
    }
}
