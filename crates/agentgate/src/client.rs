//! HTTP client shared by the client commands (`admin`, `inbox`, `send`, `bench`).
//!
//! It speaks the contract in `docs/protocols/amtp.md`: JSON bodies, `X-Admin-Key` for
//! admin routes, `Authorization: Bearer` for agent routes, and the error envelope
//! `{"error": {"code", "message", "details"?, "timestamp", "request_id"}}`.
//!
//! Every command ends in [`finish`], which turns a [`ClientError`] into a message on
//! stderr and one of the [exit codes](exit) documented in `docs/cli.md`.

use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::cli::GlobalOpts;

/// Exit codes of the client commands.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The gateway refused the request or answered with an error, or a send had a
    /// failed recipient, or a benchmark counted errors.
    pub const SERVER: u8 = 1;
    /// A usage or local problem: bad argument, unreadable key file, invalid URL.
    pub const USAGE: u8 = 2;
    /// No answer from the gateway: connection refused or reset, DNS or TLS failure,
    /// timeout.
    pub const CONNECT: u8 = 3;
}

/// Environment variable consulted for the agent key when neither `--key` nor
/// `--key-file` is given.
pub const AGENT_KEY_ENV: &str = "AGENTGATE_AGENT_KEY";

/// How long to wait for a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take, unless a command asks for more (long-poll).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Characters left as they are in a path segment: RFC 3986 unreserved only, so `@`,
/// `/`, `?`, `#` and `%` in an address or name are always escaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An error answer from the gateway (any non-2xx status).
#[derive(Clone, Debug)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// `error.code`, or `HTTP_<status>` when the body is not an error envelope.
    pub code: String,
    /// `error.message`, or the start of the body when it is not an error envelope.
    pub message: String,
    /// `error.request_id`, else the `X-Request-ID` response header.
    pub request_id: Option<String>,
    /// `error.details`, when present.
    pub details: Option<Value>,
    /// The body as received (for `--json`).
    pub raw: Vec<u8>,
}

/// Why a client command failed; each kind maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Bad arguments or a local problem (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The gateway answered with an error status (exit 1).
    #[error("{}: {}", .0.code, .0.message)]
    Api(Box<ApiError>),
    /// No answer from the gateway (exit 3).
    #[error("cannot reach the gateway at {url}: {reason}")]
    Connect {
        /// The URL that was requested.
        url: String,
        /// What went wrong, with its causes.
        reason: String,
    },
    /// A 2xx answer that does not follow the contract (exit 1).
    #[error("unexpected response from the gateway: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => exit::USAGE,
            ClientError::Api(_) | ClientError::Protocol(_) => exit::SERVER,
            ClientError::Connect { .. } => exit::CONNECT,
        }
    }

    /// The error code shown to the user: the server's, or a local one.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Usage(_) => "USAGE_ERROR",
            ClientError::Api(e) => &e.code,
            ClientError::Connect { .. } => "CONNECTION_FAILED",
            ClientError::Protocol(_) => "UNEXPECTED_RESPONSE",
        }
    }

    /// One line for humans: `error: CODE: message (HTTP 404, request id …)`.
    pub fn human_line(&self) -> String {
        match self {
            ClientError::Api(e) => {
                let mut s = format!("error: {}: {} (HTTP {}", e.code, e.message, e.status);
                if let Some(id) = &e.request_id {
                    let _ = write!(s, ", request id {id}");
                }
                s.push(')');
                s
            }
            other => format!("error: {}: {other}", other.code()),
        }
    }

    /// What `--json` prints on stderr: the server's body for server errors, an
    /// envelope of the same shape for local ones.
    pub fn json_text(&self) -> String {
        if let ClientError::Api(e) = self {
            if serde_json::from_slice::<Value>(&e.raw).is_ok() {
                return String::from_utf8_lossy(&e.raw).trim_end().to_string();
            }
            let mut err = json!({"code": e.code, "message": e.message, "status": e.status});
            if let Some(id) = &e.request_id {
                err["request_id"] = json!(id);
            }
            return json!({ "error": err }).to_string();
        }
        json!({"error": {"code": self.code(), "message": self.to_string()}}).to_string()
    }

    /// Prints the error on stderr, as JSON when `json` is set.
    pub fn report(&self, json: bool) {
        let text = if json {
            self.json_text()
        } else {
            self.human_line()
        };
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

/// Turns a command's outcome into its exit code, printing any error on stderr.
pub fn finish(g: &GlobalOpts, outcome: Result<u8, ClientError>) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::from(match outcome {
        Ok(code) => code,
        Err(e) => {
            e.report(g.json);
            e.exit_code()
        }
    }))
}

/// Runs a client command's future on a small single-threaded runtime.
pub fn block_on<T, F>(f: F) -> Result<T, ClientError>
where
    F: Future<Output = Result<T, ClientError>>,
{
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Usage(format!("cannot start the async runtime: {e}")))?
        .block_on(f)
}

/// Reads a key from a file: its first line that is neither empty nor a `#` comment,
/// trimmed. `what` names the key in error messages.
pub fn read_key_file(path: &Path, what: &str) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ClientError::Usage(format!("cannot read {what} file {}: {e}", path.display()))
    })?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .ok_or_else(|| {
            ClientError::Usage(format!(
                "{what} file {} holds no key (only empty or # lines)",
                path.display()
            ))
        })
}

/// The admin key named by `--admin-key-file` (or `AGENTGATE_ADMIN_KEY_FILE`).
pub fn admin_key(g: &GlobalOpts) -> Result<String, ClientError> {
    let path = g.admin_key_file.as_ref().ok_or_else(|| {
        ClientError::Usage(
            "this command needs an admin key: pass --admin-key-file FILE \
             (or set AGENTGATE_ADMIN_KEY_FILE)"
                .into(),
        )
    })?;
    read_key_file(path, "admin key")
}

/// How a command gets an agent's API key: `--key`, `--key-file`, or the
/// `AGENTGATE_AGENT_KEY` environment variable, in that order.
#[derive(Clone, Debug, Default, Args)]
pub struct AgentKeyArgs {
    /// The agent's API key. Visible to other local users in the process list; prefer
    /// --key-file or the AGENTGATE_AGENT_KEY environment variable.
    #[arg(long, value_name = "KEY", conflicts_with = "key_file")]
    pub key: Option<String>,
    /// File holding the agent's API key (first line that is not empty or a # comment).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

impl AgentKeyArgs {
    /// The key, if one was given in any of the three ways.
    pub fn resolve_optional(&self) -> Result<Option<String>, ClientError> {
        if let Some(k) = &self.key {
            let k = k.trim();
            if k.is_empty() {
                return Err(ClientError::Usage("--key is empty".into()));
            }
            return Ok(Some(k.to_string()));
        }
        if let Some(p) = &self.key_file {
            return read_key_file(p, "agent key").map(Some);
        }
        match std::env::var(AGENT_KEY_ENV) {
            Ok(k) if !k.trim().is_empty() => Ok(Some(k.trim().to_string())),
            _ => Ok(None),
        }
    }

    /// The key; a usage error when none was given.
    pub fn resolve(&self) -> Result<String, ClientError> {
        self.resolve_optional()?.ok_or_else(|| {
            ClientError::Usage(format!(
                "this command needs the agent's API key: pass --key KEY or --key-file FILE \
                 (or set {AGENT_KEY_ENV})"
            ))
        })
    }
}

/// The credential a request carries.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    /// None (`/health`).
    None,
    /// `X-Admin-Key`.
    Admin(&'a str),
    /// `Authorization: Bearer`.
    Agent(&'a str),
}

/// A successful (2xx) answer.
#[derive(Clone, Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body, parsed (`null` when empty).
    pub body: Value,
    /// The body as received (what `--json` prints).
    pub raw: Vec<u8>,
}

impl Response {
    /// Prints the body as received, on stdout.
    pub fn print_raw(&self) {
        print_json_text(String::from_utf8_lossy(&self.raw).trim_end());
    }
}

/// Prints a line of JSON text on stdout.
pub fn print_json_text(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Prints a JSON value on stdout, pretty.
pub fn print_json(v: &Value) {
    print_json_text(&serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Validates a gateway base URL and returns it without a trailing `/`.
pub fn normalize_base_url(url: &str) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::Usage(format!("invalid --gateway-url {url:?}: {why}"));
    let parsed = Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("a base URL takes no query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("credentials do not belong in the URL"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Builds `base` + `/seg1/seg2…` with each segment percent-encoded, plus a query.
pub fn build_url(
    base: &str,
    segments: &[&str],
    query: &[(&str, String)],
) -> Result<Url, ClientError> {
    let mut s = String::with_capacity(base.len() + 64);
    s.push_str(base);
    for seg in segments {
        s.push('/');
        let _ = write!(s, "{}", utf8_percent_encode(seg, SEGMENT));
    }
    let mut url = Url::parse(&s)
        .map_err(|e| ClientError::Usage(format!("cannot build a URL from {s:?}: {e}")))?;
    if !query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    Ok(url)
}

/// Describes an error with all its causes, `a: b: c`, skipping repeats.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = c.source();
    }
    out
}

/// Decodes a non-2xx answer into an [`ApiError`].
pub fn decode_error(status: u16, header_request_id: Option<String>, raw: Vec<u8>) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(&raw).ok();
    let err = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object());
    let field = |name: &str| {
        err.and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let code = field("code").unwrap_or_else(|| format!("HTTP_{status}"));
    let message = field("message").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&raw);
        let text = text.trim();
        if text.is_empty() {
            "(empty body)".to_string()
        } else {
            text.chars().take(200).collect()
        }
    });
    ApiError {
        status,
        code,
        message,
        request_id: field("request_id").or(header_request_id),
        details: err.and_then(|e| e.get("details")).cloned(),
        raw,
    }
}

/// A client for one gateway.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client for the gateway at `--gateway-url`.
    pub fn new(g: &GlobalOpts) -> Result<Self, ClientError> {
        Self::with_base(&g.gateway_url)
    }

    /// A client for the gateway at `base_url`.
    pub fn with_base(base_url: &str) -> Result<Self, ClientError> {
        let base = normalize_base_url(base_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("agentgate-cli/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client { http, base })
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request and decodes the answer: 2xx → [`Response`], anything else →
    /// [`ClientError::Api`]; no answer → [`ClientError::Connect`].
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        auth: Auth<'_>,
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<Response, ClientError> {
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        self.call_json(method, segments, query, auth, body, timeout)
            .await
    }

    /// Like [`Client::call`], with a body that is JSON text already (sent as is, so
    /// key order and formatting survive).
    pub async fn call_json(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        auth: Auth<'_>,
        body: Option<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<Response, ClientError> {
        let url = build_url(&self.base, segments, query)?;
        let url_text = url.to_string();
        let mut req = self
            .http
            .request(method, url)
            .header("Accept", "application/json");
        req = match auth {
            Auth::None => req,
            Auth::Admin(k) => req.header("X-Admin-Key", k),
            Auth::Agent(k) => req.bearer_auth(k),
        };
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let connect = |e: reqwest::Error| ClientError::Connect {
            url: url_text.clone(),
            reason: if e.is_timeout() {
                format!("timed out ({})", error_chain(&e))
            } else {
                error_chain(&e)
            },
        };
        let resp = req.send().await.map_err(connect)?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let raw = resp.bytes().await.map_err(connect)?.to_vec();
        if !(200..300).contains(&status) {
            return Err(ClientError::Api(Box::new(decode_error(
                status, request_id, raw,
            ))));
        }
        let body = if raw.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&raw).map_err(|e| {
                ClientError::Protocol(format!("HTTP {status} with a body that is not JSON: {e}"))
            })?
        };
        Ok(Response { status, body, raw })
    }
}

/// A string field of a JSON object, or `""`.
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A JSON value shown in one table cell: strings bare, the rest compact JSON, `-` when
/// absent, cut to `max` characters.
pub fn cell(v: Option<&Value>, max: usize) -> String {
    let text = match v {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) if s.is_empty() => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) if a.is_empty() => "-".to_string(),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    };
    if text.chars().count() > max {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        text
    }
}

/// Renders rows under a header as left-aligned columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = widths[i].saturating_sub(c.chars().count());
            l.push_str(c);
            l.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// Prints text on stdout as is.
pub fn out(text: &str) {
    let _ = write!(std::io::stdout().lock(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped_and_base_prefix_kept() {
        let base = normalize_base_url("http://h:1/gw/").unwrap();
        let u = build_url(&base, &["v1", "inbox", "bot@ex.com", "a b/c"], &[]).unwrap();
        assert_eq!(u.as_str(), "http://h:1/gw/v1/inbox/bot%40ex.com/a%20b%2Fc");
        let u = build_url(&base, &["v1"], &[("cursor", "a&b=c".into())]).unwrap();
        assert_eq!(u.as_str(), "http://h:1/gw/v1?cursor=a%26b%3Dc");
    }

    #[test]
    fn bad_base_urls_are_usage_errors() {
        for u in [
            "ftp://h",
            "h:8080",
            "http://h/?q=1",
            "http://u:p@h/",
            "http://",
        ] {
            let e = normalize_base_url(u).unwrap_err();
            assert_eq!(e.exit_code(), exit::USAGE, "{u}");
        }
    }

    #[test]
    fn error_envelope_is_decoded_and_fallbacks_apply() {
        let raw = br#"{"error":{"code":"AGENT_NOT_FOUND","message":"no agent named bot","request_id":"r1","details":{"x":1}}}"#;
        let e = decode_error(404, Some("hdr".into()), raw.to_vec());
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("AGENT_NOT_FOUND", "no agent named bot")
        );
        assert_eq!(e.request_id.as_deref(), Some("r1"));
        assert_eq!(e.details, Some(json!({"x": 1})));
        let e = decode_error(502, Some("hdr".into()), b"Bad Gateway".to_vec());
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("HTTP_502", "Bad Gateway")
        );
        assert_eq!(e.request_id.as_deref(), Some("hdr"));
        let line = ClientError::Api(Box::new(e)).human_line();
        assert_eq!(
            line,
            "error: HTTP_502: Bad Gateway (HTTP 502, request id hdr)"
        );
    }

    #[test]
    fn key_file_takes_first_real_line() {
        let dir = std::env::temp_dir().join(format!("agk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("k");
        std::fs::write(&p, "# comment\n\n  secret-1  \nsecret-2\n").unwrap();
        assert_eq!(read_key_file(&p, "admin key").unwrap(), "secret-1");
        std::fs::write(&p, "# only\n\n").unwrap();
        assert_eq!(
            read_key_file(&p, "admin key").unwrap_err().exit_code(),
            exit::USAGE
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&["A", "BB"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "A    BB\nxxx  y\n");
    }
}
