//! WebSocket sessions, AIConexus dialect (`ioap.v1`, and strict `ioap.v2`), written
//! from `docs/protocols/websocket.md` and the reference note: the reference client's
//! usage pattern, proof of identity, sender binding, errors the reference client
//! accepts, PING/PONG, duplicate DIDs, the slow-consumer policy and `/agents`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;
use crate::ws_client::*;

/// An OFFER as the reference client's exchange pattern sends it (unsigned, non-UUID
/// id, naive timestamp with the client's trailing `Z`).
fn offer(from: &str, to: &str, id: &str) -> String {
    format!(
        r#"{{"id": "{id}", "correlation_id": "test-1", "timestamp": "2026-11-23T10:00:00.123456Z", "from": "{from}", "to": "{to}", "type": "OFFER", "payload": {{"sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1"}}, "version": "1.0", "signature": ""}}"#
    )
}

fn frame(from: &str, to: &str, kind: &str, payload: Value) -> String {
    json!({"id": uuid::Uuid::new_v4().to_string(), "from": from, "to": to, "type": kind,
           "payload": payload, "signature": ""})
    .to_string()
}

/// The next frame, which must be an ERROR; its payload.
async fn error_payload(ws: &mut Ws) -> Value {
    let v = ws.next_json().await;
    assert_eq!(v["type"], "ERROR", "{v}");
    assert_eq!(v["signature"], "");
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'), "{v}");
    v["payload"].clone()
}

#[tokio::test]
async fn the_reference_clients_signalling_exchange_works_unchanged() {
    bounded(async {
        let g = Gateway::start().await;
        // The reference client's own DID form, and the standard one.
        let one = IoapAgent::new(1, true);
        let two = IoapAgent::new(2, false);
        let mut c1 = Ws::connect(&g, &["ioap.v1"]).await;
        assert_eq!(c1.protocol.as_deref(), Some("ioap.v1"));
        // The exchange pattern registers with the full DID as public_key.
        c1.send_text(one.register("r-1", &one.did, now_ms())).await;
        let mut c2 = Ws::connect(&g, &["ioap.v1"]).await;
        c2.send_text(two.register("r-2", &two.did, now_ms())).await;
        // No reply to a REGISTER.
        assert!(c1.next_text(Duration::from_millis(200)).await.is_none());
        // c2 must be registered before c1 sends; the reference pattern waits 0.5 s.
        tokio::time::sleep(Duration::from_millis(100)).await;

        let sent = offer(&one.did, &two.did, "msg-1");
        c1.send_text(sent.clone()).await;
        assert_eq!(
            c2.next_text(FRAME_WAIT).await.unwrap(),
            sent,
            "relayed byte for byte"
        );
        let back = offer(&two.did, &one.did, "msg-2").replace("OFFER", "ANSWER");
        c2.send_text(back.clone()).await;
        assert_eq!(c1.next_text(FRAME_WAIT).await.unwrap(), back);
        // Neither sender got an error.
        assert!(c1.next_text(Duration::from_millis(200)).await.is_none());
        assert!(c2.next_text(Duration::from_millis(100)).await.is_none());

        let (_, health) = call(g.req(Method::GET, "/health")).await;
        assert_eq!(health["connected_agents"], 2, "{health}");
        let (s, agents) = call(g.admin(Method::GET, "/agents")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(agents["count"], 2, "{agents}");
        let mut dids: Vec<&str> = agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["did"].as_str().unwrap())
            .collect();
        dids.sort();
        let mut want = vec![one.did.as_str(), two.did.as_str()];
        want.sort();
        assert_eq!(dids, want);
        assert!(agents["agents"][0]["connected_at"].is_string());
        assert!(agents["agents"][0]["last_activity"].is_string());
        let refused = call(g.req(Method::GET, "/agents")).await;
        assert_error(&refused, StatusCode::UNAUTHORIZED, "MISSING_ADMIN_KEY");
        c1.close().await;
        c2.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_two_idle_agents_pattern_stays_open_and_closes_promptly() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.websocket.ping_interval = Duration::from_millis(200);
            c.websocket.ping_timeout = Duration::from_millis(300);
        })
        .await;
        let a = IoapAgent::new(3, true);
        let b = IoapAgent::new(4, true);
        let mut wa = Ws::ioap(&g, &a).await;
        let mut wb = Ws::ioap(&g, &b).await;
        // Idle well past several ping periods: both clients keep reading (as the
        // reference client's background reader does), so their library answers the
        // pings and the sessions stay.
        let (ra, rb) = tokio::join!(
            wa.next_text(Duration::from_millis(1_500)),
            wb.next_text(Duration::from_millis(1_500))
        );
        assert!(ra.is_none() && rb.is_none());
        let (_, agents) = call(g.admin(Method::GET, "/agents")).await;
        assert_eq!(agents["count"], 2, "{agents}");
        let started = std::time::Instant::now();
        wa.close().await;
        wb.close().await;
        assert!(started.elapsed() < Duration::from_secs(2));
    })
    .await;
}

#[tokio::test]
async fn a_first_frame_that_is_not_a_valid_register_is_answered_and_closed() {
    bounded(async {
        let g = Gateway::start().await;
        let a = IoapAgent::new(5, false);
        let mut ws = Ws::connect(&g, &["ioap.v1"]).await;
        ws.send_text(offer(&a.did, &a.did, "m-0")).await;
        let p = error_payload(&mut ws).await;
        assert_eq!(p["code"], "MALFORMED_MESSAGE");
        assert_eq!(p["details"]["reason"], "register_first");
        assert_eq!(ws.closed().await, 1008);

        let mut ws = Ws::connect(&g, &["ioap.v1"]).await;
        ws.send_text("{\"id\": \"x\", \"type\": ").await;
        let p = error_payload(&mut ws).await;
        assert_eq!(p["code"], "MALFORMED_MESSAGE");
        assert_eq!(p["details"]["reason"], "not_json");
        assert_eq!(ws.closed().await, 1008);
    })
    .await;
}

#[tokio::test]
async fn a_register_must_prove_its_did() {
    bounded(async {
        let g = Gateway::start().await;
        let a = IoapAgent::new(6, true);
        let b = IoapAgent::new(7, true);
        let cases = [
            // Signed by another key.
            (
                IoapAgent {
                    key: b.key.clone(),
                    did: a.did.clone(),
                }
                .register("r-a", &a.public_key_base58(), now_ms()),
                "bad_signature",
            ),
            // A public_key that is not from's.
            (
                a.register("r-b", &b.public_key_base58(), now_ms()),
                "key_mismatch",
            ),
            // Too old.
            (
                a.register("r-c", &a.public_key_base58(), now_ms() - 600_000),
                "stale",
            ),
            // Not a did:key.
            (
                a.register("r-d", &a.public_key_base58(), now_ms())
                    .replace(&a.did, "did:key:anything"),
                "bad_did",
            ),
        ];
        for (text, reason) in cases {
            let mut ws = Ws::connect(&g, &["ioap.v1"]).await;
            ws.send_text(text).await;
            let p = error_payload(&mut ws).await;
            assert_eq!(p["code"], "INVALID_SIGNATURE", "{reason}: {p}");
            assert_eq!(p["details"]["reason"], reason);
            assert_eq!(ws.closed().await, 4001, "{reason}");
        }
        // A captured REGISTER cannot be replayed.
        let register = a.register("r-once", &a.public_key_base58(), now_ms());
        let mut first = Ws::connect(&g, &["ioap.v1"]).await;
        first.send_text(register.clone()).await;
        assert!(first.next_text(Duration::from_millis(200)).await.is_none());
        first.close().await;
        let mut again = Ws::connect(&g, &["ioap.v1"]).await;
        again.send_text(register).await;
        let p = error_payload(&mut again).await;
        assert_eq!(p["details"]["reason"], "replay");
        assert_eq!(again.closed().await, 4001);
    })
    .await;
}

#[tokio::test]
async fn every_frame_is_answered_or_acted_on() {
    bounded(async {
        let g = Gateway::start().await;
        let a = IoapAgent::new(8, true);
        let b = IoapAgent::new(9, true);
        let mut wa = Ws::ioap(&g, &a).await;
        let mut wb = Ws::ioap(&g, &b).await;
        tokio::time::sleep(Duration::from_millis(100)).await;

        // A spoofed from: refused, not relayed.
        wa.send_text(offer(&b.did, &b.did, "spoof")).await;
        let p = error_payload(&mut wa).await;
        assert_eq!(p["code"], "MALFORMED_MESSAGE");
        assert_eq!(p["details"]["reason"], "from_mismatch");
        assert!(wb.next_text(Duration::from_millis(200)).await.is_none());

        // Nobody under `to`.
        wa.send_text(offer(&a.did, "did:key:z6MkNobody", "lost"))
            .await;
        let v = wa.next_json().await;
        assert_eq!(v["payload"]["code"], "UNKNOWN_AGENT", "{v}");
        assert_eq!(v["correlation_id"], "lost");
        assert_eq!(v["to"], a.did);

        // Not valid IoAP: answered, the session goes on.
        wa.send_text(frame(
            &a.did,
            &b.did,
            "OFFER",
            json!({"sdp": "x", "bogus": 1}),
        ))
        .await;
        let p = error_payload(&mut wa).await;
        assert_eq!(p["details"]["reason"], "payload_mismatch");

        // PING gets a working PONG.
        wa.send_text(
            json!({"id": "ping-1", "from": a.did, "to": "did:key:gateway", "type": "PING",
                   "payload": {"sequence": 7}, "signature": ""})
            .to_string(),
        )
        .await;
        let pong = wa.next_json().await;
        assert_eq!(pong["type"], "PONG", "{pong}");
        assert_eq!(pong["correlation_id"], "ping-1");
        assert_ne!(pong["id"], "ping-1");
        assert_eq!(pong["payload"], json!({"sequence": 7}));
        assert_eq!(pong["to"], a.did);

        // INTENT is not relayed by default.
        wa.send_text(frame(&a.did, &b.did, "INTENT", json!({"query": "q"})))
            .await;
        let p = error_payload(&mut wa).await;
        assert_eq!(p["code"], "CONNECTION_REFUSED");
        assert_eq!(p["details"]["reason"], "type_not_relayed");

        // A second REGISTER.
        wa.send_text(a.register("r-again", &a.public_key_base58(), now_ms()))
            .await;
        let p = error_payload(&mut wa).await;
        assert_eq!(p["details"]["reason"], "already_registered");

        // The relay still works after all that.
        let sent = offer(&a.did, &b.did, "after");
        wa.send_text(sent.clone()).await;
        assert_eq!(wb.next_text(FRAME_WAIT).await.unwrap(), sent);

        // UNREGISTER ends the session.
        wa.send_text(frame(
            &a.did,
            &a.did,
            "UNREGISTER",
            json!({"reason": "bye"}),
        ))
        .await;
        assert_eq!(wa.closed().await, 1000);
    })
    .await;
}

#[tokio::test]
async fn exec_frames_are_relayed_when_configured() {
    bounded(async {
        let g = Gateway::start_with(|c| c.websocket.ioap.relay_exec = true).await;
        let a = IoapAgent::new(10, false);
        let b = IoapAgent::new(11, false);
        let mut wa = Ws::ioap(&g, &a).await;
        let mut wb = Ws::ioap(&g, &b).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let intent = frame(&a.did, &b.did, "EXEC_REQUEST", json!({"args": {"n": 1}}));
        wa.send_text(intent.clone()).await;
        assert_eq!(wb.next_text(FRAME_WAIT).await.unwrap(), intent);
    })
    .await;
}

#[tokio::test]
async fn the_newest_registration_of_a_did_wins() {
    bounded(async {
        let g = Gateway::start().await;
        let a = IoapAgent::new(12, true);
        let b = IoapAgent::new(13, true);
        let mut old = Ws::ioap(&g, &b).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut new = Ws::ioap(&g, &b).await;
        assert_eq!(old.closed().await, 4000);
        let mut wa = Ws::ioap(&g, &a).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let sent = offer(&a.did, &b.did, "to-new");
        wa.send_text(sent.clone()).await;
        assert_eq!(new.next_text(FRAME_WAIT).await.unwrap(), sent);
        // The replaced session's end did not unregister the DID.
        let (_, agents) = call(g.admin(Method::GET, "/agents")).await;
        assert_eq!(agents["count"], 2, "{agents}");
    })
    .await;
}

#[tokio::test]
async fn a_receiver_that_does_not_read_is_cut_off_and_the_sender_is_told() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.websocket.outbound_queue = 4;
            c.websocket.max_messages_per_second = 0;
            c.websocket.ioap.public_agents = true;
        })
        .await;
        let a = IoapAgent::new(14, false);
        let b = IoapAgent::new(15, false);
        let mut wa = Ws::ioap(&g, &a).await;
        let _silent = Ws::ioap(&g, &b).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let big = "x".repeat(60_000);
        let mut told = false;
        for i in 0..2_000 {
            let f = json!({"id": format!("f-{i}"), "from": a.did, "to": b.did, "type": "OFFER",
                           "payload": {"sdp": big}, "signature": ""});
            wa.send_text(f.to_string()).await;
            if let Some(t) = wa.next_text(Duration::from_millis(1)).await {
                let v: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["payload"]["code"], "TIMEOUT", "{v}");
                assert_eq!(v["payload"]["details"]["reason"], "slow_consumer");
                told = true;
                break;
            }
        }
        assert!(told, "the sender was never told about the slow receiver");
        // The receiver is gone from presence.
        let mut gone = false;
        for _ in 0..50 {
            let (_, agents) = call(g.req(Method::GET, "/agents")).await;
            if agents["count"] == 1 {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone);
    })
    .await;
}

#[tokio::test]
async fn strict_mode_registers_by_challenge_and_response() {
    bounded(async {
        let g = Gateway::start().await;
        let a = IoapAgent::new(16, false);
        let mut wa = Ws::ioap_strict(&g, &a).await;
        assert_eq!(wa.protocol.as_deref(), Some("ioap.v2"));
        // Strict senders get receipts.
        let b = IoapAgent::new(18, false);
        let mut wb = Ws::ioap_strict(&g, &b).await;
        let sent = offer(&a.did, &b.did, "strict-1");
        wa.send_text(sent.clone()).await;
        assert_eq!(wb.next_text(FRAME_WAIT).await.unwrap(), sent);
        let receipt = wa.next_json().await;
        assert_eq!(receipt["type"], "RECEIPT", "{receipt}");
        assert_eq!(
            receipt["payload"],
            json!({"message_id": "strict-1", "status": "delivered"})
        );

        // The reference client's REGISTER does not answer a challenge.
        let mut ws = Ws::connect(&g, &["ioap.v2"]).await;
        ws.next_json().await;
        ws.send_text(a.register("r-legacy", &a.did, now_ms())).await;
        let p = error_payload(&mut ws).await;
        assert_eq!(p["code"], "INVALID_SIGNATURE");
        assert_eq!(ws.closed().await, 4001);
    })
    .await;
}

#[tokio::test]
async fn strict_mode_holds_frames_for_an_offline_receiver_when_configured() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.websocket.ioap.offline_queue = 2;
            c.websocket.ioap.offline_ttl = Duration::from_millis(300);
        })
        .await;
        let a = IoapAgent::new(19, false);
        let b = IoapAgent::new(20, false);
        let c = IoapAgent::new(21, false);
        let mut wa = Ws::ioap_strict(&g, &a).await;
        let first = offer(&a.did, &b.did, "held-1");
        wa.send_text(first.clone()).await;
        let r = wa.next_json().await;
        assert_eq!(
            r["payload"],
            json!({"message_id": "held-1", "status": "queued"}),
            "{r}"
        );
        wa.send_text(offer(&a.did, &b.did, "held-2")).await;
        wa.next_json().await;
        // The receiver's share is full.
        wa.send_text(offer(&a.did, &b.did, "held-3")).await;
        let p = error_payload(&mut wa).await;
        assert_eq!(p["details"]["reason"], "offline_queue_full");
        // b comes online: the held frames arrive, a hears they were delivered.
        let mut wb = Ws::ioap_strict(&g, &b).await;
        assert_eq!(wb.next_text(FRAME_WAIT).await.unwrap(), first);
        assert!(wb.next_text(FRAME_WAIT).await.unwrap().contains("held-2"));
        for id in ["held-1", "held-2"] {
            let r = wa.next_json().await;
            assert_eq!(
                r["payload"],
                json!({"message_id": id, "status": "delivered"}),
                "{r}"
            );
        }
        // c never comes: a hears the frame expired.
        wa.send_text(offer(&a.did, &c.did, "late")).await;
        assert_eq!(wa.next_json().await["payload"]["status"], "queued");
        let r = wa.next_json().await;
        assert_eq!(
            r["payload"],
            json!({"message_id": "late", "status": "expired"}),
            "{r}"
        );
    })
    .await;
}

#[tokio::test]
async fn strict_configuration_imposes_the_challenge_on_ioap_v1() {
    bounded(async {
        let g = Gateway::start_with(|c| {
            c.websocket.ioap.mode = agentgate_gateway::config::IoapMode::Strict
        })
        .await;
        let a = IoapAgent::new(17, true);
        let mut ws = Ws::connect(&g, &["ioap.v1"]).await;
        assert_eq!(ws.next_json().await["type"], "CHALLENGE");
        ws.send_text(a.register("r-1", &a.public_key_base58(), now_ms()))
            .await;
        let p = error_payload(&mut ws).await;
        assert_eq!(p["code"], "INVALID_SIGNATURE");
        assert_eq!(p["details"]["reason"], "bad_did", "legacy DIDs are refused");
        assert_eq!(ws.closed().await, 4001);
    })
    .await;
}
