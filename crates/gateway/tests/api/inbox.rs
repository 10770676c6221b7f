//! Pull inboxes: round trip, order, paging, long-poll, acknowledgement.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

fn subjects(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn send_read_acknowledge_round_trip() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        g.register_schema(
            "agntcy:commerce.order.v1",
            json!({"type": "object", "required": ["order"]}),
        )
        .await;
        let mut e = envelope("alice", &["bob"]);
        e["payload"] = json!({"order": 42, "items": ["a", "b"]});
        e["schema"] = json!("agntcy:commerce.order.v1");
        let (s, sent) = g.send(&alice, e).await;
        assert_eq!(s, StatusCode::OK, "{sent}");
        assert_eq!(sent["status"], "delivered");
        let id = sent["message_id"].as_str().unwrap().to_string();

        let (s, page) = g.inbox(&bob, "bob", "").await;
        assert_eq!(s, StatusCode::OK, "{page}");
        assert_eq!(page["recipient"], addr("bob"));
        assert_eq!(page["message_count"], 1);
        assert_eq!(page["has_more"], false);
        let m = &page["messages"][0];
        assert_eq!(m["message_id"], id.as_str());
        assert_eq!(m["sender"], addr("alice"));
        assert_eq!(m["recipients"], json!([addr("bob")]));
        assert_eq!(m["payload"], json!({"order": 42, "items": ["a", "b"]}));
        assert_eq!(m["schema"], "agntcy:commerce.order.v1");
        assert_eq!(m["version"], "1.0");
        assert_eq!(m["delivery_status"], "delivered");
        assert!(m["received_at"].as_str().unwrap().ends_with('Z'));
        assert!(m["timestamp"].as_str().unwrap().ends_with('Z'));
        // Raw and percent-encoded addresses both work.
        let (s, encoded) = call(g.agent(&bob, Method::GET, "/v1/inbox/bob%40gw.test")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(encoded["message_count"], 1);

        let (s, ack) = call(g.agent(
            &bob,
            Method::DELETE,
            &format!("/v1/inbox/{}/{id}", addr("bob")),
        ))
        .await;
        assert_eq!(s, StatusCode::OK, "{ack}");
        assert_eq!(ack["message_id"], id.as_str());
        assert_eq!(ack["status"], "acknowledged");
        assert!(ack["timestamp"].is_string());
        let (_, page) = g.inbox(&bob, "bob", "").await;
        assert_eq!(page["messages"], json!([]));
        let again = call(g.agent(
            &bob,
            Method::DELETE,
            &format!("/v1/inbox/{}/{id}", addr("bob")),
        ))
        .await;
        assert_error(&again, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND");
        let bad = call(g.agent(
            &bob,
            Method::DELETE,
            &format!("/v1/inbox/{}/nope", addr("bob")),
        ))
        .await;
        assert_error(&bad, StatusCode::BAD_REQUEST, "INVALID_MESSAGE_ID");

        let (_, st) =
            call(g.agent(&alice, Method::GET, &format!("/v1/messages/{id}/status"))).await;
        assert_eq!(st["status"], "acknowledged", "{st}");
        assert_eq!(st["recipients"][0]["status"], "acknowledged");
    })
    .await;
}

#[tokio::test]
async fn inbox_is_oldest_first_and_pages_with_cursors() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        for i in 0..5 {
            let mut e = envelope("alice", &["bob"]);
            e["subject"] = json!(format!("m{i}"));
            assert_eq!(g.send(&alice, e).await.0, StatusCode::OK);
        }
        let (_, p1) = g.inbox(&bob, "bob", "?limit=2").await;
        assert_eq!(subjects(&p1), ["m0", "m1"]);
        assert_eq!(p1["has_more"], true);
        let c1 = p1["next_cursor"].as_str().unwrap().to_string();
        let (_, p2) = g.inbox(&bob, "bob", &format!("?limit=2&cursor={c1}")).await;
        assert_eq!(subjects(&p2), ["m2", "m3"]);
        let c2 = p2["next_cursor"].as_str().unwrap().to_string();
        let (_, p3) = g.inbox(&bob, "bob", &format!("?limit=2&cursor={c2}")).await;
        assert_eq!(subjects(&p3), ["m4"]);
        assert_eq!(p3["has_more"], false);
        assert!(p3.get("next_cursor").is_none());
        let (_, all) = g.inbox(&bob, "bob", "").await;
        assert_eq!(subjects(&all), ["m0", "m1", "m2", "m3", "m4"]);

        // Acknowledging from the middle keeps the order of the rest.
        let id = all["messages"][2]["message_id"].as_str().unwrap();
        call(g.agent(
            &bob,
            Method::DELETE,
            &format!("/v1/inbox/{}/{id}", addr("bob")),
        ))
        .await;
        let (_, rest) = g.inbox(&bob, "bob", "").await;
        assert_eq!(subjects(&rest), ["m0", "m1", "m3", "m4"]);

        for q in ["?limit=0", "?limit=1001", "?limit=x", "?limit=-1"] {
            assert_error(
                &g.inbox(&bob, "bob", q).await,
                StatusCode::BAD_REQUEST,
                "INVALID_LIMIT",
            );
        }
        for q in ["?wait=61", "?wait=x", "?wait=-1"] {
            assert_error(
                &g.inbox(&bob, "bob", q).await,
                StatusCode::BAD_REQUEST,
                "INVALID_WAIT",
            );
        }
        assert_error(
            &g.inbox(&bob, "bob", "?cursor=!!").await,
            StatusCode::BAD_REQUEST,
            "INVALID_CURSOR",
        );
    })
    .await;
}

#[tokio::test]
async fn long_poll_wakes_on_a_send_and_times_out() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;

        // Times out: an empty page after about the wait.
        let started = Instant::now();
        let (s, page) = g.inbox(&bob, "bob", "?wait=1").await;
        let waited = started.elapsed();
        assert_eq!(s, StatusCode::OK);
        assert_eq!(page["messages"], json!([]));
        assert!(
            waited >= Duration::from_millis(950),
            "returned after {waited:?}"
        );
        assert!(waited < Duration::from_secs(3), "returned after {waited:?}");

        // Wakes when a message arrives.
        let reader = {
            let req = g.agent(
                &bob,
                Method::GET,
                &format!("/v1/inbox/{}?wait=20", addr("bob")),
            );
            tokio::spawn(async move {
                let started = Instant::now();
                let got = call(req).await;
                (got, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !reader.is_finished(),
            "the reader waits while the inbox is empty"
        );
        assert_eq!(
            g.send(&alice, envelope("alice", &["bob"])).await.0,
            StatusCode::OK
        );
        let ((s, page), took) = reader.await.unwrap();
        assert_eq!(s, StatusCode::OK);
        assert_eq!(page["message_count"], 1, "{page}");
        assert!(took < Duration::from_secs(5), "woke after {took:?}");

        // A message already there answers at once, whatever the wait.
        let started = Instant::now();
        let (_, page) = g.inbox(&bob, "bob", "?wait=20").await;
        assert_eq!(page["message_count"], 1);
        assert!(started.elapsed() < Duration::from_secs(2));
    })
    .await;
}

/// Registers bob and starts a 30-second long-poll of his empty inbox; returns the
/// task that yields its status once it ends.
async fn waiting_reader(g: &Gateway) -> tokio::task::JoinHandle<reqwest::Result<StatusCode>> {
    let bob = g.register("bob").await;
    let req = g.agent(
        &bob,
        Method::GET,
        &format!("/v1/inbox/{}?wait=30", addr("bob")),
    );
    let reader = tokio::spawn(async move { req.send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    reader
}

#[tokio::test]
async fn shutdown_ends_long_polls() {
    bounded(async {
        let mut g = Gateway::start().await;
        let reader = waiting_reader(&g).await;
        let started = Instant::now();
        // What the server shell does on SIGTERM: begin, drain connections, shut down.
        g.app.begin_shutdown();
        let status = tokio::time::timeout(Duration::from_secs(2), reader).await;
        assert!(status.is_ok(), "the long-poll ended when shutdown began");
        let status = status.unwrap().unwrap();
        assert_eq!(status.ok(), Some(StatusCode::OK));
        assert_eq!(
            call(g.req(Method::GET, "/ready")).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        g.stop().await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "stop took {:?}",
            started.elapsed()
        );
    })
    .await;
}

#[tokio::test]
async fn stopping_ends_long_polls() {
    bounded(async {
        let mut g = Gateway::start().await;
        let reader = waiting_reader(&g).await;
        let started = Instant::now();
        g.stop().await;
        let status = reader.await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "stop took {:?}",
            started.elapsed()
        );
        assert_eq!(status.ok(), Some(StatusCode::OK));
    })
    .await;
}
