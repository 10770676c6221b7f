//! Reference vectors, produced by running the AIConexus reference code itself: CPython
//! 3.11, pydantic 2.12.5 and the repository's `aiconexus.protocol` package
//! (mbathe/Aiconexus at 1356470). `CLIENT_REGISTERS` come from the steps of
//! `GatewayClient.register` and `GatewayClient.send`; `VALIDATION` records what
//! `Message(**json.loads(text))` made of each frame (refused, or the payload model it
//! selected, the timestamp it read, and the model dump the client would sign);
//! `HAND_BUILT` is a plain `json.dumps` of an object written out by hand.
//!
//! The script that printed this file (after this header) is at the end, as a comment.
//! Run it from the reference repository's root, with the repository's dependencies
//! installed (pydantic 2.12.5, cryptography and base58 among them).

/// REGISTER frames built and sent by the reference GatewayClient's own code:
/// (wire text, the bytes it signed, the public key in hex).
pub(super) const CLIENT_REGISTERS: &[(&str, &str, &str)] = &[
    (
        "{\"id\": \"00000000-0000-4000-8000-000000000001\", \"correlation_id\": null, \"timestamp\": \"2026-11-22T17:55:12.942677Z\", \"from\": \"did:key:z6MkGmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB\", \"to\": \"did:key:z6MkGmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB\", \"type\": \"REGISTER\", \"payload\": {\"public_key\": \"GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB\"}, \"version\": \"1.0\", \"signature\": \"VvMLpZ9bwy0f9CJAYwzfiwcCIRnwYQRgaCn6OtdQTa49y0xY/zfFD7XDoOmwi+/DMiuDPM/A4BbD770pS/EVCQ==\"}",
        "{\"correlation_id\":null,\"from\":\"did:key:z6MkGmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB\",\"id\":\"00000000-0000-4000-8000-000000000001\",\"payload\":{\"public_key\":\"GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:z6MkGmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB\",\"type\":\"REGISTER\",\"version\":\"1.0\"}",
        "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
    ),
    (
        "{\"id\": \"00000000-0000-4000-8000-000000000002\", \"correlation_id\": null, \"timestamp\": \"2026-11-22T17:55:13Z\", \"from\": \"did:key:z6Mk2KW2XRd9kwqet15Aha2oK3tYvd3nWbTFH1MBiRAv1BE1\", \"to\": \"did:key:z6Mk2KW2XRd9kwqet15Aha2oK3tYvd3nWbTFH1MBiRAv1BE1\", \"type\": \"REGISTER\", \"payload\": {\"public_key\": \"did:key:z6Mk2KW2XRd9kwqet15Aha2oK3tYvd3nWbTFH1MBiRAv1BE1\"}, \"version\": \"1.0\", \"signature\": \"c3el+5Kch6hTpDzO/CE9sHizbiSPTuaarfYOHVWJfp6vmLDKoA9YWSZjpsG8YO95906aYqbRP04+pcAZ8YjeDw==\"}",
        "{\"correlation_id\":null,\"from\":\"did:key:z6Mk2KW2XRd9kwqet15Aha2oK3tYvd3nWbTFH1MBiRAv1BE1\",\"id\":\"00000000-0000-4000-8000-000000000002\",\"payload\":{\"public_key\":\"did:key:z6Mk2KW2XRd9kwqet15Aha2oK3tYvd3nWbTFH1MBiRAv1BE1\"},\"timestamp\":\"2026-11-22T17:55:13\",\"to\":\"did:key:z6Mk2KW2XRd9kwqet15Aha2oK3tYvd3nWbTFH1MBiRAv1BE1\",\"type\":\"REGISTER\",\"version\":\"1.0\"}",
        "1398f62c6d1a457c51ba6a4b5f3dbd2f69fca93216218dc8997e416bd17d93ca",
    ),
    (
        "{\"id\": \"00000000-0000-4000-8000-000000000003\", \"correlation_id\": null, \"timestamp\": \"2027-02-28T23:59:59.000005Z\", \"from\": \"did:key:z6MkFAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF\", \"to\": \"did:key:z6MkFAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF\", \"type\": \"REGISTER\", \"payload\": {\"public_key\": \"did:key:z6MkFAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF\"}, \"version\": \"1.0\", \"signature\": \"el/CAGAcMjM9rymFc8gjseW2JgMh75LgLgWWIcqLeNX/1FlO1L1OTIeJzRSKL1btCtiVeLYAvPo7uUyRmVPJBA==\"}",
        "{\"correlation_id\":null,\"from\":\"did:key:z6MkFAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF\",\"id\":\"00000000-0000-4000-8000-000000000003\",\"payload\":{\"public_key\":\"did:key:z6MkFAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF\"},\"timestamp\":\"2027-02-28T23:59:59.000005\",\"to\":\"did:key:z6MkFAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF\",\"type\":\"REGISTER\",\"version\":\"1.0\"}",
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
    ),
];

/// Frames judged by the reference client's validation: (frame, None when refused, or
/// Some((payload model, timestamp as (unix micros, utc offset), signed bytes or "")).
#[allow(clippy::type_complexity)]
pub(super) const VALIDATION: &[(&str, Option<(&str, Option<(i64, Option<i32>)>, &str)>)] = &[
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}}",
        Some(("Unregister", None, "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"REGISTER\",\"payload\":{\"public_key\":\"abc\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Register",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"public_key\":\"abc\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"REGISTER\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"from_did\":\"F\",\"to_did\":\"T\",\"id\":\"a\",\"signature\":\"s\",\"type\":\"OFFER\",\"payload\":{\"sdp\":\"v=0\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Offer",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"F\",\"id\":\"a\",\"payload\":{\"sdp\":\"v=0\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"T\",\"type\":\"OFFER\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"from\":\"F\",\"from_did\":\"G\",\"to_did\":\"T\",\"to\":\"U\",\"id\":\"a\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"F\",\"id\":\"a\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"U\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"from\":5,\"from_did\":\"F\",\"to_did\":\"T\",\"id\":\"a\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}}",
        None,
    ),
    (
        "{\"from\":null,\"from_did\":\"F\",\"to\":\"T\",\"id\":\"a\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"version\":\"9.9\",\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"9.9\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"version\":null}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"version\":1}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"correlation_id\":\"c-1\",\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":\"c-1\",\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"correlation_id\":null,\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"correlation_id\":7}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"extra\":{\"deep\":[1,2,{\"x\":null}]},\"signature2\":5,\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"a\",\"from\":\"f\",\"to\":\"t\",\"type\":\"PING\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"a\",\"from\":\"f\",\"to\":\"t\",\"signature\":null,\"type\":\"PING\",\"payload\":{}}",
        None,
    ),
    (
        "{\"from\":\"f\",\"to\":\"t\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":5,\"from\":\"f\",\"to\":\"t\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"a\",\"to\":\"t\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"a\",\"from\":\"f\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"a\",\"from\":\"f\",\"to\":\"t\",\"signature\":\"\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"a\",\"from\":\"f\",\"to\":\"t\",\"signature\":\"\",\"type\":\"PING\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"ping\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"CHALLENGE\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"RECEIPT\",\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":5,\"payload\":{}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":[]}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":null}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":\"x\"}",
        None,
    ),
    ("[]", None),
    ("\"frame\"", None),
    ("1", None),
    ("null", None),
    ("{}", None),
    (
        "{\"id\":\"a\",\"id\":\"b\",\"from\":\"f\",\"to\":\"t\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sdp\":1},\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"f\",\"id\":\"b\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"t\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"\\u0069d\":\"a\",\"from\":\"f\",\"to\":\"t\",\"signature\":\"\",\"type\":\"PING\",\"p\\u0061yload\":{\"s\\u0064p\":\"x\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Offer",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"f\",\"id\":\"a\",\"payload\":{\"sdp\":\"x\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"t\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"a\\ud800\",\"from\":\"f\\u00e9\\ud83d\\ude00\",\"to\":\"t\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":\"\\udc00\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"f\\u00e9\\ud83d\\ude00\",\"id\":\"a\\ud800\",\"payload\":{\"error\":null,\"execution_time_ms\":null,\"result\":\"\\udc00\",\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"t\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"\u{e9}\u{1f600}\",\"from\":\"f\",\"to\":\"t\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"reason\":\"na\u{ef}ve \u{1f600}\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"f\",\"id\":\"\\u00e9\\ud83d\\ude00\",\"payload\":{\"reason\":\"na\\u00efve \\ud83d\\ude00\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"t\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        " \u{a}{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}} \u{9}\u{d}\u{a}",
        Some(("Unregister", None, "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"public_key\":\"k\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Register",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"public_key\":\"k\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"public_key\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"public_key\":\"k\",\"reason\":\"r\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"reason\":\"bye\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":\"bye\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Unregister",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"reason\":5},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sdp\":\"v=0\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Offer",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sdp\":\"v=0\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sdp\":\"x\",\"bogus\":1},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sdp\":2,\"sdp\":\"x\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Offer",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sdp\":\"x\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sdp\":\"x\",\"sdp\":2},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sdp\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"candidate\":\"c\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "IceCandidate",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"candidate\":\"c\",\"sdp_mid\":null,\"sdp_mline_index\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"candidate\":\"c\",\"sdp_mid\":\"0\",\"sdp_mline_index\":\"3\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "IceCandidate",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"candidate\":\"c\",\"sdp_mid\":\"0\",\"sdp_mline_index\":3},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"candidate\":\"c\",\"sdp_mline_index\":1.5},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"candidate\":\"c\",\"sdp_mid\":null,\"sdp_mline_index\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "IceCandidate",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"candidate\":\"c\",\"sdp_mid\":null,\"sdp_mline_index\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sdp_mid\":\"0\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"query\":\"q\",\"params\":{\"a\":[1,2.5,\"\\u00e9\"],\"b\":{\"z\":1,\"a\":2}}},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Intent",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"context\":null,\"cost\":null,\"params\":{\"a\":[1,2.5,\"\\u00e9\"],\"b\":{\"a\":2,\"z\":1}},\"query\":\"q\",\"required_input\":null,\"status\":null,\"task\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"params\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Intent",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"context\":null,\"cost\":null,\"params\":null,\"query\":null,\"required_input\":null,\"status\":null,\"task\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"params\":[]},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"status\":\"x\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Intent",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"context\":null,\"cost\":null,\"params\":null,\"query\":null,\"required_input\":null,\"status\":\"x\",\"task\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"status\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Intent",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"context\":null,\"cost\":null,\"params\":null,\"query\":null,\"required_input\":null,\"status\":null,\"task\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"status\":\"x\",\"result\":1},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":null,\"result\":1,\"status\":\"x\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"status\":null,\"result\":1},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"args\":{}},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":false,\"timeout_ms\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"args\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"args\":{\"k\":\"v\"},\"timeout_ms\":\"5000\",\"stream\":\"yes\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{\"k\":\"v\"},\"stream\":true,\"timeout_ms\":5000},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"stream\":\"off\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":false,\"timeout_ms\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"stream\":1},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":true,\"timeout_ms\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"stream\":1.0},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":true,\"timeout_ms\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"stream\":2},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"stream\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":null,\"timeout_ms\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"stream\":\"Y\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":true,\"timeout_ms\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"stream\":\" yes\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"timeout_ms\":true},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":false,\"timeout_ms\":1},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"timeout_ms\":1e3},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":false,\"timeout_ms\":1000},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"timeout_ms\":\"1_000\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":false,\"timeout_ms\":1000},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"timeout_ms\":\" -007 \"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":false,\"timeout_ms\":-7},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"timeout_ms\":\"5.000\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":false,\"timeout_ms\":5},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"timeout_ms\":\"5.5\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"timeout_ms\":\"0x10\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"timeout_ms\":123456789012345678901234567890},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecRequest",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"args\":{},\"stream\":false,\"timeout_ms\":123456789012345678901234567890},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":NaN,\"execution_time_ms\":Infinity},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":Infinity,\"result\":NaN,\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":[1e400,-0,-0.0,1E2,0.1]},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":null,\"result\":[Infinity,0,-0.0,100.0,0.1],\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"execution_time_ms\":5},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":5.0,\"result\":null,\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"execution_time_ms\":true},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":1.0,\"result\":null,\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"execution_time_ms\":-0},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":0.0,\"result\":null,\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"execution_time_ms\":-0.0},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":-0.0,\"result\":null,\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"execution_time_ms\":\"2.5e-7\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":2.5e-07,\"result\":null,\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"execution_time_ms\":\"inf\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":Infinity,\"result\":null,\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"execution_time_ms\":\"x\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"execution_time_ms\":10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"error\":\"e\",\"status\":\"error\",\"stream_url\":\"u\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":\"e\",\"execution_time_ms\":null,\"result\":null,\"status\":\"error\",\"stream_url\":\"u\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"code\":\"TIMEOUT\",\"message\":\"m\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Error",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"code\":\"TIMEOUT\",\"details\":null,\"message\":\"m\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"code\":\"TIMEOUT\",\"message\":\"m\",\"details\":{\"reason\":\"x\"}},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Error",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"code\":\"TIMEOUT\",\"details\":{\"reason\":\"x\"},\"message\":\"m\"},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"code\":\"TIMEOUT\",\"message\":\"m\",\"details\":[]},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"code\":\"INVALID_MESSAGE\",\"message\":\"m\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"code\":\"timeout\",\"message\":\"m\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"code\":\"TIMEOUT\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":7},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Ping",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sequence\":7},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":\"7\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Ping",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sequence\":7},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":true},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Ping",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sequence\":1},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":5.0},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Ping",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sequence\":5},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":5.5},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":null},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Ping",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sequence\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":-0},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Ping",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sequence\":0},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":1e400},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"sequence\":999999999999999999999999999999},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "Ping",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"sequence\":999999999999999999999999999999},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"bogus\":1},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"public_key\":\"k\",\"sdp\":\"x\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":-Infinity},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":null,\"result\":-Infinity,\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":\"\\ud83d\\ud83d\\u0000\\u007f\\b\"},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":null,\"result\":\"\\ud83d\\ud83d\\u0000\\u007f\\b\",\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":{\"\\uffff\":1,\"\u{1f600}\":2,\"\\ud800\":3,\"a\":4,\"a\":5}},\"timestamp\":\"2026-11-22T17:55:12.942677Z\"}",
        Some((
            "ExecResponse",
            Some((1795370112942677, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"error\":null,\"execution_time_ms\":null,\"result\":{\"a\":5,\"\\ud800\":3,\"\\uffff\":1,\"\\ud83d\\ude00\":2},\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":01}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":1.}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":\"\u{1}\"}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{\"result\":+1}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12.942677\"}",
        Some((
            "Unregister",
            Some((1795370112942677, None)),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12\"}",
        Some((
            "Unregister",
            Some((1795370112000000, None)),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22 17:55\"}",
        Some((
            "Unregister",
            Some((1795370100000000, None)),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22 17:55\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22t17:55:12.1z\"}",
        Some((
            "Unregister",
            Some((1795370112100000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22t17:55:12.1z\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12.123456789Z\"}",
        Some((
            "Unregister",
            Some((1795370112123456, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12.123456789\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12,5+05:30\"}",
        Some((
            "Unregister",
            Some((1795350312500000, Some(19800))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12,5+05:30\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12-0800\"}",
        Some((
            "Unregister",
            Some((1795398912000000, Some(-28800))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12-0800\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12\u{2212}01:00\"}",
        Some((
            "Unregister",
            Some((1795373712000000, Some(-3600))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12\\u221201:00\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22_17:55:12\"}",
        Some((
            "Unregister",
            Some((1795370112000000, None)),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22_17:55:12\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22\"}",
        Some((
            "Unregister",
            Some((1795305600000000, None)),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12+00:00Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12Z \"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-02-29T00:00:00\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2024-02-29T00:00:00\"}",
        Some((
            "Unregister",
            Some((1709164800000000, None)),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2024-02-29T00:00:00\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T24:00:00\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:60:00\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:60\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"0000-01-01T00:00:00\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"0001-01-01T00:00:00\"}",
        Some((
            "Unregister",
            Some((-62135596800000000, None)),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"0001-01-01T00:00:00\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"9999-12-31T23:59:59.999999\"}",
        Some((
            "Unregister",
            Some((253402300799999999, None)),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"9999-12-31T23:59:59.999999\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12+24:00\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12+23:59\"}",
        Some((
            "Unregister",
            Some((1795283772000000, Some(86340))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12+23:59\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"1795283712\"}",
        Some((
            "Unregister",
            Some((1795283712000000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"1795283712\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"1795283712942\"}",
        Some((
            "Unregister",
            Some((1795283712942000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"1795283712942\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"1795283712.5\"}",
        Some((
            "Unregister",
            Some((1795283712500000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"1795283712.5\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"-1.25\"}",
        Some((
            "Unregister",
            Some((-1250000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"-1.25\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"-.5\"}",
        Some((
            "Unregister",
            Some((-500000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"-.5\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"17952837120.5\"}",
        Some((
            "Unregister",
            Some((17952837120500000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"17952837120.5\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"25000000000000.5\"}",
        Some((
            "Unregister",
            Some((25000000000500, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"25000000000000.5\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"1e9\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"+1795283712\"}",
        Some((
            "Unregister",
            Some((1795283712000000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"+1795283712\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\" 1795283712\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"now\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":1795283712}",
        Some(("Unregister", Some((1795283712000000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":1795283712942}",
        Some(("Unregister", Some((1795283712942000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":1795283712.942677}",
        Some(("Unregister", Some((1795283712942677, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":-1}",
        Some(("Unregister", Some((-1000000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":0}",
        Some(("Unregister", Some((0, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":2e10}",
        Some(("Unregister", Some((20000000000000000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":20000000001}",
        Some(("Unregister", Some((20000000001000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":253402300799}",
        Some(("Unregister", Some((253402300799000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":253402300800}",
        Some(("Unregister", Some((253402300800000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":-62135596800}",
        Some(("Unregister", Some((-62135596800000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":-62135596801}",
        Some(("Unregister", Some((-62135596801000, Some(0))), "")),
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":1e300}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":NaN}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":true}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":null}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":[]}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":{}}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"2026-11-22T17:55:12.Z\"}",
        None,
    ),
    (
        "{\"id\":\"m-1\",\"from\":\"did:key:a\",\"to\":\"did:key:b\",\"signature\":\"\",\"type\":\"PING\",\"payload\":{},\"timestamp\":\"\\u0032026-11-22T17:55:12Z\"}",
        Some((
            "Unregister",
            Some((1795370112000000, Some(0))),
            "{\"correlation_id\":null,\"from\":\"did:key:a\",\"id\":\"m-1\",\"payload\":{\"reason\":null},\"timestamp\":\"2026-11-22T17:55:12\",\"to\":\"did:key:b\",\"type\":\"PING\",\"version\":\"1.0\"}",
        )),
    ),
];

/// A REGISTER whose payload is an EXEC_RESPONSE one (valid: the payload is not tied
/// to the type), with non-ASCII and astral text and floats; the signed bytes are
/// `json.dumps(obj, sort_keys=True, separators=(",", ":"))` of the object built by hand.
pub(super) const HAND_BUILT: (&str, &str) = (
    "{\"correlation_id\": null, \"from\": \"did:key:z6Mk11111111111111111111111111111111\", \"id\": \"r\u{e9}glage-\u{1f600}\", \"payload\": {\"result\": {\"name\": \"na\u{ef}ve \u{2603} \u{1f600}\", \"ratio\": 0.1, \"big\": 1e+16, \"n\": -3}, \"execution_time_ms\": 12.5}, \"timestamp\": \"2026-11-22T17:55:12.942677Z\", \"to\": \"did:key:z6Mk11111111111111111111111111111111\", \"type\": \"REGISTER\", \"version\": \"1.0\", \"signature\": \"\"}",
    "{\"correlation_id\":null,\"from\":\"did:key:z6Mk11111111111111111111111111111111\",\"id\":\"r\\u00e9glage-\\ud83d\\ude00\",\"payload\":{\"error\":null,\"execution_time_ms\":12.5,\"result\":{\"big\":1e+16,\"n\":-3,\"name\":\"na\\u00efve \\u2603 \\ud83d\\ude00\",\"ratio\":0.1},\"status\":\"success\",\"stream_url\":null},\"timestamp\":\"2026-11-22T17:55:12.942677\",\"to\":\"did:key:z6Mk11111111111111111111111111111111\",\"type\":\"REGISTER\",\"version\":\"1.0\"}",
);

// ---- The generating script ----
//
// """Builds the reference vectors for agentgate's IoAP codec tests by running the
// AIConexus reference code itself (pydantic 2.12.5, json, the repository's models,
// security and serialization modules)."""
// import json, sys, uuid, datetime as dt
// sys.path.insert(0, "src")  # run from the reference repository's root
// from aiconexus.protocol.models import Message, RegisterPayload, MessageType
// from aiconexus.protocol.security import DIDKey, MessageSigner
// from aiconexus.protocol.serialization import MessageSerializer
//
// def rust_str(s):
//     out = []
//     for ch in s:
//         o = ord(ch)
//         if ch == "\\": out.append("\\\\")
//         elif ch == '"': out.append('\\"')
//         elif 0x20 <= o < 0x7f: out.append(ch)
//         else: out.append("\\u{%x}" % o)
//     return '"' + "".join(out) + '"'
//
// # ---- 1. REGISTER frames exactly as GatewayClient.register() builds and sends them.
// def client_register(private, public_key_kind, when, mid):
//     key = DIDKey.from_private_key_bytes(bytes(private))
//     agent_did = key.did
//     public_key = key.public_key_base58 if public_key_kind == "bare" else agent_did
//     payload = RegisterPayload(public_key=public_key)
//     message = Message(id=str(uuid.UUID(int=mid, version=4)), type=MessageType.REGISTER,
//                       **{"from": agent_did, "to": agent_did}, payload=payload.model_dump(),
//                       timestamp=when, signature="")
//     message_dict = message.model_dump(exclude={'signature'}, by_alias=True)
//     message_dict['timestamp'] = message_dict['timestamp'].isoformat()
//     signed = MessageSigner.canonical_json(message_dict)
//     signature = MessageSigner.sign_message(message_dict, key)
//     message.signature = signature
//     send_dict = message.model_dump(by_alias=True)
//     send_dict['timestamp'] = send_dict['timestamp'].isoformat()
//     # GatewayClient.send()
//     msg_obj = Message(**send_dict)
//     wire = MessageSerializer.to_json(msg_obj.model_dump(by_alias=True))
//     return wire, signed, key.public_key_bytes.hex()
//
// print("/// REGISTER frames built and sent by the reference GatewayClient's own code:")
// print("/// (wire text, the bytes it signed, the public key in hex).")
// print("pub(super) const CLIENT_REGISTERS: &[(&str, &str, &str)] = &[")
// for private, kind, when, mid in [
//     ([7] * 32, "bare", dt.datetime(2026, 11, 22, 17, 55, 12, 942677), 1),
//     ([8] * 32, "did", dt.datetime(2026, 11, 22, 17, 55, 13, 0), 2),
//     (list(range(32)), "did", dt.datetime(2027, 2, 28, 23, 59, 59, 5), 3),
// ]:
//     wire, signed, pk = client_register(private, kind, when, mid)
//     print(f"    ({rust_str(wire)}, {rust_str(signed)}, {rust_str(pk)}),")
// print("];")
// print()
//
// # ---- 2. Frames judged by json.loads + Message(**data).
// B = '"id":"m-1","from":"did:key:a","to":"did:key:b","signature":""'
// def frame(typ="PING", payload="{}", extra=""):
//     return "{" + B + ',"type":"' + typ + '","payload":' + payload + extra + "}"
// TS = ',"timestamp":"2026-11-22T17:55:12.942677Z"'
//
// cases = []
// # Envelope shape.
// cases += [frame(), frame(extra=TS), frame("REGISTER", '{"public_key":"abc"}', TS),
//           '{"from_did":"F","to_did":"T","id":"a","signature":"s","type":"OFFER","payload":{"sdp":"v=0"}' + TS + '}',
//           '{"from":"F","from_did":"G","to_did":"T","to":"U","id":"a","signature":"","type":"PING","payload":{}' + TS + '}',
//           '{"from":5,"from_did":"F","to_did":"T","id":"a","signature":"","type":"PING","payload":{}}',
//           '{"from":null,"from_did":"F","to":"T","id":"a","signature":"","type":"PING","payload":{}}',
//           frame(extra=',"version":"9.9"' + TS), frame(extra=',"version":null'), frame(extra=',"version":1'),
//           frame(extra=',"correlation_id":"c-1"' + TS), frame(extra=',"correlation_id":null' + TS), frame(extra=',"correlation_id":7'),
//           frame(extra=',"extra":{"deep":[1,2,{"x":null}]},"signature2":5' + TS),
//           '{"id":"a","from":"f","to":"t","type":"PING","payload":{}}',
//           '{"id":"a","from":"f","to":"t","signature":null,"type":"PING","payload":{}}',
//           '{"from":"f","to":"t","signature":"","type":"PING","payload":{}}',
//           '{"id":5,"from":"f","to":"t","signature":"","type":"PING","payload":{}}',
//           '{"id":"a","to":"t","signature":"","type":"PING","payload":{}}',
//           '{"id":"a","from":"f","signature":"","type":"PING","payload":{}}',
//           '{"id":"a","from":"f","to":"t","signature":"","payload":{}}',
//           '{"id":"a","from":"f","to":"t","signature":"","type":"PING"}',
//           frame("ping"), frame("CHALLENGE"), frame("RECEIPT"), '{' + B + ',"type":5,"payload":{}}',
//           frame(payload="[]"), frame(payload="null"), frame(payload='"x"'),
//           "[]", '"frame"', "1", "null", "{}",
//           '{"id":"a","id":"b","from":"f","to":"t","signature":"","type":"PING","payload":{"sdp":1},"payload":{}' + TS + '}',
//           '{"\\u0069d":"a","from":"f","to":"t","signature":"","type":"PING","p\\u0061yload":{"s\\u0064p":"x"}' + TS + '}',
//           '{"id":"a\\ud800","from":"f\\u00e9\\ud83d\\ude00","to":"t","signature":"","type":"PING","payload":{"result":"\\udc00"}' + TS + '}',
//           '{"id":"é😀","from":"f","to":"t","signature":"","type":"PING","payload":{"reason":"naïve 😀"}' + TS + '}',
//           ' \n{' + B + ',"type":"PING","payload":{}} \t\r\n',
//           '{' + B + ',"type":"PING","payload":{}',
//           '{' + B + ',"type":"PING","payload":{},}',
//           ]
// # Payload models and the untagged union.
// for p in ['{"public_key":"k"}', '{"public_key":null}', '{"public_key":"k","reason":"r"}',
//           '{"reason":"bye"}', '{"reason":null}', '{"reason":5}',
//           '{"sdp":"v=0"}', '{"sdp":"x","bogus":1}', '{"sdp":2,"sdp":"x"}', '{"sdp":"x","sdp":2}', '{"sdp":null}',
//           '{"candidate":"c"}', '{"candidate":"c","sdp_mid":"0","sdp_mline_index":"3"}', '{"candidate":"c","sdp_mline_index":1.5}',
//           '{"candidate":"c","sdp_mid":null,"sdp_mline_index":null}', '{"sdp_mid":"0"}',
//           '{"query":"q","params":{"a":[1,2.5,"\\u00e9"],"b":{"z":1,"a":2}}}', '{"params":null}', '{"params":[]}',
//           '{"status":"x"}', '{"status":null}', '{"status":"x","result":1}', '{"status":null,"result":1}',
//           '{"args":{}}', '{"args":null}', '{"args":{"k":"v"},"timeout_ms":"5000","stream":"yes"}', '{"stream":"off"}',
//           '{"stream":1}', '{"stream":1.0}', '{"stream":2}', '{"stream":null}', '{"stream":"Y"}', '{"stream":" yes"}',
//           '{"timeout_ms":true}', '{"timeout_ms":1e3}', '{"timeout_ms":"1_000"}', '{"timeout_ms":" -007 "}', '{"timeout_ms":"5.000"}',
//           '{"timeout_ms":"5.5"}', '{"timeout_ms":"0x10"}', '{"timeout_ms":123456789012345678901234567890}',
//           '{"result":NaN,"execution_time_ms":Infinity}', '{"result":[1e400,-0,-0.0,1E2,0.1]}', '{"execution_time_ms":5}',
//           '{"execution_time_ms":true}', '{"execution_time_ms":-0}', '{"execution_time_ms":-0.0}', '{"execution_time_ms":"2.5e-7"}', '{"execution_time_ms":"inf"}', '{"execution_time_ms":"x"}',
//           '{"execution_time_ms":1' + "0" * 400 + '}', '{"error":"e","status":"error","stream_url":"u"}',
//           '{"code":"TIMEOUT","message":"m"}', '{"code":"TIMEOUT","message":"m","details":{"reason":"x"}}',
//           '{"code":"TIMEOUT","message":"m","details":[]}', '{"code":"INVALID_MESSAGE","message":"m"}', '{"code":"timeout","message":"m"}',
//           '{"code":"TIMEOUT"}',
//           '{"sequence":7}', '{"sequence":"7"}', '{"sequence":true}', '{"sequence":5.0}', '{"sequence":5.5}', '{"sequence":null}',
//           '{"sequence":-0}', '{"sequence":1e400}', '{"sequence":' + "9" * 30 + '}',
//           '{"bogus":1}', '{"public_key":"k","sdp":"x"}']:
//     cases.append(frame("PING", p, TS))
// # JSON edge cases.
// cases += [frame("PING", '{"result":-Infinity}', TS), frame("PING", '{"result":"\\ud83d\\ud83d\\u0000\\u007f\\b"}', TS),
//           frame("PING", '{"result":{"\\uffff":1,"😀":2,"\\ud800":3,"a":4,"a":5}}', TS),
//           frame("PING", '{"result":01}'), frame("PING", '{"result":1.}'), frame("PING", '{"result":"\x01"}'),
//           frame("PING", '{"result":+1}')]
// # Timestamps.
// for ts in ['"2026-11-22T17:55:12.942677"', '"2026-11-22T17:55:12"', '"2026-11-22 17:55"', '"2026-11-22t17:55:12.1z"',
//            '"2026-11-22T17:55:12.123456789Z"', '"2026-11-22T17:55:12,5+05:30"', '"2026-11-22T17:55:12-0800"',
//            '"2026-11-22T17:55:12\u221201:00"', '"2026-11-22_17:55:12"', '"2026-11-22"', '"2026-11-22T"',
//            '"2026-11-22T17:55:12+00:00Z"', '"2026-11-22T17:55:12Z "', '"2026-02-29T00:00:00"', '"2024-02-29T00:00:00"',
//            '"2026-11-22T24:00:00"', '"2026-11-22T17:60:00"', '"2026-11-22T17:55:60"', '"0000-01-01T00:00:00"', '"0001-01-01T00:00:00"',
//            '"9999-12-31T23:59:59.999999"', '"2026-11-22T17:55:12+24:00"', '"2026-11-22T17:55:12+23:59"',
//            '"1795283712"', '"1795283712942"', '"1795283712.5"', '"-1.25"', '"-.5"', '"17952837120.5"', '"25000000000000.5"', '"1e9"', '"+1795283712"', '" 1795283712"', '""', '"now"',
//            '1795283712', '1795283712942', '1795283712.942677', '-1', '0', '2e10', '20000000001', '253402300799', '253402300800',
//            '-62135596800', '-62135596801', '1e300', 'NaN', 'true', 'null', '[]', '{}', '"2026-11-22T17:55:12.Z"', '"\\u0032026-11-22T17:55:12Z"']:
//     cases.append(frame("PING", "{}", ',"timestamp":' + ts))
//
// def judge(text):
//     try:
//         d = json.loads(text)
//         m = Message(**d)
//     except Exception:
//         return None
//     ts = d.get("timestamp")
//     t = m.timestamp
//     off = t.utcoffset()
//     naive = t.replace(tzinfo=dt.timezone.utc) if off is None else t
//     delta = naive - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
//     micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
//     model = type(m.payload).__name__.replace("Payload", "").replace("ICECandidate", "IceCandidate")
//     signed = ""
//     if isinstance(ts, str):
//         data = m.model_dump(by_alias=True, exclude={"signature"})
//         data["timestamp"] = ts[:-1] if ts.endswith("Z") else ts
//         signed = json.dumps(data, sort_keys=True, separators=(",", ":"))
//     if "timestamp" not in d:
//         micros, off = None, None
//     return model, micros, (None if off is None else int(off.total_seconds())), signed
//
// print("/// Frames judged by the reference client's validation: (frame, None when refused, or")
// print("/// Some((payload model, timestamp as (unix micros, utc offset), signed bytes or \"\")).")
// print("#[allow(clippy::type_complexity)]")
// print("pub(super) const VALIDATION: &[(&str, Option<(&str, Option<(i64, Option<i32>)>, &str)>)] = &[")
// for c in cases:
//     r = judge(c)
//     if r is None:
//         print(f"    ({rust_str(c)}, None),")
//     else:
//         model, micros, off, signed = r
//         ts = "None" if micros is None else f"Some(({micros}, {'None' if off is None else f'Some({off})'}))"
//         print(f"    ({rust_str(c)}, Some(({rust_str(model)}, {ts}, {rust_str(signed)}))),")
// print("];")
//
// # ---- 3. A hand-built signed object: plain json.dumps, no pydantic.
// print()
// obj = {
//     "correlation_id": None,
//     "from": "did:key:z6Mk11111111111111111111111111111111",
//     "id": "réglage-😀",
//     "payload": {"error": None, "execution_time_ms": 12.5, "result": {"name": "naïve ☃ 😀", "ratio": 0.1, "big": 1e16, "n": -3}, "status": "success", "stream_url": None},
//     "timestamp": "2026-11-22T17:55:12.942677",
//     "to": "did:key:z6Mk11111111111111111111111111111111",
//     "type": "REGISTER",
//     "version": "1.0",
// }
// frame_text = json.dumps({**obj, "timestamp": obj["timestamp"] + "Z", "signature": "", "payload": {"result": obj["payload"]["result"], "execution_time_ms": 12.5}}, ensure_ascii=False)
// signed = json.dumps(obj, sort_keys=True, separators=(",", ":"))
// print("/// A REGISTER whose payload is an EXEC_RESPONSE one (valid: the payload is not tied")
// print("/// to the type), with non-ASCII and astral text and floats; the signed bytes are")
// print("/// `json.dumps(obj, sort_keys=True, separators=(\",\", \":\"))` of the object built by hand.")
// print(f"pub(super) const HAND_BUILT: (&str, &str) = ({rust_str(frame_text)}, {rust_str(signed)});")
