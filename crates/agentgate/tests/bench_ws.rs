//! `agentgate bench ws --dialect ioap`, the real binary, against a small IoAP relay
//! started here (tokio-tungstenite on 127.0.0.1:0): it selects `ioap.v1`, checks every
//! REGISTER as an IoAP gateway verifying signatures would (standard did:key, Ed25519 over
//! the canonical JSON with the timestamp's trailing `Z` removed), and relays each OFFER
//! verbatim to the connection registered under its `to`.
//!
//! The native dialect (`agentgate.v1`) runs against a stub of the same size: an admin API
//! (axum) that registers and unregisters the agents of `--setup`, and a JSON-RPC endpoint
//! that sends `welcome`, checks `auth`, answers `send` and pushes each message to its
//! recipient as a `message` notification, and counts the ids acknowledged.
//!
//! The checks: every agent connected, messages went both ways, the report's numbers agree
//! with each other and with what the server counted. Every wait is bounded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

const BIN: &str = env!("CARGO_BIN_EXE_agentgate");

/// What the relay counted.
#[derive(Default)]
struct Seen {
    /// REGISTER frames whose signature and did:key checked out.
    registered: AtomicU64,
    /// REGISTER frames that did not.
    bad_registers: AtomicU64,
    /// OFFERs relayed, probes (self-addressed) excluded.
    relayed: AtomicU64,
    /// Self-addressed OFFERs relayed.
    probes: AtomicU64,
}

type Routes = Arc<Mutex<HashMap<String, mpsc::Sender<String>>>>;

/// Checks a REGISTER as the reference client sends it; returns its DID.
fn check_register(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    let mut m: Map<String, Value> = v.as_object()?.clone();
    if m.get("type")?.as_str()? != "REGISTER" || m.get("from")? != m.get("to")? {
        return None;
    }
    let did = m["from"].as_str()?.to_string();
    let raw = bs58::decode(did.strip_prefix("did:key:z")?)
        .into_vec()
        .ok()?;
    if raw.len() != 34 || raw[..2] != [0xed, 0x01] {
        return None;
    }
    let key = VerifyingKey::from_bytes(raw[2..].try_into().ok()?).ok()?;
    let public_key = bs58::decode(m["payload"]["public_key"].as_str()?)
        .into_vec()
        .ok()?;
    if public_key != raw[2..] {
        return None;
    }
    let sig = base64::engine::general_purpose::STANDARD
        .decode(m.remove("signature")?.as_str()?)
        .ok()?;
    let ts = m["timestamp"].as_str()?.strip_suffix('Z')?.to_string();
    m.insert("timestamp".into(), Value::String(ts));
    // serde_json's map is sorted and compact: the canonical form, for ASCII frames.
    let signed = serde_json::to_string(&m).ok()?;
    key.verify(signed.as_bytes(), &Signature::from_slice(&sig).ok()?)
        .ok()?;
    Some(did)
}

/// Accepts an upgrade, selecting the subprotocol `token` when the client offered it.
#[allow(clippy::result_large_err)] // the callback's error type is tungstenite's
async fn accept(stream: TcpStream, token: &'static str) -> Option<WebSocketStream<TcpStream>> {
    let select = move |req: &Request, mut resp: Response| {
        let offered = req
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if offered.split(',').any(|p| p.trim() == token) {
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(token));
        }
        Ok(resp)
    };
    tokio_tungstenite::accept_hdr_async(stream, select)
        .await
        .ok()
}

async fn serve_one(stream: TcpStream, routes: Routes, seen: Arc<Seen>) {
    let Some(ws) = accept(stream, "ioap.v1").await else {
        return;
    };
    let (mut sink, mut read) = ws.split();
    let Some(Ok(Message::Text(first))) = read.next().await else {
        return;
    };
    let Some(did) = check_register(&first) else {
        seen.bad_registers.fetch_add(1, Ordering::Relaxed);
        return;
    };
    seen.registered.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<String>(1024);
    routes.lock().unwrap().insert(did.clone(), tx);
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    while let Some(Ok(msg)) = read.next().await {
        let Message::Text(text) = msg else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if v["type"] != "OFFER" {
            continue;
        }
        let to = v["to"].as_str().unwrap_or_default();
        let target = routes.lock().unwrap().get(to).cloned();
        if let Some(target) = target {
            let counter = if to == did {
                &seen.probes
            } else {
                &seen.relayed
            };
            if target.send(text.to_string()).await.is_ok() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    routes.lock().unwrap().remove(&did);
    writer.abort();
}

/// Starts the relay on its own thread; returns its address and its counts.
fn start_relay() -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let counts = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let routes: Routes = Arc::default();
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_one(stream, routes.clone(), counts.clone()));
            }
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    (addr, seen)
}

/// Runs the binary with `args`, killing it after 60 s; returns the exit code and stdout.
fn run(args: &[String]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bench ws did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn bench(addr: SocketAddr, extra: &str) -> Value {
    let mut args: Vec<String> = format!(
        "bench ws --json --dialect ioap --agents 4 --url ws://{addr}/ws --size 300 {extra}"
    )
    .split_whitespace()
    .map(str::to_string)
    .collect();
    args.extend(["--source-ips".into(), "127.0.0.1,127.0.0.2".into()]);
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn u(v: &Value, p: &str) -> u64 {
    v.pointer(p)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{p} missing in {v}"))
}

fn f(v: &Value, p: &str) -> f64 {
    v.pointer(p)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{p} missing in {v}"))
}

#[test]
fn ioap_closed_loop_routes_messages_and_reports_consistent_numbers() {
    let (addr, seen) = start_relay();
    let r = bench(addr, "--duration 1 --pipeline 4");

    assert_eq!(r["mode"], "closed-loop");
    assert_eq!(u(&r, "/connect/connected"), 4);
    assert_eq!(u(&r, "/connect/failed"), 0);
    assert_eq!(seen.registered.load(Ordering::Relaxed), 4);
    assert_eq!(seen.bad_registers.load(Ordering::Relaxed), 0);
    assert_eq!(
        seen.probes.load(Ordering::Relaxed),
        4,
        "one probe per agent"
    );
    let connect_ms = f(&r, "/connect/latency_ms/max");
    assert!(f(&r, "/connect/latency_ms/p50") <= connect_ms);
    assert!(f(&r, "/connect/all_connected_secs") * 1000.0 >= connect_ms * 0.99);

    let sent = u(&r, "/messages/sent");
    let received = u(&r, "/messages/received");
    assert!(received > 0, "{r}");
    // The relay loses nothing and the drain waits for everything in flight.
    assert_eq!(received, sent, "{r}");
    assert_eq!(u(&r, "/messages/unreceived"), 0);
    assert_eq!(seen.relayed.load(Ordering::Relaxed), sent);
    assert_eq!(u(&r, "/errors"), 0, "{r}");
    assert_eq!(u(&r, "/messages/window_resets"), 0);

    let secs = f(&r, "/messages/receive_secs");
    assert!(secs > 0.5 && secs < 5.0, "{r}");
    let rate = f(&r, "/messages/received_per_sec");
    assert!((rate - received as f64 / secs).abs() < 1e-6 * rate.max(1.0));
    let lat = &r["latency_ms"];
    let (p50, p99, p999, max) = (
        f(lat, "/p50"),
        f(lat, "/p99"),
        f(lat, "/p999"),
        f(lat, "/max"),
    );
    assert!(
        0.0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max,
        "{lat}"
    );
    assert!(max < 5_000.0, "{lat}");
}

#[test]
fn ioap_open_loop_sends_exactly_the_count_and_idle_holds() {
    let (addr, seen) = start_relay();
    let r = bench(addr, "--rate 400 --messages 200 --warmup 0.1");
    assert_eq!(r["mode"], "open-loop");
    assert_eq!(u(&r, "/messages/sent"), 200);
    assert_eq!(u(&r, "/messages/received"), 200, "{r}");
    // 40 warm-up messages at 400/s, then 200 measured in about half a second.
    let warm = u(&r, "/messages/warmup_sent");
    assert_eq!(warm, 40, "{r}");
    assert_eq!(seen.relayed.load(Ordering::Relaxed), 200 + warm);
    let send_secs = f(&r, "/messages/send_secs");
    assert!((0.4..1.5).contains(&send_secs), "{r}");

    let r = bench(addr, "--idle 0.3");
    assert_eq!(r["mode"], "idle");
    assert_eq!(u(&r, "/connect/connected"), 4);
    assert_eq!(u(&r, "/errors"), 0, "{r}");
    assert!(r.get("messages").is_none());
}

// ---------------------------------------------------------------------------------------
// Native dialect

/// What the native stub counted.
#[derive(Default)]
struct NativeSeen {
    registered: AtomicU64,
    unregistered: AtomicU64,
    authenticated: AtomicU64,
    sends: AtomicU64,
    acked_ids: AtomicU64,
}

const DOMAIN: &str = "bench.test";

/// The admin API of `--setup`: `GET /health`, `POST /v1/admin/agents`,
/// `DELETE /v1/admin/agents/{name}`.
async fn admin_api(listener: TcpListener, seen: Arc<NativeSeen>) {
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let seen = seen.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let admin = parts
                .headers
                .get("x-admin-key")
                .and_then(|v| v.to_str().ok());
            let path = parts.uri.path().to_string();
            let (status, out) = match (parts.method.as_str(), path.as_str(), admin) {
                ("GET", "/health", _) => (200, serde_json::json!({"status": "ok"})),
                (_, _, Some(k)) if k != "admin-secret" => (401, serde_json::json!({})),
                ("POST", "/v1/admin/agents", Some(_)) => {
                    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let name = v["name"].as_str().unwrap_or_default().to_string();
                    assert_eq!(v["delivery_mode"], "pull");
                    seen.registered.fetch_add(1, Ordering::Relaxed);
                    (
                        201,
                        serde_json::json!({"agent": {"address": format!("{name}@{DOMAIN}")},
                                           "api_key": format!("key-{name}")}),
                    )
                }
                ("DELETE", p, Some(_)) if p.starts_with("/v1/admin/agents/") => {
                    seen.unregistered.fetch_add(1, Ordering::Relaxed);
                    (204, Value::Null)
                }
                _ => (404, serde_json::json!({})),
            };
            let body = if out.is_null() {
                axum::body::Body::empty()
            } else {
                axum::body::Body::from(out.to_string())
            };
            axum::response::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(body)
                .unwrap()
        }
    });
    let _ = axum::serve(listener, app).await;
}

type Sessions = Arc<Mutex<HashMap<String, mpsc::Sender<String>>>>;

fn rpc_result(id: &Value, result: Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

async fn native_session(stream: TcpStream, sessions: Sessions, seen: Arc<NativeSeen>) {
    let Some(ws) = accept(stream, "agentgate.v1").await else {
        return;
    };
    let (mut sink, mut read) = ws.split();
    let (tx, mut rx) = mpsc::channel::<String>(4096);
    let _ = tx
        .send(
            serde_json::json!({"jsonrpc": "2.0", "method": "welcome", "params": {
                "protocol": "agentgate.v1", "domain": DOMAIN, "session_id": "s",
                "nonce": "n", "auth_deadline": "2030-01-01T00:00:00.000Z"}})
            .to_string(),
        )
        .await;
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut me: Option<String> = None;
    let mut n = 0u64;
    while let Some(Ok(msg)) = read.next().await {
        let Message::Text(text) = msg else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let id = &v["id"];
        match (v["method"].as_str(), &me) {
            (Some("auth"), None) => {
                let key = v["params"]["api_key"].as_str().unwrap_or_default();
                let Some(name) = key.strip_prefix("key-") else {
                    break;
                };
                let address = format!("{name}@{DOMAIN}");
                sessions.lock().unwrap().insert(address.clone(), tx.clone());
                seen.authenticated.fetch_add(1, Ordering::Relaxed);
                let answer = serde_json::json!({"agent": address, "session_id": "s", "pending": 0});
                let _ = tx.send(rpc_result(id, answer)).await;
                me = Some(address);
            }
            (Some("send"), Some(me)) => {
                let p = &v["params"];
                assert_eq!(p["sender"].as_str(), Some(me.as_str()));
                let to = p["recipients"][0].as_str().unwrap_or_default().to_string();
                n += 1;
                let message_id = format!("{me}-{n}");
                seen.sends.fetch_add(1, Ordering::Relaxed);
                let answer = serde_json::json!({"message_id": message_id, "status": "delivered",
                    "recipients": [{"address": to, "status": "delivered"}]});
                let _ = tx.send(rpc_result(id, answer)).await;
                let target = sessions.lock().unwrap().get(&to).cloned();
                if let Some(target) = target {
                    let mut envelope = p.clone();
                    envelope["message_id"] = Value::String(message_id);
                    let note = serde_json::json!({"jsonrpc": "2.0", "method": "message",
                        "params": {"message": envelope}});
                    let _ = target.send(note.to_string()).await;
                }
            }
            (Some("ack"), Some(_)) => {
                let ids = v["params"]["message_ids"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                seen.acked_ids
                    .fetch_add(ids.len() as u64, Ordering::Relaxed);
                let answer = serde_json::json!({"acknowledged": ids, "not_found": []});
                let _ = tx.send(rpc_result(id, answer)).await;
            }
            _ => {
                let err = serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {
                    "code": -32000, "message": "no", "data": {"code": "UNAUTHENTICATED"}}});
                let _ = tx.send(err.to_string()).await;
            }
        }
    }
    if let Some(me) = me {
        sessions.lock().unwrap().remove(&me);
    }
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

/// Starts the native stub; returns the admin API's and the endpoint's addresses.
fn start_native() -> (SocketAddr, SocketAddr, Arc<NativeSeen>) {
    let seen = Arc::new(NativeSeen::default());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let counts = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let ws = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx
                .send((http.local_addr().unwrap(), ws.local_addr().unwrap()))
                .unwrap();
            tokio::spawn(admin_api(http, counts.clone()));
            let sessions: Sessions = Arc::default();
            while let Ok((stream, _)) = ws.accept().await {
                tokio::spawn(native_session(stream, sessions.clone(), counts.clone()));
            }
        });
    });
    let (http, ws) = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    (http, ws, seen)
}

#[test]
fn native_sets_up_authenticates_routes_and_acknowledges() {
    let (http, ws, seen) = start_native();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("admin.key");
    std::fs::write(&key, "# admin\nadmin-secret\n").unwrap();
    let args: Vec<String> = format!(
        "bench ws --json --dialect native --setup --agents 4 --duration 1 --size 400 \
         --url ws://{ws}/ws --gateway-url http://{http}"
    )
    .split_whitespace()
    .map(str::to_string)
    .chain(["--admin-key-file".to_string(), key.display().to_string()])
    .collect();
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let r: Value = serde_json::from_str(&stdout).unwrap();

    assert_eq!(r["dialect"], "native");
    assert_eq!(u(&r, "/connect/connected"), 4);
    assert_eq!(seen.registered.load(Ordering::Relaxed), 4);
    assert_eq!(seen.authenticated.load(Ordering::Relaxed), 4);
    assert_eq!(seen.unregistered.load(Ordering::Relaxed), 4, "cleaned up");
    let sent = u(&r, "/messages/sent");
    let received = u(&r, "/messages/received");
    assert!(received > 0, "{r}");
    assert_eq!(received, sent, "{r}");
    assert_eq!(u(&r, "/messages/sends_accepted"), sent);
    assert_eq!(seen.sends.load(Ordering::Relaxed), sent);
    // Every delivery was acknowledged, in fewer requests than deliveries.
    assert_eq!(seen.acked_ids.load(Ordering::Relaxed), received);
    let acks = u(&r, "/messages/acks_sent");
    assert!(acks > 0 && acks < received, "{r}");
    assert_eq!(u(&r, "/errors"), 0, "{r}");
    let lat = &r["latency_ms"];
    assert!(f(lat, "/p50") <= f(lat, "/max"), "{lat}");
}
