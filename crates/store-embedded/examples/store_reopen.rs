//! Fills an embedded store with many 1 KiB queue items, then measures how long a
//! reopen takes until the store serves a lease, and the process's memory.
//!
//! ```text
//! store_reopen fill <dir> <items> <clean|crash>   # crash: exit without closing
//! store_reopen reopen <dir>
//! ```
//! Run each phase in its own process so that RSS reflects the reopen alone.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use agentgate_store::{MailboxStore, NewItem, Store};
use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};
use bytes::Bytes;
use uuid::Uuid;

const QUEUES: u64 = 16;

fn payload(seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(1024);
    while v.len() < 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    Bytes::from(v)
}

fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: store_reopen fill <dir> <items> <clean|crash> | reopen <dir>";
    let (phase, dir) = (
        args.get(1).expect(usage),
        Path::new(args.get(2).expect(usage)),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    match phase.as_str() {
        "fill" => {
            let items: u64 = args.get(3).expect(usage).parse().unwrap();
            let crash = args.get(4).map(String::as_str) == Some("crash");
            let store = Arc::new(EmbeddedStore::open(dir, EmbeddedOptions::default()).unwrap());
            let start = Instant::now();
            rt.block_on(async {
                let writers = 32;
                let tasks: Vec<_> = (0..writers)
                    .map(|w| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            let mut i = w * 64;
                            while i < items {
                                let batch = (i..(i + 64).min(items))
                                    .map(|k| NewItem {
                                        queue: format!("inbox.q{}", k % QUEUES),
                                        id: Uuid::new_v4(),
                                        payload: payload(k),
                                        not_before_ms: None,
                                    })
                                    .collect();
                                store.enqueue(batch).await.unwrap();
                                i += writers * 64;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
            let secs = start.elapsed().as_secs_f64();
            println!(
                "fill: {items} items in {secs:.1} s ({:.0} items/s, 32 writers x 64-item batches); {} MiB on disk; {}",
                items as f64 / secs,
                dir_size(dir) >> 20,
                if crash {
                    "exiting without close"
                } else {
                    "closing"
                }
            );
            if crash {
                std::process::exit(0);
            }
            rt.block_on(store.close()).unwrap();
        }
        "reopen" => {
            let start = Instant::now();
            let store = EmbeddedStore::open(dir, EmbeddedOptions::default()).unwrap();
            let opened = start.elapsed().as_secs_f64();
            let (leased, stats) = rt.block_on(async {
                let leased = store.lease("inbox.q3", 16, 30_000).await.unwrap().len();
                (leased, store.stats("inbox.q3").await.unwrap())
            });
            let first = start.elapsed().as_secs_f64();
            let t = Instant::now();
            let stats_ms = rt.block_on(async {
                store.stats("inbox.q5").await.unwrap();
                t.elapsed().as_secs_f64() * 1000.0
            });
            println!(
                "reopen: open {opened:.3} s, first lease ({leased} items) + stats at {first:.3} s; \
                 stats of a {}-item queue {stats_ms:.1} ms; {}",
                stats.total(),
                memory()
            );
            rt.block_on(store.close()).unwrap();
        }
        _ => panic!("{usage}"),
    }
}
