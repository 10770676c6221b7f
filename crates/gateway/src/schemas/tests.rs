//! The registry service over a real embedded store in a temporary directory.

use std::sync::Arc;

use agentgate_store::{BucketConfig, KvStore, Store};
use agentgate_store_embedded::{EmbeddedOptions, EmbeddedStore};
use serde_json::json;
use tempfile::TempDir;

use super::*;
use crate::storage::SCHEMAS;

async fn store(dir: &TempDir) -> Arc<dyn Store> {
    let s = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    s.ensure_bucket(&BucketConfig {
        name: SCHEMAS.into(),
        ttl_ms: None,
    })
    .await
    .unwrap();
    Arc::new(s)
}

fn raw(v: serde_json::Value) -> Box<RawValue> {
    RawValue::from_string(v.to_string()).unwrap()
}

fn register(id: &str, definition: serde_json::Value, force: bool) -> RegisterRequest {
    RegisterRequest {
        id: id.into(),
        definition: raw(definition),
        force,
    }
}

fn order_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "required": ["sku"],
        "properties": {"sku": {"type": "string", "minLength": 3}, "qty": {"type": "integer"}}
    })
}

fn ids(entries: &[Arc<SchemaEntry>]) -> Vec<&str> {
    entries.iter().map(|e| e.id.as_str()).collect()
}

#[tokio::test]
async fn register_get_update_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = Schemas::open(store(&dir).await).await.unwrap();
    let text = r#"{"type":"object",  "required": ["sku"]}"#;
    let r = s
        .register(RegisterRequest {
            id: "acme:sales.order.v1".into(),
            definition: RawValue::from_string(text.into()).unwrap(),
            force: false,
        })
        .await
        .unwrap();
    assert!(!r.replaced);
    let got = s.get("acme:sales.order.v1").unwrap();
    assert_eq!(got.definition.get(), text, "kept as registered");
    assert_eq!(got.draft(), SchemaDraft::Draft202012);
    assert_eq!(got.published_at, got.updated_at);
    let first = got.published_at;

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let updated = s
        .update(
            "acme:sales.order.v1",
            UpdateRequest {
                id: None,
                definition: raw(order_schema()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.published_at, first);
    assert!(updated.updated_at > first);
    assert_eq!(
        s.check("acme:sales.order.v1", r#"{"sku": "ab"}"#, 20).await,
        PayloadVerdict::Invalid(vec![Violation {
            path: "/sku".into(),
            message: r#""ab" is shorter than 3 characters"#.into(),
            keyword: "minLength".into(),
        }])
    );

    s.delete("acme:sales.order.v1").await.unwrap();
    assert!(matches!(
        s.get("acme:sales.order.v1"),
        Err(SchemaError::NotFound(_))
    ));
    assert!(matches!(
        s.delete("acme:sales.order.v1").await,
        Err(SchemaError::NotFound(_))
    ));
    assert!(matches!(
        s.update(
            "acme:sales.order.v1",
            UpdateRequest {
                id: None,
                definition: raw(json!({}))
            }
        )
        .await,
        Err(SchemaError::NotFound(_))
    ));
    assert_eq!(
        s.check("acme:sales.order.v1", "{}", 20).await,
        PayloadVerdict::Unregistered
    );
}

#[tokio::test]
async fn refusals_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Schemas::open(store(&dir).await).await.unwrap();
    let err = |r: Result<Registered, SchemaError>| r.unwrap_err();
    assert!(matches!(
        err(s
            .register(register("acme.sales.order.v1", json!({}), false))
            .await),
        SchemaError::InvalidSchemaId(_)
    ));
    assert!(matches!(
        err(s
            .register(register("acme:sales.order.v1", json!({"type": 3}), false))
            .await),
        SchemaError::Definition(DefinitionError::Invalid(_))
    ));
    let draft4 = json!({"$schema": "http://json-schema.org/draft-04/schema#"});
    assert!(matches!(
        err(s
            .register(register("acme:sales.order.v1", draft4, false))
            .await),
        SchemaError::Definition(DefinitionError::UnsupportedDraft(_))
    ));
    assert!(s.snapshot().is_empty(), "nothing was registered");
    s.register(register("acme:sales.order.v1", json!({}), false))
        .await
        .unwrap();
    assert!(matches!(
        err(s
            .register(register("acme:sales.order.v1", json!({}), false))
            .await),
        SchemaError::AlreadyExists(_)
    ));
    assert!(matches!(
        s.get("nope"),
        Err(SchemaError::InvalidSchemaId(_))
    ));
    assert!(matches!(
        s.update(
            "acme:sales.order.v1",
            UpdateRequest {
                id: Some("acme:sales.order.v2".into()),
                definition: raw(json!({}))
            }
        )
        .await,
        Err(SchemaError::InvalidRequest(_))
    ));
    assert!(matches!(
        s.list(Some("acme")),
        Err(SchemaError::InvalidPattern(_))
    ));
    assert!(matches!(
        s.validate("acme:sales.order.v9", &raw(json!({}))).await,
        Err(SchemaError::NotFound(_))
    ));
}

#[tokio::test]
async fn force_replaces_and_keeps_the_first_publication() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir).await;
    // Two registries on one store stand for two replicas: `a` has not seen what `b`
    // registered, so a forced registration through `a` must read the stored record.
    let a = Schemas::open(st.clone()).await.unwrap();
    let b = Schemas::open(st.clone()).await.unwrap();
    b.register(register(
        "acme:sales.order.v1",
        json!({"type": "string"}),
        false,
    ))
    .await
    .unwrap();
    let published = b.get("acme:sales.order.v1").unwrap().published_at;
    assert!(matches!(
        a.register(register("acme:sales.order.v1", json!({}), false))
            .await,
        Err(SchemaError::AlreadyExists(_))
    ));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = a
        .register(register("acme:sales.order.v1", order_schema(), true))
        .await
        .unwrap();
    assert!(r.replaced);
    assert_eq!(r.entry.published_at, published);
    assert!(r.entry.updated_at > published);
    // A third replica loading from the store sees the replacement.
    let c = Schemas::open(st.clone()).await.unwrap();
    let e = c.get("acme:sales.order.v1").unwrap();
    assert_eq!(e.definition.get(), order_schema().to_string());
    assert_eq!(e.published_at, published);
    // A schema deleted through one replica is not brought back by an update through
    // another that still holds it in memory.
    c.delete("acme:sales.order.v1").await.unwrap();
    assert!(matches!(
        a.update(
            "acme:sales.order.v1",
            UpdateRequest {
                id: None,
                definition: raw(json!({}))
            }
        )
        .await,
        Err(SchemaError::NotFound(_))
    ));
    assert!(
        KvStore::get(&*st, SCHEMAS, &record::key("acme:sales.order.v1"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn concurrent_updates_through_two_replicas_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(&dir).await;
    let a = Arc::new(Schemas::open(st.clone()).await.unwrap());
    let b = Arc::new(Schemas::open(st.clone()).await.unwrap());
    a.register(register("acme:sales.order.v1", json!({}), false))
        .await
        .unwrap();
    let published = a.get("acme:sales.order.v1").unwrap().published_at;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.update(
                "acme:sales.order.v1",
                UpdateRequest {
                    id: None,
                    definition: raw(json!({"maxLength": i})),
                },
            )
            .await
        }));
    }
    for t in tasks {
        let e = t
            .await
            .unwrap()
            .expect("every update lands (retried on conflict)");
        assert_eq!(e.published_at, published);
    }
    let stored = KvStore::get(&*st, SCHEMAS, &record::key("acme:sales.order.v1"))
        .await
        .unwrap()
        .unwrap();
    let r = record::SchemaRecord::decode("k", &stored.value).unwrap();
    assert_eq!(r.published_at, published);
    assert!(r.definition.get().starts_with(r#"{"maxLength":"#));
}

#[tokio::test]
async fn registry_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let st = store(&dir).await;
        let s = Schemas::open(st.clone()).await.unwrap();
        s.register(register("acme:sales.order.v1", order_schema(), false))
            .await
            .unwrap();
        s.register(register(
            "acme:sales.refund.v1",
            json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
            false,
        ))
        .await
        .unwrap();
        st.close().await.unwrap();
    }
    let s = Schemas::open(store(&dir).await).await.unwrap();
    assert_eq!(
        ids(&s.list(None).unwrap()),
        ["acme:sales.order.v1", "acme:sales.refund.v1"]
    );
    assert_eq!(
        s.get("acme:sales.refund.v1").unwrap().draft(),
        SchemaDraft::Draft7
    );
    assert_eq!(
        s.check("acme:sales.order.v1", r#"{"sku": "abc"}"#, 20)
            .await,
        PayloadVerdict::Valid
    );
}

#[tokio::test]
async fn listing_filters_by_segments() {
    let dir = tempfile::tempdir().unwrap();
    let s = Schemas::open(store(&dir).await).await.unwrap();
    for id in [
        "agntcy:test.a.v1",
        "agntcy:test.a.v2",
        "agntcy:test.b.v1",
        "agntcy:testing.a.v1",
        "other:test.a.v1",
    ] {
        s.register(register(id, json!({}), false)).await.unwrap();
    }
    let list = |p: Option<&str>| ids(&s.list(p).unwrap()).join(" ");
    assert_eq!(list(None).split(' ').count(), 5);
    assert_eq!(list(Some("")).split(' ').count(), 5);
    assert_eq!(
        list(Some("agntcy:test.*")),
        "agntcy:test.a.v1 agntcy:test.a.v2 agntcy:test.b.v1"
    );
    assert_eq!(
        list(Some("agntcy:test")),
        "agntcy:test.a.v1 agntcy:test.a.v2 agntcy:test.b.v1"
    );
    assert_eq!(
        list(Some("agntcy:test.a")),
        "agntcy:test.a.v1 agntcy:test.a.v2"
    );
    assert_eq!(list(Some("agntcy:test.a.v2")), "agntcy:test.a.v2");
    assert_eq!(list(Some("other:*")), "other:test.a.v1");
    assert_eq!(list(Some("agntcy:none.*")), "");
    assert_eq!(
        s.stats(),
        SchemaStats {
            total_schemas: 5,
            domains: 3,
            entities: 4
        }
    );
}

#[tokio::test]
async fn payload_checks() {
    let dir = tempfile::tempdir().unwrap();
    let s = Schemas::open(store(&dir).await).await.unwrap();
    s.register(register("acme:sales.order.v1", order_schema(), false))
        .await
        .unwrap();
    let id = "acme:sales.order.v1";
    let payload = |t: &str| serde_json::from_str::<RawJson>(t).unwrap();
    assert_eq!(
        s.check_payload(id, Some(&payload(r#"{"sku": "abc", "qty": 2}"#)))
            .await,
        PayloadVerdict::Valid
    );
    // No payload is checked as null.
    let PayloadVerdict::Invalid(v) = s.check_payload(id, None).await else {
        panic!("null is not an object");
    };
    assert_eq!((v[0].path.as_str(), v[0].keyword.as_str()), ("", "type"));
    assert_eq!(
        s.check_payload("acme:sales.order.v2", Some(&payload("{}")))
            .await,
        PayloadVerdict::Unregistered
    );
    // Large payloads take the blocking path and get the same answers.
    let big = format!(r#"{{"sku": "abc", "note": "{}"}}"#, "n".repeat(200_000));
    assert_eq!(
        s.check_payload(id, Some(&payload(&big))).await,
        PayloadVerdict::Valid
    );
    let big_bad = format!(r#"{{"sku": 1, "note": "{}"}}"#, "n".repeat(200_000));
    let PayloadVerdict::Invalid(v) = s.check_payload(id, Some(&payload(&big_bad))).await else {
        panic!("sku is not a string");
    };
    assert_eq!(v[0].path, "/sku");
    // At most MAX_SUBMISSION_VIOLATIONS are reported.
    s.register(register(
        "acme:sales.list.v1",
        json!({"type": "array", "items": {"type": "integer"}}),
        false,
    ))
    .await
    .unwrap();
    let many = serde_json::to_string(&vec!["x"; 50]).unwrap();
    let PayloadVerdict::Invalid(v) = s
        .check_payload("acme:sales.list.v1", Some(&payload(&many)))
        .await
    else {
        panic!("strings are not integers");
    };
    assert_eq!(v.len(), MAX_SUBMISSION_VIOLATIONS);
    let v = s
        .validate("acme:sales.list.v1", &RawValue::from_string(many).unwrap())
        .await
        .unwrap();
    assert_eq!(v.len(), 50.min(MAX_REPORTED_VIOLATIONS));
}

#[tokio::test]
async fn registry_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let s = Schemas::open(store(&dir).await).await.unwrap();
    // Fill the byte budget by pretending large definitions are held.
    s.publish(|snap| snap.bytes = MAX_TOTAL_DEFINITION_BYTES - 10);
    let r = s
        .register(register("acme:sales.order.v1", order_schema(), false))
        .await;
    assert!(matches!(r, Err(SchemaError::RegistryFull { .. })), "{r:?}");
    s.publish(|snap| snap.bytes = 0);
    s.register(register("acme:sales.order.v1", json!({}), false))
        .await
        .unwrap();
    // The count: with MAX_SCHEMAS held, a new id is refused, a replacement is not.
    let one = s.get("acme:sales.order.v1").unwrap();
    s.publish(|snap| {
        for i in 1..MAX_SCHEMAS {
            snap.by_id.insert(format!("filler:{i}"), one.clone());
        }
    });
    let r = s
        .register(register("acme:sales.other.v1", json!({}), false))
        .await;
    assert!(matches!(r, Err(SchemaError::RegistryFull { .. })), "{r:?}");
    s.register(register("acme:sales.order.v1", order_schema(), true))
        .await
        .unwrap();
    s.publish(|snap| snap.by_id.retain(|k, _| !k.starts_with("filler:")));
    let big = format!(
        r#"{{"description": "{}"}}"#,
        "x".repeat(MAX_DEFINITION_BYTES)
    );
    let r = s
        .register(RegisterRequest {
            id: "acme:sales.big.v1".into(),
            definition: RawValue::from_string(big).unwrap(),
            force: false,
        })
        .await;
    assert!(
        matches!(
            r,
            Err(SchemaError::Definition(DefinitionError::TooLarge { .. }))
        ),
        "{r:?}"
    );
}
