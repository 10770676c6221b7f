//! `/v1/admin/agents`: registration and management of agents (admin key).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::error::{ApiError, AuthError};
use super::extract::{self, MAX_ADMIN_BODY};
use super::views::{AgentView, json};
use crate::app::App;
use crate::directory::{DirectoryError, RegisterRequest};

/// `POST /v1/admin/agents`: register (admin key), or confirm with the agent's own key.
pub(crate) async fn register(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Authenticate before reading the body.
    enum Who {
        Admin,
        Agent(Arc<crate::directory::AgentEntry>),
    }
    let who = if extract::admin_key(&headers).is_some() {
        extract::admin(&app, &headers)?;
        Who::Admin
    } else if extract::bearer(&headers).is_some() {
        Who::Agent(extract::agent(&app, &headers)?)
    } else {
        return Err(AuthError::MissingAdminKey.into());
    };
    let bytes = extract::read_body(&headers, body, MAX_ADMIN_BODY).await?;
    let req: RegisterRequest = serde_json::from_slice(&bytes)
        .map_err(|e| DirectoryError::InvalidRequest(e.to_string()))?;
    match who {
        Who::Admin => {
            let r = app.directory.register(req).await?;
            let mut body = json!({
                "agent": AgentView::of(&r.entry),
                "api_key": r.api_key,
            });
            if let Some(s) = r.webhook_secret {
                body["webhook_secret"] = s.into();
            }
            Ok(json(StatusCode::CREATED, &body))
        }
        Who::Agent(caller) => {
            let entry = app.directory.confirm_registration(&caller, &req)?;
            Ok(json(
                StatusCode::OK,
                &json!({ "agent": AgentView::of(&entry) }),
            ))
        }
    }
}

/// `GET /v1/admin/agents?limit=&cursor=`.
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let q = extract::query(raw.as_deref());
    let page = app.directory.list(
        q.get("limit").map(String::as_str).filter(|s| !s.is_empty()),
        q.get("cursor").map(String::as_str),
    )?;
    let agents: Vec<AgentView<'_>> = page.agents.iter().map(|e| AgentView::of(e)).collect();
    let mut body = json!({
        "agents": agents,
        "agent_count": page.total,
        "has_more": page.has_more,
    });
    if let Some(c) = page.next_cursor {
        body["next_cursor"] = c.into();
    }
    Ok(json(StatusCode::OK, &body))
}

/// `GET /v1/admin/agents/{name}`.
pub(crate) async fn show(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let entry = app.directory.show(&extract::path(name)?)?;
    Ok(json(
        StatusCode::OK,
        &json!({ "agent": AgentView::of(&entry) }),
    ))
}

/// `DELETE /v1/admin/agents/{name}`: the agent, its key and its inbox go.
pub(crate) async fn unregister(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let address = app.directory.unregister(&extract::path(name)?).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "address": address, "status": "unregistered" }),
    ))
}

/// `POST /v1/admin/agents/{name}/rotate-key`.
pub(crate) async fn rotate_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let r = app.directory.rotate_key(&extract::path(name)?).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "agent": AgentView::of(&r.entry), "api_key": r.api_key }),
    ))
}
