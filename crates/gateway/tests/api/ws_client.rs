//! A WebSocket test client: connect with chosen subprotocols, read JSON frames with a
//! bound, call JSON-RPC methods, observe how the server closes.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::Gateway;

/// How long a test waits for one frame.
pub const FRAME_WAIT: Duration = Duration::from_secs(5);

/// A connected client.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
    next_id: u64,
    /// Notifications received while waiting for responses.
    pub notifications: Vec<Value>,
}

/// The request for `/ws` offering `protocols`, with extra headers.
pub fn request(
    g: &Gateway,
    protocols: &[&str],
    headers: &[(&str, &str)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let url = format!("{}/ws", g.url.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    if !protocols.is_empty() {
        req.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(&protocols.join(", ")).unwrap(),
        );
    }
    for (k, v) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName = k.parse().unwrap();
        req.headers_mut()
            .insert(name, HeaderValue::from_str(v).unwrap());
    }
    req
}

impl Ws {
    /// Connects offering `protocols`.
    pub async fn connect(g: &Gateway, protocols: &[&str]) -> Ws {
        Ws::connect_request(request(g, protocols, &[]))
            .await
            .expect("WebSocket handshake")
    }

    /// Connects with a prepared request.
    pub async fn connect_request(
        req: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Result<Ws, Error> {
        let (stream, resp) = tokio_tungstenite::connect_async(req).await?;
        let protocol = resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_string());
        Ok(Ws {
            stream,
            protocol,
            next_id: 1,
            notifications: Vec::new(),
        })
    }

    /// Connects natively, reads the welcome and authenticates with `key`.
    pub async fn agent(g: &Gateway, key: &str) -> Ws {
        let mut ws = Ws::connect(g, &["agentgate.v1"]).await;
        let welcome = ws.next_json().await;
        assert_eq!(welcome["method"], "welcome", "{welcome}");
        let auth = ws.call("auth", json!({ "api_key": key })).await;
        assert!(auth.get("result").is_some(), "{auth}");
        ws
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.stream
            .send(Message::Text(text.into().into()))
            .await
            .unwrap();
    }

    /// Sends a JSON value as a text frame.
    pub async fn send_json(&mut self, v: &Value) {
        self.send_text(v.to_string()).await;
    }

    /// The next text frame as JSON (panics on a close or after [`FRAME_WAIT`]).
    pub async fn next_json(&mut self) -> Value {
        match self.next_frame(FRAME_WAIT).await {
            Some(v) => v,
            None => panic!("no frame within {FRAME_WAIT:?}"),
        }
    }

    /// The next text frame as JSON within `wait`; `None` if none came.
    pub async fn next_frame(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let m = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()?;
            match m {
                Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(c))) => panic!("closed by the server: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("read failed: {e}"),
                None => panic!("the stream ended"),
            }
        }
    }

    /// Calls `method` and returns its response, keeping notifications that arrive
    /// before it.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send_json(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let v = self.next_json().await;
            if v.get("id") == Some(&json!(id)) {
                return v;
            }
            if v.get("method").is_some() && v.get("id").is_none() {
                self.notifications.push(v);
            } else {
                panic!("unexpected frame while waiting for response {id}: {v}");
            }
        }
    }

    /// The next notification of `method` (from those kept or from the socket).
    pub async fn notification(&mut self, method: &str) -> Value {
        if let Some(i) = self
            .notifications
            .iter()
            .position(|n| n["method"] == method)
        {
            return self.notifications.remove(i);
        }
        loop {
            let v = self.next_json().await;
            if v["method"] == method {
                return v;
            }
            self.notifications.push(v);
        }
    }

    /// Reads until the server closes; the close code (panics after [`FRAME_WAIT`]).
    pub async fn closed(&mut self) -> u16 {
        let deadline = tokio::time::Instant::now() + FRAME_WAIT;
        loop {
            let m = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("the server did not close in time");
            match m {
                Some(Ok(Message::Close(Some(c)))) => return u16::from(c.code),
                Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
                Some(Ok(Message::Text(t))) => {
                    self.notifications.push(serde_json::from_str(&t).unwrap())
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("no close frame: {e}"),
                None => panic!("the stream ended without a close frame"),
            }
        }
    }

    /// Closes from this side (1000).
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
    }
}

/// An ioap agent's identity: its key and DID.
pub struct IoapAgent {
    pub key: ed25519_dalek::SigningKey,
    pub did: String,
}

impl IoapAgent {
    /// A key from `seed`, with a standard (`legacy`: the reference client's) DID.
    pub fn new(seed: u8, legacy: bool) -> IoapAgent {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let raw = key.verifying_key().to_bytes();
        let did = if legacy {
            agentgate_codec::did_key::encode_legacy(&raw)
        } else {
            agentgate_codec::did_key::encode_standard(&raw)
        };
        IoapAgent { key, did }
    }

    /// The raw public key in base58btc, as the reference client's two-client pattern
    /// sends it.
    pub fn public_key_base58(&self) -> String {
        let did = agentgate_codec::did_key::encode_legacy(&self.key.verifying_key().to_bytes());
        did.trim_start_matches("did:key:z6Mk").to_string()
    }

    /// A REGISTER signed as the reference GatewayClient signs it: canonical JSON with
    /// sorted keys and no zone on the timestamp, sent with a `Z` appended.
    pub fn register(&self, id: &str, public_key: &str, at_ms: u64) -> String {
        use base64::Engine;
        use ed25519_dalek::Signer;
        let stamp = agentgate_codec::ioap::format_timestamp(agentgate_core::Timestamp(at_ms));
        let naive = stamp.trim_end_matches('Z');
        let signed = format!(
            r#"{{"correlation_id":null,"from":"{d}","id":"{id}","payload":{{"public_key":"{public_key}"}},"timestamp":"{naive}","to":"{d}","type":"REGISTER","version":"1.0"}}"#,
            d = self.did
        );
        let signature = base64::engine::general_purpose::STANDARD
            .encode(self.key.sign(signed.as_bytes()).to_bytes());
        format!(
            r#"{{"id": "{id}", "correlation_id": null, "timestamp": "{stamp}", "from": "{d}", "to": "{d}", "type": "REGISTER", "payload": {{"public_key": "{public_key}"}}, "version": "1.0", "signature": "{signature}"}}"#,
            d = self.did
        )
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl Ws {
    /// Connects offering `ioap.v1` and registers `agent` (the key as base58).
    pub async fn ioap(g: &Gateway, agent: &IoapAgent) -> Ws {
        let mut ws = Ws::connect(g, &["ioap.v1"]).await;
        assert_eq!(ws.protocol.as_deref(), Some("ioap.v1"));
        let id = uuid::Uuid::new_v4().to_string();
        ws.send_text(agent.register(&id, &agent.public_key_base58(), now_ms()))
            .await;
        ws
    }

    /// The next text frame's raw text within `wait`.
    pub async fn next_text(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let m = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()?;
            match m {
                Some(Ok(Message::Text(t))) => return Some(t.to_string()),
                Some(Ok(Message::Close(c))) => panic!("closed by the server: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("read failed: {e}"),
                None => panic!("the stream ended"),
            }
        }
    }
}

impl Ws {
    /// Connects offering `ioap.v2` and registers `agent` by answering the CHALLENGE;
    /// returns after the REGISTERED.
    pub async fn ioap_strict(g: &Gateway, agent: &IoapAgent) -> Ws {
        use base64::Engine;
        use ed25519_dalek::Signer;
        let mut ws = Ws::connect(g, &["ioap.v2"]).await;
        let challenge = ws.next_json().await;
        assert_eq!(challenge["type"], "CHALLENGE", "{challenge}");
        let p = &challenge["payload"];
        let signed = agentgate_codec::ioap::strict_register_bytes(
            challenge["from"].as_str().unwrap(),
            p["nonce"].as_str().unwrap(),
            p["connection_id"].as_str().unwrap(),
            p["expires_at"].as_str().unwrap(),
            &agent.did,
        );
        let signature =
            base64::engine::general_purpose::STANDARD.encode(agent.key.sign(&signed).to_bytes());
        let register = json!({"id": uuid::Uuid::new_v4().to_string(),
            "correlation_id": challenge["id"], "from": agent.did, "to": challenge["from"],
            "type": "REGISTER", "payload": {"public_key": agent.did}, "signature": signature});
        ws.send_json(&register).await;
        let registered = ws.next_json().await;
        assert_eq!(registered["type"], "REGISTERED", "{registered}");
        assert_eq!(registered["payload"]["did"], agent.did);
        ws
    }
}
