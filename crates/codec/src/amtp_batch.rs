//! Batched deliveries between agentgate gateways (an agentgate extension of AMTP).
//!
//! A gateway whose `_amtp` record announces the feature [`FEATURE`] accepts
//! `POST {gateway}`[`BATCH_PATH`] with the body `{"messages": [envelope, …]}`: up to
//! [`MAX_MESSAGES`] envelopes in at most [`MAX_BYTES`] bytes, signed once like a single
//! delivery (the signature covers the whole body). The receiver verifies the signature
//! and records the nonce once, accepts every envelope exactly as if it had been POSTed
//! to `/v1/messages` on its own, and answers `200` with one result per envelope, in
//! order:
//!
//! ```json
//! {"results": [
//!   {"http_status": 202, "message_id": "…", "status": "delivered", "recipients": […]},
//!   {"http_status": 403, "error": {"code": "SENDER_DOMAIN_MISMATCH", "message": "…"}}
//! ]}
//! ```
//!
//! `http_status` is what `/v1/messages` would have answered for that envelope alone, and
//! the rest of the item is that answer's body, so the sender settles each message as it
//! would a single delivery. One signature, one verification, one nonce and one HTTP
//! exchange serve the whole batch, and its messages share the receiver's group commits.
//!
//! A failure of the batch as a whole (no answer, 401, 429, 5xx) is a failure of every
//! message in it; a `400`, `404`, `405` or `413` for the batch makes the sender deliver
//! its messages one by one instead.
//!
//! [`parse`] reads a batch body; each envelope is then decoded on its own (with
//! [`crate::amtp::decode_envelope`]'s limits), so a hostile batch costs bounded work.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The feature a gateway's record announces when it accepts batches.
pub const FEATURE: &str = "batch";
/// Where batches are POSTed, relative to the peer's gateway URL.
pub const BATCH_PATH: &str = "/v1/federation/batch";
/// Most envelopes in one batch.
pub const MAX_MESSAGES: usize = 100;
/// Largest batch body, in bytes.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Bytes of a batch body around its envelopes: `{"messages":[` and `]}`.
const FRAME: usize = 16;

/// A batch as received: the envelopes, each still unparsed.
#[derive(Debug, Deserialize)]
pub struct Batch<'a> {
    /// The envelopes, each exactly as sent.
    #[serde(borrow)]
    pub messages: Vec<&'a RawValue>,
}

/// Why a body is not a batch.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Not JSON of the shape `{"messages": [...]}`.
    #[error("not a batch of envelopes: {0}")]
    Malformed(#[from] serde_json::Error),
    /// No envelopes, or more than [`MAX_MESSAGES`].
    #[error("a batch holds 1 to {MAX_MESSAGES} envelopes, not {0}")]
    Count(usize),
}

/// Reads a batch body (its size already checked against [`MAX_BYTES`]): the envelopes
/// as sent, 1 to [`MAX_MESSAGES`] of them.
pub fn parse(body: &[u8]) -> Result<Batch<'_>, BatchError> {
    let batch: Batch<'_> = serde_json::from_slice(body)?;
    match batch.messages.len() {
        0 => Err(BatchError::Count(0)),
        n if n > MAX_MESSAGES => Err(BatchError::Count(n)),
        _ => Ok(batch),
    }
}

/// Builds a batch body from envelopes that are each valid JSON.
pub fn body<'a>(envelopes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_BYTES.min(64 * 1024));
    out.extend_from_slice(b"{\"messages\":[");
    for (i, envelope) in envelopes.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(envelope);
    }
    out.extend_from_slice(b"]}");
    out
}

/// Splits envelopes of the given sizes, in order, into batches of at most
/// [`MAX_MESSAGES`] envelopes and [`MAX_BYTES`] bytes. An envelope too large to share a
/// batch body with nothing else is left out of every batch (index in the second list):
/// it goes alone to `/v1/messages`.
pub fn chunks(sizes: &[usize]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut alone = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = FRAME;
    for (i, &size) in sizes.iter().enumerate() {
        // Each envelope after the first costs a comma.
        let cost = size + 1;
        if FRAME + cost > MAX_BYTES {
            alone.push(i);
            continue;
        }
        if current.len() == MAX_MESSAGES || bytes + cost > MAX_BYTES {
            batches.push(std::mem::take(&mut current));
            bytes = FRAME;
        }
        current.push(i);
        bytes += cost;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, alone)
}

/// One envelope's result in a batch answer.
#[derive(Serialize)]
pub struct ItemResult<B: Serialize> {
    /// What `/v1/messages` would have answered for the envelope alone.
    pub http_status: u16,
    /// That answer's body.
    #[serde(flatten)]
    pub body: B,
}

/// Reads one result of a peer's batch answer: its status and the body to settle it by.
pub fn item_result(item: &Value) -> Option<(u16, &Value)> {
    let status = item.get("http_status")?.as_u64()?;
    u16::try_from(status).ok().map(|s| (s, item))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_body_is_the_envelopes_in_a_list() {
        let out = body([&b"{\"a\":1}"[..], b"{\"b\":2}"]);
        assert_eq!(out, b"{\"messages\":[{\"a\":1},{\"b\":2}]}");
        let parsed = parse(&out).unwrap();
        assert_eq!(parsed.messages.len(), 2);
        assert_eq!(parsed.messages[1].get(), "{\"b\":2}");
        assert_eq!(body(std::iter::empty()), b"{\"messages\":[]}");
    }

    #[test]
    fn only_batches_of_one_to_the_limit_parse() {
        assert!(matches!(
            parse(b"{\"messages\":[]}"),
            Err(BatchError::Count(0))
        ));
        let many = body(std::iter::repeat_n(&b"{}"[..], MAX_MESSAGES + 1));
        assert!(matches!(parse(&many), Err(BatchError::Count(101))));
        assert!(parse(&body(std::iter::repeat_n(&b"{}"[..], MAX_MESSAGES))).is_ok());
        for bad in [
            &b"[{}]"[..],
            b"{\"messages\":{}}",
            b"{\"messages\":[{}",
            b"",
        ] {
            assert!(
                matches!(parse(bad), Err(BatchError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn chunks_respect_both_limits() {
        let (b, alone) = chunks(&[10; 250]);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        assert!(alone.is_empty());
        let big = MAX_BYTES / 2;
        let (b, alone) = chunks(&[big, big, 5, MAX_BYTES, 7]);
        assert_eq!(alone, vec![3]);
        assert_eq!(b, vec![vec![0], vec![1, 2, 4]]);
        assert_eq!(chunks(&[]), (vec![], vec![]));
    }

    #[test]
    fn item_results_are_read_back() {
        let item = serde_json::to_value(ItemResult {
            http_status: 403,
            body: serde_json::json!({"error": {"code": "X", "message": "m"}}),
        })
        .unwrap();
        let (status, body) = item_result(&item).unwrap();
        assert_eq!(status, 403);
        assert_eq!(body["error"]["code"], "X");
        assert!(item_result(&serde_json::json!({"error": {}})).is_none());
        assert!(item_result(&serde_json::json!({"http_status": 70000})).is_none());
    }

    proptest! {
        #[test]
        fn chunks_keep_every_envelope_once_in_order(
            sizes in proptest::collection::vec(
                prop_oneof![0usize..2000, (MAX_BYTES / 3)..(MAX_BYTES + 10)], 0..400)
        ) {
            let (batches, alone) = chunks(&sizes);
            let mut seen: Vec<usize> = batches.iter().flatten().copied().chain(alone.iter().copied()).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..sizes.len()).collect::<Vec<_>>());
            for b in &batches {
                prop_assert!(!b.is_empty() && b.len() <= MAX_MESSAGES);
                prop_assert!(b.windows(2).all(|w| w[0] < w[1]));
                // The length `body` gives them: the frame, the envelopes and the commas.
                let len = 15 + b.iter().map(|&i| sizes[i]).sum::<usize>() + b.len() - 1;
                prop_assert!(len <= MAX_BYTES);
            }
            for &i in &alone {
                prop_assert!(sizes[i] + 1 + FRAME > MAX_BYTES);
            }
        }
    }
}
