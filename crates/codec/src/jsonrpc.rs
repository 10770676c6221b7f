//! JSON-RPC 2.0 frames (<https://www.jsonrpc.org/specification>), as the native
//! WebSocket dialect `agentgate.v1` carries them: one request per text frame, responses
//! and notifications from the server.
//!
//! [`parse_request`] reads a client frame without copying its parameters (they stay
//! [`RawValue`]s for the method to decode into its own type) and tells apart the faults
//! the specification gives codes to: not JSON ([`PARSE_ERROR`]), not a request object
//! ([`INVALID_REQUEST`], batches included). The id is kept as sent, so a response
//! echoes it byte for byte. The frame's size is bounded by the transport; nesting is
//! bounded by `serde_json`'s recursion limit (128).
//!
//! The encoders build the server's frames: [`response`], [`error_response`] and
//! [`notification`].

use serde::Serialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// An application error: the service refused; `data.code` says why.
pub const APPLICATION_ERROR: i64 = -32000;

/// A request (with an id) or a notification (without), as received.
#[derive(Debug)]
pub struct Request<'a> {
    /// The id exactly as sent (a string or a number); `None` for a notification.
    pub id: Option<&'a RawValue>,
    /// The method name.
    pub method: Cow<'a, str>,
    /// The parameters exactly as sent (an object or an array), if any.
    pub params: Option<&'a RawValue>,
}

/// Why a frame is not a request.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Not JSON at all ([`PARSE_ERROR`]).
    #[error("the frame is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not a JSON-RPC 2.0 request object ([`INVALID_REQUEST`]). `id` is the
    /// request's id when one could be read, so the error response can carry it.
    #[error("not a JSON-RPC 2.0 request: {reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
        /// The id, if the frame had a usable one.
        id: Option<Box<RawValue>>,
    },
}

impl FrameError {
    /// The JSON-RPC error code for this fault.
    pub fn code(&self) -> i64 {
        match self {
            FrameError::NotJson(_) => PARSE_ERROR,
            FrameError::Invalid { .. } => INVALID_REQUEST,
        }
    }

    /// The request's id, when it could be read.
    pub fn id(&self) -> Option<&RawValue> {
        match self {
            FrameError::NotJson(_) => None,
            FrameError::Invalid { id, .. } => id.as_deref(),
        }
    }
}

/// The members of a request object, each still unchecked.
#[derive(Default)]
struct Members<'a> {
    jsonrpc: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    method: Option<&'a RawValue>,
    params: Option<&'a RawValue>,
    duplicate: Option<&'static str>,
}

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut m = Members::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let (slot, name) = match key.as_ref() {
                        "jsonrpc" => (&mut m.jsonrpc, "jsonrpc"),
                        "id" => (&mut m.id, "id"),
                        "method" => (&mut m.method, "method"),
                        "params" => (&mut m.params, "params"),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    let value: &'de RawValue = map.next_value()?;
                    if slot.replace(value).is_some() {
                        m.duplicate.get_or_insert(name);
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

/// What kind of JSON value raw text holds, from its first byte.
fn kind(v: &RawValue) -> u8 {
    v.get().as_bytes().first().copied().unwrap_or(b' ')
}

/// Whether `v` may be a request id: a string or a number (`null` is allowed by the
/// specification but discouraged; it is refused here, since the answer to a request with
/// id `null` could not be told apart from an error about an unreadable id).
fn usable_id(v: &RawValue) -> bool {
    matches!(kind(v), b'"' | b'-' | b'0'..=b'9')
}

/// Reads one client frame.
pub fn parse_request(text: &str) -> Result<Request<'_>, FrameError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        // Still JSON? Tell a broken frame from a batch.
        return match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => Err(FrameError::Invalid {
                reason: "batches are not accepted: send one request per frame".into(),
                id: None,
            }),
            Err(e) => Err(FrameError::NotJson(e.to_string())),
        };
    }
    let members: Members<'_> = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) if e.is_syntax() || e.is_eof() => return Err(FrameError::NotJson(e.to_string())),
        Err(e) => {
            return Err(FrameError::Invalid {
                reason: e.to_string(),
                id: None,
            });
        }
    };
    let id = members.id.filter(|v| usable_id(v));
    let invalid = |reason: String| FrameError::Invalid {
        reason,
        id: id.map(|v| v.to_owned()),
    };
    if let Some(name) = members.duplicate {
        return Err(invalid(format!("the member {name:?} is given twice")));
    }
    if members.jsonrpc.map(RawValue::get) != Some("\"2.0\"") {
        return Err(invalid("\"jsonrpc\" must be exactly \"2.0\"".into()));
    }
    if members.id.is_some() && id.is_none() {
        return Err(invalid("\"id\" must be a string or a number".into()));
    }
    let method = match members.method {
        Some(m) if kind(m) == b'"' => serde_json::from_str::<Cow<'_, str>>(m.get())
            .map_err(|e| invalid(format!("\"method\": {e}")))?,
        Some(_) => return Err(invalid("\"method\" must be a string".into())),
        None => return Err(invalid("\"method\" is missing".into())),
    };
    if let Some(p) = members.params
        && !matches!(kind(p), b'{' | b'[')
    {
        return Err(invalid("\"params\" must be an object or an array".into()));
    }
    Ok(Request {
        id,
        method,
        params: members.params,
    })
}

/// Decodes a request's parameters into `T`; absent parameters decode as `{}`.
pub fn params<'a, T: serde::Deserialize<'a>>(
    params: Option<&'a RawValue>,
) -> Result<T, serde_json::Error> {
    serde_json::from_str(params.map_or("{}", RawValue::get))
}

#[derive(Serialize)]
struct Response<'a, T> {
    jsonrpc: &'static str,
    id: &'a RawValue,
    result: T,
}

#[derive(Serialize)]
struct ErrorResponse<'a, D> {
    jsonrpc: &'static str,
    id: Option<&'a RawValue>,
    error: ErrorObject<'a, D>,
}

#[derive(Serialize)]
struct ErrorObject<'a, D> {
    code: i64,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<D>,
}

#[derive(Serialize)]
struct Notification<'a, P> {
    jsonrpc: &'static str,
    method: &'a str,
    params: P,
}

fn to_text(value: &impl Serialize) -> String {
    // Serialising our own types into a string cannot fail: no map has non-string keys.
    serde_json::to_string(value).expect("a frame serialises")
}

/// A success response to the request `id`.
pub fn response(id: &RawValue, result: &impl Serialize) -> String {
    to_text(&Response {
        jsonrpc: "2.0",
        id,
        result,
    })
}

/// An error response; `id` is `None` (sent as `null`) when the request's id could not be
/// read.
pub fn error_response(
    id: Option<&RawValue>,
    code: i64,
    message: &str,
    data: Option<&impl Serialize>,
) -> String {
    to_text(&ErrorResponse {
        jsonrpc: "2.0",
        id,
        error: ErrorObject {
            code,
            message,
            data,
        },
    })
}

/// A notification from the server.
pub fn notification(method: &str, params: &impl Serialize) -> String {
    to_text(&Notification {
        jsonrpc: "2.0",
        method,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    #[test]
    fn reads_a_request_keeping_the_id_and_params_as_sent() {
        let r = parse_request(
            r#"{"jsonrpc":"2.0","id":"a\u0062","method":"send","params":{"x": [1, 2]}}"#,
        )
        .unwrap();
        assert_eq!(r.id.unwrap().get(), r#""a\u0062""#);
        assert_eq!(r.method, "send");
        assert_eq!(r.params.unwrap().get(), r#"{"x": [1, 2]}"#);
        let r = parse_request(r#"{"method":"ack","jsonrpc":"2.0","id":-7.5}"#).unwrap();
        assert_eq!(r.id.unwrap().get(), "-7.5");
        assert!(r.params.is_none());
    }

    #[test]
    fn a_frame_without_an_id_is_a_notification() {
        let r = parse_request(r#"{"jsonrpc":"2.0","method":"ack","params":[]}"#).unwrap();
        assert!(r.id.is_none());
    }

    #[test]
    fn an_escaped_method_name_is_decoded() {
        let r = parse_request(r#"{"jsonrpc":"2.0","id":1,"method":"pr\u0065sence.list"}"#).unwrap();
        assert_eq!(r.method, "presence.list");
    }

    #[test]
    fn not_json_is_a_parse_error() {
        for text in ["", "{", "nope", "[1,", "{\"jsonrpc\":}"] {
            let e = parse_request(text).unwrap_err();
            assert_eq!(e.code(), PARSE_ERROR, "{text}");
            assert!(e.id().is_none());
        }
    }

    #[test]
    fn invalid_requests_name_the_fault_and_keep_a_usable_id() {
        let cases = [
            (
                r#"[{"jsonrpc":"2.0","id":1,"method":"a"}]"#,
                None,
                "batches",
            ),
            (r#"{"jsonrpc":"1.0","id":1,"method":"a"}"#, Some("1"), "2.0"),
            (r#"{"id":1,"method":"a"}"#, Some("1"), "2.0"),
            (r#"{"jsonrpc":"2.0","id":"x"}"#, Some("\"x\""), "missing"),
            (
                r#"{"jsonrpc":"2.0","id":2,"method":5}"#,
                Some("2"),
                "string",
            ),
            (
                r#"{"jsonrpc":"2.0","id":3,"method":"a","params":7}"#,
                Some("3"),
                "object or an array",
            ),
            (r#"{"jsonrpc":"2.0","id":{},"method":"a"}"#, None, "id"),
            (r#"{"jsonrpc":"2.0","id":null,"method":"a"}"#, None, "id"),
            (
                r#"{"jsonrpc":"2.0","id":4,"method":"a","method":"b"}"#,
                Some("4"),
                "twice",
            ),
            ("42", None, "object"),
            ("\"text\"", None, "object"),
        ];
        for (text, id, reason) in cases {
            let e = parse_request(text).unwrap_err();
            assert_eq!(e.code(), INVALID_REQUEST, "{text}");
            assert_eq!(e.id().map(RawValue::get), id, "{text}");
            assert!(e.to_string().contains(reason), "{text}: {e}");
        }
    }

    #[test]
    fn params_decode_into_the_method_type_and_default_to_empty() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Ack {
            #[serde(default)]
            message_ids: Vec<String>,
        }
        let r = parse_request(
            r#"{"jsonrpc":"2.0","id":1,"method":"ack","params":{"message_ids":["a"]}}"#,
        )
        .unwrap();
        assert_eq!(
            params::<Ack>(r.params).unwrap(),
            Ack {
                message_ids: vec!["a".into()]
            }
        );
        assert_eq!(
            params::<Ack>(None).unwrap(),
            Ack {
                message_ids: vec![]
            }
        );
        let bad = RawValue::from_string(r#"{"message_ids":1}"#.into()).unwrap();
        assert!(params::<Ack>(Some(&bad)).is_err());
    }

    #[test]
    fn encoders_produce_the_specified_shapes() {
        let id = RawValue::from_string("\"r1\"".into()).unwrap();
        let v: Value = serde_json::from_str(&response(&id, &json!({"ok": true}))).unwrap();
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "id": "r1", "result": {"ok": true}})
        );
        let v: Value = serde_json::from_str(&error_response(
            Some(&id),
            APPLICATION_ERROR,
            "no",
            Some(&json!({"code": "AGENT_UNKNOWN"})),
        ))
        .unwrap();
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "id": "r1",
                   "error": {"code": -32000, "message": "no", "data": {"code": "AGENT_UNKNOWN"}}})
        );
        let v: Value =
            serde_json::from_str(&error_response(None, PARSE_ERROR, "bad", None::<&Value>))
                .unwrap();
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "bad"}})
        );
        let v: Value =
            serde_json::from_str(&notification("presence", &json!({"status": "online"}))).unwrap();
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "method": "presence", "params": {"status": "online"}})
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,200}") {
            let _ = parse_request(&text);
        }

        #[test]
        fn a_response_echoes_any_usable_id(n in any::<i64>(), s in "[ -~]{0,20}") {
            for id in [n.to_string(), serde_json::to_string(&s).unwrap()] {
                let frame = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m"}}"#);
                let r = parse_request(&frame).unwrap();
                let out: Value = serde_json::from_str(&response(r.id.unwrap(), &1)).unwrap();
                let sent: Value = serde_json::from_str(&id).unwrap();
                prop_assert_eq!(&out["id"], &sent);
            }
        }
    }
}
