//! The outbox: delivering accepted messages to other domains' gateways.
//!
//! At acceptance every other domain among a message's recipients gets one job in the
//! durable `outbox` queue carrying all of that domain's recipients, so no recipient is
//! ever lost as a "duplicate" of another at the same peer. The job id is derived from
//! (message id, domain), so enqueueing it twice (a repeated submission, a retry after a
//! crash) stores it once.
//!
//! For each job the worker discovers the domain's gateway, POSTs the envelope (its
//! `recipients` narrowed to that domain's) to `{gateway}/v1/messages`, signed with this
//! gateway's federation key, and then:
//!
//! - **2xx**: each recipient the peer accepted is `delivered`; one the peer refused
//!   (its per-recipient `status: failed`) is `failed` with the peer's code;
//! - **refused for good** (400, 403, 404, 409, 413, 422): every recipient `failed` with
//!   the peer's error code;
//! - **anything else** (no answer, 401, 408, 429, 5xx, discovery failure): `retrying`,
//!   released with the next delay of the schedule (`federation.outbound.*`: 1 s doubling
//!   to 1 h, ±25 % jitter); the domain is then considered down until that time, and its
//!   other jobs wait without spending attempts;
//! - **attempts exhausted**: every recipient still pending is `failed`.
//!
//! A job that ends with failed recipients is dead-lettered (with the reason) and the
//! sender receives a `delivery_failure` report in its inbox from `postmaster@<our
//! domain>` ([`failure_report`]). Delivery is at-least-once: the receiving gateway
//! de-duplicates by sender and message id (or idempotency key).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agentgate_core::backoff::Backoff;
use agentgate_core::{Address, DeliveryStatus, Domain, Envelope, MessageId, Timestamp};
use agentgate_store::{QueueItem, Store, StoreError, Write};
use bytes::Bytes;
use parking_lot::Mutex;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Federation;
use super::batch;
use super::discovery::Peer;
use super::signatures::{self, new_nonce};
use crate::clock;
use crate::delivery::{error_chain, worker};
use crate::messaging::Messaging;
use crate::metrics::{Metrics, ModeLabel, PushOutcome};
use crate::status_book::{Read, RecipientRecord, StatusBook};
use crate::storage::{OUTBOX_QUEUE, StorageFailure};

/// The path deliveries are POSTed to, relative to the peer's gateway URL.
pub(crate) const MESSAGES_PATH: &str = "/v1/messages";
/// Lease on a job beyond the POST timeout, for the bookkeeping after it.
const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// How long a signature on an outbound delivery is valid.
const SIGNATURE_VALIDITY: Duration = Duration::from_secs(300);
/// Longest peer answer read.
const MAX_ANSWER: usize = 1024 * 1024;
/// The local part of the address failure reports come from.
pub(crate) const POSTMASTER: &str = "postmaster";

/// One pending delivery to another domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutboxJob {
    /// The message.
    pub message_id: MessageId,
    /// The other domain.
    pub domain: Domain,
    /// The message's sender (a local agent), who gets the failure report.
    pub sender: Address,
    /// That domain's recipients of the message.
    pub recipients: Vec<Address>,
    /// When the message was accepted.
    pub accepted_at: Timestamp,
}

impl OutboxJob {
    /// The queue item id: the first 16 bytes of SHA-256(message id ‖ "@" ‖ domain).
    pub(crate) fn id(&self) -> Uuid {
        let mut h = Sha256::new();
        h.update(self.message_id.as_bytes());
        h.update(b"@");
        h.update(self.domain.as_str().as_bytes());
        let digest = h.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(b)
    }

    /// The queue payload.
    pub(crate) fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("job serialises"))
    }

    /// Parses a queue payload.
    pub(crate) fn decode(bytes: &[u8]) -> Option<OutboxJob> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Outbound delivery settings (`federation.outbound.*`).
#[derive(Clone, Debug)]
pub(crate) struct OutboxSettings {
    /// Retry schedule and attempt limit.
    pub backoff: Backoff,
    /// Time allowed for one POST.
    pub timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

/// One recipient's end state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failed {
    /// The recipient.
    pub address: Address,
    /// The error code (the peer's, or ours).
    pub code: String,
    /// What happened.
    pub message: String,
}

/// What one attempt came to, for one job.
#[derive(Clone, Debug)]
enum Outcome {
    /// The peer answered 2xx; these recipients it refused.
    Delivered(Vec<Failed>),
    /// The peer refused the whole delivery for good.
    Refused { code: String, message: String },
    /// Try again later.
    Retry {
        outcome: PushOutcome,
        message: String,
    },
}

impl Outcome {
    fn refused(code: &str, message: String) -> Outcome {
        Outcome::Refused {
            code: code.to_owned(),
            message,
        }
    }
}

/// Outbox jobs attempted together.
pub(crate) enum Unit {
    /// Jobs for one domain, delivered in batches when the peer takes them.
    Domain(Domain, Vec<(QueueItem, OutboxJob)>),
    /// An item that is not an outbox job.
    Undecodable(QueueItem),
}

/// A job with what its attempt needs.
struct Pending {
    item: QueueItem,
    job: OutboxJob,
    /// This attempt's number.
    attempts: u32,
    /// The records of the job's recipients, in order.
    statuses: Vec<Read>,
    /// The body to send: the stored envelope (a slice of the record, not a copy), or
    /// that envelope narrowed to the job's recipients.
    body: Result<Bytes, String>,
}

impl Pending {
    /// The body to send (empty when it could not be made: such a job is refused before
    /// anything is sent).
    fn body(&self) -> Bytes {
        self.body.clone().unwrap_or_default()
    }
}

/// The outbox worker.
pub(crate) struct OutboxWorker {
    pub store: Arc<dyn Store>,
    pub federation: Arc<Federation>,
    /// Reads message records and delivers failure reports.
    pub messaging: Arc<Messaging>,
    pub statuses: Arc<StatusBook>,
    pub metrics: Arc<Metrics>,
    pub settings: OutboxSettings,
    /// Domains that failed, and until when their jobs wait.
    pub down: Mutex<HashMap<Domain, Instant>>,
    /// Domains that announce batches but refused one as unknown, and until when they
    /// get single deliveries.
    pub no_batch: Mutex<HashMap<Domain, Instant>>,
    /// Woken when a job is enqueued.
    pub wake: Arc<Notify>,
    pub shutdown: CancellationToken,
}

/// How long a peer that refused a batch as unknown gets single deliveries.
const NO_BATCH_FOR: Duration = Duration::from_secs(600);

impl OutboxWorker {
    /// Starts the worker; the task ends after shutdown.
    pub(crate) fn spawn(self: Arc<Self>) -> JoinHandle<()> {
        let queue = worker::Queue {
            name: OUTBOX_QUEUE,
            concurrency: self.settings.concurrency,
            lease_ms: (self.settings.timeout + LEASE_MARGIN).as_millis() as u64,
            grace: self.settings.timeout,
        };
        let (store, wake, shutdown) =
            (self.store.clone(), self.wake.clone(), self.shutdown.clone());
        tokio::spawn(worker::run(store, queue, self, wake, shutdown))
    }

    /// Attempts one domain's jobs: waits out a peer that is down, loads each job's
    /// message, delivers them (in batches if the peer takes them) and settles each.
    async fn attempt_domain(
        &self,
        domain: Domain,
        jobs: Vec<(QueueItem, OutboxJob)>,
        release: &CancellationToken,
    ) -> Result<Option<Instant>, StorageFailure> {
        // A peer that just failed: wait for its retry time without spending attempts.
        let waiting = self.down.lock().get(&domain).copied();
        if let Some(until) = waiting {
            let now = Instant::now();
            if until > now {
                let delay = (until - now).as_millis() as u64;
                let nacks = jobs
                    .iter()
                    .map(|(item, _)| self.store.nack(OUTBOX_QUEUE, item.id, delay, None));
                for r in futures::future::join_all(nacks).await {
                    r?;
                }
                return Ok(Some(until));
            }
        }
        let (mut pending, expired) = self.load_all(jobs).await?;
        let outcomes = tokio::select! {
            o = self.deliver_all(&domain, &pending) => o,
            _ = release.cancelled() => {
                let nacks = pending.iter().map(|p| {
                    self.store.nack(OUTBOX_QUEUE, p.item.id, 0, Some("interrupted by gateway shutdown".into()))
                });
                for r in futures::future::join_all(nacks).await {
                    r?;
                }
                pending.clear();
                Vec::new()
            }
        };
        let expired = expired.into_iter().map(|p| {
            let failed = all_failed(
                &p.job,
                "MESSAGE_EXPIRED",
                "the message expired before it could be delivered",
            );
            async move { self.finish(&p.item, &p.job, p.attempts, failed).await }
        });
        // The jobs delivered to every recipient end together; the others one by one.
        let (delivered, others): (Vec<_>, Vec<_>) = pending
            .iter()
            .zip(outcomes)
            .partition(|(_, o)| matches!(o, Outcome::Delivered(failed) if failed.is_empty()));
        let delivered: Vec<&Pending> = delivered.into_iter().map(|(p, _)| p).collect();
        if !delivered.is_empty() {
            self.down.lock().remove(&domain);
        }
        let settled = others
            .into_iter()
            .map(|(p, outcome)| self.settle(p, outcome));
        let (finished, settled, expired) = tokio::join!(
            self.finish_delivered(&delivered),
            futures::future::join_all(settled),
            futures::future::join_all(expired)
        );
        finished?;
        let mut due: Option<Instant> = None;
        for r in settled.into_iter().chain(expired) {
            if let Some(d) = r? {
                due = Some(due.map_or(d, |x| x.min(d)));
            }
        }
        Ok(due)
    }

    /// Reads what the attempts of `jobs` need (their messages and recipients' records,
    /// each kind in one store read): the jobs to deliver, and those whose message is no
    /// longer stored.
    async fn load_all(
        &self,
        jobs: Vec<(QueueItem, OutboxJob)>,
    ) -> Result<(Vec<Pending>, Vec<Pending>), StorageFailure> {
        let ids: Vec<&MessageId> = jobs.iter().map(|(_, j)| &j.message_id).collect();
        let pairs: Vec<(&MessageId, &Address)> = jobs
            .iter()
            .flat_map(|(_, j)| j.recipients.iter().map(move |r| (&j.message_id, r)))
            .collect();
        let (records, reads) =
            tokio::join!(self.messaging.records(&ids), self.statuses.get_many(&pairs));
        let (records, mut reads) = (records?, reads?.into_iter());
        let (mut pending, mut expired) = (Vec::new(), Vec::new());
        for ((item, job), record) in jobs.into_iter().zip(records) {
            let statuses: Vec<Read> = reads.by_ref().take(job.recipients.len()).collect();
            let attempts = statuses
                .first()
                .and_then(|r| r.record.as_ref())
                .map_or(0, |r| r.attempts)
                + 1;
            let body = match &record {
                None => Err("expired".to_owned()),
                // The envelope goes as stored when all its recipients are this domain's.
                Some(r) if r.header.recipients.len() == job.recipients.len() => {
                    Ok(r.envelope_json())
                }
                Some(r) => narrowed(&r.envelope_json(), &job.recipients)
                    .map(Bytes::from)
                    .map_err(|e| format!("stored envelope unreadable: {e}")),
            };
            let p = Pending {
                item,
                job,
                attempts,
                statuses,
                body,
            };
            if record.is_some() {
                pending.push(p);
            } else {
                expired.push(p);
            }
        }
        Ok((pending, expired))
    }

    /// Ends the jobs delivered to every recipient: their recipients' records and the
    /// acknowledgements in one store round.
    async fn finish_delivered(&self, delivered: &[&Pending]) -> Result<(), StorageFailure> {
        if delivered.is_empty() {
            return Ok(());
        }
        let now = clock::now();
        let mut writes = Vec::new();
        // For each status write, the recipient and record to fall back on.
        let mut owners: Vec<Option<(&MessageId, &Address, RecipientRecord)>> = Vec::new();
        for p in delivered {
            for (r, read) in p.job.recipients.iter().zip(&p.statuses) {
                let record = RecipientRecord {
                    status: DeliveryStatus::Delivered,
                    attempts: p.attempts,
                    last_error: None,
                    next_retry: None,
                    delivered_at: Some(now),
                    updated_at: now,
                };
                if let Some(w) = StatusBook::write_from(&p.job.message_id, r, read, &record) {
                    writes.push(w);
                    owners.push(Some((&p.job.message_id, r, record)));
                }
            }
            writes.push(Write::Ack {
                queue: OUTBOX_QUEUE.to_owned(),
                id: p.item.id,
            });
            owners.push(None);
        }
        let results = self.store.write_many(writes).await?;
        for (owner, result) in owners.into_iter().zip(results) {
            match (owner, result) {
                (_, Ok(_)) => {}
                // The record changed since it was read: update it by compare-and-set.
                (
                    Some((id, r, record)),
                    Err(StoreError::Conflict { .. } | StoreError::AlreadyExists(_)),
                ) => {
                    self.statuses.transition(id, r, |_| record.clone()).await?;
                }
                (_, Err(e)) => return Err(e.into()),
            }
        }
        for p in delivered {
            self.metrics.federation_attempt(PushOutcome::Success);
            self.metrics.delivered(
                ModeLabel::Federation,
                p.job.recipients.len() as u64,
                Duration::from_millis(now.since(p.job.accepted_at)),
            );
            self.metrics.in_flight_add(-1);
        }
        Ok(())
    }

    /// Settles one job by its outcome: delivered or failed for good, or put back with
    /// the next delay of the schedule. Returns when it is next due.
    async fn settle(
        &self,
        p: &Pending,
        outcome: Outcome,
    ) -> Result<Option<Instant>, StorageFailure> {
        let (item, job, attempts) = (&p.item, &p.job, p.attempts);
        match outcome {
            Outcome::Delivered(failed) => {
                self.metrics.federation_attempt(PushOutcome::Success);
                self.down.lock().remove(&job.domain);
                self.finish(item, job, attempts, failed).await
            }
            Outcome::Refused { code, message } => {
                self.metrics.federation_attempt(PushOutcome::Refused);
                let failed = all_failed(job, &code, &message);
                self.finish(item, job, attempts, failed).await
            }
            Outcome::Retry { outcome, message } => {
                self.metrics.federation_attempt(outcome);
                if !self.settings.backoff.may_retry(attempts) {
                    let failed = all_failed(
                        job,
                        "FEDERATION_EXHAUSTED",
                        &format!("gave up after {attempts} attempts; last error: {message}"),
                    );
                    return self.finish(item, job, attempts, failed).await;
                }
                let delay = self
                    .settings
                    .backoff
                    .delay_ms(attempts, clock::random_unit());
                let now = clock::now();
                let due = Instant::now() + Duration::from_millis(delay);
                self.down.lock().insert(job.domain.clone(), due);
                let statuses = job.recipients.iter().map(|r| {
                    self.statuses
                        .transition(&job.message_id, r, |_| RecipientRecord {
                            status: DeliveryStatus::Retrying,
                            attempts,
                            last_error: Some(message.clone()),
                            next_retry: Some(now.plus_millis(delay)),
                            delivered_at: None,
                            updated_at: now,
                        })
                });
                // Concurrent writes share a group commit.
                let (nacked, statuses) = tokio::join!(
                    self.store
                        .nack(OUTBOX_QUEUE, item.id, delay, Some(message.clone())),
                    futures::future::join_all(statuses),
                );
                nacked?;
                for s in statuses {
                    s?;
                }
                tracing::debug!(message_id = %job.message_id, domain = %job.domain, attempts, delay_ms = delay, error = %message, "delivery to another domain failed; will retry");
                Ok(Some(due))
            }
        }
    }
    /// Ends a job: recipients not in `failed` are delivered; failed ones are reported to
    /// the sender, and the job is dead-lettered; otherwise it is acknowledged.
    async fn finish(
        &self,
        item: &QueueItem,
        job: &OutboxJob,
        attempts: u32,
        failed: Vec<Failed>,
    ) -> Result<Option<Instant>, StorageFailure> {
        let now = clock::now();
        let statuses = job.recipients.iter().map(|r| {
            let failure = failed.iter().find(|f| &f.address == r);
            self.statuses
                .transition(&job.message_id, r, move |_| RecipientRecord {
                    status: if failure.is_some() {
                        DeliveryStatus::Failed
                    } else {
                        DeliveryStatus::Delivered
                    },
                    attempts,
                    last_error: failure.map(|f| format!("{}: {}", f.code, f.message)),
                    next_retry: None,
                    delivered_at: failure.is_none().then_some(now),
                    updated_at: now,
                })
        });
        // The statuses and, when all went well, the acknowledgement share a commit.
        let ack = async {
            if failed.is_empty() {
                self.store.ack(OUTBOX_QUEUE, item.id).await.map(|_| ())
            } else {
                Ok(())
            }
        };
        let (statuses, acked) = tokio::join!(futures::future::join_all(statuses), ack);
        for s in statuses {
            s?;
        }
        acked?;
        let delivered = (job.recipients.len() - failed.len()) as u64;
        if delivered > 0 {
            self.metrics.delivered(
                ModeLabel::Federation,
                delivered,
                Duration::from_millis(now.since(job.accepted_at)),
            );
        }
        if !failed.is_empty() {
            let reason = if failed.iter().all(|f| f.code == "FEDERATION_EXHAUSTED") {
                "FEDERATION_EXHAUSTED"
            } else {
                "FEDERATION_REJECTED"
            };
            self.metrics.failed(reason, failed.len() as u64);
            let report = failure_report(self.messaging.domain(), job, &failed, attempts, now);
            if let Err(e) = self.messaging.deliver_system(report).await {
                // The job stays leased and is tried again when the lease ends; the
                // report's id is derived from the job, so it is not sent twice.
                tracing::warn!(message_id = %job.message_id, error = %e, "cannot deliver a failure report");
                return Err(StorageFailure(agentgate_store::StoreError::Unavailable(
                    e.to_string(),
                )));
            }
            let summary: Vec<String> = failed
                .iter()
                .map(|f| format!("{} ({})", f.address, f.code))
                .collect();
            self.store
                .dead_letter(OUTBOX_QUEUE, item.id, summary.join(", "))
                .await?;
            tracing::warn!(message_id = %job.message_id, domain = %job.domain, attempts, failed = %summary.join(", "), "delivery to another domain failed for good; the sender was sent a report");
        }
        self.metrics.in_flight_add(-1);
        Ok(None)
    }

    /// Delivers each pending job to `domain`, in batches when the peer announces them,
    /// and returns each job's outcome in order.
    async fn deliver_all(&self, domain: &Domain, pending: &[Pending]) -> Vec<Outcome> {
        let peer = match self.federation.discovery.discover(domain).await {
            Ok(peer) => peer,
            Err(e) => {
                let retry = Outcome::Retry {
                    outcome: PushOutcome::NetworkError,
                    message: e.to_string(),
                };
                return vec![retry; pending.len()];
            }
        };
        let mut outcomes: Vec<Option<Outcome>> = vec![None; pending.len()];
        // Jobs whose body is ready and within the peer's limit.
        let mut ready: Vec<usize> = Vec::new();
        for (i, p) in pending.iter().enumerate() {
            match &p.body {
                Err(e) => outcomes[i] = Some(Outcome::refused("INTERNAL_ERROR", e.clone())),
                Ok(body) => match peer.record.max_size {
                    Some(max) if body.len() as u64 > max => {
                        outcomes[i] = Some(Outcome::refused(
                            "MESSAGE_TOO_LARGE",
                            format!(
                                "the message is {} bytes; {domain} accepts at most {max}",
                                body.len()
                            ),
                        ));
                    }
                    _ => ready.push(i),
                },
            }
        }
        let (batches, alone) = if ready.len() > 1 && self.takes_batches(&peer) {
            let sizes: Vec<usize> = ready.iter().map(|&i| pending[i].body().len()).collect();
            let (batches, alone) = batch::chunks(&sizes);
            let pick = |list: Vec<usize>| list.into_iter().map(|k| ready[k]).collect::<Vec<_>>();
            (
                batches.into_iter().map(pick).collect::<Vec<_>>(),
                pick(alone),
            )
        } else {
            (Vec::new(), ready)
        };
        let peer = &peer;
        let batched = batches.iter().map(|jobs| async move {
            let answers = self.deliver_batch(peer, pending, jobs).await;
            (jobs, answers)
        });
        let singles = alone
            .iter()
            .map(|&i| async move { (i, self.deliver_one(peer, &pending[i]).await) });
        let (batched, singles) = tokio::join!(
            futures::future::join_all(batched),
            futures::future::join_all(singles)
        );
        for (jobs, answers) in batched {
            for (&i, outcome) in jobs.iter().zip(answers) {
                outcomes[i] = Some(outcome);
            }
        }
        for (i, outcome) in singles {
            outcomes[i] = Some(outcome);
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every job has an outcome"))
            .collect()
    }

    /// Whether `peer` announces batches and has not refused one as unknown lately.
    fn takes_batches(&self, peer: &Peer) -> bool {
        if !peer.record.features.iter().any(|f| f == batch::FEATURE) {
            return false;
        }
        let mut no_batch = self.no_batch.lock();
        match no_batch.get(&peer.domain) {
            Some(until) if *until > Instant::now() => false,
            Some(_) => {
                no_batch.remove(&peer.domain);
                true
            }
            None => true,
        }
    }

    /// One batch to `peer`: the outcome of each job `jobs` names, in order. A batch the
    /// peer refuses as a whole (400, 404, 405, 413) is delivered one by one instead.
    async fn deliver_batch(
        &self,
        peer: &Peer,
        pending: &[Pending],
        jobs: &[usize],
    ) -> Vec<Outcome> {
        let envelopes: Vec<Bytes> = jobs.iter().map(|&i| pending[i].body()).collect();
        let body = Bytes::from(batch::body(envelopes.iter().map(|e| &e[..])));
        let (status, answer) = match self.post(peer, batch::BATCH_PATH, body).await {
            Ok(answered) => answered,
            Err(retry) => return vec![retry; jobs.len()],
        };
        if matches!(status, 400 | 404 | 405 | 413) {
            if matches!(status, 404 | 405) {
                tracing::info!(domain = %peer.domain, status, "the peer announces batches but refused one; delivering one by one");
                let until = Instant::now() + NO_BATCH_FOR;
                self.no_batch.lock().insert(peer.domain.clone(), until);
            }
            let singles = jobs.iter().map(|&i| self.deliver_one(peer, &pending[i]));
            return futures::future::join_all(singles).await;
        }
        let ok = (200..300).contains(&status);
        match answer.get("results").and_then(Value::as_array) {
            Some(results) if ok && results.len() == jobs.len() => jobs
                .iter()
                .zip(results)
                .map(|(&i, item)| match batch::item_result(item) {
                    Some((status, answer)) => classify(status, answer, &pending[i].job),
                    None => Outcome::Retry {
                        outcome: PushOutcome::HttpError,
                        message: format!(
                            "{} answered a batch with a malformed result",
                            peer.domain
                        ),
                    },
                })
                .collect(),
            _ => {
                let message = if ok {
                    format!(
                        "{} answered a batch without one result per message",
                        peer.domain
                    )
                } else {
                    let (code, message) = error_of(&answer, status);
                    format!("{} answered HTTP {status} {code}: {message}", peer.domain)
                };
                let retry = Outcome::Retry {
                    outcome: PushOutcome::HttpError,
                    message,
                };
                vec![retry; jobs.len()]
            }
        }
    }

    /// One message alone to `{gateway}/v1/messages`.
    async fn deliver_one(&self, peer: &Peer, p: &Pending) -> Outcome {
        match self.post(peer, MESSAGES_PATH, p.body()).await {
            Ok((status, answer)) => classify(status, &answer, &p.job),
            Err(retry) => retry,
        }
    }

    /// Signs and POSTs `body` to `path` at `peer`; the answer's status and JSON body, or
    /// the retry outcome when there is no answer.
    async fn post(&self, peer: &Peer, path: &str, body: Bytes) -> Result<(u16, Value), Outcome> {
        let key = self.federation.keys.active();
        // `@path` is the path the request is sent to, the gateway URL's path included.
        let url = peer.endpoint(path);
        let signed_path =
            url::Url::parse(&url).map_or_else(|_| path.to_owned(), |u| u.path().to_owned());
        let signed = signatures::sign(
            &key,
            self.messaging.domain(),
            &signed_path,
            &body,
            SystemTime::now(),
            SIGNATURE_VALIDITY,
            &new_nonce(),
        )
        .map_err(|e| {
            Outcome::refused("INTERNAL_ERROR", format!("cannot sign the delivery: {e}"))
        })?;
        let mut request = self
            .federation
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("accept", "application/json")
            .header("x-amtp-version", "1.0");
        for (name, value) in signed.pairs() {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| {
            let outcome = if e.is_timeout() {
                PushOutcome::Timeout
            } else {
                PushOutcome::NetworkError
            };
            Outcome::Retry {
                outcome,
                message: format!("{}: {}", peer.gateway, error_chain(&e)),
            }
        })?;
        let status = response.status().as_u16();
        Ok((status, read_answer(response).await))
    }
}

impl worker::Attempt for OutboxWorker {
    type Unit = Unit;
    type Error = StorageFailure;

    /// One unit per domain (in lease order), each of at most a batch's worth of jobs.
    fn group(&self, items: Vec<QueueItem>) -> Vec<(Unit, usize)> {
        let mut units: Vec<(Unit, usize)> = Vec::new();
        let mut open: HashMap<Domain, usize> = HashMap::new();
        for item in items {
            let Some(job) = OutboxJob::decode(&item.payload) else {
                units.push((Unit::Undecodable(item), 1));
                continue;
            };
            if let Some(&k) = open.get(&job.domain)
                && let (Unit::Domain(_, jobs), count) = &mut units[k]
                && jobs.len() < batch::MAX_MESSAGES
            {
                jobs.push((item, job));
                *count += 1;
                continue;
            }
            open.insert(job.domain.clone(), units.len());
            units.push((Unit::Domain(job.domain.clone(), vec![(item, job)]), 1));
        }
        units
    }

    async fn attempt(
        self: Arc<Self>,
        unit: Unit,
        release: CancellationToken,
    ) -> Result<Option<Instant>, StorageFailure> {
        match unit {
            Unit::Undecodable(item) => {
                self.store
                    .dead_letter(OUTBOX_QUEUE, item.id, "undecodable outbox job".into())
                    .await?;
                self.metrics.in_flight_add(-1);
                Ok(None)
            }
            Unit::Domain(domain, jobs) => self.attempt_domain(domain, jobs, &release).await,
        }
    }
}

/// What an answer to one message (alone, or its result in a batch) comes to.
fn classify(status: u16, answer: &Value, job: &OutboxJob) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered(refused_recipients(answer, &job.recipients)),
        400 | 403 | 404 | 409 | 413 | 422 => {
            let (code, message) = error_of(answer, status);
            // A 422 lists each recipient's own reason.
            let per_recipient = refused_recipients(
                answer
                    .get("error")
                    .and_then(|e| e.get("details"))
                    .unwrap_or(&Value::Null),
                &job.recipients,
            );
            if status == 422 && per_recipient.len() == job.recipients.len() {
                Outcome::Delivered(per_recipient)
            } else {
                Outcome::Refused { code, message }
            }
        }
        _ => {
            let (code, message) = error_of(answer, status);
            Outcome::Retry {
                outcome: PushOutcome::HttpError,
                message: format!("{} answered HTTP {status} {code}: {message}", job.domain),
            }
        }
    }
}

/// Every recipient of `job` failed with `code`.
fn all_failed(job: &OutboxJob, code: &str, message: &str) -> Vec<Failed> {
    job.recipients
        .iter()
        .map(|r| Failed {
            address: r.clone(),
            code: code.to_owned(),
            message: message.to_owned(),
        })
        .collect()
}

/// The stored envelope with `recipients` replaced by `recipients`.
fn narrowed(envelope_json: &[u8], recipients: &[Address]) -> Result<Vec<u8>, serde_json::Error> {
    let mut envelope: serde_json::Map<String, Value> = serde_json::from_slice(envelope_json)?;
    envelope.insert("recipients".into(), json!(recipients));
    serde_json::to_vec(&envelope)
}

/// Reads up to [`MAX_ANSWER`] bytes of a peer's answer as JSON (`Null` if it is not).
async fn read_answer(mut response: reqwest::Response) -> Value {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Value::Null;
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}

/// The error code and message of an AMTP error body, or placeholders.
fn error_of(answer: &Value, status: u16) -> (String, String) {
    let error = answer.get("error");
    let text = |k: &str| {
        error
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    (
        text("code").unwrap_or_else(|| format!("HTTP_{status}")),
        text("message").unwrap_or_else(|| format!("the peer answered HTTP {status}")),
    )
}

/// The recipients a peer's answer (`{recipients: [{address, status, error_code?,
/// error_message?}]}`) marks `failed`.
fn refused_recipients(answer: &Value, ours: &[Address]) -> Vec<Failed> {
    let Some(list) = answer.get("recipients").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter(|r| r.get("status").and_then(Value::as_str) == Some("failed"))
        .filter_map(|r| {
            let text = r.get("address")?.as_str()?;
            let address = ours
                .iter()
                .find(|a| a.as_str().eq_ignore_ascii_case(text))?;
            let field = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
            Some(Failed {
                address: address.clone(),
                code: field("error_code").unwrap_or_else(|| "RECIPIENT_REFUSED".into()),
                message: field("error_message")
                    .unwrap_or_else(|| "the receiving gateway refused the recipient".into()),
            })
        })
        .collect()
}

/// The `delivery_failure` report (AMTP §8.2.2) for the sender of `job`: from
/// `postmaster@<domain>`, in reply to the original, with an id derived from the job so
/// that a report sent again after a crash is recognised as a repeat.
pub(crate) fn failure_report(
    domain: &Domain,
    job: &OutboxJob,
    failed: &[Failed],
    attempts: u32,
    now: Timestamp,
) -> Envelope {
    let id = MessageId::derived(&[b"delivery_failure", job.id().as_bytes()]);
    let first = &failed[0];
    let payload = json!({
        "version": "1.0",
        "message_type": "delivery_failure",
        "original_message_id": job.message_id,
        "failed_recipients": failed.iter().map(|f| json!({
            "address": f.address,
            "error_code": f.code,
            "error_message": f.message,
        })).collect::<Vec<_>>(),
        "error_code": first.code,
        "error_message": first.message,
        "retry_count": attempts.saturating_sub(1),
        "final_attempt": now,
    });
    let envelope = json!({
        "version": "1.0",
        "message_id": id,
        "timestamp": now,
        "sender": format!("{POSTMASTER}@{}", domain.as_str()),
        "recipients": [job.sender],
        "subject": format!("Delivery failure: {}", job.message_id),
        "in_reply_to": job.message_id,
        "response_type": "delivery_failure",
        "payload": payload,
    });
    serde_json::from_value(envelope).expect("a failure report is a valid envelope")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> OutboxJob {
        OutboxJob {
            message_id: MessageId::v7(Timestamp(5), [1; 10]),
            domain: Domain::parse("b.test").unwrap(),
            sender: Address::parse("alice@a.test").unwrap(),
            recipients: vec![
                Address::parse("bob@b.test").unwrap(),
                Address::parse("carol@b.test").unwrap(),
            ],
            accepted_at: Timestamp(5),
        }
    }

    #[test]
    fn job_ids_are_per_message_and_domain() {
        let a = job();
        let mut b = job();
        b.recipients.pop();
        assert_eq!(a.id(), b.id(), "same message and domain: one job");
        let mut c = job();
        c.domain = Domain::parse("c.test").unwrap();
        assert_ne!(a.id(), c.id());
        assert_eq!(OutboxJob::decode(&a.encode()), Some(a));
    }

    #[test]
    fn the_envelope_is_narrowed_to_the_domains_recipients() {
        let stored = br#"{"version":"1.0","message_id":"x","sender":"alice@a.test","recipients":["bob@b.test","dan@c.test"],"payload":{"n":1}}"#;
        let out = narrowed(stored, &job().recipients).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["recipients"], json!(["bob@b.test", "carol@b.test"]));
        assert_eq!(v["payload"], json!({"n": 1}));
        assert_eq!(v["sender"], "alice@a.test");
    }

    #[test]
    fn refused_recipients_are_read_from_the_answer() {
        let answer = json!({"recipients": [
            {"address": "bob@b.test", "status": "delivered"},
            {"address": "CAROL@b.test", "status": "failed", "error_code": "AGENT_UNKNOWN", "error_message": "no agent"},
            {"address": "mallory@x.test", "status": "failed"},
        ]});
        let failed = refused_recipients(&answer, &job().recipients);
        assert_eq!(
            failed,
            vec![Failed {
                address: Address::parse("carol@b.test").unwrap(),
                code: "AGENT_UNKNOWN".into(),
                message: "no agent".into(),
            }]
        );
        assert!(refused_recipients(&Value::Null, &job().recipients).is_empty());
        assert_eq!(
            error_of(&json!({"error": {"code": "X", "message": "m"}}), 400),
            ("X".into(), "m".into())
        );
        assert_eq!(error_of(&Value::Null, 503).0, "HTTP_503");
    }

    #[test]
    fn the_failure_report_follows_the_specification() {
        let job = job();
        let failed = vec![Failed {
            address: job.recipients[1].clone(),
            code: "AGENT_UNKNOWN".into(),
            message: "no agent".into(),
        }];
        let domain = Domain::parse("a.test").unwrap();
        let r = failure_report(&domain, &job, &failed, 3, Timestamp(1_700_000_000_000));
        assert_eq!(r.sender.as_str(), "postmaster@a.test");
        assert_eq!(r.recipients, vec![job.sender.clone()]);
        assert_eq!(r.in_reply_to, Some(job.message_id));
        let p = r.payload.unwrap().to_value();
        assert_eq!(p["message_type"], "delivery_failure");
        assert_eq!(p["original_message_id"], json!(job.message_id));
        assert_eq!(p["failed_recipients"][0]["address"], "carol@b.test");
        assert_eq!(p["error_code"], "AGENT_UNKNOWN");
        assert_eq!(p["retry_count"], 2);
        let again = failure_report(&domain, &job, &failed, 9, Timestamp(1));
        assert_eq!(again.message_id, r.message_id, "the report id is stable");
        assert_eq!(r.message_id.version(), 8);
    }
}
