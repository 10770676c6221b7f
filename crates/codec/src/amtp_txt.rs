//! The AMTP discovery record: the DNS TXT record at `_amtp.<domain>`.
//!
//! A record looks like `v=amtp1;gateway=https://amtp.example.com;auth=cert,oauth;max-size=50000000`.
//! [`parse_record`] reads it the way the AMTP specification describes and agentry
//! reads it: surrounding double quotes are dropped, the text is split on `;` and each
//! part on its first `=`, whitespace around keys and values is ignored, and keys this
//! parser does not know are skipped (so that later versions can add keys). Unlike
//! agentry, a key given twice, a `max-size` that is not a number and a version other
//! than exactly `amtp1` are errors rather than silently taking one reading.
//!
//! What the gateway URL may be (https only, or http too) is a policy of the caller; this
//! parser only checks that it names an `http://` or `https://` URL with a host.

/// Longest record accepted, in bytes (several 255-byte TXT strings joined).
pub const MAX_RECORD_BYTES: usize = 4096;

/// The version tag this parser understands.
pub const VERSION: &str = "amtp1";

/// A parsed `_amtp` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryRecord {
    /// Base URL of the domain's gateway, as written (no trailing `/` removed).
    pub gateway: String,
    /// Authentication methods the gateway announces (`auth=`), in order, lowercased.
    pub auth: Vec<String>,
    /// Largest message the gateway accepts (`max-size=`), in bytes.
    pub max_size: Option<u64>,
    /// Optional features (`features=`), in order, lowercased.
    pub features: Vec<String>,
}

/// Why a text is not a usable `_amtp` record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Longer than [`MAX_RECORD_BYTES`].
    #[error("record is {0} bytes; the limit is {MAX_RECORD_BYTES}")]
    TooLong(usize),
    /// No `v=` key.
    #[error("record has no version (v=amtp1)")]
    MissingVersion,
    /// `v=` names another version.
    #[error("record version {0:?} is not supported (expected \"amtp1\")")]
    UnsupportedVersion(String),
    /// No `gateway=` key.
    #[error("record has no gateway URL (gateway=…)")]
    MissingGateway,
    /// `gateway=` is not an http(s) URL with a host.
    #[error("gateway {0:?} is not an http:// or https:// URL with a host")]
    InvalidGateway(String),
    /// `max-size=` is not a positive integer.
    #[error("max-size {0:?} is not a positive integer")]
    InvalidMaxSize(String),
    /// A known key appears twice.
    #[error("key {0:?} appears more than once")]
    DuplicateKey(String),
    /// A part has no `=`.
    #[error("part {0:?} is not key=value")]
    MalformedPart(String),
}

/// Parses one `_amtp` record's text (the TXT strings of one record, joined).
pub fn parse_record(text: &str) -> Result<DiscoveryRecord, RecordError> {
    if text.len() > MAX_RECORD_BYTES {
        return Err(RecordError::TooLong(text.len()));
    }
    let text = text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);

    let mut version = None;
    let mut gateway = None;
    let mut auth = None;
    let mut max_size = None;
    let mut features = None;
    for part in text.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| RecordError::MalformedPart(part.to_owned()))?;
        let (key, value) = (key.trim(), value.trim());
        let slot = match key.to_ascii_lowercase().as_str() {
            "v" => &mut version,
            "gateway" => &mut gateway,
            "auth" => &mut auth,
            "max-size" => &mut max_size,
            "features" => &mut features,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(RecordError::DuplicateKey(key.to_ascii_lowercase()));
        }
    }

    match version {
        None => return Err(RecordError::MissingVersion),
        Some(v) if v != VERSION => return Err(RecordError::UnsupportedVersion(v.to_owned())),
        Some(_) => {}
    }
    let gateway = gateway.ok_or(RecordError::MissingGateway)?;
    if !is_http_url_with_host(gateway) {
        return Err(RecordError::InvalidGateway(gateway.to_owned()));
    }
    let max_size = match max_size {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(RecordError::InvalidMaxSize(s.to_owned())),
        },
    };
    Ok(DiscoveryRecord {
        gateway: gateway.to_owned(),
        auth: list(auth),
        max_size,
        features: list(features),
    })
}

/// Formats a record the way [`parse_record`] reads it.
pub fn format_record(record: &DiscoveryRecord) -> String {
    let mut out = format!("v={VERSION};gateway={}", record.gateway);
    if !record.auth.is_empty() {
        out.push_str(";auth=");
        out.push_str(&record.auth.join(","));
    }
    if let Some(n) = record.max_size {
        out.push_str(&format!(";max-size={n}"));
    }
    if !record.features.is_empty() {
        out.push_str(";features=");
        out.push_str(&record.features.join(","));
    }
    out
}

/// A comma-separated list, trimmed, lowercased, empty items dropped.
fn list(value: Option<&str>) -> Vec<String> {
    value
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

/// `http://` or `https://`, then a host of `[A-Za-z0-9.-]` (or a bracketed IPv6
/// literal), then optionally `:port` and a path; no whitespace, userinfo, query or
/// fragment.
fn is_http_url_with_host(url: &str) -> bool {
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if path
        .bytes()
        .any(|b| !b.is_ascii_graphic() || b == b'?' || b == b'#')
    {
        return false;
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let Some((v6, after)) = inner.split_once(']') else {
            return false;
        };
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        (v6, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && (authority.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    let port_ok = match port {
        None => !authority.starts_with('[') || authority.ends_with(']'),
        Some(p) => !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok_and(|n| n > 0),
    };
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(gateway: &str) -> DiscoveryRecord {
        DiscoveryRecord {
            gateway: gateway.into(),
            auth: vec![],
            max_size: None,
            features: vec![],
        }
    }

    #[test]
    fn the_specification_example() {
        let r = parse_record(
            "\"v=amtp1;gateway=https://amtp.example.com;auth=cert,oauth;max-size=50000000\"",
        )
        .unwrap();
        assert_eq!(
            r,
            DiscoveryRecord {
                gateway: "https://amtp.example.com".into(),
                auth: vec!["cert".into(), "oauth".into()],
                max_size: Some(50_000_000),
                features: vec![],
            }
        );
    }

    #[test]
    fn whitespace_case_unknown_keys_and_empty_parts() {
        let r = parse_record(
            "  V = amtp1 ; ; Gateway= http://127.0.0.1:9000/amtp ;x-future=1; Features = Agent-Discovery , ;",
        )
        .unwrap();
        assert_eq!(r.gateway, "http://127.0.0.1:9000/amtp");
        assert_eq!(r.features, vec!["agent-discovery".to_owned()]);
        assert!(r.auth.is_empty());
        assert_eq!(r.max_size, None);
    }

    #[test]
    fn errors_name_the_problem() {
        use RecordError::*;
        let cases: &[(&str, RecordError)] = &[
            ("gateway=https://a.example", MissingVersion),
            (
                "v=amtp2;gateway=https://a.example",
                UnsupportedVersion("amtp2".into()),
            ),
            ("v=amtp1", MissingGateway),
            (
                "v=amtp1;gateway=ftp://a.example",
                InvalidGateway("ftp://a.example".into()),
            ),
            (
                "v=amtp1;gateway=https://",
                InvalidGateway("https://".into()),
            ),
            (
                "v=amtp1;gateway=https://a b",
                InvalidGateway("https://a b".into()),
            ),
            (
                "v=amtp1;gateway=https://u@a.example",
                InvalidGateway("https://u@a.example".into()),
            ),
            (
                "v=amtp1;gateway=https://a.example:0",
                InvalidGateway("https://a.example:0".into()),
            ),
            (
                "v=amtp1;gateway=https://a.example:99999",
                InvalidGateway("https://a.example:99999".into()),
            ),
            (
                "v=amtp1;gateway=https://a.example/?q",
                InvalidGateway("https://a.example/?q".into()),
            ),
            (
                "v=amtp1;gateway=https://a.example;max-size=0",
                InvalidMaxSize("0".into()),
            ),
            (
                "v=amtp1;gateway=https://a.example;max-size=10MB",
                InvalidMaxSize("10MB".into()),
            ),
            (
                "v=amtp1;v=amtp1;gateway=https://a.example",
                DuplicateKey("v".into()),
            ),
            (
                "v=amtp1;gateway=https://a;Gateway=https://b",
                DuplicateKey("gateway".into()),
            ),
            (
                "v=amtp1;gateway=https://a.example;oops",
                MalformedPart("oops".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_record(text).as_ref(), Err(want), "{text}");
        }
        let long = format!(
            "v=amtp1;gateway=https://a.example;x={}",
            "y".repeat(MAX_RECORD_BYTES)
        );
        assert!(matches!(parse_record(&long), Err(TooLong(_))));
    }

    #[test]
    fn gateway_urls() {
        for ok in [
            "https://a.example",
            "HTTPS://A.example/",
            "http://127.0.0.1:8080",
            "https://[::1]:8443/amtp/v1",
            "https://[::1]",
        ] {
            assert!(
                parse_record(&format!("v=amtp1;gateway={ok}")).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "https://[::1",
            "https://[]:1",
            "https://a.example:",
            "https://a_b.example",
        ] {
            assert!(
                parse_record(&format!("v=amtp1;gateway={bad}")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn format_then_parse_gives_the_record() {
        let mut r = record("https://gw.example.org:8443");
        r.auth = vec!["cert".into()];
        r.max_size = Some(1024);
        r.features = vec!["agent-discovery".into(), "workflows".into()];
        assert_eq!(parse_record(&format_record(&r)).unwrap(), r);
        let plain = record("http://127.0.0.1:1");
        assert_eq!(format_record(&plain), "v=amtp1;gateway=http://127.0.0.1:1");
    }

    proptest! {
        #[test]
        fn never_panics(text in ".{0,300}") {
            let _ = parse_record(&text);
        }

        #[test]
        fn round_trips(
            host in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,3}",
            port in proptest::option::of(1u16..),
            auth in proptest::collection::vec("[a-z]{1,8}", 0..3),
            max_size in proptest::option::of(1u64..),
            features in proptest::collection::vec("[a-z-]{0,6}[a-z]", 0..3),
        ) {
            let gateway = match port {
                Some(p) => format!("https://{host}:{p}"),
                None => format!("https://{host}"),
            };
            let r = DiscoveryRecord { gateway, auth, max_size, features };
            prop_assert_eq!(parse_record(&format_record(&r)), Ok(r));
        }
    }
}
