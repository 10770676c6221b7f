//! `/v1/messages`: submitting and reading messages (agent key; reads also admin key).

use std::sync::Arc;

use std::net::SocketAddr;

use agentgate_core::{Address, Domain, MessageId};
use axum::extract::ConnectInfo;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::json;

use super::error::{ApiError, AuthError, ErrorInfo};
use super::extract;
use super::views::{json, raw_json};
use crate::app::App;
use crate::federation::batch;
use crate::federation::signatures::Verified;
use crate::messaging::record::RecipientOutcome;
use crate::messaging::{Origin, Submission};

/// `POST /v1/messages`: a local agent's submission (Bearer key), or a delivery from
/// another domain's gateway (signed; or unsigned from a `federation.unsigned_peers`
/// domain, from that domain's gateway address).
///
/// Takes the whole request rather than a `HeaderMap` extractor, which would copy the
/// headers of every submission.
pub(crate) async fn submit(
    State(app): State<Arc<App>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let submission = if extract::bearer(headers).is_some() {
        let sender = extract::agent(&app, headers)?;
        let bytes = extract::read_body(headers, body, app.settings.max_message_size).await?;
        app.workflows.submit(Origin::Agent(&sender), &bytes).await?
    } else if !is_delivery(headers) {
        unsigned(&app, &parts, body).await?
    } else {
        let (bytes, verified) = signed(&app, &parts, body, app.settings.max_message_size).await?;
        let (nonce, submission) = tokio::join!(
            verified.nonce.record(&*app.store),
            app.workflows.submit(Origin::Peer(&verified.domain), &bytes),
        );
        nonce.inspect_err(|e| app.metrics.federation_inbound(e.code()))?;
        count_inbound(&app, &submission);
        submission?
    };
    Ok(answer(&submission))
}

/// Reads a peer's signed request body (at most `limit` bytes) and verifies the
/// signature: the body, and the signing domain with the nonce still to record.
async fn signed(
    app: &App,
    parts: &axum::http::request::Parts,
    body: axum::body::Body,
    limit: usize,
) -> Result<(bytes::Bytes, Verified), ApiError> {
    let bytes = extract::read_body(&parts.headers, body, limit).await?;
    let verified = app
        .federation
        .verify(parts.uri.path(), &parts.headers, &bytes)
        .await
        .inspect_err(|e| app.metrics.federation_inbound(e.code()))?;
    Ok((bytes, verified))
}

/// Counts a peer's delivery of one message as accepted or refused.
fn count_inbound<T, E>(app: &App, submission: &Result<T, E>) {
    app.metrics.federation_inbound(match submission {
        Ok(_) => "accepted",
        Err(_) => "refused",
    });
}

/// `POST /v1/federation/batch`: several deliveries from another agentgate gateway in one
/// signed request (`agentgate_codec::amtp_batch`). Each envelope is accepted as if POSTed
/// alone to `/v1/messages`; the answer holds each one's result, in order.
pub(crate) async fn batch(
    State(app): State<Arc<App>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let (bytes, verified) = signed(&app, &parts, body, batch::MAX_BYTES).await?;
    let parsed = batch::parse(&bytes).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let origin = Origin::Peer(&verified.domain);
    let submissions = parsed
        .messages
        .iter()
        .map(|m| app.workflows.submit(origin, m.get().as_bytes()));
    // The envelopes are accepted concurrently, so they share group commits.
    let (nonce, submissions) = tokio::join!(
        verified.nonce.record(&*app.store),
        futures::future::join_all(submissions),
    );
    nonce.inspect_err(|e| app.metrics.federation_inbound(e.code()))?;
    let outcomes: Vec<Result<Submission, (StatusCode, ErrorInfo)>> = submissions
        .into_iter()
        .map(|s| {
            count_inbound(&app, &s);
            s.map_err(|e| ApiError::Messaging(e).info())
        })
        .collect();
    let results: Vec<batch::ItemResult<ItemAnswer<'_>>> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(submission) => {
                let (status, body) = submitted(submission);
                batch::ItemResult {
                    http_status: status.as_u16(),
                    body: ItemAnswer::Accepted(body),
                }
            }
            Err((status, error)) => batch::ItemResult {
                http_status: status.as_u16(),
                body: ItemAnswer::Refused { error },
            },
        })
        .collect();
    Ok(json(StatusCode::OK, &BatchAnswer { results }))
}

/// The answer to a batch: one result per envelope, in order.
#[derive(Serialize)]
struct BatchAnswer<'a> {
    results: Vec<batch::ItemResult<ItemAnswer<'a>>>,
}

/// The body `/v1/messages` would have answered for one envelope of a batch.
#[derive(Serialize)]
#[serde(untagged)]
enum ItemAnswer<'a> {
    Accepted(SubmitResponse<'a>),
    Refused { error: &'a ErrorInfo },
}

/// Whether a request without a Bearer key is a signed delivery from a peer.
fn is_delivery(headers: &HeaderMap) -> bool {
    headers.contains_key("signature-input") || headers.contains_key("signature")
}

/// A request with neither a Bearer key nor a signature: admitted only as a delivery
/// from an allow-listed unsigned peer, sent from that peer's gateway address;
/// otherwise refused as unauthenticated.
async fn unsigned(
    app: &Arc<App>,
    parts: &axum::http::request::Parts,
    body: axum::body::Body,
) -> Result<Submission, ApiError> {
    let headers = &parts.headers;
    let refused = || ApiError::from(AuthError::MissingAuthorization);
    if app.federation.unsigned_peers.is_empty() {
        return Err(refused());
    }
    let bytes = extract::read_body(headers, body, app.settings.max_message_size).await?;
    let domain = claimed_sender_domain(&bytes).ok_or_else(refused)?;
    if !app.federation.admits_unsigned(&domain) {
        return Err(refused());
    }
    let Some(ConnectInfo(from)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return Err(refused());
    };
    app.federation
        .check_unsigned_origin(&domain, from.ip())
        .await
        .inspect_err(|e| app.metrics.federation_inbound(e.code()))?;
    let submission = app.workflows.submit(Origin::Peer(&domain), &bytes).await;
    count_inbound(app, &submission);
    Ok(submission?)
}

/// The domain of the envelope's `sender`, if the body has one.
fn claimed_sender_domain(body: &[u8]) -> Option<Domain> {
    #[derive(serde::Deserialize)]
    struct Sender<'a> {
        #[serde(borrow)]
        sender: Option<std::borrow::Cow<'a, str>>,
    }
    let s: Sender<'_> = serde_json::from_slice(body).ok()?;
    Address::parse(&s.sender?).ok().map(|a| a.domain().clone())
}

/// The response to an accepted submission: 202 while a delivery is pending, else 200.
fn answer(submission: &Submission) -> Response {
    let (status, body) = submitted(submission);
    json(status, &body)
}

/// The status and body answering an accepted submission.
pub(crate) fn submitted(submission: &Submission) -> (StatusCode, SubmitResponse<'_>) {
    let status = if submission.pending() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let header = &submission.record.header;
    let body = SubmitResponse {
        message_id: &header.message_id,
        status: submission.status(),
        recipients: &header.recipients,
    };
    (status, body)
}

/// The answer to a submission.
#[derive(Serialize)]
pub(crate) struct SubmitResponse<'a> {
    message_id: &'a MessageId,
    status: &'static str,
    recipients: &'a [RecipientOutcome],
}

/// `GET /v1/workflows/{id}`: a workflow's state (its initiator, a participant, or an
/// admin).
pub(crate) async fn workflow(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = extract::agent_or_admin(&app, &headers)?;
    let w = app.workflows.get(&caller, &extract::path(id)?).await?;
    Ok(json(StatusCode::OK, &w))
}

/// `GET /v1/messages/{id}`: the stored envelope.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = extract::agent_or_admin(&app, &headers)?;
    let record = app.messaging.get(&caller, &extract::path(id)?).await?;
    Ok(raw_json(StatusCode::OK, record.envelope_json()))
}

/// `GET /v1/messages/{id}/status`.
pub(crate) async fn status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = extract::agent_or_admin(&app, &headers)?;
    let report = app.messaging.status(&caller, &extract::path(id)?).await?;
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
