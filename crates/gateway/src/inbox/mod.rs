//! Pull inboxes: one mailbox queue per agent (`inbox.<escaped address>`).
//!
//! Items are the accepted envelope's JSON, in arrival order. Reading is paged with an
//! opaque cursor (the last item's sequence number) and may long-poll: a reader whose page
//! would be empty waits, up to its `wait`, until a message arrives (see `waiters`).
//! Acknowledging removes the item and marks the recipient `acknowledged`.
//!
//! Push agents have an inbox too: every message for them is also placed there, removed
//! when the push succeeds, and left there (readable, acknowledgeable) when pushes fail.

pub(crate) mod waiters;

use std::sync::Arc;
use std::time::Duration;

use agentgate_core::{Address, DeliveryMode, DeliveryStatus, MessageId, Timestamp};
use agentgate_store::{MailboxStore, QueueItem, Store};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::directory::AgentEntry;
use crate::metrics::Metrics;
use crate::paging::{self, PageError};
use crate::status_book::{RecipientRecord, StatusBook};
use crate::storage::{StorageFailure, inbox_queue};
use waiters::Waiters;

/// Why an inbox request failed.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// `limit` or `cursor` is not acceptable.
    #[error(transparent)]
    Page(#[from] PageError),
    /// `wait` out of range or not a number.
    #[error("wait must be an integer number of seconds from 0 to {max}")]
    InvalidWait {
        /// The longest wait accepted, in seconds.
        max: u64,
    },
    /// The message id in the path is not a UUID.
    #[error("{0:?} is not a message id (a UUID)")]
    InvalidMessageId(String),
    /// No such message in this inbox.
    #[error("message {0} is not in this inbox")]
    MessageNotFound(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

/// Paging and long-poll bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InboxLimits {
    /// Page size when none is asked for.
    pub default_limit: usize,
    /// Largest page.
    pub max_limit: usize,
    /// Longest `wait` accepted.
    pub max_wait: Duration,
}

/// An inbox read request, as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct InboxQuery<'a> {
    /// Page size.
    pub limit: Option<&'a str>,
    /// Cursor from a previous page.
    pub cursor: Option<&'a str>,
    /// Seconds to wait for a message when the page would be empty.
    pub wait: Option<&'a str>,
}

/// One inbox item with its recipient's delivery status.
#[derive(Debug)]
pub struct InboxItem {
    /// The stored item; `payload` is the envelope JSON.
    pub item: QueueItem,
    /// `delivered` for pull agents; the push status for push agents.
    pub status: DeliveryStatus,
}

/// A page of an inbox.
#[derive(Debug)]
pub struct InboxPage {
    /// Oldest first.
    pub items: Vec<InboxItem>,
    /// Whether more items follow.
    pub has_more: bool,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// The inbox service.
pub(crate) struct Inbox {
    store: Arc<dyn Store>,
    statuses: Arc<StatusBook>,
    metrics: Arc<Metrics>,
    waiters: Waiters,
    limits: InboxLimits,
    shutdown: CancellationToken,
}

fn encode_cursor(seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(seq.to_be_bytes())
}

fn decode_cursor(text: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

impl Inbox {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        statuses: Arc<StatusBook>,
        metrics: Arc<Metrics>,
        limits: InboxLimits,
        shutdown: CancellationToken,
    ) -> Inbox {
        Inbox {
            store,
            statuses,
            metrics,
            waiters: Waiters::default(),
            limits,
            shutdown,
        }
    }

    /// Reads a page of `owner`'s inbox, long-polling when asked to.
    pub(crate) async fn list(
        &self,
        owner: &AgentEntry,
        query: InboxQuery<'_>,
    ) -> Result<InboxPage, InboxError> {
        let limit = paging::limit(
            query.limit,
            self.limits.default_limit,
            self.limits.max_limit,
        )?;
        let max_wait = self.limits.max_wait.as_secs();
        let wait = match query.wait {
            None => 0,
            Some(t) => t
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max_wait)
                .ok_or(InboxError::InvalidWait { max: max_wait })?,
        };
        let after = paging::cursor(query.cursor, decode_cursor)?;
        let queue = inbox_queue(&owner.agent.address);
        if wait == 0 {
            return self.read_page(owner, &queue, after, limit).await;
        }
        let deadline = Instant::now() + Duration::from_secs(wait);
        let subscription = self.waiters.subscribe(&queue);
        loop {
            let notified = subscription.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let page = self.read_page(owner, &queue, after, limit).await?;
            if !page.items.is_empty() || Instant::now() >= deadline || self.shutdown.is_cancelled()
            {
                return Ok(page);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = self.shutdown.cancelled() => {}
            }
        }
    }

    async fn read_page(
        &self,
        owner: &AgentEntry,
        queue: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<InboxPage, InboxError> {
        let mut items = self
            .store
            .list(queue, after, limit + 1)
            .await
            .map_err(StorageFailure::from)?;
        let has_more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if has_more {
            items.last().map(|i| encode_cursor(i.seq))
        } else {
            None
        };
        let items = match owner.agent.delivery_mode {
            DeliveryMode::Pull => items
                .into_iter()
                .map(|item| InboxItem {
                    item,
                    status: DeliveryStatus::Delivered,
                })
                .collect(),
            DeliveryMode::Push => self.with_push_statuses(owner, items).await?,
        };
        Ok(InboxPage {
            items,
            has_more,
            next_cursor,
        })
    }

    async fn with_push_statuses(
        &self,
        owner: &AgentEntry,
        items: Vec<QueueItem>,
    ) -> Result<Vec<InboxItem>, InboxError> {
        let address = &owner.agent.address;
        let ids: Vec<Option<MessageId>> = items
            .iter()
            .map(|item| MessageId::from_bytes(*item.id.as_bytes()).ok())
            .collect();
        let statuses = futures::stream::iter(ids.into_iter().map(|id| async move {
            match id {
                Some(id) => self.statuses.get(&id, address).await,
                None => Ok(None),
            }
        }))
        .buffered(16)
        .collect::<Vec<_>>()
        .await;
        items
            .into_iter()
            .zip(statuses)
            .map(|(item, st)| {
                let status = st?.map_or(DeliveryStatus::Queued, |r| r.status);
                Ok(InboxItem { item, status })
            })
            .collect()
    }

    /// Acknowledges a message in `owner`'s inbox: it leaves the inbox and the recipient
    /// becomes `acknowledged`. Returns the acknowledgement time.
    pub(crate) async fn ack(
        &self,
        owner: &AgentEntry,
        message_id: &str,
    ) -> Result<Timestamp, InboxError> {
        let id = MessageId::parse(message_id)
            .map_err(|_| InboxError::InvalidMessageId(message_id.to_string()))?;
        let address = &owner.agent.address;
        let queue = inbox_queue(address);
        let uuid = *id.as_uuid();
        if MailboxStore::get(&*self.store, &queue, uuid)
            .await
            .map_err(StorageFailure::from)?
            .is_none()
        {
            return Err(InboxError::MessageNotFound(id.to_string()));
        }
        let now = clock::now();
        // Independent writes, committed together. A crash between them leaves either a
        // removed item still `delivered` (harmless) or an `acknowledged` item still
        // listed, which the agent sees and acknowledges again (at-least-once).
        let (status, removed) = tokio::join!(
            self.statuses
                .transition(&id, address, |cur| RecipientRecord {
                    status: DeliveryStatus::Acknowledged,
                    attempts: cur.map_or(0, |c| c.attempts),
                    last_error: cur.and_then(|c| c.last_error.clone()),
                    next_retry: None,
                    delivered_at: cur.and_then(|c| c.delivered_at),
                    updated_at: now,
                }),
            self.store.ack(&queue, uuid),
        );
        status?;
        if removed.map_err(StorageFailure::from)? {
            self.metrics.inbox_depth_add(-1);
            Ok(now)
        } else {
            // Acknowledged concurrently by another request.
            Err(InboxError::MessageNotFound(id.to_string()))
        }
    }

    /// Up to `limit` items of `address`'s inbox after sequence number `after`, waiting
    /// until there is at least one; empty only when `stop` or the gateway's shutdown
    /// ends the wait. What live sessions read their deliveries with.
    pub(crate) async fn wait_items(
        &self,
        address: &Address,
        after: Option<u64>,
        limit: usize,
        stop: &CancellationToken,
    ) -> Result<Vec<QueueItem>, StorageFailure> {
        let queue = inbox_queue(address);
        let subscription = self.waiters.subscribe(&queue);
        loop {
            let notified = subscription.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let items = self.store.list(&queue, after, limit).await?;
            if !items.is_empty() || stop.is_cancelled() || self.shutdown.is_cancelled() {
                return Ok(items);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = stop.cancelled() => {}
                _ = self.shutdown.cancelled() => {}
            }
        }
    }

    /// Wakes readers long-polling the inbox queue `queue`.
    pub(crate) fn wake_queue(&self, queue: &str) {
        self.waiters.wake(queue);
    }

    /// Removes every item of `address`'s inbox; returns how many there were.
    /// `counted`: whether those items are in the inbox depth gauge (a registered
    /// agent's are; leftovers of an unregistered one are not).
    pub(crate) async fn purge(
        &self,
        address: &Address,
        counted: bool,
    ) -> Result<u64, StorageFailure> {
        let removed = self.store.purge(&inbox_queue(address)).await?;
        if counted {
            self.metrics.inbox_depth_add(-(removed as i64));
        }
        Ok(removed)
    }

    /// Items in `address`'s inbox.
    pub(crate) async fn depth(&self, address: &Address) -> Result<u64, StorageFailure> {
        Ok(self.store.stats(&inbox_queue(address)).await?.total())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor(&encode_cursor(u64::MAX)), Some(u64::MAX));
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(decode_cursor("AAAA"), None);
    }
}
