//! The fjall database, its keyspaces, and a small write transaction with an overlay.
//!
//! Writes are staged: a request's [`Tx`] moves its writes into the engine's pending set
//! when it commits, and [`Engine::flush_pending`] writes the whole set as one fjall
//! batch (one journal append) — once per commit group, just before the fsync, rather
//! than once per request. Reads through a [`Tx`] see the pending set; the commit thread
//! flushes it before it reads the keyspaces directly (range scans).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use agentgate_store::{Result, StoreError};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, Slice};

/// The keyspaces (fjall's column families). See the crate docs for the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ks {
    /// `bucket\0key` → revision, written-at, value.
    Kv,
    /// `bucket\0written_at key` → (): KV entries by age, for TTL purges.
    KvExp,
    /// `stream\0version` → event.
    Ev,
    /// `stream\0id` → version: event de-duplication.
    EvId,
    /// `stream` → snapshot version, state.
    Snap,
    /// `queue\0seq` → item metadata.
    QMeta,
    /// `queue\0seq` → payload.
    QPay,
    /// `queue\0id` → seq: item de-duplication and lookup by id.
    QId,
    /// `queue\0seq` → (): items leasable now, in arrival order.
    QReady,
    /// `queue\0available_at seq` → lease or delay flag: items leasable later.
    QWait,
    /// Counters and records: bucket configs and revisions, stream versions, queue
    /// counts, the global sequence.
    Meta,
}

const ALL: [(Ks, &str); 11] = [
    (Ks::Kv, "kv"),
    (Ks::KvExp, "kv_exp"),
    (Ks::Ev, "ev"),
    (Ks::EvId, "ev_id"),
    (Ks::Snap, "snap"),
    (Ks::QMeta, "q_meta"),
    (Ks::QPay, "q_payload"),
    (Ks::QId, "q_id"),
    (Ks::QReady, "q_ready"),
    (Ks::QWait, "q_wait"),
    (Ks::Meta, "meta"),
];

/// Most journal bytes kept before memtables are flushed; bounds crash-recovery replay.
const MAX_JOURNAL_BYTES: u64 = 128 << 20;
/// Memtable size per keyspace.
const MEMTABLE_BYTES: u64 = 32 << 20;

/// Tables in level 0 before they are merged into level 1 (fjall's default is 4). Our
/// keys interleave (queue + sequence, address + time), so every merge rewrites most of
/// level 1; merging half as often halves that work. More tables cost memory at open
/// and come close to fjall's write stall at 20 (ADR 0002).
const L0_TABLES: u8 = 8;

/// The open database and its keyspaces.
pub(crate) struct Engine {
    pub db: Database,
    spaces: Vec<Keyspace>,
    /// Bytes written to each keyspace's active memtable (approximately), for
    /// [`Engine::rotate_full_memtables`].
    unflushed: Vec<AtomicU64>,
    /// Committed requests' writes not yet in the keyspaces: per keyspace, each key's
    /// last value (`None`: deleted). Only the commit thread touches it.
    pending: Mutex<Vec<HashMap<Vec<u8>, Option<Slice>>>>,
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl Engine {
    pub fn open(dir: &Path, cache_mb: u64) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(unavailable)?;
        let db = Database::builder(dir)
            .cache_size(cache_mb.max(1) << 20)
            // The commit thread persists once per group.
            .manual_journal_persist(true)
            .max_journaling_size(MAX_JOURNAL_BYTES)
            .worker_threads(1)
            .open()
            .map_err(unavailable)?;
        let mut spaces = Vec::with_capacity(ALL.len());
        for (i, (ks, name)) in ALL.iter().enumerate() {
            debug_assert_eq!(*ks as usize, i);
            let big = matches!(ks, Ks::Kv | Ks::QPay | Ks::Ev);
            let opts = || {
                let o = KeyspaceCreateOptions::default()
                    .compaction_strategy(std::sync::Arc::new(
                        fjall::compaction::Leveled::default().with_l0_threshold(L0_TABLES),
                    ))
                    .max_memtable_size(MEMTABLE_BYTES * 4)
                    .manual_journal_persist(true);
                if big {
                    o.with_kv_separation(Some(
                        fjall::KvSeparationOptions::default().separation_threshold(256),
                    ))
                } else {
                    o
                }
            };
            spaces.push(db.keyspace(name, opts).map_err(unavailable)?);
        }
        let unflushed = spaces.iter().map(|_| AtomicU64::new(0)).collect();
        let pending = Mutex::new(spaces.iter().map(|_| HashMap::new()).collect());
        Ok(Engine {
            db,
            spaces,
            unflushed,
            pending,
        })
    }

    /// Seals every memtable that has grown past [`MEMTABLE_BYTES`] and hands it to the
    /// flush worker. Called by the commit thread between groups.
    pub fn rotate_full_memtables(&self) -> Result<()> {
        for (ks, bytes) in self.spaces.iter().zip(&self.unflushed) {
            if bytes.load(Ordering::Relaxed) >= MEMTABLE_BYTES {
                bytes.store(0, Ordering::Relaxed);
                ks.rotate_memtable().map_err(unavailable)?;
            }
        }
        Ok(())
    }

    pub fn ks(&self, ks: Ks) -> &Keyspace {
        &self.spaces[ks as usize]
    }

    /// Writes the pending set as one atomic batch (not yet fsync'd). Returns whether
    /// there was anything to write.
    pub fn flush_pending(&self) -> Result<bool> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.iter().all(HashMap::is_empty) {
            return Ok(false);
        }
        let mut batch = self.db.batch();
        for (i, writes) in pending.iter_mut().enumerate() {
            let keyspace = &self.spaces[i];
            let mut bytes = 0u64;
            for (key, value) in writes.drain() {
                bytes += (key.len() + value.as_ref().map_or(0, |v| v.len()) + 16) as u64;
                match value {
                    Some(v) => batch.insert(keyspace, key, v),
                    None => batch.remove(keyspace, key),
                }
            }
            self.unflushed[i].fetch_add(bytes, Ordering::Relaxed);
        }
        batch.commit().map_err(unavailable)?;
        Ok(true)
    }

    /// A key's pending value: `Some(None)` if pending deletion, `None` if not pending.
    fn pending_get(&self, ks: Ks, key: &[u8]) -> Option<Option<Slice>> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending[ks as usize].get(key).cloned()
    }
}

/// Writes past which [`Tx`] indexes its overlay with a hash map; below it a linear scan
/// is cheaper than hashing and cloning keys.
const TX_INDEX_AT: usize = 16;

/// One request's writes: reads see the request's own earlier writes (the overlay), then
/// the pending writes of requests committed before it, then the keyspaces.
/// [`Tx::commit`] adds its writes to the pending set, all at once; a request that fails
/// before committing leaves nothing behind.
pub(crate) struct Tx<'a> {
    engine: &'a Engine,
    /// Values are the engine's own slices, so a value is copied once, into the slice
    /// the memtable keeps, and reads through the transaction copy nothing.
    writes: Vec<(Ks, Vec<u8>, Option<Slice>)>,
    /// Position of each key in `writes`, once there are more than [`TX_INDEX_AT`].
    index: Option<HashMap<(Ks, Vec<u8>), usize>>,
}

impl<'a> Tx<'a> {
    pub fn new(engine: &'a Engine) -> Self {
        Tx {
            engine,
            writes: Vec::with_capacity(8),
            index: None,
        }
    }

    fn position(&self, ks: Ks, key: &[u8]) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(&(ks, key.to_vec())).copied(),
            None => self
                .writes
                .iter()
                .position(|(k, kk, _)| *k == ks && kk.as_slice() == key),
        }
    }

    pub fn get(&self, ks: Ks, key: &[u8]) -> Result<Option<Slice>> {
        if let Some(i) = self.position(ks, key) {
            return Ok(self.writes[i].2.clone());
        }
        if let Some(v) = self.engine.pending_get(ks, key) {
            return Ok(v);
        }
        self.engine.ks(ks).get(key).map_err(unavailable)
    }

    fn set(&mut self, ks: Ks, key: Vec<u8>, value: Option<Slice>) {
        if let Some(i) = self.position(ks, &key) {
            self.writes[i].2 = value;
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert((ks, key.clone()), self.writes.len());
        } else if self.writes.len() == TX_INDEX_AT {
            let mut index = HashMap::with_capacity(TX_INDEX_AT * 4);
            for (i, (k, kk, _)) in self.writes.iter().enumerate() {
                index.insert((*k, kk.clone()), i);
            }
            index.insert((ks, key.clone()), self.writes.len());
            self.index = Some(index);
        }
        self.writes.push((ks, key, value));
    }

    /// Sets `key` to `value` (a `Vec<u8>` or a `&[u8]`; either is copied once).
    pub fn put(&mut self, ks: Ks, key: Vec<u8>, value: impl Into<Slice>) {
        self.set(ks, key, Some(value.into()));
    }

    pub fn del(&mut self, ks: Ks, key: Vec<u8>) {
        self.set(ks, key, None);
    }

    /// Writes the batch; returns whether there was anything to write.
    /// Adds the writes to the engine's pending set ([`Engine::flush_pending`] writes
    /// them). Returns whether there were any.
    pub fn commit(self) -> bool {
        if self.writes.is_empty() {
            return false;
        }
        let mut pending = self
            .engine
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (ks, key, value) in self.writes {
            pending[ks as usize].insert(key, value);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_keeps_the_last_write_of_each_key() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), 1).unwrap();
        let mut tx = Tx::new(&engine);
        // Past the point where the overlay switches to a hash index, and back over it.
        for round in 0..3u8 {
            for i in 0..40u8 {
                tx.put(Ks::Kv, vec![i], vec![round]);
            }
        }
        tx.del(Ks::Kv, vec![7]);
        tx.put(Ks::Meta, vec![7], vec![9]);
        assert_eq!(tx.writes.len(), 41);
        assert_eq!(tx.get(Ks::Kv, &[3]).unwrap(), Some(Slice::from(vec![2])));
        assert_eq!(tx.get(Ks::Kv, &[7]).unwrap(), None);
        assert_eq!(tx.get(Ks::Meta, &[7]).unwrap(), Some(Slice::from(vec![9])));
        assert!(tx.commit());
        // Pending: visible through a transaction, not yet in the keyspace.
        let next = Tx::new(&engine);
        assert_eq!(next.get(Ks::Kv, &[3]).unwrap(), Some(Slice::from(vec![2])));
        assert!(engine.ks(Ks::Kv).get([3]).unwrap().is_none());
        assert!(engine.flush_pending().unwrap());
        assert!(!engine.flush_pending().unwrap(), "nothing left");
        assert_eq!(
            engine.ks(Ks::Kv).get([3]).unwrap().map(|v| v.to_vec()),
            Some(vec![2])
        );
        assert!(engine.ks(Ks::Kv).get([7]).unwrap().is_none());
    }

    #[test]
    fn a_later_request_overrides_a_pending_write() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), 1).unwrap();
        let mut first = Tx::new(&engine);
        first.put(Ks::Kv, vec![1], vec![1]);
        first.put(Ks::Kv, vec![2], vec![2]);
        assert!(first.commit());
        let mut second = Tx::new(&engine);
        second.del(Ks::Kv, vec![1]);
        second.put(Ks::Kv, vec![2], vec![3]);
        assert!(second.commit());
        // A request that is dropped (failed) leaves nothing.
        let mut dropped = Tx::new(&engine);
        dropped.put(Ks::Kv, vec![4], vec![4]);
        drop(dropped);
        assert!(!Tx::new(&engine).commit());
        assert!(engine.flush_pending().unwrap());
        let get = |k: u8| engine.ks(Ks::Kv).get([k]).unwrap().map(|v| v.to_vec());
        assert_eq!((get(1), get(2), get(4)), (None, Some(vec![3]), None));
    }
}
