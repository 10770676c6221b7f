//! Tests of the client commands (`admin agent …`, `admin schema …`, `inbox …`, `send`,
//! `bench …`): the real `agentgate` binary run against a fake gateway started here (axum
//! on 127.0.0.1:0) that records every request and answers in the shape of
//! `docs/protocols/amtp.md`.
//!
//! Each test checks what goes over the wire (method, raw path with `@` encoded, query,
//! `X-Admin-Key` / `Authorization: Bearer`, JSON body), what is printed (human and
//! `--json`) and the exit code (0 ok, 1 server refusal, 2 usage, 3 no connection).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_agentgate");
const REQUEST_ID: &str = "req-123";
const ID1: &str = "0190a3f2-1c3b-7d4e-8f00-0123456789ab";
const ID2: &str = "0190a3f2-1c3b-7d4e-8f00-0123456789ac";

// ---------------------------------------------------------------------------------------
// Running the binary

/// What a run of the binary produced.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    fn stderr_json(&self) -> Value {
        serde_json::from_str(&self.stderr)
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {:?}", self.stderr))
    }
}

/// An `agentgate` command line under construction.
#[derive(Clone, Debug, Default)]
struct Cli {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// `agentgate WORDS…` (split on whitespace; add arguments with spaces with [`Cli::arg`]).
fn ag(words: &str) -> Cli {
    Cli::default().w(words)
}

impl Cli {
    /// Appends whitespace-separated words.
    fn w(mut self, words: &str) -> Cli {
        self.args
            .extend(words.split_whitespace().map(str::to_string));
        self
    }

    /// Appends one argument as is.
    fn arg(mut self, a: impl AsRef<str>) -> Cli {
        self.args.push(a.as_ref().to_string());
        self
    }

    /// Appends `--gateway-url URL`.
    fn url(self, url: &str) -> Cli {
        self.arg("--gateway-url").arg(url)
    }

    /// Appends `--admin-key-file FILE`.
    fn admin(self, file: &str) -> Cli {
        self.arg("--admin-key-file").arg(file)
    }

    /// Sets an environment variable for the run.
    fn env(mut self, k: &str, v: &str) -> Cli {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Runs the binary with the client environment variables cleared (then `env`).
    fn run(&self) -> Out {
        let mut cmd = Command::new(BIN);
        cmd.args(&self.args);
        for v in [
            "AGENTGATE_GATEWAY_URL",
            "AGENTGATE_ADMIN_KEY_FILE",
            "AGENTGATE_AGENT_KEY",
            "AGENTGATE_CONFIG",
        ] {
            cmd.env_remove(v);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let o = cmd.output().expect("run agentgate");
        Out {
            code: o.status.code().expect("exited normally"),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "agentgate-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, content: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An admin key file whose key is `adm-secret-1` behind comments and blank lines.
fn admin_key_file(s: &Scratch) -> String {
    s.file(
        "admin.key",
        "# admin keys\n\n   adm-secret-1  \nadm-secret-2\n",
    )
}

// ---------------------------------------------------------------------------------------
// The fake gateway

/// A request as the fake gateway saw it.
#[derive(Clone, Debug)]
struct Req {
    method: String,
    /// The raw path, still percent-encoded.
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// Decoded query pairs.
    fn query_map(&self) -> HashMap<String, String> {
        let u = reqwest::Url::parse(&format!("http://x/?{}", self.query)).unwrap();
        u.query_pairs().into_owned().collect()
    }

    fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

/// What the fake gateway answers.
struct Reply {
    status: u16,
    body: String,
    content_type: &'static str,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body: body.to_string(),
        content_type: "application/json",
    }
}

fn error_body(code: &str, message: &str, request_id: &str) -> Value {
    json!({"error": {"code": code, "message": message, "details": {},
                     "timestamp": "2026-01-02T03:04:05.678Z", "request_id": request_id}})
}

fn error_reply(status: u16, code: &str, message: &str) -> Reply {
    reply(status, error_body(code, message, REQUEST_ID))
}

fn not_routed(r: &Req) -> Reply {
    error_reply(
        404,
        "NOT_FOUND",
        &format!("no route {} {}", r.method, r.path),
    )
}

fn agent(address: &str) -> Value {
    json!({"address": address, "delivery_mode": "pull", "headers": {},
           "supported_schemas": [], "requires_schema": false,
           "created_at": "2026-01-02T03:04:05.678Z"})
}

/// A fake gateway on a loopback port, answering with `handler` and recording requests.
struct Fake {
    url: String,
    log: Arc<Mutex<Vec<Req>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Fake {
    fn start<F>(handler: F) -> Fake
    where
        F: Fn(&Req) -> Reply + Send + Sync + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handler = Arc::new(handler);
        let app_log = log.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let handler = handler.clone();
            let log = app_log.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 64 << 20)
                    .await
                    .unwrap_or_default();
                let r = Req {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().unwrap_or("").to_string(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                        })
                        .collect(),
                    body: body.to_vec(),
                };
                let out = handler(&r);
                log.lock().unwrap().push(r);
                axum::response::Response::builder()
                    .status(out.status)
                    .header("content-type", out.content_type)
                    .header("x-request-id", REQUEST_ID)
                    .body(axum::body::Body::from(out.body))
                    .unwrap()
            }
        });
        let thread = thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(l, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Fake {
            url,
            log,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    /// Requests other than the bench's `GET /health` pre-flight.
    fn api_requests(&self) -> Vec<Req> {
        self.requests()
            .into_iter()
            .filter(|r| r.path != "/health")
            .collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback URL where nothing listens.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

// ---------------------------------------------------------------------------------------
// admin agent …

#[test]
fn admin_register_pull_sends_admin_key_and_prints_key_once() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let fake = Fake::start(|r| {
        if r.is("POST", "/v1/admin/agents") {
            let body = json!({"agent": agent("bot@example.com"), "api_key": "KEY-abc"});
            reply(201, body)
        } else {
            not_routed(r)
        }
    });
    let o = ag("admin agent register bot --schema agntcy:x.y.v1 --schema acme.*")
        .url(&fake.url)
        .admin(&kf)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("registered bot@example.com (pull)"),
        "{o:?}"
    );
    assert!(o.stdout.contains("api key:        KEY-abc"), "{o:?}");
    assert!(o.stdout.contains("only once"), "{o:?}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert!(r.is("POST", "/v1/admin/agents"), "{r:?}");
    assert_eq!(r.header("x-admin-key"), Some("adm-secret-1"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let expected = json!({"name": "bot", "delivery_mode": "pull",
                          "supported_schemas": ["agntcy:x.y.v1", "acme.*"]});
    assert_eq!(r.json(), expected);
}

#[test]
fn admin_register_push_sends_target_and_headers_and_json_prints_body() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let answer = json!({
        "agent": {"address": "hook@example.com", "delivery_mode": "push",
                  "push_target": "https://hook.test/in", "headers": {"X-Token": "***"},
                  "supported_schemas": [], "requires_schema": false,
                  "created_at": "2026-01-02T03:04:05.678Z"},
        "api_key": "KEY-push", "webhook_secret": "SECRET-w"});
    let a2 = answer.clone();
    let fake = Fake::start(move |r| {
        if r.is("POST", "/v1/admin/agents") {
            reply(201, a2.clone())
        } else {
            not_routed(r)
        }
    });
    let cmd = ag("admin agent register hook@example.com --target https://hook.test/in")
        .w("--header X-Token=abc=def --header A=1")
        .url(&fake.url)
        .admin(&kf);
    let o = cmd.clone().w("--json").run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.json(), answer);
    let expected = json!({"address": "hook@example.com", "delivery_mode": "push",
                          "push_target": "https://hook.test/in",
                          "headers": {"X-Token": "abc=def", "A": "1"}});
    assert_eq!(fake.requests()[0].json(), expected);
    // Human output shows both secrets.
    let o = cmd.run();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("registered hook@example.com (push)"),
        "{o:?}"
    );
    assert!(o.stdout.contains("KEY-push"), "{o:?}");
    assert!(o.stdout.contains("webhook secret: SECRET-w"), "{o:?}");
}

#[test]
fn admin_bad_arguments_and_key_files_exit_2_without_a_request() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let empty = s.file("empty.key", "# nothing here\n\n");
    let missing = s.0.join("missing.key").to_string_lossy().into_owned();
    let fake = Fake::start(not_routed);
    let cases = [
        ag("admin agent register bad!name"),
        ag("admin agent register -bot"),
        ag("admin agent register bot --mode push"),
        ag("admin agent register bot --mode pull --target http://x.test/"),
        ag("admin agent register bot --target").arg("not a url"),
        ag("admin agent register bot --header novalue"),
        ag("admin agent register bot --mode sideways"),
        ag("admin agent show bot@example.com"),
        ag("admin agent unregister a/b"),
        ag("admin agent list --limit 0"),
        ag("admin agent list --all --cursor x"),
    ];
    for c in cases {
        let o = c.clone().url(&fake.url).admin(&kf).run();
        assert_eq!(o.code, 2, "{c:?}: {o:?}");
        assert!(!o.stderr.is_empty(), "{c:?}");
        assert!(o.stdout.is_empty(), "{c:?}: {o:?}");
    }
    // Admin key problems.
    let o = ag("admin agent list").url(&fake.url).run();
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("--admin-key-file"), "{o:?}");
    for f in [&empty, &missing] {
        let o = ag("admin agent list").url(&fake.url).admin(f).run();
        assert_eq!(o.code, 2, "{o:?}");
        assert!(o.stderr.contains(f.as_str()), "{o:?}");
    }
    // --json turns a local error into a JSON envelope too.
    let o = ag("--json admin agent list").url(&fake.url).run();
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(o.stderr_json()["error"]["code"], "USAGE_ERROR");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

fn list_page() -> Value {
    json!({"agents": [agent("alice@example.com"), agent("bob@example.com")],
           "agent_count": 2, "has_more": false})
}

#[test]
fn global_flags_work_before_and_after_the_subcommand() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let fake = Fake::start(|r| {
        if r.is("GET", "/v1/admin/agents") {
            reply(200, list_page())
        } else {
            not_routed(r)
        }
    });
    let (u, k) = (fake.url.as_str(), kf.as_str());
    let orders = [
        ag("--json").url(u).admin(k).w("admin agent list"),
        ag("admin agent list --json").url(u).admin(k),
        ag("admin").admin(k).w("agent --json list").url(u),
    ];
    for cmd in orders {
        let o = cmd.run();
        assert_eq!(o.code, 0, "{cmd:?}: {o:?}");
        assert_eq!(o.json(), list_page(), "{cmd:?}");
    }
    // Environment variables stand in for the flags.
    let o = ag("admin agent list")
        .env("AGENTGATE_GATEWAY_URL", u)
        .env("AGENTGATE_ADMIN_KEY_FILE", k)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("alice@example.com"), "{o:?}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4);
    for r in &reqs {
        assert!(r.is("GET", "/v1/admin/agents"), "{r:?}");
        assert_eq!(r.query, "");
        assert_eq!(r.header("x-admin-key"), Some("adm-secret-1"));
    }
}

#[test]
fn admin_list_follows_cursors_with_all_and_prints_a_table() {
    const CURSOR: &str = "c/1 &x=y";
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let fake = Fake::start(|r| {
        if !r.is("GET", "/v1/admin/agents") {
            return not_routed(r);
        }
        match r.query_map().get("cursor").map(String::as_str) {
            None => reply(
                200,
                json!({"agents": [agent("alice@example.com")], "agent_count": 1,
                       "has_more": true, "next_cursor": CURSOR}),
            ),
            Some(CURSOR) => reply(
                200,
                json!({"agents": [agent("bob@example.com")], "agent_count": 1,
                       "has_more": false}),
            ),
            Some(_) => error_reply(400, "INVALID_CURSOR", "bad cursor"),
        }
    });
    let list = ag("admin agent list --limit 1").url(&fake.url).admin(&kf);
    let o = list.clone().w("--all").run();
    assert_eq!(o.code, 0, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].starts_with("ADDRESS"), "{o:?}");
    assert!(lines[1].starts_with("alice@example.com"), "{o:?}");
    assert!(lines[2].starts_with("bob@example.com"), "{o:?}");
    assert!(o.stdout.contains("2 agents"), "{o:?}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].query_map().get("limit").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        reqs[1].query_map().get("cursor").map(String::as_str),
        Some(CURSOR)
    );

    // --json --all merges the pages.
    let o = list.clone().w("--all --json").run();
    assert_eq!(o.code, 0, "{o:?}");
    let v = o.json();
    assert_eq!(v["agents"].as_array().unwrap().len(), 2);
    assert_eq!(v["has_more"], false);

    // Without --all: one page and a hint; --cursor continues.
    let o = list.clone().run();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains("bob@example.com"), "{o:?}");
    assert!(o.stdout.contains(&format!("--cursor {CURSOR}")), "{o:?}");
    let o = list.w("--cursor").arg(CURSOR).run();
    assert!(o.stdout.contains("bob@example.com"), "{o:?}");
}

#[test]
fn admin_show_unregister_and_rotate_use_their_routes() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let fake = Fake::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/v1/admin/agents/my.bot") => {
            reply(200, json!({"agent": agent("my.bot@example.com")}))
        }
        ("DELETE", "/v1/admin/agents/my.bot") => {
            let body = json!({"address": "my.bot@example.com", "status": "unregistered"});
            reply(200, body)
        }
        ("POST", "/v1/admin/agents/my.bot/rotate-key") => {
            let body = json!({"agent": agent("my.bot@example.com"), "api_key": "KEY-new"});
            reply(200, body)
        }
        _ => not_routed(r),
    });
    let cmd = |words: &str| ag("admin agent").w(words).url(&fake.url).admin(&kf).run();
    let o = cmd("show my.bot");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("address:"), "{o:?}");
    assert!(o.stdout.contains("my.bot@example.com"), "{o:?}");
    assert!(o.stdout.contains("pull"), "{o:?}");
    let o = cmd("show my.bot --json");
    assert_eq!(o.json()["agent"]["address"], "my.bot@example.com");
    let o = cmd("rotate-key my.bot");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("KEY-new"), "{o:?}");
    assert!(o.stdout.contains("only once"), "{o:?}");
    let o = cmd("unregister my.bot");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("unregistered my.bot@example.com"),
        "{o:?}"
    );
    let o = cmd("unregister my.bot --json");
    assert_eq!(o.json()["status"], "unregistered");
    let seen: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            "GET /v1/admin/agents/my.bot",
            "GET /v1/admin/agents/my.bot",
            "POST /v1/admin/agents/my.bot/rotate-key",
            "DELETE /v1/admin/agents/my.bot",
            "DELETE /v1/admin/agents/my.bot",
        ]
    );
    let keys: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.header("x-admin-key").map(str::to_string))
        .collect();
    assert!(
        keys.iter().all(|k| k.as_deref() == Some("adm-secret-1")),
        "{keys:?}"
    );
}

// ---------------------------------------------------------------------------------------
// admin schema …

const SCHEMA_ID: &str = "agntcy:test.order.v1";
/// The raw path of `SCHEMA_ID` (the colon is percent-encoded).
const SCHEMA_PATH: &str = "/v1/admin/schemas/agntcy%3Atest.order.v1";
/// A definition whose key order and spacing must reach the gateway unchanged.
const DEFINITION: &str = r#"{"type": "object",   "required": ["sku"], "$comment": "z before a"}"#;

fn schema_done(message: &str, replaced: Option<bool>) -> Value {
    let mut b = json!({"message": message, "schema_id": SCHEMA_ID,
                       "timestamp": "2026-01-02T03:04:05.678Z"});
    if let Some(r) = replaced {
        b["replaced"] = json!(r);
    }
    b
}

#[test]
fn admin_schema_register_sends_the_definition_as_written() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let file = s.file("order.json", &format!("\n{DEFINITION}\n"));
    let fake = Fake::start(|r| {
        if r.is("POST", "/v1/admin/schemas") {
            let replaced = r.json()["force"] == json!(true);
            let message = if replaced {
                "schema replaced"
            } else {
                "schema registered"
            };
            reply(201, schema_done(message, Some(replaced)))
        } else {
            not_routed(r)
        }
    });
    let cmd = ag("admin schema register")
        .arg(SCHEMA_ID)
        .w("--file")
        .arg(&file)
        .url(&fake.url)
        .admin(&kf);
    let o = cmd.clone().run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, format!("registered schema {SCHEMA_ID}\n"));
    let o = cmd.clone().w("--force").run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, format!("replaced schema {SCHEMA_ID}\n"));
    let o = cmd.w("--json").run();
    assert_eq!(o.json(), schema_done("schema registered", Some(false)));

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(r.header("x-admin-key"), Some("adm-secret-1"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let body = String::from_utf8(reqs[0].body.clone()).unwrap();
    assert_eq!(
        body,
        format!(r#"{{"id":"{SCHEMA_ID}","definition":{DEFINITION}}}"#),
        "the definition goes out byte for byte, and no force unless asked"
    );
    assert_eq!(reqs[1].json()["force"], true);
}

#[test]
fn admin_schema_list_show_update_delete_and_stats_use_their_routes() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let file = s.file("order.json", DEFINITION);
    let fake = Fake::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/v1/admin/schemas") => reply(
            200,
            json!({"schemas": [
                {"id": "agntcy:test.a.v1", "namespace": "agntcy", "domain": "test",
                 "entity": "a", "version": "v1", "draft": "2020-12",
                 "published_at": "2026-01-02T03:04:05.678Z",
                 "updated_at": "2026-01-02T03:04:05.678Z"},
                {"id": "agntcy:test.b.v2", "namespace": "agntcy", "domain": "test",
                 "entity": "b", "version": "v2", "draft": "draft-07",
                 "published_at": "2026-01-02T03:04:05.678Z",
                 "updated_at": "2026-01-03T03:04:05.678Z"}],
                   "count": 2, "timestamp": "2026-01-02T03:04:05.678Z"}),
        ),
        ("GET", "/v1/admin/schemas/stats") => reply(
            200,
            json!({"stats": {"total_schemas": 2, "domains": 1, "entities": 2},
                   "timestamp": "2026-01-02T03:04:05.678Z"}),
        ),
        ("GET", SCHEMA_PATH) => Reply {
            status: 200,
            body: format!(
                r#"{{"schema":{{"id":"{SCHEMA_ID}","definition":{DEFINITION},"draft":"2020-12","published_at":"2026-01-02T03:04:05.678Z","updated_at":"2026-01-02T03:04:05.678Z"}},"timestamp":"2026-01-02T03:04:05.678Z"}}"#
            ),
            content_type: "application/json",
        },
        ("PUT", SCHEMA_PATH) => reply(200, schema_done("schema updated", None)),
        ("DELETE", SCHEMA_PATH) => reply(200, schema_done("schema deleted", None)),
        _ => not_routed(r),
    });
    let cmd = |c: Cli| c.url(&fake.url).admin(&kf).run();

    let o = cmd(ag("admin schema list --pattern").arg("agntcy:test.*"));
    assert_eq!(o.code, 0, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].starts_with("ID"), "{o:?}");
    assert!(lines[1].starts_with("agntcy:test.a.v1  2020-12"), "{o:?}");
    assert!(lines[2].starts_with("agntcy:test.b.v2  draft-07"), "{o:?}");
    assert_eq!(lines[3], "2 schemas");
    let o = cmd(ag("--json admin schema list"));
    assert_eq!(o.json()["count"], 2);

    let o = cmd(ag("admin schema show").arg(SCHEMA_ID));
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains(&format!("id:          {SCHEMA_ID}\n")),
        "{o:?}"
    );
    assert!(o.stdout.contains("draft:       2020-12\n"), "{o:?}");
    assert!(
        o.stdout.ends_with(&format!("definition:\n{DEFINITION}\n")),
        "shown as registered: {o:?}"
    );
    let o = cmd(ag("admin schema update").arg(SCHEMA_ID).w("-f").arg(&file));
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, format!("updated schema {SCHEMA_ID}\n"));
    let o = cmd(ag("admin schema stats"));
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, "schemas:  2\ndomains:  1\nentities: 2\n");
    let o = cmd(ag("admin schema delete").arg(SCHEMA_ID));
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, format!("deleted schema {SCHEMA_ID}\n"));

    let reqs = fake.requests();
    let seen: Vec<String> = reqs
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            "GET /v1/admin/schemas".to_string(),
            "GET /v1/admin/schemas".to_string(),
            format!("GET {SCHEMA_PATH}"),
            format!("PUT {SCHEMA_PATH}"),
            "GET /v1/admin/schemas/stats".to_string(),
            format!("DELETE {SCHEMA_PATH}"),
        ]
    );
    assert_eq!(
        reqs[0].query_map().get("pattern").map(String::as_str),
        Some("agntcy:test.*")
    );
    assert_eq!(reqs[1].query, "");
    assert_eq!(
        String::from_utf8(reqs[3].body.clone()).unwrap(),
        format!(r#"{{"definition":{DEFINITION}}}"#)
    );
    assert!(
        reqs.iter()
            .all(|r| r.header("x-admin-key") == Some("adm-secret-1"))
    );
}

#[test]
fn admin_schema_validate_exits_1_when_the_payload_is_invalid() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let payload_file = s.file("p.json", r#"{"sku": 7}"#);
    let validate = format!("{SCHEMA_PATH}/validate");
    let fake = Fake::start(move |r| {
        if !r.is("POST", &validate) {
            return not_routed(r);
        }
        if r.json()["payload"]["sku"].is_string() {
            reply(
                200,
                json!({"valid": true, "errors": [], "warnings": [],
                       "timestamp": "2026-01-02T03:04:05.678Z"}),
            )
        } else {
            reply(
                200,
                json!({"valid": false, "warnings": [],
                       "errors": [{"path": "/sku", "message": "7 is not of type \"string\"",
                                   "keyword": "type"},
                                  {"path": "", "message": "\"qty\" is a required property",
                                   "keyword": "required"}],
                       "timestamp": "2026-01-02T03:04:05.678Z"}),
            )
        }
    });
    let base = ag("admin schema validate")
        .arg(SCHEMA_ID)
        .url(&fake.url)
        .admin(&kf);
    let o = base.clone().w("--payload").arg(r#"{"sku":"ABC"}"#).run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        o.stdout,
        format!("valid: the payload matches {SCHEMA_ID}\n")
    );

    let o = base.clone().w("--file").arg(&payload_file).run();
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(
        o.stdout,
        format!(
            "invalid: the payload does not match {SCHEMA_ID}\n  /sku: 7 is not of type \"string\"\n  (payload): \"qty\" is a required property\n"
        )
    );
    assert!(o.stderr.is_empty(), "{o:?}");
    let o = base.clone().w("--json --payload").arg(r#"{"sku":1}"#).run();
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(o.json()["valid"], false);

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        String::from_utf8(reqs[0].body.clone()).unwrap(),
        r#"{"payload":{"sku":"ABC"}}"#
    );
    assert_eq!(reqs[1].json(), json!({"payload": {"sku": 7}}));
}

#[test]
fn admin_schema_errors_exit_1_and_bad_arguments_exit_2_without_a_request() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let good = s.file("good.json", "{}");
    let bad = s.file("bad.json", "{not json");
    let fake = Fake::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/v1/admin/schemas") => error_reply(
            409,
            "SCHEMA_ALREADY_EXISTS",
            "schema agntcy:test.order.v1 is already registered",
        ),
        ("GET", SCHEMA_PATH) => error_reply(404, "SCHEMA_NOT_FOUND", "not registered"),
        _ => not_routed(r),
    });
    let o = ag("admin schema register")
        .arg(SCHEMA_ID)
        .w("-f")
        .arg(&good)
        .url(&fake.url)
        .admin(&kf)
        .run();
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");
    assert_eq!(
        o.stderr.trim_end(),
        format!(
            "error: SCHEMA_ALREADY_EXISTS: schema {SCHEMA_ID} is already registered (HTTP 409, request id {REQUEST_ID})"
        )
    );
    let o = ag("--json admin schema show")
        .arg(SCHEMA_ID)
        .url(&fake.url)
        .admin(&kf)
        .run();
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(o.stderr_json()["error"]["code"], "SCHEMA_NOT_FOUND");
    assert_eq!(fake.requests().len(), 2);

    let cases = [
        ag("admin schema register not-an-id -f").arg(&good),
        ag("admin schema register").arg(SCHEMA_ID),
        ag("admin schema register").arg(SCHEMA_ID).w("-f").arg(&bad),
        ag("admin schema register")
            .arg(SCHEMA_ID)
            .w("-f /nonexistent/schema.json"),
        ag("admin schema update")
            .arg(SCHEMA_ID)
            .w("--file")
            .arg(&bad),
        ag("admin schema show agntcy:test.order"),
        ag("admin schema delete agntcy:test.order.v1.x"),
        ag("admin schema list --pattern agntcy"),
        ag("admin schema validate").arg(SCHEMA_ID),
        ag("admin schema validate")
            .arg(SCHEMA_ID)
            .w("--payload {oops"),
        ag("admin schema validate")
            .arg(SCHEMA_ID)
            .w("--payload 1 --file")
            .arg(&good),
    ];
    for c in cases {
        let o = c.clone().url(&fake.url).admin(&kf).run();
        assert_eq!(o.code, 2, "{c:?}: {o:?}");
        assert!(!o.stderr.is_empty(), "{c:?}");
        assert!(o.stdout.is_empty(), "{c:?}: {o:?}");
    }
    // No admin key: a usage error too.
    let o = ag("admin schema stats").url(&fake.url).run();
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("--admin-key-file"), "{o:?}");
    assert_eq!(fake.requests().len(), 2, "bad arguments reached the server");
}

// ---------------------------------------------------------------------------------------
// Errors and exit codes

#[test]
fn server_errors_print_code_status_and_request_id_and_exit_1() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let fake = Fake::start(|r| match r.path.as_str() {
        "/v1/admin/agents/ghost" => reply(
            404,
            error_body("AGENT_NOT_FOUND", "no agent named ghost", "req-42"),
        ),
        "/v1/admin/agents" => error_reply(401, "INVALID_ADMIN_KEY", "unknown admin key"),
        "/v1/admin/agents/down" => Reply {
            status: 502,
            body: "upstream down".into(),
            content_type: "text/plain",
        },
        _ => not_routed(r),
    });
    let cmd = |words: &str| ag("admin agent").w(words).url(&fake.url).admin(&kf).run();

    let o = cmd("show ghost");
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(
        o.stderr.trim_end(),
        "error: AGENT_NOT_FOUND: no agent named ghost (HTTP 404, request id req-42)"
    );
    assert!(o.stdout.is_empty(), "{o:?}");

    let o = cmd("show ghost --json");
    assert_eq!(o.code, 1, "{o:?}");
    let expected = error_body("AGENT_NOT_FOUND", "no agent named ghost", "req-42");
    assert_eq!(o.stderr_json(), expected);
    assert!(o.stdout.is_empty(), "{o:?}");

    let o = cmd("list");
    assert_eq!(o.code, 1, "{o:?}");
    let line = "error: INVALID_ADMIN_KEY: unknown admin key (HTTP 401, request id req-123)";
    assert_eq!(o.stderr.trim_end(), line);

    // A body that is not the error envelope (a proxy's page): the status stands in for
    // the code, and the request id comes from the header.
    let o = cmd("show down");
    assert_eq!(o.code, 1, "{o:?}");
    let line = "error: HTTP_502: upstream down (HTTP 502, request id req-123)";
    assert_eq!(o.stderr.trim_end(), line);
    let o = cmd("show down --json");
    assert_eq!(o.code, 1, "{o:?}");
    let v = o.stderr_json();
    assert_eq!(v["error"]["code"], "HTTP_502");
    assert_eq!(v["error"]["status"], 502);
}

#[test]
fn no_answer_from_the_gateway_exits_3() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let url = dead_url();
    let cases = [
        "admin agent list",
        "inbox get bot@example.com --key K",
        "send --key K --from a@example.com --to b@example.com",
        "bench send --key K --from a@example.com --to b@example.com --messages 5",
    ];
    for c in cases {
        let cmd = ag(c).url(&url).admin(&kf);
        let o = cmd.run();
        assert_eq!(o.code, 3, "{c}: {o:?}");
        let prefix = "error: CONNECTION_FAILED: cannot reach the gateway";
        assert!(o.stderr.starts_with(prefix), "{o:?}");
        let o = cmd.w("--json").run();
        assert_eq!(o.code, 3, "{c}: {o:?}");
        assert_eq!(o.stderr_json()["error"]["code"], "CONNECTION_FAILED");
    }
}

#[test]
fn bad_gateway_urls_exit_2_and_a_path_prefix_is_kept() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    for u in ["ftp://example.com", "example.com:8080", "http://h/?x=1"] {
        let o = ag("admin agent list").url(u).admin(&kf).run();
        assert_eq!(o.code, 2, "{u}: {o:?}");
        assert!(o.stderr.contains("--gateway-url"), "{o:?}");
    }
    let fake = Fake::start(|r| {
        if r.is("GET", "/gw/v1/admin/agents") {
            reply(200, list_page())
        } else {
            not_routed(r)
        }
    });
    let prefixed = format!("{}/gw/", fake.url);
    let o = ag("admin agent list").url(&prefixed).admin(&kf).run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(fake.requests()[0].path, "/gw/v1/admin/agents");
}

// ---------------------------------------------------------------------------------------
// inbox …

fn inbox_page() -> Value {
    json!({"recipient": "bot@example.com", "message_count": 2, "has_more": true,
           "next_cursor": "n-2",
           "messages": [
             {"version": "1.0", "message_id": ID1, "sender": "alice@example.com",
              "recipients": ["bot@example.com"], "subject": "hello",
              "timestamp": "2026-01-02T03:04:05.678Z", "payload": {"n": 1},
              "received_at": "2026-01-02T03:04:05.700Z", "delivery_status": "delivered"},
             {"version": "1.0", "message_id": ID2, "sender": "carol@other.test",
              "recipients": ["bot@example.com"],
              "timestamp": "2026-01-02T03:04:06.678Z",
              "received_at": "2026-01-02T03:04:06.700Z", "delivery_status": "delivered"}]})
}

#[test]
fn inbox_get_encodes_the_address_and_sends_the_agent_key() {
    let s = Scratch::new();
    let key_file = s.file("agent.key", "# bot's key\nK-file\n");
    let fake = Fake::start(|r| {
        if r.is("GET", "/v1/inbox/bot%40example.com") {
            reply(200, inbox_page())
        } else {
            not_routed(r)
        }
    });
    let u = fake.url.as_str();
    let o = ag("inbox get bot@example.com --key K-flag --limit 10 --wait 2 --cursor abc")
        .url(u)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.starts_with("MESSAGE ID"), "{o:?}");
    assert!(o.stdout.contains(ID1) && o.stdout.contains(ID2), "{o:?}");
    assert!(o.stdout.contains("alice@example.com"), "{o:?}");
    assert!(o.stdout.contains(r#"{"n":1}"#), "{o:?}");
    assert!(o.stdout.contains("2 messages in bot@example.com"), "{o:?}");
    assert!(o.stdout.contains("--cursor n-2"), "{o:?}");

    let o = ag("inbox get bot@example.com --key-file")
        .arg(&key_file)
        .w("--json")
        .url(u)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.json(), inbox_page());

    let o = ag("inbox get bot@example.com")
        .url(u)
        .env("AGENTGATE_AGENT_KEY", "K-env")
        .run();
    assert_eq!(o.code, 0, "{o:?}");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    let q = reqs[0].query_map();
    assert_eq!(q.get("limit").map(String::as_str), Some("10"));
    assert_eq!(q.get("wait").map(String::as_str), Some("2"));
    assert_eq!(q.get("cursor").map(String::as_str), Some("abc"));
    assert_eq!(reqs[1].query, "");
    let auths: Vec<_> = reqs.iter().map(|r| r.header("authorization")).collect();
    let expected = [
        Some("Bearer K-flag"),
        Some("Bearer K-file"),
        Some("Bearer K-env"),
    ];
    assert_eq!(auths, expected);
    assert!(reqs.iter().all(|r| r.header("x-admin-key").is_none()));
}

#[test]
fn inbox_ack_deletes_the_message_and_bad_arguments_exit_2() {
    let fake = Fake::start(move |r| {
        if r.is("DELETE", &format!("/v1/inbox/bot%40example.com/{ID1}")) {
            let body = json!({"message_id": ID1, "status": "acknowledged",
                              "timestamp": "2026-01-02T03:04:05.678Z"});
            reply(200, body)
        } else {
            error_reply(404, "MESSAGE_NOT_FOUND", "no such message")
        }
    });
    let u = fake.url.as_str();
    let ack = |id: &str| ag("inbox ack bot@example.com").arg(id).w("--key K").url(u);
    let o = ack(ID1).run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout.trim_end(), format!("acknowledged {ID1}"));
    let o = ack(ID1).w("--json").run();
    assert_eq!(o.json()["status"], "acknowledged");
    let o = ack(ID2).run();
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.starts_with("error: MESSAGE_NOT_FOUND"), "{o:?}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].header("authorization"), Some("Bearer K"));

    let bad = [
        "inbox ack bot@example.com not-a-uuid --key K",
        &format!("inbox ack bot {ID1} --key K"),
        "inbox get bot@example.com",
        "inbox get bot@example.com --key K --limit 0",
        "inbox get bot@example.com --key K --wait 61",
        "inbox get bot@@example.com --key K",
        "inbox get bot@example.com --key K --key-file f",
    ];
    for c in bad {
        let o = ag(c).url(u).run();
        assert_eq!(o.code, 2, "{c}: {o:?}");
    }
    assert_eq!(fake.requests().len(), 3, "bad arguments reached the server");
}

// ---------------------------------------------------------------------------------------
// send

fn send_answer(status: &str, recipients: Value) -> Value {
    json!({"message_id": ID1, "status": status, "recipients": recipients})
}

#[test]
fn send_posts_the_envelope_and_prints_each_recipient() {
    let fake = Fake::start(|r| {
        if r.is("POST", "/v1/messages") {
            let rcpts = json!([{"address": "b@example.com", "status": "delivered"},
                               {"address": "c@example.com", "status": "delivered"}]);
            reply(200, send_answer("delivered", rcpts))
        } else {
            not_routed(r)
        }
    });
    let cmd = ag("send --key K-a --from a@example.com --to b@example.com --to c@example.com")
        .w("--subject")
        .arg("hi there")
        .w("--payload")
        .arg(r#"{"task": "x", "n": [1, 2]}"#)
        .w("--schema agntcy:x.y.v1 --message-id")
        .arg(ID1)
        .w("--idempotency-key idem-1")
        .url(&fake.url);
    let o = cmd.run();
    assert_eq!(o.code, 0, "{o:?}");
    let first = format!("message {ID1}: delivered (HTTP 200)");
    assert!(o.stdout.starts_with(&first), "{o:?}");
    assert!(o.stdout.contains("b@example.com  delivered"), "{o:?}");
    assert!(o.stdout.contains("c@example.com  delivered"), "{o:?}");
    let r = &fake.requests()[0];
    assert_eq!(r.header("authorization"), Some("Bearer K-a"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let expected = json!({
        "version": "1.0", "message_id": ID1, "idempotency_key": "idem-1",
        "sender": "a@example.com", "recipients": ["b@example.com", "c@example.com"],
        "subject": "hi there", "schema": "agntcy:x.y.v1",
        "payload": {"task": "x", "n": [1, 2]}});
    assert_eq!(r.json(), expected);
    let o = cmd.w("--json").run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.json()["status"], "delivered");
}

#[test]
fn send_with_a_failed_recipient_exits_1() {
    let fake = Fake::start(|r| {
        let rcpt = r.json()["recipients"][0].as_str().unwrap_or("").to_string();
        let ghost = json!({"address": "ghost@example.com", "status": "failed",
                           "error_code": "AGENT_UNKNOWN", "error_message": "no such agent"});
        if rcpt == "b@example.com" {
            // Partial: one delivered, one failed.
            let ok = json!({"address": "b@example.com", "status": "delivered"});
            reply(200, send_answer("partial", json!([ok, ghost])))
        } else {
            // Nobody could take it: 422 with the recipients in details.
            let msg = "no recipient accepted the message";
            let mut e = error_body("AGENT_UNKNOWN", msg, "req-9");
            e["error"]["details"] = json!({"recipients": [ghost]});
            reply(422, e)
        }
    });
    let send = |to: &str| ag("send --key K --from a@example.com").w(to).url(&fake.url);
    let o = send("--to b@example.com --to ghost@example.com").run();
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("partial"), "{o:?}");
    assert!(o.stdout.contains("AGENT_UNKNOWN: no such agent"), "{o:?}");

    let o = send("--to ghost@example.com").run();
    assert_eq!(o.code, 1, "{o:?}");
    let first = "error: AGENT_UNKNOWN: no recipient accepted the message \
                 (HTTP 422, request id req-9)";
    assert!(o.stderr.starts_with(first), "{o:?}");
    assert!(o.stderr.contains("ghost@example.com  failed"), "{o:?}");

    let o = send("--to ghost@example.com --json").run();
    assert_eq!(o.code, 1, "{o:?}");
    let v = o.stderr_json();
    assert_eq!(
        v["error"]["details"]["recipients"][0]["error_code"],
        "AGENT_UNKNOWN"
    );
}

#[test]
fn send_reads_payload_files_and_checks_arguments_locally() {
    let s = Scratch::new();
    let good = s.file("p.json", "{\"big\": [1, 2, 3]}\n");
    let bad = s.file("bad.json", "{not json");
    let fake = Fake::start(|r| {
        let rcpts = json!([{"address": r.json()["recipients"][0], "status": "queued"}]);
        reply(202, send_answer("queued", rcpts))
    });
    let base = ag("send --key K --from a@example.com --to b@example.com").url(&fake.url);
    let o = base.clone().w("--payload-file").arg(&good).run();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("queued (HTTP 202)"), "{o:?}");
    let body = fake.requests()[0].json();
    assert_eq!(body["payload"], json!({"big": [1, 2, 3]}));
    assert!(body.get("message_id").is_none(), "the gateway mints the id");

    let bad_cases = [
        base.clone().w("--payload {oops"),
        base.clone().w("--payload-file").arg(&bad),
        base.clone().w("--payload-file /nonexistent/payload.json"),
        base.clone().w("--payload 1 --payload-file").arg(&good),
        base.clone().w("--schema not-a-schema"),
        base.clone().w("--message-id 1234"),
        base.clone().w("--to no-at-sign"),
        base.clone().w("--from x@y@z"),
        // No recipient; no key.
        ag("send --key K --from a@example.com").url(&fake.url),
        ag("send --from a@example.com --to b@example.com").url(&fake.url),
    ];
    for c in bad_cases {
        let o = c.run();
        assert_eq!(o.code, 2, "{c:?}: {o:?}");
    }
    let o = ag("send --from a@example.com --to b@example.com")
        .url(&fake.url)
        .run();
    assert!(o.stderr.contains("--key"), "{o:?}");
    assert_eq!(fake.requests().len(), 1, "bad arguments reached the server");
}

// ---------------------------------------------------------------------------------------
// bench

/// A gateway that accepts messages and fails every fifth with 500.
fn flaky_gateway() -> Fake {
    let n = AtomicUsize::new(0);
    Fake::start(move |r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/health") => reply(200, json!({"status": "ok"})),
        ("POST", "/v1/messages") => {
            if n.fetch_add(1, Ordering::SeqCst) % 5 == 4 {
                error_reply(500, "INTERNAL", "injected failure")
            } else {
                let rcpts = json!([{"address": "b@example.com", "status": "delivered"}]);
                let id = r.json()["message_id"].clone();
                reply(
                    200,
                    json!({"message_id": id, "status": "delivered", "recipients": rcpts}),
                )
            }
        }
        _ => not_routed(r),
    })
}

/// A gateway that accepts every message.
fn accepting_gateway() -> Fake {
    Fake::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/health") => reply(200, json!({"status": "ok"})),
        ("POST", "/v1/messages") => {
            let id = r.json()["message_id"].clone();
            reply(
                200,
                json!({"message_id": id, "status": "delivered", "recipients": []}),
            )
        }
        _ => not_routed(r),
    })
}

const BENCH_SEND: &str = "bench send --key K --from a@example.com --to b@example.com";

#[test]
fn bench_send_counts_successes_and_injected_errors() {
    for transport in ["direct", "pooled"] {
        let fake = flaky_gateway();
        let o = ag("bench send --key K-bench --from a@example.com --to b@example.com")
            .w("--messages 50 --clients 4 --size 600 --json --transport")
            .arg(transport)
            .url(&fake.url)
            .run();
        assert_eq!(o.code, 1, "errors were counted, so exit 1: {o:?}");
        let v = o.json();
        assert_eq!(v["transport"], transport);
        assert_eq!(v["requests"], 50, "{v}");
        assert_eq!(v["successes"], 40, "{v}");
        assert_eq!(v["errors"], 10, "{v}");
        assert_eq!(v["http_errors"], json!({"500 INTERNAL": 10}), "{v}");
        assert_eq!(v["transport_errors"], json!({}), "{v}");
        assert_eq!(v["body_bytes"], 600);
        assert_eq!(v["clients"], 4);
        let tput = v["throughput_per_sec"].as_f64().unwrap();
        let secs = v["duration_secs"].as_f64().unwrap();
        assert!(
            (tput * secs - 40.0).abs() < 0.5,
            "throughput counts successes only: {v}"
        );
        for p in ["p50", "p90", "p99", "p999", "max"] {
            assert!(v["latency_ms"][p].as_f64().unwrap() > 0.0, "{p}: {v}");
        }

        let posts = fake.api_requests();
        assert_eq!(posts.len(), 50);
        let mut ids = HashSet::new();
        for r in &posts {
            assert!(r.is("POST", "/v1/messages"));
            assert_eq!(r.header("authorization"), Some("Bearer K-bench"));
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert!(r.header("host").unwrap().starts_with("127.0.0.1:"));
            assert_eq!(r.body.len(), 600);
            let b = r.json();
            assert_eq!(b["sender"], "a@example.com");
            assert_eq!(b["recipients"], json!(["b@example.com"]));
            let id = b["message_id"].as_str().unwrap().to_string();
            assert_eq!(&id[14..15], "7", "UUIDv7: {id}");
            ids.insert(id);
        }
        assert_eq!(ids.len(), 50, "every message has its own id");
    }
}

#[test]
fn bench_send_human_report_warmup_and_duration_mode() {
    let fake = accepting_gateway();
    let o = ag(BENCH_SEND)
        .w("--messages 20 --clients 3 --warmup 0.2")
        .url(&fake.url)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    for needle in [
        "requests      20\n",
        "successes     20\n",
        "errors        0\n",
        "transport     direct\n",
        "body          1024 bytes\n",
        "throughput",
        "latency ms",
        "p99.9",
    ] {
        assert!(
            o.stdout.contains(needle),
            "{needle:?} missing: {}",
            o.stdout
        );
    }
    // The warm-up sent messages too, but they are not in the report.
    assert!(fake.api_requests().len() > 20);

    let o = ag(BENCH_SEND)
        .w("--json --duration 0.3 --clients 2")
        .url(&fake.url)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    let v = o.json();
    assert!(v["successes"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["requests"], v["successes"]);
    assert!(v["duration_secs"].as_f64().unwrap() >= 0.3, "{v}");
    assert_eq!(v["limit"], json!({"duration_secs": 0.3}));
}

#[test]
fn bench_send_bad_arguments_exit_2() {
    let fake = accepting_gateway();
    let cases = [
        ag("bench send --key K --to b@example.com").url(&fake.url),
        ag("bench send --from a@example.com --to b@example.com").url(&fake.url),
        ag(BENCH_SEND).w("--clients 0").url(&fake.url),
        ag(BENCH_SEND).w("--messages 5 --duration 1").url(&fake.url),
        ag(BENCH_SEND).w("--duration -1").url(&fake.url),
        ag(BENCH_SEND).w("--setup").url(&fake.url),
        ag("bench send --setup").url(&fake.url),
        ag(BENCH_SEND)
            .w("--transport direct")
            .url("https://127.0.0.1:9"),
    ];
    for c in cases {
        let o = c.run();
        assert_eq!(o.code, 2, "{c:?}: {o:?}");
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[test]
fn bench_send_setup_registers_agents_and_removes_them() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let fake = Fake::start(|r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/health") => reply(200, json!({"status": "ok"})),
        ("POST", "/v1/admin/agents") => {
            let name = r.json()["name"].as_str().unwrap_or("").to_string();
            let body = json!({"agent": agent(&format!("{name}@example.com")),
                              "api_key": format!("key-{name}")});
            reply(201, body)
        }
        ("POST", "/v1/messages") => {
            let id = r.json()["message_id"].clone();
            reply(
                200,
                json!({"message_id": id, "status": "delivered", "recipients": []}),
            )
        }
        ("DELETE", p) if p.starts_with("/v1/admin/agents/bench-") => {
            reply(200, json!({"address": "x", "status": "unregistered"}))
        }
        _ => not_routed(r),
    });
    let o = ag("bench send --setup --messages 5 --clients 2 --json")
        .url(&fake.url)
        .admin(&kf)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    let v = o.json();
    assert_eq!(v["successes"], 5, "{v}");
    assert_eq!(v["setup"]["kept"], false);
    let reqs = fake.api_requests();
    assert_eq!(reqs.len(), 2 + 5 + 2, "{reqs:?}");
    let sender = reqs[0].json()["name"].as_str().unwrap().to_string();
    let rcpt = reqs[1].json()["name"].as_str().unwrap().to_string();
    assert!(sender.starts_with("bench-sender-"), "{sender}");
    assert!(rcpt.starts_with("bench-rcpt-"), "{rcpt}");
    assert_eq!(sender["bench-sender-".len()..], rcpt["bench-rcpt-".len()..]);
    for r in &reqs[..2] {
        assert!(r.is("POST", "/v1/admin/agents"));
        assert_eq!(r.header("x-admin-key"), Some("adm-secret-1"));
        assert_eq!(r.json()["delivery_mode"], "pull");
    }
    let bearer = format!("Bearer key-{sender}");
    for r in &reqs[2..7] {
        assert!(r.is("POST", "/v1/messages"));
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
        assert_eq!(r.json()["sender"], format!("{sender}@example.com"));
        assert_eq!(
            r.json()["recipients"],
            json!([format!("{rcpt}@example.com")])
        );
    }
    let deleted: HashSet<String> = reqs[7..].iter().map(|r| r.path.clone()).collect();
    let expected = HashSet::from([
        format!("/v1/admin/agents/{sender}"),
        format!("/v1/admin/agents/{rcpt}"),
    ]);
    assert_eq!(deleted, expected);
}

#[test]
fn bench_drain_reads_and_acknowledges_every_message() {
    let ids = (0..25).map(|i| format!("0190a3f2-1c3b-7d4e-8f00-{i:012}"));
    let inbox: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(ids.collect()));
    let ib = inbox.clone();
    let fake = Fake::start(move |r| {
        let prefix = "/v1/inbox/bot%40example.com";
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/health") => reply(200, json!({"status": "ok"})),
            ("GET", p) if p == prefix => {
                let limit: usize = r.query_map()["limit"].parse().unwrap();
                let msgs: Vec<Value> = ib
                    .lock()
                    .unwrap()
                    .iter()
                    .take(limit)
                    .map(|id| json!({"message_id": id, "sender": "a@example.com"}))
                    .collect();
                let body = json!({"recipient": "bot@example.com", "message_count": msgs.len(),
                                  "messages": msgs, "has_more": false});
                reply(200, body)
            }
            ("DELETE", p) if p.starts_with(prefix) => {
                let id = p.rsplit('/').next().unwrap();
                let mut v = ib.lock().unwrap();
                match v.iter().position(|x| x == id) {
                    Some(i) => {
                        v.remove(i);
                        reply(200, json!({"message_id": id, "status": "acknowledged"}))
                    }
                    None => error_reply(404, "MESSAGE_NOT_FOUND", "gone"),
                }
            }
            _ => not_routed(r),
        }
    });
    // A limited drain stops after that many acknowledgements.
    let o = ag("--json bench drain bot@example.com --key K --batch 10 --clients 3")
        .w("--messages 7")
        .url(&fake.url)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    let v = o.json();
    assert_eq!(v["successes"], 7, "{v}");
    assert_eq!(v["inbox_emptied"], false, "{v}");
    assert_eq!(inbox.lock().unwrap().len(), 18);

    // With no limit it runs until the inbox is empty.
    let o = ag("--json bench drain bot@example.com --key K --batch 10 --clients 3")
        .url(&fake.url)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    let v = o.json();
    assert_eq!(v["successes"], 18, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["inbox_emptied"], true, "{v}");
    assert_eq!(v["limit"], json!({"until_empty": true}), "{v}");
    assert_eq!(
        v["pages"]["successes"], 3,
        "2 full pages and an empty one: {v}"
    );
    assert!(inbox.lock().unwrap().is_empty());
    let deletes: Vec<Req> = fake
        .api_requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 25, "each message acknowledged exactly once");
    assert!(
        deletes
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer K"))
    );
}

#[test]
fn admin_federation_keys_and_rotate_key_use_their_routes() {
    let s = Scratch::new();
    let kf = admin_key_file(&s);
    let active = json!({"keyid": "gw.test:00112233aabbccdd", "alg": "ed25519",
                        "public_key": "AAAA", "status": "active",
                        "created_at": "2026-01-02T03:04:05.678Z"});
    let retired = json!({"keyid": "gw.test:ffeeddccbbaa9988", "alg": "ed25519",
                         "public_key": "BBBB", "status": "retired",
                         "created_at": "2026-01-01T03:04:05.678Z",
                         "expires_at": "2026-01-08T03:04:05.678Z"});
    let (a, r) = (active.clone(), retired.clone());
    let fake = Fake::start(move |req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/v1/admin/federation/keys") => reply(
            200,
            json!({"domain": "gw.test", "keys": [a.clone(), r.clone()]}),
        ),
        ("POST", "/v1/admin/federation/keys/rotate") => reply(200, json!({"key": a.clone()})),
        _ => not_routed(req),
    });
    let o = ag("admin federation keys").url(&fake.url).admin(&kf).run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        o.stdout,
        "gw.test:00112233aabbccdd  active  created 2026-01-02T03:04:05.678Z\n\
         gw.test:ffeeddccbbaa9988  retired  created 2026-01-01T03:04:05.678Z, published until 2026-01-08T03:04:05.678Z\n"
    );
    let o = ag("admin federation rotate-key --json")
        .url(&fake.url)
        .admin(&kf)
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.json(), json!({"key": active}));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter()
            .all(|r| r.header("x-admin-key") == Some("adm-secret-1"))
    );
    // Without a key file: usage error, no request.
    let o = ag("admin federation keys").url(&fake.url).run();
    assert_eq!(o.code, 2, "{o:?}");
    assert_eq!(fake.requests().len(), 2);
}
