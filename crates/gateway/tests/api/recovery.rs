//! Acceptance is resumable: a repeat after a crash between its writes finishes the job,
//! delivering once. Crash states are made by editing the store while the gateway is down.

use agentgate_store::{KvStore, MailboxStore};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const MESSAGES: &str = "messages";
const BOB_INBOX: &str = "inbox.bob=40gw=2Etest";

fn uuid(id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(id).unwrap()
}

async fn inbox_ids(g: &Gateway, key: &str) -> Vec<String> {
    let (_, page) = g.inbox(key, "bob", "").await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_string())
        .collect()
}

fn keyed(id: &str, key: &str) -> Value {
    let mut e = envelope("alice", &["bob"]);
    e["message_id"] = json!(id);
    e["idempotency_key"] = json!(key);
    e
}

#[tokio::test]
async fn a_record_without_its_inbox_copy_is_completed_by_the_repeat() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let id = "0190f3c4-0000-7000-8000-000000000001";
        let first = g.send(&alice, keyed(id, "k-1")).await;
        assert_eq!(first.0, StatusCode::OK);
        // Crash after the record, before the enqueue: no inbox copy.
        let g = g
            .restart_with(async |s| {
                assert!(s.ack(BOB_INBOX, uuid(id)).await.unwrap());
            })
            .await;
        assert!(inbox_ids(&g, &bob).await.is_empty());
        assert_eq!(g.send(&alice, keyed(id, "k-1")).await, first);
        assert_eq!(inbox_ids(&g, &bob).await, [id]);
        assert_eq!(g.send(&alice, keyed(id, "k-1")).await, first);
        assert_eq!(inbox_ids(&g, &bob).await, [id], "still one copy");
    })
    .await;
}

#[tokio::test]
async fn a_claimed_key_without_its_record_is_taken_over_by_the_repeat() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let id = "0190f3c4-0000-7000-8000-000000000002";
        assert_eq!(g.send(&alice, keyed(id, "k-2")).await.0, StatusCode::OK);
        // Crash after the idempotency record only: no message record, no inbox copy.
        let g = g
            .restart_with(async |s| {
                assert!(s.delete(MESSAGES, id, None).await.unwrap());
                assert!(s.ack(BOB_INBOX, uuid(id)).await.unwrap());
            })
            .await;
        // The same submission goes through as new...
        let (s, b) = g.send(&alice, keyed(id, "k-2")).await;
        assert_eq!(
            (s, b["message_id"].as_str()),
            (StatusCode::OK, Some(id)),
            "{b}"
        );
        assert_eq!(inbox_ids(&g, &bob).await, [id]);
        let (s, _) = call(g.agent(&alice, Method::GET, &format!("/v1/messages/{id}"))).await;
        assert_eq!(s, StatusCode::OK);

        // ...and so does one that re-minted its message id under the same key.
        let other = "0190f3c4-0000-7000-8000-000000000003";
        let g = g
            .restart_with(async |s| {
                assert!(s.delete(MESSAGES, id, None).await.unwrap());
                assert!(s.ack(BOB_INBOX, uuid(id)).await.unwrap());
            })
            .await;
        let (s, b) = g.send(&alice, keyed(other, "k-2")).await;
        assert_eq!(
            (s, b["message_id"].as_str()),
            (StatusCode::OK, Some(other)),
            "{b}"
        );
        assert_eq!(inbox_ids(&g, &bob).await, [other]);
        assert_eq!(
            g.send(&alice, keyed(id, "k-2")).await.1["message_id"],
            other,
            "the key now names it"
        );
    })
    .await;
}

#[tokio::test]
async fn an_inbox_copy_without_its_record_is_not_duplicated() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let id = "0190f3c4-0000-7000-8000-000000000004";
        assert_eq!(g.send(&alice, keyed(id, "k-4")).await.0, StatusCode::OK);
        // Crash where the enqueue landed but neither record did.
        let g = g
            .restart_with(async |s| {
                assert!(s.delete(MESSAGES, id, None).await.unwrap());
                let idem = "alice=40gw=2Etest.k-4";
                assert!(s.delete("idempotency", idem, None).await.unwrap());
                assert!(
                    MailboxStore::get(s, BOB_INBOX, uuid(id))
                        .await
                        .unwrap()
                        .is_some()
                );
            })
            .await;
        let (s, _) = g.send(&alice, keyed(id, "k-4")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(inbox_ids(&g, &bob).await, [id], "one copy");
    })
    .await;
}
