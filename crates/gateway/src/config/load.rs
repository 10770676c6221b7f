//! Loading and validating configuration.
//!
//! Layers, lowest first, each overriding the one before key by key:
//!
//! 1. the defaults of [`Config`];
//! 2. one YAML file (`--config FILE`, or `AGENTGATE_CONFIG`); an unknown key is an error
//!    naming its path;
//! 3. the AMTP deployment guide's variables (`AMTP_DOMAIN`, `AMTP_SERVER_ADDRESS`, …),
//!    accepted as aliases so agentry deployments move over unchanged;
//! 4. `AGENTGATE_…` variables: `AGENTGATE_SECTION__KEY` (double underscore = one level
//!    down, case-insensitive), plus the short forms `AGENTGATE_DOMAIN`,
//!    `AGENTGATE_LISTEN` and `AGENTGATE_DATA_DIR`;
//! 5. [`Override`]s given by the caller (the `serve` command's flags).
//!
//! The environment is passed in as a list of `(name, value)` pairs; nothing here reads
//! the process environment, so tests need no locks. The merged result is validated as a
//! whole, and every refusal names the key, the variable that sets it and the reason.
//!
//! Variables in the environment are converted by the type of the key they set: booleans
//! accept `true/false/1/0/yes/no/on/off`; lists are comma-separated (or a JSON array);
//! maps (`federation.static_records`) are a JSON object; durations use humantime
//! (`30s`, `7d`, `1h30m`, `168h`); an empty value clears an optional key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentgate_codec::amtp_txt::parse_record;
use agentgate_core::Domain;
use serde_json::{Map, Value};

use super::{Backend, Config};

/// Variables the command-line client reads for itself. They are not configuration keys,
/// so the loader neither applies nor reports them.
pub const CLI_VARIABLES: &[&str] = &[
    "AGENTGATE_CONFIG",
    "AGENTGATE_GATEWAY_URL",
    "AGENTGATE_ADMIN_KEY_FILE",
    "AGENTGATE_AGENT_KEY",
];

/// Short forms of the three most used keys: (variable, key).
pub const SHORT_FORMS: &[(&str, &str)] = &[
    ("AGENTGATE_DOMAIN", "server.domain"),
    ("AGENTGATE_LISTEN", "server.listen"),
    ("AGENTGATE_DATA_DIR", "storage.data_dir"),
];

/// How an AMTP alias's value is translated before it is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AmtpConv {
    /// Used as it is.
    Plain,
    /// Go listen address: `:8443` means all interfaces, `localhost:8443` loopback.
    Address,
    /// Log level names as agentry spells them (`warning`, `fatal`).
    Level,
    /// Lowercased.
    Lower,
}

/// The AMTP deployment guide's variables that agentgate honours: (variable, key, how).
const AMTP_ALIASES: &[(&str, &str, AmtpConv)] = &[
    ("AMTP_DOMAIN", "server.domain", AmtpConv::Plain),
    ("AMTP_SERVER_ADDRESS", "server.listen", AmtpConv::Address),
    ("AMTP_TLS_ENABLED", "tls.enabled", AmtpConv::Plain),
    ("AMTP_TLS_CERT_FILE", "tls.cert_file", AmtpConv::Plain),
    ("AMTP_TLS_KEY_FILE", "tls.key_file", AmtpConv::Plain),
    ("AMTP_TLS_MIN_VERSION", "tls.min_version", AmtpConv::Plain),
    (
        "AMTP_AUTH_ADMIN_KEY_FILE",
        "auth.admin_key_file",
        AmtpConv::Plain,
    ),
    (
        "AMTP_ADMIN_KEY_FILE",
        "auth.admin_key_file",
        AmtpConv::Plain,
    ),
    ("AMTP_MESSAGE_MAX_SIZE", "message.max_size", AmtpConv::Plain),
    ("AMTP_LOGGING_LEVEL", "logging.level", AmtpConv::Level),
    ("AMTP_LOG_LEVEL", "logging.level", AmtpConv::Level),
    ("AMTP_LOGGING_FORMAT", "logging.format", AmtpConv::Lower),
    ("AMTP_LOG_FORMAT", "logging.format", AmtpConv::Lower),
    (
        "AMTP_IDEMPOTENCY_TTL",
        "message.dedup_window",
        AmtpConv::Plain,
    ),
    (
        "AMTP_DNS_ALLOW_HTTP",
        "federation.allow_http",
        AmtpConv::Plain,
    ),
];

/// Accepted for compatibility but without effect: authentication is always required.
const AMTP_AUTH_REQUIRED: &str = "AMTP_AUTH_REQUIRED";

/// Keys whose value is a free-form map rather than a section of known keys.
const MAP_KEYS: &[&str] = &["federation.static_records"];

/// Longest `inbox.max_wait` accepted.
pub const MAX_LONG_POLL: Duration = Duration::from_secs(300);
/// Largest `message.max_size` accepted (1 GiB).
pub const MAX_MESSAGE_SIZE: usize = 1 << 30;
/// Largest `server.max_connections` accepted.
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// Where the value of a key came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Not set anywhere: the built-in default.
    #[default]
    Default,
    /// The YAML file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// A command-line flag (or another caller override), by name.
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(p) => write!(f, "file {}", p.display()),
            Origin::Env(v) => write!(f, "environment variable {v}"),
            Origin::Flag(n) => write!(f, "flag {n}"),
        }
    }
}

/// A value set by the caller above every other layer, such as `serve --domain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// Key path, e.g. `server.domain`.
    pub key: String,
    /// The value, written as it would be in an environment variable.
    pub value: String,
    /// Where it came from, for messages, e.g. `--domain`.
    pub source: String,
}

impl Override {
    /// An override of `key` with `value`, named `source` in messages.
    pub fn new(key: &str, value: impl Into<String>, source: &str) -> Override {
        Override {
            key: key.to_string(),
            value: value.into(),
            source: source.to_string(),
        }
    }
}

/// A loaded, validated configuration with what the loader noticed on the way.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Things the operator should know that do not stop startup (ignored or
    /// compatibility-only variables, plain HTTP on a public address, …).
    pub warnings: Vec<String>,
    /// The YAML file read, if any.
    pub file: Option<PathBuf>,
    /// Where each key set by a layer above the defaults came from, by key path.
    pub origins: BTreeMap<String, Origin>,
}

/// One invalid value: the key, what set it, and why it is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `server.domain`.
    pub key: String,
    /// The environment variable that sets this key: the one that did, or the canonical
    /// `AGENTGATE_…` name when it came from elsewhere.
    pub env: String,
    /// Where the refused value came from.
    pub origin: Origin,
    /// The refused value as text (credentials masked), when there is one.
    pub value: Option<String>,
    /// Why it is refused.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {} (", self.key, self.reason)?;
        if let Some(v) = &self.value {
            write!(f, "value {v} ")?;
        }
        let short = SHORT_FORMS
            .iter()
            .find(|(_, k)| *k == self.key)
            .map(|(v, _)| format!(" or {v}"))
            .unwrap_or_default();
        match &self.origin {
            Origin::Default => write!(f, "the default; set it with {}{short})", self.env),
            Origin::Env(v) => write!(f, "from environment variable {v})"),
            Origin::File(p) => {
                write!(f, "from {}; variable {}{short})", p.display(), self.env)
            }
            Origin::Flag(n) => write!(f, "from {n})"),
        }
    }
}

/// Why configuration could not be loaded. Every variant names the key, variable or file
/// at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The YAML file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML file is not valid YAML, or not a mapping of sections.
    #[error("config file {}: {reason}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line and column when known.
        reason: String,
    },
    /// The YAML file has a key agentgate does not know.
    #[error("config file {}: unknown key {key}{}", path.display(), hint_text(hint))]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// Full path of the key, e.g. `server.adress`.
        key: String,
        /// A suggestion, when one is close.
        hint: Option<String>,
    },
    /// An `AGENTGATE_…__…` variable that names no key.
    #[error(
        "environment variable {var} names no configuration key{}",
        hint_text(hint)
    )]
    UnknownVariable {
        /// The variable.
        var: String,
        /// A suggestion, when one is close.
        hint: Option<String>,
    },
    /// Two variables of the same layer set one key to different values.
    #[error(
        "environment variables {first} and {second} both set {key}, to different values; \
         keep one"
    )]
    Conflict {
        /// The key.
        key: String,
        /// One variable.
        first: String,
        /// The other.
        second: String,
    },
    /// One or more values are malformed or break a rule.
    #[error("{}", problems_text(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The key path at fault, when the error is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. } | ConfigError::Conflict { key, .. } => Some(key),
            ConfigError::Invalid(p) => p.first().map(|p| p.key.as_str()),
            _ => None,
        }
    }

    /// The invalid values, for [`ConfigError::Invalid`]; empty otherwise.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(p) => p,
            _ => &[],
        }
    }
}

fn hint_text(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
}

fn problems_text(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} configuration problems:", many.len());
            for p in many {
                s.push_str("\n  - ");
                s.push_str(&p.to_string());
            }
            s
        }
    }
}

/// The canonical variable for a key: `server.domain` → `AGENTGATE_SERVER__DOMAIN`.
pub fn env_name(key: &str) -> String {
    format!("AGENTGATE_{}", key.to_ascii_uppercase().replace('.', "__"))
}

/// Loads configuration from an optional YAML file and the given environment.
///
/// When `file` is `None`, `AGENTGATE_CONFIG` in `env` names the file, if set. See the
/// [module documentation](self) for the layers.
pub fn load<I>(file: Option<&Path>, env: I) -> Result<Loaded, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    load_with_overrides(file, env, &[])
}

/// As [`load`], with `overrides` applied above every other layer.
pub fn load_with_overrides<I>(
    file: Option<&Path>,
    env: I,
    overrides: &[Override],
) -> Result<Loaded, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut vars: Vec<(String, String)> = env.into_iter().collect();
    vars.sort();
    let schema = serde_json::to_value(Config::default()).expect("Config serializes");
    let mut merged = schema.clone();
    let mut origins: BTreeMap<String, Origin> = BTreeMap::new();
    let mut warnings = Vec::new();

    // Layer 2: the file.
    let file: Option<PathBuf> = file.map(Path::to_path_buf).or_else(|| {
        vars.iter()
            .find(|(k, v)| k == "AGENTGATE_CONFIG" && !v.trim().is_empty())
            .map(|(_, v)| PathBuf::from(v.trim()))
    });
    if let Some(path) = &file {
        let tree = read_yaml(path)?;
        merge_file(&schema, &mut merged, &tree, "", path, &mut origins)?;
    }

    // Layers 3 and 4: AMTP aliases, then AGENTGATE_ variables.
    let (amtp, agentgate) = env_layers(&schema, &vars, &mut warnings)?;
    for layer in [amtp, agentgate] {
        for (key, (var, value)) in layer {
            set_path(&mut merged, &key, value);
            origins.insert(key, Origin::Env(var));
        }
    }

    // Layer 5: overrides.
    for o in overrides {
        let kind = kind_of(&schema, &o.key).ok_or_else(|| {
            ConfigError::Invalid(vec![Problem {
                key: o.key.clone(),
                env: env_name(&o.key),
                origin: Origin::Flag(o.source.clone()),
                value: Some(format!("{:?}", o.value)),
                reason: "no such configuration key".into(),
            }])
        })?;
        let origin = Origin::Flag(o.source.clone());
        let value = convert(kind, &o.value).map_err(|reason| {
            ConfigError::Invalid(vec![Problem {
                key: o.key.clone(),
                env: env_name(&o.key),
                origin: origin.clone(),
                value: Some(format!("{:?}", o.value)),
                reason,
            }])
        })?;
        set_path(&mut merged, &o.key, value);
        origins.insert(o.key.clone(), origin);
    }

    // Typed view of the merged tree.
    let mut config: Config = serde_path_to_error::deserialize(&merged).map_err(|e| {
        let key = e.path().to_string();
        let value = get_path(&merged, &key).map(|v| redact_text(&v.to_string()));
        ConfigError::Invalid(vec![problem_at(
            &origins,
            &key,
            value,
            e.inner().to_string(),
        )])
    })?;

    // Setting both files turns TLS on, unless `tls.enabled` was set explicitly.
    if config.tls.cert_file.is_some()
        && config.tls.key_file.is_some()
        && !origins.contains_key("tls.enabled")
    {
        config.tls.enabled = true;
    }

    let problems = validate(&mut config, &origins, &mut warnings);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok(Loaded {
        config,
        warnings,
        file,
        origins,
    })
}

fn read_yaml(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let syntax = |reason: String| ConfigError::Syntax {
        path: path.to_path_buf(),
        reason,
    };
    let mut yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| syntax(e.to_string()))?;
    yaml.apply_merge().map_err(|e| syntax(e.to_string()))?;
    let tree = serde_json::to_value(&yaml).map_err(|e| syntax(e.to_string()))?;
    match tree {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(_) => Ok(tree),
        _ => Err(syntax(
            "the file must be a mapping of sections (server:, storage:, …)".into(),
        )),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Overlays the file's tree on `target`, refusing keys the schema does not have.
fn merge_file(
    schema: &Value,
    target: &mut Value,
    file: &Value,
    prefix: &str,
    path: &Path,
    origins: &mut BTreeMap<String, Origin>,
) -> Result<(), ConfigError> {
    match (schema, file) {
        // A section written with no body (`tls:`) sets nothing.
        (Value::Object(_), Value::Null) if !MAP_KEYS.contains(&prefix) => Ok(()),
        (Value::Object(fields), Value::Object(entries)) if !MAP_KEYS.contains(&prefix) => {
            for (k, v) in entries {
                let key = join(prefix, k);
                let Some(sub_schema) = fields.get(k) else {
                    let known: Vec<&str> = fields.keys().map(String::as_str).collect();
                    return Err(ConfigError::UnknownKey {
                        path: path.to_path_buf(),
                        hint: yaml_hint(&key, prefix, k, &known),
                        key,
                    });
                };
                let sub_target = target
                    .as_object_mut()
                    .expect("target mirrors schema")
                    .get_mut(k)
                    .expect("target mirrors schema");
                merge_file(sub_schema, sub_target, v, &key, path, origins)?;
            }
            Ok(())
        }
        _ => {
            // A leaf (or a free-form map): replaced whole; its type is checked when the
            // merged tree is read into `Config`. An empty free-form map stays empty.
            *target = if MAP_KEYS.contains(&prefix) && file.is_null() {
                Value::Object(Map::new())
            } else {
                file.clone()
            };
            origins.insert(prefix.to_string(), Origin::File(path.to_path_buf()));
            Ok(())
        }
    }
}

/// A suggestion for an unknown YAML key: agentry's own keys map to ours; otherwise the
/// closest sibling.
fn yaml_hint(full: &str, prefix: &str, key: &str, known: &[&str]) -> Option<String> {
    let agentry = match full {
        "server.address" => Some("agentry's server.address is server.listen here"),
        "server.read_timeout" | "server.write_timeout" | "server.idle_timeout" => {
            Some("agentgate has one server.request_timeout")
        }
        "auth.require_auth" | "auth.methods" => {
            Some("not needed: agentgate always requires authentication")
        }
        "logging.output" => Some("agentgate always logs to stderr"),
        _ => None,
    };
    if let Some(h) = agentry {
        return Some(h.to_string());
    }
    closest(key, known).map(|k| format!("did you mean {}?", join(prefix, k)))
}

fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The type of a key, judged by its default value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Number,
    Text,
    OptionalText,
    List,
    Map,
}

/// The kind of the leaf at `key`, or `None` if `key` is not a settable key.
fn kind_of(schema: &Value, key: &str) -> Option<Kind> {
    let mut node = schema;
    let mut walked = String::new();
    for seg in key.split('.') {
        if MAP_KEYS.contains(&walked.as_str()) {
            return None;
        }
        node = node.as_object()?.get(seg)?;
        walked = join(&walked, seg);
    }
    Some(match node {
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        Value::String(_) => Kind::Text,
        Value::Null => Kind::OptionalText,
        Value::Array(_) => Kind::List,
        Value::Object(_) if MAP_KEYS.contains(&key) => Kind::Map,
        Value::Object(_) => return None,
    })
}

/// Converts a variable's text to a value of `kind`.
fn convert(kind: Kind, raw: &str) -> Result<Value, String> {
    let t = raw.trim();
    match kind {
        Kind::Bool => parse_bool(t)
            .map(Value::Bool)
            .ok_or_else(|| "expected true or false".to_string()),
        Kind::Number => t
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| "expected a whole number".to_string()),
        Kind::Text => Ok(Value::String(t.to_string())),
        Kind::OptionalText if t.is_empty() => Ok(Value::Null),
        Kind::OptionalText => Ok(Value::String(t.to_string())),
        Kind::List if t.starts_with('[') => {
            let v: Vec<String> = serde_json::from_str(t)
                .map_err(|e| format!("expected a JSON array of strings: {e}"))?;
            Ok(Value::from(v))
        }
        Kind::List => Ok(Value::from(
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )),
        Kind::Map if t.is_empty() => Ok(Value::Object(Map::new())),
        Kind::Map => {
            let v: BTreeMap<String, String> = serde_json::from_str(t).map_err(|e| {
                format!("expected a JSON object of strings, like {{\"example.com\":\"v=amtp1;gateway=https://…\"}}: {e}")
            })?;
            Ok(serde_json::to_value(v).expect("map serializes"))
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "on" => Some(true),
        "false" | "f" | "0" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// One environment layer: key → (variable, value).
type Layer = BTreeMap<String, (String, Value)>;

/// Reads the AMTP and AGENTGATE layers out of the (sorted) variables.
fn env_layers(
    schema: &Value,
    vars: &[(String, String)],
    warnings: &mut Vec<String>,
) -> Result<(Layer, Layer), ConfigError> {
    let mut amtp = Layer::new();
    let mut agentgate = Layer::new();
    for (name, raw) in vars {
        if name == AMTP_AUTH_REQUIRED {
            let note = match parse_bool(raw.trim()) {
                Some(false) => {
                    "agentgate always requires authentication; the value false is ignored"
                }
                _ => "agentgate always requires authentication, so it has no effect",
            };
            warnings.push(format!(
                "{AMTP_AUTH_REQUIRED} is accepted for compatibility: {note}"
            ));
            continue;
        }
        if name.starts_with("AMTP_") {
            let Some((_, key, conv)) = AMTP_ALIASES.iter().find(|(v, _, _)| v == name) else {
                warnings.push(format!("{name} is not used by agentgate; ignored"));
                continue;
            };
            let text = amtp_text(*conv, raw);
            let value = env_value(schema, key, name, &text)?;
            put(&mut amtp, key, name, value)?;
            continue;
        }
        let Some(rest) = name.strip_prefix("AGENTGATE_") else {
            continue;
        };
        if CLI_VARIABLES.contains(&name.as_str()) {
            continue;
        }
        let key = if let Some((_, key)) = SHORT_FORMS.iter().find(|(v, _)| v == name) {
            (*key).to_string()
        } else if rest.contains("__") {
            let key = rest
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(".");
            if kind_of(schema, &key).is_none() {
                return Err(ConfigError::UnknownVariable {
                    var: name.clone(),
                    hint: variable_hint(schema, &key),
                });
            }
            key
        } else {
            let mut note = format!("{name} is not a configuration variable; ignored");
            let shorts: Vec<&str> = SHORT_FORMS.iter().map(|(v, _)| *v).collect();
            if let Some(close) = closest(name, &shorts) {
                note.push_str(&format!(" (did you mean {close}?)"));
            }
            warnings.push(note);
            continue;
        };
        let value = env_value(schema, &key, name, raw)?;
        put(&mut agentgate, &key, name, value)?;
    }
    Ok((amtp, agentgate))
}

fn amtp_text(conv: AmtpConv, raw: &str) -> String {
    let t = raw.trim();
    match conv {
        AmtpConv::Plain => t.to_string(),
        AmtpConv::Lower => t.to_ascii_lowercase(),
        AmtpConv::Level => match t.to_ascii_lowercase().as_str() {
            "warning" => "warn".into(),
            "fatal" | "panic" => "error".into(),
            other => other.to_string(),
        },
        AmtpConv::Address => {
            if let Some(port) = t.strip_prefix(':') {
                format!("0.0.0.0:{port}")
            } else if let Some(port) = t.strip_prefix("localhost:") {
                format!("127.0.0.1:{port}")
            } else {
                t.to_string()
            }
        }
    }
}

fn env_value(schema: &Value, key: &str, var: &str, text: &str) -> Result<Value, ConfigError> {
    let kind = kind_of(schema, key).expect("alias tables name real keys");
    convert(kind, text).map_err(|reason| {
        ConfigError::Invalid(vec![Problem {
            key: key.to_string(),
            env: var.to_string(),
            origin: Origin::Env(var.to_string()),
            value: Some(format!("{:?}", redact_text(text))),
            reason,
        }])
    })
}

fn put(layer: &mut Layer, key: &str, var: &str, value: Value) -> Result<(), ConfigError> {
    if let Some((first, old)) = layer.get(key) {
        if *old != value {
            return Err(ConfigError::Conflict {
                key: key.to_string(),
                first: first.clone(),
                second: var.to_string(),
            });
        }
        return Ok(());
    }
    layer.insert(key.to_string(), (var.to_string(), value));
    Ok(())
}

/// A suggestion for an `AGENTGATE_…__…` variable that names no key.
fn variable_hint(schema: &Value, key: &str) -> Option<String> {
    let (parent, last) = key.rsplit_once('.').unwrap_or(("", key));
    let node = if parent.is_empty() {
        Some(schema)
    } else {
        parent
            .split('.')
            .try_fold(schema, |n, seg| n.as_object()?.get(seg))
    };
    if MAP_KEYS.contains(&parent) {
        return Some(format!(
            "{parent} is set as a whole, as a JSON object in {}",
            env_name(parent)
        ));
    }
    match node.and_then(Value::as_object) {
        Some(fields) => {
            if let Some(Value::Object(_)) = fields.get(last) {
                return Some(format!("{key} is a section; set its keys one by one"));
            }
            let known: Vec<&str> = fields.keys().map(String::as_str).collect();
            closest(last, &known).map(|k| format!("did you mean {}?", env_name(&join(parent, k))))
        }
        None => Some(format!("there is no section {parent}")),
    }
}

fn set_path(tree: &mut Value, key: &str, value: Value) {
    let mut node = tree;
    let mut segs = key.split('.').peekable();
    while let Some(seg) = segs.next() {
        let obj = node
            .as_object_mut()
            .expect("schema paths lead through objects");
        if segs.peek().is_none() {
            obj.insert(seg.to_string(), value);
            return;
        }
        node = obj.get_mut(seg).expect("schema paths exist");
    }
}

fn get_path<'a>(tree: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.')
        .try_fold(tree, |n, seg| n.as_object()?.get(seg))
}

/// The origin of `key`: its own, or that of the nearest enclosing key set whole.
fn origin_of(origins: &BTreeMap<String, Origin>, key: &str) -> Origin {
    let mut k = key;
    loop {
        if let Some(o) = origins.get(k) {
            return o.clone();
        }
        match k.rfind(['.', '[']) {
            Some(i) => k = &k[..i],
            None => return Origin::Default,
        }
    }
}

fn problem_at(
    origins: &BTreeMap<String, Origin>,
    key: &str,
    value: Option<String>,
    reason: impl Into<String>,
) -> Problem {
    let origin = origin_of(origins, key);
    let env = match &origin {
        Origin::Env(v) => v.clone(),
        _ => {
            // The variable for the key as a whole (a list element's list, a map entry's map).
            let base = key.split('[').next().unwrap_or(key);
            let base = MAP_KEYS
                .iter()
                .find(|m| base.starts_with(*m))
                .copied()
                .unwrap_or(base);
            env_name(base)
        }
    };
    Problem {
        key: key.to_string(),
        env,
        origin,
        value,
        reason: reason.into(),
    }
}

/// Checks rules over the merged configuration; normalises domains on the way.
fn validate(
    c: &mut Config,
    origins: &BTreeMap<String, Origin>,
    warnings: &mut Vec<String>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut bad = |key: &str, value: String, reason: String| {
        out.push(problem_at(origins, key, Some(value), reason));
    };
    let q = |s: &str| format!("{s:?}");
    let dur = |d: Duration| humantime::format_duration(d).to_string();

    // server.*
    match Domain::parse(&c.server.domain) {
        Ok(d) => {
            if c.server.domain.trim().parse::<std::net::IpAddr>().is_ok() {
                warnings.push(format!(
                    "server.domain {} is an IP address; peers find gateways by domain name",
                    c.server.domain
                ));
            }
            c.server.domain = d.as_str().to_string();
        }
        Err(e) => bad("server.domain", q(&c.server.domain), e.to_string()),
    }
    if let Some(url) = &c.server.public_url
        && let Err(reason) = check_http_url(url)
    {
        bad("server.public_url", q(&redact_text(url)), reason);
    }
    if c.server.request_timeout.is_zero() {
        bad(
            "server.request_timeout",
            "0s".into(),
            "must be greater than zero".into(),
        );
    }
    if c.server.max_connections == 0 || c.server.max_connections > MAX_CONNECTIONS {
        bad(
            "server.max_connections",
            c.server.max_connections.to_string(),
            format!("must be between 1 and {MAX_CONNECTIONS}"),
        );
    }

    // storage.*
    if c.storage.data_dir.as_os_str().is_empty() {
        bad(
            "storage.data_dir",
            "\"\"".into(),
            "must not be empty".into(),
        );
    }
    if c.storage.embedded.cache_mb == 0 {
        bad(
            "storage.embedded.cache_mb",
            "0".into(),
            "must be greater than zero".into(),
        );
    }
    if c.storage.backend == Backend::Nats {
        if c.storage.nats.servers.is_empty() {
            bad(
                "storage.nats.servers",
                "[]".into(),
                "at least one server URL is needed when storage.backend is nats".into(),
            );
        }
        for (i, s) in c.storage.nats.servers.iter().enumerate() {
            if let Err(reason) = check_nats_url(s) {
                bad(
                    &format!("storage.nats.servers[{i}]"),
                    q(&redact_text(s)),
                    reason,
                );
            }
        }
    }
    if !(1..=5).contains(&c.storage.nats.replicas) {
        bad(
            "storage.nats.replicas",
            c.storage.nats.replicas.to_string(),
            "JetStream allows 1 to 5 replicas".into(),
        );
    }

    // auth.*
    if let Some(p) = &c.auth.admin_key_file
        && let Err(reason) = check_readable(p)
    {
        bad("auth.admin_key_file", q(&p.display().to_string()), reason);
    }

    // tls.*
    match (&c.tls.cert_file, &c.tls.key_file) {
        (Some(_), None) => bad(
            "tls.key_file",
            "none".into(),
            "is required when tls.cert_file is set".into(),
        ),
        (None, Some(_)) => bad(
            "tls.cert_file",
            "none".into(),
            "is required when tls.key_file is set".into(),
        ),
        (None, None) if c.tls.enabled => bad(
            "tls.enabled",
            "true".into(),
            "TLS needs tls.cert_file and tls.key_file".into(),
        ),
        _ => {}
    }
    if c.tls.enabled {
        for (key, file) in [
            ("tls.cert_file", &c.tls.cert_file),
            ("tls.key_file", &c.tls.key_file),
        ] {
            if let Some(p) = file
                && let Err(reason) = check_readable(p)
            {
                bad(key, q(&p.display().to_string()), reason);
            }
        }
    }

    // logging.*
    if c.logging.level.trim().is_empty() {
        bad("logging.level", "\"\"".into(), "must not be empty".into());
    } else if let Err(e) = tracing_subscriber::EnvFilter::try_new(c.logging.level.trim()) {
        bad(
            "logging.level",
            q(&c.logging.level),
            format!("not a level (error, warn, info, debug, trace) or filter directive: {e}"),
        );
    }

    // message.*
    if c.message.max_size == 0 || c.message.max_size > MAX_MESSAGE_SIZE {
        bad(
            "message.max_size",
            c.message.max_size.to_string(),
            format!("must be between 1 and {MAX_MESSAGE_SIZE} bytes"),
        );
    }
    if c.message.dedup_window.is_zero() {
        bad(
            "message.dedup_window",
            "0s".into(),
            "must be greater than zero".into(),
        );
    }

    // inbox.*
    if c.inbox.default_limit == 0 {
        bad(
            "inbox.default_limit",
            "0".into(),
            "must be greater than zero".into(),
        );
    }
    if c.inbox.max_limit == 0 {
        bad(
            "inbox.max_limit",
            "0".into(),
            "must be greater than zero".into(),
        );
    }
    if c.inbox.default_limit > c.inbox.max_limit {
        bad(
            "inbox.default_limit",
            c.inbox.default_limit.to_string(),
            format!("must not exceed inbox.max_limit ({})", c.inbox.max_limit),
        );
    }
    if c.inbox.max_wait > MAX_LONG_POLL {
        bad(
            "inbox.max_wait",
            dur(c.inbox.max_wait),
            format!("must be at most {}", dur(MAX_LONG_POLL)),
        );
    }

    // delivery.push.*
    let p = &c.delivery.push;
    check_retries(
        "delivery.push",
        RetrySettings {
            max_attempts: p.max_attempts,
            initial_backoff: p.initial_backoff,
            max_backoff: p.max_backoff,
            timeout: p.timeout,
            concurrency: p.concurrency,
        },
        &mut bad,
    );

    // discovery.*
    if c.discovery.active_window.is_zero() {
        bad(
            "discovery.active_window",
            "0s".into(),
            "must be greater than zero".into(),
        );
    }

    // federation.*
    let mut records = BTreeMap::new();
    for (domain, record) in &c.federation.static_records {
        let key = format!("federation.static_records.{domain}");
        match Domain::parse(domain) {
            Ok(d) => {
                match parse_record(record) {
                    Err(e) => bad(&key, q(record), format!("not a usable _amtp record: {e}")),
                    Ok(r) if !c.federation.allow_http && !r.gateway.to_ascii_lowercase().starts_with("https://") => bad(
                        &key,
                        q(record),
                        "the gateway URL is plain http; set federation.allow_http for loopback or test setups".into(),
                    ),
                    Ok(_) => {}
                }
                if records
                    .insert(d.as_str().to_string(), record.clone())
                    .is_some()
                {
                    bad(&key, q(domain), "the domain is listed twice".into());
                }
            }
            Err(e) => bad(&key, q(domain), format!("not a valid domain: {e}")),
        }
    }
    c.federation.static_records = records;
    let mut peers = Vec::new();
    for (i, domain) in c.federation.unsigned_peers.iter().enumerate() {
        match Domain::parse(domain) {
            Ok(d) => peers.push(d.as_str().to_string()),
            Err(e) => bad(
                &format!("federation.unsigned_peers[{i}]"),
                q(domain),
                format!("not a valid domain: {e}"),
            ),
        }
    }
    c.federation.unsigned_peers = peers;
    let f = &c.federation;
    let o = &f.outbound;
    check_retries(
        "federation.outbound",
        RetrySettings {
            max_attempts: o.max_attempts,
            initial_backoff: o.initial_backoff,
            max_backoff: o.max_backoff,
            timeout: o.timeout,
            concurrency: o.concurrency,
        },
        &mut bad,
    );
    for (key, value) in [
        ("federation.negative_cache_ttl", f.negative_cache_ttl),
        ("federation.max_cache_ttl", f.max_cache_ttl),
        ("federation.signature_max_age", f.signature_max_age),
        ("federation.key_cache_ttl", f.key_cache_ttl),
    ] {
        if value.is_zero() {
            bad(key, "0s".into(), "must be greater than zero".into());
        }
    }

    // websocket.*
    let w = &c.websocket;
    for (key, value) in [
        ("websocket.auth_timeout", w.auth_timeout),
        ("websocket.ping_interval", w.ping_interval),
        ("websocket.ping_timeout", w.ping_timeout),
    ] {
        if value.is_zero() {
            bad(key, "0s".into(), "must be greater than zero".into());
        }
    }
    for (key, value, max) in [
        (
            "websocket.max_frame_size",
            w.max_frame_size,
            MAX_MESSAGE_SIZE,
        ),
        (
            "websocket.max_connections",
            w.max_connections,
            MAX_CONNECTIONS,
        ),
        (
            "websocket.max_connections_per_address",
            w.max_connections_per_address,
            MAX_CONNECTIONS,
        ),
        ("websocket.max_unacked", w.max_unacked, 65_536),
        ("websocket.outbound_queue", w.outbound_queue, 1_048_576),
    ] {
        if value == 0 || value > max {
            bad(
                key,
                value.to_string(),
                format!("must be between 1 and {max}"),
            );
        }
    }
    if w.ioap.offline_queue > 10_000 {
        bad(
            "websocket.ioap.offline_queue",
            w.ioap.offline_queue.to_string(),
            "must be between 0 and 10000".into(),
        );
    }
    if w.ioap.offline_ttl.is_zero() {
        bad(
            "websocket.ioap.offline_ttl",
            "0s".into(),
            "must be greater than zero".into(),
        );
    }
    for (i, origin) in w.allowed_origins.iter().enumerate() {
        if origin.trim().is_empty() || origin.trim() != origin {
            bad(
                &format!("websocket.allowed_origins[{i}]"),
                q(origin),
                "an origin such as https://app.example.com, without spaces".into(),
            );
        }
    }

    if !c.tls.enabled && !c.server.listen.ip().is_loopback() && out.is_empty() {
        warnings.push(format!(
            "serving plain HTTP on {}: terminate TLS in front of it, or set tls.cert_file and \
             tls.key_file",
            c.server.listen
        ));
    }
    out
}

/// The retry settings shared by push delivery and federation's outbound delivery.
struct RetrySettings {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    timeout: Duration,
    concurrency: usize,
}

/// Checks one section of [`RetrySettings`] (`prefix` is its key, e.g. `delivery.push`).
fn check_retries(prefix: &str, r: RetrySettings, bad: &mut impl FnMut(&str, String, String)) {
    let dur = |d: Duration| humantime::format_duration(d).to_string();
    let key = |leaf: &str| format!("{prefix}.{leaf}");
    if r.max_attempts == 0 {
        bad(
            &key("max_attempts"),
            "0".into(),
            "must be at least 1".into(),
        );
    }
    if r.initial_backoff.is_zero() {
        bad(
            &key("initial_backoff"),
            "0s".into(),
            "must be greater than zero".into(),
        );
    }
    if r.initial_backoff > r.max_backoff {
        bad(
            &key("initial_backoff"),
            dur(r.initial_backoff),
            format!(
                "must not exceed {} ({})",
                key("max_backoff"),
                dur(r.max_backoff)
            ),
        );
    }
    if r.timeout.is_zero() {
        bad(
            &key("timeout"),
            "0s".into(),
            "must be greater than zero".into(),
        );
    }
    if r.concurrency == 0 {
        bad(&key("concurrency"), "0".into(), "must be at least 1".into());
    }
}

fn check_http_url(s: &str) -> Result<(), String> {
    let url = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "scheme must be http or https, not {}",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

fn check_nats_url(s: &str) -> Result<(), String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty server URL".into());
    }
    if t.chars().any(char::is_whitespace) {
        return Err("a server URL must not contain spaces".into());
    }
    if let Some((scheme, _)) = t.split_once("://")
        && !matches!(scheme, "nats" | "tls" | "ws" | "wss")
    {
        return Err(format!("scheme must be nats, tls, ws or wss, not {scheme}"));
    }
    Ok(())
}

fn check_readable(p: &Path) -> Result<(), String> {
    match std::fs::metadata(p) {
        Err(e) => Err(format!("cannot read the file: {e}")),
        Ok(m) if !m.is_file() => Err("not a regular file".into()),
        Ok(_) => std::fs::File::open(p)
            .map(drop)
            .map_err(|e| format!("cannot read the file: {e}")),
    }
}

/// Masks credentials embedded in a URL (`nats://user:pass@host` →
/// `nats://***@host`); other text is returned unchanged.
pub fn redact_text(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let start = scheme_end + 3;
    let rest = &s[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &s[..start], &rest[at..]),
        None => s.to_string(),
    }
}

/// A copy of `config` safe to print: credentials embedded in URLs are masked. (No
/// secret is held inline today; key files are referred to by path.)
pub fn redact(config: &Config) -> Config {
    let mut c = config.clone();
    c.server.public_url = c.server.public_url.as_deref().map(redact_text);
    c.storage.nats.servers = c
        .storage
        .nats
        .servers
        .iter()
        .map(|s| redact_text(s))
        .collect();
    c
}

/// The [redacted](redact) configuration as a JSON value.
pub fn redacted(config: &Config) -> Value {
    serde_json::to_value(redact(config)).expect("Config serializes")
}

/// The [redacted](redact) configuration as YAML, in the order of the documentation.
pub fn to_yaml(config: &Config) -> String {
    serde_yaml_ng::to_string(&redact(config)).expect("Config serializes")
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
