//! `agentgate admin`: manage the gateway's agents over `/v1/admin/agents` (and, in
//! `admin_schema`, its schema registry; in `admin_federation`, its signing keys) with
//! the admin key (`X-Admin-Key`, read from `--admin-key-file`).

use std::process::ExitCode;

use agentgate_core::{Address, AgentName};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::admin_federation::{self, FederationCommand};
use crate::admin_schema::{self, SchemaCommand};
use crate::cli::GlobalOpts;
use crate::client::{self, Auth, Client, ClientError, cell, exit, s};

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register, list, show, unregister agents and rotate their keys.
    Agent {
        /// What to do.
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Register, list, show, update, delete and test JSON Schemas.
    Schema {
        /// What to do.
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// This gateway's federation signing keys.
    Federation {
        /// What to do.
        #[command(subcommand)]
        command: FederationCommand,
    },
}

/// `agentgate admin agent …`.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Register an agent; prints its API key (and webhook secret), shown only once.
    Register(RegisterArgs),
    /// List agents in address order.
    List(ListArgs),
    /// Show one agent.
    Show(NameArg),
    /// Unregister an agent; its inbox is discarded.
    Unregister(NameArg),
    /// Issue a new API key; the old one stops working at once.
    RotateKey(NameArg),
}

/// How an agent receives messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// The agent polls its inbox.
    Pull,
    /// The gateway POSTs each message to `--target`.
    Push,
}

/// Arguments of `admin agent register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Agent name (`bot`) or full address on this gateway's domain (`bot@example.com`).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Delivery mode (default pull, or push when --target is given).
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Push target URL (push mode).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Header sent with every push, `K=V` (repeatable).
    #[arg(long = "header", value_name = "K=V", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Supported schema id or `prefix.*` (repeatable).
    #[arg(long = "schema", value_name = "ID")]
    pub schemas: Vec<String>,
    /// Ed25519 key the agent may authenticate WebSocket sessions with, as a standard
    /// `did:key` (repeatable).
    #[arg(long = "public-key", value_name = "DID")]
    pub public_keys: Vec<String>,
}

/// Arguments of `admin agent list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Page size (1–1000; the gateway's default when absent).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// Start from this cursor (the `next_cursor` of a previous page).
    #[arg(long, value_name = "CURSOR", conflicts_with = "all")]
    pub cursor: Option<String>,
    /// Follow `next_cursor` until every agent is listed.
    #[arg(long)]
    pub all: bool,
}

/// An agent name argument.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Agent name (the part of its address before `@`).
    #[arg(value_name = "NAME", value_parser = parse_name)]
    pub name: String,
}

/// Parses `K=V`.
fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err("expected K=V with a non-empty K".into()),
    }
}

/// Checks an agent name locally.
fn parse_name(s: &str) -> Result<String, String> {
    if s.contains('@') {
        return Err("give the agent's name (the part before '@'), not its address".into());
    }
    AgentName::parse(s)
        .map(|n| n.as_str().to_string())
        .map_err(|e| e.to_string())
}

/// Runs the command.
pub fn run(g: &GlobalOpts, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let outcome = match command {
        AdminCommand::Agent { command } => agent(g, command),
        AdminCommand::Schema { command } => admin_schema::run(g, command),
        AdminCommand::Federation { command } => admin_federation::run(g, command),
    };
    client::finish(g, outcome)
}

fn agent(g: &GlobalOpts, command: AgentCommand) -> Result<u8, ClientError> {
    // Local checks first, so a bad argument never reaches the network.
    if let AgentCommand::Register(a) = &command {
        register_body(a)?;
    }
    let key = client::admin_key(g)?;
    let c = Client::new(g)?;
    client::block_on(async move {
        match command {
            AgentCommand::Register(a) => register(g, &c, &key, &a).await,
            AgentCommand::List(a) => list(g, &c, &key, &a).await,
            AgentCommand::Show(a) => show(g, &c, &key, &a.name).await,
            AgentCommand::Unregister(a) => unregister(g, &c, &key, &a.name).await,
            AgentCommand::RotateKey(a) => rotate(g, &c, &key, &a.name).await,
        }
    })
}

/// Builds the body of `POST /v1/admin/agents`, checking arguments locally.
pub fn register_body(a: &RegisterArgs) -> Result<Value, ClientError> {
    let usage = |m: String| ClientError::Usage(m);
    let mut body = Map::new();
    if a.name.contains('@') {
        let addr = Address::parse(&a.name)
            .map_err(|e| usage(format!("invalid agent address {:?}: {e}", a.name)))?;
        addr.agent_name()
            .map_err(|e| usage(format!("invalid agent name in {:?}: {e}", a.name)))?;
        body.insert("address".into(), json!(addr.to_string()));
    } else {
        let name = AgentName::parse(&a.name)
            .map_err(|e| usage(format!("invalid agent name {:?}: {e}", a.name)))?;
        body.insert("name".into(), json!(name.as_str()));
    }
    let mode = match (a.mode, &a.target) {
        (Some(Mode::Pull), Some(_)) => {
            return Err(usage(
                "--target is only for push agents (--mode push)".into(),
            ));
        }
        (Some(Mode::Push), None) => {
            return Err(usage("push agents need --target URL".into()));
        }
        (Some(m), _) => m,
        (None, Some(_)) => Mode::Push,
        (None, None) => Mode::Pull,
    };
    if mode == Mode::Pull && !a.headers.is_empty() {
        return Err(usage("--header is only for push agents".into()));
    }
    body.insert(
        "delivery_mode".into(),
        json!(if mode == Mode::Push { "push" } else { "pull" }),
    );
    if let Some(t) = &a.target {
        let u =
            reqwest::Url::parse(t).map_err(|e| usage(format!("invalid --target {t:?}: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(usage(format!("invalid --target {t:?}: must be http(s)")));
        }
        body.insert("push_target".into(), json!(t));
    }
    if !a.headers.is_empty() {
        let h: Map<String, Value> = a
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        body.insert("headers".into(), Value::Object(h));
    }
    if !a.schemas.is_empty() {
        body.insert("supported_schemas".into(), json!(a.schemas));
    }
    if !a.public_keys.is_empty() {
        body.insert("public_keys".into(), json!(a.public_keys));
    }
    Ok(Value::Object(body))
}

/// One admin API call on `/v1/admin/agents`, followed by the path segments `tail`.
async fn agents_call(
    c: &Client,
    key: &str,
    method: Method,
    tail: &[&str],
    query: &[(&str, String)],
    body: Option<&Value>,
) -> Result<client::Response, ClientError> {
    let mut path = vec!["v1", "admin", "agents"];
    path.extend_from_slice(tail);
    c.call(method, &path, query, Auth::Admin(key), body, None)
        .await
}

async fn register(
    g: &GlobalOpts,
    c: &Client,
    key: &str,
    a: &RegisterArgs,
) -> Result<u8, ClientError> {
    let body = register_body(a)?;
    let r = agents_call(c, key, Method::POST, &[], &[], Some(&body)).await?;
    if g.json {
        r.print_raw();
        return Ok(exit::OK);
    }
    let agent = r.body.get("agent").cloned().unwrap_or(Value::Null);
    let mut text = format!(
        "registered {} ({})\n",
        s(&agent, "address"),
        s(&agent, "delivery_mode")
    );
    let api_key = s(&r.body, "api_key");
    if api_key.is_empty() {
        text.push_str("no new API key was issued (the agent already existed)\n");
    } else {
        text.push_str(&format!("api key:        {api_key}\n"));
    }
    let secret = s(&r.body, "webhook_secret");
    if !secret.is_empty() {
        text.push_str(&format!("webhook secret: {secret}\n"));
    }
    if !api_key.is_empty() || !secret.is_empty() {
        text.push_str("Store these now: the gateway shows them only once.\n");
    }
    client::out(&text);
    Ok(exit::OK)
}

async fn list(g: &GlobalOpts, c: &Client, key: &str, a: &ListArgs) -> Result<u8, ClientError> {
    let mut cursor = a.cursor.clone();
    let mut agents: Vec<Value> = Vec::new();
    let mut last: Option<client::Response>;
    loop {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(l) = a.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(cur) = &cursor {
            q.push(("cursor", cur.clone()));
        }
        let r = agents_call(c, key, Method::GET, &[], &q, None).await?;
        let page = r
            .body
            .get("agents")
            .and_then(Value::as_array)
            .ok_or_else(|| ClientError::Protocol("agent list without an `agents` array".into()))?;
        agents.extend(page.iter().cloned());
        let next = r
            .body
            .get("next_cursor")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        let more = r.body.get("has_more").and_then(Value::as_bool) == Some(true);
        last = Some(r);
        match next {
            Some(n) if a.all && more => {
                if cursor.as_deref() == Some(n.as_str()) {
                    return Err(ClientError::Protocol(
                        "the gateway returned the same cursor twice".into(),
                    ));
                }
                cursor = Some(n);
            }
            _ => break,
        }
    }
    let last = last.expect("at least one page was fetched");
    if g.json {
        if a.all {
            client::print_json(&json!({
                "agents": agents,
                "agent_count": agents.len(),
                "has_more": false,
            }));
        } else {
            last.print_raw();
        }
        return Ok(exit::OK);
    }
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|ag| {
            vec![
                cell(ag.get("address"), 80),
                cell(ag.get("delivery_mode"), 4),
                cell(ag.get("supported_schemas"), 40),
                cell(ag.get("created_at"), 24),
                cell(ag.get("last_active"), 24),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        String::new()
    } else {
        client::table(
            &["ADDRESS", "MODE", "SCHEMAS", "CREATED", "LAST ACTIVE"],
            &rows,
        )
    };
    let n = agents.len();
    text.push_str(&format!("{n} agent{}\n", if n == 1 { "" } else { "s" }));
    if !a.all && last.body.get("has_more").and_then(Value::as_bool) == Some(true) {
        let next = s(&last.body, "next_cursor");
        text.push_str(&format!(
            "more agents: use --cursor {next} for the next page, or --all\n"
        ));
    }
    client::out(&text);
    Ok(exit::OK)
}

/// Lines `key: value` describing an agent.
pub fn describe_agent(agent: &Value) -> String {
    let mut text = String::new();
    let mut line = |k: &str, v: String| text.push_str(&format!("{k:<18} {v}\n"));
    line("address:", cell(agent.get("address"), 200));
    line("delivery mode:", cell(agent.get("delivery_mode"), 10));
    if agent.get("push_target").is_some_and(|v| !v.is_null()) {
        line("push target:", cell(agent.get("push_target"), 500));
    }
    let headers = agent.get("headers").and_then(Value::as_object);
    if let Some(h) = headers.filter(|h| !h.is_empty()) {
        let list: Vec<String> = h
            .iter()
            .map(|(k, v)| format!("{k}={}", cell(Some(v), 60)))
            .collect();
        line("headers:", list.join(", "));
    }
    line("schemas:", cell(agent.get("supported_schemas"), 500));
    if agent.get("public_keys").is_some() {
        line("public keys:", cell(agent.get("public_keys"), 1000));
    }
    if let Some(r) = agent.get("requires_schema") {
        line("requires schema:", cell(Some(r), 10));
    }
    line("created:", cell(agent.get("created_at"), 40));
    line("last active:", cell(agent.get("last_active"), 40));
    text
}

async fn show(g: &GlobalOpts, c: &Client, key: &str, name: &str) -> Result<u8, ClientError> {
    let r = agents_call(c, key, Method::GET, &[name], &[], None).await?;
    if g.json {
        r.print_raw();
    } else {
        client::out(&describe_agent(r.body.get("agent").unwrap_or(&Value::Null)));
    }
    Ok(exit::OK)
}

async fn unregister(g: &GlobalOpts, c: &Client, key: &str, name: &str) -> Result<u8, ClientError> {
    let r = agents_call(c, key, Method::DELETE, &[name], &[], None).await?;
    if g.json {
        r.print_raw();
    } else {
        let addr = match s(&r.body, "address") {
            "" => name,
            a => a,
        };
        client::out(&format!("unregistered {addr}; its inbox was discarded\n"));
    }
    Ok(exit::OK)
}

async fn rotate(g: &GlobalOpts, c: &Client, key: &str, name: &str) -> Result<u8, ClientError> {
    let r = agents_call(c, key, Method::POST, &[name, "rotate-key"], &[], None).await?;
    if g.json {
        r.print_raw();
    } else {
        let agent = r.body.get("agent").cloned().unwrap_or(Value::Null);
        client::out(&format!(
            "new api key for {}: {}\nThe old key no longer works. Store this one now: \
             the gateway shows it only once.\n",
            s(&agent, "address"),
            s(&r.body, "api_key")
        ));
    }
    Ok(exit::OK)
}
