//! Durable single-item enqueue throughput of the embedded store with many concurrent
//! writers (group commit), and lease + ack churn with several consumers.
//!
//! ```text
//! store_throughput <dir> <writers> <items> <consumers>
//! store_throughput <dir> <writers> <messages> <recipients> gateway
//! ```
//!
//! `gateway` mode issues, per message, the storage calls of the gateway's durable
//! accept (`POST /v1/messages`): the message record and an idempotency record created
//! concurrently (`create` in two TTL buckets), then one atomic `enqueue` of the inbox
//! item concurrently with two index `put`s (sender and recipient), all in TTL buckets.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use agentgate_store::{BucketConfig, KvStore, MailboxStore, NewItem, Store};
use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};
use bytes::Bytes;
use uuid::Uuid;

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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: store_throughput <dir> <writers> <items> <consumers>";
    let dir = Path::new(args.get(1).expect(usage));
    let num = |i: usize| -> u64 { args.get(i).expect(usage).parse().expect(usage) };
    let (writers, items, consumers) = (num(2), num(3), num(4));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir, EmbeddedOptions::default()).unwrap());
    if args.get(5).map(String::as_str) == Some("gateway") {
        rt.block_on(gateway_mix(store, writers, items, consumers));
        return;
    }
    rt.block_on(async {
        let c0 = store.commit_counters();
        let start = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut i = w;
                    while i < items {
                        let it = NewItem {
                            queue: format!("inbox.q{}", i % consumers),
                            id: Uuid::new_v4(),
                            payload: payload(i),
                            not_before_ms: None,
                        };
                        store.enqueue(vec![it]).await.unwrap();
                        i += writers;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let c1 = store.commit_counters();
        println!(
            "enqueue: {items} x 1 KiB, one item per call, {writers} writers: {secs:.2} s, {:.0} items/s, {} fsync groups (avg {:.1} writes/group)",
            items as f64 / secs,
            c1.groups - c0.groups,
            (c1.writes - c0.writes) as f64 / (c1.groups - c0.groups) as f64
        );

        let start = Instant::now();
        let tasks: Vec<_> = (0..consumers)
            .map(|c| {
                let store = store.clone();
                tokio::spawn(async move {
                    let q = format!("inbox.q{c}");
                    let mut n = 0u64;
                    loop {
                        let leased = store.lease(&q, 16, 30_000).await.unwrap();
                        if leased.is_empty() {
                            break n;
                        }
                        let acks: Vec<_> = leased
                            .iter()
                            .map(|it| {
                                let (store, q, id) = (store.clone(), q.clone(), it.id);
                                tokio::spawn(async move { store.ack(&q, id).await.unwrap() })
                            })
                            .collect();
                        for a in acks {
                            assert!(a.await.unwrap());
                        }
                        n += leased.len() as u64;
                    }
                })
            })
            .collect();
        let mut done = 0;
        for t in tasks {
            done += t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "lease+ack: {done} items, {consumers} consumers each leasing 16 and acking each one: {secs:.2} s, {:.0} items/s",
            done as f64 / secs
        );
        store.close().await.unwrap();
    });
}

/// The gateway's accept mix, `messages` messages from `writers` concurrent senders.
async fn gateway_mix(store: Arc<EmbeddedStore>, writers: u64, messages: u64, recipients: u64) {
    const DAY: u64 = 86_400_000;
    for name in ["messages", "idempotency", "message_index"] {
        store
            .ensure_bucket(&BucketConfig {
                name: name.into(),
                ttl_ms: Some(DAY),
            })
            .await
            .unwrap();
    }
    let mut lat = Vec::with_capacity(messages as usize);
    let c0 = store.commit_counters();
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = w;
                while i < messages {
                    let t = Instant::now();
                    let id = Uuid::now_v7();
                    let id_key = format!("m.{}", id.simple());
                    let idem = format!("s{}.k{i}", w);
                    let record = payload(i);
                    let (m, k) = tokio::join!(
                        store.create("messages", &id_key, record.clone()),
                        store.create("idempotency", &idem, Bytes::from(id_key.clone())),
                    );
                    m.unwrap();
                    k.unwrap();
                    let item = NewItem {
                        queue: format!("inbox.r{}", i % recipients),
                        id,
                        payload: record,
                        not_before_ms: None,
                    };
                    let sent = format!("s{w}.{}.{}", t.elapsed().as_nanos(), id.simple());
                    let rcvd = format!("r{}.{}", i % recipients, id.simple());
                    let (e, s, r) = tokio::join!(
                        store.enqueue(vec![item]),
                        store.put("message_index", &sent, Bytes::from_static(&[1])),
                        store.put("message_index", &rcvd, Bytes::from_static(&[2])),
                    );
                    e.unwrap();
                    s.unwrap();
                    r.unwrap();
                    lat.push(t.elapsed().as_micros() as u64);
                    i += writers;
                }
                lat
            })
        })
        .collect();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    let c1 = store.commit_counters();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    println!(
        "gateway mix: {messages} messages (5 store calls each), {writers} writers: {secs:.2} s, {:.0} messages/s, p50 {:.1} ms, p99 {:.1} ms, {} fsync groups (avg {:.1} writes/group)",
        messages as f64 / secs,
        pct(0.5),
        pct(0.99),
        c1.groups - c0.groups,
        (c1.writes - c0.writes) as f64 / (c1.groups - c0.groups) as f64
    );
    store.close().await.unwrap();
}
