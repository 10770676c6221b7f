//! The loop shared by the queue workers (push delivery, federation outbox): lease up to
//! `concurrency` jobs, group them into units (a push job alone; outbox jobs for one
//! domain together), run each unit as a task, sleep until woken, until a job's retry
//! is due or for an idle tick, and drain on shutdown.

use std::collections::HashMap;
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
    /// What one attempt works on: one leased item, or several attempted together.
    type Unit: Send + 'static;
    /// Why an attempt's bookkeeping failed.
    type Error: std::fmt::Display + Send;

    /// Splits a lease into units, each with the number of items it holds (which count
    /// against the worker's concurrency until the unit's attempt ends).
    fn group(&self, items: Vec<QueueItem>) -> Vec<(Self::Unit, usize)>;

    /// Works on one unit. Returns when its items are next due, if any was put back
    /// with a delay. When `release` is cancelled (shutdown), the attempt should put the
    /// items back for immediate redelivery and return. On an error the items not yet
    /// settled stay leased and are tried again when their leases end.
    fn attempt(
        self: Arc<Self>,
        unit: Self::Unit,
        release: CancellationToken,
    ) -> impl Future<Output = Result<Option<Instant>, Self::Error>> + Send;
}

/// The grouping of workers whose jobs are each attempted alone.
pub(crate) fn each_alone(items: Vec<QueueItem>) -> Vec<(QueueItem, usize)> {
    items.into_iter().map(|item| (item, 1)).collect()
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
    // The number of items each task holds.
    let mut held: HashMap<tokio::task::Id, usize> = HashMap::new();
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
        while let Some(done) = inflight.try_join_next_with_id() {
            settle(done, &mut held, &mut next_due);
        }
        let free = concurrency.saturating_sub(held.values().sum());
        if free >= min_batch || (free > 0 && inflight.is_empty()) {
            match store.lease(queue.name, free, queue.lease_ms).await {
                Ok(items) => {
                    for (unit, count) in handler.group(items) {
                        let (handler, release) = (handler.clone(), release.clone());
                        let name = queue.name;
                        let task = inflight.spawn(async move {
                            handler.attempt(unit, release).await.unwrap_or_else(|e| {
                                tracing::warn!(queue = name, jobs = count, error = %e, "job bookkeeping failed; retried when the lease ends");
                                None
                            })
                        });
                        held.insert(task.id(), count);
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
            Some(done) = inflight.join_next_with_id(), if !inflight.is_empty() => {
                settle(done, &mut held, &mut next_due);
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

/// Books a finished task: its items no longer count against the concurrency, and its
/// due time is kept.
fn settle(
    done: Result<(tokio::task::Id, Option<Instant>), tokio::task::JoinError>,
    held: &mut HashMap<tokio::task::Id, usize>,
    next_due: &mut Option<Instant>,
) {
    let (id, due) = match done {
        Ok((id, due)) => (id, due),
        Err(e) => (e.id(), None),
    };
    held.remove(&id);
    if let Some(due) = due {
        *next_due = Some(next_due.map_or(due, |d| d.min(due)));
    }
}
