//! `agentgate bench ws`: a WebSocket load generator that speaks agentgate's native
//! dialect (`agentgate.v1`, JSON-RPC) or AIConexus IoAP (`ioap.v1`), so that agentgate's
//! endpoint and an IoAP gateway can be measured with the same tool on the same machine.
//!
//! N agents connect (bounded concurrency, spread over source addresses when asked),
//! register or authenticate, then send messages to one another while reading what they
//! are sent:
//!
//! - **Latency** is measured from send to delivery without a lookup table: each message
//!   carries its send instant (microseconds since the run's epoch, in the OFFER's `id` or
//!   in the native payload) and its sender's index; the receiving connection, in the same
//!   process, subtracts it from the instant it reads the frame.
//! - **Closed loop** (default): each agent keeps at most `--pipeline` messages in flight,
//!   a message being in flight until its recipient has read it (native: or the gateway
//!   refused it). The receiver frees the sender's place. The window is the same in both
//!   dialects, so "received per second" means the same thing.
//! - **Open loop** (`--rate`): messages are scheduled at fixed instants, spread over the
//!   agents ([`load::intended_us`]), and stamped with the instant they were due, so that
//!   a gateway that pushes back shows up as latency (no coordinated omission).
//! - **Acknowledgements** (native): whatever deliveries are readable at once are
//!   acknowledged together in one `ack` (at most `--ack-batch` ids each), right after they
//!   are read.
//!
//! Every phase is bounded: opening by `--timeout` per connection, sending by
//! `--duration` or `--messages`, delivery of what is still in flight by `--drain`, and
//! closing by a few seconds.

mod conn;
mod ioap;
mod load;
mod native;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use futures::StreamExt as _;
use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

use self::conn::{Agent, ConnOpts, ConnReport, Phase, Shared, Traffic};
use self::load::{Counters, LatencyShards, Limit, Plan, Window};
use super::{
    latency_json, parse_secs, parse_secs_or_zero, preflight, register_bench_agent,
    unregister_bench_agent,
};
use crate::cli::GlobalOpts;
use crate::client::{self, Client, ClientError, exit};

/// Which protocol the agents speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Dialect {
    /// agentgate's JSON-RPC dialect (`agentgate.v1`); needs --setup.
    Native,
    /// AIConexus IoAP v1 (`ioap.v1`): REGISTER with a fresh did:key, then OFFER frames.
    Ioap,
}

/// Arguments of `bench ws`.
#[derive(Clone, Debug, Args)]
pub struct WsBenchArgs {
    /// WebSocket endpoint (ws:// only). Default: --gateway-url with ws:// and path /ws.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Protocol spoken on every connection; the matching subprotocol is offered.
    #[arg(long, value_enum, default_value_t = Dialect::Native)]
    pub dialect: Dialect,
    /// Agents, one connection each.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub agents: u32,
    /// Stop after this many messages (in total, not counting the warm-up).
    #[arg(long, value_name = "M", conflicts_with_all = ["duration", "idle"],
          value_parser = clap::value_parser!(u64).range(1..))]
    pub messages: Option<u64>,
    /// Send for this many seconds (default 10 when neither this nor --messages is given).
    #[arg(long, value_name = "SECS", value_parser = parse_secs, conflicts_with = "idle")]
    pub duration: Option<f64>,
    /// Open loop: this many messages per second in total, spread evenly over the agents,
    /// latency measured from each message's scheduled instant. Default: closed loop.
    #[arg(long, value_name = "MSGS_PER_SEC", value_parser = parse_rate, conflicts_with = "idle")]
    pub rate: Option<f64>,
    /// Closed loop: messages each agent keeps in flight (sent and not yet delivered).
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub pipeline: u32,
    /// Size of each message frame in bytes (the OFFER or the `send` request), reached by
    /// padding; a smaller value gives the smallest frame.
    #[arg(long, value_name = "BYTES", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=16 * 1024 * 1024))]
    pub size: u64,
    /// Send this many seconds first without counting or timing anything.
    #[arg(long, value_name = "SECS", default_value_t = 0.0, value_parser = parse_secs_or_zero,
          conflicts_with = "idle")]
    pub warmup: f64,
    /// Only connect and register or authenticate the agents, hold the connections this
    /// many seconds without traffic, and report the connection figures.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub idle: Option<f64>,
    /// Worker threads of the generator's runtime (it shares the cores with the gateway).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
    /// Local addresses to connect from, round robin: a comma-separated list of addresses
    /// or IPv4 ranges such as 127.0.0.1-127.0.0.8. One address offers about 28,000
    /// ports to one gateway port, so many connections need several.
    #[arg(long, value_name = "IPS", value_parser = load::parse_source_ips)]
    pub source_ips: Option<load::SourceIps>,
    /// Connections being opened at the same time.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connect_concurrency: u32,
    /// Native: most message ids per `ack` request.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub ack_batch: u32,
    /// Seconds to open one connection (TCP, upgrade, registration or authentication);
    /// also how long a closed-loop agent waits for a full window before presuming its
    /// messages lost.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Seconds to wait, once sending stopped, for the messages still in flight.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_secs_or_zero)]
    pub drain: f64,
    /// Native: register the agents (`bench-ws-<rand>-<i>`, pull) with the admin key
    /// (--admin-key-file) first, and unregister them afterwards.
    #[arg(long)]
    pub setup: bool,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 10_000_000.0 => Ok(v),
        _ => Err("expected messages per second, greater than 0 and at most 10000000".into()),
    }
}

/// Runs `bench ws` on a runtime of `--threads` workers.
pub fn run(g: &GlobalOpts, a: WsBenchArgs) -> Result<u8, ClientError> {
    super::runtime(a.threads)?.block_on(bench(g, a))
}

/// The WebSocket URL: `--url`, else the gateway URL with its scheme swapped and `/ws`.
fn ws_url(given: Option<&str>, gateway_url: &str) -> Result<Url, ClientError> {
    let mut url = match given {
        Some(u) => {
            Url::parse(u).map_err(|e| ClientError::Usage(format!("invalid --url {u:?}: {e}")))?
        }
        None => {
            let mut u = Url::parse(&client::normalize_base_url(gateway_url)?)
                .map_err(|e| ClientError::Usage(format!("invalid gateway URL: {e}")))?;
            let scheme = if u.scheme() == "https" { "wss" } else { "ws" };
            u.set_scheme(scheme)
                .map_err(|()| ClientError::Usage("cannot make a ws:// URL".into()))?;
            u.set_path("/ws");
            u
        }
    };
    match url.scheme() {
        "ws" => {}
        "wss" => {
            return Err(ClientError::Usage(
                "bench ws speaks plain ws:// only; measure TLS endpoints through a local \
                 plain listener"
                    .into(),
            ));
        }
        other => {
            return Err(ClientError::Usage(format!(
                "--url must be ws://…, not {other}://"
            )));
        }
    }
    url.set_fragment(None);
    Ok(url)
}

/// Raises the soft limit on open files to the hard limit, after raising the hard limit
/// to `want` when it is lower and the process may (as root); returns the limit in force.
fn raise_nofile_limit(want: u64) -> Option<u64> {
    use rlimit::Resource;
    if let Ok((_, hard)) = Resource::NOFILE.get()
        && hard < want
    {
        // Fails without the privilege, which leaves the hard limit as it was.
        let _ = Resource::NOFILE.set(want, want);
    }
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// Registers `n` pull agents for the run, 16 at a time; unregisters them all if any
/// fails.
async fn setup_agents(
    c: &Client,
    admin: &str,
    n: u32,
) -> Result<Vec<(String, String)>, ClientError> {
    let tag = Uuid::new_v4().simple().to_string();
    let tag = &tag[..8];
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let name = format!("bench-ws-{tag}-{i}");
            async move { register_bench_agent(c, admin, &name).await }
        })
        .buffered(16)
        .collect()
        .await;
    let mut agents = Vec::with_capacity(results.len());
    let mut failure = None;
    for r in results {
        match r {
            Ok(a) => agents.push(a),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        None => Ok(agents),
        Some(e) => {
            teardown_agents(c, admin, &agents).await;
            Err(e)
        }
    }
}

/// Unregisters the run's agents, 16 at a time; returns the first failure.
async fn teardown_agents(c: &Client, admin: &str, agents: &[(String, String)]) -> Option<String> {
    let failures: Vec<String> = futures::stream::iter(agents)
        .map(|(addr, _)| async move {
            unregister_bench_agent(c, admin, addr)
                .await
                .err()
                .map(|e| format!("could not unregister {addr}: {e}"))
        })
        .buffer_unordered(16)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    failures.into_iter().next()
}

/// Polls `done` every few milliseconds until it holds or `deadline` passes.
async fn wait_until(deadline: Option<Instant>, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn bench(g: &GlobalOpts, a: WsBenchArgs) -> Result<u8, ClientError> {
    let url = ws_url(a.url.as_deref(), &g.gateway_url)?;
    if a.dialect == Dialect::Native && !a.setup {
        return Err(ClientError::Usage(
            "--dialect native needs --setup (and --admin-key-file) to register its agents".into(),
        ));
    }
    if a.dialect == Dialect::Ioap && a.setup {
        return Err(ClientError::Usage(
            "--setup registers native agents; ioap agents register themselves".into(),
        ));
    }
    let host = url.host_str().unwrap_or_default().to_string();
    let target: SocketAddr = url
        .socket_addrs(|| Some(80))
        .ok()
        .and_then(|v| v.into_iter().next())
        .or_else(|| (host.as_str(), 80).to_socket_addrs().ok()?.next())
        .ok_or_else(|| ClientError::Connect {
            url: url.to_string(),
            reason: format!("cannot resolve {host}"),
        })?;
    // One descriptor per connection, plus the runtime's and the admin client's.
    let want_files = u64::from(a.agents) + 256;
    let nofile = raise_nofile_limit(want_files);
    let n = a.agents as usize;
    if let Some(limit) = nofile
        && limit < want_files
    {
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: the open-files limit is {limit}, too low for {n} connections"
        );
    }

    // Agents: native ones are registered through the admin API first.
    let admin_client = if a.setup {
        let c = Client::new(g)?;
        let admin = client::admin_key(g)?;
        preflight(&c).await?;
        Some((c, admin))
    } else {
        None
    };
    let registered = match &admin_client {
        Some((c, admin)) => setup_agents(c, admin, a.agents).await?,
        None => Vec::new(),
    };
    let agents: Vec<Agent> = match a.dialect {
        Dialect::Ioap => (0..n)
            .map(|_| Agent::Ioap(Box::new(ioap::Identity::generate())))
            .collect(),
        Dialect::Native => registered
            .iter()
            .map(|(address, key)| Agent::Native {
                quoted: serde_json::to_string(address).unwrap_or_default(),
                api_key: key.clone(),
            })
            .collect(),
    };
    let size = usize::try_from(a.size).unwrap_or(usize::MAX);
    let idle = a.idle.is_some();
    let sh = Arc::new(Shared {
        epoch: Instant::now(),
        url: url.to_string(),
        target,
        sources: a.source_ips.clone().map(|s| s.0).unwrap_or_default(),
        windows: (0..n).map(|_| Window::default()).collect(),
        agents,
        counters: Counters::default(),
        latency: LatencyShards::new(16),
        connect_latency: LatencyShards::new(1),
        connect_gate: Semaphore::new(a.connect_concurrency as usize),
        traffic: OnceLock::new(),
        opts: ConnOpts {
            size,
            pipeline: a.pipeline,
            rate: a.rate,
            ack_batch: a.ack_batch as usize,
            timeout: Duration::from_secs_f64(a.timeout),
            // Idle connections only ever read pings; loaded ones read whole frames.
            read_buffer: if idle {
                4096
            } else {
                (size + 1024).clamp(8 * 1024, 128 * 1024)
            },
        },
    });

    // Connect every agent.
    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let connect_start_us = sh.now_us();
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(conn::run(sh.clone(), i, phase_rx.clone())))
        .collect();
    drop(phase_rx);
    let c = &sh.counters;
    wait_until(None, || {
        Counters::get(&c.ready) + Counters::get(&c.failed) >= n as u64
    })
    .await;
    let ready = Counters::get(&c.ready);
    let connect_secs =
        Counters::get(&c.last_ready_us).saturating_sub(connect_start_us) as f64 / 1e6;

    // Traffic, or holding the connections.
    let mut send_secs = 0.0;
    let mut traffic_start_us = 0;
    if let Some(secs) = a.idle {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    } else if ready > 0 {
        let t0 = sh.now_us();
        let start_us = t0 + (a.warmup * 1e6) as u64;
        traffic_start_us = start_us;
        let (limit, end) = match (a.messages, a.duration) {
            (Some(m), _) => (
                Limit::Count {
                    limit: m,
                    claimed: AtomicU64::new(0),
                },
                None,
            ),
            (None, d) => {
                let end = start_us + (d.unwrap_or(10.0) * 1e6) as u64;
                (Limit::Until(end), Some(end))
            }
        };
        let _ = sh.traffic.set(Traffic {
            plan: Plan { start_us, limit },
            t0_us: t0,
        });
        let _ = phase_tx.send(Phase::Run);
        // Senders stop by themselves (end of the time or of the count); the phase change
        // at the end time only hurries the ones waiting for their window.
        let senders_done = || Counters::get(&c.senders_done) >= ready;
        if let Some(end) = end {
            let at = sh.epoch + Duration::from_micros(end);
            tokio::select! {
                _ = wait_until(None, senders_done) => {}
                () = tokio::time::sleep_until(at.into()) => {}
            }
        } else {
            wait_until(None, senders_done).await;
        }
        let _ = phase_tx.send(Phase::Drain);
        wait_until(Some(Instant::now() + sh.opts.timeout), senders_done).await;
        send_secs = (Counters::get(&c.last_sent_us).saturating_sub(start_us)) as f64 / 1e6;
        let drain_by = Instant::now() + Duration::from_secs_f64(a.drain);
        wait_until(Some(drain_by), || {
            Counters::get(&c.received) >= Counters::get(&c.sent)
        })
        .await;
    }
    let _ = phase_tx.send(Phase::Close);
    let mut rep = ConnReport::default();
    let join_by = tokio::time::Instant::now() + conn::CLOSE_WAIT * 2 + Duration::from_secs(1);
    let mut unfinished = 0u64;
    for h in handles {
        match tokio::time::timeout_at(join_by, h).await {
            Ok(Ok(r)) => rep.merge(r),
            Ok(Err(_)) => unfinished += 1,
            Err(_) => unfinished += 1,
        }
    }
    if unfinished > 0 {
        *rep.errors.entry("close: no answer".into()).or_default() += unfinished;
    }

    let cleanup_error = match &admin_client {
        Some((c, admin)) => teardown_agents(c, admin, &registered).await,
        None => None,
    };

    let report = report_json(
        &a,
        &url,
        &sh,
        &rep,
        connect_secs,
        send_secs,
        traffic_start_us,
        nofile,
    );
    print_report(g, &report);
    if let Some(msg) = cleanup_error {
        let _ = writeln!(std::io::stderr().lock(), "warning: {msg}");
    }
    let errors: u64 = rep.errors.values().sum();
    Ok(
        if ready == 0 && rep.errors.keys().all(|k| k.starts_with("connect:")) {
            exit::CONNECT
        } else if errors > 0
            || ready < n as u64
            || (!idle && Counters::get(&sh.counters.received) == 0)
        {
            exit::SERVER
        } else {
            exit::OK
        },
    )
}

fn per_sec(count: u64, secs: f64) -> f64 {
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

#[allow(clippy::too_many_arguments)]
fn report_json(
    a: &WsBenchArgs,
    url: &Url,
    sh: &Shared,
    rep: &ConnReport,
    connect_secs: f64,
    send_secs: f64,
    start_us: u64,
    nofile: Option<u64>,
) -> Value {
    let c = &sh.counters;
    let sent = Counters::get(&c.sent);
    let received = Counters::get(&c.received);
    let receive_secs = Counters::get(&c.last_received_us).saturating_sub(start_us) as f64 / 1e6;
    let mode = match (a.idle, a.rate) {
        (Some(_), _) => "idle",
        (None, Some(_)) => "open-loop",
        (None, None) => "closed-loop",
    };
    let errors: u64 = rep.errors.values().sum();
    let mut report = json!({
        "command": "bench ws",
        "url": url.as_str(),
        "dialect": match a.dialect { Dialect::Native => "native", Dialect::Ioap => "ioap" },
        "mode": mode,
        "agents": a.agents,
        "threads": a.threads,
        "source_ips": a.source_ips.as_ref().map_or(0, |s| s.0.len()),
        "open_files_limit": nofile,
        "connect": {
            "connected": Counters::get(&c.ready),
            "failed": Counters::get(&c.failed),
            "concurrency": a.connect_concurrency,
            "all_connected_secs": connect_secs,
            "latency_ms": latency_json(&sh.connect_latency.merged()),
        },
        "errors": errors,
        "errors_by_kind": rep.errors,
        "first_error": rep.first_error,
        "other_frames": rep.other_frames,
    });
    if let Some(secs) = a.idle {
        report["idle_secs"] = json!(secs);
        return report;
    }
    report["size_bytes"] = json!(a.size);
    report["warmup_secs"] = json!(a.warmup);
    report["limit"] = match (a.messages, a.duration) {
        (Some(m), _) => json!({"messages": m}),
        (None, d) => json!({"duration_secs": d.unwrap_or(10.0)}),
    };
    match a.rate {
        Some(r) => report["rate_per_sec"] = json!(r),
        None => report["pipeline"] = json!(a.pipeline),
    }
    report["messages"] = json!({
        "sent": sent,
        "received": received,
        "unreceived": sent.saturating_sub(received),
        "warmup_sent": Counters::get(&c.warmup_sent),
        "warmup_received": Counters::get(&c.warmup_received),
        "send_secs": send_secs,
        "receive_secs": receive_secs,
        "sent_per_sec": per_sec(sent, send_secs),
        "received_per_sec": per_sec(received, receive_secs),
        "window_resets": Counters::get(&c.window_resets),
    });
    if a.dialect == Dialect::Native {
        report["messages"]["sends_accepted"] = json!(rep.sends_accepted);
        report["messages"]["acks_sent"] = json!(rep.acks_sent);
    }
    report["latency_ms"] = latency_json(&sh.latency.merged());
    report
}

fn print_report(g: &GlobalOpts, report: &Value) {
    if g.json {
        client::print_json(report);
        return;
    }
    let num = |p: &str| report.pointer(p).and_then(Value::as_f64).unwrap_or(0.0);
    let int = |p: &str| report.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let mut t = String::new();
    let mut line = |k: &str, v: String| t.push_str(&format!("{k:<14}{v}\n"));
    line(
        "command",
        format!(
            "bench ws → {} ({}, {})",
            client::s(report, "url"),
            client::s(report, "dialect"),
            client::s(report, "mode")
        ),
    );
    let shape = match (report.get("rate_per_sec"), report.get("pipeline")) {
        (Some(r), _) => format!("{r} msg/s in total"),
        (None, Some(p)) => format!("{p} in flight per agent"),
        _ => format!("idle {} s", num("/idle_secs")),
    };
    let limit = match (
        report.pointer("/limit/messages"),
        report.pointer("/limit/duration_secs"),
    ) {
        (Some(m), _) => format!(", {m} messages"),
        (None, Some(d)) => format!(", {d} s"),
        _ => String::new(),
    };
    line(
        "load",
        format!(
            "{} agents, {shape}{limit}, {} thread(s)",
            int("/agents"),
            int("/threads")
        ),
    );
    if let Some(s) = report.get("size_bytes") {
        line("frame", format!("{s} bytes"));
    }
    line(
        "connected",
        format!(
            "{} ({} failed) in {:.3} s",
            int("/connect/connected"),
            int("/connect/failed"),
            num("/connect/all_connected_secs")
        ),
    );
    if report.pointer("/connect/latency_ms/p50").is_some() {
        line(
            "connect ms",
            format!(
                "p50 {:.3}  p99 {:.3}  max {:.3}",
                num("/connect/latency_ms/p50"),
                num("/connect/latency_ms/p99"),
                num("/connect/latency_ms/max")
            ),
        );
    }
    if report.get("messages").is_some() {
        line(
            "sent",
            format!(
                "{} ({:.1} msg/s)",
                int("/messages/sent"),
                num("/messages/sent_per_sec")
            ),
        );
        line(
            "received",
            format!(
                "{} ({:.1} msg/s), {} unreceived",
                int("/messages/received"),
                num("/messages/received_per_sec"),
                int("/messages/unreceived")
            ),
        );
        if report.pointer("/latency_ms/p50").is_some() {
            line(
                "latency ms",
                format!(
                    "{:>9} {:>9} {:>9} {:>9} {:>9}",
                    "p50", "p90", "p99", "p99.9", "max"
                ),
            );
            line(
                "",
                ["p50", "p90", "p99", "p999", "max"]
                    .iter()
                    .map(|q| format!("{:>9.3}", num(&format!("/latency_ms/{q}"))))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        } else {
            line("latency", "- (nothing received)".into());
        }
        let resets = int("/messages/window_resets");
        if resets > 0 {
            line("window resets", resets.to_string());
        }
    }
    line("errors", int("/errors").to_string());
    let by_kind: BTreeMap<String, u64> = report
        .get("errors_by_kind")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    for (k, v) in by_kind {
        line("", format!("{v:>8}  {k}"));
    }
    if let Some(e) = report.get("first_error").and_then(Value::as_str) {
        line("", format!("first error: {e}"));
    }
    let others: BTreeMap<String, u64> = report
        .get("other_frames")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    for (k, v) in others {
        line("other frames", format!("{v} {k}"));
    }
    client::out(&t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_defaults_to_the_gateway_url_and_refuses_tls() {
        assert_eq!(
            ws_url(None, "http://127.0.0.1:8080").unwrap().as_str(),
            "ws://127.0.0.1:8080/ws"
        );
        assert_eq!(
            ws_url(Some("ws://127.0.0.1:9/x"), "http://a")
                .unwrap()
                .as_str(),
            "ws://127.0.0.1:9/x"
        );
        assert!(ws_url(None, "https://gw.example").is_err());
        assert!(ws_url(Some("http://127.0.0.1/ws"), "http://a").is_err());
    }
}
