//! The loop shared by the queue workers (push delivery, federation outbox): lease up to
//! `concurrency` jobs, run each as a task, sleep until woken, until a job's retry is
//! due or for an idle tick, and drain on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use agentgate_store::{QueueItem, Store};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest the worker sleeps when nothing woke it.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// How long in-flight jobs may finish after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// One kind of job a [`run`] loop works through.
pub(crate) trait Attempt: Send + Sync + 'static {
    /// Why an attempt's bookkeeping failed.
    type Error: std::fmt::Display + Send;

    /// Works on one leased item. Returns when the item is next due, if it was put back
    /// with a delay. When `release` is cancelled (shutdown), the attempt should put the
    /// item back for immediate redelivery and return. On an error the item stays
    /// leased and is tried again when its lease ends.
    fn attempt(
        self: Arc<Self>,
        item: QueueItem,
        release: CancellationToken,
    ) -> impl Future<Output = Result<Option<Instant>, Self::Error>> + Send;
}

/// What a [`run`] loop works on.
pub(crate) struct Queue {
    /// The queue name.
    pub name: &'static str,
    /// Jobs in flight at once.
    pub concurrency: usize,
    /// Lease length of a job, in milliseconds.
    pub lease_ms: u64,
    /// How long in-flight attempts may run on after shutdown before being released.
    pub grace: Duration,
}

/// Runs until `shutdown`, then lets in-flight attempts finish for a short grace and
/// releases the rest.
pub(crate) async fn run<A: Attempt>(
    store: Arc<dyn Store>,
    queue: Queue,
    handler: Arc<A>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let release = CancellationToken::new();
    let mut inflight: JoinSet<Option<Instant>> = JoinSet::new();
    let mut next_due: Option<Instant> = None;
    let concurrency = queue.concurrency.max(1);
    // A lease is a durable write (one group commit): leasing for every finished job
    // one at a time would cap throughput at one job per commit. Finished jobs are
    // collected first, and a lease waits until a few slots are free.
    let min_batch = (concurrency / 8).max(1);
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        while let Some(done) = inflight.try_join_next() {
            if let Ok(Some(due)) = done {
                next_due = Some(next_due.map_or(due, |d| d.min(due)));
            }
        }
        let free = concurrency.saturating_sub(inflight.len());
        if free >= min_batch || (free > 0 && inflight.is_empty()) {
            match store.lease(queue.name, free, queue.lease_ms).await {
                Ok(items) => {
                    for item in items {
                        let (handler, release, id) = (handler.clone(), release.clone(), item.id);
                        let name = queue.name;
                        inflight.spawn(async move {
                            handler.attempt(item, release).await.unwrap_or_else(|e| {
                                tracing::warn!(queue = name, job = %id, error = %e, "job bookkeeping failed; retried when its lease ends");
                                None
                            })
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = queue.name, error = %e, "worker cannot lease jobs");
                }
            }
        }
        let now = Instant::now();
        let wake_at = next_due.map_or(now + IDLE_TICK, |d| d.min(now + IDLE_TICK));
        tokio::select! {
            _ = wake.notified() => {}
            Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                if let Ok(Some(due)) = done {
                    next_due = Some(next_due.map_or(due, |d| d.min(due)));
                }
            }
            _ = tokio::time::sleep_until(wake_at) => {
                if next_due.is_some_and(|d| d <= Instant::now()) {
                    next_due = None;
                }
            }
            _ = shutdown.cancelled() => break,
        }
    }
    let drain = async { while inflight.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE.min(queue.grace), drain)
        .await
        .is_err()
    {
        release.cancel();
        while inflight.join_next().await.is_some() {}
    }
}
