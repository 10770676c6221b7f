//! `agentgate inbox`: read and acknowledge a pull agent's inbox with its own API key.

use std::process::ExitCode;
use std::time::Duration;

use agentgate_core::{Address, MessageId};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use crate::cli::GlobalOpts;
use crate::client::{self, AgentKeyArgs, Auth, Client, ClientError, cell, exit, s};

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// List messages waiting in an inbox, oldest first.
    Get(GetArgs),
    /// Acknowledge a message: it leaves the inbox.
    Ack(AckArgs),
}

/// Arguments of `inbox get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The inbox owner's address (`bot@example.com`).
    #[arg(value_name = "ADDRESS", value_parser = parse_address)]
    pub address: String,
    /// The owner's API key.
    #[command(flatten)]
    pub key: AgentKeyArgs,
    /// Most messages to return (1–1000; the gateway's default is 50).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// Long-poll: wait up to SECS (0–60) for a message when the inbox is empty.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(0..=60))]
    pub wait: Option<u32>,
    /// Continue from this cursor (the `next_cursor` of a previous page).
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
}

/// Arguments of `inbox ack`.
#[derive(Debug, Args)]
pub struct AckArgs {
    /// The inbox owner's address.
    #[arg(value_name = "ADDRESS", value_parser = parse_address)]
    pub address: String,
    /// The id of the message to acknowledge.
    #[arg(value_name = "MESSAGE_ID", value_parser = parse_message_id)]
    pub message_id: String,
    /// The owner's API key.
    #[command(flatten)]
    pub key: AgentKeyArgs,
}

/// Checks an address locally (clap value parser).
pub fn parse_address(s: &str) -> Result<String, String> {
    Address::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a message id locally (clap value parser).
pub fn parse_message_id(s: &str) -> Result<String, String> {
    MessageId::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Runs the command.
pub fn run(g: &GlobalOpts, command: InboxCommand) -> anyhow::Result<ExitCode> {
    let outcome = match command {
        InboxCommand::Get(a) => get(g, a),
        InboxCommand::Ack(a) => ack(g, a),
    };
    client::finish(g, outcome)
}

fn get(g: &GlobalOpts, a: GetArgs) -> Result<u8, ClientError> {
    let key = a.key.resolve()?;
    let c = Client::new(g)?;
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(l) = a.limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(c) = &a.cursor {
        q.push(("cursor", c.clone()));
    }
    if let Some(w) = a.wait {
        q.push(("wait", w.to_string()));
    }
    // A long-poll may legitimately take `wait` seconds before the answer starts.
    let timeout = client::REQUEST_TIMEOUT + Duration::from_secs(a.wait.unwrap_or(0).into());
    let r = client::block_on(c.call(
        Method::GET,
        &["v1", "inbox", &a.address],
        &q,
        Auth::Agent(&key),
        None,
        Some(timeout),
    ))?;
    if g.json {
        r.print_raw();
        return Ok(exit::OK);
    }
    let messages = r
        .body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ClientError::Protocol("inbox page without a `messages` array".into()))?;
    let rows: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            vec![
                cell(m.get("message_id"), 36),
                cell(m.get("sender"), 40),
                cell(m.get("received_at").or(m.get("timestamp")), 24),
                cell(m.get("subject"), 30),
                cell(m.get("payload"), 60),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        String::new()
    } else {
        client::table(
            &["MESSAGE ID", "FROM", "RECEIVED", "SUBJECT", "PAYLOAD"],
            &rows,
        )
    };
    let n = messages.len();
    text.push_str(&format!(
        "{n} message{} in {}\n",
        if n == 1 { "" } else { "s" },
        match s(&r.body, "recipient") {
            "" => a.address.as_str(),
            rcpt => rcpt,
        }
    ));
    if r.body.get("has_more").and_then(Value::as_bool) == Some(true) {
        text.push_str(&format!(
            "more messages: use --cursor {} for the next page\n",
            s(&r.body, "next_cursor")
        ));
    }
    client::out(&text);
    Ok(exit::OK)
}

fn ack(g: &GlobalOpts, a: AckArgs) -> Result<u8, ClientError> {
    let key = a.key.resolve()?;
    let c = Client::new(g)?;
    let r = client::block_on(c.call(
        Method::DELETE,
        &["v1", "inbox", &a.address, &a.message_id],
        &[],
        Auth::Agent(&key),
        None,
        None,
    ))?;
    if g.json {
        r.print_raw();
    } else {
        let id = match s(&r.body, "message_id") {
            "" => a.message_id.as_str(),
            id => id,
        };
        client::out(&format!("acknowledged {id}\n"));
    }
    Ok(exit::OK)
}
