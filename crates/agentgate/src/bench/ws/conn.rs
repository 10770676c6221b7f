//! One agent's WebSocket connection: open it (TCP from a chosen source address, the
//! upgrade with the dialect's subprotocol, then REGISTER or `auth`), then read and write
//! concurrently until the run closes it.
//!
//! The two halves run in the same task (`join!`), so a connection costs one task. They
//! never wait on each other: the reader only hands message ids to acknowledge to the
//! writer and wakes it, so a writer blocked by TCP backpressure never stops the reading
//! that the gateway may be waiting for.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::stream::{SplitSink, SplitStream};
use futures::{FutureExt as _, SinkExt as _, StreamExt as _};
use rand::Rng as _;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use uuid::Uuid;

use super::load::{Claim, Counters, LatencyShards, Plan, Window, intended_us};
use super::{ioap, native};

type Ws = WebSocketStream<TcpStream>;

/// How long a connection waits for the gateway's answer to its close.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Where the run is; every connection follows it through a `watch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Connecting, then holding the connections (idle runs stay here).
    Connect,
    /// Sending.
    Run,
    /// No more sending; deliveries still arrive and are acknowledged.
    Drain,
    /// Close every connection.
    Close,
}

/// An agent's credentials in its dialect.
#[derive(Debug)]
pub enum Agent {
    /// `ioap.v1`: a key pair and its `did:key`.
    Ioap(Box<ioap::Identity>),
    /// `agentgate.v1`: an agent registered for the run.
    Native {
        /// The agent's address as a JSON string literal, ready to splice into frames.
        quoted: String,
        /// Its API key.
        api_key: String,
    },
}

/// Knobs of a connection.
#[derive(Debug)]
pub struct ConnOpts {
    /// Size of every message frame, bytes.
    pub size: usize,
    /// Closed loop: messages in flight per agent.
    pub pipeline: u32,
    /// Open loop: messages per second in total (`None`: closed loop).
    pub rate: Option<f64>,
    /// Most message ids per `ack` request.
    pub ack_batch: usize,
    /// Limit on opening a connection, and on waiting for a full window.
    pub timeout: Duration,
    /// Read buffer of each connection, bytes.
    pub read_buffer: usize,
}

/// The traffic phase's schedule, set when every connection is open.
#[derive(Debug)]
pub struct Traffic {
    /// Warm-up and end.
    pub plan: Plan,
    /// When sending starts, microseconds since the epoch.
    pub t0_us: u64,
}

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// The origin of every `*_us` instant.
    pub epoch: Instant,
    /// `ws://…` URL of the endpoint.
    pub url: String,
    /// Its socket address, resolved once.
    pub target: SocketAddr,
    /// Local addresses to connect from, round robin (empty: the system's choice).
    pub sources: Vec<IpAddr>,
    /// One per connection.
    pub agents: Vec<Agent>,
    /// Closed-loop windows, one per agent.
    pub windows: Vec<Window>,
    /// Run-wide counts.
    pub counters: Counters,
    /// Delivery latency, microseconds.
    pub latency: LatencyShards,
    /// Time to open a connection, microseconds.
    pub connect_latency: LatencyShards,
    /// Bounds the connections being opened at once.
    pub connect_gate: Semaphore,
    /// Set before the phase becomes [`Phase::Run`].
    pub traffic: OnceLock<Traffic>,
    /// Knobs.
    pub opts: ConnOpts,
}

impl Shared {
    /// Microseconds since the epoch.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn subprotocol(&self) -> &'static str {
        match self.agents.first() {
            Some(Agent::Native { .. }) => native::SUBPROTOCOL,
            _ => ioap::SUBPROTOCOL,
        }
    }

    /// A delivery of a message sent at `t_us` by agent `sender`, observed now.
    fn delivered(&self, t_us: u64, sender: u32, rec: &mut super::load::Recorder<'_>) {
        if let Some(w) = self.windows.get(sender as usize) {
            w.release();
        }
        let Some(traffic) = self.traffic.get() else {
            return;
        };
        let c = &self.counters;
        if t_us >= traffic.plan.start_us {
            let now = self.now_us();
            rec.record(now.saturating_sub(t_us));
            Counters::bump(&c.received);
            Counters::raise(&c.last_received_us, now);
        } else {
            Counters::bump(&c.warmup_received);
        }
    }

    /// A random agent other than `me` (`me` itself when it is alone).
    fn pick_peer(&self, me: usize) -> usize {
        let n = self.agents.len();
        if n < 2 {
            return me;
        }
        let j = rand::rng().random_range(0..n - 1);
        if j >= me { j + 1 } else { j }
    }
}

/// What one connection saw, merged into the run's report.
#[derive(Debug, Default)]
pub struct ConnReport {
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// The first error's details.
    pub first_error: Option<String>,
    /// Frames that are neither deliveries nor errors, by type or method.
    pub other_frames: BTreeMap<String, u64>,
    /// Native: `send` requests answered with a result.
    pub sends_accepted: u64,
    /// Native: `ack` requests sent.
    pub acks_sent: u64,
}

impl ConnReport {
    fn error(&mut self, kind: impl Into<String>, detail: impl FnOnce() -> String) {
        *self.errors.entry(kind.into()).or_default() += 1;
        if self.first_error.is_none() {
            self.first_error = Some(detail());
        }
    }

    fn other(&mut self, kind: &str) {
        *self.other_frames.entry(kind.to_string()).or_default() += 1;
    }

    /// Adds `other` to this one.
    pub fn merge(&mut self, other: ConnReport) {
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in other.other_frames {
            *self.other_frames.entry(k).or_default() += v;
        }
        self.sends_accepted += other.sends_accepted;
        self.acks_sent += other.acks_sent;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// A failure to open a connection: its kind (for counting) and details.
type OpenError = (String, String);

/// Runs agent `i`'s connection from opening to close.
pub async fn run(sh: Arc<Shared>, i: usize, phase: watch::Receiver<Phase>) -> ConnReport {
    let mut rep = ConnReport::default();
    let opened = {
        let _permit = sh.connect_gate.acquire().await;
        let started = Instant::now();
        match tokio::time::timeout(sh.opts.timeout, open(&sh, i)).await {
            Ok(Ok(ws)) => {
                let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                sh.connect_latency.recorder(0).record(us);
                Counters::bump(&sh.counters.ready);
                Counters::raise(&sh.counters.last_ready_us, sh.now_us());
                Some(ws)
            }
            Ok(Err((kind, detail))) => {
                rep.error(kind, || detail);
                None
            }
            Err(_) => {
                rep.error("open: timeout", || {
                    format!(
                        "connection {i} not open and registered within {:.1} s",
                        sh.opts.timeout.as_secs_f64()
                    )
                });
                None
            }
        }
    };
    let Some(ws) = opened else {
        Counters::bump(&sh.counters.failed);
        return rep;
    };
    let (sink, stream) = ws.split();
    let link = Link::default();
    let (r, w) = tokio::join!(
        read_loop(&sh, i, stream, &link, phase.clone()),
        write_loop(&sh, i, sink, &link, phase)
    );
    rep.merge(r);
    rep.merge(w);
    rep
}

/// What the two halves of a connection share.
#[derive(Debug, Default)]
struct Link {
    /// The connection is gone (or closing): the writer stops.
    closed: AtomicBool,
    /// Message ids delivered and not yet acknowledged (native).
    pending_acks: Mutex<Vec<String>>,
    /// Wakes the writer: acks are pending or the connection ended.
    wake: Notify,
}

impl Link {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn take_acks(&self) -> Vec<String> {
        std::mem::take(&mut *self.pending_acks.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Opens a TCP connection to `target`, from `source` when given.
async fn tcp_connect(target: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    socket.set_nodelay(true)?;
    socket.connect(target).await
}

fn io_kind(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "refused",
        K::ConnectionReset => "reset",
        K::TimedOut => "timeout",
        K::AddrInUse | K::AddrNotAvailable => "no local address or port",
        _ if e.raw_os_error() == Some(24) => "too many open files",
        _ => "other",
    }
}

fn handshake_kind(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(resp) => format!("upgrade: HTTP {}", resp.status().as_u16()),
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(_),
        ) => "upgrade: subprotocol".into(),
        tungstenite::Error::Io(io) => format!("upgrade: {}", io_kind(io)),
        _ => "upgrade: other".into(),
    }
}

/// Connects, upgrades and registers or authenticates.
async fn open(sh: &Shared, i: usize) -> Result<Ws, OpenError> {
    let source = (!sh.sources.is_empty()).then(|| sh.sources[i % sh.sources.len()]);
    let tcp = tcp_connect(sh.target, source).await.map_err(|e| {
        (
            format!("connect: {}", io_kind(&e)),
            format!("connect to {} from {source:?}: {e}", sh.target),
        )
    })?;
    let mut request = sh
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| ("upgrade: request".to_string(), e.to_string()))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(sh.subprotocol()),
    );
    let config = WebSocketConfig::default()
        .read_buffer_size(sh.opts.read_buffer)
        .write_buffer_size(16 * 1024)
        .max_message_size(Some(64 << 20));
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
        .await
        .map_err(|e| (handshake_kind(&e), format!("upgrade of {}: {e}", sh.url)))?;
    match &sh.agents[i] {
        Agent::Ioap(me) => register_ioap(&mut ws, me, i).await?,
        Agent::Native { api_key, .. } => auth_native(&mut ws, api_key).await?,
    }
    Ok(ws)
}

/// Reads the next text frame while opening; a close or an error fails the opening.
async fn next_text(ws: &mut Ws, during: &str) -> Result<Utf8Bytes, OpenError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t),
            Some(Ok(Message::Close(f))) => {
                return Err((
                    format!("{during}: closed {}", close_code(f.as_ref())),
                    format!("closed by the gateway during {during}: {f:?}"),
                ));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err((format!("{during}: lost"), e.to_string())),
            None => return Err((format!("{during}: lost"), "end of stream".into())),
        }
    }
}

fn close_code(f: Option<&CloseFrame>) -> String {
    f.map_or("without code".into(), |f| u16::from(f.code).to_string())
}

/// Sends REGISTER as an AIConexus client does (it gets no answer), then a
/// self-addressed OFFER: the gateway handles each connection's frames in order, so
/// receiving that probe back proves that the agent is registered and reachable before
/// any other agent sends to it.
async fn register_ioap(ws: &mut Ws, me: &ioap::Identity, i: usize) -> Result<(), OpenError> {
    let lost = |e: tungstenite::Error| ("register: lost".to_string(), e.to_string());
    let id = Uuid::new_v4().to_string();
    ws.feed(Message::text(ioap::register_frame(
        me,
        &id,
        ioap::unix_micros(),
    )))
    .await
    .map_err(lost)?;
    let agent = u32::try_from(i).unwrap_or(u32::MAX);
    let mut probe = String::new();
    ioap::offer_frame(
        &mut probe,
        &ioap::probe_id(agent),
        &me.did,
        &me.did,
        ioap::unix_micros(),
        0,
    );
    ws.send(Message::text(probe)).await.map_err(lost)?;
    loop {
        let t = next_text(ws, "register").await?;
        match ioap::classify(&t) {
            ioap::Incoming::Probe(n) if n == agent => return Ok(()),
            ioap::Incoming::Error(code) => {
                return Err((
                    format!("register: ERROR {code}"),
                    format!("REGISTER refused: {t}"),
                ));
            }
            _ => {}
        }
    }
}

/// Waits for `welcome`, then authenticates with the API key.
async fn auth_native(ws: &mut Ws, api_key: &str) -> Result<(), OpenError> {
    while native::classify(&next_text(ws, "welcome").await?) != native::Incoming::Welcome {}
    ws.send(Message::text(native::auth_frame(api_key)))
        .await
        .map_err(|e| ("auth: lost".to_string(), e.to_string()))?;
    loop {
        let t = next_text(ws, "auth").await?;
        if let native::Incoming::Answer {
            id: Some(native::AUTH_ID),
            outcome,
        } = native::classify(&t)
        {
            return outcome.map_err(|code| (format!("auth: {code}"), format!("auth refused: {t}")));
        }
    }
}

/// Reads until the connection ends, or until [`CLOSE_WAIT`] after the run closes it.
async fn read_loop(
    sh: &Shared,
    i: usize,
    mut stream: SplitStream<Ws>,
    link: &Link,
    mut phase: watch::Receiver<Phase>,
) -> ConnReport {
    let mut rep = ConnReport::default();
    let mut rec = sh.latency.recorder(i);
    let mut close_by: Option<tokio::time::Instant> = None;
    loop {
        let mut next = tokio::select! {
            biased;
            m = stream.next() => m,
            changed = phase.changed(), if close_by.is_none() => {
                if changed.is_err() || *phase.borrow_and_update() == Phase::Close {
                    close_by = Some(tokio::time::Instant::now() + CLOSE_WAIT);
                }
                continue;
            }
            () = tokio::time::sleep_until(close_by.unwrap_or_else(tokio::time::Instant::now)),
                if close_by.is_some() => break,
        };
        // Everything that is already readable is handled before the writer is woken, so
        // that acknowledgements go out in batches.
        loop {
            let closing = *phase.borrow() == Phase::Close;
            match next {
                Some(Ok(Message::Text(t))) => on_text(sh, i, &t, link, &mut rep, &mut rec),
                Some(Ok(Message::Close(f))) => {
                    if !closing {
                        let code = close_code(f.as_ref());
                        rep.error(format!("closed by gateway: {code}"), || {
                            format!("connection {i} closed by the gateway: {f:?}")
                        });
                    }
                    link.close();
                }
                Some(Ok(Message::Binary(_))) => rep.other("binary frame"),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    if !closing && !link.is_closed() {
                        let kind = match &e {
                            tungstenite::Error::Io(io) => {
                                format!("connection lost: {}", io_kind(io))
                            }
                            tungstenite::Error::Capacity(_) => "frame too large".into(),
                            tungstenite::Error::Protocol(_) => "protocol error".into(),
                            _ => "connection lost: other".into(),
                        };
                        rep.error(kind, || format!("connection {i}: {e}"));
                    }
                    link.close();
                    return rep;
                }
                None => {
                    if !closing && !link.is_closed() {
                        rep.error("connection lost: eof", || {
                            format!("connection {i} ended without a close frame")
                        });
                    }
                    link.close();
                    return rep;
                }
            }
            match stream.next().now_or_never() {
                Some(m) => next = m,
                None => break,
            }
        }
        if !link
            .pending_acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            link.wake.notify_one();
        }
    }
    rep
}

fn on_text(
    sh: &Shared,
    i: usize,
    text: &str,
    link: &Link,
    rep: &mut ConnReport,
    rec: &mut super::load::Recorder<'_>,
) {
    if let Agent::Ioap(_) = &sh.agents[i] {
        match ioap::classify(text) {
            ioap::Incoming::Offer(st) => sh.delivered(st.t_us, st.sender, rec),
            ioap::Incoming::Probe(_) => rep.other("probe"),
            ioap::Incoming::Error(code) => rep.error(format!("ERROR {code}"), || {
                format!("connection {i} received {text}")
            }),
            ioap::Incoming::Other(kind) => rep.other(&kind),
            ioap::Incoming::Unreadable => rep.other("unreadable"),
        }
        return;
    }
    match native::classify(text) {
        native::Incoming::Delivery { message_id, stamp } => {
            link.pending_acks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(message_id);
            match stamp {
                Some((t, s)) => sh.delivered(t, s, rec),
                None => rep.other("message not from this run"),
            }
        }
        native::Incoming::Answer { id, outcome } => {
            match (id.map(native::request_kind), outcome) {
                (Some(native::RequestKind::Send), Ok(())) => rep.sends_accepted += 1,
                (Some(native::RequestKind::Send), Err(code)) => {
                    // It will never be delivered: free its place in the window.
                    sh.windows[i].release();
                    rep.error(format!("send refused: {code}"), || {
                        format!("connection {i} received {text}")
                    });
                }
                (_, Ok(())) => {}
                (kind, Err(code)) => {
                    let what = match kind {
                        Some(native::RequestKind::Ack) => "ack",
                        _ => "request",
                    };
                    rep.error(format!("{what} refused: {code}"), || {
                        format!("connection {i} received {text}")
                    });
                }
            }
        }
        native::Incoming::Welcome => rep.other("welcome"),
        native::Incoming::Notification(m) => rep.other(&m),
        native::Incoming::Unreadable => rep.other("unreadable"),
    }
}

/// The writer: waits for the run, sends, acknowledges deliveries until the close, then
/// closes with 1000.
async fn write_loop(
    sh: &Shared,
    i: usize,
    mut sink: SplitSink<Ws, Message>,
    link: &Link,
    mut phase: watch::Receiver<Phase>,
) -> ConnReport {
    let mut rep = ConnReport::default();
    let mut ids = native::RequestIds::default();
    let mut result = hold(
        &mut sink,
        link,
        &mut phase,
        Phase::Run,
        &mut ids,
        sh,
        &mut rep,
    )
    .await;
    if result.is_ok() && *phase.borrow() == Phase::Run && !link.is_closed() {
        result = match sh.opts.rate {
            None => send_closed_loop(sh, i, &mut sink, link, &mut phase, &mut ids, &mut rep).await,
            Some(rate) => {
                send_open_loop(sh, i, rate, &mut sink, link, &mut phase, &mut ids, &mut rep).await
            }
        };
    }
    Counters::bump(&sh.counters.senders_done);
    if result.is_ok() {
        result = hold(
            &mut sink,
            link,
            &mut phase,
            Phase::Close,
            &mut ids,
            sh,
            &mut rep,
        )
        .await;
    }
    if let Err(e) = result {
        if !link.is_closed() && *phase.borrow() != Phase::Close {
            rep.error("write failed", || format!("connection {i}: {e}"));
        }
        link.close();
    }
    if !link.is_closed() {
        // Acknowledge what was read last, then close.
        let _ = tokio::time::timeout(
            CLOSE_WAIT,
            flush_acks(&mut sink, link, &mut ids, sh, &mut rep),
        )
        .await;
        let bye = Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: Utf8Bytes::from_static(""),
        }));
        let _ = tokio::time::timeout(CLOSE_WAIT, sink.send(bye)).await;
    }
    rep
}

/// Acknowledges deliveries until the phase reaches `until` or the connection ends.
async fn hold(
    sink: &mut SplitSink<Ws, Message>,
    link: &Link,
    phase: &mut watch::Receiver<Phase>,
    until: Phase,
    ids: &mut native::RequestIds,
    sh: &Shared,
    rep: &mut ConnReport,
) -> Result<(), tungstenite::Error> {
    loop {
        if link.is_closed() || *phase.borrow_and_update() >= until {
            return Ok(());
        }
        flush_acks(sink, link, ids, sh, rep).await?;
        tokio::select! {
            changed = phase.changed() => if changed.is_err() { return Ok(()) },
            () = link.wake.notified() => {}
        }
    }
}

/// Sends the pending acknowledgements, at most `ack_batch` ids per request.
async fn flush_acks(
    sink: &mut SplitSink<Ws, Message>,
    link: &Link,
    ids: &mut native::RequestIds,
    sh: &Shared,
    rep: &mut ConnReport,
) -> Result<(), tungstenite::Error> {
    let pending = link.take_acks();
    if pending.is_empty() {
        return Ok(());
    }
    for chunk in pending.chunks(sh.opts.ack_batch.max(1)) {
        sink.feed(Message::text(native::ack_frame(ids.ack(), chunk)))
            .await?;
        rep.acks_sent += 1;
    }
    sink.flush().await
}

/// Builds agent `i`'s next message, stamped `t_us`, to a random peer.
fn message(sh: &Shared, i: usize, t_us: u64, seq: u64, ids: &mut native::RequestIds) -> Message {
    let peer = sh.pick_peer(i);
    let sender = u32::try_from(i).unwrap_or(u32::MAX);
    let mut out = String::with_capacity(sh.opts.size + 64);
    match (&sh.agents[i], &sh.agents[peer]) {
        (Agent::Ioap(me), Agent::Ioap(to)) => {
            let mut id = String::with_capacity(40);
            ioap::Stamp { t_us, sender, seq }.write_id(&mut id);
            let now = ioap::unix_micros();
            ioap::offer_frame(&mut out, &id, &me.did, &to.did, now, sh.opts.size);
        }
        (Agent::Native { quoted: from, .. }, Agent::Native { quoted: to, .. }) => {
            native::send_frame(&mut out, ids.send(), from, to, t_us, sender, sh.opts.size);
        }
        _ => unreachable!("every agent of a run speaks the same dialect"),
    }
    Message::text(out)
}

/// Counts a message about to be sent.
fn count_sent(sh: &Shared, claim: Claim) {
    let c = &sh.counters;
    match claim {
        Claim::Measured => {
            Counters::bump(&c.sent);
            Counters::raise(&c.last_sent_us, sh.now_us());
        }
        Claim::Warmup => Counters::bump(&c.warmup_sent),
        Claim::Stop => {}
    }
}

/// Closed loop: keep `pipeline` messages in flight, each sent as soon as a place in the
/// window is freed by a delivery. Free places are filled in one write.
async fn send_closed_loop(
    sh: &Shared,
    i: usize,
    sink: &mut SplitSink<Ws, Message>,
    link: &Link,
    phase: &mut watch::Receiver<Phase>,
    ids: &mut native::RequestIds,
    rep: &mut ConnReport,
) -> Result<(), tungstenite::Error> {
    let Some(traffic) = sh.traffic.get() else {
        return Ok(());
    };
    let window = &sh.windows[i];
    let mut seq = 0u64;
    let mut stall_by = tokio::time::Instant::now() + sh.opts.timeout;
    loop {
        if link.is_closed() || *phase.borrow_and_update() >= Phase::Drain {
            return Ok(());
        }
        flush_acks(sink, link, ids, sh, rep).await?;
        let free = window.free(sh.opts.pipeline);
        if free == 0 {
            tokio::select! {
                () = window.freed() => {}
                () = link.wake.notified() => {}
                changed = phase.changed() => if changed.is_err() { return Ok(()) },
                () = tokio::time::sleep_until(stall_by) => {
                    // Nothing came back for that long: presume the window's messages lost.
                    window.reset();
                    Counters::bump(&sh.counters.window_resets);
                    stall_by = tokio::time::Instant::now() + sh.opts.timeout;
                }
            }
            continue;
        }
        stall_by = tokio::time::Instant::now() + sh.opts.timeout;
        for _ in 0..free {
            let now = sh.now_us();
            let claim = traffic.plan.claim(now);
            if claim == Claim::Stop {
                sink.flush().await?;
                return Ok(());
            }
            window.take(1);
            count_sent(sh, claim);
            sink.feed(message(sh, i, now, seq, ids)).await?;
            seq += 1;
        }
        sink.flush().await?;
    }
}

/// Most messages written at once when an open-loop sender catches up.
const CATCH_UP_BATCH: u64 = 256;

/// Open loop: send each message at its scheduled instant ([`intended_us`]), whatever
/// happened to the previous ones, stamped with that instant.
#[allow(clippy::too_many_arguments)]
async fn send_open_loop(
    sh: &Shared,
    i: usize,
    rate: f64,
    sink: &mut SplitSink<Ws, Message>,
    link: &Link,
    phase: &mut watch::Receiver<Phase>,
    ids: &mut native::RequestIds,
    rep: &mut ConnReport,
) -> Result<(), tungstenite::Error> {
    let Some(traffic) = sh.traffic.get() else {
        return Ok(());
    };
    let agents = u32::try_from(sh.agents.len()).unwrap_or(u32::MAX);
    let me = u32::try_from(i).unwrap_or(u32::MAX);
    let mut k = 0u64;
    loop {
        // The end of the schedule stops this sender (`Claim::Stop`), not the drain: a
        // message due just before the end is still sent when the sender wakes for it
        // after the run has started draining.
        if link.is_closed() || *phase.borrow_and_update() >= Phase::Close {
            return Ok(());
        }
        flush_acks(sink, link, ids, sh, rep).await?;
        let due = intended_us(traffic.t0_us, me, agents, k, rate);
        if due > sh.now_us() {
            let at = sh.epoch + Duration::from_micros(due);
            tokio::select! {
                () = tokio::time::sleep_until(at.into()) => {}
                () = link.wake.notified() => {}
                changed = phase.changed() => if changed.is_err() { return Ok(()) },
            }
            continue;
        }
        let now = sh.now_us();
        for _ in 0..CATCH_UP_BATCH {
            let due = intended_us(traffic.t0_us, me, agents, k, rate);
            if due > now {
                break;
            }
            let claim = traffic.plan.claim(due);
            if claim == Claim::Stop {
                sink.flush().await?;
                return Ok(());
            }
            count_sent(sh, claim);
            sink.feed(message(sh, i, due, k, ids)).await?;
            k += 1;
        }
        sink.flush().await?;
    }
}
