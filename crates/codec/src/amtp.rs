//! AMTP JSON envelopes.
//!
//! [`decode_envelope`] turns a request body into a [`WireEnvelope`], refusing bodies
//! that are too large, too deeply nested, not JSON, or not shaped like an envelope,
//! each with its own error code. Semantic validation (addresses, ids, …) follows in
//! [`agentgate_core::Envelope::from_wire`].

use agentgate_core::Envelope;
use agentgate_core::envelope::WireEnvelope;

use crate::json::{DEFAULT_MAX_DEPTH, check_depth};

/// Limits applied while decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 10 * 1024 * 1024,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Why a body is not a decodable envelope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body is larger than [`Limits::max_bytes`].
    #[error("message is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// Body size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`Limits::max_depth`].
    #[error("JSON is nested more than {0} levels deep")]
    TooDeep(usize),
    /// Not JSON at all.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser saw.
        message: String,
    },
    /// JSON, but a field has the wrong type (e.g. `recipients` not an array).
    #[error("not an AMTP envelope: {0}")]
    InvalidFormat(String),
}

impl DecodeError {
    /// The stable UPPER_SNAKE error code.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "PAYLOAD_TOO_LARGE",
            DecodeError::TooDeep(_) => "JSON_TOO_DEEP",
            DecodeError::InvalidJson { .. } => "INVALID_JSON",
            DecodeError::InvalidFormat(_) => "INVALID_MESSAGE_FORMAT",
        }
    }
}

/// Decodes a request body into an unvalidated envelope.
pub fn decode_envelope(bytes: &[u8], limits: &Limits) -> Result<WireEnvelope, DecodeError> {
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    check_depth(bytes, limits.max_depth).map_err(DecodeError::TooDeep)?;
    // serde would also take a JSON array as a struct; an envelope is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(DecodeError::InvalidFormat(
            "the envelope must be a JSON object".into(),
        ));
    }
    serde_json::from_slice::<WireEnvelope>(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => DecodeError::InvalidFormat(e.to_string()),
            Category::Syntax | Category::Eof | Category::Io => DecodeError::InvalidJson {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            },
        }
    })
}

/// Encodes a validated envelope as compact JSON.
pub fn encode_envelope(envelope: &Envelope) -> Vec<u8> {
    // Serialising plain data with string keys cannot fail.
    serde_json::to_vec(envelope).expect("envelope serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentgate_core::Timestamp;
    use proptest::prelude::*;

    fn limits() -> Limits {
        Limits {
            max_bytes: 4096,
            max_depth: 8,
        }
    }

    #[test]
    fn codes() {
        let l = limits();
        assert_eq!(
            decode_envelope(&vec![b' '; 5000], &l).unwrap_err().code(),
            "PAYLOAD_TOO_LARGE"
        );
        let deep = format!(r#"{{"payload":{}1{}}}"#, "[".repeat(9), "]".repeat(9));
        assert_eq!(
            decode_envelope(deep.as_bytes(), &l).unwrap_err().code(),
            "JSON_TOO_DEEP"
        );
        assert_eq!(
            decode_envelope(b"{", &l).unwrap_err().code(),
            "INVALID_JSON"
        );
        assert_eq!(
            decode_envelope(b"nope", &l).unwrap_err().code(),
            "INVALID_JSON"
        );
        assert_eq!(
            decode_envelope(br#"{"recipients":"a@b.c"}"#, &l)
                .unwrap_err()
                .code(),
            "INVALID_MESSAGE_FORMAT"
        );
        assert_eq!(
            decode_envelope(b"[]", &l).unwrap_err().code(),
            "INVALID_MESSAGE_FORMAT"
        );
    }

    #[test]
    fn decodes_and_round_trips() {
        let body = br#"{"sender":"a@x.com","recipients":["b@x.com"],"payload":{"k":[1,2]}}"#;
        let w = decode_envelope(body, &limits()).unwrap();
        let e = Envelope::from_wire(w, Timestamp(5), [0; 10]).unwrap();
        let again = decode_envelope(&encode_envelope(&e), &limits()).unwrap();
        assert_eq!(
            Envelope::from_wire(again, Timestamp(9), [1; 10]).unwrap(),
            e
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_envelope(&bytes, &limits());
        }

        #[test]
        fn valid_envelopes_round_trip(
            local in "[a-z][a-z0-9]{0,10}",
            subject in proptest::option::of("[ -~]{0,40}"),
            n in 0i64..1000,
        ) {
            let body = serde_json::json!({
                "sender": format!("{local}@x.com"),
                "recipients": [format!("{local}@y.org")],
                "subject": subject,
                "payload": {"n": n},
            });
            let w = decode_envelope(body.to_string().as_bytes(), &limits()).unwrap();
            let e = Envelope::from_wire(w, Timestamp(7), [3; 10]).unwrap();
            let back = decode_envelope(&encode_envelope(&e), &limits()).unwrap();
            prop_assert_eq!(Envelope::from_wire(back, Timestamp(8), [4; 10]).unwrap(), e);
        }
    }
}
