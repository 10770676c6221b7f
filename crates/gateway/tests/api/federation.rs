//! Federation between gateways on loopback: two and three in-process gateways with
//! static `_amtp` records pointing at each other, real HTTP between them, signed
//! deliveries, the durable outbox, and refusals of forged, unsigned, replayed and
//! spoofed deliveries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agentgate_codec::http_signature::{self as sig, LABEL, SignatureParams};
use agentgate_gateway::config::Config;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;

use crate::support::{ADMIN_KEY, Gateway, assert_error, bounded, call, code};

/// A gateway of a test network, before it is started.
pub(crate) struct Planned {
    pub domain: String,
    pub listener: Option<TcpListener>,
    pub addr: SocketAddr,
    pub config: Config,
    pub dir: Arc<TempDir>,
}

/// Plans gateways for `domains` on fresh loopback ports, each with static records for
/// all the others (announcing batched deliveries, as agentgate gateways do), http and
/// loopback allowed, and a short retry schedule.
pub(crate) async fn plan(domains: &[&str]) -> Vec<Planned> {
    let mut planned = Vec::new();
    for d in domains {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut config, dir) = Gateway::prepare();
        config.server.domain = (*d).into();
        config.server.public_url = Some(format!("http://{addr}"));
        config.federation.allow_http = true;
        config.federation.allow_private_peers = true;
        config.federation.outbound.initial_backoff = Duration::from_millis(100);
        config.federation.outbound.max_backoff = Duration::from_millis(400);
        config.federation.outbound.max_attempts = 60;
        config.federation.outbound.timeout = Duration::from_secs(2);
        planned.push(Planned {
            domain: (*d).into(),
            listener: Some(listener),
            addr,
            config,
            dir,
        });
    }
    let records: Vec<(String, String)> = planned
        .iter()
        .map(|p| {
            (
                p.domain.clone(),
                format!("v=amtp1;gateway=http://{};features=batch", p.addr),
            )
        })
        .collect();
    for p in &mut planned {
        for (d, r) in &records {
            if *d != p.domain {
                p.config
                    .federation
                    .static_records
                    .insert(d.clone(), r.clone());
            }
        }
    }
    planned
}

impl Planned {
    pub(crate) async fn start(mut self) -> Gateway {
        let listener = match self.listener.take() {
            Some(l) => l,
            None => TcpListener::bind(self.addr).await.expect("port still free"),
        };
        Gateway::serve_on(self.config, self.dir, listener).await
    }
}

pub(crate) async fn network(domains: &[&str]) -> Vec<Gateway> {
    let mut out = Vec::new();
    for p in plan(domains).await {
        out.push(p.start().await);
    }
    out
}

/// Serves a gateway at `addr` (its port must be free again).
pub(crate) async fn serve_at(addr: SocketAddr, config: Config, dir: Arc<TempDir>) -> Gateway {
    let listener = TcpListener::bind(addr).await.expect("port still free");
    Gateway::serve_on(config, dir, listener).await
}

/// Stops `g`, keeping what it needs to start again on its port.
pub(crate) async fn stop(mut g: Gateway) -> (Config, Arc<TempDir>) {
    g.stop().await;
    (g.config.clone(), g.dir.clone())
}

/// Stops `g` and starts it again on the same port (peers know it by that).
pub(crate) async fn restart(g: Gateway) -> Gateway {
    let addr: SocketAddr = g.url.trim_start_matches("http://").parse().unwrap();
    let (config, dir) = stop(g).await;
    serve_at(addr, config, dir).await
}

/// Registers `name` at `g`; returns its key.
pub(crate) async fn agent(g: &Gateway, name: &str) -> String {
    g.register(name).await
}

pub(crate) async fn send(g: &Gateway, key: &str, from: &str, to: &[&str]) -> (StatusCode, Value) {
    g.send(
        key,
        json!({"sender": from, "recipients": to, "subject": "s", "payload": {"n": 1}}),
    )
    .await
}

pub(crate) async fn inbox(g: &Gateway, key: &str, address: &str) -> Value {
    let (s, b) = call(g.agent(key, Method::GET, &format!("/v1/inbox/{address}?limit=1000"))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

/// Polls `inbox` until it holds `n` messages (at most 20 s); returns them.
pub(crate) async fn wait_for(g: &Gateway, key: &str, address: &str, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let b = inbox(g, key, address).await;
        let messages = b["messages"].as_array().cloned().unwrap_or_default();
        if messages.len() >= n {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{address} did not receive {n} messages: {}",
        inbox(g, key, address).await
    );
}

pub(crate) async fn status(g: &Gateway, key: &str, id: &str) -> Value {
    call(g.agent(key, Method::GET, &format!("/v1/messages/{id}/status")))
        .await
        .1
}

/// Polls a message's status until `done` holds (at most 20 s).
pub(crate) async fn wait_status(
    g: &Gateway,
    key: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..400 {
        let s = status(g, key, id).await;
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("status of {id} never settled: {}", status(g, key, id).await);
}

#[tokio::test]
async fn a_message_crosses_domains_and_every_recipient_at_a_peer_gets_it() {
    bounded(async {
        let gs = network(&["a.test", "b.test", "c.test"]).await;
        let (a, b, c) = (&gs[0], &gs[1], &gs[2]);
        let alice = agent(a, "alice").await;
        let bob = agent(b, "bob").await;
        let carol = agent(b, "carol").await;
        let dan = agent(c, "dan").await;

        let (s, r) = send(
            a,
            &alice,
            "alice@a.test",
            &["bob@b.test", "carol@b.test", "dan@c.test"],
        )
        .await;
        assert_eq!((s, r["status"].as_str()), (StatusCode::ACCEPTED, Some("queued")), "{r}");
        let id = r["message_id"].as_str().unwrap().to_owned();

        for (g, key, address) in [
            (b, &bob, "bob@b.test"),
            (b, &carol, "carol@b.test"),
            (c, &dan, "dan@c.test"),
        ] {
            let got = wait_for(g, key, address, 1).await;
            assert_eq!(got.len(), 1);
            assert_eq!(got[0]["message_id"], id.as_str());
            assert_eq!(got[0]["sender"], "alice@a.test");
            assert_eq!(got[0]["payload"], json!({"n": 1}));
            // Each peer sees only its own domain's recipients.
            let domain = address.split('@').nth(1).unwrap();
            for r in got[0]["recipients"].as_array().unwrap() {
                assert!(r.as_str().unwrap().ends_with(domain), "{r}");
            }
        }
        // Bob acknowledges at b.test.
        let (s, _) = call(b.agent(&bob, Method::DELETE, &format!("/v1/inbox/bob@b.test/{id}"))).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(inbox(b, &bob, "bob@b.test").await["messages"], json!([]));

        let st = wait_status(a, &alice, &id, |s| s["status"] == "delivered").await;
        for r in st["recipients"].as_array().unwrap() {
            assert_eq!(r["status"], "delivered", "{st}");
            assert_eq!(r["attempts"], 1, "{st}");
        }
        // The sender can answer: bob replies across the domains.
        let (s, r) = b
            .send(
                &bob,
                json!({"sender": "bob@b.test", "recipients": ["alice@a.test"], "in_reply_to": id, "payload": {"ok": true}}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let got = wait_for(a, &alice, "alice@a.test", 1).await;
        assert_eq!(got[0]["in_reply_to"], id.as_str());
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_was_down_receives_everything_exactly_once() {
    bounded(async {
        let mut plans = plan(&["a.test", "b.test"]).await;
        let b_addr = plans[1].addr;
        let b = plans.pop().unwrap().start().await;
        let bob = agent(&b, "bob").await;
        // b.test goes down; its port stays in a's static record.
        let (b_config, b_dir) = stop(b).await;
        let a = plans.pop().unwrap().start().await;
        let alice = agent(&a, "alice").await;
        let mut ids = Vec::new();
        for i in 0..20 {
            let (s, r) = a
                .send(
                    &alice,
                    json!({"sender": "alice@a.test", "recipients": ["bob@b.test"], "payload": {"i": i}}),
                )
                .await;
            assert_eq!(s, StatusCode::ACCEPTED, "{r}");
            ids.push(r["message_id"].as_str().unwrap().to_owned());
        }
        // The failures are recorded and retried.
        let st = wait_status(&a, &alice, &ids[0], |s| {
            s["recipients"][0]["status"] == "retrying"
        })
        .await;
        assert!(st["recipients"][0]["last_error"].as_str().is_some(), "{st}");
        assert!(st["next_retry"].is_string(), "{st}");

        // a restarts meanwhile: the outbox is durable.
        let a = restart(a).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // b.test comes back on its port.
        let b = serve_at(b_addr, b_config, b_dir).await;
        let got = wait_for(&b, &bob, "bob@b.test", 20).await;
        let mut seen: Vec<String> = got
            .iter()
            .map(|m| m["message_id"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(seen, want, "every message once");
        // Nothing more arrives later.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(inbox(&b, &bob, "bob@b.test").await["messages"].as_array().unwrap().len(), 20);
        // The first message failed at least once before it got through; while b.test
        // was down, the others waited for the domain's retry time without spending
        // attempts of their own.
        let st = wait_status(&a, &alice, &ids[0], |s| s["status"] == "delivered").await;
        assert!(st["recipients"][0]["attempts"].as_u64().unwrap() >= 2, "{st}");
    })
    .await;
}

#[tokio::test]
async fn refused_and_exhausted_deliveries_are_reported_to_the_sender() {
    bounded(async {
        let mut plans = plan(&["a.test", "b.test", "c.test"]).await;
        let c_plan = plans.pop().unwrap();
        // c.test never comes up; a gives up after 3 attempts.
        drop(c_plan);
        let mut a_plan = plans.remove(0);
        a_plan.config.federation.outbound.max_attempts = 3;
        let a = a_plan.start().await;
        let b = plans.pop().unwrap().start().await;
        let alice = agent(&a, "alice").await;
        let bob = agent(&b, "bob").await;

        // b.test knows bob but not ghost: ghost fails, bob gets it.
        let (s, r) = send(&a, &alice, "alice@a.test", &["bob@b.test", "ghost@b.test"]).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let first = r["message_id"].as_str().unwrap().to_owned();
        wait_for(&b, &bob, "bob@b.test", 1).await;
        let st = wait_status(&a, &alice, &first, |s| s["status"] == "partial").await;
        assert_eq!(st["recipients"][0]["status"], "delivered", "{st}");
        assert_eq!(st["recipients"][1]["status"], "failed", "{st}");
        assert!(st["recipients"][1]["last_error"].as_str().unwrap().contains("AGENT_UNKNOWN"), "{st}");

        let (s, r) = send(&a, &alice, "alice@a.test", &["dan@c.test"]).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let second = r["message_id"].as_str().unwrap().to_owned();
        let st = wait_status(&a, &alice, &second, |s| s["status"] == "failed").await;
        assert_eq!(st["recipients"][0]["attempts"], 3, "{st}");
        assert!(st["recipients"][0]["last_error"].as_str().unwrap().contains("FEDERATION_EXHAUSTED"), "{st}");

        // Two delivery_failure reports in alice's inbox, from the postmaster.
        let reports = wait_for(&a, &alice, "alice@a.test", 2).await;
        let mut by_original = std::collections::HashMap::new();
        for m in &reports {
            assert_eq!(m["sender"], "postmaster@a.test");
            assert_eq!(m["payload"]["message_type"], "delivery_failure");
            by_original.insert(m["payload"]["original_message_id"].as_str().unwrap().to_owned(), m.clone());
        }
        let r1 = &by_original[&first];
        assert_eq!(r1["in_reply_to"], first.as_str());
        assert_eq!(r1["payload"]["failed_recipients"], json!([{"address": "ghost@b.test", "error_code": "AGENT_UNKNOWN", "error_message": r1["payload"]["failed_recipients"][0]["error_message"]}]));
        let r2 = &by_original[&second];
        assert_eq!(r2["payload"]["error_code"], "FEDERATION_EXHAUSTED");
        assert_eq!(r2["payload"]["retry_count"], 2);
        assert_eq!(r2["payload"]["failed_recipients"][0]["address"], "dan@c.test");

        // The dead letters are visible in the metrics.
        let (_, text) = metrics(&a).await;
        assert!(text.contains("agentgate_messages_failed_total{reason=\"FEDERATION_EXHAUSTED\"} 1"), "{text}");
        assert!(text.contains("agentgate_messages_failed_total{reason=\"FEDERATION_REJECTED\"} 1"), "{text}");
    })
    .await;
}

pub(crate) async fn metrics(g: &Gateway) -> (StatusCode, String) {
    let r = g
        .req(Method::GET, "/metrics")
        .header("X-Admin-Key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Signs hand-made deliveries as `domain` with `keyid` and `key` (which the tests
/// mismatch on purpose).
pub(crate) struct Forger {
    domain: String,
    keyid: String,
    key: SigningKey,
}

impl Forger {
    /// The active key of gateway `g` (read from its data directory).
    pub(crate) fn of(g: &Gateway) -> Forger {
        let ring: Value = serde_json::from_slice(
            &std::fs::read(g.config.storage.data_dir.join("federation-keys.json")).unwrap(),
        )
        .unwrap();
        let k = ring["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["retired_at"].is_null())
            .unwrap();
        let secret: [u8; 32] = STANDARD
            .decode(k["secret"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        Forger {
            domain: g.config.server.domain.clone(),
            keyid: format!("{}:{}", g.config.server.domain, k["id"].as_str().unwrap()),
            key: SigningKey::from_bytes(&secret),
        }
    }

    /// Signed headers for `body` POSTed to `/v1/messages`, created `age` seconds ago,
    /// with `nonce`.
    pub(crate) fn headers(
        &self,
        body: &[u8],
        age: u64,
        nonce: &str,
    ) -> Vec<(&'static str, String)> {
        self.headers_for("/v1/messages", body, age, nonce)
    }

    /// Signed headers for `body` POSTed to `path`.
    pub(crate) fn headers_for(
        &self,
        path: &str,
        body: &[u8],
        age: u64,
        nonce: &str,
    ) -> Vec<(&'static str, String)> {
        let now = SystemTime::now() - Duration::from_secs(age);
        let created = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let params = SignatureParams::amtp(created, created + 300, nonce, self.keyid.clone());
        let date = httpdate::fmt_http_date(now);
        let digest = sig::content_digest_sha256(body);
        let base = sig::signature_base(
            &[
                ("@method", "POST"),
                ("@path", path),
                ("content-digest", &digest),
                ("date", &date),
                ("amtp-sender-domain", &self.domain),
            ],
            &params,
        )
        .unwrap();
        let signature = self.key.sign(base.as_bytes()).to_bytes();
        vec![
            ("date", date),
            ("content-digest", digest),
            ("amtp-sender-domain", self.domain.clone()),
            (
                "signature-input",
                sig::serialize_signature_input(LABEL, &params).unwrap(),
            ),
            (
                "signature",
                sig::serialize_signature(LABEL, &signature).unwrap(),
            ),
        ]
    }
}

async fn deliver(
    to: &Gateway,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> (StatusCode, Value) {
    post_signed(to, "/v1/messages", headers, body).await
}

/// POSTs `body` to `path` at `to` with `headers` (a peer's delivery).
pub(crate) async fn post_signed(
    to: &Gateway,
    path: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> (StatusCode, Value) {
    let mut req = to
        .req(Method::POST, path)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    call(req).await
}

#[tokio::test]
async fn forged_unsigned_replayed_and_spoofed_deliveries_are_refused() {
    bounded(async {
        let gs = network(&["a.test", "b.test", "c.test"]).await;
        let (a, b, c) = (&gs[0], &gs[1], &gs[2]);
        let bob = agent(b, "bob").await;
        let a_key = Forger::of(a);
        let body = |from: &str, to: &str, n: u32| {
            serde_json::to_vec(&json!({"message_id": uuid::Uuid::new_v4(), "sender": from, "recipients": [to], "payload": {"n": n}}))
                .unwrap()
        };

        // A genuine delivery from a.test is accepted once.
        let good = body("alice@a.test", "bob@b.test", 1);
        let headers = a_key.headers(&good, 0, "nonce-1");
        let (s, r) = deliver(b, &headers, &good).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        // The same request again: a replay.
        assert_error(
            &deliver(b, &headers, &good).await,
            StatusCode::UNAUTHORIZED,
            "REPLAYED_REQUEST",
        );

        // A delivery must carry its message id (the receiver de-duplicates by it).
        let anonymous = serde_json::to_vec(
            &json!({"sender": "alice@a.test", "recipients": ["bob@b.test"], "payload": {}}),
        )
        .unwrap();
        assert_error(
            &deliver(b, &a_key.headers(&anonymous, 0, "n0"), &anonymous).await,
            StatusCode::BAD_REQUEST,
            "MESSAGE_ID_REQUIRED",
        );

        // No credentials at all.
        assert_error(
            &deliver(b, &[], &good).await,
            StatusCode::UNAUTHORIZED,
            "MISSING_AUTHORIZATION",
        );

        // Signed with a key that is not a.test's (c.test's key, claiming to be a.test).
        let mut forged = Forger::of(c);
        forged.domain = "a.test".into();
        forged.keyid = format!("a.test:{}", forged.keyid.split(':').nth(1).unwrap());
        let m = body("alice@a.test", "bob@b.test", 2);
        assert_error(
            &deliver(b, &forged.headers(&m, 0, "n2"), &m).await,
            StatusCode::UNAUTHORIZED,
            "UNKNOWN_KEY",
        );
        // a.test's key id with c.test's key: the signature does not verify.
        let mut wrong = Forger::of(c);
        wrong.domain = "a.test".into();
        wrong.keyid = a_key.keyid.clone();
        assert_error(
            &deliver(b, &wrong.headers(&m, 0, "n3"), &m).await,
            StatusCode::UNAUTHORIZED,
            "INVALID_SIGNATURE",
        );

        // The body changed after signing.
        let headers = a_key.headers(&m, 0, "n4");
        let tampered = body("alice@a.test", "bob@b.test", 999);
        assert_error(
            &deliver(b, &headers, &tampered).await,
            StatusCode::UNAUTHORIZED,
            "CONTENT_DIGEST_MISMATCH",
        );
        // Too old.
        assert_error(
            &deliver(b, &a_key.headers(&m, 3600, "n5"), &m).await,
            StatusCode::UNAUTHORIZED,
            "SIGNATURE_EXPIRED",
        );

        // A genuine a.test signature, but the envelope claims a c.test sender.
        let spoof = body("carol@c.test", "bob@b.test", 3);
        assert_error(
            &deliver(b, &a_key.headers(&spoof, 0, "n6"), &spoof).await,
            StatusCode::FORBIDDEN,
            "SENDER_DOMAIN_MISMATCH",
        );
        // Relaying through b.test to c.test.
        let relay = body("alice@a.test", "dan@c.test", 4);
        assert_error(
            &deliver(b, &a_key.headers(&relay, 0, "n7"), &relay).await,
            StatusCode::FORBIDDEN,
            "RELAY_DENIED",
        );
        // Claiming to be b.test itself.
        let mut own = Forger::of(b);
        own.domain = "b.test".into();
        let local = body("mallory@b.test", "bob@b.test", 5);
        assert_error(
            &deliver(b, &own.headers(&local, 0, "n8"), &local).await,
            StatusCode::FORBIDDEN,
            "SENDER_DOMAIN_MISMATCH",
        );

        // Only the genuine delivery reached bob.
        let got = inbox(b, &bob, "bob@b.test").await;
        assert_eq!(got["messages"].as_array().unwrap().len(), 1, "{got}");
        assert_eq!(got["messages"][0]["payload"], json!({"n": 1}));
        let (_, text) = metrics(b).await;
        assert!(
            text.contains("agentgate_federation_inbound_total{verdict=\"REPLAYED_REQUEST\"} 1"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_allow_listed_unsigned_peer_is_admitted_from_its_gateway_address_only() {
    bounded(async {
        let mut plans = plan(&["a.test", "b.test", "c.test"]).await;
        // a.test's gateway is 127.0.0.1 (where this test sends from); c.test's record
        // names another loopback address.
        plans[1].config.federation.unsigned_peers = vec!["a.test".into(), "c.test".into()];
        plans[1]
            .config
            .federation
            .static_records
            .insert("c.test".into(), "v=amtp1;gateway=http://127.0.0.2:9".into());
        let mut gs = Vec::new();
        for p in plans {
            gs.push(p.start().await);
        }
        let b = &gs[1];
        let bob = agent(b, "bob").await;
        let body = |from: &str| {
            serde_json::to_vec(&json!({"message_id": uuid::Uuid::new_v4(), "sender": from, "recipients": ["bob@b.test"], "payload": {}}))
                .unwrap()
        };
        let (s, r) = deliver(b, &[], &body("alice@a.test")).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_error(
            &deliver(b, &[], &body("carol@c.test")).await,
            StatusCode::FORBIDDEN,
            "PEER_ADDRESS_MISMATCH",
        );
        // Not on the list: refused.
        let (s, r) = deliver(&gs[2], &[], &body("alice@a.test")).await;
        assert_eq!(
            (s, code(&r)),
            (StatusCode::UNAUTHORIZED, "MISSING_AUTHORIZATION"),
            "{r}"
        );
        assert_eq!(
            inbox(b, &bob, "bob@b.test").await["messages"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn capabilities_keys_and_key_rotation() {
    bounded(async {
        let gs = network(&["a.test", "b.test"]).await;
        let (a, b) = (&gs[0], &gs[1]);

        let (s, own) = call(a.req(Method::GET, "/v1/capabilities/A.TEST")).await;
        assert_eq!(s, StatusCode::OK, "{own}");
        assert_eq!(own["domain"], "a.test");
        assert_eq!(own["gateway"], a.url.as_str());
        assert_eq!(own["source"], "config");
        assert_eq!(own["auth"], json!(["httpsig"]));
        assert_eq!(own["max_size"], 64 * 1024);
        let (s, peer) = call(a.req(Method::GET, "/v1/capabilities/b.test")).await;
        assert_eq!(
            (s, peer["gateway"].as_str()),
            (StatusCode::OK, Some(b.url.as_str())),
            "{peer}"
        );
        assert_eq!(peer["source"], "static");
        assert_error(
            &call(a.req(Method::GET, "/v1/capabilities/not_a_domain")).await,
            StatusCode::BAD_REQUEST,
            "INVALID_DOMAIN",
        );
        let unknown = call(a.req(Method::GET, "/v1/capabilities/nowhere.test")).await;
        assert!(
            matches!(
                code(&unknown.1),
                "CAPABILITIES_NOT_FOUND" | "DISCOVERY_FAILED"
            ),
            "{}",
            unknown.1
        );

        // Published keys, and rotation through the admin API.
        let (s, keys) = call(a.req(Method::GET, "/.well-known/amtp/keys")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(keys["domain"], "a.test");
        let first = keys["keys"][0]["keyid"].as_str().unwrap().to_owned();
        assert_eq!(keys["keys"][0]["status"], "active");
        assert_eq!(
            call(a.req(Method::POST, "/v1/admin/federation/keys/rotate"))
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );

        // b caches a's keys on a first delivery.
        let alice = agent(a, "alice").await;
        let bob = agent(b, "bob").await;
        send(a, &alice, "alice@a.test", &["bob@b.test"]).await;
        wait_for(b, &bob, "bob@b.test", 1).await;

        let (s, rotated) = call(a.admin(Method::POST, "/v1/admin/federation/keys/rotate")).await;
        assert_eq!(s, StatusCode::OK, "{rotated}");
        let second = rotated["key"]["keyid"].as_str().unwrap().to_owned();
        assert_ne!(first, second);
        let (_, listed) = call(a.admin(Method::GET, "/v1/admin/federation/keys")).await;
        let statuses: Vec<(String, String)> = listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["keyid"].as_str().unwrap().into(),
                    k["status"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            statuses,
            vec![(second.clone(), "active".into()), (first, "retired".into())]
        );

        // Signed with the new key, the next delivery still gets through (b refetches).
        send(a, &alice, "alice@a.test", &["bob@b.test"]).await;
        wait_for(b, &bob, "bob@b.test", 2).await;
    })
    .await;
}

#[tokio::test]
async fn a_peers_delivery_is_checked_only_against_schemas_registered_here() {
    bounded(async {
        let gs = network(&["a.test", "b.test"]).await;
        let (a, b) = (&gs[0], &gs[1]);
        let alice = agent(a, "alice").await;
        let bob = agent(b, "bob").await;
        let schema = "acme:sales.order.v1";
        let define = |g: &Gateway, definition: Value| {
            call(
                g.admin(Method::POST, "/v1/admin/schemas")
                    .json(&json!({"id": schema, "definition": definition, "force": true})),
            )
        };
        // a.test knows the schema (its agents must name registered schemas); b.test
        // does not, and takes the delivery unchecked: a.test answers for it.
        let (s, r) = define(a, json!({"type": "object", "required": ["sku"]})).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let order = |payload: Value| {
            json!({"sender": "alice@a.test", "recipients": ["bob@b.test"], "schema": schema,
                   "payload": payload})
        };
        let (s, r) = a.send(&alice, order(json!({"sku": "x"}))).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let got = wait_for(b, &bob, "bob@b.test", 1).await;
        assert_eq!(got[0]["schema"], schema);
        assert_eq!(got[0]["payload"], json!({"sku": "x"}));

        // Once b.test registers a stricter version, deliveries are checked there: this
        // one is valid at a.test, refused at b.test, and reported failed to alice.
        let (s, r) = define(b, json!({"type": "object", "required": ["sku", "qty"]})).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let (s, r) = a.send(&alice, order(json!({"sku": "y"}))).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let id = r["message_id"].as_str().unwrap().to_owned();
        let st = wait_status(a, &alice, &id, |s| s["status"] == "failed").await;
        let last = st["recipients"][0]["last_error"].as_str().unwrap();
        assert!(last.starts_with("SCHEMA_VALIDATION_FAILED"), "{st}");
        let (s, r) = a.send(&alice, order(json!({"sku": "z", "qty": 1}))).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let got = wait_for(b, &bob, "bob@b.test", 2).await;
        assert_eq!(got.len(), 2, "the refused message never reached bob");
        assert_eq!(got[1]["payload"], json!({"sku": "z", "qty": 1}));
    })
    .await;
}
