//! Subcommands of `agentgate bench` (to be written).

use std::process::ExitCode;

use clap::Subcommand;

use crate::cli::GlobalOpts;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {}

/// Runs the command.
pub fn run(_g: &GlobalOpts, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
