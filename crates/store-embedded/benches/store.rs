//! Hot paths of the embedded store: durable enqueue under concurrency (group commit) and
//! lease + ack churn. Run with `cargo bench -p agentgate-store-embedded --bench store`.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agentgate_store::{MailboxStore, NewItem};
use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use uuid::Uuid;

const PAYLOAD: usize = 1024;
const WRITERS: usize = 64;
const LEASE: usize = 16;

fn payload(seed: u64) -> Bytes {
    // Incompressible bytes (xorshift), like encrypted or compressed message bodies.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(PAYLOAD);
    while v.len() < PAYLOAD {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    Bytes::from(v)
}

fn item(queue: &str, seed: u64) -> NewItem {
    NewItem {
        queue: queue.into(),
        id: Uuid::new_v4(),
        payload: payload(seed),
        not_before_ms: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `WRITERS` tasks, each enqueueing single 1 KiB items and waiting for durability.
fn enqueue(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap());
    let mut group = c.benchmark_group("enqueue");
    group.throughput(Throughput::Elements(WRITERS as u64));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("64_concurrent_writers_1KiB", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                // Writers take items from a shared count so that all of them stay busy
                // until the end (no tail of a few slow writers with tiny groups).
                let left = Arc::new(AtomicU64::new(iters * WRITERS as u64));
                let start = Instant::now();
                let tasks: Vec<_> = (0..WRITERS)
                    .map(|w| {
                        let (store, left) = (store.clone(), left.clone());
                        tokio::spawn(async move {
                            let q = format!("inbox.q{}", w % 16);
                            while left.fetch_sub(1, Ordering::Relaxed) as i64 > 0 {
                                store.enqueue(vec![item(&q, w as u64)]).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// Lease 16 items, then ack each one (concurrently), repeatedly.
fn lease_ack(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap());
    let mut group = c.benchmark_group("lease_ack");
    group.throughput(Throughput::Elements(LEASE as u64));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("lease_16_ack_each_1KiB", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let q = "inbox.churn";
                let needed = iters as usize * LEASE;
                let mut n = 0;
                while n < needed {
                    let batch: Vec<_> = (0..256).map(|i| item(q, (n + i) as u64)).collect();
                    store.enqueue(batch).await.unwrap();
                    n += 256;
                }
                let start = Instant::now();
                for _ in 0..iters {
                    let leased = store.lease(q, LEASE, 60_000).await.unwrap();
                    assert_eq!(leased.len(), LEASE);
                    let acks = leased.into_iter().map(|it| {
                        let store = store.clone();
                        tokio::spawn(async move { store.ack(q, it.id).await.unwrap() })
                    });
                    for a in acks.collect::<Vec<_>>() {
                        assert!(a.await.unwrap());
                    }
                }
                let elapsed = start.elapsed();
                // Drain the surplus so the next sample starts from the same state.
                loop {
                    let rest = store.lease(q, 1000, 60_000).await.unwrap();
                    if rest.is_empty() {
                        break;
                    }
                    for it in rest {
                        store.ack(q, it.id).await.unwrap();
                    }
                }
                elapsed
            })
        })
    });
    group.finish();
}

criterion_group!(benches, enqueue, lease_ack);
criterion_main!(benches);
