//! Push delivery to a webhook receiver on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxStatus};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::support::*;

/// One request the receiver got.
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

/// A webhook receiver that fails its first `fail_first` requests with 500.
struct Receiver {
    url: String,
    hits: mpsc::UnboundedReceiver<Hit>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receiver_on(addr: SocketAddr, fail_first: usize) -> Receiver {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("receiver binds");
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, hits) = mpsc::unbounded_channel();
    let failures = Arc::new(AtomicUsize::new(fail_first));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let failures = failures.clone();
            async move {
                let _ = tx.send(Hit { headers, body });
                let fail = failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if fail {
                    AxStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxStatus::NO_CONTENT
                }
            }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { url, hits, server }
}

async fn receiver(fail_first: usize) -> Receiver {
    receiver_on(SocketAddr::from(([127, 0, 0, 1], 0)), fail_first).await
}

async fn next_hit(r: &mut Receiver) -> Hit {
    tokio::time::timeout(Duration::from_secs(10), r.hits.recv())
        .await
        .expect("a push arrives within 10 s")
        .expect("receiver running")
}

async fn register_hook(g: &Gateway, name: &str, url: &str) -> String {
    let (s, b) = g
        .register_with(
            json!({"name": name, "delivery_mode": "push", "push_target": url,
                              "headers": {"X-Hook-Token": "tok-1"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["webhook_secret"].as_str().unwrap().to_string()
}

/// Polls the message's status until `done` holds for it.
async fn status_until(g: &Gateway, key: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/v1/messages/{id}/status");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, st) = call(g.agent(key, Method::GET, &path)).await;
        if done(&st) {
            return st;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never got there: {st}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn recipient_status(st: &Value) -> &str {
    st["recipients"][0]["status"].as_str().unwrap_or("")
}

#[tokio::test]
async fn pushes_are_signed_and_delivered() {
    bounded(async {
        let g = Gateway::start().await;
        let mut r = receiver(0).await;
        let alice = g.register("alice").await;
        let secret = register_hook(&g, "hook", &r.url).await;
        let mut e = envelope("alice", &["hook"]);
        e["idempotency_key"] = json!("push-1");
        e["payload"] = json!({"n": 7});
        let (s, sent) = g.send(&alice, e).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{sent}");
        assert_eq!(sent["status"], "queued");
        assert_eq!(sent["recipients"][0]["status"], "queued");
        let id = sent["message_id"].as_str().unwrap().to_string();

        let hit = next_hit(&mut r).await;
        let h = |n: &str| {
            hit.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(h("content-type"), "application/json");
        assert!(
            h("user-agent").starts_with("agentgate/"),
            "{}",
            h("user-agent")
        );
        assert_eq!(h("x-amtp-local-delivery"), "true");
        assert_eq!(h("x-hook-token"), "tok-1");
        assert_eq!(h("x-amtp-message-id"), id);
        let ts: u64 = h("x-amtp-timestamp").parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(ts) < 60);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{ts}.").as_bytes());
        mac.update(&hit.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(
            h("x-amtp-signature"),
            expected,
            "signature verifies with the webhook secret"
        );
        let body: Value = serde_json::from_slice(&hit.body).unwrap();
        assert_eq!(body["message_id"], id.as_str());
        assert_eq!(body["recipient"], addr("hook"));
        assert_eq!(body["sender"], addr("alice"));
        assert_eq!(body["idempotency_key"], "push-1");
        assert_eq!(body["payload"], json!({"n": 7}));
        assert!(body.get("recipients").is_none());

        let st = status_until(&g, &alice, &id, |st| recipient_status(st) == "delivered").await;
        assert_eq!(st["status"], "delivered");
        assert_eq!(st["recipients"][0]["attempts"], 1);
        assert!(st["recipients"][0]["delivered_at"].is_string());
        // The inbox copy is gone once pushed.
        let hook_key = {
            let (_, b) = call(g.admin(Method::POST, "/v1/admin/agents/hook/rotate-key")).await;
            b["api_key"].as_str().unwrap().to_string()
        };
        let (_, inbox) = g.inbox(&hook_key, "hook", "").await;
        assert_eq!(inbox["message_count"], 0, "{inbox}");
        // Exactly one push.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(r.hits.try_recv().is_err(), "no second push");
    })
    .await;
}

#[tokio::test]
async fn failed_pushes_are_retried_with_backoff() {
    bounded(async {
        let g = Gateway::start().await;
        let mut r = receiver(2).await;
        let alice = g.register("alice").await;
        register_hook(&g, "hook", &r.url).await;
        let (s, sent) = g.send(&alice, envelope("alice", &["hook"])).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        let id = sent["message_id"].as_str().unwrap().to_string();

        next_hit(&mut r).await;
        let first = tokio::time::Instant::now();
        let st = status_until(&g, &alice, &id, |st| recipient_status(st) == "retrying").await;
        assert_eq!(st["status"], "retrying");
        assert!(
            st["recipients"][0]["last_error"]
                .as_str()
                .unwrap()
                .contains("500"),
            "{st}"
        );
        assert!(st["recipients"][0]["next_retry"].is_string(), "{st}");
        assert!(st["next_retry"].is_string(), "{st}");
        next_hit(&mut r).await;
        let second = tokio::time::Instant::now();
        next_hit(&mut r).await;
        // Backoff 50 ms then 100 ms, each ±25 %.
        assert!(
            second - first >= Duration::from_millis(30),
            "{:?}",
            second - first
        );
        let st = status_until(&g, &alice, &id, |st| recipient_status(st) == "delivered").await;
        assert_eq!(st["recipients"][0]["attempts"], 3, "{st}");
        assert_eq!(st["attempts"], 3);
        assert!(st["recipients"][0].get("last_error").is_none(), "{st}");
    })
    .await;
}

#[tokio::test]
async fn exhausted_pushes_fail_and_the_message_stays_in_the_inbox() {
    bounded(async {
        let g = Gateway::start().await;
        let mut r = receiver(usize::MAX).await;
        let alice = g.register("alice").await;
        register_hook(&g, "hook", &r.url).await;
        let (_, sent) = g.send(&alice, envelope("alice", &["hook"])).await;
        let id = sent["message_id"].as_str().unwrap().to_string();
        for _ in 0..3 {
            next_hit(&mut r).await;
        }
        let st = status_until(&g, &alice, &id, |st| recipient_status(st) == "failed").await;
        assert_eq!(st["status"], "failed");
        assert_eq!(st["recipients"][0]["attempts"], 3);
        assert!(
            st["recipients"][0]["last_error"]
                .as_str()
                .unwrap()
                .contains("500"),
            "{st}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(r.hits.try_recv().is_err(), "no attempt after the last");

        let (_, b) = call(g.admin(Method::POST, "/v1/admin/agents/hook/rotate-key")).await;
        let hook = b["api_key"].as_str().unwrap().to_string();
        let (_, inbox) = g.inbox(&hook, "hook", "").await;
        assert_eq!(inbox["message_count"], 1, "{inbox}");
        assert_eq!(inbox["messages"][0]["message_id"], id.as_str());
        assert_eq!(inbox["messages"][0]["delivery_status"], "failed");
        let (s, _) = call(g.agent(
            &hook,
            Method::DELETE,
            &format!("/v1/inbox/{}/{id}", addr("hook")),
        ))
        .await;
        assert_eq!(s, StatusCode::OK);
        let (_, st) =
            call(g.agent(&alice, Method::GET, &format!("/v1/messages/{id}/status"))).await;
        assert_eq!(st["recipients"][0]["status"], "acknowledged", "{st}");
    })
    .await;
}

#[tokio::test]
async fn pending_pushes_survive_a_restart() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.delivery.push.max_attempts = 100;
            c.delivery.push.initial_backoff = Duration::from_millis(100);
            c.delivery.push.max_backoff = Duration::from_millis(300);
        })
        .await;
        // Reserve a port, then leave it closed: the receiver is down.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let alice = g.register("alice").await;
        register_hook(&g, "hook", &format!("http://{port}/hook")).await;
        let (s, sent) = g.send(&alice, envelope("alice", &["hook"])).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        let id = sent["message_id"].as_str().unwrap().to_string();
        let st = status_until(&g, &alice, &id, |st| recipient_status(st) == "retrying").await;
        assert!(st["recipients"][0]["last_error"].is_string(), "{st}");

        let g = g.restart().await;
        let mut r = receiver_on(port, 0).await;
        let hit = next_hit(&mut r).await;
        let body: Value = serde_json::from_slice(&hit.body).unwrap();
        assert_eq!(body["message_id"], id.as_str());
        let st = status_until(&g, &alice, &id, |st| recipient_status(st) == "delivered").await;
        assert!(
            st["recipients"][0]["attempts"].as_u64().unwrap() >= 2,
            "{st}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_message_taken_from_the_inbox_is_not_pushed() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.delivery.push.max_attempts = 100;
            c.delivery.push.initial_backoff = Duration::from_millis(200);
            c.delivery.push.max_backoff = Duration::from_millis(200);
        })
        .await;
        let mut r = receiver(usize::MAX).await;
        let alice = g.register("alice").await;
        register_hook(&g, "hook", &r.url).await;
        let (_, b) = call(g.admin(Method::POST, "/v1/admin/agents/hook/rotate-key")).await;
        let hook = b["api_key"].as_str().unwrap().to_string();
        let (_, sent) = g.send(&alice, envelope("alice", &["hook"])).await;
        let id = sent["message_id"].as_str().unwrap().to_string();
        next_hit(&mut r).await;
        let (s, _) = call(g.agent(
            &hook,
            Method::DELETE,
            &format!("/v1/inbox/{}/{id}", addr("hook")),
        ))
        .await;
        assert_eq!(s, StatusCode::OK);
        // Drain a retry that may have been in flight, then expect silence.
        tokio::time::sleep(Duration::from_millis(600)).await;
        while r.hits.try_recv().is_ok() {}
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(
            r.hits.try_recv().is_err(),
            "pushes stopped after the acknowledgement"
        );
        let (_, st) =
            call(g.agent(&alice, Method::GET, &format!("/v1/messages/{id}/status"))).await;
        assert_eq!(st["recipients"][0]["status"], "acknowledged", "{st}");
    })
    .await;
}
