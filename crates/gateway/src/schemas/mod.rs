//! The schema registry: JSON Schemas registered by operators under ids
//! `namespace:domain.entity.vN`, and the checks of message payloads against them.
//!
//! Schemas live in the `schemas` bucket (one JSON record per id, keyed by the escaped
//! id; see [`record`]). The whole registry is also held in memory, each definition
//! compiled once into a validator: loaded at startup and replaced copy-on-write after
//! every change, so checking a payload takes one map lookup and no store access.
//! Changes are serialised by one lock and written with compare-and-set on the stored
//! revision, so a concurrent writer elsewhere (a future replica) is detected and the
//! change retried on the fresh record instead of overwriting it.
//!
//! Bounds: a definition is at most [`MAX_DEFINITION_BYTES`]; the registry holds at most
//! [`MAX_SCHEMAS`] schemas and [`MAX_TOTAL_DEFINITION_BYTES`] of definitions.
//!
//! What messaging does with it (see `crate::messaging`): a message naming a registered
//! schema must carry a payload valid against it; a local agent may not name an
//! unregistered schema; a peer gateway may (the sending gateway answers for it).

pub mod compiled;
pub(crate) mod record;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use agentgate_core::schema_id::{SchemaFilterError, is_valid_schema_id};
use agentgate_core::{RawJson, SchemaFilter, SchemaId, Timestamp};
use agentgate_store::{KvStore, Store, StoreError};
use parking_lot::RwLock;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::clock;
use crate::storage::{SCHEMAS, StorageFailure};
pub use compiled::{CompiledSchema, DefinitionError, MAX_DEFINITION_BYTES, SchemaDraft, Violation};
use record::SchemaRecord;

#[cfg(test)]
mod tests;

/// Most schemas the registry holds.
pub const MAX_SCHEMAS: usize = 10_000;
/// Most bytes of definitions the registry holds, all schemas together (64 MiB).
pub const MAX_TOTAL_DEFINITION_BYTES: usize = 64 << 20;
/// Most violations reported for a refused message.
pub const MAX_SUBMISSION_VIOLATIONS: usize = 20;
/// Most violations reported by the admin validate call.
pub const MAX_REPORTED_VIOLATIONS: usize = 100;
/// Payloads longer than this (bytes of JSON) are checked on a blocking thread, so a
/// large payload does not hold up other requests on the same worker.
const INLINE_CHECK_BYTES: usize = 64 * 1024;
/// Compare-and-set attempts before a change gives up as contended. Within a replica
/// changes take turns; another replica changing the same schema in a loop can win
/// every round while it has changes queued, so this bound is generous, and a loser
/// pauses briefly ([`after_conflict`]) before it reads again.
const MAX_CAS_ROUNDS: usize = 64;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The request body is malformed (bad JSON, unknown field, wrong type).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Not a schema id.
    #[error(
        "{0:?} is not a schema id: namespace:domain.entity.vN, each part of [A-Za-z0-9_-], at most 256 bytes"
    )]
    InvalidSchemaId(String),
    /// The `pattern` of a listing is not a filter.
    #[error(transparent)]
    InvalidPattern(#[from] SchemaFilterError),
    /// The definition is not acceptable.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// The id is registered already (and `force` was not given).
    #[error("schema {0} is already registered; update it, or register with force to replace it")]
    AlreadyExists(String),
    /// No such schema.
    #[error("schema {0} is not registered")]
    NotFound(String),
    /// The registry holds as many schemas, or as many bytes of them, as it may.
    #[error(
        "the schema registry is full (at most {max_schemas} schemas and {max_bytes} bytes of definitions)"
    )]
    RegistryFull {
        /// [`MAX_SCHEMAS`].
        max_schemas: usize,
        /// [`MAX_TOTAL_DEFINITION_BYTES`].
        max_bytes: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

impl From<StoreError> for SchemaError {
    fn from(e: StoreError) -> Self {
        SchemaError::Storage(StorageFailure(e))
    }
}

/// `POST /v1/admin/schemas`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The schema id.
    pub id: String,
    /// The JSON Schema.
    pub definition: Box<RawValue>,
    /// Replace the schema if the id is registered already.
    #[serde(default)]
    pub force: bool,
}

/// `PUT /v1/admin/schemas/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// The id again (optional; must match the path when given).
    #[serde(default)]
    pub id: Option<String>,
    /// The new JSON Schema.
    pub definition: Box<RawValue>,
}

/// `POST /v1/admin/schemas/{id}/validate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The payload to check.
    pub payload: Box<RawValue>,
}

/// Reads a request body of type `T`.
pub fn parse_request<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, SchemaError> {
    serde_json::from_slice(body).map_err(|e| SchemaError::InvalidRequest(e.to_string()))
}

/// A registered schema as held in memory.
#[derive(Debug)]
pub struct SchemaEntry {
    /// The schema id.
    pub id: String,
    /// The JSON Schema, as registered.
    pub definition: Box<RawValue>,
    /// When the id was first registered.
    pub published_at: Timestamp,
    /// When the definition last changed.
    pub updated_at: Timestamp,
    compiled: CompiledSchema,
}

impl SchemaEntry {
    /// The id's parts.
    pub fn parts(&self) -> SchemaId<'_> {
        SchemaId::parse(&self.id).expect("registered ids are valid")
    }

    /// The draft the definition was compiled for.
    pub fn draft(&self) -> SchemaDraft {
        self.compiled.draft()
    }

    /// Checks a payload given as JSON text (at most `max` violations reported).
    fn check(&self, payload: &str, max: usize) -> PayloadVerdict {
        let value: Value = match serde_json::from_str(payload) {
            Ok(v) => v,
            Err(e) => {
                return PayloadVerdict::Invalid(vec![Violation {
                    path: String::new(),
                    message: format!("the payload is not JSON: {e}"),
                    keyword: String::new(),
                }]);
            }
        };
        if self.compiled.is_valid(&value) {
            PayloadVerdict::Valid
        } else {
            PayloadVerdict::Invalid(self.compiled.violations(&value, max))
        }
    }

    fn size(&self) -> usize {
        self.definition.get().len()
    }
}

/// What checking a payload against a schema id found.
#[derive(Debug, PartialEq, Eq)]
pub enum PayloadVerdict {
    /// No schema of that id is registered.
    Unregistered,
    /// The payload is valid.
    Valid,
    /// The payload is not valid; the first violations.
    Invalid(Vec<Violation>),
}

/// Counts over the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStats {
    /// Schemas registered.
    pub total_schemas: usize,
    /// Distinct `namespace:domain`s among them.
    pub domains: usize,
    /// Distinct `namespace:domain.entity`s among them.
    pub entities: usize,
}

/// An immutable view of the registry.
#[derive(Debug, Default)]
pub struct SchemaSnapshot {
    by_id: BTreeMap<String, Arc<SchemaEntry>>,
    bytes: usize,
}

impl SchemaSnapshot {
    /// The schema `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<SchemaEntry>> {
        self.by_id.get(id)
    }

    /// Every schema, in id order.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<SchemaEntry>> {
        self.by_id.values()
    }

    /// How many schemas there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn insert(&mut self, entry: Arc<SchemaEntry>) {
        self.bytes += entry.size();
        if let Some(old) = self.by_id.insert(entry.id.clone(), entry) {
            self.bytes -= old.size();
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id) {
            self.bytes -= old.size();
        }
    }
}

/// A completed registration.
#[derive(Debug)]
pub struct Registered {
    /// The schema as now registered.
    pub entry: Arc<SchemaEntry>,
    /// Whether it replaced an earlier definition (`force`).
    pub replaced: bool,
}

/// The schema registry service.
pub struct Schemas {
    store: Arc<dyn Store>,
    state: RwLock<Arc<SchemaSnapshot>>,
    writes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas")
            .field("schemas", &self.state.read().len())
            .finish_non_exhaustive()
    }
}

/// Compiles `definition` on a blocking thread (a panic in the compiler is a refusal).
async fn compile(definition: &RawValue) -> Result<CompiledSchema, DefinitionError> {
    let text = definition.get().to_string();
    tokio::task::spawn_blocking(move || {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| DefinitionError::Invalid(format!("not JSON: {e}")))?;
        CompiledSchema::compile(&text, &value)
    })
    .await
    .unwrap_or_else(|_| {
        Err(DefinitionError::Invalid(
            "the definition could not be compiled".into(),
        ))
    })
}

fn checked_id(id: &str) -> Result<(), SchemaError> {
    if is_valid_schema_id(id) {
        Ok(())
    } else {
        Err(SchemaError::InvalidSchemaId(id.to_string()))
    }
}

/// A short random pause after losing a compare-and-set round (up to 2 ms), so that two
/// replicas writing the same schema stop moving in step.
async fn after_conflict() {
    let pause = Duration::from_micros((clock::random_unit() * 2000.0) as u64);
    tokio::time::sleep(pause).await;
}

fn contended() -> SchemaError {
    StorageFailure(StoreError::Unavailable(
        "the schema changed concurrently too often; retry".into(),
    ))
    .into()
}

impl Schemas {
    /// Loads every schema from the store and compiles it. A stored definition that no
    /// longer compiles (say, after an upgrade of the validator) is left out and logged;
    /// it can still be replaced (`force`) or deleted.
    pub async fn open(store: Arc<dyn Store>) -> Result<Schemas, StorageFailure> {
        let mut snapshot = SchemaSnapshot::default();
        let mut after: Option<String> = None;
        loop {
            let page = store.scan(SCHEMAS, "", after.as_deref(), 500).await?;
            let done = page.len() < 500;
            for e in &page {
                let r = SchemaRecord::decode(&e.key, &e.value)?;
                match compile(&r.definition).await {
                    Ok(compiled) => snapshot.insert(Arc::new(SchemaEntry {
                        id: r.id,
                        definition: r.definition,
                        published_at: r.published_at,
                        updated_at: r.updated_at,
                        compiled,
                    })),
                    Err(error) => {
                        tracing::error!(schema = %r.id, %error, "a stored schema no longer compiles; messages naming it are refused until it is replaced or deleted");
                    }
                }
            }
            after = page.last().map(|e| e.key.clone());
            if done {
                break;
            }
        }
        Ok(Schemas {
            store,
            state: RwLock::new(Arc::new(snapshot)),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// The current view of the registry.
    pub fn snapshot(&self) -> Arc<SchemaSnapshot> {
        self.state.read().clone()
    }

    fn publish(&self, change: impl FnOnce(&mut SchemaSnapshot)) {
        let mut state = self.state.write();
        let mut next = SchemaSnapshot {
            by_id: state.by_id.clone(),
            bytes: state.bytes,
        };
        change(&mut next);
        *state = Arc::new(next);
    }

    /// Refuses a change that would take the registry past its bounds: `replacing` is
    /// the size of the definition replaced (`None` for a new id), `size` the new one's.
    fn check_capacity(&self, replacing: Option<usize>, size: usize) -> Result<(), SchemaError> {
        let snap = self.snapshot();
        let count = snap.len() + usize::from(replacing.is_none());
        let bytes = snap.bytes - replacing.unwrap_or(0).min(snap.bytes) + size;
        if count > MAX_SCHEMAS || bytes > MAX_TOTAL_DEFINITION_BYTES {
            return Err(SchemaError::RegistryFull {
                max_schemas: MAX_SCHEMAS,
                max_bytes: MAX_TOTAL_DEFINITION_BYTES,
            });
        }
        Ok(())
    }

    /// Writes `record` over the stored one: created when `revision` is `None`, else
    /// compare-and-set against it. Returns `None` when the stored state moved on.
    async fn write(
        &self,
        record: &SchemaRecord,
        revision: Option<u64>,
    ) -> Result<Option<()>, SchemaError> {
        let key = record::key(&record.id);
        let written = match revision {
            None => self.store.create(SCHEMAS, &key, record.encode()).await,
            Some(r) => self.store.update(SCHEMAS, &key, record.encode(), r).await,
        };
        match written {
            Ok(_) => Ok(Some(())),
            Err(StoreError::AlreadyExists(_) | StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The stored record of `id` and its revision.
    async fn stored(&self, id: &str) -> Result<Option<(SchemaRecord, u64)>, SchemaError> {
        let key = record::key(id);
        match KvStore::get(&*self.store, SCHEMAS, &key).await? {
            None => Ok(None),
            Some(e) => Ok(Some((SchemaRecord::decode(&key, &e.value)?, e.revision))),
        }
    }

    /// Registers a schema; with `force`, replaces an existing one (keeping its
    /// `published_at`).
    pub async fn register(&self, req: RegisterRequest) -> Result<Registered, SchemaError> {
        checked_id(&req.id)?;
        let compiled = compile(&req.definition).await?;
        let _guard = self.writes.lock().await;
        let now = clock::now();
        let mut record = SchemaRecord {
            id: req.id,
            definition: req.definition,
            published_at: now,
            updated_at: now,
        };
        let size = record.definition.get().len();
        for _ in 0..MAX_CAS_ROUNDS {
            let (revision, replaced) = match self.stored(&record.id).await? {
                None => {
                    self.check_capacity(None, size)?;
                    record.published_at = now;
                    (None, false)
                }
                Some(_) if !req.force => return Err(SchemaError::AlreadyExists(record.id)),
                Some((old, revision)) => {
                    self.check_capacity(Some(old.definition.get().len()), size)?;
                    record.published_at = old.published_at;
                    (Some(revision), true)
                }
            };
            if self.write(&record, revision).await?.is_some() {
                let entry = self.install(record, compiled);
                tracing::info!(schema = %entry.id, replaced, "schema registered");
                return Ok(Registered { entry, replaced });
            }
            if !req.force && revision.is_none() {
                // Created by someone else meanwhile.
                return Err(SchemaError::AlreadyExists(record.id));
            }
            after_conflict().await;
        }
        Err(contended())
    }

    /// Replaces the definition of a registered schema.
    pub async fn update(
        &self,
        id: &str,
        req: UpdateRequest,
    ) -> Result<Arc<SchemaEntry>, SchemaError> {
        checked_id(id)?;
        if let Some(other) = req.id.as_deref().filter(|other| *other != id) {
            return Err(SchemaError::InvalidRequest(format!(
                "the body names schema {other:?}, the path {id:?}"
            )));
        }
        let compiled = compile(&req.definition).await?;
        let _guard = self.writes.lock().await;
        let mut record = SchemaRecord {
            id: id.to_string(),
            definition: req.definition,
            published_at: Timestamp(0),
            updated_at: clock::now(),
        };
        let size = record.definition.get().len();
        for _ in 0..MAX_CAS_ROUNDS {
            let Some((old, revision)) = self.stored(id).await? else {
                return Err(SchemaError::NotFound(id.to_string()));
            };
            self.check_capacity(Some(old.definition.get().len()), size)?;
            record.published_at = old.published_at;
            if self.write(&record, Some(revision)).await?.is_some() {
                let entry = self.install(record, compiled);
                tracing::info!(schema = %entry.id, "schema updated");
                return Ok(entry);
            }
            after_conflict().await;
        }
        Err(contended())
    }

    fn install(&self, record: SchemaRecord, compiled: CompiledSchema) -> Arc<SchemaEntry> {
        let entry = Arc::new(SchemaEntry {
            id: record.id,
            definition: record.definition,
            published_at: record.published_at,
            updated_at: record.updated_at,
            compiled,
        });
        self.publish(|s| s.insert(entry.clone()));
        entry
    }

    /// Deletes a schema. Messages naming it are then refused from local agents
    /// (`SCHEMA_NOT_FOUND`) until it is registered again.
    pub async fn delete(&self, id: &str) -> Result<(), SchemaError> {
        checked_id(id)?;
        let _guard = self.writes.lock().await;
        let existed = self.store.delete(SCHEMAS, &record::key(id), None).await?;
        // Also drop a copy that was in memory while the store lost it (or the reverse).
        let known = self.snapshot().get(id).is_some();
        self.publish(|s| s.remove(id));
        if existed || known {
            tracing::info!(schema = %id, "schema deleted");
            Ok(())
        } else {
            Err(SchemaError::NotFound(id.to_string()))
        }
    }

    /// The schema `id`.
    pub fn get(&self, id: &str) -> Result<Arc<SchemaEntry>, SchemaError> {
        checked_id(id)?;
        self.snapshot()
            .get(id)
            .cloned()
            .ok_or_else(|| SchemaError::NotFound(id.to_string()))
    }

    /// The schemas matched by `pattern` (see [`SchemaFilter`]; all when absent or
    /// empty), in id order.
    pub fn list(&self, pattern: Option<&str>) -> Result<Vec<Arc<SchemaEntry>>, SchemaError> {
        let filter = pattern
            .filter(|p| !p.is_empty())
            .map(SchemaFilter::parse)
            .transpose()?;
        Ok(self
            .snapshot()
            .entries()
            .filter(|e| filter.as_ref().is_none_or(|f| f.matches(&e.id)))
            .cloned()
            .collect())
    }

    /// Counts over the registry.
    pub fn stats(&self) -> SchemaStats {
        let snap = self.snapshot();
        let mut domains = BTreeSet::new();
        let mut entities = BTreeSet::new();
        for e in snap.entries() {
            let p = e.parts();
            domains.insert((p.namespace, p.domain));
            entities.insert((p.namespace, p.domain, p.entity));
        }
        SchemaStats {
            total_schemas: snap.len(),
            domains: domains.len(),
            entities: entities.len(),
        }
    }

    /// Checks a payload (JSON text) against the registered schema `id`, reporting at
    /// most `max` violations. `PayloadVerdict::Unregistered` when there is no such
    /// schema. Large payloads are checked on a blocking thread.
    pub async fn check(&self, id: &str, payload: &str, max: usize) -> PayloadVerdict {
        let Some(entry) = self.snapshot().get(id).cloned() else {
            return PayloadVerdict::Unregistered;
        };
        if payload.len() <= INLINE_CHECK_BYTES {
            return entry.check(payload, max);
        }
        let text = payload.to_string();
        let checked = tokio::task::spawn_blocking(move || entry.check(&text, max)).await;
        checked.unwrap_or_else(|_| {
            PayloadVerdict::Invalid(vec![Violation {
                path: String::new(),
                message: "the payload could not be checked".into(),
                keyword: String::new(),
            }])
        })
    }

    /// Checks a message payload (absent counts as `null`) against schema `id`.
    pub async fn check_payload(&self, id: &str, payload: Option<&RawJson>) -> PayloadVerdict {
        self.check(
            id,
            payload.map_or("null", RawJson::get),
            MAX_SUBMISSION_VIOLATIONS,
        )
        .await
    }

    /// The admin validate call: the violations of `payload` against schema `id` (empty
    /// when valid).
    pub async fn validate(
        &self,
        id: &str,
        payload: &RawValue,
    ) -> Result<Vec<Violation>, SchemaError> {
        checked_id(id)?;
        match self.check(id, payload.get(), MAX_REPORTED_VIOLATIONS).await {
            PayloadVerdict::Unregistered => Err(SchemaError::NotFound(id.to_string())),
            PayloadVerdict::Valid => Ok(Vec::new()),
            PayloadVerdict::Invalid(v) => Ok(v),
        }
    }
}
