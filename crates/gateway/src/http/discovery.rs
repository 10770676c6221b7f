//! `/v1/discovery/agents`: who is registered here (any local agent key, or admin key).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::extract;
use super::views::{DiscoveredAgent, json};
use crate::app::App;
use crate::clock;

/// `GET /v1/discovery/agents?delivery_mode=&active_only=`.
pub(crate) async fn agents(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    discover(&app, &headers, None, raw.as_deref())
}

/// `GET /v1/discovery/agents/{domain}?…`: the same, for a named domain (ours only).
pub(crate) async fn agents_in(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    domain: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Path(domain) = domain.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    discover(&app, &headers, Some(&domain), raw.as_deref())
}

fn discover(
    app: &App,
    headers: &HeaderMap,
    domain: Option<&str>,
    raw: Option<&str>,
) -> Result<Response, ApiError> {
    extract::agent_or_admin(app, headers)?;
    let q = extract::query(raw);
    let found = app.directory.discover(
        domain,
        q.get("delivery_mode").map(String::as_str),
        q.get("active_only").map(String::as_str),
        app.settings.active_window,
    )?;
    let agents: Vec<DiscoveredAgent<'_>> = found
        .iter()
        .map(|(e, active)| DiscoveredAgent::of(e, *active))
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "agents": agents,
            "agent_count": agents.len(),
            "domain": app.settings.domain,
            "timestamp": clock::now(),
        }),
    ))
}
