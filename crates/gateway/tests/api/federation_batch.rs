//! Batched deliveries between gateways (`POST /v1/federation/batch`): the outbox sends a
//! domain's pending messages together when the peer announces `features=batch`, falls
//! back to single deliveries when it does not or refuses a batch, and the receiver
//! verifies a batch once and answers each envelope on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode as AxumStatus;
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::json;
use tokio::net::TcpListener;

use crate::federation::{
    Forger, agent, inbox, metrics, network, plan, post_signed, restart, serve_at, stop, wait_for,
    wait_status,
};
use crate::support::{Gateway, assert_error, bounded};

const BATCH_PATH: &str = "/v1/federation/batch";

/// The number of requests `g` answered on `route` with `status`, from its metrics.
async fn served(g: &Gateway, route: &str, status: u16) -> u64 {
    let (_, text) = metrics(g).await;
    let prefix = format!(
        "agentgate_http_requests_total{{method=\"POST\",route=\"{route}\",status=\"{status}\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn messages_queued_for_a_peer_travel_in_batches_and_arrive_once() {
    bounded(async {
        let mut plans = plan(&["a.test", "b.test"]).await;
        let b_addr = plans[1].addr;
        let b = plans.pop().unwrap().start().await;
        let bob = agent(&b, "bob").await;
        let carol = agent(&b, "carol").await;
        // b.test is down while a.test accepts the messages, so they wait together.
        let (b_config, b_dir) = stop(b).await;
        let a = plans.pop().unwrap().start().await;
        let alice = agent(&a, "alice").await;
        let ann = agent(&a, "ann").await;
        let send = |i: usize| {
            // Every third message also goes to carol, every fifth to ann at a.test too
            // (whose copy stays home: the delivery to b.test carries b's recipients).
            let mut to = vec!["bob@b.test"];
            if i.is_multiple_of(3) {
                to.push("carol@b.test");
            }
            if i.is_multiple_of(5) {
                to.push("ann@a.test");
            }
            let (a, alice) = (&a, &alice);
            async move {
                let (s, r) = a
                    .send(
                        alice,
                        json!({"sender": "alice@a.test", "recipients": to, "payload": {"i": i}}),
                    )
                    .await;
                assert_eq!(s, StatusCode::ACCEPTED, "{r}");
                r["message_id"].as_str().unwrap().to_owned()
            }
        };
        // The first delivery fails, so the domain is down when the others are queued:
        // they wait for its retry time together.
        let mut ids = vec![send(0).await];
        wait_status(&a, &alice, &ids[0], |s| {
            s["recipients"][0]["status"] == "retrying"
        })
        .await;
        for i in 1..150 {
            ids.push(send(i).await);
        }
        let b = serve_at(b_addr, b_config, b_dir).await;

        let got = wait_for(&b, &bob, "bob@b.test", 150).await;
        let mut seen: Vec<&str> = got
            .iter()
            .map(|m| m["message_id"].as_str().unwrap())
            .collect();
        seen.sort_unstable();
        let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(seen, want, "every message reached bob once");
        for m in &got {
            for r in m["recipients"].as_array().unwrap() {
                assert!(r.as_str().unwrap().ends_with("@b.test"), "{m}");
            }
        }
        assert_eq!(wait_for(&b, &carol, "carol@b.test", 50).await.len(), 50);
        assert_eq!(wait_for(&a, &ann, "ann@a.test", 30).await.len(), 30);
        for id in [&ids[0], &ids[77], &ids[149]] {
            let st = wait_status(&a, &alice, id, |s| {
                s["recipients"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["status"] == "delivered")
            })
            .await;
            assert!(st["recipients"][0]["delivered_at"].is_string(), "{st}");
        }
        // They went in batches (of at most 100), not one request each.
        let batches = served(&b, BATCH_PATH, 200).await;
        assert!(batches >= 1, "{batches} batches");
        let singles = served(&b, "/v1/messages", 200).await + served(&b, "/v1/messages", 202).await;
        assert!(
            singles < 100,
            "{singles} single deliveries besides {batches} batches"
        );
        // Nothing more arrives later, even after a restart of a.test.
        let a = restart(a).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            inbox(&b, &bob, "bob@b.test").await["messages"]
                .as_array()
                .unwrap()
                .len(),
            150
        );
        drop(a);
    })
    .await;
}

#[tokio::test]
async fn a_batch_is_verified_once_and_each_envelope_answered_on_its_own() {
    bounded(async {
        let gs = network(&["a.test", "b.test"]).await;
        let (a, b) = (&gs[0], &gs[1]);
        let bob = agent(b, "bob").await;
        let a_key = Forger::of(a);
        let envelope = |from: &str, to: &str, n: u32| {
            json!({"message_id": uuid::Uuid::new_v4(), "sender": from, "recipients": [to], "payload": {"n": n}})
        };
        let mut no_id = envelope("alice@a.test", "bob@b.test", 3);
        no_id.as_object_mut().unwrap().remove("message_id");
        let good = envelope("alice@a.test", "bob@b.test", 1);
        let batch = json!({"messages": [
            good,
            envelope("carol@c.test", "bob@b.test", 2),
            no_id,
            envelope("alice@a.test", "dan@c.test", 4),
            {"sender": "alice@a.test"},
        ]});
        let body = serde_json::to_vec(&batch).unwrap();
        let headers = a_key.headers_for(BATCH_PATH, &body, 0, "batch-1");
        let (s, r) = post_signed(b, BATCH_PATH, &headers, &body).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let results = r["results"].as_array().unwrap();
        assert_eq!(results.len(), 5, "{r}");
        assert_eq!(results[0]["http_status"], 200, "{r}");
        assert_eq!(results[0]["message_id"], good["message_id"], "{r}");
        assert_eq!(results[0]["status"], "delivered", "{r}");
        assert_eq!(results[0]["recipients"][0]["address"], "bob@b.test", "{r}");
        let refusal = |i: usize| (results[i]["http_status"].as_u64().unwrap(), results[i]["error"]["code"].as_str().unwrap());
        assert_eq!(refusal(1), (403, "SENDER_DOMAIN_MISMATCH"));
        assert_eq!(refusal(2), (400, "MESSAGE_ID_REQUIRED"));
        assert_eq!(refusal(3), (403, "RELAY_DENIED"));
        assert_eq!(results[4]["http_status"], 400, "{r}");

        // The same request again is a replay; nothing is stored twice.
        assert_error(
            &post_signed(b, BATCH_PATH, &headers, &body).await,
            StatusCode::UNAUTHORIZED,
            "REPLAYED_REQUEST",
        );
        // A signature for /v1/messages does not cover a batch.
        let elsewhere = a_key.headers(&body, 0, "batch-2");
        assert_error(
            &post_signed(b, BATCH_PATH, &elsewhere, &body).await,
            StatusCode::UNAUTHORIZED,
            "INVALID_SIGNATURE",
        );
        // Unsigned.
        assert_error(
            &post_signed(b, BATCH_PATH, &[], &body).await,
            StatusCode::UNAUTHORIZED,
            "SIGNATURE_REQUIRED",
        );
        // Empty, too many, not a batch.
        for (bad, nonce) in [
            (json!({"messages": []}), "batch-3"),
            (json!({"messages": vec![envelope("alice@a.test", "bob@b.test", 9); 101]}), "batch-4"),
            (json!([envelope("alice@a.test", "bob@b.test", 9)]), "batch-5"),
        ] {
            let body = serde_json::to_vec(&bad).unwrap();
            assert_error(
                &post_signed(b, BATCH_PATH, &a_key.headers_for(BATCH_PATH, &body, 0, nonce), &body).await,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
            );
        }
        let got = inbox(b, &bob, "bob@b.test").await;
        assert_eq!(got["messages"].as_array().unwrap().len(), 1, "{got}");
        assert_eq!(got["messages"][0]["payload"], json!({"n": 1}));
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_does_not_announce_batches_gets_single_deliveries() {
    bounded(async {
        let mut plans = plan(&["a.test", "b.test"]).await;
        let b_record = format!("v=amtp1;gateway=http://{}", plans[1].addr);
        plans[0]
            .config
            .federation
            .static_records
            .insert("b.test".into(), b_record);
        let b = plans.pop().unwrap().start().await;
        let a = plans.pop().unwrap().start().await;
        let alice = agent(&a, "alice").await;
        let bob = agent(&b, "bob").await;
        for i in 0..30 {
            let (s, r) = a
                .send(&alice, json!({"sender": "alice@a.test", "recipients": ["bob@b.test"], "payload": {"i": i}}))
                .await;
            assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        }
        wait_for(&b, &bob, "bob@b.test", 30).await;
        assert_eq!(served(&b, BATCH_PATH, 200).await, 0);
        assert_eq!(served(&b, "/v1/messages", 200).await, 30);
    })
    .await;
}

/// A stand-in peer that announces batches but answers them 404, and accepts single
/// deliveries once `up`.
struct OldPeer {
    up: AtomicBool,
    batches: AtomicUsize,
    singles: AtomicUsize,
}

#[tokio::test]
async fn a_peer_that_refuses_batches_gets_single_deliveries() {
    bounded(async {
        let peer = Arc::new(OldPeer {
            up: AtomicBool::new(false),
            batches: AtomicUsize::new(0),
            singles: AtomicUsize::new(0),
        });
        let (p1, p2) = (peer.clone(), peer.clone());
        let app = Router::new()
            .route(
                "/v1/messages",
                post(move || async move {
                    if !p1.up.load(Ordering::SeqCst) {
                        return (AxumStatus::SERVICE_UNAVAILABLE, String::new());
                    }
                    p1.singles.fetch_add(1, Ordering::SeqCst);
                    (AxumStatus::OK, r#"{"status":"delivered","recipients":[]}"#.to_owned())
                }),
            )
            .route(
                BATCH_PATH,
                post(move || async move {
                    p2.batches.fetch_add(1, Ordering::SeqCst);
                    AxumStatus::NOT_FOUND
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let old_addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let mut plans = plan(&["a.test"]).await;
        plans[0].config.federation.static_records.insert(
            "old.test".into(),
            format!("v=amtp1;gateway=http://{old_addr};features=batch"),
        );
        let a = plans.pop().unwrap().start().await;
        let alice = agent(&a, "alice").await;
        let send = |i: usize| {
            let (a, alice) = (&a, &alice);
            async move {
                let (s, r) = a
                    .send(alice, json!({"sender": "alice@a.test", "recipients": ["x@old.test"], "payload": {"i": i}}))
                    .await;
                assert_eq!(s, StatusCode::ACCEPTED, "{r}");
                r["message_id"].as_str().unwrap().to_owned()
            }
        };
        // The peer is down at first, so the next four wait for its retry time together
        // with the first.
        let mut ids = vec![send(0).await];
        wait_status(&a, &alice, &ids[0], |s| s["recipients"][0]["status"] == "retrying").await;
        for i in 1..5 {
            ids.push(send(i).await);
        }
        peer.up.store(true, Ordering::SeqCst);
        for id in &ids {
            wait_status(&a, &alice, id, |s| s["status"] == "delivered").await;
        }
        assert!(peer.batches.load(Ordering::SeqCst) >= 1, "a batch was tried");
        assert_eq!(peer.singles.load(Ordering::SeqCst), 5, "then each went alone");
        server.abort();
    })
    .await;
}
