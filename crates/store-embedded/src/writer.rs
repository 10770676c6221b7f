//! The commit thread: the only writer. It drains a channel of requests, runs each one's
//! read-modify-write logic in turn (so checks and writes never race), writes each as an
//! atomic batch, then makes the whole group durable with one fsync, publishes a snapshot
//! for readers, and only then answers the callers (group commit).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use agentgate_store::{
    AppendOutcome, BucketConfig, EnqueueOutcome, ExpectedVersion, NewEvent, NewItem, QueueItem,
    Result, Snapshot, StoreError,
};
use bytes::Bytes;
use fjall::PersistMode;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use uuid::Uuid;

use crate::Shared;
use crate::codec::{self, BucketRec, ItemMeta, Slot, WAIT_DELAYED, WAIT_LEASED};
use crate::engine::{Ks, Tx, unavailable};

/// Most requests in one commit group.
const MAX_GROUP: usize = 2048;
/// A group stops taking requests once their payloads reach this many bytes, so one
/// fsync never covers an unbounded amount of data.
const MAX_GROUP_BYTES: usize = 32 << 20;
/// How often expired KV entries are purged.
const PURGE_EVERY: Duration = Duration::from_secs(1);
/// Most expired KV entries removed per bucket per purge round.
const PURGE_BATCH: usize = 4096;
/// Most due delayed or expired-lease items moved to the ready index per lease call.
const PROMOTE_BATCH: usize = 4096;
/// Most items one purge step removes: a big queue is purged in several commits so
/// other writers are not held up behind it.
pub(crate) const PURGE_CHUNK: usize = 2048;
/// Most items one lease call returns.
pub(crate) const MAX_LEASE: usize = 10_000;
/// Per-queue scan floors kept in memory; past this many queues the map is reset.
const MAX_FLOORS: usize = 65_536;
/// Largest value, payload or event, in bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 64 << 20;
/// Bucket revisions and queue sequence numbers are reserved this many at a time: the
/// stored counter is a high-water mark no handed-out number exceeds, rewritten (in the
/// batch of the write that needs it) only when a block runs out, rather than with every
/// write. After a restart numbering continues above the mark, so numbers still only
/// increase (with a gap).
const RESERVE: u64 = 4096;
/// Per-queue counters cached in memory; past this many queues the cache is reset.
const MAX_CACHED_COUNTS: usize = 65_536;
/// Most leased items whose metadata the writer remembers (see [`Writer::leased`]).
const MAX_CACHED_LEASES: usize = 65_536;

/// How a KV write is conditioned.
pub(crate) enum KvMode {
    Put,
    Create,
    Update(u64),
}

/// A write request.
///
/// Every name in a request (bucket, key, stream, queue) has been validated by the
/// `EmbeddedStore` method that made it; the commit thread does not check them again.
pub(crate) enum Request {
    EnsureBucket(BucketConfig),
    KvWrite {
        bucket: String,
        key: String,
        value: Bytes,
        mode: KvMode,
    },
    KvDelete {
        bucket: String,
        key: String,
        expected: Option<u64>,
    },
    Append {
        stream: String,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    },
    SaveSnapshot {
        stream: String,
        snapshot: Snapshot,
    },
    Enqueue(Vec<NewItem>),
    Lease {
        queue: String,
        max: usize,
        lease_ms: u64,
    },
    Ack {
        queue: String,
        id: Uuid,
    },
    Nack {
        queue: String,
        id: Uuid,
        delay_ms: u64,
        error: Option<String>,
    },
    DeadLetter {
        queue: String,
        id: Uuid,
        reason: String,
    },
    /// Removes up to [`PURGE_CHUNK`] items of `queue` with a sequence number from
    /// `from` up to `upto` (`None`: the last one handed out so far).
    Purge {
        queue: String,
        from: u64,
        upto: Option<u64>,
    },
    /// Independent requests in one round trip, each executed (and failing) on its own;
    /// answered with [`Reply::Many`]. Never nested, never holds `Close`.
    Many(Vec<Request>),
    /// Persist and stop.
    Close,
}

impl Request {
    /// Roughly how many bytes the request writes.
    fn approx_bytes(&self) -> usize {
        match self {
            Request::KvWrite { value, .. } => value.len() + 64,
            Request::Append { events, .. } => events
                .iter()
                .map(|e| e.data.len() + e.kind.len() + 64)
                .sum(),
            Request::SaveSnapshot { snapshot, .. } => snapshot.state.len() + 64,
            Request::Enqueue(items) => items.iter().map(|i| i.payload.len() + 128).sum(),
            Request::Many(reqs) => reqs.iter().map(Request::approx_bytes).sum(),
            _ => 64,
        }
    }
}

/// A write's answer.
pub(crate) enum Reply {
    Unit,
    Revision(u64),
    Bool(bool),
    Appended(AppendOutcome),
    Enqueued(Vec<EnqueueOutcome>),
    Leased(Vec<QueueItem>),
    /// A purge step: items removed, the bound it used, and where the next step starts
    /// (`None`: done).
    Purged {
        removed: u64,
        upto: u64,
        next: Option<u64>,
    },
    /// The replies of a [`Request::Many`], in order.
    Many(Vec<Result<Reply>>),
}

/// A request with the caller's reply channel and its in-flight permit.
pub(crate) struct Job {
    pub req: Request,
    pub reply: oneshot::Sender<Result<Reply>>,
    pub permit: Option<OwnedSemaphorePermit>,
}

/// Meta-keyspace keys.
pub(crate) fn bucket_key(bucket: &str) -> Vec<u8> {
    [b"b\0", bucket.as_bytes()].concat()
}
pub(crate) fn stream_version_key(stream: &str) -> Vec<u8> {
    [b"v\0", stream.as_bytes()].concat()
}
pub(crate) fn queue_counts_key(queue: &str) -> Vec<u8> {
    [b"c\0", queue.as_bytes()].concat()
}
pub(crate) const SEQ_KEY: &[u8] = b"seq";

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn check_value(len: usize) -> Result<()> {
    if len > MAX_VALUE_BYTES {
        return Err(StoreError::InvalidArgument(format!(
            "value of {len} bytes exceeds {MAX_VALUE_BYTES}"
        )));
    }
    Ok(())
}

/// Lower bounds below which a queue's indexes hold no live entry, so scans skip the
/// tombstones that earlier leases and acks left (an LSM keeps them until compaction).
/// Every insert lowers the floor to the inserted position, so the bound stays true.
#[derive(Default, Clone, Copy)]
struct Floors {
    /// No ready-index entry has a smaller seq.
    ready_seq: u64,
    /// No waiting-index entry has a smaller available-at.
    wait_at: u64,
}

/// A bucket as the commit thread knows it (the only writer, so this is authoritative).
#[derive(Debug, Clone, Copy)]
struct BucketState {
    ttl_ms: Option<u64>,
    /// The last revision handed out.
    revision: u64,
    /// The stored high-water mark (see [`RESERVE`]).
    reserved: u64,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    /// The last sequence number handed out, and the stored high-water mark.
    seq: u64,
    seq_reserved: u64,
    /// Every declared bucket, loaded at open and kept current by the writes.
    buckets: HashMap<String, BucketState>,
    /// Per-queue counters (live, dead) as stored, for queues touched recently.
    counts: HashMap<String, (u64, u64)>,
    floors: HashMap<String, Floors>,
    /// Items this writer leased, by id: their queue, seq and metadata as written. Only
    /// the writer changes an item's metadata, so an entry stays exact until the item is
    /// acknowledged, put back, dead-lettered, promoted or purged, which drop it; it
    /// saves the two lookups of [`Writer::find`] when a leased item is settled.
    leased: HashMap<Uuid, (String, u64, ItemMeta)>,
    /// Per TTL bucket: no expiry-index entry is older than this.
    purge_floors: HashMap<String, u64>,
    /// Bucket configs changed in this group, published after the fsync.
    bucket_updates: Vec<(String, Option<u64>)>,
    /// Whether this group wrote anything.
    dirty: bool,
    /// Replaced snapshots, dropped by the reaper thread.
    reaper: Option<std::sync::mpsc::Sender<fjall::Snapshot>>,
}

impl Writer {
    pub fn new(shared: Arc<Shared>) -> Result<Self> {
        let seq = match shared
            .engine
            .ks(Ks::Meta)
            .get(SEQ_KEY)
            .map_err(unavailable)?
        {
            Some(v) => codec::u64_at(&v, 0)?,
            None => 0,
        };
        let mut buckets = HashMap::new();
        for guard in shared.engine.ks(Ks::Meta).prefix(b"b\0") {
            let (k, v) = guard.into_inner().map_err(unavailable)?;
            let name = std::str::from_utf8(&k[2..])
                .map_err(|_| codec::corrupt("bucket name"))?
                .to_string();
            let rec = BucketRec::decode(&v)?;
            buckets.insert(
                name,
                BucketState {
                    ttl_ms: rec.ttl_ms,
                    revision: rec.revision,
                    reserved: rec.revision,
                },
            );
        }
        Ok(Writer {
            shared,
            seq,
            seq_reserved: seq,
            buckets,
            counts: HashMap::new(),
            floors: HashMap::new(),
            leased: HashMap::new(),
            purge_floors: HashMap::new(),
            bucket_updates: Vec::new(),
            dirty: false,
            reaper: None,
        })
    }

    /// Runs until a `Close` request or until every sender is gone.
    pub fn run(mut self, rx: Receiver<Job>) {
        let (reaper_tx, reaper_rx) = std::sync::mpsc::channel::<fjall::Snapshot>();
        let reaper = std::thread::Builder::new()
            .name("agentgate-store-reaper".into())
            .spawn(move || while reaper_rx.recv().is_ok() {})
            .ok();
        if reaper.is_some() {
            self.reaper = Some(reaper_tx);
        }
        let mut last_purge = Instant::now();
        loop {
            let first = match rx.recv_timeout(PURGE_EVERY) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    self.purge_round();
                    last_purge = Instant::now();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let close = self.commit_group(first, &rx);
            if close {
                break;
            }
            if last_purge.elapsed() >= PURGE_EVERY {
                self.purge_round();
                last_purge = Instant::now();
            }
        }
        // Anything still queued arrived after close.
        while let Ok(job) = rx.try_recv() {
            let _ = job.reply.send(Err(StoreError::Closed));
        }
        if self.shared.failure().is_none() {
            let _ = self.flush();
        }
        let _ = self.shared.engine.db.persist(PersistMode::SyncAll);
        // No old view outlives the store's shutdown.
        self.reaper = None;
        if let Some(reaper) = reaper {
            let _ = reaper.join();
        }
    }

    /// Executes `first` and whatever else is queued, fsyncs once, publishes, answers.
    /// Returns whether to stop.
    ///
    /// Requests that arrive while the group executes join it, until nothing more is
    /// queued or the group is full: one fsync then covers them too. (Under load the
    /// fsync, not execution, dominates a group's time, and the requests of one message
    /// reach the queue one after another; without this, small groups would each pay
    /// a whole fsync.)
    ///
    /// A failed journal write or fsync poisons the store: nothing of the group is
    /// published, every caller in it gets `Unavailable`, and so does every later call
    /// (the engine's state on disk is unknown until the directory is reopened).
    fn commit_group(&mut self, first: Job, rx: &Receiver<Job>) -> bool {
        let mut close = false;
        let mut answered = Vec::new();
        let mut bytes = first.req.approx_bytes();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let result = match job.req {
                Request::Close => {
                    close = true;
                    Ok(Reply::Unit)
                }
                req => match self.shared.failure() {
                    Some(e) => Err(e),
                    None => self.exec(req),
                },
            };
            answered.push((result, job.reply, job.permit));
            if !close && answered.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
                next = rx.try_recv().ok();
                if let Some(j) = &next {
                    bytes += j.req.approx_bytes();
                }
            }
        }
        if (self.dirty || close) && self.shared.failure().is_none() {
            self.dirty = false;
            // fdatasync of the journal: it covers appended data and the file size; the
            // engine fsyncs the directory and the old file itself when it rotates journals.
            match self.sync() {
                Ok(()) => {
                    if let Err(e) = self.shared.engine.rotate_full_memtables() {
                        // The engine could not take the journal lock: its state is unknown.
                        let _ = self
                            .shared
                            .poison(&format!("memtable rotation failed: {e}"));
                    }
                    let old = self
                        .shared
                        .publish(std::mem::take(&mut self.bucket_updates));
                    self.retire(old);
                    self.shared.groups.fetch_add(1, Ordering::Relaxed);
                    self.shared
                        .writes
                        .fetch_add(answered.len() as u64, Ordering::Relaxed);
                }
                Err(_) => self.bucket_updates.clear(),
            }
        }
        if let Some(e) = self.shared.failure() {
            for (result, _, _) in &mut answered {
                if result.is_ok() {
                    *result = Err(e.clone());
                }
            }
        }
        for (result, reply, permit) in answered {
            let _ = reply.send(result);
            drop(permit);
        }
        close
    }

    /// Hands a replaced snapshot to the reaper thread (or drops it here without one).
    fn retire(&self, old: fjall::Snapshot) {
        if let Some(reaper) = &self.reaper {
            let _ = reaper.send(old);
        }
    }

    /// Makes everything written so far durable; poisons the store if that fails.
    fn sync(&self) -> Result<()> {
        self.flush()?;
        #[cfg(test)]
        if self.shared.fail_next_sync.swap(false, Ordering::Relaxed) {
            return Err(self.shared.poison("fsync failed: injected by a test"));
        }
        self.shared
            .engine
            .db
            .persist(PersistMode::SyncData)
            .map_err(|e| self.shared.poison(&format!("fsync failed: {e}")))
    }

    fn exec(&mut self, req: Request) -> Result<Reply> {
        let seq_before = self.seq;
        let result = match req {
            Request::EnsureBucket(config) => self.ensure_bucket(config),
            Request::KvWrite {
                bucket,
                key,
                value,
                mode,
            } => self.kv_write(&bucket, &key, value, mode),
            Request::KvDelete {
                bucket,
                key,
                expected,
            } => self.kv_delete(&bucket, &key, expected),
            Request::Append {
                stream,
                expected,
                events,
            } => self.append(&stream, expected, events),
            Request::SaveSnapshot { stream, snapshot } => self.save_snapshot(&stream, snapshot),
            Request::Enqueue(items) => self.enqueue(items),
            Request::Lease {
                queue,
                max,
                lease_ms,
            } => self.lease(&queue, max, lease_ms),
            Request::Ack { queue, id } => self.ack(&queue, id),
            Request::Nack {
                queue,
                id,
                delay_ms,
                error,
            } => self.nack(&queue, id, delay_ms, error),
            Request::DeadLetter { queue, id, reason } => self.dead_letter(&queue, id, reason),
            Request::Purge { queue, from, upto } => self.purge_step(&queue, from, upto),
            Request::Many(reqs) => Ok(Reply::Many(
                reqs.into_iter().map(|r| self.exec(r)).collect(),
            )),
            Request::Close => Ok(Reply::Unit),
        };
        if result.is_err() {
            self.seq = seq_before;
        }
        result
    }

    /// Stages a request's writes; they are written with the rest of the group.
    fn commit(&mut self, tx: Tx<'_>) {
        if tx.commit() {
            self.dirty = true;
        }
    }

    /// Writes the staged writes into the keyspaces, before reading them directly.
    fn flush(&self) -> Result<()> {
        self.shared
            .engine
            .flush_pending()
            .map(|_| ())
            // A journal write failed part-way: what follows it on disk is unknown.
            .map_err(|e| self.shared.poison(&format!("journal write failed: {e}")))
    }

    // -----------------------------------------------------------------------------------
    // Key/value

    fn ensure_bucket(&mut self, config: BucketConfig) -> Result<Reply> {
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let state = match self.buckets.get(&config.name) {
            Some(b) => BucketState {
                ttl_ms: config.ttl_ms,
                ..*b
            },
            None => BucketState {
                ttl_ms: config.ttl_ms,
                revision: 0,
                reserved: 0,
            },
        };
        let rec = BucketRec {
            ttl_ms: state.ttl_ms,
            revision: state.reserved,
        };
        tx.put(Ks::Meta, bucket_key(&config.name), rec.encode());
        self.commit(tx);
        self.buckets.insert(config.name.clone(), state);
        self.purge_floors.remove(&config.name);
        self.bucket_updates.push((config.name, config.ttl_ms));
        Ok(Reply::Unit)
    }

    /// The state of `bucket`.
    fn bucket(&self, bucket: &str) -> Result<BucketState> {
        self.buckets.get(bucket).copied().ok_or_else(|| {
            StoreError::InvalidArgument(format!(
                "bucket {bucket:?} does not exist (ensure_bucket first)"
            ))
        })
    }

    /// Keeps `state` as the state of the existing `bucket`.
    fn set_bucket(&mut self, bucket: &str, state: BucketState) {
        if let Some(s) = self.buckets.get_mut(bucket) {
            *s = state;
        }
    }

    /// Takes the bucket's next revision; when it is past the stored high-water mark,
    /// raises the mark in `tx` (so it is stored atomically with the write using it).
    /// Returns the new state, to be kept once `tx` is committed.
    fn next_revision(tx: &mut Tx<'_>, bucket: &str, mut state: BucketState) -> BucketState {
        state.revision += 1;
        if state.revision > state.reserved {
            state.reserved = state.revision + RESERVE;
            let rec = BucketRec {
                ttl_ms: state.ttl_ms,
                revision: state.reserved,
            };
            tx.put(Ks::Meta, bucket_key(bucket), rec.encode());
        }
        state
    }

    fn kv_write(&mut self, bucket: &str, key: &str, value: Bytes, mode: KvMode) -> Result<Reply> {
        check_value(value.len())?;
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let rec = self.bucket(bucket)?;
        let now = now_ms();
        let kv_key = codec::key_bytes(bucket, key.as_bytes());
        // An unconditional put into a TTL bucket needs nothing from the old entry: its
        // expiry-index entry is left behind, and the purge, which removes an entry only
        // if it was still written at the indexed time, just drops that stale index entry
        // once it is due. (Without a TTL no purge runs, so the old index entry is
        // removed here, which needs the old entry's time.)
        let blind = matches!(mode, KvMode::Put) && rec.ttl_ms.is_some();
        let old = match if blind {
            None
        } else {
            tx.get(Ks::Kv, &kv_key)?
        } {
            Some(v) => {
                let (rev, at, _) = codec::decode_kv(&v)?;
                Some((rev, at, !codec::expired(now, at, rec.ttl_ms)))
            }
            None => None,
        };
        let live_rev = old.filter(|o| o.2).map_or(0, |o| o.0);
        match mode {
            KvMode::Put => {}
            KvMode::Create if live_rev != 0 => return Err(StoreError::AlreadyExists(live_rev)),
            KvMode::Create => {}
            KvMode::Update(expected) if expected != live_rev => {
                return Err(StoreError::Conflict {
                    expected,
                    actual: live_rev,
                });
            }
            KvMode::Update(_) => {}
        }
        if let Some((_, at, _)) = old {
            tx.del(Ks::KvExp, exp_key(bucket, at, key));
        }
        let rec = Self::next_revision(&mut tx, bucket, rec);
        tx.put(Ks::Kv, kv_key, codec::encode_kv(rec.revision, now, &value));
        tx.put(Ks::KvExp, exp_key(bucket, now, key), Vec::new());
        self.commit(tx);
        self.set_bucket(bucket, rec);
        Ok(Reply::Revision(rec.revision))
    }

    fn kv_delete(&mut self, bucket: &str, key: &str, expected: Option<u64>) -> Result<Reply> {
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let rec = self.bucket(bucket)?;
        let now = now_ms();
        let kv_key = codec::key_bytes(bucket, key.as_bytes());
        let Some(v) = tx.get(Ks::Kv, &kv_key)? else {
            return match expected {
                Some(e) if e != 0 => Err(StoreError::Conflict {
                    expected: e,
                    actual: 0,
                }),
                _ => Ok(Reply::Bool(false)),
            };
        };
        let (rev, at, _) = codec::decode_kv(&v)?;
        let live = !codec::expired(now, at, rec.ttl_ms);
        let live_rev = if live { rev } else { 0 };
        if let Some(e) = expected
            && e != live_rev
        {
            return Err(StoreError::Conflict {
                expected: e,
                actual: live_rev,
            });
        }
        tx.del(Ks::Kv, kv_key);
        tx.del(Ks::KvExp, exp_key(bucket, at, key));
        let rec = if live {
            Self::next_revision(&mut tx, bucket, rec)
        } else {
            rec
        };
        self.commit(tx);
        self.set_bucket(bucket, rec);
        Ok(Reply::Bool(live))
    }

    /// Removes expired entries of every bucket with a TTL, a bounded number per round.
    fn purge_round(&mut self) {
        if self.shared.failure().is_some() {
            return;
        }
        let buckets: Vec<(String, u64)> = self
            .shared
            .buckets
            .read()
            .unwrap()
            .iter()
            .filter_map(|(b, ttl)| ttl.map(|t| (b.clone(), t)))
            .collect();
        if buckets.is_empty() {
            return;
        }
        for (bucket, ttl) in buckets {
            if let Err(e) = self.purge_bucket(&bucket, ttl) {
                // Purging is housekeeping: reads already hide expired entries.
                let _ = e;
            }
        }
        if self.dirty {
            self.dirty = false;
            if self.sync().is_ok() {
                let old = self.shared.publish(Vec::new());
                self.retire(old);
            }
        }
    }

    fn purge_bucket(&mut self, bucket: &str, ttl: u64) -> Result<()> {
        let now = now_ms();
        let cutoff = now.saturating_sub(ttl);
        let floor = self.purge_floors.get(bucket).copied().unwrap_or(0);
        if floor > cutoff {
            return Ok(());
        }
        let shared = self.shared.clone();
        let engine = &shared.engine;
        let lo = codec::key_u64s(bucket, &[floor]);
        let hi = codec::key_u64s(bucket, &[cutoff, u64::MAX]);
        let mut tx = Tx::new(engine);
        let mut next_floor = cutoff;
        // Direct reads of the keyspaces: staged writes go in first.
        self.flush()?;
        for (n, guard) in engine.ks(Ks::KvExp).range(lo..hi).enumerate() {
            let k = guard.key().map_err(unavailable)?;
            let p = bucket.len() + 1;
            let at = codec::u64_at(&k, p)?;
            if n == PURGE_BATCH {
                next_floor = at;
                break;
            }
            let key = &k[p + 8..];
            let kv_key = codec::key_bytes(bucket, key);
            if let Some(v) = tx.get(Ks::Kv, &kv_key)?
                && codec::decode_kv(&v)?.1 == at
            {
                tx.del(Ks::Kv, kv_key);
            }
            tx.del(Ks::KvExp, k.to_vec());
        }
        self.commit(tx);
        self.purge_floors.insert(bucket.to_string(), next_floor);
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Events

    fn append(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Reply> {
        for e in &events {
            check_value(e.data.len() + e.kind.len())?;
        }
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let vkey = stream_version_key(stream);
        let current = match tx.get(Ks::Meta, &vkey)? {
            Some(v) => codec::u64_at(&v, 0)?,
            None => 0,
        };
        let total = events.len();
        let mut seen = HashSet::new();
        let mut fresh = Vec::with_capacity(events.len());
        for e in events {
            if !seen.insert(e.id) || tx.get(Ks::EvId, &codec::key_id(stream, e.id))?.is_some() {
                continue;
            }
            fresh.push(e);
        }
        let duplicates = total - fresh.len();
        if fresh.is_empty() {
            // A retried append: succeed without checking `expected`.
            return Ok(Reply::Appended(AppendOutcome {
                version: current,
                duplicates,
            }));
        }
        let want = match expected {
            ExpectedVersion::Any => None,
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(v) => Some(v),
        };
        if let Some(w) = want
            && w != current
        {
            return Err(StoreError::Conflict {
                expected: w,
                actual: current,
            });
        }
        let now = now_ms();
        let mut version = current;
        for e in fresh {
            version += 1;
            tx.put(
                Ks::Ev,
                codec::key_u64s(stream, &[version]),
                codec::encode_event(e.id, now, &e.kind, &e.data),
            );
            tx.put(
                Ks::EvId,
                codec::key_id(stream, e.id),
                version.to_be_bytes().to_vec(),
            );
        }
        tx.put(Ks::Meta, vkey, version.to_be_bytes().to_vec());
        self.commit(tx);
        Ok(Reply::Appended(AppendOutcome {
            version,
            duplicates,
        }))
    }

    fn save_snapshot(&mut self, stream: &str, snapshot: Snapshot) -> Result<Reply> {
        check_value(snapshot.state.len())?;
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let key = codec::prefix(stream);
        if let Some(old) = tx.get(Ks::Snap, &key)?
            && codec::u64_at(&old, 0)? > snapshot.version
        {
            // A newer snapshot is already saved; the highest version wins.
            return Ok(Reply::Unit);
        }
        let mut v = Vec::with_capacity(8 + snapshot.state.len());
        v.extend_from_slice(&snapshot.version.to_be_bytes());
        v.extend_from_slice(&snapshot.state);
        tx.put(Ks::Snap, key, v);
        self.commit(tx);
        Ok(Reply::Unit)
    }

    // -----------------------------------------------------------------------------------
    // Queues

    fn floors(&mut self, queue: &str) -> &mut Floors {
        if self.floors.len() >= MAX_FLOORS && !self.floors.contains_key(queue) {
            self.floors.clear();
        }
        self.floors.entry(queue.to_string()).or_default()
    }

    /// Puts an item's index entry for `meta` (not dead) and lowers the floors.
    fn index(&mut self, tx: &mut Tx<'_>, queue: &str, seq: u64, meta: &ItemMeta) {
        match meta.slot {
            Slot::Ready => {
                tx.put(Ks::QReady, codec::key_u64s(queue, &[seq]), Vec::new());
                let f = self.floors(queue);
                f.ready_seq = f.ready_seq.min(seq);
            }
            Slot::Delayed | Slot::Leased => {
                let flag = if meta.slot == Slot::Leased {
                    WAIT_LEASED
                } else {
                    WAIT_DELAYED
                };
                tx.put(
                    Ks::QWait,
                    codec::key_u64s(queue, &[meta.available_at, seq]),
                    vec![flag],
                );
                let f = self.floors(queue);
                f.wait_at = f.wait_at.min(meta.available_at);
            }
            Slot::Dead => {}
        }
    }

    fn unindex(tx: &mut Tx<'_>, queue: &str, seq: u64, meta: &ItemMeta) {
        match meta.slot {
            Slot::Ready => tx.del(Ks::QReady, codec::key_u64s(queue, &[seq])),
            Slot::Delayed | Slot::Leased => {
                tx.del(Ks::QWait, codec::key_u64s(queue, &[meta.available_at, seq]))
            }
            Slot::Dead => {}
        }
    }

    /// The queue's counters as of `pending` (this request's changes, not yet committed),
    /// else the cache, else the store.
    fn counts(
        &self,
        tx: &Tx<'_>,
        pending: &[(String, (u64, u64))],
        queue: &str,
    ) -> Result<(u64, u64)> {
        if let Some((_, c)) = pending.iter().rev().find(|(q, _)| q == queue) {
            return Ok(*c);
        }
        if let Some(c) = self.counts.get(queue) {
            return Ok(*c);
        }
        match tx.get(Ks::Meta, &queue_counts_key(queue))? {
            Some(v) => codec::decode_counts(&v),
            None => Ok((0, 0)),
        }
    }

    /// Keeps a committed request's counters in the cache.
    fn cache_counts(&mut self, pending: Vec<(String, (u64, u64))>) {
        for (queue, c) in pending {
            if self.counts.len() >= MAX_CACHED_COUNTS && !self.counts.contains_key(&queue) {
                self.counts.clear();
            }
            self.counts.insert(queue, c);
        }
    }

    fn set_counts(
        tx: &mut Tx<'_>,
        pending: &mut Vec<(String, (u64, u64))>,
        queue: &str,
        live: u64,
        dead: u64,
    ) {
        match pending.iter_mut().find(|(q, _)| q == queue) {
            Some((_, c)) => *c = (live, dead),
            None => pending.push((queue.to_string(), (live, dead))),
        }
        if live == 0 && dead == 0 {
            tx.del(Ks::Meta, queue_counts_key(queue));
        } else {
            tx.put(
                Ks::Meta,
                queue_counts_key(queue),
                codec::encode_counts(live, dead),
            );
        }
    }

    fn enqueue(&mut self, items: Vec<NewItem>) -> Result<Reply> {
        for item in &items {
            check_value(item.payload.len())?;
        }
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let now = now_ms();
        let mut outcomes = Vec::with_capacity(items.len());
        let mut pending = Vec::new();
        for item in items {
            let id_key = codec::key_id(&item.queue, item.id);
            if let Some(v) = tx.get(Ks::QId, &id_key)? {
                outcomes.push(EnqueueOutcome::Duplicate(codec::u64_at(&v, 0)?));
                continue;
            }
            self.seq += 1;
            let seq = self.seq;
            let available_at = item.not_before_ms.unwrap_or(now).max(now);
            let meta = ItemMeta {
                id: item.id,
                enqueued_at: now,
                attempts: 0,
                slot: if available_at > now {
                    Slot::Delayed
                } else {
                    Slot::Ready
                },
                available_at,
                last_error: None,
            };
            tx.put(Ks::QId, id_key, &seq.to_be_bytes()[..]);
            tx.put(
                Ks::QMeta,
                codec::key_u64s(&item.queue, &[seq]),
                meta.encode(),
            );
            tx.put(
                Ks::QPay,
                codec::key_u64s(&item.queue, &[seq]),
                &item.payload[..],
            );
            self.index(&mut tx, &item.queue, seq, &meta);
            let (live, dead) = self.counts(&tx, &pending, &item.queue)?;
            Self::set_counts(&mut tx, &mut pending, &item.queue, live + 1, dead);
            outcomes.push(EnqueueOutcome::Enqueued(seq));
        }
        let mut seq_reserved = self.seq_reserved;
        if self.seq > seq_reserved {
            seq_reserved = self.seq + RESERVE;
            tx.put(
                Ks::Meta,
                SEQ_KEY.to_vec(),
                seq_reserved.to_be_bytes().to_vec(),
            );
        }
        self.commit(tx);
        self.seq_reserved = seq_reserved;
        self.cache_counts(pending);
        Ok(Reply::Enqueued(outcomes))
    }

    /// One step of a purge: removes the first [`PURGE_CHUNK`] items of `queue` with
    /// sequence numbers from `from` up to `upto`, with their index entries, in one
    /// commit. (Each step starts where the last one ended rather than at the start of
    /// the queue, so it never walks over the tombstones the earlier steps left.)
    fn purge_step(&mut self, queue: &str, from: u64, upto: Option<u64>) -> Result<Reply> {
        let upto = upto.unwrap_or(self.seq);
        let shared = self.shared.clone();
        let engine = &shared.engine;
        let lo = codec::key_u64s(queue, &[from]);
        let hi = codec::key_u64s(queue, &[upto]);
        let mut found = Vec::new();
        let mut next = None;
        self.flush()?;
        for guard in engine.ks(Ks::QMeta).range(lo..=hi) {
            let (k, v) = guard.into_inner().map_err(unavailable)?;
            let seq = codec::key_tail_u64(&k)?;
            if found.len() == PURGE_CHUNK {
                next = Some(seq);
                break;
            }
            found.push((seq, ItemMeta::decode(&v)?));
        }
        if found.is_empty() {
            return Ok(Reply::Purged {
                removed: 0,
                upto,
                next: None,
            });
        }
        let mut tx = Tx::new(engine);
        let mut pending = Vec::new();
        let (mut live, mut dead) = self.counts(&tx, &pending, queue)?;
        for (seq, meta) in &found {
            if self.leased.get(&meta.id).is_some_and(|(q, ..)| q == queue) {
                self.leased.remove(&meta.id);
            }
            Self::unindex(&mut tx, queue, *seq, meta);
            tx.del(Ks::QId, codec::key_id(queue, meta.id));
            tx.del(Ks::QMeta, codec::key_u64s(queue, &[*seq]));
            tx.del(Ks::QPay, codec::key_u64s(queue, &[*seq]));
            if meta.slot == Slot::Dead {
                dead = dead.saturating_sub(1);
            } else {
                live = live.saturating_sub(1);
            }
        }
        Self::set_counts(&mut tx, &mut pending, queue, live, dead);
        self.commit(tx);
        self.cache_counts(pending);
        Ok(Reply::Purged {
            removed: found.len() as u64,
            upto,
            next,
        })
    }

    /// Moves due entries of the waiting index (delays over, leases run out) to the
    /// ready index, so that leasing takes items in arrival order.
    fn promote(&mut self, queue: &str, now: u64) -> Result<()> {
        let shared = self.shared.clone();
        let engine = &shared.engine;
        let floor = self.floors(queue).wait_at;
        if floor > now {
            return Ok(());
        }
        let lo = codec::key_u64s(queue, &[floor]);
        let hi = codec::key_u64s(queue, &[now, u64::MAX]);
        let mut due = Vec::new();
        let mut next_floor = now.saturating_add(1);
        self.flush()?;
        for guard in engine.ks(Ks::QWait).range(lo..=hi) {
            let k = guard.key().map_err(unavailable)?;
            if due.len() == PROMOTE_BATCH {
                next_floor = codec::u64_at(&k, queue.len() + 1)?;
                break;
            }
            due.push(codec::key_tail_u64(&k)?);
        }
        let mut tx = Tx::new(engine);
        for seq in due {
            let mkey = codec::key_u64s(queue, &[seq]);
            let Some(m) = tx.get(Ks::QMeta, &mkey)? else {
                continue;
            };
            let mut meta = ItemMeta::decode(&m)?;
            self.leased.remove(&meta.id);
            Self::unindex(&mut tx, queue, seq, &meta);
            meta.slot = Slot::Ready;
            self.index(&mut tx, queue, seq, &meta);
            tx.put(Ks::QMeta, mkey, meta.encode());
        }
        self.commit(tx);
        let f = self.floors(queue);
        // Entries inserted meanwhile lowered the floor already; keep the lower one.
        f.wait_at = if f.wait_at == floor {
            next_floor
        } else {
            f.wait_at.min(next_floor)
        };
        Ok(())
    }

    fn lease(&mut self, queue: &str, max: usize, lease_ms: u64) -> Result<Reply> {
        let max = max.min(MAX_LEASE);
        if max == 0 {
            return Ok(Reply::Leased(Vec::new()));
        }
        let now = now_ms();
        self.promote(queue, now)?;
        let shared = self.shared.clone();
        let engine = &shared.engine;
        let floor = self.floors(queue).ready_seq;
        let lo = codec::key_u64s(queue, &[floor]);
        let hi = codec::prefix_end(queue);
        let mut seqs = Vec::with_capacity(max);
        let mut next_floor = u64::MAX;
        self.flush()?;
        for guard in engine.ks(Ks::QReady).range(lo..hi) {
            let k = guard.key().map_err(unavailable)?;
            let seq = codec::key_tail_u64(&k)?;
            if seqs.len() == max {
                next_floor = seq;
                break;
            }
            seqs.push(seq);
        }
        let until = now.saturating_add(lease_ms);
        let mut tx = Tx::new(engine);
        let mut leased = Vec::with_capacity(seqs.len());
        let mut remembered = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let mkey = codec::key_u64s(queue, &[seq]);
            let Some(m) = tx.get(Ks::QMeta, &mkey)? else {
                continue;
            };
            let mut meta = ItemMeta::decode(&m)?;
            Self::unindex(&mut tx, queue, seq, &meta);
            meta.slot = Slot::Leased;
            meta.available_at = until;
            meta.attempts = meta.attempts.saturating_add(1);
            self.index(&mut tx, queue, seq, &meta);
            tx.put(Ks::QMeta, mkey.clone(), meta.encode());
            let payload = engine.ks(Ks::QPay).get(&mkey).map_err(unavailable)?;
            remembered.push((seq, meta.clone()));
            leased.push(QueueItem {
                queue: queue.to_string(),
                id: meta.id,
                seq,
                payload: payload
                    .map(|p| Bytes::copy_from_slice(&p))
                    .unwrap_or_default(),
                enqueued_at_ms: meta.enqueued_at,
                attempts: meta.attempts,
                state: meta.state(now),
                available_at_ms: meta.available_at,
                last_error: meta.last_error,
            });
        }
        self.commit(tx);
        if self.leased.len() + remembered.len() > MAX_CACHED_LEASES {
            self.leased.clear();
        }
        for (seq, meta) in remembered {
            self.leased.insert(meta.id, (queue.to_string(), seq, meta));
        }
        let f = self.floors(queue);
        f.ready_seq = if f.ready_seq == floor {
            next_floor
        } else {
            f.ready_seq.min(next_floor)
        };
        Ok(Reply::Leased(leased))
    }

    /// The item's seq and metadata, if present, for a change to it: a leased item's come
    /// from [`Writer::leased`], which forgets it (the caller changes or removes it).
    fn find(&mut self, tx: &Tx<'_>, queue: &str, id: Uuid) -> Result<Option<(u64, ItemMeta)>> {
        if let Some((q, seq, meta)) = self.leased.remove(&id) {
            if q == queue {
                return Ok(Some((seq, meta)));
            }
            // The same id in another queue: that entry stays.
            self.leased.insert(id, (q, seq, meta));
        }
        let Some(s) = tx.get(Ks::QId, &codec::key_id(queue, id))? else {
            return Ok(None);
        };
        let seq = codec::u64_at(&s, 0)?;
        let m = tx
            .get(Ks::QMeta, &codec::key_u64s(queue, &[seq]))?
            .ok_or_else(|| codec::corrupt("queue id index points at a missing item"))?;
        Ok(Some((seq, ItemMeta::decode(&m)?)))
    }

    fn ack(&mut self, queue: &str, id: Uuid) -> Result<Reply> {
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let Some((seq, meta)) = self.find(&tx, queue, id)? else {
            return Ok(Reply::Bool(false));
        };
        Self::unindex(&mut tx, queue, seq, &meta);
        tx.del(Ks::QId, codec::key_id(queue, id));
        tx.del(Ks::QMeta, codec::key_u64s(queue, &[seq]));
        tx.del(Ks::QPay, codec::key_u64s(queue, &[seq]));
        let mut pending = Vec::new();
        let (live, dead) = self.counts(&tx, &pending, queue)?;
        if meta.slot == Slot::Dead {
            Self::set_counts(&mut tx, &mut pending, queue, live, dead.saturating_sub(1));
        } else {
            Self::set_counts(&mut tx, &mut pending, queue, live.saturating_sub(1), dead);
        }
        self.commit(tx);
        self.cache_counts(pending);
        Ok(Reply::Bool(true))
    }

    fn nack(
        &mut self,
        queue: &str,
        id: Uuid,
        delay_ms: u64,
        error: Option<String>,
    ) -> Result<Reply> {
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let Some((seq, mut meta)) = self.find(&tx, queue, id)? else {
            return Ok(Reply::Bool(false));
        };
        if meta.slot == Slot::Dead {
            // Dead items stay dead; only ack removes them.
            return Ok(Reply::Bool(true));
        }
        let now = now_ms();
        Self::unindex(&mut tx, queue, seq, &meta);
        meta.available_at = now.saturating_add(delay_ms);
        meta.slot = if delay_ms == 0 {
            Slot::Ready
        } else {
            Slot::Delayed
        };
        if error.is_some() {
            meta.last_error = error;
        }
        self.index(&mut tx, queue, seq, &meta);
        tx.put(Ks::QMeta, codec::key_u64s(queue, &[seq]), meta.encode());
        self.commit(tx);
        Ok(Reply::Bool(true))
    }

    fn dead_letter(&mut self, queue: &str, id: Uuid, reason: String) -> Result<Reply> {
        let shared = self.shared.clone();
        let mut tx = Tx::new(&shared.engine);
        let Some((seq, mut meta)) = self.find(&tx, queue, id)? else {
            return Ok(Reply::Bool(false));
        };
        let mut pending = Vec::new();
        if meta.slot != Slot::Dead {
            Self::unindex(&mut tx, queue, seq, &meta);
            let (live, dead) = self.counts(&tx, &pending, queue)?;
            Self::set_counts(
                &mut tx,
                &mut pending,
                queue,
                live.saturating_sub(1),
                dead + 1,
            );
            meta.slot = Slot::Dead;
        }
        meta.last_error = Some(reason);
        tx.put(Ks::QMeta, codec::key_u64s(queue, &[seq]), meta.encode());
        self.commit(tx);
        self.cache_counts(pending);
        Ok(Reply::Bool(true))
    }
}

/// `bucket\0written_at key`: the expiry index.
pub(crate) fn exp_key(bucket: &str, written_at: u64, key: &str) -> Vec<u8> {
    let mut k = codec::key_u64s(bucket, &[written_at]);
    k.extend_from_slice(key.as_bytes());
    k
}
