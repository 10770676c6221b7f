//! Engine comparison harness for ADR 0002: fjall (LSM) vs redb (B-tree) on agentgate's
//! mailbox workload, outside the store so each engine is driven the same way.
//!
//! The layout mirrors a durable queue: `payload[q,seq]`, `meta[q,seq]`, `ids[q,id] -> seq`
//! and a lease index `idx[q,available_at,seq]`. One writer thread owns the engine, drains a
//! channel of requests, applies them, fsyncs once per group and then answers every caller
//! (group commit).
//!
//! ```text
//! engine_compare <fjall|redb|redb-quick> enqueue <dir> <writers> <items>
//! engine_compare <engine> churn <dir> <workers> <items>
//! engine_compare <engine> fill <dir> <items> <clean|crash>
//! engine_compare <engine> reopen <dir>
//! ```
#![allow(missing_docs)]

use std::path::Path;
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const QUEUES: u16 = 16;
const PAYLOAD: usize = 1024;

enum Op {
    Enqueue { q: u16, id: u128, payload: Vec<u8> },
    Lease { q: u16, max: usize, lease_ms: u64 },
    Ack { q: u16, id: u128 },
}

enum Out {
    Seq(u64),
    Leased(Vec<u128>),
    Acked(bool),
}

struct Pending {
    ops: Vec<Op>,
    reply: tokio::sync::oneshot::Sender<Vec<Out>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn k_seq(q: u16, seq: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(&q.to_be_bytes());
    k[2..].copy_from_slice(&seq.to_be_bytes());
    k
}
fn k_id(q: u16, id: u128) -> [u8; 18] {
    let mut k = [0u8; 18];
    k[..2].copy_from_slice(&q.to_be_bytes());
    k[2..].copy_from_slice(&id.to_be_bytes());
    k
}
fn k_idx(q: u16, at: u64, seq: u64) -> [u8; 18] {
    let mut k = [0u8; 18];
    k[..2].copy_from_slice(&q.to_be_bytes());
    k[2..10].copy_from_slice(&at.to_be_bytes());
    k[10..].copy_from_slice(&seq.to_be_bytes());
    k
}
/// meta = id(16) attempts(4) available_at(8)
fn meta(id: u128, attempts: u32, at: u64) -> [u8; 28] {
    let mut m = [0u8; 28];
    m[..16].copy_from_slice(&id.to_be_bytes());
    m[16..20].copy_from_slice(&attempts.to_be_bytes());
    m[20..].copy_from_slice(&at.to_be_bytes());
    m
}
fn unmeta(m: &[u8]) -> (u128, u32, u64) {
    (
        u128::from_be_bytes(m[..16].try_into().unwrap()),
        u32::from_be_bytes(m[16..20].try_into().unwrap()),
        u64::from_be_bytes(m[20..28].try_into().unwrap()),
    )
}

trait Engine: Send + 'static {
    /// Applies a group of requests in one atomic, durable commit.
    fn apply(&mut self, group: &mut [Pending]) -> Vec<Vec<Out>>;
    fn close(self: Box<Self>);
}

// ------------------------------------------------------------------------------ fjall

mod fj {
    use super::*;
    use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

    pub struct Fjall {
        db: Database,
        payload: Keyspace,
        meta: Keyspace,
        ids: Keyspace,
        idx: Keyspace,
        sys: Keyspace,
        seq: u64,
        /// Per queue: no live lease-index entry is below this `available_at`, so a lease
        /// scan starts here instead of walking the tombstones of earlier leases and acks.
        floor: std::collections::HashMap<u16, u64>,
    }

    impl Fjall {
        pub fn open(dir: &Path) -> Self {
            let db = Database::builder(dir)
                .cache_size(64 << 20)
                .manual_journal_persist(true)
                // Bounds crash recovery: at most this much journal is replayed on open.
                .max_journaling_size(64 << 20)
                .open()
                .unwrap();
            let ks = |n: &str| {
                db.keyspace(n, || {
                    KeyspaceCreateOptions::default().max_memtable_size(16 << 20)
                })
                .unwrap()
            };
            let (payload, meta, ids, idx, sys) =
                (ks("payload"), ks("meta"), ks("ids"), ks("idx"), ks("sys"));
            let seq = sys
                .get("seq")
                .unwrap()
                .map(|v| u64::from_be_bytes((&*v).try_into().unwrap()))
                .unwrap_or(0);
            Fjall {
                db,
                payload,
                meta,
                ids,
                idx,
                sys,
                seq,
                floor: Default::default(),
            }
        }
    }

    impl Engine for Fjall {
        fn apply(&mut self, group: &mut [Pending]) -> Vec<Vec<Out>> {
            let mut all = Vec::with_capacity(group.len());
            let now = now_ms();
            for p in group.iter_mut() {
                // One batch per request so later requests of the group read its effects;
                // the group is made durable by the single persist below.
                let mut b = self.db.batch();
                let mut outs = Vec::new();
                for op in p.ops.drain(..) {
                    match op {
                        Op::Enqueue { q, id, payload } => {
                            if let Some(s) = self.ids.get(k_id(q, id)).unwrap() {
                                outs.push(Out::Seq(u64::from_be_bytes((&*s).try_into().unwrap())));
                                continue;
                            }
                            self.seq += 1;
                            let s = self.seq;
                            b.insert(&self.ids, k_id(q, id), s.to_be_bytes());
                            b.insert(&self.payload, k_seq(q, s), payload);
                            b.insert(&self.meta, k_seq(q, s), meta(id, 0, now));
                            b.insert(&self.idx, k_idx(q, now, s), []);
                            let f = self.floor.entry(q).or_insert(0);
                            *f = (*f).min(now);
                            outs.push(Out::Seq(s));
                        }
                        Op::Lease { q, max, lease_ms } => {
                            let floor = self.floor.get(&q).copied().unwrap_or(0);
                            let lo = k_idx(q, floor, 0);
                            let hi = k_idx(q, now, u64::MAX);
                            let mut got = Vec::new();
                            let mut it = self.idx.range(lo..=hi);
                            let mut next_floor = now;
                            loop {
                                let Some(g) = it.next() else { break };
                                let k = g.key().unwrap();
                                if got.len() == max {
                                    next_floor = u64::from_be_bytes(k[2..10].try_into().unwrap());
                                    break;
                                }
                                let s = u64::from_be_bytes(k[10..18].try_into().unwrap());
                                let m = self.meta.get(k_seq(q, s)).unwrap().unwrap();
                                let (id, att, _) = unmeta(&m);
                                let until = now + lease_ms;
                                b.remove_weak(&self.idx, k.to_vec());
                                b.insert(&self.idx, k_idx(q, until, s), []);
                                b.insert(&self.meta, k_seq(q, s), meta(id, att + 1, until));
                                got.push(id);
                            }
                            // Entries inserted later at or after `now` keep the invariant;
                            // lease-until entries are > now.
                            self.floor.insert(q, next_floor.min(now));
                            outs.push(Out::Leased(got));
                        }
                        Op::Ack { q, id } => {
                            let Some(s) = self.ids.get(k_id(q, id)).unwrap() else {
                                outs.push(Out::Acked(false));
                                continue;
                            };
                            let s = u64::from_be_bytes((&*s).try_into().unwrap());
                            let m = self.meta.get(k_seq(q, s)).unwrap().unwrap();
                            let (_, _, at) = unmeta(&m);
                            b.remove_weak(&self.idx, k_idx(q, at, s));
                            b.remove(&self.ids, k_id(q, id));
                            b.remove(&self.meta, k_seq(q, s));
                            b.remove(&self.payload, k_seq(q, s));
                            outs.push(Out::Acked(true));
                        }
                    }
                }
                b.commit().unwrap();
                all.push(outs);
            }
            self.sys.insert("seq", self.seq.to_be_bytes()).unwrap();
            self.db.persist(PersistMode::SyncData).unwrap();
            all
        }
        fn close(self: Box<Self>) {
            self.db.persist(PersistMode::SyncAll).unwrap();
        }
    }
}

// ------------------------------------------------------------------------------ redb

mod rd {
    use super::*;
    use redb::{Database, Durability, ReadableTable, TableDefinition};

    const PAYLOAD_T: TableDefinition<&[u8], &[u8]> = TableDefinition::new("payload");
    const META_T: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
    const IDS_T: TableDefinition<&[u8], u64> = TableDefinition::new("ids");
    const IDX_T: TableDefinition<&[u8], ()> = TableDefinition::new("idx");
    const SYS_T: TableDefinition<&str, u64> = TableDefinition::new("sys");

    pub struct Redb {
        db: Database,
        seq: u64,
        quick_repair: bool,
    }

    impl Redb {
        pub fn open(dir: &Path, quick_repair: bool) -> Self {
            std::fs::create_dir_all(dir).unwrap();
            let db = Database::builder()
                .set_cache_size(64 << 20)
                .create(dir.join("store.redb"))
                .unwrap();
            let tx = db.begin_write().unwrap();
            let seq = {
                let sys = tx.open_table(SYS_T).unwrap();
                let v = sys.get("seq").unwrap().map(|g| g.value()).unwrap_or(0);
                tx.open_table(PAYLOAD_T).unwrap();
                tx.open_table(META_T).unwrap();
                tx.open_table(IDX_T).unwrap();
                tx.open_table(IDS_T).unwrap();
                v
            };
            tx.commit().unwrap();
            Redb {
                db,
                seq,
                quick_repair,
            }
        }
    }

    impl Engine for Redb {
        fn apply(&mut self, group: &mut [Pending]) -> Vec<Vec<Out>> {
            let mut tx = self.db.begin_write().unwrap();
            tx.set_durability(Durability::Immediate).unwrap();
            tx.set_quick_repair(self.quick_repair);
            let now = now_ms();
            let mut all = Vec::with_capacity(group.len());
            {
                let mut payload_t = tx.open_table(PAYLOAD_T).unwrap();
                let mut meta_t = tx.open_table(META_T).unwrap();
                let mut ids_t = tx.open_table(IDS_T).unwrap();
                let mut idx_t = tx.open_table(IDX_T).unwrap();
                for p in group.iter_mut() {
                    let mut outs = Vec::new();
                    for op in p.ops.drain(..) {
                        match op {
                            Op::Enqueue { q, id, payload } => {
                                let kid = k_id(q, id);
                                if let Some(s) = ids_t.get(&kid[..]).unwrap() {
                                    outs.push(Out::Seq(s.value()));
                                    continue;
                                }
                                self.seq += 1;
                                let s = self.seq;
                                ids_t.insert(&kid[..], s).unwrap();
                                payload_t.insert(&k_seq(q, s)[..], &payload[..]).unwrap();
                                meta_t
                                    .insert(&k_seq(q, s)[..], &meta(id, 0, now)[..])
                                    .unwrap();
                                idx_t.insert(&k_idx(q, now, s)[..], ()).unwrap();
                                outs.push(Out::Seq(s));
                            }
                            Op::Lease { q, max, lease_ms } => {
                                let lo = k_idx(q, 0, 0);
                                let hi = k_idx(q, now, u64::MAX);
                                let keys: Vec<Vec<u8>> = idx_t
                                    .range(&lo[..]..=&hi[..])
                                    .unwrap()
                                    .take(max)
                                    .map(|r| r.unwrap().0.value().to_vec())
                                    .collect();
                                let mut got = Vec::new();
                                for k in keys {
                                    let s = u64::from_be_bytes(k[10..18].try_into().unwrap());
                                    let (id, att, _) = {
                                        let m = meta_t.get(&k_seq(q, s)[..]).unwrap().unwrap();
                                        unmeta(m.value())
                                    };
                                    let until = now + lease_ms;
                                    idx_t.remove(&k[..]).unwrap();
                                    idx_t.insert(&k_idx(q, until, s)[..], ()).unwrap();
                                    meta_t
                                        .insert(&k_seq(q, s)[..], &meta(id, att + 1, until)[..])
                                        .unwrap();
                                    got.push(id);
                                }
                                outs.push(Out::Leased(got));
                            }
                            Op::Ack { q, id } => {
                                let kid = k_id(q, id);
                                let Some(s) = ids_t.remove(&kid[..]).unwrap().map(|g| g.value())
                                else {
                                    outs.push(Out::Acked(false));
                                    continue;
                                };
                                let at = {
                                    let m = meta_t.remove(&k_seq(q, s)[..]).unwrap().unwrap();
                                    unmeta(m.value()).2
                                };
                                idx_t.remove(&k_idx(q, at, s)[..]).unwrap();
                                payload_t.remove(&k_seq(q, s)[..]).unwrap();
                                outs.push(Out::Acked(true));
                            }
                        }
                    }
                    all.push(outs);
                }
                tx.open_table(SYS_T)
                    .unwrap()
                    .insert("seq", self.seq)
                    .unwrap();
            }
            tx.commit().unwrap();
            all
        }
        fn close(self: Box<Self>) {
            drop(self.db);
        }
    }
}

// ------------------------------------------------------------------------------ driver

fn open(engine: &str, dir: &Path) -> Box<dyn Engine> {
    match engine {
        "fjall" => Box::new(fj::Fjall::open(dir)),
        "redb" => Box::new(rd::Redb::open(dir, false)),
        "redb-quick" => Box::new(rd::Redb::open(dir, true)),
        other => panic!("unknown engine {other}"),
    }
}

struct Stats {
    groups: u64,
    requests: u64,
}

/// Starts the writer thread; returns the request channel and a join handle yielding stats.
fn start(
    mut engine: Box<dyn Engine>,
    crash_on_exit: bool,
) -> (mpsc::Sender<Pending>, std::thread::JoinHandle<Stats>) {
    let (tx, rx) = mpsc::channel::<Pending>();
    let h = std::thread::spawn(move || {
        let mut st = Stats {
            groups: 0,
            requests: 0,
        };
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            while group.len() < 4096 {
                match rx.try_recv() {
                    Ok(p) => group.push(p),
                    Err(_) => break,
                }
            }
            let outs = engine.apply(&mut group);
            st.groups += 1;
            st.requests += group.len() as u64;
            for (p, o) in group.into_iter().zip(outs) {
                let _ = p.reply.send(o);
            }
        }
        if crash_on_exit {
            std::mem::forget(engine);
        } else {
            engine.close();
        }
        st
    });
    (tx, h)
}

async fn call(tx: &mpsc::Sender<Pending>, ops: Vec<Op>) -> Vec<Out> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    tx.send(Pending { ops, reply }).unwrap();
    rx.await.unwrap()
}

fn rss() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            dir_size(&e.path())
        } else {
            m.len()
        };
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (engine, phase, dir) = (&args[1], &args[2], Path::new(&args[3]));
    let num = |i: usize| args[i].parse::<u64>().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match phase.as_str() {
        "enqueue" => {
            let (writers, items) = (num(4), num(5));
            let (tx, h) = start(open(engine, dir), false);
            let t = Instant::now();
            rt.block_on(async {
                let mut js = Vec::new();
                for w in 0..writers {
                    let tx = tx.clone();
                    js.push(tokio::spawn(async move {
                        let mut i = w;
                        while i < items {
                            let op = Op::Enqueue {
                                q: (i % QUEUES as u64) as u16,
                                id: (i as u128) << 64 | 0xabc,
                                payload: random_payload(i),
                            };
                            let out = call(&tx, vec![op]).await;
                            assert!(matches!(out[0], Out::Seq(s) if s > 0));
                            i += writers;
                        }
                    }));
                }
                for j in js {
                    j.await.unwrap();
                }
            });
            let el = t.elapsed();
            drop(tx);
            let st = h.join().unwrap();
            println!(
                "{engine} enqueue: {items} x 1 KiB items, {writers} writers: {:.2} s, {:.0} items/s, {} fsync groups (avg {:.1} req/group)",
                el.as_secs_f64(),
                items as f64 / el.as_secs_f64(),
                st.groups,
                st.requests as f64 / st.groups as f64
            );
        }
        "churn" => {
            let (workers, items) = (num(4), num(5));
            let (tx, h) = start(open(engine, dir), false);
            let t = Instant::now();
            let done = rt.block_on(async {
                let mut js = Vec::new();
                for w in 0..workers {
                    let tx = tx.clone();
                    let per = items / workers;
                    js.push(tokio::spawn(async move {
                        let q = (w % QUEUES as u64) as u16;
                        let mut n = 0u64;
                        while n < per {
                            let out = call(
                                &tx,
                                vec![Op::Lease {
                                    q,
                                    max: 16,
                                    lease_ms: 30_000,
                                }],
                            )
                            .await;
                            let Out::Leased(ids) = &out[0] else {
                                unreachable!()
                            };
                            if ids.is_empty() {
                                break;
                            }
                            let acks = ids.iter().map(|&id| {
                                let tx = tx.clone();
                                async move { call(&tx, vec![Op::Ack { q, id }]).await }
                            });
                            for o in futures_join(acks).await {
                                assert!(matches!(o[0], Out::Acked(true)));
                            }
                            n += ids.len() as u64;
                        }
                        n
                    }));
                }
                let mut total = 0;
                for j in js {
                    total += j.await.unwrap();
                }
                total
            });
            let el = t.elapsed();
            drop(tx);
            let st = h.join().unwrap();
            println!(
                "{engine} churn: {done} items leased (16 per lease) and acked one by one, {workers} workers: {:.2} s, {:.0} items/s, {} fsync groups",
                el.as_secs_f64(),
                done as f64 / el.as_secs_f64(),
                st.groups
            );
        }
        "fill" => {
            let items = num(4);
            let crash = args[5] == "crash";
            let (tx, h) = start(open(engine, dir), crash);
            let t = Instant::now();
            rt.block_on(async {
                let mut js = Vec::new();
                let writers = 32u64;
                for w in 0..writers {
                    let tx = tx.clone();
                    js.push(tokio::spawn(async move {
                        let mut i = w * 64;
                        while i < items {
                            let ops = (i..(i + 64).min(items))
                                .map(|k| Op::Enqueue {
                                    q: (k % QUEUES as u64) as u16,
                                    id: (k as u128) << 64 | 0xf111,
                                    payload: random_payload(k),
                                })
                                .collect();
                            call(&tx, ops).await;
                            i += writers * 64;
                        }
                    }));
                }
                for j in js {
                    j.await.unwrap();
                }
            });
            let el = t.elapsed();
            drop(tx);
            h.join().unwrap();
            println!(
                "{engine} fill: {items} items in {:.1} s ({:.0} items/s, batches of 64); on disk {} MiB; exit {}",
                el.as_secs_f64(),
                items as f64 / el.as_secs_f64(),
                dir_size(dir) >> 20,
                if crash {
                    "without close (crash)"
                } else {
                    "clean"
                }
            );
            if crash {
                std::process::exit(0);
            }
        }
        "reopen" => {
            let t = Instant::now();
            let engine_box = open(engine, dir);
            let opened = t.elapsed();
            let (tx, h) = start(engine_box, false);
            let leased = rt.block_on(async {
                let out = call(
                    &tx,
                    vec![Op::Lease {
                        q: 3,
                        max: 16,
                        lease_ms: 30_000,
                    }],
                )
                .await;
                let Out::Leased(ids) = &out[0] else {
                    unreachable!()
                };
                ids.len()
            });
            let first = t.elapsed();
            println!(
                "{engine} reopen: open {:.3} s, first lease ({leased} items) at {:.3} s; {}",
                opened.as_secs_f64(),
                first.as_secs_f64(),
                rss()
            );
            drop(tx);
            h.join().unwrap();
        }
        other => panic!("unknown phase {other}"),
    }
}

/// Awaits all futures concurrently (a tiny join_all without the futures crate).
async fn futures_join<F: std::future::Future<Output = Vec<Out>> + Send + 'static>(
    it: impl Iterator<Item = F>,
) -> Vec<Vec<Out>> {
    let hs: Vec<_> = it.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in hs {
        out.push(h.await.unwrap());
    }
    out
}

/// 1 KiB of incompressible bytes (xorshift), so compression does not flatter either engine.
fn random_payload(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(PAYLOAD);
    while v.len() < PAYLOAD {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}
