//! The fjall database, its keyspaces, and a small write transaction with an overlay.

use std::collections::HashMap;
use std::path::Path;

use agentgate_store::{Result, StoreError};
use fjall::{Database, Keyspace, KeyspaceCreateOptions};

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
const MAX_JOURNAL_BYTES: u64 = 64 << 20;
/// Memtable size per keyspace.
const MEMTABLE_BYTES: u64 = 16 << 20;

/// The open database and its keyspaces.
pub(crate) struct Engine {
    pub db: Database,
    spaces: Vec<Keyspace>,
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
            .open()
            .map_err(unavailable)?;
        let mut spaces = Vec::with_capacity(ALL.len());
        for (i, (ks, name)) in ALL.iter().enumerate() {
            debug_assert_eq!(*ks as usize, i);
            let opts = || {
                KeyspaceCreateOptions::default()
                    .max_memtable_size(MEMTABLE_BYTES)
                    .manual_journal_persist(true)
            };
            spaces.push(db.keyspace(name, opts).map_err(unavailable)?);
        }
        Ok(Engine { db, spaces })
    }

    pub fn ks(&self, ks: Ks) -> &Keyspace {
        &self.spaces[ks as usize]
    }
}

/// One request's writes: reads see the request's own earlier writes (the overlay), and
/// [`Tx::commit`] writes them as one atomic batch (not yet fsync'd).
pub(crate) struct Tx<'a> {
    engine: &'a Engine,
    writes: HashMap<(Ks, Vec<u8>), Option<Vec<u8>>>,
}

impl<'a> Tx<'a> {
    pub fn new(engine: &'a Engine) -> Self {
        Tx {
            engine,
            writes: HashMap::new(),
        }
    }

    pub fn get(&self, ks: Ks, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.writes.get(&(ks, key.to_vec())) {
            return Ok(v.clone());
        }
        Ok(self
            .engine
            .ks(ks)
            .get(key)
            .map_err(unavailable)?
            .map(|v| v.to_vec()))
    }

    pub fn put(&mut self, ks: Ks, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert((ks, key), Some(value));
    }

    pub fn del(&mut self, ks: Ks, key: Vec<u8>) {
        self.writes.insert((ks, key), None);
    }

    /// Writes the batch; returns whether there was anything to write.
    pub fn commit(self) -> Result<bool> {
        if self.writes.is_empty() {
            return Ok(false);
        }
        let mut batch = self.engine.db.batch();
        for ((ks, key), value) in self.writes {
            match value {
                Some(v) => batch.insert(self.engine.ks(ks), key, v),
                None => batch.remove(self.engine.ks(ks), key),
            }
        }
        batch.commit().map_err(unavailable)?;
        Ok(true)
    }
}
