//! The schema registry (`/v1/admin/schemas`) and the checks of message payloads
//! against it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const ORDER: &str = "acme:sales.order.v1";

fn order_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["sku", "qty"],
        "properties": {
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
            "qty": {"type": "integer", "minimum": 1},
            "customer": {"$ref": "#/$defs/customer"}
        },
        "$defs": {"customer": {"type": "object", "required": ["email"],
                               "properties": {"email": {"type": "string", "format": "email"}}}}
    })
}

async fn register(g: &Gateway, id: &str, definition: Value) -> (StatusCode, Value) {
    call(
        g.admin(Method::POST, "/v1/admin/schemas")
            .json(&json!({"id": id, "definition": definition})),
    )
    .await
}

async fn get(g: &Gateway, path: &str) -> (StatusCode, Value) {
    call(g.admin(Method::GET, path)).await
}

/// The ids a listing answered.
fn listed(body: &Value) -> Vec<&str> {
    body["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

fn is_timestamp(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|t| t.ends_with('Z') && t.len() == 24)
}

#[tokio::test]
async fn register_show_update_delete() {
    bounded(async {
        let g = Gateway::start().await;
        let (s, b) = register(&g, ORDER, order_schema()).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["schema_id"], ORDER);
        assert_eq!(b["message"], "schema registered");
        assert_eq!(b["replaced"], false);
        assert!(is_timestamp(&b["timestamp"]), "{b}");

        let (s, b) = get(&g, &format!("/v1/admin/schemas/{ORDER}")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let schema = &b["schema"];
        assert_eq!(schema["id"], ORDER);
        assert_eq!(schema["definition"], order_schema());
        assert_eq!(schema["draft"], "2020-12");
        assert!(is_timestamp(&schema["published_at"]), "{b}");
        assert_eq!(schema["published_at"], schema["updated_at"]);
        let published = schema["published_at"].clone();

        // Registering again is a conflict unless forced.
        let again = register(&g, ORDER, json!({"type": "object"})).await;
        assert_error(&again, StatusCode::CONFLICT, "SCHEMA_ALREADY_EXISTS");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let (s, b) = call(
            g.admin(Method::POST, "/v1/admin/schemas")
                .json(&json!({"id": ORDER, "definition": {"type": "object"}, "force": true})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["replaced"], true, "{b}");
        let (_, b) = get(&g, &format!("/v1/admin/schemas/{ORDER}")).await;
        assert_eq!(b["schema"]["definition"], json!({"type": "object"}));
        assert_eq!(b["schema"]["published_at"], published);
        assert_ne!(b["schema"]["updated_at"], published);

        // Update.
        let (s, b) = call(
            g.admin(Method::PUT, &format!("/v1/admin/schemas/{ORDER}"))
                .json(&json!({"definition": order_schema()})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            (b["message"].as_str(), b["schema_id"].as_str()),
            (Some("schema updated"), Some(ORDER))
        );
        let (_, b) = get(&g, &format!("/v1/admin/schemas/{ORDER}")).await;
        assert_eq!(b["schema"]["definition"], order_schema());
        let absent = "acme:sales.absent.v1";
        let got = call(
            g.admin(Method::PUT, &format!("/v1/admin/schemas/{absent}"))
                .json(&json!({"definition": {}})),
        )
        .await;
        assert_error(&got, StatusCode::NOT_FOUND, "SCHEMA_NOT_FOUND");
        let got = call(
            g.admin(Method::PUT, &format!("/v1/admin/schemas/{ORDER}"))
                .json(&json!({"definition": {"type": "nope"}})),
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_SCHEMA_DEFINITION");

        // Delete.
        let (s, b) = call(g.admin(Method::DELETE, &format!("/v1/admin/schemas/{ORDER}"))).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            (b["message"].as_str(), b["schema_id"].as_str()),
            (Some("schema deleted"), Some(ORDER))
        );
        for method in [Method::GET, Method::DELETE] {
            let got = call(g.admin(method, &format!("/v1/admin/schemas/{ORDER}"))).await;
            assert_error(&got, StatusCode::NOT_FOUND, "SCHEMA_NOT_FOUND");
        }
        // An id may be sent percent-encoded.
        register(&g, ORDER, json!({})).await;
        let (s, _) = get(&g, "/v1/admin/schemas/acme%3Asales.order.v1").await;
        assert_eq!(s, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn bad_registrations_are_refused_with_their_codes() {
    bounded(async {
        let g = Gateway::start().await;
        let cases = [
            (json!({"id": "sales.order.v1", "definition": {}}), StatusCode::BAD_REQUEST, "INVALID_SCHEMA_ID"),
            (json!({"id": "acme:sales.order", "definition": {}}), StatusCode::BAD_REQUEST, "INVALID_SCHEMA_ID"),
            (json!({"id": ORDER, "definition": {"type": 5}}), StatusCode::BAD_REQUEST, "INVALID_SCHEMA_DEFINITION"),
            (json!({"id": ORDER, "definition": {"pattern": "("}}), StatusCode::BAD_REQUEST, "INVALID_SCHEMA_DEFINITION"),
            (json!({"id": ORDER, "definition": [1]}), StatusCode::BAD_REQUEST, "INVALID_SCHEMA_DEFINITION"),
            (json!({"id": ORDER, "definition": {"$ref": "http://127.0.0.1:9/x.json"}}), StatusCode::BAD_REQUEST, "INVALID_SCHEMA_DEFINITION"),
            (json!({"id": ORDER, "definition": {"$schema": "http://json-schema.org/draft-04/schema#"}}), StatusCode::BAD_REQUEST, "UNSUPPORTED_SCHEMA_DRAFT"),
            (json!({"id": ORDER, "definition": {}, "extra": 1}), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            (json!({"id": ORDER}), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            (json!({"id": ORDER, "definition": {}, "force": "yes"}), StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
        ];
        for (body, status, code) in cases {
            let got = call(g.admin(Method::POST, "/v1/admin/schemas").json(&body)).await;
            assert_error(&got, status, code);
        }
        // A definition over 256 KiB, in a body the route still reads.
        let big = json!({"id": ORDER, "definition": {"description": "x".repeat(260 * 1024)}});
        let got = call(g.admin(Method::POST, "/v1/admin/schemas").json(&big)).await;
        assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "SCHEMA_TOO_LARGE");
        assert_eq!(got.1["error"]["details"]["limit"], 256 * 1024);
        // A body far larger is not read at all.
        let huge = json!({"id": ORDER, "definition": {"description": "x".repeat(400 * 1024)}});
        let got = call(g.admin(Method::POST, "/v1/admin/schemas").json(&huge)).await;
        assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
        let got = get(&g, "/v1/admin/schemas/not-an-id").await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_SCHEMA_ID");
        let (_, b) = get(&g, "/v1/admin/schemas").await;
        assert_eq!(b["count"], 0, "nothing was registered: {b}");
    })
    .await;
}

#[tokio::test]
async fn listing_by_pattern_and_stats() {
    bounded(async {
        let g = Gateway::start().await;
        for id in [
            "agntcy:test.a.v1",
            "agntcy:test.a.v2",
            "agntcy:test.b.v1",
            "agntcy:testing.a.v1",
            "other:test.a.v1",
        ] {
            let (s, b) = register(&g, id, json!({"type": "object"})).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
        let (s, b) = get(&g, "/v1/admin/schemas").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["count"], 5);
        assert!(is_timestamp(&b["timestamp"]));
        let first = &b["schemas"][0];
        assert_eq!(first["id"], "agntcy:test.a.v1");
        assert_eq!(
            (
                &first["namespace"],
                &first["domain"],
                &first["entity"],
                &first["version"]
            ),
            (&json!("agntcy"), &json!("test"), &json!("a"), &json!("v1"))
        );
        assert!(is_timestamp(&first["published_at"]) && is_timestamp(&first["updated_at"]));
        assert!(
            first.get("definition").is_none(),
            "listings leave definitions out"
        );

        let cases: [(&str, &[&str]); 6] = [
            // The agentry README's example, which matched nothing there.
            (
                "agntcy:test.*",
                &["agntcy:test.a.v1", "agntcy:test.a.v2", "agntcy:test.b.v1"],
            ),
            (
                "agntcy:test",
                &["agntcy:test.a.v1", "agntcy:test.a.v2", "agntcy:test.b.v1"],
            ),
            ("agntcy:test.a", &["agntcy:test.a.v1", "agntcy:test.a.v2"]),
            ("agntcy:test.a.v2", &["agntcy:test.a.v2"]),
            ("other%3A*", &["other:test.a.v1"]),
            ("agntcy:nothing.*", &[]),
        ];
        for (pattern, want) in cases {
            let (s, b) = get(&g, &format!("/v1/admin/schemas?pattern={pattern}")).await;
            assert_eq!(s, StatusCode::OK, "{pattern}: {b}");
            assert_eq!(listed(&b), want, "{pattern}");
            assert_eq!(b["count"], want.len(), "{pattern}");
        }
        let got = get(&g, "/v1/admin/schemas?pattern=agntcy").await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_SCHEMA_PATTERN");

        let (s, b) = get(&g, "/v1/admin/schemas/stats").await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            b["stats"],
            json!({"total_schemas": 5, "domains": 3, "entities": 4})
        );
        assert!(is_timestamp(&b["timestamp"]));
    })
    .await;
}

#[tokio::test]
async fn validate_route_reports_violations() {
    bounded(async {
        let g = Gateway::start().await;
        register(&g, ORDER, order_schema()).await;
        let path = format!("/v1/admin/schemas/{ORDER}/validate");
        let (s, b) = call(g.admin(Method::POST, &path).json(
            &json!({"payload": {"sku": "ABC-1", "qty": 2, "customer": {"email": "a@b.example"}}}),
        ))
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            (&b["valid"], &b["errors"], &b["warnings"]),
            (&json!(true), &json!([]), &json!([]))
        );
        let (s, b) = call(
            g.admin(Method::POST, &path)
                .json(&json!({"payload": {"sku": "abc", "qty": 0, "customer": {"email": "nope"}}})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["valid"], false);
        let mut paths: Vec<&str> = b["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
                e["path"].as_str().unwrap()
            })
            .collect();
        paths.sort();
        assert_eq!(paths, ["/customer/email", "/qty", "/sku"]);
        // A payload that is not an object at all.
        let (_, b) = call(g.admin(Method::POST, &path).json(&json!({"payload": null}))).await;
        assert_eq!(b["valid"], false);
        assert_eq!(b["errors"][0]["path"], "");
        let got = call(
            g.admin(Method::POST, "/v1/admin/schemas/acme:x.y.v1/validate")
                .json(&json!({"payload": {}})),
        )
        .await;
        assert_error(&got, StatusCode::NOT_FOUND, "SCHEMA_NOT_FOUND");
        let got = call(g.admin(Method::POST, &path).json(&json!({"data": {}}))).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    })
    .await;
}

#[tokio::test]
async fn submissions_are_checked_against_registered_schemas() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        let bob = g.register("bob").await;
        register(&g, ORDER, order_schema()).await;
        let msg = |schema: &str, payload: Value| {
            let mut e = envelope("alice", &["bob"]);
            e["schema"] = json!(schema);
            e["payload"] = payload;
            e
        };

        let (s, b) = g
            .send(&alice, msg(ORDER, json!({"sku": "ABC-1", "qty": 1})))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["recipients"][0]["status"], "delivered");

        let bad = g
            .send(&alice, msg(ORDER, json!({"sku": "abc", "qty": "two"})))
            .await;
        assert_error(&bad, StatusCode::BAD_REQUEST, "SCHEMA_VALIDATION_FAILED");
        let details = &bad.1["error"]["details"];
        assert_eq!(details["schema"], ORDER);
        let mut paths: Vec<&str> = details["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        paths.sort();
        assert_eq!(paths, ["/qty", "/sku"], "{details}");
        assert!(details["errors"][0]["message"].is_string());
        // No payload at all fails an object schema too.
        let mut none = msg(ORDER, json!(null));
        none.as_object_mut().unwrap().remove("payload");
        let got = g.send(&alice, none).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "SCHEMA_VALIDATION_FAILED");

        // An unregistered schema is refused for a local sender.
        let got = g
            .send(&alice, msg("acme:sales.unknown.v1", json!({})))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "SCHEMA_NOT_FOUND");

        // Refused messages were never stored: bob has only the valid one.
        let (_, inbox) = g.inbox(&bob, "bob", "").await;
        assert_eq!(inbox["message_count"], 1, "{inbox}");
        assert_eq!(
            inbox["messages"][0]["payload"],
            json!({"sku": "ABC-1", "qty": 1})
        );

        // An update applies to the next message at once.
        call(
            g.admin(Method::PUT, &format!("/v1/admin/schemas/{ORDER}"))
                .json(&json!({"definition": {"type": "object", "required": ["note"]}})),
        )
        .await;
        let got = g
            .send(&alice, msg(ORDER, json!({"sku": "ABC-1", "qty": 1})))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "SCHEMA_VALIDATION_FAILED");
        let (s, b) = g.send(&alice, msg(ORDER, json!({"note": "n"}))).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // After deletion the schema is unknown again.
        call(g.admin(Method::DELETE, &format!("/v1/admin/schemas/{ORDER}"))).await;
        let got = g.send(&alice, msg(ORDER, json!({"note": "n"}))).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "SCHEMA_NOT_FOUND");
        // Messages without a schema are not affected.
        let (s, b) = g.send(&alice, envelope("alice", &["bob"])).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    })
    .await;
}

#[tokio::test]
async fn each_recipient_is_checked_against_its_supported_schemas() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        for (name, schemas) in [
            ("bob", json!(["acme:sales.*"])),
            ("carol", json!(["acme:salesforce.*"])),
            ("dave", json!([])),
        ] {
            let (s, b) = g
                .register_with(json!({"name": name, "supported_schemas": schemas}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
        register(&g, ORDER, json!({"type": "object"})).await;
        register(&g, "acme:salesforce.lead.v1", json!({"type": "object"})).await;

        let mut e = envelope("alice", &["bob", "carol", "dave"]);
        e["schema"] = json!(ORDER);
        let (s, b) = g.send(&alice, e).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["status"], "partial");
        let by: std::collections::HashMap<&str, &Value> = b["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["address"].as_str().unwrap(), r))
            .collect();
        assert_eq!(by[addr("bob").as_str()]["status"], "delivered", "{b}");
        assert_eq!(by[addr("dave").as_str()]["status"], "delivered", "{b}");
        assert_eq!(by[addr("carol").as_str()]["status"], "failed", "{b}");
        assert_eq!(
            by[addr("carol").as_str()]["error_code"],
            "SCHEMA_NOT_SUPPORTED",
            "acme:salesforce.* does not cover acme:sales.order.v1: {b}"
        );

        // The other way round: acme:sales.* does not cover acme:salesforce.lead.v1.
        let mut e = envelope("alice", &["bob"]);
        e["schema"] = json!("acme:salesforce.lead.v1");
        let got = g.send(&alice, e).await;
        assert_error(
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "SCHEMA_NOT_SUPPORTED",
        );
        // A message with no schema is refused by an agent that lists schemas.
        let got = g.send(&alice, envelope("alice", &["bob"])).await;
        assert_error(
            &got,
            StatusCode::UNPROCESSABLE_ENTITY,
            "SCHEMA_NOT_SUPPORTED",
        );
    })
    .await;
}

#[tokio::test]
async fn the_registry_survives_a_restart() {
    bounded(async {
        let g = Gateway::start().await;
        let alice = g.register("alice").await;
        g.register("bob").await;
        register(&g, ORDER, order_schema()).await;
        let draft7 = json!({"$schema": "http://json-schema.org/draft-07/schema#",
                            "definitions": {"n": {"type": "integer"}},
                            "properties": {"n": {"$ref": "#/definitions/n"}}});
        register(&g, "acme:sales.count.v1", draft7.clone()).await;
        let g = g.restart().await;

        let (_, b) = get(&g, "/v1/admin/schemas").await;
        assert_eq!(listed(&b), ["acme:sales.count.v1", ORDER]);
        let (_, b) = get(&g, "/v1/admin/schemas/acme:sales.count.v1").await;
        assert_eq!(b["schema"]["definition"], draft7);
        assert_eq!(b["schema"]["draft"], "draft-07");
        let mut e = envelope("alice", &["bob"]);
        e["schema"] = json!("acme:sales.count.v1");
        e["payload"] = json!({"n": "one"});
        let got = g.send(&alice, e.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "SCHEMA_VALIDATION_FAILED");
        e["payload"] = json!({"n": 1});
        let (s, b) = g.send(&alice, e).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, b) = get(&g, "/v1/admin/schemas/stats").await;
        assert_eq!(b["stats"]["total_schemas"], 2);
    })
    .await;
}
