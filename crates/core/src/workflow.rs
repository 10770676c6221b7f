//! Coordination workflows (AMTP §7): the state machine, with no I/O.
//!
//! A message whose envelope carries a `coordination` block starts a workflow whose id is
//! the message's own id. Participants answer with a message whose `in_reply_to` is that
//! id and whose `response_type` is `workflow_response` (success) or `workflow_error`
//! (failure). The gateway feeds those answers ([`Workflow::respond`]) and the passing of
//! time ([`Workflow::expire`]) into the state machine and carries out what it asks for
//! ([`Workflow::pending_effects`]): dispatching the message to participants that are due,
//! and reporting the outcome to the initiator once.
//!
//! | type | who gets the coordinating message | done when |
//! |---|---|---|
//! | `parallel` | every recipient at once | every required participant answered (completed if all succeeded, failed otherwise, at once on the first failure with `stop_on_failure`) |
//! | `sequential` | the first of `sequence`; each next one when the previous answered, with the answers so far | every step answered (failed at once on a failure with `stop_on_failure`) |
//! | `conditional` | every recipient (the deciders); when all have answered, each condition is evaluated on their answers and its `then` (or `else`) participants get the message | every dispatched branch participant answered |
//!
//! `required_responses` and `optional_responses` (parallel) must be recipients; when
//! neither is given every recipient is required, when only `optional_responses` is given
//! the other recipients are required. A workflow that is not done by `timeout` seconds
//! after it started ends `timeout`, and participants still waiting are marked so.
//!
//! Effects are recomputed from the state, so a gateway that crashed between changing
//! the state and carrying out an effect carries it out again on the next pass; the
//! gateway makes them idempotent by deriving message ids from the workflow
//! ([`Workflow::dispatch_id`], [`Workflow::result_id`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::condition::Condition;
use crate::{Address, MessageId, Timestamp};

/// Longest workflow timeout accepted, in seconds (7 days).
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// Most participants of one workflow.
pub const MAX_PARTICIPANTS: usize = 256;
/// Most conditions of a conditional workflow.
pub const MAX_CONDITIONS: usize = 64;
/// `response_type` of a successful answer.
pub const RESPONSE: &str = "workflow_response";
/// `response_type` of a failed answer.
pub const ERROR: &str = "workflow_error";
/// `response_type` of the result the initiator receives.
pub const RESULT: &str = "workflow_result";

/// The kind of coordination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Everyone at once.
    Parallel,
    /// One after another.
    Sequential,
    /// Branches chosen by conditions on the answers.
    Conditional,
}

/// A workflow's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for answers.
    InProgress,
    /// Done, every needed answer a success.
    Completed,
    /// Done, a needed answer was a failure.
    Failed,
    /// Not done in time.
    Timeout,
}

impl Status {
    /// Whether the workflow has ended.
    pub fn is_final(self) -> bool {
        self != Status::InProgress
    }
}

/// A participant's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantStatus {
    /// Not yet sent the message (a later step, a branch not yet chosen).
    Waiting,
    /// To be sent the message now.
    Due,
    /// Sent the message; its answer is awaited.
    Pending,
    /// Answered with success.
    Completed,
    /// Answered with failure.
    Failed,
    /// Did not answer in time.
    Timeout,
    /// Never asked (the workflow ended first).
    Skipped,
}

impl ParticipantStatus {
    /// Whether the participant has answered.
    pub fn answered(self) -> bool {
        matches!(
            self,
            ParticipantStatus::Completed | ParticipantStatus::Failed
        )
    }
}

/// What a participant is in its workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "index")]
pub enum Role {
    /// Parallel: its answer is needed.
    Required,
    /// Parallel: its answer is recorded if it comes in time.
    Optional,
    /// Sequential: the step at this index.
    Step(usize),
    /// Conditional: its answer feeds the conditions.
    Decider,
    /// Conditional: chosen by the condition at this index.
    Branch(usize),
}

/// One participant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    /// Its address.
    pub address: Address,
    /// Its role.
    #[serde(flatten)]
    pub role: Role,
    /// Where it is.
    pub status: ParticipantStatus,
    /// Its answer's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// When it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responded_at: Option<Timestamp>,
}

/// One condition of a conditional workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    /// The expression, as written (see [`crate::condition`]).
    #[serde(rename = "if")]
    pub condition: String,
    /// Who gets the message when it holds.
    pub then: Vec<Address>,
    /// Who gets it otherwise.
    #[serde(rename = "else", default)]
    pub otherwise: Vec<Address>,
    /// Whether it held, once evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<bool>,
}

/// A coordination block, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Coordination {
    /// The kind.
    pub kind: Kind,
    /// Seconds until the workflow times out.
    pub timeout_secs: u64,
    /// Parallel: answers needed.
    pub required: Vec<Address>,
    /// Parallel: answers welcome.
    pub optional: Vec<Address>,
    /// Sequential: the order.
    pub sequence: Vec<Address>,
    /// End at the first failure.
    pub stop_on_failure: bool,
    /// Conditional: the branches.
    pub branches: Vec<Branch>,
}

/// Why a coordination block or an answer is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The coordination block is malformed; the text says how.
    #[error("coordination: {0}")]
    Invalid(String),
    /// The answer is from an address that is not a participant.
    #[error("{0} is not a participant of this workflow")]
    NotParticipant(String),
    /// The participant was not asked (yet), or has answered already.
    #[error("{address} is not awaited in this workflow (it is {status:?})")]
    NotAwaited {
        /// The participant.
        address: String,
        /// Where it is.
        status: ParticipantStatus,
    },
    /// The workflow has ended.
    #[error("the workflow has ended ({0:?})")]
    Ended(Status),
}

impl WorkflowError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            WorkflowError::Invalid(_) => "INVALID_COORDINATION",
            WorkflowError::NotParticipant(_) => "NOT_A_PARTICIPANT",
            WorkflowError::NotAwaited { .. } => "RESPONSE_NOT_AWAITED",
            WorkflowError::Ended(_) => "WORKFLOW_ENDED",
        }
    }
}

fn invalid(text: impl Into<String>) -> WorkflowError {
    WorkflowError::Invalid(text.into())
}

impl Coordination {
    /// Reads and checks a `coordination` block against the message's recipients.
    pub fn parse(block: &Value, recipients: &[Address]) -> Result<Coordination, WorkflowError> {
        let obj = block
            .as_object()
            .ok_or_else(|| invalid("must be an object"))?;
        let kind = match obj.get("type").and_then(Value::as_str) {
            Some("parallel") => Kind::Parallel,
            Some("sequential") => Kind::Sequential,
            Some("conditional") => Kind::Conditional,
            Some(other) => {
                return Err(invalid(format!(
                    "type {other:?} is not parallel, sequential or conditional"
                )));
            }
            None => return Err(invalid("type is required")),
        };
        let timeout_secs = match obj.get("timeout") {
            Some(v) => v
                .as_u64()
                .filter(|t| (1..=MAX_TIMEOUT_SECS).contains(t))
                .ok_or_else(|| {
                    invalid(format!(
                        "timeout must be a whole number of seconds from 1 to {MAX_TIMEOUT_SECS}"
                    ))
                })?,
            None => return Err(invalid("timeout is required")),
        };
        let stop_on_failure = match obj.get("stop_on_failure") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("stop_on_failure must be true or false")),
        };
        let required = addresses(obj, "required_responses")?;
        let optional = addresses(obj, "optional_responses")?;
        let sequence = addresses(obj, "sequence")?;
        let branches = match obj.get("conditions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, c)| branch(i, c))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("conditions must be an array")),
        };
        let c = Coordination {
            kind,
            timeout_secs,
            required,
            optional,
            sequence,
            stop_on_failure,
            branches,
        };
        c.check(recipients)?;
        Ok(c)
    }

    fn check(&self, recipients: &[Address]) -> Result<(), WorkflowError> {
        let is_recipient = |a: &Address| recipients.contains(a);
        match self.kind {
            Kind::Parallel => {
                if !self.sequence.is_empty() || !self.branches.is_empty() {
                    return Err(invalid("a parallel workflow has no sequence or conditions"));
                }
                for a in self.required.iter().chain(&self.optional) {
                    if !is_recipient(a) {
                        return Err(invalid(format!(
                            "{a} is listed for a response but is not a recipient"
                        )));
                    }
                }
                if let Some(a) = self.required.iter().find(|a| self.optional.contains(a)) {
                    return Err(invalid(format!("{a} is both required and optional")));
                }
                if recipients.iter().all(|a| self.optional.contains(a)) {
                    return Err(invalid(
                        "a parallel workflow needs at least one required participant",
                    ));
                }
            }
            Kind::Sequential => {
                if self.sequence.is_empty() {
                    return Err(invalid("a sequential workflow needs a sequence"));
                }
                if !self.required.is_empty()
                    || !self.optional.is_empty()
                    || !self.branches.is_empty()
                {
                    return Err(invalid(
                        "a sequential workflow has no required/optional responses or conditions",
                    ));
                }
                if let Some(a) = recipients.iter().find(|a| !self.sequence.contains(a)) {
                    return Err(invalid(format!("recipient {a} is not in the sequence")));
                }
                if let Some(a) = self.sequence.iter().find(|a| !is_recipient(a)) {
                    return Err(invalid(format!(
                        "{a} is in the sequence but not a recipient"
                    )));
                }
            }
            Kind::Conditional => {
                if self.branches.is_empty() {
                    return Err(invalid("a conditional workflow needs conditions"));
                }
                if self.branches.len() > MAX_CONDITIONS {
                    return Err(invalid(format!("at most {MAX_CONDITIONS} conditions")));
                }
                if !self.required.is_empty()
                    || !self.optional.is_empty()
                    || !self.sequence.is_empty()
                {
                    return Err(invalid(
                        "a conditional workflow has no required/optional responses or sequence",
                    ));
                }
            }
        }
        let total = recipients.len()
            + self
                .branches
                .iter()
                .map(|b| b.then.len() + b.otherwise.len())
                .sum::<usize>();
        if total > MAX_PARTICIPANTS {
            return Err(invalid(format!("at most {MAX_PARTICIPANTS} participants")));
        }
        Ok(())
    }
}

/// A list of distinct addresses under `key` (absent: empty).
fn addresses(obj: &Map<String, Value>, key: &str) -> Result<Vec<Address>, WorkflowError> {
    let Some(v) = obj.get(key).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| invalid(format!("{key} must be an array of addresses")))?;
    if items.len() > MAX_PARTICIPANTS {
        return Err(invalid(format!("{key} lists more than {MAX_PARTICIPANTS}")));
    }
    let mut out: Vec<Address> = Vec::with_capacity(items.len());
    for item in items {
        let text = item
            .as_str()
            .ok_or_else(|| invalid(format!("{key} must be an array of addresses")))?;
        let a = Address::parse(text)
            .map_err(|e| invalid(format!("{key}: {text:?} is not an address: {e}")))?;
        if out.contains(&a) {
            return Err(invalid(format!("{key} lists {a} twice")));
        }
        out.push(a);
    }
    Ok(out)
}

fn branch(i: usize, c: &Value) -> Result<Branch, WorkflowError> {
    let obj = c
        .as_object()
        .ok_or_else(|| invalid(format!("conditions[{i}] must be an object")))?;
    let text = obj
        .get("if")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("conditions[{i}].if must be an expression")))?;
    Condition::parse(text).map_err(|e| invalid(format!("conditions[{i}].if: {e}")))?;
    let then = addresses(obj, "then").map_err(|e| invalid(format!("conditions[{i}].{e}")))?;
    if then.is_empty() {
        return Err(invalid(format!("conditions[{i}].then must name someone")));
    }
    let otherwise = addresses(obj, "else").map_err(|e| invalid(format!("conditions[{i}].{e}")))?;
    Ok(Branch {
        condition: text.to_owned(),
        then,
        otherwise,
        held: None,
    })
}

/// What the gateway must do for a workflow.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send the workflow's message to these participants (who are `Due`), then call
    /// [`Workflow::dispatched`].
    Dispatch(Vec<Address>),
    /// Send the initiator the result ([`Workflow::result_payload`]), then call
    /// [`Workflow::result_sent`].
    Report,
}

/// An answer's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `workflow_response`.
    Success,
    /// `workflow_error`.
    Failure,
}

impl Answer {
    /// The answer kind of a `response_type`, if it is a workflow answer.
    pub fn of(response_type: Option<&str>) -> Option<Answer> {
        match response_type {
            Some(RESPONSE) => Some(Answer::Success),
            Some(ERROR) => Some(Answer::Failure),
            _ => None,
        }
    }
}

/// A workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// The id: the coordinating message's id.
    pub workflow_id: MessageId,
    /// Who started it (the coordinating message's sender).
    pub initiator: Address,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Where it is.
    pub status: Status,
    /// When it started.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it times out.
    pub deadline: Timestamp,
    /// End at the first failure.
    pub stop_on_failure: bool,
    /// Participants, in order.
    pub participants: Vec<Participant>,
    /// Conditional: the branches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Branch>,
    /// Whether the initiator has been sent the result.
    #[serde(default)]
    pub result_sent: bool,
}

impl Workflow {
    /// Starts a workflow for a message `id` from `initiator` to `recipients` at `now`.
    /// Those who receive the coordinating message itself start `Pending`; for a
    /// sequential workflow that is the first step only (the gateway delivers the
    /// coordinating message to [`Workflow::first_recipients`]).
    pub fn start(
        id: MessageId,
        initiator: Address,
        coordination: Coordination,
        recipients: &[Address],
        now: Timestamp,
    ) -> Workflow {
        let c = coordination;
        let participant = |address: &Address, role, status| Participant {
            address: address.clone(),
            role,
            status,
            response: None,
            responded_at: None,
        };
        let participants = match c.kind {
            Kind::Parallel => {
                let required_all = c.required.is_empty();
                recipients
                    .iter()
                    .map(|a| {
                        let role = if c.optional.contains(a) {
                            Role::Optional
                        } else if required_all || c.required.contains(a) {
                            Role::Required
                        } else {
                            Role::Optional
                        };
                        participant(a, role, ParticipantStatus::Pending)
                    })
                    .collect()
            }
            Kind::Sequential => c
                .sequence
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let status = if i == 0 {
                        ParticipantStatus::Pending
                    } else {
                        ParticipantStatus::Waiting
                    };
                    participant(a, Role::Step(i), status)
                })
                .collect(),
            Kind::Conditional => recipients
                .iter()
                .map(|a| participant(a, Role::Decider, ParticipantStatus::Pending))
                .collect(),
        };
        Workflow {
            workflow_id: id,
            initiator,
            kind: c.kind,
            status: Status::InProgress,
            created_at: now,
            updated_at: now,
            deadline: now.plus_millis(c.timeout_secs * 1000),
            stop_on_failure: c.stop_on_failure,
            participants,
            conditions: c.branches,
            result_sent: false,
        }
    }

    /// Who receives the coordinating message itself.
    pub fn first_recipients(&self) -> Vec<Address> {
        self.participants
            .iter()
            .filter(|p| p.status == ParticipantStatus::Pending)
            .map(|p| p.address.clone())
            .collect()
    }

    /// Records `from`'s answer at `now` and moves the workflow on.
    pub fn respond(
        &mut self,
        from: &Address,
        answer: Answer,
        payload: Option<Value>,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        if self.status.is_final() {
            return Err(WorkflowError::Ended(self.status));
        }
        let awaited = self
            .participants
            .iter_mut()
            .find(|p| &p.address == from && p.status == ParticipantStatus::Pending);
        match awaited {
            Some(p) => {
                p.status = match answer {
                    Answer::Success => ParticipantStatus::Completed,
                    Answer::Failure => ParticipantStatus::Failed,
                };
                p.response = payload;
                p.responded_at = Some(now);
            }
            None => {
                return Err(
                    match self.participants.iter().find(|p| &p.address == from) {
                        Some(p) => WorkflowError::NotAwaited {
                            address: from.to_string(),
                            status: p.status,
                        },
                        None => WorkflowError::NotParticipant(from.to_string()),
                    },
                );
            }
        }
        self.updated_at = now;
        self.advance(answer);
        Ok(())
    }

    /// Ends the workflow if `now` is past its deadline.
    pub fn expire(&mut self, now: Timestamp) -> bool {
        if self.status.is_final() || now < self.deadline {
            return false;
        }
        for p in &mut self.participants {
            p.status = match p.status {
                ParticipantStatus::Pending | ParticipantStatus::Due => ParticipantStatus::Timeout,
                ParticipantStatus::Waiting => ParticipantStatus::Skipped,
                other => other,
            };
        }
        self.status = Status::Timeout;
        self.updated_at = now;
        true
    }

    /// What the gateway must do now.
    pub fn pending_effects(&self) -> Vec<Effect> {
        let mut effects = Vec::new();
        let due: Vec<Address> = self
            .participants
            .iter()
            .filter(|p| p.status == ParticipantStatus::Due)
            .map(|p| p.address.clone())
            .collect();
        if !due.is_empty() {
            effects.push(Effect::Dispatch(due));
        }
        if self.status.is_final() && !self.result_sent {
            effects.push(Effect::Report);
        }
        effects
    }

    /// Marks `sent` (who were `Due`) as sent the message.
    pub fn dispatched(&mut self, sent: &[Address]) {
        for p in &mut self.participants {
            if p.status == ParticipantStatus::Due && sent.contains(&p.address) {
                p.status = ParticipantStatus::Pending;
            }
        }
    }

    /// Marks the result as sent.
    pub fn result_sent(&mut self) {
        self.result_sent = true;
    }

    /// The answers so far, as the context of conditions and of later sequential steps:
    /// `{"responses": {address: {"status", "payload"}}, "response": <latest payload>}`.
    pub fn context(&self) -> Value {
        let mut responses = Map::new();
        let mut latest: Option<&Participant> = None;
        for p in self.participants.iter().filter(|p| p.status.answered()) {
            responses.insert(
                p.address.to_string(),
                json!({
                    "status": p.status,
                    "payload": p.response.clone().unwrap_or(Value::Null),
                }),
            );
            if latest.is_none_or(|l| p.responded_at >= l.responded_at) {
                latest = Some(p);
            }
        }
        json!({
            "responses": responses,
            "response": latest.and_then(|p| p.response.clone()).unwrap_or(Value::Null),
        })
    }

    /// The payload of the result message to the initiator.
    pub fn result_payload(&self) -> Value {
        json!({
            "workflow_id": self.workflow_id,
            "coordination_type": self.kind,
            "status": self.status,
            "results": self.participants.iter().map(|p| {
                let mut r = json!({"address": p.address, "status": p.status});
                if let Some(payload) = &p.response {
                    r["payload"] = payload.clone();
                }
                r
            }).collect::<Vec<_>>(),
        })
    }

    /// The id of the message that brings the workflow to `to`: derived from the
    /// workflow and the participant, so that sending it again is a repeat.
    pub fn dispatch_id(&self, to: &Address) -> MessageId {
        MessageId::derived(&[
            self.workflow_id.as_bytes(),
            b"dispatch",
            to.as_str().as_bytes(),
        ])
    }

    /// The id of the result message.
    pub fn result_id(&self) -> MessageId {
        MessageId::derived(&[self.workflow_id.as_bytes(), b"result"])
    }

    /// Moves the workflow on after an answer of kind `last`.
    fn advance(&mut self, last: Answer) {
        match self.kind {
            Kind::Parallel => {
                let required = || {
                    self.participants
                        .iter()
                        .filter(|p| p.role == Role::Required)
                };
                if self.stop_on_failure
                    && last == Answer::Failure
                    && required().any(|p| p.status == ParticipantStatus::Failed)
                {
                    self.finish(Status::Failed);
                } else if required().all(|p| p.status.answered()) {
                    let failed = required().any(|p| p.status == ParticipantStatus::Failed);
                    self.finish(if failed {
                        Status::Failed
                    } else {
                        Status::Completed
                    });
                }
            }
            Kind::Sequential => {
                if self.stop_on_failure && last == Answer::Failure {
                    self.finish(Status::Failed);
                    return;
                }
                match self
                    .participants
                    .iter_mut()
                    .find(|p| p.status == ParticipantStatus::Waiting)
                {
                    Some(next) => next.status = ParticipantStatus::Due,
                    None => self.finish_by_answers(),
                }
            }
            Kind::Conditional => {
                let deciders_done = self
                    .participants
                    .iter()
                    .filter(|p| p.role == Role::Decider)
                    .all(|p| p.status.answered());
                if !deciders_done {
                    return;
                }
                if self.stop_on_failure && self.any_failed() {
                    self.finish(Status::Failed);
                    return;
                }
                if self.conditions.iter().all(|b| b.held.is_none()) {
                    self.choose_branches();
                }
                let branches_done = self
                    .participants
                    .iter()
                    .filter(|p| matches!(p.role, Role::Branch(_)))
                    .all(|p| p.status.answered());
                if branches_done {
                    self.finish_by_answers();
                }
            }
        }
    }

    /// Evaluates every condition on the deciders' answers and makes the chosen
    /// participants due (each address once, under the first condition that chose it).
    fn choose_branches(&mut self) {
        let context = self.context();
        let mut chosen: BTreeMap<Address, usize> = BTreeMap::new();
        let mut order = Vec::new();
        for (i, b) in self.conditions.iter_mut().enumerate() {
            // Checked at start; an expression that no longer parses counts as false.
            let held = Condition::parse(&b.condition).is_ok_and(|c| c.evaluate(&context));
            b.held = Some(held);
            let targets = if held { &b.then } else { &b.otherwise };
            for a in targets {
                if !chosen.contains_key(a) {
                    chosen.insert(a.clone(), i);
                    order.push(a.clone());
                }
            }
        }
        for a in order {
            self.participants.push(Participant {
                role: Role::Branch(chosen[&a]),
                address: a,
                status: ParticipantStatus::Due,
                response: None,
                responded_at: None,
            });
        }
    }

    fn any_failed(&self) -> bool {
        self.participants
            .iter()
            .any(|p| p.status == ParticipantStatus::Failed)
    }

    fn finish_by_answers(&mut self) {
        let status = if self.any_failed() {
            Status::Failed
        } else {
            Status::Completed
        };
        self.finish(status);
    }

    fn finish(&mut self, status: Status) {
        self.status = status;
        for p in &mut self.participants {
            if matches!(
                p.status,
                ParticipantStatus::Waiting | ParticipantStatus::Due
            ) {
                p.status = ParticipantStatus::Skipped;
            }
        }
    }
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod tests;
