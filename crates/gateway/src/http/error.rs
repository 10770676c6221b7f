//! Errors at the HTTP edge.
//!
//! Handlers return [`ApiError`], which wraps the services' typed errors plus the few
//! the edge itself raises. [`ApiError::classify`] is the one place that maps every error
//! to its HTTP status and stable code; it names every variant, so a new error cannot
//! silently fall into a default.
//!
//! Rendering happens in two steps: [`ApiError::into_response`] sets the status and
//! attaches an `ErrorInfo`; the edge middleware (which knows the request id) turns it
//! into the body `{"error": {"code", "message", "details"?, "timestamp", "request_id"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::directory::DirectoryError;
use crate::federation::discovery::DiscoveryError;
use crate::federation::signatures::VerifyError;
use crate::inbox::InboxError;
use crate::messaging::MessagingError;
use crate::paging::PageError;
use crate::schemas::{DefinitionError, SchemaError};
use crate::storage::StorageFailure;
use crate::workflows::WorkflowsError;

/// Why a request was not authorised.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` on an agent route.
    #[error("this route needs an agent API key: Authorization: Bearer <key>")]
    MissingAuthorization,
    /// The Bearer key is not any agent's.
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// No `X-Admin-Key` on an admin route.
    #[error("this route needs an admin key: X-Admin-Key: <key>")]
    MissingAdminKey,
    /// The admin key is not one of the configured keys.
    #[error("the admin key is not valid")]
    InvalidAdminKey,
    /// A valid credential that does not grant this.
    #[error("{0}")]
    AccessDenied(String),
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Authentication or authorisation.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The directory refused.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// Messaging refused.
    #[error(transparent)]
    Messaging(#[from] MessagingError),
    /// The inbox refused.
    #[error(transparent)]
    Inbox(#[from] InboxError),
    /// The schema registry refused.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Discovery of another domain's gateway failed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A workflow request failed.
    #[error(transparent)]
    Workflows(#[from] WorkflowsError),
    /// A delivery from another gateway was not authenticated.
    #[error(transparent)]
    Federation(#[from] VerifyError),
    /// A domain in the path is not a valid domain.
    #[error("not a valid domain: {0}")]
    InvalidDomain(agentgate_core::domain::DomainError),
    /// A failure inside the gateway (described in the log only).
    #[error("{0}")]
    Internal(String),
    /// A malformed path, query or body the services never saw.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the route allows.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// No such route.
    #[error("no such route")]
    RouteNotFound,
    /// The route exists but not with this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// The request took longer than `server.request_timeout`.
    #[error("the request took too long")]
    Timeout,
    /// A handler panicked.
    #[error("internal error")]
    Panicked,
    /// A WebSocket upgrade from an `Origin` not in `websocket.allowed_origins`.
    #[error("this Origin may not open WebSocket sessions")]
    OriginNotAllowed,
    /// A request to `/ws` that is not a valid WebSocket upgrade.
    #[error("this route takes WebSocket upgrades only: {0}")]
    UpgradeRequired(String),
}

/// An error to render, attached to the response for the edge middleware.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct ErrorInfo {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

fn page(p: &PageError) -> (StatusCode, &'static str) {
    match p {
        PageError::InvalidLimit { .. } => (StatusCode::BAD_REQUEST, "INVALID_LIMIT"),
        PageError::InvalidCursor => (StatusCode::BAD_REQUEST, "INVALID_CURSOR"),
    }
}

fn storage(s: &StorageFailure) -> (StatusCode, &'static str) {
    if s.is_unavailable() {
        (StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
    }
}

impl ApiError {
    /// The HTTP status and stable code of this error.
    pub fn classify(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::Auth(e) => match e {
                AuthError::MissingAuthorization => (S::UNAUTHORIZED, "MISSING_AUTHORIZATION"),
                AuthError::InvalidApiKey => (S::UNAUTHORIZED, "INVALID_API_KEY"),
                AuthError::MissingAdminKey => (S::UNAUTHORIZED, "MISSING_ADMIN_KEY"),
                AuthError::InvalidAdminKey => (S::UNAUTHORIZED, "INVALID_ADMIN_KEY"),
                AuthError::AccessDenied(_) => (S::FORBIDDEN, "ACCESS_DENIED"),
            },
            ApiError::Directory(e) => match e {
                DirectoryError::InvalidRequest(_) => (S::BAD_REQUEST, "INVALID_REQUEST"),
                DirectoryError::InvalidAgentName(_) => (S::BAD_REQUEST, "INVALID_AGENT_NAME"),
                DirectoryError::WrongDomain { .. } => (S::BAD_REQUEST, "WRONG_DOMAIN"),
                DirectoryError::InvalidDeliveryMode(_) => (S::BAD_REQUEST, "INVALID_DELIVERY_MODE"),
                DirectoryError::InvalidPushTarget(_) => (S::BAD_REQUEST, "INVALID_PUSH_TARGET"),
                DirectoryError::InvalidHeaders(_) => (S::BAD_REQUEST, "INVALID_HEADERS"),
                DirectoryError::InvalidSchema(_) => (S::BAD_REQUEST, "INVALID_SCHEMA"),
                DirectoryError::InvalidPublicKey(_) => (S::BAD_REQUEST, "INVALID_PUBLIC_KEY"),
                DirectoryError::InvalidQuery(_) => (S::BAD_REQUEST, "INVALID_QUERY"),
                DirectoryError::AgentExists(_) => (S::CONFLICT, "AGENT_EXISTS"),
                DirectoryError::AgentNotFound(_) => (S::NOT_FOUND, "AGENT_NOT_FOUND"),
                DirectoryError::DomainNotFound { .. } => (S::NOT_FOUND, "DOMAIN_NOT_FOUND"),
                DirectoryError::AccessDenied => (S::FORBIDDEN, "ACCESS_DENIED"),
                DirectoryError::Page(p) => page(p),
                DirectoryError::Storage(s) => storage(s),
            },
            ApiError::Messaging(e) => match e {
                // Codes come from the codec and core, whose error enums carry them.
                MessagingError::Decode(d) if d.code() == "PAYLOAD_TOO_LARGE" => {
                    (S::PAYLOAD_TOO_LARGE, d.code())
                }
                MessagingError::Decode(d) => (S::BAD_REQUEST, d.code()),
                MessagingError::Envelope(v) => (S::BAD_REQUEST, v.code()),
                MessagingError::SenderNotLocal(_) => (S::FORBIDDEN, "SENDER_NOT_LOCAL"),
                MessagingError::AccessDenied(_) => (S::FORBIDDEN, "ACCESS_DENIED"),
                MessagingError::SenderDomainMismatch { .. } => {
                    (S::FORBIDDEN, "SENDER_DOMAIN_MISMATCH")
                }
                MessagingError::RelayDenied(_) => (S::FORBIDDEN, "RELAY_DENIED"),
                MessagingError::MessageIdRequired => (S::BAD_REQUEST, "MESSAGE_ID_REQUIRED"),
                MessagingError::Coordination(w) => (S::BAD_REQUEST, w.code()),
                MessagingError::MessageIdConflict(_) => (S::CONFLICT, "MESSAGE_ID_CONFLICT"),
                MessagingError::SchemaNotFound(_) => (S::BAD_REQUEST, "SCHEMA_NOT_FOUND"),
                MessagingError::SchemaValidationFailed { .. } => {
                    (S::BAD_REQUEST, "SCHEMA_VALIDATION_FAILED")
                }
                MessagingError::Rejected { code, .. } => (S::UNPROCESSABLE_ENTITY, code),
                MessagingError::InvalidMessageId(_) => (S::BAD_REQUEST, "INVALID_MESSAGE_ID"),
                MessagingError::MessageNotFound(_) => (S::NOT_FOUND, "MESSAGE_NOT_FOUND"),
                MessagingError::InvalidRole(_) => (S::BAD_REQUEST, "INVALID_ROLE"),
                MessagingError::Page(p) => page(p),
                MessagingError::Storage(s) => storage(s),
            },
            ApiError::Inbox(e) => match e {
                InboxError::Page(p) => page(p),
                InboxError::InvalidWait { .. } => (S::BAD_REQUEST, "INVALID_WAIT"),
                InboxError::InvalidMessageId(_) => (S::BAD_REQUEST, "INVALID_MESSAGE_ID"),
                InboxError::MessageNotFound(_) => (S::NOT_FOUND, "MESSAGE_NOT_FOUND"),
                InboxError::Storage(s) => storage(s),
            },
            ApiError::Schema(e) => match e {
                SchemaError::InvalidRequest(_) => (S::BAD_REQUEST, "INVALID_REQUEST"),
                SchemaError::InvalidSchemaId(_) => (S::BAD_REQUEST, "INVALID_SCHEMA_ID"),
                SchemaError::InvalidPattern(_) => (S::BAD_REQUEST, "INVALID_SCHEMA_PATTERN"),
                SchemaError::Definition(d) => match d {
                    DefinitionError::TooLarge { .. } => (S::PAYLOAD_TOO_LARGE, "SCHEMA_TOO_LARGE"),
                    DefinitionError::UnsupportedDraft(_) => {
                        (S::BAD_REQUEST, "UNSUPPORTED_SCHEMA_DRAFT")
                    }
                    DefinitionError::Invalid(_) => (S::BAD_REQUEST, "INVALID_SCHEMA_DEFINITION"),
                },
                SchemaError::AlreadyExists(_) => (S::CONFLICT, "SCHEMA_ALREADY_EXISTS"),
                SchemaError::NotFound(_) => (S::NOT_FOUND, "SCHEMA_NOT_FOUND"),
                SchemaError::RegistryFull { .. } => (S::CONFLICT, "SCHEMA_REGISTRY_FULL"),
                SchemaError::Storage(s) => storage(s),
            },
            ApiError::Discovery(e) => match e {
                DiscoveryError::NotFound(_) => (S::NOT_FOUND, e.code()),
                DiscoveryError::Invalid { .. }
                | DiscoveryError::PlainHttp { .. }
                | DiscoveryError::PrivateAddress { .. }
                | DiscoveryError::Lookup { .. } => (S::BAD_GATEWAY, e.code()),
            },
            ApiError::Federation(e) => {
                let status = if e.is_temporary() {
                    S::SERVICE_UNAVAILABLE
                } else if matches!(
                    e,
                    VerifyError::DomainMismatch(_) | VerifyError::AddressMismatch(_)
                ) {
                    S::FORBIDDEN
                } else {
                    S::UNAUTHORIZED
                };
                (status, e.code())
            }
            ApiError::Workflows(e) => match e {
                WorkflowsError::InvalidId(_) => (S::BAD_REQUEST, "INVALID_WORKFLOW_ID"),
                WorkflowsError::NotFound(_) => (S::NOT_FOUND, "WORKFLOW_NOT_FOUND"),
                WorkflowsError::AccessDenied => (S::FORBIDDEN, "ACCESS_DENIED"),
                WorkflowsError::Storage(s) => storage(s),
            },
            ApiError::InvalidDomain(_) => (S::BAD_REQUEST, "INVALID_DOMAIN"),
            ApiError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
            ApiError::BadRequest(_) => (S::BAD_REQUEST, "INVALID_REQUEST"),
            ApiError::PayloadTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::RouteNotFound => (S::NOT_FOUND, "NOT_FOUND"),
            ApiError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            // 503 rather than 408: the client did nothing wrong and may retry.
            ApiError::Timeout => (S::SERVICE_UNAVAILABLE, "REQUEST_TIMEOUT"),
            ApiError::Panicked => (S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
            ApiError::OriginNotAllowed => (S::FORBIDDEN, "ORIGIN_NOT_ALLOWED"),
            ApiError::UpgradeRequired(_) => (S::UPGRADE_REQUIRED, "UPGRADE_REQUIRED"),
        }
    }

    /// Structured details for the error body.
    fn details(&self) -> Option<Value> {
        match self {
            ApiError::Messaging(MessagingError::Rejected { recipients, .. }) => {
                Some(json!({ "recipients": recipients }))
            }
            ApiError::Messaging(MessagingError::SchemaValidationFailed { schema, errors }) => {
                Some(json!({ "schema": schema, "errors": errors }))
            }
            ApiError::PayloadTooLarge { limit }
            | ApiError::Schema(SchemaError::Definition(DefinitionError::TooLarge {
                limit, ..
            })) => Some(json!({ "limit": limit })),
            ApiError::Schema(SchemaError::RegistryFull {
                max_schemas,
                max_bytes,
            }) => Some(json!({ "max_schemas": max_schemas, "max_bytes": max_bytes })),
            ApiError::Inbox(InboxError::Page(PageError::InvalidLimit { max }))
            | ApiError::Directory(DirectoryError::Page(PageError::InvalidLimit { max }))
            | ApiError::Messaging(MessagingError::Page(PageError::InvalidLimit { max })) => {
                Some(json!({ "max": max }))
            }
            ApiError::Inbox(InboxError::InvalidWait { max }) => Some(json!({ "max": max })),
            _ => None,
        }
    }

    /// The message shown to the client. Internal failures are described only in the
    /// log, which the request id points to.
    fn public_message(&self, status: StatusCode) -> String {
        // A timeout and a peer's failure are not internal: say what happened.
        if status.is_server_error()
            && !matches!(
                self,
                ApiError::Timeout | ApiError::Discovery(_) | ApiError::Federation(_)
            )
        {
            tracing::error!(error = %self, "request failed");
            if status == StatusCode::SERVICE_UNAVAILABLE {
                return "the store is unavailable; retry later".into();
            }
            return "internal error; the gateway log has the details under this request id".into();
        }
        self.to_string()
    }
}

impl ApiError {
    /// The status and what the error body says, before the edge adds the request id.
    pub(crate) fn info(&self) -> (StatusCode, ErrorInfo) {
        let (status, code) = self.classify();
        let info = ErrorInfo {
            code,
            message: self.public_message(status),
            details: self.details(),
        };
        (status, info)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, info) = self.info();
        let mut response = status.into_response();
        response.extensions_mut().insert(info);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentgate_codec::amtp::DecodeError;

    #[test]
    fn statuses() {
        let e = ApiError::Messaging(MessagingError::Decode(DecodeError::TooLarge {
            size: 2,
            limit: 1,
        }));
        assert_eq!(
            e.classify(),
            (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
        );
        let e = ApiError::Messaging(MessagingError::Decode(DecodeError::TooDeep(3)));
        assert_eq!(e.classify(), (StatusCode::BAD_REQUEST, "JSON_TOO_DEEP"));
        let e = ApiError::Auth(AuthError::AccessDenied("x".into()));
        assert_eq!(e.classify().0, StatusCode::FORBIDDEN);
        let e = ApiError::Directory(DirectoryError::Storage(StorageFailure(
            agentgate_store::StoreError::Closed,
        )));
        assert_eq!(
            e.classify(),
            (StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE")
        );
    }
}
