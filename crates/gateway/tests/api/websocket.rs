//! WebSocket sessions, native dialect (`docs/protocols/websocket.md`): subprotocol
//! selection, authentication, REST↔WebSocket delivery, acknowledgement, presence,
//! flow control, limits and close codes.

use std::time::Duration;

use futures::SinkExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;
use crate::ws_client::*;

fn error_code(v: &Value) -> &str {
    v["error"]["data"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_server_selects_only_an_offered_subprotocol() {
    bounded(async {
        let g = Gateway::start().await;
        for (offered, selected) in [
            (vec!["agentgate.v1"], Some("agentgate.v1")),
            (vec![], None),
            (vec!["chat", "agentgate.v1"], Some("agentgate.v1")),
        ] {
            let mut ws = Ws::connect(&g, &offered).await;
            assert_eq!(ws.protocol.as_deref(), selected, "{offered:?}");
            // Whatever was offered, the native dialect answers.
            let welcome = ws.next_json().await;
            assert_eq!(welcome["method"], "welcome");
            assert_eq!(welcome["params"]["protocol"], "agentgate.v1");
            assert_eq!(welcome["params"]["domain"], DOMAIN);
            assert_eq!(welcome["params"]["nonce"].as_str().unwrap().len(), 43);
            ws.close().await;
        }
        // Only unknown tokens offered: the server selects none (it never echoes a
        // token the client did not offer), which this client library then refuses.
        use tokio_tungstenite::tungstenite::error::{Error, ProtocolError, SubProtocolError};
        match Ws::connect_request(request(&g, &["chat", "superchat"], &[])).await {
            Err(Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(
                SubProtocolError::NoSubProtocol,
            ))) => {}
            other => panic!(
                "expected no subprotocol selected, got {:?}",
                other.map(|w| w.protocol)
            ),
        }
    })
    .await;
}

#[tokio::test]
async fn authentication_comes_first_and_a_bad_key_closes_with_4001() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let mut ws = Ws::connect(&g, &["agentgate.v1"]).await;
        ws.next_json().await;
        // Anything else first is refused, and the session stays.
        let r = ws.call("presence.list", json!({})).await;
        assert_eq!(error_code(&r), "UNAUTHENTICATED", "{r}");
        let r = ws.call("auth", json!({ "api_key": alice })).await;
        assert_eq!(r["result"]["agent"], addr("alice"), "{r}");
        assert_eq!(r["result"]["pending"], 0);
        let r = ws.call("auth", json!({ "api_key": alice })).await;
        assert_eq!(error_code(&r), "ALREADY_AUTHENTICATED", "{r}");
        ws.close().await;

        let mut ws = Ws::connect(&g, &["agentgate.v1"]).await;
        ws.next_json().await;
        let r = ws.call("auth", json!({ "api_key": "agk_wrong" })).await;
        assert_eq!(error_code(&r), "AUTHENTICATION_FAILED", "{r}");
        assert_eq!(ws.closed().await, 4001);
    })
    .await;
}

#[tokio::test]
async fn a_session_that_does_not_authenticate_in_time_is_closed_with_4002() {
    bounded(async {
        let g =
            Gateway::start_with(|c| c.websocket.auth_timeout = Duration::from_millis(300)).await;
        let mut ws = Ws::connect(&g, &[]).await;
        ws.next_json().await;
        assert_eq!(ws.closed().await, 4002);
    })
    .await;
}

#[tokio::test]
async fn protocol_faults_are_answered_and_the_session_goes_on() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let mut ws = Ws::agent(&g, &alice).await;
        ws.send_text("{not json").await;
        let r = ws.next_json().await;
        assert_eq!(r["error"]["code"], -32700, "{r}");
        assert_eq!(r["id"], Value::Null);
        ws.send_text(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#)
            .await;
        assert_eq!(ws.next_json().await["error"]["code"], -32600);
        let r = ws.call("no.such.method", json!({})).await;
        assert_eq!(r["error"]["code"], -32601, "{r}");
        let r = ws.call("ack", json!({ "ids": [] })).await;
        assert_eq!(r["error"]["code"], -32602, "{r}");
        let r = ws.call("ping", json!({})).await;
        assert_eq!(r["result"]["pong"], true, "{r}");
    })
    .await;
}

#[tokio::test]
async fn a_message_sent_over_rest_reaches_a_live_session_and_leaves_the_inbox_when_acknowledged() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let mut ws = Ws::agent(&g, &bob).await;
        let (s, sent) = g.send(&alice, envelope("alice", &["bob"])).await;
        assert_eq!(s, StatusCode::OK, "{sent}");
        let pushed = ws.notification("message").await;
        let m = &pushed["params"]["message"];
        assert_eq!(m["message_id"], sent["message_id"]);
        assert_eq!(m["sender"], addr("alice"));
        assert_eq!(m["payload"], json!({"text": "hi"}));
        let id = sent["message_id"].as_str().unwrap();
        let r = ws
            .call(
                "ack",
                json!({ "message_ids": [id, "0193a3c4-0000-7000-8000-000000000000"] }),
            )
            .await;
        assert_eq!(r["result"]["acknowledged"], json!([id]), "{r}");
        assert_eq!(r["result"]["not_found"].as_array().unwrap().len(), 1);
        let (_, page) = g.inbox(&bob, "bob", "").await;
        assert_eq!(page["messages"], json!([]), "{page}");
        let (_, status) =
            call(g.agent(&alice, Method::GET, &format!("/v1/messages/{id}/status"))).await;
        assert_eq!(
            status["recipients"][0]["status"], "acknowledged",
            "{status}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_message_sent_over_websocket_to_an_offline_agent_waits_and_survives_a_disconnect() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let mut a = Ws::agent(&g, &alice).await;
        let r = a.call("send", envelope("alice", &["bob"])).await;
        assert_eq!(r["result"]["status"], "delivered", "{r}");
        let id = r["result"]["message_id"].as_str().unwrap().to_string();
        // Waiting in bob's pull inbox.
        let (_, page) = g.inbox(&bob, "bob", "").await;
        assert_eq!(page["messages"][0]["message_id"], json!(id), "{page}");
        // Bob connects: delivered from the inbox; he leaves without acknowledging.
        let mut b = Ws::agent(&g, &bob).await;
        assert_eq!(
            b.notification("message").await["params"]["message"]["message_id"],
            json!(id)
        );
        b.close().await;
        // Nothing is lost: the next session gets it again.
        let mut b = Ws::agent(&g, &bob).await;
        assert_eq!(
            b.notification("message").await["params"]["message"]["message_id"],
            json!(id)
        );
        let r = b.call("ack", json!({ "message_ids": [id] })).await;
        assert_eq!(r["result"]["acknowledged"].as_array().unwrap().len(), 1);
        b.close().await;
        let mut b = Ws::agent(&g, &bob).await;
        assert!(b.next_frame(Duration::from_millis(300)).await.is_none());
    })
    .await;
}

#[tokio::test]
async fn the_session_is_bound_to_its_agent() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        g.register("bob").await;
        g.register("carol").await;
        let mut a = Ws::agent(&g, &alice).await;
        let r = a.call("send", envelope("bob", &["carol"])).await;
        assert_eq!(error_code(&r), "ACCESS_DENIED", "{r}");
        let r = a.call("send", envelope("alice", &["nobody"])).await;
        assert_eq!(error_code(&r), "AGENT_UNKNOWN", "{r}");
        let r = a.call("send", json!([1])).await;
        assert_eq!(r["error"]["code"], -32602, "{r}");
    })
    .await;
}

#[tokio::test]
async fn idempotent_sends_over_websocket_and_rest_are_one_message() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let mut e = envelope("alice", &["bob"]);
        e["idempotency_key"] = json!("order-1");
        let mut a = Ws::agent(&g, &alice).await;
        let first = a.call("send", e.clone()).await;
        let (_, again) = g.send(&alice, e).await;
        assert_eq!(
            first["result"]["message_id"], again["message_id"],
            "{first} {again}"
        );
        let (_, page) = g.inbox(&bob, "bob", "").await;
        assert_eq!(page["messages"].as_array().unwrap().len(), 1, "{page}");
    })
    .await;
}

#[tokio::test]
async fn the_newest_session_wins_and_presence_follows_the_holder() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        let mut watcher = Ws::agent(&g, &alice).await;
        let r = watcher.call("presence.subscribe", json!({})).await;
        assert_eq!(r["result"]["subscribed"], true);

        let mut first = Ws::agent(&g, &bob).await;
        let online = watcher.notification("presence").await;
        assert_eq!(online["params"]["address"], addr("bob"));
        assert_eq!(online["params"]["status"], "online");

        let second = Ws::agent(&g, &bob).await;
        assert_eq!(first.closed().await, 4000);
        let (_, health) = call(g.req(Method::GET, "/health")).await;
        assert_eq!(health["status"], "healthy");
        assert_eq!(health["connected_agents"], 2, "{health}");
        // The replaced session's end does not take bob offline.
        let list = watcher.call("presence.list", json!({})).await;
        let agents: Vec<&str> = list["result"]["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["address"].as_str().unwrap())
            .collect();
        assert_eq!(
            agents,
            vec![addr("alice").as_str(), addr("bob").as_str()],
            "{list}"
        );
        assert!(
            watcher
                .notifications
                .iter()
                .all(|n| n["params"]["status"] != "offline")
        );

        second.close().await;
        let offline = watcher.notification("presence").await;
        assert_eq!(offline["params"]["address"], addr("bob"));
        assert_eq!(offline["params"]["status"], "offline");
        let r = watcher.call("presence.unsubscribe", json!({})).await;
        assert_eq!(r["result"]["subscribed"], false);
    })
    .await;
}

#[tokio::test]
async fn a_slow_reader_gets_at_most_the_window_and_the_rest_waits_in_the_inbox() {
    bounded(async {
        let g = Gateway::start_with(|c| c.websocket.max_unacked = 5).await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        for _ in 0..12 {
            let (s, _) = g.send(&alice, envelope("alice", &["bob"])).await;
            assert_eq!(s, StatusCode::OK);
        }
        let mut b = Ws::agent(&g, &bob).await;
        let mut ids = Vec::new();
        while let Some(v) = b.next_frame(Duration::from_millis(500)).await {
            ids.push(
                v["params"]["message"]["message_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        ids.extend(b.notifications.drain(..).map(|v| {
            v["params"]["message"]["message_id"]
                .as_str()
                .unwrap()
                .to_string()
        }));
        assert_eq!(ids.len(), 5, "the window is 5");
        // The rest is in the inbox, visible to REST readers.
        let (_, page) = g.inbox(&bob, "bob", "").await;
        assert_eq!(page["messages"].as_array().unwrap().len(), 12);
        let r = b.call("ack", json!({ "message_ids": ids })).await;
        assert_eq!(r["result"]["acknowledged"].as_array().unwrap().len(), 5);
        let mut more = 0;
        while b.next_frame(Duration::from_millis(500)).await.is_some() {
            more += 1;
        }
        assert_eq!(more + b.notifications.len(), 5);
    })
    .await;
}

#[tokio::test]
async fn oversized_and_binary_frames_close_with_their_codes() {
    bounded(async {
        let g = Gateway::start_with(|c| c.websocket.max_frame_size = 1024).await;
        let alice = g.register("alice").await;
        let mut ws = Ws::agent(&g, &alice).await;
        ws.send_text("x".repeat(2_000)).await;
        assert_eq!(ws.closed().await, 1009);

        let mut ws = Ws::agent(&g, &alice).await;
        ws.stream
            .send(Message::Binary(vec![1, 2, 3].into()))
            .await
            .unwrap();
        assert_eq!(ws.closed().await, 1003);
    })
    .await;
}

#[tokio::test]
async fn a_flood_is_refused_then_closed_with_4029() {
    bounded(async {
        let g = Gateway::start_with(|c| c.websocket.max_messages_per_second = 5).await;
        let alice = g.register("alice").await;
        let mut ws = Ws::agent(&g, &alice).await;
        for i in 0..40 {
            ws.send_json(&json!({"jsonrpc": "2.0", "id": 100 + i, "method": "ping"}))
                .await;
        }
        assert_eq!(ws.closed().await, 4029);
        let limited = ws
            .notifications
            .iter()
            .filter(|v| error_code(v) == "RATE_LIMITED")
            .count();
        assert!(limited >= 1, "{:?}", ws.notifications);
    })
    .await;
}

#[tokio::test]
async fn connections_over_the_limits_are_closed_with_1013() {
    bounded(async {
        let g = Gateway::start_with(|c| c.websocket.max_connections_per_address = 2).await;
        let mut a = Ws::connect(&g, &[]).await;
        let mut b = Ws::connect(&g, &[]).await;
        a.next_json().await;
        b.next_json().await;
        let mut c = Ws::connect(&g, &[]).await;
        assert_eq!(c.closed().await, 1013);
        a.close().await;
        // The place is freed when a session ends.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut d = Ws::connect(&g, &[]).await;
        assert_eq!(d.next_json().await["method"], "welcome");
        let (_, text) = crate::federation::metrics(&g).await;
        assert!(
            text.contains("agentgate_websocket_closes_total{code=\"1013\"} 1"),
            "{text}"
        );
        assert!(text.contains("agentgate_websocket_connections 2"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn origins_outside_the_allow_list_are_refused_before_the_upgrade() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.websocket.allowed_origins = vec!["https://app.example.com".into()]
        })
        .await;
        let bad = request(&g, &[], &[("origin", "https://evil.example")]);
        match Ws::connect_request(bad).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 403)
            }
            other => panic!("expected a 403, got {:?}", other.map(|w| w.protocol)),
        }
        let good = request(&g, &[], &[("origin", "https://app.example.com")]);
        let mut ws = Ws::connect_request(good).await.unwrap();
        assert_eq!(ws.next_json().await["method"], "welcome");
        // A plain GET is not an upgrade.
        let (s, body) = call(g.req(Method::GET, "/ws")).await;
        assert_error(&(s, body), StatusCode::UPGRADE_REQUIRED, "UPGRADE_REQUIRED");
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_sessions_with_1001() {
    bounded(async {
        let mut g = Gateway::start().await;
        let alice = g.register("alice").await;
        let mut ws = Ws::agent(&g, &alice).await;
        let stopping = tokio::spawn(async move {
            g.stop().await;
        });
        assert_eq!(ws.closed().await, 1001);
        stopping.await.unwrap();
    })
    .await;
}

/// The bytes `docs/protocols/websocket.md` says a key-authenticating client signs.
fn auth_message(welcome: &Value, agent: &str, did: &str) -> Vec<u8> {
    let p = &welcome["params"];
    format!(
        "agentgate.v1 auth\n{}\n{}\n{}\n{agent}\n{did}",
        p["domain"].as_str().unwrap(),
        p["session_id"].as_str().unwrap(),
        p["nonce"].as_str().unwrap(),
    )
    .into_bytes()
}

#[tokio::test]
async fn an_agent_proves_a_registered_ed25519_key_instead_of_an_api_key() {
    use agentgate_codec::did_key;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::{Signer, SigningKey};
    bounded(async {
        let g = Gateway::start().await;
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let did = did_key::encode_standard(&key.verifying_key().to_bytes());
        let (s, body) = g
            .register_with(json!({ "name": "carol", "public_keys": [did] }))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        assert_eq!(body["agent"]["public_keys"], json!([did]), "{body}");
        let carol = addr("carol");

        let mut ws = Ws::connect(&g, &["agentgate.v1"]).await;
        let welcome = ws.next_json().await;
        let sig = key.sign(&auth_message(&welcome, &carol, &did));
        let r = ws
            .call(
                "auth",
                json!({ "agent": carol, "did": did, "signature": URL_SAFE_NO_PAD.encode(sig.to_bytes()) }),
            )
            .await;
        assert_eq!(r["result"]["agent"], carol, "{r}");
        ws.close().await;

        // A signature of another session's challenge does not open this one.
        let mut ws = Ws::connect(&g, &["agentgate.v1"]).await;
        ws.next_json().await;
        let r = ws
            .call(
                "auth",
                json!({ "agent": carol, "did": did, "signature": URL_SAFE_NO_PAD.encode(sig.to_bytes()) }),
            )
            .await;
        assert_eq!(error_code(&r), "AUTHENTICATION_FAILED", "{r}");
        assert_eq!(ws.closed().await, 4001);

        // Nor does a key that is not carol's.
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let other_did = did_key::encode_standard(&other.verifying_key().to_bytes());
        let mut ws = Ws::connect(&g, &["agentgate.v1"]).await;
        let welcome = ws.next_json().await;
        let sig = other.sign(&auth_message(&welcome, &carol, &other_did));
        let r = ws
            .call(
                "auth",
                json!({ "agent": carol, "did": other_did, "signature": URL_SAFE_NO_PAD.encode(sig.to_bytes()) }),
            )
            .await;
        assert_eq!(error_code(&r), "AUTHENTICATION_FAILED", "{r}");

        // Keys are registered in the standard form only.
        let legacy = did_key::encode_legacy(&key.verifying_key().to_bytes());
        let got = g
            .register_with(json!({ "name": "dave", "public_keys": [legacy] }))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_PUBLIC_KEY");
        let got = g
            .register_with(json!({ "name": "dave", "public_keys": ["did:key:nope"] }))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_PUBLIC_KEY");
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_answers_nothing_is_closed_after_the_ping_timeout() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.websocket.ping_interval = Duration::from_millis(100);
            c.websocket.ping_timeout = Duration::from_millis(100);
        })
        .await;
        let ws = Ws::connect(&g, &[]).await;
        // Not reading: the client library answers no pings. (Reading afterwards, it
        // would answer the queued pings on a socket the server has closed, so the close
        // code is read from the metrics.)
        tokio::time::sleep(Duration::from_millis(800)).await;
        let (_, text) = crate::federation::metrics(&g).await;
        assert!(
            text.contains("agentgate_websocket_closes_total{code=\"1011\"} 1"),
            "{text}"
        );
        assert!(text.contains("agentgate_websocket_connections 0"), "{text}");
        drop(ws.stream);
    })
    .await;
}
