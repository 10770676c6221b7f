//! `GET /agents`: the DIDs holding an ioap session, in the AIConexus gateway's shape.

use std::sync::Arc;

use agentgate_core::Timestamp;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::error::ApiError;
use super::extract;
use super::views::json;
use crate::app::App;

#[derive(Serialize)]
struct OnlineDid<'a> {
    did: &'a str,
    connected_at: Timestamp,
    last_activity: Timestamp,
}

#[derive(Serialize)]
struct OnlineDids<'a> {
    agents: Vec<OnlineDid<'a>>,
    count: usize,
}

/// `GET /agents`: `{"agents": [{"did", "connected_at", "last_activity"}], "count"}`.
/// Needs the admin key unless `websocket.ioap.public_agents` is on.
pub(crate) async fn agents(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !app.sessions.public_agents() {
        extract::admin(&app, &headers)?;
    }
    let present = app.sessions.ioap.list();
    let agents: Vec<OnlineDid<'_>> = present
        .iter()
        .map(|p| OnlineDid {
            did: &p.identity,
            connected_at: p.connected_since,
            last_activity: p.last_activity,
        })
        .collect();
    let count = agents.len();
    Ok(json(StatusCode::OK, &OnlineDids { agents, count }))
}
