//! The agent directory: registration, keys, lookup and activity.
//!
//! Agents live in the `agents` bucket (keyed by escaped name) and their API key hashes
//! in `agent_keys` (hash → name). The whole directory is also held in memory, loaded at
//! startup and replaced copy-on-write on every change, so authenticating a request
//! (hash the key, one map lookup) and routing a message (one lookup per recipient) never
//! touch the store. Changes are serialised by one lock and written with compare-and-set,
//! so a concurrent writer elsewhere (a future replica) is detected rather than
//! overwritten.
//!
//! `last_active` is tracked in memory on every authenticated request (an atomic store,
//! at most once a second per agent) and written back to the store by
//! `Directory::flush_activity`, which the app runs about once a minute and at shutdown.

pub(crate) mod validate;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agentgate_core::Agent;
use agentgate_core::{Address, AgentName, DeliveryMode, Domain, Timestamp};
use agentgate_store::{Store, StoreError, escape_token};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use futures::StreamExt;
use parking_lot::RwLock;
use serde::Deserialize;

use crate::clock;
use crate::inbox::Inbox;
use crate::paging::{self, PageError};
use crate::secrets::{self, API_KEY_PREFIX, WEBHOOK_SECRET_PREFIX};
use crate::storage::{AGENT_KEYS, AGENTS, StorageFailure};
use validate::PushTargetPolicy;

/// Most agents listed per page by default.
pub(crate) const DEFAULT_PAGE: usize = 100;
/// Most agents listed per page.
pub(crate) const MAX_PAGE: usize = 1000;
/// Activity is recorded in memory at most this often per agent (ms).
const TOUCH_GRANULARITY_MS: u64 = 1000;

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The request body is malformed (bad JSON, unknown field, wrong type).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Not a valid agent name.
    #[error("invalid agent name: {0}")]
    InvalidAgentName(String),
    /// An address of another domain.
    #[error("{given} is not an address of this gateway's domain {ours}")]
    WrongDomain {
        /// The address given.
        given: String,
        /// This gateway's domain.
        ours: String,
    },
    /// `delivery_mode` is neither `pull` nor `push`.
    #[error("delivery_mode must be \"pull\" or \"push\", not {0:?}")]
    InvalidDeliveryMode(String),
    /// The push target is missing, malformed or not allowed.
    #[error("{0}")]
    InvalidPushTarget(String),
    /// The push headers are not acceptable.
    #[error("{0}")]
    InvalidHeaders(String),
    /// A schema entry is malformed.
    #[error("{0}")]
    InvalidSchema(String),
    /// A public key is not a standard Ed25519 `did:key`, or is listed twice.
    #[error("{0}")]
    InvalidPublicKey(String),
    /// The agent is already registered.
    #[error("agent {0} is already registered")]
    AgentExists(String),
    /// No such agent.
    #[error("no agent named {0}")]
    AgentNotFound(String),
    /// A query parameter is malformed.
    #[error("{0}")]
    InvalidQuery(String),
    /// Discovery asked about another domain.
    #[error("this gateway serves {ours}, not {asked}")]
    DomainNotFound {
        /// The domain asked about.
        asked: String,
        /// This gateway's domain.
        ours: String,
    },
    /// The credential presented belongs to another agent.
    #[error("this API key belongs to another agent")]
    AccessDenied,
    /// `limit` or `cursor` is not acceptable.
    #[error(transparent)]
    Page(#[from] PageError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

/// A registration request (`POST /v1/admin/agents`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The agent's name (local part).
    #[serde(default)]
    pub name: Option<String>,
    /// Or its full address, in this gateway's domain.
    #[serde(default)]
    pub address: Option<String>,
    /// `pull` (default) or `push`.
    #[serde(default)]
    pub delivery_mode: Option<String>,
    /// Webhook URL (push only).
    #[serde(default)]
    pub push_target: Option<String>,
    /// Headers sent with each push.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Schema ids or `prefix.*` wildcards accepted; empty accepts anything.
    #[serde(default)]
    pub supported_schemas: Option<Vec<String>>,
    /// Ed25519 keys (standard `did:key`) the agent may authenticate sessions with.
    #[serde(default)]
    pub public_keys: Option<Vec<String>>,
}

/// Activity of one agent, shared by every version of its cached entry.
#[derive(Debug, Default)]
struct Activity {
    /// Last authenticated request, ms (0 = never).
    seen: AtomicU64,
    /// The value last written to the store.
    persisted: AtomicU64,
}

/// A registered agent as cached in memory.
#[derive(Debug)]
pub struct AgentEntry {
    /// The stored record.
    pub agent: Agent,
    revision: u64,
    key_digest: [u8; 32],
    activity: Arc<Activity>,
}

impl AgentEntry {
    /// The agent's name (its address's local part).
    pub fn name(&self) -> &str {
        self.agent.address.local()
    }

    /// Last authenticated request, from memory (more recent than the stored value).
    pub fn last_active(&self) -> Option<Timestamp> {
        let seen = self.activity.seen.load(Ordering::Relaxed);
        let stored = self.agent.last_active.map_or(0, |t| t.millis());
        let t = seen.max(stored);
        (t > 0).then_some(Timestamp(t))
    }

    /// Records activity at `now` (cheap; at most one store per second).
    fn touch(&self, now: Timestamp) {
        let seen = self.activity.seen.load(Ordering::Relaxed);
        if now.millis() >= seen.saturating_add(TOUCH_GRANULARITY_MS) {
            self.activity
                .seen
                .fetch_max(now.millis(), Ordering::Relaxed);
        }
    }
}

/// An immutable view of the directory.
#[derive(Debug, Default)]
pub struct DirectorySnapshot {
    by_name: BTreeMap<String, Arc<AgentEntry>>,
    by_key: HashMap<[u8; 32], Arc<AgentEntry>>,
}

impl DirectorySnapshot {
    /// The agent named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<AgentEntry>> {
        self.by_name.get(name)
    }

    /// Every agent, in address order.
    pub fn agents(&self) -> impl Iterator<Item = &Arc<AgentEntry>> {
        self.by_name.values()
    }

    /// How many agents there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    fn with(&self, change: impl FnOnce(&mut DirectorySnapshot)) -> DirectorySnapshot {
        let mut next = DirectorySnapshot {
            by_name: self.by_name.clone(),
            by_key: self.by_key.clone(),
        };
        change(&mut next);
        next
    }

    fn insert(&mut self, entry: Arc<AgentEntry>) {
        if let Some(old) = self.by_name.insert(entry.name().to_string(), entry.clone()) {
            self.by_key.remove(&old.key_digest);
        }
        self.by_key.insert(entry.key_digest, entry);
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.by_name.remove(name) {
            self.by_key.remove(&old.key_digest);
        }
    }
}

/// A completed registration: the agent and its secrets, shown this once.
#[derive(Debug)]
pub struct Registered {
    /// The new agent.
    pub entry: Arc<AgentEntry>,
    /// Its API key.
    pub api_key: String,
    /// Its webhook signing secret (push agents).
    pub webhook_secret: Option<String>,
}

/// A page of agents.
#[derive(Debug)]
pub struct AgentPage {
    /// In address order.
    pub agents: Vec<Arc<AgentEntry>>,
    /// All agents registered.
    pub total: usize,
    /// Whether more follow.
    pub has_more: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The directory service.
pub(crate) struct Directory {
    store: Arc<dyn Store>,
    domain: Domain,
    push_policy: PushTargetPolicy,
    inbox: Arc<Inbox>,
    state: RwLock<Arc<DirectorySnapshot>>,
    writes: tokio::sync::Mutex<()>,
}

fn encode_agent(agent: &Agent) -> Bytes {
    Bytes::from(serde_json::to_vec(agent).expect("agent serialises"))
}

fn entry_from(
    agent: Agent,
    revision: u64,
    activity: Arc<Activity>,
) -> Result<AgentEntry, StorageFailure> {
    let key_digest = secrets::parse_key_hash(&agent.api_key_hash).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "agent {}: api_key_hash is not hex SHA-256",
            agent.address
        ))
    })?;
    Ok(AgentEntry {
        agent,
        revision,
        key_digest,
        activity,
    })
}

impl Directory {
    /// Loads every agent from the store.
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        domain: Domain,
        push_policy: PushTargetPolicy,
        inbox: Arc<Inbox>,
    ) -> Result<Directory, StorageFailure> {
        let mut snapshot = DirectorySnapshot::default();
        let mut after: Option<String> = None;
        loop {
            let page = store.scan(AGENTS, "", after.as_deref(), 1000).await?;
            let done = page.len() < 1000;
            for e in &page {
                let agent: Agent = serde_json::from_slice(&e.value)
                    .map_err(|err| StoreError::Corrupt(format!("agent {}: {err}", e.key)))?;
                let activity = Arc::new(Activity::default());
                let stored = agent.last_active.map_or(0, |t| t.millis());
                activity.persisted.store(stored, Ordering::Relaxed);
                snapshot.insert(Arc::new(entry_from(agent, e.revision, activity)?));
            }
            after = page.last().map(|e| e.key.clone());
            if done {
                break;
            }
        }
        Ok(Directory {
            store,
            domain,
            push_policy,
            inbox,
            state: RwLock::new(Arc::new(snapshot)),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// The domain this directory serves.
    pub(crate) fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The current view of every agent.
    pub(crate) fn snapshot(&self) -> Arc<DirectorySnapshot> {
        self.state.read().clone()
    }

    /// The agent named `name`.
    pub(crate) fn lookup(&self, name: &str) -> Option<Arc<AgentEntry>> {
        self.state.read().by_name.get(name).cloned()
    }

    /// The agent whose API key is `key`, recording its activity.
    pub(crate) fn authenticate(&self, key: &str) -> Option<Arc<AgentEntry>> {
        let digest = secrets::key_digest(key);
        let entry = self.state.read().by_key.get(&digest).cloned()?;
        entry.touch(clock::now());
        Some(entry)
    }

    /// The agent at `address` if `did` is one of its registered keys and `signature`
    /// (64 bytes) is that key's Ed25519 signature of `message`; records its activity.
    pub(crate) fn prove(
        &self,
        address: &str,
        did: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Arc<AgentEntry>> {
        let address = Address::parse(address).ok()?;
        if address.domain() != &self.domain {
            return None;
        }
        let entry = self.lookup(address.local())?;
        let key = agentgate_codec::did_key::parse(did).ok()?;
        if !entry.agent.public_keys.contains(&key.to_did()) {
            return None;
        }
        let signature = ed25519_dalek::Signature::from_slice(signature).ok()?;
        ed25519_dalek::VerifyingKey::from_bytes(&key.key)
            .ok()?
            .verify_strict(message, &signature)
            .ok()?;
        entry.touch(clock::now());
        Some(entry)
    }

    /// Parses `name` or `name@domain` (our domain) into an agent name.
    pub(crate) fn parse_name(&self, text: &str) -> Result<AgentName, DirectoryError> {
        if text.contains('@') {
            let address = Address::parse(text)
                .map_err(|e| DirectoryError::InvalidAgentName(format!("{text:?}: {e}")))?;
            if address.domain() != &self.domain {
                return Err(DirectoryError::WrongDomain {
                    given: text.to_string(),
                    ours: self.domain.to_string(),
                });
            }
            address
                .agent_name()
                .map_err(|e| DirectoryError::InvalidAgentName(format!("{text:?}: {e}")))
        } else {
            AgentName::parse(text)
                .map_err(|e| DirectoryError::InvalidAgentName(format!("{text:?}: {e}")))
        }
    }

    fn requested_name(&self, req: &RegisterRequest) -> Result<AgentName, DirectoryError> {
        match (&req.name, &req.address) {
            (None, None) => Err(DirectoryError::InvalidAgentName(
                "give \"name\" or \"address\"".into(),
            )),
            (Some(n), None) => self.parse_name(n),
            (None, Some(a)) => self.parse_name(a),
            (Some(n), Some(a)) => {
                let (n, a) = (self.parse_name(n)?, self.parse_name(a)?);
                if n != a {
                    return Err(DirectoryError::InvalidAgentName(
                        "\"name\" and \"address\" name different agents".into(),
                    ));
                }
                Ok(n)
            }
        }
    }

    fn build_agent(&self, req: RegisterRequest, name: &AgentName) -> Result<Agent, DirectoryError> {
        let delivery_mode = match req.delivery_mode.as_deref() {
            None | Some("pull") => DeliveryMode::Pull,
            Some("push") => DeliveryMode::Push,
            Some(other) => return Err(DirectoryError::InvalidDeliveryMode(other.to_string())),
        };
        let push_target = match (delivery_mode, req.push_target) {
            (DeliveryMode::Push, None) => {
                return Err(DirectoryError::InvalidPushTarget(
                    "push agents need a push_target".into(),
                ));
            }
            (DeliveryMode::Push, Some(t)) => Some(
                self.push_policy
                    .check(&t)
                    .map_err(DirectoryError::InvalidPushTarget)?
                    .to_string(),
            ),
            (DeliveryMode::Pull, Some(_)) => {
                return Err(DirectoryError::InvalidPushTarget(
                    "push_target is only for push agents".into(),
                ));
            }
            (DeliveryMode::Pull, None) => None,
        };
        let headers = req.headers.unwrap_or_default();
        validate::check_headers(&headers).map_err(DirectoryError::InvalidHeaders)?;
        let supported_schemas = req.supported_schemas.unwrap_or_default();
        validate::check_schemas(&supported_schemas).map_err(DirectoryError::InvalidSchema)?;
        let public_keys = validate::check_public_keys(req.public_keys.unwrap_or_default())
            .map_err(DirectoryError::InvalidPublicKey)?;
        Ok(Agent {
            address: Address::new(name, &self.domain),
            delivery_mode,
            push_target,
            headers,
            supported_schemas,
            api_key_hash: String::new(),
            public_keys,
            webhook_secret: None,
            created_at: clock::now(),
            last_active: None,
        })
    }

    /// Registers a new agent, minting its API key (and webhook secret for push agents).
    pub(crate) async fn register(
        &self,
        req: RegisterRequest,
    ) -> Result<Registered, DirectoryError> {
        let name = self.requested_name(&req)?;
        let mut agent = self.build_agent(req, &name)?;
        let api_key = secrets::new_secret(API_KEY_PREFIX);
        agent.api_key_hash = secrets::key_hash_hex(&api_key);
        let webhook_secret = (agent.delivery_mode == DeliveryMode::Push)
            .then(|| secrets::new_secret(WEBHOOK_SECRET_PREFIX));
        agent.webhook_secret = webhook_secret.clone();

        let _guard = self.writes.lock().await;
        if self.lookup(name.as_str()).is_some() {
            return Err(DirectoryError::AgentExists(agent.address.to_string()));
        }
        // A crash during an earlier unregistration may have left messages behind; a new
        // agent of the same name must not inherit them.
        let leftovers = self.inbox.purge(&agent.address, false).await?;
        if leftovers > 0 {
            tracing::warn!(agent = %agent.address, leftovers, "discarded messages left from an earlier agent of this name");
        }
        let key = escape_token(name.as_str());
        let revision = self
            .write_with_key_index(
                self.store.create(AGENTS, &key, encode_agent(&agent)),
                &agent.api_key_hash,
                name.as_str(),
                |e| match e {
                    StoreError::AlreadyExists(_) => {
                        DirectoryError::AgentExists(agent.address.to_string())
                    }
                    e => StorageFailure(e).into(),
                },
            )
            .await?;
        let entry = Arc::new(entry_from(agent, revision, Arc::default())?);
        self.publish(|s| s.insert(entry.clone()));
        tracing::info!(agent = %entry.agent.address, mode = entry.agent.delivery_mode.as_str(), "agent registered");
        Ok(Registered {
            entry,
            api_key,
            webhook_secret,
        })
    }

    /// The AMTP SDK re-registers with the agent's own key: confirms that the request
    /// names the key's agent and returns it unchanged (no new key).
    pub(crate) fn confirm_registration(
        &self,
        caller: &Arc<AgentEntry>,
        req: &RegisterRequest,
    ) -> Result<Arc<AgentEntry>, DirectoryError> {
        let name = self.requested_name(req)?;
        if name.as_str() != caller.name() {
            return Err(DirectoryError::AccessDenied);
        }
        Ok(caller.clone())
    }

    /// The agent named by `name_or_address`.
    pub(crate) fn show(&self, name_or_address: &str) -> Result<Arc<AgentEntry>, DirectoryError> {
        let name = self.parse_name(name_or_address)?;
        self.lookup(name.as_str())
            .ok_or_else(|| DirectoryError::AgentNotFound(name_or_address.to_string()))
    }

    /// A page of agents in address order.
    pub(crate) fn list(
        &self,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<AgentPage, DirectoryError> {
        let limit = paging::limit(limit, DEFAULT_PAGE, MAX_PAGE)?;
        let after = paging::cursor(cursor, |c| {
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        })?;
        let snap = self.snapshot();
        let range = match &after {
            None => snap.by_name.range::<String, _>(..),
            Some(a) => snap.by_name.range::<String, _>((
                std::ops::Bound::Excluded(a.clone()),
                std::ops::Bound::Unbounded,
            )),
        };
        let mut agents: Vec<Arc<AgentEntry>> =
            range.take(limit + 1).map(|(_, e)| e.clone()).collect();
        let has_more = agents.len() > limit;
        agents.truncate(limit);
        let next_cursor = if has_more {
            agents.last().map(|e| URL_SAFE_NO_PAD.encode(e.name()))
        } else {
            None
        };
        Ok(AgentPage {
            agents,
            total: snap.len(),
            has_more,
            next_cursor,
        })
    }

    /// Unregisters an agent: removes it, its key and its inbox. Returns its address.
    pub(crate) async fn unregister(
        &self,
        name_or_address: &str,
    ) -> Result<Address, DirectoryError> {
        let _guard = self.writes.lock().await;
        let entry = self.show(name_or_address)?;
        let key = escape_token(entry.name());
        let (deleted, unindexed) = tokio::join!(
            self.store.delete(AGENTS, &key, None),
            self.store
                .delete(AGENT_KEYS, &entry.agent.api_key_hash, None),
        );
        deleted.map_err(StorageFailure)?;
        unindexed.map_err(StorageFailure)?;
        self.publish(|s| s.remove(entry.name()));
        let discarded = self.inbox.purge(&entry.agent.address, true).await?;
        tracing::info!(agent = %entry.agent.address, discarded, "agent unregistered");
        Ok(entry.agent.address.clone())
    }

    /// Replaces an agent's API key; the old one stops working at once.
    /// Runs `record` (the write of an agent record) together with the creation of the
    /// key index entry `key_hash` → `name`, and returns the record's revision. When the
    /// record write fails its error goes through `record_error`, and an index entry
    /// written alongside is removed again so no key points at a record that is not there.
    async fn write_with_key_index(
        &self,
        record: impl Future<Output = Result<u64, StoreError>>,
        key_hash: &str,
        name: &str,
        record_error: impl FnOnce(StoreError) -> DirectoryError,
    ) -> Result<u64, DirectoryError> {
        let (written, indexed) = tokio::join!(
            record,
            self.store
                .create(AGENT_KEYS, key_hash, Bytes::from(name.to_string())),
        );
        match written {
            Ok(revision) => {
                indexed.map_err(StorageFailure)?;
                Ok(revision)
            }
            Err(e) => {
                if indexed.is_ok() {
                    let _ = self.store.delete(AGENT_KEYS, key_hash, None).await;
                }
                Err(record_error(e))
            }
        }
    }

    pub(crate) async fn rotate_key(
        &self,
        name_or_address: &str,
    ) -> Result<Registered, DirectoryError> {
        let _guard = self.writes.lock().await;
        let entry = self.show(name_or_address)?;
        let api_key = secrets::new_secret(API_KEY_PREFIX);
        let mut agent = entry.agent.clone();
        agent.api_key_hash = secrets::key_hash_hex(&api_key);
        let key = escape_token(entry.name());
        let revision = self
            .write_with_key_index(
                self.store
                    .update(AGENTS, &key, encode_agent(&agent), entry.revision),
                &agent.api_key_hash,
                entry.name(),
                |e| StorageFailure(e).into(),
            )
            .await?;
        let fresh = Arc::new(entry_from(agent, revision, entry.activity.clone())?);
        self.publish(|s| s.insert(fresh.clone()));
        // The old key no longer authenticates (the cache changed above); its index
        // entry is garbage now, and a failure to delete it is harmless.
        if let Err(e) = self
            .store
            .delete(AGENT_KEYS, &entry.agent.api_key_hash, None)
            .await
        {
            tracing::warn!(agent = %fresh.agent.address, error = %e, "could not delete the old key index entry");
        }
        tracing::info!(agent = %fresh.agent.address, "agent key rotated");
        Ok(Registered {
            entry: fresh,
            api_key,
            webhook_secret: None,
        })
    }

    /// Agents as others may discover them, in address order, with whether each is
    /// active (seen within `active_window`). `domain`, when given, must be ours;
    /// `delivery_mode` filters by mode and `active_only` (`true`/`false`) by activity.
    pub(crate) fn discover(
        &self,
        domain: Option<&str>,
        delivery_mode: Option<&str>,
        active_only: Option<&str>,
        active_window: std::time::Duration,
    ) -> Result<Vec<(Arc<AgentEntry>, bool)>, DirectoryError> {
        if let Some(d) = domain
            && Domain::parse(d).ok().as_ref() != Some(&self.domain)
        {
            return Err(DirectoryError::DomainNotFound {
                asked: d.to_string(),
                ours: self.domain.to_string(),
            });
        }
        let mode = match delivery_mode {
            None | Some("") => None,
            Some("pull") => Some(DeliveryMode::Pull),
            Some("push") => Some(DeliveryMode::Push),
            Some(other) => return Err(DirectoryError::InvalidDeliveryMode(other.to_string())),
        };
        let active_only = match active_only {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(DirectoryError::InvalidQuery(format!(
                    "active_only must be true or false, not {other:?}"
                )));
            }
        };
        let now = clock::now();
        let window = active_window.as_millis() as u64;
        Ok(self
            .snapshot()
            .agents()
            .filter(|e| mode.is_none_or(|m| e.agent.delivery_mode == m))
            .map(|e| {
                let active = e.last_active().is_some_and(|t| now.since(t) <= window);
                (e.clone(), active)
            })
            .filter(|(_, active)| !active_only || *active)
            .collect())
    }

    /// Writes back `last_active` of agents active since the last flush (concurrently,
    /// then one update of the in-memory view). Returns how many were written.
    pub(crate) async fn flush_activity(&self) -> Result<usize, StorageFailure> {
        let _guard = self.writes.lock().await;
        let snap = self.snapshot();
        let due: Vec<(Arc<AgentEntry>, u64)> = snap
            .agents()
            .filter_map(|e| {
                let seen = e.activity.seen.load(Ordering::Relaxed);
                (seen > e.activity.persisted.load(Ordering::Relaxed)).then(|| (e.clone(), seen))
            })
            .collect();
        let writes: Vec<_> = due
            .into_iter()
            .map(|(entry, seen)| async move {
                let mut agent = entry.agent.clone();
                agent.last_active = Some(Timestamp(seen));
                let key = escape_token(entry.name());
                match self
                    .store
                    .update(AGENTS, &key, encode_agent(&agent), entry.revision)
                    .await
                {
                    Ok(revision) => {
                        entry.activity.persisted.store(seen, Ordering::Relaxed);
                        Ok(Some(entry_from(agent, revision, entry.activity.clone())?))
                    }
                    // Changed elsewhere; the next flush tries again.
                    Err(StoreError::Conflict { .. }) => Ok(None),
                    Err(e) => Err(StorageFailure(e)),
                }
            })
            .collect();
        let results: Vec<Result<Option<AgentEntry>, StorageFailure>> =
            futures::stream::iter(writes)
                .buffer_unordered(64)
                .collect()
                .await;
        let mut fresh = Vec::new();
        let mut failure = None;
        for r in results {
            match r {
                Ok(Some(e)) => fresh.push(Arc::new(e)),
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
        }
        let written = fresh.len();
        if written > 0 {
            self.publish(|s| {
                for e in fresh {
                    s.insert(e);
                }
            });
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    fn publish(&self, change: impl FnOnce(&mut DirectorySnapshot)) {
        let mut state = self.state.write();
        let next = state.with(change);
        *state = Arc::new(next);
    }
}
