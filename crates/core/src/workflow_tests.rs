use super::*;
use proptest::prelude::*;

fn a(s: &str) -> Address {
    Address::parse(&format!("{s}@x.test")).unwrap()
}

fn id() -> MessageId {
    MessageId::v7(Timestamp(1_000), [7; 10])
}

fn start(block: Value, recipients: &[&str]) -> Result<Workflow, WorkflowError> {
    let recipients: Vec<Address> = recipients.iter().map(|r| a(r)).collect();
    let c = Coordination::parse(&block, &recipients)?;
    Ok(Workflow::start(
        id(),
        a("boss"),
        c,
        &recipients,
        Timestamp(1_000),
    ))
}

fn ok(w: &mut Workflow, who: &str, payload: Value) {
    w.respond(&a(who), Answer::Success, Some(payload), Timestamp(2_000))
        .unwrap();
}

fn fail(w: &mut Workflow, who: &str) {
    w.respond(&a(who), Answer::Failure, None, Timestamp(2_000))
        .unwrap();
}

fn status_of(w: &Workflow, who: &str) -> ParticipantStatus {
    w.participants
        .iter()
        .rev()
        .find(|p| p.address == a(who))
        .unwrap()
        .status
}

#[test]
fn parallel_completes_when_every_required_answered() {
    let mut w = start(
        json!({"type": "parallel", "timeout": 60, "required_responses": ["b@x.test", "c@x.test"], "optional_responses": ["d@x.test"]}),
        &["b", "c", "d"],
    )
    .unwrap();
    assert_eq!(w.first_recipients(), vec![a("b"), a("c"), a("d")]);
    assert_eq!(w.pending_effects(), vec![]);
    ok(&mut w, "d", json!(1));
    ok(&mut w, "b", json!(2));
    assert_eq!(w.status, Status::InProgress);
    ok(&mut w, "c", json!(3));
    assert_eq!(w.status, Status::Completed);
    assert_eq!(w.pending_effects(), vec![Effect::Report]);
    w.result_sent();
    assert_eq!(w.pending_effects(), vec![]);
    let r = w.result_payload();
    assert_eq!(r["status"], "completed");
    assert_eq!(r["coordination_type"], "parallel");
    assert_eq!(r["results"][0]["payload"], 2);
    // Late answers are refused.
    assert_eq!(
        w.respond(&a("b"), Answer::Success, None, Timestamp(3_000)),
        Err(WorkflowError::Ended(Status::Completed))
    );
}

#[test]
fn parallel_defaults_and_failures() {
    // No lists: everyone is required.
    let mut w = start(json!({"type": "parallel", "timeout": 60}), &["b", "c"]).unwrap();
    fail(&mut w, "b");
    assert_eq!(
        w.status,
        Status::InProgress,
        "without stop_on_failure it waits"
    );
    ok(&mut w, "c", json!({}));
    assert_eq!(w.status, Status::Failed);

    let mut w = start(
        json!({"type": "parallel", "timeout": 60, "stop_on_failure": true}),
        &["b", "c"],
    )
    .unwrap();
    fail(&mut w, "b");
    assert_eq!(w.status, Status::Failed);
    assert_eq!(status_of(&w, "c"), ParticipantStatus::Pending);

    // Only optional given: the others are required.
    let mut w = start(
        json!({"type": "parallel", "timeout": 60, "optional_responses": ["c@x.test"]}),
        &["b", "c"],
    )
    .unwrap();
    ok(&mut w, "b", json!(null));
    assert_eq!(w.status, Status::Completed);
}

#[test]
fn only_participants_answer_and_only_once() {
    let mut w = start(json!({"type": "parallel", "timeout": 60}), &["b", "c"]).unwrap();
    let e = w
        .respond(&a("mallory"), Answer::Success, None, Timestamp(2_000))
        .unwrap_err();
    assert_eq!(e.code(), "NOT_A_PARTICIPANT");
    ok(&mut w, "b", json!(1));
    let e = w
        .respond(&a("b"), Answer::Success, None, Timestamp(2_000))
        .unwrap_err();
    assert_eq!(
        e,
        WorkflowError::NotAwaited {
            address: a("b").to_string(),
            status: ParticipantStatus::Completed
        }
    );
    assert_eq!(e.code(), "RESPONSE_NOT_AWAITED");
}

#[test]
fn sequential_goes_step_by_step_with_the_answers_so_far() {
    let mut w = start(
        json!({"type": "sequential", "timeout": 60, "sequence": ["c@x.test", "b@x.test", "d@x.test"]}),
        &["b", "c", "d"],
    )
    .unwrap();
    assert_eq!(w.first_recipients(), vec![a("c")]);
    // b is not asked yet.
    assert_eq!(
        w.respond(&a("b"), Answer::Success, None, Timestamp(2_000))
            .unwrap_err()
            .code(),
        "RESPONSE_NOT_AWAITED"
    );
    ok(&mut w, "c", json!({"step": 1}));
    assert_eq!(w.pending_effects(), vec![Effect::Dispatch(vec![a("b")])]);
    assert_eq!(w.context()["response"], json!({"step": 1}));
    // Until the gateway confirms the dispatch, b cannot answer.
    assert!(
        w.respond(&a("b"), Answer::Success, None, Timestamp(2_000))
            .is_err()
    );
    w.dispatched(&[a("b")]);
    assert_eq!(w.pending_effects(), vec![]);
    fail(&mut w, "b");
    assert_eq!(w.pending_effects(), vec![Effect::Dispatch(vec![a("d")])]);
    w.dispatched(&[a("d")]);
    ok(&mut w, "d", json!(3));
    assert_eq!(w.status, Status::Failed, "one step failed");
    assert_eq!(w.pending_effects(), vec![Effect::Report]);
}

#[test]
fn sequential_stops_on_failure_when_asked() {
    let mut w = start(
        json!({"type": "sequential", "timeout": 60, "stop_on_failure": true, "sequence": ["b@x.test", "c@x.test"]}),
        &["b", "c"],
    )
    .unwrap();
    fail(&mut w, "b");
    assert_eq!(w.status, Status::Failed);
    assert_eq!(status_of(&w, "c"), ParticipantStatus::Skipped);
    assert_eq!(w.pending_effects(), vec![Effect::Report]);
}

#[test]
fn conditional_chooses_branches_from_the_answers() {
    let block = json!({"type": "conditional", "timeout": 60, "conditions": [
        {"if": "$.response.approve == true", "then": ["ship@x.test"], "else": ["refund@x.test"]},
        {"if": "$.response.approve == true", "then": ["ship@x.test", "bill@x.test"]},
    ]});
    let mut w = start(block.clone(), &["mgr"]).unwrap();
    ok(&mut w, "mgr", json!({"approve": true}));
    assert_eq!(
        w.pending_effects(),
        vec![Effect::Dispatch(vec![a("ship"), a("bill")])],
        "each address once"
    );
    assert_eq!(w.conditions[0].held, Some(true));
    w.dispatched(&[a("ship"), a("bill")]);
    ok(&mut w, "ship", json!("sent"));
    assert_eq!(w.status, Status::InProgress);
    ok(&mut w, "bill", json!("billed"));
    assert_eq!(w.status, Status::Completed);

    let mut w = start(block, &["mgr"]).unwrap();
    ok(&mut w, "mgr", json!({"approve": false}));
    assert_eq!(
        w.pending_effects(),
        vec![Effect::Dispatch(vec![a("refund")])]
    );
    assert_eq!(w.conditions[1].held, Some(false));
}

#[test]
fn conditional_without_chosen_participants_completes_at_once() {
    let mut w = start(
        json!({"type": "conditional", "timeout": 60, "conditions": [{"if": "$.response.approve == true", "then": ["x@x.test"]}]}),
        &["mgr"],
    )
    .unwrap();
    ok(&mut w, "mgr", json!({"approve": false}));
    assert_eq!(w.status, Status::Completed);
}

#[test]
fn timeouts_end_what_is_waiting() {
    let mut w = start(
        json!({"type": "sequential", "timeout": 5, "sequence": ["b@x.test", "c@x.test"]}),
        &["b", "c"],
    )
    .unwrap();
    assert_eq!(w.deadline, Timestamp(6_000));
    assert!(!w.expire(Timestamp(5_999)));
    assert!(w.expire(Timestamp(6_000)));
    assert_eq!(w.status, Status::Timeout);
    assert_eq!(status_of(&w, "b"), ParticipantStatus::Timeout);
    assert_eq!(status_of(&w, "c"), ParticipantStatus::Skipped);
    assert!(!w.expire(Timestamp(9_000)), "only once");
    assert_eq!(w.pending_effects(), vec![Effect::Report]);
}

#[test]
fn coordination_blocks_are_checked() {
    let cases: &[(Value, &[&str], &str)] = &[
        (json!([]), &["b"], "must be an object"),
        (json!({"timeout": 5}), &["b"], "type is required"),
        (
            json!({"type": "star", "timeout": 5}),
            &["b"],
            "not parallel",
        ),
        (json!({"type": "parallel"}), &["b"], "timeout is required"),
        (
            json!({"type": "parallel", "timeout": 0}),
            &["b"],
            "timeout must be",
        ),
        (
            json!({"type": "parallel", "timeout": 1.5}),
            &["b"],
            "timeout must be",
        ),
        (
            json!({"type": "parallel", "timeout": 604_801}),
            &["b"],
            "timeout must be",
        ),
        (
            json!({"type": "parallel", "timeout": 5, "stop_on_failure": "yes"}),
            &["b"],
            "stop_on_failure",
        ),
        (
            json!({"type": "parallel", "timeout": 5, "required_responses": ["z@x.test"]}),
            &["b"],
            "not a recipient",
        ),
        (
            json!({"type": "parallel", "timeout": 5, "required_responses": ["nope"]}),
            &["b"],
            "not an address",
        ),
        (
            json!({"type": "parallel", "timeout": 5, "required_responses": ["b@x.test", "b@x.test"]}),
            &["b"],
            "twice",
        ),
        (
            json!({"type": "parallel", "timeout": 5, "required_responses": ["b@x.test"], "optional_responses": ["b@x.test"]}),
            &["b"],
            "both required and optional",
        ),
        (
            json!({"type": "parallel", "timeout": 5, "optional_responses": ["b@x.test"]}),
            &["b"],
            "at least one required",
        ),
        (
            json!({"type": "parallel", "timeout": 5, "sequence": ["b@x.test"]}),
            &["b"],
            "no sequence",
        ),
        (
            json!({"type": "sequential", "timeout": 5}),
            &["b"],
            "needs a sequence",
        ),
        (
            json!({"type": "sequential", "timeout": 5, "sequence": ["b@x.test"]}),
            &["b", "c"],
            "not in the sequence",
        ),
        (
            json!({"type": "sequential", "timeout": 5, "sequence": ["b@x.test", "c@x.test"]}),
            &["b"],
            "not a recipient",
        ),
        (
            json!({"type": "conditional", "timeout": 5}),
            &["b"],
            "needs conditions",
        ),
        (
            json!({"type": "conditional", "timeout": 5, "conditions": [{"then": ["c@x.test"]}]}),
            &["b"],
            "if must be",
        ),
        (
            json!({"type": "conditional", "timeout": 5, "conditions": [{"if": "", "then": ["c@x.test"]}]}),
            &["b"],
            "conditions[0].if",
        ),
        (
            json!({"type": "conditional", "timeout": 5, "conditions": [{"if": "$.a", "then": []}]}),
            &["b"],
            "must name someone",
        ),
        (
            json!({"type": "conditional", "timeout": 5, "conditions": 3}),
            &["b"],
            "must be an array",
        ),
    ];
    for (block, recipients, says) in cases {
        let e = start(block.clone(), recipients).unwrap_err();
        assert_eq!(e.code(), "INVALID_COORDINATION");
        assert!(e.to_string().contains(says), "{block}: {e}");
    }
}

#[test]
fn derived_ids_are_stable_distinct_and_version_8() {
    let w = start(json!({"type": "parallel", "timeout": 60}), &["b", "c"]).unwrap();
    assert_eq!(w.dispatch_id(&a("b")), w.dispatch_id(&a("b")));
    assert_ne!(w.dispatch_id(&a("b")), w.dispatch_id(&a("c")));
    assert_ne!(w.dispatch_id(&a("b")), w.result_id());
    assert_eq!(w.result_id().version(), 8);
}

#[test]
fn the_state_round_trips_through_json() {
    let mut w = start(
        json!({"type": "conditional", "timeout": 60, "conditions": [{"if": "$.response.approve == true", "then": ["s@x.test"]}]}),
        &["mgr"],
    )
    .unwrap();
    ok(&mut w, "mgr", json!({"approve": true}));
    let text = serde_json::to_string(&w).unwrap();
    let back: Workflow = serde_json::from_str(&text).unwrap();
    assert_eq!(back, w);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["participants"][1]["role"], "branch");
    assert_eq!(v["participants"][1]["index"], 0);
    assert_eq!(v["conditions"][0]["if"], "$.response.approve == true");
}

/// One event of a random run.
#[derive(Clone, Debug)]
enum Event {
    Answer(usize, bool),
    Dispatch,
    Tick(u64),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (0usize..6, any::<bool>()).prop_map(|(i, ok)| Event::Answer(i, ok)),
        2 => Just(Event::Dispatch),
        1 => (0u64..20_000).prop_map(Event::Tick),
    ]
}

fn block() -> impl Strategy<Value = (Value, Vec<&'static str>)> {
    let names = ["p0", "p1", "p2", "p3"];
    prop_oneof![
        (any::<bool>(), 1usize..4).prop_map(move |(stop, n)| (
            json!({"type": "parallel", "timeout": 10, "stop_on_failure": stop}),
            names[..n].to_vec()
        )),
        (any::<bool>(), 1usize..4).prop_map(move |(stop, n)| (
            json!({"type": "sequential", "timeout": 10, "stop_on_failure": stop,
                   "sequence": names[..n].iter().map(|x| format!("{x}@x.test")).collect::<Vec<_>>()}),
            names[..n].to_vec()
        )),
        (any::<bool>(), 1usize..3).prop_map(move |(stop, n)| (
            json!({"type": "conditional", "timeout": 10, "stop_on_failure": stop, "conditions": [
                {"if": "$.response.approve == true", "then": ["p4@x.test", "p5@x.test"], "else": ["p5@x.test"]}
            ]}),
            names[..n].to_vec()
        )),
    ]
}

proptest! {
    /// Whatever happens, in any order: the workflow ends at most once and never
    /// resumes; answers are only taken from those awaited; a participant never goes
    /// back; a sequential workflow awaits at most one step at a time; the result is
    /// asked for exactly when the workflow has ended.
    #[test]
    fn invariants_hold_for_any_run(
        (block, recipients) in block(),
        events in proptest::collection::vec(event(), 0..40),
    ) {
        let mut w = start(block, &recipients).unwrap();
        let mut ended: Option<Status> = None;
        let mut now = 1_000u64;
        let rank = |s: ParticipantStatus| match s {
            ParticipantStatus::Waiting => 0,
            ParticipantStatus::Due => 1,
            ParticipantStatus::Pending => 2,
            _ => 3,
        };
        for e in events {
            let before: Vec<(Address, ParticipantStatus)> =
                w.participants.iter().map(|p| (p.address.clone(), p.status)).collect();
            match e {
                Event::Answer(i, success) => {
                    let who = a(&format!("p{i}"));
                    let awaited = w.participants.iter().any(|p| p.address == who && p.status == ParticipantStatus::Pending);
                    let answer = if success { Answer::Success } else { Answer::Failure };
                    let was_final = w.status.is_final();
                    let r = w.respond(&who, answer, Some(json!({"approve": success})), Timestamp(now));
                    prop_assert_eq!(r.is_ok(), awaited && !was_final, "{:?}", r);
                }
                Event::Dispatch => {
                    let due: Vec<Address> = w.pending_effects().into_iter().filter_map(|e| match e {
                        Effect::Dispatch(d) => Some(d),
                        Effect::Report => None,
                    }).flatten().collect();
                    w.dispatched(&due);
                }
                Event::Tick(dt) => {
                    now += dt;
                    w.expire(Timestamp(now));
                }
            }
            // Participants only move forward (new branch participants may appear).
            for (addr, old) in before {
                let new = w.participants.iter().find(|p| p.address == addr).unwrap().status;
                prop_assert!(rank(new) >= rank(old) || new == ParticipantStatus::Skipped || new == ParticipantStatus::Timeout,
                    "{addr}: {old:?} -> {new:?}");
            }
            if let Some(s) = ended {
                prop_assert_eq!(w.status, s, "an ended workflow never changes");
            } else if w.status.is_final() {
                ended = Some(w.status);
                prop_assert!(w.participants.iter().all(|p| !matches!(p.status, ParticipantStatus::Waiting | ParticipantStatus::Due)));
            }
            if w.kind == Kind::Sequential {
                let active = w.participants.iter().filter(|p| matches!(p.status, ParticipantStatus::Due | ParticipantStatus::Pending)).count();
                prop_assert!(active <= 1);
            }
            prop_assert_eq!(w.pending_effects().contains(&Effect::Report), w.status.is_final());
        }
    }
}
