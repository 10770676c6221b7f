//! The default [`Store::write_many`]: single calls, started together, answered in order.

use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::*;

/// A store whose writes all wait until `writes` of them are in flight at once (so a
/// default that ran them one after another would hang), then answer from the key.
struct Recording {
    in_flight: Barrier,
    calls: Mutex<Vec<String>>,
}

impl Recording {
    async fn call(&self, what: String) {
        self.calls.lock().unwrap().push(what);
        self.in_flight.wait().await;
    }
}

#[async_trait]
impl KvStore for Recording {
    async fn ensure_bucket(&self, _: &BucketConfig) -> Result<()> {
        unreachable!()
    }
    async fn get(&self, _: &str, _: &str) -> Result<Option<KvEntry>> {
        unreachable!()
    }
    async fn put(&self, bucket: &str, key: &str, _: Bytes) -> Result<u64> {
        self.call(format!("put {bucket} {key}")).await;
        Ok(key.len() as u64)
    }
    async fn create(&self, bucket: &str, key: &str, _: Bytes) -> Result<u64> {
        self.call(format!("create {bucket} {key}")).await;
        if key == "taken" {
            return Err(StoreError::AlreadyExists(7));
        }
        Ok(100)
    }
    async fn update(&self, _: &str, _: &str, _: Bytes, _: u64) -> Result<u64> {
        unreachable!()
    }
    async fn delete(&self, _: &str, _: &str, _: Option<u64>) -> Result<bool> {
        unreachable!()
    }
    async fn scan(&self, _: &str, _: &str, _: Option<&str>, _: usize) -> Result<Vec<KvEntry>> {
        unreachable!()
    }
}

#[async_trait]
impl EventStore for Recording {
    async fn append(&self, _: &str, _: ExpectedVersion, _: Vec<NewEvent>) -> Result<AppendOutcome> {
        unreachable!()
    }
    async fn read(&self, _: &str, _: u64, _: usize) -> Result<Vec<RecordedEvent>> {
        unreachable!()
    }
    async fn version(&self, _: &str) -> Result<u64> {
        unreachable!()
    }
    async fn save_snapshot(&self, _: &str, _: Snapshot) -> Result<()> {
        unreachable!()
    }
    async fn load_snapshot(&self, _: &str) -> Result<Option<Snapshot>> {
        unreachable!()
    }
}

#[async_trait]
impl MailboxStore for Recording {
    async fn enqueue(&self, items: Vec<NewItem>) -> Result<Vec<EnqueueOutcome>> {
        self.call(format!("enqueue {}", items.len())).await;
        Ok(items.iter().map(|_| EnqueueOutcome::Enqueued(1)).collect())
    }
    async fn lease(&self, _: &str, _: usize, _: u64) -> Result<Vec<QueueItem>> {
        unreachable!()
    }
    async fn ack(&self, _: &str, _: Uuid) -> Result<bool> {
        unreachable!()
    }
    async fn nack(&self, _: &str, _: Uuid, _: u64, _: Option<String>) -> Result<bool> {
        unreachable!()
    }
    async fn dead_letter(&self, _: &str, _: Uuid, _: String) -> Result<bool> {
        unreachable!()
    }
    async fn list(&self, _: &str, _: Option<u64>, _: usize) -> Result<Vec<QueueItem>> {
        unreachable!()
    }
    async fn get(&self, _: &str, _: Uuid) -> Result<Option<QueueItem>> {
        unreachable!()
    }
    async fn stats(&self, _: &str) -> Result<QueueStats> {
        unreachable!()
    }
    async fn purge(&self, _: &str) -> Result<u64> {
        unreachable!()
    }
}

#[async_trait]
impl Store for Recording {
    async fn check(&self) -> Result<()> {
        Ok(())
    }
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn default_write_many_runs_single_calls_together_and_answers_in_order() {
    let store = Recording {
        in_flight: Barrier::new(4),
        calls: Mutex::new(Vec::new()),
    };
    let kv = |key: &str| (String::from("b"), key.to_string(), Bytes::new());
    let (bucket, key, value) = kv("taken");
    let (b2, k2, v2) = kv("fresh");
    let (b3, k3, v3) = kv("abc");
    let item = NewItem {
        queue: "q".into(),
        id: Uuid::new_v4(),
        payload: Bytes::new(),
        not_before_ms: None,
    };
    let results = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.write_many(vec![
            Write::Create { bucket, key, value },
            Write::Create {
                bucket: b2,
                key: k2,
                value: v2,
            },
            Write::Enqueue(vec![item]),
            Write::Put {
                bucket: b3,
                key: k3,
                value: v3,
            },
        ]),
    )
    .await
    .expect("the writes ran concurrently")
    .unwrap();
    assert_eq!(
        results,
        vec![
            Err(StoreError::AlreadyExists(7)),
            Ok(Written::Revision(100)),
            Ok(Written::Enqueued(vec![EnqueueOutcome::Enqueued(1)])),
            Ok(Written::Revision(3)),
        ]
    );
    assert_eq!(store.calls.lock().unwrap().len(), 4);
}
