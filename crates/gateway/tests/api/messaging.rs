//! Submitting messages: validation, limits, routing outcomes, idempotency, reading.

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn each_invalid_envelope_gets_its_code() {
    bounded(async {
        let g = Gateway::start().await;
        let key = g.register("alice").await;
        g.register("bob").await;
        let with = |field: &str, value: Value| {
            let mut e = envelope("alice", &["bob"]);
            e[field] = value;
            e
        };
        let deep: Value =
            serde_json::from_str(&format!("{}1{}", "[".repeat(40), "]".repeat(40))).unwrap();
        let many: Vec<String> = (0..1001).map(|i| format!("r{i}@{DOMAIN}")).collect();
        let attachment = json!([{"filename": "f", "content_type": "text/plain", "size": 1,
                                 "hash": "sha256:abc", "url": "https://x.com/f"}]);
        let cases: Vec<(Value, &str)> = vec![
            (with("version", json!("2.0")), "UNSUPPORTED_VERSION"),
            (
                with("message_id", json!("not-a-uuid")),
                "INVALID_MESSAGE_ID",
            ),
            (
                with("idempotency_key", json!("has space")),
                "INVALID_IDEMPOTENCY_KEY",
            ),
            (with("timestamp", json!("yesterday")), "INVALID_TIMESTAMP"),
            (
                with("sender", json!("Alice <alice@gw.test>")),
                "INVALID_SENDER",
            ),
            (with("recipients", json!(["nobody"])), "INVALID_RECIPIENT"),
            (with("recipients", json!([])), "NO_RECIPIENTS"),
            (with("recipients", json!(many)), "TOO_MANY_RECIPIENTS"),
            (with("schema", json!("nope")), "INVALID_SCHEMA"),
            (with("in_reply_to", json!("x")), "INVALID_IN_REPLY_TO"),
            (with("attachments", attachment), "INVALID_ATTACHMENT"),
            (with("coordination", json!([1])), "INVALID_COORDINATION"),
            (with("subject", json!("s".repeat(2000))), "FIELD_TOO_LONG"),
            (
                with("recipients", json!("bob@gw.test")),
                "INVALID_MESSAGE_FORMAT",
            ),
            (json!([1, 2]), "INVALID_MESSAGE_FORMAT"),
            (with("payload", deep), "JSON_TOO_DEEP"),
        ];
        for (body, error_code) in cases {
            let got = g.send(&key, body).await;
            assert_error(&got, StatusCode::BAD_REQUEST, error_code);
        }
        let got = call(
            g.agent(&key, Method::POST, "/v1/messages")
                .body("{\"sender\": "),
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_JSON");
        // Authorisation of the sender.
        let got = g
            .send(&key, with("sender", json!("alice@elsewhere.com")))
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "SENDER_NOT_LOCAL");
        let got = g.send(&key, with("sender", json!(addr("bob")))).await;
        assert_error(&got, StatusCode::FORBIDDEN, "ACCESS_DENIED");
        // Nothing reached bob.
        let bob_key = g.register("bob2").await;
        let (_, inbox) = g.inbox(&bob_key, "bob2", "").await;
        assert_eq!(inbox["message_count"], 0);
    })
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_and_without_content_length() {
    bounded(async {
        let g = Gateway::start().await;
        let key = g.register("alice").await;
        g.register("bob").await;
        let mut e = envelope("alice", &["bob"]);
        e["payload"] = json!("x".repeat(80 * 1024));
        let body = serde_json::to_vec(&e).unwrap();
        let got = call(
            g.agent(&key, Method::POST, "/v1/messages")
                .body(body.clone()),
        )
        .await;
        assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
        assert_eq!(got.1["error"]["details"]["limit"], 64 * 1024);
        // Streamed in chunks without a Content-Length.
        let chunks: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(8 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let stream = futures::stream::iter(chunks);
        let resp = g
            .agent(&key, Method::POST, "/v1/messages")
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .unwrap();
        let got = split(resp).await;
        assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
        // A chunked body under the limit is accepted.
        let small = serde_json::to_vec(&envelope("alice", &["bob"])).unwrap();
        let stream = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(small))]);
        let got = call(
            g.agent(&key, Method::POST, "/v1/messages")
                .body(reqwest::Body::wrap_stream(stream)),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    })
    .await;
}

#[tokio::test]
async fn recipient_outcomes_decide_200_and_422() {
    bounded(async {
        let g = Gateway::start().await;
        let key = g.register("alice").await;
        let bob = g.register("bob").await;
        g.register_with(json!({"name": "picky", "supported_schemas": ["agntcy:commerce.*"]}))
            .await;

        let (s, b) = g.send(&key, envelope("alice", &["ghost"])).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(code(&b), "AGENT_UNKNOWN");
        assert_eq!(
            b["error"]["details"]["recipients"][0]["address"],
            addr("ghost")
        );
        assert_eq!(b["error"]["details"]["recipients"][0]["status"], "failed");
        assert_eq!(
            b["error"]["details"]["recipients"][0]["error_code"],
            "AGENT_UNKNOWN"
        );

        // Another domain: queued for the outbox (delivery is asynchronous).
        let (s, b) = g.send(&key, envelope("alice", &["x@elsewhere.com"])).await;
        assert_eq!(
            (s, b["status"].as_str()),
            (StatusCode::ACCEPTED, Some("queued")),
            "{b}"
        );
        assert_eq!(b["recipients"][0]["status"], "queued");

        let (s, b) = g.send(&key, envelope("alice", &["picky"])).await;
        assert_eq!(
            (s, code(&b)),
            (StatusCode::UNPROCESSABLE_ENTITY, "SCHEMA_NOT_SUPPORTED"),
            "{b}"
        );
        // Local senders may only name registered schemas; this one accepts anything.
        g.register_schema("agntcy:commerce.order.v1", json!({}))
            .await;
        let mut typed = envelope("alice", &["picky"]);
        typed["schema"] = json!("agntcy:commerce.order.v1");
        assert_eq!(g.send(&key, typed).await.0, StatusCode::OK);

        let (s, b) = g.send(&key, envelope("alice", &["ghost", "picky"])).await;
        assert_eq!(
            (s, code(&b)),
            (StatusCode::UNPROCESSABLE_ENTITY, "RECIPIENTS_REJECTED"),
            "{b}"
        );

        // Partial: one delivered, one failed, one queued for another domain: 202.
        let (s, b) = g
            .send(
                &key,
                envelope("alice", &["bob", "ghost", "x@elsewhere.com"]),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        assert_eq!(b["status"], "partial");
        let r = b["recipients"].as_array().unwrap();
        assert_eq!(r[0], json!({"address": addr("bob"), "status": "delivered"}));
        assert_eq!(r[1]["error_code"], "AGENT_UNKNOWN");
        assert_eq!(
            r[2],
            json!({"address": "x@elsewhere.com", "status": "queued"})
        );
        let (_, inbox) = g.inbox(&bob, "bob", "").await;
        assert_eq!(inbox["message_count"], 1);
        let (_, st) = call(g.agent(
            &key,
            Method::GET,
            &format!("/v1/messages/{}/status", b["message_id"].as_str().unwrap()),
        ))
        .await;
        assert_eq!(st["status"], "partial", "{st}");
        assert_eq!(st["recipients"][1]["status"], "failed");
        assert_eq!(st["recipients"][1]["error_code"], "AGENT_UNKNOWN");

        let (s, b) = g.send(&key, envelope("alice", &["bob"])).await;
        assert_eq!(
            (s, b["status"].as_str()),
            (StatusCode::OK, Some("delivered")),
            "{b}"
        );
        assert_eq!(b["message_id"].as_str().unwrap().len(), 36);
    })
    .await;
}

#[tokio::test]
async fn repeats_return_the_original_answer_and_deliver_once() {
    bounded(async {
        let mut g = Gateway::start().await;
        let key = g.register("alice").await;
        let bob = g.register("bob").await;
        let mut e = envelope("alice", &["bob", "ghost"]);
        e["idempotency_key"] = json!("order-42");
        let first = g.send(&key, e.clone()).await;
        assert_eq!(first.0, StatusCode::OK, "{}", first.1);
        let again = g.send(&key, e.clone()).await;
        assert_eq!(again, first);
        // The same key with another body is still the same submission.
        let mut changed = e.clone();
        changed["subject"] = json!("different");
        assert_eq!(g.send(&key, changed).await, first);
        // Without a key, the message id de-duplicates.
        let mut by_id = envelope("alice", &["bob"]);
        by_id["message_id"] = json!("0190f3c4-5a6b-7c8d-9e0f-a1b2c3d4e5f6");
        let id_first = g.send(&key, by_id.clone()).await;
        assert_eq!(id_first.0, StatusCode::OK);
        assert_eq!(g.send(&key, by_id.clone()).await, id_first);
        let (_, inbox) = g.inbox(&bob, "bob", "").await;
        assert_eq!(inbox["message_count"], 2, "{inbox}");

        // Across a restart on the same data directory.
        g = g.restart().await;
        assert_eq!(g.send(&key, e.clone()).await, first);
        assert_eq!(g.send(&key, by_id.clone()).await, id_first);
        let (_, inbox) = g.inbox(&bob, "bob", "").await;
        assert_eq!(inbox["message_count"], 2, "{inbox}");

        // An acknowledged message is not delivered again by a repeat.
        let id = first.1["message_id"].as_str().unwrap();
        let (s, _) = call(g.agent(
            &bob,
            Method::DELETE,
            &format!("/v1/inbox/{}/{id}", addr("bob")),
        ))
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(g.send(&key, e.clone()).await, first);
        let (_, inbox) = g.inbox(&bob, "bob", "").await;
        assert_eq!(inbox["message_count"], 1, "{inbox}");
        // Also when the repeat carries the same message id.
        let by_id_id = by_id["message_id"].as_str().unwrap();
        let (s, _) = call(g.agent(
            &bob,
            Method::DELETE,
            &format!("/v1/inbox/{}/{by_id_id}", addr("bob")),
        ))
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(g.send(&key, by_id.clone()).await, id_first);
        let (_, inbox) = g.inbox(&bob, "bob", "").await;
        assert_eq!(inbox["message_count"], 0, "{inbox}");
        let (_, listed) = call(g.agent(&key, Method::GET, "/v1/messages?role=sent")).await;
        assert_eq!(
            listed["messages"].as_array().unwrap().len(),
            2,
            "repeats are not listed twice: {listed}"
        );

        // Another sender reusing a message id is refused, and nothing is delivered.
        let carol = g.register("carol").await;
        let mut stolen = envelope("carol", &["carol"]);
        stolen["message_id"] = by_id["message_id"].clone();
        let got = g.send(&carol, stolen.clone()).await;
        assert_error(&got, StatusCode::CONFLICT, "MESSAGE_ID_CONFLICT");
        let (_, inbox) = g.inbox(&carol, "carol", "").await;
        assert_eq!(inbox["message_count"], 0, "{inbox}");
        // Also when carol gives an idempotency key, which must not stay claimed.
        stolen["idempotency_key"] = json!("k-1");
        assert_error(
            &g.send(&carol, stolen.clone()).await,
            StatusCode::CONFLICT,
            "MESSAGE_ID_CONFLICT",
        );
        stolen.as_object_mut().unwrap().remove("message_id");
        let ok = g.send(&carol, stolen).await;
        assert_eq!(ok.0, StatusCode::OK, "the key is free again: {}", ok.1);
        // A refused (422) submission is not remembered: it can succeed later.
        let mut later = envelope("alice", &["dave"]);
        later["idempotency_key"] = json!("wait-for-dave");
        assert_eq!(
            g.send(&key, later.clone()).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        g.register("dave").await;
        assert_eq!(g.send(&key, later).await.0, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn messages_can_be_read_by_their_parties_only() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let carol = g.register("carol").await;
        let mut e = envelope("alice", &["bob"]);
        e["headers"] = json!({"trace": "t-1"});
        e["idempotency_key"] = json!("read-1");
        let (_, sent) = g.send(&alice, e).await;
        let id = sent["message_id"].as_str().unwrap();
        for key in [&alice, &bob] {
            let (s, env) = call(g.agent(key, Method::GET, &format!("/v1/messages/{id}"))).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(env["message_id"], id);
            assert_eq!(env["sender"], addr("alice"));
            assert_eq!(env["recipients"], json!([addr("bob")]));
            assert_eq!(env["headers"], json!({"trace": "t-1"}));
            assert_eq!(env["version"], "1.0");
        }
        let got = call(g.agent(&carol, Method::GET, &format!("/v1/messages/{id}"))).await;
        assert_error(&got, StatusCode::FORBIDDEN, "ACCESS_DENIED");
        let got = call(g.agent(
            &carol,
            Method::GET,
            "/v1/messages/0190f3c4-5a6b-7c8d-9e0f-a1b2c3d4e5f6",
        ))
        .await;
        assert_error(&got, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND");
        let got = call(g.agent(&carol, Method::GET, "/v1/messages/xyz/status")).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_MESSAGE_ID");

        let (s, st) =
            call(g.agent(&alice, Method::GET, &format!("/v1/messages/{id}/status"))).await;
        assert_eq!(s, StatusCode::OK, "{st}");
        assert_eq!(st["message_id"], id);
        assert_eq!(st["status"], "delivered");
        assert_eq!(st["attempts"], 0);
        assert_eq!(st["recipients"][0]["status"], "delivered");
        assert!(st["recipients"][0]["delivered_at"].is_string());
        assert_eq!(st["created_at"], st["updated_at"]);
    })
    .await;
}

#[tokio::test]
async fn an_agent_lists_its_sent_and_received_messages_newest_first() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let mut e = envelope("alice", &["bob"]);
            e["subject"] = json!(format!("a{i}"));
            ids.push(
                g.send(&alice, e).await.1["message_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        let (_, reply) = g.send(&bob, envelope("bob", &["alice"])).await;
        let reply_id = reply["message_id"].as_str().unwrap().to_string();

        let ids_of = |v: &Value| -> Vec<String> {
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["message_id"].as_str().unwrap().to_string())
                .collect()
        };
        let (s, all) = call(g.agent(&alice, Method::GET, "/v1/messages")).await;
        assert_eq!(s, StatusCode::OK, "{all}");
        assert_eq!(
            ids_of(&all),
            [
                reply_id.clone(),
                ids[2].clone(),
                ids[1].clone(),
                ids[0].clone()
            ]
        );
        assert_eq!(all["messages"][1]["subject"], "a2");
        assert_eq!(all["messages"][1]["status"], "delivered");
        assert_eq!(all["messages"][1]["recipients"], json!([addr("bob")]));
        let (_, sent) = call(g.agent(&alice, Method::GET, "/v1/messages?role=sent")).await;
        assert_eq!(
            ids_of(&sent),
            [ids[2].clone(), ids[1].clone(), ids[0].clone()]
        );
        let (_, received) = call(g.agent(&alice, Method::GET, "/v1/messages?role=received")).await;
        assert_eq!(ids_of(&received), [reply_id]);
        let (_, p1) = call(g.agent(&bob, Method::GET, "/v1/messages?role=received&limit=2")).await;
        assert_eq!(ids_of(&p1), [ids[2].clone(), ids[1].clone()]);
        assert_eq!(p1["has_more"], true);
        let cursor = p1["next_cursor"].as_str().unwrap();
        let (_, p2) = call(g.agent(
            &bob,
            Method::GET,
            &format!("/v1/messages?role=received&limit=2&cursor={cursor}"),
        ))
        .await;
        assert_eq!(ids_of(&p2), [ids[0].clone()]);
        assert_eq!(p2["has_more"], false);
        assert_error(
            &call(g.agent(&bob, Method::GET, "/v1/messages?role=spam")).await,
            StatusCode::BAD_REQUEST,
            "INVALID_ROLE",
        );
        assert_error(
            &call(g.agent(&bob, Method::GET, "/v1/messages?limit=0")).await,
            StatusCode::BAD_REQUEST,
            "INVALID_LIMIT",
        );
        assert_error(
            &call(g.agent(&bob, Method::GET, "/v1/messages?cursor=zz")).await,
            StatusCode::BAD_REQUEST,
            "INVALID_CURSOR",
        );
    })
    .await;
}
