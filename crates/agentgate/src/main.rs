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

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
