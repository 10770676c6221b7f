//! Unit tests of configuration loading: every layer, precedence, every alias, every
//! validation rule, unknown keys and variables.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::config::{Backend, LogFormat, TlsVersion};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn yaml(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn ok(file: Option<&Path>, pairs: &[(&str, &str)]) -> Loaded {
    match load(file, env(pairs)) {
        Ok(l) => l,
        Err(e) => panic!("expected a valid configuration, got: {e}"),
    }
}

fn err(file: Option<&Path>, pairs: &[(&str, &str)]) -> ConfigError {
    match load(file, env(pairs)) {
        Ok(l) => panic!("expected an error, got {:?}", l.config),
        Err(e) => e,
    }
}

/// Asserts the message contains every fragment.
fn says(e: &ConfigError, fragments: &[&str]) {
    let msg = e.to_string();
    for f in fragments {
        assert!(msg.contains(f), "{msg:?} does not mention {f:?}");
    }
}

/// A readable certificate and key pair of files (contents are not parsed by `load`).
fn tls_files(dir: &tempfile::TempDir) -> (PathBuf, PathBuf) {
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, "cert").unwrap();
    std::fs::write(&key, "key").unwrap();
    (cert, key)
}

// ---- layers and precedence ------------------------------------------------------------

#[test]
fn defaults_alone_are_valid_and_match_the_brief() {
    let l = ok(None, &[]);
    let c = &l.config;
    assert_eq!(c, &Config::default());
    assert_eq!(
        c.server.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.server.domain, "localhost");
    assert_eq!(c.storage.data_dir, PathBuf::from("./data"));
    assert_eq!(c.storage.backend, Backend::Embedded);
    assert!(!c.tls.enabled);
    assert_eq!(c.tls.min_version, TlsVersion::V1_3);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert!(l.origins.is_empty());
    assert!(l.file.is_none());
}

#[test]
fn file_overrides_defaults() {
    let f = yaml(
        "server:\n  domain: Example.COM\n  listen: 127.0.0.1:9000\n  shutdown_grace: 5s\n\
         storage:\n  data_dir: /var/lib/agentgate\n\
         logging:\n  level: debug\n  format: text\n\
         message:\n  max_size: 1024\n  dedup_window: 2d\n\
         delivery:\n  push:\n    max_attempts: 3\n\
         federation:\n  static_records:\n    peer.test: \"v=amtp1;gateway=http://127.0.0.1:9\"\n  \
         allow_http: true\n  unsigned_peers: [peer.test]\n\
         websocket:\n  ioap:\n    mode: strict\n",
    );
    let l = ok(Some(f.path()), &[]);
    let c = &l.config;
    assert_eq!(c.server.domain, "example.com", "domains are normalised");
    assert_eq!(c.server.listen.port(), 9000);
    assert_eq!(c.server.shutdown_grace, Duration::from_secs(5));
    assert_eq!(c.storage.data_dir, PathBuf::from("/var/lib/agentgate"));
    assert_eq!(c.logging.level, "debug");
    assert_eq!(c.logging.format, LogFormat::Text);
    assert_eq!(c.message.max_size, 1024);
    assert_eq!(c.message.dedup_window, Duration::from_secs(2 * 86400));
    assert_eq!(c.delivery.push.max_attempts, 3);
    assert_eq!(
        c.federation
            .static_records
            .get("peer.test")
            .map(String::as_str),
        Some("v=amtp1;gateway=http://127.0.0.1:9")
    );
    assert!(c.federation.allow_http);
    assert_eq!(c.federation.unsigned_peers, vec!["peer.test".to_string()]);
    assert_eq!(c.websocket.ioap.mode, crate::config::IoapMode::Strict);
    assert_eq!(l.file.as_deref(), Some(f.path()));
    assert_eq!(
        l.origins.get("server.domain"),
        Some(&Origin::File(f.path().to_path_buf()))
    );
    // Untouched keys keep their defaults.
    assert_eq!(c.inbox, Config::default().inbox);
}

#[test]
fn empty_file_and_empty_sections_are_valid() {
    let f = yaml("");
    assert_eq!(ok(Some(f.path()), &[]).config, Config::default());
    let f = yaml("server:\ntls:\nfederation:\n  static_records:\n");
    assert_eq!(ok(Some(f.path()), &[]).config, Config::default());
}

#[test]
fn agentgate_config_variable_names_the_file() {
    let f = yaml("server:\n  domain: from-file.test\n");
    let l = ok(None, &[("AGENTGATE_CONFIG", f.path().to_str().unwrap())]);
    assert_eq!(l.config.server.domain, "from-file.test");
    // An explicit file wins over the variable.
    let g = yaml("server:\n  domain: explicit.test\n");
    let l = ok(
        Some(g.path()),
        &[("AGENTGATE_CONFIG", f.path().to_str().unwrap())],
    );
    assert_eq!(l.config.server.domain, "explicit.test");
}

#[test]
fn env_overrides_file_and_amtp_alias_sits_between() {
    let f = yaml("server:\n  domain: file.test\nlogging:\n  level: warn\n");
    // File < AMTP alias.
    let l = ok(Some(f.path()), &[("AMTP_DOMAIN", "amtp.test")]);
    assert_eq!(l.config.server.domain, "amtp.test");
    assert_eq!(
        l.origins["server.domain"],
        Origin::Env("AMTP_DOMAIN".into())
    );
    // AMTP alias < AGENTGATE variable.
    let l = ok(
        Some(f.path()),
        &[
            ("AMTP_DOMAIN", "amtp.test"),
            ("AGENTGATE_SERVER__DOMAIN", "agentgate.test"),
        ],
    );
    assert_eq!(l.config.server.domain, "agentgate.test");
    // And the file still supplies what no variable sets.
    assert_eq!(l.config.logging.level, "warn");
}

#[test]
fn overrides_beat_everything() {
    let f = yaml("server:\n  domain: file.test\n");
    let l = load_with_overrides(
        Some(f.path()),
        env(&[
            ("AGENTGATE_DOMAIN", "env.test"),
            ("AMTP_DOMAIN", "amtp.test"),
        ]),
        &[
            Override::new("server.domain", "flag.test", "--domain"),
            Override::new("server.listen", "127.0.0.1:0", "--listen"),
            Override::new("storage.data_dir", "/tmp/x", "--data-dir"),
        ],
    )
    .unwrap();
    assert_eq!(l.config.server.domain, "flag.test");
    assert_eq!(l.config.server.listen.port(), 0);
    assert_eq!(l.config.storage.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(l.origins["server.domain"], Origin::Flag("--domain".into()));
}

#[test]
fn invalid_override_names_the_flag() {
    let e = load_with_overrides(
        None,
        env(&[]),
        &[Override::new("server.domain", "bad_one", "--domain")],
    )
    .unwrap_err();
    says(&e, &["server.domain", "--domain", "underscore"]);
    let e = load_with_overrides(
        None,
        env(&[]),
        &[Override::new("server.listen", "nowhere", "--listen")],
    )
    .unwrap_err();
    says(&e, &["server.listen", "--listen"]);
}

// ---- AGENTGATE_ variables --------------------------------------------------------------

#[test]
fn nested_variables_and_short_forms() {
    let l = ok(
        None,
        &[
            ("AGENTGATE_DOMAIN", "short.test"),
            ("AGENTGATE_LISTEN", "0.0.0.0:8443"),
            ("AGENTGATE_DATA_DIR", "/srv/data"),
            ("AGENTGATE_DELIVERY__PUSH__MAX_ATTEMPTS", "5"),
            ("AGENTGATE_DELIVERY__PUSH__ALLOW_HTTP", "yes"),
            ("AGENTGATE_DELIVERY__PUSH__INITIAL_BACKOFF", "250ms"),
            ("AGENTGATE_INBOX__MAX_WAIT", "1m30s"),
            ("AGENTGATE_STORAGE__BACKEND", "nats"),
            (
                "AGENTGATE_STORAGE__NATS__SERVERS",
                "nats://a:4222, nats://b:4222,",
            ),
            ("AGENTGATE_STORAGE__NATS__REPLICAS", "3"),
            ("AGENTGATE_SERVER__PUBLIC_URL", "https://gw.short.test"),
            ("AGENTGATE_METRICS__REQUIRE_AUTH", "false"),
        ],
    );
    let c = &l.config;
    assert_eq!(c.server.domain, "short.test");
    assert_eq!(
        c.server.listen,
        "0.0.0.0:8443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.storage.data_dir, PathBuf::from("/srv/data"));
    assert_eq!(c.delivery.push.max_attempts, 5);
    assert!(c.delivery.push.allow_http);
    assert_eq!(c.delivery.push.initial_backoff, Duration::from_millis(250));
    assert_eq!(c.inbox.max_wait, Duration::from_secs(90));
    assert_eq!(c.storage.backend, Backend::Nats);
    assert_eq!(
        c.storage.nats.servers,
        vec!["nats://a:4222", "nats://b:4222"]
    );
    assert_eq!(c.storage.nats.replicas, 3);
    assert_eq!(
        c.server.public_url.as_deref(),
        Some("https://gw.short.test")
    );
    assert!(!c.metrics.require_auth);
    // Plain HTTP on all interfaces is allowed, with a warning.
    assert!(
        l.warnings.iter().any(|w| w.contains("plain HTTP")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn variable_keys_are_case_insensitive() {
    let l = ok(None, &[("AGENTGATE_Server__Domain", "mixed.test")]);
    assert_eq!(l.config.server.domain, "mixed.test");
}

#[test]
fn lists_accept_json_and_maps_accept_json_objects() {
    let l = ok(
        None,
        &[
            (
                "AGENTGATE_STORAGE__NATS__SERVERS",
                r#"["nats://x:1","nats://y:2"]"#,
            ),
            (
                "AGENTGATE_FEDERATION__STATIC_RECORDS",
                r#"{"Peer.Test":"v=amtp1;gateway=http://127.0.0.1:9001"}"#,
            ),
            (
                "AGENTGATE_FEDERATION__UNSIGNED_PEERS",
                "peer.test,other.test",
            ),
            ("AGENTGATE_FEDERATION__ALLOW_HTTP", "true"),
        ],
    );
    assert_eq!(
        l.config.storage.nats.servers,
        vec!["nats://x:1", "nats://y:2"]
    );
    assert_eq!(
        l.config.federation.static_records["peer.test"],
        "v=amtp1;gateway=http://127.0.0.1:9001"
    );
    assert_eq!(
        l.config.federation.unsigned_peers,
        vec!["peer.test", "other.test"]
    );

    let e = err(None, &[("AGENTGATE_FEDERATION__STATIC_RECORDS", "a=b;c=d")]);
    says(&e, &["federation.static_records", "JSON object"]);
}

#[test]
fn empty_value_clears_an_optional_key() {
    let f = yaml("server:\n  public_url: https://x.test\n");
    let l = ok(Some(f.path()), &[("AGENTGATE_SERVER__PUBLIC_URL", "")]);
    assert_eq!(l.config.server.public_url, None);
}

#[test]
fn unknown_nested_variable_is_an_error_naming_it() {
    let e = err(None, &[("AGENTGATE_SERVER__DOMIAN", "x.test")]);
    assert!(matches!(e, ConfigError::UnknownVariable { .. }));
    says(
        &e,
        &["AGENTGATE_SERVER__DOMIAN", "AGENTGATE_SERVER__DOMAIN"],
    );

    let e = err(None, &[("AGENTGATE_NOSUCH__KEY", "1")]);
    says(&e, &["AGENTGATE_NOSUCH__KEY", "no section nosuch"]);

    // A section addressed with `__` is an error too.
    let e = err(None, &[("AGENTGATE_DELIVERY__PUSH", "x")]);
    says(&e, &["AGENTGATE_DELIVERY__PUSH", "section"]);

    let e = err(None, &[("AGENTGATE_FEDERATION__STATIC_RECORDS__PEER", "x")]);
    says(&e, &["JSON object", "AGENTGATE_FEDERATION__STATIC_RECORDS"]);
}

#[test]
fn unknown_plain_variable_is_a_warning_and_cli_variables_are_ignored() {
    let l = ok(
        None,
        &[
            ("AGENTGATE_DOMIAN", "x.test"),
            ("AGENTGATE_GATEWAY_URL", "http://127.0.0.1:1"),
            ("AGENTGATE_ADMIN_KEY_FILE", "/nonexistent/admin.key"),
            ("AGENTGATE_CONFIG", ""),
            ("AGENTGATE_AGENT_KEY", "k"),
            ("PATH", "/usr/bin"),
        ],
    );
    assert_eq!(l.config, Config::default());
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert!(l.warnings[0].contains("AGENTGATE_DOMIAN"));
    assert!(l.warnings[0].contains("did you mean AGENTGATE_DOMAIN"));
}

#[test]
fn malformed_variable_values_name_key_and_variable() {
    let e = err(None, &[("AGENTGATE_DELIVERY__PUSH__MAX_ATTEMPTS", "many")]);
    says(
        &e,
        &[
            "delivery.push.max_attempts",
            "AGENTGATE_DELIVERY__PUSH__MAX_ATTEMPTS",
            "whole number",
        ],
    );
    let e = err(None, &[("AGENTGATE_FEDERATION__ALLOW_HTTP", "maybe")]);
    says(&e, &["federation.allow_http", "true or false"]);
    let e = err(None, &[("AGENTGATE_LISTEN", "localhost")]);
    says(&e, &["server.listen", "AGENTGATE_LISTEN", "socket address"]);
    let e = err(None, &[("AGENTGATE_MESSAGE__DEDUP_WINDOW", "forever")]);
    says(
        &e,
        &["message.dedup_window", "AGENTGATE_MESSAGE__DEDUP_WINDOW"],
    );
    let e = err(None, &[("AGENTGATE_LOGGING__FORMAT", "xml")]);
    says(&e, &["logging.format", "AGENTGATE_LOGGING__FORMAT", "xml"]);
    let e = err(None, &[("AGENTGATE_STORAGE__NATS__REPLICAS", "300")]);
    says(
        &e,
        &["storage.nats.replicas", "AGENTGATE_STORAGE__NATS__REPLICAS"],
    );
}

#[test]
fn conflicting_forms_in_one_layer_are_refused() {
    let e = err(
        None,
        &[
            ("AGENTGATE_DOMAIN", "a.test"),
            ("AGENTGATE_SERVER__DOMAIN", "b.test"),
        ],
    );
    assert!(matches!(e, ConfigError::Conflict { .. }));
    says(
        &e,
        &[
            "AGENTGATE_DOMAIN",
            "AGENTGATE_SERVER__DOMAIN",
            "server.domain",
        ],
    );
    // The same value twice is fine.
    ok(
        None,
        &[
            ("AGENTGATE_DOMAIN", "a.test"),
            ("AGENTGATE_SERVER__DOMAIN", "a.test"),
        ],
    );
    let e = err(
        None,
        &[("AMTP_LOG_LEVEL", "debug"), ("AMTP_LOGGING_LEVEL", "info")],
    );
    says(&e, &["AMTP_LOG_LEVEL", "AMTP_LOGGING_LEVEL"]);
}

// ---- AMTP aliases -----------------------------------------------------------------------

#[test]
fn every_amtp_alias_applies() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(&dir);
    let admin = dir.path().join("admin.key");
    std::fs::write(&admin, "k\n").unwrap();
    let l = ok(
        None,
        &[
            ("AMTP_DOMAIN", "Company-A.com"),
            ("AMTP_SERVER_ADDRESS", ":8443"),
            ("AMTP_TLS_ENABLED", "true"),
            ("AMTP_TLS_CERT_FILE", cert.to_str().unwrap()),
            ("AMTP_TLS_KEY_FILE", key.to_str().unwrap()),
            ("AMTP_TLS_MIN_VERSION", "1.2"),
            ("AMTP_AUTH_ADMIN_KEY_FILE", admin.to_str().unwrap()),
            ("AMTP_MESSAGE_MAX_SIZE", "10485760"),
            ("AMTP_LOGGING_LEVEL", "WARNING"),
            ("AMTP_LOGGING_FORMAT", "TEXT"),
            ("AMTP_IDEMPOTENCY_TTL", "168h"),
            ("AMTP_DNS_ALLOW_HTTP", "true"),
        ],
    );
    let c = &l.config;
    assert_eq!(c.server.domain, "company-a.com");
    assert_eq!(
        c.server.listen,
        "0.0.0.0:8443".parse::<SocketAddr>().unwrap()
    );
    assert!(c.tls.enabled);
    assert_eq!(c.tls.cert_file.as_deref(), Some(cert.as_path()));
    assert_eq!(c.tls.key_file.as_deref(), Some(key.as_path()));
    assert_eq!(c.tls.min_version, TlsVersion::V1_2);
    assert_eq!(c.auth.admin_key_file.as_deref(), Some(admin.as_path()));
    assert_eq!(c.message.max_size, 10_485_760);
    assert_eq!(c.logging.level, "warn");
    assert_eq!(c.logging.format, LogFormat::Text);
    assert_eq!(c.message.dedup_window, Duration::from_secs(168 * 3600));
    assert!(c.federation.allow_http);
}

#[test]
fn amtp_alternative_spellings() {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin.key");
    std::fs::write(&admin, "k\n").unwrap();
    let l = ok(
        None,
        &[
            ("AMTP_ADMIN_KEY_FILE", admin.to_str().unwrap()),
            ("AMTP_LOG_LEVEL", "debug"),
            ("AMTP_LOG_FORMAT", "json"),
            ("AMTP_SERVER_ADDRESS", "localhost:9443"),
            ("AMTP_IDEMPOTENCY_TTL", "1h30m"),
        ],
    );
    assert_eq!(
        l.config.auth.admin_key_file.as_deref(),
        Some(admin.as_path())
    );
    assert_eq!(l.config.logging.level, "debug");
    assert_eq!(l.config.logging.format, LogFormat::Json);
    assert_eq!(
        l.config.server.listen,
        "127.0.0.1:9443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(l.config.message.dedup_window, Duration::from_secs(5400));
    let l = ok(None, &[("AMTP_SERVER_ADDRESS", "[::1]:9443")]);
    assert_eq!(
        l.config.server.listen,
        "[::1]:9443".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn amtp_auth_required_is_accepted_with_a_warning() {
    for v in ["true", "false"] {
        let l = ok(None, &[("AMTP_AUTH_REQUIRED", v)]);
        assert_eq!(l.config, Config::default());
        assert!(
            l.warnings
                .iter()
                .any(|w| w.contains("AMTP_AUTH_REQUIRED") && w.contains("always requires")),
            "{:?}",
            l.warnings
        );
    }
}

#[test]
fn unknown_amtp_variables_are_ignored_with_a_warning() {
    let l = ok(
        None,
        &[
            ("AMTP_DNS_RESOLVERS", "8.8.8.8:53"),
            ("AMTP_READ_TIMEOUT", "30s"),
        ],
    );
    assert_eq!(l.config, Config::default());
    assert_eq!(l.warnings.len(), 2);
    assert!(l.warnings.iter().all(|w| w.contains("ignored")));
}

#[test]
fn amtp_invalid_domain_names_the_alias() {
    let e = err(None, &[("AMTP_DOMAIN", "invalid_domain")]);
    says(&e, &["server.domain", "AMTP_DOMAIN", "underscore"]);
}

// ---- YAML file errors -----------------------------------------------------------------

#[test]
fn unknown_yaml_keys_are_errors_naming_the_path() {
    let f = yaml("server:\n  domian: x.test\n");
    let e = err(Some(f.path()), &[]);
    assert!(matches!(e, ConfigError::UnknownKey { .. }));
    says(&e, &["server.domian", "did you mean server.domain?"]);
    assert_eq!(e.key(), Some("server.domian"));

    let f = yaml("delivery:\n  push:\n    retries: 3\n");
    says(&err(Some(f.path()), &[]), &["delivery.push.retries"]);

    let f = yaml("nosuch: 1\n");
    says(&err(Some(f.path()), &[]), &["unknown key nosuch"]);

    // agentry's own keys get a pointer to ours.
    let f = yaml("server:\n  address: \":8443\"\n");
    says(
        &err(Some(f.path()), &[]),
        &["server.address", "server.listen"],
    );
    let f = yaml("auth:\n  require_auth: true\n");
    says(
        &err(Some(f.path()), &[]),
        &["auth.require_auth", "always requires"],
    );
}

#[test]
fn yaml_type_errors_name_the_key_and_file() {
    let f = yaml("inbox:\n  max_limit: lots\n");
    let e = err(Some(f.path()), &[]);
    says(
        &e,
        &[
            "inbox.max_limit",
            &f.path().display().to_string(),
            "AGENTGATE_INBOX__MAX_LIMIT",
        ],
    );
    let f = yaml("server: 5\n");
    says(&err(Some(f.path()), &[]), &["server"]);
}

#[test]
fn yaml_syntax_and_missing_file_errors() {
    let f = yaml("server: [unclosed\n");
    assert!(matches!(
        err(Some(f.path()), &[]),
        ConfigError::Syntax { .. }
    ));
    let f = yaml("- a\n- b\n");
    says(&err(Some(f.path()), &[]), &["mapping"]);
    let e = err(Some(Path::new("/nonexistent/agentgate.yaml")), &[]);
    assert!(matches!(e, ConfigError::Read { .. }));
    says(&e, &["/nonexistent/agentgate.yaml"]);
}

#[test]
fn yaml_tls_min_version_may_be_a_number() {
    let f = yaml("tls:\n  min_version: 1.2\n");
    assert_eq!(
        ok(Some(f.path()), &[]).config.tls.min_version,
        TlsVersion::V1_2
    );
    let f = yaml("tls:\n  min_version: TLSv1.3\n");
    assert_eq!(
        ok(Some(f.path()), &[]).config.tls.min_version,
        TlsVersion::V1_3
    );
    let f = yaml("tls:\n  min_version: \"1.1\"\n");
    says(&err(Some(f.path()), &[]), &["tls.min_version", "1.1"]);
}

// ---- validation -------------------------------------------------------------------------

#[test]
fn invalid_domain_names_key_variable_and_reason() {
    let e = err(None, &[("AGENTGATE_DOMAIN", "invalid_domain")]);
    assert_eq!(e.key(), Some("server.domain"));
    says(
        &e,
        &[
            "server.domain",
            "AGENTGATE_DOMAIN",
            "underscore",
            "invalid_domain",
        ],
    );

    let f = yaml("server:\n  domain: domain-.com\n");
    let e = err(Some(f.path()), &[]);
    says(&e, &["server.domain", "AGENTGATE_SERVER__DOMAIN", "hyphen"]);
    let e = err(None, &[("AGENTGATE_DOMAIN", "")]);
    says(&e, &["server.domain", "empty"]);
}

#[test]
fn ip_literal_domain_is_a_warning() {
    let l = ok(None, &[("AGENTGATE_DOMAIN", "127.0.0.1")]);
    assert!(l.warnings.iter().any(|w| w.contains("IP address")));
}

#[test]
fn tls_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(&dir);
    let cert_s = cert.to_str().unwrap();
    let key_s = key.to_str().unwrap();

    // Both files turn TLS on.
    let l = ok(
        None,
        &[
            ("AGENTGATE_TLS__CERT_FILE", cert_s),
            ("AGENTGATE_TLS__KEY_FILE", key_s),
        ],
    );
    assert!(l.config.tls.enabled);
    // …unless it is switched off explicitly.
    let l = ok(
        None,
        &[
            ("AGENTGATE_TLS__CERT_FILE", cert_s),
            ("AGENTGATE_TLS__KEY_FILE", key_s),
            ("AMTP_TLS_ENABLED", "false"),
        ],
    );
    assert!(!l.config.tls.enabled);

    // Enabled without files.
    let e = err(None, &[("AGENTGATE_TLS__ENABLED", "true")]);
    says(
        &e,
        &["tls.enabled", "AGENTGATE_TLS__ENABLED", "tls.cert_file"],
    );
    // One file without the other.
    let e = err(None, &[("AGENTGATE_TLS__CERT_FILE", cert_s)]);
    says(&e, &["tls.key_file", "required"]);
    let e = err(None, &[("AGENTGATE_TLS__KEY_FILE", key_s)]);
    says(&e, &["tls.cert_file", "required"]);
    // Unreadable file.
    let e = err(
        None,
        &[
            ("AMTP_TLS_CERT_FILE", "/nonexistent/cert.pem"),
            ("AGENTGATE_TLS__KEY_FILE", key_s),
        ],
    );
    says(&e, &["tls.cert_file", "AMTP_TLS_CERT_FILE", "cannot read"]);
    let e = err(
        None,
        &[
            ("AGENTGATE_TLS__CERT_FILE", cert_s),
            ("AGENTGATE_TLS__KEY_FILE", dir.path().to_str().unwrap()),
        ],
    );
    says(&e, &["tls.key_file", "not a regular file"]);
}

#[test]
fn admin_key_file_must_be_readable() {
    let e = err(
        None,
        &[("AMTP_AUTH_ADMIN_KEY_FILE", "/nonexistent/admin.key")],
    );
    says(
        &e,
        &[
            "auth.admin_key_file",
            "AMTP_AUTH_ADMIN_KEY_FILE",
            "cannot read",
        ],
    );
}

#[test]
fn limits_must_be_positive() {
    for (var, key) in [
        ("AGENTGATE_MESSAGE__MAX_SIZE", "message.max_size"),
        ("AGENTGATE_INBOX__DEFAULT_LIMIT", "inbox.default_limit"),
        (
            "AGENTGATE_DELIVERY__PUSH__MAX_ATTEMPTS",
            "delivery.push.max_attempts",
        ),
        (
            "AGENTGATE_DELIVERY__PUSH__CONCURRENCY",
            "delivery.push.concurrency",
        ),
        (
            "AGENTGATE_SERVER__MAX_CONNECTIONS",
            "server.max_connections",
        ),
        (
            "AGENTGATE_STORAGE__EMBEDDED__CACHE_MB",
            "storage.embedded.cache_mb",
        ),
        ("AGENTGATE_STORAGE__NATS__REPLICAS", "storage.nats.replicas"),
    ] {
        let e = err(None, &[(var, "0")]);
        says(&e, &[key, var]);
    }
    for (var, key) in [
        (
            "AGENTGATE_SERVER__REQUEST_TIMEOUT",
            "server.request_timeout",
        ),
        ("AGENTGATE_MESSAGE__DEDUP_WINDOW", "message.dedup_window"),
        ("AGENTGATE_DELIVERY__PUSH__TIMEOUT", "delivery.push.timeout"),
        (
            "AGENTGATE_DISCOVERY__ACTIVE_WINDOW",
            "discovery.active_window",
        ),
    ] {
        let e = err(None, &[(var, "0s")]);
        says(&e, &[key, var, "greater than zero"]);
    }
    // inbox.max_limit 0 also breaks default ≤ max: both are reported.
    let e = err(None, &[("AGENTGATE_INBOX__MAX_LIMIT", "0")]);
    assert_eq!(e.problems().len(), 2, "{e}");
    says(
        &e,
        &[
            "2 configuration problems",
            "inbox.max_limit",
            "inbox.default_limit",
        ],
    );
    let e = err(None, &[("AGENTGATE_MESSAGE__MAX_SIZE", "2000000000")]);
    says(&e, &["message.max_size", "between 1 and"]);
}

#[test]
fn cross_key_rules() {
    let e = err(None, &[("AGENTGATE_INBOX__DEFAULT_LIMIT", "2000")]);
    says(&e, &["inbox.default_limit", "inbox.max_limit (1000)"]);
    let e = err(None, &[("AGENTGATE_INBOX__MAX_LIMIT", "10")]);
    // default_limit (50, the default) now exceeds max_limit: named with its variable.
    says(
        &e,
        &[
            "inbox.default_limit",
            "the default",
            "AGENTGATE_INBOX__DEFAULT_LIMIT",
        ],
    );
    let e = err(None, &[("AGENTGATE_INBOX__MAX_WAIT", "6m")]);
    says(&e, &["inbox.max_wait", "at most 5m"]);
    ok(None, &[("AGENTGATE_INBOX__MAX_WAIT", "5m")]);
    let e = err(None, &[("AGENTGATE_DELIVERY__PUSH__INITIAL_BACKOFF", "2h")]);
    says(
        &e,
        &["delivery.push.initial_backoff", "delivery.push.max_backoff"],
    );
}

#[test]
fn public_url_must_be_http() {
    ok(
        None,
        &[("AGENTGATE_SERVER__PUBLIC_URL", "http://127.0.0.1:8080")],
    );
    let e = err(None, &[("AGENTGATE_SERVER__PUBLIC_URL", "ftp://x.test")]);
    says(
        &e,
        &[
            "server.public_url",
            "AGENTGATE_SERVER__PUBLIC_URL",
            "scheme",
        ],
    );
    let e = err(None, &[("AGENTGATE_SERVER__PUBLIC_URL", "not a url")]);
    says(&e, &["server.public_url", "not a URL"]);
}

#[test]
fn nats_rules_and_redaction() {
    let e = err(
        None,
        &[
            ("AGENTGATE_STORAGE__BACKEND", "nats"),
            ("AGENTGATE_STORAGE__NATS__SERVERS", ""),
        ],
    );
    says(&e, &["storage.nats.servers", "at least one"]);
    let e = err(
        None,
        &[
            ("AGENTGATE_STORAGE__BACKEND", "nats"),
            (
                "AGENTGATE_STORAGE__NATS__SERVERS",
                "http://user:secret@x:4222",
            ),
        ],
    );
    says(&e, &["storage.nats.servers[0]", "scheme"]);
    assert!(!e.to_string().contains("secret"), "{e}");
    // The embedded backend ignores the NATS list.
    ok(None, &[("AGENTGATE_STORAGE__NATS__SERVERS", "")]);

    let l = ok(
        None,
        &[
            ("AGENTGATE_STORAGE__BACKEND", "nats"),
            (
                "AGENTGATE_STORAGE__NATS__SERVERS",
                "nats://user:secret@n1:4222,nats://n2:4222",
            ),
        ],
    );
    let json = redacted(&l.config).to_string();
    assert!(
        !json.contains("secret") && json.contains("nats://***@n1:4222"),
        "{json}"
    );
    assert!(json.contains("nats://n2:4222"));
    let yaml_text = to_yaml(&l.config);
    assert!(
        !yaml_text.contains("secret") && yaml_text.contains("***@n1"),
        "{yaml_text}"
    );
    // The loaded config itself keeps the credentials for the backend to use.
    assert!(l.config.storage.nats.servers[0].contains("secret"));
}

#[test]
fn logging_level_must_be_a_filter() {
    ok(
        None,
        &[("AGENTGATE_LOGGING__LEVEL", "info,agentgate_gateway=debug")],
    );
    let e = err(None, &[("AGENTGATE_LOGGING__LEVEL", "loud=[")]);
    says(&e, &["logging.level", "AGENTGATE_LOGGING__LEVEL"]);
    let e = err(None, &[("AMTP_LOG_LEVEL", "")]);
    says(&e, &["logging.level", "empty"]);
}

#[test]
fn federation_domains_are_validated_and_normalised() {
    let e = err(
        None,
        &[(
            "AGENTGATE_FEDERATION__STATIC_RECORDS",
            r#"{"bad_domain":"v=amtp1;gateway=x"}"#,
        )],
    );
    says(
        &e,
        &[
            "federation.static_records.bad_domain",
            "AGENTGATE_FEDERATION__STATIC_RECORDS",
            "underscore",
        ],
    );
    let f = yaml("federation:\n  static_records:\n    a.test: \"\"\n");
    says(
        &err(Some(f.path()), &[]),
        &[
            "federation.static_records.a.test",
            "not a usable _amtp record",
            "no version",
        ],
    );
    let f = yaml("federation:\n  static_records:\n    a.test: \"v=amtp1;gateway=ftp://x\"\n");
    says(
        &err(Some(f.path()), &[]),
        &[
            "federation.static_records.a.test",
            r#"gateway "ftp://x" is not an http"#,
        ],
    );
    let f = yaml(
        "federation:\n  static_records:\n    a.test: \"v=amtp1;gateway=http://127.0.0.1:9\"\n",
    );
    says(
        &err(Some(f.path()), &[]),
        &[
            "federation.static_records.a.test",
            "plain http",
            "federation.allow_http",
        ],
    );
    let f = yaml(
        "federation:\n  allow_http: true\n  static_records:\n    A.test: \"v=amtp1;gateway=https://a\"\n    a.TEST: \"v=amtp1;gateway=https://b\"\n",
    );
    says(&err(Some(f.path()), &[]), &["listed twice"]);
    let e = err(
        None,
        &[("AGENTGATE_FEDERATION__UNSIGNED_PEERS", "ok.test,not ok")],
    );
    says(&e, &["federation.unsigned_peers[1]"]);
    let l = ok(
        None,
        &[("AGENTGATE_FEDERATION__UNSIGNED_PEERS", "Peer.TEST")],
    );
    assert_eq!(l.config.federation.unsigned_peers, vec!["peer.test"]);
}

#[test]
fn redact_text_masks_userinfo_only() {
    assert_eq!(redact_text("nats://u:p@h:4222"), "nats://***@h:4222");
    assert_eq!(redact_text("nats://token@h"), "nats://***@h");
    assert_eq!(redact_text("nats://h:4222"), "nats://h:4222");
    assert_eq!(redact_text("https://h/path@x"), "https://h/path@x");
    assert_eq!(redact_text("plain"), "plain");
}

#[test]
fn yaml_output_round_trips() {
    let c = ok(None, &[("AGENTGATE_DOMAIN", "round.test")]).config;
    let text = to_yaml(&c);
    let f = yaml(&text);
    assert_eq!(ok(Some(f.path()), &[]).config, c);
    let json = serde_json::to_string(&redacted(&c)).unwrap();
    let back: Config = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn effective_public_url() {
    let mut c = Config::default();
    assert_eq!(c.effective_public_url(), "http://127.0.0.1:8080");
    c.server.listen = "0.0.0.0:8443".parse().unwrap();
    c.server.domain = "company-a.com".into();
    c.tls.enabled = true;
    assert_eq!(c.effective_public_url(), "https://company-a.com:8443");
    c.server.public_url = Some("https://gw.example".into());
    assert_eq!(c.effective_public_url(), "https://gw.example");
}

#[test]
fn env_name_maps_keys() {
    assert_eq!(env_name("server.domain"), "AGENTGATE_SERVER__DOMAIN");
    assert_eq!(
        env_name("delivery.push.max_attempts"),
        "AGENTGATE_DELIVERY__PUSH__MAX_ATTEMPTS"
    );
}

#[test]
fn every_documented_key_is_settable_from_the_environment() {
    // Every leaf of the default tree can be addressed by its canonical variable.
    fn leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) if !MAP_KEYS.contains(&prefix) => {
                for (k, sub) in m {
                    leaves(&join(prefix, k), sub, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut keys = Vec::new();
    leaves(
        "",
        &serde_json::to_value(Config::default()).unwrap(),
        &mut keys,
    );
    assert!(keys.len() > 30, "{keys:?}");
    let schema = serde_json::to_value(Config::default()).unwrap();
    for k in keys {
        assert!(kind_of(&schema, &k).is_some(), "{k} is not settable");
    }
}

#[test]
fn every_key_is_documented() {
    fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) if !MAP_KEYS.contains(&prefix) => {
                for (k, child) in map {
                    leaves(&join(prefix, k), child, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let docs = include_str!("../../../../docs/configuration.md");
    let mut keys = Vec::new();
    leaves(
        "",
        &serde_json::to_value(Config::default()).unwrap(),
        &mut keys,
    );
    assert!(keys.len() > 40, "{keys:?}");
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !docs.contains(&format!("`{k}`")))
        .collect();
    assert!(missing.is_empty(), "undocumented keys: {missing:?}");
}
