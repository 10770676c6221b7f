//! Embedded-backend behaviour beyond the port semantics: durability across restarts and
//! crashes, group commit, TTL purging, directory locking.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use agentgate_store::{
    BucketConfig, EnqueueOutcome, EventStore, ExpectedVersion, ItemState, KvStore, MailboxStore,
    NewEvent, NewItem, QueueStats, Snapshot, Store,
};
use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};
use bytes::Bytes;
use uuid::Uuid;

fn open(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, EmbeddedOptions { cache_mb: 8 }).expect("open store")
}

fn item(queue: &str, payload: &str) -> NewItem {
    NewItem {
        queue: queue.into(),
        id: Uuid::new_v4(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        not_before_ms: None,
    }
}

fn event(kind: &str) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        kind: kind.into(),
        data: Bytes::from_static(b"data"),
    }
}

/// Writes a bit of everything; returns what to check after a restart.
struct Written {
    kv_rev: u64,
    items: Vec<NewItem>,
    seqs: Vec<u64>,
}

async fn write_everything(store: &EmbeddedStore) -> Written {
    store
        .ensure_bucket(&BucketConfig {
            name: "agents".into(),
            ttl_ms: None,
        })
        .await
        .unwrap();
    store
        .put("agents", "alice", Bytes::from_static(b"v1"))
        .await
        .unwrap();
    let kv_rev = store
        .put("agents", "alice", Bytes::from_static(b"v2"))
        .await
        .unwrap();
    store
        .append(
            "agent.alice",
            ExpectedVersion::NoStream,
            vec![event("A"), event("B")],
        )
        .await
        .unwrap();
    let snapshot = Snapshot {
        version: 2,
        state: Bytes::from_static(b"state"),
    };
    store.save_snapshot("agent.alice", snapshot).await.unwrap();
    let items: Vec<NewItem> = (0..3)
        .map(|i| item("inbox.alice", &i.to_string()))
        .collect();
    let seqs = store
        .enqueue(items.clone())
        .await
        .unwrap()
        .into_iter()
        .map(|o| match o {
            EnqueueOutcome::Enqueued(s) => s,
            EnqueueOutcome::Duplicate(_) => panic!("duplicate"),
        })
        .collect();
    // The first item stays leased across the restart; the third is dead.
    assert_eq!(
        store.lease("inbox.alice", 1, 600_000).await.unwrap().len(),
        1
    );
    store
        .dead_letter("inbox.alice", items[2].id, "bad".into())
        .await
        .unwrap();
    Written {
        kv_rev,
        items,
        seqs,
    }
}

async fn check_everything(store: &EmbeddedStore, w: &Written) {
    let e = KvStore::get(store, "agents", "alice")
        .await
        .unwrap()
        .expect("kv entry");
    assert_eq!((e.value, e.revision), (Bytes::from_static(b"v2"), w.kv_rev));
    assert!(store.put("agents", "bob", Bytes::new()).await.unwrap() > w.kv_rev);
    assert_eq!(store.version("agent.alice").await.unwrap(), 2);
    let events = store.read("agent.alice", 1, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["A", "B"]
    );
    assert_eq!(
        store
            .load_snapshot("agent.alice")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    // De-duplication of events survives too.
    let retry = store.append(
        "agent.alice",
        ExpectedVersion::Exact(0),
        vec![NewEvent {
            id: events[0].id,
            kind: "A".into(),
            data: Bytes::new(),
        }],
    );
    assert_eq!(retry.await.unwrap().version, 2);

    let listed = store.list("inbox.alice", None, 10).await.unwrap();
    assert_eq!(listed.iter().map(|i| i.seq).collect::<Vec<_>>(), w.seqs);
    let states: Vec<_> = listed.iter().map(|i| i.state).collect();
    assert_eq!(
        states,
        [ItemState::Leased, ItemState::Ready, ItemState::Dead]
    );
    assert_eq!(listed[0].attempts, 1);
    assert_eq!(
        store.stats("inbox.alice").await.unwrap(),
        QueueStats {
            ready: 1,
            delayed: 0,
            leased: 1,
            dead: 1
        }
    );
    // Only the ready item is leasable; the lease taken before the restart still holds.
    let leased = store.lease("inbox.alice", 10, 600_000).await.unwrap();
    assert_eq!(
        leased.iter().map(|i| i.id).collect::<Vec<_>>(),
        [w.items[1].id]
    );
    assert_eq!(
        store.enqueue(vec![w.items[0].clone()]).await.unwrap(),
        [EnqueueOutcome::Duplicate(w.seqs[0])]
    );
    let fresh = store
        .enqueue(vec![item("inbox.alice", "new")])
        .await
        .unwrap();
    assert!(matches!(fresh[..], [EnqueueOutcome::Enqueued(s)] if s > w.seqs[2]));
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let written = write_everything(&store).await;
    store.close().await.unwrap();
    drop(store);
    let store = open(dir.path());
    check_everything(&store, &written).await;
    store.close().await.unwrap();
}

#[tokio::test]
async fn data_survives_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let written = write_everything(&store).await;
    drop(store);
    let store = open(dir.path());
    check_everything(&store, &written).await;
}

#[tokio::test]
async fn a_directory_is_opened_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).is_err());
    drop(store);
    let again = open(dir.path());
    again.check().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_batches_200_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let before = store.commit_counters();
    let tasks: Vec<_> = (0..200)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    let it = item(&format!("inbox.w{}", t % 8), &format!("{t}-{i}"));
                    let out = store.enqueue(vec![it]).await.unwrap();
                    assert!(matches!(out[..], [EnqueueOutcome::Enqueued(_)]));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let after = store.commit_counters();
    let (writes, groups) = (after.writes - before.writes, after.groups - before.groups);
    assert_eq!(writes, 2000);
    // One fsync per write would make groups == writes.
    assert!(
        groups * 4 <= writes,
        "{groups} fsync groups for {writes} writes"
    );
    let mut total = 0;
    for q in 0..8 {
        total += store.stats(&format!("inbox.w{q}")).await.unwrap().ready;
    }
    assert_eq!(total, 2000);
}

/// Expired entries are removed, not only hidden: lifting the TTL afterwards does not
/// bring them back.
#[tokio::test]
async fn expired_entries_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bucket = |ttl_ms| BucketConfig {
        name: "sessions".into(),
        ttl_ms,
    };
    store.ensure_bucket(&bucket(Some(50))).await.unwrap();
    store
        .put("sessions", "s1", Bytes::from_static(b"x"))
        .await
        .unwrap();
    // The commit thread purges once a second.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    store.ensure_bucket(&bucket(None)).await.unwrap();
    assert_eq!(KvStore::get(&store, "sessions", "s1").await.unwrap(), None);
    assert!(
        store
            .scan("sessions", "", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

const CHILD_ENV: &str = "AGENTGATE_STORE_CRASH_CHILD_DIR";

/// Helper process for `acknowledged_writes_survive_sigkill`: writes until killed,
/// printing each write once it is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process, started by acknowledged_writes_survive_sigkill"]
async fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Arc::new(open(Path::new(&dir)));
    for t in 0..16 {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                let it = item("inbox.crash", &format!("from {t}"));
                store.enqueue(vec![it.clone()]).await.unwrap();
                let ev = event("E");
                let events = vec![ev.clone()];
                store
                    .append("agent.crash", ExpectedVersion::Any, events)
                    .await
                    .unwrap();
                let mut out = std::io::stdout().lock();
                writeln!(out, "ACK {} {}", it.id, ev.id).unwrap();
                out.flush().unwrap();
            }
        });
    }
    // Runs until the parent kills the process.
    std::future::pending::<()>().await;
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start child");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("ACK ") {
                let mut parts = rest.split(' ');
                let item: Uuid = parts.next().unwrap().parse().unwrap();
                let event: Uuid = parts.next().unwrap().parse().unwrap();
                if tx.send((item, event)).is_err() {
                    break;
                }
            }
        }
    });
    let mut acked = Vec::new();
    while acked.len() < 300 {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(pair) => acked.push(pair),
            Err(e) => panic!("child stopped acknowledging after {}: {e}", acked.len()),
        }
    }
    child.kill().expect("SIGKILL child");
    child.wait().unwrap();
    // Everything printed before the kill was acknowledged, so it must be there.
    while let Ok(pair) = rx.try_recv() {
        acked.push(pair);
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = open(dir.path());
        let events = store.read("agent.crash", 1, 1_000_000).await.unwrap();
        let event_ids: std::collections::HashSet<Uuid> = events.iter().map(|e| e.id).collect();
        assert!(events.windows(2).all(|w| w[1].version == w[0].version + 1));
        for (item, event) in &acked {
            assert!(
                MailboxStore::get(&store, "inbox.crash", *item)
                    .await
                    .unwrap()
                    .is_some(),
                "acknowledged item {item} lost"
            );
            assert!(event_ids.contains(event), "acknowledged event {event} lost");
        }
        // The store is fully usable after recovery.
        let out = store
            .enqueue(vec![item("inbox.crash", "after")])
            .await
            .unwrap();
        assert!(matches!(out[..], [EnqueueOutcome::Enqueued(_)]));
        store.close().await.unwrap();
    });
}
