//! Wake-ups for long-polling inbox readers.
//!
//! A reader that finds its inbox empty subscribes to the inbox's [`Notify`], re-reads,
//! and sleeps until a message is enqueued there (or its wait ends). The map holds one
//! entry per inbox that currently has a waiting reader; the last reader to leave removes
//! it, so the map never grows beyond the readers actually waiting.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// The waiting readers of every inbox.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    map: Mutex<HashMap<String, Arc<Notify>>>,
}

/// A subscription to one inbox's wake-ups; leaving removes the inbox's entry when no
/// other reader waits on it.
pub(crate) struct Subscription<'a> {
    waiters: &'a Waiters,
    key: String,
    notify: Arc<Notify>,
}

impl Waiters {
    /// Subscribes to wake-ups for `inbox`.
    pub(crate) fn subscribe(&self, inbox: &str) -> Subscription<'_> {
        let notify = self
            .map
            .lock()
            .entry(inbox.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone();
        Subscription {
            waiters: self,
            key: inbox.to_string(),
            notify,
        }
    }

    /// Wakes every reader waiting on `inbox`.
    pub(crate) fn wake(&self, inbox: &str) {
        if let Some(n) = self.map.lock().get(inbox) {
            n.notify_waiters();
        }
    }

    /// Inboxes with waiting readers (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }
}

impl Subscription<'_> {
    /// The notifier to wait on. Create the `notified()` future and `enable()` it
    /// *before* re-reading the inbox, so that a message enqueued in between still wakes.
    pub(crate) fn notify(&self) -> &Notify {
        &self.notify
    }
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        let mut map = self.waiters.map.lock();
        // The map's reference plus ours: nobody else waits.
        if Arc::strong_count(&self.notify) == 2 {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wakes_subscribers_and_cleans_up() {
        let w = Waiters::default();
        {
            let a = w.subscribe("x");
            let b = w.subscribe("x");
            assert_eq!(w.len(), 1);
            let fa = a.notify().notified();
            let fb = b.notify().notified();
            tokio::pin!(fa, fb);
            fa.as_mut().enable();
            fb.as_mut().enable();
            w.wake("x");
            tokio::time::timeout(Duration::from_secs(1), async {
                fa.await;
                fb.await;
            })
            .await
            .expect("both woken");
        }
        assert_eq!(w.len(), 0, "entry removed when the last subscriber leaves");
        w.wake("nobody");
    }
}
