//! Validation of registration requests: names, push targets, headers and schema lists.
//!
//! Push targets are the gateway's only outbound requests to addresses chosen by
//! someone else, so they are checked against server-side request forgery: `https` only
//! (unless `delivery.push.allow_http`), no credentials in the URL, and no loopback,
//! private, link-local or otherwise non-public address (unless
//! `delivery.push.allow_private_targets`). Literal IPs and `localhost` are refused here;
//! host names are checked again when they are resolved for each push (see
//! [`crate::delivery::resolver`]), which also defeats DNS rebinding.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use agentgate_core::envelope::{is_valid_schema_id, is_valid_schema_wildcard};
use axum::http::{HeaderName, HeaderValue};
use url::{Host, Url};

/// Most headers an agent may register for its pushes.
pub(crate) const MAX_HEADERS: usize = 32;
/// Longest header value, in bytes.
pub(crate) const MAX_HEADER_VALUE: usize = 4096;
/// Most entries in `supported_schemas`.
pub(crate) const MAX_SCHEMAS: usize = 100;
/// Longest push target URL.
pub(crate) const MAX_URL_LEN: usize = 2048;

/// Headers the gateway sets itself on every push; agents may not override them.
const RESERVED_HEADERS: [&str; 7] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "te",
];

/// What push targets may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PushTargetPolicy {
    /// `http://` allowed besides `https://`.
    pub allow_http: bool,
    /// Loopback, private and link-local addresses allowed.
    pub allow_private: bool,
}

impl PushTargetPolicy {
    /// Checks a push target URL; the error says why it is refused.
    pub(crate) fn check(&self, text: &str) -> Result<Url, String> {
        if text.len() > MAX_URL_LEN {
            return Err(format!("push_target is longer than {MAX_URL_LEN} bytes"));
        }
        let url = Url::parse(text).map_err(|e| format!("push_target is not a URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(
                    "push_target must use https (http needs delivery.push.allow_http)".into(),
                );
            }
            other => return Err(format!("push_target scheme {other:?} is not http(s)")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("push_target must not carry credentials; use headers instead".into());
        }
        let private = match url.host() {
            None => return Err("push_target has no host".into()),
            Some(Host::Ipv4(ip)) => !is_public_ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => !is_public_ip(IpAddr::V6(ip)),
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
        };
        if private && !self.allow_private {
            return Err(
                "push_target points at a loopback, private or link-local address \
                 (allowed only with delivery.push.allow_private_targets)"
                    .into(),
            );
        }
        Ok(url)
    }
}

/// Whether `ip` is a public unicast address (not loopback, private, link-local,
/// shared, documentation, multicast, reserved or unspecified).
pub(crate) fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) embeds an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return is_public_v4(v4);
    }
    let blocked = ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]); // discard-only
    !blocked
}

/// Checks the headers an agent wants sent with each push.
pub(crate) fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!("at most {MAX_HEADERS} headers are allowed"));
    }
    for (name, value) in headers {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a valid header name"))?;
        let lower = parsed.as_str();
        if RESERVED_HEADERS.contains(&lower) || lower.starts_with("x-amtp-") {
            return Err(format!(
                "header {name:?} is set by the gateway and cannot be registered"
            ));
        }
        if value.len() > MAX_HEADER_VALUE {
            return Err(format!(
                "header {name:?} is longer than {MAX_HEADER_VALUE} bytes"
            ));
        }
        HeaderValue::from_str(value)
            .map_err(|_| format!("header {name:?} has a value with invalid characters"))?;
    }
    Ok(())
}

/// Checks a `supported_schemas` list: each entry a schema id
/// (`namespace:domain.entity.vN`) or a wildcard `namespace:domain.*` /
/// `namespace:domain.entity.*`.
pub(crate) fn check_schemas(schemas: &[String]) -> Result<(), String> {
    if schemas.len() > MAX_SCHEMAS {
        return Err(format!(
            "at most {MAX_SCHEMAS} supported_schemas are allowed"
        ));
    }
    for s in schemas {
        if !(is_valid_schema_id(s) || is_valid_schema_wildcard(s)) {
            return Err(format!(
                "{s:?} is neither a schema id (ns:domain.entity.vN) nor a wildcard (ns:domain.*)"
            ));
        }
    }
    Ok(())
}

/// Most entries in `public_keys`.
pub(crate) const MAX_PUBLIC_KEYS: usize = 8;

/// Checks a `public_keys` list: each entry a standard Ed25519 `did:key` (the legacy
/// AIConexus form is refused: other resolvers do not read it), none twice. Returns the
/// keys in their canonical text.
pub(crate) fn check_public_keys(keys: Vec<String>) -> Result<Vec<String>, String> {
    use agentgate_codec::did_key::{self, DidForm};
    if keys.len() > MAX_PUBLIC_KEYS {
        return Err(format!("at most {MAX_PUBLIC_KEYS} public_keys are allowed"));
    }
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    for k in keys {
        let parsed = did_key::parse(&k).map_err(|e| format!("public key {k:?}: {e}"))?;
        if parsed.form != DidForm::Standard {
            return Err(format!(
                "public key {k:?} is in the legacy z6Mk form; give the standard did:key \
                 (multicodec ed25519-pub)"
            ));
        }
        let canonical = parsed.to_did();
        if out.contains(&canonical) {
            return Err(format!("public key {k:?} is listed twice"));
        }
        out.push(canonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: PushTargetPolicy = PushTargetPolicy {
        allow_http: false,
        allow_private: false,
    };

    #[test]
    fn push_targets() {
        assert!(STRICT.check("https://hooks.example.com/amtp?x=1").is_ok());
        assert!(STRICT.check("https://8.8.8.8/x").is_ok());
        for bad in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://localhost/",
            "https://api.localhost/",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://172.20.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[64:ff9b::a00:1]/",
            "not a url",
        ] {
            assert!(STRICT.check(bad).is_err(), "{bad} should be refused");
        }
        let open = PushTargetPolicy {
            allow_http: true,
            allow_private: true,
        };
        assert!(open.check("http://127.0.0.1:9000/hook").is_ok());
        assert!(open.check("http://localhost:9000/hook").is_ok());
        assert!(open.check("file:///etc/passwd").is_err());
    }

    #[test]
    fn public_addresses() {
        assert!(is_public_ip("1.1.1.1".parse().unwrap()));
        assert!(is_public_ip("2606:4700::1111".parse().unwrap()));
        assert!(!is_public_ip("224.0.0.1".parse().unwrap()));
        assert!(!is_public_ip("255.255.255.255".parse().unwrap()));
        assert!(!is_public_ip("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn headers() {
        let h = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(check_headers(&h("Authorization", "Bearer x")).is_ok());
        assert!(check_headers(&h("X-Custom", "1")).is_ok());
        assert!(check_headers(&h("Host", "evil")).is_err());
        assert!(check_headers(&h("X-AMTP-Signature", "x")).is_err());
        assert!(check_headers(&h("bad name", "x")).is_err());
        assert!(check_headers(&h("X-A", "line\nbreak")).is_err());
    }

    #[test]
    fn schemas() {
        let ok = |v: &[&str]| check_schemas(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(
            ok(&[
                "agntcy:commerce.order.v1",
                "agntcy:commerce.*",
                "agntcy:hr.person.*"
            ])
            .is_ok()
        );
        assert!(ok(&["agntcy:*"]).is_err());
        assert!(ok(&["commerce.*"]).is_err());
        assert!(ok(&["agntcy:a.b.c.*"]).is_err());
        assert!(ok(&["agntcy:commerce.order"]).is_err());
    }
}
