//! Push delivery: the worker that POSTs messages to push agents' webhooks.
//!
//! Everything it works from is in the durable `push` queue, so it survives restarts:
//! a job leased by a process that died is leased again when its lease runs out.
//!
//! The worker leases up to `delivery.push.concurrency` jobs and runs them concurrently.
//! For each, it reads the recipient's inbox copy (if the agent already took the message
//! from its inbox, there is nothing to push), POSTs it (timeout `delivery.push.timeout`,
//! no redirects, signed, see [`push`]) and then:
//!
//! - on a 2xx: acknowledges the job and the inbox copy, recipient `delivered`;
//! - on any other answer or no answer: releases the job with a delay from the backoff
//!   schedule (initial/max from config, ±25 % jitter), recipient `retrying` with the
//!   error and the next retry time;
//! - when `delivery.push.max_attempts` are used up: dead-letters the job, recipient
//!   `failed` with the last error; the message stays in the agent's inbox.
//!
//! The worker sleeps until woken by an enqueue, by the earliest retry it scheduled, or
//! by a one-second idle tick (for retries scheduled before a restart). On shutdown it
//! stops leasing, gives in-flight pushes a short grace, then releases the rest for
//! immediate redelivery on the next start.

pub(crate) mod job;
pub(crate) mod push;
pub(crate) mod resolver;
pub(crate) mod worker;

use std::sync::Arc;
use std::time::Duration;

use agentgate_core::backoff::Backoff;
use agentgate_core::{DeliveryMode, DeliveryStatus, Envelope};
use agentgate_store::{MailboxStore, QueueItem, Store};
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::directory::validate::PushTargetPolicy;
use crate::directory::{AgentEntry, Directory};
use crate::metrics::{Metrics, ModeLabel, PushOutcome};
use crate::status_book::{RecipientRecord, StatusBook};
use crate::storage::{PUSH_QUEUE, StorageFailure, inbox_queue};
use job::PushJob;
use push::{PushBody, signature};
use resolver::GuardedResolver;

/// Lease on a job beyond the push timeout, for the bookkeeping after the POST.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// Push delivery settings.
#[derive(Clone, Debug)]
pub(crate) struct PushSettings {
    /// Retry schedule and attempt limit.
    pub backoff: Backoff,
    /// Time allowed for one POST.
    pub timeout: Duration,
    /// Pushes in flight at once.
    pub concurrency: usize,
    /// What push targets may be.
    pub policy: PushTargetPolicy,
}

/// Why one push attempt failed.
struct PushFailure {
    outcome: PushOutcome,
    message: String,
}

/// The push worker.
pub(crate) struct PushWorker {
    store: Arc<dyn Store>,
    directory: Arc<Directory>,
    statuses: Arc<StatusBook>,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
    settings: PushSettings,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
}

impl PushWorker {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        directory: Arc<Directory>,
        statuses: Arc<StatusBook>,
        metrics: Arc<Metrics>,
        settings: PushSettings,
        wake: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<PushWorker> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("agentgate/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // Proxies would resolve names themselves, bypassing the address checks.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.policy.allow_private,
            }))
            .build()?;
        Ok(PushWorker {
            store,
            directory,
            statuses,
            metrics,
            client,
            settings,
            wake,
            shutdown,
        })
    }

    /// Starts the worker; the task ends after shutdown is signalled and in-flight
    /// pushes finished or were released.
    pub(crate) fn spawn(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    fn lease_ms(&self) -> u64 {
        (self.settings.timeout + LEASE_MARGIN).as_millis() as u64
    }

    async fn run(self: Arc<Self>) {
        let queue = worker::Queue {
            name: PUSH_QUEUE,
            concurrency: self.settings.concurrency,
            lease_ms: self.lease_ms(),
            grace: self.settings.timeout,
        };
        let (store, wake, shutdown) =
            (self.store.clone(), self.wake.clone(), self.shutdown.clone());
        worker::run(store, queue, self, wake, shutdown).await;
    }

    async fn try_attempt(
        &self,
        item: &QueueItem,
        release: &CancellationToken,
    ) -> Result<Option<Instant>, StorageFailure> {
        let Some(job) = PushJob::decode(&item.payload) else {
            self.store
                .dead_letter(PUSH_QUEUE, item.id, "undecodable push job".into())
                .await?;
            self.metrics.in_flight_add(-1);
            return Ok(None);
        };
        let agent = self.directory.lookup(job.recipient.local()).filter(|a| {
            a.agent.address == job.recipient && a.agent.delivery_mode == DeliveryMode::Push
        });
        let Some(agent) = agent else {
            return self.drop_unregistered(item, &job).await;
        };
        let inbox = inbox_queue(&job.recipient);
        let uuid = *job.message_id.as_uuid();
        let Some(copy) = MailboxStore::get(&*self.store, &inbox, uuid).await? else {
            // The agent took the message from its inbox already.
            self.store.ack(PUSH_QUEUE, item.id).await?;
            self.metrics.in_flight_add(-1);
            return Ok(None);
        };
        let started = tokio::select! {
            r = self.post(&agent, &job, &copy.payload) => r,
            _ = release.cancelled() => {
                self.store
                    .nack(PUSH_QUEUE, item.id, 0, Some("interrupted by gateway shutdown".into()))
                    .await?;
                return Ok(None);
            }
        };
        let now = clock::now();
        let attempts = item.attempts.max(1);
        match started {
            Ok(()) => {
                self.metrics.push_attempt(PushOutcome::Success);
                let (acked, removed, status) = tokio::join!(
                    self.store.ack(PUSH_QUEUE, item.id),
                    self.store.ack(&inbox, uuid),
                    self.statuses
                        .transition(&job.message_id, &job.recipient, |_| RecipientRecord {
                            status: DeliveryStatus::Delivered,
                            attempts,
                            last_error: None,
                            next_retry: None,
                            delivered_at: Some(now),
                            updated_at: now,
                        }),
                );
                acked?;
                if removed? {
                    self.metrics.inbox_depth_add(-1);
                }
                status?;
                self.metrics.in_flight_add(-1);
                self.metrics.delivered(
                    ModeLabel::Push,
                    1,
                    Duration::from_millis(now.since(job.accepted_at)),
                );
                Ok(None)
            }
            Err(failure) => {
                self.metrics.push_attempt(failure.outcome);
                let error = failure.message;
                if !self.settings.backoff.may_retry(attempts) {
                    let (dead, status) = tokio::join!(
                        self.store.dead_letter(PUSH_QUEUE, item.id, error.clone()),
                        self.statuses
                            .transition(&job.message_id, &job.recipient, |_| RecipientRecord {
                                status: DeliveryStatus::Failed,
                                attempts,
                                last_error: Some(error.clone()),
                                next_retry: None,
                                delivered_at: None,
                                updated_at: now,
                            }),
                    );
                    dead?;
                    status?;
                    self.metrics.in_flight_add(-1);
                    self.metrics.failed("PUSH_EXHAUSTED", 1);
                    tracing::warn!(message_id = %job.message_id, recipient = %job.recipient, attempts, %error, "push failed for good; the message stays in the inbox");
                    return Ok(None);
                }
                let delay = self
                    .settings
                    .backoff
                    .delay_ms(attempts, clock::random_unit());
                let next_retry = now.plus_millis(delay);
                let (nacked, status) = tokio::join!(
                    self.store
                        .nack(PUSH_QUEUE, item.id, delay, Some(error.clone())),
                    self.statuses
                        .transition(&job.message_id, &job.recipient, |_| RecipientRecord {
                            status: DeliveryStatus::Retrying,
                            attempts,
                            last_error: Some(error.clone()),
                            next_retry: Some(next_retry),
                            delivered_at: None,
                            updated_at: now,
                        }),
                );
                nacked?;
                status?;
                tracing::debug!(message_id = %job.message_id, recipient = %job.recipient, attempts, delay_ms = delay, %error, "push failed; will retry");
                Ok(Some(Instant::now() + Duration::from_millis(delay)))
            }
        }
    }

    async fn drop_unregistered(
        &self,
        item: &QueueItem,
        job: &PushJob,
    ) -> Result<Option<Instant>, StorageFailure> {
        let now = clock::now();
        let (acked, status) = tokio::join!(
            self.store.ack(PUSH_QUEUE, item.id),
            self.statuses
                .transition(&job.message_id, &job.recipient, |cur| RecipientRecord {
                    status: DeliveryStatus::Failed,
                    attempts: cur.map_or(0, |c| c.attempts),
                    last_error: Some("the agent is no longer registered for push delivery".into()),
                    next_retry: None,
                    delivered_at: None,
                    updated_at: now,
                }),
        );
        acked?;
        status?;
        self.metrics.in_flight_add(-1);
        self.metrics.push_attempt(PushOutcome::Refused);
        self.metrics.failed("AGENT_UNREGISTERED", 1);
        Ok(None)
    }

    async fn post(
        &self,
        agent: &AgentEntry,
        job: &PushJob,
        envelope_json: &[u8],
    ) -> Result<(), PushFailure> {
        let refused = |message: String| PushFailure {
            outcome: PushOutcome::Refused,
            message,
        };
        let target = agent
            .agent
            .push_target
            .as_deref()
            .ok_or_else(|| refused("the agent has no push_target".into()))?;
        let url = self.settings.policy.check(target).map_err(refused)?;
        let envelope: Envelope = serde_json::from_slice(envelope_json)
            .map_err(|e| refused(format!("stored envelope unreadable: {e}")))?;
        let body = PushBody::new(&envelope, &job.recipient).to_vec();
        let unix_seconds = clock::now().millis() / 1000;
        let secret = agent.agent.webhook_secret.as_deref().unwrap_or_default();
        let mut request = self.client.post(url);
        for (name, value) in &agent.agent.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                request = request.header(n, v);
            }
        }
        let response = request
            .header(CONTENT_TYPE, "application/json")
            .header("X-AMTP-Local-Delivery", "true")
            .header("X-AMTP-Message-ID", job.message_id.to_string())
            .header("X-AMTP-Timestamp", unix_seconds.to_string())
            .header("X-AMTP-Signature", signature(secret, unix_seconds, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| PushFailure {
                outcome: if e.is_timeout() {
                    PushOutcome::Timeout
                } else {
                    PushOutcome::NetworkError
                },
                message: error_chain(&e),
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(PushFailure {
                outcome: PushOutcome::HttpError,
                message: format!("push target answered HTTP {}", status.as_u16()),
            })
        }
    }
}

/// An error and its causes, on one line.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl worker::Attempt for PushWorker {
    type Unit = QueueItem;
    type Error = StorageFailure;

    /// Each push job is attempted alone.
    fn group(&self, items: Vec<QueueItem>) -> Vec<(QueueItem, usize)> {
        worker::each_alone(items)
    }

    /// One push attempt with its bookkeeping.
    async fn attempt(
        self: Arc<Self>,
        item: QueueItem,
        release: CancellationToken,
    ) -> Result<Option<Instant>, StorageFailure> {
        self.try_attempt(&item, &release).await
    }
}

/// The number of pending jobs in `queue` (for the in-flight gauge at startup).
pub(crate) async fn pending_jobs(store: &dyn Store, queue: &str) -> Result<u64, StorageFailure> {
    let s = store.stats(queue).await?;
    Ok(s.ready + s.delayed + s.leased)
}
