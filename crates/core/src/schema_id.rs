//! Schema identifiers, the wildcards agents list, and the filters a schema registry is
//! searched with.
//!
//! A schema id is `namespace:domain.entity.vN`: four segments of `[A-Za-z0-9_-]`
//! (the version a `v` and decimal digits), at most [`MAX_SCHEMA_ID_LEN`] bytes. Any
//! namespace is allowed (`agntcy:` is the AMTP draft's, not the only one). Ids are
//! compared exactly, case included.
//!
//! An agent's `supported_schemas` entry is an id or a wildcard `namespace:domain.*` /
//! `namespace:domain.entity.*`; a wildcard covers the ids below it segment by segment,
//! so `acme:sales.*` covers `acme:sales.order.v1` but not `acme:salesforce.lead.v1`.

/// Longest schema id (and wildcard or filter), in bytes.
pub const MAX_SCHEMA_ID_LEN: usize = 256;

/// One segment of a schema id: non-empty `[A-Za-z0-9_-]`.
fn is_segment(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A version segment: `v` followed by one or more decimal digits.
fn is_version(t: &str) -> bool {
    t.strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A schema id taken apart: `namespace:domain.entity.version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchemaId<'a> {
    /// The namespace (`agntcy` in `agntcy:commerce.order.v1`).
    pub namespace: &'a str,
    /// The domain (`commerce`).
    pub domain: &'a str,
    /// The entity (`order`).
    pub entity: &'a str,
    /// The version, `v` included (`v1`).
    pub version: &'a str,
}

impl<'a> SchemaId<'a> {
    /// Parses `namespace:domain.entity.vN`; `None` when `text` is not a schema id.
    pub fn parse(text: &'a str) -> Option<SchemaId<'a>> {
        if text.len() > MAX_SCHEMA_ID_LEN {
            return None;
        }
        let (namespace, rest) = text.split_once(':')?;
        let mut parts = rest.split('.');
        let (domain, entity, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let ok = is_segment(namespace)
            && is_segment(domain)
            && is_segment(entity)
            && is_version(version);
        ok.then_some(SchemaId {
            namespace,
            domain,
            entity,
            version,
        })
    }
}

/// Whether `s` is a schema id `namespace:domain.entity.vN`.
pub fn is_valid_schema_id(s: &str) -> bool {
    SchemaId::parse(s).is_some()
}

/// Whether `s` is a schema wildcard an agent may list: `namespace:domain.*` or
/// `namespace:domain.entity.*`.
pub fn is_valid_schema_wildcard(s: &str) -> bool {
    if s.len() > MAX_SCHEMA_ID_LEN {
        return false;
    }
    let Some(prefix) = s.strip_suffix(".*") else {
        return false;
    };
    let Some((ns, rest)) = prefix.split_once(':') else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    is_segment(ns) && (1..=2).contains(&parts.len()) && parts.iter().all(|p| is_segment(p))
}

/// Whether an agent's `supported_schemas` entry `accepted` (an id or a wildcard) covers
/// the schema id `id`. A wildcard matches only at a segment boundary: `ns:domain.*`
/// covers `ns:domain.x.v1`, never `ns:domainx.y.v1`. Anything else is compared exactly.
pub fn schema_covers(accepted: &str, id: &str) -> bool {
    match accepted.strip_suffix(".*") {
        // `prefix` + `.` + at least one more byte.
        Some(prefix) => {
            id.len() > prefix.len() + 1
                && id.starts_with(prefix)
                && id.as_bytes()[prefix.len()] == b'.'
        }
        None => accepted == id,
    }
}

/// Why a registry search filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a schema filter: give an id (ns:domain.entity.vN), ns:domain, \
     ns:domain.entity, or one of those followed by .* (ns:* for a whole namespace)"
)]
pub struct SchemaFilterError(pub String);

/// What a registry search matches: the ids of a namespace, of a domain, of an entity
/// (all versions), or one id.
///
/// Parsed from `ns:*`, `ns:domain`, `ns:domain.*`, `ns:domain.entity`,
/// `ns:domain.entity.*` or a full id `ns:domain.entity.vN`. Segments compare exactly,
/// so `agntcy:test.*` lists `agntcy:test.x.v1` but not `agntcy:testing.x.v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaFilter {
    namespace: String,
    domain: Option<String>,
    entity: Option<String>,
    version: Option<String>,
}

impl SchemaFilter {
    /// Parses a filter (see the type's documentation).
    pub fn parse(text: &str) -> Result<SchemaFilter, SchemaFilterError> {
        let bad = || SchemaFilterError(text.to_string());
        if text.len() > MAX_SCHEMA_ID_LEN {
            return Err(bad());
        }
        let (namespace, rest) = text.split_once(':').ok_or_else(bad)?;
        if !is_segment(namespace) {
            return Err(bad());
        }
        let owned = |s: &str| Some(s.to_string());
        if rest == "*" {
            return Ok(SchemaFilter {
                namespace: namespace.to_string(),
                domain: None,
                entity: None,
                version: None,
            });
        }
        let rest = rest.strip_suffix(".*").map_or((rest, false), |r| (r, true));
        let parts: Vec<&str> = rest.0.split('.').collect();
        if !parts.iter().all(|p| is_segment(p)) {
            return Err(bad());
        }
        let wildcard = rest.1;
        match parts.as_slice() {
            [d] => Ok(SchemaFilter {
                namespace: namespace.to_string(),
                domain: owned(d),
                entity: None,
                version: None,
            }),
            [d, e] => Ok(SchemaFilter {
                namespace: namespace.to_string(),
                domain: owned(d),
                entity: owned(e),
                version: None,
            }),
            [d, e, v] if !wildcard && is_version(v) => Ok(SchemaFilter {
                namespace: namespace.to_string(),
                domain: owned(d),
                entity: owned(e),
                version: owned(v),
            }),
            _ => Err(bad()),
        }
    }

    /// Whether the schema id `id` is matched.
    pub fn matches(&self, id: &str) -> bool {
        let Some(p) = SchemaId::parse(id) else {
            return false;
        };
        let eq = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
        self.namespace == p.namespace
            && eq(&self.domain, p.domain)
            && eq(&self.entity, p.entity)
            && eq(&self.version, p.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids() {
        let p = SchemaId::parse("agntcy:commerce.order.v12").unwrap();
        assert_eq!(
            (p.namespace, p.domain, p.entity, p.version),
            ("agntcy", "commerce", "order", "v12")
        );
        for good in [
            "agntcy:commerce.order.v1",
            "myapp:billing.invoice.v12",
            "My_App-2:a-b.C_d.v0",
        ] {
            assert!(is_valid_schema_id(good), "{good}");
        }
        let long = format!("ns:{}.e.v1", "d".repeat(MAX_SCHEMA_ID_LEN));
        for bad in [
            "",
            "agntcy:commerce.order",
            "agntcy:a.b.c",
            "agntcy:.b.v1",
            "agntcy:a..v1",
            "a.b.v1",
            ":a.b.v1",
            "x:a.b.v",
            "x:a.b.V1",
            "x:a.b.v1.",
            "x:a.b.c.v1",
            "x:a.b.v1x",
            "x:a.b.v-1",
            "x y:a.b.v1",
            "x:a:b.c.v1",
            "x:a.b.*",
            "x:a.é.v1",
            long.as_str(),
        ] {
            assert!(!is_valid_schema_id(bad), "{bad}");
        }
    }

    #[test]
    fn wildcards() {
        for good in ["agntcy:commerce.*", "agntcy:commerce.order.*", "n:a-b_c.*"] {
            assert!(is_valid_schema_wildcard(good), "{good}");
        }
        for bad in [
            "agntcy:*",
            "agntcy:a.b.c.*",
            "commerce.*",
            "agntcy:commerce",
            "agntcy:.*",
            "agntcy:commerce*",
            "agntcy:commerce.order.v1",
            "agntcy:a..*",
            "*",
        ] {
            assert!(!is_valid_schema_wildcard(bad), "{bad}");
        }
    }

    #[test]
    fn coverage_stops_at_segment_boundaries() {
        assert!(schema_covers("ns:domain.*", "ns:domain.x.v1"));
        assert!(!schema_covers("ns:domain.*", "ns:domainx.y.v1"));
        assert!(!schema_covers("ns:domain.*", "ns:domain"));
        assert!(!schema_covers("ns:domain.*", "ns:domain."));
        assert!(schema_covers("ns:domain.entity.*", "ns:domain.entity.v3"));
        assert!(!schema_covers("ns:domain.entity.*", "ns:domain.entityx.v3"));
        assert!(!schema_covers("ns:domain.*", "other:domain.x.v1"));
        assert!(!schema_covers("nsx:domain.*", "ns:domain.x.v1"));
        // A malformed entry never works as a prefix.
        assert!(!schema_covers("ns:domain*", "ns:domainx.y.v1"));
        assert!(!schema_covers("ns:domain*", "ns:domain.y.v1"));
        // Exact entries compare exactly, case included.
        assert!(schema_covers("ns:a.b.v1", "ns:a.b.v1"));
        assert!(!schema_covers("ns:a.b.v1", "ns:a.b.v12"));
        assert!(!schema_covers("ns:a.b.v1", "NS:a.b.v1"));
    }

    #[test]
    fn filters() {
        let f = |t: &str| SchemaFilter::parse(t).unwrap();
        let ids = [
            "agntcy:test.a.v1",
            "agntcy:test.a.v2",
            "agntcy:test.b.v1",
            "agntcy:testing.a.v1",
            "other:test.a.v1",
        ];
        let hits = |filter: &str| -> Vec<&str> {
            let f = f(filter);
            ids.iter().copied().filter(|i| f.matches(i)).collect()
        };
        assert_eq!(hits("agntcy:*"), &ids[..4]);
        assert_eq!(hits("agntcy:test.*"), &ids[..3]);
        assert_eq!(hits("agntcy:test"), &ids[..3]);
        assert_eq!(hits("agntcy:test.a"), &ids[..2]);
        assert_eq!(hits("agntcy:test.a.*"), &ids[..2]);
        assert_eq!(hits("agntcy:test.a.v2"), &ids[1..2]);
        assert_eq!(hits("other:test.*"), &ids[4..]);
        assert!(hits("agntcy:nothing.*").is_empty());
        for bad in [
            "",
            "agntcy",
            "agntcy:",
            "*",
            "agntcy:test.",
            "agntcy:test.a.v1.*",
            "agntcy:test.a.b.c",
            "agntcy:test.a.x",
            "agntcy:te*",
            "agntcy:*.a",
            "a b:test",
        ] {
            assert!(SchemaFilter::parse(bad).is_err(), "{bad}");
        }
        // Not an id: never matched.
        assert!(!f("agntcy:*").matches("agntcy:test"));
    }

    fn segment() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,8}"
    }

    proptest! {
        #[test]
        fn every_well_formed_id_parses_back(
            ns in segment(), d in segment(), e in segment(), n in 0u32..10_000,
        ) {
            let id = format!("{ns}:{d}.{e}.v{n}");
            let p = SchemaId::parse(&id).unwrap();
            prop_assert_eq!((p.namespace, p.domain, p.entity), (ns.as_str(), d.as_str(), e.as_str()));
            prop_assert_eq!(p.version, format!("v{n}"));
        }

        #[test]
        fn wildcards_cover_their_ids_and_nothing_beside(
            ns in segment(), d in segment(), e in segment(), extra in segment(), n in 0u32..100,
        ) {
            let id = format!("{ns}:{d}.{e}.v{n}");
            let domain = format!("{ns}:{d}.*");
            let entity = format!("{ns}:{d}.{e}.*");
            prop_assert!(is_valid_schema_wildcard(&domain));
            prop_assert!(is_valid_schema_wildcard(&entity));
            prop_assert!(schema_covers(&domain, &id));
            prop_assert!(schema_covers(&entity, &id));
            // A longer domain or entity of the same prefix is another segment.
            let longer_domain = format!("{ns}:{d}{extra}.{e}.v{n}");
            let longer_entity = format!("{ns}:{d}.{e}{extra}.v{n}");
            prop_assert!(!schema_covers(&domain, &longer_domain));
            prop_assert!(!schema_covers(&entity, &longer_entity));
            // The filters agree with the wildcards.
            let f = SchemaFilter::parse(&domain).unwrap();
            prop_assert!(f.matches(&id));
            prop_assert!(!f.matches(&longer_domain));
            let f = SchemaFilter::parse(&entity).unwrap();
            prop_assert!(f.matches(&id));
            prop_assert!(!f.matches(&longer_entity));
        }

        #[test]
        fn parsing_never_panics_and_agrees_with_coverage(text in "[a-z:.*v0-9]{0,24}") {
            let _ = SchemaFilter::parse(&text);
            if is_valid_schema_id(&text) {
                prop_assert!(schema_covers(&text, &text));
                prop_assert!(SchemaFilter::parse(&text).unwrap().matches(&text));
            }
        }
    }
}
