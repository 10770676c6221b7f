//! End-to-end tests of the real `agentgate` binary: agents created with the CLI, clients
//! speaking plain HTTP the way the AMTP Python SDK does, and a gateway killed with
//! SIGKILL in the middle of concurrent sends.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_agentgate");
const ADMIN_KEY: &str = "e2e-admin-key-0123456789abcdef0123456789abcdef";

/// A gateway process on a loopback port with its own data directory.
struct Gateway {
    child: Option<Child>,
    addr: SocketAddr,
    dir: PathBuf,
    domain: String,
    /// Extra environment (configuration overrides).
    env: Vec<(String, String)>,
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl Gateway {
    fn start(dir: &Path) -> Gateway {
        Gateway::start_as(dir, "localhost", free_port(), Vec::new())
    }

    /// A gateway for `domain` on `addr`, with configuration overrides in `env`.
    fn start_as(dir: &Path, domain: &str, addr: SocketAddr, env: Vec<(String, String)>) -> Gateway {
        let key_file = dir.join("admin-keys");
        if !key_file.exists() {
            std::fs::write(&key_file, format!("# e2e\n{ADMIN_KEY}\n")).unwrap();
        }
        let mut g = Gateway {
            child: None,
            addr,
            dir: dir.to_path_buf(),
            domain: domain.to_string(),
            env,
        };
        g.spawn();
        g
    }

    fn spawn(&mut self) {
        let child = Command::new(BIN)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AGENTGATE_LISTEN", self.addr.to_string())
            .env("AGENTGATE_DATA_DIR", self.dir.join("data"))
            .env("AGENTGATE_DOMAIN", &self.domain)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(
                "AGENTGATE_AUTH__ADMIN_KEY_FILE",
                self.dir.join("admin-keys"),
            )
            .env("AGENTGATE_LOGGING__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start agentgate serve");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::blocking::Client::new();
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("gateway exited early with {status}");
            }
            if let Ok(r) = client.get(format!("{}/ready", self.url())).send()
                && r.status().is_success()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gateway not ready within 20 s");
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs the CLI against this gateway and returns its JSON output.
    fn cli(&self, args: &[&str]) -> Value {
        let out = Command::new(BIN)
            .args(["--gateway-url", &self.url(), "--json"])
            .arg("--admin-key-file")
            .arg(self.dir.join("admin-keys"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "agentgate {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("--json prints JSON")
    }

    fn register(&self, name: &str) -> String {
        let v = self.cli(&["admin", "agent", "register", name]);
        v["api_key"]
            .as_str()
            .expect("api_key in register output")
            .to_string()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the AMTP Python SDK sends: a v4 message id, a v4 idempotency key, an isoformat
/// timestamp with microseconds and `+00:00`.
fn sdk_message(from: &str, to: &str, n: usize) -> (String, Value) {
    let id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "version": "1.0",
        "message_id": id,
        "idempotency_key": uuid::Uuid::new_v4().to_string(),
        "timestamp": "2026-11-22T10:11:12.123456+00:00",
        "sender": from,
        "recipients": [to],
        "subject": format!("task {n}"),
        "payload": {"n": n},
    });
    (id, body)
}

/// `GET /v1/inbox/bob@localhost?limit=10` as the SDK's `receive(limit=10)` sends it.
fn bob_inbox(http: &reqwest::blocking::Client, gw: &Gateway, bob_key: &str) -> Value {
    http.get(format!("{}/v1/inbox/bob@localhost?limit=10", gw.url()))
        .bearer_auth(bob_key)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// `POST /v1/messages` as the SDK's `send()` sends it.
fn post_message(
    http: &reqwest::blocking::Client,
    gw: &Gateway,
    key: &str,
    body: &Value,
) -> reqwest::blocking::Response {
    http.post(format!("{}/v1/messages", gw.url()))
        .bearer_auth(key)
        .json(body)
        .send()
        .unwrap()
}

#[test]
fn python_sdk_usage_pattern_works_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let gw = Gateway::start(tmp.path());
    let alice_key = gw.register("alice");
    let bob_key = gw.register("bob");
    let http = reqwest::blocking::Client::new();

    // connect(): GET /health with the agent's Bearer key.
    let r = http
        .get(format!("{}/health", gw.url()))
        .bearer_auth(&alice_key)
        .send()
        .unwrap();
    assert!(r.status().is_success());

    // register() of an existing agent, authenticated by its own key, no admin key.
    let r = http
        .post(format!("{}/v1/admin/agents", gw.url()))
        .bearer_auth(&bob_key)
        .json(&json!({"address": "bob@localhost", "delivery_mode": "pull"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());

    // send(): POST /v1/messages; 2xx with a JSON body carrying message_id.
    let (id, body) = sdk_message("alice@localhost", "bob@localhost", 1);
    let r = post_message(&http, &gw, &alice_key, &body);
    assert!(r.status().is_success(), "{}", r.status());
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let sent: Value = r.json().unwrap();
    assert_eq!(sent["message_id"], id);

    // receive(limit=10): GET /v1/inbox/<address>?limit=10 with a raw '@'.
    let r = http
        .get(format!("{}/v1/inbox/bob@localhost?limit=10", gw.url()))
        .bearer_auth(&bob_key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let inbox: Value = r.json().unwrap();
    let msgs = inbox["messages"].as_array().expect("messages is an array");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["message_id"], id);
    assert_eq!(msgs[0]["sender"], "alice@localhost");
    assert_eq!(msgs[0]["recipients"], json!(["bob@localhost"]));
    assert_eq!(msgs[0]["payload"], json!({"n": 1}));

    // acknowledge(id): DELETE /v1/inbox/<address>/<id>; 2xx, then gone.
    let r = http
        .delete(format!("{}/v1/inbox/bob%40localhost/{id}", gw.url()))
        .bearer_auth(&bob_key)
        .send()
        .unwrap();
    assert!(
        r.status().is_success() && r.status() != 204,
        "{}",
        r.status()
    );
    let inbox = bob_inbox(&http, &gw, &bob_key);
    assert_eq!(inbox["messages"], json!([]));

    // The SDK's retry of a send (same ids) is answered like the first, not duplicated.
    let (_, body) = sdk_message("alice@localhost", "bob@localhost", 2);
    for _ in 0..2 {
        let r = post_message(&http, &gw, &alice_key, &body);
        assert!(r.status().is_success());
    }
    let inbox = bob_inbox(&http, &gw, &bob_key);
    assert_eq!(inbox["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn schemas_registered_with_the_cli_check_messages_and_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(tmp.path());
    let alice_key = gw.register("alice");
    gw.register("bob");
    let http = reqwest::blocking::Client::new();
    let schema = tmp.path().join("order.json");
    std::fs::write(
        &schema,
        r#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "required": ["sku"], "properties": {"sku": {"type": "string"}}}"#,
    )
    .unwrap();
    let schema = schema.to_str().unwrap();
    let v = gw.cli(&[
        "admin",
        "schema",
        "register",
        "acme:sales.order.v1",
        "-f",
        schema,
    ]);
    assert_eq!(v["schema_id"], "acme:sales.order.v1");
    let order = |payload: Value| {
        json!({"sender": "alice@localhost", "recipients": ["bob@localhost"],
               "schema": "acme:sales.order.v1", "payload": payload})
    };
    let r = post_message(&http, &gw, &alice_key, &order(json!({"sku": "a"})));
    assert_eq!(r.status(), 200);

    // Killed without a chance to flush anything: the registration was durable.
    gw.restart();
    let v = gw.cli(&["admin", "schema", "list", "--pattern", "acme:sales.*"]);
    assert_eq!(v["count"], 1, "{v}");
    assert_eq!(v["schemas"][0]["draft"], "draft-07");
    let r = post_message(&http, &gw, &alice_key, &order(json!({"sku": 1})));
    assert_eq!(r.status(), 400);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["code"], "SCHEMA_VALIDATION_FAILED", "{body}");
    assert_eq!(body["error"]["details"]["errors"][0]["path"], "/sku");
    let v = gw.cli(&[
        "admin",
        "schema",
        "validate",
        "acme:sales.order.v1",
        "--payload",
        r#"{"sku":"b"}"#,
    ]);
    assert_eq!(v["valid"], true);
}

/// Reads an agent's whole inbox, following cursors.
fn read_all(http: &reqwest::blocking::Client, gw: &Gateway, who: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut url = format!("{}/v1/inbox/{who}?limit=1000", gw.url());
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(key)
            .send()
            .unwrap()
            .json()
            .unwrap();
        out.extend(page["messages"].as_array().unwrap().iter().cloned());
        if page["has_more"] != json!(true) {
            return out;
        }
        cursor = Some(page["next_cursor"].as_str().unwrap().to_string());
    }
    panic!("inbox paging did not end");
}

#[test]
fn sigkill_during_concurrent_sends_loses_and_duplicates_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(tmp.path());
    let alice_key = gw.register("alice");
    let bob_key = gw.register("bob");
    let url = gw.url();

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..16 {
        let (url, key, stop) = (url.clone(), alice_key.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut acked = Vec::new();
            // Bounded: at most 100,000 sends per worker, and it stops when told.
            for n in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (id, body) = sdk_message("alice@localhost", "bob@localhost", w * 100_000 + n);
                match http
                    .post(format!("{url}/v1/messages"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                {
                    Ok(r) if r.status().is_success() => acked.push(id),
                    Ok(r) => panic!("unexpected refusal {}", r.status()),
                    Err(_) => break, // the gateway died under us
                }
            }
            acked
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    gw.kill();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        acked.len() > 50,
        "too few sends before the kill: {}",
        acked.len()
    );

    gw.restart();
    let http = reqwest::blocking::Client::new();
    let inbox = read_all(&http, &gw, "bob@localhost", &bob_key);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in &inbox {
        *seen
            .entry(m["message_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicated after restart: {dupes:?}");
    let present: HashSet<&String> = seen.keys().collect();
    let lost: Vec<_> = acked.iter().filter(|id| !present.contains(id)).collect();
    eprintln!(
        "{} sends acknowledged before SIGKILL, {} messages in the inbox after restart",
        acked.len(),
        seen.len()
    );
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost",
        lost.len(),
        acked.len()
    );
}

/// Two real gateways federating over loopback: a message from `alice@a.test` reaches
/// `bob@b.test` through `a.test`'s outbox and a signed delivery that `b.test` verifies
/// against the key it fetched from `a.test`; bob's answer comes back the same way.
#[test]
fn two_gateway_processes_federate_with_signed_deliveries() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (addr_a, addr_b) = (free_port(), free_port());
    let env = |peer: &str, peer_addr: SocketAddr, me: SocketAddr| {
        vec![
            (
                "AGENTGATE_SERVER__PUBLIC_URL".to_string(),
                format!("http://{me}"),
            ),
            ("AGENTGATE_FEDERATION__ALLOW_HTTP".into(), "true".into()),
            (
                "AGENTGATE_FEDERATION__ALLOW_PRIVATE_PEERS".into(),
                "true".into(),
            ),
            (
                "AGENTGATE_FEDERATION__STATIC_RECORDS".into(),
                json!({ peer: format!("v=amtp1;gateway=http://{peer_addr}") }).to_string(),
            ),
        ]
    };
    let a = Gateway::start_as(
        dir_a.path(),
        "a.test",
        addr_a,
        env("b.test", addr_b, addr_a),
    );
    let b = Gateway::start_as(
        dir_b.path(),
        "b.test",
        addr_b,
        env("a.test", addr_a, addr_b),
    );
    let alice = a.register("alice");
    let bob = b.register("bob");
    let http = reqwest::blocking::Client::new();
    let send = |g: &Gateway, key: &str, body: Value| {
        let r = http
            .post(format!("{}/v1/messages", g.url()))
            .bearer_auth(key)
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let wait_inbox = |g: &Gateway, key: &str, who: &str| -> Vec<Value> {
        for _ in 0..400 {
            let v: Value = http
                .get(format!("{}/v1/inbox/{who}", g.url()))
                .bearer_auth(key)
                .send()
                .unwrap()
                .json()
                .unwrap();
            let messages = v["messages"].as_array().cloned().unwrap_or_default();
            if !messages.is_empty() {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nothing arrived for {who}");
    };

    let (status, r) = send(
        &a,
        &alice,
        json!({"sender": "alice@a.test", "recipients": ["bob@b.test"], "payload": {"q": 1}}),
    );
    assert_eq!(status, 202, "{r}");
    let id = r["message_id"].as_str().unwrap().to_string();
    let got = wait_inbox(&b, &bob, "bob@b.test");
    assert_eq!(got[0]["message_id"], id.as_str());
    assert_eq!(got[0]["payload"], json!({"q": 1}));

    let (status, r) = send(
        &b,
        &bob,
        json!({"sender": "bob@b.test", "recipients": ["alice@a.test"], "in_reply_to": id, "payload": {"a": 2}}),
    );
    assert_eq!(status, 202, "{r}");
    let got = wait_inbox(&a, &alice, "alice@a.test");
    assert_eq!(got[0]["in_reply_to"], id.as_str());

    // b.test verified a.test's signature with the key a.test publishes.
    let keys: Value = http
        .get(format!("{}/.well-known/amtp/keys", a.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(keys["domain"], "a.test");
    let metrics = http
        .get(format!("{}/metrics", b.url()))
        .header("X-Admin-Key", ADMIN_KEY)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("agentgate_federation_inbound_total{verdict=\"accepted\"} 1"),
        "{metrics}"
    );
}
