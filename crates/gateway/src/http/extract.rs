//! What handlers pull out of requests: credentials, bounded bodies, query parameters.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::error::{ApiError, AuthError};
use crate::app::App;
use crate::directory::AgentEntry;
use crate::messaging::Caller;

/// Largest body of an admin request.
pub(crate) const MAX_ADMIN_BODY: usize = 64 * 1024;

/// The key in `Authorization: Bearer <key>`, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

/// The key in `X-Admin-Key`, if any.
pub(crate) fn admin_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-admin-key")?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// The agent whose Bearer key is presented.
pub(crate) fn agent(app: &App, headers: &HeaderMap) -> Result<Arc<AgentEntry>, ApiError> {
    let key = bearer(headers).ok_or(AuthError::MissingAuthorization)?;
    Ok(app
        .directory
        .authenticate(key)
        .ok_or(AuthError::InvalidApiKey)?)
}

/// The agent whose Bearer key is presented, which must be the one at `address`.
pub(crate) fn owner(
    app: &App,
    headers: &HeaderMap,
    address: &str,
) -> Result<Arc<AgentEntry>, ApiError> {
    let entry = agent(app, headers)?;
    match agentgate_core::Address::parse(address) {
        Ok(a) if a == entry.agent.address => Ok(entry),
        _ => Err(AuthError::AccessDenied(format!(
            "this API key belongs to {}, not to {address}",
            entry.agent.address
        ))
        .into()),
    }
}

/// Checks `X-Admin-Key`.
pub(crate) fn admin(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let key = admin_key(headers).ok_or(AuthError::MissingAdminKey)?;
    if app.admin_keys.verify(key) {
        Ok(())
    } else {
        Err(AuthError::InvalidAdminKey.into())
    }
}

/// An admin (`X-Admin-Key`) or an agent (Bearer).
pub(crate) fn agent_or_admin(app: &App, headers: &HeaderMap) -> Result<Caller, ApiError> {
    if admin_key(headers).is_some() {
        admin(app, headers)?;
        return Ok(Caller::Admin);
    }
    Ok(Caller::Agent(agent(app, headers)?))
}

/// Reads a body of at most `limit` bytes: refused from its `Content-Length` before
/// reading, and cut off while reading when it is streamed (chunked).
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(e) => Err(ApiError::BadRequest(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// The query string's parameters (the last value of a repeated name wins).
pub(crate) fn query(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A single path parameter; a malformed one is 400 `INVALID_REQUEST`.
pub(crate) fn path(
    p: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    p.map(|axum::extract::Path(s)| s)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer agk_x"));
        assert_eq!(bearer(&h), Some("agk_x"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  agk_y "));
        assert_eq!(bearer(&h), Some("agk_y"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn query_parsing() {
        let q = query(Some("limit=5&cursor=a%2Bb&wait="));
        assert_eq!(q.get("limit").map(String::as_str), Some("5"));
        assert_eq!(q.get("cursor").map(String::as_str), Some("a+b"));
        assert_eq!(q.get("wait").map(String::as_str), Some(""));
        assert!(query(None).is_empty());
    }
}
