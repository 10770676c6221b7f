//! `/v1/inbox/{address}`: reading and acknowledging a pull inbox (the owner's key).

use std::sync::Arc;

use agentgate_core::Timestamp;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::extract;
use super::views::{json, raw_json};
use crate::app::App;
use crate::inbox::{InboxPage, InboxQuery};

/// `GET /v1/inbox/{address}?limit=&cursor=&wait=`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    address: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Path(address) = address.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let owner = extract::owner(&app, &headers, &address)?;
    let q = extract::query(raw.as_deref());
    let param = |k: &str| q.get(k).map(String::as_str).filter(|s| !s.is_empty());
    let page = app
        .inbox
        .list(
            &owner,
            InboxQuery {
                limit: param("limit"),
                cursor: param("cursor"),
                wait: param("wait"),
            },
        )
        .await?;
    Ok(raw_json(
        StatusCode::OK,
        render_page(&owner.agent.address.to_string(), &page),
    ))
}

/// `DELETE /v1/inbox/{address}/{message_id}`.
pub(crate) async fn ack(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((address, message_id)) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let owner = extract::owner(&app, &headers, &address)?;
    let at = app.inbox.ack(&owner, &message_id).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "message_id": message_id, "status": "acknowledged", "timestamp": at }),
    ))
}

/// Renders a page. Each item is the stored envelope JSON with `received_at` and
/// `delivery_status` added before its closing brace, so envelopes are never re-parsed.
fn render_page(recipient: &str, page: &InboxPage) -> Vec<u8> {
    let size: usize = page.items.iter().map(|i| i.item.payload.len() + 80).sum();
    let mut out = Vec::with_capacity(size + 160);
    out.extend_from_slice(b"{\"recipient\":");
    serde_json::to_writer(&mut out, recipient).expect("string serialises");
    out.extend_from_slice(b",\"messages\":[");
    for (n, i) in page.items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        splice_item(
            &mut out,
            &i.item.payload,
            Timestamp(i.item.enqueued_at_ms),
            i.status.as_str(),
        );
    }
    out.extend_from_slice(b"],\"message_count\":");
    out.extend_from_slice(page.items.len().to_string().as_bytes());
    out.extend_from_slice(if page.has_more {
        b",\"has_more\":true"
    } else {
        b",\"has_more\":false"
    });
    if let Some(c) = &page.next_cursor {
        out.extend_from_slice(b",\"next_cursor\":");
        serde_json::to_writer(&mut out, c).expect("string serialises");
    }
    out.push(b'}');
    out
}

fn splice_item(out: &mut Vec<u8>, envelope: &[u8], received_at: Timestamp, status: &str) {
    let extra = format!(",\"received_at\":\"{received_at}\",\"delivery_status\":\"{status}\"}}");
    match envelope.iter().rposition(|b| !b.is_ascii_whitespace()) {
        // The stored envelope is a JSON object with at least one field.
        Some(end) if envelope[end] == b'}' && envelope.len() > 2 => {
            out.extend_from_slice(&envelope[..end]);
            out.extend_from_slice(extra.as_bytes());
        }
        _ => {
            // Not the shape this gateway stores; pass it through wrapped.
            let v: serde_json::Value = serde_json::from_slice(envelope).unwrap_or_default();
            serde_json::to_writer(
                &mut *out,
                &json!({ "envelope": v, "received_at": received_at, "delivery_status": status }),
            )
            .expect("value serialises");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_fields_into_the_envelope() {
        let mut out = Vec::new();
        splice_item(&mut out, br#"{"a":1}"#, Timestamp(0), "delivered");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"a": 1, "received_at": "1970-01-01T00:00:00.000Z", "delivery_status": "delivered"})
        );
    }
}
