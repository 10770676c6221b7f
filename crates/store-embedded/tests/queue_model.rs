//! Model-based property test of the embedded backend's queues: random sequences of
//! enqueue, lease, ack, nack, dead-letter and purge on two queues that share item ids,
//! checked after every step against a plain in-memory model (state, attempts and
//! counts of every item). Leases never run out and delays are zero or very long, so the
//! model needs no clock.

use std::collections::BTreeMap;

use agentgate_store::{EnqueueOutcome, ItemState, MailboxStore, NewItem, Store};
use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};
use bytes::Bytes;
use proptest::prelude::*;
use uuid::Uuid;

const QUEUES: [&str; 2] = ["q-a", "q-b"];
const LEASE_MS: u64 = 3_600_000;
const LONG_DELAY_MS: u64 = 3_600_000;

#[derive(Clone, Debug)]
enum Op {
    Enqueue { queue: usize, id: u8 },
    Lease { queue: usize, max: usize },
    Ack { queue: usize, id: u8 },
    Nack { queue: usize, id: u8, later: bool },
    DeadLetter { queue: usize, id: u8 },
    Purge { queue: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let queue = 0..QUEUES.len();
    let id = 0u8..6;
    prop_oneof![
        4 => (queue.clone(), id.clone()).prop_map(|(queue, id)| Op::Enqueue { queue, id }),
        3 => (queue.clone(), 1usize..4).prop_map(|(queue, max)| Op::Lease { queue, max }),
        3 => (queue.clone(), id.clone()).prop_map(|(queue, id)| Op::Ack { queue, id }),
        2 => (queue.clone(), id.clone(), any::<bool>())
            .prop_map(|(queue, id, later)| Op::Nack { queue, id, later }),
        1 => (queue.clone(), id.clone()).prop_map(|(queue, id)| Op::DeadLetter { queue, id }),
        1 => queue.prop_map(|queue| Op::Purge { queue }),
    ]
}

/// One item in the model: its arrival order, state and lease count.
#[derive(Clone, Debug, PartialEq)]
struct Item {
    order: u64,
    state: ItemState,
    attempts: u32,
}

fn uuid(id: u8) -> Uuid {
    Uuid::from_u128(0x1000 + u128::from(id))
}

/// Runs `ops` against a fresh store and the model, comparing after every step.
async fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions { cache_mb: 8 }).unwrap();
    let mut model: Vec<BTreeMap<u8, Item>> = vec![BTreeMap::new(); QUEUES.len()];
    let mut order = 0u64;
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Enqueue { queue, id } => {
                let out = store
                    .enqueue(vec![NewItem {
                        queue: QUEUES[queue].into(),
                        id: uuid(id),
                        payload: Bytes::from(vec![id]),
                        not_before_ms: None,
                    }])
                    .await
                    .unwrap();
                let fresh = !model[queue].contains_key(&id);
                prop_assert_eq!(
                    matches!(out[0], EnqueueOutcome::Enqueued(_)),
                    fresh,
                    "step {}",
                    step
                );
                if fresh {
                    order += 1;
                    model[queue].insert(
                        id,
                        Item {
                            order,
                            state: ItemState::Ready,
                            attempts: 0,
                        },
                    );
                }
            }
            Op::Lease { queue, max } => {
                let got = store.lease(QUEUES[queue], max, LEASE_MS).await.unwrap();
                let mut ready: Vec<(u64, u8)> = model[queue]
                    .iter()
                    .filter(|(_, i)| i.state == ItemState::Ready)
                    .map(|(id, i)| (i.order, *id))
                    .collect();
                ready.sort_unstable();
                let want: Vec<Uuid> = ready.iter().take(max).map(|(_, id)| uuid(*id)).collect();
                let ids: Vec<Uuid> = got.iter().map(|i| i.id).collect();
                prop_assert_eq!(ids, want, "step {}: lease order", step);
                for item in got {
                    let id = item.payload[0];
                    let m = model[queue].get_mut(&id).unwrap();
                    m.state = ItemState::Leased;
                    m.attempts += 1;
                    prop_assert_eq!(item.attempts, m.attempts, "step {}", step);
                }
            }
            Op::Ack { queue, id } => {
                let present = store.ack(QUEUES[queue], uuid(id)).await.unwrap();
                prop_assert_eq!(present, model[queue].remove(&id).is_some(), "step {}", step);
            }
            Op::Nack { queue, id, later } => {
                let delay = if later { LONG_DELAY_MS } else { 0 };
                let present = store
                    .nack(QUEUES[queue], uuid(id), delay, Some("e".into()))
                    .await
                    .unwrap();
                prop_assert_eq!(present, model[queue].contains_key(&id), "step {}", step);
                if let Some(m) = model[queue].get_mut(&id)
                    && m.state != ItemState::Dead
                {
                    m.state = if later {
                        ItemState::Delayed
                    } else {
                        ItemState::Ready
                    };
                }
            }
            Op::DeadLetter { queue, id } => {
                let present = store
                    .dead_letter(QUEUES[queue], uuid(id), "dead".into())
                    .await
                    .unwrap();
                prop_assert_eq!(present, model[queue].contains_key(&id), "step {}", step);
                if let Some(m) = model[queue].get_mut(&id) {
                    m.state = ItemState::Dead;
                }
            }
            Op::Purge { queue } => {
                store.purge(QUEUES[queue]).await.unwrap();
                model[queue].clear();
            }
        }
        for (q, items) in model.iter().enumerate() {
            for id in 0u8..6 {
                let stored = store.get(QUEUES[q], uuid(id)).await.unwrap();
                let seen = stored.map(|i| (i.state, i.attempts));
                let want = items.get(&id).map(|i| (i.state, i.attempts));
                prop_assert_eq!(seen, want, "step {}: {} item {}", step, QUEUES[q], id);
            }
            let stats = store.stats(QUEUES[q]).await.unwrap();
            let count = |s: ItemState| items.values().filter(|i| i.state == s).count() as u64;
            prop_assert_eq!(
                (stats.ready, stats.delayed, stats.leased, stats.dead),
                (
                    count(ItemState::Ready),
                    count(ItemState::Delayed),
                    count(ItemState::Leased),
                    count(ItemState::Dead)
                ),
                "step {}: {} counts",
                step,
                QUEUES[q]
            );
        }
    }
    store.close().await.unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn queues_behave_like_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(check(ops))?;
    }
}
