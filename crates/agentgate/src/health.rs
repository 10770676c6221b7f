//! `agentgate health` (to be written).

use std::process::ExitCode;

use clap::Args;

use crate::cli::GlobalOpts;

/// Arguments of `agentgate health`.
#[derive(Debug, Args)]
pub struct HealthCheckArgs {}

/// Runs the command.
pub fn run(_g: &GlobalOpts, _args: HealthCheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
