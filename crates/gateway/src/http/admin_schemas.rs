//! `/v1/admin/schemas`: the JSON Schema registry (admin key).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::extract;
use super::views::{SchemaSummary, SchemaView, json};
use crate::app::App;
use crate::clock;
use crate::schemas::{self, MAX_DEFINITION_BYTES, RegisterRequest, UpdateRequest, ValidateRequest};

/// Largest body of a register or update request: the largest definition plus room for
/// the id and the JSON around it.
const MAX_SCHEMA_BODY: usize = MAX_DEFINITION_BYTES + 16 * 1024;
/// Room for the JSON around a payload in a validate request.
const VALIDATE_OVERHEAD: usize = 1024;

/// `{"message", "schema_id", "timestamp"}`.
fn done(status: StatusCode, message: &str, id: &str) -> Response {
    json(
        status,
        &json!({ "message": message, "schema_id": id, "timestamp": clock::now() }),
    )
}

/// `POST /v1/admin/schemas`: body `{"id", "definition", "force"?}`.
pub(crate) async fn register(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let bytes = extract::read_body(&headers, body, MAX_SCHEMA_BODY).await?;
    let req: RegisterRequest = schemas::parse_request(&bytes)?;
    let r = app.schemas.register(req).await?;
    let message = if r.replaced {
        "schema replaced"
    } else {
        "schema registered"
    };
    let mut response = json(
        StatusCode::CREATED,
        &json!({
            "message": message,
            "schema_id": r.entry.id,
            "replaced": r.replaced,
            "timestamp": clock::now(),
        }),
    );
    if let Ok(location) = format!("/v1/admin/schemas/{}", r.entry.id).parse() {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /v1/admin/schemas?pattern=`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let q = extract::query(raw.as_deref());
    let found = app.schemas.list(q.get("pattern").map(String::as_str))?;
    let schemas: Vec<SchemaSummary<'_>> = found.iter().map(|e| SchemaSummary::of(e)).collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "schemas": schemas, "count": schemas.len(), "timestamp": clock::now() }),
    ))
}

/// `GET /v1/admin/schemas/stats`.
pub(crate) async fn stats(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    Ok(json(
        StatusCode::OK,
        &json!({ "stats": app.schemas.stats(), "timestamp": clock::now() }),
    ))
}

/// `GET /v1/admin/schemas/{id}`.
pub(crate) async fn show(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let entry = app.schemas.get(&extract::path(id)?)?;
    Ok(json(
        StatusCode::OK,
        &json!({ "schema": SchemaView::of(&entry), "timestamp": clock::now() }),
    ))
}

/// `PUT /v1/admin/schemas/{id}`: body `{"definition"}`.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let id = extract::path(id)?;
    let bytes = extract::read_body(&headers, body, MAX_SCHEMA_BODY).await?;
    let req: UpdateRequest = schemas::parse_request(&bytes)?;
    let entry = app.schemas.update(&id, req).await?;
    Ok(done(StatusCode::OK, "schema updated", &entry.id))
}

/// `DELETE /v1/admin/schemas/{id}`.
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let id = extract::path(id)?;
    app.schemas.delete(&id).await?;
    Ok(done(StatusCode::OK, "schema deleted", &id))
}

/// `POST /v1/admin/schemas/{id}/validate`: body `{"payload"}`; a payload may be as large
/// as a message.
pub(crate) async fn validate(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let id = extract::path(id)?;
    let limit = app
        .settings
        .max_message_size
        .max(extract::MAX_ADMIN_BODY)
        .saturating_add(VALIDATE_OVERHEAD);
    let bytes = extract::read_body(&headers, body, limit).await?;
    let req: ValidateRequest = schemas::parse_request(&bytes)?;
    let errors = app.schemas.validate(&id, &req.payload).await?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "valid": errors.is_empty(),
            "errors": errors,
            "warnings": [],
            "timestamp": clock::now(),
        }),
    ))
}
