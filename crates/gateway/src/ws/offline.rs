//! Frames held for ioap agents that are offline (strict mode, when
//! `websocket.ioap.offline_queue` is set): bounded per DID and in all, each for at most
//! `websocket.ioap.offline_ttl` (signalling goes stale fast). Pure bookkeeping; the
//! clock is passed in.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

use crate::presence::TextFrame;

/// Most frames held for all offline DIDs together.
pub(crate) const MAX_HELD: usize = 100_000;

/// A frame waiting for its receiver.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// The frame, as sent.
    pub frame: TextFrame,
    /// Its sender's DID (told what became of it).
    pub sender: String,
    /// The frame's id.
    pub id: String,
    /// When it stops being worth delivering, in ms.
    pub expires_ms: u64,
}

/// Why a frame was not held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The receiver already has `offline_queue` frames waiting.
    ReceiverFull,
    /// [`MAX_HELD`] frames are waiting in all.
    GatewayFull,
}

/// The held frames of every offline DID.
#[derive(Debug)]
pub(crate) struct OfflineFrames {
    per_did: usize,
    ttl_ms: u64,
    held: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_did: HashMap<String, VecDeque<Held>>,
    total: usize,
}

impl OfflineFrames {
    /// At most `per_did` frames per receiver, each kept `ttl_ms`.
    pub(crate) fn new(per_did: usize, ttl_ms: u64) -> OfflineFrames {
        OfflineFrames {
            per_did,
            ttl_ms,
            held: Mutex::new(Inner::default()),
        }
    }

    /// Whether frames are held at all.
    pub(crate) fn enabled(&self) -> bool {
        self.per_did > 0
    }

    /// Holds `frame` (id `id`, from `sender`) for `to`, received at `now_ms`.
    pub(crate) fn hold(
        &self,
        to: &str,
        sender: &str,
        id: &str,
        frame: TextFrame,
        now_ms: u64,
    ) -> Result<(), Refused> {
        let mut inner = self.held.lock();
        if inner.total >= MAX_HELD {
            return Err(Refused::GatewayFull);
        }
        let queue = inner.by_did.entry(to.to_string()).or_default();
        if queue.len() >= self.per_did {
            return Err(Refused::ReceiverFull);
        }
        queue.push_back(Held {
            frame,
            sender: sender.to_string(),
            id: id.to_string(),
            expires_ms: now_ms + self.ttl_ms,
        });
        inner.total += 1;
        Ok(())
    }

    /// Everything held for `did`, oldest first, split into the frames still live at
    /// `now_ms` and those that expired.
    pub(crate) fn take(&self, did: &str, now_ms: u64) -> (Vec<Held>, Vec<Held>) {
        let mut inner = self.held.lock();
        let Some(queue) = inner.by_did.remove(did) else {
            return (Vec::new(), Vec::new());
        };
        inner.total -= queue.len();
        queue.into_iter().partition(|h| h.expires_ms > now_ms)
    }

    /// Removes and returns every frame expired at `now_ms`.
    pub(crate) fn expire(&self, now_ms: u64) -> Vec<Held> {
        let mut inner = self.held.lock();
        let mut expired = Vec::new();
        inner.by_did.retain(|_, queue| {
            // Held in arrival order with one TTL: the expired ones are at the front.
            while queue.front().is_some_and(|h| h.expires_ms <= now_ms) {
                expired.extend(queue.pop_front());
            }
            !queue.is_empty()
        });
        inner.total -= expired.len();
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u32) -> TextFrame {
        TextFrame::from(format!("frame {n}"))
    }

    #[test]
    fn frames_are_held_per_receiver_within_bounds_and_taken_in_order() {
        let q = OfflineFrames::new(2, 1_000);
        assert!(q.enabled());
        q.hold("b", "a", "1", frame(1), 0).unwrap();
        q.hold("b", "a", "2", frame(2), 10).unwrap();
        assert_eq!(
            q.hold("b", "a", "3", frame(3), 20),
            Err(Refused::ReceiverFull)
        );
        q.hold("c", "a", "4", frame(4), 20).unwrap();
        let (live, expired) = q.take("b", 500);
        assert_eq!(
            live.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            vec!["1", "2"]
        );
        assert!(expired.is_empty());
        assert_eq!(q.take("b", 500).0.len(), 0);
        // What expired is reported, not delivered.
        let (live, expired) = q.take("c", 1_020);
        assert!(live.is_empty());
        assert_eq!(expired[0].id, "4");
        assert_eq!(q.held.lock().total, 0);
        assert!(!OfflineFrames::new(0, 1).enabled());
    }

    #[test]
    fn expiry_sweeps_every_receiver_and_keeps_the_live_frames() {
        let q = OfflineFrames::new(10, 100);
        q.hold("b", "a", "1", frame(1), 0).unwrap();
        q.hold("b", "a", "2", frame(2), 50).unwrap();
        q.hold("c", "a", "3", frame(3), 10).unwrap();
        let expired = q.expire(110);
        let mut ids: Vec<&str> = expired.iter().map(|h| h.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, vec!["1", "3"]);
        assert_eq!(q.held.lock().total, 1);
        assert_eq!(q.take("b", 120).0[0].id, "2");
        assert!(q.held.lock().by_did.is_empty());
    }
}
