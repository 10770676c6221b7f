//! The HTTP edge: the AMTP REST API, the admin API and the operations endpoints.
//!
//! Handlers authenticate, pull parameters out of the request, call one service and
//! render its answer; the rules live in the services. Every route passes through
//! `edge::edge` (request id, timeout, error bodies, metrics, log line) and a panic
//! guard. Bodies are read with explicit limits (`message.max_size` for messages,
//! 64 KiB for admin requests, 272 KiB for schema definitions, `message.max_size` for a
//! payload to validate), whether sent with `Content-Length` or chunked.

mod admin;
mod admin_schemas;
mod discovery;
mod edge;
pub mod error;
mod extract;
mod federation;
mod inbox;
mod messages;
mod ops;
mod presence;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::App;
use error::ApiError;
pub(crate) use messages::submitted;

/// Route templates, as routed and as labelled in metrics.
const AGENTS: &str = "/v1/admin/agents";
const AGENT: &str = "/v1/admin/agents/{name}";
const ROTATE_KEY: &str = "/v1/admin/agents/{name}/rotate-key";
const SCHEMAS: &str = "/v1/admin/schemas";
const SCHEMA_STATS: &str = "/v1/admin/schemas/stats";
const SCHEMA: &str = "/v1/admin/schemas/{id}";
const SCHEMA_VALIDATE: &str = "/v1/admin/schemas/{id}/validate";
const MESSAGES: &str = "/v1/messages";
const MESSAGE: &str = "/v1/messages/{id}";
const MESSAGE_STATUS: &str = "/v1/messages/{id}/status";
const INBOX: &str = "/v1/inbox/{address}";
const INBOX_ITEM: &str = "/v1/inbox/{address}/{message_id}";
const DISCOVERY: &str = "/v1/discovery/agents";
const DISCOVERY_DOMAIN: &str = "/v1/discovery/agents/{domain}";
const WORKFLOW: &str = "/v1/workflows/{id}";
const CAPABILITIES: &str = "/v1/capabilities/{domain}";
const WELL_KNOWN_KEYS: &str = crate::federation::KEYS_PATH;
const FEDERATION_KEYS: &str = "/v1/admin/federation/keys";
const ROTATE_FEDERATION_KEY: &str = "/v1/admin/federation/keys/rotate";
const FEDERATION_BATCH: &str = crate::federation::batch::BATCH_PATH;
const HEALTH: &str = "/health";
const READY: &str = "/ready";
const METRICS: &str = "/metrics";
const WS: &str = "/ws";
const IOAP_AGENTS: &str = "/agents";
const ROUTES: [&str; 25] = [
    AGENTS,
    AGENT,
    ROTATE_KEY,
    SCHEMAS,
    SCHEMA_STATS,
    SCHEMA,
    SCHEMA_VALIDATE,
    MESSAGES,
    MESSAGE,
    MESSAGE_STATUS,
    INBOX,
    INBOX_ITEM,
    DISCOVERY,
    DISCOVERY_DOMAIN,
    WORKFLOW,
    CAPABILITIES,
    WELL_KNOWN_KEYS,
    FEDERATION_KEYS,
    ROTATE_FEDERATION_KEY,
    FEDERATION_BATCH,
    HEALTH,
    READY,
    METRICS,
    WS,
    IOAP_AGENTS,
];

/// The metrics label of a matched route template (`unmatched` for none).
pub(crate) fn route_label(template: Option<&str>) -> &'static str {
    template
        .and_then(|t| ROUTES.iter().find(|r| **r == t).copied())
        .unwrap_or("unmatched")
}

/// Every route of the gateway, with its middleware.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(AGENTS, post(admin::register).get(admin::list))
        .route(AGENT, get(admin::show).delete(admin::unregister))
        .route(ROTATE_KEY, post(admin::rotate_key))
        .route(
            SCHEMAS,
            post(admin_schemas::register).get(admin_schemas::list),
        )
        // A static segment wins over `{id}`, so `stats` is never taken for an id (nor
        // could it be one: ids contain a colon).
        .route(SCHEMA_STATS, get(admin_schemas::stats))
        .route(
            SCHEMA,
            get(admin_schemas::show)
                .put(admin_schemas::update)
                .delete(admin_schemas::delete),
        )
        .route(SCHEMA_VALIDATE, post(admin_schemas::validate))
        .route(MESSAGES, post(messages::submit).get(messages::list))
        .route(MESSAGE, get(messages::get))
        .route(MESSAGE_STATUS, get(messages::status))
        .route(INBOX, get(inbox::list))
        .route(INBOX_ITEM, delete(inbox::ack))
        .route(DISCOVERY, get(discovery::agents))
        .route(DISCOVERY_DOMAIN, get(discovery::agents_in))
        .route(WORKFLOW, get(messages::workflow))
        .route(CAPABILITIES, get(federation::capabilities))
        .route(WELL_KNOWN_KEYS, get(federation::published_keys))
        .route(FEDERATION_KEYS, get(federation::list_keys))
        .route(ROTATE_FEDERATION_KEY, post(federation::rotate_key))
        .route(FEDERATION_BATCH, post(messages::batch))
        .route(HEALTH, get(ops::health))
        .route(READY, get(ops::ready))
        .route(METRICS, get(ops::metrics))
        .route(WS, get(crate::ws::upgrade))
        .route(IOAP_AGENTS, get(presence::agents))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn_with_state(app.clone(), edge::edge))
        .with_state(app)
}

async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::Panicked.into_response()
}
