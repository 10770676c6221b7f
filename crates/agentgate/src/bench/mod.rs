//! `agentgate bench`: load generators against a running gateway.
//!
//! `bench send` drives `POST /v1/messages` from many concurrent keep-alive connections
//! and reports throughput and latency percentiles. It is built to cost the machine as
//! little as possible, since it usually shares it with the gateway: the request body is
//! serialised once and only the 36-byte message id is spliced in per request, each
//! worker keeps its own histogram (merged at the end), plain-HTTP requests are written
//! as prepared bytes on one kept-alive connection per client ([`raw_http`]), and the
//! runtime has a single worker thread unless `--threads` asks for more.
//!
//! `bench drain` reads and acknowledges a pull inbox (`GET` a page, `DELETE` each
//! message) and reports how many messages per second leave it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Method, Url};
use serde_json::{Value, json};

mod raw_http;
mod ws;
use uuid::Uuid;

use crate::cli::GlobalOpts;
use crate::client::{self, AgentKeyArgs, Auth, Client, ClientError, exit};
use crate::inbox::parse_address;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Send messages as fast as the gateway accepts them; report throughput and latency.
    Send(SendBenchArgs),
    /// Read and acknowledge an inbox as fast as possible; report messages per second.
    Drain(DrainArgs),
    /// Connect many agents over WebSocket (native or ioap dialect) and route messages
    /// between them; report connect time, messages per second and delivery latency.
    Ws(ws::WsBenchArgs),
}

/// Options shared by the load generators.
#[derive(Clone, Debug, Args)]
pub struct LoadOpts {
    /// Concurrent requests in flight (one keep-alive connection each).
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub clients: u32,
    /// Stop after this many requests (messages), not counting the warm-up.
    #[arg(long, value_name = "M", conflicts_with = "duration",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub messages: Option<u64>,
    /// Stop after this many seconds (default 10 when neither this nor --messages is given).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub duration: Option<f64>,
    /// Run this many seconds first without recording anything.
    #[arg(long, value_name = "SECS", default_value_t = 0.0, value_parser = parse_secs_or_zero)]
    pub warmup: f64,
    /// Worker threads of the generator's runtime (it shares the cores with the gateway).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
    /// Per-request timeout in seconds; a timed-out request counts as a transport error.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = parse_secs)]
    pub timeout: f64,
}

/// Arguments of `bench send`.
#[derive(Clone, Debug, Args)]
pub struct SendBenchArgs {
    /// Load shape.
    #[command(flatten)]
    pub load: LoadOpts,
    /// Request body size in bytes; the payload is padded to reach it (a body cannot be
    /// smaller than the envelope without padding: 138 bytes plus the addresses).
    #[arg(long, value_name = "BYTES", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=64 * 1024 * 1024))]
    pub size: u64,
    /// Sender address (its key via --key/--key-file/AGENTGATE_AGENT_KEY).
    #[arg(long, value_name = "ADDRESS", value_parser = parse_address,
          required_unless_present = "setup", conflicts_with = "setup")]
    pub from: Option<String>,
    /// Recipient address (repeatable: every message goes to all of them).
    #[arg(long = "to", value_name = "ADDRESS", value_parser = parse_address,
          required_unless_present = "setup", conflicts_with = "setup")]
    pub to: Vec<String>,
    /// Register a fresh pull sender and recipient with the admin key first
    /// (`bench-sender-<rand>`, `bench-rcpt-<rand>`), and unregister them afterwards.
    #[arg(long)]
    pub setup: bool,
    /// With --setup: keep the two agents, and print their addresses and the
    /// recipient's key (for `bench drain`).
    #[arg(long, requires = "setup")]
    pub keep: bool,
    /// HTTP client: `direct` (one HTTP/1.1 connection per client, plain HTTP only,
    /// cheapest), `pooled` (reqwest's pool, needed for https), or `auto` (direct for
    /// http://, pooled for https://).
    #[arg(long, value_enum, default_value_t = TransportChoice::Auto)]
    pub transport: TransportChoice,
    /// The sender's API key (not needed with --setup).
    #[command(flatten)]
    pub key: AgentKeyArgs,
}

/// Which HTTP client `bench send` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportChoice {
    /// `direct` for http://, `pooled` for https://.
    Auto,
    /// HTTP/1.1, one kept-alive connection per client, requests prepared in advance
    /// (http:// only).
    Direct,
    /// reqwest's connection pool (http:// or https://).
    Pooled,
}

/// Arguments of `bench drain`.
#[derive(Clone, Debug, Args)]
pub struct DrainArgs {
    /// The inbox to drain.
    #[arg(value_name = "ADDRESS", value_parser = parse_address)]
    pub address: String,
    /// Load shape (`--messages` counts acknowledged messages; draining also stops when
    /// the inbox is empty).
    #[command(flatten)]
    pub load: LoadOpts,
    /// Messages fetched per `GET` page.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,
    /// The inbox owner's API key.
    #[command(flatten)]
    pub key: AgentKeyArgs,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err("expected a number of seconds, greater than 0 and at most 86400".into()),
    }
}

fn parse_secs_or_zero(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(0.0) => Ok(0.0),
        _ => parse_secs(s),
    }
}

/// Runs the command.
pub fn run(g: &GlobalOpts, command: BenchCommand) -> anyhow::Result<ExitCode> {
    let outcome = match command {
        BenchCommand::Send(a) => runtime(a.load.threads).and_then(|rt| rt.block_on(send(g, a))),
        BenchCommand::Drain(a) => runtime(a.load.threads).and_then(|rt| rt.block_on(drain(g, a))),
        BenchCommand::Ws(a) => ws::run(g, a),
    };
    client::finish(g, outcome)
}

fn runtime(threads: u32) -> Result<tokio::runtime::Runtime, ClientError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads as usize)
        .enable_all()
        .build()
        .map_err(|e| ClientError::Usage(format!("cannot start the async runtime: {e}")))
}

/// When a phase ends.
#[derive(Clone, Debug)]
enum Stop {
    /// After this many requests in total, across workers.
    Count(Arc<AtomicU64>, u64),
    /// At this instant (requests already started are finished).
    Until(Instant),
}

impl Stop {
    /// Claims the next request; `false` when the phase is over.
    fn next(&self) -> bool {
        match self {
            Stop::Count(issued, limit) => issued.fetch_add(1, Ordering::Relaxed) < *limit,
            Stop::Until(t) => Instant::now() < *t,
        }
    }
}

fn phase_stop(load: &LoadOpts) -> Stop {
    match (load.messages, load.duration) {
        (Some(m), _) => Stop::Count(Arc::new(AtomicU64::new(0)), m),
        (None, d) => Stop::Until(Instant::now() + Duration::from_secs_f64(d.unwrap_or(10.0))),
    }
}

/// What one worker (or, merged, the whole run) observed.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Latency of successful requests, microseconds.
    pub latency_us: Histogram<u64>,
    /// 2xx answers.
    pub successes: u64,
    /// Non-2xx answers by `"<status> <error.code>"`.
    pub http_errors: BTreeMap<String, u64>,
    /// Requests with no (complete) answer, by kind: `connect`, `timeout`, `other`.
    pub transport_errors: BTreeMap<String, u64>,
    /// The first transport error's description, to show the user why.
    pub first_transport_error: Option<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("valid histogram bounds"),
            successes: 0,
            http_errors: BTreeMap::new(),
            transport_errors: BTreeMap::new(),
            first_transport_error: None,
        }
    }
}

impl Stats {
    /// Errors of both kinds.
    pub fn errors(&self) -> u64 {
        self.http_errors.values().sum::<u64>() + self.transport_errors.values().sum::<u64>()
    }

    /// Requests completed or failed.
    pub fn requests(&self) -> u64 {
        self.successes + self.errors()
    }

    fn merge(&mut self, other: Stats) {
        let _ = self.latency_us.add(&other.latency_us);
        self.successes += other.successes;
        for (k, v) in other.http_errors {
            *self.http_errors.entry(k).or_default() += v;
        }
        for (k, v) in other.transport_errors {
            *self.transport_errors.entry(k).or_default() += v;
        }
        if self.first_transport_error.is_none() {
            self.first_transport_error = other.first_transport_error;
        }
    }

    fn success(&mut self, started: Instant) {
        self.successes += 1;
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(us.max(1));
    }

    fn http_error(&mut self, status: u16, body: &[u8]) {
        let code = client::decode_error(status, None, body.to_vec()).code;
        *self
            .http_errors
            .entry(format!("{status} {code}"))
            .or_default() += 1;
    }

    /// Counts the outcome of one reqwest exchange started at `started`: a 2xx whose body
    /// arrived, an HTTP error (with its body's code), or a transport error.
    async fn response(&mut self, started: Instant, resp: reqwest::Result<reqwest::Response>) {
        match resp {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(_) if (200..300).contains(&status) => self.success(started),
                    Ok(body) => self.http_error(status, &body),
                    Err(e) => self.transport_error(&e),
                }
            }
            Err(e) => self.transport_error(&e),
        }
    }

    fn transport_error(&mut self, e: &reqwest::Error) {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "other"
        };
        self.transport(kind, || client::error_chain(e));
    }

    fn transport(&mut self, kind: &str, describe: impl FnOnce() -> String) {
        *self.transport_errors.entry(kind.into()).or_default() += 1;
        if self.first_transport_error.is_none() {
            self.first_transport_error = Some(describe());
        }
    }
}

/// A request body template: everything but the message id is serialised once.
#[derive(Debug)]
pub struct BodyTemplate {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl BodyTemplate {
    /// An envelope from `from` to `to` whose serialised form is `size` bytes (or the
    /// smallest possible when `size` is below that).
    pub fn new(from: &str, to: &[String], size: usize) -> Self {
        let head = br#"{"message_id":""#.to_vec();
        let rest = |pad: &str| {
            format!(
                r#"","version":"1.0","sender":{},"recipients":{},"subject":"bench","payload":{{"pad":"{pad}"}}}}"#,
                json!(from),
                json!(to)
            )
        };
        let fixed = head.len() + 36 + rest("").len();
        let pad = "x".repeat(size.saturating_sub(fixed));
        BodyTemplate {
            head,
            tail: rest(&pad).into_bytes(),
        }
    }

    /// Length of every body.
    pub fn body_len(&self) -> usize {
        self.head.len() + 36 + self.tail.len()
    }

    /// A body with a fresh UUIDv7 spliced in.
    pub fn body(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.body_len());
        buf.extend_from_slice(&self.head);
        let mut id = [0u8; 36];
        Uuid::now_v7().hyphenated().encode_lower(&mut id);
        buf.extend_from_slice(&id);
        buf.extend_from_slice(&self.tail);
        buf
    }
}

/// The HTTP client the generators share: keep-alive, one connection per client.
fn load_client(load: &LoadOpts) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .connect_timeout(client::CONNECT_TIMEOUT)
        .timeout(Duration::from_secs_f64(load.timeout))
        .pool_max_idle_per_host(load.clients as usize)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("agentgate-bench/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Usage(format!("cannot build the HTTP client: {e}")))
}

/// How `bench send` reaches the gateway.
enum Transport {
    /// Plain HTTP: one kept-alive HTTP/1.1 connection per worker, requests prepared in
    /// advance ([`raw_http`]). This is the cheapest path, which matters when the
    /// generator shares the cores with the gateway.
    Direct {
        /// The gateway's socket addresses, resolved once.
        addrs: Vec<SocketAddr>,
        /// Request line and headers of every request.
        head: Vec<u8>,
    },
    /// HTTPS: reqwest with rustls and its connection pool.
    Pooled {
        /// The shared client.
        http: reqwest::Client,
        /// `…/v1/messages`.
        url: Url,
    },
}

struct SendCtx {
    transport: Transport,
    /// Every header of every request (Host, Content-Type, Authorization, User-Agent).
    headers: HeaderMap,
    template: BodyTemplate,
    timeout: Duration,
}

async fn send_worker(ctx: Arc<SendCtx>, stop: Stop) -> Stats {
    match &ctx.transport {
        Transport::Direct { addrs, head } => send_worker_direct(&ctx, addrs, head, stop).await,
        Transport::Pooled { http, url } => send_worker_pooled(&ctx, http, url, stop).await,
    }
}

async fn send_worker_direct(ctx: &SendCtx, addrs: &[SocketAddr], head: &[u8], stop: Stop) -> Stats {
    let mut st = Stats::default();
    let mut conn: Option<raw_http::Connection> = None;
    while stop.next() {
        let body = ctx.template.body();
        let started = Instant::now();
        let once = async {
            let c = match conn.take().filter(raw_http::Connection::reusable) {
                Some(c) => conn.insert(c),
                None => {
                    conn.insert(raw_http::Connection::open(addrs, client::CONNECT_TIMEOUT).await?)
                }
            };
            c.exchange(head, &body).await
        };
        match tokio::time::timeout(ctx.timeout, once).await {
            Ok(Ok((status, _))) if (200..300).contains(&status) => st.success(started),
            Ok(Ok((status, body))) => st.http_error(status, &body),
            Ok(Err((kind, why))) => {
                conn = None;
                st.transport(kind, || why);
            }
            Err(_) => {
                conn = None;
                st.transport("timeout", || {
                    format!("no answer within {:.1} s", ctx.timeout.as_secs_f64())
                });
            }
        }
    }
    st
}

async fn send_worker_pooled(ctx: &SendCtx, http: &reqwest::Client, url: &Url, stop: Stop) -> Stats {
    let mut st = Stats::default();
    while stop.next() {
        let mut req = reqwest::Request::new(Method::POST, url.clone());
        *req.headers_mut() = ctx.headers.clone();
        *req.body_mut() = Some(ctx.template.body().into());
        let started = Instant::now();
        st.response(started, http.execute(req).await).await;
    }
    st
}

async fn run_phase<F, Fut>(clients: u32, stop: Stop, worker: F) -> (Stats, Duration)
where
    F: Fn(Stop) -> Fut,
    Fut: std::future::Future<Output = Stats> + Send + 'static,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(worker(stop.clone())))
        .collect();
    let mut total = Stats::default();
    for h in handles {
        if let Ok(st) = h.await {
            total.merge(st);
        }
    }
    (total, started.elapsed())
}

/// Fails early, with exit 3, when nothing answers at the gateway URL.
async fn preflight(c: &Client) -> Result<(), ClientError> {
    match c
        .call(Method::GET, &["health"], &[], Auth::None, None, None)
        .await
    {
        Err(e @ ClientError::Connect { .. }) => Err(e),
        _ => Ok(()),
    }
}

/// Agents registered by `--setup`.
struct SetupAgents {
    sender: (String, String),
    recipient: (String, String),
}

async fn register_bench_agent(
    c: &Client,
    admin: &str,
    name: &str,
) -> Result<(String, String), ClientError> {
    let r = c
        .call(
            Method::POST,
            &["v1", "admin", "agents"],
            &[],
            Auth::Admin(admin),
            Some(&json!({"name": name, "delivery_mode": "pull"})),
            None,
        )
        .await?;
    let addr = r.body.pointer("/agent/address").and_then(Value::as_str);
    let key = r.body.get("api_key").and_then(Value::as_str);
    match (addr, key) {
        (Some(a), Some(k)) => Ok((a.to_string(), k.to_string())),
        _ => Err(ClientError::Protocol(
            "registration answer without agent.address and api_key".into(),
        )),
    }
}

async fn unregister_bench_agent(c: &Client, admin: &str, address: &str) -> Result<(), ClientError> {
    let name = address.split('@').next().unwrap_or(address);
    c.call(
        Method::DELETE,
        &["v1", "admin", "agents", name],
        &[],
        Auth::Admin(admin),
        None,
        None,
    )
    .await
    .map(|_| ())
}

async fn send(g: &GlobalOpts, a: SendBenchArgs) -> Result<u8, ClientError> {
    let c = Client::new(g)?;
    let size = usize::try_from(a.size).unwrap_or(usize::MAX);
    // Credentials and local checks before any traffic.
    let admin = if a.setup {
        Some(client::admin_key(g)?)
    } else {
        None
    };
    let given_key = if a.setup {
        None
    } else {
        Some(a.key.resolve()?)
    };
    let url = client::build_url(c.base(), &["v1", "messages"], &[])?;
    let direct = match (a.transport, url.scheme()) {
        (TransportChoice::Direct, "https") => {
            return Err(ClientError::Usage(
                "--transport direct speaks plain HTTP only; use pooled (or auto) for https".into(),
            ));
        }
        (TransportChoice::Direct, _) => true,
        (TransportChoice::Pooled, _) => false,
        (TransportChoice::Auto, scheme) => scheme == "http",
    };
    preflight(&c).await?;

    let mut setup = None;
    let (from, to, key) = match (&admin, given_key) {
        (Some(admin), _) => {
            let tag = Uuid::new_v4().simple().to_string();
            let tag = &tag[..8];
            let sender = register_bench_agent(&c, admin, &format!("bench-sender-{tag}")).await?;
            let recipient =
                match register_bench_agent(&c, admin, &format!("bench-rcpt-{tag}")).await {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = unregister_bench_agent(&c, admin, &sender.0).await;
                        return Err(e);
                    }
                };
            let out = (
                sender.0.clone(),
                vec![recipient.0.clone()],
                sender.1.clone(),
            );
            setup = Some(SetupAgents { sender, recipient });
            out
        }
        (None, Some(key)) => (a.from.clone().unwrap_or_default(), a.to.clone(), key),
        (None, None) => unreachable!("either --setup or a key"),
    };

    let template = BodyTemplate::new(&from, &to, size);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut auth = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| ClientError::Usage("the API key is not a valid header value".into()))?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("agentgate-bench/", env!("CARGO_PKG_VERSION"))),
    );
    let transport = if direct {
        let host = url.host_str().unwrap_or_default();
        // Resolved once, before the clock starts (IPv6 literals included).
        let addrs: Vec<SocketAddr> =
            url.socket_addrs(|| Some(80))
                .map_err(|e| ClientError::Connect {
                    url: url.to_string(),
                    reason: format!("cannot resolve {host}: {e}"),
                })?;
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        headers.insert(
            HOST,
            HeaderValue::from_str(&authority)
                .map_err(|_| ClientError::Usage(format!("invalid host {authority:?}")))?,
        );
        let fields: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let head = raw_http::request_head(url.path(), &fields, template.body_len());
        Transport::Direct { addrs, head }
    } else {
        Transport::Pooled {
            http: load_client(&a.load)?,
            url,
        }
    };
    let ctx = Arc::new(SendCtx {
        transport,
        headers,
        template,
        timeout: Duration::from_secs_f64(a.load.timeout),
    });
    let body_bytes = ctx.template.body_len();

    let worker = |stop: Stop| send_worker(ctx.clone(), stop);
    if a.load.warmup > 0.0 {
        let until = Instant::now() + Duration::from_secs_f64(a.load.warmup);
        run_phase(a.load.clients, Stop::Until(until), worker).await;
    }
    let (stats, elapsed) = run_phase(a.load.clients, phase_stop(&a.load), worker).await;

    let mut cleanup_error = None;
    if let (Some(admin), Some(s), false) = (&admin, &setup, a.keep) {
        for addr in [&s.sender.0, &s.recipient.0] {
            if let Err(e) = unregister_bench_agent(&c, admin, addr).await {
                cleanup_error.get_or_insert(format!("could not unregister {addr}: {e}"));
            }
        }
    }

    let mut report = report_json("bench send", g, &a.load, &stats, elapsed);
    report["size_bytes"] = json!(a.size);
    report["body_bytes"] = json!(body_bytes);
    report["sender"] = json!(from);
    report["recipients"] = json!(to);
    report["transport"] = json!(if direct { "direct" } else { "pooled" });
    if let Some(s) = &setup {
        report["setup"] = if a.keep {
            json!({"kept": true, "sender": s.sender.0, "recipient": s.recipient.0,
                   "recipient_key": s.recipient.1})
        } else {
            json!({"kept": false, "sender": s.sender.0, "recipient": s.recipient.0})
        };
    }
    print_report(g, &report, &stats);
    if let Some(msg) = cleanup_error {
        let _ = writeln!(std::io::stderr().lock(), "warning: {msg}");
    }
    Ok(if stats.errors() > 0 || stats.successes == 0 {
        exit::SERVER
    } else {
        exit::OK
    })
}

struct DrainCtx {
    http: reqwest::Client,
    base: String,
    address: String,
    auth: HeaderValue,
}

impl DrainCtx {
    /// `DELETE`s each message of `ids`, one after the other.
    async fn ack_all(self: Arc<Self>, ids: Vec<String>) -> Stats {
        let mut st = Stats::default();
        for id in ids {
            let Ok(url) = client::build_url(&self.base, &["v1", "inbox", &self.address, &id], &[])
            else {
                continue;
            };
            let started = Instant::now();
            let resp = self
                .http
                .delete(url)
                .header(AUTHORIZATION, self.auth.clone())
                .send()
                .await;
            st.response(started, resp).await;
        }
        st
    }
}

/// Drains page by page: fetch the oldest `batch` messages, acknowledge them with up to
/// `clients` requests in flight, and repeat until the inbox is empty or the limit is
/// reached. Waiting for a page to be acknowledged before fetching the next keeps any
/// message from being acknowledged twice, whatever the gateway's cursor semantics.
async fn drain(g: &GlobalOpts, a: DrainArgs) -> Result<u8, ClientError> {
    let c = Client::new(g)?;
    let key = a.key.resolve()?;
    preflight(&c).await?;
    let mut auth = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| ClientError::Usage("the API key is not a valid header value".into()))?;
    auth.set_sensitive(true);
    let ctx = Arc::new(DrainCtx {
        http: load_client(&a.load)?,
        base: c.base().to_string(),
        address: a.address.clone(),
        auth,
    });
    let page_url = client::build_url(
        c.base(),
        &["v1", "inbox", &a.address],
        &[("limit", a.batch.to_string())],
    )?;
    let limit = a.load.messages.unwrap_or(u64::MAX);
    // Unlike `bench send`, draining with no limit runs until the inbox is empty.
    let deadline = a
        .load
        .duration
        .map(|d| Instant::now() + Duration::from_secs_f64(d));
    let n = a.load.clients as usize;
    let mut acks = Stats::default();
    let mut gets = Stats::default();
    let mut emptied = false;
    let started = Instant::now();
    while acks.successes < limit && deadline.is_none_or(|d| Instant::now() < d) {
        let t0 = Instant::now();
        let resp = ctx
            .http
            .get(page_url.clone())
            .header(AUTHORIZATION, ctx.auth.clone())
            .send()
            .await;
        let page: Value = match resp {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(b) if (200..300).contains(&status) => {
                        gets.success(t0);
                        serde_json::from_slice(&b).unwrap_or(Value::Null)
                    }
                    Ok(b) => {
                        // A refused page read will be refused again: stop.
                        gets.http_error(status, &b);
                        break;
                    }
                    Err(e) => {
                        gets.transport_error(&e);
                        break;
                    }
                }
            }
            Err(e) => {
                gets.transport_error(&e);
                break;
            }
        };
        let left = usize::try_from(limit - acks.successes).unwrap_or(usize::MAX);
        let ids: Vec<String> = page
            .get("messages")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(|x| x.get("message_id").and_then(Value::as_str))
                    .take(left)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            emptied = true;
            break;
        }
        let mut lanes: Vec<Vec<String>> = vec![Vec::new(); n.min(ids.len())];
        let lane_count = lanes.len();
        for (i, id) in ids.into_iter().enumerate() {
            lanes[i % lane_count].push(id);
        }
        let handles: Vec<_> = lanes
            .into_iter()
            .map(|lane| tokio::spawn(ctx.clone().ack_all(lane)))
            .collect();
        let before = acks.errors();
        for h in handles {
            if let Ok(st) = h.await {
                acks.merge(st);
            }
        }
        if acks.errors() > before && acks.successes == 0 {
            // Nothing can be acknowledged: do not spin on the same page.
            break;
        }
    }
    let elapsed = started.elapsed();
    let mut report = report_json("bench drain", g, &a.load, &acks, elapsed);
    report["address"] = json!(a.address);
    report["batch"] = json!(a.batch);
    report["inbox_emptied"] = json!(emptied);
    if a.load.messages.is_none() && a.load.duration.is_none() {
        report["limit"] = json!({"until_empty": true});
    }
    report["pages"] = json!({
        "requests": gets.requests(),
        "successes": gets.successes,
        "errors": gets.errors(),
        "http_errors": gets.http_errors,
        "transport_errors": gets.transport_errors,
        "latency_ms": latency_json(&gets.latency_us),
    });
    print_report(g, &report, &acks);
    let errors = acks.errors() + gets.errors();
    Ok(if errors > 0 { exit::SERVER } else { exit::OK })
}

fn ms(us: u64) -> f64 {
    (us as f64) / 1000.0
}

/// Percentiles in milliseconds with microsecond precision.
fn latency_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p999": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
        "mean": h.mean() / 1000.0,
    })
}

fn report_json(
    command: &str,
    g: &GlobalOpts,
    load: &LoadOpts,
    st: &Stats,
    elapsed: Duration,
) -> Value {
    let secs = elapsed.as_secs_f64();
    json!({
        "command": command,
        "gateway_url": g.gateway_url,
        "clients": load.clients,
        "threads": load.threads,
        "warmup_secs": load.warmup,
        "limit": match (load.messages, load.duration) {
            (Some(m), _) => json!({"messages": m}),
            (None, d) => json!({"duration_secs": d.unwrap_or(10.0)}),
        },
        "requests": st.requests(),
        "successes": st.successes,
        "errors": st.errors(),
        "http_errors": st.http_errors,
        "transport_errors": st.transport_errors,
        "first_transport_error": st.first_transport_error,
        "duration_secs": secs,
        "throughput_per_sec": if secs > 0.0 { st.successes as f64 / secs } else { 0.0 },
        "latency_ms": latency_json(&st.latency_us),
    })
}

fn print_report(g: &GlobalOpts, report: &Value, st: &Stats) {
    if g.json {
        client::print_json(report);
        return;
    }
    let f = |k: &str| report.get(k).cloned().unwrap_or(Value::Null);
    let mut t = String::new();
    let mut line = |k: &str, v: String| t.push_str(&format!("{k:<14}{v}\n"));
    line(
        "command",
        format!("{} → {}", client::s(report, "command"), g.gateway_url),
    );
    let limit = match (f("limit").get("messages"), f("limit").get("duration_secs")) {
        (Some(m), _) => format!("{m} requests"),
        (None, Some(d)) => format!("{d} s"),
        _ => "until the inbox is empty".into(),
    };
    line(
        "load",
        format!(
            "{} clients, {} thread(s), {limit}, warm-up {} s",
            f("clients"),
            f("threads"),
            f("warmup_secs")
        ),
    );
    if let Some(tr) = report.get("transport").and_then(Value::as_str) {
        line("transport", tr.to_string());
    }
    if let Some(b) = report.get("body_bytes") {
        line("body", format!("{b} bytes"));
    }
    if let Some(s) = report.get("setup") {
        line(
            "agents",
            format!("{} → {}", client::s(s, "sender"), client::s(s, "recipient")),
        );
        if let Some(k) = s.get("recipient_key").and_then(Value::as_str) {
            line("rcpt key", k.to_string());
        }
    }
    if let Some(e) = report.get("inbox_emptied").and_then(Value::as_bool) {
        line("inbox emptied", if e { "yes" } else { "no" }.to_string());
    }
    if let Some(p) = report.get("pages") {
        let p50 = p.pointer("/latency_ms/p50").and_then(Value::as_f64);
        line(
            "pages read",
            format!(
                "{} ({} errors), p50 {} ms",
                p.get("successes").cloned().unwrap_or(Value::Null),
                p.get("errors").cloned().unwrap_or(Value::Null),
                p50.map_or("-".to_string(), |v| format!("{v:.3}"))
            ),
        );
    }
    line("requests", st.requests().to_string());
    line("successes", st.successes.to_string());
    line("errors", st.errors().to_string());
    for (k, v) in &st.http_errors {
        line("", format!("{v:>8}  HTTP {k}"));
    }
    for (k, v) in &st.transport_errors {
        line("", format!("{v:>8}  transport: {k}"));
    }
    if let Some(e) = &st.first_transport_error {
        line("", format!("first transport error: {e}"));
    }
    line(
        "duration",
        format!("{:.3} s", f("duration_secs").as_f64().unwrap_or(0.0)),
    );
    line(
        "throughput",
        format!(
            "{:.1} msg/s",
            f("throughput_per_sec").as_f64().unwrap_or(0.0)
        ),
    );
    let h = &st.latency_us;
    if h.is_empty() {
        line("latency", "- (no successful request)".into());
    } else {
        let cols = [
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.90)),
            ms(h.value_at_quantile(0.99)),
            ms(h.value_at_quantile(0.999)),
            ms(h.max()),
        ];
        line(
            "latency ms",
            format!(
                "{:>9} {:>9} {:>9} {:>9} {:>9}",
                "p50", "p90", "p99", "p99.9", "max"
            ),
        );
        line(
            "",
            cols.iter()
                .map(|v| format!("{v:>9.3}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    client::out(&t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hits_the_requested_size_and_stays_valid_json() {
        let t = BodyTemplate::new("a@x.test", &["b@x.test".into()], 1024);
        let b = t.body();
        assert_eq!(b.len(), 1024);
        assert_eq!(t.body_len(), 1024);
        let v: Value = serde_json::from_slice(&b).unwrap();
        let id = Uuid::parse_str(v["message_id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert_ne!(t.body()[..60], b[..60]);
        // Too small a size gives the smallest body, still valid.
        let t = BodyTemplate::new("a@x.test", &["b@x.test".into()], 10);
        assert_eq!(
            t.body_len(),
            138 + 8 + 8,
            "docs/benchmarks.md quotes this minimum"
        );
        serde_json::from_slice::<Value>(&t.body()).unwrap();
    }

    #[test]
    fn count_stop_hands_out_exactly_the_limit() {
        let s = Stop::Count(Arc::new(AtomicU64::new(0)), 3);
        let n = (0..10).filter(|_| s.next()).count();
        assert_eq!(n, 3);
    }
}
