use super::*;
use crate::did_key;
use agentgate_core::Timestamp;
use proptest::prelude::*;

mod vectors;

const T: Timestamp = Timestamp(1_795_370_112_942); // 2026-11-22T17:55:12.942Z

fn base(typ: &str, payload: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"m-1","from":"did:key:a","to":"did:key:b","signature":"","type":"{typ}","payload":{payload}{extra}}}"#
    )
}

#[test]
fn registers_from_the_reference_client_verify() {
    use base64::Engine;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    for (wire, signed, key_hex) in vectors::CLIENT_REGISTERS {
        let frame = parse_frame(wire).unwrap();
        assert_eq!(frame.message_type(), Some(MessageType::Register));
        assert_eq!(frame.payload_model(), PayloadModel::Register);
        let bytes = register_signing_bytes(&frame).unwrap();
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), *signed);

        let from = did_key::parse(frame.from()).unwrap();
        assert_eq!(from.form, did_key::DidForm::Legacy);
        let key: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(from.key.as_slice(), key.as_slice());
        let public_key = did_key::parse_public_key(frame.public_key().unwrap()).unwrap();
        assert_eq!(public_key, from.key);

        let signature = base64::engine::general_purpose::STANDARD
            .decode(frame.signature())
            .unwrap();
        let signature = Signature::from_slice(&signature).unwrap();
        let verifier = VerifyingKey::from_bytes(&from.key).unwrap();
        assert!(verifier.verify(&bytes, &signature).is_ok());
        // The received object as the reference's PROTOCOL_DESIGN prescribes (the
        // timestamp keeps its `Z`) is not what was signed.
        let mut with_z = bytes.clone();
        let at = with_z.windows(4).position(|w| w == b"\",\"t").unwrap();
        with_z.insert(at, b'Z');
        assert!(verifier.verify(&with_z, &signature).is_err());
    }
}

#[test]
fn validation_matches_the_reference_client() {
    for (text, want) in vectors::VALIDATION {
        let got = parse_frame(text);
        let Some((model, timestamp, signed)) = want else {
            assert!(got.is_err(), "the reference refuses {text:?}; got {got:?}");
            continue;
        };
        let frame = got.unwrap_or_else(|e| panic!("the reference accepts {text:?}; got {e}"));
        assert_eq!(format!("{:?}", frame.payload_model()), *model, "{text:?}");
        assert_eq!(
            frame
                .timestamp()
                .map(|t| (t.unix_micros, t.utc_offset_seconds)),
            *timestamp,
            "{text:?}"
        );
        match register_signing_bytes(&frame) {
            Ok(bytes) => assert_eq!(std::str::from_utf8(&bytes).unwrap(), *signed, "{text:?}"),
            Err(e) => {
                assert!(signed.is_empty(), "{text:?}: {e}");
                assert!(matches!(e, IoapError::Unsignable(_)));
            }
        }
        assert!(std::ptr::eq(frame.text(), *text));
    }
}

#[test]
fn a_hand_built_signed_object() {
    let (text, signed) = vectors::HAND_BUILT;
    let frame = parse_frame(text).unwrap();
    assert_eq!(frame.message_type(), Some(MessageType::Register));
    assert_eq!(frame.payload_model(), PayloadModel::ExecResponse);
    assert_eq!(frame.public_key(), None);
    assert_eq!(frame.id(), "réglage-😀");
    let bytes = register_signing_bytes(&frame).unwrap();
    assert_eq!(std::str::from_utf8(&bytes).unwrap(), signed);
}

#[test]
fn the_accessors() {
    let text = r#"{"id":"a\u00e9","correlation_id":"c","timestamp":1795283712,"from_did":"F","to":"T","type":"PING","payload":{"sequence":"0042"},"version":"2","signature":"sig","x":1}"#;
    let frame = parse_frame(text).unwrap();
    assert_eq!(frame.text(), text);
    assert_eq!(frame.mode(), Mode::Compat);
    assert_eq!(frame.id(), "aé");
    assert_eq!(frame.correlation_id(), Some("c"));
    assert_eq!(frame.from(), "F");
    assert_eq!(frame.to(), "T");
    assert_eq!(frame.frame_type(), FrameType::V1(MessageType::Ping));
    assert_eq!(frame.payload_raw(), r#"{"sequence":"0042"}"#);
    assert_eq!(
        frame.payload_json().unwrap().get(),
        r#"{"sequence":"0042"}"#
    );
    assert_eq!(frame.payload_model(), PayloadModel::Ping);
    assert_eq!(frame.sequence(), Some(&Integer::from(42)));
    assert_eq!(frame.sequence().and_then(Integer::to_i64), Some(42));
    assert_eq!(frame.signature(), "sig");
    assert_eq!(frame.version(), Some("2"));
    assert_eq!(frame.timestamp_raw(), Some("1795283712"));
    assert_eq!(
        frame.timestamp(),
        Some(FrameTime {
            unix_micros: 1_795_283_712_000_000,
            utc_offset_seconds: Some(0)
        })
    );
    assert!(!frame.has_lone_surrogates());
    assert_eq!(frame.public_key(), None);
    assert_eq!(frame.challenge(), None);

    let register = base("REGISTER", r#"{"public_key":"k"}"#, "");
    let frame = parse_frame(&register).unwrap();
    assert_eq!(frame.public_key(), Some("k"));
    assert_eq!(frame.version(), None);
    assert_eq!(frame.timestamp(), None);
    assert_eq!(frame.correlation_id(), None);

    let nan = base("PING", r#"{"result":NaN}"#, "");
    let frame = parse_frame(&nan).unwrap();
    assert_eq!(frame.payload_raw(), r#"{"result":NaN}"#);
    assert!(frame.payload_json().is_err());

    let lone = r#"{"id":"a\ud800","from":"f","to":"t","signature":"","type":"PING","payload":{}}"#;
    let frame = parse_frame(lone).unwrap();
    assert_eq!(frame.id(), "a\u{fffd}");
    assert!(frame.has_lone_surrogates());
    // The signed bytes keep the surrogate.
    assert!(frame.text().contains("\\ud800"));
}

#[test]
fn errors_say_what_is_wrong() {
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES));
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    let nested = base(
        "EXEC_REQUEST",
        &format!(
            r#"{{"args":{{"a":{}1{}}}}}"#,
            "[".repeat(MAX_DEPTH - 3),
            "]".repeat(MAX_DEPTH - 3)
        ),
        "",
    );
    assert!(parse_frame(&nested).is_ok());
    let too_nested = nested.replacen('[', "[[", 1).replacen(']', "]]", 1);
    let cases: Vec<(String, IoapError)> = vec![
        (big.clone(), IoapError::TooLarge(big.len())),
        (
            "{\"a\":".into(),
            IoapError::NotJson {
                at: 5,
                reason: "syntax error",
            },
        ),
        (
            format!("[{}]", "1".repeat(4301)),
            IoapError::NotJson {
                at: 1,
                reason: "integer literal longer than 4300 digits",
            },
        ),
        (deep, IoapError::TooDeep),
        (too_nested, IoapError::TooDeep),
        ("[]".into(), IoapError::NotAnObject),
        (
            r#"{"from":"f","to":"t","signature":"","type":"PING","payload":{}}"#.into(),
            IoapError::MissingField("id"),
        ),
        (
            r#"{"id":"a","to":"t","signature":"","type":"PING","payload":{}}"#.into(),
            IoapError::MissingField("from"),
        ),
        (
            r#"{"id":"a","from":"f","to":"t","type":"PING","payload":{}}"#.into(),
            IoapError::MissingField("signature"),
        ),
        (
            r#"{"id":"a","from":"f","to":"t","signature":"","payload":{}}"#.into(),
            IoapError::MissingField("type"),
        ),
        (
            base("PING", "{}", "").replace("\"signature\":\"\"", "\"signature\":null"),
            IoapError::WrongType { field: "signature" },
        ),
        (
            base("PING", "{}", r#","version":null"#),
            IoapError::WrongType { field: "version" },
        ),
        (
            base("PING", "{}", r#","correlation_id":1"#),
            IoapError::WrongType {
                field: "correlation_id",
            },
        ),
        (
            base("PING", "[]", ""),
            IoapError::WrongType { field: "payload" },
        ),
        (
            base("ping", "{}", ""),
            IoapError::UnknownType("ping".into()),
        ),
        (
            base("CHALLENGE", "{}", ""),
            IoapError::UnknownType("CHALLENGE".into()),
        ),
        (
            base(&"X".repeat(100), "{}", ""),
            IoapError::UnknownType("X".repeat(64)),
        ),
        (
            base("OFFER", r#"{"sdp":"x","bogus":1}"#, ""),
            IoapError::PayloadMismatch,
        ),
        (
            base("PING", "{}", r#","timestamp":null"#),
            IoapError::BadTimestamp,
        ),
        (
            base("PING", "{}", r#","timestamp":"2026-01-12T10:00:00+00:00Z""#),
            IoapError::BadTimestamp,
        ),
    ];
    for (text, want) in cases {
        let got = parse_frame(&text).unwrap_err();
        assert_eq!(got, want, "{}", &text[..text.len().min(120)]);
        assert_eq!(got.error_code(), ErrorCode::MalformedMessage);
        assert!(!got.reason().is_empty());
    }
    assert_eq!(
        IoapError::Unsignable("x").error_code(),
        ErrorCode::InvalidSignature
    );
}

#[test]
fn an_unknown_version_is_not_an_error() {
    let text = base("PING", "{}", r#","version":"42.0-beta""#);
    let frame = parse_frame(&text).unwrap();
    assert_eq!(frame.version(), Some("42.0-beta"));
}

#[test]
fn the_payload_is_not_tied_to_the_type() {
    for (typ, payload, model) in [
        ("OFFER", r#"{"candidate":"c"}"#, PayloadModel::IceCandidate),
        ("REGISTER", "{}", PayloadModel::Unregister),
        ("PING", r#"{"sdp":"x"}"#, PayloadModel::Offer),
        ("PONG", r#"{"sequence":1}"#, PayloadModel::Ping),
        ("ERROR", r#"{"status":"x"}"#, PayloadModel::Intent),
        (
            "INTENT",
            r#"{"status":"x","result":1}"#,
            PayloadModel::ExecResponse,
        ),
    ] {
        let text = base(typ, payload, "");
        let frame = parse_frame(&text).unwrap();
        assert_eq!(frame.payload_model(), model, "{typ} {payload}");
    }
}

#[test]
fn the_offending_id_of_a_refused_frame() {
    let text = base("OFFER", r#"{"sdp":"x","bogus":1}"#, "");
    assert!(parse_frame(&text).is_err());
    assert_eq!(offending_id(&text).as_deref(), Some("m-1"));
    assert_eq!(
        offending_id(r#"{"id":"a","id":"b\u00e9"}"#).as_deref(),
        Some("bé")
    );
    assert_eq!(offending_id(r#"{"id":5}"#), None);
    assert_eq!(offending_id("[\"id\"]"), None);
    assert_eq!(offending_id("{\"id\":\"a\""), None);
}

#[test]
fn timestamps_are_written_with_microseconds_and_z() {
    assert_eq!(format_timestamp(T), "2026-11-22T17:55:12.942000Z");
    assert_eq!(
        format_timestamp(Timestamp(0)),
        "1970-01-01T00:00:00.000000Z"
    );
    assert_eq!(
        format_timestamp(Timestamp(u64::MAX)),
        "9999-12-31T23:59:59.999999Z"
    );
    let back = parse_datetime_text(&format_timestamp(T)).unwrap();
    assert_eq!(back.unix_micros, 1_795_370_112_942_000);
}

/// These exact texts were checked with the reference client's validation
/// (`Message(**json.loads(text))`, pydantic 2.12.5): it accepts all three.
#[test]
fn frames_the_gateway_sends() {
    let details: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"reason":"from_mismatch","n":[1,2.5,null,true]}"#).unwrap();
    let error = error_frame(&ErrorFrame {
        id: "e-1",
        from: "did:key:gateway",
        to: "did:key:agent",
        correlation_id: Some("m-1"),
        code: ErrorCode::MalformedMessage,
        message: "from does not match the registered DID: é",
        details: Some(&details),
        at: T,
    });
    assert_eq!(
        error,
        r#"{"id":"e-1","correlation_id":"m-1","timestamp":"2026-11-22T17:55:12.942000Z","from":"did:key:gateway","to":"did:key:agent","type":"ERROR","payload":{"code":"MALFORMED_MESSAGE","message":"from does not match the registered DID: \u00e9","details":{"n":[1,2.5,null,true],"reason":"from_mismatch"}},"version":"1.0","signature":""}"#
    );
    let frame = parse_frame(&error).unwrap();
    assert_eq!(frame.message_type(), Some(MessageType::Error));
    assert_eq!(frame.payload_model(), PayloadModel::Error);
    assert_eq!(frame.correlation_id(), Some("m-1"));

    let pong = pong_frame(&PongFrame {
        id: "p-1",
        from: "did:key:gateway",
        to: "did:key:agent",
        ping_id: "m-1",
        sequence: Some(&Integer::from(7)),
        at: T,
    });
    assert_eq!(
        pong,
        r#"{"id":"p-1","correlation_id":"m-1","timestamp":"2026-11-22T17:55:12.942000Z","from":"did:key:gateway","to":"did:key:agent","type":"PONG","payload":{"sequence":7},"version":"1.0","signature":""}"#
    );
    let frame = parse_frame(&pong).unwrap();
    assert_eq!(frame.sequence(), Some(&Integer::from(7)));
    assert_eq!(frame.correlation_id(), Some("m-1"));

    let bare = pong_frame(&PongFrame {
        id: "p-2",
        from: "did:key:gateway",
        to: "did:key:agent",
        ping_id: "m-2",
        sequence: None,
        at: T,
    });
    assert_eq!(
        bare,
        r#"{"id":"p-2","correlation_id":"m-2","timestamp":"2026-11-22T17:55:12.942000Z","from":"did:key:gateway","to":"did:key:agent","type":"PONG","payload":{},"version":"1.0","signature":""}"#
    );
    assert_eq!(
        parse_frame(&bare).unwrap().payload_model(),
        PayloadModel::Unregister
    );
}

#[test]
fn a_pong_echoes_a_sequence_of_any_size() {
    let text = base("PING", r#"{"sequence":123456789012345678901234567890}"#, "");
    let ping = parse_frame(&text).unwrap();
    let pong = pong_frame(&PongFrame {
        id: "p",
        from: "g",
        to: ping.from(),
        ping_id: ping.id(),
        sequence: ping.sequence(),
        at: T,
    });
    let back = parse_frame(&pong).unwrap();
    assert_eq!(
        back.sequence().map(Integer::as_str),
        Some("123456789012345678901234567890")
    );
    assert_eq!(back.sequence().and_then(Integer::to_i64), None);
}

#[test]
fn strict_mode_challenge_and_register() {
    let nonce = [0xabu8; 32];
    let expires = T.plus_millis(30_000);
    let text = challenge_frame(&ChallengeFrame {
        id: "c-1",
        gateway_did: "did:key:z6MkGateway",
        nonce: &nonce,
        connection_id: "conn-7",
        expires_at: expires,
        at: T,
    });
    assert_eq!(
        text,
        r#"{"id":"c-1","correlation_id":null,"timestamp":"2026-11-22T17:55:12.942000Z","from":"did:key:z6MkGateway","to":"","type":"CHALLENGE","payload":{"nonce":"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s","connection_id":"conn-7","expires_at":"2026-11-22T17:55:42.942000Z"},"version":"1.0","signature":""}"#
    );
    assert_eq!(
        parse_frame(&text).map(|_| ()),
        Err(IoapError::UnknownType("CHALLENGE".into()))
    );
    let frame = parse_frame_strict(&text).unwrap();
    assert_eq!(frame.mode(), Mode::Strict);
    assert_eq!(frame.frame_type(), FrameType::Server(ServerType::Challenge));
    assert_eq!(frame.message_type(), None);
    assert_eq!(frame.payload_model(), PayloadModel::Challenge);
    let challenge = frame.challenge().unwrap();
    assert_eq!(challenge.nonce_bytes, nonce);
    assert_eq!(challenge.nonce, encode_nonce(&nonce));
    assert_eq!(challenge.connection_id, "conn-7");
    assert_eq!(challenge.expires_at, format_timestamp(expires));
    assert_eq!(challenge.expires.unix_micros, 1_795_370_142_942_000);
    assert!(matches!(
        register_signing_bytes(&frame),
        Err(IoapError::Unsignable(_))
    ));

    let signed = strict_register_bytes(
        frame.from(),
        &challenge.nonce,
        &challenge.connection_id,
        &challenge.expires_at,
        "did:key:z6MkAgent",
    );
    assert_eq!(
        String::from_utf8(signed).unwrap(),
        "agentgate ioap.v2 register\ndid:key:z6MkGateway\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s\nconn-7\n2026-11-22T17:55:42.942000Z\ndid:key:z6MkAgent"
    );

    // IoAP v1 frames read the same in both modes.
    let offer = base("OFFER", r#"{"sdp":"v=0"}"#, "");
    let (a, b) = (
        parse_frame(&offer).unwrap(),
        parse_frame_strict(&offer).unwrap(),
    );
    assert_eq!((a.id(), a.payload_model()), (b.id(), b.payload_model()));
}

#[test]
fn strict_mode_refuses_malformed_challenges_and_takes_notices() {
    let challenge = |payload: &str| parse_frame_strict(&base("CHALLENGE", payload, "")).map(|_| ());
    let nonce = encode_nonce(&[1; 32]);
    let good =
        format!(r#"{{"nonce":"{nonce}","connection_id":"c","expires_at":"2026-11-22T17:55:42Z"}}"#);
    assert!(challenge(&good).is_ok());
    for bad in [
        "{}".to_owned(),
        good.replace('}', r#","extra":1}"#),
        good.replace(&nonce, &nonce[1..]),
        good.replace(&nonce, &format!("{nonce}=")),
        good.replace(&nonce, &nonce.replace('A', "+")),
        good.replace("\"c\"", "7"),
        good.replace("2026-11-22T17:55:42Z", "soon"),
    ] {
        assert!(
            matches!(challenge(&bad), Err(IoapError::BadChallenge(_))),
            "{bad}"
        );
    }
    for notice in ["REGISTERED", "RECEIPT"] {
        let text = base(notice, r#"{"status":"delivered","of":"m-1","n":[1]}"#, "");
        let frame = parse_frame_strict(&text).unwrap();
        assert_eq!(frame.payload_model(), PayloadModel::Object);
        assert_eq!(frame.frame_type().as_str(), notice);
        assert!(parse_frame(&base(notice, "{}", "")).is_err());
        assert_eq!(
            parse_frame_strict(&base(notice, "[]", "")).map(|_| ()),
            Err(IoapError::WrongType { field: "payload" })
        );
    }
}

#[test]
fn the_enums_read_back_their_names() {
    for t in MessageType::ALL {
        assert_eq!(MessageType::parse(t.as_str()), Some(t));
        assert_eq!(t.to_string(), t.as_str());
    }
    for t in ServerType::ALL {
        assert_eq!(ServerType::parse(t.as_str()), Some(t));
        assert_eq!(MessageType::parse(t.as_str()), None);
    }
    for c in ErrorCode::ALL {
        assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
    }
    assert_eq!(MessageType::parse("Register"), None);
    assert_eq!(ErrorCode::parse("INVALID_MESSAGE"), None);
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,16}",
        "\\PC{0,16}",
        proptest::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
    ]
}

fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        // Quarters are exact in binary, so serde_json reads them back exactly.
        (-4e6f64..4e6).prop_map(|f| serde_json::Value::from((f * 4.0).round() / 4.0)),
        text().prop_map(serde_json::Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    json_leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0u64..=253_402_300_799_999).prop_map(Timestamp)
}

/// A value of the JSON types frames hold, written as text (Python extensions included).
fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("NaN".to_owned()),
        Just("-Infinity".to_owned()),
        Just("{}".to_owned()),
        Just("[]".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        text().prop_map(|s| serde_json::Value::String(s).to_string()),
        "\"[0-9 .:TZ+_-]{0,32}\"",
        Just(r#""\ud800""#.to_owned()),
    ]
}

const PAYLOAD_KEYS: [&str; 26] = [
    "public_key",
    "reason",
    "sdp",
    "candidate",
    "sdp_mid",
    "sdp_mline_index",
    "query",
    "context",
    "task",
    "params",
    "status",
    "required_input",
    "cost",
    "args",
    "timeout_ms",
    "stream",
    "result",
    "error",
    "execution_time_ms",
    "stream_url",
    "code",
    "message",
    "details",
    "sequence",
    "bogus",
    "nonce",
];

/// Frames built from envelope keys and payload keys with values of every type.
fn frame_like() -> impl Strategy<Value = String> {
    let envelope_keys = proptest::sample::select(vec![
        "id",
        "correlation_id",
        "timestamp",
        "from",
        "from_did",
        "to",
        "to_did",
        "type",
        "version",
        "signature",
        "other",
    ]);
    let types = proptest::sample::select(vec![
        "\"REGISTER\"",
        "\"OFFER\"",
        "\"PING\"",
        "\"ERROR\"",
        "\"CHALLENGE\"",
        "\"RECEIPT\"",
        "5",
    ]);
    (
        proptest::collection::vec((envelope_keys, json_text()), 0..10),
        types,
        proptest::collection::vec(
            (proptest::sample::select(PAYLOAD_KEYS.to_vec()), json_text()),
            0..5,
        ),
    )
        .prop_map(|(envelope, typ, payload)| {
            let mut out = String::from(r#"{"id":"i","from":"f","to":"t","signature":"","type":"#);
            out.push_str(typ);
            for (k, v) in envelope {
                out.push_str(&format!(",\"{k}\":{v}"));
            }
            out.push_str(",\"payload\":{");
            for (i, (k, v)) in payload.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&format!("\"{k}\":{v}"));
            }
            out.push_str("}}");
            out
        })
}

proptest! {
    #[test]
    fn error_frames_always_read_back(
        id in text(), from in text(), to in text(), message in text(),
        correlation in proptest::option::of(text()),
        code in proptest::sample::select(ErrorCode::ALL.to_vec()),
        details in proptest::option::of(proptest::collection::btree_map(text(), json_value(), 0..4)),
        at in timestamp(),
    ) {
        let details: Option<serde_json::Map<String, serde_json::Value>> =
            details.map(|d| d.into_iter().collect());
        let out = error_frame(&ErrorFrame {
            id: &id, from: &from, to: &to, correlation_id: correlation.as_deref(), code,
            message: &message, details: details.as_ref(), at,
        });
        let frame = parse_frame(&out).unwrap();
        prop_assert_eq!(frame.id(), id.as_str());
        prop_assert_eq!(frame.from(), from.as_str());
        prop_assert_eq!(frame.to(), to.as_str());
        prop_assert_eq!(frame.correlation_id(), correlation.as_deref());
        prop_assert_eq!(frame.message_type(), Some(MessageType::Error));
        prop_assert_eq!(frame.payload_model(), PayloadModel::Error);
        prop_assert_eq!(frame.timestamp().map(|t| t.unix_micros), Some(at.millis() as i64 * 1000));
        let payload: serde_json::Value = serde_json::from_str(frame.payload_raw()).unwrap();
        prop_assert_eq!(&payload["code"], code.as_str());
        prop_assert_eq!(&payload["message"], message.as_str());
        if let Some(d) = &details {
            prop_assert_eq!(&payload["details"], &serde_json::Value::Object(d.clone()));
        }
        prop_assert!(parse_frame_strict(&out).is_ok());
        prop_assert!(register_signing_bytes(&frame).is_ok());
    }

    #[test]
    fn pong_frames_always_read_back(
        id in text(), from in text(), to in text(), ping_id in text(),
        sequence in proptest::option::of(any::<i64>()), at in timestamp(),
    ) {
        let sequence = sequence.map(Integer::from);
        let out = pong_frame(&PongFrame {
            id: &id, from: &from, to: &to, ping_id: &ping_id, sequence: sequence.as_ref(), at,
        });
        let frame = parse_frame(&out).unwrap();
        prop_assert_eq!(frame.message_type(), Some(MessageType::Pong));
        prop_assert_eq!(frame.correlation_id(), Some(ping_id.as_str()));
        prop_assert_eq!(frame.sequence(), sequence.as_ref());
    }

    #[test]
    fn challenge_frames_always_read_back(
        id in text(), gateway in text(), nonce in any::<[u8; 32]>(),
        connection in text(), expires in timestamp(), at in timestamp(),
    ) {
        let out = challenge_frame(&ChallengeFrame {
            id: &id, gateway_did: &gateway, nonce: &nonce, connection_id: &connection,
            expires_at: expires, at,
        });
        let frame = parse_frame_strict(&out).unwrap();
        let challenge = frame.challenge().unwrap();
        prop_assert_eq!(challenge.nonce_bytes, nonce);
        prop_assert_eq!(challenge.connection_id.as_ref(), connection.as_str());
        prop_assert_eq!(challenge.expires.unix_micros, expires.millis() as i64 * 1000);
    }

    #[test]
    fn parsing_never_panics(text in "\\PC{0,200}") {
        for mode in [Mode::Compat, Mode::Strict] {
            if let Ok(frame) = parse_frame_in(&text, mode) {
                let _ = register_signing_bytes(&frame);
            }
        }
        let _ = offending_id(&text);
    }

    #[test]
    fn frame_like_text_never_panics_and_relays_unchanged(text in frame_like()) {
        for mode in [Mode::Compat, Mode::Strict] {
            if let Ok(frame) = parse_frame_in(&text, mode) {
                prop_assert!(std::ptr::eq(frame.text(), text.as_str()));
                let payload = frame.payload_raw();
                let start = payload.as_ptr() as usize - text.as_ptr() as usize;
                prop_assert_eq!(&text[start..start + payload.len()], payload);
                if let Ok(bytes) = register_signing_bytes(&frame) {
                    // The signed text is ASCII JSON.
                    prop_assert!(bytes.is_ascii());
                }
            }
        }
    }

    #[test]
    fn valid_frames_relay_byte_for_byte(
        sdp in text(), extra in json_value(), at in timestamp(),
    ) {
        let text = format!(
            r#"{{"id":"m","timestamp":"{}","from":"a","to":"b","type":"OFFER","payload":{{"sdp":{}}},"signature":"","extension":{}}}"#,
            format_timestamp(at),
            serde_json::Value::String(sdp.clone()),
            extra,
        );
        let frame = parse_frame(&text).unwrap();
        prop_assert_eq!(frame.text(), text.as_str());
        let payload: serde_json::Value = serde_json::from_str(frame.payload_raw()).unwrap();
        prop_assert_eq!(&payload["sdp"], sdp.as_str());
    }
}

#[test]
fn registered_names_the_agent_and_answers_its_register() {
    let text = registered_frame(&RegisteredFrame {
        id: "r-1",
        gateway_did: "did:key:z6MkGateway",
        agent_did: "did:key:z6MkAgent",
        connection_id: "conn-7",
        register_id: "reg-1",
        at: T,
    });
    assert_eq!(
        text,
        r#"{"id":"r-1","correlation_id":"reg-1","timestamp":"2026-11-22T17:55:12.942000Z","from":"did:key:z6MkGateway","to":"did:key:z6MkAgent","type":"REGISTERED","payload":{"did":"did:key:z6MkAgent","connection_id":"conn-7"},"version":"1.0","signature":""}"#
    );
    let frame = parse_frame_strict(&text).unwrap();
    assert_eq!(
        frame.frame_type(),
        FrameType::Server(ServerType::Registered)
    );
    assert!(parse_frame(&text).is_err());
}

#[test]
fn receipts_report_each_status_about_the_frame() {
    for status in [
        ReceiptStatus::Delivered,
        ReceiptStatus::Queued,
        ReceiptStatus::Expired,
    ] {
        let text = receipt_frame(&ReceiptFrame {
            id: "rc-1",
            gateway_did: "did:key:z6MkGateway",
            to: "did:key:z6MkAgent",
            message_id: "offer-9",
            status,
            at: T,
        });
        let frame = parse_frame_strict(&text).unwrap();
        assert_eq!(frame.frame_type(), FrameType::Server(ServerType::Receipt));
        assert_eq!(frame.correlation_id(), Some("offer-9"));
        let v: serde_json::Value = serde_json::from_str(frame.payload_raw()).unwrap();
        assert_eq!(v["status"], status.as_str());
        assert_eq!(v["message_id"], "offer-9");
    }
}
