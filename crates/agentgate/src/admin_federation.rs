//! `agentgate admin federation`: this gateway's federation signing keys, over
//! `/v1/admin/federation/keys` with the admin key.

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use crate::cli::GlobalOpts;
use crate::client::{self, Auth, Client, ClientError, exit, s};

/// `agentgate admin federation …`.
#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// List the published signing keys (the active one and retired ones).
    Keys,
    /// Make a new signing key active; the previous one stays published for
    /// `federation.retired_key_ttl`.
    RotateKey,
}

/// Runs `admin federation …`.
pub fn run(g: &GlobalOpts, command: FederationCommand) -> Result<u8, ClientError> {
    let key = client::admin_key(g)?;
    let c = Client::new(g)?;
    client::block_on(async move {
        let (method, path): (Method, &[&str]) = match command {
            FederationCommand::Keys => (Method::GET, &["v1", "admin", "federation", "keys"]),
            FederationCommand::RotateKey => (
                Method::POST,
                &["v1", "admin", "federation", "keys", "rotate"],
            ),
        };
        let r = c
            .call(method, path, &[], Auth::Admin(&key), None, None)
            .await?;
        if g.json {
            r.print_raw();
            return Ok(exit::OK);
        }
        let keys: Vec<&Value> = match r.body.get("key") {
            Some(k) => vec![k],
            None => r
                .body
                .get("keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default(),
        };
        let mut text = String::new();
        for k in keys {
            text.push_str(&format!(
                "{}  {}  created {}{}\n",
                s(k, "keyid"),
                s(k, "status"),
                s(k, "created_at"),
                match k.get("expires_at").and_then(Value::as_str) {
                    Some(e) => format!(", published until {e}"),
                    None => String::new(),
                }
            ));
        }
        client::out(&text);
        Ok(exit::OK)
    })
}
