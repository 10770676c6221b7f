//! The conformance suite: the storage ports' semantics, stated as tests that every
//! backend runs.
//!
//! Each `pub async fn` checks one behaviour against a fresh, empty [`Store`]. The
//! [`conformance_suite!`](crate::conformance_suite) macro turns them all into
//! `#[tokio::test]`s for one backend:
//!
//! ```ignore
//! // crates/<backend>/tests/conformance.rs (needs tokio as a dev-dependency)
//! agentgate_store::conformance_suite!(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = MyStore::open(dir.path()).unwrap();
//!     (store, dir) // the store, and whatever must outlive it
//! });
//! ```
//!
//! The factory is called once per test and returns `(store, guard)`: the guard (a
//! temporary directory, a child `nats-server`, or `()`) is dropped only after the test
//! has closed and dropped the store.
//!
//! Behaviours are phrased as port semantics, never as one backend's internals. Timing:
//! leases, delays and TTLs are at most 300 ms; a "still hidden" assertion is made only
//! while the caller can prove the deadline has not passed (it measures from before the
//! call), and "eventually visible" is polled with a generous bound, so a slow machine
//! never makes a test fail for the wrong reason.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use tokio::time::{Instant, sleep};
use uuid::Uuid;

use crate::{
    BucketConfig, EnqueueOutcome, ExpectedVersion, ItemState, KvStore, MailboxStore, NewEvent,
    NewItem, QueueItem, QueueStats, Snapshot, Store, StoreError, Write, Written,
};

/// How long "eventually" waits before a test fails.
const EVENTUALLY: Duration = Duration::from_secs(5);
/// Leases, delays and TTLs used by the timing tests.
const SHORT_MS: u64 = 300;
/// A lease or delay long enough never to run out during a test.
const LONG_MS: u64 = 600_000;

/// Polls `f` until it yields `Some`, failing the test after [`EVENTUALLY`].
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + EVENTUALLY;
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(20)).await;
    }
}

/// Whether less than `ms` has passed since `start`, with a safety margin.
fn still_within(start: Instant, ms: u64) -> bool {
    start.elapsed() < Duration::from_millis(ms * 2 / 3)
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn item(queue: &str, payload: &str) -> NewItem {
    NewItem {
        queue: queue.into(),
        id: Uuid::new_v4(),
        payload: b(payload),
        not_before_ms: None,
    }
}

fn event(kind: &str, data: &str) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        kind: kind.into(),
        data: b(data),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn bucket(store: &dyn Store, name: &str, ttl_ms: Option<u64>) {
    store
        .ensure_bucket(&BucketConfig {
            name: name.into(),
            ttl_ms,
        })
        .await
        .expect("ensure_bucket");
}

async fn enqueue_one(store: &dyn Store, it: NewItem) -> u64 {
    match store.enqueue(vec![it]).await.expect("enqueue")[..] {
        [EnqueueOutcome::Enqueued(seq)] => seq,
        ref other => panic!("expected one Enqueued, got {other:?}"),
    }
}

async fn lease(store: &dyn Store, queue: &str, max: usize, lease_ms: u64) -> Vec<QueueItem> {
    store.lease(queue, max, lease_ms).await.expect("lease")
}

async fn qget(store: &dyn Store, queue: &str, id: Uuid) -> Option<QueueItem> {
    MailboxStore::get(store, queue, id).await.expect("get item")
}

async fn kget(store: &dyn Store, bucket: &str, key: &str) -> Option<crate::KvEntry> {
    KvStore::get(store, bucket, key).await.expect("get key")
}

fn is_invalid<T: std::fmt::Debug>(r: crate::Result<T>) -> bool {
    matches!(r, Err(StoreError::InvalidArgument(_)))
}

// =======================================================================================
// Key/value

/// A key never written reads as `None`.
pub async fn kv_get_absent_is_none(store: &dyn Store) {
    bucket(store, "kv-absent", None).await;
    assert_eq!(kget(store, "kv-absent", "nope").await, None);
}

/// `put` stores the value; `get` returns it with the revision `put` returned and a
/// plausible write time.
pub async fn kv_put_then_get(store: &dyn Store) {
    bucket(store, "kv-put", None).await;
    let before = now_ms();
    let rev = store.put("kv-put", "agent.alice", b("v1")).await.unwrap();
    assert!(rev > 0);
    let e = kget(store, "kv-put", "agent.alice").await.expect("entry");
    assert_eq!(e.key, "agent.alice");
    assert_eq!(e.value, b("v1"));
    assert_eq!(e.revision, rev);
    assert!(e.written_at_ms >= before.saturating_sub(1000) && e.written_at_ms <= now_ms() + 1000);
}

/// Every write to a bucket (put, create, update, delete, on any key) gets a revision
/// higher than all before it.
pub async fn kv_revisions_increase_with_every_write(store: &dyn Store) {
    bucket(store, "kv-rev", None).await;
    let r1 = store.put("kv-rev", "a", b("1")).await.unwrap();
    let r2 = store.put("kv-rev", "b", b("1")).await.unwrap();
    let r3 = store.put("kv-rev", "a", b("2")).await.unwrap();
    let r4 = store.create("kv-rev", "c", b("1")).await.unwrap();
    let r5 = store.update("kv-rev", "a", b("3"), r3).await.unwrap();
    assert!(store.delete("kv-rev", "b", None).await.unwrap());
    let r6 = store.put("kv-rev", "b", b("again")).await.unwrap();
    assert!(
        r1 < r2 && r2 < r3 && r3 < r4 && r4 < r5,
        "{r1} {r2} {r3} {r4} {r5}"
    );
    // The delete in between was a write too.
    assert!(r6 > r5 + 1, "delete must take a revision: {r5} then {r6}");
    assert_eq!(kget(store, "kv-rev", "a").await.unwrap().revision, r5);
}

/// `create` on a present key fails with `AlreadyExists(current revision)` and leaves the
/// value alone.
pub async fn kv_create_rejects_existing_key(store: &dyn Store) {
    bucket(store, "kv-create", None).await;
    let rev = store.create("kv-create", "k", b("first")).await.unwrap();
    assert_eq!(
        store.create("kv-create", "k", b("second")).await,
        Err(StoreError::AlreadyExists(rev))
    );
    assert_eq!(
        kget(store, "kv-create", "k").await.unwrap().value,
        b("first")
    );
}

/// `update` writes only at the expected revision; a stale revision is a `Conflict`
/// naming both revisions, and writes nothing.
pub async fn kv_update_is_compare_and_set(store: &dyn Store) {
    bucket(store, "kv-cas", None).await;
    let r1 = store.put("kv-cas", "k", b("1")).await.unwrap();
    let r2 = store.update("kv-cas", "k", b("2"), r1).await.unwrap();
    assert!(r2 > r1);
    assert_eq!(
        store.update("kv-cas", "k", b("stale"), r1).await,
        Err(StoreError::Conflict {
            expected: r1,
            actual: r2
        })
    );
    let e = kget(store, "kv-cas", "k").await.unwrap();
    assert_eq!((e.value, e.revision), (b("2"), r2));
}

/// `update` of an absent key with a non-zero expected revision is a `Conflict` with
/// `actual: 0`.
pub async fn kv_update_absent_key_conflicts(store: &dyn Store) {
    bucket(store, "kv-upd-absent", None).await;
    assert_eq!(
        store.update("kv-upd-absent", "k", b("x"), 7).await,
        Err(StoreError::Conflict {
            expected: 7,
            actual: 0
        })
    );
    assert_eq!(kget(store, "kv-upd-absent", "k").await, None);
}

/// `delete` removes the key and reports whether it was there.
pub async fn kv_delete_reports_presence(store: &dyn Store) {
    bucket(store, "kv-del", None).await;
    store.put("kv-del", "k", b("x")).await.unwrap();
    assert!(store.delete("kv-del", "k", None).await.unwrap());
    assert_eq!(kget(store, "kv-del", "k").await, None);
    assert!(!store.delete("kv-del", "k", None).await.unwrap());
    assert!(!store.delete("kv-del", "never", None).await.unwrap());
}

/// `delete` with an expected revision deletes only at that revision; otherwise it is a
/// `Conflict` and the key stays.
pub async fn kv_delete_with_expected_revision(store: &dyn Store) {
    bucket(store, "kv-del-cas", None).await;
    let r1 = store.put("kv-del-cas", "k", b("1")).await.unwrap();
    let r2 = store.put("kv-del-cas", "k", b("2")).await.unwrap();
    assert_eq!(
        store.delete("kv-del-cas", "k", Some(r1)).await,
        Err(StoreError::Conflict {
            expected: r1,
            actual: r2
        })
    );
    assert!(kget(store, "kv-del-cas", "k").await.is_some());
    assert!(store.delete("kv-del-cas", "k", Some(r2)).await.unwrap());
    assert_eq!(kget(store, "kv-del-cas", "k").await, None);
}

/// A deleted key can be created again.
pub async fn kv_create_after_delete(store: &dyn Store) {
    bucket(store, "kv-recreate", None).await;
    let r1 = store.create("kv-recreate", "k", b("1")).await.unwrap();
    store.delete("kv-recreate", "k", None).await.unwrap();
    let r2 = store.create("kv-recreate", "k", b("2")).await.unwrap();
    assert!(r2 > r1);
    assert_eq!(kget(store, "kv-recreate", "k").await.unwrap().value, b("2"));
}

/// `scan` returns exactly the live keys with the prefix, in key order.
pub async fn kv_scan_prefix_in_key_order(store: &dyn Store) {
    bucket(store, "kv-scan", None).await;
    for k in ["user.c", "user.a", "other.x", "user.b", "users.z", "use"] {
        store.put("kv-scan", k, b(k)).await.unwrap();
    }
    store.delete("kv-scan", "user.b", None).await.unwrap();
    let got = store.scan("kv-scan", "user.", None, 100).await.unwrap();
    let keys: Vec<_> = got.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["user.a", "user.c"]);
    assert_eq!(got[0].value, b("user.a"));
    let all = store.scan("kv-scan", "", None, 100).await.unwrap();
    let keys: Vec<_> = all.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["other.x", "use", "user.a", "user.c", "users.z"]);
}

/// `scan` pages with `after` (exclusive) and `limit`.
pub async fn kv_scan_pages_with_after_and_limit(store: &dyn Store) {
    bucket(store, "kv-page", None).await;
    for i in 0..7 {
        store
            .put("kv-page", &format!("k.{i}"), b("v"))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .scan("kv-page", "k.", after.as_deref(), 3)
            .await
            .unwrap();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().key.clone());
        seen.extend(page.into_iter().map(|e| e.key));
    }
    let want: Vec<String> = (0..7).map(|i| format!("k.{i}")).collect();
    assert_eq!(seen, want);
    assert!(
        store
            .scan("kv-page", "k.", None, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Buckets are separate namespaces.
pub async fn kv_buckets_are_isolated(store: &dyn Store) {
    bucket(store, "kv-iso-a", None).await;
    bucket(store, "kv-iso-b", None).await;
    store.put("kv-iso-a", "k", b("a")).await.unwrap();
    assert_eq!(kget(store, "kv-iso-b", "k").await, None);
    assert!(
        store
            .scan("kv-iso-b", "", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.create("kv-iso-b", "k", b("b")).await.unwrap();
    assert_eq!(kget(store, "kv-iso-a", "k").await.unwrap().value, b("a"));
}

/// `ensure_bucket` is idempotent and keeps the bucket's data.
pub async fn kv_ensure_bucket_is_idempotent(store: &dyn Store) {
    bucket(store, "kv-ensure", None).await;
    let rev = store.put("kv-ensure", "k", b("v")).await.unwrap();
    bucket(store, "kv-ensure", None).await;
    assert_eq!(kget(store, "kv-ensure", "k").await.unwrap().revision, rev);
    assert!(store.put("kv-ensure", "k", b("w")).await.unwrap() > rev);
}

/// Using a bucket that was never declared is an `InvalidArgument`.
pub async fn kv_undeclared_bucket_is_rejected(store: &dyn Store) {
    assert!(is_invalid(store.put("kv-undeclared", "k", b("v")).await));
    assert!(is_invalid(KvStore::get(store, "kv-undeclared", "k").await));
}

/// Past the TTL since its last write an entry is invisible to `get` and `scan`, and
/// `create` succeeds on its key.
pub async fn kv_ttl_hides_expired_entries(store: &dyn Store) {
    bucket(store, "kv-ttl", Some(SHORT_MS)).await;
    let start = Instant::now();
    store.put("kv-ttl", "k", b("v")).await.unwrap();
    let seen = kget(store, "kv-ttl", "k").await;
    if still_within(start, SHORT_MS) {
        assert!(seen.is_some(), "entry must be visible before its TTL");
    }
    eventually("TTL expiry", || async {
        kget(store, "kv-ttl", "k").await.is_none().then_some(())
    })
    .await;
    assert!(store.scan("kv-ttl", "", None, 10).await.unwrap().is_empty());
    store
        .create("kv-ttl", "k", b("again"))
        .await
        .expect("create over an expired key");
    assert_eq!(
        kget(store, "kv-ttl", "k").await.map(|e| e.value),
        Some(b("again"))
    );
}

/// `get_many` answers each key as `get` would, in order: present, absent, deleted and
/// expired keys alike; an invalid key fails the call.
pub async fn kv_get_many_answers_each_key_in_order(store: &dyn Store) {
    bucket(store, "kv-many", None).await;
    bucket(store, "kv-many-ttl", Some(SHORT_MS)).await;
    let one = store.put("kv-many", "one", b("1")).await.unwrap();
    let two = store.put("kv-many", "two", b("2")).await.unwrap();
    store.put("kv-many", "gone", b("x")).await.unwrap();
    store.delete("kv-many", "gone", None).await.unwrap();
    let keys: Vec<String> = ["two", "absent", "one", "gone", "two"]
        .iter()
        .map(|k| k.to_string())
        .collect();
    let got = store.get_many("kv-many", &keys).await.unwrap();
    let seen: Vec<Option<(String, u64, Bytes)>> = got
        .into_iter()
        .map(|e| e.map(|e| (e.key, e.revision, e.value)))
        .collect();
    assert_eq!(
        seen,
        vec![
            Some(("two".into(), two, b("2"))),
            None,
            Some(("one".into(), one, b("1"))),
            None,
            Some(("two".into(), two, b("2"))),
        ]
    );
    assert!(store.get_many("kv-many", &[]).await.unwrap().is_empty());
    assert!(matches!(
        store
            .get_many("kv-many", &["one".into(), "bad key".into()])
            .await,
        Err(StoreError::InvalidArgument(_))
    ));
    store.put("kv-many-ttl", "k", b("v")).await.unwrap();
    eventually("TTL expiry", || async {
        let got = store.get_many("kv-many-ttl", &["k".into()]).await.unwrap();
        got[0].is_none().then_some(())
    })
    .await;
}

/// The TTL counts from the last write: rewriting a key keeps it alive.
pub async fn kv_ttl_counts_from_last_write(store: &dyn Store) {
    bucket(store, "kv-ttl-rw", Some(SHORT_MS)).await;
    store.put("kv-ttl-rw", "k", b("1")).await.unwrap();
    sleep(Duration::from_millis(SHORT_MS / 2)).await;
    let second = Instant::now();
    store.put("kv-ttl-rw", "k", b("2")).await.unwrap();
    // Past the first write's TTL, still inside the second's.
    sleep(Duration::from_millis(SHORT_MS * 2 / 3)).await;
    let seen = kget(store, "kv-ttl-rw", "k").await;
    // The second write happened after `second`, so it cannot have expired yet if less
    // than its TTL (minus a margin for clock rounding) has passed since.
    if second.elapsed() < Duration::from_millis(SHORT_MS - 30) {
        assert_eq!(seen.map(|e| e.value), Some(b("2")));
    }
    eventually("TTL expiry", || async {
        kget(store, "kv-ttl-rw", "k").await.is_none().then_some(())
    })
    .await;
}

/// A TTL added later by `ensure_bucket` applies to the bucket's entries.
pub async fn kv_ttl_change_applies(store: &dyn Store) {
    bucket(store, "kv-ttl-change", None).await;
    store.put("kv-ttl-change", "k", b("v")).await.unwrap();
    sleep(Duration::from_millis(SHORT_MS / 2)).await;
    assert!(
        kget(store, "kv-ttl-change", "k").await.is_some(),
        "no TTL yet"
    );
    bucket(store, "kv-ttl-change", Some(SHORT_MS / 3)).await;
    eventually("TTL expiry after the change", || async {
        kget(store, "kv-ttl-change", "k")
            .await
            .is_none()
            .then_some(())
    })
    .await;
}

/// Bucket names and keys must be dot-separated tokens of `[A-Za-z0-9_=-]`.
pub async fn kv_invalid_names_are_rejected(store: &dyn Store) {
    assert!(is_invalid(
        store
            .ensure_bucket(&BucketConfig {
                name: "a b".into(),
                ttl_ms: None
            })
            .await
    ));
    assert!(is_invalid(
        store
            .ensure_bucket(&BucketConfig {
                name: String::new(),
                ttl_ms: None
            })
            .await
    ));
    bucket(store, "kv-names", None).await;
    for bad in ["", "a..b", ".a", "a.", "a b", "a@b", "a*", "a>"] {
        assert!(
            is_invalid(store.put("kv-names", bad, b("v")).await),
            "{bad:?}"
        );
        assert!(
            is_invalid(store.create("kv-names", bad, b("v")).await),
            "{bad:?}"
        );
    }
    assert!(is_invalid(KvStore::get(store, "kv-names", "a..b").await));
    store.put("kv-names", "ok.a=40b_c-d", b("v")).await.unwrap();
}

/// Concurrent read-increment-update loops lose no increment.
pub async fn kv_concurrent_cas_increments_are_exact(store: &dyn Store) {
    bucket(store, "kv-counter", None).await;
    store.put("kv-counter", "n", b("0")).await.unwrap();
    const TASKS: usize = 16;
    const EACH: usize = 8;
    let task = || async {
        for _ in 0..EACH {
            loop {
                let e = kget(store, "kv-counter", "n").await.unwrap();
                let n: u64 = std::str::from_utf8(&e.value).unwrap().parse().unwrap();
                match store
                    .update("kv-counter", "n", b(&(n + 1).to_string()), e.revision)
                    .await
                {
                    Ok(_) => break,
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => panic!("update: {e}"),
                }
            }
        }
    };
    join_all((0..TASKS).map(|_| task())).await;
    let e = kget(store, "kv-counter", "n").await.unwrap();
    assert_eq!(e.value, b(&(TASKS * EACH).to_string()));
}

/// Of many concurrent `create`s of one key exactly one succeeds.
pub async fn kv_concurrent_create_has_one_winner(store: &dyn Store) {
    bucket(store, "kv-race", None).await;
    let results =
        join_all((0..24).map(|i| store.create("kv-race", "leader", b(&i.to_string())))).await;
    let wins: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(wins.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e, &StoreError::AlreadyExists(wins[0]));
        }
    }
}

// =======================================================================================
// Event streams

/// A stream never written has version 0, no events and no snapshot.
pub async fn ev_empty_stream(store: &dyn Store) {
    assert_eq!(store.version("agent.none").await.unwrap(), 0);
    assert!(store.read("agent.none", 1, 10).await.unwrap().is_empty());
    assert_eq!(store.load_snapshot("agent.none").await.unwrap(), None);
}

/// Appended events read back in order with versions from 1 and every field intact.
pub async fn ev_append_and_read_back(store: &dyn Store) {
    let events = vec![
        event("Registered", "r"),
        event("Renamed", "n"),
        event("Retired", ""),
    ];
    let out = store
        .append("agent.a1", ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    assert_eq!((out.version, out.duplicates), (3, 0));
    assert_eq!(store.version("agent.a1").await.unwrap(), 3);
    let got = store.read("agent.a1", 1, 100).await.unwrap();
    assert_eq!(got.len(), 3);
    let now = now_ms();
    for (i, (r, e)) in got.iter().zip(&events).enumerate() {
        assert_eq!(r.stream, "agent.a1");
        assert_eq!(r.version, i as u64 + 1);
        assert_eq!((r.id, &r.kind, &r.data), (e.id, &e.kind, &e.data));
        assert!(r.recorded_at_ms + 60_000 > now && r.recorded_at_ms <= now + 1000);
    }
}

/// `NoStream` succeeds only on an empty stream; otherwise `Conflict { expected: 0,
/// actual }`.
pub async fn ev_expected_no_stream(store: &dyn Store) {
    store
        .append("agent.ns", ExpectedVersion::NoStream, vec![event("A", "")])
        .await
        .unwrap();
    assert_eq!(
        store
            .append("agent.ns", ExpectedVersion::NoStream, vec![event("B", "")])
            .await,
        Err(StoreError::Conflict {
            expected: 0,
            actual: 1
        })
    );
}

/// `Exact(v)` succeeds only at version `v`; a failed check appends nothing.
pub async fn ev_expected_exact_conflict_appends_nothing(store: &dyn Store) {
    store
        .append(
            "agent.ex",
            ExpectedVersion::Any,
            vec![event("A", ""), event("B", "")],
        )
        .await
        .unwrap();
    let out = store
        .append("agent.ex", ExpectedVersion::Exact(2), vec![event("C", "")])
        .await;
    assert_eq!(out.unwrap().version, 3);
    let bad = vec![event("D", ""), event("E", "")];
    assert_eq!(
        store
            .append("agent.ex", ExpectedVersion::Exact(2), bad)
            .await,
        Err(StoreError::Conflict {
            expected: 2,
            actual: 3
        })
    );
    assert_eq!(store.version("agent.ex").await.unwrap(), 3);
    assert_eq!(store.read("agent.ex", 1, 100).await.unwrap().len(), 3);
}

/// `Any` appends whatever the version.
pub async fn ev_expected_any(store: &dyn Store) {
    for n in 1..=3 {
        let out = store
            .append("agent.any", ExpectedVersion::Any, vec![event("A", "")])
            .await;
        assert_eq!(out.unwrap().version, n);
    }
}

/// Events whose id the stream already holds are skipped and counted as duplicates.
pub async fn ev_duplicate_ids_are_skipped(store: &dyn Store) {
    let a = event("A", "a");
    store
        .append("agent.dup", ExpectedVersion::Any, vec![a.clone()])
        .await
        .unwrap();
    let c = event("C", "c");
    let out = store
        .append(
            "agent.dup",
            ExpectedVersion::Exact(1),
            vec![a.clone(), c.clone()],
        )
        .await
        .unwrap();
    assert_eq!((out.version, out.duplicates), (2, 1));
    let ids: Vec<Uuid> = store
        .read("agent.dup", 1, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [a.id, c.id]);
}

/// Retrying an append whose events are all present succeeds without checking the
/// expected version (a retried append is not a conflict), and appends nothing.
pub async fn ev_retried_append_is_not_a_conflict(store: &dyn Store) {
    let batch = vec![event("A", ""), event("B", "")];
    store
        .append("agent.retry", ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    store
        .append("agent.retry", ExpectedVersion::Any, vec![event("C", "")])
        .await
        .unwrap();
    let out = store
        .append("agent.retry", ExpectedVersion::NoStream, batch)
        .await
        .unwrap();
    assert_eq!((out.version, out.duplicates), (3, 2));
    assert_eq!(store.version("agent.retry").await.unwrap(), 3);
}

/// `read` starts at `from_version`, returns at most `limit`, and is empty past the end.
pub async fn ev_read_from_version_with_limit(store: &dyn Store) {
    let events: Vec<_> = (0..10).map(|i| event("E", &i.to_string())).collect();
    store
        .append("agent.rd", ExpectedVersion::Any, events)
        .await
        .unwrap();
    let got = store.read("agent.rd", 4, 3).await.unwrap();
    assert_eq!(got.iter().map(|e| e.version).collect::<Vec<_>>(), [4, 5, 6]);
    assert_eq!(got[0].data, b("3"));
    assert_eq!(store.read("agent.rd", 9, 100).await.unwrap().len(), 2);
    assert!(store.read("agent.rd", 11, 100).await.unwrap().is_empty());
    assert!(store.read("agent.rd", 1, 0).await.unwrap().is_empty());
}

/// Streams are independent: versions, events and de-duplication are per stream.
pub async fn ev_streams_are_isolated(store: &dyn Store) {
    let shared = event("A", "");
    store
        .append(
            "agent.s1",
            ExpectedVersion::Any,
            vec![shared.clone(), event("B", "")],
        )
        .await
        .unwrap();
    let out = store
        .append("agent.s2", ExpectedVersion::NoStream, vec![shared])
        .await
        .unwrap();
    assert_eq!((out.version, out.duplicates), (1, 0));
    assert_eq!(store.version("agent.s1").await.unwrap(), 2);
    assert_eq!(store.read("agent.s2", 1, 10).await.unwrap().len(), 1);
    // "agent.s1" is a prefix of "agent.s10": still a different stream.
    assert_eq!(store.version("agent.s10").await.unwrap(), 0);
}

/// `load_snapshot` returns the saved snapshot with the highest version.
pub async fn ev_snapshot_highest_version_wins(store: &dyn Store) {
    let snap = |v: u64| Snapshot {
        version: v,
        state: b(&format!("state-{v}")),
    };
    store.save_snapshot("agent.snap", snap(5)).await.unwrap();
    assert_eq!(
        store.load_snapshot("agent.snap").await.unwrap(),
        Some(snap(5))
    );
    store.save_snapshot("agent.snap", snap(3)).await.unwrap();
    assert_eq!(
        store.load_snapshot("agent.snap").await.unwrap(),
        Some(snap(5))
    );
    store.save_snapshot("agent.snap", snap(7)).await.unwrap();
    assert_eq!(
        store.load_snapshot("agent.snap").await.unwrap(),
        Some(snap(7))
    );
    assert_eq!(store.load_snapshot("agent.other").await.unwrap(), None);
}

/// Of concurrent appends expecting the same version exactly one wins; the others get
/// `Conflict`.
pub async fn ev_concurrent_appends_have_one_winner(store: &dyn Store) {
    let results = join_all((0..16).map(|_| {
        store.append(
            "agent.race",
            ExpectedVersion::Exact(0),
            vec![event("A", "")],
        )
    }))
    .await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(
            r,
            &Err(StoreError::Conflict {
                expected: 0,
                actual: 1
            })
        );
    }
    assert_eq!(store.version("agent.race").await.unwrap(), 1);
}

/// Stream names must be valid names.
pub async fn ev_invalid_stream_name_is_rejected(store: &dyn Store) {
    for bad in ["", "a..b", "a b", "a*"] {
        assert!(is_invalid(
            store
                .append(bad, ExpectedVersion::Any, vec![event("A", "")])
                .await
        ));
        assert!(is_invalid(store.read(bad, 1, 10).await));
    }
}

// =======================================================================================
// Mailbox queues

/// An enqueued item can be fetched by id: ready, no attempts, payload intact.
pub async fn mb_enqueue_then_get(store: &dyn Store) {
    let it = item("inbox.alice", "hello");
    let before = now_ms();
    let seq = enqueue_one(store, it.clone()).await;
    let got = qget(store, "inbox.alice", it.id).await.expect("item");
    assert_eq!(
        (got.queue.as_str(), got.id, got.seq),
        ("inbox.alice", it.id, seq)
    );
    assert_eq!(got.payload, b("hello"));
    assert_eq!(
        (got.attempts, got.state, got.last_error),
        (0, ItemState::Ready, None)
    );
    assert!(got.enqueued_at_ms + 1000 >= before && got.enqueued_at_ms <= now_ms() + 1000);
    assert_eq!(qget(store, "inbox.alice", Uuid::new_v4()).await, None);
}

/// Binary and empty payloads round-trip unchanged.
pub async fn mb_payloads_round_trip(store: &dyn Store) {
    let bin: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let mut a = item("inbox.bin", "");
    a.payload = Bytes::from(bin.clone());
    let e = item("inbox.bin", "");
    store.enqueue(vec![a.clone(), e.clone()]).await.unwrap();
    assert_eq!(
        qget(store, "inbox.bin", a.id).await.unwrap().payload,
        Bytes::from(bin)
    );
    assert_eq!(
        qget(store, "inbox.bin", e.id).await.unwrap().payload,
        Bytes::new()
    );
}

/// Sequence numbers increase with arrival, across queues.
pub async fn mb_seq_increases_across_queues(store: &dyn Store) {
    let mut last = 0;
    for q in ["inbox.a", "inbox.b", "inbox.a", "inbox.c"] {
        let seq = enqueue_one(store, item(q, "x")).await;
        assert!(seq > last, "{seq} after {last}");
        last = seq;
    }
}

/// Enqueueing an id already in the queue returns `Duplicate(original seq)` whatever the
/// item's state (ready, leased, delayed, dead) and stores nothing.
pub async fn mb_enqueue_deduplicates_in_every_state(store: &dyn Store) {
    let q = "inbox.dedup";
    let it = item(q, "original");
    let seq = enqueue_one(store, it.clone()).await;
    let mut again = it.clone();
    again.payload = b("retry");
    let dup = || async { store.enqueue(vec![again.clone()]).await.unwrap() };
    assert_eq!(dup().await, [EnqueueOutcome::Duplicate(seq)], "ready");
    assert_eq!(lease(store, q, 1, LONG_MS).await.len(), 1);
    assert_eq!(dup().await, [EnqueueOutcome::Duplicate(seq)], "leased");
    assert!(store.nack(q, it.id, LONG_MS, None).await.unwrap());
    assert_eq!(dup().await, [EnqueueOutcome::Duplicate(seq)], "delayed");
    assert!(store.dead_letter(q, it.id, "poison".into()).await.unwrap());
    assert_eq!(dup().await, [EnqueueOutcome::Duplicate(seq)], "dead");
    assert_eq!(store.list(q, None, 10).await.unwrap().len(), 1);
    assert_eq!(qget(store, q, it.id).await.unwrap().payload, b("original"));
    // The same id in another queue is a different item.
    let mut other = it.clone();
    other.queue = "inbox.dedup2".into();
    assert!(matches!(
        store.enqueue(vec![other]).await.unwrap()[..],
        [EnqueueOutcome::Enqueued(_)]
    ));
}

/// Once acknowledged, an id can be enqueued again as a new item.
pub async fn mb_enqueue_after_ack_is_new(store: &dyn Store) {
    let it = item("inbox.reuse", "1");
    let s1 = enqueue_one(store, it.clone()).await;
    assert!(store.ack("inbox.reuse", it.id).await.unwrap());
    let s2 = enqueue_one(store, it.clone()).await;
    assert!(s2 > s1);
    assert_eq!(qget(store, "inbox.reuse", it.id).await.unwrap().attempts, 0);
}

/// One `enqueue` call is all or nothing, across queues: it stores every item or, when
/// one is invalid, none.
pub async fn mb_enqueue_is_atomic_across_queues(store: &dyn Store) {
    let (a, b1) = (item("inbox.x", "a"), item("inbox.y", "b"));
    let out = store.enqueue(vec![a.clone(), b1.clone()]).await.unwrap();
    assert!(
        matches!(out[..], [EnqueueOutcome::Enqueued(s1), EnqueueOutcome::Enqueued(s2)] if s1 < s2)
    );
    assert!(qget(store, "inbox.x", a.id).await.is_some());
    assert!(qget(store, "inbox.y", b1.id).await.is_some());
    let good = item("inbox.x", "good");
    let bad = item("inbox.bad name", "bad");
    assert!(is_invalid(store.enqueue(vec![good.clone(), bad]).await));
    assert_eq!(qget(store, "inbox.x", good.id).await, None);
    assert_eq!(store.list("inbox.x", None, 10).await.unwrap().len(), 1);
}

/// A call may carry the same id twice: the second is a duplicate of the first.
pub async fn mb_enqueue_same_id_twice_in_one_call(store: &dyn Store) {
    let it = item("inbox.twice", "x");
    let out = store.enqueue(vec![it.clone(), it.clone()]).await.unwrap();
    match out[..] {
        [EnqueueOutcome::Enqueued(s), EnqueueOutcome::Duplicate(d)] => assert_eq!(s, d),
        ref other => panic!("{other:?}"),
    }
    assert_eq!(store.list("inbox.twice", None, 10).await.unwrap().len(), 1);
}

/// `lease` takes up to `max` items, oldest first, marks them leased and counts the
/// attempt.
pub async fn mb_lease_oldest_first_up_to_max(store: &dyn Store) {
    let q = "inbox.order";
    let mut seqs = Vec::new();
    for i in 0..5 {
        seqs.push(enqueue_one(store, item(q, &i.to_string())).await);
    }
    let first = lease(store, q, 3, LONG_MS).await;
    assert_eq!(first.iter().map(|i| i.seq).collect::<Vec<_>>(), seqs[..3]);
    for it in &first {
        assert_eq!((it.state, it.attempts), (ItemState::Leased, 1));
        assert!(it.available_at_ms > now_ms());
    }
    assert_eq!(first[0].payload, b("0"));
    let rest = lease(store, q, 10, LONG_MS).await;
    assert_eq!(rest.iter().map(|i| i.seq).collect::<Vec<_>>(), seqs[3..]);
    assert!(lease(store, q, 10, LONG_MS).await.is_empty());
    assert!(lease(store, "inbox.empty", 10, LONG_MS).await.is_empty());
    assert!(store.lease(q, 0, LONG_MS).await.unwrap().is_empty());
}

/// A leased item is not leased again while its lease runs.
pub async fn mb_lease_hides_item(store: &dyn Store) {
    let q = "inbox.hide";
    let it = item(q, "x");
    enqueue_one(store, it.clone()).await;
    let start = Instant::now();
    assert_eq!(lease(store, q, 10, SHORT_MS).await.len(), 1);
    let again = lease(store, q, 10, SHORT_MS).await;
    let state = qget(store, q, it.id).await.unwrap().state;
    if still_within(start, SHORT_MS) {
        assert!(again.is_empty(), "leased twice within the lease");
        assert_eq!(state, ItemState::Leased);
    }
}

/// A lease that runs out without ack or nack makes the item leasable again, with its
/// attempts counted.
pub async fn mb_expired_lease_redelivers(store: &dyn Store) {
    let q = "inbox.expire";
    let it = item(q, "x");
    enqueue_one(store, it.clone()).await;
    assert_eq!(lease(store, q, 1, SHORT_MS / 3).await[0].attempts, 1);
    let again = eventually("redelivery", || async {
        lease(store, q, 1, LONG_MS).await.pop()
    })
    .await;
    assert_eq!(
        (again.id, again.attempts, again.state),
        (it.id, 2, ItemState::Leased)
    );
    assert_eq!(again.payload, b("x"));
}

/// An item whose lease ran out and that was made leasable again can still be put back
/// with a delay by its old lease holder: it then waits for that delay, and the queue's
/// counts stay exact.
pub async fn mb_nack_after_expired_lease_delays(store: &dyn Store) {
    let q = "inbox.expire-nack";
    let (first, second) = (item(q, "first"), item(q, "second"));
    enqueue_one(store, first.clone()).await;
    enqueue_one(store, second.clone()).await;
    assert_eq!(lease(store, q, 2, SHORT_MS / 3).await.len(), 2);
    // After the leases run out, a lease takes the first again (and makes both ready).
    let again = eventually("redelivery", || async {
        lease(store, q, 1, LONG_MS).await.pop()
    })
    .await;
    assert_eq!(again.id, first.id);
    assert!(store.nack(q, second.id, LONG_MS, None).await.unwrap());
    assert!(
        lease(store, q, 5, LONG_MS).await.is_empty(),
        "the delay holds"
    );
    let stats = store.stats(q).await.unwrap();
    assert_eq!((stats.ready, stats.delayed, stats.leased), (0, 1, 1));
    assert!(store.ack(q, second.id).await.unwrap());
    assert!(store.ack(q, first.id).await.unwrap());
    assert_eq!(store.stats(q).await.unwrap().total(), 0);
}

/// `ack` removes the item and returns `true`; acking again returns `false`.
pub async fn mb_ack_is_idempotent(store: &dyn Store) {
    let q = "inbox.ack";
    let it = item(q, "x");
    enqueue_one(store, it.clone()).await;
    lease(store, q, 1, LONG_MS).await;
    assert!(store.ack(q, it.id).await.unwrap());
    assert!(!store.ack(q, it.id).await.unwrap());
    assert_eq!(qget(store, q, it.id).await, None);
    assert!(store.list(q, None, 10).await.unwrap().is_empty());
    assert_eq!(store.stats(q).await.unwrap(), QueueStats::default());
}

/// `ack` removes an item in any state, leased or not, including a dead one.
pub async fn mb_ack_removes_any_state(store: &dyn Store) {
    let q = "inbox.ack-any";
    let ready = item(q, "ready");
    let mut delayed = item(q, "delayed");
    delayed.not_before_ms = Some(now_ms() + LONG_MS);
    let dead = item(q, "dead");
    store
        .enqueue(vec![dead.clone(), ready.clone(), delayed.clone()])
        .await
        .unwrap();
    assert_eq!(lease(store, q, 1, LONG_MS).await[0].id, dead.id);
    store.dead_letter(q, dead.id, "bad".into()).await.unwrap();
    for id in [ready.id, delayed.id, dead.id] {
        assert!(store.ack(q, id).await.unwrap());
    }
    assert!(store.list(q, None, 10).await.unwrap().is_empty());
    assert_eq!(store.stats(q).await.unwrap().total(), 0);
}

/// `nack` ends the lease; the item is delayed for `delay_ms` with the error recorded,
/// then leasable again.
pub async fn mb_nack_delays_and_records_error(store: &dyn Store) {
    let q = "inbox.nack";
    let it = item(q, "x");
    enqueue_one(store, it.clone()).await;
    lease(store, q, 1, LONG_MS).await;
    let start = Instant::now();
    assert!(
        store
            .nack(q, it.id, SHORT_MS, Some("peer down".into()))
            .await
            .unwrap()
    );
    let got = qget(store, q, it.id).await.unwrap();
    let early = lease(store, q, 1, LONG_MS).await;
    if still_within(start, SHORT_MS) {
        assert_eq!(got.state, ItemState::Delayed);
        assert!(early.is_empty(), "leased during the nack delay");
    }
    assert_eq!(got.last_error.as_deref(), Some("peer down"));
    assert_eq!(got.attempts, 1);
    let again = match early.into_iter().next() {
        Some(i) => i,
        None => {
            eventually("nack delay end", || async {
                lease(store, q, 1, LONG_MS).await.pop()
            })
            .await
        }
    };
    assert_eq!((again.id, again.attempts), (it.id, 2));
}

/// `nack` with no delay makes the item leasable at once.
pub async fn mb_nack_without_delay_redelivers_at_once(store: &dyn Store) {
    let q = "inbox.nack0";
    let it = item(q, "x");
    enqueue_one(store, it.clone()).await;
    lease(store, q, 1, LONG_MS).await;
    assert!(store.nack(q, it.id, 0, None).await.unwrap());
    let again = lease(store, q, 1, LONG_MS).await;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (it.id, 2));
}

/// A dead-lettered item is listed (state `Dead`, reason recorded) and never leased
/// again.
pub async fn mb_dead_letter_is_listed_not_leased(store: &dyn Store) {
    let q = "inbox.dlq";
    let it = item(q, "poison");
    enqueue_one(store, it.clone()).await;
    lease(store, q, 1, SHORT_MS / 3).await;
    assert!(
        store
            .dead_letter(q, it.id, "undeliverable".into())
            .await
            .unwrap()
    );
    let got = qget(store, q, it.id).await.unwrap();
    assert_eq!(
        (got.state, got.last_error.as_deref()),
        (ItemState::Dead, Some("undeliverable"))
    );
    // Longer than the lease it had: a dead item is not redelivered.
    sleep(Duration::from_millis(SHORT_MS)).await;
    assert!(lease(store, q, 10, LONG_MS).await.is_empty());
    let listed = store.list(q, None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, ItemState::Dead);
}

/// `list` returns items of every state in arrival order, paged by `after_seq`.
pub async fn mb_list_is_arrival_order_and_paged(store: &dyn Store) {
    let q = "inbox.list";
    let mut ids = Vec::new();
    for i in 0..5 {
        let it = item(q, &i.to_string());
        ids.push(it.id);
        enqueue_one(store, it).await;
    }
    enqueue_one(store, item("inbox.list2", "other queue")).await;
    let leased = lease(store, q, 2, LONG_MS).await;
    store
        .dead_letter(q, leased[1].id, "x".into())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list(q, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        seen.extend(page);
    }
    assert_eq!(seen.iter().map(|i| i.id).collect::<Vec<_>>(), ids);
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
    let states: Vec<_> = seen.iter().map(|i| i.state).collect();
    use ItemState::*;
    assert_eq!(states, [Leased, Dead, Ready, Ready, Ready]);
    assert_eq!(seen[2].payload, b("2"));
}

/// Enqueues `ready` items and one delayed item into `q`, then leases three of the
/// ready ones and of those puts the second back with a long delay and the third in
/// the dead-letter state: every state at once. Returns the `ready` items as enqueued
/// and the three leased.
async fn fill_every_state(
    store: &dyn Store,
    q: &str,
    ready: usize,
) -> (Vec<NewItem>, Vec<QueueItem>) {
    let items: Vec<NewItem> = (0..ready).map(|i| item(q, &i.to_string())).collect();
    let mut later = item(q, "later");
    later.not_before_ms = Some(now_ms() + LONG_MS);
    store
        .enqueue(items.iter().cloned().chain([later]).collect())
        .await
        .unwrap();
    let leased = lease(store, q, 3, LONG_MS).await;
    store.nack(q, leased[1].id, LONG_MS, None).await.unwrap();
    store
        .dead_letter(q, leased[2].id, "x".into())
        .await
        .unwrap();
    (items, leased)
}

/// `stats` counts a queue's items by state.
pub async fn mb_stats_count_by_state(store: &dyn Store) {
    let q = "inbox.stats";
    assert_eq!(store.stats(q).await.unwrap(), QueueStats::default());
    let (items, leased) = fill_every_state(store, q, 5).await;
    let want = QueueStats {
        ready: 2,
        delayed: 2,
        leased: 1,
        dead: 1,
    };
    assert_eq!(store.stats(q).await.unwrap(), want);
    assert_eq!(want.total(), 6);
    store.ack(q, leased[2].id).await.unwrap();
    store.ack(q, items[4].id).await.unwrap();
    assert_eq!(
        store.stats(q).await.unwrap(),
        QueueStats {
            ready: 1,
            delayed: 2,
            leased: 1,
            dead: 0
        }
    );
    assert_eq!(
        store.stats("inbox.stats-other").await.unwrap(),
        QueueStats::default()
    );
}

/// An item with `not_before_ms` in the future is delayed until then.
pub async fn mb_not_before_delays_first_lease(store: &dyn Store) {
    let q = "inbox.later";
    let mut it = item(q, "x");
    let start = Instant::now();
    it.not_before_ms = Some(now_ms() + SHORT_MS);
    let now_item = item(q, "now");
    store
        .enqueue(vec![it.clone(), now_item.clone()])
        .await
        .unwrap();
    let first = lease(store, q, 10, LONG_MS).await;
    let state = qget(store, q, it.id).await.unwrap().state;
    if still_within(start, SHORT_MS) {
        assert_eq!(
            first.iter().map(|i| i.id).collect::<Vec<_>>(),
            [now_item.id]
        );
        assert_eq!(state, ItemState::Delayed);
    }
    if !first.iter().any(|i| i.id == it.id) {
        let got = eventually("not_before", || async {
            lease(store, q, 10, LONG_MS).await.pop()
        })
        .await;
        assert_eq!((got.id, got.attempts), (it.id, 1));
    }
    // A time in the past means at once.
    let mut past = item(q, "past");
    past.not_before_ms = Some(1);
    enqueue_one(store, past.clone()).await;
    assert_eq!(lease(store, q, 10, LONG_MS).await[0].id, past.id);
}

/// `ack`, `nack` and `dead_letter` of an unknown id return `false`; `get` returns `None`.
pub async fn mb_missing_items(store: &dyn Store) {
    let q = "inbox.missing";
    let id = Uuid::new_v4();
    assert!(!store.ack(q, id).await.unwrap());
    assert!(!store.nack(q, id, 0, None).await.unwrap());
    assert!(!store.dead_letter(q, id, "x".into()).await.unwrap());
    assert_eq!(qget(store, q, id).await, None);
    assert!(store.list(q, None, 10).await.unwrap().is_empty());
}

/// Queues are separate: leasing, acking and listing one never touches another, even
/// when one name is a prefix of the other.
pub async fn mb_queues_are_isolated(store: &dyn Store) {
    let a = item("inbox.a", "a");
    let a2 = item("inbox.a.b", "a.b");
    store.enqueue(vec![a.clone(), a2.clone()]).await.unwrap();
    let got = lease(store, "inbox.a", 10, LONG_MS).await;
    assert_eq!(got.iter().map(|i| i.id).collect::<Vec<_>>(), [a.id]);
    assert!(!store.ack("inbox.a", a2.id).await.unwrap());
    assert_eq!(
        store.list("inbox.a.b", None, 10).await.unwrap()[0].id,
        a2.id
    );
    assert_eq!(store.stats("inbox.a.b").await.unwrap().ready, 1);
}

/// Queue names must be valid names.
pub async fn mb_invalid_queue_names_are_rejected(store: &dyn Store) {
    for bad in ["", "a..b", "a b", "a*", "a>", "inbox.x@y"] {
        assert!(
            is_invalid(store.enqueue(vec![item(bad, "x")]).await),
            "{bad:?}"
        );
        assert!(is_invalid(store.lease(bad, 1, 10).await), "{bad:?}");
        assert!(is_invalid(store.list(bad, None, 1).await), "{bad:?}");
        assert!(is_invalid(store.ack(bad, Uuid::new_v4()).await), "{bad:?}");
    }
}

/// `purge` removes every item of the queue in every state, returns how many, leaves
/// other queues alone (even one whose name extends it), and frees the ids for reuse.
pub async fn mb_purge_removes_every_state(store: &dyn Store) {
    let q = "inbox.purge";
    let (items, leased) = fill_every_state(store, q, 6).await;
    let other = item("inbox.purge.x", "other");
    enqueue_one(store, other.clone()).await;
    assert_eq!(store.purge(q).await.unwrap(), 7);
    assert_eq!(store.stats(q).await.unwrap(), QueueStats::default());
    assert!(store.list(q, None, 10).await.unwrap().is_empty());
    assert!(lease(store, q, 10, LONG_MS).await.is_empty());
    assert_eq!(qget(store, q, items[0].id).await, None);
    assert!(!store.ack(q, leased[0].id).await.unwrap());
    assert_eq!(store.stats("inbox.purge.x").await.unwrap().ready, 1);
    assert_eq!(
        qget(store, "inbox.purge.x", other.id).await.unwrap().id,
        other.id
    );
    // The ids are free again, and the queue works as before.
    let again = enqueue_one(store, items[0].clone()).await;
    assert!(again > 0);
    assert_eq!(lease(store, q, 10, LONG_MS).await[0].id, items[0].id);
    assert_eq!(store.purge(q).await.unwrap(), 1);
    // Nothing left, nothing to do.
    assert_eq!(store.purge(q).await.unwrap(), 0);
    assert_eq!(store.purge("inbox.never-used").await.unwrap(), 0);
    assert!(is_invalid(store.purge("a..b").await));
}

/// `purge` of a queue larger than any single batch a backend might use removes all of it.
pub async fn mb_purge_large_queue(store: &dyn Store) {
    let q = "inbox.purge-large";
    const N: usize = 5_000;
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        let batch = chunk.iter().map(|i| item(q, &i.to_string())).collect();
        store.enqueue(batch).await.unwrap();
    }
    lease(store, q, 100, LONG_MS).await;
    assert_eq!(store.stats(q).await.unwrap().total(), N as u64);
    assert_eq!(store.purge(q).await.unwrap(), N as u64);
    assert_eq!(store.stats(q).await.unwrap(), QueueStats::default());
    assert!(store.list(q, None, 1).await.unwrap().is_empty());
}

/// Of many concurrent enqueues of one id exactly one is `Enqueued`; the rest are
/// `Duplicate` of its seq.
pub async fn mb_concurrent_enqueue_same_id_one_enqueued(store: &dyn Store) {
    let it = item("inbox.race", "x");
    let results = join_all((0..32).map(|_| store.enqueue(vec![it.clone()]))).await;
    let outcomes: Vec<EnqueueOutcome> = results.into_iter().map(|r| r.unwrap()[0]).collect();
    let enqueued: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| match o {
            EnqueueOutcome::Enqueued(s) => Some(*s),
            EnqueueOutcome::Duplicate(_) => None,
        })
        .collect();
    assert_eq!(enqueued.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(
        |o| matches!(o, EnqueueOutcome::Duplicate(s) if *s == enqueued[0])
            || matches!(o, EnqueueOutcome::Enqueued(_))
    ));
    assert_eq!(store.list("inbox.race", None, 10).await.unwrap().len(), 1);
}

/// Concurrent leases never hand out the same item twice.
pub async fn mb_concurrent_leases_are_disjoint(store: &dyn Store) {
    let q = "inbox.workers";
    let items: Vec<NewItem> = (0..60).map(|i| item(q, &i.to_string())).collect();
    store.enqueue(items.clone()).await.unwrap();
    let results = join_all((0..12).map(|_| store.lease(q, 7, LONG_MS))).await;
    let mut ids: Vec<Uuid> = results
        .into_iter()
        .flat_map(|r| r.unwrap())
        .map(|i| i.id)
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "an item was leased twice");
    assert_eq!(n, 60);
}

/// Concurrent writers each get their own, distinct, durable outcome (many callers, one
/// store).
pub async fn mb_concurrent_enqueues_all_stored(store: &dyn Store) {
    let q = "inbox.fan-in";
    let results = join_all((0..100).map(|i| store.enqueue(vec![item(q, &i.to_string())]))).await;
    let mut seqs: Vec<u64> = results
        .into_iter()
        .map(|r| match r.unwrap()[..] {
            [EnqueueOutcome::Enqueued(s)] => s,
            ref o => panic!("{o:?}"),
        })
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 100);
    assert_eq!(store.stats(q).await.unwrap().ready, 100);
}

// =======================================================================================
// Lifecycle

/// `write_many` runs each write as the single call would, independently: a `create` of
/// an existing key fails alone, an invalid name fails alone, the other writes happen;
/// results come back in order and every write that succeeded is durable and visible.
pub async fn store_write_many_writes_stand_alone(store: &dyn Store) {
    bucket(store, "wm", None).await;
    let taken = store.create("wm", "taken", b("old")).await.unwrap();
    let already = item("wm-q", "first");
    store.enqueue(vec![already.clone()]).await.unwrap();
    let fresh = item("wm-q", "second");
    let results = store
        .write_many(vec![
            Write::Create {
                bucket: "wm".into(),
                key: "new".into(),
                value: b("n"),
            },
            Write::Create {
                bucket: "wm".into(),
                key: "taken".into(),
                value: b("ignored"),
            },
            Write::Put {
                bucket: "wm".into(),
                key: "bad key".into(),
                value: b("x"),
            },
            Write::Enqueue(vec![already.clone(), fresh.clone()]),
            Write::Put {
                bucket: "wm".into(),
                key: "put".into(),
                value: b("p"),
            },
            Write::Enqueue(Vec::new()),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 6);
    let Ok(Written::Revision(created)) = results[0] else {
        panic!("create: {:?}", results[0]);
    };
    assert!(created > taken);
    assert_eq!(results[1], Err(StoreError::AlreadyExists(taken)));
    assert!(
        matches!(results[2], Err(StoreError::InvalidArgument(_))),
        "{:?}",
        results[2]
    );
    let Ok(Written::Enqueued(outcomes)) = &results[3] else {
        panic!("enqueue: {:?}", results[3]);
    };
    assert!(matches!(outcomes[0], EnqueueOutcome::Duplicate(_)));
    assert!(matches!(outcomes[1], EnqueueOutcome::Enqueued(_)));
    let Ok(Written::Revision(put)) = results[4] else {
        panic!("put: {:?}", results[4]);
    };
    assert!(put > created);
    assert_eq!(results[5], Ok(Written::Enqueued(Vec::new())));

    assert_eq!(kget(store, "wm", "new").await.unwrap().value, b("n"));
    assert_eq!(kget(store, "wm", "taken").await.unwrap().value, b("old"));
    assert_eq!(kget(store, "wm", "put").await.unwrap().revision, put);
    assert_eq!(
        qget(store, "wm-q", fresh.id).await.unwrap().payload,
        b("second")
    );
    assert_eq!(store.stats("wm-q").await.unwrap().total(), 2);
    assert_eq!(store.write_many(Vec::new()).await.unwrap(), Vec::new());
}

/// `write_many` updates by compare-and-set and acknowledges queue items, each as the
/// single call would.
pub async fn store_write_many_updates_and_acks(store: &dyn Store) {
    bucket(store, "wm-cas", None).await;
    let rev = store.put("wm-cas", "k", b("v1")).await.unwrap();
    let leased = item("wm-ack", "leased");
    store.enqueue(vec![leased.clone()]).await.unwrap();
    store.lease("wm-ack", 1, 60_000).await.unwrap();
    let results = store
        .write_many(vec![
            Write::Update {
                bucket: "wm-cas".into(),
                key: "k".into(),
                value: b("v2"),
                expected: rev,
            },
            Write::Update {
                bucket: "wm-cas".into(),
                key: "absent".into(),
                value: b("x"),
                expected: rev,
            },
            Write::Ack {
                queue: "wm-ack".into(),
                id: leased.id,
            },
            Write::Ack {
                queue: "wm-ack".into(),
                id: Uuid::new_v4(),
            },
            Write::Ack {
                queue: "bad queue".into(),
                id: leased.id,
            },
        ])
        .await
        .unwrap();
    let Ok(Written::Revision(updated)) = results[0] else {
        panic!("update: {:?}", results[0]);
    };
    assert!(updated > rev);
    assert!(
        matches!(results[1], Err(StoreError::Conflict { .. })),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2], Ok(Written::Acked(true)));
    assert_eq!(results[3], Ok(Written::Acked(false)));
    assert!(
        matches!(results[4], Err(StoreError::InvalidArgument(_))),
        "{:?}",
        results[4]
    );
    // A stale revision now conflicts.
    let again = store
        .write_many(vec![Write::Update {
            bucket: "wm-cas".into(),
            key: "k".into(),
            value: b("v3"),
            expected: rev,
        }])
        .await
        .unwrap();
    assert!(
        matches!(again[0], Err(StoreError::Conflict { .. })),
        "{:?}",
        again[0]
    );
    let e = kget(store, "wm-cas", "k").await.unwrap();
    assert_eq!((e.value, e.revision), (b("v2"), updated));
    assert!(qget(store, "wm-ack", leased.id).await.is_none());
    assert_eq!(store.stats("wm-ack").await.unwrap().total(), 0);
}

/// Concurrent `write_many` calls creating the same key: exactly one wins.
pub async fn store_write_many_concurrent_creates_have_one_winner(store: &dyn Store) {
    bucket(store, "wm-race", None).await;
    let calls = (0..16).map(|i| {
        store.write_many(vec![Write::Create {
            bucket: "wm-race".into(),
            key: "k".into(),
            value: b(&i.to_string()),
        }])
    });
    let results = join_all(calls).await;
    let winners = results
        .iter()
        .filter(|r| matches!(r.as_ref().unwrap()[0], Ok(Written::Revision(_))))
        .count();
    assert_eq!(winners, 1);
    for r in &results {
        let r = &r.as_ref().unwrap()[0];
        assert!(
            matches!(r, Ok(_) | Err(StoreError::AlreadyExists(_))),
            "{r:?}"
        );
    }
}

/// `check` succeeds on an open store.
pub async fn store_check_succeeds(store: &dyn Store) {
    store.check().await.expect("check");
}

/// After `close`, writes fail with `Closed`; closing twice is harmless.
pub async fn store_close_rejects_writes(store: &dyn Store) {
    bucket(store, "life", None).await;
    store.put("life", "k", b("v")).await.unwrap();
    store.close().await.expect("close");
    assert_eq!(
        store.put("life", "k", b("w")).await,
        Err(StoreError::Closed)
    );
    assert_eq!(
        store.enqueue(vec![item("inbox.closed", "x")]).await,
        Err(StoreError::Closed)
    );
    assert_eq!(
        store
            .append("agent.closed", ExpectedVersion::Any, vec![event("A", "")])
            .await,
        Err(StoreError::Closed)
    );
    store.close().await.expect("second close");
}

/// Expands to one `#[tokio::test]` per conformance behaviour for a backend.
///
/// The argument is an expression yielding a factory: a closure called once per test
/// that returns a future of `(store, guard)`, where `store` implements
/// [`Store`](crate::Store) and `guard` is anything that must outlive it (a
/// `tempfile::TempDir`, a test `nats-server`, or `()`). Each test runs the behaviour,
/// closes the store, drops it, then drops the guard. The calling crate needs `tokio`
/// (with the `macros` and `rt-multi-thread` features) as a dev-dependency.
///
/// ```ignore
/// agentgate_store::conformance_suite!(|| async {
///     let dir = tempfile::tempdir().unwrap();
///     (MyStore::open(dir.path()).unwrap(), dir)
/// });
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        $crate::conformance_suite!(@tests $factory;
            kv_get_absent_is_none,
            kv_get_many_answers_each_key_in_order,
            kv_put_then_get,
            kv_revisions_increase_with_every_write,
            kv_create_rejects_existing_key,
            kv_update_is_compare_and_set,
            kv_update_absent_key_conflicts,
            kv_delete_reports_presence,
            kv_delete_with_expected_revision,
            kv_create_after_delete,
            kv_scan_prefix_in_key_order,
            kv_scan_pages_with_after_and_limit,
            kv_buckets_are_isolated,
            kv_ensure_bucket_is_idempotent,
            kv_undeclared_bucket_is_rejected,
            kv_ttl_hides_expired_entries,
            kv_ttl_counts_from_last_write,
            kv_ttl_change_applies,
            kv_invalid_names_are_rejected,
            kv_concurrent_cas_increments_are_exact,
            kv_concurrent_create_has_one_winner,
            ev_empty_stream,
            ev_append_and_read_back,
            ev_expected_no_stream,
            ev_expected_exact_conflict_appends_nothing,
            ev_expected_any,
            ev_duplicate_ids_are_skipped,
            ev_retried_append_is_not_a_conflict,
            ev_read_from_version_with_limit,
            ev_streams_are_isolated,
            ev_snapshot_highest_version_wins,
            ev_concurrent_appends_have_one_winner,
            ev_invalid_stream_name_is_rejected,
            mb_enqueue_then_get,
            mb_payloads_round_trip,
            mb_seq_increases_across_queues,
            mb_enqueue_deduplicates_in_every_state,
            mb_enqueue_after_ack_is_new,
            mb_enqueue_is_atomic_across_queues,
            mb_enqueue_same_id_twice_in_one_call,
            mb_lease_oldest_first_up_to_max,
            mb_lease_hides_item,
            mb_expired_lease_redelivers,
            mb_nack_after_expired_lease_delays,
            mb_ack_is_idempotent,
            mb_ack_removes_any_state,
            mb_nack_delays_and_records_error,
            mb_nack_without_delay_redelivers_at_once,
            mb_dead_letter_is_listed_not_leased,
            mb_list_is_arrival_order_and_paged,
            mb_stats_count_by_state,
            mb_not_before_delays_first_lease,
            mb_missing_items,
            mb_queues_are_isolated,
            mb_invalid_queue_names_are_rejected,
            mb_purge_removes_every_state,
            mb_purge_large_queue,
            mb_concurrent_enqueue_same_id_one_enqueued,
            mb_concurrent_leases_are_disjoint,
            mb_concurrent_enqueues_all_stored,
            store_check_succeeds,
            store_close_rejects_writes,
            store_write_many_writes_stand_alone,
            store_write_many_concurrent_creates_have_one_winner,
            store_write_many_updates_and_acks,
        );
    };
    (@tests $factory:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let factory = $factory;
                let (store, guard) = factory().await;
                $crate::conformance::$name(&store).await;
                let _ = $crate::Store::close(&store).await;
                drop(store);
                drop(guard);
            }
        )+
    };
}
