//! Subcommands of `agentgate admin` (to be written).

use std::process::ExitCode;

use clap::Subcommand;

use crate::cli::GlobalOpts;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {}

/// Runs the command.
pub fn run(_g: &GlobalOpts, command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
