//! Federation routes: capabilities of a domain, this gateway's published keys, and the
//! admin routes for its signing keys.

use std::collections::BTreeSet;
use std::sync::Arc;

use agentgate_core::Domain;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::extract;
use super::views::json;
use crate::app::App;
use crate::clock;
use crate::federation::discovery::Source;

/// `GET /v1/capabilities/{domain}`: the domain's `_amtp` record as this gateway sees it
/// (for its own domain, from its configuration). Public, like the DNS it reflects.
pub(crate) async fn capabilities(
    State(app): State<Arc<App>>,
    domain: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(domain) = domain.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let domain = Domain::parse(&domain).map_err(ApiError::InvalidDomain)?;
    let peer = app.federation.discovery.discover(&domain).await?;
    let mut body = json!({
        "domain": peer.domain,
        "version": agentgate_codec::amtp_txt::VERSION,
        "gateway": peer.record.gateway,
        "auth": peer.record.auth,
        "max_size": peer.record.max_size,
        "features": peer.record.features,
        "source": peer.source,
        "ttl": peer.ttl.map(|t| t.as_secs()),
        "discovered_at": clock::now(),
    });
    if peer.source == Source::Config {
        let snapshot = app.directory.snapshot();
        let schemas: BTreeSet<&str> = snapshot
            .agents()
            .flat_map(|a| a.agent.supported_schemas.iter().map(String::as_str))
            .collect();
        body["schemas"] = json!(schemas);
    }
    Ok(json(StatusCode::OK, &body))
}

/// `GET /.well-known/amtp/keys`: the public keys peers verify our deliveries with.
pub(crate) async fn published_keys(State(app): State<Arc<App>>) -> Response {
    json(
        StatusCode::OK,
        &json!({
            "domain": app.settings.domain,
            "keys": app.federation.keys.published(clock::now()),
        }),
    )
}

/// `GET /v1/admin/federation/keys` (admin key): the same list, for operators.
pub(crate) async fn list_keys(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    Ok(published_keys(State(app)).await)
}

/// `POST /v1/admin/federation/keys/rotate` (admin key): a new signing key; the previous
/// one stays published for `federation.retired_key_ttl`.
pub(crate) async fn rotate_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    extract::admin(&app, &headers)?;
    let app2 = app.clone();
    let key = tokio::task::spawn_blocking(move || app2.federation.keys.rotate())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("{e:#}")))?;
    Ok(json(StatusCode::OK, &json!({ "key": key })))
}
