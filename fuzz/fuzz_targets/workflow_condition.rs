//! Parses arbitrary text as a workflow condition; a parsed condition must print to
//! canonical text that parses back to the same condition (and prints the same again),
//! and evaluating it against a few fixed contexts must not panic.
#![no_main]

use std::sync::LazyLock;

use agentgate_core::condition::Condition;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

static CONTEXTS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![
        Value::Null,
        json!({
            "responses": {
                "approver@b.test": {
                    "status": "completed",
                    "payload": {"approve": true, "amount": 120}
                }
            },
            "response": {"approve": true, "amount": 120}
        }),
        json!({
            "a": [0, -1, 1.5, 18446744073709551615u64, "x", "", null, true, [], {}],
            "b": {"a": {"b": [{"a": 1}]}, "": "", "0": 0, "x y": -0.0},
            "c-d": "é",
            "_": [[1, 2], {"a": null}],
        }),
        json!([1, "a", {"a": [1.0]}, false]),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(condition) = Condition::parse(text) else {
        return;
    };
    let printed = condition.to_string();
    let again = Condition::parse(&printed).expect("the canonical text parses");
    assert_eq!(again, condition);
    assert_eq!(again.to_string(), printed);
    for context in CONTEXTS.iter() {
        let _ = condition.evaluate(context);
    }
});
