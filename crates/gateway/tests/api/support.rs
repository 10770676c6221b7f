//! The in-process gateway harness and helpers shared by the API tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agentgate_gateway::App;
use agentgate_gateway::config::Config;
use agentgate_store::Store;
use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The domain every test gateway serves.
pub const DOMAIN: &str = "gw.test";
/// The admin key of every test gateway.
pub const ADMIN_KEY: &str = "aga_test-admin-key-0123456789";

/// Runs a test body with an overall bound, so a hang fails instead of stalling CI.
pub async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test took longer than 60 s")
}

/// A gateway running in-process on 127.0.0.1, with its own data directory.
pub struct Gateway {
    pub url: String,
    pub app: Arc<App>,
    pub client: reqwest::Client,
    pub config: Config,
    pub dir: Arc<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

/// The address of `name` on the test domain.
pub fn addr(name: &str) -> String {
    format!("{name}@{DOMAIN}")
}

impl Gateway {
    /// A gateway with the test defaults.
    pub async fn start() -> Gateway {
        Gateway::start_with(|_| {}).await
    }

    /// A gateway with the test defaults changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Gateway {
        let (mut config, dir) = Gateway::prepare();
        tweak(&mut config);
        Gateway::serve(config, dir).await
    }

    /// The test defaults and a fresh directory (admin key file, data directory), for a
    /// gateway the caller starts with [`Gateway::serve_on`].
    pub fn prepare() -> (Config, Arc<TempDir>) {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let keys = dir.path().join("admin.keys");
        std::fs::write(&keys, format!("# test keys\n{ADMIN_KEY}\n")).unwrap();
        let mut config = Config::default();
        config.server.domain = DOMAIN.into();
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.storage.data_dir = dir.path().join("data");
        config.auth.admin_key_file = Some(keys);
        config.message.max_size = 64 * 1024;
        config.delivery.push.allow_http = true;
        config.delivery.push.allow_private_targets = true;
        config.delivery.push.initial_backoff = Duration::from_millis(50);
        config.delivery.push.max_backoff = Duration::from_millis(200);
        config.delivery.push.max_attempts = 3;
        config.delivery.push.timeout = Duration::from_secs(2);
        // Other domains are looked up only on loopback: a DNS server that is not there.
        config.federation.resolvers = vec![SocketAddr::from(([127, 0, 0, 1], 9))];
        (config, dir)
    }

    async fn serve(config: Config, dir: Arc<TempDir>) -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Gateway::serve_on(config, dir, listener).await
    }

    /// Serves `config` on an already bound listener.
    pub async fn serve_on(
        config: Config,
        dir: Arc<TempDir>,
        listener: tokio::net::TcpListener,
    ) -> Gateway {
        let app = App::open(&config).await.expect("app opens");
        let router = agentgate_gateway::http::router(app.clone());
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .unwrap();
        Gateway {
            url,
            app,
            client,
            config,
            dir,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops the listener and the app (as `serve` does on SIGTERM).
    pub async fn stop(&mut self) {
        self.app.shutdown().await;
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
        }
    }

    /// Stops this gateway and starts a new one on the same data directory and config.
    pub async fn restart(mut self) -> Gateway {
        self.stop().await;
        let config = self.config.clone();
        let dir = self.dir.clone();
        drop(self);
        Gateway::serve(config, dir).await
    }

    /// Stops this gateway, lets `edit` change its store directly (simulating the state
    /// a crash left behind), then starts a new gateway on the same data directory.
    pub async fn restart_with(mut self, edit: impl AsyncFnOnce(&EmbeddedStore)) -> Gateway {
        self.stop().await;
        let config = self.config.clone();
        let dir = self.dir.clone();
        drop(self);
        let store = EmbeddedStore::open(&config.storage.data_dir, EmbeddedOptions::default())
            .expect("store reopens");
        edit(&store).await;
        store.close().await.unwrap();
        drop(store);
        Gateway::serve(config, dir).await
    }

    /// A request to `path`.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    /// A request with the admin key.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.req(method, path).header("X-Admin-Key", ADMIN_KEY)
    }

    /// A request with an agent key.
    pub fn agent(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.req(method, path).bearer_auth(key)
    }

    /// Registers a pull agent; returns its API key.
    pub async fn register(&self, name: &str) -> String {
        let (status, body) = call(
            self.admin(Method::POST, "/v1/admin/agents")
                .json(&json!({"name": name})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["api_key"].as_str().unwrap().to_string()
    }

    /// Registers an agent with extra fields; returns the whole answer.
    pub async fn register_with(&self, spec: Value) -> (StatusCode, Value) {
        call(self.admin(Method::POST, "/v1/admin/agents").json(&spec)).await
    }

    /// Registers schema `id` with `definition` in the schema registry.
    pub async fn register_schema(&self, id: &str, definition: Value) {
        let (status, body) = call(
            self.admin(Method::POST, "/v1/admin/schemas")
                .json(&json!({"id": id, "definition": definition})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Sends a message as the agent with `key`.
    pub async fn send(&self, key: &str, envelope: Value) -> (StatusCode, Value) {
        call(
            self.agent(key, Method::POST, "/v1/messages")
                .json(&envelope),
        )
        .await
    }

    /// Reads `name`'s inbox with `query` (e.g. `"?limit=2"`).
    pub async fn inbox(&self, key: &str, name: &str, query: &str) -> (StatusCode, Value) {
        call(self.agent(
            key,
            Method::GET,
            &format!("/v1/inbox/{}{query}", addr(name)),
        ))
        .await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Sends a request; returns its status and JSON body (`null` when not JSON).
pub async fn call(req: RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.expect("request sent");
    split(resp).await
}

/// A response's status and JSON body.
pub async fn split(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let bytes = resp.bytes().await.expect("body read");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// Asserts an error answer's status and code, and the error body's shape.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, error_code: &str) {
    assert_eq!(got.0, status, "body: {}", got.1);
    assert_eq!(code(&got.1), error_code, "body: {}", got.1);
    let e = &got.1["error"];
    assert!(e["message"].is_string(), "message in {}", got.1);
    assert!(
        e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{}",
        got.1
    );
    assert!(e["request_id"].is_string(), "request_id in {}", got.1);
}

/// A minimal envelope from `from` to `to`.
pub fn envelope(from: &str, to: &[&str]) -> Value {
    json!({
        "sender": addr(from),
        "recipients": to.iter().map(|t| if t.contains('@') { t.to_string() } else { addr(t) }).collect::<Vec<_>>(),
        "subject": "hello",
        "payload": {"text": "hi"},
    })
}
