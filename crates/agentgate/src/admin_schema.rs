//! `agentgate admin schema`: manage the gateway's JSON Schema registry over
//! `/v1/admin/schemas` with the admin key.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use agentgate_core::SchemaFilter;
use agentgate_core::schema_id::is_valid_schema_id;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::cli::GlobalOpts;
use crate::client::{self, Auth, Client, ClientError, cell, exit, s};

/// `agentgate admin schema …`.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Register a JSON Schema (draft 7 or 2020-12) under an id.
    Register(RegisterArgs),
    /// List registered schemas, optionally filtered.
    List(ListArgs),
    /// Show one schema with its definition.
    Show(IdArg),
    /// Replace the definition of a registered schema.
    Update(UpdateArgs),
    /// Delete a schema.
    Delete(IdArg),
    /// Check a payload against a schema; exits 1 when it is not valid.
    Validate(ValidateArgs),
    /// Count schemas, domains and entities.
    Stats,
}

/// A schema id argument.
#[derive(Debug, Args)]
pub struct IdArg {
    /// Schema id, `namespace:domain.entity.vN`.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: String,
}

/// Arguments of `admin schema register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Schema id, `namespace:domain.entity.vN`.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: String,
    /// File holding the JSON Schema (`-` reads standard input).
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: PathBuf,
    /// Replace the schema if the id is registered already.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `admin schema update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Schema id, `namespace:domain.entity.vN`.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: String,
    /// File holding the new JSON Schema (`-` reads standard input).
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: PathBuf,
}

/// Arguments of `admin schema list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only ids matching: `ns:*`, `ns:domain`, `ns:domain.*`, `ns:domain.entity`,
    /// `ns:domain.entity.*` or a full id.
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    pub pattern: Option<String>,
}

/// Arguments of `admin schema validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Schema id, `namespace:domain.entity.vN`.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: String,
    /// The payload, as JSON text.
    #[arg(
        long,
        value_name = "JSON",
        conflicts_with = "file",
        required_unless_present = "file"
    )]
    pub payload: Option<String>,
    /// File holding the JSON payload (`-` reads standard input).
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Checks a schema id locally (clap value parser).
fn parse_id(s: &str) -> Result<String, String> {
    if is_valid_schema_id(s) {
        Ok(s.to_string())
    } else {
        Err("expected namespace:domain.entity.vN (each part of [A-Za-z0-9_-])".into())
    }
}

/// Checks a listing filter locally (clap value parser).
fn parse_pattern(s: &str) -> Result<String, String> {
    SchemaFilter::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Reads JSON text from `path` (`-` for standard input), checking that it is JSON.
fn read_json(path: &Path, what: &str) -> Result<Box<RawValue>, ClientError> {
    let text = if path.as_os_str() == "-" {
        let mut t = String::new();
        std::io::stdin()
            .read_to_string(&mut t)
            .map_err(|e| ClientError::Usage(format!("cannot read the {what} from stdin: {e}")))?;
        t
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            ClientError::Usage(format!("cannot read {what} file {}: {e}", path.display()))
        })?
    };
    parse_json(text.trim(), &format!("{what} file {}", path.display()))
}

fn parse_json(text: &str, what: &str) -> Result<Box<RawValue>, ClientError> {
    RawValue::from_string(text.to_string())
        .map_err(|e| ClientError::Usage(format!("{what} is not valid JSON: {e}")))
}

/// `POST /v1/admin/schemas`.
#[derive(Serialize)]
struct RegisterBody<'a> {
    id: &'a str,
    definition: &'a RawValue,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    force: bool,
}

/// `PUT /v1/admin/schemas/{id}`.
#[derive(Serialize)]
struct UpdateBody<'a> {
    definition: &'a RawValue,
}

/// `POST /v1/admin/schemas/{id}/validate`.
#[derive(Serialize)]
struct ValidateBody<'a> {
    payload: &'a RawValue,
}

fn body(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).expect("request bodies serialise")
}

/// What a command sends, decided before any request.
enum Prepared {
    Register(String, Vec<u8>),
    List(Option<String>),
    Show(String),
    Update(String, Vec<u8>),
    Delete(String),
    Validate(String, Vec<u8>),
    Stats,
}

/// Reads files and checks arguments: every local problem is found before the network.
fn prepare(command: SchemaCommand) -> Result<Prepared, ClientError> {
    Ok(match command {
        SchemaCommand::Register(a) => {
            let definition = read_json(&a.file, "schema")?;
            let b = body(&RegisterBody {
                id: &a.id,
                definition: &definition,
                force: a.force,
            });
            Prepared::Register(a.id, b)
        }
        SchemaCommand::List(a) => Prepared::List(a.pattern),
        SchemaCommand::Show(a) => Prepared::Show(a.id),
        SchemaCommand::Update(a) => {
            let definition = read_json(&a.file, "schema")?;
            Prepared::Update(
                a.id,
                body(&UpdateBody {
                    definition: &definition,
                }),
            )
        }
        SchemaCommand::Delete(a) => Prepared::Delete(a.id),
        SchemaCommand::Validate(a) => {
            let payload = match (&a.payload, &a.file) {
                (Some(text), _) => parse_json(text, "--payload")?,
                (None, Some(path)) => read_json(path, "payload")?,
                (None, None) => {
                    return Err(ClientError::Usage(
                        "give the payload with --payload JSON or --file FILE".into(),
                    ));
                }
            };
            Prepared::Validate(a.id, body(&ValidateBody { payload: &payload }))
        }
        SchemaCommand::Stats => Prepared::Stats,
    })
}

/// One admin API call on `/v1/admin/schemas`, followed by the path segments `tail`.
async fn schemas_call(
    c: &Client,
    key: &str,
    method: Method,
    tail: &[&str],
    query: &[(&str, String)],
    body: Option<Vec<u8>>,
) -> Result<client::Response, ClientError> {
    let mut path = vec!["v1", "admin", "schemas"];
    path.extend_from_slice(tail);
    c.call_json(method, &path, query, Auth::Admin(key), body, None)
        .await
}

/// Runs `admin schema …`; the exit code on success (1 for an invalid payload).
pub fn run(g: &GlobalOpts, command: SchemaCommand) -> Result<u8, ClientError> {
    let prepared = prepare(command)?;
    let key = client::admin_key(g)?;
    let c = Client::new(g)?;
    let k = key.as_str();
    client::block_on(async move {
        match prepared {
            Prepared::Register(id, b) => {
                let r = schemas_call(&c, k, Method::POST, &[], &[], Some(b)).await?;
                let verb = if r.body.get("replaced").and_then(Value::as_bool) == Some(true) {
                    "replaced"
                } else {
                    "registered"
                };
                done(g, &r, &format!("{verb} schema {id}\n"))
            }
            Prepared::List(pattern) => {
                let q: Vec<(&str, String)> = pattern.map(|p| ("pattern", p)).into_iter().collect();
                let r = schemas_call(&c, k, Method::GET, &[], &q, None).await?;
                list(g, &r)
            }
            Prepared::Show(id) => {
                let r = schemas_call(&c, k, Method::GET, &[&id], &[], None).await?;
                show(g, &r)
            }
            Prepared::Update(id, b) => {
                let r = schemas_call(&c, k, Method::PUT, &[&id], &[], Some(b)).await?;
                done(g, &r, &format!("updated schema {id}\n"))
            }
            Prepared::Delete(id) => {
                let r = schemas_call(&c, k, Method::DELETE, &[&id], &[], None).await?;
                done(g, &r, &format!("deleted schema {id}\n"))
            }
            Prepared::Validate(id, b) => {
                let r = schemas_call(&c, k, Method::POST, &[&id, "validate"], &[], Some(b)).await?;
                validate(g, &id, &r)
            }
            Prepared::Stats => {
                let r = schemas_call(&c, k, Method::GET, &["stats"], &[], None).await?;
                stats(g, &r)
            }
        }
    })
}

/// Prints the body (`--json`) or `text`.
fn done(g: &GlobalOpts, r: &client::Response, text: &str) -> Result<u8, ClientError> {
    if g.json {
        r.print_raw();
    } else {
        client::out(text);
    }
    Ok(exit::OK)
}

fn list(g: &GlobalOpts, r: &client::Response) -> Result<u8, ClientError> {
    let schemas = r
        .body
        .get("schemas")
        .and_then(Value::as_array)
        .ok_or_else(|| ClientError::Protocol("schema list without a `schemas` array".into()))?;
    if g.json {
        r.print_raw();
        return Ok(exit::OK);
    }
    let rows: Vec<Vec<String>> = schemas
        .iter()
        .map(|sc| {
            vec![
                cell(sc.get("id"), 120),
                cell(sc.get("draft"), 10),
                cell(sc.get("published_at"), 24),
                cell(sc.get("updated_at"), 24),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        String::new()
    } else {
        client::table(&["ID", "DRAFT", "PUBLISHED", "UPDATED"], &rows)
    };
    let n = schemas.len();
    text.push_str(&format!("{n} schema{}\n", if n == 1 { "" } else { "s" }));
    client::out(&text);
    Ok(exit::OK)
}

fn show(g: &GlobalOpts, r: &client::Response) -> Result<u8, ClientError> {
    if g.json {
        r.print_raw();
        return Ok(exit::OK);
    }
    let schema = r.body.get("schema").unwrap_or(&Value::Null);
    let mut text = String::new();
    let mut line = |k: &str, v: String| text.push_str(&format!("{k:<12} {v}\n"));
    line("id:", cell(schema.get("id"), 300));
    line("draft:", cell(schema.get("draft"), 20));
    line("published:", cell(schema.get("published_at"), 40));
    line("updated:", cell(schema.get("updated_at"), 40));
    text.push_str("definition:\n");
    // The definition as registered (key order and layout kept), read from the raw body.
    #[derive(serde::Deserialize)]
    struct Shown {
        schema: ShownSchema,
    }
    #[derive(serde::Deserialize)]
    struct ShownSchema {
        definition: Box<RawValue>,
    }
    match serde_json::from_slice::<Shown>(&r.raw) {
        Ok(shown) => text.push_str(shown.schema.definition.get()),
        Err(_) => text.push_str(&cell(schema.get("definition"), usize::MAX)),
    }
    text.push('\n');
    client::out(&text);
    Ok(exit::OK)
}

fn validate(g: &GlobalOpts, id: &str, r: &client::Response) -> Result<u8, ClientError> {
    let valid = r
        .body
        .get("valid")
        .and_then(Value::as_bool)
        .ok_or_else(|| ClientError::Protocol("validation answer without `valid`".into()))?;
    let code = if valid { exit::OK } else { exit::SERVER };
    if g.json {
        r.print_raw();
        return Ok(code);
    }
    if valid {
        client::out(&format!("valid: the payload matches {id}\n"));
        return Ok(code);
    }
    let mut text = format!("invalid: the payload does not match {id}\n");
    for e in r
        .body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let path = match s(e, "path") {
            "" => "(payload)",
            p => p,
        };
        text.push_str(&format!("  {path}: {}\n", s(e, "message")));
    }
    client::out(&text);
    Ok(code)
}

fn stats(g: &GlobalOpts, r: &client::Response) -> Result<u8, ClientError> {
    if g.json {
        r.print_raw();
        return Ok(exit::OK);
    }
    let st = r.body.get("stats").unwrap_or(&Value::Null);
    client::out(&format!(
        "schemas:  {}\ndomains:  {}\nentities: {}\n",
        cell(st.get("total_schemas"), 20),
        cell(st.get("domains"), 20),
        cell(st.get("entities"), 20)
    ));
    Ok(exit::OK)
}
