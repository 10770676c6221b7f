//! `/v1/messages`: submitting and reading messages (agent key; reads also admin key).

use std::sync::Arc;

use agentgate_core::MessageId;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::json;

use super::error::ApiError;
use super::extract;
use super::views::{json, raw_json};
use crate::app::App;
use crate::messaging::record::RecipientOutcome;

fn path(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(s)| s)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// `POST /v1/messages`.
///
/// Takes the whole request rather than a `HeaderMap` extractor, which would copy the
/// headers of every submission.
pub(crate) async fn submit(
    State(app): State<Arc<App>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let sender = extract::agent(&app, headers)?;
    let bytes = extract::read_body(headers, body, app.settings.max_message_size).await?;
    let submission = app.messaging.submit(&sender, &bytes).await?;
    let status = if submission.pending() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let header = &submission.record.header;
    Ok(json(
        status,
        &SubmitResponse {
            message_id: &header.message_id,
            status: submission.status(),
            recipients: &header.recipients,
        },
    ))
}

/// The answer to a submission.
#[derive(Serialize)]
struct SubmitResponse<'a> {
    message_id: &'a MessageId,
    status: &'static str,
    recipients: &'a [RecipientOutcome],
}

/// `GET /v1/messages/{id}`: the stored envelope.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = extract::agent_or_admin(&app, &headers)?;
    let record = app.messaging.get(&caller, &path(id)?).await?;
    Ok(raw_json(StatusCode::OK, record.envelope_json()))
}

/// `GET /v1/messages/{id}/status`.
pub(crate) async fn status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = extract::agent_or_admin(&app, &headers)?;
    let report = app.messaging.status(&caller, &path(id)?).await?;
    Ok(json(StatusCode::OK, &report))
}

/// `GET /v1/messages?role=&limit=&cursor=`: the caller's messages, newest first.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let agent = extract::agent(&app, &headers)?;
    let q = extract::query(raw.as_deref());
    let param = |k: &str| q.get(k).map(String::as_str).filter(|s| !s.is_empty());
    let list = app
        .messaging
        .list(&agent, param("role"), param("limit"), param("cursor"))
        .await?;
    let mut body = json!({ "messages": list.messages, "has_more": list.has_more });
    if let Some(c) = list.next_cursor {
        body["next_cursor"] = c.into();
    }
    Ok(json(StatusCode::OK, &body))
}
