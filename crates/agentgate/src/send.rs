//! `agentgate send`: send a message as a local agent (`POST /v1/messages` with the
//! sender's API key).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use agentgate_core::envelope::{AMTP_VERSION, is_valid_schema_id};
use clap::Args;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::cli::GlobalOpts;
use crate::client::{self, AgentKeyArgs, Auth, Client, ClientError, cell, exit, s};
use crate::inbox::{parse_address, parse_message_id};

/// Arguments of `agentgate send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The sender's API key.
    #[command(flatten)]
    pub key: AgentKeyArgs,
    /// Sender address: the agent whose key is given.
    #[arg(long, value_name = "ADDRESS", value_parser = parse_address)]
    pub from: String,
    /// Recipient address (repeatable).
    #[arg(long = "to", value_name = "ADDRESS", required = true, value_parser = parse_address)]
    pub to: Vec<String>,
    /// Subject line.
    #[arg(long, value_name = "TEXT")]
    pub subject: Option<String>,
    /// Payload, as JSON text (`'{"task":"x"}'`, `'"text"'`, `42`).
    #[arg(long, value_name = "JSON", conflicts_with = "payload_file")]
    pub payload: Option<String>,
    /// File holding the JSON payload (`-` reads standard input).
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<PathBuf>,
    /// Schema id of the payload (`namespace:domain.entity.vN`).
    #[arg(long, value_name = "ID")]
    pub schema: Option<String>,
    /// Message id (any UUID); the gateway mints a v7 when absent.
    #[arg(long, value_name = "UUID", value_parser = parse_message_id)]
    pub message_id: Option<String>,
    /// De-duplication key: a repeat with the same key returns the original answer.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Id of the message this one answers.
    #[arg(long, value_name = "UUID", value_parser = parse_message_id)]
    pub in_reply_to: Option<String>,
}

/// Runs the command.
pub fn run(g: &GlobalOpts, args: SendArgs) -> anyhow::Result<ExitCode> {
    let outcome = send(g, &args);
    client::finish(g, outcome)
}

/// Builds the envelope, checking what can be checked locally.
pub fn envelope(a: &SendArgs) -> Result<Value, ClientError> {
    let payload = match (&a.payload, &a.payload_file) {
        (Some(text), _) => Some(parse_payload(text, "--payload")?),
        (None, Some(path)) => {
            let text = if path.as_os_str() == "-" {
                let mut t = String::new();
                std::io::stdin().read_to_string(&mut t).map_err(|e| {
                    ClientError::Usage(format!("cannot read the payload from stdin: {e}"))
                })?;
                t
            } else {
                std::fs::read_to_string(path).map_err(|e| {
                    ClientError::Usage(format!("cannot read payload file {}: {e}", path.display()))
                })?
            };
            Some(parse_payload(
                &text,
                &format!("payload file {}", path.display()),
            )?)
        }
        (None, None) => None,
    };
    if let Some(schema) = a.schema.as_deref().filter(|s| !is_valid_schema_id(s)) {
        return Err(ClientError::Usage(format!(
            "invalid --schema {schema:?}: expected namespace:domain.entity.vN"
        )));
    }
    if a.idempotency_key.as_deref() == Some("") {
        return Err(ClientError::Usage("--idempotency-key is empty".into()));
    }
    let mut env = Map::new();
    env.insert("version".into(), json!(AMTP_VERSION));
    if let Some(id) = &a.message_id {
        env.insert("message_id".into(), json!(id));
    }
    if let Some(k) = &a.idempotency_key {
        env.insert("idempotency_key".into(), json!(k));
    }
    env.insert("sender".into(), json!(a.from));
    env.insert("recipients".into(), json!(a.to));
    if let Some(subject) = &a.subject {
        env.insert("subject".into(), json!(subject));
    }
    if let Some(schema) = &a.schema {
        env.insert("schema".into(), json!(schema));
    }
    if let Some(p) = payload {
        env.insert("payload".into(), p);
    }
    if let Some(r) = &a.in_reply_to {
        env.insert("in_reply_to".into(), json!(r));
    }
    Ok(Value::Object(env))
}

fn parse_payload(text: &str, what: &str) -> Result<Value, ClientError> {
    serde_json::from_str(text)
        .map_err(|e| ClientError::Usage(format!("{what} is not valid JSON: {e}")))
}

/// Rows `ADDRESS STATUS ERROR` for a `recipients` array.
fn recipient_rows(recipients: &[Value]) -> String {
    let rows: Vec<Vec<String>> = recipients
        .iter()
        .map(|r| {
            let err = match (s(r, "error_code"), s(r, "error_message")) {
                ("", _) => String::new(),
                (c, "") => c.to_string(),
                (c, m) => format!("{c}: {m}"),
            };
            vec![cell(r.get("address"), 80), cell(r.get("status"), 12), err]
        })
        .collect();
    client::table(&["RECIPIENT", "STATUS", "ERROR"], &rows)
}

fn send(g: &GlobalOpts, a: &SendArgs) -> Result<u8, ClientError> {
    let body = envelope(a)?;
    let key = a.key.resolve()?;
    let c = Client::new(g)?;
    let result = client::block_on(c.call(
        Method::POST,
        &["v1", "messages"],
        &[],
        Auth::Agent(&key),
        Some(&body),
        None,
    ));
    let r = match result {
        Ok(r) => r,
        Err(ClientError::Api(e)) if !g.json => {
            // 422: no recipient accepted it; show each recipient's reason.
            let list = e
                .details
                .as_ref()
                .and_then(|d| d.get("recipients"))
                .and_then(Value::as_array)
                .map(|l| recipient_rows(l))
                .unwrap_or_default();
            let err = ClientError::Api(e);
            let text = format!("{}\n{list}", err.human_line());
            let _ = write!(std::io::stderr().lock(), "{text}");
            return Ok(err.exit_code());
        }
        Err(e) => return Err(e),
    };
    let recipients = r
        .body
        .get("recipients")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let status = s(&r.body, "status");
    let failed = status == "partial"
        || status == "failed"
        || recipients.iter().any(|x| s(x, "status") == "failed");
    if g.json {
        r.print_raw();
    } else {
        let mut text = format!(
            "message {}: {} (HTTP {})\n",
            s(&r.body, "message_id"),
            if status.is_empty() { "-" } else { status },
            r.status
        );
        text.push_str(&recipient_rows(&recipients));
        client::out(&text);
    }
    Ok(if failed { exit::SERVER } else { exit::OK })
}
