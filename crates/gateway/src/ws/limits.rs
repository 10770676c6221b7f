//! Admission and rate limits of WebSocket sessions. Pure bookkeeping: no I/O, the
//! clock passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Why a connection is not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `websocket.max_connections` sessions are open.
    Total,
    /// `websocket.max_connections_per_address` sessions are open from this address.
    PerAddress,
}

/// Counts open sessions, in all and per address.
#[derive(Debug)]
pub(crate) struct Admission {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// An admitted session's place; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Admitted {
    admission: Arc<Admission>,
    address: IpAddr,
}

impl Admission {
    /// Limits of `max_total` sessions, `max_per_address` from one address.
    pub(crate) fn new(max_total: usize, max_per_address: usize) -> Admission {
        Admission {
            max_total,
            max_per_address,
            open: Mutex::new(Counts::default()),
        }
    }

    /// Takes a place for a session from `address`.
    pub(crate) fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Admitted, Refusal> {
        let mut open = self.open.lock();
        if open.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let from = open.per_address.entry(address).or_insert(0);
        if *from >= self.max_per_address {
            return Err(Refusal::PerAddress);
        }
        *from += 1;
        open.total += 1;
        Ok(Admitted {
            admission: self.clone(),
            address,
        })
    }

    /// Sessions open.
    pub(crate) fn open(&self) -> usize {
        self.open.lock().total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock();
        open.total -= 1;
        if let Some(n) = open.per_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                open.per_address.remove(&self.address);
            }
        }
    }
}

/// What to do with a frame, as far as the rate limit is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the limit.
    Allow,
    /// Over the limit: refuse this frame, keep the session.
    Refuse,
    /// Far over the limit (more than twice it within a second): close the session.
    Close,
}

/// A token bucket of `rate` frames per second holding at most one second's worth, plus
/// a count of refusals per second.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    tokens: f64,
    last: Instant,
    refused: u32,
    window_start: Instant,
}

impl RateLimiter {
    /// `rate` frames per second; `None` for 0 (no limit).
    pub(crate) fn new(rate: u32, now: Instant) -> Option<RateLimiter> {
        (rate > 0).then(|| RateLimiter {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: now,
            refused: 0,
            window_start: now,
        })
    }

    /// Takes a token for one frame received at `now`.
    pub(crate) fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        if now.saturating_duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.refused = 0;
        }
        self.refused += 1;
        if f64::from(self.refused) > self.rate {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn admission_counts_in_all_and_per_address_and_frees_on_drop() {
        let a = Arc::new(Admission::new(3, 2));
        let x = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
        let y = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let x1 = a.admit(x).unwrap();
        let _x2 = a.admit(x).unwrap();
        assert_eq!(a.admit(x).unwrap_err(), Refusal::PerAddress);
        let y1 = a.admit(y).unwrap();
        assert_eq!(a.admit(y).unwrap_err(), Refusal::Total);
        assert_eq!(a.open(), 3);
        drop(x1);
        assert_eq!(a.open(), 2);
        let _x3 = a.admit(x).unwrap();
        drop(y1);
        assert_eq!(a.open.lock().per_address.get(&y), None);
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate_then_closes_far_over_it() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(10, t0).unwrap();
        for _ in 0..10 {
            assert_eq!(r.check(t0), Verdict::Allow);
        }
        assert_eq!(r.check(t0), Verdict::Refuse);
        // A tenth of a second later: one more token.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(r.check(t1), Verdict::Allow);
        assert_eq!(r.check(t1), Verdict::Refuse);
        // Ten refusals in the second are tolerated; the eleventh closes.
        for _ in 0..8 {
            assert_eq!(r.check(t1), Verdict::Refuse);
        }
        assert_eq!(r.check(t1), Verdict::Close);
        // A later second starts a fresh refusal count.
        let t2 = t1 + Duration::from_millis(1_500);
        for _ in 0..10 {
            assert_eq!(r.check(t2), Verdict::Allow);
        }
        assert_eq!(r.check(t2), Verdict::Refuse);
        assert!(RateLimiter::new(0, t0).is_none());
    }

    #[test]
    fn a_steady_sender_at_the_rate_is_never_refused() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(100, t0).unwrap();
        for i in 0..1_000u64 {
            assert_eq!(r.check(t0 + Duration::from_millis(10 * i)), Verdict::Allow);
        }
    }
}

/// Ids of REGISTER frames seen within the freshness window, so that a captured
/// REGISTER cannot be replayed while its timestamp is still acceptable.
#[derive(Debug)]
pub(crate) struct SeenIds {
    capacity: usize,
    seen: Mutex<HashMap<String, u64>>,
}

impl SeenIds {
    /// Remembers at most `capacity` ids at once.
    pub(crate) fn new(capacity: usize) -> SeenIds {
        SeenIds {
            capacity,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records `id` until `expires_ms`; `false` if it is already recorded and not yet
    /// expired at `now_ms`, or if the table is full of live ids (refusing is the safe
    /// answer then).
    pub(crate) fn first_use(&self, id: &str, now_ms: u64, expires_ms: u64) -> bool {
        let mut seen = self.seen.lock();
        if let Some(&until) = seen.get(id)
            && until > now_ms
        {
            return false;
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, until| *until > now_ms);
            if seen.len() >= self.capacity {
                return false;
            }
        }
        seen.insert(id.to_string(), expires_ms);
        true
    }
}

#[cfg(test)]
mod seen_tests {
    use super::*;

    #[test]
    fn an_id_is_accepted_once_until_it_expires() {
        let s = SeenIds::new(2);
        assert!(s.first_use("a", 0, 100));
        assert!(!s.first_use("a", 50, 150));
        assert!(s.first_use("a", 100, 200));
        assert!(s.first_use("b", 100, 200));
        // Full of live ids: refused.
        assert!(!s.first_use("c", 150, 250));
        // Once they expire there is room again.
        assert!(s.first_use("c", 200, 300));
    }
}
