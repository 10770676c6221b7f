//! The `agentgate` command: parses the command line and hands off. Thin by design.

mod admin;
mod admin_federation;
mod admin_schema;
mod bench;
mod cli;
mod client;
mod config_cmd;
mod health;
mod inbox;
mod send;
mod serve;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// jemalloc: allocation is a hot path of the gateway (docs/decisions/0004-global-allocator.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let given = cli::Given::from_matches(&matches);
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli::dispatch(cli, given) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
