//! A load smoke test, ignored by default (it measures; it does not gate CI):
//!
//! ```sh
//! cargo test --release -p agentgate-gateway --test api -- --ignored --nocapture load
//! ```
//!
//! Accepts 1 KiB messages from concurrent keep-alive clients for a few seconds against an
//! in-process gateway on the embedded store, and prints throughput and latency
//! percentiles. The load generator shares the machine (and the runtime's threads).
//! `LOAD_CLIENTS` (64), `LOAD_SECONDS` (5), `LOAD_IDEMPOTENCY_KEY=1` (a key per message),
//! `LOAD_RAW=1` (a minimal HTTP/1.1 client on raw sockets instead of reqwest, so that
//! the client's own cost weighs less).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run by hand in release mode"]
async fn load_accepts_small_messages() {
    let clients = env_or("LOAD_CLIENTS", 64) as usize;
    let seconds = env_or("LOAD_SECONDS", 5);
    let with_key = env_or("LOAD_IDEMPOTENCY_KEY", 0) == 1;
    let raw = env_or("LOAD_RAW", 0) == 1;
    let g = Gateway::start().await;
    let alice = g.register("alice").await;
    g.register("bob").await;
    let mut e = envelope("alice", &["bob"]);
    e["payload"] = json!({"text": "x".repeat(1024 - 200)});
    let body = Arc::new(serde_json::to_vec(&e).unwrap());
    println!(
        "body {} bytes, {clients} clients, {seconds} s, idempotency keys: {with_key}",
        body.len()
    );

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        if raw {
            let host = g.url.trim_start_matches("http://").to_string();
            let key = alice.clone();
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                raw_client(&host, &key, &body, deadline).await
            }));
            continue;
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let url = format!("{}/v1/messages", g.url);
        let key = alice.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new(3).unwrap();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let mut req = client.request(Method::POST, &url).bearer_auth(&key);
                req = if with_key {
                    let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    v["idempotency_key"] = json!(format!("c{c}-{n}"));
                    req.json(&v)
                } else {
                    req.header("content-type", "application/json")
                        .body(body.as_ref().clone())
                };
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        h.record(t.elapsed().as_micros() as u64).unwrap();
                    }
                    _ => errors += 1,
                }
                n += 1;
            }
            (h, errors)
        }));
    }
    let started = Instant::now();
    let mut all = Histogram::<u64>::new(3).unwrap();
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await.unwrap();
        all.add(h).unwrap();
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "accepted {} in {secs:.1} s = {:.0}/s, errors {errors}; latency µs p50 {} p90 {} p99 {} p99.9 {} max {}",
        all.len(),
        all.len() as f64 / secs,
        all.value_at_quantile(0.5),
        all.value_at_quantile(0.9),
        all.value_at_quantile(0.99),
        all.value_at_quantile(0.999),
        all.max()
    );
    let _ = with_key;
    let metrics = g
        .admin(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in metrics.lines().filter(|l| {
        l.starts_with("agentgate_store_operation_duration_seconds_sum")
            || l.starts_with("agentgate_store_operation_duration_seconds_count")
    }) {
        println!("{line}");
    }
    assert_eq!(errors, 0);
}

/// Sends the same submission over one keep-alive connection until `deadline`.
async fn raw_client(
    host: &str,
    key: &str,
    body: &[u8],
    deadline: Instant,
) -> (Histogram<u64>, u64) {
    let mut request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut errors = 0u64;
    let mut stream = TcpStream::connect(host).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    while Instant::now() < deadline {
        let t = Instant::now();
        stream.write_all(&request).await.unwrap();
        // Read one response: headers, then Content-Length bytes of body.
        let mut have = 0;
        let (head_end, length) = loop {
            let n = stream.read(&mut buf[have..]).await.unwrap();
            assert!(n > 0, "connection closed");
            have += n;
            if let Some(pos) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&buf[..pos])
                    .unwrap()
                    .to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                break (pos + 4, length);
            }
        };
        while have < head_end + length {
            let n = stream.read(&mut buf[have..]).await.unwrap();
            assert!(n > 0, "connection closed");
            have += n;
        }
        if buf.starts_with(b"HTTP/1.1 200") {
            h.record(t.elapsed().as_micros() as u64).unwrap();
        } else {
            errors += 1;
        }
    }
    (h, errors)
}
