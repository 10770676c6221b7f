//! Prometheus metrics.
//!
//! One [`Metrics`] per gateway, holding a registry and typed handles to every metric,
//! so that recording on a hot path is an atomic add or one short lock, never a name
//! lookup. Metrics with a fixed label set are created up front (they show as zero from
//! the first scrape); the per-route and per-error-code families grow with use.
//!
//! Our metrics are prefixed `agentgate_`; the four names from the AMTP deployment guide
//! (`amtp_messages_total`, `amtp_messages_in_flight`, `amtp_delivery_duration_seconds`,
//! `amtp_errors_total`) are exported as well. The exposition is OpenMetrics text, which
//! Prometheus scrapes natively.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

type Labels1 = [(&'static str, &'static str); 1];

/// Labels of one HTTP request: no allocation to build.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

/// Labels of a WebSocket close.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    code: u16,
}

/// A WebSocket dialect, as a metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DialectLabel {
    Native,
    Ioap,
}

impl DialectLabel {
    const ALL: [DialectLabel; 2] = [DialectLabel::Native, DialectLabel::Ioap];

    fn as_str(self) -> &'static str {
        match self {
            DialectLabel::Native => "agentgate.v1",
            DialectLabel::Ioap => "ioap.v1",
        }
    }
}

/// Labels of the HTTP latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms … about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

fn delivery_histogram() -> Histogram {
    // 5 ms … about 6 h: pushes retried with backoff take long.
    Histogram::new(exponential_buckets(0.005, 4.0, 12))
}

/// A store operation, for the store latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreOp {
    KvGet,
    KvWrite,
    KvScan,
    Enqueue,
    Lease,
    QueueWrite,
    QueueRead,
    /// Several writes in one round trip (`write_many`).
    WriteMany,
    Other,
}

impl StoreOp {
    const ALL: [StoreOp; 9] = [
        StoreOp::KvGet,
        StoreOp::KvWrite,
        StoreOp::KvScan,
        StoreOp::Enqueue,
        StoreOp::Lease,
        StoreOp::QueueWrite,
        StoreOp::QueueRead,
        StoreOp::WriteMany,
        StoreOp::Other,
    ];

    fn as_str(self) -> &'static str {
        match self {
            StoreOp::KvGet => "kv_get",
            StoreOp::KvWrite => "kv_write",
            StoreOp::KvScan => "kv_scan",
            StoreOp::Enqueue => "enqueue",
            StoreOp::Lease => "lease",
            StoreOp::QueueWrite => "queue_write",
            StoreOp::QueueRead => "queue_read",
            StoreOp::WriteMany => "write_many",
            StoreOp::Other => "other",
        }
    }
}

/// Outcome of one push attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    /// 2xx.
    Success,
    /// The target answered with another status.
    HttpError,
    /// No answer: connection refused, DNS, TLS, …
    NetworkError,
    /// No answer in time.
    Timeout,
    /// The target is not allowed (private address) or not an agent any more.
    Refused,
}

impl PushOutcome {
    const ALL: [PushOutcome; 5] = [
        PushOutcome::Success,
        PushOutcome::HttpError,
        PushOutcome::NetworkError,
        PushOutcome::Timeout,
        PushOutcome::Refused,
    ];

    fn as_str(self) -> &'static str {
        match self {
            PushOutcome::Success => "success",
            PushOutcome::HttpError => "http_error",
            PushOutcome::NetworkError => "network_error",
            PushOutcome::Timeout => "timeout",
            PushOutcome::Refused => "refused",
        }
    }
}

/// Delivery mode label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ModeLabel {
    Pull,
    Push,
    /// Handed to another domain's gateway.
    Federation,
}

/// Why a recipient did not get a message (label of the failed counter).
pub(crate) const FAILURE_REASONS: [&str; 6] = [
    "AGENT_UNKNOWN",
    "SCHEMA_NOT_SUPPORTED",
    "PUSH_EXHAUSTED",
    "AGENT_UNREGISTERED",
    "FEDERATION_EXHAUSTED",
    "FEDERATION_REJECTED",
];

/// Overall outcome of a submission (label of `amtp_messages_total`).
pub(crate) const SUBMISSION_STATUSES: [&str; 4] = ["delivered", "queued", "partial", "rejected"];

/// All gateway metrics.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    messages_accepted: Counter,
    delivered: [Counter; 3],
    failed: Family<Labels1, Counter>,
    inbox_depth: Gauge,
    push_attempts: [Counter; 5],
    federation_attempts: [Counter; 5],
    federation_inbound: Family<Labels1, Counter>,
    store_ops: [Histogram; 9],
    amtp_messages: Family<Labels1, Counter>,
    amtp_in_flight: Gauge,
    amtp_delivery_duration: [Histogram; 3],
    amtp_errors: Family<Labels1, Counter>,
    ws_connections: Gauge,
    ws_sessions: [Gauge; 2],
    ws_frames: [Counter; 2],
    ws_closes: Family<CloseLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        let messages_accepted = Counter::default();
        let delivered_family = Family::<Labels1, Counter>::default();
        let failed = Family::<Labels1, Counter>::default();
        let inbox_depth = Gauge::default();
        let push_family = Family::<Labels1, Counter>::default();
        let federation_family = Family::<Labels1, Counter>::default();
        let federation_inbound = Family::<Labels1, Counter>::default();
        let store_family: HistogramFamily<Labels1> =
            Family::new_with_constructor(latency_histogram);
        let amtp_messages = Family::<Labels1, Counter>::default();
        let amtp_in_flight = Gauge::default();
        let amtp_delivery_family: HistogramFamily<Labels1> =
            Family::new_with_constructor(delivery_histogram);
        let amtp_errors = Family::<Labels1, Counter>::default();
        let ws_connections = Gauge::default();
        let ws_session_family = Family::<Labels1, Gauge>::default();
        let ws_frame_family = Family::<Labels1, Counter>::default();
        let ws_closes = Family::<CloseLabels, Counter>::default();
        let ws_sessions = DialectLabel::ALL
            .map(|d| ws_session_family.get_or_create_owned(&[("dialect", d.as_str())]));
        let ws_frames = DialectLabel::ALL
            .map(|d| ws_frame_family.get_or_create_owned(&[("dialect", d.as_str())]));

        let delivered = [
            delivered_family.get_or_create_owned(&[("mode", "pull")]),
            delivered_family.get_or_create_owned(&[("mode", "push")]),
            delivered_family.get_or_create_owned(&[("mode", "federation")]),
        ];
        let push_attempts =
            PushOutcome::ALL.map(|o| push_family.get_or_create_owned(&[("outcome", o.as_str())]));
        let store_ops =
            StoreOp::ALL.map(|o| store_family.get_or_create_owned(&[("op", o.as_str())]));
        let amtp_delivery_duration = [
            amtp_delivery_family.get_or_create_owned(&[("mode", "pull")]),
            amtp_delivery_family.get_or_create_owned(&[("mode", "push")]),
            amtp_delivery_family.get_or_create_owned(&[("mode", "federation")]),
        ];
        let federation_attempts = PushOutcome::ALL
            .map(|o| federation_family.get_or_create_owned(&[("outcome", o.as_str())]));
        for reason in FAILURE_REASONS {
            let _ = failed.get_or_create(&[("reason", reason)]);
        }
        for status in SUBMISSION_STATUSES {
            let _ = amtp_messages.get_or_create(&[("status", status)]);
        }

        registry.register(
            "agentgate_http_requests",
            "HTTP requests by method, matched route template and status",
            http_requests.clone(),
        );
        registry.register_with_unit(
            "agentgate_http_request_duration",
            "HTTP request latency by method and matched route template",
            Unit::Seconds,
            http_duration.clone(),
        );
        registry.register(
            "agentgate_messages_accepted",
            "Messages accepted (durably stored for at least one recipient)",
            messages_accepted.clone(),
        );
        registry.register(
            "agentgate_messages_delivered",
            "Recipient copies delivered: placed in a pull inbox, or pushed with a 2xx answer",
            delivered_family,
        );
        registry.register(
            "agentgate_messages_failed",
            "Recipient copies that could not be delivered, by reason",
            failed.clone(),
        );
        registry.register(
            "agentgate_inbox_messages",
            "Messages waiting in pull inboxes (not yet acknowledged)",
            inbox_depth.clone(),
        );
        registry.register(
            "agentgate_push_attempts",
            "Push (webhook) attempts by outcome",
            push_family,
        );
        registry.register(
            "agentgate_federation_attempts",
            "Deliveries to other domains' gateways by outcome",
            federation_family,
        );
        registry.register(
            "agentgate_federation_inbound",
            "Deliveries from other gateways by verdict (accepted or the refusal code)",
            federation_inbound.clone(),
        );
        registry.register_with_unit(
            "agentgate_store_operation_duration",
            "Latency of storage calls, commit included for writes, by operation",
            Unit::Seconds,
            store_family,
        );
        registry.register(
            "amtp_messages",
            "Messages submitted, by outcome (delivered, queued, partial, rejected)",
            amtp_messages.clone(),
        );
        registry.register(
            "amtp_messages_in_flight",
            "Pushes and deliveries to other domains accepted but not yet delivered or failed",
            amtp_in_flight.clone(),
        );
        registry.register_with_unit(
            "amtp_delivery_duration",
            "Time from acceptance to delivery of a recipient copy, by delivery mode",
            Unit::Seconds,
            amtp_delivery_family,
        );
        registry.register(
            "amtp_errors",
            "Error responses by error code",
            amtp_errors.clone(),
        );

        registry.register(
            "agentgate_websocket_connections",
            "WebSocket connections open (authenticated or not)",
            ws_connections.clone(),
        );
        registry.register(
            "agentgate_websocket_sessions",
            "Identities holding a WebSocket session, by dialect",
            ws_session_family,
        );
        registry.register(
            "agentgate_websocket_frames_received",
            "Text frames received on WebSocket sessions, by dialect",
            ws_frame_family,
        );
        registry.register(
            "agentgate_websocket_closes",
            "WebSocket sessions the gateway closed, by close code",
            ws_closes.clone(),
        );

        Metrics {
            registry,
            http_requests,
            http_duration,
            messages_accepted,
            delivered,
            failed,
            inbox_depth,
            push_attempts,
            federation_attempts,
            federation_inbound,
            store_ops,
            amtp_messages,
            amtp_in_flight,
            amtp_delivery_duration,
            amtp_errors,
            ws_connections,
            ws_sessions,
            ws_frames,
            ws_closes,
        }
    }

    /// Sets the WebSocket gauges: connections open, sessions per dialect.
    pub(crate) fn websocket_gauges(&self, connections: usize, native: usize, ioap: usize) {
        self.ws_connections.set(connections as i64);
        self.ws_sessions[0].set(native as i64);
        self.ws_sessions[1].set(ioap as i64);
    }

    /// Counts a text frame received on a `dialect` session.
    pub(crate) fn websocket_frame(&self, dialect: DialectLabel) {
        self.ws_frames[dialect as usize].inc();
    }

    /// Counts a session the gateway closed with `code`.
    pub(crate) fn websocket_close(&self, code: u16) {
        self.ws_closes.get_or_create(&CloseLabels { code }).inc();
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Records one HTTP request.
    pub(crate) fn http_request(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route,
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels { method, route })
            .observe(elapsed.as_secs_f64());
    }

    /// Records an error response.
    pub(crate) fn error_response(&self, code: &'static str) {
        self.amtp_errors.get_or_create(&[("code", code)]).inc();
    }

    /// Records one submission's outcome (`delivered`, `queued`, `partial`, `rejected`).
    pub(crate) fn submission(&self, status: &'static str) {
        self.amtp_messages
            .get_or_create(&[("status", status)])
            .inc();
        if status != "rejected" {
            self.messages_accepted.inc();
        }
    }

    /// Records recipient copies delivered, with the time since acceptance.
    pub(crate) fn delivered(&self, mode: ModeLabel, count: u64, since_accept: Duration) {
        let i = match mode {
            ModeLabel::Pull => 0,
            ModeLabel::Push => 1,
            ModeLabel::Federation => 2,
        };
        self.delivered[i].inc_by(count);
        for _ in 0..count {
            self.amtp_delivery_duration[i].observe(since_accept.as_secs_f64());
        }
    }

    /// Records recipient copies that failed, by reason code.
    pub(crate) fn failed(&self, reason: &'static str, count: u64) {
        self.failed
            .get_or_create(&[("reason", reason)])
            .inc_by(count);
    }

    /// Adjusts the inbox depth gauge.
    pub(crate) fn inbox_depth_add(&self, delta: i64) {
        self.inbox_depth.inc_by(delta);
    }

    /// Sets the inbox depth gauge (at startup).
    pub(crate) fn inbox_depth_set(&self, value: i64) {
        self.inbox_depth.set(value);
    }

    /// Adjusts the pending-push gauge.
    pub(crate) fn in_flight_add(&self, delta: i64) {
        self.amtp_in_flight.inc_by(delta);
    }

    /// Sets the pending-push gauge (at startup).
    pub(crate) fn in_flight_set(&self, value: i64) {
        self.amtp_in_flight.set(value);
    }

    /// Records one push attempt.
    pub(crate) fn push_attempt(&self, outcome: PushOutcome) {
        let i = PushOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.push_attempts[i].inc();
    }

    /// Records one delivery attempt to another gateway.
    pub(crate) fn federation_attempt(&self, outcome: PushOutcome) {
        let i = PushOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.federation_attempts[i].inc();
    }

    /// Records the verdict on one delivery from another gateway (`accepted` or an
    /// error code).
    pub(crate) fn federation_inbound(&self, verdict: &'static str) {
        self.federation_inbound
            .get_or_create(&[("verdict", verdict)])
            .inc();
    }

    /// Records one store call's latency.
    pub(crate) fn store_op(&self, op: StoreOp, elapsed: Duration) {
        let i = StoreOp::ALL.iter().position(|o| *o == op).unwrap_or(0);
        self.store_ops[i].observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family_and_guide_names() {
        let m = Metrics::new();
        m.http_request("POST", "/v1/messages", 200, Duration::from_millis(3));
        m.submission("delivered");
        m.delivered(ModeLabel::Pull, 2, Duration::from_millis(1));
        m.error_response("AGENT_UNKNOWN");
        m.store_op(StoreOp::Enqueue, Duration::from_micros(300));
        m.push_attempt(PushOutcome::Timeout);
        m.inbox_depth_add(2);
        let text = m.render();
        for needle in [
            "agentgate_http_requests_total{method=\"POST\",route=\"/v1/messages\",status=\"200\"} 1",
            "agentgate_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/messages\"} 1",
            "agentgate_messages_accepted_total 1",
            "agentgate_messages_delivered_total{mode=\"pull\"} 2",
            "agentgate_inbox_messages 2",
            "agentgate_push_attempts_total{outcome=\"timeout\"} 1",
            "agentgate_store_operation_duration_seconds_count{op=\"enqueue\"} 1",
            "amtp_messages_total{status=\"delivered\"} 1",
            "amtp_messages_in_flight 0",
            "amtp_delivery_duration_seconds_count{mode=\"pull\"} 2",
            "amtp_errors_total{code=\"AGENT_UNKNOWN\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
