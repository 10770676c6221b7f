//! Subcommands of `agentgate inbox` (to be written).

use std::process::ExitCode;

use clap::Subcommand;

use crate::cli::GlobalOpts;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum InboxCommand {}

/// Runs the command.
pub fn run(_g: &GlobalOpts, command: InboxCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
