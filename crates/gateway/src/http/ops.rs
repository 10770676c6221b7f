//! `/health`, `/ready`, `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::{ApiError, AuthError};
use super::extract;
use super::views::json;
use crate::app::App;

/// `GET /health`: the process is up. The body carries the keys both reference
/// gateways' health checks read: `status` (`healthy`), `healthy`, `timestamp`, and the
/// AIConexus gateway's `connected_agents` (identities holding a WebSocket session).
pub(crate) async fn health(State(app): State<Arc<App>>) -> Response {
    json(
        StatusCode::OK,
        &json!({
            "status": "healthy",
            "healthy": true,
            "version": env!("CARGO_PKG_VERSION"),
            "timestamp": crate::clock::now(),
            "connected_agents": app.sessions.connected(),
        }),
    )
}

/// `GET /ready`: the store answers and the gateway is not shutting down.
pub(crate) async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.is_shutting_down() {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "unavailable", "reason": "shutting down" }),
        );
    }
    match app.store.check().await {
        Ok(()) => json(StatusCode::OK, &json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "status": "unavailable", "reason": "store unavailable" }),
            )
        }
    }
}

/// `GET /metrics`: OpenMetrics text. Needs an admin key (`X-Admin-Key`, or
/// `Authorization: Bearer`) unless `metrics.require_auth` is off.
pub(crate) async fn metrics(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if app.settings.metrics_require_auth {
        let key = extract::admin_key(&headers)
            .or_else(|| extract::bearer(&headers))
            .ok_or(AuthError::MissingAdminKey)?;
        if !app.admin_keys.verify(key) {
            return Err(AuthError::InvalidAdminKey.into());
        }
    }
    let sessions = &app.sessions;
    app.metrics
        .websocket_gauges(sessions.open(), sessions.native.len(), sessions.ioap.len());
    Ok((
        StatusCode::OK,
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response())
}
