//! Messaging: accepting submissions, and reading messages, their status and an agent's
//! message list.
//!
//! # Accepting a message
//!
//! 1. Decode (size and depth limits) and validate the envelope; the sender must be the
//!    authenticated agent.
//! 2. Route each recipient: a registered local agent that accepts the schema gets it
//!    (`delivered` into its pull inbox, or `queued` for push); a recipient of another
//!    domain is `queued` for the outbox (one job per domain, see
//!    [`crate::federation::outbox`]); otherwise it fails with `AGENT_UNKNOWN` or
//!    `SCHEMA_NOT_SUPPORTED`. When nobody can take it, nothing is written and the
//!    submission is refused (422). A delivery from a peer gateway may only carry
//!    senders of that peer's domain and recipients of ours.
//! 3. **One durable round**, all writes in one `Store::write_many` call (one request
//!    to the store, one group commit): create the message record (keyed by message
//!    id; create-if-absent), create the idempotency record when the envelope has an
//!    `idempotency_key` (sender + key → message id), enqueue every inbox copy and push
//!    job in one atomic enqueue, and put the sent/received index entries.
//! 4. When both creates succeeded — the normal case — answer from the record's
//!    recipient outcomes. When a record already existed (a repeat, or another sender's
//!    id), `Messaging::resolve` decides what this submission is, and the deliveries
//!    step 3 made speculatively are withdrawn where they would duplicate or conflict
//!    (see `Messaging::withdraw`).
//!
//! A repeated submission (same sender and idempotency key, or same message id without a
//! key) answers exactly as the original did, from the stored record, after finishing
//! whatever the original left undone if it crashed between its writes: the enqueue is
//! de-duplicated by id, the index writes are idempotent, and recipients that have moved
//! on (acknowledged, pushed) are skipped. The records expire after `message.dedup_window`,
//! which is thus both the de-duplication window and how long message status stays
//! queryable.
//!
//! Why one round: every durable round waits for a group commit (an `fsync`), so the
//! latency of an accept is about one commit instead of two, and at a given concurrency
//! the throughput doubles. The price is the rare withdrawal work above.

pub(crate) mod index;
pub(crate) mod record;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use agentgate_codec::amtp::{DecodeError, Limits, decode_envelope};
use agentgate_core::workflow::{Answer, Coordination, Workflow, WorkflowError};
use agentgate_core::{
    Address, DeliveryStatus, Envelope, EnvelopeError, MessageId, MessageStatus, RawJson, Timestamp,
};
use agentgate_store::{
    EnqueueOutcome, KvStore, NewItem, Store, StoreError, Write, Written, escape_token,
};
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::Notify;

use crate::clock;
use crate::delivery::job::PushJob;
use crate::directory::{AgentEntry, Directory};
use crate::federation::outbox::OutboxJob;
use crate::inbox::Inbox;
use crate::metrics::{Metrics, ModeLabel};
use crate::paging::{self, PageError};
use crate::schemas::{PayloadVerdict, Schemas, Violation};
use crate::status_book::{RecipientRecord, StatusBook};
use crate::storage::{
    IDEMPOTENCY, MESSAGE_INDEX, MESSAGES, OUTBOX_QUEUE, PUSH_QUEUE, StorageFailure,
    WORKFLOW_TIMERS, WORKFLOWS, inbox_queue,
};
use index::Role;
use record::{MessageRecord, RecipientOutcome, RecordHeader};

/// Recipient failure: no such local agent.
pub const AGENT_UNKNOWN: &str = "AGENT_UNKNOWN";
/// Recipient failure: the agent does not accept the message's schema.
pub const SCHEMA_NOT_SUPPORTED: &str = "SCHEMA_NOT_SUPPORTED";
/// Refusal code when recipients failed for different reasons.
pub const RECIPIENTS_REJECTED: &str = "RECIPIENTS_REJECTED";

/// Most messages listed per page by default.
const DEFAULT_LIST_LIMIT: usize = 50;
/// Most messages listed per page.
const MAX_LIST_LIMIT: usize = 1000;
/// Most claim rounds before giving up on records that vanish under us (expiry races).
const MAX_CLAIM_ROUNDS: usize = 4;

/// Why a messaging request failed.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// The body is not a decodable envelope (size, depth, JSON, shape).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The envelope is invalid.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The sender is not an address of this domain.
    #[error("sender {0} is not an address of this gateway's domain")]
    SenderNotLocal(String),
    /// The sender is not the authenticated agent, or the caller may not see the message.
    #[error("{0}")]
    AccessDenied(String),
    /// A peer delivered a message whose sender is not of the peer's domain.
    #[error("sender {sender} is not of the delivering gateway's domain {peer}")]
    SenderDomainMismatch {
        /// The envelope's sender.
        sender: String,
        /// The authenticated peer domain.
        peer: String,
    },
    /// The `coordination` block is not a valid workflow.
    #[error(transparent)]
    Coordination(#[from] WorkflowError),
    /// A peer delivered a message without a `message_id`.
    #[error("a delivery from another gateway must carry the message's message_id")]
    MessageIdRequired,
    /// A peer delivered a message for a recipient outside this gateway's domain.
    #[error("recipient {0} is not of this gateway's domain; this gateway relays for no one")]
    RelayDenied(String),
    /// The message id was already used by another sender.
    #[error("message id {0} is already used by another message")]
    MessageIdConflict(String),
    /// A local agent named a schema that is not registered.
    #[error("schema {0} is not registered on this gateway")]
    SchemaNotFound(String),
    /// The payload is not valid against the message's registered schema.
    #[error("the payload does not match schema {schema}")]
    SchemaValidationFailed {
        /// The schema id.
        schema: String,
        /// The first violations (at most 20).
        errors: Vec<Violation>,
    },
    /// No recipient could accept the message.
    #[error("no recipient accepted the message")]
    Rejected {
        /// `AGENT_UNKNOWN`, `SCHEMA_NOT_SUPPORTED`, or
        /// `RECIPIENTS_REJECTED` when the reasons differ.
        code: &'static str,
        /// Each recipient's outcome.
        recipients: Vec<RecipientOutcome>,
    },
    /// A message id in a path is not a UUID.
    #[error("{0:?} is not a message id (a UUID)")]
    InvalidMessageId(String),
    /// No such message.
    #[error("message {0} not found")]
    MessageNotFound(String),
    /// `role` is not sent, received or all.
    #[error("role must be sent, received or all, not {0:?}")]
    InvalidRole(String),
    /// `limit` or `cursor` is not acceptable.
    #[error(transparent)]
    Page(#[from] PageError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

impl From<StoreError> for MessagingError {
    fn from(e: StoreError) -> Self {
        MessagingError::Storage(StorageFailure(e))
    }
}

/// Who is asking.
#[derive(Clone, Debug)]
pub enum Caller {
    /// An agent, by its key.
    Agent(Arc<AgentEntry>),
    /// An operator, by an admin key.
    Admin,
}

/// Where a submission comes from.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// A local agent, authenticated by its key: the sender must be that agent.
    Agent(&'a AgentEntry),
    /// Another domain's gateway, authenticated by its signature (or admitted as an
    /// unsigned peer): senders of that domain, recipients of ours only.
    Peer(&'a agentgate_core::Domain),
}

/// An accepted submission (first time or repeat).
#[derive(Debug)]
pub struct Submission {
    /// The stored record; its header holds the answer.
    pub record: MessageRecord,
    /// Whether this was a repeat of an earlier submission.
    pub repeat: bool,
    /// When the message answers a workflow (`in_reply_to` with a `response_type` of
    /// `workflow_response` or `workflow_error`): the workflow id and the answer kind.
    pub answers: Option<(MessageId, Answer)>,
}

impl Submission {
    /// Whether a push is still pending for some recipient (answered 202, else 200).
    pub fn pending(&self) -> bool {
        self.record
            .header
            .recipients
            .iter()
            .any(RecipientOutcome::is_push)
    }

    /// `partial` (some recipients failed), `queued` (a push pending) or `delivered`.
    pub fn status(&self) -> &'static str {
        let r = &self.record.header.recipients;
        if r.iter().any(|o| !o.accepted()) {
            "partial"
        } else if self.pending() {
            "queued"
        } else {
            "delivered"
        }
    }
}

/// One recipient in a status report.
#[derive(Clone, Debug, Serialize)]
pub struct RecipientReport {
    /// The recipient.
    pub address: Address,
    /// Its current status.
    pub status: DeliveryStatus,
    /// Push attempts made.
    pub attempts: u32,
    /// Why it failed at acceptance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the next push attempt is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<Timestamp>,
    /// When it reached the recipient (inbox or successful push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    /// When its status last changed.
    pub updated_at: Timestamp,
}

/// A message's delivery status (`GET /v1/messages/{id}/status`).
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// The message.
    pub message_id: MessageId,
    /// Summary over recipients.
    pub status: MessageStatus,
    /// Acceptance time.
    pub created_at: Timestamp,
    /// Latest change of any recipient.
    pub updated_at: Timestamp,
    /// Push attempts made, over all recipients.
    pub attempts: u32,
    /// The earliest pending retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<Timestamp>,
    /// Each recipient.
    pub recipients: Vec<RecipientReport>,
}

/// One entry of an agent's message list.
#[derive(Clone, Debug, Serialize)]
pub struct MessageSummary {
    /// The message.
    pub message_id: MessageId,
    /// Its sender.
    pub sender: Address,
    /// Its recipients.
    pub recipients: Vec<Address>,
    /// Its subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Its timestamp.
    pub timestamp: Timestamp,
    /// Its status summary.
    pub status: MessageStatus,
}

/// A page of an agent's message list.
#[derive(Debug)]
pub struct MessageList {
    /// Newest first.
    pub messages: Vec<MessageSummary>,
    /// Whether more follow.
    pub has_more: bool,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// What a claim found.
enum Claim {
    /// This submission is new: deliver it.
    Fresh,
    /// A repeat of the stored message.
    Repeat(MessageRecord),
}

/// What an enqueued item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ItemKind {
    /// A pull agent's inbox copy.
    PullInbox,
    /// A push agent's inbox copy.
    PushInbox,
    /// A push job.
    Push,
    /// An outbox job (all recipients of one other domain).
    Outbox,
}

/// One item a submission enqueued (or found already there).
#[derive(Debug)]
struct Placed {
    recipient: Address,
    queue: String,
    id: uuid::Uuid,
    kind: ItemKind,
    /// Newly stored (not a duplicate of an item already there).
    enqueued: bool,
}

/// What one enqueue placed.
#[derive(Debug, Default)]
struct Placement {
    items: Vec<Placed>,
}

/// The messaging service.
pub(crate) struct Messaging {
    store: Arc<dyn Store>,
    directory: Arc<Directory>,
    schemas: Arc<Schemas>,
    inbox: Arc<Inbox>,
    statuses: Arc<StatusBook>,
    metrics: Arc<Metrics>,
    wakes: Wakes,
    limits: Limits,
}

/// The workers a new delivery wakes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Wakes {
    /// The push worker.
    pub push: Arc<Notify>,
    /// The outbox worker.
    pub outbox: Arc<Notify>,
}

fn idempotency_key(sender: &Address, key: &str) -> String {
    format!("{}.{}", escape_token(sender.as_str()), escape_token(key))
}

/// Starts the workflow of a local agent's coordinating message: checks the block, marks
/// the envelope with the workflow id (its own message id) and, for a sequential
/// workflow, narrows its recipients to the first step (the others are sent the
/// message by the workflow, in turn).
fn start_workflow(envelope: &mut Envelope, now: Timestamp) -> Result<Workflow, WorkflowError> {
    let block = envelope
        .coordination
        .as_mut()
        .expect("checked by the caller");
    let coordination = Coordination::parse(block, &envelope.recipients)?;
    if let Some(obj) = block.as_object_mut() {
        obj.insert(
            "workflow_id".into(),
            serde_json::Value::String(envelope.message_id.to_string()),
        );
    }
    let workflow = Workflow::start(
        envelope.message_id,
        envelope.sender.clone(),
        coordination,
        &envelope.recipients,
        now,
    );
    envelope.recipients = workflow.first_recipients();
    Ok(workflow)
}

/// The workflow record's create and its timer's enqueue.
fn workflow_writes(w: &Workflow) -> [Write; 2] {
    [
        Write::Create {
            bucket: WORKFLOWS.to_string(),
            key: w.workflow_id.to_string(),
            value: Bytes::from(serde_json::to_vec(w).expect("a workflow serialises")),
        },
        Write::Enqueue(vec![crate::workflows::timer_item(w)]),
    ]
}

/// Whether [`workflow_writes`] created the workflow (`false`: it existed, a repeat).
fn workflow_results(
    results: &mut impl Iterator<Item = Result<Written, StoreError>>,
) -> Result<bool, StorageFailure> {
    let created = match results.next() {
        Some(Ok(_)) => true,
        Some(Err(StoreError::AlreadyExists(_))) => false,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(StoreError::Unavailable("store answered too few writes".into()).into()),
    };
    match results.next() {
        Some(Ok(_)) => Ok(created),
        Some(Err(e)) => Err(e.into()),
        None => Err(StoreError::Unavailable("store answered too few writes".into()).into()),
    }
}

/// The workflow an envelope answers, and how.
fn answer_of(envelope: &Envelope) -> Option<(MessageId, Answer)> {
    let answer = Answer::of(envelope.response_type.as_deref())?;
    Some((envelope.in_reply_to?, answer))
}

fn failed(address: &Address, code: &str, message: String) -> RecipientOutcome {
    RecipientOutcome {
        address: address.clone(),
        status: DeliveryStatus::Failed,
        error_code: Some(code.to_string()),
        error_message: Some(message),
    }
}

fn static_code(code: &str) -> &'static str {
    match code {
        AGENT_UNKNOWN => AGENT_UNKNOWN,
        SCHEMA_NOT_SUPPORTED => SCHEMA_NOT_SUPPORTED,
        _ => RECIPIENTS_REJECTED,
    }
}

impl Messaging {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Arc<dyn Store>,
        directory: Arc<Directory>,
        schemas: Arc<Schemas>,
        inbox: Arc<Inbox>,
        statuses: Arc<StatusBook>,
        metrics: Arc<Metrics>,
        wakes: Wakes,
        limits: Limits,
    ) -> Messaging {
        Messaging {
            store,
            directory,
            schemas,
            inbox,
            statuses,
            metrics,
            wakes,
            limits,
        }
    }

    /// Accepts a submission from `origin` (already authenticated).
    pub(crate) async fn submit(
        &self,
        origin: Origin<'_>,
        body: &[u8],
    ) -> Result<Submission, MessagingError> {
        let wire = decode_envelope(body, &self.limits)?;
        // A gateway forwards a message under its id: the receiving side de-duplicates
        // by it, so a delivery repeated or replayed is stored once.
        if matches!(origin, Origin::Peer(_)) && wire.message_id.is_none() {
            return Err(MessagingError::MessageIdRequired);
        }
        let now = clock::now();
        let mut envelope = Envelope::from_wire(wire, now, clock::random_bytes())?;
        let mut workflow = None;
        match origin {
            Origin::Agent(sender) => {
                if envelope.sender.domain() != self.directory.domain() {
                    return Err(MessagingError::SenderNotLocal(envelope.sender.to_string()));
                }
                if envelope.sender != sender.agent.address {
                    return Err(MessagingError::AccessDenied(format!(
                        "the API key presented belongs to {}, not to the sender {}",
                        sender.agent.address, envelope.sender
                    )));
                }
                // A coordination block from a local agent starts a workflow run here.
                if envelope.coordination.is_some() {
                    workflow = Some(start_workflow(&mut envelope, now)?);
                }
            }
            Origin::Peer(peer) => {
                if envelope.sender.domain() != peer {
                    return Err(MessagingError::SenderDomainMismatch {
                        sender: envelope.sender.to_string(),
                        peer: peer.to_string(),
                    });
                }
                let local = self.directory.domain();
                if let Some(r) = envelope.recipients.iter().find(|r| r.domain() != local) {
                    return Err(MessagingError::RelayDenied(r.to_string()));
                }
            }
        }
        // A message without a schema pays nothing here.
        if let Some(schema) = envelope.schema.as_deref() {
            self.check_schema(origin, schema, envelope.payload.as_ref())
                .await?;
        }
        self.accept(envelope, now, workflow.as_ref()).await
    }

    /// Checks the payload of a message naming `schema`: against the schema when it is
    /// registered; when it is not, a local agent is refused (`SCHEMA_NOT_FOUND`), while
    /// a peer gateway's delivery passes unchecked (the sending gateway answers for its
    /// agents' payloads, and the two registries need not hold the same schemas).
    async fn check_schema(
        &self,
        origin: Origin<'_>,
        schema: &str,
        payload: Option<&RawJson>,
    ) -> Result<(), MessagingError> {
        match self.schemas.check_payload(schema, payload).await {
            PayloadVerdict::Valid => Ok(()),
            PayloadVerdict::Invalid(errors) => Err(MessagingError::SchemaValidationFailed {
                schema: schema.to_string(),
                errors,
            }),
            PayloadVerdict::Unregistered => match origin {
                Origin::Agent(_) => Err(MessagingError::SchemaNotFound(schema.to_string())),
                Origin::Peer(_) => Ok(()),
            },
        }
    }

    /// Accepts a message the gateway itself sends (delivery failure reports): routed and
    /// stored like any other, with no sender check.
    pub(crate) async fn deliver_system(
        &self,
        envelope: Envelope,
    ) -> Result<Submission, MessagingError> {
        self.accept(envelope, clock::now(), None).await
    }

    /// Routes, stores and places a checked envelope; with `workflow`, stores the
    /// workflow and its timer in the same durable round.
    async fn accept(
        &self,
        envelope: Envelope,
        now: Timestamp,
        workflow: Option<&Workflow>,
    ) -> Result<Submission, MessagingError> {
        let outcomes = self.route(&envelope);
        if !outcomes.iter().any(RecipientOutcome::accepted) {
            return Err(self.refuse(outcomes));
        }
        let id = envelope.message_id;
        let answers = answer_of(&envelope);
        let idem = envelope
            .idempotency_key
            .as_deref()
            .map(|k| idempotency_key(&envelope.sender, k));
        let record = MessageRecord::new(
            &envelope,
            RecordHeader {
                message_id: envelope.message_id,
                sender: envelope.sender.clone(),
                accepted_at: now,
                recipients: outcomes,
            },
        );
        drop(envelope);
        let id_key = id.to_string();
        // One durable round: the records and the deliveries are written together. In
        // the rare case that a record already exists (a repeat, an id conflict), the
        // speculative deliveries are resolved below.
        let mut writes = Self::record_writes(&id_key, &record, idem.as_deref());
        if let Some(w) = workflow {
            writes.extend(workflow_writes(w));
        }
        let (placement_writes, placed) = self.placement(&record, &HashMap::new());
        writes.extend(placement_writes);
        let mut results = self.store.write_many(writes).await?.into_iter();
        let (msg_res, idem_res) = Self::record_results(&mut results, idem.is_some());
        let workflow_created = match workflow {
            Some(_) => workflow_results(&mut results)?,
            None => false,
        };
        let placed = Self::placed(placed, results)?;
        if msg_res.is_ok() && idem_res.as_ref().is_none_or(|r| r.is_ok()) {
            return Ok(self.accepted(record, &placed, answers));
        }
        match self
            .resolve(&id_key, &record, idem.as_deref(), msg_res, idem_res)
            .await
        {
            Ok(Claim::Fresh) => Ok(self.accepted(record, &placed, answers)),
            Ok(Claim::Repeat(existing)) => {
                let existing_id = existing.header.message_id;
                let moved_on = self.statuses.all(&existing_id).await?;
                // Keep what this attempt placed only where it completes the original
                // (same message, recipient still waiting for it); withdraw the rest.
                let kept = self
                    .withdraw(placed, |a| {
                        existing_id == id
                            && !moved_on.contains_key(&a.to_string())
                            && existing
                                .header
                                .recipients
                                .iter()
                                .any(|r| r.accepted() && &r.address == a)
                    })
                    .await?;
                self.account(&existing.header, &kept);
                let resumed = self.place(&existing, &moved_on).await?;
                self.account(&existing.header, &resumed);
                let answers = existing.envelope().ok().as_ref().and_then(answer_of);
                Ok(Submission {
                    record: existing,
                    repeat: true,
                    answers,
                })
            }
            Err(e) => {
                if matches!(e, MessagingError::MessageIdConflict(_)) {
                    self.withdraw(placed, |_| false).await?;
                    if workflow_created {
                        // The id belongs to another sender's message: not our workflow.
                        self.store.delete(WORKFLOWS, &id_key, None).await?;
                        self.store.ack(WORKFLOW_TIMERS, *id.as_uuid()).await?;
                    }
                }
                Err(e)
            }
        }
    }

    fn accepted(
        &self,
        record: MessageRecord,
        placed: &Placement,
        answers: Option<(MessageId, Answer)>,
    ) -> Submission {
        self.account(&record.header, placed);
        let submission = Submission {
            record,
            repeat: false,
            answers,
        };
        self.count_accepted(&submission);
        submission
    }

    fn route(&self, envelope: &Envelope) -> Vec<RecipientOutcome> {
        let directory = self.directory.snapshot();
        let domain = self.directory.domain();
        let schema = envelope.schema.as_deref();
        envelope
            .recipients
            .iter()
            .map(|r| {
                if r.domain() != domain {
                    // Another domain: queued for the outbox.
                    return RecipientOutcome {
                        address: r.clone(),
                        status: DeliveryStatus::Queued,
                        error_code: None,
                        error_message: None,
                    };
                }
                let Some(agent) = directory.get(r.local()) else {
                    return failed(r, AGENT_UNKNOWN, format!("no agent {r} is registered"));
                };
                if !agent.agent.accepts_schema(schema) {
                    return failed(
                        r,
                        SCHEMA_NOT_SUPPORTED,
                        format!("{r} does not accept schema {}", schema.unwrap_or("(none)")),
                    );
                }
                RecipientOutcome {
                    address: r.clone(),
                    status: match agent.agent.delivery_mode {
                        agentgate_core::DeliveryMode::Pull => DeliveryStatus::Delivered,
                        agentgate_core::DeliveryMode::Push => DeliveryStatus::Queued,
                    },
                    error_code: None,
                    error_message: None,
                }
            })
            .collect()
    }

    fn refuse(&self, recipients: Vec<RecipientOutcome>) -> MessagingError {
        let mut codes = recipients.iter().filter_map(|r| r.error_code.as_deref());
        let first = codes.next().unwrap_or(AGENT_UNKNOWN);
        let code = if codes.all(|c| c == first) {
            static_code(first)
        } else {
            RECIPIENTS_REJECTED
        };
        self.metrics.submission("rejected");
        for r in &recipients {
            if let Some(c) = &r.error_code {
                self.metrics.failed(static_code(c), 1);
            }
        }
        MessagingError::Rejected { code, recipients }
    }

    fn count_accepted(&self, s: &Submission) {
        self.metrics.submission(s.status());
        for r in s.record.header.recipients.iter().filter(|r| !r.accepted()) {
            if let Some(c) = &r.error_code {
                self.metrics.failed(static_code(c), 1);
            }
        }
    }

    /// Creates the message record and, with an idempotency key, the idempotency
    /// record, concurrently. Returns both results (message, idempotency).
    async fn create_records(
        &self,
        id_key: &str,
        record: &MessageRecord,
        idem: Option<&str>,
    ) -> (Result<u64, StoreError>, Option<Result<u64, StoreError>>) {
        let writes = Self::record_writes(id_key, record, idem);
        match self.store.write_many(writes).await {
            Ok(results) => Self::record_results(&mut results.into_iter(), idem.is_some()),
            Err(e) => (Err(e.clone()), idem.map(|_| Err(e))),
        }
    }

    /// The creates of the message record and, with an idempotency key, the
    /// idempotency record, in that order.
    fn record_writes(id_key: &str, record: &MessageRecord, idem: Option<&str>) -> Vec<Write> {
        let mut writes = vec![Write::Create {
            bucket: MESSAGES.to_string(),
            key: id_key.to_string(),
            value: record.bytes(),
        }];
        if let Some(k) = idem {
            writes.push(Write::Create {
                bucket: IDEMPOTENCY.to_string(),
                key: k.to_string(),
                value: Bytes::from(id_key.to_string()),
            });
        }
        writes
    }

    /// The results of [`Messaging::record_writes`]' creates (message, idempotency),
    /// taken from the front of `results`.
    fn record_results(
        results: &mut impl Iterator<Item = Result<Written, StoreError>>,
        idem: bool,
    ) -> (Result<u64, StoreError>, Option<Result<u64, StoreError>>) {
        let mut revision = || match results.next() {
            Some(Ok(Written::Revision(r))) => Ok(r),
            Some(Ok(_)) | None => Err(StoreError::Unavailable(
                "store answered a create with something else".into(),
            )),
            Some(Err(e)) => Err(e),
        };
        let msg = revision();
        (msg, idem.then(revision))
    }

    /// Decides what a submission whose record creation met existing records is, from
    /// the results of [`Messaging::create_records`], creating again when records
    /// vanished meanwhile (expiry). The cases:
    ///
    /// | idempotency record | message record | meaning |
    /// |---|---|---|
    /// | created | created | new submission |
    /// | created | exists, same sender | same message resent under a new key: repeat |
    /// | created | exists, other sender | id conflict: undo the key, 409 |
    /// | exists → this id | created | the original died before its record: new |
    /// | exists → other id, stored | created | repeat of that one: undo ours |
    /// | exists → other id, missing | created | the original died early: take the key over |
    /// | exists → this id | exists | repeat (or conflict if another sender) |
    /// | exists → other id | exists | repeat of the key's message if stored, else as above |
    async fn resolve(
        &self,
        id_key: &str,
        record: &MessageRecord,
        idem: Option<&str>,
        mut msg_res: Result<u64, StoreError>,
        mut idem_res: Option<Result<u64, StoreError>>,
    ) -> Result<Claim, MessagingError> {
        let sender = &record.header.sender;
        for _ in 0..MAX_CLAIM_ROUNDS {
            if let Some(claim) = self.decide(id_key, sender, idem, msg_res, idem_res).await? {
                return Ok(claim);
            }
            (msg_res, idem_res) = self.create_records(id_key, record, idem).await;
        }
        Err(StorageFailure(StoreError::Unavailable(
            "message records changed concurrently; retry".into(),
        ))
        .into())
    }

    /// One step of `Messaging::resolve`; `None` when the records must be created again.
    async fn decide(
        &self,
        id_key: &str,
        sender: &Address,
        idem: Option<&str>,
        msg_res: Result<u64, StoreError>,
        idem_res: Option<Result<u64, StoreError>>,
    ) -> Result<Option<Claim>, MessagingError> {
        use StoreError::AlreadyExists as Exists;
        match (idem.zip(idem_res), msg_res) {
            (None, Ok(_)) | (Some((_, Ok(_))), Ok(_)) => Ok(Some(Claim::Fresh)),
            (None, Err(Exists(_))) => self.existing(id_key, sender).await,
            (Some((key, Ok(idem_rev))), Err(Exists(_))) => {
                let found = self.existing(id_key, sender).await;
                if !matches!(found, Ok(Some(_))) {
                    // The key must not stay claimed by a submission that did not happen.
                    let _ = self.store.delete(IDEMPOTENCY, key, Some(idem_rev)).await;
                }
                found
            }
            (Some((key, Err(Exists(_)))), Ok(msg_rev)) => {
                let Some(entry) = KvStore::get(&*self.store, IDEMPOTENCY, key).await? else {
                    let _ = self.store.delete(MESSAGES, id_key, Some(msg_rev)).await;
                    return Ok(None);
                };
                if entry.value.as_ref() == id_key.as_bytes() {
                    return Ok(Some(Claim::Fresh));
                }
                let other = String::from_utf8_lossy(&entry.value).into_owned();
                if let Some(rec) = self.load(&other).await? {
                    let _ = self.store.delete(MESSAGES, id_key, Some(msg_rev)).await;
                    return Ok(Some(Claim::Repeat(rec)));
                }
                match self
                    .store
                    .update(
                        IDEMPOTENCY,
                        key,
                        Bytes::from(id_key.to_string()),
                        entry.revision,
                    )
                    .await
                {
                    Ok(_) => Ok(Some(Claim::Fresh)),
                    Err(StoreError::Conflict { .. }) => {
                        let _ = self.store.delete(MESSAGES, id_key, Some(msg_rev)).await;
                        Ok(None)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            (Some((key, Err(Exists(_)))), Err(Exists(_))) => {
                let Some(entry) = KvStore::get(&*self.store, IDEMPOTENCY, key).await? else {
                    return Ok(None);
                };
                if entry.value.as_ref() != id_key.as_bytes() {
                    let other = String::from_utf8_lossy(&entry.value).into_owned();
                    if let Some(rec) = self.load(&other).await? {
                        return Ok(Some(Claim::Repeat(rec)));
                    }
                }
                self.existing(id_key, sender).await
            }
            (Some((_, Err(e))), _) | (_, Err(e)) => Err(e.into()),
        }
    }

    /// The stored message `id_key` as a repeat for `sender`, a conflict if another
    /// sender owns it, or `None` if it has gone (expired) meanwhile.
    async fn existing(
        &self,
        id_key: &str,
        sender: &Address,
    ) -> Result<Option<Claim>, MessagingError> {
        match self.load(id_key).await? {
            None => Ok(None),
            Some(rec) if &rec.header.sender == sender => Ok(Some(Claim::Repeat(rec))),
            Some(_) => Err(MessagingError::MessageIdConflict(id_key.to_string())),
        }
    }

    async fn load(&self, id_key: &str) -> Result<Option<MessageRecord>, MessagingError> {
        match KvStore::get(&*self.store, MESSAGES, id_key).await? {
            None => Ok(None),
            Some(e) => Ok(Some(MessageRecord::decode(e.value)?)),
        }
    }

    /// Enqueues the inbox copies and push jobs of every accepted recipient not in
    /// `moved_on` (one atomic enqueue) and puts the index entries, in one round trip.
    async fn place(
        &self,
        record: &MessageRecord,
        moved_on: &HashMap<String, RecipientRecord>,
    ) -> Result<Placement, StorageFailure> {
        let (writes, placed) = self.placement(record, moved_on);
        let results = self.store.write_many(writes).await?;
        Self::placed(placed, results.into_iter())
    }

    /// The writes that place `record`'s deliveries (see [`Messaging::place`]): the
    /// enqueue first when there is anything to enqueue, then the index puts; and what
    /// the enqueue places, item by item. Local recipients get an inbox copy (and push
    /// agents a push job); the recipients of each other domain share one outbox job.
    fn placement(
        &self,
        record: &MessageRecord,
        moved_on: &HashMap<String, RecipientRecord>,
    ) -> (Vec<Write>, Vec<Placed>) {
        let header = &record.header;
        let local = self.directory.domain();
        let id = header.message_id;
        let envelope = record.envelope_json();
        let uuid = *id.as_uuid();
        let mut items = Vec::with_capacity(header.recipients.len() + 1);
        let mut placed = Vec::with_capacity(header.recipients.len() + 1);
        let mut remote: BTreeMap<&agentgate_core::Domain, Vec<Address>> = BTreeMap::new();
        for r in header.recipients.iter().filter(|r| r.accepted()) {
            if !moved_on.is_empty() && moved_on.contains_key(r.address.as_str()) {
                continue;
            }
            if r.address.domain() != local {
                remote
                    .entry(r.address.domain())
                    .or_default()
                    .push(r.address.clone());
                continue;
            }
            let queue = inbox_queue(&r.address);
            items.push(NewItem {
                queue: queue.clone(),
                id: uuid,
                payload: envelope.clone(),
                not_before_ms: None,
            });
            placed.push(Placed {
                recipient: r.address.clone(),
                queue,
                id: uuid,
                kind: if r.is_push() {
                    ItemKind::PushInbox
                } else {
                    ItemKind::PullInbox
                },
                enqueued: false,
            });
            if r.is_push() {
                let job = PushJob {
                    message_id: id,
                    recipient: r.address.clone(),
                    accepted_at: header.accepted_at,
                };
                items.push(NewItem {
                    queue: PUSH_QUEUE.to_string(),
                    id: job.id(),
                    payload: job.encode(),
                    not_before_ms: None,
                });
                placed.push(Placed {
                    recipient: r.address.clone(),
                    queue: PUSH_QUEUE.to_string(),
                    id: job.id(),
                    kind: ItemKind::Push,
                    enqueued: false,
                });
            }
        }
        for (domain, recipients) in remote {
            let job = OutboxJob {
                message_id: id,
                domain: domain.clone(),
                sender: header.sender.clone(),
                recipients,
                accepted_at: header.accepted_at,
            };
            items.push(NewItem {
                queue: OUTBOX_QUEUE.to_string(),
                id: job.id(),
                payload: job.encode(),
                not_before_ms: None,
            });
            placed.push(Placed {
                recipient: job.recipients[0].clone(),
                queue: OUTBOX_QUEUE.to_string(),
                id: job.id(),
                kind: ItemKind::Outbox,
                enqueued: false,
            });
        }

        // The index lists local agents' messages only.
        let mut flags: BTreeMap<&Address, u8> = BTreeMap::new();
        if header.sender.domain() == local {
            *flags.entry(&header.sender).or_default() |= index::SENT;
        }
        for r in header.recipients.iter().filter(|r| r.accepted()) {
            if r.address.domain() == local {
                *flags.entry(&r.address).or_default() |= index::RECEIVED;
            }
        }
        let suffix = index::suffix(header.accepted_at, &id);
        let mut writes = Vec::with_capacity(flags.len() + 1);
        if !items.is_empty() {
            writes.push(Write::Enqueue(items));
        }
        writes.extend(flags.into_iter().map(|(a, f)| Write::Put {
            bucket: MESSAGE_INDEX.to_string(),
            key: index::key(a, &suffix),
            value: Bytes::from(vec![f]),
        }));
        (writes, placed)
    }

    /// What the writes of [`Messaging::placement`] placed, from their results; the
    /// first failure if any failed.
    fn placed(
        mut placed: Vec<Placed>,
        mut results: impl Iterator<Item = Result<Written, StoreError>>,
    ) -> Result<Placement, StorageFailure> {
        if !placed.is_empty() {
            let outcomes = match results.next() {
                Some(Ok(Written::Enqueued(o))) if o.len() == placed.len() => o,
                Some(Err(e)) => return Err(e.into()),
                _ => {
                    return Err(StoreError::Unavailable(
                        "store answered an enqueue with something else".into(),
                    )
                    .into());
                }
            };
            for (p, outcome) in placed.iter_mut().zip(outcomes) {
                p.enqueued = matches!(outcome, EnqueueOutcome::Enqueued(_));
            }
        }
        for r in results {
            r?;
        }
        Ok(Placement { items: placed })
    }

    /// Counts newly placed items and wakes their readers and the pusher.
    fn account(&self, header: &RecordHeader, placement: &Placement) {
        let (mut pulled, mut pushes, mut copies, mut outbound) = (0u64, 0i64, 0i64, 0i64);
        for p in placement.items.iter().filter(|p| p.enqueued) {
            match p.kind {
                ItemKind::PullInbox | ItemKind::PushInbox => {
                    copies += 1;
                    if p.kind == ItemKind::PullInbox {
                        pulled += 1;
                    }
                    self.inbox.wake_queue(&p.queue);
                }
                ItemKind::Push => pushes += 1,
                ItemKind::Outbox => outbound += 1,
            }
        }
        self.metrics.inbox_depth_add(copies);
        if pulled > 0 {
            let since = clock::now().since(header.accepted_at);
            self.metrics
                .delivered(ModeLabel::Pull, pulled, Duration::from_millis(since));
        }
        if pushes > 0 {
            self.metrics.in_flight_add(pushes);
            self.wakes.push.notify_one();
        }
        if outbound > 0 {
            self.metrics.in_flight_add(outbound);
            self.wakes.outbox.notify_one();
        }
    }

    /// Removes the items this attempt enqueued for recipients `keep` rejects; returns
    /// the placement of the kept ones. (Index entries it wrote are left to expire: a
    /// listing checks each entry against its message record.)
    async fn withdraw(
        &self,
        mut placement: Placement,
        keep: impl Fn(&Address) -> bool,
    ) -> Result<Placement, StorageFailure> {
        let (kept, drop): (Vec<Placed>, Vec<Placed>) = placement
            .items
            .drain(..)
            .filter(|p| p.enqueued)
            .partition(|p| keep(&p.recipient));
        let acks: Vec<_> = drop
            .iter()
            .map(|p| self.store.ack(&p.queue, p.id))
            .collect();
        for r in futures::future::join_all(acks).await {
            r?;
        }
        if !drop.is_empty() {
            tracing::debug!(withdrawn = drop.len(), "withdrew speculative deliveries");
        }
        Ok(Placement { items: kept })
    }

    /// This gateway's domain.
    pub(crate) fn domain(&self) -> &agentgate_core::Domain {
        self.directory.domain()
    }

    /// The stored records of messages `ids`, in order (`None` where one has expired),
    /// read together.
    pub(crate) async fn records(
        &self,
        ids: &[&MessageId],
    ) -> Result<Vec<Option<MessageRecord>>, StorageFailure> {
        let keys: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let entries = self.store.get_many(MESSAGES, &keys).await?;
        let records = entries
            .into_iter()
            .map(|e| e.map(|e| MessageRecord::decode(e.value)).transpose())
            .collect::<Result<_, StoreError>>()?;
        Ok(records)
    }

    /// The stored record of message `id`, unless it has expired.
    pub(crate) async fn record(
        &self,
        id: &MessageId,
    ) -> Result<Option<MessageRecord>, StorageFailure> {
        match self.load(&id.to_string()).await {
            Ok(r) => Ok(r),
            Err(MessagingError::Storage(s)) => Err(s),
            Err(e) => Err(StorageFailure(StoreError::Corrupt(e.to_string()))),
        }
    }

    /// The stored message `id`, if `caller` may see it (sender, recipient or admin).
    pub(crate) async fn get(
        &self,
        caller: &Caller,
        id_text: &str,
    ) -> Result<MessageRecord, MessagingError> {
        let id = MessageId::parse(id_text)
            .map_err(|_| MessagingError::InvalidMessageId(id_text.to_string()))?;
        let record = self
            .load(&id.to_string())
            .await?
            .ok_or_else(|| MessagingError::MessageNotFound(id.to_string()))?;
        match caller {
            Caller::Admin => Ok(record),
            Caller::Agent(a) if record.involves(&a.agent.address) => Ok(record),
            Caller::Agent(_) => Err(MessagingError::AccessDenied(
                "only the sender and the recipients may read this message".into(),
            )),
        }
    }

    /// The delivery status of message `id`.
    pub(crate) async fn status(
        &self,
        caller: &Caller,
        id_text: &str,
    ) -> Result<StatusReport, MessagingError> {
        let record = self.get(caller, id_text).await?;
        let id = MessageId::parse(id_text)
            .map_err(|_| MessagingError::InvalidMessageId(id_text.to_string()))?;
        let statuses = self.statuses.all(&id).await?;
        Ok(report(id, &record.header, &statuses))
    }

    /// `agent`'s messages, newest first.
    pub(crate) async fn list(
        &self,
        agent: &AgentEntry,
        role: Option<&str>,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<MessageList, MessagingError> {
        let role = match role {
            None => Role::All,
            Some(r) => Role::parse(r).ok_or_else(|| MessagingError::InvalidRole(r.to_string()))?,
        };
        let limit = paging::limit(limit, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
        let prefix = index::prefix(&agent.agent.address);
        let mut after = paging::cursor(cursor, |c| {
            let suffix = base64_decode(c)?;
            index::id_of(&suffix)?;
            Some(format!("{prefix}{suffix}"))
        })?;
        let batch = (limit + 1).max(64);
        let mut picked: Vec<(MessageId, Timestamp)> = Vec::with_capacity(limit);
        let has_more;
        let mut rounds = 0;
        // Bounded work per request: a sparse role filter may return a short page with
        // `has_more` set.
        loop {
            rounds += 1;
            let page = self
                .store
                .scan(MESSAGE_INDEX, &prefix, after.as_deref(), batch)
                .await?;
            let exhausted = page.len() < batch;
            let mut overflow = false;
            for e in &page {
                let flags = e.value.first().copied().unwrap_or(0);
                if role.matches(flags) {
                    if picked.len() == limit {
                        overflow = true;
                        break;
                    }
                    if let Some(entry) = e.key.strip_prefix(&prefix).and_then(index::parse) {
                        picked.push(entry);
                    }
                }
                after = Some(e.key.clone());
            }
            if overflow {
                has_more = true;
                break;
            }
            if exhausted {
                has_more = false;
                break;
            }
            if picked.len() == limit {
                // The page is full; whether more follow is known from the next key.
                has_more = !self
                    .store
                    .scan(MESSAGE_INDEX, &prefix, after.as_deref(), 1)
                    .await?
                    .is_empty();
                break;
            }
            if rounds == 8 {
                has_more = true;
                break;
            }
        }
        let next_cursor = if has_more {
            after
                .as_deref()
                .and_then(|k| k.strip_prefix(&prefix))
                .map(base64_encode)
        } else {
            None
        };
        let me = &agent.agent.address;
        let summaries = futures::stream::iter(picked.into_iter().map(|(id, at)| async move {
            let Some(record) = self.load(&id.to_string()).await? else {
                return Ok::<_, MessagingError>(None);
            };
            // Entries left by a withdrawn speculative delivery do not match the record.
            if record.header.accepted_at != at || !record.involves(me) {
                return Ok(None);
            }
            let envelope = record.envelope()?;
            let statuses = self.statuses.all(&id).await?;
            let status = report(id, &record.header, &statuses).status;
            Ok(Some(MessageSummary {
                message_id: id,
                sender: envelope.sender,
                recipients: envelope.recipients,
                subject: envelope.subject,
                timestamp: envelope.timestamp,
                status,
            }))
        }))
        .buffered(16)
        .collect::<Vec<_>>()
        .await;
        let mut messages = Vec::with_capacity(summaries.len());
        for s in summaries {
            if let Some(s) = s? {
                messages.push(s);
            }
        }
        Ok(MessageList {
            messages,
            has_more,
            next_cursor,
        })
    }
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn base64_decode(text: &str) -> Option<String> {
    use base64::Engine;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    String::from_utf8(b).ok()
}

/// Builds a status report from the acceptance outcomes and the later records.
fn report(
    id: MessageId,
    header: &RecordHeader,
    later: &HashMap<String, RecipientRecord>,
) -> StatusReport {
    let recipients: Vec<RecipientReport> = header
        .recipients
        .iter()
        .map(|o| match later.get(o.address.as_str()) {
            Some(r) => RecipientReport {
                address: o.address.clone(),
                status: r.status,
                attempts: r.attempts,
                error_code: None,
                last_error: r.last_error.clone(),
                next_retry: r.next_retry,
                delivered_at: r.delivered_at.or_else(|| {
                    (o.status == DeliveryStatus::Delivered).then_some(header.accepted_at)
                }),
                updated_at: r.updated_at,
            },
            None => RecipientReport {
                address: o.address.clone(),
                status: o.status,
                attempts: 0,
                error_code: o.error_code.clone(),
                last_error: o.error_message.clone(),
                next_retry: None,
                delivered_at: (o.status == DeliveryStatus::Delivered).then_some(header.accepted_at),
                updated_at: header.accepted_at,
            },
        })
        .collect();
    StatusReport {
        message_id: id,
        status: MessageStatus::summarise(recipients.iter().map(|r| r.status)),
        created_at: header.accepted_at,
        updated_at: recipients
            .iter()
            .map(|r| r.updated_at)
            .max()
            .unwrap_or(header.accepted_at),
        attempts: recipients.iter().map(|r| r.attempts).sum(),
        next_retry: recipients
            .iter()
            .filter(|r| r.status == DeliveryStatus::Retrying)
            .filter_map(|r| r.next_retry)
            .min(),
        recipients,
    }
}
