//! The middleware every request passes through: request id, timeout, error bodies,
//! metrics and one log line.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::{ApiError, ErrorInfo};
use crate::app::App;
use crate::clock;

/// The request id header.
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether a client's request id can be echoed: 1-128 visible ASCII characters.
fn is_sane_request_id(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Runs one request: assigns its id, bounds its time, renders error bodies, counts it
/// and logs it.
pub(crate) async fn edge(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| is_sane_request_id(s))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut buf = uuid::Uuid::encode_buffer();
            clock::random_uuid()
                .hyphenated()
                .encode_lower(&mut buf)
                .to_owned()
        });
    let method = method_label(req.method());
    let route = super::route_label(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );

    let mut response = match tokio::time::timeout(app.settings.request_timeout, next.run(req)).await
    {
        Ok(r) => r,
        Err(_) => ApiError::Timeout.into_response(),
    };
    if let Some(info) = response.extensions_mut().remove::<ErrorInfo>() {
        app.metrics.error_response(info.code);
        let mut error = json!({
            "code": info.code,
            "message": info.message,
            "timestamp": clock::now(),
            "request_id": request_id,
        });
        if let Some(d) = info.details {
            error["details"] = d;
        }
        let body = serde_json::to_vec(&json!({ "error": error })).expect("error body serialises");
        *response.body_mut() = Body::from(body);
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    app.metrics.http_request(method, route, status, elapsed);
    tracing::info!(
        target: "agentgate::http",
        method,
        route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert!(is_sane_request_id("abc-123"));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("has space"));
        assert!(!is_sane_request_id(&"x".repeat(129)));
        assert!(!is_sane_request_id("tab\tx"));
    }
}
