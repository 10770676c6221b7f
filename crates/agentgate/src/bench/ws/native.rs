//! The `agentgate.v1` side of `bench ws`: JSON-RPC 2.0 frames (`auth`, `send`, `ack`) and
//! reading the gateway's answers and notifications (`docs/protocols/websocket.md`).
//!
//! Request ids tell the answers apart without a table: 1 is `auth`, even ids from 2 on are
//! `send`s and odd ids from 3 on are `ack`s.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The subprotocol token.
pub const SUBPROTOCOL: &str = "agentgate.v1";

/// The `auth` request's id.
pub const AUTH_ID: u64 = 1;

/// What a request id was used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// `auth`.
    Auth,
    /// `send`.
    Send,
    /// `ack`.
    Ack,
}

/// The kind of the request with id `id`.
pub fn request_kind(id: u64) -> RequestKind {
    match id {
        AUTH_ID => RequestKind::Auth,
        n if n % 2 == 0 => RequestKind::Send,
        _ => RequestKind::Ack,
    }
}

/// Hands out request ids by kind.
#[derive(Debug)]
pub struct RequestIds {
    next_send: u64,
    next_ack: u64,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds {
            next_send: 2,
            next_ack: 3,
        }
    }
}

impl RequestIds {
    /// The next `send` id.
    pub fn send(&mut self) -> u64 {
        let id = self.next_send;
        self.next_send += 2;
        id
    }

    /// The next `ack` id.
    pub fn ack(&mut self) -> u64 {
        let id = self.next_ack;
        self.next_ack += 2;
        id
    }
}

/// `auth` with an API key.
pub fn auth_frame(api_key: &str) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": AUTH_ID, "method": "auth",
                       "params": {"api_key": api_key}})
    .to_string()
}

/// Writes into `out` a `send` request from `sender` to `recipient` (both already JSON
/// string literals, quotes included), whose payload carries the send instant `t_us` and
/// the sender's index `s`, padded so that the frame is `size` bytes (or the smallest
/// possible).
pub fn send_frame(
    out: &mut String,
    id: u64,
    sender: &str,
    recipient: &str,
    t_us: u64,
    s: u32,
    size: usize,
) {
    out.clear();
    let _ = write!(
        out,
        r#"{{"jsonrpc":"2.0","id":{id},"method":"send","params":{{"sender":{sender},"recipients":[{recipient}],"subject":"bench","payload":{{"t":{t_us},"s":{s},"pad":""#
    );
    const END: &str = r#""}}}"#;
    let pad = size.saturating_sub(out.len() + END.len());
    out.extend(std::iter::repeat_n('x', pad));
    out.push_str(END);
}

/// `ack` of `ids`.
pub fn ack_frame(id: u64, ids: &[String]) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "ack",
                       "params": {"message_ids": ids}})
    .to_string()
}

/// A frame received in native mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// The `welcome` notification.
    Welcome,
    /// The answer to request `id`: `Ok` or the error's code (`data.code`, else the
    /// JSON-RPC code).
    Answer {
        /// The request id (`None` when the gateway could not read it).
        id: Option<u64>,
        /// The outcome.
        outcome: Result<(), String>,
    },
    /// A `message` notification.
    Delivery {
        /// The envelope's `message_id`, to acknowledge.
        message_id: String,
        /// `(t, s)` from a bench payload; `None` for a message this run did not send.
        stamp: Option<(u64, u32)>,
    },
    /// Another notification, by method.
    Notification(Cow<'a, str>),
    /// Not a JSON-RPC object this generator understands.
    Unreadable,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(default, borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<RpcError>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RpcError {
    code: i64,
    #[serde(default)]
    data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct MessageParams {
    message: Envelope,
}

#[derive(Deserialize)]
struct Envelope {
    message_id: String,
    #[serde(default)]
    payload: Option<BenchPayload>,
}

#[derive(Deserialize)]
struct BenchPayload {
    t: Option<u64>,
    s: Option<u32>,
}

/// Reads a received frame.
pub fn classify(text: &str) -> Incoming<'_> {
    let Ok(f) = serde_json::from_str::<Frame<'_>>(text) else {
        return Incoming::Unreadable;
    };
    match f.method {
        Some(m) if m == "welcome" => Incoming::Welcome,
        Some(m) if m == "message" => {
            let Some(p) = f
                .params
                .and_then(|p| serde_json::from_str::<MessageParams>(p.get()).ok())
            else {
                return Incoming::Unreadable;
            };
            let stamp = p.message.payload.and_then(|b| Some((b.t?, b.s?)));
            Incoming::Delivery {
                message_id: p.message.message_id,
                stamp,
            }
        }
        Some(m) => Incoming::Notification(m),
        None => match (f.result, f.error) {
            (_, Some(e)) => Incoming::Answer {
                id: f.id,
                outcome: Err(e
                    .data
                    .and_then(|d| d.code)
                    .unwrap_or_else(|| e.code.to_string())),
            },
            (Some(_), None) => Incoming::Answer {
                id: f.id,
                outcome: Ok(()),
            },
            (None, None) => Incoming::Unreadable,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn request_ids_never_collide_and_tell_their_kind() {
        let mut ids = RequestIds::default();
        let sends: Vec<u64> = (0..3).map(|_| ids.send()).collect();
        let acks: Vec<u64> = (0..3).map(|_| ids.ack()).collect();
        assert_eq!(sends, [2, 4, 6]);
        assert_eq!(acks, [3, 5, 7]);
        assert!(sends.iter().all(|&i| request_kind(i) == RequestKind::Send));
        assert!(acks.iter().all(|&i| request_kind(i) == RequestKind::Ack));
        assert_eq!(request_kind(AUTH_ID), RequestKind::Auth);
    }

    #[test]
    fn send_frames_have_the_requested_size_and_the_amtp_body() {
        let mut f = String::new();
        send_frame(
            &mut f,
            42,
            r#""a@x.test""#,
            r#""b@x.test""#,
            123_456,
            7,
            512,
        );
        assert_eq!(f.len(), 512);
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["id"], 42);
        assert_eq!(v["method"], "send");
        let p = &v["params"];
        assert_eq!(p["sender"], "a@x.test");
        assert_eq!(p["recipients"], serde_json::json!(["b@x.test"]));
        assert_eq!(p["subject"], "bench");
        assert_eq!(p["payload"]["t"], 123_456);
        assert_eq!(p["payload"]["s"], 7);
        send_frame(&mut f, 2, r#""a""#, r#""b""#, 1, 0, 0);
        serde_json::from_str::<Value>(&f).unwrap();

        let a: Value = serde_json::from_str(&ack_frame(3, &["m1".into(), "m2".into()])).unwrap();
        assert_eq!(a["params"]["message_ids"], serde_json::json!(["m1", "m2"]));
        let a: Value = serde_json::from_str(&auth_frame("agk_1")).unwrap();
        assert_eq!(a["id"], 1);
        assert_eq!(a["params"]["api_key"], "agk_1");
    }

    #[test]
    fn classify_reads_welcome_answers_and_deliveries() {
        let w = r#"{"jsonrpc":"2.0","method":"welcome","params":{"protocol":"agentgate.v1","domain":"d","session_id":"s","nonce":"n","auth_deadline":"t"}}"#;
        assert_eq!(classify(w), Incoming::Welcome);
        let ok =
            r#"{"jsonrpc":"2.0","id":1,"result":{"agent":"a@d","session_id":"s","pending":0}}"#;
        assert_eq!(
            classify(ok),
            Incoming::Answer {
                id: Some(1),
                outcome: Ok(())
            }
        );
        let err = r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32000,"message":"m","data":{"code":"AGENT_UNKNOWN"}}}"#;
        assert_eq!(
            classify(err),
            Incoming::Answer {
                id: Some(4),
                outcome: Err("AGENT_UNKNOWN".into())
            }
        );
        let bare = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"m"}}"#;
        assert_eq!(
            classify(bare),
            Incoming::Answer {
                id: None,
                outcome: Err("-32700".into())
            }
        );
        let d = r#"{"jsonrpc":"2.0","method":"message","params":{"message":{"message_id":"01a2","sender":"a@d","recipients":["b@d"],"subject":"bench","payload":{"t":99,"s":3,"pad":"xx"}}}}"#;
        assert_eq!(
            classify(d),
            Incoming::Delivery {
                message_id: "01a2".into(),
                stamp: Some((99, 3))
            }
        );
        let foreign = r#"{"jsonrpc":"2.0","method":"message","params":{"message":{"message_id":"01a3","payload":{"text":"hi"}}}}"#;
        assert_eq!(
            classify(foreign),
            Incoming::Delivery {
                message_id: "01a3".into(),
                stamp: None
            }
        );
        let p = r#"{"jsonrpc":"2.0","method":"presence","params":{}}"#;
        assert_eq!(classify(p), Incoming::Notification("presence".into()));
        assert_eq!(classify("[1]"), Incoming::Unreadable);
    }
}
