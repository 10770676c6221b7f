//! The load shape of `bench ws`, kept free of sockets so that it can be tested alone:
//! when a phase ends ([`Plan`]), when an open-loop sender sends ([`intended_us`]), how
//! many messages a closed-loop sender may have in flight ([`Window`]), what was counted
//! ([`Counters`], [`LatencyShards`]) and which local addresses connections come from
//! ([`parse_source_ips`]).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hdrhistogram::Histogram;
use tokio::sync::Notify;

/// What a sender may do with the message it is about to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Send it, but it belongs to the warm-up: it is neither counted nor timed.
    Warmup,
    /// Send it and count it.
    Measured,
    /// The phase is over: send nothing more.
    Stop,
}

/// When the measured phase ends.
#[derive(Debug)]
pub enum Limit {
    /// Messages intended at or after this instant (microseconds since the run's epoch)
    /// are not sent.
    Until(u64),
    /// This many measured messages in total, across agents.
    Count {
        /// The total.
        limit: u64,
        /// Measured messages handed out so far (may run past `limit`).
        claimed: AtomicU64,
    },
}

/// The phases of a traffic run, in microseconds since the run's epoch.
#[derive(Debug)]
pub struct Plan {
    /// Messages intended before this instant are the warm-up.
    pub start_us: u64,
    /// When the measured phase ends.
    pub limit: Limit,
}

impl Plan {
    /// Decides about a message intended at `t_us` (the send instant for a closed-loop
    /// sender, the scheduled one for an open-loop sender).
    pub fn claim(&self, t_us: u64) -> Claim {
        if t_us < self.start_us {
            return Claim::Warmup;
        }
        match &self.limit {
            Limit::Until(end) if t_us < *end => Claim::Measured,
            Limit::Until(_) => Claim::Stop,
            Limit::Count { limit, claimed } => {
                if claimed.fetch_add(1, Ordering::Relaxed) < *limit {
                    Claim::Measured
                } else {
                    Claim::Stop
                }
            }
        }
    }
}

/// The open-loop schedule: the instant (microseconds since the epoch) at which `agent`
/// of `agents` should send its `k`-th message, for `rate` messages per second in total
/// starting at `t0_us`.
///
/// Messages are numbered globally, `j = k * agents + agent`, and message `j` is due at
/// `t0 + j / rate`: every agent sends at `rate / agents` per second, the agents are
/// staggered by `1 / rate` so that the total is smooth rather than bursty, and the
/// schedule never depends on when earlier messages actually left. Latency is then
/// measured from this intended instant, so a sender that falls behind (the gateway
/// pushing back, the generator starved of CPU) shows up in the latency figures instead
/// of silently lowering the offered load (no coordinated omission).
pub fn intended_us(t0_us: u64, agent: u32, agents: u32, k: u64, rate: f64) -> u64 {
    let j = k as f64 * f64::from(agents) + f64::from(agent);
    t0_us + (j * 1e6 / rate) as u64
}

/// A closed-loop sender's window: the messages it sent that have not been delivered yet
/// (or answered with an error). The sender waits while the window is full; the receiver
/// of a message, whichever connection it is, frees one place in the sender's window.
#[derive(Debug, Default)]
pub struct Window {
    in_flight: AtomicU32,
    freed: Notify,
}

impl Window {
    /// Messages in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Free places for a window of `size`.
    pub fn free(&self, size: u32) -> u32 {
        size.saturating_sub(self.in_flight())
    }

    /// Takes `n` places.
    pub fn take(&self, n: u32) {
        self.in_flight.fetch_add(n, Ordering::AcqRel);
    }

    /// Frees one place (never below zero: a late delivery after [`Window::reset`] is
    /// harmless) and wakes the sender.
    pub fn release(&self) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(1))
            });
        self.freed.notify_one();
    }

    /// Forgets every message in flight (they are presumed lost).
    pub fn reset(&self) {
        self.in_flight.store(0, Ordering::Release);
    }

    /// Resolves when a place was freed since the last call (or is freed later).
    pub async fn freed(&self) {
        self.freed.notified().await;
    }
}

/// Run-wide counters, shared by every connection.
#[derive(Debug, Default)]
pub struct Counters {
    /// Measured messages sent.
    pub sent: AtomicU64,
    /// Warm-up messages sent.
    pub warmup_sent: AtomicU64,
    /// Deliveries of measured messages.
    pub received: AtomicU64,
    /// Deliveries of warm-up messages.
    pub warmup_received: AtomicU64,
    /// When the last measured delivery arrived, microseconds since the epoch.
    pub last_received_us: AtomicU64,
    /// When the last measured message was sent, microseconds since the epoch.
    pub last_sent_us: AtomicU64,
    /// Connections that are open and registered or authenticated.
    pub ready: AtomicU64,
    /// Connections that failed before being ready.
    pub failed: AtomicU64,
    /// When the last connection became ready, microseconds since the epoch.
    pub last_ready_us: AtomicU64,
    /// Senders that have stopped sending.
    pub senders_done: AtomicU64,
    /// Times a closed-loop sender gave up waiting for its window and reset it.
    pub window_resets: AtomicU64,
}

impl Counters {
    /// Loads one counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Acquire)
    }

    /// Adds one to a counter.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::AcqRel);
    }

    /// Raises `c` to at least `v`.
    pub fn raise(c: &AtomicU64, v: u64) {
        c.fetch_max(v, Ordering::AcqRel);
    }
}

/// Latency histograms shared by the connections: a few shards behind mutexes rather than
/// one histogram per connection (tens of thousands of them would take gigabytes), each
/// connection buffering a few samples before taking a shard's lock.
#[derive(Debug)]
pub struct LatencyShards {
    shards: Vec<Mutex<Histogram<u64>>>,
}

/// Samples a connection buffers before recording them.
const LOCAL_SAMPLES: usize = 64;

impl LatencyShards {
    /// `n` empty shards.
    pub fn new(n: usize) -> Self {
        LatencyShards {
            shards: (0..n.max(1)).map(|_| Mutex::new(new_histogram())).collect(),
        }
    }

    /// A buffer recording into the shard of connection `i`.
    pub fn recorder(&self, i: usize) -> Recorder<'_> {
        Recorder {
            shard: &self.shards[i % self.shards.len()],
            buf: Vec::new(),
        }
    }

    /// Every shard merged.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for s in &self.shards {
            let _ = all.add(&*s.lock().unwrap_or_else(|p| p.into_inner()));
        }
        all
    }
}

/// A histogram of microseconds from 1 µs to one hour, three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// One connection's buffer of latency samples.
#[derive(Debug)]
pub struct Recorder<'a> {
    shard: &'a Mutex<Histogram<u64>>,
    buf: Vec<u64>,
}

impl Recorder<'_> {
    /// Records `us` microseconds (at least 1).
    pub fn record(&mut self, us: u64) {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(LOCAL_SAMPLES);
        }
        self.buf.push(us.max(1));
        if self.buf.len() >= LOCAL_SAMPLES {
            self.flush();
        }
    }

    /// Moves the buffered samples into the shard.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let mut h = self.shard.lock().unwrap_or_else(|p| p.into_inner());
        for v in self.buf.drain(..) {
            h.saturating_record(v);
        }
    }
}

impl Drop for Recorder<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Most source addresses `--source-ips` may name.
const MAX_SOURCE_IPS: u32 = 65_536;

/// The local addresses of `--source-ips`, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceIps(pub Vec<IpAddr>);

/// Parses `--source-ips`: comma-separated addresses or inclusive IPv4 ranges
/// (`127.0.0.1-127.0.0.8`).
pub fn parse_source_ips(s: &str) -> Result<SourceIps, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let parse = |t: &str| {
                    t.trim()
                        .parse::<Ipv4Addr>()
                        .map_err(|_| format!("{t:?} is not an IPv4 address (ranges are IPv4 only)"))
                };
                let (a, b) = (u32::from(parse(a)?), u32::from(parse(b)?));
                if b < a {
                    return Err(format!("empty range {part:?}"));
                }
                if b - a >= MAX_SOURCE_IPS {
                    return Err(format!("range {part:?} is longer than {MAX_SOURCE_IPS}"));
                }
                out.extend((a..=b).map(|v| IpAddr::V4(Ipv4Addr::from(v))));
            }
            None => out.push(
                part.parse::<IpAddr>()
                    .map_err(|_| format!("{part:?} is not an IP address"))?,
            ),
        }
        if out.len() > MAX_SOURCE_IPS as usize {
            return Err(format!("more than {MAX_SOURCE_IPS} source addresses"));
        }
    }
    if out.is_empty() {
        return Err("no source address given".into());
    }
    Ok(SourceIps(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_separates_warmup_measured_and_stop_by_time() {
        let p = Plan {
            start_us: 1_000,
            limit: Limit::Until(5_000),
        };
        assert_eq!(p.claim(0), Claim::Warmup);
        assert_eq!(p.claim(999), Claim::Warmup);
        assert_eq!(p.claim(1_000), Claim::Measured);
        assert_eq!(p.claim(4_999), Claim::Measured);
        assert_eq!(p.claim(5_000), Claim::Stop);
    }

    #[test]
    fn plan_hands_out_exactly_the_message_count_after_the_warmup() {
        let p = Plan {
            start_us: 100,
            limit: Limit::Count {
                limit: 3,
                claimed: AtomicU64::new(0),
            },
        };
        assert_eq!(p.claim(50), Claim::Warmup, "warm-up is not counted");
        let measured = (0..10)
            .map(|i| p.claim(200 + i))
            .filter(|c| *c == Claim::Measured)
            .count();
        assert_eq!(measured, 3);
        assert_eq!(p.claim(1_000), Claim::Stop);
    }

    #[test]
    fn rate_schedule_is_smooth_in_total_and_even_per_agent() {
        // 1,000 msg/s over 4 agents: one message every millisecond in total, each agent
        // every 4 ms, agent a first at a ms.
        let all: Vec<u64> = (0..3)
            .flat_map(|k| (0..4).map(move |a| intended_us(10, a, 4, k, 1000.0)))
            .collect();
        let want: Vec<u64> = (0..12).map(|j| 10 + j * 1000).collect();
        assert_eq!(all, want);
        assert_eq!(intended_us(0, 3, 4, 0, 1000.0), 3_000);
        assert_eq!(
            intended_us(0, 1, 4, 2, 1000.0) - intended_us(0, 1, 4, 1, 1000.0),
            4_000
        );
        // A fractional interval does not drift: message j is always at j / rate.
        assert_eq!(intended_us(0, 0, 1, 3_000_000, 3.0), 1_000_000_000_000);
    }

    #[test]
    fn window_counts_and_never_goes_below_zero() {
        let w = Window::default();
        assert_eq!(w.free(8), 8);
        w.take(8);
        assert_eq!(w.free(8), 0);
        w.release();
        assert_eq!(w.free(8), 1);
        w.reset();
        w.release();
        assert_eq!(w.in_flight(), 0);
    }

    #[test]
    fn recorders_merge_into_one_histogram() {
        let shards = LatencyShards::new(4);
        for i in 0..10 {
            let mut r = shards.recorder(i);
            for v in 0..100u64 {
                r.record(v * 10);
            }
        }
        let h = shards.merged();
        assert_eq!(h.len(), 1_000);
        assert_eq!(h.min(), 1, "zero is recorded as 1 µs");
        assert_eq!(h.max(), 990);
    }

    #[test]
    fn source_ips_accept_ranges_and_lists() {
        let v = parse_source_ips("127.0.0.1-127.0.0.3, 127.0.1.9,::1").unwrap();
        let s: Vec<String> = v.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            s,
            ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.1.9", "::1"]
        );
        assert_eq!(
            parse_source_ips("127.0.0.255-127.0.1.0").unwrap().0.len(),
            2
        );
        assert!(parse_source_ips("127.0.0.3-127.0.0.1").is_err());
        assert!(parse_source_ips("nope").is_err());
        assert!(parse_source_ips(" , ").is_err());
        assert!(parse_source_ips("10.0.0.0-10.255.255.255").is_err());
    }
}
