//! Running coordination workflows (the state machine is
//! [`agentgate_core::workflow`]).
//!
//! - A local agent's message with a `coordination` block starts a workflow: messaging
//!   stores the workflow and its timer in the same durable round as the message.
//! - Every accepted submission goes through [`Workflows::submit`]; one that answers a
//!   workflow of this gateway (`in_reply_to` = workflow id, `response_type`
//!   `workflow_response` or `workflow_error`) from an awaited participant moves the
//!   workflow on. The sender is authenticated (an agent's key, or a peer gateway's
//!   signature for its own domain), so only a participant answers for itself. An
//!   answer that does not fit (not a participant, not awaited, workflow ended) is still
//!   delivered as a message, but changes nothing.
//! - What the state machine asks for is then carried out: the message is sent to the
//!   participants that are due (a message derived from the coordinating one, from the
//!   initiator, with the answers so far in `coordination.context`), and the initiator is
//!   sent the result once (`response_type: workflow_result`, from `postmaster@<domain>`).
//!   Their ids are derived from the workflow, so doing it again is a repeat.
//! - The `workflow_timers` queue holds one item per running workflow, due at the
//!   deadline or within [`RESUME_EVERY`], whichever is first: at each, the workflow is
//!   expired if late and any effect left undone (a crash between a state change and
//!   its effect) is done.

use std::sync::Arc;
use std::time::Duration;

use agentgate_core::workflow::{Answer, Effect, Workflow};
use agentgate_core::{Address, Envelope, MessageId, Timestamp};
use agentgate_store::{KvStore, NewItem, QueueItem, Store, StoreError};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::delivery::worker;
use crate::federation::outbox::POSTMASTER;
use crate::messaging::{Caller, Messaging, MessagingError, Origin, Submission};
use crate::storage::{StorageFailure, WORKFLOW_TIMERS, WORKFLOWS};

/// A running workflow is looked at least this often, to finish effects a crash left.
pub(crate) const RESUME_EVERY: Duration = Duration::from_secs(60);
/// Most compare-and-set rounds on one workflow before giving up.
const MAX_CAS_ROUNDS: usize = 16;

/// Why a workflow request failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowsError {
    /// The id is not a UUID.
    #[error("{0:?} is not a workflow id (a UUID)")]
    InvalidId(String),
    /// No such workflow here.
    #[error("workflow {0} not found")]
    NotFound(String),
    /// The caller is neither the initiator, a participant nor an admin.
    #[error("only the initiator and the participants may see this workflow")]
    AccessDenied,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

impl From<StoreError> for WorkflowsError {
    fn from(e: StoreError) -> Self {
        WorkflowsError::Storage(StorageFailure(e))
    }
}

/// The timer item of a workflow: due at the deadline or within [`RESUME_EVERY`].
pub(crate) fn timer_item(w: &Workflow) -> NewItem {
    NewItem {
        queue: WORKFLOW_TIMERS.to_string(),
        id: *w.workflow_id.as_uuid(),
        payload: Bytes::new(),
        not_before_ms: Some(next_look(w, clock::now())),
    }
}

/// When `w` should next be looked at, from `now` (ms since the epoch).
fn next_look(w: &Workflow, now: Timestamp) -> u64 {
    w.deadline
        .millis()
        .min(now.millis() + RESUME_EVERY.as_millis() as u64)
}

/// The workflow service.
pub(crate) struct Workflows {
    store: Arc<dyn Store>,
    messaging: Arc<Messaging>,
    shutdown: CancellationToken,
}

impl Workflows {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        messaging: Arc<Messaging>,
        shutdown: CancellationToken,
    ) -> Workflows {
        Workflows {
            store,
            messaging,
            shutdown,
        }
    }

    /// Accepts a submission (see [`Messaging::submit`]) and, if it answers a workflow
    /// of this gateway, moves the workflow on. A repeat is fed again, so an answer whose
    /// first attempt was interrupted is not lost; feeding it twice changes nothing.
    pub(crate) async fn submit(
        &self,
        origin: Origin<'_>,
        body: &[u8],
    ) -> Result<Submission, MessagingError> {
        let submission = self.messaging.submit(origin, body).await?;
        if let Some((workflow_id, answer)) = submission.answers
            && let Err(e) = self.answer(&workflow_id, &submission, answer).await
        {
            tracing::warn!(%workflow_id, error = %e, "could not record a workflow answer");
        }
        Ok(submission)
    }

    /// `caller`'s view of workflow `id`.
    pub(crate) async fn get(
        &self,
        caller: &Caller,
        id_text: &str,
    ) -> Result<Workflow, WorkflowsError> {
        let id = MessageId::parse(id_text)
            .map_err(|_| WorkflowsError::InvalidId(id_text.to_string()))?;
        let (w, _) = self
            .load(&id)
            .await?
            .ok_or_else(|| WorkflowsError::NotFound(id.to_string()))?;
        match caller {
            Caller::Admin => Ok(w),
            Caller::Agent(a) => {
                let me = &a.agent.address;
                if &w.initiator == me || w.participants.iter().any(|p| &p.address == me) {
                    Ok(w)
                } else {
                    Err(WorkflowsError::AccessDenied)
                }
            }
        }
    }

    /// Feeds an accepted answer to its workflow, if the workflow is run here.
    async fn answer(
        &self,
        workflow_id: &MessageId,
        submission: &Submission,
        answer: Answer,
    ) -> Result<(), WorkflowsError> {
        if self.load(workflow_id).await?.is_none() {
            return Ok(());
        }
        let from = submission.record.header.sender.clone();
        let payload = submission
            .record
            .envelope()
            .ok()
            .and_then(|e| e.payload.map(|p| p.to_value()));
        let now = clock::now();
        let changed = self
            .update(workflow_id, |w| {
                match w.respond(&from, answer, payload.clone(), now) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::info!(workflow_id = %w.workflow_id, %from, code = e.code(), error = %e, "answer not taken");
                        false
                    }
                }
            })
            .await?;
        if let Some(w) = changed {
            self.drive(w).await?;
        }
        Ok(())
    }

    /// Carries out every pending effect of `w`, recording each as done; returns the
    /// state after them (`w` itself when the workflow is gone).
    async fn drive(&self, mut w: Workflow) -> Result<Workflow, WorkflowsError> {
        for _ in 0..4 {
            let effects = w.pending_effects();
            if effects.is_empty() {
                break;
            }
            for effect in effects {
                let next = match effect {
                    Effect::Dispatch(to) => {
                        let original = self.original(&w).await?;
                        for address in &to {
                            self.deliver(dispatched(&w, &original, address)).await?;
                        }
                        self.update(&w.workflow_id, |w| {
                            w.dispatched(&to);
                            true
                        })
                        .await?
                    }
                    Effect::Report => {
                        self.deliver(result(&w, self.messaging.domain())).await?;
                        self.update(&w.workflow_id, |w| {
                            w.result_sent();
                            true
                        })
                        .await?
                    }
                };
                match next {
                    Some(next) => w = next,
                    None => return Ok(w),
                }
            }
        }
        Ok(w)
    }

    async fn deliver(&self, envelope: Envelope) -> Result<(), WorkflowsError> {
        match self.messaging.deliver_system(envelope).await {
            Ok(_) => Ok(()),
            // Nobody could take it (an unknown local participant): nothing to retry.
            Err(MessagingError::Rejected { code, .. }) => {
                tracing::info!(code, "a workflow message was refused by all its recipients");
                Ok(())
            }
            Err(MessagingError::Storage(s)) => Err(s.into()),
            Err(e) => Err(StorageFailure(StoreError::Unavailable(e.to_string())).into()),
        }
    }

    /// The coordinating message's envelope.
    async fn original(&self, w: &Workflow) -> Result<Envelope, WorkflowsError> {
        let record = self
            .messaging
            .record(&w.workflow_id)
            .await?
            .ok_or_else(|| WorkflowsError::NotFound(w.workflow_id.to_string()))?;
        Ok(record.envelope().map_err(StorageFailure)?)
    }

    async fn load(&self, id: &MessageId) -> Result<Option<(Workflow, u64)>, WorkflowsError> {
        let Some(e) = KvStore::get(&*self.store, WORKFLOWS, &id.to_string()).await? else {
            return Ok(None);
        };
        let w = serde_json::from_slice(&e.value)
            .map_err(|err| StoreError::Corrupt(format!("workflow {id}: {err}")))?;
        Ok(Some((w, e.revision)))
    }

    /// Applies `change` to the stored workflow with compare-and-set; returns the new
    /// state when `change` changed it (returned `true`), `None` otherwise or if gone.
    async fn update(
        &self,
        id: &MessageId,
        change: impl Fn(&mut Workflow) -> bool,
    ) -> Result<Option<Workflow>, WorkflowsError> {
        for _ in 0..MAX_CAS_ROUNDS {
            let Some((mut w, revision)) = self.load(id).await? else {
                return Ok(None);
            };
            if !change(&mut w) {
                return Ok(None);
            }
            w.updated_at = w.updated_at.max(clock::now());
            let value = Bytes::from(serde_json::to_vec(&w).expect("a workflow serialises"));
            match self
                .store
                .update(WORKFLOWS, &id.to_string(), value, revision)
                .await
            {
                Ok(_) => return Ok(Some(w)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Unavailable(format!("workflow {id}: too many concurrent updates")).into())
    }

    /// Starts the timer worker.
    pub(crate) fn spawn(self: Arc<Self>, wake: Arc<Notify>) -> JoinHandle<()> {
        let queue = worker::Queue {
            name: WORKFLOW_TIMERS,
            concurrency: 8,
            lease_ms: 60_000,
            grace: Duration::from_secs(2),
        };
        let (store, shutdown) = (self.store.clone(), self.shutdown.clone());
        tokio::spawn(worker::run(store, queue, self, wake, shutdown))
    }

    /// One look at a workflow: expire it if late, finish its effects, and either drop
    /// the timer (ended and reported) or set it again.
    async fn look(&self, item: &QueueItem) -> Result<Option<Instant>, WorkflowsError> {
        let id = MessageId::from_bytes(*item.id.as_bytes())
            .map_err(|_| StoreError::Corrupt(format!("workflow timer {}", item.id)))?;
        let now = clock::now();
        let w = match self.update(&id, |w| w.expire(now)).await? {
            Some(expired) => {
                tracing::info!(workflow_id = %id, "workflow timed out");
                expired
            }
            None => match self.load(&id).await? {
                Some((w, _)) => w,
                None => {
                    self.store.ack(WORKFLOW_TIMERS, item.id).await?;
                    return Ok(None);
                }
            },
        };
        let w = self.drive(w).await?;
        if w.status.is_final() && w.result_sent {
            self.store.ack(WORKFLOW_TIMERS, item.id).await?;
            return Ok(None);
        }
        let at = next_look(&w, clock::now());
        let delay = at.saturating_sub(clock::now().millis());
        self.store
            .nack(WORKFLOW_TIMERS, item.id, delay, None)
            .await?;
        Ok(Some(Instant::now() + Duration::from_millis(delay)))
    }
}

impl worker::Attempt for Workflows {
    type Unit = QueueItem;
    type Error = WorkflowsError;

    /// Each timer is looked at alone.
    fn group(&self, items: Vec<QueueItem>) -> Vec<(QueueItem, usize)> {
        worker::each_alone(items)
    }

    async fn attempt(
        self: Arc<Self>,
        item: QueueItem,
        _release: CancellationToken,
    ) -> Result<Option<Instant>, WorkflowsError> {
        self.look(&item).await
    }
}

/// The message that brings workflow `w` to `to`: the coordinating message's content,
/// from the initiator, with the workflow id, the participant's role and the answers so
/// far in `coordination`.
fn dispatched(w: &Workflow, original: &Envelope, to: &Address) -> Envelope {
    let mut coordination = original.coordination.clone().unwrap_or_else(|| json!({}));
    if let Some(obj) = coordination.as_object_mut() {
        obj.insert("workflow_id".into(), json!(w.workflow_id));
        obj.insert("context".into(), w.context());
        // `role` (and `index` for a step or branch), as in the workflow's state.
        if let Some(p) = w.participants.iter().find(|p| &p.address == to)
            && let Value::Object(role) = json!(p.role)
        {
            obj.extend(role);
        }
    }
    let mut envelope = original.clone();
    envelope.message_id = w.dispatch_id(to);
    envelope.idempotency_key = None;
    envelope.timestamp = clock::now();
    envelope.sender = w.initiator.clone();
    envelope.recipients = vec![to.clone()];
    envelope.coordination = Some(coordination);
    envelope
}

/// The result message to the initiator.
fn result(w: &Workflow, domain: &agentgate_core::Domain) -> Envelope {
    let value: Value = json!({
        "version": "1.0",
        "message_id": w.result_id(),
        "timestamp": clock::now(),
        "sender": format!("{POSTMASTER}@{}", domain.as_str()),
        "recipients": [w.initiator],
        "subject": format!("Workflow {}: {}", w.workflow_id, json!(w.status).as_str().unwrap_or("ended")),
        "in_reply_to": w.workflow_id,
        "response_type": agentgate_core::workflow::RESULT,
        "payload": w.result_payload(),
    });
    serde_json::from_value(value).expect("a workflow result is a valid envelope")
}
