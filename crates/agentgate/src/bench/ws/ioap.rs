//! The `ioap.v1` side of `bench ws`: identities, the REGISTER an AIConexus client sends,
//! the OFFER frames of the load, and reading what comes back
//! (`docs/protocols/websocket.md`, AIConexus compatible mode).
//!
//! REGISTER is built byte for byte as the AIConexus reference client builds it, quirks
//! included, because that is what a gateway serving `ioap.v1` receives from real agents:
//! the signature covers the canonical JSON of the message without `signature` (sorted
//! keys, `,` and `:` separators) whose `timestamp` is a naive UTC ISO 8601 time with no
//! zone, while the frame on the wire says the same time with a trailing `Z`, with Python's
//! default `", "` and `": "` separators and the keys in the model's order.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::Deserialize;

/// The subprotocol token.
pub const SUBPROTOCOL: &str = "ioap.v1";

/// Multicodec prefix of an Ed25519 public key (0xed, as an unsigned varint).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];

/// An agent's Ed25519 identity.
#[derive(Debug)]
pub struct Identity {
    /// The signing key.
    pub key: SigningKey,
    /// `did:key:z…`, standard form.
    pub did: String,
    /// The raw public key in base58btc, as REGISTER carries it.
    pub public_key_b58: String,
}

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Identity {
        Identity::from_secret(rand::random())
    }

    /// The identity of a given secret key.
    pub fn from_secret(secret: [u8; 32]) -> Identity {
        let key = SigningKey::from_bytes(&secret);
        let public = key.verifying_key().to_bytes();
        Identity {
            did: did_key(&public),
            public_key_b58: bs58::encode(public).into_string(),
            key,
        }
    }
}

/// The standard `did:key` of an Ed25519 public key: `did:key:z` followed by the base58btc
/// encoding of the multicodec prefix `0xed 0x01` and the 32 key bytes.
pub fn did_key(public: &[u8; 32]) -> String {
    let mut bytes = [0u8; 34];
    bytes[..2].copy_from_slice(&ED25519_MULTICODEC);
    bytes[2..].copy_from_slice(public);
    format!("did:key:z{}", bs58::encode(bytes).into_string())
}

/// Microseconds since the Unix epoch, now.
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A naive UTC time as Python's `datetime.isoformat()` writes it:
/// `YYYY-MM-DDTHH:MM:SS.ffffff`, or `YYYY-MM-DDTHH:MM:SS` when the microseconds are 0.
pub fn python_isoformat(unix_us: u64) -> String {
    let mut buf = [0u8; 27];
    let full = agentgate_core::time::rfc3339_micros(unix_us, &mut buf).unwrap_or("");
    let naive = full.strip_suffix('Z').unwrap_or(full);
    if unix_us.is_multiple_of(1_000_000) {
        naive.split('.').next().unwrap_or(naive).to_string()
    } else {
        naive.to_string()
    }
}

/// A JSON string literal. Every value these frames carry is ASCII, where serde_json's
/// escaping and Python's `ensure_ascii` agree byte for byte.
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The bytes a REGISTER's signature covers: the message without `signature`, keys
/// sorted, compact separators, the timestamp without zone.
pub fn register_signing_bytes(did: &str, id: &str, public_key_b58: &str, ts: &str) -> String {
    format!(
        r#"{{"correlation_id":null,"from":{d},"id":{id},"payload":{{"public_key":{pk}}},"timestamp":{ts},"to":{d},"type":"REGISTER","version":"1.0"}}"#,
        d = js(did),
        id = js(id),
        pk = js(public_key_b58),
        ts = js(ts),
    )
}

/// The REGISTER frame of `me`, with message id `id`, timestamped `unix_us`.
pub fn register_frame(me: &Identity, id: &str, unix_us: u64) -> String {
    let ts = python_isoformat(unix_us);
    let signed = register_signing_bytes(&me.did, id, &me.public_key_b58, &ts);
    let signature =
        base64::engine::general_purpose::STANDARD.encode(me.key.sign(signed.as_bytes()).to_bytes());
    format!(
        r#"{{"id": {id}, "correlation_id": null, "timestamp": {ts}, "from": {d}, "to": {d}, "type": "REGISTER", "payload": {{"public_key": {pk}}}, "version": "1.0", "signature": {sig}}}"#,
        id = js(id),
        ts = js(&format!("{ts}Z")),
        d = js(&me.did),
        pk = js(&me.public_key_b58),
        sig = js(&signature),
    )
}

/// What a bench message's id carries: when it was (meant to be) sent, by whom, and its
/// number, so that the receiver measures the delivery latency and frees the sender's
/// window without any lookup table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Send instant (closed loop) or intended send instant (open loop), microseconds
    /// since the run's epoch.
    pub t_us: u64,
    /// The sender's index.
    pub sender: u32,
    /// The sender's message number.
    pub seq: u64,
}

/// Prefix of every id this generator puts in a frame.
const ID_PREFIX: &str = "ws-";
/// Prefix of the id of a registration probe.
const PROBE_PREFIX: &str = "ws-probe-";

impl Stamp {
    /// `ws-<t:12>-<sender:6>-<seq:10>`: fixed width, so that frames keep their size.
    pub fn write_id(&self, out: &mut String) {
        let _ = write!(
            out,
            "{ID_PREFIX}{:012}-{:06}-{:010}",
            self.t_us, self.sender, self.seq
        );
    }

    /// Reads an id written by [`Stamp::write_id`].
    pub fn parse_id(id: &str) -> Option<Stamp> {
        let mut parts = id.strip_prefix(ID_PREFIX)?.splitn(3, '-');
        let mut field = || {
            parts
                .next()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        Some(Stamp {
            t_us: field()?.parse().ok()?,
            sender: field()?.parse().ok()?,
            seq: field()?.parse().ok()?,
        })
    }
}

/// The id of agent `agent`'s registration probe.
pub fn probe_id(agent: u32) -> String {
    format!("{PROBE_PREFIX}{agent:06}")
}

/// Writes into `out` an OFFER from `from` to `to`, padded in `payload.sdp` so that the
/// frame is `size` bytes (or the smallest possible when `size` is below that).
/// `unix_us` is the `timestamp` (written with a trailing `Z`, as the reference client
/// does); the DIDs and the id need no JSON escaping.
pub fn offer_frame(out: &mut String, id: &str, from: &str, to: &str, unix_us: u64, size: usize) {
    let ts = python_isoformat(unix_us);
    out.clear();
    out.push_str(r#"{"id":""#);
    out.push_str(id);
    out.push_str(r#"","type":"OFFER","from":""#);
    out.push_str(from);
    out.push_str(r#"","to":""#);
    out.push_str(to);
    out.push_str(r#"","payload":{"sdp":""#);
    const AFTER_PAD: &str = r#""},"signature":"","timestamp":""#;
    const END: &str = r#"Z"}"#;
    let fixed = out.len() + AFTER_PAD.len() + ts.len() + END.len();
    let pad = size.saturating_sub(fixed);
    out.reserve(pad + fixed - out.len());
    out.extend(std::iter::repeat_n('x', pad));
    out.push_str(AFTER_PAD);
    out.push_str(&ts);
    out.push_str(END);
}

/// A frame received in ioap mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A bench OFFER.
    Offer(Stamp),
    /// The registration probe of this agent index.
    Probe(u32),
    /// An ERROR frame, with its `payload.code`.
    Error(String),
    /// Any other valid frame, by `type`.
    Other(Cow<'a, str>),
    /// Not a JSON object with string `id` and `type`.
    Unreadable,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    payload: Option<ErrorPayload>,
}

#[derive(Deserialize)]
struct ErrorPayload {
    #[serde(default)]
    code: Option<String>,
}

/// Reads a received frame. Frames relayed verbatim start with this generator's own
/// `{"id":"ws-…` and are read without parsing the rest; anything else (a gateway that
/// re-serialises, an ERROR) goes through the JSON parser.
pub fn classify(text: &str) -> Incoming<'_> {
    if let Some(rest) = text.strip_prefix(r#"{"id":""#)
        && let Some(end) = rest.find('"')
        && let Some(found) = classify_id(&rest[..end])
        && rest[end..].starts_with(r#"","type":"OFFER""#)
    {
        return found;
    }
    match serde_json::from_str::<Frame<'_>>(text) {
        Ok(f) if f.kind == "OFFER" => classify_id(&f.id).unwrap_or(Incoming::Other(f.kind)),
        Ok(f) if f.kind == "ERROR" => Incoming::Error(
            f.payload
                .and_then(|p| p.code)
                .unwrap_or_else(|| "(no code)".into()),
        ),
        Ok(f) => Incoming::Other(f.kind),
        Err(_) => Incoming::Unreadable,
    }
}

fn classify_id(id: &str) -> Option<Incoming<'static>> {
    if let Some(n) = id.strip_prefix(PROBE_PREFIX) {
        return n.parse().ok().map(Incoming::Probe);
    }
    Stamp::parse_id(id).map(Incoming::Offer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier as _};
    use serde_json::Value;

    #[test]
    fn did_key_is_the_standard_multicodec_form() {
        // The all-zero key: a well-known vector of the standard form.
        assert_eq!(
            did_key(&[0; 32]),
            "did:key:z6MkeTG3bFFSLYVU7VqhgZxqr6YzpaGrQtFMh1uvqGy1vDnP"
        );
        let id = Identity::from_secret([7; 32]);
        let body = id.did.strip_prefix("did:key:z").unwrap();
        let raw = bs58::decode(body).into_vec().unwrap();
        assert_eq!(raw[..2], [0xed, 0x01]);
        assert_eq!(raw[2..], id.key.verifying_key().to_bytes());
        assert_eq!(
            bs58::decode(&id.public_key_b58).into_vec().unwrap(),
            raw[2..]
        );
        assert!(id.did.starts_with("did:key:z6Mk"));
    }

    #[test]
    fn isoformat_is_naive_and_drops_a_zero_fraction_like_python() {
        // 2026-11-22T17:55:12.942677 UTC
        let t = 1_795_370_112_942_677;
        assert_eq!(python_isoformat(t), "2026-11-22T17:55:12.942677");
        assert_eq!(python_isoformat(t - 942_677), "2026-11-22T17:55:12");
        assert_eq!(python_isoformat(t - 942_670), "2026-11-22T17:55:12.000007");
    }

    #[test]
    fn register_signs_the_naive_timestamp_and_sends_it_with_a_z() {
        let me = Identity::from_secret([1; 32]);
        let id = "3bb7a7c6-1f0e-4a52-9a49-2d3f1c0b9e11";
        let t = 1_795_370_112_942_677;
        let frame = register_frame(&me, id, t);

        // Python's default separators and the model's key order.
        let want_head = format!(
            r#"{{"id": "{id}", "correlation_id": null, "timestamp": "2026-11-22T17:55:12.942677Z", "from": "{d}", "to": "{d}", "type": "REGISTER", "payload": {{"public_key": "{pk}"}}, "version": "1.0", "signature": ""#,
            d = me.did,
            pk = me.public_key_b58
        );
        assert!(frame.starts_with(&want_head), "{frame}");
        assert!(frame.ends_with("\"}"));

        // The signed bytes: sorted keys, compact, and no zone on the timestamp.
        let signed = register_signing_bytes(
            &me.did,
            id,
            &me.public_key_b58,
            "2026-11-22T17:55:12.942677",
        );
        assert_eq!(
            signed,
            format!(
                r#"{{"correlation_id":null,"from":"{d}","id":"{id}","payload":{{"public_key":"{pk}"}},"timestamp":"2026-11-22T17:55:12.942677","to":"{d}","type":"REGISTER","version":"1.0"}}"#,
                d = me.did,
                pk = me.public_key_b58
            )
        );
        // The canonical form of what is on the wire, less the signature and the `Z`, is
        // exactly what was signed; and the signature verifies over it.
        let v: Value = serde_json::from_str(&frame).unwrap();
        let mut unsigned = v.as_object().unwrap().clone();
        let sig = unsigned.remove("signature").unwrap();
        let ts = unsigned["timestamp"].as_str().unwrap().to_string();
        unsigned.insert(
            "timestamp".into(),
            Value::String(ts.strip_suffix('Z').unwrap().into()),
        );
        assert_eq!(serde_json::to_string(&unsigned).unwrap(), signed);
        let sig = base64::engine::general_purpose::STANDARD
            .decode(sig.as_str().unwrap())
            .unwrap();
        assert_eq!(sig.len(), 64);
        let sig = Signature::from_slice(&sig).unwrap();
        me.key
            .verifying_key()
            .verify(signed.as_bytes(), &sig)
            .unwrap();
        // The signature does not cover the timestamp as the wire writes it.
        let with_z = signed.replace(".942677\"", ".942677Z\"");
        assert!(
            me.key
                .verifying_key()
                .verify(with_z.as_bytes(), &sig)
                .is_err()
        );
    }

    #[test]
    fn register_matches_the_reference_client_byte_for_byte() {
        // Known-answer vectors: the frames an AIConexus GatewayClient sends for the secret
        // key [1; 32], this id and these two instants (Ed25519 signatures are
        // deterministic). With zero microseconds the fraction disappears, both from the
        // signed bytes and from the wire.
        let me = Identity::from_secret([1; 32]);
        let id = "3bb7a7c6-1f0e-4a52-9a49-2d3f1c0b9e11";
        let did = "did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX";
        let head = |ts: &str| {
            format!(
                r#"{{"id": "{id}", "correlation_id": null, "timestamp": "{ts}", "from": "{did}", "to": "{did}", "type": "REGISTER", "payload": {{"public_key": "AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9"}}, "version": "1.0", "signature": "#
            )
        };
        assert_eq!(me.did, did);
        assert_eq!(
            register_frame(&me, id, 1_795_370_112_942_677),
            head("2026-11-22T17:55:12.942677Z")
                + r#""L6tDc8XYBqJCFEGHx8QAGy0a4dn1FhgHKyY0P+E0otXBv+hObkFkvahdCVqx0oHV9jg3KVphISTr8eYBbHVXBA=="}"#
        );
        assert_eq!(
            register_frame(&me, id, 1_795_370_112_000_000),
            head("2026-11-22T17:55:12Z")
                + r#""fasFZxKc4rkw3YPWqJnNYBFKN1UE2FXRZBDgCDerdu2ly9lwFnXoqWxBrjf4XVSFDyta6K/IwKlKEdlR7zm+Aw=="}"#
        );
    }

    #[test]
    fn offers_have_the_requested_size_and_carry_their_stamp() {
        let a = Identity::from_secret([2; 32]);
        let b = Identity::from_secret([3; 32]);
        let stamp = Stamp {
            t_us: 1_234_567,
            sender: 42,
            seq: 9,
        };
        let mut id = String::new();
        stamp.write_id(&mut id);
        assert_eq!(id, "ws-000001234567-000042-0000000009");
        let mut f = String::new();
        offer_frame(&mut f, &id, &a.did, &b.did, 1_795_370_112_942_677, 1024);
        assert_eq!(f.len(), 1024);
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["type"], "OFFER");
        assert_eq!(v["from"], a.did.as_str());
        assert_eq!(v["to"], b.did.as_str());
        assert_eq!(v["signature"], "");
        assert_eq!(v["timestamp"], "2026-11-22T17:55:12.942677Z");
        assert_eq!(v.as_object().unwrap().len(), 7);
        assert_eq!(classify(&f), Incoming::Offer(stamp));
        // Too small a size gives the smallest frame, still valid.
        offer_frame(&mut f, &id, &a.did, &b.did, 1_795_370_112_942_677, 10);
        let v: Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["payload"]["sdp"], "");
    }

    #[test]
    fn classify_reads_relayed_reserialised_probe_and_error_frames() {
        let stamp = Stamp {
            t_us: 5,
            sender: 1,
            seq: 2,
        };
        // Re-serialised with other separators and key order: the slow path.
        let f = r#"{"type": "OFFER", "id": "ws-000000000005-000001-0000000002", "from": "a", "to": "b", "payload": {"sdp": "x"}}"#;
        assert_eq!(classify(f), Incoming::Offer(stamp));
        let mut f = String::new();
        offer_frame(&mut f, &probe_id(7), "did:key:zA", "did:key:zA", 1, 0);
        assert_eq!(classify(&f), Incoming::Probe(7));
        let e = r#"{"type": "ERROR", "from": "did:key:gateway", "to": "x", "payload": {"code": "UNKNOWN_AGENT", "message": "m"}, "signature": "", "id": "q"}"#;
        assert_eq!(classify(e), Incoming::Error("UNKNOWN_AGENT".into()));
        let p = r#"{"id":"p1","type":"PONG","from":"g","to":"a","payload":{},"signature":""}"#;
        assert_eq!(classify(p), Incoming::Other("PONG".into()));
        // An OFFER that is not ours.
        let o = r#"{"id":"msg-1","type":"OFFER","from":"g","to":"a","payload":{"sdp":"v=0"},"signature":""}"#;
        assert_eq!(classify(o), Incoming::Other("OFFER".into()));
        assert_eq!(classify("not json"), Incoming::Unreadable);
        assert_eq!(Stamp::parse_id("ws-1-2"), None);
        assert_eq!(Stamp::parse_id("ws-1-2-x"), None);
    }
}
