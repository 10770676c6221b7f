//! Subcommands of `agentgate config` (to be written).

use std::process::ExitCode;

use clap::Subcommand;

use crate::cli::GlobalOpts;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {}

/// Runs the command.
pub fn run(_g: &GlobalOpts, command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
