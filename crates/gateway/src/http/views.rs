//! JSON shapes of the HTTP API that are not the services' own types.

use std::collections::BTreeMap;

use agentgate_core::{Address, DeliveryMode, Timestamp};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::directory::AgentEntry;
use crate::schemas::{SchemaDraft, SchemaEntry};

/// A JSON response.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).expect("response serialises");
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// A response whose body is JSON already.
pub(crate) fn raw_json(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body.into()).into_response()
}

/// An agent as the admin API shows it: secrets and header values hidden.
#[derive(Serialize)]
pub(crate) struct AgentView<'a> {
    address: &'a Address,
    delivery_mode: DeliveryMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    push_target: Option<&'a str>,
    headers: BTreeMap<&'a str, &'static str>,
    supported_schemas: &'a [String],
    requires_schema: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    public_keys: &'a [String],
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_active: Option<Timestamp>,
}

impl<'a> AgentView<'a> {
    pub(crate) fn of(e: &'a AgentEntry) -> AgentView<'a> {
        let a = &e.agent;
        AgentView {
            address: &a.address,
            delivery_mode: a.delivery_mode,
            push_target: a.push_target.as_deref(),
            headers: a.headers.keys().map(|k| (k.as_str(), "***")).collect(),
            supported_schemas: &a.supported_schemas,
            requires_schema: !a.supported_schemas.is_empty(),
            public_keys: &a.public_keys,
            created_at: a.created_at,
            last_active: e.last_active(),
        }
    }
}

/// An agent as discovery shows it.
#[derive(Serialize)]
pub(crate) struct DiscoveredAgent<'a> {
    address: &'a Address,
    delivery_mode: DeliveryMode,
    supported_schemas: &'a [String],
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_active: Option<Timestamp>,
    active: bool,
}

impl<'a> DiscoveredAgent<'a> {
    pub(crate) fn of(e: &'a AgentEntry, active: bool) -> DiscoveredAgent<'a> {
        DiscoveredAgent {
            address: &e.agent.address,
            delivery_mode: e.agent.delivery_mode,
            supported_schemas: &e.agent.supported_schemas,
            created_at: e.agent.created_at,
            last_active: e.last_active(),
            active,
        }
    }
}

/// A schema as the admin listing shows it (no definition).
#[derive(Serialize)]
pub(crate) struct SchemaSummary<'a> {
    id: &'a str,
    namespace: &'a str,
    domain: &'a str,
    entity: &'a str,
    version: &'a str,
    draft: SchemaDraft,
    published_at: Timestamp,
    updated_at: Timestamp,
}

impl<'a> SchemaSummary<'a> {
    pub(crate) fn of(e: &'a SchemaEntry) -> SchemaSummary<'a> {
        let p = e.parts();
        SchemaSummary {
            id: &e.id,
            namespace: p.namespace,
            domain: p.domain,
            entity: p.entity,
            version: p.version,
            draft: e.draft(),
            published_at: e.published_at,
            updated_at: e.updated_at,
        }
    }
}

/// A schema with its definition, as registered.
#[derive(Serialize)]
pub(crate) struct SchemaView<'a> {
    id: &'a str,
    definition: &'a RawValue,
    draft: SchemaDraft,
    published_at: Timestamp,
    updated_at: Timestamp,
}

impl<'a> SchemaView<'a> {
    pub(crate) fn of(e: &'a SchemaEntry) -> SchemaView<'a> {
        SchemaView {
            id: &e.id,
            definition: &e.definition,
            draft: e.draft(),
            published_at: e.published_at,
            updated_at: e.updated_at,
        }
    }
}
