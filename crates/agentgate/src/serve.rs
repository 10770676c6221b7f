//! `agentgate serve` (to be written).

use std::process::ExitCode;

use clap::Args;

use crate::cli::GlobalOpts;

/// Arguments of `agentgate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs the command.
pub fn run(_g: &GlobalOpts, _args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
