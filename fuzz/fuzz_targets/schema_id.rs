//! Parses arbitrary text as a schema id, an agent's wildcard and a registry filter. A
//! parsed id must be rebuilt from its parts, be covered by its own domain and entity
//! wildcards, and be matched by itself as a filter.
#![no_main]

use agentgate_core::schema_id::{SchemaFilter, SchemaId, is_valid_schema_wildcard, schema_covers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = is_valid_schema_wildcard(text);
    if let Ok(f) = SchemaFilter::parse(text) {
        let _ = f.matches(text);
    }
    if let Some(id) = SchemaId::parse(text) {
        let rebuilt = format!(
            "{}:{}.{}.{}",
            id.namespace, id.domain, id.entity, id.version
        );
        assert_eq!(rebuilt, text);
        let domain = format!("{}:{}.*", id.namespace, id.domain);
        let entity = format!("{}:{}.{}.*", id.namespace, id.domain, id.entity);
        assert!(schema_covers(&domain, text) && schema_covers(&entity, text));
        assert!(SchemaFilter::parse(text).unwrap().matches(text));
    }
});
