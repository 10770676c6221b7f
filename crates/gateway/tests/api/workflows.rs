//! Coordination workflows across gateways on loopback: parallel, sequential and
//! conditional workflows whose participants are in other domains, answers from
//! participants only, the result to the initiator, and a timeout.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::{agent, network, wait_for};
use crate::support::{Gateway, assert_error, bounded, call};

/// Sends a message with a coordination block; returns the workflow id.
async fn start(g: &Gateway, key: &str, from: &str, to: &[&str], coordination: Value) -> String {
    let (s, r) = g
        .send(
            key,
            json!({"sender": from, "recipients": to, "subject": "task", "payload": {"task": 1}, "coordination": coordination}),
        )
        .await;
    assert!(s.is_success(), "{s}: {r}");
    r["message_id"].as_str().unwrap().to_owned()
}

/// Answers workflow `id` as `from` (at gateway `g`, with `key`).
async fn answer(
    g: &Gateway,
    key: &str,
    from: &str,
    to: &str,
    id: &str,
    kind: &str,
    payload: Value,
) -> (StatusCode, Value) {
    g.send(
        key,
        json!({"sender": from, "recipients": [to], "in_reply_to": id, "response_type": kind, "payload": payload}),
    )
    .await
}

async fn workflow(g: &Gateway, key: &str, id: &str) -> (StatusCode, Value) {
    call(g.agent(key, Method::GET, &format!("/v1/workflows/{id}"))).await
}

/// Polls the workflow until its status is `want` (at most 20 s).
async fn wait_workflow(g: &Gateway, key: &str, id: &str, want: &str) -> Value {
    for _ in 0..400 {
        let (_, w) = workflow(g, key, id).await;
        if w["status"] == want && w["result_sent"] == true {
            return w;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "workflow {id} never became {want}: {}",
        workflow(g, key, id).await.1
    );
}

/// The workflow result in `address`'s inbox at `g`.
async fn result_for(g: &Gateway, key: &str, address: &str, id: &str) -> Value {
    for _ in 0..400 {
        let got = wait_for(g, key, address, 1).await;
        if let Some(m) = got
            .iter()
            .find(|m| m["response_type"] == "workflow_result" && m["in_reply_to"] == id)
        {
            return m.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no result for {id}");
}

/// The message of workflow `id` in `address`'s inbox.
async fn task_for(g: &Gateway, key: &str, address: &str, id: &str) -> Value {
    for _ in 0..400 {
        let got = wait_for(g, key, address, 1).await;
        if let Some(m) = got.iter().find(|m| m["coordination"]["workflow_id"] == id) {
            return m.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{address} never got workflow {id}");
}

#[tokio::test]
async fn a_parallel_workflow_across_domains_completes_with_a_result() {
    bounded(async {
        let gs = network(&["a.test", "b.test", "c.test"]).await;
        let (a, b, c) = (&gs[0], &gs[1], &gs[2]);
        let alice = agent(a, "alice").await;
        let carol = agent(a, "carol").await;
        let mallory = agent(a, "mallory").await;
        let bob = agent(b, "bob").await;
        let dan = agent(c, "dan").await;

        let id = start(
            a,
            &alice,
            "alice@a.test",
            &["bob@b.test", "carol@a.test", "dan@c.test"],
            json!({"type": "parallel", "timeout": 60,
                   "required_responses": ["bob@b.test", "carol@a.test"],
                   "optional_responses": ["dan@c.test"]}),
        )
        .await;
        // Every participant gets the message, marked with the workflow id.
        let m = task_for(b, &bob, "bob@b.test", &id).await;
        assert_eq!(m["message_id"], id.as_str());
        task_for(a, &carol, "carol@a.test", &id).await;
        task_for(c, &dan, "dan@c.test", &id).await;

        // A non-participant's answer changes nothing (it is still a message to alice).
        let (s, _) = answer(
            a,
            &mallory,
            "mallory@a.test",
            "alice@a.test",
            &id,
            "workflow_response",
            json!({"fake": true}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        // Bob answers from b.test; carol locally; carol's second answer is ignored.
        let (s, r) = answer(
            b,
            &bob,
            "bob@b.test",
            "alice@a.test",
            &id,
            "workflow_response",
            json!({"bob": "yes"}),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        answer(
            a,
            &carol,
            "carol@a.test",
            "alice@a.test",
            &id,
            "workflow_response",
            json!({"carol": "yes"}),
        )
        .await;
        answer(
            a,
            &carol,
            "carol@a.test",
            "alice@a.test",
            &id,
            "workflow_error",
            json!({}),
        )
        .await;

        let w = wait_workflow(a, &alice, &id, "completed").await;
        assert_eq!(w["type"], "parallel");
        let by: std::collections::HashMap<&str, &Value> = w["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["address"].as_str().unwrap(), p))
            .collect();
        assert_eq!(by["bob@b.test"]["status"], "completed");
        assert_eq!(by["bob@b.test"]["response"], json!({"bob": "yes"}));
        assert_eq!(by["carol@a.test"]["response"], json!({"carol": "yes"}));
        assert_eq!(by["dan@c.test"]["role"], "optional");
        assert!(!by.contains_key("mallory@a.test"));

        let result = result_for(a, &alice, "alice@a.test", &id).await;
        assert_eq!(result["sender"], "postmaster@a.test");
        assert_eq!(result["payload"]["status"], "completed");
        assert_eq!(result["payload"]["workflow_id"], id.as_str());
        assert_eq!(result["payload"]["results"].as_array().unwrap().len(), 3);

        // Who may look: the initiator and participants, not others.
        assert_eq!(workflow(a, &carol, &id).await.0, StatusCode::OK);
        assert_error(
            &workflow(a, &mallory, &id).await,
            StatusCode::FORBIDDEN,
            "ACCESS_DENIED",
        );
        assert_error(
            &workflow(a, &alice, "nope").await,
            StatusCode::BAD_REQUEST,
            "INVALID_WORKFLOW_ID",
        );
        assert_error(
            &workflow(a, &alice, "01890a5d-ac96-774b-bcce-b302099a8057").await,
            StatusCode::NOT_FOUND,
            "WORKFLOW_NOT_FOUND",
        );
        assert_eq!(
            workflow(a, "bad key", &id).await.0,
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

#[tokio::test]
async fn a_sequential_workflow_passes_the_answers_on() {
    bounded(async {
        let gs = network(&["a.test", "b.test"]).await;
        let (a, b) = (&gs[0], &gs[1]);
        let alice = agent(a, "alice").await;
        let carol = agent(a, "carol").await;
        let bob = agent(b, "bob").await;

        let id = start(
            a,
            &alice,
            "alice@a.test",
            &["bob@b.test", "carol@a.test"],
            json!({"type": "sequential", "timeout": 60, "sequence": ["bob@b.test", "carol@a.test"]}),
        )
        .await;
        task_for(b, &bob, "bob@b.test", &id).await;
        // Carol is not asked before bob has answered.
        let early = crate::federation::inbox(a, &carol, "carol@a.test").await;
        assert_eq!(early["messages"], json!([]), "{early}");
        answer(b, &bob, "bob@b.test", "alice@a.test", &id, "workflow_response", json!({"draft": "v1"})).await;

        let m = task_for(a, &carol, "carol@a.test", &id).await;
        assert_eq!(m["sender"], "alice@a.test");
        assert_ne!(m["message_id"], id.as_str());
        assert_eq!(m["payload"], json!({"task": 1}));
        assert_eq!(m["coordination"]["context"]["responses"]["bob@b.test"]["payload"], json!({"draft": "v1"}));
        answer(a, &carol, "carol@a.test", "alice@a.test", &id, "workflow_response", json!({"review": "ok"})).await;

        let w = wait_workflow(a, &alice, &id, "completed").await;
        assert_eq!(w["participants"][1]["response"], json!({"review": "ok"}));
        let result = result_for(a, &alice, "alice@a.test", &id).await;
        assert_eq!(result["payload"]["coordination_type"], "sequential");
    })
    .await;
}

#[tokio::test]
async fn a_conditional_workflow_follows_the_deciders_answer() {
    bounded(async {
        let gs = network(&["a.test", "b.test", "c.test"]).await;
        let (a, b, c) = (&gs[0], &gs[1], &gs[2]);
        let alice = agent(a, "alice").await;
        let carol = agent(a, "carol").await;
        let bob = agent(b, "bob").await;
        let dan = agent(c, "dan").await;

        let id = start(
            a,
            &alice,
            "alice@a.test",
            &["bob@b.test"],
            json!({"type": "conditional", "timeout": 60, "conditions": [
                {"if": "$.response.approve == true", "then": ["dan@c.test"], "else": ["carol@a.test"]}
            ]}),
        )
        .await;
        task_for(b, &bob, "bob@b.test", &id).await;
        answer(b, &bob, "bob@b.test", "alice@a.test", &id, "workflow_response", json!({"approve": true})).await;
        // The condition held: dan (at c.test) gets the message, carol does not.
        let m = task_for(c, &dan, "dan@c.test", &id).await;
        assert_eq!(m["coordination"]["role"], "branch");
        answer(c, &dan, "dan@c.test", "alice@a.test", &id, "workflow_response", json!({"shipped": true})).await;
        let w = wait_workflow(a, &alice, &id, "completed").await;
        assert_eq!(w["conditions"][0]["held"], true);
        assert_eq!(crate::federation::inbox(a, &carol, "carol@a.test").await["messages"], json!([]));
    })
    .await;
}

#[tokio::test]
async fn an_unanswered_workflow_times_out_and_reports_it() {
    bounded(async {
        let gs = network(&["a.test", "b.test"]).await;
        let (a, b) = (&gs[0], &gs[1]);
        let alice = agent(a, "alice").await;
        agent(b, "bob").await;
        let id = start(
            a,
            &alice,
            "alice@a.test",
            &["bob@b.test"],
            json!({"type": "parallel", "timeout": 1}),
        )
        .await;
        let w = wait_workflow(a, &alice, &id, "timeout").await;
        assert_eq!(w["participants"][0]["status"], "timeout");
        let result = result_for(a, &alice, "alice@a.test", &id).await;
        assert_eq!(result["payload"]["status"], "timeout");
    })
    .await;
}

#[tokio::test]
async fn invalid_coordination_is_refused() {
    bounded(async {
        let gs = network(&["a.test"]).await;
        let a = &gs[0];
        let alice = agent(a, "alice").await;
        agent(a, "bob").await;
        let got = a
            .send(
                &alice,
                json!({"sender": "alice@a.test", "recipients": ["bob@a.test"], "payload": {},
                       "coordination": {"type": "sequential", "timeout": 5, "sequence": ["zed@a.test"]}}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_COORDINATION");
        assert!(got.1["error"]["message"].as_str().unwrap().contains("not in the sequence"), "{}", got.1);
    })
    .await;
}
