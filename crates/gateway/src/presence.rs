//! Presence: which identities hold a live session, since when, and how to reach them.
//!
//! A [`Registry`] maps an identity (an agent's address, a `did:key`) to its one current
//! session, in O(1). The newest session of an identity wins: [`Registry::claim`]
//! replaces the previous holder and hands it back so that the edge closes it (code
//! 4000). Only the current holder's end changes presence ([`Registry::release`] with
//! the holder's session id), so a replaced session that closes late cannot take a newer
//! one offline. Every change is published on a broadcast channel for subscribers.
//!
//! The registry holds no sockets: a [`Session`] carries what the edge needs to reach a
//! connection (a bounded queue of frames and a close signal), so routing to an identity
//! never blocks on that connection's peer.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agentgate_core::Timestamp;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// Presence changes kept for slow subscribers; one that falls further behind is told it
/// lagged and resynchronises from [`Registry::list`].
const EVENT_BUFFER: usize = 4_096;

/// A text frame, shared between queues without copying.
pub(crate) type TextFrame = axum::extract::ws::Utf8Bytes;

/// Why a session is being closed by the gateway (a WebSocket close code and reason);
/// the codes are in `ws::conn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CloseReason {
    /// The WebSocket close code.
    pub code: u16,
    /// A short reason for the close frame.
    pub reason: &'static str,
}

/// One live session, as the registry and other sessions see it.
#[derive(Debug)]
pub(crate) struct Session {
    /// Unique among this gateway's sessions.
    pub id: u64,
    /// When the session claimed its identity.
    pub connected_since: Timestamp,
    last_activity: AtomicU64,
    /// Frames to send on this connection (bounded).
    pub outbound: mpsc::Sender<TextFrame>,
    close: CancellationToken,
    close_reason: Mutex<Option<CloseReason>>,
}

impl Session {
    /// A session reachable through `outbound`, asked to close when `shutdown` is
    /// cancelled too.
    pub(crate) fn new(
        id: u64,
        now: Timestamp,
        outbound: mpsc::Sender<TextFrame>,
        shutdown: &CancellationToken,
    ) -> Session {
        Session {
            id,
            connected_since: now,
            last_activity: AtomicU64::new(now.millis()),
            outbound,
            close: shutdown.child_token(),
            close_reason: Mutex::new(None),
        }
    }

    /// Records activity (a frame received) at `now`.
    pub(crate) fn touch(&self, now: Timestamp) {
        self.last_activity
            .fetch_max(now.millis(), Ordering::Relaxed);
    }

    /// The last activity recorded.
    pub(crate) fn last_activity(&self) -> Timestamp {
        Timestamp(self.last_activity.load(Ordering::Relaxed))
    }

    /// Asks the session's connection to close with `reason` (the first reason asked
    /// for wins).
    pub(crate) fn close(&self, reason: CloseReason) {
        self.close_reason.lock().get_or_insert(reason);
        self.close.cancel();
    }

    /// Resolves when someone asked the session to close, or the gateway is shutting
    /// down; then the reason.
    pub(crate) async fn closed(&self) -> CloseReason {
        self.close.cancelled().await;
        self.close_reason().unwrap_or(CloseReason::GOING_AWAY)
    }

    /// Why the session was asked to close, if it was.
    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        *self.close_reason.lock()
    }
}

/// Online or offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// The identity gained a session.
    Online,
    /// Its session ended.
    Offline,
}

/// A presence change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Change<K> {
    /// Whose presence changed.
    pub identity: K,
    /// The new status.
    pub status: Status,
    /// When.
    pub at: Timestamp,
}

/// A present identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Present<K> {
    /// The identity.
    pub identity: K,
    /// Since when its current session holds it.
    pub connected_since: Timestamp,
    /// The last frame received from that session.
    pub last_activity: Timestamp,
}

/// The live sessions of one kind of identity.
#[derive(Debug)]
pub(crate) struct Registry<K> {
    sessions: RwLock<HashMap<K, Arc<Session>>>,
    changes: broadcast::Sender<Change<K>>,
}

impl<K: Clone + Eq + Hash> Default for Registry<K> {
    fn default() -> Self {
        Registry {
            sessions: RwLock::new(HashMap::new()),
            changes: broadcast::channel(EVENT_BUFFER).0,
        }
    }
}

impl<K: Clone + Eq + Hash> Registry<K> {
    /// Makes `session` the holder of `identity`; returns the session it replaces, which
    /// the caller closes. Publishes `online` when the identity had no session.
    pub(crate) fn claim(&self, identity: K, session: Arc<Session>) -> Option<Arc<Session>> {
        let at = session.connected_since;
        let previous = self.sessions.write().insert(identity.clone(), session);
        if previous.is_none() {
            let _ = self.changes.send(Change {
                identity,
                status: Status::Online,
                at,
            });
        }
        previous
    }

    /// Ends `session_id`'s hold on `identity`, if it still holds it; publishes
    /// `offline` then. Returns whether it held it.
    pub(crate) fn release(&self, identity: &K, session_id: u64, now: Timestamp) -> bool {
        let mut sessions = self.sessions.write();
        if sessions.get(identity).is_none_or(|s| s.id != session_id) {
            return false;
        }
        sessions.remove(identity);
        drop(sessions);
        let _ = self.changes.send(Change {
            identity: identity.clone(),
            status: Status::Offline,
            at: now,
        });
        true
    }

    /// The session holding `identity`.
    pub(crate) fn get<Q>(&self, identity: &Q) -> Option<Arc<Session>>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.sessions.read().get(identity).cloned()
    }

    /// Sessions open.
    pub(crate) fn len(&self) -> usize {
        self.sessions.read().len()
    }

    /// Every present identity, in identity order.
    pub(crate) fn list(&self) -> Vec<Present<K>>
    where
        K: Ord,
    {
        let mut present: Vec<Present<K>> = self
            .sessions
            .read()
            .iter()
            .map(|(k, s)| Present {
                identity: k.clone(),
                connected_since: s.connected_since,
                last_activity: s.last_activity(),
            })
            .collect();
        present.sort_by(|a, b| a.identity.cmp(&b.identity));
        present
    }

    /// Presence changes from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change<K>> {
        self.changes.subscribe()
    }

    /// Asks every session to close with `reason` (shutdown).
    pub(crate) fn close_all(&self, reason: CloseReason) {
        for s in self.sessions.read().values() {
            s.close(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: u64, at: u64) -> Arc<Session> {
        Arc::new(Session::new(
            id,
            Timestamp(at),
            mpsc::channel(1).0,
            &CancellationToken::new(),
        ))
    }

    #[test]
    fn the_newest_session_wins_and_only_the_holder_goes_offline() {
        let r = Registry::<String>::default();
        let mut events = r.subscribe();
        let a = "alice".to_string();
        assert!(r.claim(a.clone(), session(1, 10)).is_none());
        let replaced = r.claim(a.clone(), session(2, 20)).unwrap();
        assert_eq!(replaced.id, 1);
        // The replaced session ends late: nothing changes.
        assert!(!r.release(&a, 1, Timestamp(30)));
        assert_eq!(r.get(&a).unwrap().id, 2);
        assert!(r.release(&a, 2, Timestamp(40)));
        assert!(r.get(&a).is_none());
        assert!(!r.release(&a, 2, Timestamp(41)));
        let got: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
        assert_eq!(
            got,
            vec![
                Change {
                    identity: a.clone(),
                    status: Status::Online,
                    at: Timestamp(10)
                },
                Change {
                    identity: a,
                    status: Status::Offline,
                    at: Timestamp(40)
                },
            ]
        );
    }

    #[test]
    fn list_reports_each_holder_with_its_activity() {
        let r = Registry::<String>::default();
        let s = session(7, 100);
        r.claim("bob".into(), s.clone());
        s.touch(Timestamp(150));
        s.touch(Timestamp(120)); // out of order: the latest stays
        assert_eq!(
            r.list(),
            vec![Present {
                identity: "bob".to_string(),
                connected_since: Timestamp(100),
                last_activity: Timestamp(150)
            }]
        );
        assert_eq!(r.len(), 1);
    }

    #[tokio::test]
    async fn close_keeps_the_first_reason() {
        let s = session(1, 0);
        s.close(CloseReason::SUPERSEDED);
        s.close(CloseReason::GOING_AWAY);
        assert_eq!(s.closed().await, CloseReason::SUPERSEDED);
        let r = Registry::<String>::default();
        let t = session(2, 0);
        r.claim("x".into(), t.clone());
        r.close_all(CloseReason::GOING_AWAY);
        assert_eq!(t.closed().await, CloseReason::GOING_AWAY);
    }
}
