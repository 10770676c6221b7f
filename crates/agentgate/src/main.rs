//! The `agentgate` command: parses the command line and hands off. Thin by design.

mod admin;
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

/// See the note on `mimalloc` in Cargo.toml: allocation is a hot path of the gateway.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
