//! A schema definition compiled into a validator, and the violations it reports.
//!
//! Definitions are JSON Schema, draft 7 or draft 2020-12, chosen by `$schema` (2020-12
//! when absent). Compilation checks the definition against its draft's meta-schema and
//! resolves every `$ref` inside the document (`$defs`, `definitions`, `$id`-named
//! subschemas, the drafts' own meta-schemas); a `$ref` to anything else is refused, so
//! the gateway never fetches a schema over the network or from a file. `format` is
//! asserted in both drafts (unknown formats are ignored), and `pattern` regexes run
//! with a backtracking limit.

use jsonschema::{Draft, PatternOptions, Validator};
use serde_json::Value;

/// Largest definition accepted, in bytes of JSON as sent (256 KiB).
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;
/// Longest violation message reported, in characters; longer ones are cut.
const MAX_MESSAGE_CHARS: usize = 300;
/// Backtracking steps a `pattern` may take on one value before it counts as failed.
const REGEX_BACKTRACK_LIMIT: usize = 1_000_000;
/// Largest compiled `pattern` regex, in bytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The JSON Schema drafts the registry accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum SchemaDraft {
    /// Draft 7 (`http://json-schema.org/draft-07/schema#`).
    #[serde(rename = "draft-07")]
    Draft7,
    /// Draft 2020-12 (`https://json-schema.org/draft/2020-12/schema`), the default.
    #[serde(rename = "2020-12")]
    Draft202012,
}

impl SchemaDraft {
    /// The draft a definition declares with `$schema` (2020-12 when absent).
    pub fn of(definition: &Value) -> Result<SchemaDraft, DefinitionError> {
        let declared = match definition {
            Value::Object(map) => map.get("$schema"),
            Value::Bool(_) => None,
            _ => {
                return Err(DefinitionError::Invalid(
                    "a schema definition is a JSON object (or true/false)".into(),
                ));
            }
        };
        let Some(declared) = declared else {
            return Ok(SchemaDraft::Draft202012);
        };
        let Some(uri) = declared.as_str() else {
            return Err(DefinitionError::Invalid("$schema must be a string".into()));
        };
        let bare = uri.trim_end_matches('#');
        let bare = bare
            .strip_prefix("https://")
            .or_else(|| bare.strip_prefix("http://"));
        match bare {
            Some("json-schema.org/draft-07/schema") => Ok(SchemaDraft::Draft7),
            Some("json-schema.org/draft/2020-12/schema") => Ok(SchemaDraft::Draft202012),
            _ => Err(DefinitionError::UnsupportedDraft(uri.to_string())),
        }
    }

    fn jsonschema(self) -> Draft {
        match self {
            SchemaDraft::Draft7 => Draft::Draft7,
            SchemaDraft::Draft202012 => Draft::Draft202012,
        }
    }
}

/// Why a definition cannot be registered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// Larger than [`MAX_DEFINITION_BYTES`].
    #[error("the schema definition is {size} bytes; at most {limit} are allowed")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// `$schema` names a draft other than 7 and 2020-12.
    #[error(
        "$schema {0:?} is not supported: use draft 7 (http://json-schema.org/draft-07/schema#) \
         or draft 2020-12 (https://json-schema.org/draft/2020-12/schema)"
    )]
    UnsupportedDraft(String),
    /// Not a valid schema of its draft, or a `$ref` that cannot be resolved locally.
    #[error("invalid schema definition: {0}")]
    Invalid(String),
}

/// One way a payload fails its schema.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON Pointer to the offending value in the payload (`""` for the payload itself).
    pub path: String,
    /// What is wrong, for people (at most 300 characters).
    pub message: String,
    /// The schema keyword that failed (`type`, `required`, `pattern`, …).
    pub keyword: String,
}

/// A definition compiled into a validator. Compiling is the expensive part; checking a
/// payload against a compiled schema is cheap and needs no lock.
pub struct CompiledSchema {
    draft: SchemaDraft,
    validator: Validator,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSchema")
            .field("draft", &self.draft)
            .finish_non_exhaustive()
    }
}

impl CompiledSchema {
    /// Compiles `definition` (`text` is its JSON as sent, for the size bound). CPU-bound:
    /// large definitions take milliseconds, so async callers run it on a blocking thread.
    pub fn compile(text: &str, definition: &Value) -> Result<CompiledSchema, DefinitionError> {
        if text.len() > MAX_DEFINITION_BYTES {
            return Err(DefinitionError::TooLarge {
                size: text.len(),
                limit: MAX_DEFINITION_BYTES,
            });
        }
        let draft = SchemaDraft::of(definition)?;
        let validator = jsonschema::options()
            .with_draft(draft.jsonschema())
            .offline()
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .with_pattern_options(
                PatternOptions::fancy_regex()
                    .backtrack_limit(REGEX_BACKTRACK_LIMIT)
                    .size_limit(REGEX_SIZE_LIMIT),
            )
            .build(definition)
            .map_err(|e| DefinitionError::Invalid(bounded(e.to_string())))?;
        Ok(CompiledSchema { draft, validator })
    }

    /// The draft it was compiled for.
    pub fn draft(&self) -> SchemaDraft {
        self.draft
    }

    /// Whether `payload` is valid.
    pub fn is_valid(&self, payload: &Value) -> bool {
        self.validator.is_valid(payload)
    }

    /// The first `max` violations of `payload` (none when it is valid).
    pub fn violations(&self, payload: &Value, max: usize) -> Vec<Violation> {
        self.validator
            .iter_errors(payload)
            .take(max)
            .map(|e| Violation {
                path: e.instance_path().as_str().to_string(),
                keyword: e.kind().keyword().to_string(),
                message: bounded(e.to_string()),
            })
            .collect()
    }
}

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters.
fn bounded(text: String) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(definition: Value) -> Result<CompiledSchema, DefinitionError> {
        CompiledSchema::compile(&definition.to_string(), &definition)
    }

    fn paths(s: &CompiledSchema, payload: Value) -> Vec<String> {
        s.violations(&payload, 20)
            .into_iter()
            .map(|v| format!("{} {}", v.path, v.keyword))
            .collect()
    }

    #[test]
    fn drafts_are_chosen_by_dollar_schema() {
        let d = |v: Value| SchemaDraft::of(&v);
        assert_eq!(d(json!({})), Ok(SchemaDraft::Draft202012));
        assert_eq!(d(json!(true)), Ok(SchemaDraft::Draft202012));
        for uri in [
            "http://json-schema.org/draft-07/schema#",
            "http://json-schema.org/draft-07/schema",
            "https://json-schema.org/draft-07/schema#",
        ] {
            assert_eq!(d(json!({"$schema": uri})), Ok(SchemaDraft::Draft7), "{uri}");
        }
        for uri in [
            "https://json-schema.org/draft/2020-12/schema",
            "https://json-schema.org/draft/2020-12/schema#",
            "http://json-schema.org/draft/2020-12/schema",
        ] {
            assert_eq!(
                d(json!({"$schema": uri})),
                Ok(SchemaDraft::Draft202012),
                "{uri}"
            );
        }
        for uri in [
            "http://json-schema.org/draft-04/schema#",
            "http://json-schema.org/draft-06/schema#",
            "https://json-schema.org/draft/2019-09/schema",
            "https://example.com/my-meta-schema",
            "",
        ] {
            assert!(
                matches!(
                    compile(json!({"$schema": uri})),
                    Err(DefinitionError::UnsupportedDraft(_))
                ),
                "{uri}"
            );
        }
        assert!(matches!(
            compile(json!({"$schema": 7})),
            Err(DefinitionError::Invalid(_))
        ));
        for not_a_schema in [json!([]), json!("x"), json!(1), json!(null)] {
            assert!(
                matches!(compile(not_a_schema), Err(DefinitionError::Invalid(_))),
                "a non-object definition"
            );
        }
    }

    #[test]
    fn invalid_definitions_are_refused() {
        for bad in [
            json!({"type": "strnig"}),
            json!({"type": 12}),
            json!({"minLength": -1}),
            json!({"required": "name"}),
            json!({"properties": {"a": {"pattern": "(unclosed"}}}),
            // References that would need fetching are refused, not fetched.
            json!({"$ref": "https://example.com/schemas/order.json"}),
            json!({"$ref": "file:///etc/passwd"}),
            json!({"$ref": "other.json"}),
            // A local reference to nothing.
            json!({"$ref": "#/$defs/missing"}),
        ] {
            let got = compile(bad.clone());
            assert!(
                matches!(got, Err(DefinitionError::Invalid(ref m)) if !m.is_empty()),
                "{bad}: {got:?}"
            );
        }
    }

    #[test]
    fn size_is_bounded() {
        let big = format!(
            r#"{{"description": "{}"}}"#,
            "x".repeat(MAX_DEFINITION_BYTES)
        );
        let v: Value = serde_json::from_str(&big).unwrap();
        assert!(matches!(
            CompiledSchema::compile(&big, &v),
            Err(DefinitionError::TooLarge {
                limit: MAX_DEFINITION_BYTES,
                ..
            })
        ));
        let fits = format!(
            r#"{{"description": "{}"}}"#,
            "x".repeat(MAX_DEFINITION_BYTES - 100)
        );
        let v: Value = serde_json::from_str(&fits).unwrap();
        assert!(CompiledSchema::compile(&fits, &v).is_ok());
    }

    #[test]
    fn draft_2020_12_keywords() {
        let s = compile(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["order_id", "lines"],
            "properties": {
                "order_id": {"type": "string", "pattern": "^ORD-[0-9]{4}$"},
                "customer": {"$ref": "#/$defs/customer"},
                "lines": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/line"}},
                "payment": {"oneOf": [
                    {"type": "object", "required": ["card"], "properties": {"card": {"type": "string"}}},
                    {"type": "object", "required": ["iban"], "properties": {"iban": {"type": "string"}}}
                ]},
                "tuple": {"prefixItems": [{"type": "integer"}, {"type": "string"}], "items": false}
            },
            "additionalProperties": false,
            "$defs": {
                "customer": {"type": "object", "required": ["email"],
                             "properties": {"email": {"type": "string", "format": "email"},
                                            "name": {"type": "string", "minLength": 2}}},
                "line": {"type": "object", "required": ["sku", "qty"],
                         "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}}
            }
        }))
        .unwrap();
        assert_eq!(s.draft(), SchemaDraft::Draft202012);
        let good = json!({
            "order_id": "ORD-0001",
            "customer": {"email": "a@example.com", "name": "Al"},
            "lines": [{"sku": "x", "qty": 2}],
            "payment": {"card": "4111"},
            "tuple": [1, "a"]
        });
        assert!(s.is_valid(&good));
        assert!(s.violations(&good, 20).is_empty());

        let check = |patch: Value, expected: &[&str]| {
            let mut p = good.clone();
            for (k, v) in patch.as_object().unwrap() {
                p[k] = v.clone();
            }
            assert!(!s.is_valid(&p), "{p}");
            assert_eq!(paths(&s, p.clone()), expected, "{p}");
        };
        check(json!({"order_id": "ORD-1"}), &["/order_id pattern"]);
        check(
            json!({"customer": {"email": "not-an-email", "name": "Al"}}),
            &["/customer/email format"],
        );
        check(
            json!({"customer": {"email": "a@example.com", "name": "A"}}),
            &["/customer/name minLength"],
        );
        check(json!({"lines": []}), &["/lines minItems"]);
        check(
            json!({"lines": [{"sku": "x", "qty": 0}]}),
            &["/lines/0/qty minimum"],
        );
        check(
            json!({"payment": {"card": "1", "iban": "2"}}),
            &["/payment oneOf"],
        );
        check(json!({"payment": {}}), &["/payment oneOf"]);
        // `items: false` after `prefixItems`: the extra item meets the false schema.
        check(json!({"tuple": [1, "a", 3]}), &["/tuple/2 falseSchema"]);
        check(json!({"extra": 1}), &[" additionalProperties"]);
        let missing = json!({"lines": [{"sku": "x", "qty": 1}]});
        assert_eq!(paths(&s, missing), [" required"]);
        assert_eq!(paths(&s, json!("text")), [" type"]);
    }

    #[test]
    fn draft_7_keywords() {
        let s = compile(json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "definitions": {"positive": {"type": "integer", "exclusiveMinimum": 0}},
            "type": "object",
            "properties": {
                "count": {"$ref": "#/definitions/positive"},
                "when": {"type": "string", "format": "date-time"},
                "site": {"type": "string", "format": "uri"},
                "pair": {"type": "array", "items": [{"type": "string"}, {"type": "number"}],
                         "additionalItems": false},
                "kind": {"enum": ["a", "b"]},
                "code": {"type": "string", "maxLength": 3}
            },
            "dependencies": {"site": ["when"]},
            "if": {"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
            "then": {"required": ["count"]}
        }))
        .unwrap();
        assert_eq!(s.draft(), SchemaDraft::Draft7);
        let good = json!({"count": 3, "when": "2026-01-02T03:04:05Z",
                          "site": "https://example.com/x", "pair": ["a", 1.5], "kind": "a",
                          "code": "abc"});
        assert!(s.is_valid(&good), "{:?}", s.violations(&good, 20));
        let cases = [
            (json!({"count": 0}), "/count exclusiveMinimum"),
            (json!({"when": "yesterday"}), "/when format"),
            (
                json!({"site": "not a uri", "when": "2026-01-02T03:04:05Z"}),
                "/site format",
            ),
            (json!({"pair": ["a", 1, 2]}), "/pair additionalItems"),
            (json!({"kind": "c"}), "/kind enum"),
            (json!({"code": "abcd"}), "/code maxLength"),
            // `dependencies` reports the missing property as `required`.
            (json!({"site": "https://example.com"}), " required"),
            (json!({"kind": "a"}), " required"),
        ];
        for (payload, expected) in cases {
            assert_eq!(paths(&s, payload.clone()), [expected], "{payload}");
        }
    }

    #[test]
    fn violations_are_bounded_and_messages_short() {
        let s = compile(json!({"type": "array", "items": {"type": "integer"}})).unwrap();
        let many: Vec<Value> = (0..100).map(|i| json!(format!("n{i}"))).collect();
        let v = s.violations(&Value::Array(many), 20);
        assert_eq!(v.len(), 20);
        assert_eq!(v[0].path, "/0");
        assert_eq!(v[19].path, "/19");
        let s = compile(json!({"const": 1})).unwrap();
        let huge = json!("y".repeat(10_000));
        let v = s.violations(&huge, 20);
        assert_eq!(v.len(), 1);
        assert!(v[0].message.chars().count() <= MAX_MESSAGE_CHARS, "{v:?}");
    }

    #[test]
    fn boolean_schemas() {
        assert!(compile(json!(true)).unwrap().is_valid(&json!({"any": 1})));
        assert!(!compile(json!(false)).unwrap().is_valid(&json!({})));
    }

    #[test]
    fn catastrophic_patterns_do_not_hang() {
        let s = compile(json!({"type": "string", "pattern": "^(a+)+$"})).unwrap();
        let evil = format!("{}!", "a".repeat(40));
        let start = std::time::Instant::now();
        // Either verdict is acceptable; what matters is that it returns promptly.
        let _ = s.violations(&json!(evil), 20);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
